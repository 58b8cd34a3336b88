//! HTTP plumbing shared by every handler: the application state, the JSON error type, a JSON
//! extractor whose rejections are protocol errors (never axum's plain-text bodies), and the
//! helper that runs database work on a blocking thread.

use std::cell::Cell;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use crate::sql::Connection;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequest, Request};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use citizen_protocol::clock::SharedClock;
use citizen_protocol::crypto::SecretKey;
use citizen_protocol::protocol::{codes, ErrorBody};
use serde::de::DeserializeOwned;

use crate::config::Limits;
use crate::otp::OtpSender;
use crate::tokens::TokenKeys;

/// Shared state of a running server.
pub struct AppState {
    /// The database: its writer thread (every request's unit of work, group-committed) and
    /// read-only connections (`store` module).
    pub store: crate::store::Store,
    /// Time source.
    pub clock: SharedClock,
    /// Security limits.
    pub limits: Limits,
    /// This server's audience (what devices sign for, and the token issuer).
    pub audience: String,
    /// OTP delivery.
    pub otp_sender: Arc<dyn OtpSender>,
    /// Server secret for OTP and rate-limit key hashing.
    pub secret: SecretKey,
    /// Access-token and receipt keys.
    pub tokens: TokenKeys,
    /// Secret of the officials' API (`X-Official-Token`).
    pub official_token: String,
    /// Injected faults for submissions (tests; feature `fault`).
    #[cfg(feature = "fault")]
    pub faults: crate::fault::FaultQueue,
    /// Registered relying parties.
    pub registry: crate::registry::Registry,
    /// CSCA certificates (DER) trusted for chip passive authentication (decision 30), loaded
    /// from `<data_dir>/chip-csca/*.der` at start.
    pub chip_trust: Vec<Vec<u8>>,
    /// The documents' issuing authority, document signers and reader root (decision 32).
    pub documents: crate::documents::pki::DocumentPki,
}

impl AppState {
    /// Now, by the configured clock.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }
}

/// An error answer: HTTP status plus the protocol's [`ErrorBody`].
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// JSON body.
    pub body: ErrorBody,
}

impl ApiError {
    /// An error with a stable code and an English message free of personal data.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            body: ErrorBody {
                code: code.into(),
                message: message.into(),
                attempts_left: None,
                retry_after: None,
                device_status: None,
            },
        }
    }
    /// 400 invalid_request.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, codes::INVALID_REQUEST, message)
    }
    /// 500 internal.
    pub fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, codes::INTERNAL, "internal error")
    }
    /// 403 device_inactive carrying the device's status.
    pub fn device_inactive(status: &str) -> Self {
        let mut e = Self::new(StatusCode::FORBIDDEN, codes::DEVICE_INACTIVE, "device is no longer active");
        e.body.device_status = Some(status.to_string());
        e
    }
    /// 403 `device_locked`: the device was locked remotely (issue 15).
    pub fn device_locked() -> Self {
        let mut e = Self::new(StatusCode::FORBIDDEN, codes::DEVICE_LOCKED, "device is locked; re-bind it first");
        e.body.device_status = Some("locked".to_string());
        e
    }
    /// Attach the remaining OTP attempts.
    pub fn with_attempts_left(mut self, n: u32) -> Self {
        self.body.attempts_left = Some(n);
        self
    }
    /// Attach a retry delay.
    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.body.retry_after = Some(secs);
        self
    }
    /// The error code.
    pub fn code(&self) -> &str {
        &self.body.code
    }
}

impl From<crate::sql::Error> for ApiError {
    fn from(e: crate::sql::Error) -> Self {
        match &e {
            // PostgreSQL: the unit is run again (store::PgStore::run); not an error yet.
            e if crate::sql::is_noise(e) => tracing::debug!("unit conflict, retried: {e}"),
            _ => tracing::error!("database error: {e}"),
        }
        ApiError::internal()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (self.status, Json(self.body.clone())).into_response();
        if let Some(secs) = self.body.retry_after {
            if let Ok(v) = secs.to_string().parse() {
                resp.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
            }
        }
        resp
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;

/// `Json<T>` whose rejections become `invalid_request` (413 when the body is too large).
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(rej) => Err(json_rejection(rej)),
        }
    }
}

fn json_rejection(rej: JsonRejection) -> ApiError {
    if rej.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, codes::INVALID_REQUEST, "request body too large");
    }
    let msg = match rej {
        JsonRejection::MissingJsonContentType(_) => "expected Content-Type: application/json",
        JsonRejection::JsonSyntaxError(_) => "malformed JSON",
        JsonRejection::JsonDataError(_) => "JSON does not match the expected shape",
        _ => "unreadable request body",
    };
    ApiError::invalid(msg)
}

tokio::task_local! {
    /// The client address of the request this task serves (set by [`with_client_addr`]).
    static CLIENT: Option<IpAddr>;
}

thread_local! {
    /// The same, on the blocking thread running that request's database work ([`blocking`]).
    static BLOCKING_CLIENT: Cell<Option<IpAddr>> = const { Cell::new(None) };
    /// Effects of the unit of work running on this thread, to perform once it is committed.
    static AFTER_COMMIT: std::cell::RefCell<Vec<Box<dyn FnOnce() + Send>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Perform `f` once the current unit of work is committed, and never if it is not (a unit
/// that PostgreSQL runs again after a conflict, or a failed group commit): what leaves the
/// building — an OTP sent to a phone — must describe what is stored. Outside a unit, at once.
pub fn after_commit(f: impl FnOnce() + Send + 'static) {
    if IN_UNIT.with(Cell::get) {
        AFTER_COMMIT.with(|a| a.borrow_mut().push(Box::new(f)));
    } else {
        f();
    }
}

thread_local! {
    static IN_UNIT: Cell<bool> = const { Cell::new(false) };
}

/// Run `f` as a unit: collect its [`after_commit`] effects instead of performing them.
fn in_unit<R>(f: impl FnOnce() -> R) -> (R, Vec<Box<dyn FnOnce() + Send>>) {
    IN_UNIT.with(|u| u.set(true));
    AFTER_COMMIT.with(|a| a.borrow_mut().clear());
    let r = f();
    IN_UNIT.with(|u| u.set(false));
    (r, AFTER_COMMIT.with(|a| std::mem::take(&mut *a.borrow_mut())))
}

/// Middleware: remember the peer address (`ConnectInfo`, when the server was started with it)
/// for the request's task, so the failure throttle can key on it without every handler
/// passing it down ([`client_ip`]).
pub async fn with_client_addr(req: Request, next: Next) -> Response {
    let ip = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    CLIENT.scope(ip, next.run(req)).await
}

/// The client address of the request whose database work runs on this thread (inside
/// [`blocking`]); `None` outside a request or without connect info.
pub fn client_ip() -> Option<IpAddr> {
    BLOCKING_CLIENT.with(Cell::get)
}

/// Clears [`BLOCKING_CLIENT`] when the blocking closure ends, even by panic (the blocking
/// pool reuses threads).
struct ClientGuard;

impl Drop for ClientGuard {
    fn drop(&mut self) {
        BLOCKING_CLIENT.with(|c| c.set(None));
    }
}

/// Run `f` as one unit of work on the database writer (`store` module): alone on the write
/// connection, inside the writer's current transaction, answered only once that transaction
/// is committed (group commit). Keep crypto out of `f`: check signatures before
/// (`verify::PreVerified`), sign tokens after.
///
/// With PostgreSQL `f` is one transaction on a pooled connection that runs alone across every
/// instance ([`crate::store::UnitLock::Whole`]), run again when it conflicts with work outside
/// units (hence `FnMut`: a unit must be repeatable, which it is as long as it only reads its
/// captures and sends what leaves the building through [`after_commit`]).
pub async fn blocking<T, F>(state: &Arc<AppState>, f: F) -> ApiResult<T>
where
    T: Send + 'static,
    F: FnMut(&AppState, &mut Connection) -> ApiResult<T> + Send + 'static,
{
    unit(state, crate::store::UnitLock::Whole, crate::store::Durability::Durable, f).await
}

/// [`blocking`] for a unit worked through key by key (decision 47): on PostgreSQL it overlaps
/// with the other keyed units of every instance, and is atomic with them only through the key
/// locks it takes itself (`Connection::lock_key`: the account before reading what it changes of
/// the account, the submission id, a throttle key) and through single atomic statements
/// (`DELETE … RETURNING` of a nonce, the counter's compare-and-swap). A handler moves here only
/// once each of its read-check-writes is listed in decision 47. On SQLite the same as
/// [`blocking`].
pub async fn blocking_keyed<T, F>(state: &Arc<AppState>, f: F) -> ApiResult<T>
where
    T: Send + 'static,
    F: FnMut(&AppState, &mut Connection) -> ApiResult<T> + Send + 'static,
{
    unit(state, crate::store::UnitLock::Keyed, crate::store::Durability::Durable, f).await
}

/// [`blocking_keyed`] for a unit whose writes may be lost in a power cut after it is answered
/// ([`crate::store::Durability::Volatile`]): committed and visible to every later unit, but
/// not waited on to reach the disk. Only the login challenge: its nonce, if lost, fails one
/// login and the device asks for another; the unit that consumes a nonce is durable.
pub async fn blocking_keyed_volatile<T, F>(state: &Arc<AppState>, f: F) -> ApiResult<T>
where
    T: Send + 'static,
    F: FnMut(&AppState, &mut Connection) -> ApiResult<T> + Send + 'static,
{
    unit(state, crate::store::UnitLock::Keyed, crate::store::Durability::Volatile, f).await
}

async fn unit<T, F>(
    state: &Arc<AppState>,
    lock: crate::store::UnitLock,
    durability: crate::store::Durability,
    mut f: F,
) -> ApiResult<T>
where
    T: Send + 'static,
    F: FnMut(&AppState, &mut Connection) -> ApiResult<T> + Send + 'static,
{
    if let crate::store::Store::Pg(_) = &state.store {
        let st = state.clone();
        let client = CLIENT.try_with(|c| *c).ok().flatten();
        let r = tokio::task::spawn_blocking(move || {
            BLOCKING_CLIENT.with(|c| c.set(client));
            let _guard = ClientGuard;
            let crate::store::Store::Pg(pg) = &st.store else { return Err(ApiError::internal()) };
            match pg.run(lock, durability, |conn| in_unit(|| f(&st, conn))) {
                crate::store::PgOutcome::Committed((r, effects)) => {
                    effects.into_iter().for_each(|e| e());
                    r
                }
                crate::store::PgOutcome::Failed => Err(ApiError::internal()),
            }
        })
        .await;
        return r.unwrap_or_else(|_| {
            tracing::error!("handler task failed");
            Err(ApiError::internal())
        });
    }
    let (tx, rx) = tokio::sync::oneshot::channel::<ApiResult<T>>();
    let st = state.clone();
    let client = CLIENT.try_with(|c| *c).ok().flatten();
    let job: crate::store::Job = Box::new(move |conn| {
        BLOCKING_CLIENT.with(|c| c.set(client));
        let (r, effects) = {
            let _guard = ClientGuard;
            in_unit(|| f(&st, conn))
        };
        drop(st);
        Box::new(move |committed| {
            if committed {
                effects.into_iter().for_each(|e| e());
            }
            let _ = tx.send(if committed { r } else { Err(ApiError::internal()) });
        })
    });
    if !state.store.submit(job, durability) {
        tracing::error!("database writer stopped");
        return Err(ApiError::internal());
    }
    rx.await.map_err(|_| {
        tracing::error!("handler task failed");
        ApiError::internal()
    })?
}
