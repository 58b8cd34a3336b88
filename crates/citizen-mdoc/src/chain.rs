//! The issuer certificate chain: the `x5chain` of the IssuerAuth COSE_Sign1 must lead, signature
//! by signature, to one of the verifier's trust anchors (IACA certificates), every certificate
//! within its validity at the verifier's clock. ECDSA P-256 with SHA-256 only (the EUDI ARF floor
//! and what our issuers use); anything else is refused as unsupported, never skipped.

use der::{Decode, Encode};
use p256::ecdsa::{signature::Verifier, Signature, VerifyingKey};
use x509_cert::Certificate;

use crate::MdocError;

/// `ecdsa-with-SHA256` (RFC 5758).
const ECDSA_WITH_SHA256: der::asn1::ObjectIdentifier = der::asn1::ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");

/// `id-mdl-kp-mdlDS` (ISO/IEC 18013-5 Annex B): the extended key usage of a document signer.
const MDL_DS: der::asn1::ObjectIdentifier = der::asn1::ObjectIdentifier::new_unwrap("1.0.18013.5.1.2");

/// `id-mdl-kp-mdlReaderAuth` (ISO/IEC 18013-5 Annex B): the extended key usage of a reader
/// authentication certificate.
pub(crate) const MDL_READER_AUTH: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.0.18013.5.1.6");

/// Whether the certificate's extended key usage names `usage`.
pub(crate) fn has_extended_key_usage(cert: &Certificate, usage: &der::asn1::ObjectIdentifier) -> bool {
    use der::asn1::ObjectIdentifier;
    use x509_cert::ext::pkix::ExtendedKeyUsage;
    const EKU: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
    cert.tbs_certificate
        .extensions
        .iter()
        .flatten()
        .filter(|e| e.extn_id == EKU)
        .filter_map(|e| ExtendedKeyUsage::from_der(e.extn_value.as_bytes()).ok())
        .any(|eku| eku.0.contains(usage))
}

/// Whether the certificate is a document signer (its extended key usage names mdlDS). Without
/// this, any certificate the IACA issued (a reader-authentication one, or the root itself) could
/// sign MSOs.
pub(crate) fn is_document_signer(cert: &Certificate) -> bool {
    has_extended_key_usage(cert, &MDL_DS)
}

/// The value of the extension `oid` of `cert`, if present (the DER inside `extnValue`).
pub(crate) fn extension_value<'a>(cert: &'a Certificate, oid: &der::asn1::ObjectIdentifier) -> Option<&'a [u8]> {
    cert.tbs_certificate.extensions.iter().flatten().find(|e| e.extn_id == *oid).map(|e| e.extn_value.as_bytes())
}

/// A trusted issuing authority root (IACA certificate), parsed once.
#[derive(Clone, Debug)]
pub struct TrustAnchor {
    der: Vec<u8>,
    cert: Certificate,
}

impl TrustAnchor {
    /// Parse a DER-encoded IACA certificate.
    pub fn from_der(der: &[u8]) -> Result<Self, MdocError> {
        let cert = Certificate::from_der(der).map_err(|e| MdocError::Malformed(format!("trust anchor: {e}")))?;
        Ok(TrustAnchor { der: der.to_vec(), cert })
    }

    /// The anchor's subject, for display (`CN=…, C=…`).
    pub fn subject(&self) -> String {
        self.cert.tbs_certificate.subject.to_string()
    }

    /// The DER encoding of the anchor certificate.
    pub fn der(&self) -> &[u8] {
        &self.der
    }
}

/// The public key of a certificate, which must be a P-256 key.
pub(crate) fn p256_key(cert: &Certificate) -> Result<VerifyingKey, MdocError> {
    let spki = &cert.tbs_certificate.subject_public_key_info;
    let bits =
        spki.subject_public_key.as_bytes().ok_or_else(|| MdocError::Malformed("certificate key bit string".into()))?;
    VerifyingKey::from_sec1_bytes(bits).map_err(|_| MdocError::Unsupported("certificate key is not a P-256 key".into()))
}

/// Whether `issuer` signed `cert` (ECDSA P-256 / SHA-256 over the DER `tbsCertificate`).
fn signed_by(cert: &Certificate, issuer: &Certificate) -> Result<bool, MdocError> {
    if cert.tbs_certificate.issuer != issuer.tbs_certificate.subject {
        return Ok(false);
    }
    if cert.signature_algorithm.oid != ECDSA_WITH_SHA256 {
        return Err(MdocError::Unsupported(format!(
            "certificate signature algorithm {}",
            cert.signature_algorithm.oid
        )));
    }
    let Ok(key) = p256_key(issuer) else {
        return Ok(false);
    };
    let tbs = cert.tbs_certificate.to_der().map_err(|e| MdocError::Malformed(format!("certificate: {e}")))?;
    let Some(sig) = cert.signature.as_bytes() else {
        return Ok(false);
    };
    let Ok(sig) = Signature::from_der(sig) else {
        return Ok(false);
    };
    Ok(key.verify(&tbs, &sig).is_ok())
}

/// Whether `now` (Unix seconds) is within the certificate's validity.
fn valid_at(cert: &Certificate, now: i64) -> bool {
    let v = &cert.tbs_certificate.validity;
    let secs = |t: &x509_cert::time::Time| i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX);
    secs(&v.not_before) <= now && now <= secs(&v.not_after)
}

/// Parse the `x5chain` certificates (leaf first).
pub(crate) fn parse_chain(ders: &[Vec<u8>]) -> Result<Vec<Certificate>, MdocError> {
    if ders.is_empty() {
        return Err(MdocError::Malformed("empty x5chain".into()));
    }
    ders.iter().map(|d| Certificate::from_der(d).map_err(|e| MdocError::Malformed(format!("x5chain: {e}")))).collect()
}

/// Check that `chain` (leaf first) leads to one of `anchors`. Signatures and trust first
/// ([`MdocError::IssuerUntrusted`]); validity at `now` is returned separately so the caller can
/// report an expired MSO before an expired certificate.
pub(crate) fn check_trust(chain: &[Certificate], anchors: &[TrustAnchor]) -> Result<ChainTrust, MdocError> {
    for pair in chain.windows(2) {
        if !signed_by(&pair[0], &pair[1])? {
            return Err(MdocError::IssuerUntrusted);
        }
    }
    let Some(last) = chain.last() else {
        return Err(MdocError::Malformed("empty x5chain".into()));
    };
    let last_der = last.to_der().map_err(|e| MdocError::Malformed(format!("x5chain: {e}")))?;
    for anchor in anchors {
        // The chain may end with the anchor itself or with a certificate the anchor signed.
        let trusted = if anchor.der == last_der { true } else { signed_by(last, &anchor.cert)? };
        if trusted {
            let mut certs: Vec<Certificate> = chain.to_vec();
            certs.push(anchor.cert.clone());
            return Ok(ChainTrust { certs });
        }
    }
    Err(MdocError::IssuerUntrusted)
}

/// A chain known to lead to a trust anchor (anchor included, last).
pub(crate) struct ChainTrust {
    certs: Vec<Certificate>,
}

impl ChainTrust {
    /// The subject of the trust anchor the chain leads to.
    pub(crate) fn anchor_subject(&self) -> String {
        self.certs.last().map(|c| c.tbs_certificate.subject.to_string()).unwrap_or_default()
    }

    /// Every certificate of the chain, anchor included, is valid at `now`.
    pub(crate) fn valid_at(&self, now: i64) -> bool {
        self.certs.iter().all(|c| valid_at(c, now))
    }
}
