//! One [`Session`] shared by callers whose calls may overlap — the npm package's promises,
//! the web wallet's pages — as a [`SessionHandle`]: each call holds the session for its
//! whole length through a guard, which gives it back when dropped, however the call ends
//! (returned, failed, or its future dropped). Nobody puts it back by hand, nobody polls.

use std::ops::{Deref, DerefMut};
use std::rc::Rc;

use futures_util::lock::{Mutex, MutexGuard};

use crate::platform::Platform;
use crate::session::Session;

/// A shared session; clones share it.
pub struct SessionHandle<T: Platform>(Rc<Mutex<Session<T>>>);

impl<T: Platform> Clone for SessionHandle<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

/// The session, held by one call until this is dropped.
pub struct Held<'a, T: Platform>(MutexGuard<'a, Session<T>>);

impl<T: Platform> Deref for Held<'_, T> {
    type Target = Session<T>;
    fn deref(&self) -> &Session<T> {
        &self.0
    }
}

impl<T: Platform> DerefMut for Held<'_, T> {
    fn deref_mut(&mut self) -> &mut Session<T> {
        &mut self.0
    }
}

impl<T: Platform> SessionHandle<T> {
    pub fn new(session: Session<T>) -> Self {
        Self(Rc::new(Mutex::new(session)))
    }

    /// Whether both handles share one session.
    pub fn same(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }

    /// The session now, or `None` while another call holds it (the npm package answers
    /// `BUSY`: its calls on one client are awaited one after another).
    pub fn try_hold(&self) -> Option<Held<'_, T>> {
        self.0.try_lock().map(Held)
    }

    /// The session once the calls that asked before are done (the web wallet's pages
    /// take turns).
    pub async fn hold(&self) -> Held<'_, T> {
        Held(self.0.lock().await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::tests::Script;
    use std::future::Future;

    fn handle(script: &Script) -> SessionHandle<&Script> {
        SessionHandle::new(crate::session::tests::session(script))
    }

    /// One holder at a time; the session comes back when the holder is dropped, also
    /// when its call is abandoned half-way; a waiter gets it then.
    #[test]
    fn a_held_session_comes_back_however_the_call_ends() {
        let script = Script::default();
        let h = handle(&script);
        let first = h.try_hold().expect("free at first");
        assert!(h.clone().try_hold().is_none(), "a second caller is refused while it is held");
        let mut waiting = Box::pin(h.hold());
        let waker = futures_util::task::noop_waker();
        let mut cx = std::task::Context::from_waker(&waker);
        assert!(waiting.as_mut().poll(&mut cx).is_pending(), "a waiter waits, without polling a timer");
        drop(first);
        let second = match waiting.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(held) => held,
            std::task::Poll::Pending => panic!("the waiter was not given the session"),
        };
        drop(second);
        // An abandoned call: its future is dropped while it holds the session.
        let abandoned = async {
            let _held = h.hold().await;
            std::future::pending::<()>().await;
        };
        let mut abandoned = Box::pin(abandoned);
        assert!(abandoned.as_mut().poll(&mut cx).is_pending());
        assert!(h.try_hold().is_none(), "held by the abandoned call");
        drop(abandoned);
        assert!(h.try_hold().is_some(), "given back when the call was dropped");
    }
}
