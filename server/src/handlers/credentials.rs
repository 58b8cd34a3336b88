//! The PID credential and data-share receipts.
//!
//! * `POST /v1/credentials/pid` (Bearer + statement, purpose `credential`, nonce from a
//!   `credential` challenge, subject `pid:<sha256 hex of the device public key>`): the server
//!   issues an SD-JWT over the citizen's register record, every personal claim selectively
//!   disclosable, bound to the device key (`cnf.jwk`), valid [`PID_TTL_SECS`]. The subject binds
//!   the statement to the key the credential will name, so a statement for another key cannot be
//!   used.
//! * `POST /v1/consent/receipts` (Bearer + statement, purpose `consent`, nonce = the receipt's
//!   nonce, subject `receipt:<digest>`): the server countersigns a data-share receipt after
//!   checking it against the relying party's own signed share request: a registered RP's valid
//!   signature, a registered purpose, the same request id, nonce, purpose and retention, the
//!   response origin registered for the RP, and released claims that include every required
//!   claim and nothing the RP did not ask for. Shared with QR login through
//!   [`crate::receipts::countersign_receipt`].
//! * `POST /v1/consent/receipts/in-person` (no Bearer: a fresh bookkeeping-key statement,
//!   purpose `activity`, nonce = the receipt's digest, subject `receipt_sync:<receipt id>`, the
//!   device's next counter): the server countersigns the receipt of an in-person presentation
//!   the phone made offline, after checking the receipt's own device-key statement (purpose
//!   `consent`, nonce = the receipt's nonce, subject `receipt:<digest>`, this device's key) —
//!   not for freshness, it was signed offline (decision 45).

use std::sync::Arc;

use crate::sql::{Connection, OptionalExtension};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use citizen_protocol::protocol::rp::{
    self, codes as rc, receipt_sync_subject, CredentialRequest, CredentialResponse, InPersonCountersignRequest,
    ReceiptCountersignRequest, ReceiptCountersignResponse, ReceiptKind, ShareRequestClaims, CLAIMS, SHARE_REQUEST_TYP,
};
use citizen_protocol::protocol::{codes, sha256_hex, Purpose, SignedStatement};
use citizen_protocol::sdjwt;
use serde_json::{Map, Value};

use super::auth::authenticate;
use super::{audited, bearer};
use crate::api::{blocking, ApiError, ApiJson, ApiResult, AppState};
use crate::db::audit;
use crate::registry::RegisteredRp;
use crate::verify::{load_device, verify_signed, verify_signed_ext, CounterKind, DeviceRow, NonceRule};

/// Lifetime of an issued PID credential (one year).
pub const PID_TTL_SECS: i64 = 365 * 24 * 3600;

/// Verify the bearer's own `credential` statement, whose subject must be `subject_prefix` + the
/// SHA-256 of the device's registered key (checked inside the verification: a mismatch is a
/// failed signature, before the counter moves). The challenge is consumed and failures counted
/// whatever the outcome, so on a refusal the savepoint is committed before the error returns; on
/// success the caller continues in it. Shared by the PID credential and the documents wallet.
pub(super) fn verify_credential_statement<'c>(
    s: &AppState,
    conn: &'c mut Connection,
    token: Option<&str>,
    signed: &SignedStatement,
    subject_prefix: &str,
) -> ApiResult<(crate::sql::Savepoint<'c>, DeviceRow)> {
    let b = authenticate(s, conn, token)?;
    if signed.statement.device_id != b.device_id {
        return Err(unauthorized(codes::SIGNATURE_INVALID, "statement from another device than the session's"));
    }
    let key = load_device(conn, &b.device_id)?.ok_or_else(ApiError::internal)?.public_key;
    let subject = format!("{subject_prefix}{}", sha256_hex(&key));
    let tx = conn.savepoint()?;
    match verify_signed_ext(
        s,
        &tx,
        signed,
        Purpose::Credential,
        NonceRule::Challenge,
        Some(&subject),
        CounterKind::Login,
    ) {
        Ok(dev) => Ok((tx, dev)),
        Err(e) => {
            tx.commit()?;
            Err(e)
        }
    }
}

fn unauthorized(code: &str, msg: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, code, msg)
}

/// What issuance needs after the checks (the signing itself is async).
pub struct PidInput {
    /// Register values of every protocol claim.
    pub claims: Map<String, Value>,
    /// The device key as a JWK.
    pub device_jwk: Map<String, Value>,
    /// Issue time.
    pub iat: i64,
    /// The account's identity level (1, or 2 after a chip upgrade).
    pub level: u8,
    /// Its entry in the token status list (decision 50: a correction of a claim it carries
    /// revokes it).
    pub status_idx: u64,
}

/// Check the request for a credential (bearer, statement, subject) and read the register.
pub fn prepare_pid(
    s: &AppState,
    conn: &mut Connection,
    token: Option<&str>,
    req: &CredentialRequest,
) -> ApiResult<PidInput> {
    let (tx, dev) = verify_credential_statement(s, conn, token, &req.signed, "pid:")?;
    let now = s.now();
    let names: Vec<String> = CLAIMS.iter().map(|c| c.name.to_string()).collect();
    let claims = crate::receipts::claim_values(&tx, &dev.account_id, &names, now)?;
    let device_jwk = sdjwt::jwk_from_public_key(&dev.public_key).ok_or_else(ApiError::internal)?;
    let level = super::chip::account_level(&tx, &dev.account_id)?;
    // Recorded like a document (kind `pid`), so the one status list covers it.
    let status_idx = super::documents::allocate_index(&tx)?;
    tx.execute(
        "INSERT INTO issued_documents (document_id, account_id, device_id, kind, status_idx, issued_at, valid_until)
         VALUES (?1, ?2, ?3, 'pid', ?4, ?5, ?6)",
        crate::sql::params![
            citizen_protocol::crypto::random_b64url(16),
            dev.account_id,
            dev.device_id,
            i64::try_from(status_idx).unwrap_or(-1),
            now,
            now + PID_TTL_SECS
        ],
    )?;
    audit(&tx, now, "credential_pid", "ok", Some(&dev.account_id), Some(&dev.device_id));
    tx.commit()?;
    Ok(PidInput { claims, device_jwk, iat: now, level, status_idx })
}

/// Sign the credential with the server's token key (`kid` in the header, `iss` = audience).
pub async fn sign_pid(s: &AppState, input: PidInput) -> ApiResult<CredentialResponse> {
    let signer = sdjwt::RawJwsSigner::new(|m: &[u8]| Ok(s.tokens.sign_raw(m)), Some(s.tokens.kid().to_string()));
    let exp = input.iat + PID_TTL_SECS;
    let uri = super::documents::status_uri(s);
    let sd_jwt = sdjwt::issue_pid_with_status(
        &input.claims,
        &input.device_jwk,
        &s.audience,
        input.iat,
        exp,
        input.level,
        Some((input.status_idx, uri.as_str())),
        &signer,
    )
    .await
    .map_err(|e| {
        tracing::error!("credential issuance failed: {e}");
        ApiError::internal()
    })?;
    Ok(CredentialResponse { sd_jwt, expires_at: exp })
}

/// A share request whose RP signature verified, with its RP.
pub struct VerifiedShareRequest<'a> {
    /// The registered RP that signed it.
    pub rp: &'a RegisteredRp,
    /// Its claims.
    pub claims: ShareRequestClaims,
}

/// Verify an RP's share request JWS against the registry: `kid` names a registered RP whose key
/// signed it (ES256), `typ` [`SHARE_REQUEST_TYP`], `iss` = `kid`, a registered purpose, every
/// claim known and allowed for the RP, the response URI on a registered origin. Expiry is left
/// to the caller (a receipt may be countersigned for a request that expired since consent).
pub fn verify_share_request<'a>(s: &'a AppState, jws: &str) -> ApiResult<VerifiedShareRequest<'a>> {
    let header = jsonwebtoken::decode_header(jws).map_err(|_| ApiError::invalid("share request is not a JWS"))?;
    let kid = header.kid.ok_or_else(|| ApiError::invalid("share request without kid"))?;
    let rp = s.registry.get(&kid).ok_or_else(|| ApiError::new(StatusCode::FORBIDDEN, rc::RP_UNKNOWN, "unknown RP"))?;
    let v = sdjwt::verify_es256_jws(jws, &rp.verifying_key).ok_or_else(|| {
        ApiError::new(StatusCode::FORBIDDEN, rc::RP_SIGNATURE_INVALID, "share request signature does not verify")
    })?;
    if v.header.get("typ").and_then(Value::as_str) != Some(SHARE_REQUEST_TYP) {
        return Err(ApiError::invalid("share request typ"));
    }
    let claims: ShareRequestClaims =
        serde_json::from_slice(&v.payload).map_err(|_| ApiError::invalid("share request claims malformed"))?;
    if claims.iss != kid {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            rc::RP_SIGNATURE_INVALID,
            "share request issuer is not its key",
        ));
    }
    let not_allowed = |m: &str| ApiError::new(StatusCode::FORBIDDEN, rc::CLAIM_NOT_ALLOWED, m);
    if !rp.has_purpose(&claims.purpose) {
        return Err(not_allowed("purpose not registered for this RP"));
    }
    let all: Vec<&String> = claims.required.iter().chain(&claims.optional).collect();
    for (i, c) in all.iter().enumerate() {
        if rp::claim_info(c).is_none() || !rp.may_ask(c) || all[..i].contains(c) {
            return Err(not_allowed("claim not allowed for this RP"));
        }
    }
    if !rp.has_origin(&response_origin(&claims.response_uri)?) {
        return Err(ApiError::new(StatusCode::FORBIDDEN, rc::ORIGIN_UNREGISTERED, "response URI not registered"));
    }
    Ok(VerifiedShareRequest { rp, claims })
}

/// The web origin of a response URI.
pub fn response_origin(uri: &str) -> ApiResult<String> {
    let u = url::Url::parse(uri).map_err(|_| ApiError::invalid("response URI is not a URL"))?;
    Ok(u.origin().ascii_serialization())
}

/// `POST /v1/consent/receipts`: countersign a data-share receipt.
pub fn countersign_share(
    s: &AppState,
    conn: &mut Connection,
    token: Option<&str>,
    req: &ReceiptCountersignRequest,
) -> ApiResult<ReceiptCountersignResponse> {
    let b = authenticate(s, conn, token)?;
    let r = &req.receipt;
    if r.kind != ReceiptKind::DataShare {
        return Err(ApiError::invalid("only data-share receipts are countersigned here"));
    }
    if r.device_id != b.device_id || req.signed.statement.device_id != b.device_id {
        return Err(unauthorized(codes::SIGNATURE_INVALID, "receipt from another device than the session's"));
    }
    let v = verify_share_request(s, &req.share_request)?;
    let q = &v.claims;
    if r.rp_id != q.iss || r.request_id != q.request_id || r.nonce != q.nonce {
        return Err(ApiError::new(StatusCode::CONFLICT, rc::QR_SESSION_MISMATCH, "receipt for another request"));
    }
    let mut sorted = r.claims.clone();
    sorted.sort();
    sorted.dedup();
    let changed = r.purpose != q.purpose
        || r.retention_days != q.retention_days
        || r.rp_name != v.rp.entry.name_vi
        || r.origin != response_origin(&q.response_uri)?
        || sorted != r.claims
        || !q.required.iter().all(|c| r.claims.contains(c))
        || !r.claims.iter().all(|c| q.required.contains(c) || q.optional.contains(c));
    if changed {
        return Err(ApiError::new(StatusCode::CONFLICT, rc::CLAIMS_CHANGED, "receipt differs from the request"));
    }
    let tx = conn.savepoint()?;
    let dev = verify_signed(s, &tx, &req.signed, Purpose::Consent, NonceRule::Fixed(&r.nonce));
    let dev = match dev {
        Ok(d) => d,
        Err(e) => {
            tx.commit()?;
            return Err(e);
        }
    };
    let countersignature = crate::receipts::countersign_receipt(s, &tx, &dev.account_id, r, &req.signed)?;
    tx.commit()?;
    Ok(ReceiptCountersignResponse { countersignature })
}

/// `POST /v1/consent/receipts/in-person`: countersign an in-person presentation's receipt.
pub fn countersign_in_person(
    s: &AppState,
    conn: &mut Connection,
    req: &InPersonCountersignRequest,
) -> ApiResult<ReceiptCountersignResponse> {
    let r = &req.receipt;
    if r.kind != ReceiptKind::InPerson {
        return Err(ApiError::invalid("only in-person receipts are countersigned here"));
    }
    let original = &req.signed.statement;
    if req.sync.statement.device_id != r.device_id || original.device_id != r.device_id {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            codes::SIGNATURE_INVALID,
            "receipt from another device than the statement's",
        ));
    }
    let tx = conn.savepoint()?;
    // The fresh request: bookkeeping key (or device key), this server, now, the next counter,
    // naming this receipt's digest and id. A failure is committed (audit, throttle).
    let digest = r.digest();
    let subject = receipt_sync_subject(&r.receipt_id);
    let dev = verify_signed_ext(
        s,
        &tx,
        &req.sync,
        Purpose::Activity,
        NonceRule::Fixed(&digest),
        Some(&subject),
        CounterKind::Login,
    );
    let dev = match dev {
        Ok(d) => d,
        Err(e) => {
            tx.commit()?;
            return Err(e);
        }
    };
    // The receipt's own statement, made offline with the device key: content and signature
    // (its time and counter are what the countersignature records, not checked for freshness).
    if original.purpose != Purpose::Consent || original.audience != s.audience || original.nonce != r.nonce {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            codes::SIGNATURE_INVALID,
            "the receipt's statement is not this receipt's consent",
        ));
    }
    crate::verify::check_signature(&dev.public_key, &req.signed)?;
    // Asked again for a receipt already countersigned (the answer was lost on the way): the
    // same receipt of the same device is countersigned again with its first date; another
    // receipt under that id is refused.
    let known: Option<(String, String, i64)> = tx
        .query_row(
            "SELECT device_id, digest, countersigned_at FROM consent_receipts WHERE receipt_id = ?1",
            [&r.receipt_id],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .optional()?;
    if let Some((device_id, known_digest, at)) = known {
        tx.commit()?;
        if device_id != r.device_id || known_digest != digest {
            return Err(ApiError::new(StatusCode::CONFLICT, codes::INVALID_REQUEST, "receipt already countersigned"));
        }
        return Ok(ReceiptCountersignResponse {
            countersignature: crate::receipts::sign_countersignature(s, r, &req.signed, at),
        });
    }
    let countersignature = crate::receipts::countersign_receipt(s, &tx, &dev.account_id, r, &req.signed)?;
    tx.commit()?;
    Ok(ReceiptCountersignResponse { countersignature })
}

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

type S = State<Arc<AppState>>;

/// The credential and receipt routes (merged into [`super::router`]).
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(rp::PATH_CREDENTIAL, post(http_pid))
        .route(rp::PATH_RECEIPTS, post(http_receipt))
        .route(rp::PATH_RECEIPTS_IN_PERSON, post(http_in_person_receipt))
}

async fn http_pid(
    State(s): S,
    headers: HeaderMap,
    ApiJson(req): ApiJson<CredentialRequest>,
) -> ApiResult<Json<CredentialResponse>> {
    let token = bearer(&headers);
    let input =
        blocking(&s, move |s, c| audited(s, c, "credential_pid", |s, c| prepare_pid(s, c, token.as_deref(), &req)))
            .await?;
    sign_pid(&s, input).await.map(Json)
}

async fn http_receipt(
    State(s): S,
    headers: HeaderMap,
    ApiJson(req): ApiJson<ReceiptCountersignRequest>,
) -> ApiResult<Json<ReceiptCountersignResponse>> {
    let token = bearer(&headers);
    blocking(&s, move |s, c| {
        audited(s, c, "receipt_data_share", |s, c| countersign_share(s, c, token.as_deref(), &req))
    })
    .await
    .map(Json)
}

async fn http_in_person_receipt(
    State(s): S,
    ApiJson(req): ApiJson<InPersonCountersignRequest>,
) -> ApiResult<Json<ReceiptCountersignResponse>> {
    blocking(&s, move |s, c| audited(s, c, "receipt_in_person", |s, c| countersign_in_person(s, c, &req)))
        .await
        .map(Json)
}
