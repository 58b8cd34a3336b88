//! A test-only issuer: an IACA root and a document signer (rcgen, P-256), a reader CA and a
//! reader-authentication certificate, and mdocs issued with isomdl 0.2.0's issuance builder for
//! the fictitious register citizens. Shared by the presentation tests and the benchmark
//! (`examples/present_bench.rs` includes this file). Not the server's issuer (issue 13, item 1).
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::collections::BTreeMap;

use citizen_mdoc::{encode_reader_authorisation, AuthorisedElements, CborValue as Value, TrustAnchor};
use isomdl::definitions::x509::X5Chain;
use isomdl::definitions::{CoseKey, DeviceKeyInfo, DigestAlgorithm, EC2Curve, IssuerSigned, ValidityInfo, EC2Y};
use isomdl::issuance::Mdoc;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::EncodePrivateKey;
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// 2026-06-01T00:00:00Z: the tests' clock.
pub const NOW: i64 = 1_780_272_000;
pub const MDL: &str = "org.iso.18013.5.1.mDL";
pub const NS: &str = "org.iso.18013.5.1";
/// id-mdl-kp-mdlDS and id-mdl-kp-mdlReaderAuth (ISO/IEC 18013-5 Annex B).
const MDL_DS: &[u64] = &[1, 0, 18013, 5, 1, 2];
const MDL_READER_AUTH: &[u64] = &[1, 0, 18013, 5, 1, 6];

pub fn new_key() -> SigningKey {
    SigningKey::random(&mut p256::elliptic_curve::rand_core::OsRng)
}

fn rcgen_key(key: &SigningKey) -> KeyPair {
    KeyPair::try_from(key.to_pkcs8_der().unwrap().as_bytes()).unwrap()
}

fn params(cn: &str, ca: bool, not_after_year: i32) -> CertificateParams {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.distinguished_name.push(DnType::CountryName, "VN");
    p.not_before = rcgen::date_time_ymd(2025, 1, 1);
    p.not_after = rcgen::date_time_ymd(not_after_year, 1, 1);
    if ca {
        p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    } else {
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    }
    p
}

/// One certificate authority (IACA or reader CA) and its issuer handle.
pub struct Ca {
    pub der: Vec<u8>,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    pub fn new(cn: &str) -> Self {
        let key = rcgen_key(&new_key());
        let p = params(cn, true, 2035);
        let der = p.self_signed(&key).unwrap().der().to_vec();
        Ca { der, issuer: Issuer::new(p, key) }
    }

    pub fn anchor(&self) -> TrustAnchor {
        TrustAnchor::from_der(&self.der).unwrap()
    }

    /// A leaf certificate for `key`, with one extended key usage and optional extensions.
    pub fn leaf(&self, cn: &str, key: &SigningKey, eku: &[u64], ext: Vec<CustomExtension>, not_after: i32) -> Vec<u8> {
        let mut p = params(cn, false, not_after);
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::Other(eku.to_vec())];
        p.custom_extensions = ext;
        p.signed_by(&rcgen_key(key), &self.issuer).unwrap().der().to_vec()
    }
}

/// A demo issuing authority: IACA root + document signer.
pub struct TestIssuer {
    pub iaca: Ca,
    pub ds_key: SigningKey,
    pub ds_der: Vec<u8>,
}

impl TestIssuer {
    pub fn new(name: &str) -> Self {
        let iaca = Ca::new(&format!("{name} IACA (test)"));
        let ds_key = new_key();
        let ds_der = iaca.leaf(&format!("{name} DS (test)"), &ds_key, MDL_DS, vec![], 2030);
        TestIssuer { iaca, ds_key, ds_der }
    }

    /// Issue an mdoc of `doc_type` with `elements` in namespace `ns`, bound to `device_key`,
    /// valid over `[from, until]` (Unix seconds). Returns the `IssuerSigned` CBOR.
    pub fn issue(
        &self,
        doc_type: &str,
        ns: &str,
        elements: BTreeMap<String, Value>,
        device_key: &p256::ecdsa::VerifyingKey,
        from: i64,
        until: i64,
    ) -> Vec<u8> {
        let point = device_key.to_encoded_point(false);
        let cose_key = CoseKey::EC2 {
            crv: EC2Curve::P256,
            x: point.x().unwrap().to_vec(),
            y: EC2Y::Value(point.y().unwrap().to_vec()),
        };
        let t = |s: i64| time::OffsetDateTime::from_unix_timestamp(s).unwrap();
        let validity =
            ValidityInfo { signed: t(from), valid_from: t(from), valid_until: t(until), expected_update: None };
        let x5chain = X5Chain::builder().with_der_certificate(&self.ds_der).unwrap().build().unwrap();
        let mdoc = Mdoc::builder()
            .doc_type(doc_type.into())
            .namespaces(BTreeMap::from([(ns.to_owned(), elements)]))
            .validity_info(validity)
            .digest_algorithm(DigestAlgorithm::SHA256)
            .device_key_info(DeviceKeyInfo { device_key: cose_key, key_authorizations: None, key_info: None })
            .issue::<SigningKey, Signature>(x5chain, self.ds_key.clone())
            .unwrap();
        let issuer_signed = IssuerSigned { namespaces: Some(mdoc.namespaces), issuer_auth: mdoc.issuer_auth };
        isomdl::cbor::to_vec(&issuer_signed).unwrap()
    }
}

/// A reader CA and one reader certificate authorised for `authorised` (or stating nothing).
pub struct TestReader {
    pub ca: Ca,
    pub key: SigningKey,
    pub cert: Vec<u8>,
}

impl TestReader {
    pub fn new(cn: &str, authorised: Option<&AuthorisedElements>, not_after: i32) -> Self {
        Self::with_usage(cn, authorised, not_after, MDL_READER_AUTH)
    }

    /// A reader certificate whose extended key usage is the document signer's, not mdlReaderAuth.
    pub fn with_document_signer_usage(cn: &str) -> Self {
        Self::with_usage(cn, None, 2030, MDL_DS)
    }

    fn with_usage(cn: &str, authorised: Option<&AuthorisedElements>, not_after: i32, eku: &[u64]) -> Self {
        let ca = Ca::new("Reader CA (test)");
        let key = new_key();
        let ext = authorised
            .map(|a| {
                let arcs: Vec<u64> =
                    citizen_mdoc::READER_AUTHORISATION_OID.split('.').map(|x| x.parse().unwrap()).collect();
                vec![CustomExtension::from_oid_content(&arcs, encode_reader_authorisation(a))]
            })
            .unwrap_or_default();
        let cert = ca.leaf(cn, &key, eku, ext, not_after);
        TestReader { ca, key, cert }
    }

    pub fn auth_key(&self) -> citizen_mdoc::ReaderAuthKey {
        citizen_mdoc::ReaderAuthKey::new(self.key.clone(), std::slice::from_ref(&self.cert)).unwrap()
    }
}

fn tdate(s: &str) -> Value {
    Value::Tag(1004, Box::new(Value::Text(s.into())))
}

/// The twenty mDL elements of the fictitious citizen Nguyễn Văn Mẫu (register seed
/// 001090000001). The portrait is 2 000 fictitious bytes, not an image.
pub fn mdl_elements_mau() -> BTreeMap<String, Value> {
    let privileges = Value::Array(vec![Value::Map(vec![
        (Value::Text("vehicle_category_code".into()), Value::Text("B".into())),
        (Value::Text("issue_date".into()), tdate("2015-03-01")),
        (Value::Text("expiry_date".into()), tdate("2035-03-01")),
    ])]);
    let text = |s: &str| Value::Text(s.into());
    BTreeMap::from([
        ("family_name".into(), text("Nguyễn")),
        ("given_name".into(), text("Văn Mẫu")),
        ("birth_date".into(), tdate("1990-01-15")),
        ("issue_date".into(), tdate("2025-03-01")),
        ("expiry_date".into(), tdate("2035-03-01")),
        ("issuing_country".into(), text("VN")),
        ("issuing_authority".into(), text("Cục Đường bộ Việt Nam (giả định)")),
        ("document_number".into(), text("010900000001")),
        ("portrait".into(), Value::Bytes(vec![0x5a; 2000])),
        ("driving_privileges".into(), privileges),
        ("un_distinguishing_sign".into(), text("VN")),
        ("administrative_number".into(), text("001090000001")),
        ("sex".into(), Value::Integer(1.into())),
        ("height".into(), Value::Integer(170.into())),
        ("weight".into(), Value::Integer(65.into())),
        ("eye_colour".into(), text("black")),
        ("hair_colour".into(), text("black")),
        ("birth_place".into(), text("Hà Nội")),
        ("resident_address".into(), text("Số 1 Phố Thử Nghiệm, Phường Mẫu, Quận Ví Dụ, Hà Nội (địa chỉ giả định)")),
        ("age_over_18".into(), Value::Bool(true)),
    ])
}

/// Another citizen's licence (Trần Thị Thử Nghiệm, 079195000002), same issuer.
pub fn mdl_elements_nghiem() -> BTreeMap<String, Value> {
    let mut e = mdl_elements_mau();
    e.insert("family_name".into(), Value::Text("Trần".into()));
    e.insert("given_name".into(), Value::Text("Thị Thử Nghiệm".into()));
    e.insert("birth_date".into(), tdate("1995-06-30"));
    e.insert("document_number".into(), Value::Text("791950000002".into()));
    e
}

/// The six elements a traffic-police check discloses.
pub const SIX: [&str; 6] =
    ["family_name", "given_name", "birth_date", "document_number", "expiry_date", "driving_privileges"];

/// Unix seconds of 2026-01-01 and 2027-01-01: the MSO validity of the tests' documents.
pub const FROM: i64 = 1_767_225_600;
pub const UNTIL: i64 = 1_798_761_600;

/// Sign like a device key store: ECDSA P-256 over SHA-256 of `message`, DER-encoded (Android).
pub fn key_store_sign_der(key: &SigningKey, message: &[u8]) -> Vec<u8> {
    use p256::ecdsa::signature::Signer;
    let sig: Signature = key.sign(message);
    sig.to_der().as_bytes().to_vec()
}
