//! The certificates the centers sign together, fixed byte for byte before anyone signs.
//!
//! FROST signs raw bytes with no domain, so the group key must sign nothing but a
//! to-be-signed certificate the chain's rules made: execution builds it ([`Tbs::der`],
//! deterministic: the same fields give the same DER on every node), the centers rebuild
//! it from the same fields before they sign, and execution assembles the signed
//! certificate ([`assemble`]) once the signature shares are in. X.509 v3, Ed25519
//! (RFC 8410), encoded by the RustCrypto `x509-cert` crate.
//!
//! - The root: issuer = subject = the consortium, a CA (basic constraints, key usage
//!   keyCertSign and cRLSign), valid from the chain's genesis to 9999-12-31 (RFC 5280's
//!   "no well-defined expiration").
//! - A certificate: issuer = the consortium root, the applicant's subject and Ed25519
//!   key, the requested validity, not a CA, key usage digitalSignature, and a
//!   non-critical extension ([`VIGIL_ISSUANCE_OID`]) naming the chain and the centers
//!   that approved it.

use der::asn1::{BitString, GeneralizedTime, OctetString, SetOfVec, UtcTime, Utf8StringRef};
use der::{Any, DateTime, Decode, Encode, Sequence, Tag};
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::certificate::{Certificate, TbsCertificate, Version};
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage, KeyUsages};
use x509_cert::ext::Extension;
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::time::{Time, Validity};

pub use super::issuance::{Subject, NAME_PART_LEN_MAX, NO_EXPIRATION_S, ROOT_ORGANIZATION};
use crate::crypto::PublicKey;
use crate::hash::Hash32;

/// Ed25519 (RFC 8410): the signature and key algorithm of every certificate here.
pub const ID_ED25519: der::oid::ObjectIdentifier = der::oid::ObjectIdentifier::new_unwrap("1.3.101.112");
/// The extension naming the chain and the approving centers (Vigil's private arc).
pub const VIGIL_ISSUANCE_OID: der::oid::ObjectIdentifier =
    der::oid::ObjectIdentifier::new_unwrap("1.3.6.1.4.1.58998.18.1");

/// Why a certificate could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    #[error("a name part must be 1 to {NAME_PART_LEN_MAX} characters, without control characters")]
    Name,
    #[error("the validity must start before it ends, and end by 9999-12-31")]
    Validity,
    #[error("cannot encode the certificate: {0}")]
    Encoding(String),
}

impl From<der::Error> for CertificateError {
    fn from(e: der::Error) -> Self {
        CertificateError::Encoding(e.to_string())
    }
}

/// A subject as an X.509 name: the organisation (if any), then the common name.
fn name(subject: &Subject) -> Result<Name, CertificateError> {
    subject.check().map_err(|_| CertificateError::Name)?;
    let part = |oid, value: &str| -> Result<RelativeDistinguishedName, CertificateError> {
        let value = Any::new(Tag::Utf8String, value.as_bytes())?;
        Ok(RelativeDistinguishedName(SetOfVec::try_from(vec![AttributeTypeAndValue { oid, value }])?))
    };
    let mut parts = Vec::with_capacity(2);
    if let Some(o) = &subject.organization {
        parts.push(part(der::oid::db::rfc4519::O, o)?);
    }
    parts.push(part(der::oid::db::rfc4519::CN, &subject.common_name)?);
    Ok(RdnSequence(parts))
}

/// The extension's content: the chain and the approving centers' names.
#[derive(Sequence)]
struct Issuance<'a> {
    chain: Utf8StringRef<'a>,
    approvers: Vec<Utf8StringRef<'a>>,
}

/// What a to-be-signed certificate is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tbs {
    /// A positive serial of at most 16 bytes ([`serial_from`]).
    pub serial: [u8; 16],
    pub issuer: Subject,
    pub subject: Subject,
    pub not_before_s: u64,
    pub not_after_s: u64,
    pub subject_key: PublicKey,
    /// The root (a CA) or a certificate it issues.
    pub ca: bool,
    /// For an issued certificate: the chain, and the names of the centers that approved.
    pub issuance: Option<(String, Vec<String>)>,
}

/// A serial from a hash: its first 16 bytes, top bit cleared (positive), never zero.
pub fn serial_from(hash: &Hash32) -> [u8; 16] {
    let mut serial = [0u8; 16];
    serial.copy_from_slice(&hash.0[..16]);
    serial[0] &= 0x7f;
    serial[0] |= 0x01 << 6; // 16 significant bytes: no leading zero to strip, never zero
    serial
}

fn time(seconds: u64) -> Result<Time, CertificateError> {
    let at = DateTime::from_unix_duration(core::time::Duration::from_secs(seconds))?;
    // RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
    Ok(if at.year() < 2050 {
        Time::UtcTime(UtcTime::from_date_time(at)?)
    } else {
        Time::GeneralTime(GeneralizedTime::from_date_time(at))
    })
}

fn extension(
    id: der::oid::ObjectIdentifier,
    critical: bool,
    value: &impl Encode,
) -> Result<Extension, CertificateError> {
    Ok(Extension { extn_id: id, critical, extn_value: OctetString::new(value.to_der()?)? })
}

fn algorithm() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned { oid: ID_ED25519, parameters: None }
}

impl Tbs {
    fn certificate(&self) -> Result<TbsCertificate, CertificateError> {
        if self.not_before_s >= self.not_after_s || self.not_after_s > NO_EXPIRATION_S {
            return Err(CertificateError::Validity);
        }
        let usage =
            if self.ca { KeyUsages::KeyCertSign | KeyUsages::CRLSign } else { KeyUsages::DigitalSignature.into() };
        let mut extensions = vec![
            extension(
                der::oid::db::rfc5280::ID_CE_BASIC_CONSTRAINTS,
                true,
                &BasicConstraints { ca: self.ca, path_len_constraint: None },
            )?,
            extension(der::oid::db::rfc5280::ID_CE_KEY_USAGE, true, &KeyUsage(usage))?,
        ];
        if let Some((chain, approvers)) = &self.issuance {
            let approvers = approvers.iter().map(Utf8StringRef::new).collect::<Result<Vec<_>, _>>()?;
            let issuance = Issuance { chain: Utf8StringRef::new(chain)?, approvers };
            extensions.push(extension(VIGIL_ISSUANCE_OID, false, &issuance)?);
        }
        Ok(TbsCertificate {
            version: Version::V3,
            serial_number: SerialNumber::new(&self.serial)?,
            signature: algorithm(),
            issuer: name(&self.issuer)?,
            validity: Validity { not_before: time(self.not_before_s)?, not_after: time(self.not_after_s)? },
            subject: name(&self.subject)?,
            subject_public_key_info: SubjectPublicKeyInfoOwned {
                algorithm: algorithm(),
                subject_public_key: BitString::from_bytes(&self.subject_key.to_bytes())?,
            },
            issuer_unique_id: None,
            subject_unique_id: None,
            extensions: Some(extensions),
        })
    }

    /// The to-be-signed certificate's DER: what the group key signs.
    pub fn der(&self) -> Result<Vec<u8>, CertificateError> {
        Ok(self.certificate()?.to_der()?)
    }
}

/// The signed certificate's DER from its to-be-signed DER and the group's signature.
pub fn assemble(tbs_der: &[u8], signature: &[u8; 64]) -> Result<Vec<u8>, CertificateError> {
    let certificate = Certificate {
        tbs_certificate: TbsCertificate::from_der(tbs_der)?,
        signature_algorithm: algorithm(),
        signature: BitString::from_bytes(signature)?,
    };
    Ok(certificate.to_der()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::SecretKey;
    use crate::x509;

    /// An Ed25519 signature over raw bytes by the key of seed `seed` (as FROST's
    /// aggregate is: RFC 8032, no domain).
    fn sign_raw(seed: [u8; 32], message: &[u8]) -> [u8; 64] {
        use ed25519_dalek::Signer;
        ed25519_dalek::SigningKey::from_bytes(&seed).sign(message).to_bytes()
    }

    fn root_tbs(key: &SecretKey) -> Tbs {
        let chain = crate::ChainId::new("vigil-test").unwrap();
        Tbs {
            serial: serial_from(&Hash32([7; 32])),
            issuer: Subject::root(&chain),
            subject: Subject::root(&chain),
            not_before_s: 1_700_000_000,
            not_after_s: NO_EXPIRATION_S,
            subject_key: key.public_key(),
            ca: true,
            issuance: None,
        }
    }

    /// A root and a certificate it issues, signed here by one Ed25519 key standing in
    /// for the group: they read back with this crate's X.509 reader, each verifies
    /// against its issuer, and the same fields make the same bytes.
    #[test]
    fn a_root_and_a_certificate_it_issues_read_back_and_verify() {
        let group = SecretKey::from_seed([1; 32]);
        let root = root_tbs(&group);
        let root_tbs = root.der().unwrap();
        assert_eq!(root_tbs, root_tbs_again(&group), "deterministic");
        let root_der = assemble(&root_tbs, &sign_raw([1; 32], &root_tbs)).unwrap();
        let read = x509::Certificate::from_der(&root_der).unwrap();
        read.verify(&group.public_key()).unwrap();
        assert_eq!(read.subject_key, group.public_key());
        assert_eq!((read.not_before_s, read.not_after_s), (1_700_000_000, NO_EXPIRATION_S));

        let holder = SecretKey::from_seed([2; 32]);
        let leaf = Tbs {
            serial: serial_from(&Hash32([9; 32])),
            subject: Subject { common_name: "alice".into(), organization: Some("Acme".into()) },
            not_after_s: 1_800_000_000,
            subject_key: holder.public_key(),
            ca: false,
            issuance: Some(("vigil-test".into(), vec!["center-0".into(), "center-2".into()])),
            ..root
        };
        let leaf_tbs = leaf.der().unwrap();
        let leaf_der = assemble(&leaf_tbs, &sign_raw([1; 32], &leaf_tbs)).unwrap();
        let read = x509::Certificate::from_der(&leaf_der).unwrap();
        read.verify(&group.public_key()).unwrap();
        assert!(read.verify(&holder.public_key()).is_err());
        assert_eq!(read.subject_key, holder.public_key());
    }

    fn root_tbs_again(group: &SecretKey) -> Vec<u8> {
        root_tbs(group).der().unwrap()
    }

    #[test]
    fn bad_names_and_validities_are_refused() {
        let group = SecretKey::from_seed([1; 32]);
        let mut tbs = root_tbs(&group);
        tbs.subject.common_name = "x".repeat(NAME_PART_LEN_MAX + 1);
        assert_eq!(tbs.der(), Err(CertificateError::Name));
        tbs.subject.common_name = "a\nb".into();
        assert_eq!(tbs.der(), Err(CertificateError::Name));
        let mut tbs = root_tbs(&group);
        tbs.not_after_s = tbs.not_before_s;
        assert_eq!(tbs.der(), Err(CertificateError::Validity));
        assert_eq!(serial_from(&Hash32([0; 32]))[0], 0x40);
        assert_eq!(serial_from(&Hash32([0xff; 32]))[0], 0x7f);
    }
}
