//! Fault evidence from the wallet: a node whose signed receipt the certified block
//! contradicts is proven false (the block's receipt at that position, with its Merkle
//! proof, from an honest node) and the evidence is sent, sealed, to every other node
//! through every gateway; the report says whether it committed, whether the liar is out
//! of the set this wallet follows, and the certified mode after it.

use serde::Serialize;
use vigil_api::{BlockProof, ErrorCode, ReceiptAnswer, ReceiptProof, StatusHeight};
use vigil_protocol::encoding::to_bytes;
use vigil_protocol::{FaultEvidence, Hash32, NodeId, Payload, SecretKey, SignedTransaction, TxHash};

use super::{node_error, submit_request, Session, WalletError};
use crate::client::NodeAnswer;
use crate::detector::{self, Classification};
use crate::platform::Platform;

/// Evidence the wallet built and submitted against one node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EvidenceReport {
    pub offender: NodeId,
    pub evidence_tx: TxHash,
    /// Whether the evidence transaction committed.
    pub committed: bool,
    /// The offender is out of the validator set this wallet followed (certified change).
    pub jailed: bool,
    /// Mode of the first certified header after the evidence (`Bft` once switched).
    pub mode_after: Option<vigil_protocol::ConsensusMode>,
    pub detail: String,
}

/// What came of sending evidence: the first answer that settled it.
pub(super) struct Delivery {
    pub(super) detail: String,
    pub(super) committed: bool,
    pub(super) already_jailed: bool,
    pub(super) evidence_height: Option<vigil_protocol::Height>,
}

impl<T: Platform> Session<T> {
    /// Proves each node whose receipt disagrees with the agreeing ones false, with the
    /// help of an agreeing node, and submits the evidence: one report per liar.
    pub(super) async fn prove_liars(
        &mut self,
        key: &SecretKey,
        classification: &Classification,
    ) -> Result<Vec<EvidenceReport>, WalletError> {
        let mut evidence = Vec::new();
        let Some(honest) = classification.agreeing().cloned() else { return Ok(evidence) };
        let liars: Vec<_> = classification.disagreeing().cloned().collect();
        for liar in liars {
            let report = match self.prove(&honest.receipt.node, &liar).await {
                Ok(ev) => {
                    if !self.proven_false.contains(&liar.receipt.node) {
                        self.proven_false.push(liar.receipt.node);
                    }
                    self.submit_evidence(key, ev, &liar.receipt.node).await?
                }
                Err(e) => EvidenceReport {
                    offender: liar.receipt.node,
                    evidence_tx: Hash32([0; 32]),
                    committed: false,
                    jailed: false,
                    mode_after: None,
                    detail: format!("not proven: {e}"),
                },
            };
            evidence.push(report);
        }
        Ok(evidence)
    }

    /// Fetches what the certified block holds at the liar's position from `honest`
    /// and builds the evidence (checked as the chain checks it).
    pub(super) async fn prove(
        &mut self,
        honest: &NodeId,
        liar: &vigil_protocol::SignedReceipt,
    ) -> Result<FaultEvidence, WalletError> {
        let r = &liar.receipt;
        let path = format!("/v1/blocks/{}/receipts/{}", r.height, r.tx_index);
        let proof: ReceiptProof = self.read_from(honest, &path).await?.parse()?;
        Ok(detector::contradiction(
            &mut self.light,
            liar,
            &proof.certified_header_bcs.0,
            &proof.entry_bcs.0,
            &proof.proof_bcs.0,
        )?)
    }

    async fn submit_evidence(
        &mut self,
        key: &SecretKey,
        evidence: FaultEvidence,
        offender: &NodeId,
    ) -> Result<EvidenceReport, WalletError> {
        let tx = self.sign(key, Payload::FaultEvidence(Box::new(evidence)), 1).await?;
        let Delivery { detail, committed, already_jailed, evidence_height } = self.deliver(&tx, offender).await?;
        let mut mode_after = None;
        if committed || already_jailed {
            self.sync().await?;
            if let Some(h) = evidence_height {
                mode_after = self.certified_mode_after(h).await;
            }
        }
        let jailed = (committed || already_jailed) && self.light.current_set().get(offender).is_none();
        Ok(EvidenceReport { offender: *offender, evidence_tx: tx.hash(), committed, jailed, mode_after, detail })
    }

    /// Sends signed evidence against `offender` to every other node, through every
    /// gateway, and reads the first answer that settles it.
    pub(super) async fn deliver(&self, tx: &SignedTransaction, offender: &NodeId) -> Result<Delivery, WalletError> {
        let honest: Vec<NodeId> = self.nodes().into_iter().filter(|n| n != offender).collect();
        let request = submit_request(to_bytes(tx));
        let mut detail = String::from("no honest node took the evidence");
        let mut committed = false;
        let mut already_jailed = false;
        let mut evidence_height = None;
        // Every honest node at once, through every gateway, each copy sealed to its node:
        // a gateway that would drop it cannot tell evidence from any other request, and a
        // gateway or node that drops it is one route of several.
        for NodeAnswer { node, result } in self.send_sealed_everywhere(&honest, &request).await {
            match result {
                Ok(r)
                    if r.status == 409
                        && crate::client::error_code_of(&r.body) == Some(ErrorCode::OffenderNotInSet) =>
                {
                    // Someone proved it first: the chain has jailed it already.
                    already_jailed = true;
                    detail = format!("{} was already jailed (evidence from another reporter)", offender.short());
                    break;
                }
                Ok(r) if r.status == 200 || r.status == 409 => {
                    // A copy answered without a valid receipt settles nothing: another
                    // node, or another route, may still.
                    let receipt = match serde_json::from_slice::<ReceiptAnswer>(&r.body)
                        .map_err(|e| WalletError::BadAnswer(e.to_string()))
                        .and_then(|a| Ok(self.light.verify_receipt(&a.receipt_bcs.0)?))
                    {
                        Ok(receipt) => receipt,
                        Err(e) => {
                            detail = format!("{} answered {} without a valid receipt: {e}", node.short(), r.status);
                            continue;
                        }
                    };
                    committed = receipt.receipt.entry.status == vigil_protocol::TxStatus::Success;
                    evidence_height = Some(receipt.receipt.height);
                    detail = if committed {
                        format!(
                            "evidence committed at height {} (receipt signed by {})",
                            receipt.receipt.height,
                            node.short()
                        )
                    } else {
                        format!("evidence refused by the chain: {:?}", receipt.receipt.entry.status)
                    };
                    break;
                }
                Ok(r) => detail = node_error(r.status, &r.body).to_string(),
                Err(e) => detail = e.to_string(),
            }
        }
        Ok(Delivery { detail, committed, already_jailed, evidence_height })
    }

    /// The mode of the first certified header above `height` (verified by its
    /// certificate), waiting a few seconds for it to be committed.
    async fn certified_mode_after(&mut self, height: vigil_protocol::Height) -> Option<vigil_protocol::ConsensusMode> {
        let next = height.next();
        for _ in 0..20 {
            // The block is asked for only from a node that has committed it: polling for
            // a block that does not exist yet would fill a browser's console with 404s.
            if let Ok((node, status)) = self.read("/v1/status").await {
                if status.parse::<StatusHeight>().is_ok_and(|s| s.height >= next) {
                    let block: BlockProof =
                        self.read_from(&node, &format!("/v1/blocks/{next}")).await.ok()?.parse().ok()?;
                    return self.light.accept_header(&block.certified_header_bcs.0).ok().map(|(ch, _)| ch.header.mode);
                }
            }
            self.client.sleep(250).await;
        }
        None
    }
}
