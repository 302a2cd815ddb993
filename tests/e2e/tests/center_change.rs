//! A change of the authentication centers on a real devnet with five center processes
//! (t = 3): a certificate is issued; a sixth center process is started and three
//! operators vote (`vigil authcenter change-set`) to replace center-4 by it; the centers
//! reshare the group key among the new set. Afterwards the root certificate is the same
//! bytes, the certificate from before still passes `openssl verify` with the same
//! `root.pem`, and the new set issues the next certificate under it.

use std::process::Command;
use std::time::{Duration, Instant};

use vigil::devnet::{center_address, DevnetCenter};
use vigil_authcenter::config::AuthCenterConfig;
use vigil_e2e::{vigil_bin, TestNet};
use vigil_protocol::authcenter::issuance::Claim;
use vigil_protocol::authcenter::{
    AuthCenterInfo, AuthCenterSet, CenterChange, ChangeOutcome, GroupKey, IdentityClaims, RequestStatus, Subject,
};
use vigil_protocol::encoding::from_bytes;
use vigil_protocol::{SecretKey, StateKey};
use vigil_server::keys::{save_node_keys, NodeKeys};

/// How long centers may take to sign the root, issue a certificate or finish a change.
const WAIT: Duration = Duration::from_secs(90);

type Session = vigil_wallet::session::Session<vigil_e2e::Native>;

/// A certificate for `name`, requested through the wallet and issued: its PEM.
async fn issue(net: &TestNet, session: &mut Session, http: &reqwest::Client, name: &str) -> anyhow::Result<String> {
    let subject = Subject { common_name: name.into(), organization: None };
    let claims = IdentityClaims { claims: vec![Claim { name: "email".into(), value: format!("{name}@acme.example") }] };
    let asked =
        session.request_certificate(&net.devnet.faucet()?, &SecretKey::generate(), subject, &claims, 86_400).await?;
    let started = Instant::now();
    let serial = loop {
        let (record, _) = session.certificate_request(asked.request_id).await?;
        match record.map(|r| r.status) {
            Some(RequestStatus::Issued { serial }) => break serial,
            Some(RequestStatus::Rejected) => anyhow::bail!("request for {name} rejected"),
            _ => {}
        }
        anyhow::ensure!(started.elapsed() < WAIT, "the certificate for {name} was not issued within {WAIT:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let (gateway, node) = (&net.devnet.gateway.url, &net.devnet.nodes[0].id);
    let url = format!("{gateway}/v1/node/{node}/v1/certs/{}", hex::encode(serial));
    let answer: vigil_api::CertsAnswer = http.get(url).send().await?.json().await?;
    answer.certificates_pem.first().cloned().ok_or_else(|| anyhow::anyhow!("no certificate in the answer"))
}

async fn root_pem(net: &TestNet, http: &reqwest::Client) -> anyhow::Result<String> {
    let url = format!("{}/v1/certs/root.pem", net.devnet.gateway.url);
    let started = Instant::now();
    loop {
        let r = http.get(&url).send().await?;
        if r.status() == 200 {
            return Ok(r.text().await?);
        }
        anyhow::ensure!(started.elapsed() < WAIT, "no root certificate after {WAIT:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn openssl_verifies(net: &TestNet, root: &str, cert: &str, name: &str) -> anyhow::Result<bool> {
    let (root_path, cert_path) = (net.devnet.dir.join("root.pem"), net.devnet.dir.join(format!("{name}.pem")));
    std::fs::write(&root_path, root)?;
    std::fs::write(&cert_path, cert)?;
    let out = Command::new("openssl").arg("verify").arg("-CAfile").arg(&root_path).arg(&cert_path).output()?;
    Ok(out.status.success())
}

/// A sixth center: its keys and config beside the others', reaching the chain as center-4
/// does (from center-4's loopback address, which the gateways exempt).
fn new_center(net: &TestNet) -> anyhow::Result<(DevnetCenter, NodeKeys)> {
    let dir = net.devnet.dir.join("center-5");
    let keys = NodeKeys::generate();
    std::fs::create_dir_all(&dir)?;
    save_node_keys(&dir.join("center.key"), &keys)?;
    let text = std::fs::read_to_string(&net.devnet.centers[4].config)?;
    let mut cfg: AuthCenterConfig = toml::from_str(&text)?;
    cfg.name = "center-5".into();
    cfg.local_address = cfg.local_address.map(|_| center_address(4));
    let config = dir.join("authcenter.toml");
    cfg.save(&config)?;
    Ok((DevnetCenter { name: cfg.name, config }, keys))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_center_is_replaced_an_earlier_certificate_still_verifies_with_the_same_root() -> anyhow::Result<()> {
    let mut net = TestNet::start_with_centers(4, 5, 3, |_| Ok(())).await?;
    let http = net.gateway_client()?;
    net.wait_for_gateway(&http, Duration::from_secs(30)).await?;
    let root_before = root_pem(&net, &http).await?;
    let mut session = net.wallet_session(&http)?;
    let before = issue(&net, &mut session, &http, "before").await?;
    assert!(openssl_verifies(&net, &root_before, &before, "before")?);
    let (values, _) = session.proven_many(&[StateKey::AuthCenters, StateKey::GroupKey]).await?;
    let set: AuthCenterSet = from_bytes(values[0].as_deref().expect("the centers"))?;
    let key_before: GroupKey = from_bytes(values[1].as_deref().expect("the group key"))?;

    // The sixth center's process starts first: it waits until a change names it.
    let (center, keys) = new_center(&net)?;
    net.devnet.centers.push(center.clone());
    let child = net.devnet.spawn_center(&vigil_bin()?, &center)?;
    net.running.children.push((center.name.clone(), child));
    let mut proposed = set.clone();
    proposed.centers[4] = AuthCenterInfo {
        name: "center-5".into(),
        identity_key: keys.consensus.public_key(),
        encryption_key: keys.encryption_public(),
    };
    let proposal = net.devnet.dir.join("proposed-centers.json");
    std::fs::write(&proposal, serde_json::to_vec_pretty(&proposed)?)?;
    let mut said = Vec::new();
    for i in 0..3 {
        let out = Command::new(vigil_bin()?)
            .arg("authcenter")
            .arg("--config")
            .arg(&net.devnet.centers[i].config)
            .arg("change-set")
            .arg(&proposal)
            .output()?;
        anyhow::ensure!(out.status.success(), "center-{i}'s vote: {}", String::from_utf8_lossy(&out.stderr));
        said.push(String::from_utf8_lossy(&out.stdout).to_string());
    }
    assert!(said[0].contains("once t centers voted"), "{said:?}");
    assert!(said[2].contains("change of the center set is open"), "{said:?}");

    let started = Instant::now();
    loop {
        let (values, _) = session.proven_many(&[StateKey::CenterChange]).await?;
        let change: CenterChange = from_bytes(values[0].as_deref().expect("the change"))?;
        match change.outcome {
            ChangeOutcome::Done(_) => break,
            ChangeOutcome::Abandoned { reason, .. } => anyhow::bail!("the change was abandoned: {reason}"),
            ChangeOutcome::Open => {}
        }
        anyhow::ensure!(
            started.elapsed() < WAIT,
            "the change is still open after {WAIT:?} ({change:?}); center-5 logged:\n{}",
            std::fs::read_to_string(net.devnet.log_path("center-5")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (values, _) = session.proven_many(&[StateKey::AuthCenters, StateKey::GroupKey]).await?;
    assert_eq!(from_bytes::<AuthCenterSet>(values[0].as_deref().expect("the centers"))?, proposed);
    let key_after: GroupKey = from_bytes(values[1].as_deref().expect("the group key"))?;
    assert_eq!(key_after.key, key_before.key, "the group key is kept");
    assert_ne!(key_after.verifying_shares, key_before.verifying_shares, "every share is new");

    let root_after = root_pem(&net, &http).await?;
    assert_eq!(root_after, root_before, "root.pem is the same");
    assert!(openssl_verifies(&net, &root_before, &before, "before-again")?, "the earlier certificate still verifies");
    let report = session.verify_certificate(before.as_bytes()).await?;
    assert_eq!(report.state, vigil_protocol::authcenter::CertState::Valid);

    // The new set issues under the same root.
    let after = issue(&net, &mut session, &http, "after").await?;
    assert!(openssl_verifies(&net, &root_before, &after, "after")?);
    let log = std::fs::read_to_string(net.devnet.log_path("center-5"))?;
    assert!(log.contains("its confirmation of its new share"), "center-5 logged:\n{log}");
    Ok(())
}
