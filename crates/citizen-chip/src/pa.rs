//! Passive authentication (ICAO 9303 Part 11 §5.1, Parts 10 and 12): EF.SOD is a CMS
//! SignedData (parsed with the `cms` crate) whose content, the LDS security object, lists a hash
//! per data group; the document signer's (DS) certificate inside it must verify that content
//! and chain to a configured country signing CA (CSCA).
//!
//! Certificates are decoded with `x509-cert` (which also checks their DER structure), but the
//! bytes that are hashed and compared — the TBS part, the issuer and subject names — are taken
//! exactly as read, never re-encoded. EC keys with explicit domain parameters (ICAO's rule) are
//! mapped to named curves by [`crate::ec::curve_from_parameters`]. Supported signatures:
//! ECDSA with SHA-256/384/512 on brainpoolP256r1 and P-256; RSA is refused as unsupported
//! (`chip.malformed_certificate`) — see ARCHITECTURE.md, decision 28.

use std::collections::BTreeMap;

use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier};
use const_oid::ObjectIdentifier as Oid;
use der::{Decode, Encode};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};

use crate::ec::{parse_ec_spki, verify_prehash, Curve};
use crate::error::{ChipError, Result};
use crate::{oid, tlv};

/// A hash algorithm of the LDS security object or of a signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlg {
    /// SHA-1 (older documents).
    Sha1,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl HashAlg {
    /// From a digest OID.
    pub fn from_oid(o: &Oid) -> Option<Self> {
        match *o {
            x if x == oid::SHA1 => Some(HashAlg::Sha1),
            x if x == oid::SHA256 => Some(HashAlg::Sha256),
            x if x == oid::SHA384 => Some(HashAlg::Sha384),
            x if x == oid::SHA512 => Some(HashAlg::Sha512),
            _ => None,
        }
    }

    /// Hash `data`.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            HashAlg::Sha1 => Sha1::digest(data).to_vec(),
            HashAlg::Sha256 => Sha256::digest(data).to_vec(),
            HashAlg::Sha384 => Sha384::digest(data).to_vec(),
            HashAlg::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    /// The ecdsa-with-SHAxxx signature OID of this hash, if any.
    fn from_ecdsa_oid(o: &Oid) -> Option<Self> {
        match *o {
            x if x == oid::ECDSA_SHA256 => Some(HashAlg::Sha256),
            x if x == oid::ECDSA_SHA384 => Some(HashAlg::Sha384),
            x if x == oid::ECDSA_SHA512 => Some(HashAlg::Sha512),
            _ => None,
        }
    }
}

/// A parsed EF.SOD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sod {
    /// The hash algorithm of the data-group hashes.
    pub hash_alg: HashAlg,
    /// Data group number → hash.
    pub dg_hashes: BTreeMap<u8, Vec<u8>>,
    /// The encapsulated content (DER LDSSecurityObject) as read.
    pub econtent: Vec<u8>,
    /// DER SET of the signed attributes (what the signature covers), if present.
    pub signed_attrs: Option<Vec<u8>>,
    /// The `messageDigest` signed attribute.
    pub message_digest: Option<Vec<u8>>,
    /// The signer's digest algorithm.
    pub digest_alg: HashAlg,
    /// The signature algorithm OID.
    pub signature_alg: Oid,
    /// The signature value.
    pub signature: Vec<u8>,
    /// The document signer's certificate (DER), matched by the signer identifier.
    pub signer_certificate: Vec<u8>,
}

fn sod_err(_: impl std::fmt::Debug) -> ChipError {
    ChipError::MalformedSod("CMS structure")
}

/// Parse EF.SOD (`77 { ContentInfo(SignedData) }`).
pub fn parse_sod(bytes: &[u8]) -> Result<Sod> {
    let outer = tlv::parse_single(bytes, 0x77).map_err(|_| ChipError::MalformedSod("EF.SOD tag"))?;
    let ci = ContentInfo::from_der(outer.value).map_err(sod_err)?;
    if ci.content_type != oid::SIGNED_DATA {
        return Err(ChipError::MalformedSod("not SignedData"));
    }
    let sd: SignedData = ci.content.decode_as().map_err(sod_err)?;
    if sd.encap_content_info.econtent_type != oid::LDS_SECURITY_OBJECT {
        return Err(ChipError::MalformedSod("content is not an LDS security object"));
    }
    let econtent_any = sd.encap_content_info.econtent.as_ref().ok_or(ChipError::MalformedSod("no content"))?;
    // eContent is an OCTET STRING holding the DER LDSSecurityObject.
    let econtent = der::asn1::OctetString::from_der(&econtent_any.to_der().map_err(sod_err)?)
        .map_err(sod_err)?
        .as_bytes()
        .to_vec();
    let (hash_alg, dg_hashes) = parse_lds_security_object(&econtent)?;

    let signer_infos: Vec<_> = sd.signer_infos.0.iter().collect();
    let [si] = signer_infos.as_slice() else { return Err(ChipError::MalformedSod("expected exactly one signer")) };
    let digest_alg =
        HashAlg::from_oid(&si.digest_alg.oid).ok_or(ChipError::MalformedSod("unsupported digest algorithm"))?;
    let (signed_attrs, message_digest) = match &si.signed_attrs {
        Some(attrs) => {
            let mut md = None;
            let mut content_type_ok = false;
            for a in attrs.iter() {
                let values: Vec<_> = a.values.iter().collect();
                if a.oid == oid::ATTR_MESSAGE_DIGEST {
                    let [v] = values.as_slice() else { return Err(ChipError::MalformedSod("messageDigest")) };
                    md = Some(v.decode_as::<der::asn1::OctetString>().map_err(sod_err)?.as_bytes().to_vec());
                } else if a.oid == oid::ATTR_CONTENT_TYPE {
                    let [v] = values.as_slice() else { return Err(ChipError::MalformedSod("contentType")) };
                    content_type_ok = v.decode_as::<Oid>().map_err(sod_err)? == oid::LDS_SECURITY_OBJECT;
                }
            }
            if !content_type_ok {
                return Err(ChipError::MalformedSod("contentType attribute missing or wrong"));
            }
            (Some(attrs.to_der().map_err(sod_err)?), md)
        }
        None => (None, None),
    };
    let certs: Vec<Vec<u8>> = sd
        .certificates
        .as_ref()
        .map(|set| {
            set.0
                .iter()
                .filter_map(|c| match c {
                    cms::cert::CertificateChoices::Certificate(cert) => cert.to_der().ok(),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let signer_certificate = match &si.sid {
        SignerIdentifier::IssuerAndSerialNumber(isn) => certs.into_iter().find(|c| {
            x509_cert::Certificate::from_der(c).is_ok_and(|x| {
                x.tbs_certificate().issuer() == &isn.issuer && x.tbs_certificate().serial_number() == &isn.serial_number
            })
        }),
        SignerIdentifier::SubjectKeyIdentifier(_) => certs.into_iter().next(),
    }
    .ok_or(ChipError::MalformedSod("the document signer's certificate is not in EF.SOD"))?;
    Ok(Sod {
        hash_alg,
        dg_hashes,
        econtent,
        signed_attrs,
        message_digest,
        digest_alg,
        signature_alg: si.signature_algorithm.oid,
        signature: si.signature.as_bytes().to_vec(),
        signer_certificate,
    })
}

/// Parse the LDSSecurityObject: `SEQUENCE { version, hashAlgorithm, SEQUENCE OF { dg, hash } … }`.
pub fn parse_lds_security_object(bytes: &[u8]) -> Result<(HashAlg, BTreeMap<u8, Vec<u8>>)> {
    let bad = |_| ChipError::MalformedSod("LDS security object");
    let seq = tlv::parse_single(bytes, 0x30).map_err(bad)?;
    let parts = seq.children().map_err(bad)?;
    let (Some(alg), Some(list)) = (parts.get(1), parts.get(2)) else {
        return Err(ChipError::MalformedSod("LDS security object"));
    };
    let alg_oid = alg.children().map_err(bad)?.first().filter(|t| t.tag == 0x06).and_then(|t| oid::from_der(t.value));
    let hash_alg =
        alg_oid.as_ref().and_then(HashAlg::from_oid).ok_or(ChipError::MalformedSod("unsupported hash algorithm"))?;
    let mut hashes = BTreeMap::new();
    for entry in list.children().map_err(bad)? {
        let kv = entry.children().map_err(bad)?;
        let [n, h] = kv.as_slice() else { return Err(ChipError::MalformedSod("data group hash entry")) };
        if n.tag != 0x02 || h.tag != 0x04 {
            return Err(ChipError::MalformedSod("data group hash entry"));
        }
        let dg = u8::try_from(tlv::small_uint(n.value).map_err(bad)?)
            .map_err(|_| ChipError::MalformedSod("data group number"))?;
        if !(1..=16).contains(&dg) || hashes.insert(dg, h.value.to_vec()).is_some() {
            return Err(ChipError::MalformedSod("data group number"));
        }
    }
    Ok((hash_alg, hashes))
}

/// A certificate's parts as read (TBS bytes, names, key, validity, signature).
#[derive(Debug, Clone)]
pub struct CertParts {
    /// The TBSCertificate DER as read.
    pub tbs: Vec<u8>,
    /// Issuer Name DER.
    pub issuer: Vec<u8>,
    /// Subject Name DER.
    pub subject: Vec<u8>,
    /// Public key curve and point.
    pub key: (Curve, Vec<u8>),
    /// Validity, Unix seconds.
    pub not_before: u64,
    /// Validity, Unix seconds.
    pub not_after: u64,
    /// Outer signature algorithm.
    pub signature_alg: Oid,
    /// Signature value (DER ECDSA).
    pub signature: Vec<u8>,
}

/// Decode a certificate: structure checked by `x509-cert`, parts taken from the bytes as read.
pub fn parse_certificate(der_bytes: &[u8]) -> Result<CertParts> {
    let bad = |_| ChipError::MalformedCertificate("certificate structure");
    let cert = x509_cert::Certificate::from_der(der_bytes)
        .map_err(|_| ChipError::MalformedCertificate("certificate structure"))?;
    let validity = cert.tbs_certificate().validity();
    let not_before = validity.not_before.to_unix_duration().as_secs();
    let not_after = validity.not_after.to_unix_duration().as_secs();
    let outer = tlv::parse_single(der_bytes, 0x30).map_err(bad)?;
    let top = outer.children().map_err(bad)?;
    let [tbs, alg, sig] = top.as_slice() else { return Err(ChipError::MalformedCertificate("certificate structure")) };
    let fields = tbs.children().map_err(bad)?;
    // [0] version is present in v3 certificates; skip it.
    let off = usize::from(fields.first().is_some_and(|f| f.tag == 0xA0));
    let get = |i: usize| fields.get(off + i).ok_or(ChipError::MalformedCertificate("TBS fields"));
    let issuer = get(2)?.raw.to_vec();
    let subject = get(4)?.raw.to_vec();
    let key = parse_ec_spki(get(5)?.raw)?;
    let alg_oid = alg
        .children()
        .map_err(bad)?
        .first()
        .and_then(|t| oid::from_der(t.value))
        .ok_or(ChipError::MalformedCertificate("signature algorithm"))?;
    let signature = sig.value.strip_prefix(&[0u8]).ok_or(ChipError::MalformedCertificate("signature bits"))?.to_vec();
    Ok(CertParts {
        tbs: tbs.raw.to_vec(),
        issuer,
        subject,
        key,
        not_before,
        not_after,
        signature_alg: alg_oid,
        signature,
    })
}

/// The configured country signing CAs (DER certificates). For the CCCD this is the Vietnamese
/// CSCA once obtained (from the ICAO PKD or a national master list); tests use a generated one.
#[derive(Debug, Clone, Default)]
pub struct TrustList {
    cscas: Vec<Vec<u8>>,
}

impl TrustList {
    /// A trust list from DER certificates; each must parse.
    pub fn new(cscas: Vec<Vec<u8>>) -> Result<Self> {
        for c in &cscas {
            parse_certificate(c)?;
        }
        Ok(TrustList { cscas })
    }

    /// Whether no CSCA is configured.
    pub fn is_empty(&self) -> bool {
        self.cscas.is_empty()
    }
}

/// What passive authentication established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassiveAuthReport {
    /// The data groups whose hash matched EF.SOD.
    pub verified_data_groups: Vec<u8>,
    /// The document signer's certificate (DER).
    pub signer_certificate: Vec<u8>,
    /// The CSCA it chains to (DER).
    pub csca_certificate: Vec<u8>,
}

fn verify_cert_signature(cert: &CertParts, issuer_key: &(Curve, Vec<u8>)) -> bool {
    let Some(h) = HashAlg::from_ecdsa_oid(&cert.signature_alg) else { return false };
    verify_prehash(issuer_key.0, &issuer_key.1, &h.digest(&cert.tbs), &cert.signature, true)
}

/// Check EF.SOD against the data groups read (`number → bytes as read`) and the trust list, at
/// `now` (Unix seconds). Order: data-group hashes, SOD signature, chain and validity.
pub fn verify(
    sod: &Sod,
    data_groups: &BTreeMap<u8, Vec<u8>>,
    trust: &TrustList,
    now: u64,
) -> Result<PassiveAuthReport> {
    let mut verified = Vec::new();
    for (dg, bytes) in data_groups {
        let expected = sod.dg_hashes.get(dg).ok_or(ChipError::HashMismatch { dg: *dg })?;
        if !crate::crypto::ct_eq(&sod.hash_alg.digest(bytes), expected) {
            return Err(ChipError::HashMismatch { dg: *dg });
        }
        verified.push(*dg);
    }
    let ds = parse_certificate(&sod.signer_certificate)?;
    let signed = match (&sod.signed_attrs, &sod.message_digest) {
        (Some(attrs), Some(md)) => {
            if !crate::crypto::ct_eq(&sod.digest_alg.digest(&sod.econtent), md) {
                return Err(ChipError::SodSignatureInvalid);
            }
            attrs.clone()
        }
        (Some(_), None) => return Err(ChipError::MalformedSod("signed attributes without messageDigest")),
        (None, _) => sod.econtent.clone(),
    };
    let sig_hash = HashAlg::from_ecdsa_oid(&sod.signature_alg)
        .or(if sod.signature_alg == oid::EC_PUBLIC_KEY { Some(sod.digest_alg) } else { None })
        .ok_or(ChipError::MalformedSod("unsupported signature algorithm (RSA is not supported)"))?;
    if !verify_prehash(ds.key.0, &ds.key.1, &sig_hash.digest(&signed), &sod.signature, true) {
        return Err(ChipError::SodSignatureInvalid);
    }
    let mut issuer_found = None;
    for csca_der in &trust.cscas {
        let csca = parse_certificate(csca_der)?;
        if csca.subject == ds.issuer && verify_cert_signature(&ds, &csca.key) {
            issuer_found = Some((csca, csca_der));
            break;
        }
    }
    let (csca, csca_der) = issuer_found.ok_or(ChipError::SignerUntrusted)?;
    for c in [&ds, &csca] {
        if now < c.not_before || now > c.not_after {
            return Err(ChipError::SignerExpired);
        }
    }
    Ok(PassiveAuthReport {
        verified_data_groups: verified,
        signer_certificate: sod.signer_certificate.clone(),
        csca_certificate: csca_der.clone(),
    })
}
