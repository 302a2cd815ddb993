//! What the wallet core asks of the platform it runs on ([`Platform`]): HTTP and timers,
//! the clock, and randomness. The core reads no clock and no generator of its own, so
//! every one of its results follows from its inputs and what the platform gave it — its
//! keystore and vault encryption have known-answer tests under injected randomness. The
//! browser's and Node's platform is `fetch::Fetch` (wasm32); tests bring their own.

use rand_core::{CryptoRng, RngCore};

use crate::client::{HttpRequest, HttpResponse, TransportError};

/// The platform: one HTTP exchange, a timer, the clock and a CSPRNG.
#[allow(async_fn_in_trait)] // used through generics, never as `dyn`
pub trait Platform {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError>;
    async fn sleep(&self, ms: u64);
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;
    /// Fills `out` from a cryptographically secure generator.
    fn fill_random(&self, out: &mut [u8]);
}

/// A platform's generator as a `rand_core` RNG, for the functions that take one.
pub struct PlatformRng<'a, P>(pub &'a P);

impl<P: Platform> RngCore for PlatformRng<'_, P> {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.0.fill_random(&mut b);
        u32::from_le_bytes(b)
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.0.fill_random(&mut b);
        u64::from_le_bytes(b)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill_random(dest);
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.0.fill_random(dest);
        Ok(())
    }
}

impl<P: Platform> CryptoRng for PlatformRng<'_, P> {}

/// The system's clock (native platforms: tests, the e2e harness).
#[cfg(not(target_arch = "wasm32"))]
pub fn system_now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}
