//! `vigil-sim`: runs the deterministic simulator over many seeds (what
//! `cargo xtask sim` calls). A failing seed prints its trace; `--seed S` replays it.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use clap::Parser;
use vigil_sim::{Outcome, Scenario};

#[derive(Parser)]
#[command(name = "vigil-sim", about = "Deterministic consensus simulator")]
struct Args {
    /// Number of seeds to run.
    #[arg(long, default_value_t = 100)]
    seeds: u64,
    /// First seed.
    #[arg(long, default_value_t = 0)]
    start: u64,
    /// Validators per network (4 or 7).
    #[arg(long, default_value_t = 4, value_parser = parse_nodes)]
    nodes: usize,
    /// Replay one seed and print its whole trace.
    #[arg(long)]
    seed: Option<u64>,
    /// Worker threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
}

fn parse_nodes(s: &str) -> Result<usize, String> {
    match s {
        "4" => Ok(4),
        "7" => Ok(7),
        _ => Err(format!("`{s}`: the simulator runs networks of 4 or 7 validators")),
    }
}

struct Totals {
    seeds: u64,
    violations: u64,
    blocks: u64,
    /// Seeds in which each fault happened at least once.
    hit: [u64; 34],
    failing: Vec<Outcome>,
}

impl Default for Totals {
    fn default() -> Self {
        Self { seeds: 0, violations: 0, blocks: 0, hit: [0; FAULTS.len()], failing: Vec::new() }
    }
}

const FAULTS: [&str; 34] = [
    "message drop",
    "long delay / reorder",
    "duplication",
    "partition",
    "crash",
    "restart from disk",
    "failed write",
    "crash after write",
    "sync served from disk",
    "lying Fast leader",
    "equivocation",
    "lying promise",
    "ack withheld",
    "flood of far views",
    "replayed message",
    "re-included tx",
    "client: replayed tx",
    "client: free tx",
    "client: failing tx",
    "Fast → Bft switch",
    "validator jailed",
    "two Byzantine",
    "fork (beyond bound)",
    "fork traced",
    "light: header accepted",
    "light: forged, old set",
    "light: retired set",
    "light: Fast after Bft",
    "light: other refusal",
    "stable checkpoint",
    "validator wiped",
    "restored from snapshot",
    "restore found no server",
    "lie to a recovering node",
];

fn tally(t: &mut Totals, o: Outcome) {
    let f = o.faults;
    let counts = [
        f.dropped,
        f.delayed_long,
        f.duplicated,
        f.partitioned,
        f.crashes,
        f.restarts,
        f.failed_writes,
        f.crashes_after_write,
        f.served_from_disk,
        f.lies,
        f.equivocations,
        f.promise_lies,
        f.withheld_acks,
        f.view_floods,
        f.replays,
        f.reinclusions,
        f.client_replays,
        f.free_txs,
        f.failing_txs,
        f.mode_switches,
        f.jailed,
        f.two_byzantine,
        f.forks,
        f.forks_traced,
        f.light_accepted,
        f.light_forged,
        f.light_retired_set,
        f.light_mode_regression,
        f.light_refused,
        f.checkpoints_stable,
        f.wipes,
        f.restores,
        f.restores_failed,
        f.recovery_lies,
    ];
    for (hit, c) in t.hit.iter_mut().zip(counts) {
        *hit += u64::from(c > 0);
    }
    t.seeds += 1;
    t.blocks += o.blocks_committed;
    t.violations += o.violations.len() as u64;
    if !o.violations.is_empty() && t.failing.len() < 5 {
        t.failing.push(o);
    }
}

fn print_failure(o: &Outcome, events: usize) {
    let sc = &o.scenario;
    println!("\nFAILED seed {} ({} nodes, {} mode, byzantine {:?})", sc.seed, sc.nodes, sc.mode, sc.byzantine);
    for v in &o.violations {
        println!("  violation: {v}");
    }
    println!("  last {} events:", events.min(o.trace.len()));
    for (t, e) in o.trace.iter().rev().take(events).rev() {
        println!("  {t:>6}ms  {e}");
    }
    println!("  replay: cargo xtask sim --seed {} --nodes {}", sc.seed, sc.nodes);
}

fn main() {
    let args = Args::parse();
    if let Some(seed) = args.seed {
        let o = vigil_sim::run(Scenario::from_seed(seed, args.nodes));
        let sc = &o.scenario;
        println!("seed {seed}: {} nodes, {} mode, byzantine {:?}", sc.nodes, sc.mode, sc.byzantine);
        println!(
            "  drop {:.3}, duplicate {:.3}, delay ≤{}ms, long delays {:.3}, partitions {:?}, crashes {:?}, \
             write faults {:?}",
            sc.drop_p, sc.duplicate_p, sc.delay_max_ms, sc.long_delay_p, sc.partitions, sc.crashes, sc.write_faults
        );
        println!("  faults: {:?}", o.faults);
        let violations = o.violations.len();
        let blocks = o.blocks_committed;
        if violations > 0 {
            print_failure(&o, usize::MAX);
        } else {
            for (t, e) in &o.trace {
                println!("  {t:>6}ms  {e}");
            }
        }
        println!("sim: 1 seeds, {violations} violations, {blocks} blocks committed");
        std::process::exit(i32::from(violations > 0));
    }

    let threads = args.threads.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
    let next = AtomicU64::new(args.start);
    let end = args.start + args.seeds;
    let totals = Mutex::new(Totals::default());
    let started = std::time::Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            s.spawn(|| loop {
                let seed = next.fetch_add(1, Ordering::Relaxed);
                if seed >= end {
                    break;
                }
                let o = vigil_sim::run(Scenario::from_seed(seed, args.nodes));
                let mut t = totals.lock().unwrap_or_else(|p| p.into_inner());
                tally(&mut t, o);
                if t.seeds % 100 == 0 || t.seeds == args.seeds {
                    eprint!(
                        "\r  {}/{} seeds, {} violations, {:.0}s",
                        t.seeds,
                        args.seeds,
                        t.violations,
                        started.elapsed().as_secs_f64()
                    );
                    let _ = std::io::stderr().flush();
                }
            });
        }
    });
    eprintln!();
    let t = totals.into_inner().unwrap_or_else(|p| p.into_inner());
    for o in &t.failing {
        print_failure(o, 80);
    }
    println!("\nseeds that exercised each fault ({} validators):", args.nodes);
    for (name, hit) in FAULTS.iter().zip(t.hit) {
        println!("  {name:<22} {hit:>7}");
    }
    println!("  time: {:.1}s on {threads} thread(s)", started.elapsed().as_secs_f64());
    println!("sim: {} seeds, {} violations, {} blocks committed", t.seeds, t.violations, t.blocks);
    if t.violations > 0 {
        std::process::exit(1);
    }
}
