//! Unit tests of the state machine on a tiny in-memory network that delivers every
//! message at once and fires timers only when a test says so.

use std::collections::{BTreeSet, VecDeque};

use vigil_protocol::fast::leader_ack_data;
use vigil_protocol::{Amount, ChainId, EncryptionKey, P2pKey, ValidatorInfo};

use super::*;

/// Proposers propose at once, even empty blocks (tests fire timers by hand).
fn config(key: &SecretKey) -> Config {
    let mut cfg = Config::new(key.clone());
    cfg.timeouts.empty_block_interval_ms = 0;
    // A small window, so that the tests reach beyond it.
    cfg.blocks_in_memory = BLOCKS_IN_MEMORY_FOR_TESTS;
    cfg
}

const BLOCKS_IN_MEMORY_FOR_TESTS: usize = 4;

struct Net {
    nodes: Vec<Node>,
    keys: Vec<SecretKey>,
    genesis: Genesis,
    queue: VecDeque<(usize, usize, Message)>,
    timers: Vec<(usize, Timer)>,
    disk: Vec<(Vec<CommittedBlock>, Option<SafetyState>)>,
    down: BTreeSet<usize>,
    now_ms: u64,
    /// Sync answers read from "storage" (blocks older than a node's window).
    stored_sent: usize,
    /// Checkpoints settled, by node.
    settled: Vec<(usize, Settled)>,
    /// The snapshot chunks each node cut at each checkpoint height.
    chunks: Vec<std::collections::BTreeMap<Height, vigil_protocol::ChunkedSnapshot>>,
}

impl Net {
    fn new(n: usize, mode: ConsensusMode) -> Self {
        Self::with_checkpoints(n, mode, vigil_protocol::CheckpointConfig::default())
    }

    fn with_checkpoints(n: usize, mode: ConsensusMode, checkpoints: vigil_protocol::CheckpointConfig) -> Self {
        let keys: Vec<SecretKey> = (0..n).map(|i| SecretKey::from_seed([i as u8 + 1; 32])).collect();
        let validators = ValidatorSet::new(
            keys.iter()
                .map(|k| ValidatorInfo::new("v", k.public_key(), EncryptionKey([0; 32]), P2pKey([0xff; 32])))
                .collect(),
        )
        .unwrap();
        // Node i is validator i in canonical order (node 0 leads view 0).
        let keys: Vec<SecretKey> = validators
            .validators()
            .iter()
            .map(|v| keys.iter().find(|k| NodeId::from_public_key(&k.public_key()) == v.id).unwrap().clone())
            .collect();
        let genesis = Genesis {
            chain_id: ChainId::new("vigil-unit").unwrap(),
            validators,
            accounts: vec![(Address([1; 20]), Amount(10))],
            mode,
            time_ms: 0,
            vault: Default::default(),
            checkpoints,
            authcenters: None,
            audit: Default::default(),
        };
        let nodes: Vec<Node> = keys.iter().map(|k| Node::new(config(k), &genesis).unwrap()).collect();
        let mut net = Self {
            disk: vec![(Vec::new(), None); n],
            nodes,
            keys,
            genesis,
            queue: VecDeque::new(),
            timers: Vec::new(),
            down: BTreeSet::new(),
            now_ms: 0,
            stored_sent: 0,
            settled: Vec::new(),
            chunks: vec![Default::default(); n],
        };
        for i in 0..n {
            net.input(i, Input::Start);
        }
        net
    }

    fn id(&self, i: usize) -> NodeId {
        self.nodes[i].id()
    }

    fn input(&mut self, i: usize, input: Input) {
        if self.down.contains(&i) {
            return;
        }
        let outs = self.nodes[i].step_outputs(self.now_ms, input);
        let (mut jobs, mut restores) = (Vec::new(), Vec::new());
        for out in outs {
            match out {
                Output::Send { to, message } => {
                    let to = (0..self.nodes.len()).find(|j| self.id(*j) == to).unwrap();
                    self.queue.push_back((i, to, message));
                }
                Output::Broadcast(message) => {
                    for to in (0..self.nodes.len()).filter(|j| *j != i) {
                        self.queue.push_back((i, to, message.clone()));
                    }
                }
                Output::SendStored { to, from_height, max } => {
                    let to = (0..self.nodes.len()).find(|j| self.id(*j) == to).unwrap();
                    let from = from_height.0 as usize - 1;
                    let blocks = self.disk[i].0.iter().skip(from).take(max).cloned().collect();
                    self.stored_sent += 1;
                    self.queue.push_back((i, to, Message::SyncResponse(blocks)));
                }
                Output::SetTimer { timer, .. } => self.timers.push((i, timer)),
                Output::Persist(s) => self.disk[i].1 = Some(*s),
                Output::Commit { committed, .. } => self.disk[i].0.push(*committed),
                Output::EvidenceSubmitted { .. }
                | Output::ForkProven { .. }
                | Output::SyncGap { .. }
                | Output::FellBehind { .. } => {}
                Output::ComputeCheckpoint(job) => jobs.push(job),
                Output::CheckpointSettled(settled) => self.settled.push((i, settled)),
                Output::Restore(job) => restores.push(job),
                Output::Fatal(reason) => panic!("node {i} stopped: {reason}"),
            }
        }
        for job in jobs {
            let snapshot = job.compute_snapshot();
            let digest = snapshot.digest.clone();
            self.chunks[i].insert(digest.height, snapshot);
            self.input(i, Input::CheckpointComputed(Box::new(digest)));
        }
        for job in restores {
            // From the first peer that holds the checkpoint's chunks.
            let digest = &job.checkpoint.digest;
            let peer = job.peers.iter().find_map(|p| (0..self.nodes.len()).find(|j| self.id(*j) == *p)).unwrap();
            let chunks = self.chunks[peer][&digest.height].chunks().to_vec();
            let tree = vigil_protocol::StateTree::from_snapshot(digest, chunks).unwrap();
            let ledger = crate::execution::Ledger::from_checkpoint(&self.genesis, digest, tree).unwrap();
            self.input(i, Input::Restored(Box::new(ledger)));
        }
    }

    /// Node `i` loses everything and starts recovering from its peers.
    fn wipe(&mut self, i: usize) {
        self.disk[i] = (Vec::new(), None);
        self.chunks[i].clear();
        self.nodes[i] = Node::recovering(config(&self.keys[i]), &self.genesis, 7).unwrap();
        self.input(i, Input::Start);
    }

    fn deliver_all(&mut self) {
        while let Some((from, to, message)) = self.queue.pop_front() {
            if self.down.contains(&from) || self.down.contains(&to) {
                continue;
            }
            let from = self.id(from);
            self.input(to, Input::Message { from, message, verified: Verified::none() });
        }
    }

    /// Fires node `i`'s most recent pending timer of `kind`.
    fn fire(&mut self, i: usize, kind: TimerKind) {
        let pos = self.timers.iter().rposition(|(n, t)| *n == i && t.kind == kind).expect("timer was set");
        let (_, timer) = self.timers.remove(pos);
        self.now_ms += 10;
        self.input(i, Input::Timeout(timer));
    }

    fn height(&self, i: usize) -> u64 {
        self.nodes[i].ledger().height().0
    }
}

#[test]
fn fast_mode_commits_with_a_majority_of_acks_in_one_round_trip() {
    let mut net = Net::new(4, ConsensusMode::Fast);
    net.fire(0, TimerKind::Propose);
    net.deliver_all();
    for i in 0..4 {
        assert_eq!(net.height(i), 1, "node {i}");
        let cb = net.disk[i].0.last().unwrap();
        assert_eq!(cb.cert.data.kind, VoteKind::Ack);
        assert!(cb.cert.signatures.len() >= 3);
        CertifiedHeader { header: cb.block.header.clone(), cert: cb.cert.clone() }
            .verify(&net.genesis.validators)
            .unwrap();
    }
}

#[test]
fn fast_view_change_after_a_leader_crash_keeps_the_acked_block() {
    let mut net = Net::new(4, ConsensusMode::Fast);
    net.fire(0, TimerKind::Propose);
    // Only follower 1 hears the proposal before the leader crashes.
    let (_, _, proposal) = net.queue.iter().find(|(_, to, _)| *to == 1).cloned().unwrap();
    let proposed = match &proposal {
        Message::Proposal(p) => p.block.header.hash(),
        _ => unreachable!(),
    };
    net.queue.clear();
    net.down.insert(0);
    let leader = net.id(0);
    net.input(1, Input::Message { from: leader, message: proposal, verified: Verified::none() });
    net.queue.retain(|(from, _, m)| *from != 1 || !matches!(m, Message::Vote { .. }));
    // Everyone else times out: view 1, led by node 1, which holds the ack.
    for i in 1..4 {
        net.fire(i, TimerKind::FastView);
    }
    net.deliver_all();
    net.fire(1, TimerKind::Propose);
    net.deliver_all();
    for i in 1..4 {
        assert_eq!(net.height(i), 1, "node {i}");
        let cb = net.disk[i].0.last().unwrap();
        assert_eq!(cb.block.header.hash(), proposed, "the possibly-committed block survives the view change");
        assert_eq!(cb.cert.data.view, View(1));
    }
}

#[test]
fn a_restarted_node_never_acks_a_different_block_for_the_same_view() {
    let mut net = Net::new(4, ConsensusMode::Fast);
    net.fire(0, TimerKind::Propose);
    let (_, _, first) = net.queue.iter().find(|(_, to, _)| *to == 2).cloned().unwrap();
    net.queue.clear();
    let leader = net.id(0);
    net.input(2, Input::Message { from: leader, message: first.clone(), verified: Verified::none() });
    let acks_before = net.disk[2].1.as_ref().unwrap().signed.len();
    // Node 2 crashes and restarts from disk.
    let (blocks, safety) = net.disk[2].clone();
    net.nodes[2] = Node::restore(config(&net.keys[2]), &net.genesis, blocks, safety, None).unwrap();
    net.input(2, Input::Start);
    // A different block for the same view (as a lying leader would send).
    let Message::Proposal(mut p) = first else { unreachable!() };
    p.block.header.time_ms += 1;
    let data = VoteData { block_hash: p.block.header.hash(), ..p.leader_ack.as_ref().unwrap().data.clone() };
    p.leader_ack = Some(data.sign(leader, &net.keys[0]));
    net.queue.clear();
    net.input(2, Input::Message { from: leader, message: Message::Proposal(p), verified: Verified::none() });
    let safety = net.disk[2].1.as_ref().unwrap();
    assert_eq!(safety.signed.len(), acks_before, "no second ack was signed");
    assert!(!net.queue.iter().any(|(from, _, m)| *from == 2 && matches!(m, Message::Vote { .. })));
}

#[test]
fn a_node_restores_from_its_stored_state_only_if_it_fits_its_blocks() {
    let mut net = Net::new(4, ConsensusMode::Fast);
    for _ in 0..3 {
        let h = net.height(0);
        net.now_ms += 60_000;
        net.fire(0, TimerKind::Propose);
        net.deliver_all();
        assert_eq!(net.height(0), h + 1);
    }
    let (blocks, safety) = net.disk[1].clone();
    let stored = net.nodes[1].ledger().clone();
    let root = stored.state_root().unwrap();
    let back = Node::restore(config(&net.keys[1]), &net.genesis, blocks.clone(), safety.clone(), Some(stored.clone()))
        .unwrap();
    assert_eq!(back.ledger().state_root().unwrap(), root);
    assert_eq!(back.ledger().height(), Height(3));
    // A database whose state is behind or ahead of its blocks, or belongs to another
    // chain of blocks, is refused rather than run on.
    let short = blocks[..2].to_vec();
    assert!(matches!(
        Node::restore(config(&net.keys[1]), &net.genesis, short, safety.clone(), Some(stored.clone())),
        Err(RestoreError::StateBehindBlocks { .. })
    ));
    let mut other = blocks.clone();
    other[2].block.header.time_ms += 1;
    assert!(matches!(
        Node::restore(config(&net.keys[1]), &net.genesis, other, safety, Some(stored)),
        Err(RestoreError::StateMismatch(Height(3)))
    ));
}

#[test]
fn bft_mode_commits_with_a_precommit_certificate() {
    let mut net = Net::new(4, ConsensusMode::Bft);
    // Height 1, round 0: proposer is validators[(1 + 0) % 4].
    net.fire(1, TimerKind::Propose);
    net.deliver_all();
    for i in 0..4 {
        assert_eq!(net.height(i), 1, "node {i}");
        let cb = net.disk[i].0.last().unwrap();
        assert_eq!(cb.cert.data.kind, VoteKind::Precommit);
        assert!(cb.cert.signatures.len() >= 3);
        assert_eq!(cb.block.header.mode, ConsensusMode::Bft);
    }
}

/// Issue 22: a quorum's last vote often reaches a node after it committed the block. That
/// voter holds the block and commits it from the same votes, so the node does not push
/// the block to it (under load, every block went again to every slower peer); a peer
/// further behind is still served at once.
#[test]
fn a_late_vote_for_the_block_just_committed_gets_no_copy_of_it_but_a_peer_further_behind_does() {
    for mode in [ConsensusMode::Fast, ConsensusMode::Bft] {
        let mut net = Net::new(4, mode);
        let mut copies = 0;
        for h in 1..=3u64 {
            // Fast: node 0 leads view 0. Bft, height h, round 0: validators[h % 4].
            net.fire(if mode == ConsensusMode::Fast { 0 } else { h as usize % 4 }, TimerKind::Propose);
            while let Some((from, to, message)) = net.queue.pop_front() {
                copies += usize::from(matches!(message, Message::SyncResponse(_)));
                let from = net.id(from);
                net.input(to, Input::Message { from, message, verified: Verified::none() });
            }
            assert!((0..4).all(|i| net.height(i) == h), "{mode:?}: height {h} committed everywhere");
        }
        assert_eq!(copies, 0, "{mode:?}: every node commits each block itself: no block travels twice");
        assert_eq!(net.stored_sent, 0);
    }

    let mut net = Net::new(4, ConsensusMode::Bft);
    for h in 1..=3u64 {
        net.fire(h as usize % 4, TimerKind::Propose);
        net.deliver_all();
    }

    let from = net.id(3);
    let data = net.disk[0].0[0].cert.data.clone();
    let message = Message::Vote { vote: data.sign(from, &net.keys[3]), leader_ack: None };
    let outs = net.nodes[0].step_outputs(net.now_ms, Input::Message { from, message, verified: Verified::none() });
    let served = outs
        .iter()
        .any(|o| matches!(o, Output::SendStored { .. } | Output::Send { message: Message::SyncResponse(_), .. }));
    assert!(served, "a vote two heights behind is served the blocks it lacks: {outs:?}");
}

#[test]
fn bft_round_change_after_a_silent_proposer() {
    let mut net = Net::new(4, ConsensusMode::Bft);
    net.down.insert(1); // proposer of round 0 at height 1
    for i in [0, 2, 3] {
        net.fire(i, TimerKind::BftPropose);
    }
    net.deliver_all();
    for i in [0, 2, 3] {
        net.fire(i, TimerKind::BftPrevote);
    }
    net.deliver_all();
    for i in [0, 2, 3] {
        net.fire(i, TimerKind::BftPrecommit);
    }
    net.deliver_all();
    // Round 1: proposer is validators[(1 + 1) % 4] = node 2.
    net.fire(2, TimerKind::Propose);
    net.deliver_all();
    for i in [0, 2, 3] {
        assert_eq!(net.height(i), 1, "node {i}");
        assert_eq!(net.disk[i].0.last().unwrap().cert.data.view, View(1));
    }
}

#[test]
fn equivocating_votes_become_evidence_and_a_switch_to_bft() {
    let mut net = Net::new(4, ConsensusMode::Fast);
    let liar = net.id(3);
    let vote = |b: u8| {
        VoteData {
            chain_id: net.genesis.chain_id.clone(),
            height: Height(1),
            view: View(0),
            block_hash: vigil_protocol::Hash32([b; 32]),
            kind: VoteKind::Ack,
        }
        .sign(liar, &net.keys[3])
    };
    let (a, b) = (vote(1), vote(2));
    net.input(
        0,
        Input::Message { from: liar, message: Message::Vote { vote: a, leader_ack: None }, verified: Verified::none() },
    );
    net.input(
        0,
        Input::Message { from: liar, message: Message::Vote { vote: b, leader_ack: None }, verified: Verified::none() },
    );
    assert!(net.nodes[0].status().mempool_len == 1, "evidence transaction is pending");
    net.deliver_all();
    net.fire(0, TimerKind::Propose);
    net.deliver_all();
    for i in 0..3 {
        let ledger = net.nodes[i].ledger();
        assert_eq!(ledger.height().0, 1);
        assert_eq!(ledger.mode(), ConsensusMode::Bft, "node {i} switched");
        assert_eq!(ledger.consensus_state().jailed, vec![liar]);
        assert_eq!(ledger.validators().len(), 3);
    }
    // Progress continues: the next block is certified in Bft mode by the 3 remaining
    // validators (height 2, round 0: proposer is the new set's validator (2 + 0) mod 3).
    let proposer_id = net.nodes[0].ledger().validators().validators()[2].id;
    let proposer = (0..4).find(|i| net.id(*i) == proposer_id).unwrap();
    net.fire(proposer, TimerKind::Propose);
    net.deliver_all();
    for i in 0..3 {
        assert_eq!(net.height(i), 2, "node {i}");
        let cb = net.disk[i].0.last().unwrap();
        assert_eq!(cb.block.header.mode, ConsensusMode::Bft);
        assert_eq!(cb.cert.data.kind, VoteKind::Precommit);
        assert!(!cb.cert.signer_ids(net.nodes[0].ledger().validators()).any(|id| id == liar));
    }
}

/// Finding 3 of the soundness review: on 35b51aa one signed ack (or one unsigned
/// promise) at `View(u64::MAX)` moved every honest node to that view, where `View::next`
/// saturated: Fast mode halted for ever. Now no single message moves a node's view,
/// and the network goes on committing.
#[test]
fn one_message_at_the_largest_view_moves_nobody() {
    let mut net = Net::new(4, ConsensusMode::Fast);
    let liar = net.id(3);
    let chain_id = net.genesis.chain_id.clone();
    let ack = VoteData {
        chain_id: chain_id.clone(),
        height: Height(1),
        view: View(u64::MAX),
        block_hash: vigil_protocol::Hash32([7; 32]),
        kind: VoteKind::Ack,
    }
    .sign(liar, &net.keys[3]);
    let promise = vigil_protocol::PromiseData { chain_id, height: Height(1), view: View(u64::MAX), acked: None }
        .sign(liar, &net.keys[3]);
    for i in 0..3 {
        net.input(
            i,
            Input::Message {
                from: liar,
                message: Message::Vote { vote: ack.clone(), leader_ack: None },
                verified: Verified::none(),
            },
        );
        let vc = ViewChange { promise: promise.clone(), acked: None };
        net.input(
            i,
            Input::Message { from: liar, message: Message::ViewChange(Box::new(vc)), verified: Verified::none() },
        );
        assert_eq!(net.nodes[i].status().view, View(0), "node {i} stayed in its view");
    }
    net.queue.clear();
    net.fire(0, TimerKind::Propose);
    net.deliver_all();
    for i in 0..4 {
        assert_eq!(net.height(i), 1, "node {i} still commits");
    }
}

/// Finding 2 of the soundness review: on 35b51aa a promise was unsigned and its claim
/// was believed, so a Byzantine validator claiming a made-up block at a higher view made
/// the next leader re-propose it while the first leader had already committed another:
/// two honest nodes committed different blocks at one height. Now a claim needs the
/// signed, justified proposal behind it; the lie is ignored and the committed block is
/// the one re-proposed.
#[test]
fn a_lying_promise_does_not_fork_fast_mode() {
    let mut net = Net::new(4, ConsensusMode::Fast);
    // View 0: the leader (node 0) proposes; nodes 1 and 2 ack; only the leader hears
    // the acks and commits. Then it crashes.
    net.fire(0, TimerKind::Propose);
    let mut acks_to_leader = Vec::new();
    while let Some((from, to, message)) = net.queue.pop_front() {
        if to == 3 {
            continue; // The Byzantine node 3 hears nothing it could use.
        }
        if matches!(message, Message::Vote { .. }) && to != 0 {
            continue;
        }
        if to == 0 {
            acks_to_leader.push((from, message));
            continue;
        }
        let from_id = net.id(from);
        net.input(to, Input::Message { from: from_id, message, verified: Verified::none() });
    }
    for (from, message) in acks_to_leader {
        let from_id = net.id(from);
        net.input(0, Input::Message { from: from_id, message, verified: Verified::none() });
    }
    assert_eq!(net.height(0), 1, "the leader committed");
    let committed = net.disk[0].0[0].block.header.hash();
    net.queue.clear();
    net.down.insert(0);
    // The others time out into view 1 (led by node 1).
    for i in 1..4 {
        net.fire(i, TimerKind::FastView);
    }
    // Node 3 lies first: it claims it acked another block at view 0, signed by itself
    // (its true promise, claiming nothing, follows in the queue).
    let liar = net.id(3);
    let mut fake = net.disk[0].0[0].block.clone();
    fake.header.time_ms += 1;
    let fake_hash = fake.header.hash();
    let chain_id = net.genesis.chain_id.clone();
    let promise = vigil_protocol::PromiseData {
        chain_id: chain_id.clone(),
        height: Height(1),
        view: View(1),
        acked: Some((View(0), fake_hash)),
    }
    .sign(liar, &net.keys[3]);
    let leader_ack = leader_ack_data(&chain_id, Height(1), View(0), fake_hash).sign(liar, &net.keys[3]);
    let backing = vigil_protocol::Backing { leader_ack, justification: vigil_protocol::Justification::Genesis };
    let lie = ViewChange { promise, acked: Some((backing, fake)) };
    net.input(
        1,
        Input::Message { from: liar, message: Message::ViewChange(Box::new(lie)), verified: Verified::none() },
    );
    net.deliver_all();
    net.fire(1, TimerKind::Propose);
    net.deliver_all();
    for i in 1..3 {
        assert_eq!(net.height(i), 1, "node {i}");
        assert_eq!(net.disk[i].0[0].block.header.hash(), committed, "node {i} committed the leader's block");
    }
}

/// Beyond Fast mode's bound (7 validators: two quorums share one), an equivocating
/// leader can leave both of its blocks committable whatever the promises say; the next
/// leader waits for promises that might tell, then picks one instead of halting (the
/// simulator's seed 1007475 halted here).
#[test]
fn beyond_the_bound_a_leader_picks_after_an_equivocation_no_promise_resolves() {
    let mut net = Net::new(7, ConsensusMode::Fast);
    net.down.extend([5, 6]);
    net.fire(0, TimerKind::Propose);
    let (_, _, proposal) = net.queue.iter().find(|(_, to, _)| *to == 1).cloned().unwrap();
    net.queue.clear();
    let Message::Proposal(a) = proposal else { unreachable!("the leader proposes") };
    let a = *a;
    let mut b = a.clone();
    b.block.header.time_ms += 1;
    let (hash_a, hash_b) = (a.block.header.hash(), b.block.header.hash());
    let chain_id = net.genesis.chain_id.clone();
    b.leader_ack = Some(leader_ack_data(&chain_id, Height(1), View(0), hash_b).sign(net.id(0), &net.keys[0]));
    let leader = net.id(0);
    for (to, p) in [(1, &a), (2, &a), (3, &b), (4, &b)] {
        net.input(
            to,
            Input::Message {
                from: leader,
                message: Message::Proposal(Box::new(p.clone())),
                verified: Verified::none(),
            },
        );
    }
    net.down.insert(0);
    net.deliver_all();
    for i in 1..5 {
        assert_eq!(net.height(i), 0, "three acks of 7 commit nothing");
        net.fire(i, TimerKind::FastView);
    }
    net.deliver_all();
    // Node 1 leads view 1 with the promises of 1..4: two claim each block, and the
    // leader with nodes 5 and 6 could have acked either. It waits before it picks.
    if net.timers.iter().any(|(n, t)| *n == 1 && t.kind == TimerKind::Propose) {
        net.fire(1, TimerKind::Propose);
        net.deliver_all();
    }
    assert!((1..5).all(|i| net.height(i) == 0), "no proposal before the wait is over");
    net.fire(1, TimerKind::FastPick);
    net.fire(1, TimerKind::Propose);
    net.deliver_all();
    for i in 1..5 {
        assert_eq!(net.height(i), 1, "node {i} committed the pick");
        let cb = net.disk[i].0.last().unwrap();
        assert_eq!(cb.block.header.hash(), hash_a.min(hash_b), "equal claims: the lower hash");
        assert_eq!(cb.cert.data.view, View(1));
    }
}

/// Finding 6 of the soundness review: on 35b51aa a transaction with fee 0 from an
/// account that never had funds was accepted and wrote permanent state. Admission now
/// asks for the minimum fee, from a balance that covers it together with everything the
/// sender already has pending.
#[test]
fn admission_asks_for_a_fee_and_counts_pending_spend() {
    let mut net = Net::new(4, ConsensusMode::Fast);
    let chain_id = net.genesis.chain_id.clone();
    let tx = |key: &SecretKey, nonce: u64, fee: u64, amount: u64| {
        Transaction {
            chain_id: chain_id.clone(),
            sender: key.public_key(),
            nonce: Nonce(nonce),
            fee: Amount(fee),
            payload: Payload::Transfer(vigil_protocol::Transfer { to: Address([2; 20]), amount: Amount(amount) }),
        }
        .sign(key)
    };
    let stranger = SecretKey::from_seed([90; 32]);
    let node = &mut net.nodes[0];
    assert_eq!(submit(node, tx(&stranger, 0, 0, 0)).err(), Some(Rejection::FeeTooLow { min: 1, found: 0 }));
    assert_eq!(
        submit(node, tx(&stranger, 0, 1, 0)).err(),
        Some(Rejection::InsufficientBalance { balance: 0, needed: 1 })
    );
    // A funded account (10 units at genesis): 6 + 1 pending, then 3 + 1 more is too much.
    let genesis_key = SecretKey::from_seed([91; 32]);
    let mut g = net.genesis.clone();
    g.accounts = vec![(Address::from_public_key(&genesis_key.public_key()), Amount(10))];
    let mut node = Node::new(config(&net.keys[0]), &g).unwrap();
    submit(&mut node, tx(&genesis_key, 0, 1, 6)).unwrap();
    assert_eq!(
        submit(&mut node, tx(&genesis_key, 1, 1, 3)).err(),
        Some(Rejection::InsufficientBalance { balance: 10, needed: 11 })
    );
    submit(&mut node, tx(&genesis_key, 1, 1, 2)).unwrap();
}

/// Two blocks certified at height 1 of 7 validators, by quorums that share validators 0
/// and 3 (beyond Fast mode's bound), each with the justification of its proposal.
fn forked_height_one(net: &Net) -> (CommittedBlock, CommittedBlock) {
    let ledger = Ledger::genesis(&net.genesis).unwrap();
    let exec = ledger.execute(&[]).unwrap();
    let left = Block { header: ledger.build_header(&exec, View(0), net.id(0), 1_000), txs: vec![] };
    let mut right = left.clone();
    right.header.time_ms += 1;
    let certify = |block: &Block, signers: &[usize]| {
        let data = VoteData {
            chain_id: net.genesis.chain_id.clone(),
            height: Height(1),
            view: View(0),
            block_hash: block.header.hash(),
            kind: VoteKind::Ack,
        };
        let votes: Vec<Vote> = signers.iter().map(|i| data.sign(net.id(*i), &net.keys[*i])).collect();
        let cert = QuorumCert::from_votes(data, &votes, &net.genesis.validators).unwrap();
        CommittedBlock { block: block.clone(), cert, justification: Some(Justification::Genesis) }
    };
    (certify(&left, &[0, 1, 2, 3]), certify(&right, &[0, 3, 4, 5]))
}

/// Beyond the bound a fork is accountable: a node that committed one block and is sent
/// the other, certified, names the two validators in both certificates (never the honest
/// ones that acked only one side), submits their evidence, and then acks no Fast block
/// that does not carry evidence, while it acks one that does.
#[test]
fn a_conflicting_certified_block_is_traced_and_stops_fast_mode_until_evidence_commits() {
    let net = Net::new(7, ConsensusMode::Fast);
    let (left, right) = forked_height_one(&net);
    let me = net.id(1);
    let fresh = || {
        let mut node = Node::new(config(&net.keys[1]), &net.genesis).unwrap();
        node.step_outputs(0, Input::Start);
        let out = node.step_outputs(
            10,
            Input::Message {
                from: net.id(2),
                message: Message::SyncResponse(vec![left.clone()]),
                verified: Verified::none(),
            },
        );
        assert!(out.iter().any(|o| matches!(o, Output::Commit { .. })), "commits the left block");
        let out = node.step_outputs(
            20,
            Input::Message {
                from: net.id(4),
                message: Message::SyncResponse(vec![right.clone()]),
                verified: Verified::none(),
            },
        );
        (node, out)
    };
    let (halted, out) = fresh();
    let proven: Vec<&Vec<NodeId>> = out
        .iter()
        .filter_map(|o| match o {
            Output::ForkProven { height, offenders, .. } if *height == Height(1) => Some(offenders),
            _ => None,
        })
        .collect();
    let mut expected = vec![net.id(0), net.id(3)];
    expected.sort();
    let mut named = proven.first().cloned().cloned().unwrap_or_default();
    named.sort();
    assert_eq!(named, expected, "the fork is traced to the two validators in both certificates");
    let evidence: Vec<SignedTransaction> = out
        .iter()
        .filter_map(|o| match o {
            Output::Broadcast(Message::Transactions(txs)) => Some(txs.clone()),
            _ => None,
        })
        .flatten()
        .filter(|t| matches!(t.tx.payload, Payload::FaultEvidence(_)))
        .collect();
    assert_eq!(evidence.len(), 2, "evidence against each of them is gossiped");
    assert_eq!(halted.recent_blocks().count(), 1, "its own block stays committed");

    // The leader of view 0 (still in the set) proposes height 2 on the left block.
    let propose = |node: &mut Node, txs: Vec<SignedTransaction>| {
        let exec = node.ledger().execute(&txs).unwrap();
        let block = Block { header: node.ledger().build_header(&exec, View(0), net.id(0), 2_000), txs };
        let leader_ack = leader_ack_data(&net.genesis.chain_id, Height(2), View(0), block.header.hash())
            .sign(net.id(0), &net.keys[0]);
        let proposal = Proposal {
            view: View(0),
            block,
            valid_round: None,
            leader_ack: Some(leader_ack),
            pol: vec![],
            justification: Some(Justification::Parent(left.cert.clone())),
        };
        let out = node.step_outputs(
            30,
            Input::Message {
                from: net.id(0),
                message: Message::Proposal(Box::new(proposal)),
                verified: Verified::none(),
            },
        );
        out.iter().any(|o| matches!(o, Output::Broadcast(Message::Vote { vote, .. }) if vote.voter == me))
    };
    let mut halted = halted;
    assert!(!propose(&mut halted, vec![]), "no ack for a Fast block without the evidence");
    let (mut other, _) = fresh();
    assert!(propose(&mut other, evidence), "an ack for the block that commits the evidence");
}

/// Finding 11 of the soundness review: on 35b51aa the detector, ack and prevote maps
/// took any view or round at the current height from an authenticated validator, so one
/// validator signing acks for thousands of views grew every honest node's memory without
/// bound. Now what a node keeps for a height stays within the view window.
#[test]
fn acks_for_thousands_of_views_keep_memory_within_the_window() {
    let net = Net::new(4, ConsensusMode::Fast);
    let mut node = Node::new(config(&net.keys[1]), &net.genesis).unwrap();
    node.step_outputs(0, Input::Start);
    let flooder = net.id(3);
    for view in 1..5_000u64 {
        let data = VoteData {
            chain_id: net.genesis.chain_id.clone(),
            height: Height(1),
            view: View(view),
            block_hash: vigil_protocol::Hash32([(view % 251) as u8; 32]),
            kind: if view % 2 == 0 { VoteKind::Ack } else { VoteKind::Prevote },
        };
        let vote = data.sign(flooder, &net.keys[3]);
        node.step_outputs(
            view,
            Input::Message {
                from: flooder,
                message: Message::Vote { vote, leader_ack: None },
                verified: Verified::none(),
            },
        );
    }
    let bound = 8 * fast::VIEW_WINDOW_MAX as usize;
    assert!(node.retained() <= bound, "node holds {} items for one height (bound {bound})", node.retained());
}

/// A state that must not happen stops the node: its one output is `Fatal`, whatever the
/// batch held before, and it takes no more input (a bug shows as a stop, not a stall).
#[test]
fn a_fatal_state_is_the_last_output_and_the_node_takes_no_more_input() {
    let mut net = Net::new(4, ConsensusMode::Fast);
    net.input(0, Input::Start);
    let node = &mut net.nodes[0];
    node.out.push(Output::Broadcast(Message::Transactions(vec![])));
    node.fatal("block 1 checked, then failed to commit".into());
    let out = std::mem::take(&mut node.out);
    assert!(matches!(out.as_slice(), [Output::Fatal(r)] if r.contains("failed to commit")), "{out:?}");
    assert!(node.is_halted());
    assert!(node.step_outputs(10_000, Input::Start).is_empty());
    let (_, tx) = funded_tx(&net);
    let ready = net.nodes[0].step(10_000, Input::Submit { ticket: 1, tx: Box::new(tx), verified: false });
    assert!(ready.is_empty(), "no answer either: {ready:?}");
}

/// A client's transaction through the one way in: its answer comes back under its ticket.
fn submit(node: &mut Node, tx: SignedTransaction) -> Result<(), Rejection> {
    let ready = node.step(0, Input::Submit { ticket: 7, tx: Box::new(tx), verified: false });
    match ready.replies.as_slice() {
        [Reply { ticket: 7, result }] => result.clone(),
        other => panic!("one answer for the one submission, got {other:?}"),
    }
}

/// A node at a genesis that funds one account, and a transfer from it.
fn funded_tx(net: &Net) -> (Node, SignedTransaction) {
    let key = SecretKey::from_seed([92; 32]);
    let mut g = net.genesis.clone();
    g.accounts = vec![(Address::from_public_key(&key.public_key()), Amount(10))];
    let tx = Transaction {
        chain_id: g.chain_id.clone(),
        sender: key.public_key(),
        nonce: Nonce(0),
        fee: Amount(1),
        payload: Payload::Transfer(vigil_protocol::Transfer { to: Address([2; 20]), amount: Amount(1) }),
    }
    .sign(&key);
    (Node::new(config(&net.keys[0]), &g).unwrap(), tx)
}

#[test]
fn a_submission_checks_its_signature_unless_the_caller_did_and_reports_it_checked() {
    let net = Net::new(4, ConsensusMode::Fast);
    let (mut node, good) = funded_tx(&net);
    let mut forged = good.clone();
    forged.signature = SecretKey::from_seed([93; 32]).sign(vigil_protocol::Domain::TransactionSignature, b"other");
    let forged_signature = forged.signature;
    let node = &mut node;
    assert_eq!(submit(node, forged), Err(Rejection::BadSignature));
    let ready = node.step(0, Input::Submit { ticket: 1, tx: Box::new(good.clone()), verified: false });
    assert_eq!(ready.replies, [Reply { ticket: 1, result: Ok(()) }]);
    assert_eq!(ready.verified, [(good.hash(), good.signature)], "for the caller's cache");
    assert!(ready.verified.iter().all(|(_, s)| *s != forged_signature), "the forgery is not vouched for");
    assert!(ready
        .all_messages()
        .any(|m| matches!(m, Outgoing::All(Message::Transactions(t)) if t.as_slice() == std::slice::from_ref(&good))));
}

/// Issue 16: a node keeps only its most recent blocks in memory; a peer further behind
/// is sent the older ones from storage, and catches up.
#[test]
fn a_peer_behind_the_window_is_served_from_storage() {
    let mut net = Net::new(4, ConsensusMode::Fast);
    net.down.insert(3);
    let heights = 3 * BLOCKS_IN_MEMORY_FOR_TESTS as u64;
    while net.height(0) < heights {
        net.fire(0, TimerKind::Propose);
        net.deliver_all();
    }
    assert_eq!(net.nodes[0].recent_blocks().count(), BLOCKS_IN_MEMORY_FOR_TESTS, "memory holds the window only");
    assert_eq!(net.nodes[0].recent_blocks().next().unwrap().block.header.height.0, heights - 3);
    net.down.remove(&3);
    net.fire(0, TimerKind::Propose);
    net.deliver_all();
    for _ in 0..2 * heights {
        if net.height(3) > heights {
            break;
        }
        net.timers.retain(|(i, t)| *i != 3 || t.kind == TimerKind::Sync);
        if net.timers.iter().any(|(i, _)| *i == 3) {
            net.fire(3, TimerKind::Sync);
        }
        net.deliver_all();
    }
    assert!(net.height(3) > heights, "the node that was down caught up: at {}", net.height(3));
    assert!(net.stored_sent > 0, "blocks older than the window came from storage");
    assert_eq!(
        net.disk[3].0.last().map(|cb| cb.block.header.hash()),
        net.disk[0].0.last().map(|cb| cb.block.header.hash())
    );
}

/// Seed 1000044 of the 7-node simulator: an equivocator filled its vote slots for a round
/// with other blocks at some honest nodes, and its real prevote completed a lock at
/// another. The locked proposer's proof of lock must still count there, or the honest
/// nodes never agree again (each locked or unconvinced) and the chain halts.
#[test]
fn a_proof_of_lock_counts_even_where_an_equivocator_filled_its_vote_slots() {
    let mut net = Net::new(4, ConsensusMode::Bft);
    let liar = net.id(3);
    net.down.insert(3); // node 3's own process is silent; the test signs for it
    let prevote = |net: &Net, block_hash: BlockHash| {
        let data = VoteData {
            chain_id: net.genesis.chain_id.clone(),
            height: Height(1),
            view: View(0),
            block_hash,
            kind: VoteKind::Prevote,
        };
        Message::Vote { vote: data.sign(liar, &net.keys[3]), leader_ack: None }
    };
    // At nodes 0 and 1 the liar's round-0 slots fill with prevotes for other blocks
    // (node 2, cut off meanwhile, never hears of them).
    net.down.insert(2);
    for i in [0, 1] {
        for b in 1..=bft::VOTES_PER_VALIDATOR_ROUND_MAX as u8 {
            let message = prevote(&net, vigil_protocol::Hash32([b; 32]));
            net.input(i, Input::Message { from: liar, message, verified: Verified::none() });
        }
    }
    net.deliver_all();
    net.down.remove(&2);
    // Round 0 (proposer node 1) while node 0 is cut off: nodes 1 and 2 prevote B, and
    // the liar's prevote for B reaches node 2 alone, which locks on B.
    net.down.insert(0);
    net.fire(1, TimerKind::Propose);
    let b = net
        .queue
        .iter()
        .find_map(|(_, _, m)| match m {
            Message::Proposal(p) => Some(p.block.header.hash()),
            _ => None,
        })
        .expect("node 1 proposed");
    net.deliver_all();
    let message = prevote(&net, b);
    net.input(2, Input::Message { from: liar, message, verified: Verified::none() });
    net.deliver_all();
    assert_eq!(net.nodes[2].locked(), Some((vigil_protocol::Round(0), b)), "node 2 locked on B");
    assert_eq!(net.nodes[1].locked(), None, "node 1 never saw the liar's prevote for B");
    // Round 1: node 2 proposes B again with its proof of lock, and the others accept it.
    net.down.remove(&0);
    for i in [0, 1, 2] {
        net.fire(i, TimerKind::BftRound);
    }
    net.deliver_all();
    net.fire(2, TimerKind::Propose);
    net.deliver_all();
    for i in [0, 1, 2] {
        assert_eq!(net.height(i), 1, "node {i} committed height 1");
        let cb = net.disk[i].0.last().unwrap();
        assert_eq!((cb.block.header.hash(), cb.cert.data.view), (b, View(1)), "node {i}");
    }
}

/// What the API reads: a view taken after a commit stays that height's state and header
/// while the node commits on, and its proofs check against its own certified header.
#[test]
fn a_published_view_is_one_height_frozen_and_proves_against_its_header() {
    let mut net = Net::new(4, ConsensusMode::Fast);
    net.fire(0, TimerKind::Propose);
    net.deliver_all();
    let view = net.nodes[0].view();
    assert_eq!(view.ledger.height(), Height(1));
    let header = view.header.clone().expect("height 1 is certified");
    assert_eq!(header.header.height, Height(1));
    while net.height(0) < 1 + vigil_protocol::state::STATE_VERSIONS_KEPT + 2 {
        net.fire(0, TimerKind::Propose);
        net.deliver_all();
    }
    assert_eq!(view.ledger.height(), Height(1), "the view did not move with the node");
    let key = vigil_protocol::StateKey::Account(Address([1; 20]));
    let (value, proof) = view.ledger.prove(&key).expect("its version is still readable");
    proof.verify(&header.header.state_root, &key, value.as_deref()).expect("the proof matches the view's header");
    assert_eq!(view.ledger.account(&Address([1; 20])).balance, Amount(10));
    assert!(net.nodes[0].ledger().prove(&key).is_ok());
}

/// The pair assertion on what is persisted: a safety state of another height, a vote of
/// another height, or two votes for one slot is refused (the node would stop, fatally,
/// rather than write it).
#[test]
fn a_safety_state_with_two_votes_for_one_slot_is_never_persisted() {
    let net = Net::new(4, ConsensusMode::Fast);
    let me = net.id(0);
    let vote = |height: u64, b: u8| {
        VoteData {
            chain_id: net.genesis.chain_id.clone(),
            height: Height(height),
            view: View(0),
            block_hash: vigil_protocol::Hash32([b; 32]),
            kind: VoteKind::Ack,
        }
        .sign(me, &net.keys[0])
    };
    let mut s = SafetyState::fresh(Height(1), View(0));
    s.signed.push(vote(1, 1));
    assert_eq!(s.check(Height(1), me), Ok(()));
    assert!(s.check(Height(2), me).is_err(), "the state of another height");
    assert!(s.check(Height(1), net.id(1)).is_err(), "votes of another validator");
    let mut two = s.clone();
    two.signed.push(vote(1, 2));
    assert!(two.check(Height(1), me).unwrap_err().contains("two votes"));
    let mut stale = s;
    stale.signed.push(vote(0, 3));
    assert!(stale.check(Height(1), me).is_err(), "a vote of a height already committed");
}

/// Every two blocks (the chain's checkpoint interval here), each validator signs the
/// digest of the committed data and a quorum of equal digests makes a stable checkpoint
/// at every node, the same everywhere, that verifies against the next height's set; a
/// validator that signs another digest is named, and votes for heights outside the
/// window are not kept.
#[test]
fn validators_agree_on_a_stable_checkpoint_and_a_diverging_signer_is_named() {
    let config = vigil_protocol::CheckpointConfig { interval: 2, ..Default::default() };
    let mut net = Net::with_checkpoints(4, ConsensusMode::Fast, config);
    for _ in 0..2 {
        net.fire(0, TimerKind::Propose);
        net.deliver_all();
    }
    assert!((0..4).all(|i| net.height(i) == 2));
    let stable: Vec<_> = (0..4).map(|i| net.nodes[i].stable_checkpoint().cloned().expect("stable")).collect();
    // The same digest everywhere (each node may hold another quorum of signatures).
    assert!(stable.iter().all(|s| s.digest == stable[0].digest));
    let s = &stable[0];
    assert_eq!(s.digest.height, Height(2));
    assert_eq!(s.digest.block_hash, net.nodes[0].last_committed().unwrap().block.header.hash());
    s.verify(&net.genesis.chain_id, net.nodes[0].ledger().validators()).unwrap();
    assert_eq!(net.nodes[0].view().checkpoint.as_ref(), Some(s));

    // The next checkpoint: node 3's vote that reaches the others first is for a digest
    // of other data (its later, honest one does not replace it); they still settle on
    // theirs and name it.
    net.fire(0, TimerKind::Propose);
    net.deliver_all();
    net.settled.clear();
    net.fire(0, TimerKind::Propose);
    let mut lie = net.nodes[3].stable_checkpoint().unwrap().digest.clone();
    lie.height = Height(4);
    lie.state_root = vigil_protocol::Hash32([6; 32]);
    let liar = net.id(3);
    let forged = lie.sign(liar, &net.keys[3]);
    for to in 0..3 {
        net.queue.push_front((3, to, Message::Checkpoint(Box::new(forged.clone()))));
    }
    net.deliver_all();
    for i in 0..3 {
        assert_eq!(net.nodes[i].stable_checkpoint().unwrap().digest.height, Height(4), "node {i}");
    }
    let named: Vec<&Settled> = net.settled.iter().filter(|(i, _)| *i < 3).map(|(_, s)| s).collect();
    assert_eq!(named.len(), 3);
    for Settled::Stable { diverging, mine_differs, .. } in named {
        assert_eq!(diverging, &vec![liar]);
        assert!(!mine_differs);
    }

    // A vote far ahead of the window is not kept.
    let held = net.nodes[0].checkpoint_votes_held();
    let mut far = lie;
    far.height = Height(40);
    net.input(
        0,
        Input::Message {
            from: liar,
            message: Message::Checkpoint(Box::new(far.sign(liar, &net.keys[3]))),
            verified: Verified::none(),
        },
    );
    assert_eq!(net.nodes[0].checkpoint_votes_held(), held);
}

#[test]
fn a_wiped_validator_restores_from_a_checkpoint_and_signs_nothing_it_may_have_signed() {
    let config = vigil_protocol::CheckpointConfig { interval: 2, ..Default::default() };
    let mut net = Net::with_checkpoints(4, ConsensusMode::Fast, config);
    for _ in 0..3 {
        net.fire(0, TimerKind::Propose);
        net.deliver_all();
    }
    assert!((0..4).all(|i| net.height(i) == 3));
    // Height 4 is in progress: node 3 acks the leader's proposal, then loses its data
    // before its ack leaves.
    net.fire(0, TimerKind::Propose);
    let at = net.queue.iter().position(|(_, to, _)| *to == 3).unwrap();
    let (_, _, proposal) = net.queue.remove(at).unwrap();
    net.input(3, Input::Message { from: net.id(0), message: proposal, verified: Verified::none() });
    assert!(net.disk[3].1.as_ref().is_some_and(|s| !s.signed.is_empty()), "node 3 acked at height 4");
    net.queue.retain(|(from, _, _)| *from != 3);
    net.wipe(3);
    assert!(net.nodes[3].is_recovering());
    // While it recovers it signs nothing; the others answer it, and commit height 4.
    net.deliver_all();
    assert!(!net.nodes[3].is_recovering(), "restored once a quorum answered");
    assert!((0..3).all(|i| net.height(i) == 4));
    let safety = net.disk[3].1.clone().unwrap();
    assert!(safety.abstain_through >= Height(5), "it waits out 4 and 5 at least: {safety:?}");
    let block_2 = &net.disk[0].0[1].block.header;
    assert_eq!(net.nodes[3].ledger().state_root().unwrap(), block_2.state_root, "the state at the checkpoint");
    assert_eq!(net.nodes[3].ledger().last_hash(), block_2.hash());
    // The chain goes on without it at heights 4 and 5, with it from 6 on.
    let mut signed_by_3 = Vec::new();
    for _ in 0..4 {
        net.fire(0, TimerKind::Propose);
        while let Some((from, to, message)) = net.queue.pop_front() {
            if from == 3 {
                if let Message::Vote { vote, .. } = &message {
                    signed_by_3.push(vote.data.height);
                }
            }
            let from = net.id(from);
            net.input(to, Input::Message { from, message, verified: Verified::none() });
        }
    }
    assert_eq!(net.height(3), net.height(0), "caught up by sync");
    assert!(net.height(0) >= 6);
    assert!(signed_by_3.iter().all(|h| *h > Height(5)), "no vote at a height it may have signed at: {signed_by_3:?}");
    assert!(signed_by_3.iter().any(|h| *h >= Height(6)), "it votes again after the bound");
    assert!(net.nodes[0].ledger().consensus_state().jailed.is_empty());
}

#[test]
fn blocks_that_start_above_the_height_needed_are_reported_as_a_gap_not_applied() {
    let mut net = Net::new(4, ConsensusMode::Fast);
    for _ in 0..3 {
        net.fire(0, TimerKind::Propose);
        net.deliver_all();
    }
    assert_eq!(net.height(0), 3);
    // A node at genesis gets blocks 2 and 3 only (the peer pruned block 1).
    let mut fresh = Node::new(config(&net.keys[3]), &net.genesis).unwrap();
    let pruned = net.disk[0].0[1..].to_vec();
    let outs = fresh.step_outputs(
        0,
        Input::Message { from: net.id(0), message: Message::SyncResponse(pruned), verified: Verified::none() },
    );
    assert!(outs.iter().any(|o| matches!(o, Output::SyncGap { needed: Height(1), first: Height(2), .. })), "{outs:?}");
    assert_eq!(fresh.ledger().height(), Height(0), "nothing applied across the gap");
    // Blocks that connect are no gap.
    let whole = net.disk[0].0.clone();
    let outs = fresh.step_outputs(
        0,
        Input::Message { from: net.id(0), message: Message::SyncResponse(whole), verified: Verified::none() },
    );
    assert!(!outs.iter().any(|o| matches!(o, Output::SyncGap { .. })));
    assert_eq!(fresh.ledger().height(), Height(3));
}

#[test]
fn a_stable_checkpoint_is_submitted_by_the_validator_whose_turn_it_is_and_recorded() {
    let config = vigil_protocol::CheckpointConfig { interval: 2, ..Default::default() };
    let mut net = Net::with_checkpoints(4, ConsensusMode::Fast, config);
    for _ in 0..4 {
        net.fire(0, TimerKind::Propose);
        net.deliver_all();
    }
    let stable = net.nodes[0].stable_checkpoint().cloned().expect("stable");
    let recorded: Option<vigil_protocol::StableCheckpoint> =
        net.nodes[3].ledger().state(&vigil_protocol::StateKey::Checkpoint);
    let recorded = recorded.expect("a checkpoint is recorded on chain");
    assert!(recorded.digest.height >= Height(2) && recorded.digest.height <= stable.digest.height);
    recorded.verify(&net.genesis.chain_id, net.nodes[3].ledger().validators()).unwrap();
    // One validator recorded it (checkpoint 1 is validator 1's turn): its account's nonce moved.
    let recorder = &net.genesis.validators.validators()[1];
    assert_eq!(net.nodes[0].ledger().account(&Address::from_public_key(&recorder.consensus_key)).nonce.0, 1);
}

/// A node whose peers pruned the height it needs falls back to recovery, but only once
/// peers with more than the fault tolerance (one honest at least) and, with it, a Bft
/// quorum say so: one Byzantine peer repeating it is not enough.
#[test]
fn a_node_falls_behind_only_when_a_quorum_pruned_the_height_it_needs() {
    let mut net = Net::new(4, ConsensusMode::Fast);
    for _ in 0..3 {
        net.fire(0, TimerKind::Propose);
        net.deliver_all();
    }
    let mut fresh = Node::new(config(&net.keys[3]), &net.genesis).unwrap();
    let pruned = net.disk[0].0[1..].to_vec();
    let gap_from = |fresh: &mut Node, peer: usize| {
        let message = Message::SyncResponse(pruned.clone());
        fresh.step_outputs(0, Input::Message { from: net.id(peer), message, verified: Verified::none() })
    };
    let fell = |outs: &[Output]| outs.iter().any(|o| matches!(o, Output::FellBehind { needed: Height(1), .. }));
    assert!(!fell(&gap_from(&mut fresh, 0)), "one peer may be Byzantine");
    assert!(!fell(&gap_from(&mut fresh, 0)), "the same peer twice is still one");
    assert!(fell(&gap_from(&mut fresh, 1)), "two peers and this node are a Bft quorum of four");
    assert!(!fell(&gap_from(&mut fresh, 2)), "reported once per height");
    assert_eq!(fresh.ledger().height(), Height(0));
}
