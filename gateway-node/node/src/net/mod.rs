//! Node-to-node transport: TCP links encrypted and mutually authenticated with Noise
//! (`Noise_XX_25519_ChaChaPoly_SHA256`, the `snow` crate) against the validators'
//! published X25519 keys, carrying length-delimited BCS frames of bounded size.
//!
//! Each node dials every peer and sends only on the links it dialled; it receives only
//! on the links it accepted. One direction per connection keeps the Noise state simple
//! and avoids duplicate-connection races; reconnects use exponential backoff; outbound
//! queues are bounded (a full queue drops the frame, which consensus tolerates and
//! the metrics count) and inbound frames flow through a bounded channel, so a slow
//! consensus loop slows its readers down (TCP backpressure) instead of growing memory.

pub mod noise;
mod peers;

pub use peers::{Network, NetworkConfig, PeerAddress};
