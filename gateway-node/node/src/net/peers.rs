//! The peer set: one dialling task per peer (send side), one listener (receive side).
//!
//! Inbound links: at most [`HANDSHAKES_MAX`] unauthenticated handshakes at once, and
//! [`HANDSHAKES_PER_ADDRESS_MAX`] from one address; only validators of the set in force
//! (the allow-list follows certified set changes: a jailed validator's links close at its
//! next frame and it cannot open new ones), and [`LINKS_PER_PEER_MAX`] links per peer.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use vigil_protocol::encoding::{from_bytes_limited, to_bytes};
use vigil_protocol::limits::MESSAGE_SIZE_MAX_BYTES;
use vigil_protocol::{NodeId, P2pKey};

use super::noise;
use vigil_core::consensus::Message;

/// Frames waiting to go to one peer; beyond this, new frames are dropped.
pub const PEER_QUEUE_FRAMES_MAX: usize = 4_096;
/// Unauthenticated inbound handshakes in progress at once (beyond: refused at accept).
pub const HANDSHAKES_MAX: usize = 64;
/// Inbound handshakes in progress from one address at once.
pub const HANDSHAKES_PER_ADDRESS_MAX: usize = 4;
/// Authenticated inbound links one peer may hold at once.
pub const LINKS_PER_PEER_MAX: usize = 2;
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
    /// This node's Noise static X25519 secret (its public half is its published p2p key).
    pub secret: [u8; 32],
    pub listen: SocketAddr,
    pub peers: Vec<PeerAddress>,
    /// Every validator's published p2p (Noise) key: who may connect.
    pub keys: Vec<(NodeId, P2pKey)>,
    /// Binds links to one chain.
    pub prologue: Vec<u8>,
}

/// Handle to the running transport.
#[derive(Clone)]
pub struct Network {
    queues: Arc<BTreeMap<NodeId, mpsc::Sender<Arc<Vec<u8>>>>>,
    connected: Arc<Mutex<BTreeMap<NodeId, bool>>>,
    allowed: Allowed,
    pub dropped_frames: Arc<AtomicU64>,
}

/// Who may hold an inbound link: the validators of the set in force and their keys.
type Allowed = Arc<RwLock<Vec<(NodeId, P2pKey)>>>;

/// Counts of inbound handshakes and links, released when their guard drops.
#[derive(Default)]
struct Gates {
    handshakes: usize,
    by_address: BTreeMap<IpAddr, usize>,
    links: BTreeMap<NodeId, usize>,
}

/// Releases one handshake (or link) slot.
struct Slot {
    gates: Arc<Mutex<Gates>>,
    address: IpAddr,
    peer: Option<NodeId>,
    handshake: bool,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut g = self.gates.lock().unwrap_or_else(|p| p.into_inner());
        if self.handshake {
            g.handshakes = g.handshakes.saturating_sub(1);
            if let Some(n) = g.by_address.get_mut(&self.address) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    g.by_address.remove(&self.address);
                }
            }
        }
        if let Some(peer) = self.peer {
            if let Some(n) = g.links.get_mut(&peer) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    g.links.remove(&peer);
                }
            }
        }
    }
}

impl Gates {
    /// A handshake slot for `address`, if under both caps.
    fn handshake(gates: &Arc<Mutex<Gates>>, address: IpAddr) -> Option<Slot> {
        let mut g = gates.lock().unwrap_or_else(|p| p.into_inner());
        let from_address = g.by_address.get(&address).copied().unwrap_or(0);
        if g.handshakes >= HANDSHAKES_MAX || from_address >= HANDSHAKES_PER_ADDRESS_MAX {
            return None;
        }
        g.handshakes += 1;
        g.by_address.insert(address, from_address + 1);
        Some(Slot { gates: gates.clone(), address, peer: None, handshake: true })
    }

    /// A link slot for `peer`, if under its cap.
    fn link(gates: &Arc<Mutex<Gates>>, address: IpAddr, peer: NodeId) -> Option<Slot> {
        let mut g = gates.lock().unwrap_or_else(|p| p.into_inner());
        let n = g.links.get(&peer).copied().unwrap_or(0);
        if n >= LINKS_PER_PEER_MAX {
            return None;
        }
        g.links.insert(peer, n + 1);
        Some(Slot { gates: gates.clone(), address, peer: Some(peer), handshake: false })
    }
}

impl Network {
    /// Binds the listener and starts dialling every peer. Received messages go to `inbound`.
    pub async fn start(cfg: NetworkConfig, inbound: mpsc::Sender<(NodeId, Message)>) -> std::io::Result<Self> {
        let listener = TcpListener::bind(cfg.listen).await?;
        let initial = cfg.keys.clone();
        let keys: Allowed = Arc::new(RwLock::new(cfg.keys));
        let secret = Arc::new(cfg.secret);
        let prologue = Arc::new(cfg.prologue);
        let connected = Arc::new(Mutex::new(BTreeMap::new()));
        let mut queues = BTreeMap::new();
        for peer in cfg.peers.into_iter().filter(|p| p.id != cfg.me) {
            let (tx, rx) = mpsc::channel(PEER_QUEUE_FRAMES_MAX);
            queues.insert(peer.id, tx);
            let key = initial.iter().find(|(id, _)| *id == peer.id).map(|(_, k)| *k);
            let Some(key) = key else {
                tracing::warn!(peer = %peer.id.short(), "peer is not in the validator set; not dialling it");
                continue;
            };
            tokio::spawn(dial_loop(peer, key, secret.clone(), prologue.clone(), rx, connected.clone()));
        }
        tokio::spawn(accept_loop(listener, keys.clone(), secret, prologue, inbound));
        Ok(Self { queues: Arc::new(queues), connected, allowed: keys, dropped_frames: Arc::new(AtomicU64::new(0)) })
    }

    /// The validators (and keys) that may hold inbound links from now on: the set in
    /// force after a certified change. Links of those left out close at their next frame.
    pub fn set_allowed(&self, keys: Vec<(NodeId, P2pKey)>) {
        *self.allowed.write().unwrap_or_else(|p| p.into_inner()) = keys;
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
    key: P2pKey,
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
    keys: Allowed,
    secret: Arc<[u8; 32]>,
    prologue: Arc<Vec<u8>>,
    inbound: mpsc::Sender<(NodeId, Message)>,
) {
    let gates = Arc::new(Mutex::new(Gates::default()));
    loop {
        let Ok((stream, addr)) = listener.accept().await else { continue };
        let Some(handshake) = Gates::handshake(&gates, addr.ip()) else {
            tracing::debug!(%addr, "too many inbound handshakes; refused");
            continue;
        };
        let (keys, secret, prologue, inbound, gates) =
            (keys.clone(), secret.clone(), prologue.clone(), inbound.clone(), gates.clone());
        tokio::spawn(async move {
            let allowed = |k: &[u8; 32]| {
                let keys = keys.read().unwrap_or_else(|p| p.into_inner());
                keys.iter().find(|(_, key)| &key.0 == k).map(|(id, _)| *id)
            };
            let mut link = match noise::respond(stream, &secret, &prologue, allowed).await {
                Ok(link) => link,
                Err(e) => {
                    tracing::warn!(%addr, error = %e, "refused an inbound link");
                    return;
                }
            };
            drop(handshake);
            let Some(_link_slot) = Gates::link(&gates, addr.ip(), link.peer) else {
                tracing::warn!(peer = %link.peer.short(), %addr, "too many links from one peer; refused");
                return;
            };
            let still_allowed =
                |peer: &NodeId| keys.read().unwrap_or_else(|p| p.into_inner()).iter().any(|(id, _)| id == peer);
            loop {
                let frame = match link.recv().await {
                    Ok(f) => f,
                    Err(_) => return,
                };
                if !still_allowed(&link.peer) {
                    tracing::info!(peer = %link.peer.short(), "no longer in the validator set; closing its link");
                    return;
                }
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

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_protocol::encoding::to_bytes;
    use vigil_protocol::Height;
    use vigil_server::keys::NodeKeys;

    /// Dials `to` with `secret` as the Noise static key, sends one message and says
    /// whether the listening node let it through.
    async fn delivered(
        to: SocketAddr,
        secret: [u8; 32],
        to_key: P2pKey,
        inbound: &mut mpsc::Receiver<(NodeId, Message)>,
    ) -> Option<NodeId> {
        let stream = tokio::net::TcpStream::connect(to).await.unwrap();
        let mut link =
            noise::initiate(stream, &secret, b"vigil-test", |k| (k == &to_key.0).then_some(NodeId::default()))
                .await
                .ok()?;
        let _ = link.send(&to_bytes(&Message::SyncRequest { from_height: Height(1) })).await;
        let got = tokio::time::timeout(Duration::from_millis(500), inbound.recv()).await.ok().flatten();
        got.map(|(from, m)| {
            assert!(matches!(m, Message::SyncRequest { from_height: Height(1) }));
            from
        })
    }

    #[tokio::test]
    async fn a_peer_presenting_its_hpke_key_as_its_noise_key_is_refused() {
        let (a, b) = (NodeKeys::generate(), NodeKeys::generate());
        let (tx, mut inbound) = mpsc::channel(8);
        let listen = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let _net = Network::start(
            NetworkConfig {
                me: b.id(),
                secret: b.p2p.to_bytes(),
                listen,
                peers: vec![],
                keys: vec![(a.id(), a.p2p_public()), (b.id(), b.p2p_public())],
                prologue: b"vigil-test".to_vec(),
            },
            tx,
        )
        .await
        .unwrap();
        // A validator's HPKE key (published too, but for sealed requests) opens no link.
        assert_eq!(delivered(listen, a.encryption.to_bytes(), b.p2p_public(), &mut inbound).await, None);
        // Its p2p key does, and the link is attributed to it.
        assert_eq!(delivered(listen, a.p2p.to_bytes(), b.p2p_public(), &mut inbound).await, Some(a.id()));
        // The dialling side holds the listener to its p2p key too: B's HPKE key is not B.
        let stream = tokio::net::TcpStream::connect(listen).await.unwrap();
        let wrong = P2pKey(b.encryption_public().0);
        let secret = a.p2p.to_bytes();
        let refused = noise::initiate(stream, &secret, b"vigil-test", |k| (k == &wrong.0).then_some(b.id())).await;
        assert!(matches!(refused, Err(noise::LinkError::UnknownPeer)));
    }

    /// Finding 10 of the soundness review: on 35b51aa unauthenticated Noise handshakes
    /// were unlimited (each costs the listener a Diffie-Hellman and a task), in all and
    /// per address; now `HANDSHAKES_MAX` and `HANDSHAKES_PER_ADDRESS_MAX` hold.
    #[test]
    fn handshakes_are_capped_in_all_and_per_address() {
        let gates = Arc::new(Mutex::new(Gates::default()));
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let from_a: Vec<Slot> = (0..HANDSHAKES_PER_ADDRESS_MAX).filter_map(|_| Gates::handshake(&gates, a)).collect();
        assert_eq!(from_a.len(), HANDSHAKES_PER_ADDRESS_MAX);
        assert!(Gates::handshake(&gates, a).is_none(), "one address cannot hold more");
        drop(from_a);
        let mut all = Vec::new();
        for i in 0..HANDSHAKES_MAX {
            let ip = IpAddr::from([10, 0, (i / 256) as u8, (i % 256) as u8]);
            all.push(Gates::handshake(&gates, ip).expect("under the cap"));
        }
        assert!(Gates::handshake(&gates, "192.0.2.9".parse().unwrap()).is_none(), "the global cap holds");
        drop(all);
        assert!(Gates::handshake(&gates, a).is_some(), "slots come back when handshakes end");
        let peer = NodeId::default();
        let links: Vec<Slot> = (0..LINKS_PER_PEER_MAX).filter_map(|_| Gates::link(&gates, a, peer)).collect();
        assert_eq!(links.len(), LINKS_PER_PEER_MAX);
        assert!(Gates::link(&gates, a, peer).is_none());
    }
}
