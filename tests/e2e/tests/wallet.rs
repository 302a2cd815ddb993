//! The wallet core (natively, the same code the wasm build runs) against a real devnet
//! with one lying node, through the real gateway over TLS: verified balance, a transfer
//! sent to every node, the liar caught, proven and jailed, Bft mode, and transfers that
//! keep working. And a wallet started from a stable checkpoint (a pinned hash, the
//! genesis set pinned) verifying the same balance as one started from genesis.

use std::time::{Duration, Instant};

use vigil_e2e::Native;
use vigil_e2e::TestNet;
use vigil_protocol::encoding::to_bytes;
use vigil_protocol::{ChainId, ConsensusMode, Genesis, Hash32};
use vigil_wallet::client::{ClientConfig, GatewayClient};
use vigil_wallet::detector::Verdict;
use vigil_wallet::keys::WalletSeed;
use vigil_wallet::light::{CheckpointPin, LightClient, PinKind, Start, CHECKPOINT_AGE_MAX_BLOCKS};
use vigil_wallet::session::Session;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wallet_catches_a_lying_node_proves_it_and_keeps_working() -> anyhow::Result<()> {
    let net = TestNet::start(4, 1, ConsensusMode::Fast).await?;
    let http = net.gateway_client()?;
    net.wait_for_gateway(&http, Duration::from_secs(30)).await?;
    let genesis: Genesis = serde_json::from_str(&std::fs::read_to_string(&net.devnet.genesis)?)?;
    let light =
        LightClient::new(ChainId::new("vigil-e2e")?, &to_bytes(&genesis.validators), &genesis.validators.hash())?;
    // A dead gateway first: the client fails over to the real one.
    let cfg = ClientConfig {
        gateways: vec!["https://127.0.0.1:9".into(), net.devnet.gateway.url.clone()],
        ..ClientConfig::default()
    };
    let mut session = Session::new(GatewayClient::new(cfg, Native(http)), light);
    assert!(!session.sync().await?, "no set change yet");

    let faucet = net.devnet.faucet()?;
    let me = WalletSeed::generate(&mut rand_core::OsRng).account(0)?;
    let before = session.account(&me.address()).await?;
    assert_eq!((before.balance, before.nonce), (0, 0));
    assert!(before.verification.method.contains("non-membership"), "{}", before.verification.method);

    let report = session.transfer(&faucet, me.address(), 1_000, 1).await?;
    let liar = net.devnet.nodes[3].id;
    for n in &report.nodes {
        let expected = if n.node == liar { Verdict::Disagrees } else { Verdict::Agrees };
        assert_eq!(n.verdict, expected, "{report:#?}");
    }
    assert_eq!(report.evidence.len(), 1, "{report:#?}");
    assert_eq!(report.evidence[0].offender, liar);
    assert!(report.evidence[0].committed, "{report:#?}");
    assert!(report.evidence[0].jailed);
    assert_eq!(report.evidence[0].mode_after, Some(ConsensusMode::Bft), "verified by the next certified header");

    // The wallet now trusts the smaller set it followed through the certified change.
    assert_eq!(session.light.current_set().len(), 3);
    assert!(session.light.current_set().get(&liar).is_none());
    let (_, status) = net.get(0, "/v1/status").await?;
    assert_eq!(status["mode"], "Bft");
    assert_eq!(status["jailed"][0], liar.to_string());

    let after = session.account(&me.address()).await?;
    assert_eq!(after.balance, 1_000);
    assert!(after.verification.method.contains("membership"));

    // Transfers keep working in Bft mode, now among the three honest nodes.
    let again = session.transfer(&faucet, me.address(), 5, 1).await?;
    assert_eq!(again.nodes.len(), 3);
    assert!(again.nodes.iter().all(|n| n.verdict == Verdict::Agrees), "{again:#?}");
    assert!(again.evidence.is_empty());
    assert_eq!(session.account(&me.address()).await?.balance, 1_005);
    Ok(())
}

/// The digest hash of the newest stable checkpoint node 0 serves, once it has one.
async fn latest_checkpoint(net: &TestNet) -> anyhow::Result<Hash32> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (status, v) = net.get(0, "/v1/checkpoints/latest").await?;
        if status == 200 {
            return Ok(v["digest_hash"].as_str().unwrap_or_default().parse()?);
        }
        anyhow::ensure!(Instant::now() < deadline, "no stable checkpoint in 120 s");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Issue 17's "a wallet starting from a checkpoint verifies the same balance as one
/// starting from genesis": once the devnet has a stable checkpoint (every 64 blocks), a
/// wallet started from it — by its pinned digest hash, and by the genesis set pinned —
/// proves the same balance and nonce as a wallet that followed the chain from genesis,
/// and its transfers verify; a wrong pinned hash is refused and leaves the session as it
/// was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wallet_started_from_a_checkpoint_verifies_the_same_balance_as_one_from_genesis() -> anyhow::Result<()> {
    let net = TestNet::start(4, 0, ConsensusMode::Fast).await?;
    let http = net.gateway_client()?;
    net.wait_for_gateway(&http, Duration::from_secs(30)).await?;
    let genesis: Genesis = serde_json::from_str(&std::fs::read_to_string(&net.devnet.genesis)?)?;
    let mut from_genesis = net.wallet_session(&http)?;
    let faucet = net.devnet.faucet()?;
    let me = WalletSeed::generate(&mut rand_core::OsRng).account(0)?;
    from_genesis.transfer(&faucet, me.address(), 1_234, 1).await?;

    // The checkpoint a user would pin: the one the devnet's first node serves.
    let pinned = latest_checkpoint(&net).await?;

    let mut by_hash = net.wallet_session(&http)?;
    let start = by_hash.start_from_checkpoint(&CheckpointPin::Hash(pinned), CHECKPOINT_AGE_MAX_BLOCKS).await?;
    assert_eq!((start.digest_hash, start.pin), (pinned, PinKind::Hash));
    assert_eq!(start.height.0 % 64, 0, "{start:?}");
    assert!(start.age_blocks < CHECKPOINT_AGE_MAX_BLOCKS, "{start:?}");
    assert_eq!(by_hash.light.first_height(), start.height);
    assert_eq!(by_hash.light.start(), &Start::Checkpoint(start.clone()));

    let mut by_set = net.wallet_session(&http)?;
    let pin = CheckpointPin::Set(genesis.validators.clone());
    let set_start = by_set.start_from_checkpoint(&pin, CHECKPOINT_AGE_MAX_BLOCKS).await?;
    assert_eq!((set_start.pin, set_start.pinned_set_hash), (PinKind::Set, Some(genesis.validators.hash())));
    assert_eq!(set_start.validator_set_hash, genesis.validators.hash(), "no set change on this devnet");

    let want = from_genesis.account(&me.address()).await?;
    assert_eq!((want.balance, want.nonce), (1_234, 0));
    for wallet in [&mut by_hash, &mut by_set] {
        let got = wallet.account(&me.address()).await?;
        assert_eq!((got.balance, got.nonce), (want.balance, want.nonce));
        assert!(got.verification.height.is_some_and(|h| h >= start.height), "{:?}", got.verification);
        assert!(got.verification.method.contains("Merkle membership proof"), "{}", got.verification.method);
    }

    // A transfer from the wallet started at the checkpoint: every receipt verifies
    // against the set it trusts, and both wallets then prove the same new balance.
    let report = by_hash.transfer(&faucet, me.address(), 5, 1).await?;
    assert!(report.nodes.iter().all(|n| n.verdict == Verdict::Agrees), "{report:#?}");
    let (a, b) = (from_genesis.account(&me.address()).await?, by_hash.account(&me.address()).await?);
    assert_eq!((a.balance, b.balance), (1_239, 1_239));

    // A hash the nodes do not serve is refused, and the session stays as it was.
    let mut wrong = net.wallet_session(&http)?;
    let refused = wrong
        .start_from_checkpoint(&CheckpointPin::Hash(Hash32([0x5a; 32])), CHECKPOINT_AGE_MAX_BLOCKS)
        .await
        .expect_err("no node serves a checkpoint with that hash");
    assert_eq!(refused.code(), "PINNED_HASH_MISMATCH", "{refused}");
    assert!(matches!(wrong.light.start(), Start::Genesis { .. }));
    assert_eq!(wrong.account(&me.address()).await?.balance, 1_239, "it still works from genesis");

    // With no age allowed at all, a checkpoint behind the newest height is too old.
    let mut strict = net.wallet_session(&http)?;
    let pinned = latest_checkpoint(&net).await?;
    match strict.start_from_checkpoint(&CheckpointPin::Hash(pinned), 0).await {
        Err(e) => assert_eq!(e.code(), "CHECKPOINT_TOO_OLD", "{e}"),
        Ok(s) => assert_eq!(s.age_blocks, 0, "{s:?}"),
    }
    Ok(())
}
