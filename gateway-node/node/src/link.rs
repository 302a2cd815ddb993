//! The node's end of the gateway's forwarding link ([`vigil_protocol::link`]).
//!
//! `POST /v1/link` takes an opening (HPKE's `enc`, sealed to the node's published
//! encryption key) and answers a confirmation only this node can make; `POST
//! /v1/link/request` takes a request sealed under a session's key, checks its counter
//! against the session's replay window, serves the Binary HTTP request inside with the
//! node's public API exactly as `/v1/sealed` does, and seals the answer back; `POST
//! /v1/link/requests` takes several such requests at once and streams their answers back
//! as each is ready ([`vigil_protocol::link_batch`]).
//!
//! Sessions live in a bounded table ([`LINK_SESSIONS_MAX`]): idle ones
//! ([`LINK_SESSION_IDLE_MS`]) and old ones ([`LINK_SESSION_AGE_MAX_MS`]) are forgotten,
//! and when the table is full the least recently used goes. A session the node does not
//! know (forgotten, or the node restarted) gets `404 UNKNOWN_SESSION`, and the gateway
//! opens another. Nothing here logs content or keys.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use futures::stream::{FuturesUnordered, StreamExt};
use vigil_protocol::link::{
    self, LinkError, LinkKey, LinkRefusal, ReceiverSession, ReplayWindow, SessionId, OPEN_MEDIA_TYPE,
    REQUEST_MEDIA_TYPE, RESPONSE_MEDIA_TYPE, SESSION_LIFETIME_MS,
};
use vigil_protocol::link_batch::{Answered, Batch, ANSWER_FRAME_MAX_BYTES, BATCH_ANSWERS_MEDIA_TYPE, BATCH_MEDIA_TYPE};
use vigil_protocol::sealed::PlainRequest;

use vigil_api::ErrorCode;
use vigil_server::limits::ClientCharge;

use crate::metrics::SealedCounters;
use crate::sealed::{media_is, plain_error, refuse, serve};

/// The operating system's generator, as HPKE's `rand_core` wants it.
pub fn os_rng() -> rand_core09::UnwrapErr<rand_core09::OsRng> {
    rand_core09::UnwrapErr(rand_core09::OsRng)
}

/// Sessions a node keeps at once (a node has a few gateways, each with one session to
/// it at a time, two while it rotates).
pub const LINK_SESSIONS_MAX: usize = 1024;
/// A session unused this long is forgotten.
pub const LINK_SESSION_IDLE_MS: u64 = 5 * 60 * 1000;
/// A session older than this is forgotten: the gateway's lifetime, and a minute's grace
/// for requests still in flight when it rotated.
pub const LINK_SESSION_AGE_MAX_MS: u64 = SESSION_LIFETIME_MS + 60 * 1000;

struct Entry {
    session: ReceiverSession,
    window: Mutex<ReplayWindow>,
    opened_ms: u64,
    used_ms: AtomicU64,
}

/// The node's link sessions.
pub struct LinkSessions {
    key: LinkKey,
    sessions: Mutex<HashMap<SessionId, Arc<Entry>>>,
    epoch: Instant,
}

impl LinkSessions {
    pub fn new(key: LinkKey) -> Self {
        Self { key, sessions: Mutex::new(HashMap::new()), epoch: Instant::now() }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn expired(entry: &Entry, now: u64) -> bool {
        now.saturating_sub(entry.used_ms.load(Ordering::Relaxed)) > LINK_SESSION_IDLE_MS
            || now.saturating_sub(entry.opened_ms) > LINK_SESSION_AGE_MAX_MS
    }

    /// Accepts an opening; returns the confirmation.
    fn open(&self, opening: &[u8]) -> Result<Vec<u8>, LinkError> {
        self.open_at(opening, self.now_ms())
    }

    fn open_at(&self, opening: &[u8], now: u64) -> Result<Vec<u8>, LinkError> {
        let (session, confirmation) = self.key.accept(opening, &mut os_rng())?;
        let id = session.id();
        let entry = Arc::new(Entry {
            session,
            window: Mutex::new(ReplayWindow::default()),
            opened_ms: now,
            used_ms: AtomicU64::new(now),
        });
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        if sessions.len() >= LINK_SESSIONS_MAX {
            sessions.retain(|_, e| !Self::expired(e, now));
        }
        if sessions.len() >= LINK_SESSIONS_MAX {
            // Least recently used; ties by id, so the choice does not depend on the
            // map's order.
            let lru = sessions.iter().map(|(id, e)| (e.used_ms.load(Ordering::Relaxed), *id)).min().map(|(_, id)| id);
            if let Some(lru) = lru {
                sessions.remove(&lru);
            }
        }
        // The id comes from keys with a fresh nonce of this node in them: a replayed
        // opening makes a new session, and never meets an existing one's id.
        sessions.insert(id, entry);
        debug_assert!(sessions.len() <= LINK_SESSIONS_MAX);
        Ok(confirmation)
    }

    fn get(&self, id: &SessionId) -> Option<Arc<Entry>> {
        self.get_at(id, self.now_ms())
    }

    fn get_at(&self, id: &SessionId, now: u64) -> Option<Arc<Entry>> {
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        let entry = sessions.get(id)?.clone();
        if Self::expired(&entry, now) {
            sessions.remove(id);
            return None;
        }
        entry.used_ms.store(now, Ordering::Relaxed);
        Some(entry)
    }

    pub fn len(&self) -> usize {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What the link handlers share.
pub struct Link {
    pub sessions: LinkSessions,
    pub api: axum::Router,
    pub counters: Arc<SealedCounters>,
}

fn wrong_media(media: &str) -> Response {
    refuse(ErrorCode::UnsupportedMediaType, format!("send it as {media}"))
}

/// A link refusal, counted, with the status its code goes with.
fn refused(link: &Link, why: LinkRefusal, message: String) -> Response {
    link.counters.refused.fetch_add(1, Ordering::Relaxed);
    refuse(vigil_server::http::link_refusal_code(why), message)
}

/// `POST /v1/link`: opens a session.
pub async fn open(State(link): State<Arc<Link>>, headers: HeaderMap, body: Bytes) -> Response {
    if !media_is(&headers, OPEN_MEDIA_TYPE) {
        return wrong_media(OPEN_MEDIA_TYPE);
    }
    match link.sessions.open(&body) {
        Ok(confirmation) => ([(header::CONTENT_TYPE, RESPONSE_MEDIA_TYPE)], confirmation).into_response(),
        Err(e) => refused(&link, LinkRefusal::BadOpening, e.to_string()),
    }
}

/// `POST /v1/link/request`: one request of a session.
pub async fn request(State(link): State<Arc<Link>>, headers: HeaderMap, body: Bytes) -> Response {
    if !media_is(&headers, REQUEST_MEDIA_TYPE) {
        return wrong_media(REQUEST_MEDIA_TYPE);
    }
    answer(&link, &body).await
}

/// `POST /v1/link/requests`: a batch of requests ([`vigil_protocol::link_batch`]), each
/// served as if it came alone, on a task of its own; their answers stream back as each
/// finishes, so one that waits (a transaction waiting for its commit) holds back no other.
pub async fn requests(
    State(link): State<Arc<Link>>,
    charge: Option<Extension<ClientCharge>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !media_is(&headers, BATCH_MEDIA_TYPE) {
        return wrong_media(BATCH_MEDIA_TYPE);
    }
    let batch = match Batch::decode(&body) {
        Ok(b) => b,
        Err(e) => return refused(&link, LinkRefusal::CannotOpen, e.to_string()),
    };
    // A batch costs its client network a token per request (the exchange took one) and
    // a place in flight per request until its last answer is sent, as that many `POST
    // /v1/link/request` would: no way around the per-client limits. A gateway a node
    // lists as unlimited pays nothing, as for single requests.
    let more = u32::try_from(batch.requests.len() - 1).unwrap_or(u32::MAX);
    let in_flight = match charge.map(|Extension(c)| c.charge(more).and_then(|()| c.enter(more))).transpose() {
        Ok(guard) => guard,
        Err(refusal) => return refusal.into_response(),
    };
    let answers: FuturesUnordered<_> = (0u16..)
        .zip(batch.requests)
        .map(|(index, request)| {
            let link = link.clone();
            tokio::spawn(async move {
                let response = answer(&link, &request).await;
                let status = response.status().as_u16();
                // The answers are built whole in memory (never over the sealed bound):
                // reading them back cannot fail.
                let body = axum::body::to_bytes(response.into_body(), ANSWER_FRAME_MAX_BYTES).await.unwrap_or_default();
                Answered { index, status, body: body.to_vec() }
            })
        })
        .collect();
    let frames = answers.map(move |done| {
        // Held by the stream: released when the last answer has gone (or the exchange
        // broke off).
        let _in_flight = &in_flight;
        let answered = done.unwrap_or_else(|_| Answered {
            index: u16::MAX,
            status: ErrorCode::Internal.status(),
            body: Vec::new(),
        });
        Ok::<_, std::convert::Infallible>(Bytes::from(answered.encode()))
    });
    ([(header::CONTENT_TYPE, BATCH_ANSWERS_MEDIA_TYPE)], Body::from_stream(frames)).into_response()
}

/// What `POST /v1/link/request` answers for a sealed request.
async fn answer(link: &Link, body: &[u8]) -> Response {
    let (id, counter) = match link::read_header(body) {
        Ok(h) => h,
        Err(e) => return refused(link, LinkRefusal::CannotOpen, e.to_string()),
    };
    let Some(entry) = link.sessions.get(&id) else {
        return refused(
            link,
            LinkRefusal::UnknownSession,
            "this node has no such link session (it expired, or the node restarted): open another with POST /v1/link"
                .into(),
        );
    };
    // Checked before opening (a replay costs no decryption), marked after (a forgery
    // cannot move the window).
    let window = |f: &dyn Fn(&mut ReplayWindow) -> Result<(), LinkError>| {
        let mut w = entry.window.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut w)
    };
    if let Err(e) = window(&|w| w.check(counter)) {
        return refused(link, LinkRefusal::Replayed, e.to_string());
    }
    let plain = match entry.session.open(body) {
        Ok((c, plain)) => {
            debug_assert_eq!(c, counter);
            plain
        }
        Err(e) => return refused(link, LinkRefusal::CannotOpen, e.to_string()),
    };
    if let Err(e) = window(&|w| w.mark(counter)) {
        return refused(link, LinkRefusal::Replayed, e.to_string());
    }
    link.counters.opened.fetch_add(1, Ordering::Relaxed);
    let answer = match PlainRequest::from_bhttp(&plain) {
        Ok(request) => serve(&link.api, request).await,
        Err(e) => plain_error(ErrorCode::BadInnerRequest, &e.to_string()),
    };
    let sealed = answer
        .to_bhttp()
        .map_err(|e| e.to_string())
        .and_then(|bytes| entry.session.seal_answer(counter, &bytes).map_err(|e| e.to_string()));
    match sealed {
        Ok(bytes) => ([(header::CONTENT_TYPE, RESPONSE_MEDIA_TYPE)], bytes).into_response(),
        Err(e) => refuse(ErrorCode::CannotSealAnswer, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;
    use vigil_protocol::link::PendingSession;

    fn opened(sessions: &LinkSessions, public: &vigil_protocol::EncryptionKey, now: u64) -> SessionId {
        let (pending, opening) = PendingSession::new(public, &mut os_rng()).unwrap();
        pending.confirm(&sessions.open_at(&opening, now).unwrap()).unwrap().id()
    }

    #[test]
    fn the_table_is_bounded_and_drops_the_least_recently_used() {
        let key = LinkKey::from_seed(&[1; 32]);
        let public = key.public_key();
        let sessions = LinkSessions::new(key);
        let first = opened(&sessions, &public, 0);
        let second = opened(&sessions, &public, 1);
        // The first is used again, so the second is the least recently used.
        assert!(sessions.get_at(&first, 2).is_some());
        for t in 3..LINK_SESSIONS_MAX as u64 + 2 {
            opened(&sessions, &public, t);
        }
        assert_eq!(sessions.len(), LINK_SESSIONS_MAX);
        assert!(sessions.get_at(&second, 2000).is_none(), "the least recently used went");
        assert!(sessions.get_at(&first, 2000).is_some(), "a session in use stays");
    }

    #[test]
    fn idle_and_old_sessions_are_forgotten() {
        let key = LinkKey::from_seed(&[2; 32]);
        let public = key.public_key();
        let sessions = LinkSessions::new(key);
        let idle = opened(&sessions, &public, 0);
        let busy = opened(&sessions, &public, 0);
        let mut t = 0;
        while t + LINK_SESSION_IDLE_MS / 2 < LINK_SESSION_AGE_MAX_MS {
            t += LINK_SESSION_IDLE_MS / 2;
            assert!(sessions.get_at(&busy, t).is_some(), "a session in use is kept until its age bound");
        }
        assert!(sessions.get_at(&idle, t).is_none(), "an idle one is not");
        assert!(sessions.get_at(&busy, LINK_SESSION_AGE_MAX_MS + 1).is_none(), "nor one past its age");
        assert!(sessions.is_empty());
    }

    mod endpoint {
        use super::*;
        use axum::body::Body;
        use axum::http::Request;
        use axum::routing::get;
        use tower::ServiceExt;
        use vigil_protocol::sealed::PlainResponse;

        /// A node's sealed routes in front of an API that counts what reaches it.
        fn node(seed: u8) -> (axum::Router, vigil_protocol::EncryptionKey, Arc<AtomicU64>) {
            let hits = Arc::new(AtomicU64::new(0));
            let counted = hits.clone();
            let api = axum::Router::new().route(
                "/v1/status",
                get(move || async move {
                    counted.fetch_add(1, Ordering::SeqCst);
                    "height 7"
                }),
            );
            let router = crate::sealed::routes(&[seed; 32], api, Arc::default()).unwrap();
            (router, LinkKey::from_seed(&[seed; 32]).public_key(), hits)
        }

        async fn post(router: &axum::Router, path: &str, media: &str, body: Vec<u8>) -> (StatusCode, Vec<u8>) {
            let request = Request::post(path).header(header::CONTENT_TYPE, media).body(Body::from(body)).unwrap();
            let r = router.clone().oneshot(request).await.unwrap();
            (r.status(), axum::body::to_bytes(r.into_body(), usize::MAX).await.unwrap().to_vec())
        }

        async fn session(router: &axum::Router, key: &vigil_protocol::EncryptionKey) -> link::SenderSession {
            let (pending, opening) = PendingSession::new(key, &mut os_rng()).unwrap();
            let (status, confirmation) = post(router, "/v1/link", OPEN_MEDIA_TYPE, opening).await;
            assert_eq!(status, StatusCode::OK);
            pending.confirm(&confirmation).unwrap()
        }

        fn status_request() -> Vec<u8> {
            PlainRequest::new("GET", "/v1/status", None, vec![]).to_bhttp().unwrap()
        }

        fn code(body: &[u8]) -> ErrorCode {
            serde_json::from_slice::<vigil_server::http::ErrorBody>(body).unwrap().error.code
        }

        #[tokio::test]
        async fn a_request_is_served_once_and_its_replay_reaches_nothing() {
            let (router, key, hits) = node(1);
            let s = session(&router, &key).await;
            let (sealed, counter) = s.seal(&status_request()).unwrap();
            let (status, answer) = post(&router, "/v1/link/request", REQUEST_MEDIA_TYPE, sealed.clone()).await;
            assert_eq!(status, StatusCode::OK);
            assert!(!String::from_utf8_lossy(&answer).contains("height"), "the answer travels sealed");
            let answer = PlainResponse::from_bhttp(&s.open_answer(counter, &answer).unwrap()).unwrap();
            assert_eq!((answer.status, answer.body.as_slice()), (200, b"height 7".as_slice()));
            let (status, body) = post(&router, "/v1/link/request", REQUEST_MEDIA_TYPE, sealed).await;
            assert_eq!((status, code(&body)), (StatusCode::CONFLICT, ErrorCode::Replayed));
            assert_eq!(hits.load(Ordering::SeqCst), 1, "the replay was not served");
        }

        #[tokio::test]
        async fn a_forgery_is_refused_and_does_not_move_the_window() {
            let (router, key, hits) = node(2);
            let s = session(&router, &key).await;
            let (sealed, _) = s.seal(&status_request()).unwrap();
            // A forger takes a later counter and flips a ciphertext bit: refused, and the
            // genuine request under that counter is still served.
            let mut forged = sealed.clone();
            let last = forged.len() - 1;
            forged[last] ^= 1;
            let (status, body) = post(&router, "/v1/link/request", REQUEST_MEDIA_TYPE, forged).await;
            assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, ErrorCode::CannotOpen));
            let (status, _) = post(&router, "/v1/link/request", REQUEST_MEDIA_TYPE, sealed).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(hits.load(Ordering::SeqCst), 1);
            let (status, body) = post(&router, "/v1/link/request", REQUEST_MEDIA_TYPE, vec![0; 10]).await;
            assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, ErrorCode::CannotOpen));
            let (status, body) = post(&router, "/v1/link", OPEN_MEDIA_TYPE, vec![7; 5]).await;
            assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, ErrorCode::BadOpening));
            let (status, _) = post(&router, "/v1/link/request", "application/json", vec![0; 64]).await;
            assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        }

        #[tokio::test]
        async fn a_batch_is_served_request_by_request_and_answered_by_index() {
            use vigil_protocol::link_batch::{AnswerReader, Batch, BATCH_MEDIA_TYPE};
            let (router, key, hits) = node(6);
            let s = session(&router, &key).await;
            let sealed: Vec<(Vec<u8>, u64)> = (0..3).map(|_| s.seal(&status_request()).unwrap()).collect();
            let mut forged = sealed[1].0.clone();
            let last = forged.len() - 1;
            forged[last] ^= 1;
            // The first request, a forgery, the third, and the first again (a replay).
            let requests = vec![sealed[0].0.clone(), forged, sealed[2].0.clone(), sealed[0].0.clone()];
            let (status, stream) =
                post(&router, "/v1/link/requests", BATCH_MEDIA_TYPE, Batch { requests }.encode()).await;
            assert_eq!(status, StatusCode::OK);
            let mut answers = AnswerReader::default().push(&stream).unwrap();
            answers.sort_by_key(|a| a.index);
            assert_eq!(answers.iter().map(|a| a.index).collect::<Vec<_>>(), [0, 1, 2, 3], "one answer per request");
            for (i, counter) in [(0, sealed[0].1), (2, sealed[2].1)] {
                assert_eq!(answers[i].status, 200);
                let plain = PlainResponse::from_bhttp(&s.open_answer(counter, &answers[i].body).unwrap()).unwrap();
                assert_eq!(plain.body, b"height 7");
            }
            // The forgery and the replay are refused as they would be alone; at most one
            // of the two copies of the first request was served.
            assert_eq!((answers[1].status, code(&answers[1].body)), (400, ErrorCode::CannotOpen));
            let replays = [&answers[0], &answers[3]].iter().filter(|a| a.status == 409).count();
            assert_eq!(replays, 1, "one copy is a replay");
            assert_eq!(hits.load(Ordering::SeqCst), 2);
            // The forged request's counter was not consumed: the genuine one is served.
            let (status, _) = post(&router, "/v1/link/request", REQUEST_MEDIA_TYPE, sealed[1].0.clone()).await;
            assert_eq!(status, StatusCode::OK);
            // Not a batch, or not one's media type: refused, nothing served.
            let (status, body) = post(&router, "/v1/link/requests", BATCH_MEDIA_TYPE, vec![0, 0, 0, 9, 1]).await;
            assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, ErrorCode::CannotOpen));
            let (status, _) = post(&router, "/v1/link/requests", REQUEST_MEDIA_TYPE, vec![0; 64]).await;
            assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
            assert_eq!(hits.load(Ordering::SeqCst), 3);
        }

        /// [`node`] behind the per-client limits (a token a second back), with a session.
        async fn limited_node(
            seed: u8,
            rate_burst: u32,
            in_flight_max: u32,
        ) -> (axum::Router, link::SenderSession, Arc<AtomicU64>) {
            use vigil_server::limits::{outermost, ClientLimits, Settings};
            let (router, key, hits) = node(seed);
            let limits = ClientLimits::new(Settings { rate_per_second: 1, rate_burst, in_flight_max }, &[]);
            let router = outermost(router, limits);
            let s = session(&router, &key).await;
            (router, s, hits)
        }

        /// A batch of `n` status requests sealed over `s`.
        fn batch_of(s: &link::SenderSession, n: usize) -> vigil_protocol::link_batch::Batch {
            vigil_protocol::link_batch::Batch {
                requests: (0..n).map(|_| s.seal(&status_request()).unwrap().0).collect(),
            }
        }

        #[tokio::test]
        async fn a_batch_costs_its_client_a_token_per_request() {
            let (router, s, hits) = limited_node(7, 10, 100).await;
            let batch = |n: usize| batch_of(&s, n);
            // Eleven requests in one exchange: more than the client's nine tokens left.
            let (status, body) = post(&router, "/v1/link/requests", BATCH_MEDIA_TYPE, batch(11).encode()).await;
            assert_eq!((status, code(&body)), (StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited));
            assert_eq!(hits.load(Ordering::SeqCst), 0, "nothing of a refused batch is served");
            let (status, _) = post(&router, "/v1/link/requests", BATCH_MEDIA_TYPE, batch(5).encode()).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(hits.load(Ordering::SeqCst), 5);
        }

        #[tokio::test]
        async fn a_batch_holds_a_place_in_flight_per_request() {
            let (router, s, hits) = limited_node(8, 100, 4).await;
            let batch = |n: usize| batch_of(&s, n);
            let (status, body) = post(&router, "/v1/link/requests", BATCH_MEDIA_TYPE, batch(5).encode()).await;
            assert_eq!((status, code(&body)), (StatusCode::TOO_MANY_REQUESTS, ErrorCode::TooManyInFlight));
            assert_eq!(hits.load(Ordering::SeqCst), 0);
            // Four fit, and their places are given back once the answers are out.
            for round in 1..=2 {
                let (status, _) = post(&router, "/v1/link/requests", BATCH_MEDIA_TYPE, batch(4).encode()).await;
                assert_eq!(status, StatusCode::OK);
                assert_eq!(hits.load(Ordering::SeqCst), 4 * round);
            }
        }

        #[tokio::test]
        async fn a_restarted_node_does_not_know_the_session_and_says_so() {
            let (router, key, _) = node(3);
            let s = session(&router, &key).await;
            let (restarted, _, hits) = node(3);
            let (sealed, _) = s.seal(&status_request()).unwrap();
            let (status, body) = post(&restarted, "/v1/link/request", REQUEST_MEDIA_TYPE, sealed).await;
            assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, ErrorCode::UnknownSession));
            assert_eq!(hits.load(Ordering::SeqCst), 0);
            // A session opened with another node does not confirm.
            let (other, _, _) = node(4);
            let (pending, opening) = PendingSession::new(&key, &mut os_rng()).unwrap();
            let (_, confirmation) = post(&other, "/v1/link", OPEN_MEDIA_TYPE, opening).await;
            assert!(pending.confirm(&confirmation).is_err());
        }

        #[tokio::test]
        async fn the_link_cannot_be_reached_from_inside_a_sealed_request() {
            let (router, key, _) = node(5);
            let s = session(&router, &key).await;
            let inner = PlainRequest::new("POST", "/v1/link", Some(OPEN_MEDIA_TYPE), vec![0; 32]);
            let (sealed, counter) = s.seal(&inner.to_bhttp().unwrap()).unwrap();
            let (_, answer) = post(&router, "/v1/link/request", REQUEST_MEDIA_TYPE, sealed).await;
            let answer = PlainResponse::from_bhttp(&s.open_answer(counter, &answer).unwrap()).unwrap();
            assert_eq!(answer.status, 404);
        }
    }
}
