//! The gateway's forwarding link to each node ([`vigil_protocol::link`]): one session
//! per node, opened on first use and confirmed by the node's registered key, then one
//! AEAD seal per request.
//!
//! A session is replaced when it reaches its lifetime or message bound, when the node's
//! registered key changes (a certified set change), or when the node no longer knows it
//! (`UNKNOWN_SESSION`: it restarted, or forgot an idle session); the caller then opens
//! another and sends the request once more. Openings to one node are made one at a time,
//! so a burst of requests to a node without a session opens one, not a burst.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use vigil_protocol::link::{SenderSession, SESSION_LIFETIME_MS};
use vigil_protocol::{EncryptionKey, NodeId};

/// One node's session, and what it was opened for.
pub struct Current {
    pub session: SenderSession,
    key: EncryptionKey,
    opened: Instant,
}

impl Current {
    fn usable(&self, key: &EncryptionKey) -> bool {
        self.key == *key
            && !self.session.exhausted()
            && self.opened.elapsed() < Duration::from_millis(SESSION_LIFETIME_MS)
    }
}

/// The gateway's sessions, per node.
#[derive(Default)]
pub struct Links {
    current: Mutex<HashMap<NodeId, Arc<Current>>>,
    opening: Mutex<HashMap<NodeId, Arc<tokio::sync::Mutex<()>>>>,
}

impl Links {
    /// The node's usable session, if there is one.
    pub fn get(&self, id: &NodeId, key: &EncryptionKey) -> Option<Arc<Current>> {
        let current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        current.get(id).filter(|c| c.usable(key)).cloned()
    }

    /// The lock a task holds while it opens a session to `id`.
    pub fn opening_lock(&self, id: &NodeId) -> Arc<tokio::sync::Mutex<()>> {
        let mut opening = self.opening.lock().unwrap_or_else(|e| e.into_inner());
        opening.entry(*id).or_default().clone()
    }

    /// Records a session the node confirmed.
    pub fn insert(&self, id: NodeId, key: EncryptionKey, session: SenderSession) -> Arc<Current> {
        let current = Arc::new(Current { session, key, opened: Instant::now() });
        self.current.lock().unwrap_or_else(|e| e.into_inner()).insert(id, current.clone());
        current
    }

    /// Drops `stale` (the node does not know it), unless another task replaced it already.
    pub fn forget(&self, id: &NodeId, stale: &Arc<Current>) {
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if current.get(id).is_some_and(|c| Arc::ptr_eq(c, stale)) {
            current.remove(id);
        }
    }
}
