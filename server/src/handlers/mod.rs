//! HTTP routes. Each handler is a thin async wrapper that decodes the request and runs the
//! endpoint's logic (a plain synchronous function over the database) on a blocking thread.

use std::sync::Arc;

use crate::sql::Connection;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::Query;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use citizen_protocol::protocol as p;
use citizen_protocol::protocol::services as ps;

use crate::api::{blocking, blocking_keyed, blocking_keyed_volatile, ApiError, ApiJson, ApiResult, AppState};
use crate::db::audit;

pub mod access;
pub mod activity;
pub mod auth;
pub mod chip;
pub mod corrections;
pub mod credentials;
pub mod delegation;
pub mod devices;
pub mod discovery;
pub mod documents;
pub mod enrollment;
pub mod identity;
pub mod qr;
pub mod rebind;
pub mod recovery;
pub mod remote_lock;
pub mod reset;
pub mod services;

/// Default largest accepted request body ([`crate::ShedLimits::max_body_bytes`]).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Default largest accepted submission body (attachments travel base64url inside;
/// [`crate::ShedLimits::max_submission_bytes`]).
pub const MAX_SUBMISSION_BYTES: usize = 12 * 1024 * 1024;
/// Header carrying the officials' API secret.
pub const OFFICIAL_TOKEN_HEADER: &str = "x-official-token";
/// Header of a submission forwarded by a counter's terminal (`counter`, with the officials'
/// token); absent or `online` for the citizen's own app.
pub const FILING_CHANNEL_HEADER: &str = "x-filing-channel";
/// Officials' API: lock or unlock a citizen's account ([`auth::set_account_lock`]).
pub const PATH_OFFICIAL_ACCOUNT_LOCK: &str = "/v1/official/accounts/lock";
/// Officials' API: lock or unlock a citizen's active device (issue 15, [`devices::official_lock`]).
pub const PATH_OFFICIAL_DEVICE_LOCK: &str = "/v1/official/devices/lock";

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
    let (max_body, max_submission) = (state.limits.shed.max_body_bytes, state.limits.shed.max_submission_bytes);
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
        .route(ps::PATH_PROFILE, get(profile))
        .route(ps::PATH_PROCEDURES, get(procedures))
        .route(ps::PATH_KEYS, get(keys))
        .route(ps::PATH_SUBMISSIONS, post(submit).layer(DefaultBodyLimit::max(max_submission)))
        .route(ps::PATH_CASE_EVENTS, get(case_events))
        .route(ps::PATH_OFFICIAL_TRANSITION, post(official_transition))
        .route(PATH_OFFICIAL_ACCOUNT_LOCK, post(official_account_lock))
        .route(PATH_OFFICIAL_DEVICE_LOCK, post(official_device_lock))
        .route(p::recovery::PATH_REBIND_START, post(rebind_start))
        .route(p::recovery::PATH_REBIND_COMPLETE, post(rebind_complete))
        .route(p::recovery::PATH_REMOTE_LOCK_START, post(remote_lock_start))
        .route(p::recovery::PATH_REMOTE_LOCK_COMPLETE, post(remote_lock_complete))
        .route(p::recovery::PATH_RECOVERY_START, post(recovery_start))
        .route(p::recovery::PATH_RECOVERY_COMPLETE, post(recovery_complete))
        .route(p::recovery::PATH_RECOVERY_CANCEL, post(recovery_cancel))
        .route(p::recovery::PATH_OFFICIAL_RECOVERY_APPROVE, post(official_recovery_approve))
        .route(p::recovery::PATH_OFFICIAL_RECOVERY_CANCEL, post(official_recovery_cancel))
        .route(citizen_protocol::activity::PATH_ANCHOR, post(activity_anchor).get(activity_latest_anchor))
        .route(citizen_protocol::protocol::rp::PATH_REGISTRY, get(relying_parties))
        // QR login (server side) and the hosted demo portal.
        .merge(qr::routes())
        .merge(crate::portal::routes())
        // PID credential, data-share receipts, and the hosted demo bank (eKYC verifier).
        .merge(credentials::routes())
        .merge(documents::routes())
        // Level 2 from the chip (decision 30).
        .merge(chip::routes())
        .merge(crate::demo_bank::routes())
        // Issuer metadata and OpenID Connect discovery for generic verifiers (issue 13, item 5).
        .merge(discovery::routes())
        // The short identity QR: device-key binding and online verification (issue 13, item 4).
        .merge(identity::routes())
        // The citizen's access log and the officials' logged record reads (issue 16).
        .merge(access::routes())
        .merge(corrections::routes())
        // Delegation: dependants, mandates (issue 15 item 5, decision 49).
        .merge(delegation::routes())
        // The officials' dashboard (issue 16, item 3).
        .merge(crate::dashboard::http::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::map_response(no_store))
        .layer(axum::middleware::from_fn(crate::api::with_client_addr))
        .with_state(state)
}

/// Answers carry tokens and personal data: never cache them (unless the handler chose a
/// policy, as the public catalogue and keys do).
async fn no_store(mut resp: Response) -> Response {
    if !resp.headers().contains_key(header::CACHE_CONTROL) {
        resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
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

/// The challenge's unit is volatile: a nonce lost in a power cut fails one login, and the login
/// that consumes it is durable (decision 36).
async fn challenge(State(s): S, ApiJson(req): ApiJson<p::ChallengeRequest>) -> ApiResult<Json<p::ChallengeResponse>> {
    blocking_keyed_volatile(&s, move |s, c| audited(s, c, "challenge", |s, c| auth::challenge(s, c, &req)))
        .await
        .map(Json)
}

/// Signature checked before the unit of work, token signed after: no ECDSA on the writer.
async fn login(State(s): S, ApiJson(req): ApiJson<p::LoginRequest>) -> ApiResult<Json<p::TokenResponse>> {
    let pre = crate::verify::PreVerified::before(&s, &req.signed).await;
    let grant = blocking_keyed(&s, move |s, c| audited(s, c, "login", |s, c| auth::login(s, c, &req, &pre))).await?;
    Ok(Json(grant.tokens(&s)))
}

async fn refresh(State(s): S, ApiJson(req): ApiJson<p::RefreshRequest>) -> ApiResult<Json<p::TokenResponse>> {
    blocking_keyed(&s, move |s, c| audited(s, c, "refresh", |s, c| auth::refresh(s, c, &req))).await.map(Json)
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
    blocking_keyed(&s, move |s, c| audited(s, c, "logout", |s, c| auth::logout(s, c, token.as_deref(), &req)))
        .await
        .map(Json)
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

async fn activity_anchor(
    State(s): S,
    ApiJson(req): ApiJson<citizen_protocol::activity::AnchorRequest>,
) -> ApiResult<Json<citizen_protocol::activity::ActivityAnchor>> {
    blocking(&s, move |s, c| audited(s, c, "activity_anchor", |s, c| activity::anchor(s, c, &req))).await.map(Json)
}

async fn activity_latest_anchor(
    State(s): S,
    headers: HeaderMap,
) -> ApiResult<Json<citizen_protocol::activity::LatestAnchorResponse>> {
    let token = bearer(&headers);
    blocking(&s, move |s, c| audited(s, c, "activity_anchor_latest", |s, c| activity::latest(s, c, token.as_deref())))
        .await
        .map(Json)
}

async fn reset_complete(State(s): S, ApiJson(req): ApiJson<p::ResetCompleteRequest>) -> ApiResult<Json<p::Ok>> {
    blocking(&s, move |s, c| audited(s, c, "passcode_reset_complete", |s, c| reset::complete(s, c, &req)))
        .await
        .map(Json)
}

async fn profile(State(s): S, headers: HeaderMap) -> ApiResult<Json<ps::CitizenProfileDto>> {
    let token = bearer(&headers);
    blocking_keyed(&s, move |s, c| audited(s, c, "profile", |s, c| services::profile(s, c, token.as_deref())))
        .await
        .map(Json)
}

/// The catalogue with a strong ETag; `If-None-Match` (a list, `W/` tags compared weakly, or
/// `*`) matching it answers 304 with an empty body.
async fn procedures(headers: HeaderMap) -> Response {
    let etag = crate::catalogue::etag();
    let cache = [(header::ETAG, etag), (header::CACHE_CONTROL, "no-cache")];
    let matches = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').map(|t| t.trim()).any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag));
    if matches {
        return (StatusCode::NOT_MODIFIED, cache).into_response();
    }
    (StatusCode::OK, cache, [(header::CONTENT_TYPE, "application/json")], crate::catalogue::catalogue_json())
        .into_response()
}

async fn keys(State(s): S) -> Response {
    ([(header::CACHE_CONTROL, "no-cache")], Json(services::keys(&s))).into_response()
}

/// `GET /v1/relying-parties`: the registry, signed by the server key.
async fn relying_parties(State(s): S) -> Response {
    let doc = s.registry.signed_document(&s.tokens, &s.audience, s.now());
    ([(header::CACHE_CONTROL, "no-cache")], Json(citizen_protocol::protocol::rp::RegistryResponse { registry: doc }))
        .into_response()
}

#[derive(serde::Deserialize)]
struct EventsQuery {
    #[serde(default)]
    after: i64,
}

async fn case_events(
    State(s): S,
    headers: HeaderMap,
    q: Result<Query<EventsQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<ps::CaseEventsResponse>> {
    let Query(q) = q.map_err(|_| ApiError::invalid("after must be an integer"))?;
    let token = bearer(&headers);
    blocking_keyed(&s, move |s, c| {
        audited(s, c, "case_events", |s, c| services::events(s, c, token.as_deref(), q.after))
    })
    .await
    .map(Json)
}

/// The officials' token must be present and right (constant-time); a refusal is audited.
async fn check_official(s: &Arc<AppState>, headers: &HeaderMap, event: &'static str) -> ApiResult<()> {
    let given = headers.get(OFFICIAL_TOKEN_HEADER).map(|v| v.as_bytes()).unwrap_or_default();
    if !crate::otp::ct_eq(given, s.official_token.as_bytes()) {
        let _ = blocking(s, move |s, c| {
            audit(c, s.now(), event, ps::codes::OFFICIAL_UNAUTHORIZED, None, None);
            Ok(())
        })
        .await;
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            ps::codes::OFFICIAL_UNAUTHORIZED,
            "missing or wrong officials' token",
        ));
    }
    Ok(())
}

async fn official_account_lock(
    State(s): S,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<p::Ok>> {
    check_official(&s, &headers, "account_lock").await?;
    let body = body.map_err(|_| ApiError::invalid("unreadable request body"))?;
    let req: auth::AccountLockRequest =
        serde_json::from_slice(&body).map_err(|_| ApiError::invalid("JSON does not match the expected shape"))?;
    blocking(&s, move |s, c| audited(s, c, "account_lock", |s, c| auth::set_account_lock(s, c, &req))).await.map(Json)
}

async fn official_device_lock(
    State(s): S,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<p::Ok>> {
    check_official(&s, &headers, "device_lock").await?;
    let body = body.map_err(|_| ApiError::invalid("unreadable request body"))?;
    let req: devices::DeviceLockRequest =
        serde_json::from_slice(&body).map_err(|_| ApiError::invalid("JSON does not match the expected shape"))?;
    blocking(&s, move |s, c| audited(s, c, "device_lock", |s, c| devices::official_lock(s, c, &req))).await.map(Json)
}

async fn rebind_start(
    State(s): S,
    ApiJson(req): ApiJson<p::recovery::RebindStartRequest>,
) -> ApiResult<Json<p::recovery::RebindStartResponse>> {
    blocking(&s, move |s, c| audited(s, c, "rebind_start", |s, c| rebind::start(s, c, &req))).await.map(Json)
}

async fn rebind_complete(
    State(s): S,
    headers: HeaderMap,
    ApiJson(req): ApiJson<p::recovery::RebindCompleteRequest>,
) -> ApiResult<Json<p::Ok>> {
    let token = bearer(&headers);
    blocking(&s, move |s, c| audited(s, c, "rebind_complete", |s, c| rebind::complete(s, c, token.as_deref(), &req)))
        .await
        .map(Json)
}

async fn remote_lock_start(
    State(s): S,
    ApiJson(req): ApiJson<p::recovery::RemoteLockStartRequest>,
) -> ApiResult<Json<p::recovery::RemoteLockStartResponse>> {
    blocking(&s, move |s, c| audited(s, c, "remote_lock_start", |s, c| remote_lock::start(s, c, &req))).await.map(Json)
}

async fn remote_lock_complete(
    State(s): S,
    ApiJson(req): ApiJson<p::recovery::RemoteLockCompleteRequest>,
) -> ApiResult<Json<p::recovery::RemoteLockCompleteResponse>> {
    blocking(&s, move |s, c| audited(s, c, "remote_lock_complete", |s, c| remote_lock::complete(s, c, &req)))
        .await
        .map(Json)
}

async fn recovery_start(
    State(s): S,
    ApiJson(req): ApiJson<p::recovery::RecoveryStartRequest>,
) -> ApiResult<Json<p::recovery::RecoveryStartResponse>> {
    blocking(&s, move |s, c| audited(s, c, "recovery_start", |s, c| recovery::start(s, c, &req))).await.map(Json)
}

async fn recovery_complete(
    State(s): S,
    ApiJson(req): ApiJson<p::recovery::RecoveryCompleteRequest>,
) -> ApiResult<Json<p::recovery::RecoveryCompleteResponse>> {
    blocking(&s, move |s, c| audited(s, c, "recovery_complete", |s, c| recovery::complete(s, c, &req))).await.map(Json)
}

async fn recovery_cancel(
    State(s): S,
    ApiJson(req): ApiJson<p::recovery::RecoveryCancelRequest>,
) -> ApiResult<Json<p::Ok>> {
    blocking(&s, move |s, c| audited(s, c, "recovery_cancel", |s, c| recovery::cancel(s, c, &req))).await.map(Json)
}

async fn official_recovery(
    s: Arc<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
    event: &'static str,
    f: fn(&AppState, &mut Connection, &recovery::OfficialRecoveryRequest) -> ApiResult<p::Ok>,
) -> ApiResult<Json<p::Ok>> {
    check_official(&s, &headers, event).await?;
    let body = body.map_err(|_| ApiError::invalid("unreadable request body"))?;
    let req: recovery::OfficialRecoveryRequest =
        serde_json::from_slice(&body).map_err(|_| ApiError::invalid("JSON does not match the expected shape"))?;
    blocking(&s, move |s, c| audited(s, c, event, |s, c| f(s, c, &req))).await.map(Json)
}

async fn official_recovery_approve(
    State(s): S,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<p::Ok>> {
    official_recovery(s, headers, body, "official_recovery_approve", recovery::official_approve).await
}

async fn official_recovery_cancel(
    State(s): S,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<p::Ok>> {
    official_recovery(s, headers, body, "official_recovery_cancel", recovery::official_cancel).await
}

async fn official_transition(
    State(s): S,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<ps::CaseEventDto>> {
    check_official(&s, &headers, "case_transition").await?;
    let body = body.map_err(|_| ApiError::invalid("unreadable request body"))?;
    let req: ps::TransitionRequest =
        serde_json::from_slice(&body).map_err(|_| ApiError::invalid("JSON does not match the expected shape"))?;
    blocking(&s, move |s, c| services::transition(s, c, &req)).await.map(Json)
}

/// `POST /v1/submissions`, with the fault-injection hook (feature `fault`, see `crate::fault`).
async fn submit(State(s): S, headers: HeaderMap, ApiJson(req): ApiJson<ps::SubmissionRequest>) -> Response {
    #[cfg(feature = "fault")]
    let fault = match crate::fault::before_handling(&s).await {
        Ok(fault) => fault,
        Err(response) => return response,
    };
    let key = headers.get("idempotency-key").map(|v| v.to_str().map(str::to_string));
    let key = match key {
        Some(Err(_)) => return ApiError::invalid("Idempotency-Key is not ASCII").into_response(),
        Some(Ok(k)) => Some(k),
        None => None,
    };
    // Filed at a counter: the citizen's signed submission forwarded by an official's terminal,
    // which says so with its token (issue 16: the dashboard's online/counter share).
    let counter = match headers.get(FILING_CHANNEL_HEADER).map(|v| v.as_bytes()) {
        None | Some(b"online") => None,
        Some(b"counter") => Some(crate::officials::token_of(&headers)),
        Some(_) => return ApiError::invalid("X-Filing-Channel must be online or counter").into_response(),
    };
    // The device signature is checked before the unit of work (decision 36).
    let pre = crate::verify::PreVerified::before(&s, &req.signed).await;
    let result = blocking_keyed(&s, move |s, c| {
        let channel = match &counter {
            None => crate::dashboard::Channel::Online,
            Some(token) => {
                crate::officials::check(s, c, token, crate::officials::Role::Counter, "submission_counter")?;
                crate::dashboard::Channel::Counter
            }
        };
        services::submit(s, c, key.as_deref(), &req, &pre, channel)
    })
    .await;
    #[cfg(feature = "fault")]
    if let Some(response) = crate::fault::after_handling(fault, result.is_ok()) {
        return response;
    }
    match result {
        Ok((status, body)) => (status, [(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => e.into_response(),
    }
}
