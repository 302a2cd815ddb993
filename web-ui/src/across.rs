//! The web wallet's reads and sends for transfers across chains: each on the session of
//! the chain it concerns, so every step is verified in this tab against that chain's own
//! certified header (the wallet follows both chains).

use vigil_protocol::crosschain::{CrossAsset, CrossTransfer, Packet, PacketTimeout};
use vigil_protocol::{Address, Amount, ChainId, Height, SecretKey};
use vigil_wallet::light::{Verification, VerifiedAccount};
use vigil_wallet::session::crosschain::{watch_packet, CrossSent, PacketWatch};

use crate::chain::Chain;
use crate::error::UiError;

/// What the Across form asks for.
#[derive(Debug, Clone)]
pub struct AcrossOrder {
    pub to: Address,
    pub asset: CrossAsset,
    pub amount: u64,
    pub relayer_fee: u64,
    pub fee: u64,
    /// The timeout, in blocks of the source chain after its newest certified height.
    pub timeout_blocks: u64,
}

/// One chain's side of this account, proven on it: its own coin, and its vouchers of the
/// other chain's.
#[derive(Debug, Clone, PartialEq)]
pub struct Holdings {
    pub chain: ChainId,
    pub account: VerifiedAccount,
    pub vouchers: u64,
    pub vouchers_verified: Verification,
}

impl Chain {
    pub fn chain_id(&self) -> ChainId {
        self.genesis.chain_id.clone()
    }

    /// Sends `order` to `to_chain`, its timeout counted from this chain's newest proven
    /// height; the nodes' receipts and the packet committed.
    pub async fn send_across(
        &self,
        key: &SecretKey,
        to_chain: ChainId,
        order: AcrossOrder,
    ) -> Result<CrossSent, UiError> {
        let mut s = self.session.hold().await;
        let newest = s.proven_height().await?;
        let transfer = CrossTransfer {
            to_chain,
            to: order.to,
            asset: order.asset,
            amount: Amount(order.amount),
            relayer_fee: Amount(order.relayer_fee),
            timeout: PacketTimeout {
                height: Height(0),
                source_height: Height(newest.0.saturating_add(order.timeout_blocks)),
            },
        };
        Ok(s.cross_transfer(key, transfer, order.fee).await?)
    }

    /// `me` on this chain: its balance, and its vouchers of `other`'s coin, each proven.
    pub async fn holdings(&self, me: &Address, other: &ChainId) -> Result<Holdings, UiError> {
        let mut s = self.session.hold().await;
        let account = s.account(me).await?;
        let (vouchers, vouchers_verified) = s.vouchers(other, me).await?;
        Ok(Holdings { chain: self.chain_id(), account, vouchers, vouchers_verified })
    }
}

/// Where `packet` stands: read on `source` and on `destination`, each verified by its own
/// chain's light client.
pub async fn watch(source: &Chain, destination: &Chain, packet: &Packet) -> Result<PacketWatch, UiError> {
    let mut a = source.session.hold().await;
    let mut b = destination.session.hold().await;
    Ok(watch_packet(&mut a, &mut b, packet).await?)
}
