//! Starting the light client from a stable checkpoint instead of following every
//! validator-set change from genesis: the newest checkpoint a node serves
//! (`/v1/checkpoints/latest`, read like every other read: one node at a time, through
//! the gateways in turn), verified against the pin ([`CheckpointPin`]: a set, with the
//! chain's set changes up to it from that node's `/v1/validators`, or the digest's hash);
//! then the set changes after it, and a bound on its age: the newest height another node
//! proves with a certified header may be at most `age_max_blocks` above it.

use vigil_api::{CheckpointProof, ValidatorsProof};
use vigil_protocol::NodeId;

use super::{Session, WalletError, CROSS_CHECK_NODES_MAX};
use crate::light::{CheckpointPin, CheckpointStart, LightClient, LightError};
use crate::platform::Platform;

const LATEST: &str = "/v1/checkpoints/latest";

impl<T: Platform> Session<T> {
    /// Replaces this session's light client with one started from the newest stable
    /// checkpoint a node serves, verified against `pin`, and checks it is at most
    /// `age_max_blocks` behind the newest certified header verified (see
    /// [`crate::light::CHECKPOINT_AGE_MAX_BLOCKS`]). The nodes a gateway routes to are
    /// asked one after another until one serves a checkpoint that verifies, so one node serving a
    /// forged or old one cannot stop the start; if none does, the first refusal is the
    /// error (or [`WalletError::NoCheckpoint`] when none serves one yet). On any error
    /// the session keeps the light client it had.
    pub async fn start_from_checkpoint(
        &mut self,
        pin: &CheckpointPin,
        age_max_blocks: u64,
    ) -> Result<CheckpointStart, WalletError> {
        let (served_by, light) = self.verified_checkpoint(pin).await?;
        let previous = std::mem::replace(&mut self.light, light);
        let started = self.bound_age(&served_by, age_max_blocks).await;
        if started.is_err() {
            self.light = previous;
        }
        started
    }

    /// The first checkpoint a node serves that verifies against `pin`, as a light client
    /// started from it, and the node that served it.
    async fn verified_checkpoint(&self, pin: &CheckpointPin) -> Result<(NodeId, LightClient), WalletError> {
        let (mut refused, mut none_yet, mut last) = (None, false, WalletError::NoValidator);
        // A node no gateway routes to (jailed since, or down) is not asked, unless none is
        // known to be routed.
        let order = self.read_order();
        let routed: Vec<NodeId> = order.iter().copied().filter(|n| self.client.reachable(n)).collect();
        for node in if routed.is_empty() { order } else { routed } {
            match self.checkpoint_from(&node, pin).await {
                Ok(light) => return Ok((node, light)),
                Err(e @ WalletError::Light(_)) => {
                    refused.get_or_insert(e);
                }
                Err(WalletError::NoCheckpoint) => none_yet = true,
                Err(e) => last = e,
            }
        }
        Err(refused.unwrap_or(if none_yet { WalletError::NoCheckpoint } else { last }))
    }

    /// `node`'s newest stable checkpoint, verified against `pin`.
    async fn checkpoint_from(&self, node: &NodeId, pin: &CheckpointPin) -> Result<LightClient, WalletError> {
        // A pinned digest is asked for by its hash (nodes keep the newest few), so a pin a
        // checkpoint or two old still finds it; one the node does not keep is checked
        // against its newest, which names the mismatch.
        let by_hash = match pin {
            CheckpointPin::Hash(hash) => match self.read_from(node, &format!("/v1/checkpoints/{hash}")).await {
                Err(WalletError::Node { code, .. }) if code == "NOT_FOUND" => None,
                answer => Some(answer),
            },
            CheckpointPin::Set(_) => None,
        };
        let answer = match by_hash {
            Some(answer) => answer,
            None => self.read_from(node, LATEST).await,
        };
        let proof: CheckpointProof = match answer {
            Err(WalletError::Node { code, .. }) if code == "NOT_FOUND" => return Err(WalletError::NoCheckpoint),
            answer => answer?.parse()?,
        };
        let changes = match pin {
            CheckpointPin::Set(_) => Some(self.read_from(node, "/v1/validators").await?.parse::<ValidatorsProof>()?),
            CheckpointPin::Hash(_) => None,
        };
        Ok(LightClient::from_checkpoint(
            self.chain_id().clone(),
            pin,
            &proof.checkpoint_bcs.0,
            &proof.validators_bcs.0,
            changes.as_ref().map(|c| c.changes_bcs.0.as_slice()),
        )?)
    }

    /// Follows the set changes after the checkpoint, has other nodes than the one that
    /// served it prove their newest height (that node last), and refuses a checkpoint
    /// more than `max` blocks behind it.
    async fn bound_age(&mut self, served_by: &NodeId, max: u64) -> Result<CheckpointStart, WalletError> {
        self.sync().await?;
        let mut nodes: Vec<NodeId> =
            self.read_order().into_iter().filter(|n| n != served_by).take(CROSS_CHECK_NODES_MAX).collect();
        nodes.push(*served_by);
        self.newest_proven(nodes).await.ok_or(WalletError::NoValidator)?;
        let height = self.light.first_height();
        let newest = self.light.newest_height();
        let age = newest.0.saturating_sub(height.0);
        if age > max {
            return Err(LightError::CheckpointTooOld { height, newest, age, max }.into());
        }
        self.light.set_checkpoint_age(newest).ok_or(WalletError::NoCheckpoint)
    }
}

#[cfg(test)]
mod tests;
