//! The committed blocks a node keeps in memory: the most recent ones, which its
//! certificate checks, fork checks and sync of peers just behind it read. Older blocks
//! are on the caller's disk, and a peer further behind is served from there
//! ([`super::Output::SendStored`]): memory follows the window, not the chain.

use std::collections::VecDeque;

use vigil_protocol::Height;

use super::CommittedBlock;

/// Committed blocks kept in memory by default ([`super::Config::blocks_in_memory`]).
pub const BLOCKS_IN_MEMORY_MAX: usize = 512;

#[derive(Debug, Clone)]
pub(crate) struct RecentBlocks {
    /// Consecutive, oldest first, at most `capacity`.
    blocks: VecDeque<CommittedBlock>,
    capacity: usize,
}

impl RecentBlocks {
    /// The newest `capacity` of `blocks` (consecutive, oldest first).
    pub(crate) fn new(blocks: Vec<CommittedBlock>, capacity: usize) -> Self {
        let capacity = capacity.max(1);
        let skip = blocks.len().saturating_sub(capacity);
        Self { blocks: blocks.into_iter().skip(skip).collect(), capacity }
    }

    /// Height of the oldest block held.
    fn first(&self) -> Option<u64> {
        self.blocks.front().map(|cb| cb.block.header.height.0)
    }

    /// Adds the next committed block, forgetting the oldest beyond the window.
    pub(crate) fn push(&mut self, cb: CommittedBlock) {
        debug_assert!(
            self.blocks.back().is_none_or(|last| last.block.header.height.next() == cb.block.header.height),
            "committed blocks are consecutive"
        );
        self.blocks.push_back(cb);
        if self.blocks.len() > self.capacity {
            self.blocks.pop_front();
        }
    }

    /// The block at `height`, if it is in the window.
    pub(crate) fn get(&self, height: Height) -> Option<&CommittedBlock> {
        let index = height.0.checked_sub(self.first()?)?;
        self.blocks.get(usize::try_from(index).ok()?)
    }

    pub(crate) fn last(&self) -> Option<&CommittedBlock> {
        self.blocks.back()
    }

    /// Whether `height` is older than the window (committed, but only on disk).
    pub(crate) fn below(&self, height: Height) -> bool {
        self.first().is_some_and(|first| height.0 < first)
    }

    /// Up to `max` blocks from `from` on, if `from` is in the window.
    pub(crate) fn range(&self, from: Height, max: usize) -> Vec<CommittedBlock> {
        let Some(start) = self.first().and_then(|first| from.0.checked_sub(first)) else { return Vec::new() };
        let start = usize::try_from(start).unwrap_or(usize::MAX);
        self.blocks.iter().skip(start).take(max).cloned().collect()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &CommittedBlock> {
        self.blocks.iter()
    }
}
