//! Per-client limits shared by the gateway and the node's public API: a token-bucket
//! rate (governor) and a cap on requests in flight, both per client network (an IPv4
//! address or an IPv6 /64: [`client_network`]). [`enforce`] is the outermost work of
//! either server ([`outermost`]: only the access log is around it, so refusals are
//! logged), so a flood of oversized or malformed requests is throttled before anything
//! reads it; work that costs more than one request (a gateway fan-out) takes
//! more with [`ClientLimits::charge`] and [`ClientLimits::enter`].

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::http::{error_response, ErrorCode};

/// What a client waits before trying again when it has too many requests in flight.
pub const IN_FLIGHT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// The network a client stands for in per-client limits: its IPv4 address, or the /64
/// of its IPv6 address (one host usually holds a whole /64 and can rotate within it).
pub fn client_network(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
        },
    }
}

/// The client network of a request, put in its extensions by [`enforce`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientNetwork(pub IpAddr);

/// The bounds of one server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Tokens per second a client network gets back (sustained requests per second).
    pub rate_per_second: u32,
    /// Tokens a client network may spend at once.
    pub rate_burst: u32,
    /// Requests (or, for a fan-out, targets) a client network may have in flight.
    pub in_flight_max: u32,
}

/// Why a client was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    RateLimited { retry_after: Duration },
    TooManyInFlight { max: u32 },
}

impl Refusal {
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::RateLimited { .. } => ErrorCode::RateLimited,
            Self::TooManyInFlight { .. } => ErrorCode::TooManyInFlight,
        }
    }

    pub fn retry_after(&self) -> Duration {
        match self {
            Self::RateLimited { retry_after } => *retry_after,
            Self::TooManyInFlight { .. } => IN_FLIGHT_RETRY_AFTER,
        }
    }

    pub fn message(&self) -> String {
        match self {
            Self::RateLimited { .. } => "too many requests from this address; wait for Retry-After seconds".into(),
            Self::TooManyInFlight { max } => {
                format!("this address already has {max} requests in flight; wait for one to finish")
            }
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        error_response(self.code(), &self.message(), Some(self.retry_after()))
    }
}

/// Rate and in-flight limits per client network.
pub struct ClientLimits {
    rate: DefaultKeyedRateLimiter<IpAddr>,
    burst: u32,
    in_flight: Mutex<HashMap<IpAddr, u32>>,
    in_flight_max: u32,
    /// Client networks never limited (a node's own gateways).
    unlimited: Vec<IpAddr>,
    /// Requests refused for their rate.
    pub rate_limited: AtomicU64,
    /// Requests refused for the in-flight cap.
    pub in_flight_refused: AtomicU64,
}

impl ClientLimits {
    pub fn new(settings: Settings, unlimited: &[IpAddr]) -> Arc<Self> {
        let per_second = NonZeroU32::new(settings.rate_per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(settings.rate_burst).unwrap_or(NonZeroU32::MIN);
        Arc::new(Self {
            rate: RateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst)),
            burst: burst.get(),
            in_flight: Mutex::new(HashMap::new()),
            in_flight_max: settings.in_flight_max.max(1),
            unlimited: unlimited.iter().map(|ip| client_network(*ip)).collect(),
            rate_limited: AtomicU64::new(0),
            in_flight_refused: AtomicU64::new(0),
        })
    }

    fn is_unlimited(&self, client: IpAddr) -> bool {
        self.unlimited.contains(&client)
    }

    /// Takes `cost` tokens from `client`'s bucket, or none if it lacks them.
    pub fn charge(&self, client: IpAddr, cost: u32) -> Result<(), Refusal> {
        let Some(n) = NonZeroU32::new(cost) else { return Ok(()) };
        if self.is_unlimited(client) {
            return Ok(());
        }
        let refused = match self.rate.check_key_n(&client, n) {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(not_until)) => {
                Refusal::RateLimited { retry_after: not_until.wait_time_from(DefaultClock::default().now()) }
            }
            // More than a full bucket: refused whatever the client waits; say how long a
            // full bucket takes to refill.
            Err(_) => Refusal::RateLimited { retry_after: Duration::from_secs(u64::from(self.burst)) },
        };
        self.rate_limited.fetch_add(1, Ordering::Relaxed);
        Err(refused)
    }

    fn counts(&self) -> MutexGuard<'_, HashMap<IpAddr, u32>> {
        self.in_flight.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Counts `units` more in flight for `client` until the guard drops (however the
    /// work ends: answered, failed or cancelled), or refuses if that would pass the cap.
    pub fn enter(self: &Arc<Self>, client: IpAddr, units: u32) -> Result<InFlight, Refusal> {
        if units == 0 || self.is_unlimited(client) {
            return Ok(InFlight { limits: self.clone(), client, units: 0 });
        }
        let mut counts = self.counts();
        let now = counts.get(&client).copied().unwrap_or(0);
        match now.checked_add(units) {
            Some(next) if next <= self.in_flight_max => {
                counts.insert(client, next);
                Ok(InFlight { limits: self.clone(), client, units })
            }
            _ => {
                drop(counts);
                self.in_flight_refused.fetch_add(1, Ordering::Relaxed);
                Err(Refusal::TooManyInFlight { max: self.in_flight_max })
            }
        }
    }

    /// One request: one token, one in flight.
    pub fn admit(self: &Arc<Self>, client: IpAddr) -> Result<InFlight, Refusal> {
        self.charge(client, 1)?;
        self.enter(client, 1)
    }

    /// Forgets buckets that are full again (bounded memory under many clients).
    pub fn retain_recent(&self) {
        self.rate.retain_recent();
    }
}

/// A request's client network and its limits, for a handler whose request carries many
/// units of work (`POST /v1/txs`: one per transaction) to charge the rest of them
/// beyond the one token [`enforce`] took. Requests served in process (sealed ones) have
/// none: their sender's limits were applied to the request that carried them.
#[derive(Clone)]
pub struct ClientCharge {
    limits: Arc<ClientLimits>,
    client: IpAddr,
}

impl ClientCharge {
    /// Takes `cost` more tokens, or none if the client network lacks them.
    pub fn charge(&self, cost: u32) -> Result<(), Refusal> {
        self.limits.charge(self.client, cost)
    }

    /// Counts `units` more in flight for the client network until the guard drops (for
    /// a request whose units outlive its handler, as a stream of answers), or refuses if
    /// that would pass the cap.
    pub fn enter(&self, units: u32) -> Result<InFlight, Refusal> {
        self.limits.enter(self.client, units)
    }
}

/// Work in flight for one client network; released on drop.
#[must_use]
pub struct InFlight {
    limits: Arc<ClientLimits>,
    client: IpAddr,
    units: u32,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.units == 0 {
            return;
        }
        let mut counts = self.limits.counts();
        if let Some(n) = counts.get_mut(&self.client) {
            *n = n.saturating_sub(self.units);
            if *n == 0 {
                counts.remove(&self.client);
            }
        }
    }
}

/// The outer layer of a public server, the node API's and the gateway's alike:
/// [`enforce`], which writes the access line ([`crate::http::AccessLine`]) around the
/// limits. A refused client costs a log line and its 429; nothing past the limits runs
/// for it.
pub fn outermost(router: axum::Router, limits: Arc<ClientLimits>) -> axum::Router {
    router.layer(axum::middleware::from_fn_with_state(limits, enforce))
}

/// The outermost work: the access line is started, and a request that its client
/// network's limits refuse gets 429 before anything reads it; one admitted counts in
/// flight until its answer is made.
pub async fn enforce(State(limits): State<Arc<ClientLimits>>, mut request: Request, next: Next) -> Response {
    let line = crate::http::AccessLine::start(&request);
    let ip =
        request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()).unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let client = client_network(ip);
    let response = match limits.admit(client) {
        Ok(guard) => {
            request.extensions_mut().insert(ClientNetwork(client));
            request.extensions_mut().insert(ClientCharge { limits: limits.clone(), client });
            let response = next.run(request).await;
            drop(guard);
            response
        }
        Err(refused) => refused.into_response(),
    };
    if let Some(line) = line {
        line.finish(&response);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    fn limits(rate_burst: u32, in_flight_max: u32) -> Arc<ClientLimits> {
        ClientLimits::new(Settings { rate_per_second: 1, rate_burst, in_flight_max }, &["10.0.0.9".parse().unwrap()])
    }

    /// Finding 9 of the soundness review (in part): on 35b51aa the rate limit was keyed
    /// by exact address, so an IPv6 client rotated through its /64 and was never limited.
    #[test]
    fn clients_are_counted_by_ipv4_address_or_ipv6_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff:1:2:3".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_network(a), client_network(b));
        assert_ne!(client_network(a), client_network(c));
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(client_network(v4), v4);
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(client_network(mapped), v4);
    }

    #[test]
    fn a_charge_the_bucket_cannot_cover_takes_nothing() {
        let l = limits(4, 8);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(matches!(l.charge(ip, 5), Err(Refusal::RateLimited { .. })));
        l.charge(ip, 3).unwrap();
        assert!(matches!(l.charge(ip, 2), Err(Refusal::RateLimited { .. })), "one token is left, not two");
        l.charge(ip, 1).unwrap();
        // Another client network has its own bucket; an unlimited one has none.
        l.charge("192.0.2.2".parse().unwrap(), 4).unwrap();
        l.charge("10.0.0.9".parse().unwrap(), 1000).unwrap();
    }

    /// Issue 14: on 211d906 the access log sat inside the limits, so a request refused
    /// with 429 left no line in it.
    #[tokio::test]
    async fn a_refused_request_has_its_access_log_line_and_reaches_nothing_else() {
        use axum::body::{Body, Bytes};
        use tower::ServiceExt;

        let (log, _guard) = crate::http::captured_log::CapturedLog::start();
        let reached = Arc::new(AtomicU64::new(0));
        let handler = {
            let reached = reached.clone();
            move |_body: Bytes| async move {
                reached.fetch_add(1, Ordering::SeqCst);
                "ok"
            }
        };
        let app = outermost(axum::Router::new().route("/v1/x", axum::routing::post(handler)), limits(1, 8));
        let request = || {
            Request::post("/v1/x")
                .extension(ConnectInfo(SocketAddr::from(([192, 0, 2, 7], 40_000))))
                .body(Body::from("secret content"))
                .unwrap()
        };
        assert_eq!(app.clone().oneshot(request()).await.unwrap().status(), StatusCode::OK);
        assert_eq!(app.oneshot(request()).await.unwrap().status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(reached.load(Ordering::SeqCst), 1, "the refused request reached no handler");
        let lines = log.access_lines();
        assert_eq!(lines.len(), 2, "one line per request: {}", log.text());
        for (line, status) in lines.iter().zip(["status=200", "status=429"]) {
            for part in [status, "client=192.0.2.7", "method=POST", "/v1/x", "ms="] {
                assert!(line.contains(part), "{part} is not in {line}");
            }
        }
        assert!(!log.text().contains("secret"), "no content in the log: {}", log.text());
    }

    #[test]
    fn in_flight_units_come_back_when_the_guard_drops() {
        let l = limits(100, 3);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let two = l.enter(ip, 2).unwrap();
        let one = l.enter(ip, 1).unwrap();
        assert_eq!(l.enter(ip, 1).err(), Some(Refusal::TooManyInFlight { max: 3 }));
        drop(two);
        let again = l.enter(ip, 2).unwrap();
        drop((one, again));
        assert!(l.counts().is_empty(), "no entry is kept for a client with nothing in flight");
    }
}
