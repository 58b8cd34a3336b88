//! QR login ("log in to a portal with the citizen app"): the server side of the animated code.
//!
//! * `POST /v1/qr/sessions` — a relying party registers a login request it signed with its
//!   registered key ([`create_session`]). The server keeps a random 32-byte per-session secret
//!   (the frame MAC key) and the SHA-256 of a random poll token.
//! * `GET /v1/qr/sessions/{id}?poll_token=` — the RP polls ([`status`]): the frame of the current
//!   step while pending, the verification code once scanned, the ID token once approved.
//! * `POST /v1/qr/scan` (Bearer) — a device reports the frame it scanned ([`scan`]); the server
//!   checks the MAC (`qr_frame_forged`) and the step (`qr_frame_stale`: a forwarded photo of the
//!   code is too old), binds the session to the account and device, and picks a two-digit
//!   verification code the portal shows; the device gets it among two decoys.
//! * `POST /v1/qr/decision` (Bearer + statement, purpose `consent`) — approve or deny
//!   ([`decide`]). Approval carries a consent receipt the device signed; the server checks it
//!   describes exactly this session, the picked code, then the signature, and answers the
//!   receipt's countersignature (and for the same-device flow the redirect URL).
//!
//! A session moves `pending → scanned → approved | denied`, or to `cancelled` on expiry or a
//! wrong code; a decided session is never decided again (`qr_already_decided`).

use std::sync::Arc;

use crate::sql::{params, Connection, OptionalExtension};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use citizen_protocol::crypto::{b64, random_array, random_b64url, unb64};
use citizen_protocol::protocol::rp::{
    self, codes as rc, step_at, Decision, IdTokenClaims, QrDecisionRequest, QrDecisionResponse, QrFrame, QrScanRequest,
    QrScanResponse, QrSessionCreate, QrSessionCreated, QrSessionState, QrSessionStatus, ReceiptKind,
    SignedLoginRequest, QR_MAX_FRAME_AGE_STEPS, QR_STEP_SECS,
};
use citizen_protocol::protocol::{codes, Purpose, MAX_CLOCK_SKEW_SECS};

use super::auth::authenticate;
use super::{audited, bearer};
use crate::api::{blocking, ApiError, ApiJson, ApiResult, AppState};
use crate::db::audit;
use crate::otp::ct_eq;
use crate::receipts::{claim_values, countersign_receipt};
use crate::tokens::refresh_hash;
use crate::verify::{verify_signed_ext, CounterKind, NonceRule};

/// Lifetime of an ID token; the RP can also fetch it by polling until then.
pub const ID_TOKEN_TTL_SECS: i64 = 300;
/// Approved or denied sessions are kept this long after expiry (replays answer
/// `qr_already_decided` meanwhile), then deleted.
const SESSION_RETENTION_SECS: i64 = 86_400;

fn err(status: StatusCode, code: &str, msg: &str) -> ApiError {
    ApiError::new(status, code, msg)
}
fn unknown_session() -> ApiError {
    err(StatusCode::NOT_FOUND, rc::QR_UNKNOWN_SESSION, "unknown login session")
}
fn expired() -> ApiError {
    err(StatusCode::GONE, rc::QR_EXPIRED, "login session expired or cancelled")
}
fn mismatch(msg: &str) -> ApiError {
    err(StatusCode::CONFLICT, rc::QR_SESSION_MISMATCH, msg)
}

fn state_str(s: QrSessionState) -> &'static str {
    match s {
        QrSessionState::Pending => "pending",
        QrSessionState::Scanned => "scanned",
        QrSessionState::Approved => "approved",
        QrSessionState::Denied => "denied",
        QrSessionState::Cancelled => "cancelled",
    }
}

fn parse_state(s: &str) -> QrSessionState {
    match s {
        "pending" => QrSessionState::Pending,
        "scanned" => QrSessionState::Scanned,
        "approved" => QrSessionState::Approved,
        "denied" => QrSessionState::Denied,
        _ => QrSessionState::Cancelled,
    }
}

/// A login session as stored.
struct SessionRow {
    session_id: String,
    rp_id: String,
    origin: String,
    nonce: String,
    claims: Vec<String>,
    same_device: bool,
    redirect_uri: Option<String>,
    request: Vec<u8>,
    secret: Vec<u8>,
    poll_token_hash: String,
    issued_at: i64,
    expires_at: i64,
    state: QrSessionState,
    account_id: Option<String>,
    device_id: Option<String>,
    verification_code: Option<String>,
    decided_at: Option<i64>,
    id_token: Option<String>,
}

fn load(conn: &Connection, session_id: &str) -> crate::sql::Result<Option<SessionRow>> {
    conn.query_row(
        "SELECT session_id, rp_id, origin, nonce, claims, same_device, redirect_uri, request, secret,
                poll_token_hash, issued_at, expires_at, state, account_id, device_id, verification_code,
                decided_at, id_token
           FROM qr_sessions WHERE session_id = ?1",
        [session_id],
        |r| {
            let claims: String = r.get(4)?;
            let state: String = r.get(12)?;
            Ok(SessionRow {
                session_id: r.get(0)?,
                rp_id: r.get(1)?,
                origin: r.get(2)?,
                nonce: r.get(3)?,
                claims: serde_json::from_str(&claims).unwrap_or_default(),
                same_device: r.get(5)?,
                redirect_uri: r.get(6)?,
                request: r.get(7)?,
                secret: r.get(8)?,
                poll_token_hash: r.get(9)?,
                issued_at: r.get(10)?,
                expires_at: r.get(11)?,
                state: parse_state(&state),
                account_id: r.get(13)?,
                device_id: r.get(14)?,
                verification_code: r.get(15)?,
                decided_at: r.get(16)?,
                id_token: r.get(17)?,
            })
        },
    )
    .optional()
}

/// Move a pending or scanned session to `cancelled` (expiry, wrong code).
fn cancel(conn: &Connection, session_id: &str, now: i64) -> crate::sql::Result<()> {
    conn.execute(
        "UPDATE qr_sessions SET state = 'cancelled', decided_at = ?2, verification_code = NULL
          WHERE session_id = ?1 AND state IN ('pending', 'scanned')",
        params![session_id, now],
    )?;
    Ok(())
}

/// `POST /v1/qr/sessions`: verify the RP's signed login request against the registry and store
/// the session. Also used by the hosted demo portal ([`crate::portal`]).
pub fn create_session(s: &AppState, conn: &mut Connection, req: &QrSessionCreate) -> ApiResult<QrSessionCreated> {
    let bytes = unb64(&req.request).ok_or_else(|| ApiError::invalid("request is not base64url"))?;
    let signed = SignedLoginRequest::from_bytes(&bytes)
        .map_err(|e| ApiError::invalid(format!("malformed login request: {e}")))?;
    let r = &signed.request;
    let rp = s
        .registry
        .get(&r.rp_id)
        .ok_or_else(|| err(StatusCode::NOT_FOUND, rc::RP_UNKNOWN, "relying party not registered"))?;
    let rp_key = citizen_protocol::crypto::sec1_uncompressed(&rp.verifying_key);
    if signed.verify_rp_signature(&rp_key).is_err() {
        return Err(err(StatusCode::UNAUTHORIZED, rc::RP_SIGNATURE_INVALID, "relying-party signature does not verify"));
    }
    if !rp.has_origin(&r.origin) {
        return Err(err(StatusCode::FORBIDDEN, rc::ORIGIN_UNREGISTERED, "origin not registered for this party"));
    }
    if !rp.has_purpose("login") || !r.claims.iter().all(|c| rp.may_ask(c)) {
        return Err(err(StatusCode::FORBIDDEN, rc::CLAIM_NOT_ALLOWED, "claim or purpose not registered"));
    }
    let now = s.now();
    if r.issued_at.abs_diff(now) > MAX_CLOCK_SKEW_SECS as u64 {
        return Err(err(StatusCode::BAD_REQUEST, codes::CLOCK_SKEW, "issued_at too far from server time"));
    }
    if now >= r.expires_at {
        return Err(expired());
    }
    let redirect_uri = match (r.same_device, req.redirect_uri.as_deref()) {
        (false, None) => None,
        (false, Some(_)) => return Err(ApiError::invalid("redirect_uri is for the same-device flow only")),
        (true, None) => return Err(ApiError::invalid("the same-device flow needs a redirect_uri")),
        (true, Some(u)) if rp.has_redirect(u) => Some(u.to_string()),
        (true, Some(_)) => {
            return Err(err(StatusCode::FORBIDDEN, rc::ORIGIN_UNREGISTERED, "redirect URI not registered"))
        }
    };
    let tx = conn.savepoint()?;
    tx.execute("DELETE FROM qr_sessions WHERE expires_at < ?1", [now - SESSION_RETENTION_SECS])?;
    tx.execute(
        "UPDATE qr_sessions SET id_token = NULL WHERE id_token IS NOT NULL AND decided_at <= ?1",
        [now - ID_TOKEN_TTL_SECS],
    )?;
    let poll_token = random_b64url(32);
    let session_id = r.session_id_b64();
    let inserted = tx.execute(
        "INSERT INTO qr_sessions (session_id, rp_id, origin, nonce, claims, same_device, redirect_uri, request,
                                  secret, poll_token_hash, issued_at, expires_at, state)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 'pending')
         ON CONFLICT (session_id) DO NOTHING",
        params![
            session_id,
            r.rp_id,
            r.origin,
            r.nonce_b64(),
            serde_json::to_string(&r.claims).expect("strings serialise"),
            r.same_device,
            redirect_uri,
            // The strict parse above accepted only the canonical encoding: these are the bytes
            // `signed.to_bytes()` would give.
            bytes,
            random_array::<32>().to_vec(),
            refresh_hash(&poll_token),
            r.issued_at,
            r.expires_at,
        ],
    )?;
    if inserted != 1 {
        return Err(err(StatusCode::CONFLICT, codes::INVALID_REQUEST, "session id already used"));
    }
    audit(&tx, now, "qr_session_create", "ok", None, None);
    tx.commit()?;
    Ok(QrSessionCreated { session_id, poll_token, expires_at: r.expires_at })
}

fn frame_text(row: &SessionRow, now: i64) -> ApiResult<String> {
    let signed = SignedLoginRequest::from_bytes(&row.request).map_err(|_| ApiError::internal())?;
    QrFrame::new(signed, step_at(row.issued_at, now), &row.secret)
        .and_then(|frame| frame.to_text())
        .map_err(|_| ApiError::internal())
}

/// `GET /v1/qr/sessions/{id}?poll_token=`: where the session is. An unknown session and a wrong
/// poll token answer the same `qr_unknown_session`. A pending or scanned session past its expiry
/// is cancelled here.
pub fn status(s: &AppState, conn: &mut Connection, session_id: &str, poll_token: &str) -> ApiResult<QrSessionStatus> {
    let row = load(conn, session_id)?.ok_or_else(unknown_session)?;
    if !ct_eq(refresh_hash(poll_token).as_bytes(), row.poll_token_hash.as_bytes()) {
        return Err(unknown_session());
    }
    let now = s.now();
    let mut state = row.state;
    if now >= row.expires_at && matches!(state, QrSessionState::Pending | QrSessionState::Scanned) {
        cancel(conn, session_id, now)?;
        audit(conn, now, "qr_session_expired", "ok", row.account_id.as_deref(), row.device_id.as_deref());
        state = QrSessionState::Cancelled;
    }
    let pending = state == QrSessionState::Pending;
    let id_token_live = row.decided_at.is_some_and(|d| now < d + ID_TOKEN_TTL_SECS);
    Ok(QrSessionStatus {
        state,
        frame: if pending { Some(frame_text(&row, now)?) } else { None },
        frame_valid_for: if pending { QR_STEP_SECS - (now - row.issued_at).max(0) % QR_STEP_SECS } else { 0 },
        verification_code: if state == QrSessionState::Scanned { row.verification_code } else { None },
        id_token: if state == QrSessionState::Approved && id_token_live { row.id_token } else { None },
        expires_at: row.expires_at,
    })
}

/// A uniformly random two-digit code `10`..=`99`.
fn two_digit_code() -> String {
    loop {
        let [b] = random_array::<1>();
        if b < 180 {
            return format!("{}", 10 + b % 90);
        }
    }
}

/// Three distinct random codes and the index of the real one.
fn code_choices() -> (Vec<String>, usize) {
    let mut v: Vec<String> = Vec::with_capacity(3);
    while v.len() < 3 {
        let c = two_digit_code();
        if !v.contains(&c) {
            v.push(c);
        }
    }
    let idx = loop {
        let [b] = random_array::<1>();
        if b < 255 {
            break (b % 3) as usize;
        }
    };
    (v, idx)
}

/// `POST /v1/qr/scan`: check the scanned frame and bind the session to this account and device.
pub fn scan(
    s: &AppState,
    conn: &mut Connection,
    token: Option<&str>,
    req: &QrScanRequest,
) -> ApiResult<QrScanResponse> {
    let b = authenticate(s, conn, token)?;
    let frame = QrFrame::parse(&req.frame).map_err(|_| ApiError::invalid("not a valid login code"))?;
    let row = load(conn, &frame.signed.request.session_id_b64())?.ok_or_else(unknown_session)?;
    if !frame.signed.to_bytes().is_ok_and(|b| b == row.request) || !frame.verify_mac(&row.secret) {
        return Err(err(StatusCode::FORBIDDEN, rc::QR_FRAME_FORGED, "frame authentication failed"));
    }
    let now = s.now();
    if step_at(row.issued_at, now).saturating_sub(frame.step) > QR_MAX_FRAME_AGE_STEPS {
        return Err(err(StatusCode::GONE, rc::QR_FRAME_STALE, "frame too old; scan the code on screen again"));
    }
    if now >= row.expires_at {
        cancel(conn, &row.session_id, now)?;
        return Err(expired());
    }
    match row.state {
        QrSessionState::Pending => {}
        QrSessionState::Cancelled => return Err(expired()),
        _ => return Err(err(StatusCode::CONFLICT, rc::QR_ALREADY_SCANNED, "login code already scanned")),
    }
    let (choices, idx) = code_choices();
    let n = conn.execute(
        "UPDATE qr_sessions SET state = 'scanned', account_id = ?2, device_id = ?3, verification_code = ?4
          WHERE session_id = ?1 AND state = 'pending'",
        params![row.session_id, b.account_id, b.device_id, choices[idx]],
    )?;
    if n != 1 {
        return Err(err(StatusCode::CONFLICT, rc::QR_ALREADY_SCANNED, "login code already scanned"));
    }
    audit(conn, now, "qr_scan", "ok", Some(&b.account_id), Some(&b.device_id));
    Ok(QrScanResponse { session_id: row.session_id, code_choices: choices, expires_at: row.expires_at })
}

/// Pairwise subject: stable per (account, RP), unlinkable across RPs without the server secret.
fn pairwise_sub(s: &AppState, account_id: &str, rp_id: &str) -> String {
    b64(&s.secret.hmac(&[b"pairwise-sub/v1", account_id.as_bytes(), rp_id.as_bytes()]))
}

fn with_fragment(uri: &str, params: &[(&str, &str)]) -> String {
    let frag: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{uri}#{}", frag.join("&"))
}

/// `POST /v1/qr/decision`: approve (receipt, code, signature → ID token and countersignature) or
/// deny. Checks in the order of the protocol so each failure has its own code.
pub fn decide(
    s: &AppState,
    conn: &mut Connection,
    token: Option<&str>,
    req: &QrDecisionRequest,
) -> ApiResult<QrDecisionResponse> {
    let b = authenticate(s, conn, token)?;
    let st = &req.signed.statement;
    if st.device_id != b.device_id {
        return Err(ApiError::invalid("statement must be signed by the device of this session"));
    }
    let row = load(conn, &req.session_id)?.ok_or_else(unknown_session)?;
    let now = s.now();
    match row.state {
        QrSessionState::Approved | QrSessionState::Denied => {
            return Err(err(StatusCode::CONFLICT, rc::QR_ALREADY_DECIDED, "login session already decided"))
        }
        QrSessionState::Cancelled => return Err(expired()),
        QrSessionState::Pending => return Err(mismatch("login session was not scanned")),
        QrSessionState::Scanned => {
            if row.account_id.as_deref() != Some(&b.account_id) || row.device_id.as_deref() != Some(&b.device_id) {
                return Err(err(StatusCode::CONFLICT, rc::QR_ALREADY_SCANNED, "scanned by another device"));
            }
        }
    }
    if now >= row.expires_at {
        cancel(conn, &row.session_id, now)?;
        return Err(expired());
    }
    if st.nonce != row.nonce {
        return Err(mismatch("statement is bound to another session"));
    }
    match req.decision {
        Decision::Deny => deny(s, conn, &b.account_id, &row, req),
        Decision::Approve => approve(s, conn, &b.account_id, &row, req),
    }
}

fn deny(
    s: &AppState,
    conn: &mut Connection,
    account_id: &str,
    row: &SessionRow,
    req: &QrDecisionRequest,
) -> ApiResult<QrDecisionResponse> {
    let subject = format!("deny:{}", row.session_id);
    let dev = verify_signed_ext(
        s,
        conn,
        &req.signed,
        Purpose::Consent,
        NonceRule::Fixed(&row.nonce),
        Some(&subject),
        CounterKind::Login,
    )?;
    let now = s.now();
    conn.execute(
        "UPDATE qr_sessions SET state = 'denied', decided_at = ?2, verification_code = NULL
          WHERE session_id = ?1 AND state = 'scanned'",
        params![row.session_id, now],
    )?;
    audit(conn, now, "qr_deny", "ok", Some(account_id), Some(&dev.device_id));
    let redirect_url = row
        .redirect_uri
        .as_deref()
        .map(|u| with_fragment(u, &[("error", "access_denied"), ("session_id", &row.session_id)]));
    Ok(QrDecisionResponse { countersignature: None, redirect_url })
}

fn approve(
    s: &AppState,
    conn: &mut Connection,
    account_id: &str,
    row: &SessionRow,
    req: &QrDecisionRequest,
) -> ApiResult<QrDecisionResponse> {
    let st = &req.signed.statement;
    let (Some(receipt), Some(code)) = (req.receipt.as_ref(), req.verification_code.as_deref()) else {
        return Err(ApiError::invalid("approval needs a receipt and a verification code"));
    };
    if receipt.request_id != row.session_id || receipt.nonce != row.nonce {
        return Err(mismatch("receipt is bound to another session"));
    }
    let rp = s.registry.get(&row.rp_id).ok_or_else(ApiError::internal)?;
    let mut requested = row.claims.clone();
    requested.sort();
    let same = receipt.claims == requested
        && receipt.rp_id == row.rp_id
        && receipt.origin == row.origin
        && receipt.rp_name == rp.entry.name_vi
        && receipt.kind == ReceiptKind::QrLogin
        && receipt.purpose == "login"
        && receipt.retention_days == 0;
    if !same {
        return Err(err(StatusCode::CONFLICT, rc::CLAIMS_CHANGED, "receipt differs from the login request"));
    }
    if receipt.device_id != st.device_id || receipt.issued_at != st.issued_at {
        return Err(ApiError::invalid("receipt device or time differs from the statement"));
    }
    let expected_code = row.verification_code.as_deref().unwrap_or_default();
    if !ct_eq(code.as_bytes(), expected_code.as_bytes()) {
        let now = s.now();
        cancel(conn, &row.session_id, now)?;
        audit(conn, now, "qr_approve", rc::QR_WRONG_CODE, Some(account_id), Some(&st.device_id));
        return Err(err(StatusCode::FORBIDDEN, rc::QR_WRONG_CODE, "wrong verification code; the session is cancelled"));
    }
    verify_signed_ext(
        s,
        conn,
        &req.signed,
        Purpose::Consent,
        NonceRule::Fixed(&row.nonce),
        Some(&receipt.statement_subject()),
        CounterKind::Login,
    )?;
    let now = s.now();
    let tx = conn.savepoint()?;
    let claims = claim_values(&tx, account_id, &row.claims, now)?;
    let id_token = s.tokens.sign(&IdTokenClaims {
        iss: s.audience.clone(),
        sub: pairwise_sub(s, account_id, &row.rp_id),
        aud: row.rp_id.clone(),
        nonce: row.nonce.clone(),
        sid: row.session_id.clone(),
        iat: now,
        exp: now + ID_TOKEN_TTL_SECS,
        auth_time: now,
        standard: rp::oidc_standard_claims(&claims),
        claims,
    });
    let n = tx.execute(
        "UPDATE qr_sessions SET state = 'approved', decided_at = ?2, id_token = ?3
          WHERE session_id = ?1 AND state = 'scanned'",
        params![row.session_id, now, id_token],
    )?;
    if n != 1 {
        return Err(err(StatusCode::CONFLICT, rc::QR_ALREADY_DECIDED, "login session already decided"));
    }
    let countersignature = countersign_receipt(s, &tx, account_id, receipt, &req.signed)?;
    audit(&tx, now, "qr_approve", "ok", Some(account_id), Some(&st.device_id));
    tx.commit()?;
    let redirect_url = if row.same_device {
        row.redirect_uri
            .as_deref()
            .map(|u| with_fragment(u, &[("id_token", &id_token), ("session_id", &row.session_id)]))
    } else {
        None
    };
    Ok(QrDecisionResponse { countersignature: Some(countersignature), redirect_url })
}

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

type S = State<Arc<AppState>>;

/// The QR login routes (merged into [`super::router`]).
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(rp::PATH_QR_SESSIONS, post(http_create))
        .route(&format!("{}{{id}}", rp::PATH_QR_SESSION_PREFIX), get(http_status))
        .route(rp::PATH_QR_SCAN, post(http_scan))
        .route(rp::PATH_QR_DECISION, post(http_decide))
}

async fn http_create(State(s): S, ApiJson(req): ApiJson<QrSessionCreate>) -> ApiResult<Json<QrSessionCreated>> {
    blocking(&s, move |s, c| audited(s, c, "qr_session_create", |s, c| create_session(s, c, &req))).await.map(Json)
}

#[derive(serde::Deserialize)]
struct PollQuery {
    poll_token: String,
}

async fn http_status(
    State(s): S,
    Path(id): Path<String>,
    q: Result<Query<PollQuery>, QueryRejection>,
) -> ApiResult<Json<QrSessionStatus>> {
    let Query(q) = q.map_err(|_| ApiError::invalid("poll_token is required"))?;
    blocking(&s, move |s, c| status(s, c, &id, &q.poll_token)).await.map(Json)
}

async fn http_scan(
    State(s): S,
    headers: HeaderMap,
    ApiJson(req): ApiJson<QrScanRequest>,
) -> ApiResult<Json<QrScanResponse>> {
    let token = bearer(&headers);
    blocking(&s, move |s, c| audited(s, c, "qr_scan", |s, c| scan(s, c, token.as_deref(), &req))).await.map(Json)
}

async fn http_decide(
    State(s): S,
    headers: HeaderMap,
    ApiJson(req): ApiJson<QrDecisionRequest>,
) -> ApiResult<Json<QrDecisionResponse>> {
    let token = bearer(&headers);
    blocking(&s, move |s, c| audited(s, c, "qr_decision", |s, c| decide(s, c, token.as_deref(), &req))).await.map(Json)
}

/// The state of a session as stored (`pending`, `scanned`, …), for tests and operators.
pub fn session_state(conn: &Connection, session_id: &str) -> Option<String> {
    load(conn, session_id).ok().flatten().map(|r| state_str(r.state).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_choices_are_three_distinct_two_digit_codes() {
        for _ in 0..200 {
            let (v, idx) = code_choices();
            assert_eq!(v.len(), 3);
            assert!(idx < 3);
            assert!(v.iter().all(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_digit()) && c.as_str() >= "10"));
            assert!(v[0] != v[1] && v[1] != v[2] && v[0] != v[2]);
        }
    }

    #[test]
    fn states_round_trip() {
        for st in [
            QrSessionState::Pending,
            QrSessionState::Scanned,
            QrSessionState::Approved,
            QrSessionState::Denied,
            QrSessionState::Cancelled,
        ] {
            assert_eq!(parse_state(state_str(st)), st);
        }
    }
}
