//! The fault detector: what the wallet does with the answers of several nodes to one
//! transaction. Each answer is classified (agrees / disagrees / bad signature / silent /
//! timed out); a node whose signed receipt contradicts the certified block is proven
//! faulty with [`FaultEvidence::ReceiptContradictsBlock`], a node that signed two
//! different receipts for one transaction with [`FaultEvidence::Equivocation`]. Evidence
//! is checked here exactly as the chain will check it before it is offered for
//! submission. No I/O: the gateway client feeds answers in and takes evidence out.

use std::collections::BTreeMap;

use serde::Serialize;
use vigil_protocol::evidence::{ContradictedReceipt, SignedStatement};
use vigil_protocol::{
    encoding, BlockHash, EvidenceError, FaultEvidence, Hash32, MerkleProof, NodeId, ReceiptEntry, SignedReceipt, TxHash,
};

use crate::light::{LightClient, LightError};

/// What one node answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// A signed receipt (BCS).
    Receipt(Vec<u8>),
    /// No receipt: the gateway's or the node's error code and message.
    Error { code: String, message: String },
}

/// The verdict on one node for one transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", content = "detail", rename_all = "snake_case")]
pub enum Verdict {
    /// Signed the receipt the majority of valid receipts (and, once checked, the
    /// certified block) holds.
    Agrees,
    /// Signed a different result.
    Disagrees,
    /// The receipt's signature, signer or transaction is not right.
    BadSignature(String),
    /// Answered without a receipt.
    Silent(String),
    /// Did not answer in time.
    TimedOut,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeReport {
    pub node: NodeId,
    #[serde(flatten)]
    pub verdict: Verdict,
    #[serde(skip)]
    pub receipt: Option<SignedReceipt>,
}

/// Every node's verdict on one transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Classification {
    pub tx_hash: TxHash,
    pub reports: Vec<NodeReport>,
    /// The entry most valid receipts carry (before the certified block settles it).
    pub majority: Option<ReceiptEntry>,
}

impl Classification {
    /// Nodes whose valid signed receipt differs from the majority.
    pub fn disagreeing(&self) -> impl Iterator<Item = &SignedReceipt> {
        self.reports.iter().filter(|r| r.verdict == Verdict::Disagrees).filter_map(|r| r.receipt.as_ref())
    }

    /// A receipt of an agreeing node: where to look for the certified block.
    pub fn agreeing(&self) -> Option<&SignedReceipt> {
        self.reports.iter().filter(|r| r.verdict == Verdict::Agrees).find_map(|r| r.receipt.as_ref())
    }
}

/// Why evidence could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DetectorError {
    #[error(transparent)]
    Light(#[from] LightError),
    #[error("the certified block agrees with this receipt: nothing to prove")]
    NoContradiction,
    #[error("the proof does not place this entry at the receipt's position in the certified block")]
    BadProof,
    #[error("the header is for height {found}, the receipt for {expected}")]
    WrongHeight { expected: u64, found: u64 },
    /// The receipt speaks of another block at its height than the certified one: either
    /// the chain forked (the node may be honest, on the other side) or the node names a
    /// block that was never certified. Neither is proof against it.
    #[error("the receipt names block {receipt} at its height, the certified block there is {certified}: not provable")]
    OtherBlock { receipt: String, certified: String },
    #[error("the chain would reject this evidence: {0}")]
    Rejected(#[from] EvidenceError),
}

/// Classifies the answers of several nodes to transaction `tx_hash`.
pub fn classify(light: &LightClient, tx_hash: &TxHash, answers: &[(NodeId, Answer)]) -> Classification {
    let mut reports = Vec::with_capacity(answers.len());
    for (node, answer) in answers {
        let report = |verdict, receipt| NodeReport { node: *node, verdict, receipt };
        reports.push(match answer {
            Answer::Error { code, .. } if code == "NODE_TIMEOUT" => report(Verdict::TimedOut, None),
            Answer::Error { code, message } => report(Verdict::Silent(format!("{code}: {message}")), None),
            Answer::Receipt(bytes) => match light.verify_receipt(bytes) {
                Err(e) => report(Verdict::BadSignature(e.to_string()), None),
                Ok(r) if r.receipt.node != *node => {
                    report(Verdict::BadSignature(format!("signed by {} instead", r.receipt.node)), None)
                }
                Ok(r) if r.receipt.entry.tx_hash != *tx_hash => {
                    report(Verdict::BadSignature("a receipt for another transaction".into()), None)
                }
                // Provisional: settled against the majority below.
                Ok(r) => report(Verdict::Agrees, Some(r)),
            },
        });
    }
    // Receipts agree when they name the same block and place the same entry in it.
    let mut counts: BTreeMap<Vec<u8>, (usize, (BlockHash, ReceiptEntry))> = BTreeMap::new();
    for r in reports.iter().filter_map(|r| r.receipt.as_ref()) {
        let x = &r.receipt;
        let key = encoding::to_bytes(&(x.height, x.block_hash, x.tx_index, &x.entry));
        counts.entry(key).or_insert((0, (x.block_hash, x.entry.clone()))).0 += 1;
    }
    let best = counts.values().map(|(n, _)| *n).max().unwrap_or(0);
    let leaders: Vec<&(BlockHash, ReceiptEntry)> =
        counts.values().filter(|(n, _)| *n == best).map(|(_, e)| e).collect();
    // A tie has no majority: everyone stays provisional until the certified block decides.
    let majority = (leaders.len() == 1).then(|| leaders[0].clone());
    if let Some((block, entry)) = &majority {
        for r in &mut reports {
            if r.receipt.as_ref().is_some_and(|x| (&x.receipt.block_hash, &x.receipt.entry) != (block, entry)) {
                r.verdict = Verdict::Disagrees;
            }
        }
    }
    Classification { tx_hash: *tx_hash, reports, majority: majority.map(|(_, entry)| entry) }
}

/// Proves that `receipt` contradicts the certified block: `certified_bcs` is the block's
/// certified header, `entry` and `proof_bcs` what the block holds at the receipt's
/// position (as a node's `/v1/blocks/{h}/receipts/{i}` gives them; any node will do,
/// the certificate and the proof are what count).
pub fn contradiction(
    light: &mut LightClient,
    receipt: &SignedReceipt,
    certified_bcs: &[u8],
    entry_bcs: &[u8],
    proof_bcs: &[u8],
) -> Result<FaultEvidence, DetectorError> {
    let (certified, _) = light.accept_header(certified_bcs)?;
    let r = &receipt.receipt;
    if certified.header.height != r.height {
        return Err(DetectorError::WrongHeight { expected: r.height.0, found: certified.header.height.0 });
    }
    if certified.header.hash() != r.block_hash {
        return Err(DetectorError::OtherBlock {
            receipt: r.block_hash.to_string(),
            certified: certified.header.hash().to_string(),
        });
    }
    let entry: ReceiptEntry = encoding::from_bytes(entry_bcs).map_err(LightError::from)?;
    let proof: MerkleProof = encoding::from_bytes(proof_bcs).map_err(LightError::from)?;
    if proof.index != u64::from(r.tx_index)
        || proof.verify(&entry.leaf_hash(), &certified.header.receipts_root).is_err()
    {
        return Err(DetectorError::BadProof);
    }
    if entry == r.entry {
        return Err(DetectorError::NoContradiction);
    }
    let evidence = FaultEvidence::ReceiptContradictsBlock(Box::new(ContradictedReceipt {
        receipt: receipt.clone(),
        certified,
        certified_entry: entry,
        proof,
    }));
    check(light, &evidence)?;
    Ok(evidence)
}

/// Two different receipts signed by one node for one transaction.
pub fn equivocation(
    light: &LightClient,
    first: &SignedReceipt,
    second: &SignedReceipt,
) -> Result<FaultEvidence, DetectorError> {
    let evidence = FaultEvidence::Equivocation {
        first: SignedStatement::Receipt(first.clone()),
        second: SignedStatement::Receipt(second.clone()),
    };
    check(light, &evidence)?;
    Ok(evidence)
}

/// Runs the chain's own check on evidence (the set that certified its height).
fn check(light: &LightClient, evidence: &FaultEvidence) -> Result<(), DetectorError> {
    let set = light.set_at(evidence.height()).ok_or(LightError::UnknownSet(Hash32([0; 32])))?;
    evidence.verify(light.chain_id(), set)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use vigil_protocol::encoding::to_bytes;
    use vigil_protocol::{
        Block, BlockHeader, CertifiedHeader, ChainId, ConsensusMode, EncryptionKey, Height, P2pKey, QuorumCert,
        Receipt, SecretKey, TxStatus, ValidatorInfo, ValidatorSet, View, VoteData, VoteKind,
    };

    use super::*;

    struct World {
        keys: Vec<SecretKey>,
        set: ValidatorSet,
        light: LightClient,
        entries: Vec<ReceiptEntry>,
        certified: CertifiedHeader,
    }

    fn chain() -> ChainId {
        ChainId::new("vigil-test").unwrap()
    }

    fn world() -> World {
        let keys: Vec<SecretKey> = (1..=4u8).map(|i| SecretKey::from_seed([i; 32])).collect();
        let set = ValidatorSet::new(
            keys.iter()
                .map(|k| ValidatorInfo::new("v", k.public_key(), EncryptionKey([0; 32]), P2pKey([0xff; 32])))
                .collect(),
        )
        .unwrap();
        let entries: Vec<ReceiptEntry> = (0..3u8)
            .map(|i| ReceiptEntry {
                tx_hash: Hash32([i; 32]),
                status: TxStatus::Success,
                result_hash: Hash32([i + 10; 32]),
            })
            .collect();
        let header = BlockHeader {
            chain_id: chain(),
            height: Height(7),
            view: View(0),
            parent_hash: Hash32([1; 32]),
            tx_root: Hash32([2; 32]),
            receipts_root: Block::receipts_root(&entries),
            state_root: Hash32([3; 32]),
            validator_set_hash: set.hash(),
            next_validator_set_hash: set.hash(),
            mode: ConsensusMode::Fast,
            proposer: set.validators()[0].id,
            time_ms: 0,
        };
        let data = VoteData {
            chain_id: chain(),
            height: Height(7),
            view: View(0),
            block_hash: header.hash(),
            kind: VoteKind::Ack,
        };
        let votes: Vec<_> =
            keys.iter().take(3).map(|k| data.sign(NodeId::from_public_key(&k.public_key()), k)).collect();
        let certified = CertifiedHeader { header, cert: QuorumCert::from_votes(data, &votes, &set).unwrap() };
        let light = LightClient::new(chain(), &to_bytes(&set), &set.hash()).unwrap();
        World { keys, set, light, entries, certified }
    }

    fn receipt(w: &World, signer: usize, entry: &ReceiptEntry) -> SignedReceipt {
        Receipt {
            chain_id: chain(),
            height: Height(7),
            block_hash: w.certified.header.hash(),
            tx_index: 1,
            entry: entry.clone(),
            node: NodeId::from_public_key(&w.keys[signer].public_key()),
        }
        .sign(&w.keys[signer])
    }

    /// Finding 2's second half, at the wallet: beyond Fast mode's bound an honest node on
    /// the other side of a fork signs receipts for its own block. The wallet sees it
    /// disagree, but cannot (and must not) prove it false against this side's block.
    #[test]
    fn a_receipt_for_another_block_disagrees_but_is_not_proven_false() {
        let mut w = world();
        let truth = w.entries[1].clone();
        let mut answers: Vec<(NodeId, Answer)> =
            (0..3).map(|i| (id(&w, i), Answer::Receipt(to_bytes(&receipt(&w, i, &truth))))).collect();
        let other_side = Receipt { block_hash: Hash32([0x0f; 32]), ..receipt(&w, 3, &truth).receipt }.sign(&w.keys[3]);
        answers.push((id(&w, 3), Answer::Receipt(to_bytes(&other_side))));
        let c = classify(&w.light, &truth.tx_hash, &answers);
        let verdicts: Vec<&Verdict> = c.reports.iter().map(|r| &r.verdict).collect();
        assert_eq!(verdicts, [&Verdict::Agrees, &Verdict::Agrees, &Verdict::Agrees, &Verdict::Disagrees]);
        let proof = Block::receipt_proof(&w.entries, 1).unwrap();
        let result =
            contradiction(&mut w.light, &other_side, &to_bytes(&w.certified), &to_bytes(&truth), &to_bytes(&proof));
        assert!(matches!(result, Err(DetectorError::OtherBlock { .. })), "{result:?}");
    }

    fn id(w: &World, i: usize) -> NodeId {
        NodeId::from_public_key(&w.keys[i].public_key())
    }

    #[test]
    fn a_lying_node_is_classified_and_proven_faulty_against_the_certified_block() {
        let mut w = world();
        let truth = w.entries[1].clone();
        let lie = ReceiptEntry { result_hash: Hash32([0xba; 32]), ..truth.clone() };
        let mut answers: Vec<(NodeId, Answer)> =
            (0..3).map(|i| (id(&w, i), Answer::Receipt(to_bytes(&receipt(&w, i, &truth))))).collect();
        answers.push((id(&w, 3), Answer::Receipt(to_bytes(&receipt(&w, 3, &lie)))));
        let c = classify(&w.light, &truth.tx_hash, &answers);
        assert_eq!(c.majority.as_ref(), Some(&truth));
        let verdicts: Vec<&Verdict> = c.reports.iter().map(|r| &r.verdict).collect();
        assert_eq!(verdicts, [&Verdict::Agrees, &Verdict::Agrees, &Verdict::Agrees, &Verdict::Disagrees]);

        let liar = c.disagreeing().next().unwrap().clone();
        let proof = Block::receipt_proof(&w.entries, 1).unwrap();
        let certified = to_bytes(&w.certified);
        let evidence = contradiction(&mut w.light, &liar, &certified, &to_bytes(&truth), &to_bytes(&proof)).unwrap();
        assert_eq!(evidence.verify(&chain(), &w.set).unwrap(), id(&w, 3));

        // An honest receipt proves nothing; a proof for another position is refused.
        let honest = c.agreeing().unwrap().clone();
        assert_eq!(
            contradiction(&mut w.light, &honest, &certified, &to_bytes(&truth), &to_bytes(&proof)),
            Err(DetectorError::NoContradiction)
        );
        let elsewhere = Block::receipt_proof(&w.entries, 2).unwrap();
        assert_eq!(
            contradiction(&mut w.light, &liar, &certified, &to_bytes(&w.entries[2]), &to_bytes(&elsewhere)),
            Err(DetectorError::BadProof)
        );
    }

    #[test]
    fn forged_silent_and_slow_nodes_get_their_own_verdicts() {
        let w = world();
        let truth = w.entries[1].clone();
        let mut forged = receipt(&w, 2, &truth);
        forged.signature = receipt(&w, 1, &truth).signature;
        let answers = vec![
            (id(&w, 0), Answer::Receipt(to_bytes(&receipt(&w, 0, &truth)))),
            (id(&w, 1), Answer::Receipt(to_bytes(&receipt(&w, 0, &truth)))),
            (id(&w, 2), Answer::Receipt(to_bytes(&forged))),
            (id(&w, 3), Answer::Error { code: "NODE_TIMEOUT".into(), message: "slow".into() }),
            (id(&w, 3), Answer::Error { code: "NODE_UNAVAILABLE".into(), message: "down".into() }),
            (id(&w, 3), Answer::Receipt(vec![1, 2, 3])),
        ];
        let c = classify(&w.light, &truth.tx_hash, &answers);
        let v: Vec<&Verdict> = c.reports.iter().map(|r| &r.verdict).collect();
        assert_eq!(v[0], &Verdict::Agrees);
        assert!(matches!(v[1], Verdict::BadSignature(why) if why.contains("signed by")), "{:?}", v[1]);
        assert!(matches!(v[2], Verdict::BadSignature(_)));
        assert_eq!(v[3], &Verdict::TimedOut);
        assert!(matches!(v[4], Verdict::Silent(why) if why.starts_with("NODE_UNAVAILABLE")));
        assert!(matches!(v[5], Verdict::BadSignature(_)));
    }

    #[test]
    fn two_receipts_from_one_node_that_differ_are_an_equivocation() {
        let w = world();
        let truth = w.entries[1].clone();
        let a = receipt(&w, 2, &truth);
        let b = receipt(
            &w,
            2,
            &ReceiptEntry { status: TxStatus::Failed(vigil_protocol::FailureCode::InvalidNonce), ..truth },
        );
        let evidence = equivocation(&w.light, &a, &b).unwrap();
        assert_eq!(evidence.verify(&chain(), &w.set).unwrap(), id(&w, 2));
        assert!(matches!(equivocation(&w.light, &a, &a), Err(DetectorError::Rejected(_))));
    }
}
