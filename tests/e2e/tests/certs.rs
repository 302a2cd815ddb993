//! Authentication centers as real processes (`vigil authcenter`, five of them, any three
//! sign) on a real devnet: from the genesis alone they make the group key through the
//! chain and sign the consortium's root certificate; the gateway serves it as PEM at
//! its stable address, `openssl` reads and verifies it, and a wallet proves it is the
//! chain's (the state entry with its proof, its signature against the group key).

use std::process::Command;
use std::time::{Duration, Instant};

use vigil_e2e::TestNet;
use vigil_protocol::authcenter::issuance::Claim;
use vigil_protocol::authcenter::{
    AuthCenterSet, CertAuthority, CertState, GroupKey, IdentityClaims, RequestStatus, Subject,
};
use vigil_protocol::encoding::from_bytes;
use vigil_protocol::x509::{pem_to_der, Certificate};
use vigil_protocol::{SecretKey, StateKey};

/// How long five centers may take from their start to a signed root (a few seconds here).
const ROOT_WAIT: Duration = Duration::from_secs(90);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_center_processes_sign_the_root_served_as_pem() -> anyhow::Result<()> {
    let net = TestNet::start_with_centers(4, 5, 3).await?;
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
    for i in 2..5 {
        vote(i, "unfreeze")?;
    }
    assert_eq!(session.verify_certificate(cert_pem.as_bytes()).await?.state, CertState::Valid);
    for i in [0, 3, 4] {
        vote(i, "revoke")?;
    }
    assert_eq!(session.verify_certificate(cert_pem.as_bytes()).await?.state, CertState::Revoked);
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
