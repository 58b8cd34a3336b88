//! The dashboard's routes. Authentication is the officials' (`crate::officials`), role
//! [`Role::Dashboard`]: the token comes in `X-Official-Token` (API, CSV) or in the HttpOnly
//! cookie the sign-in form sets (the page, so a browser needs no script). Every view — page,
//! API, CSV — is audited with the official's id (`dashboard_view`, `dashboard_api`,
//! `dashboard_csv`), refusals too. The check and the audit run as one unit of work on the
//! writer; the figures are computed on a read-only connection.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use super::{compute, page, Dashboard};
use crate::api::{blocking, ApiError, ApiResult, AppState};
use crate::db::audit;
use crate::officials::{self, Official, Role};

/// The page.
pub const PATH_PAGE: &str = "/official/dashboard";
/// The sign-in form's target.
pub const PATH_LOGIN: &str = "/official/dashboard/login";
/// The CSV export.
pub const PATH_CSV: &str = "/official/dashboard.csv";
/// The JSON API (same figures as the page).
pub const PATH_API: &str = "/v1/official/dashboard";
/// The cookie holding an official's token for the page.
const COOKIE: &str = "citizen_official";

/// The routes (merged into the server router).
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(PATH_PAGE, get(http_page))
        .route(PATH_LOGIN, post(http_login))
        .route(PATH_CSV, get(http_csv))
        .route(PATH_API, get(http_api))
}

fn cookie_token(headers: &HeaderMap) -> Option<Vec<u8>> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|c| {
        let (k, v) = c.trim().split_once('=')?;
        (k == COOKIE).then(|| v.as_bytes().to_vec())
    })
}

fn token(headers: &HeaderMap) -> Vec<u8> {
    let h = officials::token_of(headers);
    if h.is_empty() {
        cookie_token(headers).unwrap_or_default()
    } else {
        h
    }
}

/// Check the role and audit the view, in one unit of work.
async fn authorise(s: &Arc<AppState>, token: Vec<u8>, event: &'static str) -> ApiResult<Official> {
    blocking(s, move |s, c| {
        let who = officials::check(s, c, &token, Role::Dashboard, event)?;
        let id = who.id.as_deref().map(|i| format!("official:{i}"));
        audit(c, s.now(), event, "ok", id.as_deref(), None);
        Ok(who)
    })
    .await
}

/// Compute on a read-only connection.
async fn figures(s: &Arc<AppState>, params: BTreeMap<String, String>) -> ApiResult<Dashboard> {
    let now = s.now();
    let q = super::Query::parse(&params, citizen_protocol::cccd::Date::from_unix_vn(now))
        .ok_or_else(|| ApiError::invalid("from/to must be YYYY-MM-DD with from <= to; procedure and province known"))?;
    let st = s.clone();
    tokio::task::spawn_blocking(move || {
        let conn = st.store.reader()?;
        compute(&conn, &q, now)
    })
    .await
    .map_err(|_| ApiError::internal())?
    .map_err(ApiError::from)
}

fn html(status: StatusCode, body: &str) -> Response {
    let nonce = citizen_protocol::crypto::random_b64url(18);
    let page = body.replace("{NONCE}", &nonce);
    let csp = format!(
        "default-src 'none'; style-src 'nonce-{nonce}'; img-src 'self' data:; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    );
    let mut resp = (status, page).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    resp
}

fn refused_page(e: &ApiError) -> Response {
    if e.status == StatusCode::FORBIDDEN {
        html(StatusCode::FORBIDDEN, &page::login(Some("Tài khoản cán bộ này không có quyền xem bảng điều hành.")))
    } else if e.status == StatusCode::UNAUTHORIZED {
        html(StatusCode::UNAUTHORIZED, &page::login(None))
    } else {
        e.clone().into_response()
    }
}

async fn http_page(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(params): Query<BTreeMap<String, String>>,
) -> Response {
    let who = match authorise(&s, token(&headers), "dashboard_view").await {
        Ok(w) => w,
        Err(e) => return refused_page(&e),
    };
    match figures(&s, params).await {
        Ok(d) => {
            let name = match (&who.id, &who.agency) {
                (Some(i), Some(a)) => format!("{i} ({a})"),
                _ => "quản trị".into(),
            };
            html(StatusCode::OK, &page::render(&d, &name))
        }
        Err(e) => e.into_response(),
    }
}

async fn http_login(State(s): State<Arc<AppState>>, body: Bytes) -> Response {
    let token = url::form_urlencoded::parse(&body).find(|(k, _)| k == "token").map(|(_, v)| v.into_owned());
    let token = token.unwrap_or_default();
    // Only a token made of URL-safe characters can be a cookie value as is (ours are base64url).
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return html(StatusCode::UNAUTHORIZED, &page::login(Some("Mã truy cập không đúng.")));
    }
    if let Err(e) = authorise(&s, token.clone().into_bytes(), "dashboard_login").await {
        return refused_page(&e);
    }
    let cookie = format!("{COOKIE}={token}; HttpOnly; Secure; SameSite=Strict; Path=/official; Max-Age=3600");
    let mut resp = (StatusCode::SEE_OTHER, [(header::LOCATION, PATH_PAGE)]).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

async fn http_csv(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(params): Query<BTreeMap<String, String>>,
) -> ApiResult<Response> {
    authorise(&s, token(&headers), "dashboard_csv").await?;
    let d = figures(&s, params).await?;
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"dashboard.csv\""),
        ],
        super::csv(&d),
    )
        .into_response())
}

async fn http_api(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(params): Query<BTreeMap<String, String>>,
) -> ApiResult<Json<Dashboard>> {
    authorise(&s, token(&headers), "dashboard_api").await?;
    figures(&s, params).await.map(Json)
}
