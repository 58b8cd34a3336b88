//! The short identity QR (issue 13, item 4; ARCHITECTURE.md decision 35;
//! [`citizen_protocol::protocol::idqr`]).
//!
//! * `POST /v1/identity/binding` (Bearer): the server's binding of the session's device key to
//!   the citizen's name, birth date, CCCD number and level, valid 7 days, signed by the token
//!   key as a `citizen-identity-binding+jwt`. The device keeps it and signs codes offline.
//! * `POST /v1/identity/verify` `{qr}` (public: a verifier has no account): the offline checks
//!   with the server's own key, then what only the server knows — the device is still active and
//!   the account not locked — and single use: the code's nonce is recorded until the code has
//!   expired (`nonces`, under the `idqr:` prefix no challenge nonce can have), so a second
//!   verification is refused. The device counter is not checked against the login sequence: a
//!   code may be signed offline between other signatures; the nonce and the 60 s window make it
//!   single-use.

use std::sync::Arc;

use crate::sql::{params, Connection, OptionalExtension};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use citizen_protocol::protocol::idqr::{
    verify_identity_qr, IdQrError, IdentityBindingClaims, IdentityBindingResponse, IdentityVerifyRequest,
    BINDING_TTL_SECS, IDQR_VALID_SECS, PATH_IDENTITY_BINDING, PATH_IDENTITY_VERIFY,
};
use citizen_protocol::protocol::Purpose;
use serde::{Deserialize, Serialize};

use super::auth::authenticate;
use super::{audited, bearer};
use crate::api::{blocking, ApiError, ApiJson, ApiResult, AppState};
use crate::db::audit;
use crate::verify::load_device;

/// Answer of `POST /v1/identity/verify`: the verified identity.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IdentityVerifyResponse {
    /// Họ và tên.
    pub full_name: String,
    /// `YYYY-MM-DD`.
    pub birthdate: String,
    /// Số CCCD.
    pub cccd_number: String,
    /// Identity level.
    pub level: u8,
    /// When the device signed the code.
    pub signed_at: i64,
}

/// The routes.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route(PATH_IDENTITY_BINDING, post(http_binding)).route(PATH_IDENTITY_VERIFY, post(http_verify))
}

async fn http_binding(State(s): State<Arc<AppState>>, headers: HeaderMap) -> ApiResult<Json<IdentityBindingResponse>> {
    let token = bearer(&headers);
    blocking(&s, move |s, c| audited(s, c, "identity_binding", |s, c| binding(s, c, token.as_deref()))).await.map(Json)
}

async fn http_verify(
    State(s): State<Arc<AppState>>,
    ApiJson(req): ApiJson<IdentityVerifyRequest>,
) -> ApiResult<Json<IdentityVerifyResponse>> {
    blocking(&s, move |s, c| audited(s, c, "identity_verify", |s, c| verify(s, c, &req.qr))).await.map(Json)
}

/// Issue a binding of the bearer's device key.
pub fn binding(s: &AppState, conn: &mut Connection, token: Option<&str>) -> ApiResult<IdentityBindingResponse> {
    let b = authenticate(s, conn, token)?;
    let dev = load_device(conn, &b.device_id)?.ok_or_else(ApiError::internal)?;
    let now = s.now();
    let names = ["full_name", "birthdate", "cccd_number"].map(String::from);
    let v = crate::receipts::claim_values(conn, &b.account_id, &names, now)?;
    let get = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or_default().to_string();
    let claims = IdentityBindingClaims {
        iss: s.audience.clone(),
        device_id: dev.device_id.clone(),
        device_key: citizen_protocol::crypto::b64(&dev.public_key),
        full_name: get("full_name"),
        birthdate: get("birthdate"),
        cccd_number: get("cccd_number"),
        level: super::chip::account_level(conn, &b.account_id)?,
        iat: now,
        exp: now + BINDING_TTL_SECS,
    };
    audit(conn, now, "identity_binding", "ok", Some(&b.account_id), Some(&b.device_id));
    Ok(IdentityBindingResponse { binding: s.tokens.sign(&claims), expires_at: claims.exp })
}

fn refused(e: IdQrError) -> ApiError {
    let status = match e {
        IdQrError::Malformed => StatusCode::BAD_REQUEST,
        IdQrError::Replayed => StatusCode::CONFLICT,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    let m = e.msg();
    ApiError::new(status, m.code(), m.en())
}

/// Verify a code online.
pub fn verify(s: &AppState, conn: &mut Connection, qr: &str) -> ApiResult<IdentityVerifyResponse> {
    let now = s.now();
    let jwk: jsonwebtoken::jwk::Jwk =
        serde_json::from_value(s.tokens.jwk().clone()).map_err(|_| ApiError::internal())?;
    let v = verify_identity_qr(qr, &[jwk], &s.audience, now).map_err(refused)?;
    let dev = load_device(conn, &v.binding.device_id)?.ok_or_else(|| refused(IdQrError::DeviceRevoked))?;
    let locked: Option<i64> = conn
        .query_row("SELECT locked_at FROM accounts WHERE account_id = ?1", [&dev.account_id], |r| r.get(0))
        .optional()?
        .flatten();
    if dev.status != "active" || dev.locked_at.is_some() || locked.is_some() {
        return Err(refused(IdQrError::DeviceRevoked));
    }
    // Single use: the nonce is recorded until the code has expired (kept a day by the
    // challenge housekeeping); a second insert of the same nonce is a replay.
    let fresh = conn.execute(
        "INSERT INTO nonces (nonce, device_id, purpose, expires_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
        params![
            format!("idqr:{}", v.nonce),
            dev.device_id,
            Purpose::IdentityQr.as_str(),
            v.signed_at + IDQR_VALID_SECS
        ],
    )?;
    if fresh != 1 {
        return Err(refused(IdQrError::Replayed));
    }
    audit(conn, now, "identity_verify", "ok", Some(&dev.account_id), Some(&dev.device_id));
    let b = v.binding;
    Ok(IdentityVerifyResponse {
        full_name: b.full_name,
        birthdate: b.birthdate,
        cccd_number: b.cccd_number,
        level: b.level,
        signed_at: v.signed_at,
    })
}
