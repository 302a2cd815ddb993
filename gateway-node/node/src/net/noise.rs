//! One Noise link: the XX handshake and chunked, encrypted frames.
//!
//! Noise messages are at most 65 535 bytes, so a frame (a whole BCS message, up to
//! [`MESSAGE_SIZE_MAX_BYTES`]) is sent as a sequence of encrypted chunks whose plaintext
//! starts with the frame's length. The prologue binds every link to one chain id and
//! genesis hash, so a node of another network cannot complete a handshake.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use vigil_protocol::limits::MESSAGE_SIZE_MAX_BYTES;
use vigil_protocol::NodeId;

/// The Noise pattern and primitives.
pub const NOISE_PARAMS: &str = "Noise_XX_25519_ChaChaPoly_SHA256";
const NOISE_MESSAGE_MAX_BYTES: usize = 65_535;
const NOISE_TAG_BYTES: usize = 16;
const CHUNK_PLAINTEXT_MAX_BYTES: usize = NOISE_MESSAGE_MAX_BYTES - NOISE_TAG_BYTES;
/// A link's read buffer: several small messages (votes, acknowledgements, gossip) in one
/// read from the socket.
const LINK_READ_BUFFER_BYTES: usize = 64 * 1024;
/// A handshake that takes longer than this is abandoned.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("noise: {0}")]
    Noise(String),
    #[error("peer's static key is not a validator's published key")]
    UnknownPeer,
    #[error("frame of {0} bytes exceeds the limit")]
    FrameTooLarge(usize),
    #[error("handshake timed out")]
    Timeout,
}

fn noise_err(e: snow::Error) -> LinkError {
    LinkError::Noise(e.to_string())
}

async fn write_noise(stream: &mut (impl AsyncWrite + Unpin), msg: &[u8]) -> Result<(), LinkError> {
    let len = u16::try_from(msg.len()).map_err(|_| LinkError::FrameTooLarge(msg.len()))?;
    stream.write_all(&len.to_be_bytes()).await?;
    stream.write_all(msg).await?;
    Ok(())
}

async fn read_noise(stream: &mut (impl AsyncRead + Unpin), buf: &mut Vec<u8>) -> Result<(), LinkError> {
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).await?;
    buf.resize(usize::from(u16::from_be_bytes(len)), 0);
    stream.read_exact(buf).await?;
    Ok(())
}

/// An established link in one direction. Its buffers are its own for its lifetime: a
/// message costs no allocation of a Noise-message-sized buffer (64 KiB, zeroed), and its
/// reads are buffered (a message's length and body in one read when both have arrived).
pub struct Link {
    stream: BufReader<TcpStream>,
    transport: snow::TransportState,
    pub peer: NodeId,
    /// One Noise message on the wire: its 2-byte length, then the ciphertext.
    wire: Vec<u8>,
    /// A received message's ciphertext, then its plaintext.
    cipher: Vec<u8>,
    plain: Vec<u8>,
}

impl Link {
    fn new(stream: TcpStream, transport: snow::TransportState, peer: NodeId) -> Self {
        Self {
            stream: BufReader::with_capacity(LINK_READ_BUFFER_BYTES, stream),
            transport,
            peer,
            wire: vec![0u8; 2 + NOISE_MESSAGE_MAX_BYTES],
            cipher: Vec::with_capacity(NOISE_MESSAGE_MAX_BYTES),
            plain: vec![0u8; NOISE_MESSAGE_MAX_BYTES],
        }
    }
}

fn builder<'a>(secret: &'a [u8; 32], prologue: &'a [u8]) -> Result<snow::Builder<'a>, LinkError> {
    let params = NOISE_PARAMS.parse().map_err(noise_err)?;
    snow::Builder::new(params).local_private_key(secret).map_err(noise_err)?.prologue(prologue).map_err(noise_err)
}

fn remote_key(hs: &snow::HandshakeState) -> Result<[u8; 32], LinkError> {
    hs.get_remote_static().and_then(|k| <[u8; 32]>::try_from(k).ok()).ok_or(LinkError::UnknownPeer)
}

/// Dials side: `expect` maps the responder's static key to its node id (or refuses it).
pub async fn initiate(
    mut stream: TcpStream,
    secret: &[u8; 32],
    prologue: &[u8],
    expect: impl Fn(&[u8; 32]) -> Option<NodeId>,
) -> Result<Link, LinkError> {
    tokio::time::timeout(HANDSHAKE_TIMEOUT, async move {
        let mut hs = builder(secret, prologue)?.build_initiator().map_err(noise_err)?;
        let mut out = vec![0u8; NOISE_MESSAGE_MAX_BYTES];
        let mut inp = Vec::new();
        let n = hs.write_message(&[], &mut out).map_err(noise_err)?;
        write_noise(&mut stream, &out[..n]).await?;
        read_noise(&mut stream, &mut inp).await?;
        let mut payload = vec![0u8; NOISE_MESSAGE_MAX_BYTES];
        hs.read_message(&inp, &mut payload).map_err(noise_err)?;
        let peer = expect(&remote_key(&hs)?).ok_or(LinkError::UnknownPeer)?;
        let n = hs.write_message(&[], &mut out).map_err(noise_err)?;
        write_noise(&mut stream, &out[..n]).await?;
        let transport = hs.into_transport_mode().map_err(noise_err)?;
        stream.set_nodelay(true)?;
        Ok(Link::new(stream, transport, peer))
    })
    .await
    .map_err(|_| LinkError::Timeout)?
}

/// Accepting side: any key `expect` maps to a validator is let in.
pub async fn respond(
    mut stream: TcpStream,
    secret: &[u8; 32],
    prologue: &[u8],
    expect: impl Fn(&[u8; 32]) -> Option<NodeId>,
) -> Result<Link, LinkError> {
    tokio::time::timeout(HANDSHAKE_TIMEOUT, async move {
        let mut hs = builder(secret, prologue)?.build_responder().map_err(noise_err)?;
        let mut out = vec![0u8; NOISE_MESSAGE_MAX_BYTES];
        let mut inp = Vec::new();
        let mut payload = vec![0u8; NOISE_MESSAGE_MAX_BYTES];
        read_noise(&mut stream, &mut inp).await?;
        hs.read_message(&inp, &mut payload).map_err(noise_err)?;
        let n = hs.write_message(&[], &mut out).map_err(noise_err)?;
        write_noise(&mut stream, &out[..n]).await?;
        read_noise(&mut stream, &mut inp).await?;
        hs.read_message(&inp, &mut payload).map_err(noise_err)?;
        let peer = expect(&remote_key(&hs)?).ok_or(LinkError::UnknownPeer)?;
        let transport = hs.into_transport_mode().map_err(noise_err)?;
        stream.set_nodelay(true)?;
        Ok(Link::new(stream, transport, peer))
    })
    .await
    .map_err(|_| LinkError::Timeout)?
}

impl Link {
    /// Sends one frame (encrypted in chunks), each Noise message in one write.
    pub async fn send(&mut self, frame: &[u8]) -> Result<(), LinkError> {
        if frame.len() > MESSAGE_SIZE_MAX_BYTES {
            return Err(LinkError::FrameTooLarge(frame.len()));
        }
        let mut plain = Vec::with_capacity(4 + frame.len());
        plain.extend_from_slice(&(frame.len() as u32).to_be_bytes());
        plain.extend_from_slice(frame);
        for chunk in plain.chunks(CHUNK_PLAINTEXT_MAX_BYTES) {
            let (len, body) = self.wire.split_at_mut(2);
            let n = self.transport.write_message(chunk, body).map_err(noise_err)?;
            let n16 = u16::try_from(n).map_err(|_| LinkError::FrameTooLarge(n))?;
            len.copy_from_slice(&n16.to_be_bytes());
            let message = self.wire.get(..2 + n).ok_or(LinkError::FrameTooLarge(n))?;
            self.stream.get_mut().write_all(message).await?;
        }
        Ok(())
    }

    /// Receives one frame.
    pub async fn recv(&mut self) -> Result<Vec<u8>, LinkError> {
        let mut frame: Vec<u8> = Vec::new();
        let mut expected: Option<usize> = None;
        loop {
            read_noise(&mut self.stream, &mut self.cipher).await?;
            let n = self.transport.read_message(&self.cipher, &mut self.plain).map_err(noise_err)?;
            let mut data = &self.plain[..n];
            if expected.is_none() {
                if data.len() < 4 {
                    return Err(LinkError::Noise("frame header truncated".into()));
                }
                let len = u32::from_be_bytes([data[0], data[1], data[2], data[3]]) as usize;
                if len > MESSAGE_SIZE_MAX_BYTES {
                    return Err(LinkError::FrameTooLarge(len));
                }
                expected = Some(len);
                frame.reserve(len);
                data = &data[4..];
            }
            frame.extend_from_slice(data);
            let want = expected.unwrap_or(0);
            if frame.len() > want {
                return Err(LinkError::Noise("frame longer than announced".into()));
            }
            if frame.len() == want {
                return Ok(frame);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    fn keypair(seed: u8) -> ([u8; 32], [u8; 32]) {
        let secret = x25519_dalek::StaticSecret::from([seed; 32]);
        (secret.to_bytes(), x25519_dalek::PublicKey::from(&secret).to_bytes())
    }

    #[tokio::test]
    async fn frames_of_any_size_cross_an_authenticated_link() {
        let (a_sec, a_pub) = keypair(1);
        let (b_sec, b_pub) = keypair(2);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (s, _) = listener.accept().await.unwrap();
            let mut link =
                respond(s, &b_sec, b"vigil-test", |k| (k == &a_pub).then_some(NodeId([0xa; 32]))).await.unwrap();
            assert_eq!(link.peer, NodeId([0xa; 32]));
            let small = link.recv().await.unwrap();
            let big = link.recv().await.unwrap();
            (small, big)
        });
        let s = TcpStream::connect(addr).await.unwrap();
        let mut link =
            initiate(s, &a_sec, b"vigil-test", |k| (k == &b_pub).then_some(NodeId([0xb; 32]))).await.unwrap();
        let big: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
        link.send(b"hello").await.unwrap();
        link.send(&big).await.unwrap();
        let (small, got) = server.await.unwrap();
        assert_eq!(small, b"hello");
        assert_eq!(got, big);
    }

    #[tokio::test]
    async fn a_stranger_key_is_refused() {
        let (a_sec, _) = keypair(1);
        let (b_sec, b_pub) = keypair(2);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (s, _) = listener.accept().await.unwrap();
            // Only a key we do not hold is a validator.
            respond(s, &b_sec, b"vigil-test", |k| (k == &[9u8; 32]).then_some(NodeId([1; 32]))).await
        });
        let s = TcpStream::connect(addr).await.unwrap();
        let _ = initiate(s, &a_sec, b"vigil-test", |k| (k == &b_pub).then_some(NodeId([0xb; 32]))).await;
        assert!(matches!(server.await.unwrap(), Err(LinkError::UnknownPeer)));
    }

    #[tokio::test]
    async fn a_node_of_another_chain_cannot_connect() {
        let (a_sec, a_pub) = keypair(1);
        let (b_sec, b_pub) = keypair(2);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (s, _) = listener.accept().await.unwrap();
            respond(s, &b_sec, b"vigil-mainnet", |k| (k == &a_pub).then_some(NodeId([1; 32]))).await
        });
        let s = TcpStream::connect(addr).await.unwrap();
        let client = initiate(s, &a_sec, b"vigil-devnet", |k| (k == &b_pub).then_some(NodeId([2; 32]))).await;
        assert!(client.is_err());
        assert!(server.await.unwrap().is_err());
    }
}
