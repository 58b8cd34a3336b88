//! Server configuration: where to listen, where state lives, how TLS is obtained, how OTPs
//! leave the building, which clock to trust and the security limits.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use citizen_protocol::clock::SharedClock;

use crate::otp::OtpSender;

/// Everything [`crate::start`] needs. There is no global state: tests run many servers side by
/// side, each with its own data directory and clock.
pub struct ServerConfig {
    /// Address to bind; port 0 picks a free port (see [`crate::RunningServer::addr`]).
    pub listen: SocketAddr,
    /// Holds the SQLite database, the token-signing key, the server secret and the dev PKI.
    pub data_dir: PathBuf,
    /// The public origin (`https://host[:port]`) behind which the server is reached: the
    /// audience devices sign for, and the base of every URL the server shows (the demo RPs'
    /// origins, redirect and response URIs). Default: `https://{listen-ip}:{bound-port}`.
    pub public_url: Option<String>,
    /// Where the TLS certificate comes from.
    pub tls: TlsSource,
    /// How one-time passwords reach the citizen.
    pub otp_sender: Arc<dyn OtpSender>,
    /// Source of time for every expiry decision (tests pass a `ManualClock`).
    pub clock: SharedClock,
    /// Security limits.
    pub limits: Limits,
    /// `None`: SQLite in `data_dir` (the default). `Some("postgres://…")`: PostgreSQL, which
    /// several instances can share (decision 41).
    pub database: Option<String>,
}

impl ServerConfig {
    /// A development server on `127.0.0.1` with a free port, a generated dev PKI, default
    /// limits and the given OTP sender and clock — what the demo, tests and benchmarks use.
    pub fn loopback_dev(data_dir: PathBuf, otp_sender: Arc<dyn OtpSender>, clock: SharedClock) -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir,
            public_url: None,
            tls: TlsSource::Generate { hostnames: vec![] },
            otp_sender,
            clock,
            limits: Limits::default(),
            database: None,
        }
    }
}

/// Origin of the serving certificate.
#[derive(Clone, Debug)]
pub enum TlsSource {
    /// Generate (once, persisted in `data_dir/pki`) a development CA and a leaf certificate for
    /// `localhost`, `127.0.0.1`, `::1` and these extra host names. Development only: clients
    /// must be given the CA explicitly ([`crate::RunningServer::ca_cert_pem`]).
    Generate {
        /// Extra DNS names or IP addresses for the leaf certificate.
        hostnames: Vec<String>,
    },
    /// Serve an existing certificate chain (leaf first) and its private key, both PEM files.
    Files {
        /// Certificate chain PEM, leaf first.
        cert_pem: PathBuf,
        /// PKCS#8, SEC1 or PKCS#1 private key PEM.
        key_pem: PathBuf,
    },
}

/// Security limits. Durations are in seconds because every comparison is made against the
/// injectable clock's Unix seconds.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Lifetime of an OTP.
    pub otp_ttl_secs: i64,
    /// Wrong OTPs allowed before the enrollment/reset is dead.
    pub otp_max_attempts: u32,
    /// Lifetime of a challenge nonce.
    pub nonce_ttl_secs: i64,
    /// Lifetime of an access token.
    pub access_ttl_secs: i64,
    /// A session ends if not used for this long.
    pub session_idle_secs: i64,
    /// A session ends this long after login whatever happens.
    pub session_absolute_secs: i64,
    /// Failed signed-statement verifications naming one device that are answered before the
    /// device's signed requests are throttled (429 with `Retry-After`) for the rest of the
    /// window. Failures never lock an account (ARCHITECTURE.md, decision 16).
    pub failures_per_device: u32,
    /// The same, per client address (IPv4 address, IPv6 /64).
    pub failures_per_address: u32,
    /// Length of the failure-throttle window.
    pub failure_window_secs: i64,
    /// Enrollment starts allowed per CCCD number per hour.
    pub enroll_per_hour: u32,
    /// Waiting period of a recovery without the old phone (issue 15): the new device is
    /// activated only this long after the recovery started, and the old device or an official
    /// may cancel it meanwhile. Default 24 h.
    pub recovery_wait_secs: i64,
    /// Load shedding (ARCHITECTURE.md, "Load shedding"): connection timeouts, in-flight caps, body
    /// limits and per-client quotas of anonymous state.
    pub shed: ShedLimits,
}

/// What an anonymous client may cost the server: every value bounds memory, sockets or worker
/// time that a client can hold without having authenticated. Defaults are production values.
#[derive(Clone, Debug)]
pub struct ShedLimits {
    /// A TLS handshake must finish within this many seconds.
    pub tls_handshake_timeout_secs: u64,
    /// A request's headers must arrive within this many seconds of the connection becoming
    /// ready for one — after the handshake and between keep-alive requests, so it is also the
    /// idle timeout of a connection.
    pub header_read_timeout_secs: u64,
    /// A whole request (body upload and handling) must finish within this many seconds (408).
    pub request_timeout_secs: u64,
    /// Read buffer of a connection (hyper's `max_buf_size`, at least 8 KiB), so also the largest
    /// request head (request line and headers; 431 beyond): a client sending headers slowly
    /// holds at most this much memory per connection. Bodies stream through it in chunks.
    pub max_header_bytes: usize,
    /// Requests in flight across the server; beyond, 503 with `Retry-After` at once (no queue).
    pub max_in_flight: usize,
    /// Body limit of every route except submissions (enforced while the body streams in).
    pub max_body_bytes: usize,
    /// Body limit of `POST /v1/submissions` (attachments travel base64url inside: a 5 MiB
    /// document is about 6.7 MiB).
    pub max_submission_bytes: usize,
    /// Submission bodies in flight across the server (each may hold `max_submission_bytes` and
    /// its parsed copy); further ones wait for a slot within the request timeout.
    pub submissions_in_flight: usize,
    /// Submission bodies in flight per client address (beyond: 429).
    pub submissions_per_client: usize,
    /// Live demo-portal login sessions one client address may hold (beyond: 429).
    pub portal_sessions_per_client: usize,
    /// Live demo-portal login sessions in all (beyond: 503), a memory bound.
    pub portal_sessions_total: usize,
    /// Unexpired, unanswered demo-bank share requests one client address may hold (429).
    pub bank_requests_per_client: usize,
    /// Unexpired, unanswered demo-bank share requests stored in all (503).
    pub bank_requests_total: usize,
}

impl Default for ShedLimits {
    fn default() -> Self {
        ShedLimits {
            tls_handshake_timeout_secs: 10,
            header_read_timeout_secs: 10,
            request_timeout_secs: 120,
            max_header_bytes: 16 * 1024,
            max_in_flight: 256,
            max_body_bytes: crate::handlers::MAX_BODY_BYTES,
            max_submission_bytes: crate::handlers::MAX_SUBMISSION_BYTES,
            submissions_in_flight: 4,
            submissions_per_client: 2,
            portal_sessions_per_client: 20,
            portal_sessions_total: 10_000,
            bank_requests_per_client: 20,
            bank_requests_total: 10_000,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            otp_ttl_secs: 300,
            otp_max_attempts: 5,
            nonce_ttl_secs: 60,
            access_ttl_secs: 300,
            session_idle_secs: 3600,
            session_absolute_secs: 86_400,
            failures_per_device: 20,
            failures_per_address: 50,
            failure_window_secs: 60,
            enroll_per_hour: 5,
            recovery_wait_secs: citizen_protocol::protocol::recovery::DEFAULT_WAIT_SECS,
            shed: ShedLimits::default(),
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// File system or socket failure.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// Database failure.
    #[error("database error: {0}")]
    Db(#[from] crate::sql::Error),
    /// SQLite failure while opening or migrating.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Certificate or key problem.
    #[error("TLS/PKI error: {0}")]
    Pki(String),
    /// Inconsistent configuration.
    #[error("configuration error: {0}")]
    Config(String),
}
