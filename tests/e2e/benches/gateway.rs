//! `cargo xtask bench gateway`: one bounded loopback load (a fixed number of requests at
//! a fixed concurrency, HTTP/1.1 keep-alive) for a node's `GET /v1/status`, sent four
//! ways in one run against one release devnet node:
//!
//! - **direct** to the node (plain HTTP on loopback: the floor);
//! - through **nginx** (Debian's, `proxy_pass` with a keep-alive upstream), TLS 1.3
//!   from the client;
//! - through the **vigil gateway in forwarding mode** (`POST /v1/forward`), the same
//!   TLS from the client, the same certificate;
//! - through the gateway's **oblivious relay** (`POST /v1/relay/{node}`), the client
//!   sealing every request itself (RFC 9458).
//!
//! Fairness: nginx runs one worker and the gateway one tokio worker (`TOKIO_WORKER_THREADS
//! =1`, set by xtask), each pinned alone to CPU 0 with `taskset`; the node and this load
//! generator share CPU 1 in every run; access logs are off in both proxies. What the
//! gateway does per forwarded request: one HPKE seal to the node (an X25519 key pair and
//! one X25519 agreement, HKDF, ChaCha20-Poly1305) and one AEAD open of the answer; the
//! node does one X25519 agreement and two AEAD operations. In relay mode the gateway does
//! no cryptography of its own beyond TLS; the client's seal and the node's open are
//! the same HPKE work, which bounds relay mode: its ceiling, measured in this run on one
//! core, is the rate of that whole per-request sealing (client and node).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::Semaphore;
use vigil_e2e::TestNet;
use vigil_node::gateway::config::GatewayConfig;
use vigil_protocol::sealed::{self, PlainRequest, REQUEST_MEDIA_TYPE};
use vigil_protocol::ConsensusMode;

/// Requests per way; concurrency; requests before measuring (connections warm).
const REQUESTS: usize = 20_000;
const CONCURRENCY: usize = 64;
const WARMUP: usize = 1_000;
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
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted.get(((sorted.len().saturating_sub(1)) as f64 * p).round() as usize).copied().unwrap_or(0.0)
}

#[derive(Clone)]
enum Way {
    Direct(String),
    Nginx(String),
    Forward { url: String, body: Arc<Vec<u8>> },
    Relay { url: String, key: vigil_protocol::EncryptionKey },
}

async fn one(client: &reqwest::Client, way: &Way) -> anyhow::Result<()> {
    match way {
        Way::Direct(url) | Way::Nginx(url) => {
            let r = client.get(url).send().await?;
            anyhow::ensure!(r.status().is_success(), "status {}", r.status());
            r.bytes().await?;
        }
        Way::Forward { url, body } => {
            let r = client.post(url).header("content-type", "application/json").body(body.to_vec()).send().await?;
            anyhow::ensure!(r.status().is_success(), "status {}", r.status());
            let v: serde_json::Value = r.json().await?;
            anyhow::ensure!(v["status"] == 200, "forward answer {v}");
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

async fn load(client: &reqwest::Client, way: &Way) -> anyhow::Result<Figures> {
    let permits = Arc::new(Semaphore::new(CONCURRENCY));
    let run = |n: usize| {
        let permits = permits.clone();
        async move {
            let mut tasks = Vec::with_capacity(n);
            let start = Instant::now();
            for _ in 0..n {
                let permit = permits.clone().acquire_owned().await?;
                let (client, way) = (client.clone(), way.clone());
                tasks.push(tokio::spawn(async move {
                    let _permit = permit;
                    let t = Instant::now();
                    one(&client, &way).await.map(|_| t.elapsed().as_secs_f64() * 1000.0)
                }));
            }
            let mut lat = Vec::with_capacity(n);
            for t in tasks {
                lat.push(t.await??);
            }
            anyhow::Ok((start.elapsed().as_secs_f64(), lat))
        }
    };
    run(WARMUP).await?;
    let (secs, mut lat) = run(REQUESTS).await?;
    lat.sort_by(f64::total_cmp);
    Ok(Figures { rps: REQUESTS as f64 / secs, p50_ms: percentile(&lat, 0.5), p99_ms: percentile(&lat, 0.99) })
}

/// Pins every thread of process `pid` to `cpu`.
fn pin(pid: u32, cpu: &str) -> anyhow::Result<()> {
    let ok = Command::new("taskset").args(["-a", "-pc", cpu, &pid.to_string()]).stdout(Stdio::null()).status()?;
    anyhow::ensure!(ok.success(), "taskset could not pin process {pid} to CPU {cpu}");
    Ok(())
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
    let _nginx = start_nginx(&nginx_dir, nginx_port, node_port, &cert, &key)?;
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
        ("gateway forward", Way::Forward { url: format!("{gw}/v1/forward"), body: Arc::new(forward_body) }),
        ("gateway relay", Way::Relay { url: format!("{gw}/v1/relay/{}", node.id), key: target }),
    ];
    let plain = reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?;
    println!("\n{REQUESTS} requests of GET {PATH} at concurrency {CONCURRENCY}; proxies alone on CPU {PROXY_CPU}, node and client on CPU {NODE_CPU}");
    println!("{:>16} | {:>9} {:>9} {:>9}", "way", "req/s", "p50 ms", "p99 ms");
    let mut figures = Vec::new();
    // `VIGIL_BENCH_WAY=forward` (or direct, nginx, relay) runs one way only, for a
    // profiler to attach; the figures line then needs all four, so it is not printed.
    let only = std::env::var("VIGIL_BENCH_WAY").ok();
    if let Some(only) = &only {
        let (name, way) =
            ways.iter().find(|(n, _)| n.ends_with(only.as_str())).ok_or_else(|| anyhow::anyhow!("no way `{only}`"))?;
        println!(
            "gateway pid {}",
            net.running.children.iter().find(|(n, _)| net.devnet.is_gateway(n)).map_or(0, |(_, c)| c.id())
        );
        for _ in 0..5 {
            let f = load(&tls_client, way).await?;
            println!("{name:>16} | {:>9.0} {:>9.2} {:>9.2}", f.rps, f.p50_ms, f.p99_ms);
        }
        return Ok(());
    }
    for (name, way) in &ways {
        let client = if matches!(way, Way::Direct(_)) { &plain } else { &tls_client };
        let f = load(client, way).await?;
        println!("{name:>16} | {:>9.0} {:>9.2} {:>9.2}", f.rps, f.p50_ms, f.p99_ms);
        figures.push(f);
    }
    let ceiling = crypto_ceiling()?;
    let [direct, nginx, forward, relay] = [figures[0], figures[1], figures[2], figures[3]];
    println!("relay mode's crypto ceiling (one core, whole sealed exchange): {ceiling:.0} req/s");
    println!(
        "forwarding {:.2}× nginx (target ≥ 0.8); p99 overhead over direct {:.2} ms (target ≤ 2); relay {:.2} of its ceiling (target ≥ 0.5)",
        forward.rps / nginx.rps,
        forward.p99_ms - direct.p99_ms,
        relay.rps / ceiling
    );
    let _ = std::fs::remove_dir_all(&nginx_dir);
    println!(
        "bench gateway: gateway_rps={:.0} relay_rps={:.0} relay_ceiling_rps={ceiling:.0} nginx_rps={:.0} direct_rps={:.0} ratio={:.2} p99_overhead_ms={:.2}",
        forward.rps,
        relay.rps,
        nginx.rps,
        direct.rps,
        forward.rps / nginx.rps,
        forward.p99_ms - direct.p99_ms
    );
    Ok(())
}
