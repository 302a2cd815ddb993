//! The chain as a center process sees it: state entries read through a gateway, each
//! proven against a certified header by the wallet core's light client, all at one
//! height ([`ProvenView`]). A step asks for what it needs; what it asked for and was not
//! read is read next, and the step taken again, so a step never decides on a guess.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use serde::de::DeserializeOwned;
use vigil_api::STATE_KEYS_MAX;
use vigil_protocol::encoding::from_bytes;
use vigil_protocol::{ChainId, Height, StateKey};
use vigil_wallet::platform::Platform;
use vigil_wallet::session::{Session, WalletError};

use crate::center::ChainView;

/// Reads of more keys than one request carries made again when the batches rest on
/// different heights (the chain moved on between two of them).
pub const SAME_HEIGHT_TRIES: usize = 6;

/// State entries proven at one certified height.
pub struct ProvenView {
    chain_id: ChainId,
    height: Height,
    /// `None`: proven absent.
    entries: BTreeMap<StateKey, Option<Vec<u8>>>,
    /// Every key asked for, read or not.
    asked: RefCell<BTreeSet<StateKey>>,
    /// Keys asked for that were not read: the view is not enough for the step.
    missed: RefCell<BTreeSet<StateKey>>,
}

#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    #[error(transparent)]
    Wallet(#[from] WalletError),
    #[error("the chain moved on during each of {SAME_HEIGHT_TRIES} reads of {keys} entries; it will be read again")]
    NoCommonHeight { keys: usize },
}

impl ProvenView {
    /// Reads `keys`, each proven, all at one height (`POST /v1/states`, in batches of at
    /// most [`STATE_KEYS_MAX`]; batches that rest on different heights are read again).
    pub async fn read<P: Platform>(
        session: &mut Session<P>,
        keys: &BTreeSet<StateKey>,
    ) -> Result<ProvenView, FollowError> {
        Self::read_after(session, keys, None).await
    }

    /// [`ProvenView::read`] at a height above `after`, as soon as the node committed one
    /// (or, after the node's wait, at the height it has): a long poll.
    pub async fn read_after<P: Platform>(
        session: &mut Session<P>,
        keys: &BTreeSet<StateKey>,
        mut after: Option<Height>,
    ) -> Result<ProvenView, FollowError> {
        let keys: Vec<StateKey> = keys.iter().cloned().collect();
        for _ in 0..SAME_HEIGHT_TRIES {
            let mut entries = BTreeMap::new();
            let mut heights = BTreeSet::new();
            for batch in keys.chunks(STATE_KEYS_MAX) {
                // Only the first read waits: the others are to land on its height.
                let (values, verification) = session.proven_many_after(batch, after.take()).await?;
                heights.insert(verification.height);
                entries.extend(batch.iter().cloned().zip(values));
            }
            if heights.len() <= 1 {
                let height = heights.into_iter().next().flatten().unwrap_or_default();
                return Ok(ProvenView {
                    chain_id: session.chain_id().clone(),
                    height,
                    entries,
                    asked: RefCell::default(),
                    missed: RefCell::default(),
                });
            }
        }
        Err(FollowError::NoCommonHeight { keys: keys.len() })
    }

    /// The keys a step asked for (to read next time).
    pub fn asked(&self) -> BTreeSet<StateKey> {
        self.asked.borrow().clone()
    }

    /// The keys a step asked for that this view did not hold.
    pub fn missed(&self) -> BTreeSet<StateKey> {
        self.missed.borrow().clone()
    }

    /// The raw entry, if read (`Some(None)`: proven absent).
    pub fn entry(&self, key: &StateKey) -> Option<Option<&[u8]>> {
        self.entries.get(key).map(|v| v.as_deref())
    }
}

impl ChainView for ProvenView {
    fn get<T: DeserializeOwned>(&self, key: &StateKey) -> Option<T> {
        self.asked.borrow_mut().insert(key.clone());
        match self.entries.get(key) {
            Some(Some(bytes)) => from_bytes(bytes).ok(),
            Some(None) => None,
            None => {
                self.missed.borrow_mut().insert(key.clone());
                None
            }
        }
    }

    fn chain_id(&self) -> ChainId {
        self.chain_id.clone()
    }

    fn height(&self) -> Height {
        self.height
    }

    fn complete(&self) -> bool {
        self.missed.borrow().is_empty()
    }
}
