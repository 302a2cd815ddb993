//! What the execution tests of every capability share: a four-validator genesis with
//! a funded account, signed transactions, blocks and a validator's equivocation.
#![cfg(test)]

use vigil_protocol::evidence::SignedStatement;
use vigil_protocol::{
    Amount, EncryptionKey, FaultEvidence, P2pKey, Payload, SecretKey, Transaction, Transfer, ValidatorInfo, VoteData,
    VoteKind,
};

use super::*;

pub(crate) struct Fixture {
    pub(crate) genesis: Genesis,
    pub(crate) validator_keys: Vec<SecretKey>,
    pub(crate) alice: SecretKey,
    pub(crate) bob: Address,
}

pub(crate) fn fixture() -> Fixture {
    fixture_on("vigil-test", 1)
}

/// A four-validator genesis of chain `chain`, its validators' keys from seeds
/// `first..first + 4` (two chains of tests use apart keys), Alice funded.
pub(crate) fn fixture_on(chain: &str, first: u8) -> Fixture {
    let validator_keys: Vec<SecretKey> = (first..first + 4).map(|i| SecretKey::from_seed([i; 32])).collect();
    let validators = ValidatorSet::new(
        validator_keys
            .iter()
            .map(|k| ValidatorInfo::new("v", k.public_key(), EncryptionKey([0; 32]), P2pKey([0xff; 32])))
            .collect(),
    )
    .unwrap();
    let alice = SecretKey::from_seed([50; 32]);
    let bob = Address::from_public_key(&SecretKey::from_seed([51; 32]).public_key());
    let mut accounts = vec![(Address::from_public_key(&alice.public_key()), Amount(1_000))];
    accounts.extend(validators.validators().iter().map(|v| (v.account, Amount(0))));
    accounts.sort();
    let genesis = Genesis {
        chain_id: ChainId::new(chain).unwrap(),
        validators,
        accounts,
        mode: ConsensusMode::Fast,
        time_ms: 0,
        vault: Default::default(),
        checkpoints: Default::default(),
        authcenters: None,
        audit: Default::default(),
    };
    Fixture { genesis, validator_keys, alice, bob }
}

pub(crate) fn tx(f: &Fixture, key: &SecretKey, nonce: u64, payload: Payload) -> SignedTransaction {
    Transaction {
        chain_id: f.genesis.chain_id.clone(),
        sender: key.public_key(),
        nonce: Nonce(nonce),
        fee: Amount(fee_min(&payload).max(1)),
        payload,
    }
    .sign(key)
}

pub(crate) fn transfer(f: &Fixture, nonce: u64, amount: u64) -> SignedTransaction {
    tx(f, &f.alice, nonce, Payload::Transfer(Transfer { to: f.bob, amount: Amount(amount) }))
}

pub(crate) fn block(ledger: &Ledger, txs: Vec<SignedTransaction>) -> (Block, Execution) {
    let exec = ledger.execute(&txs).unwrap();
    let proposer = ledger.validators().validators()[0].id;
    let header = ledger.build_header(&exec, View(0), proposer, 0);
    (Block { header, txs }, exec)
}

pub(crate) fn equivocation(f: &Fixture, ledger: &Ledger, offender_index: usize) -> FaultEvidence {
    let v = &ledger.validators().validators()[offender_index];
    let key = f.validator_keys.iter().find(|k| NodeId::from_public_key(&k.public_key()) == v.id).unwrap();
    let vote = |b: u8| {
        VoteData {
            chain_id: f.genesis.chain_id.clone(),
            height: Height(1),
            view: View(0),
            block_hash: Hash32([b; 32]),
            kind: VoteKind::Ack,
        }
        .sign(v.id, key)
    };
    FaultEvidence::Equivocation { first: SignedStatement::Vote(vote(1)), second: SignedStatement::Vote(vote(2)) }
}
