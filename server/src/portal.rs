//! The demo public-service portal (`dvc-demo`): a web page where a citizen logs in by scanning
//! the animated QR code with the citizen app.
//!
//! It plays the *relying party*: its backend (here, in-process) builds and signs a
//! [`LoginRequest`] with the portal's registered key, registers it through the same function as
//! `POST /v1/qr/sessions` ([`qr::create_session`]), and keeps the poll token server-side, keyed by
//! a random *handle* the page uses. The page polls every second and redraws the QR code (an SVG
//! rendered here). Once approved, the backend **verifies** the ID token (ES256 signature with the
//! server key, issuer, audience `dvc-demo`, nonce, session, expiry) before the page shows who
//! logged in — as a real portal must.
//!
//! Pages are self-contained (inline CSS and JS, no external assets) and served with a strict
//! Content-Security-Policy: scripts and styles only with a per-response nonce (no
//! `'unsafe-inline'`), `connect-src 'self'`, no framing.
//!
//! Routes: `GET /portal`, `GET /portal/callback` (same-device return, reads the fragment),
//! `POST /portal/api/sessions`, `GET /portal/api/sessions/{handle}`, `POST /portal/api/callback`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use citizen_protocol::crypto::{b64, random_array, random_b64url};
use citizen_protocol::jwt::JwtKind;
use citizen_protocol::protocol::codes;
use citizen_protocol::protocol::rp::{
    IdTokenClaims, LoginRequest, QrSessionCreate, QrSessionState, SignedLoginRequest,
};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use p256::ecdsa::signature::Signer;
use serde::{Deserialize, Serialize};

use crate::api::{blocking, ApiError, ApiJson, ApiResult, AppState};
use crate::handlers::qr;
use crate::registry::{DEMO_PORTAL_ID, DEMO_PORTAL_PATH};
use crate::shed::{ClientAddr, ClientQuota};

/// Claims the portal asks for.
pub const PORTAL_CLAIMS: &[&str] = &["full_name", "birthdate", "cccd_number"];
/// Lifetime of a portal login session.
pub const PORTAL_SESSION_SECS: i64 = 180;

/// What the portal backend remembers about one login attempt (never sent to the page).
struct PortalSession {
    session_id: String,
    poll_token: String,
    nonce: String,
    expires_at: i64,
    /// The ID token was accepted by the callback: a second presentation is a replay.
    token_used: bool,
}

/// The portal backend's memory: handle → session, and the per-client quota of live sessions
/// (anonymous visitors create them; see [`crate::shed::ClientQuota`]).
#[derive(Default)]
pub struct PortalStore {
    sessions: Mutex<HashMap<String, PortalSession>>,
    quota: OnceLock<ClientQuota>,
}

impl PortalStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, PortalSession>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The quota, sized from the limits on first use (the store is made before the state).
    fn quota(&self, s: &AppState) -> &ClientQuota {
        let l = &s.limits.shed;
        self.quota.get_or_init(|| ClientQuota::new(l.portal_sessions_per_client, l.portal_sessions_total))
    }
}

type Store = Extension<Arc<PortalStore>>;
type S = State<Arc<AppState>>;

/// The portal routes (merged into the server router), each router with its own store.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(DEMO_PORTAL_PATH, get(page))
        .route(&format!("{DEMO_PORTAL_PATH}/callback"), get(callback_page))
        .route(&format!("{DEMO_PORTAL_PATH}/api/sessions"), post(new_session))
        .route(&format!("{DEMO_PORTAL_PATH}/api/sessions/{{handle}}"), get(poll))
        .route(&format!("{DEMO_PORTAL_PATH}/api/callback"), post(callback_verify))
        .layer(Extension(Arc::new(PortalStore::default())))
}

// ---------------------------------------------------------------------------------------------
// Relying-party backend
// ---------------------------------------------------------------------------------------------

/// Body of `POST /portal/api/sessions`.
#[derive(Debug, Default, Deserialize)]
pub struct NewSession {
    /// Same-device flow (the page opens the app on this device).
    #[serde(default)]
    pub same_device: bool,
}

/// Answer of `POST /portal/api/sessions`.
#[derive(Debug, Serialize, Deserialize)]
pub struct NewSessionResponse {
    /// Opaque handle the page polls with.
    pub handle: String,
    /// Unix seconds.
    pub expires_at: i64,
    /// Same-device flow: `citizenid://login?p=<frame>`.
    pub deep_link: Option<String>,
}

/// Who logged in, as the portal shows it (CCCD number masked).
#[derive(Debug, Serialize, Deserialize)]
pub struct PortalCitizen {
    /// Full name.
    pub full_name: String,
    /// `YYYY-MM-DD`.
    pub birthdate: String,
    /// The CCCD number with all but the last three digits hidden.
    pub cccd_masked: String,
}

/// Answer of `GET /portal/api/sessions/{handle}`.
#[derive(Debug, Serialize, Deserialize)]
pub struct PortalStatus {
    /// Session state.
    pub state: QrSessionState,
    /// Current frame text (pending only).
    pub frame: Option<String>,
    /// The frame as an SVG QR code (pending only).
    pub svg: Option<String>,
    /// Seconds until the frame changes.
    pub frame_valid_for: i64,
    /// The code to show once scanned.
    pub verification_code: Option<String>,
    /// Unix seconds.
    pub expires_at: i64,
    /// Who logged in, after the ID token verified.
    pub citizen: Option<PortalCitizen>,
}

/// Body of `POST /portal/api/callback` (the same-device return page forwards the fragment).
#[derive(Debug, Deserialize)]
pub struct CallbackRequest {
    /// Session id from the fragment.
    pub session_id: String,
    /// ID token from the fragment.
    pub id_token: String,
}

/// A QR code of `text` as an SVG element (no XML declaration, so it can be inlined in HTML).
pub fn qr_svg(text: &str) -> ApiResult<String> {
    let code = qrcode::QrCode::new(text.as_bytes()).map_err(|_| ApiError::internal())?;
    let svg = code.render::<qrcode::render::svg::Color>().min_dimensions(256, 256).build();
    let start = svg.find("<svg").ok_or_else(ApiError::internal)?;
    Ok(svg[start..].to_string())
}

/// The percent-encoded same-device deep link for a frame.
pub fn deep_link(frame: &str) -> String {
    format!("citizenid://login?p={}", url::form_urlencoded::byte_serialize(frame.as_bytes()).collect::<String>())
}

/// Build, sign (with the portal's hosted key) and register a login request; returns the created
/// session and the request nonce.
fn start_login(
    s: &AppState,
    conn: &mut crate::sql::Connection,
    same_device: bool,
) -> ApiResult<(citizen_protocol::protocol::rp::QrSessionCreated, String)> {
    let rp = s.registry.get(DEMO_PORTAL_ID).ok_or_else(ApiError::internal)?;
    let key = rp.signing_key.as_ref().ok_or_else(ApiError::internal)?;
    let origin = rp.entry.origins.first().ok_or_else(ApiError::internal)?.clone();
    let redirect_uri = if same_device { rp.entry.redirect_uris.first().cloned() } else { None };
    let now = s.now();
    let request = LoginRequest {
        same_device,
        session_id: random_array(),
        nonce: random_array(),
        issued_at: now,
        expires_at: now + PORTAL_SESSION_SECS,
        rp_id: DEMO_PORTAL_ID.into(),
        origin,
        claims: PORTAL_CLAIMS.iter().map(|c| c.to_string()).collect(),
    };
    let sig: p256::ecdsa::Signature = key.sign(&request.signing_input().map_err(|_| ApiError::internal())?);
    let mut rp_signature = [0u8; 64];
    rp_signature.copy_from_slice(&citizen_protocol::crypto::low_s(sig).to_bytes());
    let nonce = request.nonce_b64();
    let signed = SignedLoginRequest { request, rp_signature };
    let created = qr::create_session(
        s,
        conn,
        &QrSessionCreate { request: b64(&signed.to_bytes().map_err(|_| ApiError::internal())?), redirect_uri },
    )?;
    Ok((created, nonce))
}

/// Verify an ID token as the portal must: ES256 with the server's key, `typ` of an ID token,
/// issuer, audience `dvc-demo`, the session's nonce and id, not expired by the server clock.
pub fn verify_id_token(s: &AppState, token: &str, nonce: &str, session_id: &str) -> Option<IdTokenClaims> {
    check_id_token(s.tokens.jwk(), &s.audience, DEMO_PORTAL_ID, token, nonce, session_id, s.now())
}

/// [`verify_id_token`] against an explicit key, issuer, audience and time (testable alone).
fn check_id_token(
    jwk: &serde_json::Value,
    issuer: &str,
    audience: &str,
    token: &str,
    nonce: &str,
    session_id: &str,
    now: i64,
) -> Option<IdTokenClaims> {
    // jsonwebtoken accepts both ECDSA twins; only the low-S one is the server's (issue 9).
    if !citizen_protocol::crypto::jws_signature_is_low_s(token) {
        return None;
    }
    // Explicit typing (RFC 8725): an access token or receipt the same key signed is not an ID
    // token, whatever its claims.
    let typ = jsonwebtoken::decode_header(token).ok()?.typ;
    if !typ.is_some_and(|t| citizen_protocol::jwt::typ_matches(&t, <IdTokenClaims as JwtKind>::TYP)) {
        return None;
    }
    let key = DecodingKey::from_ec_components(jwk["x"].as_str()?, jwk["y"].as_str()?).ok()?;
    let mut v = Validation::new(Algorithm::ES256);
    v.set_issuer(&[issuer]);
    v.set_audience(&[audience]);
    // Expiry against the server clock (tests move it), below.
    v.validate_exp = false;
    v.validate_nbf = false;
    v.required_spec_claims = ["exp", "iss", "aud", "sub"].iter().map(|c| c.to_string()).collect();
    let claims = jsonwebtoken::decode::<IdTokenClaims>(token, &key, &v).ok()?.claims;
    let ok = crate::otp::ct_eq(claims.nonce.as_bytes(), nonce.as_bytes()) && claims.sid == session_id;
    (ok && claims.exp > now).then_some(claims)
}

fn mask_cccd(n: &str) -> String {
    let keep = n.chars().count().saturating_sub(3);
    n.chars().enumerate().map(|(i, c)| if i < keep { '*' } else { c }).collect()
}

fn citizen_of(claims: &IdTokenClaims) -> PortalCitizen {
    let get = |k: &str| claims.claims.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_string();
    PortalCitizen {
        full_name: get("full_name"),
        birthdate: get("birthdate"),
        cccd_masked: mask_cccd(&get("cccd_number")),
    }
}

fn id_token_rejected() -> ApiError {
    ApiError::new(StatusCode::BAD_GATEWAY, codes::TOKEN_INVALID, "the identity server's token did not verify")
}

fn unknown_handle() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        citizen_protocol::protocol::rp::codes::QR_UNKNOWN_SESSION,
        "unknown portal session",
    )
}

async fn new_session(
    State(s): S,
    Extension(store): Store,
    ClientAddr(client): ClientAddr,
    ApiJson(req): ApiJson<NewSession>,
) -> ApiResult<Json<NewSessionResponse>> {
    let now = s.now();
    // A session is kept until its ID token could no longer be presented. The quota holds each
    // client to its own share of the live sessions, so one address cannot fill the table and
    // turn every citizen away (it gets 429; the others still get sessions).
    let kept_until = now + PORTAL_SESSION_SECS + qr::ID_TOKEN_TTL_SECS;
    store.quota(&s).acquire(client, now, kept_until).map_err(|r| r.into_error("login sessions"))?;
    store.lock().retain(|_, p| p.expires_at + qr::ID_TOKEN_TTL_SECS > now);
    let same_device = req.same_device;
    let (created, nonce, first) = blocking(&s, move |s, c| {
        let (created, nonce) = start_login(s, c, same_device)?;
        let first = qr::status(s, c, &created.session_id, &created.poll_token)?;
        Ok((created, nonce, first))
    })
    .await?;
    let handle = random_b64url(24);
    let resp = NewSessionResponse {
        handle: handle.clone(),
        expires_at: created.expires_at,
        deep_link: if same_device { first.frame.as_deref().map(deep_link) } else { None },
    };
    store.lock().insert(
        handle,
        PortalSession {
            session_id: created.session_id,
            poll_token: created.poll_token,
            nonce,
            expires_at: created.expires_at,
            token_used: false,
        },
    );
    Ok(Json(resp))
}

async fn poll(State(s): S, Extension(store): Store, Path(handle): Path<String>) -> ApiResult<Json<PortalStatus>> {
    let (session_id, poll_token, nonce) = {
        let m = store.lock();
        let p = m.get(&handle).ok_or_else(unknown_handle)?;
        (p.session_id.clone(), p.poll_token.clone(), p.nonce.clone())
    };
    let sid = session_id.clone();
    let st = blocking(&s, move |s, c| qr::status(s, c, &sid, &poll_token)).await?;
    let citizen = match (&st.state, &st.id_token) {
        (QrSessionState::Approved, Some(tok)) => {
            Some(citizen_of(&verify_id_token(&s, tok, &nonce, &session_id).ok_or_else(id_token_rejected)?))
        }
        _ => None,
    };
    let svg = st.frame.as_deref().map(qr_svg).transpose()?;
    Ok(Json(PortalStatus {
        state: st.state,
        frame: st.frame,
        svg,
        frame_valid_for: st.frame_valid_for,
        verification_code: st.verification_code,
        expires_at: st.expires_at,
        citizen,
    }))
}

async fn callback_verify(
    State(s): S,
    Extension(store): Store,
    ApiJson(req): ApiJson<CallbackRequest>,
) -> ApiResult<Json<PortalCitizen>> {
    let nonce = {
        let m = store.lock();
        let p = m.values().find(|p| p.session_id == req.session_id).ok_or_else(unknown_handle)?;
        p.nonce.clone()
    };
    let claims = verify_id_token(&s, &req.id_token, &nonce, &req.session_id).ok_or_else(id_token_rejected)?;
    // One login per ID token: a token read from a leaked URL, history or log must not log in
    // again. Marked under the lock, so two concurrent presentations cannot both pass.
    {
        let mut m = store.lock();
        let p = m.values_mut().find(|p| p.session_id == req.session_id).ok_or_else(unknown_handle)?;
        if p.token_used {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                citizen_protocol::protocol::rp::codes::PRESENTATION_REPLAYED,
                "this ID token was already used",
            ));
        }
        p.token_used = true;
    }
    Ok(Json(citizen_of(&claims)))
}

// ---------------------------------------------------------------------------------------------
// Pages
// ---------------------------------------------------------------------------------------------

/// Title of the portal page.
pub const PORTAL_TITLE: &str = "Cổng Dịch vụ công — Đăng nhập bằng ứng dụng công dân";

fn html(body: &str) -> Response {
    let nonce = random_b64url(18);
    let page = body.replace("{STYLE}", STYLE).replace("{NONCE}", &nonce);
    let csp = format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; img-src 'self' data:; \
         connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    );
    let mut resp = (StatusCode::OK, page).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    resp
}

async fn page() -> Response {
    html(PORTAL_HTML)
}

async fn callback_page() -> Response {
    html(CALLBACK_HTML)
}

const STYLE: &str = r#"
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f4f6f8;color:#1b1f24}
header{background:#b71c1c;color:#fff;padding:16px 24px}
header h1{margin:0;font-size:1.25rem}
main{max-width:560px;margin:24px auto;background:#fff;border-radius:8px;padding:24px;box-shadow:0 1px 3px rgba(0,0,0,.15)}
#qr{width:256px;height:256px;margin:16px auto;display:flex;align-items:center;justify-content:center}
#qr svg{width:256px;height:256px}
#status{font-weight:600;text-align:center;margin:8px 0}
#status[data-state=approved]{color:#1b5e20}
#status[data-state=denied],#status[data-state=cancelled]{color:#b71c1c}
#code{font-size:2rem;text-align:center;font-weight:700;letter-spacing:.1em}
#who{font-size:1.1rem;text-align:center;font-weight:600}
dl{display:grid;grid-template-columns:auto 1fr;gap:4px 12px}
[hidden]{display:none!important}
.actions{text-align:center;margin-top:16px}
button{font-size:1rem;padding:8px 16px;border-radius:6px;border:1px solid #b71c1c;background:#fff;color:#b71c1c;cursor:pointer}
button.primary{background:#b71c1c;color:#fff}
small{color:#555}
"#;

const PORTAL_HTML: &str = r#"<!DOCTYPE html>
<html lang="vi">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Cổng Dịch vụ công — Đăng nhập bằng ứng dụng công dân</title>
<style nonce="{NONCE}">{STYLE}</style>
</head>
<body>
<header><h1>Cổng Dịch vụ công — Đăng nhập bằng ứng dụng công dân</h1></header>
<main>
<p>Mở ứng dụng công dân trên điện thoại, chọn <strong>Quét mã đăng nhập</strong> và quét mã dưới đây.
<small>Mã thay đổi sau mỗi 2 giây; ảnh chụp mã không dùng được.</small></p>
<div id="qr" data-frame=""></div>
<p id="status" data-state="pending" role="status" aria-live="polite">Đang tạo mã…</p>
<p id="code" aria-live="polite"></p>
<p id="who"></p>
<dl id="details" hidden><dt>Ngày sinh</dt><dd id="birthdate"></dd><dt>Số định danh</dt><dd id="cccd"></dd></dl>
<div class="actions">
<button id="restart" class="primary" type="button" hidden>Tạo mã mới</button>
<button id="same-device" type="button">Dùng ứng dụng trên thiết bị này</button>
</div>
</main>
<script nonce="{NONCE}">
(function () {
  'use strict';
  var TEXT = {
    pending: 'Đang chờ quét mã…',
    scanned: 'Đã quét mã. Hãy chọn đúng mã xác nhận dưới đây trên điện thoại.',
    approved: 'Đăng nhập thành công.',
    denied: 'Bạn đã từ chối đăng nhập.',
    cancelled: 'Phiên đăng nhập đã hết hạn hoặc bị huỷ.'
  };
  var handle = null, timer = null;
  function el(id) { return document.getElementById(id); }
  function setState(st, text) {
    var s = el('status');
    s.setAttribute('data-state', st);
    s.textContent = text || TEXT[st] || '';
  }
  function stop() { if (timer) { clearInterval(timer); timer = null; } }
  function clearQr() { var q = el('qr'); q.innerHTML = ''; q.setAttribute('data-frame', ''); }
  function render(b) {
    setState(b.state);
    var q = el('qr');
    if (b.state === 'pending' && b.frame && b.svg) {
      if (q.getAttribute('data-frame') !== b.frame) {
        q.innerHTML = b.svg;
        q.setAttribute('data-frame', b.frame);
        var svg = q.querySelector('svg');
        if (svg) { svg.setAttribute('data-frame', b.frame); svg.setAttribute('role', 'img'); svg.setAttribute('aria-label', 'Mã QR đăng nhập'); }
      }
    } else {
      clearQr();
    }
    el('code').textContent = b.verification_code ? 'Mã xác nhận: ' + b.verification_code : '';
    if (b.state === 'approved' && b.citizen) {
      el('who').textContent = 'Đã đăng nhập: ' + b.citizen.full_name;
      el('birthdate').textContent = b.citizen.birthdate;
      el('cccd').textContent = b.citizen.cccd_masked;
      el('details').hidden = false;
      stop();
    }
    if (b.state === 'denied' || b.state === 'cancelled') { stop(); el('restart').hidden = false; }
  }
  function poll() {
    var h = handle;
    if (!h) { return; }
    fetch('/portal/api/sessions/' + encodeURIComponent(h), { cache: 'no-store' })
      .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.json(); })
      .then(function (b) { if (h === handle) { render(b); } })
      .catch(function () { el('status').textContent = 'Mất kết nối tới máy chủ, đang thử lại…'; });
  }
  function start(sameDevice) {
    stop();
    handle = null;
    clearQr();
    el('code').textContent = '';
    el('who').textContent = '';
    el('details').hidden = true;
    el('restart').hidden = true;
    setState('pending', 'Đang tạo mã…');
    fetch('/portal/api/sessions', {
      method: 'POST', cache: 'no-store',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ same_device: !!sameDevice })
    })
      .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.json(); })
      .then(function (b) {
        handle = b.handle;
        poll();
        timer = setInterval(poll, 1000);
        if (sameDevice && b.deep_link) { window.location.href = b.deep_link; }
      })
      .catch(function () {
        setState('cancelled', 'Không tạo được mã đăng nhập. Vui lòng thử lại.');
        el('restart').hidden = false;
      });
  }
  el('restart').addEventListener('click', function () { start(false); });
  el('same-device').addEventListener('click', function () { start(true); });
  start(false);
})();
</script>
</body>
</html>
"#;

const CALLBACK_HTML: &str = r#"<!DOCTYPE html>
<html lang="vi">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Cổng Dịch vụ công — Kết quả đăng nhập</title>
<style nonce="{NONCE}">{STYLE}</style>
</head>
<body>
<header><h1>Cổng Dịch vụ công — Kết quả đăng nhập</h1></header>
<main>
<p id="status" data-state="pending" role="status">Đang kiểm tra kết quả…</p>
<p id="who"></p>
<dl id="details" hidden><dt>Ngày sinh</dt><dd id="birthdate"></dd><dt>Số định danh</dt><dd id="cccd"></dd></dl>
<div class="actions"><a id="back" href="/portal">Về trang đăng nhập</a></div>
</main>
<script nonce="{NONCE}">
(function () {
  'use strict';
  function el(id) { return document.getElementById(id); }
  function setState(st, text) { var s = el('status'); s.setAttribute('data-state', st); s.textContent = text; }
  var params = new URLSearchParams(window.location.hash.replace(/^#/, ''));
  // The token must not linger in the address bar or history.
  if (window.history && window.history.replaceState) { window.history.replaceState(null, '', window.location.pathname); }
  if (params.get('error') === 'access_denied') { setState('denied', 'Bạn đã từ chối đăng nhập.'); return; }
  var token = params.get('id_token'), sid = params.get('session_id');
  if (!token || !sid) { setState('cancelled', 'Không có kết quả đăng nhập.'); return; }
  fetch('/portal/api/callback', {
    method: 'POST', cache: 'no-store',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ session_id: sid, id_token: token })
  })
    .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.json(); })
    .then(function (c) {
      setState('approved', 'Đăng nhập thành công.');
      el('who').textContent = 'Đã đăng nhập: ' + c.full_name;
      el('birthdate').textContent = c.birthdate;
      el('cccd').textContent = c.cccd_masked;
      el('details').hidden = false;
    })
    .catch(function () { setState('cancelled', 'Không xác minh được kết quả đăng nhập.'); });
})();
</script>
</body>
</html>
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::TokenKeys;

    /// Substitution (RFC 8725 §3.11): before explicit typing, a JWT the server key signed as
    /// another kind (every kind was typed `JWT`) with ID-token claims was accepted by the
    /// portal as an ID token. Now only the ID token's `typ` is.
    #[test]
    fn portal_refuses_a_jwt_of_another_kind_as_id_token() {
        let dir = std::env::temp_dir().join(format!("idt-{}", citizen_protocol::crypto::random_b64url(6)));
        std::fs::create_dir_all(&dir).unwrap();
        let k = TokenKeys::load_or_create(&dir.join("k.pem"), "https://id").unwrap();
        let claims = IdTokenClaims {
            iss: "https://id".into(),
            sub: "pairwise".into(),
            aud: DEMO_PORTAL_ID.into(),
            nonce: "n".into(),
            sid: "sid".into(),
            iat: 1000,
            exp: 1300,
            auth_time: 1000,
            claims: Default::default(),
            standard: Default::default(),
        };
        let good = k.sign(&claims);
        let check = |t: &str| check_id_token(k.jwk(), "https://id", DEMO_PORTAL_ID, t, "n", "sid", 1100);
        assert!(check(&good).is_some());
        // The same claims under every other kind's typ, and none, signed by the same key.
        let h = good.split('.').next().unwrap();
        let header: serde_json::Value = serde_json::from_slice(&citizen_protocol::crypto::unb64(h).unwrap()).unwrap();
        assert_eq!(header["typ"], "JWT");
        let payload = citizen_protocol::crypto::b64(&serde_json::to_vec(&claims).unwrap());
        for typ in citizen_protocol::jwt::typ::ALL.iter().filter(|t| **t != "JWT").map(|t| Some(*t)).chain([None]) {
            let mut hd = header.clone();
            match typ {
                Some(t) => hd["typ"] = t.into(),
                None => {
                    hd.as_object_mut().unwrap().remove("typ");
                }
            }
            let input = format!("{}.{payload}", citizen_protocol::crypto::b64(&serde_json::to_vec(&hd).unwrap()));
            let sig = k.sign_raw(input.as_bytes());
            let other = format!("{input}.{}", citizen_protocol::crypto::b64(&sig));
            assert!(check(&other).is_none(), "ID-token claims typed {typ:?} accepted as an ID token");
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}
