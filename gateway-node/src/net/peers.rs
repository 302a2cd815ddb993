//! The peer set: one dialling task per peer (send side), one listener (receive side).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use vigil_protocol::encoding::{from_bytes_limited, to_bytes};
use vigil_protocol::limits::MESSAGE_SIZE_MAX_BYTES;
use vigil_protocol::{EncryptionKey, NodeId};

use super::noise;
use crate::consensus::Message;

/// Frames waiting to go to one peer; beyond this, new frames are dropped.
pub const PEER_QUEUE_FRAMES_MAX: usize = 4_096;
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// Where to reach a peer.
#[derive(Debug, Clone)]
pub struct PeerAddress {
    pub id: NodeId,
    pub address: String,
}

pub struct NetworkConfig {
    pub me: NodeId,
    /// This node's X25519 secret (its public half is in the validator set).
    pub secret: [u8; 32],
    pub listen: SocketAddr,
    pub peers: Vec<PeerAddress>,
    /// Every validator's published X25519 key: who may connect.
    pub keys: Vec<(NodeId, EncryptionKey)>,
    /// Binds links to one chain.
    pub prologue: Vec<u8>,
}

/// Handle to the running transport.
#[derive(Clone)]
pub struct Network {
    queues: Arc<BTreeMap<NodeId, mpsc::Sender<Arc<Vec<u8>>>>>,
    connected: Arc<Mutex<BTreeMap<NodeId, bool>>>,
    pub dropped_frames: Arc<AtomicU64>,
}

impl Network {
    /// Binds the listener and starts dialling every peer. Received messages go to `inbound`.
    pub async fn start(cfg: NetworkConfig, inbound: mpsc::Sender<(NodeId, Message)>) -> std::io::Result<Self> {
        let listener = TcpListener::bind(cfg.listen).await?;
        let keys = Arc::new(cfg.keys);
        let secret = Arc::new(cfg.secret);
        let prologue = Arc::new(cfg.prologue);
        let connected = Arc::new(Mutex::new(BTreeMap::new()));
        let mut queues = BTreeMap::new();
        for peer in cfg.peers.into_iter().filter(|p| p.id != cfg.me) {
            let (tx, rx) = mpsc::channel(PEER_QUEUE_FRAMES_MAX);
            queues.insert(peer.id, tx);
            let key = keys.iter().find(|(id, _)| *id == peer.id).map(|(_, k)| *k);
            let Some(key) = key else {
                tracing::warn!(peer = %peer.id.short(), "peer is not in the validator set; not dialling it");
                continue;
            };
            tokio::spawn(dial_loop(peer, key, secret.clone(), prologue.clone(), rx, connected.clone()));
        }
        tokio::spawn(accept_loop(listener, keys, secret, prologue, inbound));
        Ok(Self { queues: Arc::new(queues), connected, dropped_frames: Arc::new(AtomicU64::new(0)) })
    }

    fn enqueue(&self, to: &NodeId, frame: Arc<Vec<u8>>) {
        if let Some(q) = self.queues.get(to) {
            if q.try_send(frame).is_err() {
                self.dropped_frames.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    pub fn send(&self, to: &NodeId, message: &Message) {
        self.enqueue(to, Arc::new(to_bytes(message)));
    }

    pub fn broadcast(&self, message: &Message) {
        let frame = Arc::new(to_bytes(message));
        for id in self.queues.keys() {
            self.enqueue(id, frame.clone());
        }
    }

    /// Peers whose outbound link is up.
    pub fn connected_peers(&self) -> Vec<NodeId> {
        let c = self.connected.lock().unwrap_or_else(|p| p.into_inner());
        c.iter().filter(|(_, up)| **up).map(|(id, _)| *id).collect()
    }
}

async fn dial_loop(
    peer: PeerAddress,
    key: EncryptionKey,
    secret: Arc<[u8; 32]>,
    prologue: Arc<Vec<u8>>,
    mut frames: mpsc::Receiver<Arc<Vec<u8>>>,
    connected: Arc<Mutex<BTreeMap<NodeId, bool>>>,
) {
    let mut backoff = BACKOFF_MIN;
    let set_up = |up: bool| {
        connected.lock().unwrap_or_else(|p| p.into_inner()).insert(peer.id, up);
    };
    loop {
        let attempt = async {
            let stream = tokio::time::timeout(noise::HANDSHAKE_TIMEOUT, TcpStream::connect(&peer.address))
                .await
                .map_err(|_| noise::LinkError::Timeout)??;
            noise::initiate(stream, &secret, &prologue, |k| (k == &key.0).then_some(peer.id)).await
        };
        match attempt.await {
            Ok(mut link) => {
                tracing::info!(peer = %peer.id.short(), address = %peer.address, "link up");
                set_up(true);
                backoff = BACKOFF_MIN;
                while let Some(frame) = frames.recv().await {
                    if let Err(e) = link.send(&frame).await {
                        tracing::info!(peer = %peer.id.short(), error = %e, "link down");
                        break;
                    }
                }
                set_up(false);
            }
            Err(e) => tracing::debug!(peer = %peer.id.short(), error = %e, "dial failed"),
        }
        if frames.is_closed() {
            return;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

async fn accept_loop(
    listener: TcpListener,
    keys: Arc<Vec<(NodeId, EncryptionKey)>>,
    secret: Arc<[u8; 32]>,
    prologue: Arc<Vec<u8>>,
    inbound: mpsc::Sender<(NodeId, Message)>,
) {
    loop {
        let Ok((stream, addr)) = listener.accept().await else { continue };
        let (keys, secret, prologue, inbound) = (keys.clone(), secret.clone(), prologue.clone(), inbound.clone());
        tokio::spawn(async move {
            let expect = |k: &[u8; 32]| keys.iter().find(|(_, key)| &key.0 == k).map(|(id, _)| *id);
            let mut link = match noise::respond(stream, &secret, &prologue, expect).await {
                Ok(link) => link,
                Err(e) => {
                    tracing::warn!(%addr, error = %e, "refused an inbound link");
                    return;
                }
            };
            loop {
                let frame = match link.recv().await {
                    Ok(f) => f,
                    Err(_) => return,
                };
                match from_bytes_limited::<Message>(&frame, MESSAGE_SIZE_MAX_BYTES) {
                    Ok(message) => {
                        if inbound.send((link.peer, message)).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(peer = %link.peer.short(), error = %e, "malformed frame; closing link");
                        return;
                    }
                }
            }
        });
    }
}
