//! A narrated run of the protocol types, end to end, on real keys: what a newcomer
//! sees from `cargo xtask demo` until the devnet exists. Every "✓" is a real check.

use anyhow::{ensure, Context, Result};
use vigil_protocol::evidence::SignedStatement;
use vigil_protocol::{
    Address, Amount, Block, BlockHeader, CertifiedHeader, ChainId, ConsensusMode, EncryptionKey, FailureCode,
    FaultEvidence, Hash32, Height, NodeId, Nonce, P2pKey, Payload, QuorumCert, Receipt, ReceiptEntry, SecretKey,
    StateKey, StateTree, Transaction, Transfer, TxStatus, ValidatorInfo, ValidatorSet, View, VoteData, VoteKind,
};

pub fn run(validator_count: usize) -> Result<()> {
    let chain = ChainId::new("vigil-walkthrough")?;
    println!("Vigil protocol walkthrough on chain `{chain}` with {validator_count} validators\n");

    let keys: Vec<SecretKey> = (0..validator_count).map(|_| SecretKey::generate()).collect();
    let set = ValidatorSet::new(
        keys.iter()
            .enumerate()
            .map(|(i, k)| {
                ValidatorInfo::new(format!("org-{i}"), k.public_key(), EncryptionKey([0; 32]), P2pKey([0xff; 32]))
            })
            .collect(),
    )?;
    let key_of = |id: NodeId| keys.iter().find(|k| NodeId::from_public_key(&k.public_key()) == id);
    println!("1. Validator set {} (hash {})", set.len(), set.hash());
    println!(
        "   quorum: Fast mode {} of {}, Bft mode {} of {} (tolerates {} Byzantine)",
        set.quorum_power(ConsensusMode::Fast),
        set.total_power(),
        set.quorum_power(ConsensusMode::Bft),
        set.total_power(),
        set.fault_tolerance_power()
    );

    let alice = SecretKey::generate();
    let bob = Address::from_public_key(&SecretKey::generate().public_key());
    let tx = Transaction {
        chain_id: chain.clone(),
        sender: alice.public_key(),
        nonce: Nonce(0),
        fee: Amount(1),
        payload: Payload::Transfer(Transfer { to: bob, amount: Amount(250) }),
    }
    .sign(&alice);
    tx.verify_for_chain(&chain)?;
    println!("\n2. {} sends 250 to {bob}", tx.tx.sender_address());
    println!("   ✓ transaction {} signed (Ed25519, chain id and nonce inside)", tx.hash());

    let mut state = StateTree::new();
    let sender_key = StateKey::Account(tx.tx.sender_address());
    let state_root = state.apply(1, [(sender_key.clone(), Some(b"balance=749,nonce=1".to_vec()))])?;
    let entry = ReceiptEntry { tx_hash: tx.hash(), status: TxStatus::Success, result_hash: Hash32([1; 32]) };
    let header = BlockHeader {
        chain_id: chain.clone(),
        height: Height(1),
        view: View(0),
        parent_hash: Hash32::default(),
        tx_root: Block::tx_root(std::slice::from_ref(&tx)),
        receipts_root: Block::receipts_root(std::slice::from_ref(&entry)),
        state_root,
        validator_set_hash: set.hash(),
        next_validator_set_hash: set.hash(),
        mode: ConsensusMode::Fast,
        proposer: set.validators()[0].id,
        time_ms: 0,
    };
    let data = VoteData {
        chain_id: chain.clone(),
        height: header.height,
        view: header.view,
        block_hash: header.hash(),
        kind: VoteKind::Ack,
    };
    let quorum = set.validators().len() / 2 + 1;
    let votes: Vec<_> = set.validators()[..quorum]
        .iter()
        .map(|v| key_of(v.id).map(|k| data.sign(v.id, k)))
        .collect::<Option<_>>()
        .context("validator key missing")?;
    let certified = CertifiedHeader { cert: QuorumCert::from_votes(data, &votes, &set)?, header };
    certified.verify(&set)?;
    println!("\n3. Block 1 committed in Fast mode");
    println!("   ✓ certificate: {} acknowledgements, batch-verified against the set", certified.cert.signatures.len());

    let (value, proof) = state.get_with_proof(&sender_key, 1)?;
    proof.verify(&certified.header.state_root, &sender_key, value.as_deref())?;
    let stranger = StateKey::Account(Address([0xee; 20]));
    let (none, absent) = state.get_with_proof(&stranger, 1)?;
    ensure!(none.is_none(), "stranger account should not exist");
    absent.verify(&certified.header.state_root, &stranger, None)?;
    println!("   ✓ sender's state proven against the certified state root");
    println!("   ✓ an unknown account proven absent (non-membership proof)");

    let liar = set.validators()[set.len() - 1].id;
    let liar_key = key_of(liar).context("liar key missing")?;
    let block_hash = certified.header.hash();
    let honest = Receipt {
        chain_id: chain.clone(),
        height: Height(1),
        block_hash,
        tx_index: 0,
        entry: entry.clone(),
        node: liar,
    }
    .sign(liar_key);
    let lie_entry = ReceiptEntry { status: TxStatus::Failed(FailureCode::InsufficientBalance), ..entry };
    let lie =
        Receipt { chain_id: chain.clone(), height: Height(1), block_hash, tx_index: 0, entry: lie_entry, node: liar }
            .sign(liar_key);
    let evidence =
        FaultEvidence::Equivocation { first: SignedStatement::Receipt(honest), second: SignedStatement::Receipt(lie) };
    let offender = evidence.verify(&chain, &set)?;
    println!("\n4. Node {} signed two different receipts for the same transaction", liar.short());
    println!("   ✓ fault evidence verified: offender {}", offender.short());
    let next = set.without(&offender)?;
    println!(
        "   → from the next height: Bft mode, {} validators, quorum {} of {}",
        next.len(),
        next.quorum_power(ConsensusMode::Bft),
        next.total_power()
    );
    println!("\nThe network (consensus, nodes, gateway, wallet) arrives with the next issues; see ARCHITECTURE.md.");
    Ok(())
}
