//! A wallet's light client in the simulated network, fed by a malicious gateway.
//!
//! The gateway keeps every certified header any node committed (both sides of a fork,
//! blocks of sets since retired, the Byzantine validators' own), and at each sync serves
//! the light client the set changes of a node of its choice and a few headers in any
//! order. It also holds the keys of every retired set (validators that left owe the
//! chain nothing, and jailed ones are Byzantine: a long-range attacker buys them) and
//! forges with them a header the set in force would have to sign: above the set's
//! retirement, or in the mode the chain was not in. The real
//! [`vigil_wallet::light::LightClient`] decides what to accept; the simulator checks
//! what it accepted against the network's truth:
//! - only the set in force at a header's height certifies it, as the set changes
//!   followed say (a retired set certifies nothing above its retirement: finding 4 of
//!   issue 14);
//! - modes only go from Fast to Bft;
//! - while no fork is possible, an accepted header is the honest chain's block.

use std::collections::BTreeMap;

use rand::Rng;
use vigil_protocol::{
    encoding, BlockHash, CertifiedHeader, ConsensusMode, Hash32, Height, QuorumCert, SetChange, ValidatorSet, View,
    VoteData, VoteKind,
};
use vigil_wallet::light::{LightClient, LightError};

use super::World;

/// Certified headers the malicious gateway keeps (the highest ones).
pub(super) const LIGHT_POOL_MAX: usize = 1_024;
/// Virtual time between two syncs of the light client.
pub(super) const LIGHT_SYNC_INTERVAL_MS: u64 = 400;
/// Headers the gateway serves per sync (one node's newest, the rest from its pool).
const LIGHT_HEADERS_PER_SYNC: usize = 3;
/// How far above a retired set's last height the forger claims a header.
const FORGED_HEIGHT_AHEAD_MAX: u64 = 1_000_000;

/// The light client and what the gateway feeding it knows.
pub(super) struct LightFollower {
    client: LightClient,
    /// Every certified header committed anywhere, by (height, hash).
    pool: BTreeMap<(Height, BlockHash), CertifiedHeader>,
    /// The sets the client followed, with the first height each certifies, oldest
    /// first, the genesis set at height 1.
    followed: Vec<(Height, ValidatorSet)>,
    /// The highest Fast and lowest Bft header accepted.
    fast_max: Option<Height>,
    bft_min: Option<Height>,
    /// Accepted headers not yet compared with the honest chain (it had not got there).
    unchecked: Vec<(Height, BlockHash)>,
}

impl LightFollower {
    pub(super) fn new(world_genesis: &vigil_protocol::Genesis) -> Self {
        let set = &world_genesis.validators;
        let client = LightClient::new(world_genesis.chain_id.clone(), &encoding::to_bytes(set), &set.hash())
            .unwrap_or_else(|e| unreachable!("the sim's genesis set is pinned by its own hash: {e}"));
        Self {
            client,
            pool: BTreeMap::new(),
            followed: vec![(Height(1), set.clone())],
            fast_max: None,
            bft_min: None,
            unchecked: Vec::new(),
        }
    }

    /// The gateway saw a certified header (any node's commit).
    pub(super) fn saw(&mut self, header: CertifiedHeader) {
        self.pool.insert((header.header.height, header.header.hash()), header);
        while self.pool.len() > LIGHT_POOL_MAX {
            self.pool.pop_first();
        }
    }

    /// The set hash the followed changes put in force at `height`.
    fn expected_set(&self, height: Height) -> Hash32 {
        let i = self.followed.iter().rposition(|(from, _)| *from <= height).unwrap_or(0);
        self.followed[i].1.hash()
    }
}

impl World {
    /// One sync of the light client through the malicious gateway.
    pub(super) fn light_sync(&mut self) {
        let running: Vec<usize> = (0..self.nodes.len()).filter(|i| self.nodes[*i].node.is_some()).collect();
        if running.is_empty() {
            return;
        }
        let source = running[self.rng.gen_range(0..running.len())];
        let changes = self.set_changes_of(source);
        if let Ok(true) = self.light.client.follow(&encoding::to_bytes(&changes)) {
            self.light.followed.truncate(1);
            let steps = changes.iter().map(|c| (c.certified.header.height.next(), c.next.clone()));
            self.light.followed.extend(steps);
        }
        let mut offered = Vec::new();
        if let Some(cb) = self.nodes[source].disk.blocks.last() {
            offered.push(cb.certified_header());
        }
        let pool: Vec<&CertifiedHeader> = self.light.pool.values().collect();
        while !pool.is_empty() && offered.len() < LIGHT_HEADERS_PER_SYNC {
            offered.push(pool[self.rng.gen_range(0..pool.len())].clone());
        }
        if let Some(forged) = self.forge_with_retired_keys() {
            self.faults.light_forged += 1;
            offered.push(forged);
        }
        for ch in offered {
            match self.light.client.accept_header(&encoding::to_bytes(&ch)) {
                Ok(_) => self.light_accepted(&ch),
                Err(LightError::SetNotInForce { .. }) => self.faults.light_retired_set += 1,
                Err(LightError::ModeRegression { .. }) => self.faults.light_mode_regression += 1,
                Err(_) => self.faults.light_refused += 1,
            }
        }
        self.light_check_chain();
    }

    /// A header only the set in force could sign, signed by every key of a retired set
    /// instead: above the set's last height (any mode), or within its heights in the
    /// mode the light client has seen the chain leave or not yet enter. `None` while no
    /// set has retired, or no such height exists.
    fn forge_with_retired_keys(&mut self) -> Option<CertifiedHeader> {
        let template = self.light.pool.values().next_back()?.header.clone();
        let followed = &self.light.followed;
        if followed.len() < 2 {
            return None;
        }
        let i = self.rng.gen_range(0..followed.len() - 1);
        let (from, set) = (followed[i].0, followed[i].1.clone());
        let retired_at = followed[i + 1].0;
        let mut header = template;
        // Within the set's own heights, a header in the mode the chain was in there is
        // one the set could honestly have signed: only a mode against what the client
        // accepted must be refused. Ranges are [low, high).
        let mut wrong_mode = Vec::new();
        if let Some(b) = self.light.bft_min.filter(|b| *b < retired_at) {
            wrong_mode.push((b.max(from), retired_at, ConsensusMode::Fast));
        }
        if let Some(f) = self.light.fast_max.filter(|f| *f >= from) {
            wrong_mode.push((from, f.next().min(retired_at), ConsensusMode::Bft));
        }
        let (height, mode) = if !wrong_mode.is_empty() && self.rng.gen_bool(0.5) {
            let (low, high, mode) = wrong_mode[self.rng.gen_range(0..wrong_mode.len())];
            (Height(self.rng.gen_range(low.0..high.0)), mode)
        } else {
            let mode = if self.rng.gen_bool(0.5) { ConsensusMode::Fast } else { ConsensusMode::Bft };
            (Height(retired_at.0 + self.rng.gen_range(0..FORGED_HEIGHT_AHEAD_MAX)), mode)
        };
        header.height = height;
        header.mode = mode;
        header.validator_set_hash = set.hash();
        header.next_validator_set_hash = set.hash();
        header.state_root = Hash32([0xf0; 32]);
        header.view = View(0);
        let kind = match mode {
            ConsensusMode::Fast => VoteKind::Ack,
            ConsensusMode::Bft => VoteKind::Precommit,
        };
        let data =
            VoteData { chain_id: header.chain_id.clone(), height, view: View(0), block_hash: header.hash(), kind };
        let votes: Vec<_> = set
            .validators()
            .iter()
            .filter_map(|v| self.nodes.iter().find(|n| n.id == v.id).map(|n| data.sign(v.id, &n.key)))
            .collect();
        let cert = QuorumCert::from_verified_votes(data, &votes, &set).ok()?;
        Some(CertifiedHeader { header, cert })
    }

    /// The chain of set changes node `i` would serve (as `/v1/validators` does): each
    /// later set with the certified block that committed it.
    fn set_changes_of(&self, i: usize) -> Vec<SetChange> {
        self.nodes[i].node.as_ref().map(|node| node.set_changes().to_vec()).unwrap_or_default()
    }

    fn light_accepted(&mut self, ch: &CertifiedHeader) {
        let (height, mode, hash) = (ch.header.height, ch.header.mode, ch.header.hash());
        let expected = self.light.expected_set(height);
        if ch.header.validator_set_hash != expected {
            self.violate(format!(
                "the light client accepted header {height} certified by set {}, but the set changes it followed put {expected} in force there",
                ch.header.validator_set_hash
            ));
        }
        let regression = match mode {
            ConsensusMode::Fast => self.light.bft_min.filter(|b| *b <= height),
            ConsensusMode::Bft => self.light.fast_max.filter(|f| *f >= height),
        };
        if let Some(other) = regression {
            self.violate(format!(
                "the light client accepted a {mode} header at {height} against an accepted header of the other mode at {other}: modes only go from Fast to Bft"
            ));
        }
        match mode {
            ConsensusMode::Fast => self.light.fast_max = self.light.fast_max.max(Some(height)),
            ConsensusMode::Bft => self.light.bft_min = Some(self.light.bft_min.map_or(height, |b| b.min(height))),
        }
        self.faults.light_accepted += 1;
        self.light.unchecked.push((height, hash));
    }

    /// While no fork is possible, every header the light client accepted is the block
    /// honest nodes committed at its height (checked once they got there).
    pub(super) fn light_check_chain(&mut self) {
        if self.fast_fork_possible() {
            self.light.unchecked.clear();
            return;
        }
        let mut wrong = Vec::new();
        let chain = &self.chain;
        self.light.unchecked.retain(|(height, hash)| match chain.get(height) {
            Some(honest) if honest != hash => {
                wrong.push(format!(
                    "the light client accepted block {hash} at height {height}, but honest nodes committed {honest}"
                ));
                false
            }
            Some(_) => false,
            None => true,
        });
        for what in wrong {
            self.violate(what);
        }
    }
}
