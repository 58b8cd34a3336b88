//! The demo bank (`bank-demo`): a relying party that opens accounts with eKYC data the citizen
//! shares from the app, hosted by the reference server so the demo and the tests have a real
//! verifier on the other side.
//!
//! * `POST /rp/bank-demo/requests` (body empty, or `{"optional": false}` to ask only the required
//!   claims): the bank's backend makes a share request — purpose `account_opening`, required
//!   full name, date of birth and personal identification number, optional permanent address,
//!   phone and place of origin, retention [`RETENTION_DAYS`] (five years: the anti-money-
//!   laundering record-keeping rule), answer at `<origin>/rp/bank-demo/presentations` — signs it
//!   with the bank's registered key and remembers its nonce.
//! * `POST /rp/bank-demo/presentations` ([`PresentationSubmission`]): the verifier. It checks the
//!   SD-JWT presentation with the identity server's public key (as any bank would, from `GET
//!   /v1/keys`), audience `bank-demo`, the nonce of an unanswered request of its own, freshness,
//!   and that every required claim is disclosed and nothing it did not ask for; then marks the
//!   request answered, so the same presentation is refused the second time
//!   (`presentation_replayed`).
//! * `GET /rp/bank-demo`: a tiny Vietnamese page with the last verified result (claim names and
//!   time only: the page is public, the data stays in the bank's records).
//!
//! The rows live in `rp_share_requests` (in real life: the bank's own database). Anyone may ask
//! for a request, so each client address may hold only a few unanswered, unexpired ones
//! ([`crate::shed::ClientQuota`], 429 beyond), all clients together a bounded number (503), and
//! unanswered requests are deleted once expired: a flood neither grows the table nor turns the
//! other customers away.

use std::sync::{Arc, OnceLock};

use crate::sql::{params, Connection, OptionalExtension};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Extension;
use axum::{Json, Router};
use citizen_protocol::crypto::random_b64url;
use citizen_protocol::protocol::rp::{
    claim_info, codes as rc, PresentationResult, PresentationSubmission, ShareRequestClaims, SHARE_REQUEST_TYP,
};
use citizen_protocol::sdjwt::{self, PresentationCheck, PresentationError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::api::{blocking, ApiError, ApiJson, ApiResult, AppState};
use crate::db::audit;
use crate::registry::{DEMO_BANK_ID, DEMO_BANK_PATH};
use crate::shed::{ClientAddr, ClientQuota};

/// Purpose code of the bank's requests.
pub const PURPOSE: &str = "account_opening";
/// Claims the bank cannot open an account without.
pub const REQUIRED: &[&str] = &["full_name", "birthdate", "cccd_number"];
/// Claims the citizen may add.
pub const OPTIONAL: &[&str] = &["permanent_address", "phone", "place_of_origin"];
/// Five years: customer records are kept that long after the relationship ends (anti-money-
/// laundering law).
pub const RETENTION_DAYS: u32 = 1825;
/// How long a share request may be answered.
pub const REQUEST_TTL_SECS: i64 = 600;
/// Oldest key-binding JWT the bank accepts.
pub const MAX_PRESENTATION_AGE_SECS: i64 = 300;

/// Body of `POST /rp/bank-demo/requests` (all fields optional).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct NewShareRequest {
    /// Offer the optional claims (default true).
    #[serde(default)]
    pub optional: Option<bool>,
}

/// Answer of `POST /rp/bank-demo/requests`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NewShareRequestResponse {
    /// The signed request (JWS) the citizen's app opens.
    pub request: String,
    /// Its id.
    pub request_id: String,
    /// Same-device deep link `citizenid://share?request=<jws>`.
    pub link: String,
}

fn conflict(code: &str, msg: &str) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, code, msg)
}

fn invalid(msg: &str) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, rc::PRESENTATION_INVALID, msg)
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Make, sign and remember a share request.
pub fn create_request(
    s: &AppState,
    conn: &mut Connection,
    req: &NewShareRequest,
) -> ApiResult<NewShareRequestResponse> {
    let rp = s.registry.get(DEMO_BANK_ID).ok_or_else(ApiError::internal)?;
    let key = rp.signing_key.clone().ok_or_else(ApiError::internal)?;
    let origin = rp.entry.origins.first().ok_or_else(ApiError::internal)?;
    let now = s.now();
    let claims = ShareRequestClaims {
        iss: DEMO_BANK_ID.into(),
        request_id: random_b64url(16),
        nonce: random_b64url(16),
        purpose: PURPOSE.into(),
        purpose_vi: "Mở tài khoản thanh toán".into(),
        purpose_en: "Opening a payment account".into(),
        retention_days: RETENTION_DAYS,
        required: strings(REQUIRED),
        optional: if req.optional.unwrap_or(true) { strings(OPTIONAL) } else { vec![] },
        response_uri: format!("{origin}{DEMO_BANK_PATH}/presentations"),
        iat: now,
        exp: now + REQUEST_TTL_SECS,
    };
    let payload = match serde_json::to_value(&claims) {
        Ok(Value::Object(m)) => m,
        _ => return Err(ApiError::internal()),
    };
    let mut header = Map::new();
    header.insert("typ".into(), SHARE_REQUEST_TYP.into());
    let jws = sdjwt::P256JwsSigner::new(key, Some(DEMO_BANK_ID.into())).sign_compact(&header, &payload);
    let json = |v: &Vec<String>| serde_json::to_string(v).expect("strings serialise");
    // Expired unanswered requests can no longer be answered: they go (the answered ones are the
    // bank's records).
    conn.execute(
        "DELETE FROM rp_share_requests WHERE rp_id = ?1 AND answered_at IS NULL AND expires_at <= ?2",
        params![DEMO_BANK_ID, now],
    )?;
    conn.execute(
        "INSERT INTO rp_share_requests (request_id, rp_id, nonce, required, optional, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            claims.request_id,
            DEMO_BANK_ID,
            claims.nonce,
            json(&claims.required),
            json(&claims.optional),
            now,
            claims.exp
        ],
    )?;
    let link = format!(
        "citizenid://share?request={}",
        url::form_urlencoded::byte_serialize(jws.as_bytes()).collect::<String>()
    );
    Ok(NewShareRequestResponse { request: jws, request_id: claims.request_id, link })
}

struct RequestRow {
    nonce: String,
    required: Vec<String>,
    optional: Vec<String>,
    expires_at: i64,
    answered: bool,
}

fn load(conn: &Connection, request_id: &str) -> crate::sql::Result<Option<RequestRow>> {
    conn.query_row(
        "SELECT nonce, required, optional, expires_at, answered_at IS NOT NULL FROM rp_share_requests
          WHERE request_id = ?1 AND rp_id = ?2",
        params![request_id, DEMO_BANK_ID],
        |r| {
            let list = |s: String| serde_json::from_str::<Vec<String>>(&s).unwrap_or_default();
            Ok(RequestRow {
                nonce: r.get(0)?,
                required: list(r.get(1)?),
                optional: list(r.get(2)?),
                expires_at: r.get(3)?,
                answered: r.get(4)?,
            })
        },
    )
    .optional()
}

/// The identity server's verifying key, as the bank would take it from `GET /v1/keys`.
fn issuer_key(s: &AppState) -> ApiResult<jsonwebtoken::DecodingKey> {
    let jwk: jsonwebtoken::jwk::Jwk =
        serde_json::from_value(s.tokens.jwk().clone()).map_err(|_| ApiError::internal())?;
    jsonwebtoken::DecodingKey::from_jwk(&jwk).map_err(|_| ApiError::internal())
}

/// Verify a submitted presentation and mark its request answered.
pub fn verify_submission(
    s: &AppState,
    conn: &mut Connection,
    sub: &PresentationSubmission,
) -> ApiResult<PresentationResult> {
    let now = s.now();
    let row = load(conn, &sub.request_id)?.ok_or_else(|| invalid("unknown request"))?;
    if row.answered {
        return Err(conflict(rc::PRESENTATION_REPLAYED, "request already answered"));
    }
    if now >= row.expires_at {
        return Err(invalid("request expired"));
    }
    let key = issuer_key(s)?;
    let check = PresentationCheck {
        issuer_key: &key,
        issuer: &s.audience,
        audience: DEMO_BANK_ID,
        nonce: &row.nonce,
        now,
        max_age_secs: MAX_PRESENTATION_AGE_SECS,
    };
    let v = sdjwt::verify_presentation(&sub.presentation, &check).map_err(|e| {
        let status = if e == PresentationError::WrongNonce { StatusCode::CONFLICT } else { StatusCode::BAD_REQUEST };
        ApiError::new(status, e.code(), format!("presentation refused: {e}"))
    })?;
    if !row.required.iter().all(|c| v.claims.contains_key(c)) {
        return Err(invalid("a required claim is missing"));
    }
    if !v.claims.keys().all(|c| row.required.contains(c) || row.optional.contains(c)) {
        return Err(invalid("a claim that was not asked for was disclosed"));
    }
    let names: Vec<&String> = v.claims.keys().collect();
    let record = serde_json::json!({ "claims": names, "verified_at": now }).to_string();
    let n = conn.execute(
        "UPDATE rp_share_requests SET answered_at = ?2, result = ?3 WHERE request_id = ?1 AND answered_at IS NULL",
        params![sub.request_id, now, record],
    )?;
    if n != 1 {
        return Err(conflict(rc::PRESENTATION_REPLAYED, "request already answered"));
    }
    audit(conn, now, "bank_demo_presentation", "ok", None, None);
    Ok(PresentationResult { verified: true, claims: v.claims })
}

/// The last verified result: (claim names, Unix seconds).
pub fn last_result(conn: &Connection) -> crate::sql::Result<Option<(Vec<String>, i64)>> {
    let r: Option<String> = conn
        .query_row(
            "SELECT result FROM rp_share_requests WHERE rp_id = ?1 AND result IS NOT NULL ORDER BY answered_at DESC LIMIT 1",
            [DEMO_BANK_ID],
            |r| r.get(0),
        )
        .optional()?;
    Ok(r.and_then(|s| serde_json::from_str::<Value>(&s).ok()).map(|v| {
        let names = v["claims"].as_array().map(|a| a.iter().filter_map(|c| c.as_str().map(String::from)).collect());
        (names.unwrap_or_default(), v["verified_at"].as_i64().unwrap_or(0))
    }))
}

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

type S = State<Arc<AppState>>;

/// Per-client quota of live share requests (sized from the limits on first use).
#[derive(Default)]
pub struct BankQuota(OnceLock<ClientQuota>);

/// The demo bank's routes (merged into the server router).
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(DEMO_BANK_PATH, get(page))
        .route(&format!("{DEMO_BANK_PATH}/requests"), post(http_request))
        .route(&format!("{DEMO_BANK_PATH}/presentations"), post(http_presentation))
        .layer(Extension(Arc::new(BankQuota::default())))
}

async fn http_request(
    State(s): S,
    Extension(quota): Extension<Arc<BankQuota>>,
    ClientAddr(client): ClientAddr,
    body: Bytes,
) -> ApiResult<Json<NewShareRequestResponse>> {
    let req: NewShareRequest = if body.iter().all(u8::is_ascii_whitespace) {
        NewShareRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|_| ApiError::invalid("malformed JSON"))?
    };
    let l = &s.limits.shed;
    let quota = quota.0.get_or_init(|| ClientQuota::new(l.bank_requests_per_client, l.bank_requests_total));
    let now = s.now();
    quota.acquire(client, now, now + REQUEST_TTL_SECS).map_err(|r| r.into_error("share requests"))?;
    blocking(&s, move |s, c| create_request(s, c, &req)).await.map(Json)
}

async fn http_presentation(
    State(s): S,
    ApiJson(sub): ApiJson<PresentationSubmission>,
) -> ApiResult<Json<PresentationResult>> {
    blocking(&s, move |s, c| {
        let r = verify_submission(s, c, &sub);
        if let Err(e) = &r {
            audit(c, s.now(), "bank_demo_presentation", e.code(), None, None);
        }
        r
    })
    .await
    .map(Json)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

async fn page(State(s): S) -> Response {
    let last = blocking(&s, |_, c| Ok(last_result(c)?)).await.ok().flatten();
    let body = match last {
        Some((names, at)) => {
            let labels: Vec<String> =
                names.iter().map(|n| escape(claim_info(n).map(|i| i.label_vi).unwrap_or(n))).collect();
            format!(
                "<p>Hồ sơ eKYC gần nhất đã được xác minh (thời điểm Unix {at}).</p><p>Thông tin nhận được: {}.</p>",
                labels.join(", ")
            )
        }
        None => "<p>Chưa có hồ sơ nào được xác minh.</p>".to_string(),
    };
    let html = format!(
        "<!doctype html><html lang=\"vi\"><head><meta charset=\"utf-8\"><title>Ngân hàng TMCP Thử Nghiệm</title></head>\
         <body><h1>Ngân hàng TMCP Thử Nghiệm — mở tài khoản bằng định danh điện tử</h1>\
         <p>Ngân hàng chỉ nhận thông tin công dân đồng ý chia sẻ, có chữ ký của máy chủ định danh.</p>{body}</body></html>"
    );
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, "default-src 'none'; frame-ancestors 'none'"),
        ],
        html,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bank_asks_only_registered_claims() {
        let dir = tempfile::tempdir().unwrap();
        let reg = crate::registry::Registry::demo(dir.path(), "https://127.0.0.1:1").unwrap();
        let bank = reg.get(DEMO_BANK_ID).unwrap();
        assert!(bank.has_purpose(PURPOSE));
        assert!(REQUIRED.iter().chain(OPTIONAL).all(|c| bank.may_ask(c) && claim_info(c).is_some()));
    }
}
