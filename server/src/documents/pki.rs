//! The documents' PKI (decision 32): an issuing-authority root (IACA-style, ISO 18013-5
//! Annex B), one demo document-signer certificate per issuer under it (extended key usage mdlDS
//! 1.0.18013.5.1.2), and a reader-authentication root for verifiers. Generated with rcgen at
//! first start and persisted in `<data_dir>/documents/` like the TLS development PKI: keys 0600
//! PEM, certificates DER. A restart reuses them, so documents issued before stay verifiable.

use std::collections::BTreeMap;
use std::path::Path;

use citizen_protocol::protocol::documents::{DocumentKind, ReaderRole};
use p256::ecdsa::SigningKey;
use p256::pkcs8::DecodePrivateKey;
use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};

use crate::config::ServerError;

/// ISO 18013-5 Annex B `id-mdl-kp-mdlDS`.
const MDL_DS_EKU: [u64; 6] = [1, 0, 18013, 5, 1, 2];
/// ISO 18013-5 Annex B `id-mdl-kp-mdlReaderAuth`.
const MDL_READER_AUTH_EKU: [u64; 6] = [1, 0, 18013, 5, 1, 6];

fn pki_err(e: impl std::fmt::Display) -> ServerError {
    ServerError::Pki(e.to_string())
}

/// A document signer: its certificate chain (leaf first, DER) and its private key.
pub struct DocumentSigner {
    /// `[document signer]` (the IACA is the trust anchor, not sent).
    pub x5chain: Vec<Vec<u8>>,
    key: SigningKey,
}

impl DocumentSigner {
    /// Raw `r‖s` ES256 signature of `message`.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        use p256::ecdsa::signature::Signer;
        let sig: p256::ecdsa::Signature = self.key.sign(message);
        sig.normalize_s().unwrap_or(sig).to_bytes().to_vec()
    }
}

/// The issuing authority, its document signers and the reader-authentication root.
pub struct DocumentPki {
    /// The IACA certificate (DER).
    pub iaca: Vec<u8>,
    /// The reader-authentication root (DER).
    pub reader_root: Vec<u8>,
    reader_root_key: KeyPair,
    signers: BTreeMap<DocumentKind, DocumentSigner>,
}

/// A reader public key as rcgen wants it: the uncompressed SEC1 point of P-256.
struct ReaderPublicKey(Vec<u8>);

impl rcgen::PublicKeyData for ReaderPublicKey {
    fn der_bytes(&self) -> &[u8] {
        &self.0
    }
    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &PKCS_ECDSA_P256_SHA256
    }
}

/// How long a reader certificate is valid: short, because the demo trust framework has no
/// revocation for readers (a lost terminal stops being trusted within this time).
pub const READER_CERTIFICATE_DAYS: i64 = 90;

impl DocumentPki {
    /// The signer of a document kind.
    pub fn signer(&self, kind: DocumentKind) -> &DocumentSigner {
        // Every kind gets a signer in `load`.
        &self.signers[&kind]
    }

    /// Load the PKI from `dir`, generating what is missing.
    pub fn load(dir: &Path) -> Result<Self, ServerError> {
        std::fs::create_dir_all(dir)?;
        let iaca_key = key(&dir.join("iaca-key.pem"))?;
        let iaca = cert(&dir.join("iaca.der"), || iaca_params()?.self_signed(&iaca_key).map_err(pki_err))?;
        let reader_key = key(&dir.join("reader-root-key.pem"))?;
        let reader_root =
            cert(&dir.join("reader-root.der"), || reader_root_params()?.self_signed(&reader_key).map_err(pki_err))?;
        let mut signers = BTreeMap::new();
        for kind in DocumentKind::ALL {
            let name = kind.as_str();
            let ds_key = key(&dir.join(format!("ds-{name}-key.pem")))?;
            let ds = cert(&dir.join(format!("ds-{name}.der")), || {
                let issuer = Issuer::new(iaca_params()?, &iaca_key);
                signer_params(kind)?.signed_by(&ds_key, &issuer).map_err(pki_err)
            })?;
            let signing = SigningKey::from_pkcs8_pem(&ds_key.serialize_pem()).map_err(pki_err)?;
            signers.insert(kind, DocumentSigner { x5chain: vec![ds], key: signing });
        }
        Ok(DocumentPki { iaca, reader_root, reader_root_key: reader_key, signers })
    }

    /// Certify a verifier's reader-authentication key (`public_key`: uncompressed SEC1 P-256,
    /// checked to be on the curve) for `role`: a leaf under the reader root with the
    /// mdlReaderAuth extended key usage and the authorisation extension listing exactly the
    /// role's elements, valid [`READER_CERTIFICATE_DAYS`] from `now` (backdated by the clock
    /// skew). Returns the DER and the end of validity.
    pub fn issue_reader_certificate(
        &self,
        role: ReaderRole,
        public_key: &[u8],
        now: i64,
    ) -> Result<(Vec<u8>, i64), ServerError> {
        let point = p256::PublicKey::from_sec1_bytes(public_key).map_err(|_| pki_err("reader key not on P-256"))?;
        use p256::elliptic_curve::sec1::ToEncodedPoint;
        let uncompressed = point.to_encoded_point(false).as_bytes().to_vec();
        let (vi, en) = role.names();
        let mut p = CertificateParams::new(Vec::<String>::new()).map_err(pki_err)?;
        p.distinguished_name.push(DnType::CountryName, "VN");
        p.distinguished_name.push(DnType::OrganizationName, role.organisation());
        p.distinguished_name.push(DnType::CommonName, format!("{vi} / {en} (demo reader)"));
        p.is_ca = IsCa::ExplicitNoCa;
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::Other(MDL_READER_AUTH_EKU.to_vec())];
        p.use_authority_key_identifier_extension = true;
        let not_after = now + READER_CERTIFICATE_DAYS * 24 * 3600;
        let at = |t: i64| {
            u64::try_from(t)
                .map(|secs| date_time_ymd(1970, 1, 1) + std::time::Duration::from_secs(secs))
                .map_err(|_| pki_err("time before 1970"))
        };
        p.not_before = at(now - super::CLOCK_SKEW_SECS)?;
        p.not_after = at(not_after)?;
        let mut authorised = citizen_mdoc::AuthorisedElements::new();
        for (kind, ids) in role.authorised() {
            authorised
                .entry(kind.doc_type().to_string())
                .or_default()
                .insert(kind.namespace().to_string(), ids.iter().map(|s| (*s).to_string()).collect());
        }
        let arcs: Vec<u64> = citizen_mdoc::READER_AUTHORISATION_OID
            .split('.')
            .map(|a| a.parse::<u64>().map_err(pki_err))
            .collect::<Result<_, _>>()?;
        p.custom_extensions = vec![rcgen::CustomExtension::from_oid_content(
            &arcs,
            citizen_mdoc::encode_reader_authorisation(&authorised),
        )];
        let issuer = Issuer::new(reader_root_params()?, &self.reader_root_key);
        let cert = p.signed_by(&ReaderPublicKey(uncompressed), &issuer).map_err(pki_err)?;
        Ok((cert.der().to_vec(), not_after))
    }
}

fn key(path: &Path) -> Result<KeyPair, ServerError> {
    if path.exists() {
        KeyPair::from_pem(&std::fs::read_to_string(path)?).map_err(pki_err)
    } else {
        let k = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(pki_err)?;
        crate::pki::write_private(path, k.serialize_pem().as_bytes())?;
        Ok(k)
    }
}

fn cert(path: &Path, make: impl FnOnce() -> Result<rcgen::Certificate, ServerError>) -> Result<Vec<u8>, ServerError> {
    if path.exists() {
        return Ok(std::fs::read(path)?);
    }
    let der = make()?.der().to_vec();
    std::fs::write(path, &der)?;
    Ok(der)
}

fn base(cn: &str) -> Result<CertificateParams, ServerError> {
    let mut p = CertificateParams::new(Vec::<String>::new()).map_err(pki_err)?;
    p.distinguished_name.push(DnType::CountryName, "VN");
    p.distinguished_name.push(DnType::OrganizationName, "citizen-core demo issuers (not for production)");
    p.distinguished_name.push(DnType::CommonName, cn);
    Ok(p)
}

/// Rebuilt identically on every start, so the persisted IACA key can sign a missing signer.
fn iaca_params() -> Result<CertificateParams, ServerError> {
    let mut p = base("citizen-core demo IACA")?;
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p.not_before = date_time_ymd(2024, 1, 1);
    p.not_after = date_time_ymd(2045, 1, 1);
    Ok(p)
}

fn reader_root_params() -> Result<CertificateParams, ServerError> {
    let mut p = base("citizen-core demo reader authentication root")?;
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::Other(MDL_READER_AUTH_EKU.to_vec())];
    p.not_before = date_time_ymd(2024, 1, 1);
    p.not_after = date_time_ymd(2045, 1, 1);
    Ok(p)
}

fn signer_params(kind: DocumentKind) -> Result<CertificateParams, ServerError> {
    let issuer = match kind {
        DocumentKind::Cccd => "Cục Cảnh sát QLHC về TTXH (demo CCCD signer)",
        DocumentKind::DrivingLicence => "Cục Cảnh sát giao thông (demo driving licence signer)",
        DocumentKind::HealthInsurance => "Bảo hiểm xã hội Việt Nam (demo BHYT signer)",
        DocumentKind::VehicleRegistration => "Cục Cảnh sát giao thông (demo vehicle registration signer)",
    };
    let mut p = base(issuer)?;
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::Other(MDL_DS_EKU.to_vec())];
    p.use_authority_key_identifier_extension = true;
    p.not_before = date_time_ymd(2024, 1, 1);
    p.not_after = date_time_ymd(2040, 1, 1);
    Ok(p)
}
