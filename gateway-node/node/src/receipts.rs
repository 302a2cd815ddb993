//! This node's signed receipts: one signature per committed block
//! ([`BlockReceipts`]), made the first time a client asks for a receipt of that block
//! and kept for the blocks asked about last, so that the thousands of receipts a
//! second a loaded node hands out cost a Merkle path each, not a signature each.
//!
//! A block's statement is built once however many API threads ask at the same moment
//! (right after a commit, every waiting client does): the first builds it under that
//! block's own lock, the others wait for it. A receipt of an older block than those kept
//! rebuilds its block's statement from the stored entries: about what reading that
//! block costs, which any client may already ask for.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use vigil_protocol::{BlockHash, BlockReceipts, ChainId, Height, NodeId, ReceiptEntry, SecretKey, SignedReceipt};

use crate::storage::{StorageError, Store, TxRecord};

/// Receipt entries kept across the blocks whose statements are kept (about 11 MB; at
/// 9,000 transactions a second, the last 7 seconds of blocks): clients ask for a
/// receipt right after its commit.
pub const RECEIPTS_KEPT_MAX: usize = 1 << 16;
/// Blocks whose statements are kept, however small (empty blocks hold no receipts).
pub const BLOCKS_KEPT_MAX: usize = 1 << 12;

/// Fault injection (tests and demos only): what a lying node signs instead of the
/// result hash it computed.
const BYZANTINE_RESULT: &[u8] = b"byzantine";

type Slot = Arc<Mutex<Option<Arc<BlockReceipts>>>>;

#[derive(Debug)]
pub struct SignedBlocks {
    inner: Mutex<Inner>,
}

impl Default for SignedBlocks {
    fn default() -> Self {
        Self::with_bounds(RECEIPTS_KEPT_MAX, BLOCKS_KEPT_MAX)
    }
}

#[derive(Debug)]
struct Inner {
    /// Each block's slot, and how many receipts its built statement holds.
    blocks: BTreeMap<Height, (Slot, usize)>,
    /// The sum of those counts.
    kept: usize,
    receipts_max: usize,
    blocks_max: usize,
}

/// Who signs, and how: a node's identity and key, and whether it lies (fault injection).
pub struct Signer<'a> {
    pub chain_id: &'a ChainId,
    pub node: NodeId,
    pub key: &'a SecretKey,
    pub byzantine: bool,
}

impl SignedBlocks {
    /// Keeps at most `receipts_max` receipts' worth of statements, of at most
    /// `blocks_max` blocks (the newest built is always kept).
    pub fn with_bounds(receipts_max: usize, blocks_max: usize) -> Self {
        let inner = Inner { blocks: BTreeMap::new(), kept: 0, receipts_max, blocks_max };
        Self { inner: Mutex::new(inner) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// This node's signed receipt for a committed transaction; `None` if its block's
    /// stored receipts no longer hold it (pruned since the record was read).
    pub fn receipt(
        &self,
        store: &Store,
        signer: &Signer<'_>,
        record: &TxRecord,
    ) -> Result<Option<SignedReceipt>, StorageError> {
        let block = self.block(store, signer, record.height, record.block_hash)?;
        let Some(receipt) = block.receipt(record.index) else { return Ok(None) };
        // The block's statement was built from the same table the record was read from.
        Ok((receipt.receipt.entry.tx_hash == record.entry.tx_hash).then_some(receipt))
    }

    /// How many blocks' statements are kept.
    pub fn len(&self) -> usize {
        self.lock().blocks.len()
    }

    /// How many receipts the kept statements hold.
    pub fn receipts_kept(&self) -> usize {
        self.lock().kept
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn block(
        &self,
        store: &Store,
        signer: &Signer<'_>,
        height: Height,
        block_hash: BlockHash,
    ) -> Result<Arc<BlockReceipts>, StorageError> {
        let slot = self.lock().blocks.entry(height).or_default().0.clone();
        let mut built = slot.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(block) = built.as_ref().filter(|b| b.statement().block_hash == block_hash) {
            return Ok(block.clone());
        }
        let mut entries = store.block_receipts(height)?;
        if signer.byzantine {
            lie(&mut entries);
        }
        let block = Arc::new(BlockReceipts::sign(
            signer.chain_id.clone(),
            height,
            block_hash,
            entries,
            signer.node,
            signer.key,
        ));
        *built = Some(block.clone());
        drop(built);
        let mut inner = self.lock();
        let Inner { blocks, kept, .. } = &mut *inner;
        // Counted only if the slot is still the one kept (not evicted while built).
        if let Some((_, count)) = blocks.get_mut(&height).filter(|(s, _)| Arc::ptr_eq(s, &slot)) {
            *kept = *kept - (*count).min(*kept) + block.len();
            *count = block.len();
        }
        inner.evict(height);
        Ok(block)
    }
}

impl Inner {
    /// Drops the oldest statements (never `just_built`) until the bounds hold.
    fn evict(&mut self, just_built: Height) {
        while self.kept > self.receipts_max || self.blocks.len() > self.blocks_max {
            let Some(oldest) = self.blocks.keys().copied().find(|h| *h != just_built) else { return };
            if let Some((_, count)) = self.blocks.remove(&oldest) {
                self.kept -= count.min(self.kept);
            }
        }
    }
}

fn lie(entries: &mut [ReceiptEntry]) {
    for entry in entries {
        tracing::warn!(tx = %entry.tx_hash, "FAULT INJECTION: signing a receipt with a wrong result hash");
        entry.result_hash = vigil_protocol::hash::hash(vigil_protocol::Domain::ExecutionResult, BYZANTINE_RESULT);
    }
}
