//! X.509 certificates signed with Ed25519 (RFC 5280, RFC 8410), as a Vigil client checks
//! them: the signed bytes (the TBS certificate) and the fields a certificate's record is
//! matched against — serial, issuer and subject names, validity, the subject's Ed25519
//! key, the extensions — read straight from the DER with `der`'s reader, without a full
//! certificate model (what the wallet's wasm carries stays small). Only Ed25519 is
//! accepted, in the outer and the inner signature algorithm and in the subject's key;
//! anything else is a typed error, never a panic. The signature is checked over the TBS
//! bytes as they are, by the ZIP-215 rule every other signature here follows.

use der::asn1::{AnyRef, BitStringRef, GeneralizedTime, ObjectIdentifier, UintRef, UtcTime};
use der::{Decode, Reader, SliceReader, Tag, TagNumber, Tagged};

use crate::crypto::{PublicKey, Signature};

/// `id-Ed25519` (RFC 8410).
pub const ED25519_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
/// Largest certificate read (DER bytes).
pub const CERTIFICATE_BYTES_MAX: usize = 16 * 1024;

const PEM_BEGIN: &str = "-----BEGIN CERTIFICATE-----";
const PEM_END: &str = "-----END CERTIFICATE-----";
/// DER of `[0] EXPLICIT INTEGER 2`: a version 3 certificate.
const VERSION_3: [u8; 5] = [0xa0, 0x03, 0x02, 0x01, 0x02];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum X509Error {
    #[error("a certificate is at most {CERTIFICATE_BYTES_MAX} bytes")]
    TooLarge,
    #[error("not a DER certificate: {0}")]
    Der(String),
    #[error("no PEM certificate (-----BEGIN CERTIFICATE----- … -----END CERTIFICATE-----), or bad base64 in it")]
    Pem,
    #[error("only version 3 certificates are read")]
    Version,
    #[error("not signed with Ed25519, or not an Ed25519 key (algorithm {0})")]
    NotEd25519(String),
    #[error("the subject's key is not a valid Ed25519 public key")]
    SubjectKey,
    #[error("the certificate's signature does not verify against the issuer's key")]
    BadSignature,
}

impl From<der::Error> for X509Error {
    fn from(e: der::Error) -> Self {
        X509Error::Der(e.to_string())
    }
}

/// A certificate's parts, borrowed from its DER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate<'a> {
    tbs: &'a [u8],
    signature: Signature,
    /// The serial number's content octets (big-endian, without a sign byte).
    pub serial: &'a [u8],
    /// The issuer's and the subject's `Name`, as DER.
    pub issuer: &'a [u8],
    pub subject: &'a [u8],
    /// Validity, in seconds since the Unix epoch.
    pub not_before_s: u64,
    pub not_after_s: u64,
    pub subject_key: PublicKey,
    /// The `[3] Extensions` element, as DER, if any.
    pub extensions: Option<&'a [u8]>,
}

/// An `AlgorithmIdentifier` that must be Ed25519's (no parameters).
fn ed25519_algorithm<'r, R: Reader<'r>>(r: &mut R) -> der::Result<Result<(), X509Error>> {
    r.sequence(|a| {
        let oid = ObjectIdentifier::decode(a)?;
        let no_parameters = a.is_finished();
        if !no_parameters {
            a.tlv_bytes()?;
        }
        Ok(if oid == ED25519_OID && no_parameters { Ok(()) } else { Err(X509Error::NotEd25519(oid.to_string())) })
    })
}

/// A `Time` (UTCTime or GeneralizedTime) in seconds since the epoch.
fn time<'r, R: Reader<'r>>(r: &mut R) -> der::Result<u64> {
    let any = AnyRef::decode(r)?;
    let since_epoch = match any.tag() {
        Tag::UtcTime => UtcTime::try_from(any)?.to_unix_duration(),
        _ => GeneralizedTime::try_from(any)?.to_unix_duration(),
    };
    Ok(since_epoch.as_secs())
}

fn is_context<'r, R: Reader<'r>>(r: &R, number: TagNumber) -> bool {
    matches!(r.peek_tag(), Ok(Tag::ContextSpecific { constructed: true, number: n }) if n == number)
}

/// What the TBS certificate holds, before its checks.
struct Tbs<'a> {
    version_3: bool,
    algorithm: Result<(), X509Error>,
    serial: &'a [u8],
    issuer: &'a [u8],
    validity: (u64, u64),
    subject: &'a [u8],
    key: (Result<(), X509Error>, &'a [u8]),
    extensions: Option<&'a [u8]>,
}

fn read_tbs(tbs: &[u8]) -> der::Result<Tbs<'_>> {
    let mut reader = SliceReader::new(tbs)?;
    let parts = reader.sequence(|t| {
        let version_3 = is_context(t, TagNumber::N0) && t.tlv_bytes()? == VERSION_3;
        let serial = UintRef::decode(t)?.as_bytes();
        let algorithm = ed25519_algorithm(t)?;
        let issuer = t.tlv_bytes()?;
        let validity = t.sequence(|v| Ok((time(v)?, time(v)?)))?;
        let subject = t.tlv_bytes()?;
        let key = t.sequence(|s| Ok((ed25519_algorithm(s)?, BitStringRef::decode(s)?.raw_bytes())))?;
        // Optional unique identifiers ([1], [2]), then the extensions ([3]).
        let mut extensions = None;
        while !t.is_finished() {
            let at_extensions = is_context(t, TagNumber::N3);
            let element = t.tlv_bytes()?;
            if at_extensions {
                extensions = Some(element);
            }
        }
        Ok(Tbs { version_3, algorithm, serial, issuer, validity, subject, key, extensions })
    })?;
    reader.finish(parts)
}

impl<'a> Certificate<'a> {
    /// Reads a DER certificate: its shape, Ed25519 everywhere, version 3. The signature
    /// is not checked here (see [`Certificate::verify`]).
    pub fn from_der(der: &'a [u8]) -> Result<Self, X509Error> {
        if der.len() > CERTIFICATE_BYTES_MAX {
            return Err(X509Error::TooLarge);
        }
        let mut reader = SliceReader::new(der)?;
        let (tbs, outer, signature) = reader.sequence(|c| {
            let tbs = c.tlv_bytes()?;
            let outer = ed25519_algorithm(c)?;
            let signature = BitStringRef::decode(c)?;
            Ok((tbs, outer, signature.as_bytes().map(<[u8]>::to_vec)))
        })?;
        reader.finish(())?;
        outer?;
        let t = read_tbs(tbs)?;
        if !t.version_3 {
            return Err(X509Error::Version);
        }
        t.algorithm?;
        t.key.0?;
        let signature: [u8; 64] = signature
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| X509Error::Der("an Ed25519 signature is 64 bytes".into()))?;
        let key: [u8; 32] = t.key.1.try_into().map_err(|_| X509Error::SubjectKey)?;
        Ok(Self {
            tbs,
            signature: Signature::from_bytes(&signature),
            serial: t.serial,
            issuer: t.issuer,
            subject: t.subject,
            not_before_s: t.validity.0,
            not_after_s: t.validity.1,
            subject_key: PublicKey::from_bytes(&key).map_err(|_| X509Error::SubjectKey)?,
            extensions: t.extensions,
        })
    }

    /// Checks the signature over the TBS bytes against `issuer` (for a self-signed root,
    /// its own key).
    pub fn verify(&self, issuer: &PublicKey) -> Result<(), X509Error> {
        issuer.verify_unframed(self.tbs, &self.signature).map_err(|_| X509Error::BadSignature)
    }

    /// Whether `unix_s` falls within the validity period (both ends included).
    pub fn valid_at(&self, unix_s: u64) -> bool {
        (self.not_before_s..=self.not_after_s).contains(&unix_s)
    }

    /// The bytes the issuer signed.
    pub fn tbs(&self) -> &'a [u8] {
        self.tbs
    }
}

/// The DER of the first certificate in a PEM text.
pub fn pem_to_der(text: &str) -> Result<Vec<u8>, X509Error> {
    use base64::Engine;
    let start = text.find(PEM_BEGIN).ok_or(X509Error::Pem)? + PEM_BEGIN.len();
    let len = text.get(start..).and_then(|rest| rest.find(PEM_END)).ok_or(X509Error::Pem)?;
    let body: String = text.get(start..start + len).unwrap_or_default().split_whitespace().collect();
    if body.len() > CERTIFICATE_BYTES_MAX * 4 / 3 + 4 {
        return Err(X509Error::TooLarge);
    }
    base64::engine::general_purpose::STANDARD.decode(body).map_err(|_| X509Error::Pem)
}

/// Characters of base64 per PEM line (RFC 7468).
const PEM_LINE: usize = 64;

/// A certificate's DER as PEM (RFC 7468: base64 in lines of 64, ending in a newline).
pub fn der_to_pem(der: &[u8]) -> String {
    use base64::Engine;
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = String::with_capacity(body.len() + body.len() / PEM_LINE + 64);
    pem.push_str(PEM_BEGIN);
    pem.push('\n');
    for line in body.as_bytes().chunks(PEM_LINE) {
        pem.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str(PEM_END);
    pem.push('\n');
    pem
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, CertifiedIssuer, DnType, KeyPair, SerialNumber};

    fn ed25519() -> KeyPair {
        KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap()
    }

    fn key_of(kp: &KeyPair) -> PublicKey {
        PublicKey::from_bytes(&kp.public_key_raw().try_into().unwrap()).unwrap()
    }

    fn params(cn: &str, serial: &[u8]) -> CertificateParams {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name.push(DnType::CommonName, cn);
        p.serial_number = Some(SerialNumber::from(serial.to_vec()));
        p.not_before = rcgen::date_time_ymd(2026, 1, 1);
        p.not_after = rcgen::date_time_ymd(2027, 1, 1);
        p
    }

    /// 2026-01-01 and 2027-01-01, 00:00 UTC.
    const JAN_2026: u64 = 1_767_225_600;
    const JAN_2027: u64 = 1_798_761_600;

    #[test]
    fn a_certificate_signed_by_its_issuer_verifies_and_reads_back_what_was_issued() {
        let (root_kp, leaf_kp) = (ed25519(), ed25519());
        let mut root_params = params("Vigil consortium root", &[1]);
        root_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let root = CertifiedIssuer::self_signed(root_params, root_kp).unwrap();
        let leaf = params("alice", &[0x42, 0x07]).signed_by(&leaf_kp, &root).unwrap();

        let root_cert = Certificate::from_der(root.der()).unwrap();
        let root_key = root_cert.subject_key;
        root_cert.verify(&root_key).expect("a self-signed root verifies against its own key");
        let cert = Certificate::from_der(leaf.der()).unwrap();
        assert_eq!(cert.serial, &[0x42, 0x07]);
        assert_eq!((cert.not_before_s, cert.not_after_s), (JAN_2026, JAN_2027));
        assert_eq!(cert.subject_key, key_of(&leaf_kp));
        assert_eq!(cert.issuer, root_cert.subject, "the issuer is the root's subject");
        assert!(cert.valid_at(JAN_2026) && cert.valid_at(JAN_2027) && !cert.valid_at(JAN_2027 + 1));
        cert.verify(&root_key).expect("signed by the root");
        assert_eq!(cert.verify(&cert.subject_key), Err(X509Error::BadSignature), "not by the leaf's own key");

        // PEM reads to the same DER.
        assert_eq!(pem_to_der(&leaf.pem()).unwrap(), leaf.der().to_vec());
        // Ours writes what rcgen writes (lines of 64, line breaks as `\n`).
        assert_eq!(der_to_pem(leaf.der()), leaf.pem().replace("\r\n", "\n"));
        assert_eq!(pem_to_der("no certificate here"), Err(X509Error::Pem));
    }

    #[test]
    fn an_altered_or_foreign_certificate_is_a_typed_error() {
        let root = CertifiedIssuer::self_signed(params("root", &[1]), ed25519()).unwrap();
        let der = root.der().to_vec();
        let key = Certificate::from_der(&der).unwrap().subject_key;
        // Every single flipped byte: refused as DER, as not Ed25519, or by the signature.
        for i in 0..der.len() {
            let mut altered = der.clone();
            altered[i] ^= 0x01;
            let verified = Certificate::from_der(&altered).and_then(|c| c.verify(&key));
            assert!(verified.is_err(), "byte {i} flipped still verifies");
        }
        let mut trailing = der.clone();
        trailing.push(0);
        assert!(matches!(Certificate::from_der(&trailing), Err(X509Error::Der(_))));
        assert!(matches!(Certificate::from_der(&der[..der.len() - 1]), Err(X509Error::Der(_))));
        assert_eq!(Certificate::from_der(&vec![0x30; CERTIFICATE_BYTES_MAX + 1]), Err(X509Error::TooLarge));

        // ECDSA: read, and refused by name.
        let p256 = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let ecdsa = params("ecdsa", &[2]).self_signed(&p256).unwrap();
        assert!(
            matches!(Certificate::from_der(ecdsa.der()), Err(X509Error::NotEd25519(oid)) if oid.starts_with("1.2.840.10045"))
        );
    }
}
