//! TLS for the gateway: rustls (ring provider) from PEM files, and, for a devnet, a
//! local certificate authority with a certificate for `localhost` (rcgen).

use std::path::{Path, PathBuf};

use anyhow::Context;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose};

/// Files of a local CA and the gateway certificate it issued.
#[derive(Debug, Clone)]
pub struct LocalTls {
    /// The CA certificate to trust (browser, OS store, `curl --cacert`).
    pub ca_cert: PathBuf,
    /// The gateway's certificate chain (leaf, then CA).
    pub cert: PathBuf,
    /// The gateway's private key (owner-only permissions).
    pub key: PathBuf,
}

impl LocalTls {
    pub fn in_dir(dir: &Path) -> Self {
        Self { ca_cert: dir.join("ca.pem"), cert: dir.join("gateway.pem"), key: dir.join("gateway.key") }
    }

    pub fn exists(&self) -> bool {
        self.ca_cert.exists() && self.cert.exists() && self.key.exists()
    }
}

/// Makes a CA and a certificate for `localhost` / 127.0.0.1 / ::1 signed by it, written
/// into `dir`. The CA's key is not kept: it signs this one certificate and is dropped.
pub fn make_local_tls(dir: &Path) -> anyhow::Result<LocalTls> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let files = LocalTls::in_dir(dir);

    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.distinguished_name.push(DnType::CommonName, "Vigil devnet local CA");
    ca_params.distinguished_name.push(DnType::OrganizationName, "Vigil devnet");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate()?)?;

    let mut leaf_params =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string(), "::1".to_string()])?;
    leaf_params.distinguished_name.push(DnType::CommonName, "localhost");
    leaf_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf_params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_key = KeyPair::generate()?;
    let leaf = leaf_params.signed_by(&leaf_key, &ca)?;

    std::fs::write(&files.ca_cert, ca.pem())?;
    std::fs::write(&files.cert, format!("{}{}", leaf.pem(), ca.pem()))?;
    write_private(&files.key, &leaf_key.serialize_pem())?;
    Ok(files)
}

fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    use std::io::Write;
    opts.open(path)?.write_all(contents.as_bytes()).with_context(|| format!("writing {}", path.display()))
}

/// The rustls configuration for the gateway's certificate and key.
pub async fn server_config(cert: &Path, key: &Path) -> anyhow::Result<axum_server::tls_rustls::RustlsConfig> {
    // One crypto provider in the process, chosen here rather than by feature detection.
    let _ = rustls::crypto::ring::default_provider().install_default();
    axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
        .await
        .with_context(|| format!("loading the TLS certificate {} and key {}", cert.display(), key.display()))
}

#[cfg(test)]
mod tests {
    use rustls::client::danger::ServerCertVerifier;

    use super::*;

    #[test]
    fn the_local_ca_issues_a_localhost_certificate_that_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let files = make_local_tls(dir.path()).unwrap();
        assert!(files.exists());
        let pem = std::fs::read_to_string(&files.cert).unwrap();
        assert_eq!(pem.matches("BEGIN CERTIFICATE").count(), 2, "leaf and CA");
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut roots = rustls::RootCertStore::empty();
        let ca_pem = std::fs::read(&files.ca_cert).unwrap();
        for c in rustls_pemfile_certs(&ca_pem) {
            roots.add(c).unwrap();
        }
        let verifier = rustls::client::WebPkiServerVerifier::builder(std::sync::Arc::new(roots)).build().unwrap();
        let chain = rustls_pemfile_certs(pem.as_bytes());
        let now = rustls::pki_types::UnixTime::now();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        verifier.verify_server_cert(&chain[0], &chain[1..], &name, &[], now).unwrap();
        let other = rustls::pki_types::ServerName::try_from("example.com").unwrap();
        assert!(verifier.verify_server_cert(&chain[0], &chain[1..], &other, &[], now).is_err());
    }

    fn rustls_pemfile_certs(pem: &[u8]) -> Vec<rustls::pki_types::CertificateDer<'static>> {
        use rustls::pki_types::pem::PemObject;
        rustls::pki_types::CertificateDer::pem_slice_iter(pem).map(|c| c.unwrap()).collect()
    }
}
