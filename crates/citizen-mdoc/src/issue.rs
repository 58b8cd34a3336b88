//! Issuance of an mdoc's `IssuerSigned` (the issuer's half of ISO/IEC 18013-5 §9.1.2) and the
//! holder's check of what it received (issue 13, item 1; ARCHITECTURE.md decision 32).
//!
//! [`issue_issuer_signed`] builds the `IssuerSignedItem`s (isomdl structures, random salt per
//! element), the `MobileSecurityObject` (value digests, validity, `deviceKeyInfo` = the holder's
//! device public key, and the token-status-list reference `status.status_list {idx, uri}` of
//! draft-ietf-oauth-status-list §6.3) and its COSE_Sign1 with the document signer's `x5chain`.
//! The signature is a caller-supplied function so the private key stays wherever the issuer
//! keeps it.
//!
//! [`check_issued`] is what the wallet runs before storing: the same checks as the verifier
//! (chain to a trust anchor, mdlDS usage, MSO signature, docType, every element's digest,
//! validity), plus "the MSO names *our* device key", each failure with its `mdoc.*` code.

use std::collections::BTreeMap;

use ciborium::Value;
use coset::{iana, CoseSign1Builder, HeaderBuilder};
use isomdl::cose::MaybeTagged;
use isomdl::definitions::helpers::{NonEmptyMap, NonEmptyVec, Tag24};
use isomdl::definitions::issuer_signed::IssuerSigned;
use isomdl::definitions::{
    CoseKey, DeviceKeyInfo, DigestAlgorithm, DigestId, DigestIds, EC2Curve, IssuerSignedItem, Mso, ValidityInfo, EC2Y,
};
use p256::ecdsa::{signature::Verifier, Signature, VerifyingKey};

use crate::chain::{check_trust, is_document_signer, p256_key, parse_chain, TrustAnchor};
use crate::verify::{device_key, digest, encode, require_es256, tag24_encode, x5chain};
use crate::MdocError;

/// COSE header label of `x5chain` (RFC 9360).
const X5CHAIN: i64 = 33;

/// Where a document's revocation bit lives: index `idx` of the token status list at `uri`
/// (draft-ietf-oauth-status-list; the same reference the SD-JWT VC carries in
/// `status.status_list`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusRef {
    /// Index of the document's entry in the list.
    pub idx: u64,
    /// URL of the status list token (`statuslist+jwt`).
    pub uri: String,
}

/// What the issuer signs.
#[derive(Clone, Debug)]
pub struct IssueRequest<'a> {
    /// docType, e.g. `org.iso.18013.5.1.mDL`.
    pub doc_type: &'a str,
    /// namespace → element identifier → value.
    pub namespaces: &'a BTreeMap<String, BTreeMap<String, Value>>,
    /// The holder's device public key (SEC1 or SPKI, P-256): the MSO's `deviceKeyInfo`.
    pub device_public_key: &'a [u8],
    /// `signed`, `validFrom`, `validUntil` (Unix seconds).
    pub signed_unix: i64,
    /// Start of validity.
    pub valid_from_unix: i64,
    /// End of validity.
    pub valid_until_unix: i64,
    /// The document signer certificate (DER) first, then any intermediate.
    pub x5chain: &'a [Vec<u8>],
    /// Revocation reference, written into the MSO as `status`.
    pub status: Option<StatusRef>,
}

fn bad(what: &str) -> MdocError {
    MdocError::Malformed(what.to_string())
}

fn time(unix: i64) -> Result<time::OffsetDateTime, MdocError> {
    time::OffsetDateTime::from_unix_timestamp(unix).map_err(|_| bad("timestamp out of range"))
}

/// The device key as the MSO's COSE_Key (EC2, P-256, both coordinates).
fn cose_device_key(public_key: &[u8]) -> Result<CoseKey, MdocError> {
    let vk = citizen_protocol::crypto::parse_public_key(public_key)
        .map_err(|_| MdocError::Unsupported("device key is not a P-256 key".into()))?;
    let point = vk.to_encoded_point(false);
    let (Some(x), Some(y)) = (point.x(), point.y()) else {
        return Err(bad("device key point"));
    };
    Ok(CoseKey::EC2 { crv: EC2Curve::P256, x: x.to_vec(), y: EC2Y::Value(y.to_vec()) })
}

/// Build and sign an `IssuerSigned` structure; returns its CBOR encoding. `sign` receives the
/// COSE `Sig_structure` bytes and returns the raw `r‖s` ES256 signature (64 bytes).
pub fn issue_issuer_signed(
    req: &IssueRequest<'_>,
    sign: impl FnOnce(&[u8]) -> Result<Vec<u8>, String>,
) -> Result<Vec<u8>, MdocError> {
    let mut issuer_namespaces = BTreeMap::new();
    let mut value_digests: BTreeMap<String, DigestIds> = BTreeMap::new();
    let mut next_id: i32 = 0;
    for (namespace, elements) in req.namespaces {
        let mut items = Vec::with_capacity(elements.len());
        let mut digests = DigestIds::new();
        for (identifier, value) in elements {
            let item = IssuerSignedItem {
                digest_id: DigestId::new(next_id),
                random: citizen_protocol::crypto::random_array::<16>().to_vec().into(),
                element_identifier: identifier.clone(),
                element_value: value.clone(),
            };
            next_id += 1;
            let tagged = Tag24::new(item).map_err(|e| bad(&format!("element: {e}")))?;
            let d = digest(DigestAlgorithm::SHA256, &tag24_encode(&tagged.inner_bytes)?);
            digests.insert(DigestId::new(next_id - 1), d.into());
            items.push(tagged);
        }
        let items = NonEmptyVec::try_from(items).map_err(|_| bad("empty namespace"))?;
        issuer_namespaces.insert(namespace.clone(), items);
        value_digests.insert(namespace.clone(), digests);
    }
    let namespaces = NonEmptyMap::maybe_new(issuer_namespaces).ok_or_else(|| bad("no namespace"))?;

    let mso = Mso {
        version: "1.0".into(),
        digest_algorithm: DigestAlgorithm::SHA256,
        value_digests,
        device_key_info: DeviceKeyInfo {
            device_key: cose_device_key(req.device_public_key)?,
            key_authorizations: None,
            key_info: None,
        },
        doc_type: req.doc_type.to_string(),
        validity_info: ValidityInfo {
            signed: time(req.signed_unix)?,
            valid_from: time(req.valid_from_unix)?,
            valid_until: time(req.valid_until_unix)?,
            expected_update: None,
        },
    };
    // isomdl 0.2.0's Mso has no `status`: encode it, then add the entry to the map.
    let mso_cbor = isomdl::cbor::to_vec(&mso).map_err(|e| bad(&format!("MSO: {e}")))?;
    let mut mso_value: Value = ciborium::from_reader(mso_cbor.as_slice()).map_err(|e| bad(&format!("MSO: {e}")))?;
    if let (Some(status), Value::Map(entries)) = (&req.status, &mut mso_value) {
        let list = Value::Map(vec![
            (Value::Text("idx".into()), Value::Integer(status.idx.into())),
            (Value::Text("uri".into()), Value::Text(status.uri.clone())),
        ]);
        entries.push((Value::Text("status".into()), Value::Map(vec![(Value::Text("status_list".into()), list)])));
    }
    let payload = tag24_encode(&encode(&mso_value)?)?;

    let chain = match req.x5chain {
        [] => return Err(bad("empty x5chain")),
        [one] => Value::Bytes(one.clone()),
        many => Value::Array(many.iter().map(|c| Value::Bytes(c.clone())).collect()),
    };
    let mut error = None;
    let sign1 = CoseSign1Builder::new()
        .protected(HeaderBuilder::new().algorithm(iana::Algorithm::ES256).build())
        .unprotected(HeaderBuilder::new().value(X5CHAIN, chain).build())
        .payload(payload)
        .create_signature(b"", |tbs| match sign(tbs) {
            Ok(s) => s,
            Err(e) => {
                error = Some(e);
                Vec::new()
            }
        })
        .build();
    if let Some(e) = error {
        return Err(MdocError::Unsupported(format!("document signer: {e}")));
    }
    if sign1.signature.len() != 64 {
        return Err(MdocError::Unsupported("document signer did not return a raw r||s signature".into()));
    }
    let issuer_signed = IssuerSigned { namespaces: Some(namespaces), issuer_auth: MaybeTagged::new(false, sign1) };
    isomdl::cbor::to_vec(&issuer_signed).map_err(|e| bad(&format!("IssuerSigned: {e}")))
}

/// A received document that passed every check.
#[derive(Clone, Debug, PartialEq)]
pub struct IssuedDocument {
    /// docType the MSO signs.
    pub doc_type: String,
    /// Subject of the document signer certificate.
    pub issuer: String,
    /// namespace → identifier → value, every one checked against its digest.
    pub elements: BTreeMap<String, BTreeMap<String, Value>>,
    /// MSO `signed`, Unix seconds.
    pub signed_unix: i64,
    /// MSO `validFrom`.
    pub valid_from_unix: i64,
    /// MSO `validUntil`.
    pub valid_until_unix: i64,
    /// The MSO's status list reference, if any.
    pub status: Option<StatusRef>,
}

/// Upper bound on an `IssuerSigned` received from the issuer (a portrait included).
pub const MAX_ISSUER_SIGNED_BYTES: usize = 256 * 1024;

/// Check an `IssuerSigned` received from the issuer before the wallet stores it: the chain of
/// the `x5chain` to one of `anchors`, the mdlDS usage, the MSO signature, the MSO's docType =
/// `doc_type`, every element's digest, validity at `now_unix` (MSO, then certificates), and that
/// the MSO's device key is `device_public_key` (SEC1 or SPKI) — `mdoc.device_key_mismatch`
/// otherwise.
pub fn check_issued(
    issuer_signed: &[u8],
    doc_type: &str,
    anchors: &[TrustAnchor],
    device_public_key: &[u8],
    now_unix: i64,
) -> Result<IssuedDocument, MdocError> {
    if issuer_signed.len() > MAX_ISSUER_SIGNED_BYTES {
        return Err(MdocError::TooLarge { size: issuer_signed.len(), max: MAX_ISSUER_SIGNED_BYTES });
    }
    let parsed: IssuerSigned =
        isomdl::cbor::from_slice(issuer_signed).map_err(|e| bad(&format!("IssuerSigned: {e}")))?;
    let issuer_auth: &coset::CoseSign1 = &parsed.issuer_auth;
    require_es256(&issuer_auth.protected.header.alg)?;
    let chain = parse_chain(&x5chain(issuer_auth)?)?;
    let trust = check_trust(&chain, anchors)?;
    let leaf = chain.first().ok_or_else(|| bad("empty x5chain"))?;
    if !is_document_signer(leaf) {
        return Err(MdocError::NotDocumentSigner);
    }
    let issuer_key = p256_key(leaf)?;
    let payload = issuer_auth.payload.as_ref().ok_or_else(|| bad("IssuerAuth without payload"))?;
    let sig = Signature::from_slice(&issuer_auth.signature).map_err(|_| MdocError::IssuerSignature)?;
    issuer_key.verify(&issuer_auth.tbs_data(b""), &sig).map_err(|_| MdocError::IssuerSignature)?;
    let mso_bytes: Tag24<Mso> =
        isomdl::cbor::from_slice(payload).map_err(|e| bad(&format!("MobileSecurityObject: {e}")))?;
    let mso: &Mso = mso_bytes.as_ref();
    if mso.doc_type != doc_type {
        return Err(MdocError::DocTypeMismatch { document: doc_type.to_string(), mso: mso.doc_type.clone() });
    }
    let mut elements: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
    for (namespace, items) in parsed.namespaces.iter().flat_map(|n| n.iter()) {
        let digests = mso.value_digests.get(namespace);
        for item in items.iter() {
            let it = item.as_ref();
            let element = it.element_identifier.clone();
            let Some(expected) = digests.and_then(|d| d.get(&it.digest_id)) else {
                return Err(MdocError::ElementNotSigned { namespace: namespace.clone(), element });
            };
            let actual = digest(mso.digest_algorithm, &tag24_encode(&item.inner_bytes)?);
            if actual.as_slice() != expected.as_ref() {
                return Err(MdocError::DigestMismatch { namespace: namespace.clone(), element });
            }
            elements.entry(namespace.clone()).or_default().insert(element, it.element_value.clone());
        }
    }
    let v = &mso.validity_info;
    let (signed, from, until) =
        (v.signed.unix_timestamp(), v.valid_from.unix_timestamp(), v.valid_until.unix_timestamp());
    if now_unix < from || now_unix < signed {
        return Err(MdocError::NotYetValid);
    }
    if now_unix > until {
        return Err(MdocError::Expired);
    }
    if !trust.valid_at(now_unix) {
        return Err(MdocError::CertificateExpired);
    }
    let theirs = device_key(&mso.device_key_info.device_key)?;
    let ours = citizen_protocol::crypto::parse_public_key(device_public_key)
        .map_err(|_| MdocError::Unsupported("own device key".into()))?;
    if theirs != ours {
        return Err(MdocError::DeviceKeyMismatch);
    }
    Ok(IssuedDocument {
        doc_type: mso.doc_type.clone(),
        issuer: leaf.tbs_certificate.subject.to_string(),
        elements,
        signed_unix: signed,
        valid_from_unix: from,
        valid_until_unix: until,
        status: mso_status(&mso_bytes.inner_bytes),
    })
}

/// Read a document the wallet stored after [`check_issued`] accepted it, without checking it
/// again (the clock has moved on; showing an expired document is the caller's decision): the
/// elements, validity and status reference.
pub fn read_issued(issuer_signed: &[u8]) -> Result<IssuedDocument, MdocError> {
    let parsed: IssuerSigned =
        isomdl::cbor::from_slice(issuer_signed).map_err(|e| bad(&format!("IssuerSigned: {e}")))?;
    let issuer_auth: &coset::CoseSign1 = &parsed.issuer_auth;
    let chain = parse_chain(&x5chain(issuer_auth)?)?;
    let leaf = chain.first().ok_or_else(|| bad("empty x5chain"))?;
    let payload = issuer_auth.payload.as_ref().ok_or_else(|| bad("IssuerAuth without payload"))?;
    let mso_bytes: Tag24<Mso> =
        isomdl::cbor::from_slice(payload).map_err(|e| bad(&format!("MobileSecurityObject: {e}")))?;
    let mso: &Mso = mso_bytes.as_ref();
    let mut elements: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
    for (namespace, items) in parsed.namespaces.iter().flat_map(|n| n.iter()) {
        for item in items.iter() {
            let it = item.as_ref();
            elements
                .entry(namespace.clone())
                .or_default()
                .insert(it.element_identifier.clone(), it.element_value.clone());
        }
    }
    let v = &mso.validity_info;
    Ok(IssuedDocument {
        doc_type: mso.doc_type.clone(),
        issuer: leaf.tbs_certificate.subject.to_string(),
        elements,
        signed_unix: v.signed.unix_timestamp(),
        valid_from_unix: v.valid_from.unix_timestamp(),
        valid_until_unix: v.valid_until.unix_timestamp(),
        status: mso_status(&mso_bytes.inner_bytes),
    })
}

/// The `status.status_list` of an encoded MSO, if well-formed.
pub(crate) fn mso_status(mso: &[u8]) -> Option<StatusRef> {
    let value: Value = ciborium::from_reader(mso).ok()?;
    let field = |v: &Value, name: &str| -> Option<Value> {
        v.as_map()?.iter().find(|(k, _)| k.as_text() == Some(name)).map(|(_, v)| v.clone())
    };
    let list = field(&field(&value, "status")?, "status_list")?;
    let idx = u64::try_from(field(&list, "idx")?.as_integer()?).ok()?;
    let uri = field(&list, "uri")?.as_text()?.to_string();
    Some(StatusRef { idx, uri })
}

/// Check a certificate chain (DER, leaf first) against `anchors` at `now_unix` and return the
/// leaf's P-256 key: for the SD-JWT VC's `x5c`, signed by the same document signers.
pub fn verify_x5c(chain: &[Vec<u8>], anchors: &[TrustAnchor], now_unix: i64) -> Result<VerifyingKey, MdocError> {
    let certs = parse_chain(chain)?;
    let trust = check_trust(&certs, anchors)?;
    let leaf = certs.first().ok_or_else(|| bad("empty x5c"))?;
    if !is_document_signer(leaf) {
        return Err(MdocError::NotDocumentSigner);
    }
    if !trust.valid_at(now_unix) {
        return Err(MdocError::CertificateExpired);
    }
    p256_key(leaf)
}
