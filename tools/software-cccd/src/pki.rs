//! A generated test PKI: a country signing CA (CSCA) → a document signer (DS) → EF.SOD, with EC
//! keys and, as ICAO Part 12 asks, explicit domain parameters in the certificates' keys.
//! Certificates and the CMS SignedData are assembled from DER by hand (no X.509 builder crate
//! speaks explicit parameters); the reader parses them with `x509-cert` and `cms`, so the two
//! sides do not share an encoder.

use std::collections::BTreeMap;

use citizen_chip::ec::{ec_spki, Curve};
use citizen_chip::oid;
use citizen_chip::tlv::{der_uint, encode};
use sha2::{Digest, Sha256};

use crate::keys::KeyPair;

/// 2025-01-01T00:00:00Z.
pub const VALID_FROM: u64 = 1_735_689_600;
/// 2045-01-01T00:00:00Z.
pub const VALID_TO: u64 = 2_366_841_600;

fn civil(unix: u64) -> (i64, u32, u32, u32, u32, u32) {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = if m <= 2 { y + 1 } else { y };
    (y, m, d, (secs / 3600) as u32, ((secs / 60) % 60) as u32, (secs % 60) as u32)
}

/// DER Time: UTCTime before 2050, GeneralizedTime from 2050.
pub fn der_time(unix: u64) -> Vec<u8> {
    let (y, mo, d, h, mi, s) = civil(unix);
    if y < 2050 {
        encode(0x17, format!("{:02}{mo:02}{d:02}{h:02}{mi:02}{s:02}Z", y % 100).as_bytes())
    } else {
        encode(0x18, format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}Z").as_bytes())
    }
}

/// A Name `C=VN, CN=<cn>`.
pub fn name(cn: &str) -> Vec<u8> {
    let rdn = |o: &const_oid::ObjectIdentifier, tag: u32, v: &str| {
        encode(0x31, &encode(0x30, &[encode(0x06, oid::der(o)), encode(tag, v.as_bytes())].concat()))
    };
    encode(0x30, &[rdn(&oid::COUNTRY_NAME, 0x13, "VN"), rdn(&oid::COMMON_NAME, 0x0C, cn)].concat())
}

fn alg(o: &const_oid::ObjectIdentifier) -> Vec<u8> {
    encode(0x30, &encode(0x06, oid::der(o)))
}

/// Build and sign a certificate.
#[allow(clippy::too_many_arguments)]
pub fn certificate(
    serial: u32,
    issuer: &[u8],
    subject: &[u8],
    not_before: u64,
    not_after: u64,
    subject_key: &KeyPair,
    is_ca: bool,
    signer: &KeyPair,
    explicit: bool,
) -> Vec<u8> {
    let sig_alg = alg(&oid::ECDSA_SHA256);
    let mut tbs = vec![
        encode(0xA0, &der_uint(&[2])),
        der_uint(&serial.to_be_bytes()),
        sig_alg.clone(),
        issuer.to_vec(),
        encode(0x30, &[der_time(not_before), der_time(not_after)].concat()),
        subject.to_vec(),
        ec_spki(subject_key.curve, &subject_key.public(), explicit),
    ];
    if is_ca {
        let bc = encode(0x30, &encode(0x01, &[0xFF]));
        let ext = encode(
            0x30,
            &[encode(0x06, oid::der(&oid::BASIC_CONSTRAINTS)), encode(0x01, &[0xFF]), encode(0x04, &bc)].concat(),
        );
        tbs.push(encode(0xA3, &encode(0x30, &ext)));
    }
    let tbs = encode(0x30, &tbs.concat());
    let sig = signer.sign_prehash_der(&Sha256::digest(&tbs));
    let mut bits = vec![0u8];
    bits.extend_from_slice(&sig);
    encode(0x30, &[tbs, sig_alg, encode(0x03, &bits)].concat())
}

/// A CSCA and one document signer.
#[derive(Debug, Clone)]
pub struct TestPki {
    /// The CSCA certificate (DER), for the reader's trust list.
    pub csca: Vec<u8>,
    /// The document signer certificate (DER), embedded in EF.SOD.
    pub ds: Vec<u8>,
    ds_key: KeyPair,
    ds_issuer: Vec<u8>,
    ds_serial: u32,
}

impl TestPki {
    /// A PKI whose keys derive from `label`, on `curve`, with explicit EC parameters in both
    /// certificates, the DS valid from `ds_from` to `ds_to`.
    pub fn generate(label: &str, curve: Curve, ds_from: u64, ds_to: u64) -> Self {
        let csca_key = KeyPair::derive(curve, &format!("{label}/csca"));
        let ds_key = KeyPair::derive(curve, &format!("{label}/ds"));
        let csca_name = name(&format!("CSCA {label} (test, fictitious)"));
        let ds_name = name(&format!("Document Signer {label} (test, fictitious)"));
        let csca = certificate(1, &csca_name, &csca_name, VALID_FROM, VALID_TO, &csca_key, true, &csca_key, true);
        let ds = certificate(2, &csca_name, &ds_name, ds_from, ds_to, &ds_key, false, &csca_key, true);
        TestPki { csca, ds, ds_key, ds_issuer: csca_name, ds_serial: 2 }
    }

    /// The default test PKI (brainpoolP256r1, DS valid 2025–2045).
    pub fn default_test() -> Self {
        Self::generate("VN test", Curve::BrainpoolP256r1, VALID_FROM, VALID_TO)
    }

    /// EF.SOD over `data_groups` (number → file bytes), SHA-256, signed by the DS.
    pub fn sign_sod(&self, data_groups: &BTreeMap<u8, Vec<u8>>) -> Vec<u8> {
        let sha256 = alg(&oid::SHA256);
        let hashes: Vec<Vec<u8>> = data_groups
            .iter()
            .map(|(n, bytes)| encode(0x30, &[der_uint(&[*n]), encode(0x04, &Sha256::digest(bytes))].concat()))
            .collect();
        let lds = encode(0x30, &[der_uint(&[0]), sha256.clone(), encode(0x30, &hashes.concat())].concat());
        let attr = |o: &const_oid::ObjectIdentifier, v: Vec<u8>| {
            encode(0x30, &[encode(0x06, oid::der(o)), encode(0x31, &v)].concat())
        };
        let mut attrs = [
            attr(&oid::ATTR_CONTENT_TYPE, encode(0x06, oid::der(&oid::LDS_SECURITY_OBJECT))),
            attr(&oid::ATTR_MESSAGE_DIGEST, encode(0x04, &Sha256::digest(&lds))),
        ];
        attrs.sort(); // DER SET OF order
        let attrs = attrs.concat();
        let signature = self.ds_key.sign_prehash_der(&Sha256::digest(encode(0x31, &attrs)));
        let sid = encode(0x30, &[self.ds_issuer.clone(), der_uint(&self.ds_serial.to_be_bytes())].concat());
        let signer_info = encode(
            0x30,
            &[
                der_uint(&[1]),
                sid,
                sha256.clone(),
                encode(0xA0, &attrs),
                alg(&oid::ECDSA_SHA256),
                encode(0x04, &signature),
            ]
            .concat(),
        );
        let encap = encode(
            0x30,
            &[encode(0x06, oid::der(&oid::LDS_SECURITY_OBJECT)), encode(0xA0, &encode(0x04, &lds))].concat(),
        );
        let signed_data = encode(
            0x30,
            &[der_uint(&[3]), encode(0x31, &sha256), encap, encode(0xA0, &self.ds), encode(0x31, &signer_info)]
                .concat(),
        );
        let content_info =
            encode(0x30, &[encode(0x06, oid::der(&oid::SIGNED_DATA)), encode(0xA0, &signed_data)].concat());
        encode(0x77, &content_info)
    }
}
