//! Transfers from the wallet: an account's balance and nonce proven against a certified
//! header and cross-checked by a second node's newest certified height, and a transfer
//! signed with that nonce and sent to every node.

use vigil_api::{BlockProof, StatusHeight};
use vigil_protocol::{Address, Amount, NodeId, Payload, SecretKey, Transfer};

use super::{state_answer, Session, TransferReport, WalletError, CROSS_CHECK_NODES_MAX};
use crate::light::{CrossCheck, LightError, VerifiedAccount};
use crate::platform::Platform;

impl<T: Platform> Session<T> {
    /// An account's balance and nonce, proven against a certified header, and
    /// cross-checked: a second node proves its newest height, so state more than
    /// `STATE_LAG_MAX_BLOCKS` behind it is refused as stale and read again from that node
    /// (a node or gateway cannot show an old balance, or have the wallet sign with an old
    /// nonce, while another node answers).
    pub async fn account(&mut self, address: &Address) -> Result<VerifiedAccount, WalletError> {
        let path = format!("/v1/accounts/{address}");
        let (node, a) = self.read_state(&path).await?;
        let cross_check = self.newest_elsewhere(&node).await;
        let verified = self.light.verify_account(address, a.value.as_deref(), &a.proof, &a.certified_header);
        let mut verified = match (verified, &cross_check) {
            (Err(LightError::StaleState { .. }), Some(newer)) => {
                let a = state_answer(self.read_from(&newer.node, &path).await?.parse()?)?;
                self.light.verify_account(address, a.value.as_deref(), &a.proof, &a.certified_header)?
            }
            (verified, _) => verified?,
        };
        verified.verification.cross_check = cross_check;
        Ok(verified)
    }

    /// The newest height a node other than `except` proves: its status names a height,
    /// and the certified header at that height is verified (which raises the newest
    /// height this wallet knows). A claim without a valid certificate proves nothing and
    /// the next node is asked; `None` if none could prove one.
    async fn newest_elsewhere(&mut self, except: &NodeId) -> Option<CrossCheck> {
        let others: Vec<NodeId> =
            self.read_order().into_iter().filter(|n| n != except).take(CROSS_CHECK_NODES_MAX).collect();
        self.newest_proven(others).await
    }

    /// The newest height the first of `nodes` that can prove one proves (its status,
    /// then its certified header at that height, verified); `None` if none could.
    pub(super) async fn newest_proven(&mut self, nodes: Vec<NodeId>) -> Option<CrossCheck> {
        for node in nodes {
            let Ok(status) = self.read_from(&node, "/v1/status").await.and_then(|a| a.parse::<StatusHeight>()) else {
                continue;
            };
            let height = status.height;
            if height.0 == 0 {
                continue;
            }
            let block = self.read_from(&node, &format!("/v1/blocks/{height}")).await;
            let Ok(block) = block.and_then(|a| a.parse::<BlockProof>()) else {
                continue;
            };
            if let Ok((header, _)) = self.light.accept_header(&block.certified_header_bcs.0) {
                return Some(CrossCheck { node, height: header.header.height });
            }
        }
        None
    }

    /// Transfers `amount` to `to`: verified nonce, signed here, sent to every node.
    pub async fn transfer(
        &mut self,
        key: &SecretKey,
        to: Address,
        amount: u64,
        fee: u64,
    ) -> Result<TransferReport, WalletError> {
        let tx = self.sign(key, Payload::Transfer(Transfer { to, amount: Amount(amount) }), fee).await?;
        self.submit_everywhere(key, &tx).await
    }
}
