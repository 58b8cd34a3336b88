//! `citizen-server`: the reference e-government backend of citizen-core.
//!
//! It holds a (fictitious) population register, enrolls devices after an OTP and a
//! proof of possession of the device key, keeps one active device per account, logs devices in
//! by challenge–response over the shared wire protocol (`citizen_protocol::protocol`), and issues
//! short ES256 access tokens with rotating refresh tokens.
//!
//! The server runs in-process for tests and the CLI demo: [`start`] returns a
//! [`RunningServer`] with the bound address, the audience, and the trust anchor and SPKI pins a
//! client needs. Time comes from an injectable clock so tests advance it instead of sleeping.

#![warn(missing_docs)]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_possible_wrap,
        clippy::cast_lossless
    )
)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use citizen_protocol::crypto::SecretKey;

pub mod access_log;
pub mod admin;
pub mod api;
pub mod catalogue;
pub mod config;
pub mod corrections;
pub mod dashboard;
pub mod db;
pub mod demo_bank;
pub mod documents;
pub mod ecdsa;
#[cfg(feature = "fault")]
pub mod fault;
pub mod handlers;
pub mod officials;
pub mod otp;
pub mod pg;
pub mod pki;
pub mod portal;
pub mod receipts;
pub mod register;
pub mod registry;
pub mod seed_cases;
pub mod shed;
pub mod sql;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
pub mod tokens;
pub mod verify;

pub use config::{Limits, ServerConfig, ServerError, ShedLimits, TlsSource};
pub use db::AuditEvent;
#[cfg(feature = "fault")]
pub use fault::Fault;
pub use otp::{FileOtpOutbox, LogOtpSender, MemoryOtpOutbox, OtpSender};

use api::AppState;

/// A server accepting connections. Dropping it stops the server abruptly; prefer
/// [`RunningServer::shutdown`].
pub struct RunningServer {
    /// The bound socket address (the real port when 0 was asked).
    pub addr: SocketAddr,
    /// What devices sign for; also the access-token issuer.
    pub audience: String,
    /// Where clients connect: `https://{ip}:{port}`.
    pub base_url: String,
    /// Trust anchor for clients (dev CA, or the configured chain).
    pub ca_cert_pem: String,
    /// Path of that PEM on disk.
    pub ca_cert_path: PathBuf,
    /// SPKI pin of the serving key.
    pub spki_pin: String,
    /// SPKI pin of the standby key (for rotation).
    pub backup_spki_pin: String,
    /// Secret of the officials' API (header `X-Official-Token`), generated at first start.
    pub official_token: String,
    /// Where that secret is stored (`<data_dir>/official-token`, mode 0600).
    pub official_token_path: PathBuf,
    data_dir: PathBuf,
    state: Arc<AppState>,
    handle: axum_server::Handle<SocketAddr>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl RunningServer {
    /// Stop accepting connections, let in-flight requests finish (up to 5 s), and wait.
    pub async fn shutdown(mut self) {
        self.handle.graceful_shutdown(Some(Duration::from_secs(5)));
        if let Some(task) = self.task.take() {
            match task.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!("server stopped with an error: {e}"),
                Err(e) => tracing::error!("server task failed: {e}"),
            }
        }
    }

    /// Wait until the server stops by itself (it only does on a fatal error).
    pub async fn wait(mut self) -> std::io::Result<()> {
        match self.task.take() {
            Some(t) => t.await.map_err(std::io::Error::other)?,
            None => Ok(()),
        }
    }

    /// Run `f` on a connection for inspection, on a plain thread (PostgreSQL's synchronous
    /// driver must not run on an async thread; tests call these from one).
    fn with_db<R: Send>(&self, f: impl FnOnce(&sql::Connection) -> R + Send) -> R {
        std::thread::scope(|s| s.spawn(|| f(&self.state.store.lock())).join().expect("inspection thread"))
    }

    /// Transactions the database writer committed so far: each is one fsync of the WAL,
    /// shared by every request of its group (tests count them; decision 36).
    pub fn db_commits(&self) -> u64 {
        self.state.store.commits()
    }

    /// The audit log, oldest first (for tests and operators).
    pub fn audit_events(&self) -> Vec<AuditEvent> {
        self.with_db(|c| db::audit_events(c).unwrap_or_default())
    }

    /// The access log of the citizen with CCCD number `cccd`, oldest first (for tests).
    pub fn access_log_of(&self, cccd: &str) -> Vec<citizen_protocol::access::AccessEntry> {
        self.with_db(|c| {
            let id: Option<i64> = c.query_row("SELECT id FROM citizens WHERE cccd = ?1", [cccd], |r| r.get(0)).ok();
            id.and_then(|id| access_log::entries(c, id).ok()).unwrap_or_default()
        })
    }

    /// A device's status (`active`, `replaced`, `transferred`, `revoked`), if known.
    pub fn device_status(&self, device_id: &str) -> Option<String> {
        self.with_db(|c| verify::load_device(c, device_id).ok().flatten().map(|d| d.status))
    }

    /// The remote locks and unlocks of a device, oldest first: (action, actor, reason) — the
    /// actor is `official:<id>` or `portal` (issue 15).
    pub fn device_lock_records(&self, device_id: &str) -> Vec<(String, String, String)> {
        self.with_db(|db| {
            db.query_all(
                "SELECT action, actor, reason FROM device_locks WHERE device_id = ?1 ORDER BY id",
                [device_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .and_then(|rows| rows.into_iter().collect())
            .unwrap_or_default()
        })
    }

    /// Whether an account is locked by an official (`None` if unknown).
    pub fn account_locked(&self, account_id: &str) -> Option<bool> {
        self.with_db(|c| {
            c.query_row("SELECT locked_at IS NOT NULL FROM accounts WHERE account_id = ?1", [account_id], |r| r.get(0))
                .ok()
        })
    }

    /// Number of cases.
    pub fn case_count(&self) -> usize {
        self.with_db(|c| c.query_row("SELECT COUNT(*) FROM cases", [], |r| r.get::<_, usize>(0)).unwrap_or(0))
    }

    /// Number of cases opened by this submission id (0 or 1; a supplement opens none).
    pub fn cases_for_submission(&self, submission_id: &str) -> usize {
        self.with_db(|c| {
            c.query_row("SELECT COUNT(*) FROM cases WHERE submission_id = ?1", [submission_id], |r| {
                r.get::<_, usize>(0)
            })
            .unwrap_or(0)
        })
    }

    /// Whether a submission with this id is stored (new case or supplement).
    pub fn submission_stored(&self, submission_id: &str) -> bool {
        self.with_db(|c| {
            c.query_row("SELECT 1 FROM submissions WHERE submission_id = ?1", [submission_id], |_| Ok(())).is_ok()
        })
    }

    /// A case's status.
    pub fn case_status(&self, case_number: &str) -> Option<citizen_protocol::protocol::services::CaseStatusDto> {
        let s: String = self.with_db(|c| {
            c.query_row("SELECT status FROM cases WHERE case_number = ?1", [case_number], |r| r.get(0)).ok()
        })?;
        handlers::services::parse_status(&s)
    }

    /// Apply `f` to the next submission request (replaces any queued faults; `None` clears).
    #[cfg(feature = "fault")]
    pub fn set_fault(&self, f: Option<Fault>) {
        self.state.faults.set(f.into_iter().collect());
    }

    /// Apply these faults, in order, to the next submission requests (one each).
    #[cfg(feature = "fault")]
    pub fn set_faults(&self, faults: Vec<Fault>) {
        self.state.faults.set(faults);
    }

    /// Queued faults not yet applied.
    #[cfg(feature = "fault")]
    pub fn pending_faults(&self) -> usize {
        self.state.faults.pending()
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.state.limits
    }

    /// State of a QR login session (`pending`, `scanned`, `approved`, `denied`, `cancelled`), if
    /// known. The id is the base64url session id.
    pub fn qr_session_state(&self, session_id: &str) -> Option<String> {
        self.with_db(|c| handlers::qr::session_state(c, session_id))
    }

    /// Create a named official with these roles (`records`, `dashboard`, `counter`); returns
    /// their token (`citizen-server add-official` does the same on a stopped server).
    pub fn add_official(&self, id: &str, agency: &str, roles: &[officials::Role]) -> Option<String> {
        self.with_db(|c| officials::add(c, id, agency, roles, self.state.now()).ok())
    }

    /// The register history of a citizen by CCCD (decided corrections, decision 50), oldest
    /// first.
    pub fn register_history(&self, cccd: &str) -> Vec<corrections::HistoryEntry> {
        self.with_db(|c| corrections::history_of(c, cccd).unwrap_or_default())
    }

    /// Path of the database file (tests read it independently).
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("citizen-server.db")
    }

    /// Number of consent receipts the server countersigned.
    pub fn consent_receipt_count(&self) -> usize {
        self.with_db(|c| {
            c.query_row("SELECT COUNT(*) FROM consent_receipts", [], |r| r.get::<_, usize>(0)).unwrap_or(0)
        })
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if self.task.is_some() {
            self.handle.shutdown();
        }
    }
}

/// PostgreSQL connections per server instance (units run on the blocking pool, each holding
/// one connection for its transaction).
pub const PG_POOL_SIZE: usize = 16;

fn check_limits(l: &Limits) -> Result<(), ServerError> {
    let bad = |m: &str| Err(ServerError::Config(m.into()));
    if l.failures_per_device == 0 || l.failures_per_address == 0 {
        return bad("failures_per_device and failures_per_address must be at least 1");
    }
    if l.failure_window_secs > 3600 {
        return bad("failure_window_secs must be at most 3600 (a throttle, not a lock)");
    }
    if l.otp_max_attempts == 0 || l.enroll_per_hour == 0 {
        return bad("otp_max_attempts and enroll_per_hour must be at least 1");
    }
    if [
        l.otp_ttl_secs,
        l.nonce_ttl_secs,
        l.access_ttl_secs,
        l.session_idle_secs,
        l.session_absolute_secs,
        l.failure_window_secs,
    ]
    .iter()
    .any(|v| *v <= 0)
    {
        return bad("durations must be positive");
    }
    let sh = &l.shed;
    if [sh.tls_handshake_timeout_secs, sh.header_read_timeout_secs, sh.request_timeout_secs].contains(&0) {
        return bad("connection and request timeouts must be positive");
    }
    let counts = [
        sh.max_in_flight,
        sh.max_header_bytes,
        sh.max_body_bytes,
        sh.max_submission_bytes,
        sh.submissions_in_flight,
        sh.submissions_per_client,
        sh.portal_sessions_per_client,
        sh.portal_sessions_total,
        sh.bank_requests_per_client,
        sh.bank_requests_total,
    ];
    if counts.contains(&0) {
        return bad("load-shedding limits must be at least 1");
    }
    Ok(())
}

fn load_or_create_official_token(path: &std::path::Path) -> Result<String, ServerError> {
    if path.exists() {
        let t = std::fs::read_to_string(path)?.trim().to_string();
        if t.len() < 32 {
            return Err(ServerError::Config(format!("official token in {} is too short", path.display())));
        }
        return Ok(t);
    }
    let t = citizen_protocol::crypto::random_b64url(32);
    pki::write_private(path, t.as_bytes())?;
    Ok(t)
}

/// Bind, load or create state (database, keys, PKI), and start serving HTTPS in the
/// background on the current Tokio runtime.
pub async fn start(config: ServerConfig) -> Result<RunningServer, ServerError> {
    check_limits(&config.limits)?;
    std::fs::create_dir_all(&config.data_dir)?;
    let tls = pki::load(&config.tls, &config.data_dir.join("pki"))?;

    let listener = std::net::TcpListener::bind(config.listen)?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let host = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let base_url = format!("https://{}", SocketAddr::new(host, addr.port()));
    let audience = match &config.public_url {
        Some(u) if u.trim_end_matches('/').is_empty() => return Err(ServerError::Config("empty public URL".into())),
        Some(u) => u.trim_end_matches('/').to_string(),
        None => base_url.clone(),
    };
    // The public URL is an origin: devices sign for it and the demo RPs' origins, redirect and
    // response URIs are built on it, so a path or a query would make them all wrong.
    if !citizen_protocol::protocol::rp::valid_origin(&audience) {
        return Err(ServerError::Config(format!(
            "public URL must be an https origin (https://host[:port]): {audience}"
        )));
    }

    // SQLite in the data directory (the default), or PostgreSQL shared by any number of
    // instances (decision 41): every key and secret then comes from the shared data directory
    // or from the database, so any instance can answer any request.
    let (conn, secret, pg_store) = match &config.database {
        Some(url) => {
            if !pg::is_postgres_url(url) {
                return Err(ServerError::Config(format!("unsupported --database URL (postgres://… expected): {url}")));
            }
            // The synchronous driver runs its own runtime: never on this async thread.
            let url = url.clone();
            let (store, secret) = tokio::task::spawn_blocking(move || {
                let (store, conn) = pg::open(&url, PG_POOL_SIZE)?;
                let secret = db::meta_secret(&conn, "server_secret")?;
                drop(conn);
                Ok::<_, ServerError>((store, secret))
            })
            .await
            .map_err(|e| ServerError::Config(format!("PostgreSQL start-up failed: {e}")))??;
            (None, secret, Some(store))
        }
        None => {
            let conn = db::open(&config.data_dir.join("citizen-server.db"))?;
            let secret = db::meta_secret(&conn, "server_secret")?;
            (Some(conn), secret, None)
        }
    };
    let secret = SecretKey::from_slice(&secret).ok_or_else(|| ServerError::Config("corrupt server secret".into()))?;
    let tokens = tokens::TokenKeys::load_or_create(&config.data_dir.join("token-signing-key.pem"), &audience)?;
    let official_token_path = config.data_dir.join("official-token");
    let official_token = load_or_create_official_token(&official_token_path)?;
    // Every externally visible URL of the hosted demo RPs (origins, redirect and response URIs)
    // comes from the public URL, like the audience: behind a proxy the listen address is not
    // what browsers and phones see.
    let registry = registry::Registry::demo(&config.data_dir, &audience)?;
    let chip_trust = handlers::chip::load_trust(&config.data_dir)?;
    // One reader per core: they serve the signature pre-checks, which run in parallel.
    let readers = std::thread::available_parallelism().map_or(2, std::num::NonZero::get).min(8);
    let documents = documents::pki::DocumentPki::load(&config.data_dir.join("documents"))?;
    let state = Arc::new(AppState {
        store: match (pg_store, conn) {
            (Some(pg), _) => store::Store::Pg(pg),
            (None, Some(conn)) => store::Store::Sqlite(store::SqliteStore::start(
                conn,
                &config.data_dir.join("citizen-server.db"),
                readers,
            )?),
            (None, None) => return Err(ServerError::Config("no database".into())),
        },
        clock: config.clock,
        limits: config.limits,
        audience: audience.clone(),
        otp_sender: config.otp_sender,
        secret,
        tokens,
        official_token: official_token.clone(),
        #[cfg(feature = "fault")]
        faults: Default::default(),
        registry,
        chip_trust,
        documents,
    });

    let handle = axum_server::Handle::<SocketAddr>::new();
    let shed = &state.limits.shed;
    let acceptor = axum_server::tls_rustls::RustlsAcceptor::new(axum_server::tls_rustls::RustlsConfig::from_config(
        tls.server_config,
    ))
    .handshake_timeout(Duration::from_secs(shed.tls_handshake_timeout_secs));
    // HTTP/1.1 only (the TLS config offers only `http/1.1` by ALPN; this also refuses HTTP/2 by
    // prior knowledge, whose connections the HTTP/1 header-read timeout would not cover). The
    // header-read timeout starts whenever the connection waits for a request, so it is also
    // the idle timeout of a kept-alive connection.
    let mut server = axum_server::from_tcp(listener)?.acceptor(acceptor).handle(handle.clone()).http1_only();
    server
        .http_builder()
        .http1()
        .header_read_timeout(Duration::from_secs(shed.header_read_timeout_secs))
        .max_buf_size(shed.max_header_bytes.max(8192));
    let app = shed::layers(handlers::router(state.clone()), shed);
    // Connect info: the failure throttle keys on the client address (verify.rs).
    let task = tokio::spawn(async move { server.serve(app.into_make_service_with_connect_info::<SocketAddr>()).await });
    tracing::info!(%addr, %audience, "citizen-server listening");

    Ok(RunningServer {
        addr,
        audience,
        base_url,
        ca_cert_pem: tls.ca_cert_pem,
        ca_cert_path: tls.ca_cert_path,
        spki_pin: tls.spki_pin,
        backup_spki_pin: tls.backup_spki_pin,
        official_token,
        official_token_path,
        data_dir: config.data_dir.clone(),
        state,
        handle,
        task: Some(task),
    })
}
