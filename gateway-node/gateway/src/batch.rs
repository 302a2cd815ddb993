//! Link requests to one node gathered into batches ([`vigil_protocol::link_batch`]).
//!
//! Each node has a queue and a task that empties it. The task takes the first request
//! waiting, lets the requests that are ready to run join it (one turn of the scheduler:
//! nothing waits on a timer), and sends what it holds as one `POST /v1/link/requests`,
//! whose answers stream back as the node finishes each and go to their waiters. At most
//! [`UNTAKEN_MAX`] exchanges to a node are out that the node has not yet taken (its
//! answer's head not back): requests that arrive meanwhile wait in the queue and go
//! together in the next. So the busier the node, the larger the batches, and one HTTP
//! exchange (its syscalls, its parsing, at both ends) carries many requests; at rest, a
//! request goes at once, a batch of one. The node sends the head as soon as it has read
//! the batch, before serving it, so a request that waits (a transaction waiting for its
//! commit) holds back no other.
//!
//! Every waiter gets what the single endpoint would have answered for its request, so
//! the caller's handling of the answer (refusals, a replaced session) is unchanged. A
//! node that does not know the batch endpoint (an older node) is sent requests one by
//! one (`POST /v1/link/request`) from then on. A request of
//! [`BATCHED_REQUEST_MAX_BYTES`] or more goes alone.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{StatusCode, Uri};
use http_body_util::BodyExt;
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};
use vigil_protocol::link::REQUEST_MEDIA_TYPE;
use vigil_protocol::link_batch::{
    AnswerReader, Batch, BATCHED_REQUEST_MAX_BYTES, BATCH_MEDIA_TYPE, BATCH_REQUESTS_MAX,
};

use crate::upstream::{self, HopError, Upstream};

/// Requests waiting for a node's batching task at most; a sender past it waits.
pub const QUEUE_MAX: usize = 4096;

// A queued request's counter still reaches the node inside its replay window, however
// many were sealed after it and went first (those over the batch bound go alone).
const _: () = assert!((QUEUE_MAX + BATCH_REQUESTS_MAX) as u64 <= vigil_protocol::link::REPLAY_WINDOW);

/// Exchanges to one node sent and not yet taken by it (no answer head back) at most.
/// One: under load, what arrives while the node is busy goes as one batch. Measured on
/// `bench gateway` against no bound (every batch sent at once): forwarding went from
/// 1.00× to 1.08× nginx (medians of ten pairs), the node's CPU per request from 14 µs
/// to 12; a bound of two gave 1.04×.
pub const UNTAKEN_MAX: usize = 1;

type Answer = Result<(StatusCode, Bytes), HopError>;

struct Queued {
    sealed: Vec<u8>,
    reply: oneshot::Sender<Answer>,
}

/// A node's queue, and what its task knows of the node.
type NodeQueue = (mpsc::Sender<Queued>, Arc<Node>);

/// The queues, per node URL.
pub struct Batcher {
    upstream: Upstream,
    timeout: Duration,
    queues: Mutex<HashMap<String, NodeQueue>>,
    counts: Arc<Counts>,
}

/// What the batcher sent, for the gateway's metrics.
#[derive(Debug, Default)]
pub struct Counts {
    /// HTTP exchanges that carried link requests: batches and requests sent alone.
    pub exchanges: AtomicU64,
    /// Of those, batches (one request alone to a node that takes batches is a batch of
    /// one: requests divided by exchanges is the batches' mean size).
    pub batches: AtomicU64,
}

impl Batcher {
    pub fn new(upstream: Upstream, timeout: Duration) -> Self {
        Self { upstream, timeout, queues: Mutex::new(HashMap::new()), counts: Arc::default() }
    }

    pub fn counts(&self) -> &Counts {
        &self.counts
    }

    /// Sends a sealed link request to the node at `base`, alone or in a batch; what the
    /// node answered for it (its status and body), within the timeout.
    pub async fn post(&self, base: &str, sealed: Vec<u8>) -> Answer {
        let (sender, node) = self.queue(base)?;
        let (reply, answer) = oneshot::channel();
        // One deadline for all of it: a place in a full queue (a node slow to take its
        // exchanges), the exchange, the answer.
        let asked = async {
            if sealed.len() >= BATCHED_REQUEST_MAX_BYTES {
                single(node, Queued { sealed, reply }).await;
            } else {
                sender.send(Queued { sealed, reply }).await.map_err(|_| HopError::Unreachable)?;
            }
            answer.await.map_err(|_| HopError::Unreachable)?
        };
        tokio::time::timeout(self.timeout, asked).await.unwrap_or(Err(HopError::Timeout))
    }

    /// The node's queue, its task started on first use, and what the task knows of it.
    fn queue(&self, base: &str) -> Result<NodeQueue, HopError> {
        let mut queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((sender, node)) = queues.get(base).filter(|(s, _)| !s.is_closed()) {
            return Ok((sender.clone(), node.clone()));
        }
        let node = Node {
            untaken: Arc::new(Semaphore::new(UNTAKEN_MAX)),
            upstream: self.upstream.clone(),
            single: upstream::uri(base, "/v1/link/request")?,
            batch: upstream::uri(base, "/v1/link/requests")?,
            timeout: self.timeout,
            batches: AtomicBool::new(true),
            counts: self.counts.clone(),
        };
        let node = Arc::new(node);
        let (sender, receiver) = mpsc::channel(QUEUE_MAX);
        tokio::spawn(run(node.clone(), receiver));
        queues.insert(base.to_string(), (sender.clone(), node.clone()));
        Ok((sender, node))
    }
}

/// What a node's task knows of it.
struct Node {
    /// A place per exchange out that the node has not yet taken ([`UNTAKEN_MAX`]).
    untaken: Arc<Semaphore>,
    upstream: Upstream,
    single: Uri,
    batch: Uri,
    timeout: Duration,
    /// Cleared when the node does not know the batch endpoint.
    batches: AtomicBool,
    counts: Arc<Counts>,
}

/// Empties one node's queue until the gateway drops it.
async fn run(node: Arc<Node>, mut queue: mpsc::Receiver<Queued>) {
    while let Some(first) = queue.recv().await {
        let batches = node.batches.load(Ordering::Relaxed);
        // To a node that takes batches: wait for a place (requests keep arriving in the
        // queue meanwhile). The semaphore is never closed.
        let place = if batches { node.untaken.clone().acquire_owned().await.ok() } else { None };
        // The requests ready to run now get to join this one.
        tokio::task::yield_now().await;
        // A request whose waiter has gone (its deadline passed while the node was slow to
        // take exchanges, or its client left) is not sent: its caller was told it failed.
        let mut batch: Vec<Queued> = Some(first).into_iter().filter(|q| !q.reply.is_closed()).collect();
        while batch.len() < BATCH_REQUESTS_MAX {
            match queue.try_recv() {
                Ok(q) if q.reply.is_closed() => {}
                Ok(q) => batch.push(q),
                Err(_) => break,
            }
        }
        debug_assert!(batch.len() <= BATCH_REQUESTS_MAX);
        if batch.is_empty() {
            continue;
        }
        let node = node.clone();
        if batches {
            tokio::spawn(send_batch(node, batch, place));
        } else {
            for q in batch {
                tokio::spawn(single(node.clone(), q));
            }
        }
    }
}

async fn single(node: Arc<Node>, q: Queued) {
    node.counts.exchanges.fetch_add(1, Ordering::Relaxed);
    let answer = node.upstream.post(node.single.clone(), REQUEST_MEDIA_TYPE, q.sealed, node.timeout).await;
    let _ = q.reply.send(answer);
}

/// Sends `batch` as one exchange, giving `place` back once the node has taken it (its
/// answer's head is back, or the exchange failed), and hands each answer to its waiter
/// as it arrives; those left when the stream ends get `Unreachable`.
async fn send_batch(node: Arc<Node>, batch: Vec<Queued>, place: Option<OwnedSemaphorePermit>) {
    let (requests, mut replies): (Vec<_>, Vec<_>) = batch.into_iter().map(|q| (q.sealed, Some(q.reply))).unzip();
    let batch = Batch { requests };
    node.counts.exchanges.fetch_add(1, Ordering::Relaxed);
    node.counts.batches.fetch_add(1, Ordering::Relaxed);
    let sent = node.upstream.post_streaming(node.batch.clone(), BATCH_MEDIA_TYPE, batch.encode(), node.timeout).await;
    drop(place);
    let mut stream = match sent {
        Ok((StatusCode::OK, stream)) => stream,
        Ok((status, _)) => {
            // Not taken whole (a refusal of the exchange, as its client's rate, or an
            // older node without the endpoint): each request goes alone, and to an older
            // node every later one too.
            if matches!(
                status,
                StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED | StatusCode::UNSUPPORTED_MEDIA_TYPE
            ) {
                node.batches.store(false, Ordering::Relaxed);
            }
            for (sealed, reply) in batch.requests.into_iter().zip(replies) {
                // As in the queue: a request whose waiter has gone is not sent.
                if let Some(reply) = reply.filter(|r| !r.is_closed()) {
                    tokio::spawn(single(node.clone(), Queued { sealed, reply }));
                }
            }
            return;
        }
        Err(e) => {
            for reply in replies.into_iter().flatten() {
                let _ = reply.send(Err(e.clone()));
            }
            return;
        }
    };
    let mut reader = AnswerReader::default();
    let read = async {
        while let Some(frame) = stream.frame().await {
            let Ok(data) = frame.map(|f| f.into_data()) else { return };
            let Ok(data) = data else { continue };
            let Ok(answers) = reader.push(&data) else {
                tracing::warn!("a node's batch answer is not in its framing");
                return;
            };
            for a in answers {
                let waiter = replies.get_mut(usize::from(a.index)).and_then(Option::take);
                let status = StatusCode::from_u16(a.status).unwrap_or(StatusCode::BAD_GATEWAY);
                if let Some(reply) = waiter {
                    let _ = reply.send(Ok((status, Bytes::from(a.body))));
                }
            }
        }
    };
    let ended = tokio::time::timeout(node.timeout, read).await;
    let left = if ended.is_err() { HopError::Timeout } else { HopError::Unreachable };
    for reply in replies.into_iter().flatten() {
        let _ = reply.send(Err(left.clone()));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use axum::body::Body;
    use axum::response::IntoResponse;
    use axum::routing::post;
    use futures::stream::{FuturesUnordered, StreamExt};
    use vigil_protocol::link_batch::{Answered, BATCH_ANSWERS_MEDIA_TYPE};

    use super::*;

    /// What the mock node answers for a request: its bytes reversed (a request that
    /// starts with `slow` takes a second).
    async fn served(request: Vec<u8>) -> Vec<u8> {
        if request.starts_with(b"slow") {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        request.into_iter().rev().collect()
    }

    /// A mock node: both link endpoints (or only the single one, as an older node), and
    /// the exchanges each got.
    async fn node(batches: bool) -> (String, Arc<AtomicUsize>, Arc<AtomicUsize>) {
        let (singles, batched) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let counted = singles.clone();
        let mut app = axum::Router::new().route(
            "/v1/link/request",
            post(move |body: Bytes| async move {
                counted.fetch_add(1, Ordering::SeqCst);
                served(body.to_vec()).await
            }),
        );
        if batches {
            let counted = batched.clone();
            app = app.route(
                "/v1/link/requests",
                post(move |body: Bytes| async move {
                    counted.fetch_add(1, Ordering::SeqCst);
                    let batch = Batch::decode(&body).unwrap();
                    let answers: FuturesUnordered<_> = (0u16..)
                        .zip(batch.requests)
                        .map(|(index, r)| async move {
                            let body = served(r).await;
                            Ok::<_, std::convert::Infallible>(Answered { index, status: 200, body }.encode())
                        })
                        .collect();
                    ([(axum::http::header::CONTENT_TYPE, BATCH_ANSWERS_MEDIA_TYPE)], Body::from_stream(answers))
                        .into_response()
                }),
            );
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (format!("http://{addr}"), singles, batched)
    }

    fn batcher() -> Arc<Batcher> {
        Arc::new(Batcher::new(Upstream::default(), Duration::from_secs(10)))
    }

    /// `n` requests sent at once; each must get its own answer.
    async fn burst(batcher: &Arc<Batcher>, base: &str, n: usize) {
        let sends: FuturesUnordered<_> = (0..n)
            .map(|i| {
                let (batcher, base) = (batcher.clone(), base.to_string());
                async move {
                    let request = format!("request {i}").into_bytes();
                    let (status, answer) = batcher.post(&base, request.clone()).await.unwrap();
                    assert_eq!(status, StatusCode::OK);
                    assert_eq!(answer.to_vec(), request.into_iter().rev().collect::<Vec<_>>(), "request {i}");
                }
            })
            .collect();
        sends.collect::<Vec<()>>().await;
    }

    #[tokio::test(flavor = "current_thread")]
    async fn requests_sent_together_share_exchanges_and_each_gets_its_answer() {
        let (base, singles, batched) = node(true).await;
        let batcher = batcher();
        burst(&batcher, &base, 200).await;
        let exchanges = singles.load(Ordering::SeqCst) + batched.load(Ordering::SeqCst);
        assert!(batched.load(Ordering::SeqCst) >= 1, "a burst goes in batches");
        assert!(exchanges <= 200 / 4, "200 requests in {exchanges} exchanges");
        // The metrics count what the node received.
        assert_eq!(batcher.counts().exchanges.load(Ordering::SeqCst) as usize, exchanges);
        assert_eq!(batcher.counts().batches.load(Ordering::SeqCst) as usize, batched.load(Ordering::SeqCst));
        // A lone request goes at once, a batch of one.
        let before = batched.load(Ordering::SeqCst);
        burst(&batcher, &base, 1).await;
        assert_eq!(batched.load(Ordering::SeqCst), before + 1);
        assert_eq!(singles.load(Ordering::SeqCst), 0, "a node that takes batches gets only batches");
    }

    /// A node whose first batch exchange is taken only when `take` is released (its
    /// answer head held back), every other at once; the batches it got, by size.
    async fn slow_to_take(take: Arc<tokio::sync::Semaphore>) -> (String, Arc<Mutex<Vec<usize>>>) {
        let sizes = Arc::new(Mutex::new(Vec::new()));
        let seen = sizes.clone();
        let app = axum::Router::new().route(
            "/v1/link/requests",
            post(move |body: Bytes| {
                let (seen, take) = (seen.clone(), take.clone());
                async move {
                    let batch = Batch::decode(&body).unwrap();
                    let first = {
                        let mut seen = seen.lock().unwrap();
                        seen.push(batch.requests.len());
                        seen.len() == 1
                    };
                    if first {
                        take.acquire().await.unwrap().forget();
                    }
                    let frames = (0u16..).zip(batch.requests).map(|(index, r)| {
                        Ok::<_, std::convert::Infallible>(
                            Answered { index, status: 200, body: r.into_iter().rev().collect() }.encode(),
                        )
                    });
                    (
                        [(axum::http::header::CONTENT_TYPE, BATCH_ANSWERS_MEDIA_TYPE)],
                        Body::from_stream(futures::stream::iter(frames.collect::<Vec<_>>())),
                    )
                        .into_response()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (format!("http://{addr}"), sizes)
    }

    #[tokio::test(flavor = "current_thread")]
    async fn what_arrives_while_the_node_has_not_taken_an_exchange_goes_as_one_batch() {
        let take = Arc::new(tokio::sync::Semaphore::new(0));
        let (base, sizes) = slow_to_take(take.clone()).await;
        let batcher = batcher();
        let first = {
            let (batcher, base) = (batcher.clone(), base.clone());
            tokio::spawn(async move { batcher.post(&base, b"first".to_vec()).await })
        };
        while sizes.lock().unwrap().is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // The first exchange is out and not taken: these 30 wait, in no exchange yet.
        let rest = tokio::spawn({
            let (batcher, base) = (batcher.clone(), base.clone());
            async move { burst(&batcher, &base, 30).await }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(*sizes.lock().unwrap(), [1], "nothing more is sent before the node takes the first");
        take.add_permits(1);
        rest.await.unwrap();
        assert_eq!(first.await.unwrap().unwrap().1.to_vec(), b"tsrif".to_vec());
        // The 30 went together once the node took the first.
        assert_eq!(*sizes.lock().unwrap(), [1, 30]);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_request_whose_waiter_has_gone_is_not_sent() {
        let take = Arc::new(tokio::sync::Semaphore::new(0));
        let (base, sizes) = slow_to_take(take.clone()).await;
        let batcher = batcher();
        let post = |request: &'static [u8]| {
            let (batcher, base) = (batcher.clone(), base.clone());
            tokio::spawn(async move { batcher.post(&base, request.to_vec()).await })
        };
        let first = post(b"first");
        while sizes.lock().unwrap().is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // Five wait behind the exchange the node has not taken; their callers give up.
        let gone: Vec<_> = (0..5).map(|_| post(b"gone")).collect();
        tokio::time::sleep(Duration::from_millis(50)).await;
        for g in &gone {
            g.abort();
        }
        take.add_permits(1);
        assert_eq!(first.await.unwrap().unwrap().1.to_vec(), b"tsrif".to_vec());
        let last = post(b"last").await.unwrap().unwrap();
        assert_eq!(last.1.to_vec(), b"tsal".to_vec());
        // None of the five reached the node.
        assert_eq!(*sizes.lock().unwrap(), [1, 1]);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_slow_request_in_a_batch_holds_back_no_other() {
        let (base, _, batched) = node(true).await;
        let batcher = batcher();
        let slow = {
            let (batcher, base) = (batcher.clone(), base.clone());
            tokio::spawn(async move { batcher.post(&base, b"slow one".to_vec()).await })
        };
        let started = std::time::Instant::now();
        burst(&batcher, &base, 20).await;
        assert!(started.elapsed() < Duration::from_millis(900), "the others did not wait for the slow one");
        assert_eq!(slow.await.unwrap().unwrap().1.to_vec(), b"eno wols".to_vec());
        assert!(batched.load(Ordering::SeqCst) >= 1);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn an_older_node_gets_every_request_alone() {
        let (base, singles, _) = node(false).await;
        let batcher = batcher();
        burst(&batcher, &base, 50).await;
        burst(&batcher, &base, 50).await;
        // Every request reached the node once, alone (the first batch was sent again request by request).
        assert_eq!(singles.load(Ordering::SeqCst), 100);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_node_that_is_not_there_fails_every_waiter() {
        let nobody = format!("http://{}", std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap());
        let batcher = batcher();
        let sends: FuturesUnordered<_> = (0..10).map(|_| batcher.post(&nobody, vec![1])).collect();
        for answer in sends.collect::<Vec<_>>().await {
            assert_eq!(answer.unwrap_err(), HopError::Unreachable);
        }
    }
}
