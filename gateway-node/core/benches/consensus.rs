//! `cargo xtask bench consensus`: throughput of the consensus logic alone — 4 and 7
//! validators in one process, real Ed25519 signatures on every transaction and vote,
//! real execution and state roots, messages delivered instantly, one core.
//!
//! Anchor, measured in the same run: this core's Ed25519 batch-verification rate divided
//! by the number of validators (every node verifies every transaction), i.e. the most
//! transactions per second any design that verifies everything could reach here.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use vigil_core::consensus::{Config, Input, Message, Node, Outgoing, Ready, TimerKind, Verified};
use vigil_protocol::crypto::verify_batch;
use vigil_protocol::encoding::to_bytes;
use vigil_protocol::{
    Address, Amount, ChainId, ConsensusMode, Domain, EncryptionKey, Genesis, NodeId, Nonce, P2pKey, Payload, SecretKey,
    SignedTransaction, Transaction, Transfer, ValidatorInfo, ValidatorSet,
};

const ACCOUNTS: usize = 1_000;
const TXS_PER_ACCOUNT: u64 = 10;
const BLOCK_TXS_MAX: usize = 2_000;

struct Run {
    tx_s: f64,
    blocks_s: f64,
    blocks: u64,
}

fn genesis(n: usize, mode: ConsensusMode, accounts: &[SecretKey]) -> (Genesis, Vec<SecretKey>) {
    let keys: Vec<SecretKey> = (0..n).map(|i| SecretKey::from_seed([i as u8 + 1; 32])).collect();
    let validators = ValidatorSet::new(
        keys.iter()
            .map(|k| ValidatorInfo::new("v", k.public_key(), EncryptionKey([0; 32]), P2pKey([0xff; 32])))
            .collect(),
    )
    .expect("valid set");
    let mut balances: Vec<(Address, Amount)> =
        accounts.iter().map(|k| (Address::from_public_key(&k.public_key()), Amount(1_000_000))).collect();
    balances.sort();
    let g = Genesis {
        chain_id: ChainId::new("vigil-bench").expect("id"),
        validators,
        accounts: balances,
        mode,
        time_ms: 0,
        vault: Default::default(),
        checkpoints: Default::default(),
        authcenters: None,
        audit: Default::default(),
    };
    (g, keys)
}

fn transactions(chain: &ChainId, accounts: &[SecretKey]) -> Vec<SignedTransaction> {
    let mut txs = Vec::new();
    for nonce in 0..TXS_PER_ACCOUNT {
        for (i, k) in accounts.iter().enumerate() {
            let to = Address([(i % 251) as u8; 20]);
            let tx = Transaction {
                chain_id: chain.clone(),
                sender: k.public_key(),
                nonce: Nonce(nonce),
                fee: Amount(1),
                payload: Payload::Transfer(Transfer { to, amount: Amount(1) }),
            };
            txs.push(tx.sign(k));
        }
    }
    txs
}

/// Counts what node 0 commits (every node commits the same blocks).
fn count_commits(node: usize, ready: &Ready, txs: &mut usize, blocks: &mut u64) {
    if node != 0 {
        return;
    }
    for c in &ready.commits {
        *txs += c.committed.block.txs.len();
        *blocks += 1;
    }
}

fn run(n: usize, mode: ConsensusMode, accounts: &[SecretKey], txs: &[SignedTransaction]) -> Run {
    let (g, keys) = genesis(n, mode, accounts);
    let mut nodes: Vec<Node> = keys
        .iter()
        .map(|k| {
            let mut cfg = Config::new(k.clone());
            cfg.block_txs_max = BLOCK_TXS_MAX;
            Node::new(cfg, &g).expect("node")
        })
        .collect();
    let ids: Vec<NodeId> = nodes.iter().map(Node::id).collect();
    let mut queue: VecDeque<(usize, usize, Message)> = VecDeque::new();
    let mut timers: VecDeque<(usize, vigil_core::consensus::Timer)> = VecDeque::new();
    let handle = |i: usize,
                  ready: Ready,
                  queue: &mut VecDeque<(usize, usize, Message)>,
                  timers: &mut VecDeque<(usize, vigil_core::consensus::Timer)>| {
        for out in ready.messages.into_iter().chain(ready.persisted_messages) {
            match out {
                Outgoing::To(to, message) => {
                    if let Some(j) = ids.iter().position(|id| *id == to) {
                        queue.push_back((i, j, message));
                    }
                }
                Outgoing::All(message) => {
                    for j in (0..ids.len()).filter(|j| *j != i) {
                        queue.push_back((i, j, message.clone()));
                    }
                }
                // No node falls behind the window on a network without faults.
                Outgoing::Stored { .. } => {}
            }
        }
        // Only the proposer's batching timer matters on a network without faults.
        timers.extend(ready.timers.into_iter().filter(|(t, _)| t.kind == TimerKind::Propose).map(|(t, _)| (i, t)));
    };
    let start = Instant::now();
    for (i, node) in nodes.iter_mut().enumerate() {
        let outs = node.step(0, Input::Start);
        handle(i, outs, &mut queue, &mut timers);
    }
    // Clients hand every transaction to node 0, which gossips them; their signatures
    // are checked before, as the node's API threads do (verify_limit measures that).
    let mut gossip = Ready::default();
    for (ticket, tx) in txs.iter().enumerate() {
        let submit = Input::Submit { ticket: ticket as u64, tx: Box::new(tx.clone()), verified: true };
        gossip.merge(nodes[0].step(0, submit));
    }
    gossip.coalesce_gossip();
    handle(0, gossip, &mut queue, &mut timers);
    let target = txs.len();
    let mut committed_txs = 0usize;
    let mut blocks = 0u64;
    let mut now = 0u64;
    while committed_txs < target {
        if let Some((from, to, message)) = queue.pop_front() {
            // Each node checks its peers' gossip itself (batch-verified in the core).
            let outs = nodes[to].step(now, Input::Message { from: ids[from], message, verified: Verified::none() });
            count_commits(to, &outs, &mut committed_txs, &mut blocks);
            handle(to, outs, &mut queue, &mut timers);
        } else if let Some((i, timer)) = timers.pop_front() {
            now += 1;
            let outs = nodes[i].step(now, Input::Timeout(timer));
            count_commits(i, &outs, &mut committed_txs, &mut blocks);
            handle(i, outs, &mut queue, &mut timers);
        } else {
            panic!("consensus stalled at {committed_txs}/{target} transactions");
        }
    }
    let secs = start.elapsed().as_secs_f64();
    Run { tx_s: target as f64 / secs, blocks_s: blocks as f64 / secs, blocks }
}

/// Ed25519 batch verification of transaction signatures on this core, sig/s.
fn verify_limit(txs: &[SignedTransaction]) -> f64 {
    let sample = &txs[..1_000.min(txs.len())];
    let bodies: Vec<Vec<u8>> = sample.iter().map(|t| to_bytes(&t.tx)).collect();
    let msgs: Vec<&[u8]> = bodies.iter().map(Vec::as_slice).collect();
    let sigs: Vec<_> = sample.iter().map(|t| t.signature).collect();
    let keys: Vec<_> = sample.iter().map(|t| t.tx.sender).collect();
    let start = Instant::now();
    let mut rounds = 0;
    while start.elapsed() < Duration::from_millis(500) {
        verify_batch(Domain::TransactionSignature, &msgs, &sigs, &keys).expect("valid");
        rounds += 1;
    }
    (rounds * sample.len()) as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let accounts: Vec<SecretKey> = (0..ACCOUNTS)
        .map(|i| {
            let mut s = [7u8; 32];
            s[..8].copy_from_slice(&(i as u64).to_le_bytes());
            SecretKey::from_seed(s)
        })
        .collect();
    let chain = ChainId::new("vigil-bench").expect("id");
    let txs = transactions(&chain, &accounts);
    let limit = verify_limit(&txs);
    println!(
        "{} transfers, blocks of up to {BLOCK_TXS_MAX}; Ed25519 batch verify on this core: {limit:.0} sig/s",
        txs.len()
    );
    println!(
        "{:>10} {:>6} | {:>10} {:>10} {:>8} | {:>14} {:>9}",
        "validators", "mode", "tx/s", "blocks/s", "blocks", "verify limit", "fraction"
    );
    let mut fast4 = 0.0;
    let mut bft4 = 0.0;
    for n in [4usize, 7] {
        for mode in [ConsensusMode::Fast, ConsensusMode::Bft] {
            let r = run(n, mode, &accounts, &txs);
            let node_limit = limit / n as f64;
            println!(
                "{:>10} {:>6} | {:>10.0} {:>10.1} {:>8} | {:>14.0} {:>8.2}",
                n,
                mode.to_string(),
                r.tx_s,
                r.blocks_s,
                r.blocks,
                node_limit,
                r.tx_s / node_limit
            );
            if n == 4 {
                match mode {
                    ConsensusMode::Fast => fast4 = r.tx_s,
                    ConsensusMode::Bft => bft4 = r.tx_s,
                }
            }
        }
    }
    println!("bench consensus: fast_tx_s={fast4:.0} bft_tx_s={bft4:.0} verify_limit_tx_s={:.0}", limit / 4.0);
}
