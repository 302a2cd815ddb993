//! Authentication centers as real processes (`vigil authcenter`, five of them, any three
//! sign) on a real devnet: from the genesis alone they make the group key through the
//! chain and sign the consortium's root certificate; the gateway serves it as PEM at
//! its stable address, `openssl` reads and verifies it, and a wallet proves it is the
//! chain's (the state entry with its proof, its signature against the group key).

use std::process::Command;
use std::time::{Duration, Instant};

use vigil_e2e::TestNet;
use vigil_protocol::authcenter::{AuthCenterSet, CertAuthority, GroupKey};
use vigil_protocol::encoding::from_bytes;
use vigil_protocol::x509::{pem_to_der, Certificate};
use vigil_protocol::StateKey;

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

    // Each center logged where it stood, and none a failure.
    for c in &net.devnet.centers {
        let log = std::fs::read_to_string(net.devnet.log_path(&c.name))?;
        assert!(log.contains("the centers' group key is ready"), "{}:\n{log}", c.name);
        assert!(!log.contains("ERROR"), "{}:\n{log}", c.name);
    }
    Ok(())
}
