//! `cargo xtask bench gateway`: one bounded loopback load (a fixed number of requests at
//! a fixed concurrency, HTTP/1.1 keep-alive) for a node's `GET /v1/status`, sent five
//! ways in one run against one release devnet node:
//!
//! - **direct** to the node (plain HTTP on loopback: the floor);
//! - through **nginx** (Debian's, `proxy_pass` with a keep-alive upstream), TLS 1.3
//!   from the client;
//! - through the **vigil gateway in forwarding mode**, the same TLS from the client, the
//!   same certificate: the same `GET` as nginx gets, on the gateway's passthrough
//!   (`/v1/node/{id}/v1/status`, the node's answer as it gave it), and the same request
//!   in `POST /v1/forward`'s JSON envelope (the answer base64 and embedded JSON), each
//!   sealed to the node;
//! - through the gateway's **oblivious relay** (`POST /v1/relay/{node}`), the client
//!   sealing every request itself (RFC 9458).
//!
//! Each way's req/s and latency come from a closed loop at saturation; latency is then
//! measured again at a paced rate every way but relay carries with room to spare (open
//! loop), and `p99_overhead_ms` is the forwarding way's p99 there less the direct way's:
//! at saturation a p99 is the length of the queue, not what the proxy adds (that figure
//! is printed too).
//!
//! The saturated rounds keep both cores from halting (a `SCHED_IDLE` spinner on each,
//! see [`Spinners`]), the same for every way. The paced latency is measured twice: with
//! the spinners (`p99_overhead_awake_ms`), then with the cores left to idle as a lightly
//! loaded server's do (`p99_overhead_ms`). On these virtual machines two vCPUs that are
//! both always busy are taken off their cores by the host for 0.5 to 3 ms at a time,
//! a few times a second (a plain busy loop on one core shows it while the other core
//! spins, and not while it idles); at 2,000 req/s those pauses, not the proxy, make the
//! p99 of every way that crosses cores, nginx's as much as the gateway's.
//!
//! Fairness: nginx runs one worker and the gateway one tokio worker (`TOKIO_WORKER_THREADS
//! =1`, set by xtask), each pinned alone to CPU 0 with `taskset`; the node and this load
//! generator share CPU 1 in every run; access logs are off in both proxies. What the
//! gateway does per forwarded request: one ChaCha20-Poly1305 seal of the request to the
//! node under its link session's request key and one open of the answer under the answer
//! key (`vigil_protocol::link`); the node does the same two. The session's key is agreed
//! once per node (HPKE to the node's registered key: two X25519 operations at the gateway,
//! one at the node) and lasts up to ten minutes, so the measured load opens one session,
//! during the warm-up. The content is sealed to the node all the way. In relay mode the gateway does
//! no cryptography of its own beyond TLS; the client's seal and the node's open are
//! the same HPKE work, which bounds relay mode: its ceiling, measured in this run on one
//! core, is the rate of that whole per-request sealing (client and node), timed in each
//! round right after relay's load, the median of the rounds as for every way.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::Semaphore;
use vigil_e2e::TestNet;
use vigil_gateway::config::GatewayConfig;
use vigil_protocol::sealed::{self, PlainRequest, REQUEST_MEDIA_TYPE};
use vigil_protocol::ConsensusMode;

/// The load generator shares its core with the node: a lean allocator leaves the node
/// more of it, the same in every way.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Requests per way; concurrency; requests before measuring (connections warm).
const REQUESTS: usize = 20_000;
const CONCURRENCY: usize = 64;
const WARMUP: usize = 1_000;
/// The paced latency run: requests per second, requests, and a bound on those in flight.
const PACED_RPS: f64 = 2_000.0;
const PACED_REQUESTS: usize = 6_000;
const PACED_IN_FLIGHT_MAX: usize = 256;
/// Turns each way takes; its figures are the medians.
const ROUNDS: usize = 3;
/// Sealings timed for relay mode's crypto ceiling.
const CEILING_ROUNDS: usize = 3_000;
const PROXY_CPU: &str = "0";
const NODE_CPU: &str = "1";
const PATH: &str = "/v1/status";

#[derive(Debug, Clone, Copy)]
struct Figures {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// CPU time per request, in µs: the proxy's (0 for direct), the node's, this client's.
    cpu_us: [f64; 3],
}

/// CPU time (user + system) a process has used so far, in µs, from `/proc/<pid>/stat`.
fn cpu_time_us(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0.0 };
    // Fields after the command (which may hold spaces) : state is the 3rd; utime and
    // stime the 14th and 15th.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else { return 0.0 };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11..13).map_or(0.0, |f| f.iter().filter_map(|v| v.parse::<f64>().ok()).sum());
    ticks * 1e6 / CLOCK_TICKS_PER_SECOND
}

/// `sysconf(_SC_CLK_TCK)` on Linux.
const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

/// Each figure's median over rounds.
fn median(rounds: &[Figures]) -> Figures {
    let mid = |f: fn(&Figures) -> f64| {
        let mut v: Vec<f64> = rounds.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        percentile(&v, 0.5)
    };
    Figures {
        rps: mid(|f| f.rps),
        p50_ms: mid(|f| f.p50_ms),
        p99_ms: mid(|f| f.p99_ms),
        cpu_us: [mid(|f| f.cpu_us[0]), mid(|f| f.cpu_us[1]), mid(|f| f.cpu_us[2])],
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted.get(((sorted.len().saturating_sub(1)) as f64 * p).round() as usize).copied().unwrap_or(0.0)
}

#[derive(Clone)]
enum Way {
    Direct(String),
    Nginx(String),
    /// The gateway's passthrough (`GET /v1/node/{id}/v1/status`): the request nginx gets.
    Forward(String),
    /// The same through `POST /v1/forward`'s JSON envelope.
    Envelope {
        url: String,
        body: bytes::Bytes,
    },
    Relay {
        url: String,
        key: vigil_protocol::EncryptionKey,
    },
}

async fn one(client: &reqwest::Client, way: &Way) -> anyhow::Result<()> {
    match way {
        Way::Direct(url) | Way::Nginx(url) => {
            let r = client.get(url).send().await?;
            anyhow::ensure!(r.status().is_success(), "status {}", r.status());
            r.bytes().await?;
        }
        Way::Forward(url) => {
            let r = client.get(url).send().await?;
            anyhow::ensure!(r.status().is_success(), "status {}", r.status());
            anyhow::ensure!(r.headers().contains_key("vigil-node"), "not the node's answer");
            r.bytes().await?;
        }
        Way::Envelope { url, body } => {
            let r = client.post(url).header("content-type", "application/json").body(body.clone()).send().await?;
            anyhow::ensure!(r.status().is_success(), "status {}", r.status());
            // The node's status inside the gateway's answer (the rest is skipped unread, as
            // the direct and nginx ways skip their bodies).
            #[derive(serde::Deserialize)]
            struct Answered {
                status: u16,
            }
            let a: Answered = serde_json::from_slice(&r.bytes().await?)?;
            anyhow::ensure!(a.status == 200, "forward answer {}", a.status);
        }
        Way::Relay { url, key } => {
            let (bytes, opener) = sealed::seal(key, &PlainRequest::new("GET", PATH, None, Vec::new()))?;
            let r = client.post(url).header("content-type", REQUEST_MEDIA_TYPE).body(bytes).send().await?;
            anyhow::ensure!(r.status().is_success(), "status {}", r.status());
            let answer = opener.open(&r.bytes().await?)?;
            anyhow::ensure!(answer.status == 200, "relayed answer {}", answer.status);
        }
    }
    Ok(())
}

/// One request on its own task, holding `permit` until it is answered: its latency in ms.
fn timed(
    client: &reqwest::Client,
    way: &Way,
    permit: tokio::sync::OwnedSemaphorePermit,
) -> tokio::task::JoinHandle<anyhow::Result<f64>> {
    let (client, way) = (client.clone(), way.clone());
    tokio::spawn(async move {
        let _permit = permit;
        let t = Instant::now();
        one(&client, &way).await.map(|_| t.elapsed().as_secs_f64() * 1000.0)
    })
}

/// Every task's latency, or the first failure.
async fn latencies(tasks: Vec<tokio::task::JoinHandle<anyhow::Result<f64>>>) -> anyhow::Result<Vec<f64>> {
    let mut lat = Vec::with_capacity(tasks.len());
    for t in tasks {
        lat.push(t.await??);
    }
    Ok(lat)
}

/// Latency at a fixed offered rate below every way's capacity (open loop: requests leave
/// on a clock, not when an earlier one returns), so that the percentiles show what a
/// proxy adds to one request rather than how long a queue at saturation grows.
async fn paced(client: &reqwest::Client, way: &Way) -> anyhow::Result<(f64, f64)> {
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / PACED_RPS));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let permits = Arc::new(Semaphore::new(PACED_IN_FLIGHT_MAX));
    let mut tasks = Vec::with_capacity(PACED_REQUESTS);
    for _ in 0..PACED_REQUESTS {
        tick.tick().await;
        tasks.push(timed(client, way, permits.clone().acquire_owned().await?));
    }
    let mut lat = latencies(tasks).await?;
    lat.sort_by(f64::total_cmp);
    Ok((percentile(&lat, 0.5), percentile(&lat, 0.99)))
}

/// The processes whose CPU time a load is charged: proxy (if any), node, this client.
type Pids = [Option<u32>; 3];

async fn load(client: &reqwest::Client, way: &Way, pids: Pids) -> anyhow::Result<Figures> {
    let permits = Arc::new(Semaphore::new(CONCURRENCY));
    let run = |n: usize| {
        let permits = permits.clone();
        async move {
            let mut tasks = Vec::with_capacity(n);
            let start = Instant::now();
            for _ in 0..n {
                tasks.push(timed(client, way, permits.clone().acquire_owned().await?));
            }
            let lat = latencies(tasks).await?;
            anyhow::Ok((start.elapsed().as_secs_f64(), lat))
        }
    };
    run(WARMUP).await?;
    let cpu = || pids.map(|p| p.map_or(0.0, cpu_time_us));
    let before = cpu();
    let (secs, mut lat) = run(REQUESTS).await?;
    let after = cpu();
    lat.sort_by(f64::total_cmp);
    let cpu_us = [0, 1, 2].map(|i| (after[i] - before[i]) / REQUESTS as f64);
    Ok(Figures { rps: REQUESTS as f64 / secs, p50_ms: percentile(&lat, 0.5), p99_ms: percentile(&lat, 0.99), cpu_us })
}

/// Pins every thread of process `pid` to `cpu`.
fn pin(pid: u32, cpu: &str) -> anyhow::Result<()> {
    let ok = Command::new("taskset").args(["-a", "-pc", cpu, &pid.to_string()]).stdout(Stdio::null()).status()?;
    anyhow::ensure!(ok.success(), "taskset could not pin process {pid} to CPU {cpu}");
    Ok(())
}

/// A `SCHED_IDLE` busy loop on each core for the saturated rounds (`chrt --idle`, from
/// util-linux like `taskset`): on a virtual machine an idle core halts, and waking it
/// waits for the host to schedule the vCPU again, in every way that crosses cores. A
/// `SCHED_IDLE` task runs only when nothing else wants the core and is preempted at
/// once, so every way runs as on a machine whose cores do not sleep. The cost: the host
/// takes always-busy vCPUs off their cores now and then, which is why the paced latency
/// is also measured after [`Spinners::stop`]. `VIGIL_BENCH_IDLE=1` leaves the cores to
/// idle throughout, for comparison.
struct Spinners(Vec<Child>);

impl Spinners {
    fn start() -> anyhow::Result<Self> {
        if std::env::var("VIGIL_BENCH_IDLE").is_ok_and(|v| v == "1") {
            return Ok(Self(Vec::new()));
        }
        let mut children = Vec::new();
        for cpu in [PROXY_CPU, NODE_CPU] {
            let child = Command::new("chrt")
                .args(["--idle", "0", "taskset", "-c", cpu, "sh", "-c", "while :; do :; done"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| anyhow::anyhow!("chrt (util-linux) could not start a SCHED_IDLE spinner: {e}"))?;
            children.push(child);
        }
        Ok(Self(children))
    }

    /// Lets the cores idle from now on.
    fn stop(&mut self) {
        for mut c in self.0.drain(..) {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Spinners {
    fn drop(&mut self) {
        self.stop();
    }
}

struct Nginx(Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Debian's nginx, one worker pinned to [`PROXY_CPU`], TLS 1.3 with the gateway's own
/// certificate, `proxy_pass` to the node with a keep-alive upstream.
fn start_nginx(dir: &Path, port: u16, node_port: u16, cert: &Path, key: &Path) -> anyhow::Result<Nginx> {
    let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .ok_or_else(|| anyhow::anyhow!("nginx not found: `cargo xtask bench gateway` installs Debian's nginx"))?;
    std::fs::create_dir_all(dir.join("logs"))?;
    let conf = format!(
        r#"worker_processes 1;
daemon off;
master_process off;
pid {dir}/nginx.pid;
error_log {dir}/logs/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body; proxy_temp_path {dir}/proxy; fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi; scgi_temp_path {dir}/scgi;
  upstream node {{ server 127.0.0.1:{node_port}; keepalive 128; }}
  server {{
    listen 127.0.0.1:{port} ssl;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    ssl_protocols TLSv1.3;
    keepalive_requests 1000000;
    location / {{
      proxy_pass http://node;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }}
  }}
}}
"#,
        dir = dir.display(),
        cert = cert.display(),
        key = key.display(),
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf)?;
    let child = Command::new("taskset")
        .args(["-c", PROXY_CPU])
        .arg(nginx)
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(&path)
        .stdout(Stdio::null())
        .spawn()?;
    Ok(Nginx(child))
}

/// Relay mode's crypto ceiling on one core: complete sealed exchanges per second (the
/// client's seal and open, the node's open and sealed answer).
fn crypto_ceiling() -> anyhow::Result<f64> {
    let config = sealed::server_config(&[9; 32])?;
    let encoded = config.encode()?;
    let key = vigil_protocol::EncryptionKey(encoded[3..35].try_into()?);
    let server = ohttp::Server::new(config)?;
    let request = PlainRequest::new("GET", PATH, None, Vec::new());
    let answer = sealed::PlainResponse {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        body: vec![b' '; 200],
    };
    let answer = answer.to_bhttp()?;
    let start = Instant::now();
    for _ in 0..CEILING_ROUNDS {
        let (bytes, opener) = sealed::seal(&key, &request)?;
        let (_, responder) = server.decapsulate(&bytes)?;
        let sealed_answer = responder.encapsulate(&answer)?;
        opener.open(&sealed_answer)?;
    }
    Ok(CEILING_ROUNDS as f64 / start.elapsed().as_secs_f64())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Gateway limits that would refuse one client's load are lifted for the bench.
    let net = TestNet::start_configured(1, 0, ConsensusMode::Fast, Vec::new(), |d| {
        let mut cfg = GatewayConfig::load(&d.gateway.config)?;
        cfg.limits.rate_per_second = u32::MAX / 2;
        cfg.limits.rate_burst = u32::MAX / 2;
        cfg.limits.in_flight_per_client_max = u32::MAX / 2;
        cfg.save(&d.gateway.config)?;
        Ok(())
    })
    .await?;
    let tls_client = net.gateway_client()?;
    net.wait_for_gateway(&tls_client, Duration::from_secs(30)).await?;
    let gw_cfg = GatewayConfig::load(&net.devnet.gateway.config)?;
    let (cert, key) = (gw_cfg.tls_cert.clone().expect("TLS cert"), gw_cfg.tls_key.clone().expect("TLS key"));
    for (name, child) in &net.running.children {
        pin(child.id(), if net.devnet.is_gateway(name) { PROXY_CPU } else { NODE_CPU })?;
    }
    pin(std::process::id(), NODE_CPU)?;

    let node = &net.devnet.nodes[0];
    let node_port: u16 = node.api_url.rsplit(':').next().unwrap_or("").parse()?;
    let nginx_port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let nginx_dir = std::env::temp_dir().join(format!("vigil-bench-nginx-{}", std::process::id()));
    let nginx = start_nginx(&nginx_dir, nginx_port, node_port, &cert, &key)?;
    let pid_of = |gateway: bool| {
        net.running.children.iter().find(|(n, _)| net.devnet.is_gateway(n) == gateway).map(|(_, c)| c.id())
    };
    let (gateway_pid, node_pid, me) = (pid_of(true), pid_of(false), Some(std::process::id()));
    let pids_of = |way: &Way| -> Pids {
        let proxy = match way {
            Way::Direct(_) => None,
            Way::Nginx(_) => Some(nginx.0.id()),
            Way::Forward(_) | Way::Envelope { .. } | Way::Relay { .. } => gateway_pid,
        };
        [proxy, node_pid, me]
    };
    let nginx_url = format!("https://localhost:{nginx_port}{PATH}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while tls_client.get(&nginx_url).send().await.is_err() {
        anyhow::ensure!(Instant::now() < deadline, "nginx did not answer on port {nginx_port}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, status) = net.get(0, "/v1/validators").await?;
    let set: vigil_protocol::ValidatorSet =
        vigil_protocol::encoding::from_bytes(&hex::decode(status["validators_bcs"].as_str().unwrap_or(""))?)?;
    let target = set.get(&node.id).map(|v| v.encryption_key).ok_or_else(|| anyhow::anyhow!("node not in set"))?;
    let gw = &net.devnet.gateway.url;
    let forward_body = serde_json::to_vec(&json!({
        "target": node.id.to_string(),
        "request": { "method": "GET", "path": PATH },
    }))?;
    let ways = [
        ("direct", Way::Direct(format!("{}{PATH}", node.api_url))),
        ("nginx", Way::Nginx(nginx_url)),
        ("gateway forward", Way::Forward(format!("{gw}/v1/node/{}{PATH}", node.id))),
        ("forward envelope", Way::Envelope { url: format!("{gw}/v1/forward"), body: forward_body.into() }),
        ("gateway relay", Way::Relay { url: format!("{gw}/v1/relay/{}", node.id), key: target }),
    ];
    let plain = reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?;
    let mut spinners = Spinners::start()?;
    println!(
        "cores kept awake by SCHED_IDLE spinners: {} (VIGIL_BENCH_IDLE=1 lets them idle)",
        if spinners.0.is_empty() { "no" } else { "yes" }
    );
    println!("\n{REQUESTS} requests of GET {PATH} at concurrency {CONCURRENCY}; proxies alone on CPU {PROXY_CPU}, node and client on CPU {NODE_CPU}");
    println!(
        "{:>16} | {:>9} {:>9} {:>9} | {:>8} {:>8} {:>8}",
        "way", "req/s", "p50 ms", "p99 ms", "proxy µs", "node µs", "client µs"
    );
    let row = |name: &str, f: &Figures| {
        format!(
            "{name:>16} | {:>9.0} {:>9.2} {:>9.2} | {:>8.1} {:>8.1} {:>8.1}",
            f.rps, f.p50_ms, f.p99_ms, f.cpu_us[0], f.cpu_us[1], f.cpu_us[2]
        )
    };
    let mut figures = Vec::new();
    // `VIGIL_BENCH_WAY=forward` (or direct, nginx, relay; or several, `nginx,forward`)
    // runs those ways only, taking turns five times, for a profiler to attach; the
    // figures line then needs all four, so it is not printed. With `VIGIL_BENCH_PACED=1`
    // each turn is the paced latency run instead of the saturated one.
    let only = std::env::var("VIGIL_BENCH_WAY").ok();
    if let Some(only) = &only {
        let chosen = only
            .split(',')
            .map(|w| ways.iter().find(|(n, _)| n.ends_with(w)).ok_or_else(|| anyhow::anyhow!("no way `{w}`")))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let paced_only = std::env::var("VIGIL_BENCH_PACED").is_ok_and(|v| v == "1");
        println!("gateway pid {}", gateway_pid.unwrap_or(0));
        for _ in 0..5 {
            for (name, way) in &chosen {
                let client = if matches!(way, Way::Direct(_)) { &plain } else { &tls_client };
                if paced_only {
                    let (p50, p99) = paced(client, way).await?;
                    println!("{name:>16} | p50 {p50:>6.2} ms  p99 {p99:>6.2} ms");
                } else {
                    println!("{}", row(name, &load(client, way, pids_of(way)).await?));
                }
            }
        }
        return Ok(());
    }
    // The ways take turns, ROUNDS times, and each figure is the median of its rounds:
    // these machines drift within a run, and a way measured only once, at a slow
    // moment, would carry the drift into the ratio.
    let mut rounds: Vec<Vec<Figures>> = vec![Vec::new(); ways.len()];
    let mut ceilings = Vec::new();
    for round in 0..ROUNDS {
        for (i, (name, way)) in ways.iter().enumerate() {
            let client = if matches!(way, Way::Direct(_)) { &plain } else { &tls_client };
            let f = load(client, way, pids_of(way)).await?;
            println!("{}   (round {})", row(name, &f), round + 1);
            rounds[i].push(f);
        }
        // Relay's ceiling takes its turn too, right after relay's load.
        let ceiling = crypto_ceiling()?;
        println!("{:>16} | {ceiling:>9.0}   (round {})", "relay ceiling", round + 1);
        ceilings.push(ceiling);
    }
    println!("median of {ROUNDS} rounds:");
    for ((name, _), r) in ways.iter().zip(&rounds) {
        let f = median(r);
        println!("{}", row(name, &f));
        figures.push(f);
    }
    // Latency at a rate every way but relay carries with room to spare: with the cores
    // kept awake, then idle.
    let paced_ways: Vec<_> = ways.iter().filter(|(_, w)| !matches!(w, Way::Relay { .. })).collect();
    // Each pass: the p99 of direct, nginx and forward, in ms.
    let mut passes: Vec<Vec<f64>> = Vec::new();
    let awake_pass = !spinners.0.is_empty();
    for awake in [true, false] {
        if awake && !awake_pass {
            continue;
        }
        if !awake {
            spinners.stop();
        }
        let cores = if awake { "cores kept awake" } else { "cores left to idle" };
        println!("\nlatency at a paced {PACED_RPS:.0} req/s ({PACED_REQUESTS} requests, open loop), {cores}:");
        let mut p99s = Vec::new();
        for (name, way) in &paced_ways {
            let client = if matches!(way, Way::Direct(_)) { &plain } else { &tls_client };
            let (p50, p99) = paced(client, way).await?;
            println!("{name:>16} | p50 {p50:>6.2} ms  p99 {p99:>6.2} ms");
            p99s.push(p99);
        }
        passes.push(p99s);
    }
    let idle = passes.last().cloned().unwrap_or_default();
    let [direct_p99, nginx_p99, forward_p99] = [idle[0], idle[1], idle[2]];
    // With the cores kept awake: the gateway's overhead and nginx's (NaN without that pass).
    let awake = if awake_pass { passes[0].clone() } else { vec![f64::NAN; 3] };
    let awake_overhead = awake[2] - awake[0];
    ceilings.sort_by(f64::total_cmp);
    let ceiling = ceilings[ceilings.len() / 2];
    let [direct, nginx, forward, envelope, relay] = [figures[0], figures[1], figures[2], figures[3], figures[4]];
    println!(
        "relay mode's crypto ceiling (one core, whole sealed exchange, median of {ROUNDS} rounds): {ceiling:.0} req/s"
    );
    println!(
        "forwarding {:.2}× nginx (target ≥ 1.0); p99 overhead over direct at {PACED_RPS:.0} req/s {:.2} ms (target ≤ 1; nginx's {:.2} ms; with the cores kept awake {awake_overhead:.2} ms, nginx's {:.2} ms), at saturation {:.2} ms; relay {:.2} of its ceiling (target ≥ 0.8)",
        forward.rps / nginx.rps,
        forward_p99 - direct_p99,
        nginx_p99 - direct_p99,
        awake[1] - awake[0],
        forward.p99_ms - direct.p99_ms,
        relay.rps / ceiling
    );
    println!("the JSON envelope: {:.2}× nginx", envelope.rps / nginx.rps);
    let _ = std::fs::remove_dir_all(&nginx_dir);
    println!(
        "bench gateway: gateway_rps={:.0} relay_rps={:.0} relay_ceiling_rps={ceiling:.0} nginx_rps={:.0} direct_rps={:.0} ratio={:.2} p99_overhead_ms={:.2} p99_overhead_awake_ms={awake_overhead:.2}",
        forward.rps,
        relay.rps,
        nginx.rps,
        direct.rps,
        forward.rps / nginx.rps,
        forward_p99 - direct_p99
    );
    Ok(())
}
