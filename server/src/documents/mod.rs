//! The documents wallet's issuer side (issue 13 item 1, ARCHITECTURE.md decision 32): demo
//! issuers under an IACA-style root ([`pki`]), the fictitious register's documents ([`data`]),
//! each issued as an ISO 18013-5 mdoc (`IssuerSigned`, built by `citizen_mdoc`) and as an SD-JWT
//! VC, both bound to the device key and pointing to the document's entry in the token status
//! list; the status list token and the signed trust list. The HTTP side is
//! `handlers::documents`.

pub mod data;
pub mod pki;

use std::collections::BTreeMap;

use citizen_protocol::protocol::documents::{
    DocumentKind, StatusBits, TrustListClaims, STATUS_LIST_TYP, TRUST_LIST_TYP,
};
use citizen_protocol::sdjwt::{self, Sha256Hasher};
use sd_jwt_payload::{RequiredKeyBinding, SdJwtBuilder};
use serde_json::{Map, Value};

use crate::tokens::TokenKeys;

/// Entries of the (single) status list: random indices in `0..STATUS_LIST_SIZE`, so an index says
/// nothing about issuance order (the draft's privacy advice).
pub const STATUS_LIST_SIZE: u64 = 1 << 15;
/// Id of the one status list.
pub const STATUS_LIST_ID: &str = "1";
/// How long a status list token may be cached (`ttl`) and is valid (`exp` = `iat` + a day).
pub const STATUS_LIST_TTL_SECS: i64 = 3600;
/// Validity of an issued document (mdoc `validUntil`, SD-JWT `exp`).
pub const DOCUMENT_TTL_SECS: i64 = 365 * 24 * 3600;
/// `signed` and `validFrom` are backdated by this much, so a wallet or verifier whose clock is a
/// little behind the server's does not read a fresh document as "not valid yet".
pub const CLOCK_SKEW_SECS: i64 = 300;
/// The trust list's `next_update` is this far after `iat`.
pub const TRUST_LIST_REFRESH_SECS: i64 = 7 * 24 * 3600;

/// One document to issue.
pub struct ToIssue {
    /// The server's id of the issuance.
    pub id: String,
    /// Which document.
    pub kind: DocumentKind,
    /// Its elements (one namespace).
    pub elements: BTreeMap<String, ciborium::Value>,
    /// Index in the status list.
    pub status_idx: u64,
}

/// Sign the mdoc form: `IssuerSigned` CBOR.
pub fn issue_mdoc(
    pki: &pki::DocumentPki,
    doc: &ToIssue,
    device_key: &[u8],
    status_uri: &str,
    now: i64,
) -> Result<Vec<u8>, String> {
    let signer = pki.signer(doc.kind);
    let mut namespaces = BTreeMap::new();
    namespaces.insert(doc.kind.namespace().to_string(), doc.elements.clone());
    citizen_mdoc::issue_issuer_signed(
        &citizen_mdoc::IssueRequest {
            doc_type: doc.kind.doc_type(),
            namespaces: &namespaces,
            device_public_key: device_key,
            signed_unix: now - CLOCK_SKEW_SECS,
            valid_from_unix: now - CLOCK_SKEW_SECS,
            valid_until_unix: now + DOCUMENT_TTL_SECS,
            x5chain: &signer.x5chain,
            status: Some(citizen_mdoc::StatusRef { idx: doc.status_idx, uri: status_uri.to_string() }),
        },
        |m| Ok(signer.sign(m)),
    )
    .map_err(|e| e.to_string())
}

/// Sign the SD-JWT VC form: `typ` `dc+sd-jwt`, `x5c` = the document signer's chain, `vct`,
/// `cnf.jwk` = the device key, `status.status_list {idx, uri}` in clear, every element
/// selectively disclosable. `subject`, when given (a dependant's document issued to a guardian,
/// decision 52), is the always-visible `sub`: the CCCD number of the person the document is
/// about, which a verifier compares with the mandate's dependant.
pub async fn issue_sd_jwt(
    pki: &pki::DocumentPki,
    doc: &ToIssue,
    device_key: &[u8],
    issuer: &str,
    status_uri: &str,
    now: i64,
    subject: Option<&str>,
) -> Result<String, String> {
    let signer = pki.signer(doc.kind);
    let jwk = sdjwt::jwk_from_public_key(device_key).ok_or("device key")?;
    let mut object = Map::new();
    object.insert("iss".into(), issuer.into());
    object.insert("iat".into(), now.into());
    object.insert("exp".into(), (now + DOCUMENT_TTL_SECS).into());
    object.insert("vct".into(), doc.kind.vct().into());
    if let Some(sub) = subject {
        object.insert("sub".into(), sub.into());
    }
    object.insert("status".into(), serde_json::json!({ "status_list": { "idx": doc.status_idx, "uri": status_uri } }));
    for (k, v) in &doc.elements {
        object.insert(k.clone(), data::to_json(v));
    }
    let x5c: Vec<Value> = signer.x5chain.iter().map(|d| Value::from(b64_std(d))).collect();
    let bad = |e: sd_jwt_payload::Error| e.to_string();
    let mut b = SdJwtBuilder::new_with_hasher(Value::Object(object), Sha256Hasher).map_err(bad)?;
    for k in doc.elements.keys() {
        b = b.make_concealable(&format!("/{k}")).map_err(bad)?;
    }
    let raw = sdjwt::RawJwsSigner::new(|m: &[u8]| Ok(signer.sign(m)), None);
    let sd = b
        .add_decoys("", sdjwt::DECOYS)
        .map_err(bad)?
        .header("typ", sdjwt::SD_JWT_TYP)
        .header("x5c", Value::Array(x5c))
        .require_key_binding(RequiredKeyBinding::Jwk(jwk))
        .finish(&raw, sdjwt::ALG)
        .await
        .map_err(|e| e.to_string())?;
    Ok(sd.presentation())
}

/// Standard base64 with padding (what `x5c` and the trust list carry).
pub fn b64_std(der: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(der)
}

fn signed_jwt(tokens: &TokenKeys, typ: &str, payload: &Map<String, Value>) -> String {
    let mut header = Map::new();
    header.insert("alg".into(), "ES256".into());
    header.insert("typ".into(), typ.into());
    header.insert("kid".into(), tokens.kid().into());
    let input = sdjwt::jws_signing_input(&header, payload);
    let sig = tokens.sign_raw(input.as_bytes());
    format!("{input}.{}", citizen_protocol::crypto::b64(&sig))
}

/// The status list token (draft-ietf-oauth-status-list §5.1), signed with the server's token
/// key: `sub` = its URL, `iat`, `exp`, `ttl`, `status_list {bits: 1, lst}`.
pub fn status_list_token(tokens: &TokenKeys, uri: &str, revoked: &[u64], now: i64) -> String {
    let mut bits = StatusBits(vec![0; usize::try_from(STATUS_LIST_SIZE / 8).unwrap_or(0)]);
    for &i in revoked {
        if let Some(b) = usize::try_from(i / 8).ok().and_then(|i| bits.0.get_mut(i)) {
            *b |= 1 << (i % 8);
        }
    }
    let payload = serde_json::json!({
        "sub": uri,
        "iat": now,
        "exp": now + 24 * 3600,
        "ttl": STATUS_LIST_TTL_SECS,
        "status_list": { "bits": 1, "lst": bits.encode() },
    });
    signed_jwt(tokens, STATUS_LIST_TYP, payload.as_object().unwrap_or(&Map::new()))
}

/// The signed trust list: the IACA roots and the reader-authentication roots.
pub fn trust_list_token(tokens: &TokenKeys, pki: &pki::DocumentPki, issuer: &str, now: i64) -> String {
    let claims = TrustListClaims {
        iss: issuer.to_string(),
        iat: now,
        next_update: now + TRUST_LIST_REFRESH_SECS,
        iaca: vec![b64_std(&pki.iaca)],
        reader_roots: vec![b64_std(&pki.reader_root)],
    };
    let payload = serde_json::to_value(&claims).unwrap_or_default();
    signed_jwt(tokens, TRUST_LIST_TYP, payload.as_object().unwrap_or(&Map::new()))
}
