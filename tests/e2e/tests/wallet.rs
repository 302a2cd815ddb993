//! The wallet core (natively, the same code the wasm build runs) against a real devnet
//! with one lying node, through the real gateway over TLS: verified balance, a transfer
//! sent to every node, the liar caught, proven and jailed, Bft mode, and transfers that
//! keep working.

use std::time::Duration;

use vigil_e2e::Native;
use vigil_e2e::TestNet;
use vigil_protocol::encoding::to_bytes;
use vigil_protocol::{ChainId, ConsensusMode, Genesis};
use vigil_wallet::client::{ClientConfig, GatewayClient};
use vigil_wallet::detector::Verdict;
use vigil_wallet::keys::WalletSeed;
use vigil_wallet::light::LightClient;
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
