use super::*;

fn calm(seed: u64, nodes: usize, mode: ConsensusMode, byzantine: Vec<(usize, Byzantine)>) -> Scenario {
    Scenario {
        seed,
        nodes,
        mode,
        byzantine,
        drop_p: 0.0,
        duplicate_p: 0.0,
        delay_max_ms: 10,
        long_delay_p: 0.0,
        partitions: vec![],
        crashes: vec![],
        write_faults: vec![],
        wipes: vec![],
    }
}

fn assert_clean(o: &Outcome) {
    if !o.violations.is_empty() {
        for (t, e) in o.trace.iter().rev().take(60).rev() {
            eprintln!("{t:>6}ms {e}");
        }
        panic!("seed {}: {:?}", o.scenario.seed, o.violations);
    }
}

#[test]
fn calm_fast_network_commits_blocks() {
    let o = run(calm(1, 4, ConsensusMode::Fast, vec![]));
    assert_clean(&o);
    assert!(o.blocks_committed > 20, "only {} blocks", o.blocks_committed);
}

#[test]
fn calm_bft_network_commits_blocks() {
    let o = run(calm(2, 4, ConsensusMode::Bft, vec![]));
    assert_clean(&o);
    assert!(o.blocks_committed > 10, "only {} blocks", o.blocks_committed);
}

#[test]
fn lying_fast_leader_is_caught_jailed_and_the_chain_switches_to_bft() {
    let o = run(calm(3, 4, ConsensusMode::Fast, vec![(0, Byzantine::LyingLeader)]));
    assert_clean(&o);
    assert!(o.faults.lies > 0, "the leader never lied");
    assert_eq!(o.faults.mode_switches, 1);
    assert_eq!(o.faults.jailed, 1);
}

/// Once the liar is jailed its set retires; the gateway forges headers with every key of
/// that set (above its retirement, or Fast above the Bft switch) and the light client
/// refuses each one for the reason it should (finding 4 of issue 14).
#[test]
fn light_client_refuses_headers_forged_with_a_retired_sets_keys() {
    let o = run(calm(3, 4, ConsensusMode::Fast, vec![(0, Byzantine::LyingLeader)]));
    assert_clean(&o);
    assert!(o.faults.light_forged > 0, "the gateway never forged a header");
    assert!(o.faults.light_retired_set > 0, "no forged header was above its set's retirement");
    assert!(o.faults.light_mode_regression > 0, "no forged header went back to Fast");
    assert!(o.faults.light_accepted > 0, "the light client accepted no honest header");
}

#[test]
fn bft_equivocator_is_jailed_and_progress_continues() {
    let o = run(calm(4, 4, ConsensusMode::Bft, vec![(1, Byzantine::Equivocator)]));
    assert_clean(&o);
    assert!(o.faults.equivocations > 0);
    assert_eq!(o.faults.jailed, 1);
}

#[test]
fn same_seed_replays_exactly() {
    let a = run(Scenario::from_seed(77, 4));
    let b = run(Scenario::from_seed(77, 4));
    assert_eq!(a.blocks_committed, b.blocks_committed);
    assert_eq!(format!("{:?}", a.trace), format!("{:?}", b.trace));
}

/// Seeds that once broke an invariant, kept so that the fix stays fixed.
#[test]
fn seeds_that_once_failed_pass() {
    // 300617: a Fast leader lied in a view every honest node had already left; the
    // node that got the lie must still forward the leader's signed ack.
    // 101353: Bft with an equivocator converged after the old 5 s heal window.
    // 409644: the one honest node that got the true leader ack was two heights behind
    // and dropped it; early votes are now kept for the detector.
    // 540 (7 nodes): of two lying leaders, one lied only during the partition (its lie
    // reached no honest node) and the other after it; only the second must be jailed.
    // 1007475 (7 nodes): the Fast view-0 leader equivocated at height 2 (honest acks
    // split 2/2/1) and the other Byzantine never made a valid promise: no promise could
    // tell which block may be committed, and Fast mode halted with the proof in hand;
    // beyond the bound the leader now picks one after a wait.
    for (seed, nodes) in [(300617, 4), (101353, 4), (409644, 4), (540, 7), (1007475, 7)] {
        assert_clean(&run(Scenario::from_seed(seed, nodes)));
    }
}

/// Beyond Fast mode's bound: two colluding equivocators of 7 (the view-0 leader and
/// another) fork the chain; an honest node traces the fork to them, never to an honest
/// validator, and no honest validator is jailed.
#[test]
fn two_colluding_fast_equivocators_of_seven_fork_and_are_traced() {
    let mut forks = 0;
    for seed in 0..10 {
        let mut sc = calm(seed, 7, ConsensusMode::Fast, vec![(0, Byzantine::Equivocator), (3, Byzantine::Equivocator)]);
        sc.delay_max_ms = 40;
        let o = run(sc);
        assert_clean(&o);
        assert_eq!(o.faults.forks, o.faults.forks_traced, "seed {seed}: every fork is traced");
        forks += o.faults.forks;
    }
    assert!(forks > 0, "the coalition never forked the chain: the test proves nothing");
}

/// The node's own carry-out over the simulated disk: a write that fails stops the node,
/// a crash right after a write loses the messages that depended on it; both come back
/// from what the disk holds, sign nothing twice, and the network keeps committing.
#[test]
fn a_failed_write_and_a_crash_after_a_write_are_survived() {
    for mode in [ConsensusMode::Fast, ConsensusMode::Bft] {
        let mut sc = calm(11, 4, mode, vec![]);
        sc.write_faults = vec![(400, 1_200, 1, WriteFault::Fails), (1_500, 2_400, 2, WriteFault::CrashAfter)];
        let o = run(sc);
        assert_clean(&o);
        assert_eq!((o.faults.failed_writes, o.faults.crashes_after_write), (1, 1), "{mode:?}: both faults struck");
        assert!(o.faults.restarts >= 2, "{mode:?}: both nodes came back");
        assert!(o.blocks_committed > 10, "{mode:?}: only {} blocks", o.blocks_committed);
    }
}

/// A validator loses its whole disk mid-height, twice (once before any checkpoint, so it
/// replays from genesis; once after, so it restores from a snapshot); it crashes once
/// after its restore too (coming back from the restored base on its disk). It signs no
/// slot twice, nobody is jailed, and it commits with the others again.
#[test]
fn a_wiped_validator_recovers_from_a_snapshot_without_signing_twice() {
    for mode in [ConsensusMode::Fast, ConsensusMode::Bft] {
        let mut sc = calm(12, 4, mode, vec![]);
        sc.wipes = vec![(60, 200, 3), (1_500, 1_650, 3)];
        sc.crashes = vec![(2_400, 2_600, 3)];
        let o = run(sc);
        assert_clean(&o);
        assert_eq!(o.faults.wipes, 2, "{mode:?}");
        assert!(o.faults.restores >= 1, "{mode:?}: restored from a snapshot");
        assert_eq!(o.faults.jailed, 0, "{mode:?}");
        assert!(o.blocks_committed > 20, "{mode:?}: only {} blocks", o.blocks_committed);
    }
}
