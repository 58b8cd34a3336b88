//! The verification of one `DeviceResponse`, check by check, in the order a verifier should
//! report them: size, structure, issuer trust, MSO signature, docType, value digests, MSO
//! validity, certificate validity, device authentication.

use std::collections::BTreeMap;

use ciborium::Value;
use coset::{iana, Label, MacContext, RegisteredLabelWithPrivate, SignatureContext};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use isomdl::definitions::device_response::Status;
use isomdl::definitions::helpers::Tag24;
use isomdl::definitions::{CoseKey, DeviceAuth, DeviceResponse, DigestAlgorithm, Document, EC2Curve, Mso, EC2Y};
use p256::ecdsa::{signature::Verifier, Signature, VerifyingKey};
use sha2::{Digest, Sha256, Sha384, Sha512};

use crate::chain::{check_trust, is_document_signer, p256_key, parse_chain, TrustAnchor};
use crate::{MdocError, Unchecked};

/// Upper bound on a `DeviceResponse`, checked before any decoding: the Annex D response with a
/// portrait is 3.5 KB and a driving licence with a full-size portrait stays well under 100 KB,
/// while a decoder fed megabytes from an untrusted peer is a denial of service.
pub const MAX_DEVICE_RESPONSE_BYTES: usize = 256 * 1024;

/// COSE header label of `x5chain` (RFC 9360).
const X5CHAIN: i64 = 33;

/// What the verifier needs, all supplied by the caller (no I/O here).
#[derive(Clone, Copy, Debug)]
pub struct VerifyRequest<'a> {
    /// The `DeviceResponse` CBOR as received (already decrypted from the session).
    pub device_response: &'a [u8],
    /// This session's transcript: `SessionTranscriptBytes` (tag 24) or the bare
    /// `SessionTranscript` array. Device authentication is bound to it, so a response recorded
    /// in another session fails.
    pub session_transcript: &'a [u8],
    /// The trusted issuing authority roots (IACA), from the cached trust list.
    pub trust_anchors: &'a [TrustAnchor],
    /// The verifier's clock, Unix seconds (a parameter so tests can pin it).
    pub now_unix: i64,
    /// The reader's ephemeral private key of this session, needed only to check a DeviceMac.
    pub reader_ephemeral_key: Option<&'a p256::SecretKey>,
}

/// How the device proved possession of the document's key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceAuthResult {
    /// DeviceSignature verified over this session's DeviceAuthentication.
    Signature,
    /// DeviceMac verified with the MAC key derived from the reader's ephemeral key.
    Mac,
    /// DeviceMac present but not checked (no reader key); listed in [`Verdict::unchecked`].
    MacUnchecked,
}

/// A document that passed every check.
#[derive(Clone, Debug, PartialEq)]
pub struct VerifiedDocument {
    /// docType, e.g. `org.iso.18013.5.1.mDL`.
    pub doc_type: String,
    /// Subject of the document signer certificate.
    pub issuer: String,
    /// The disclosed issuer-signed elements: namespace → identifier → value.
    pub elements: BTreeMap<String, BTreeMap<String, Value>>,
    /// The MSO's `validUntil`, Unix seconds.
    pub valid_until_unix: i64,
    /// How device authentication was established.
    pub device_auth: DeviceAuthResult,
    /// Where the document's revocation bit lives (the MSO's `status.status_list`), if it says.
    /// Checking it is the caller's (it needs the cached token status list).
    pub status: Option<crate::StatusRef>,
}

/// The verifier's answer: valid, or invalid with the first failing check, and in both cases the
/// parts it could not check.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    /// `Ok` when every checked part holds; otherwise the failing check.
    pub result: Result<(), MdocError>,
    /// The verified documents (empty when invalid: nothing is shown half-verified).
    pub documents: Vec<VerifiedDocument>,
    /// Parts not checked; never to be read as "valid".
    pub unchecked: Vec<Unchecked>,
}

impl Verdict {
    /// Every checked part holds (see [`Verdict::unchecked`] for what was not checked).
    pub fn is_valid(&self) -> bool {
        self.result.is_ok()
    }

    pub(crate) fn invalid(e: MdocError) -> Self {
        Verdict { result: Err(e), documents: Vec::new(), unchecked: Vec::new() }
    }
}

/// Verify a `DeviceResponse` offline. See the crate documentation and ARCHITECTURE.md (31).
pub fn verify_device_response(req: &VerifyRequest<'_>) -> Verdict {
    match verify_inner(req) {
        Ok((documents, unchecked)) => Verdict { result: Ok(()), documents, unchecked },
        Err(e) => Verdict::invalid(e),
    }
}

type Checked = (Vec<VerifiedDocument>, Vec<Unchecked>);

fn verify_inner(req: &VerifyRequest<'_>) -> Result<Checked, MdocError> {
    if req.device_response.len() > MAX_DEVICE_RESPONSE_BYTES {
        return Err(MdocError::TooLarge { size: req.device_response.len(), max: MAX_DEVICE_RESPONSE_BYTES });
    }
    let response: DeviceResponse = isomdl::cbor::from_slice(req.device_response)
        .map_err(|e| MdocError::Malformed(format!("DeviceResponse: {e}")))?;
    let transcript = Transcript::parse(req.session_transcript)?;
    if !matches!(response.status, Status::OK) {
        return Err(MdocError::NoDocuments);
    }
    let Some(documents) = response.documents else {
        return Err(MdocError::NoDocuments);
    };
    let mut verified = Vec::new();
    let mut unchecked = Vec::new();
    for doc in documents.iter() {
        let v = verify_document(doc, req, &transcript)?;
        if v.device_auth == DeviceAuthResult::MacUnchecked {
            unchecked.push(Unchecked::DeviceMac { doc_type: v.doc_type.clone() });
        }
        // Revocation (token status list) is a later increment of issue 13: always reported.
        unchecked.push(Unchecked::Status { doc_type: v.doc_type.clone() });
        verified.push(v);
    }
    Ok((verified, unchecked))
}

fn verify_document(
    doc: &Document,
    req: &VerifyRequest<'_>,
    transcript: &Transcript,
) -> Result<VerifiedDocument, MdocError> {
    let issuer_auth: &coset::CoseSign1 = &doc.issuer_signed.issuer_auth;
    require_es256(&issuer_auth.protected.header.alg)?;

    // 1. The issuer: x5chain → trust anchor.
    let chain = parse_chain(&x5chain(issuer_auth)?)?;
    let trust = check_trust(&chain, req.trust_anchors)?;
    let leaf = chain.first().ok_or_else(|| MdocError::Malformed("empty x5chain".into()))?;
    if !is_document_signer(leaf) {
        return Err(MdocError::NotDocumentSigner);
    }
    let issuer_key = p256_key(leaf)?;

    // 2. The MSO signature (attached payload, empty external AAD).
    let payload =
        issuer_auth.payload.as_ref().ok_or_else(|| MdocError::Malformed("IssuerAuth without payload".into()))?;
    let sig = Signature::from_slice(&issuer_auth.signature).map_err(|_| MdocError::IssuerSignature)?;
    issuer_key.verify(&issuer_auth.tbs_data(b""), &sig).map_err(|_| MdocError::IssuerSignature)?;
    let mso_bytes: Tag24<Mso> =
        isomdl::cbor::from_slice(payload).map_err(|e| MdocError::Malformed(format!("MobileSecurityObject: {e}")))?;
    let mso: &Mso = mso_bytes.as_ref();

    // 3. docType consistency.
    if mso.doc_type != doc.doc_type {
        return Err(MdocError::DocTypeMismatch { document: doc.doc_type.clone(), mso: mso.doc_type.clone() });
    }

    // 4. Every disclosed element against the MSO's valueDigests (isomdl 0.2.0 does not).
    let mut elements: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
    if let Some(namespaces) = &doc.issuer_signed.namespaces {
        for (namespace, items) in namespaces.iter() {
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
    }

    // 5. The MSO validity window (isomdl 0.2.0 does not check it), before the certificates':
    //    an expired document is the more useful answer than an expired signer.
    let validity = &mso.validity_info;
    let (signed, from, until) =
        (validity.signed.unix_timestamp(), validity.valid_from.unix_timestamp(), validity.valid_until.unix_timestamp());
    if req.now_unix < from || req.now_unix < signed {
        return Err(MdocError::NotYetValid);
    }
    if req.now_unix > until {
        return Err(MdocError::Expired);
    }
    if !trust.valid_at(req.now_unix) {
        return Err(MdocError::CertificateExpired);
    }

    // 6. Device authentication over this session's DeviceAuthentication.
    let device_key = device_key(&mso.device_key_info.device_key)?;
    let dab = device_authentication_bytes(transcript, &doc.doc_type, &doc.device_signed.namespaces.inner_bytes)?;
    let device_auth = match &doc.device_signed.device_auth {
        DeviceAuth::DeviceSignature(sign1) => {
            require_es256(&sign1.protected.header.alg)?;
            if sign1.payload.as_ref().is_some_and(|p| p != &dab) {
                return Err(MdocError::DeviceAuth);
            }
            let tbs = coset::sig_structure_data(SignatureContext::CoseSign1, sign1.protected.clone(), None, b"", &dab);
            let sig = Signature::from_slice(&sign1.signature).map_err(|_| MdocError::DeviceAuth)?;
            device_key.verify(&tbs, &sig).map_err(|_| MdocError::DeviceAuth)?;
            DeviceAuthResult::Signature
        }
        DeviceAuth::DeviceMac(mac0) => match req.reader_ephemeral_key {
            None => DeviceAuthResult::MacUnchecked,
            Some(reader_key) => {
                if mac0.protected.header.alg
                    != Some(RegisteredLabelWithPrivate::Assigned(iana::Algorithm::HMAC_256_256))
                {
                    return Err(MdocError::Unsupported("DeviceMac algorithm".into()));
                }
                let shared = p256::ecdh::diffie_hellman(reader_key.to_nonzero_scalar(), device_key.as_affine());
                let salt = Sha256::digest(&transcript.tagged);
                let mut emac_key = [0u8; 32];
                Hkdf::<Sha256>::new(Some(&salt), shared.raw_secret_bytes())
                    .expand(b"EMacKey", &mut emac_key)
                    .map_err(|_| MdocError::DeviceAuth)?;
                let data = coset::mac_structure_data(MacContext::CoseMac0, mac0.protected.clone(), b"", &dab);
                let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&emac_key).map_err(|_| MdocError::DeviceAuth)?;
                mac.update(&data);
                mac.verify_slice(&mac0.tag).map_err(|_| MdocError::DeviceAuth)?;
                DeviceAuthResult::Mac
            }
        },
    };

    Ok(VerifiedDocument {
        doc_type: doc.doc_type.clone(),
        issuer: leaf.tbs_certificate.subject.to_string(),
        elements,
        valid_until_unix: until,
        device_auth,
        status: crate::issue::mso_status(&mso_bytes.inner_bytes),
    })
}

pub(crate) fn require_es256(alg: &Option<coset::Algorithm>) -> Result<(), MdocError> {
    if *alg == Some(RegisteredLabelWithPrivate::Assigned(iana::Algorithm::ES256)) {
        Ok(())
    } else {
        Err(MdocError::Unsupported(format!("signature algorithm {alg:?}")))
    }
}

/// The DER certificates of the `x5chain` header (unprotected, where ISO 18013-5 puts it, or
/// protected).
pub(crate) fn x5chain(sign1: &coset::CoseSign1) -> Result<Vec<Vec<u8>>, MdocError> {
    let found = sign1
        .unprotected
        .rest
        .iter()
        .chain(sign1.protected.header.rest.iter())
        .find(|(label, _)| *label == Label::Int(X5CHAIN))
        .map(|(_, v)| v)
        .ok_or_else(|| MdocError::Malformed("IssuerAuth without x5chain".into()))?;
    match found {
        Value::Bytes(der) => Ok(vec![der.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|v| match v {
                Value::Bytes(der) => Ok(der.clone()),
                _ => Err(MdocError::Malformed("x5chain entry is not a byte string".into())),
            })
            .collect(),
        _ => Err(MdocError::Malformed("x5chain is neither bytes nor an array".into())),
    }
}

/// The MSO's device key, which must be a P-256 key with both coordinates.
pub(crate) fn device_key(key: &CoseKey) -> Result<VerifyingKey, MdocError> {
    let CoseKey::EC2 { crv: EC2Curve::P256, x, y: EC2Y::Value(y) } = key else {
        return Err(MdocError::Unsupported("device key is not an uncompressed P-256 key".into()));
    };
    if x.len() != 32 || y.len() != 32 {
        return Err(MdocError::Malformed("device key coordinates".into()));
    }
    let mut sec1 = Vec::with_capacity(65);
    sec1.push(0x04);
    sec1.extend_from_slice(x);
    sec1.extend_from_slice(y);
    VerifyingKey::from_sec1_bytes(&sec1).map_err(|_| MdocError::Malformed("device key is not on the curve".into()))
}

pub(crate) fn digest(alg: DigestAlgorithm, data: &[u8]) -> Vec<u8> {
    match alg {
        DigestAlgorithm::SHA256 => Sha256::digest(data).to_vec(),
        DigestAlgorithm::SHA384 => Sha384::digest(data).to_vec(),
        DigestAlgorithm::SHA512 => Sha512::digest(data).to_vec(),
    }
}

pub(crate) fn encode(value: &Value) -> Result<Vec<u8>, MdocError> {
    let mut out = Vec::new();
    ciborium::into_writer(value, &mut out).map_err(|e| MdocError::Malformed(format!("encoding: {e}")))?;
    Ok(out)
}

/// `#6.24(bstr .cbor X)` around already-encoded bytes, exactly as they were received.
pub(crate) fn tag24_encode(inner: &[u8]) -> Result<Vec<u8>, MdocError> {
    encode(&Value::Tag(24, Box::new(Value::Bytes(inner.to_vec()))))
}

/// The session transcript, kept as its exact bytes (re-encoding could change them).
struct Transcript {
    /// The `SessionTranscript` array's encoding.
    raw: Vec<u8>,
    /// `SessionTranscriptBytes` = `#6.24(bstr .cbor SessionTranscript)`.
    tagged: Vec<u8>,
}

impl Transcript {
    fn parse(input: &[u8]) -> Result<Self, MdocError> {
        let malformed = |e: String| MdocError::Malformed(format!("session transcript: {e}"));
        let value: Value = ciborium::from_reader(input).map_err(|e| malformed(e.to_string()))?;
        let raw = match value {
            Value::Tag(24, inner) => match *inner {
                Value::Bytes(raw) => raw,
                _ => return Err(malformed("tag 24 without a byte string".into())),
            },
            Value::Array(_) => input.to_vec(),
            _ => return Err(malformed("not an array".into())),
        };
        let parsed: Value = ciborium::from_reader(raw.as_slice()).map_err(|e| malformed(e.to_string()))?;
        if !matches!(&parsed, Value::Array(a) if a.len() == 3) {
            return Err(malformed("not a 3-element array".into()));
        }
        let tagged = tag24_encode(&raw)?;
        Ok(Transcript { raw, tagged })
    }
}

/// `DeviceAuthenticationBytes` = `#6.24(bstr .cbor ["DeviceAuthentication", SessionTranscript,
/// DocType, DeviceNameSpacesBytes])`, with the transcript and the namespaces spliced in as the
/// exact bytes received.
fn device_authentication_bytes(
    transcript: &Transcript,
    doc_type: &str,
    device_namespaces: &[u8],
) -> Result<Vec<u8>, MdocError> {
    let mut da = vec![0x84];
    da.extend(encode(&Value::Text("DeviceAuthentication".into()))?);
    da.extend_from_slice(&transcript.raw);
    da.extend(encode(&Value::Text(doc_type.into()))?);
    da.extend(tag24_encode(device_namespaces)?);
    tag24_encode(&da)
}
