//! Authentication centers as real processes (`vigil authcenter`, five of them, any three
//! sign) on a real devnet: from the genesis alone they make the group key through the
//! chain and sign the consortium's root certificate; the gateway serves it as PEM at
//! its stable address, `openssl` reads and verifies it, and a wallet proves it is the
//! chain's (the state entry with its proof, its signature against the group key).

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Context;
use vigil_authcenter::config::AuthCenterConfig;
use vigil_e2e::TestNet;
use vigil_protocol::authcenter::issuance::Claim;
use vigil_protocol::authcenter::{
    AuthCenterSet, CertAuthority, CertRequestRecord, CertState, CertVerdict, GroupKey, IdentityClaims, RequestStatus,
    SigningPurpose, SigningSession, SigningState, Subject, Verdict,
};
use vigil_protocol::encoding::{from_bytes, to_bytes};
use vigil_protocol::x509::{pem_to_der, Certificate};
use vigil_protocol::{Amount, Nonce, Payload, SecretKey, StateKey, Transaction};
use vigil_wallet::session::Session;

/// How long five centers may take from their start to a signed root (a few seconds here).
const ROOT_WAIT: Duration = Duration::from_secs(90);

/// Polls request `id` until the centers decided it (issued or rejected).
async fn decided(session: &mut Session<vigil_e2e::Native>, id: u64) -> anyhow::Result<CertRequestRecord> {
    let started = Instant::now();
    loop {
        let (record, _) = session.certificate_request(id).await?;
        let record = record.context("the request is on chain")?;
        if matches!(record.status, RequestStatus::Issued { .. } | RequestStatus::Rejected) {
            return Ok(record);
        }
        anyhow::ensure!(started.elapsed() < ROOT_WAIT, "request {id} undecided: {record:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A row of the table `certified` (write policy: a valid certificate) written by `key`
/// straight to node 0: `None` once committed, else the node's refusal.
async fn write_certified(
    net: &TestNet,
    session: &mut Session<vigil_e2e::Native>,
    key: &SecretKey,
    id: u64,
) -> anyhow::Result<Option<vigil_api::ErrorCode>> {
    use vigil_protocol::tables::{RowBody, RowOp, Value};
    let body = RowBody {
        chain: session.chain_id().clone(),
        table: "certified".into(),
        op: RowOp::Insert,
        values: vec![Value::U64(id)],
    };
    let nonce = session.account(&vigil_protocol::Address::from_public_key(&key.public_key())).await?.nonce;
    let tx = Transaction {
        chain_id: session.chain_id().clone(),
        sender: key.public_key(),
        nonce: Nonce(nonce),
        fee: Amount(1),
        payload: Payload::WriteRow(Box::new(body.sign(key))),
    }
    .sign(key);
    let r = net
        .http
        .post(net.url(0, "/v1/tx?wait=true"))
        .header("content-type", "application/octet-stream")
        .body(to_bytes(&tx))
        .send()
        .await?;
    if r.status() == 200 {
        return Ok(None);
    }
    Ok(Some(r.json::<vigil_api::ErrorBody>().await?.error.code))
}

/// Edits center `i`'s `authcenter.toml` as its operator would.
fn edit_center(net: &vigil::devnet::Devnet, i: usize, edit: impl FnOnce(&mut AuthCenterConfig)) -> anyhow::Result<()> {
    let path = &net.centers[i].config;
    let mut cfg: AuthCenterConfig = toml::from_str(&std::fs::read_to_string(path)?)?;
    edit(&mut cfg);
    cfg.save(path)?;
    Ok(())
}

/// Centers with policies of their own and one that withholds its shares, on a real
/// devnet: a request one center rejects is issued by the others (the withholder's part
/// taken over after the timeout); a request three reject is never issued; a verdict from
/// a key that is no center's is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejecting_and_withholding_centers_below_threshold_and_a_forged_verdict() -> anyhow::Result<()> {
    let net = TestNet::start_with_centers(4, 5, 3, |devnet| {
        edit_center(devnet, 0, |c| c.testing.withhold_shares = true)?;
        for i in [2, 3] {
            edit_center(devnet, i, |c| c.policy.organizations = vec!["Acme".into()])?;
        }
        edit_center(devnet, 4, |c| {
            c.policy.organizations = vec!["Acme".into()];
            c.policy.common_names = vec!["*.acme.example".into()];
        })
    })
    .await?;
    let http = net.gateway_client()?;
    net.wait_for_gateway(&http, Duration::from_secs(30)).await?;
    let mut session = net.wallet_session(&http)?;
    let started = Instant::now();
    while session.proven_many(&[StateKey::CertAuthority]).await?.0[0]
        .as_deref()
        .and_then(|b| from_bytes::<CertAuthority>(b).ok())
        .and_then(|a| a.root)
        .is_none()
    {
        anyhow::ensure!(started.elapsed() < ROOT_WAIT, "no root");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let faucet = net.devnet.faucet()?;
    let claims = IdentityClaims::default();
    let acme = Subject { common_name: "alice".into(), organization: Some("Acme".into()) };
    let globex = Subject { common_name: "carol".into(), organization: Some("Globex".into()) };
    let a = session.request_certificate(&faucet, &SecretKey::generate(), acme, &claims, 86_400).await?;
    let b = session.request_certificate(&faucet, &SecretKey::generate(), globex, &claims, 86_400).await?;

    let issued = decided(&mut session, a.request_id).await?;
    let RequestStatus::Issued { serial } = issued.status else { anyhow::bail!("not issued: {issued:?}") };
    assert!(
        matches!(&issued.verdicts[4], Some(Verdict::Reject(why)) if why.contains("`alice` is not on this center's allow-list")),
        "{:?}",
        issued.verdicts
    );
    let pem = session.certificate_pem(&hex::encode(serial)).await?;
    let report = session.verify_certificate(pem.as_bytes()).await?;
    assert_eq!(report.state, CertState::Valid);
    assert!(!report.approving_centers.contains(&"center-4".to_string()));
    let log = std::fs::read_to_string(net.devnet.log_path("center-0"))?;
    assert!(!log.contains("its signature share"), "center-0 withheld every share:\n{log}");
    if report.approving_centers.contains(&"center-0".to_string()) {
        // Named as an approver, it was chosen to sign and withheld: a later session
        // without it signed.
        let (values, _) = session.proven_many(&[StateKey::Signing]).await?;
        let state: SigningState = from_bytes(values[0].as_deref().context("signing state")?)?;
        let keys: Vec<StateKey> = (0..state.next_id).map(StateKey::SigningSession).collect();
        let (sessions, _) = session.proven_many(&keys).await?;
        let restarted = sessions
            .iter()
            .flatten()
            .filter_map(|b| from_bytes::<SigningSession>(b).ok())
            .any(|s| s.purpose == SigningPurpose::Certificate(a.request_id) && s.withheld == vec![0]);
        assert!(restarted, "signed by a session that left out the center that withheld");
    }

    let rejected = decided(&mut session, b.request_id).await?;
    assert_eq!(rejected.status, RequestStatus::Rejected, "three of five reject: below the threshold");
    assert_eq!(rejected.rejections(), 3);

    // A verdict signed by a key that is no center's: refused with its code, nothing changed.
    let outsider = SecretKey::generate();
    let forged = Transaction {
        chain_id: session.chain_id().clone(),
        sender: outsider.public_key(),
        nonce: Nonce(0),
        fee: Amount(0),
        payload: Payload::CertVerdict(CertVerdict { request: a.request_id, verdict: Verdict::Approve }),
    }
    .sign(&outsider);
    let answer = http
        .post(format!("{}/v1/tx", net.devnet.nodes[1].api_url))
        .header("content-type", "application/octet-stream")
        .body(to_bytes(&forged))
        .send()
        .await?;
    assert_eq!(answer.status(), 403);
    let body: vigil_api::ErrorBody = answer.json().await?;
    assert_eq!(body.error.code, vigil_api::ErrorCode::NotACenter);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_center_processes_sign_the_root_served_as_pem() -> anyhow::Result<()> {
    let net = TestNet::start_with_centers(4, 5, 3, |_| Ok(())).await?;
    assert_eq!(net.devnet.centers.len(), 5);
    let http = net.gateway_client()?;
    net.wait_for_gateway(&http, Duration::from_secs(30)).await?;
    let url = format!("{}/v1/certs/root.pem", net.devnet.gateway.url);
    let started = Instant::now();
    let pem = loop {
        let r = http.get(&url).send().await?;
        if r.status() == 200 {
            let content_type = r.headers().get("content-type").map(|v| v.to_str().unwrap_or("").to_string());
            assert_eq!(content_type.as_deref(), Some("application/pem-certificate-chain"));
            break r.text().await?;
        }
        assert_eq!(r.status(), 404, "before it is signed: not found, saying why");
        anyhow::ensure!(
            started.elapsed() < ROOT_WAIT,
            "no root certificate after {ROOT_WAIT:?}; center-0 logged:\n{}",
            std::fs::read_to_string(net.devnet.log_path("center-0")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };

    // The wallet core reads what the chain holds, proven at one height.
    let mut session = net.wallet_session(&http)?;
    let keys = [StateKey::AuthCenters, StateKey::GroupKey, StateKey::CertAuthority];
    let (values, verification) = session.proven_many(&keys).await?;
    assert!(verification.method.contains("Merkle proofs of 3 entries"), "{}", verification.method);
    let value = |i: usize| values[i].as_deref().expect("present");
    let set: AuthCenterSet = from_bytes(value(0))?;
    assert_eq!((set.centers.len(), set.threshold), (5, 3));
    let group: GroupKey = from_bytes(value(1))?;
    let authority: CertAuthority = from_bytes(value(2))?;
    let der = authority.root.expect("the root is recorded");
    assert_eq!(pem_to_der(&pem)?, der, "the gateway serves the chain's root");
    let root = Certificate::from_der(&der)?;
    root.verify(&group.key)?;
    assert_eq!(root.subject_key, group.key, "the root's key is the centers' group key");
    assert!(group.participants.len() >= 3);

    // openssl reads it and verifies it as a CA of its own.
    let path = net.devnet.dir.join("root.pem");
    std::fs::write(&path, &pem)?;
    let text = Command::new("openssl").args(["x509", "-noout", "-text", "-in"]).arg(&path).output()?;
    assert!(text.status.success(), "{}", String::from_utf8_lossy(&text.stderr));
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("ED25519") && text.contains("CA:TRUE"), "{text}");
    let verify = Command::new("openssl").arg("verify").arg("-CAfile").arg(&path).arg(&path).output()?;
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stdout));

    // A certificate requested through the wallet: claims sealed to each center, signed
    // by the applicant's key, approved by the centers' default policy, issued.
    let applicant = SecretKey::generate();
    let subject = Subject { common_name: "alice".into(), organization: Some("Acme".into()) };
    let claims = IdentityClaims { claims: vec![Claim { name: "email".into(), value: "alice@acme.example".into() }] };
    let faucet = net.devnet.faucet()?;
    let asked = session.request_certificate(&faucet, &applicant, subject.clone(), &claims, 86_400).await?;
    let started = Instant::now();
    let serial = loop {
        let (record, _) = session.certificate_request(asked.request_id).await?;
        let record = record.expect("the request is on chain");
        match record.status {
            RequestStatus::Issued { serial } => break serial,
            RequestStatus::Rejected => anyhow::bail!("rejected: {:?}", record.verdicts),
            _ => {}
        }
        anyhow::ensure!(started.elapsed() < ROOT_WAIT, "not issued: {:?}", record);
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let answer: vigil_api::CertsAnswer = http
        .get(format!("{}/v1/node/{}/v1/certs/{}", net.devnet.gateway.url, net.devnet.nodes[0].id, hex::encode(serial)))
        .send()
        .await?
        .json()
        .await?;
    let cert_pem = answer.certificates_pem.first().expect("the certificate").clone();
    let report = session.verify_certificate(cert_pem.as_bytes()).await?;
    assert_eq!(report.state, CertState::Valid);
    assert_eq!(report.subject, subject);

    // A table only certificate holders write: the applicant's key writes while its
    // certificate is valid (not while frozen, never once revoked, below).
    use vigil_protocol::tables::{Column, ColumnType, TableSchema, WritePolicy};
    let certified = TableSchema {
        name: "certified".into(),
        columns: vec![Column {
            name: "id".into(),
            ty: ColumnType::U64,
            nullable: false,
            max_len: None,
            min: None,
            max: None,
        }],
        primary_key: vec![0],
        policy: WritePolicy::CertificateHolder,
    };
    session.create_table(&faucet, certified).await?;
    session.transfer(&faucet, vigil_protocol::Address::from_public_key(&applicant.public_key()), 1_000, 1).await?;
    assert_eq!(write_certified(&net, &mut session, &applicant, 1).await?, None, "a valid certificate writes");
    let uncertified = SecretKey::generate();
    session.transfer(&faucet, vigil_protocol::Address::from_public_key(&uncertified.public_key()), 1_000, 1).await?;
    let write_refused = Some(vigil_api::ErrorCode::WriteRefused);
    assert_eq!(write_certified(&net, &mut session, &uncertified, 2).await?, write_refused, "no certificate");
    assert_eq!(report.approving_centers.len(), 3, "{:?}", report.approving_centers);
    assert!(report.method.contains("group key"), "{}", report.method);
    let cert_path = net.devnet.dir.join("alice.pem");
    std::fs::write(&cert_path, &cert_pem)?;
    let verify = Command::new("openssl").arg("verify").arg("-CAfile").arg(&path).arg(&cert_path).output()?;
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stdout));

    // Altered by one byte (in the signed part): openssl and the wallet both refuse it.
    let mut der = pem_to_der(&cert_pem)?;
    let at = der.len() / 2;
    der[at] ^= 0x01;
    let altered_path = net.devnet.dir.join("altered.der");
    std::fs::write(&altered_path, &der)?;
    let verify = Command::new("openssl").args(["verify", "-CAfile"]).arg(&path).arg(&altered_path).output()?;
    let pem_altered = vigil_protocol::x509::der_to_pem(&der);
    std::fs::write(&altered_path, &pem_altered)?;
    let verify_pem = Command::new("openssl").args(["verify", "-CAfile"]).arg(&path).arg(&altered_path).output()?;
    assert!(!verify.status.success() && !verify_pem.status.success(), "openssl refuses the altered certificate");
    let refused = session.verify_certificate(&der).await.expect_err("the wallet refuses it");
    assert!(
        ["NOT_BY_CONSORTIUM", "NOT_A_CERTIFICATE", "NO_CERT_RECORD"].contains(&refused.code().as_str()),
        "{refused}"
    );

    // Frozen by three centers' votes (each an operator's `vigil authcenter vote`), valid
    // again once three unfreeze, revoked by three: the wallet and a center see each.
    let center_cmd = |i: usize, args: &[&str]| -> anyhow::Result<String> {
        let out = Command::new(vigil_e2e::vigil_bin()?)
            .arg("authcenter")
            .arg("--config")
            .arg(&net.devnet.centers[i].config)
            .args(args)
            .output()?;
        anyhow::ensure!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        Ok(String::from_utf8_lossy(&out.stdout).to_string())
    };
    let serial_hex = hex::encode(serial);
    let vote = |i: usize, action: &str| {
        center_cmd(i, &["vote", "--serial", &serial_hex, "--action", action, "--reason", "the e2e test says so"])
    };
    vote(0, "freeze")?;
    vote(1, "freeze")?;
    assert_eq!(session.verify_certificate(cert_pem.as_bytes()).await?.state, CertState::Valid, "two votes: not yet");
    assert!(vote(1, "freeze").is_err(), "a second vote of one center is refused");
    vote(2, "freeze")?;
    assert_eq!(session.verify_certificate(cert_pem.as_bytes()).await?.state, CertState::Frozen);
    assert_eq!(write_certified(&net, &mut session, &applicant, 3).await?, write_refused, "a frozen certificate");
    for i in 2..5 {
        vote(i, "unfreeze")?;
    }
    assert_eq!(session.verify_certificate(cert_pem.as_bytes()).await?.state, CertState::Valid);
    assert_eq!(write_certified(&net, &mut session, &applicant, 4).await?, None, "valid again");
    for i in [0, 3, 4] {
        vote(i, "revoke")?;
    }
    assert_eq!(session.verify_certificate(cert_pem.as_bytes()).await?.state, CertState::Revoked);
    assert_eq!(write_certified(&net, &mut session, &applicant, 5).await?, write_refused, "a revoked certificate");
    let verified = center_cmd(1, &["verify", cert_path.to_str().unwrap_or_default()])?;
    assert!(verified.contains("\"state\": \"revoked\""), "{verified}");

    // A certificate asked for one second expires, judged at the certified header's time.
    let short = session.request_certificate(&faucet, &SecretKey::generate(), subject, &claims, 1).await?;
    let started = Instant::now();
    let short_serial = loop {
        let (record, _) = session.certificate_request(short.request_id).await?;
        if let Some(RequestStatus::Issued { serial }) = record.map(|r| r.status) {
            break serial;
        }
        anyhow::ensure!(started.elapsed() < ROOT_WAIT, "the short certificate was not issued");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let short_answer: vigil_api::CertsAnswer = http
        .get(format!(
            "{}/v1/node/{}/v1/certs/{}",
            net.devnet.gateway.url,
            net.devnet.nodes[0].id,
            hex::encode(short_serial)
        ))
        .send()
        .await?
        .json()
        .await?;
    let short_pem = short_answer.certificates_pem.first().expect("the certificate").clone();
    let started = Instant::now();
    loop {
        let state = session.verify_certificate(short_pem.as_bytes()).await?.state;
        if state == CertState::Expired {
            break;
        }
        assert_eq!(state, CertState::Valid);
        anyhow::ensure!(started.elapsed() < Duration::from_secs(30), "never expired");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // Each center logged where it stood, and none a failure.
    for c in &net.devnet.centers {
        let log = std::fs::read_to_string(net.devnet.log_path(&c.name))?;
        assert!(log.contains("the centers' group key is ready"), "{}:\n{log}", c.name);
        assert!(!log.contains("ERROR"), "{}:\n{log}", c.name);
    }
    Ok(())
}
