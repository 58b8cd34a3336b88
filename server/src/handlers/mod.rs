//! HTTP routes. Each handler is a thin async wrapper that decodes the request and runs the
//! endpoint's logic (a plain synchronous function over the database) on a blocking thread.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use citizen_core::protocol as p;
use rusqlite::Connection;

use crate::api::{blocking, ApiError, ApiJson, ApiResult, AppState};
use crate::db::audit;

pub mod auth;
pub mod devices;
pub mod enrollment;
pub mod reset;

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

type S = State<Arc<AppState>>;

/// Run `f`, auditing a failure under `event` (successes are audited inside, with ids).
fn audited<T>(
    s: &AppState,
    c: &mut Connection,
    event: &str,
    f: impl FnOnce(&AppState, &mut Connection) -> ApiResult<T>,
) -> ApiResult<T> {
    let r = f(s, c);
    if let Err(e) = &r {
        audit(c, s.now(), event, e.code(), None, None);
    }
    r
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_string())
}

/// The full router.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route(p::PATH_HEALTH, get(health))
        .route(p::PATH_ENROLL_START, post(enroll_start))
        .route(p::PATH_ENROLL_COMPLETE, post(enroll_complete))
        .route(p::PATH_CHALLENGE, post(challenge))
        .route(p::PATH_LOGIN, post(login))
        .route(p::PATH_REFRESH, post(refresh))
        .route(p::PATH_LOGOUT, post(logout))
        .route(p::PATH_DEVICES, get(list_devices))
        .route(p::PATH_DEVICE_REVOKE, post(revoke_device))
        .route(p::PATH_DEVICE_STATUS, post(device_status))
        .route(p::PATH_TRANSFER_APPROVAL, post(transfer_approval))
        .route(p::PATH_RESET_START, post(reset_start))
        .route(p::PATH_RESET_COMPLETE, post(reset_complete))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::map_response(no_store))
        .with_state(state)
}

/// Answers carry tokens and personal data: never cache them.
async fn no_store(mut resp: Response) -> Response {
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, p::codes::INVALID_REQUEST, "no such endpoint")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, p::codes::INVALID_REQUEST, "method not allowed")
}

async fn health() -> Json<p::Ok> {
    Json(p::Ok { ok: true })
}

async fn enroll_start(
    State(s): S,
    ApiJson(req): ApiJson<p::EnrollStartRequest>,
) -> ApiResult<Json<p::EnrollStartResponse>> {
    blocking(&s, move |s, c| audited(s, c, "enroll_start", |s, c| enrollment::start(s, c, &req))).await.map(Json)
}

async fn enroll_complete(
    State(s): S,
    ApiJson(req): ApiJson<p::EnrollCompleteRequest>,
) -> ApiResult<Json<p::EnrollCompleteResponse>> {
    blocking(&s, move |s, c| audited(s, c, "enroll_complete", |s, c| enrollment::complete(s, c, &req))).await.map(Json)
}

async fn challenge(State(s): S, ApiJson(req): ApiJson<p::ChallengeRequest>) -> ApiResult<Json<p::ChallengeResponse>> {
    blocking(&s, move |s, c| audited(s, c, "challenge", |s, c| auth::challenge(s, c, &req))).await.map(Json)
}

async fn login(State(s): S, ApiJson(req): ApiJson<p::LoginRequest>) -> ApiResult<Json<p::TokenResponse>> {
    blocking(&s, move |s, c| audited(s, c, "login", |s, c| auth::login(s, c, &req))).await.map(Json)
}

async fn refresh(State(s): S, ApiJson(req): ApiJson<p::RefreshRequest>) -> ApiResult<Json<p::TokenResponse>> {
    blocking(&s, move |s, c| audited(s, c, "refresh", |s, c| auth::refresh(s, c, &req))).await.map(Json)
}

/// Logout's body is optional: an empty body means "this bearer's session".
async fn logout(State(s): S, headers: HeaderMap, body: Result<Bytes, BytesRejection>) -> ApiResult<Json<p::Ok>> {
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, p::codes::INVALID_REQUEST, "request body too large")
        } else {
            ApiError::invalid("unreadable request body")
        }
    })?;
    let req: p::LogoutRequest = if body.iter().all(u8::is_ascii_whitespace) {
        p::LogoutRequest { refresh_token: None }
    } else {
        serde_json::from_slice(&body).map_err(|_| ApiError::invalid("malformed JSON"))?
    };
    let token = bearer(&headers);
    blocking(&s, move |s, c| audited(s, c, "logout", |s, c| auth::logout(s, c, token.as_deref(), &req))).await.map(Json)
}

async fn list_devices(State(s): S, headers: HeaderMap) -> ApiResult<Json<p::DevicesResponse>> {
    let token = bearer(&headers);
    blocking(&s, move |s, c| audited(s, c, "devices", |s, c| devices::list(s, c, token.as_deref()))).await.map(Json)
}

async fn revoke_device(
    State(s): S,
    headers: HeaderMap,
    ApiJson(req): ApiJson<p::RevokeDeviceRequest>,
) -> ApiResult<Json<p::Ok>> {
    let token = bearer(&headers);
    blocking(&s, move |s, c| audited(s, c, "device_revoke", |s, c| devices::revoke(s, c, token.as_deref(), &req)))
        .await
        .map(Json)
}

async fn device_status(
    State(s): S,
    ApiJson(req): ApiJson<p::DeviceStatusRequest>,
) -> ApiResult<Json<p::DeviceStatusResponse>> {
    blocking(&s, move |s, c| audited(s, c, "device_status", |s, c| devices::status(s, c, &req))).await.map(Json)
}

async fn transfer_approval(
    State(s): S,
    headers: HeaderMap,
    ApiJson(req): ApiJson<p::TransferApprovalRequest>,
) -> ApiResult<Json<p::Ok>> {
    let token = bearer(&headers);
    blocking(&s, move |s, c| {
        audited(s, c, "transfer_approval", |s, c| devices::transfer_approval(s, c, token.as_deref(), &req))
    })
    .await
    .map(Json)
}

async fn reset_start(
    State(s): S,
    ApiJson(req): ApiJson<p::ResetStartRequest>,
) -> ApiResult<Json<p::ResetStartResponse>> {
    blocking(&s, move |s, c| audited(s, c, "passcode_reset_start", |s, c| reset::start(s, c, &req))).await.map(Json)
}

async fn reset_complete(State(s): S, ApiJson(req): ApiJson<p::ResetCompleteRequest>) -> ApiResult<Json<p::Ok>> {
    blocking(&s, move |s, c| audited(s, c, "passcode_reset_complete", |s, c| reset::complete(s, c, &req)))
        .await
        .map(Json)
}
