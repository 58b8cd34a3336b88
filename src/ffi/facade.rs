//! The UniFFI façade: the one object the shells see, [`CitizenCore`], and its records.
//!
//! The root is small: the constructors, [`CitizenCore::status`] and one accessor per area
//! returning a sub-client (thin newtypes over the shared [`Engine`], as bitwarden-uniffi does).
//! Each sub-client method is a small wrapper that hands its body to the core's runtime
//! ([`super::runtime`]) and maps the internal error to the public one.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::account::AccountClient;
use super::activity::ActivityClient;
use super::consent::ConsentClient;
use super::errors::{setup_error, CitizenError};
use super::lifecycle::{Held, Shared, StatusListener, Subscription};
use super::runtime;
use super::services::ServicesClient;
use super::types::{opt_time, time, Platform};
use crate::account::Account;
use crate::clock::{SharedClock, SystemClock};
use crate::datadir::DataDirLock;
use crate::error::{Error, FieldError, Msg};
use crate::net::{Net, NetConfig};
use crate::platform::{software, DataKeyWrapper, DeviceKeyStore};
use crate::store::{SessionRow, Store};

/// Language of the citizen (named `Language`, not `Locale`, so it does not shadow Foundation's
/// `Locale` in Swift or `java.util.Locale` in Kotlin).
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum Language {
    /// Tiếng Việt.
    Vi,
    /// English.
    En,
}

/// Everything the core needs to start. Only the server, the data directory and the language are
/// required; the other fields default to the values of [`default_core_config`] (Swift and Kotlin
/// callers may leave them out).
#[derive(Clone, Debug, uniffi::Record)]
pub struct CoreConfig {
    /// Base URL of the e-government backend (`https://…`).
    pub server_base_url: String,
    /// Directory for the database (app-private, excluded from backup).
    pub data_dir: String,
    /// PEM certificates to trust instead of the platform roots; empty = platform roots.
    #[uniffi(default = [])]
    pub trust_anchors_pem: Vec<String>,
    /// SPKI pins (`sha256/<base64>` or `<base64>`); empty = no pinning, else at least two distinct pins (a repeated pin is refused).
    #[uniffi(default = [])]
    pub spki_pins: Vec<String>,
    /// Language sent to the server.
    pub language: Language,
    /// TCP+TLS connect timeout; `None` (the default) = 10 s.
    #[uniffi(default)]
    pub connect_timeout: Option<Duration>,
    /// Whole-request timeout; `None` (the default) = 30 s.
    #[uniffi(default)]
    pub request_timeout: Option<Duration>,
    /// Allow plain `http://` to loopback hosts (development only).
    #[uniffi(default = false)]
    pub allow_insecure_loopback: bool,
    /// Device label shown in the device list (no personal data), e.g. `Pixel 9`.
    #[uniffi(default = "device")]
    pub device_label: String,
    /// The platform the app runs on (sent at enrollment, shown in the device list).
    pub platform: Platform,
}

/// Connect timeout when [`CoreConfig::connect_timeout`] is `None`.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Whole-request timeout when [`CoreConfig::request_timeout`] is `None`.
const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A configuration with safe defaults: platform roots, no pins, Vietnamese, 10 s connect and
/// 30 s request timeouts, HTTPS only, platform `Unknown` (set yours). Pure: main-safe, never
/// prompts, never throws.
#[uniffi::export]
pub fn default_core_config(server_base_url: String, data_dir: String) -> CoreConfig {
    CoreConfig {
        server_base_url,
        data_dir,
        trust_anchors_pem: vec![],
        spki_pins: vec![],
        language: Language::Vi,
        connect_timeout: None,
        request_timeout: None,
        allow_insecure_loopback: false,
        device_label: "device".into(),
        platform: Platform::Unknown,
    }
}

/// Validate enrollment input without a network call: every field error at once (empty =
/// valid). Pure: main-safe, never prompts, never throws.
#[uniffi::export]
pub fn validate_enrollment_input(input: EnrollmentInput) -> Vec<FieldError> {
    let today = crate::cccd::Date::from_unix_vn(crate::clock::Clock::now(&SystemClock));
    let mut errors = crate::cccd::validate_identity(input.cccd.trim(), input.date_of_birth.trim(), today);
    if let Err(e) = crate::cccd::normalize_phone(&input.phone) {
        errors.push(e);
    }
    errors
}

/// The citizen's input to enrollment.
#[derive(Clone, uniffi::Record)]
pub struct EnrollmentInput {
    /// 12-digit CCCD number.
    pub cccd: String,
    /// `YYYY-MM-DD`.
    pub date_of_birth: String,
    /// Mobile phone (`0…`, `84…` or `+84…`).
    pub phone: String,
}

impl std::fmt::Debug for EnrollmentInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EnrollmentInput(<personal data>)")
    }
}

/// An enrollment waiting for its OTP.
#[derive(Clone, Debug, uniffi::Record)]
pub struct EnrollmentTicket {
    /// Enrollment id; the old device needs it to approve a transfer.
    pub enrollment_id: String,
    /// Where the OTP went, masked.
    pub masked_phone: String,
    /// When the OTP expires.
    pub otp_expires_at: SystemTime,
    /// The account already has an active device: completing deactivates it unless that device
    /// approves the transfer first (`approve_device_transfer`).
    pub has_active_device: bool,
}

/// The result of enrollment.
#[derive(Clone, Debug, uniffi::Record)]
pub struct EnrollmentOutcome {
    /// Opaque account id.
    pub account_id: String,
    /// This device's id.
    pub device_id: String,
    /// Whether the device key lives in secure hardware.
    pub hardware_backed: bool,
    /// The device this enrollment deactivated.
    pub replaced_device_id: Option<String>,
    /// Whether the old device approved the transfer.
    pub transfer_approved: bool,
}

/// A logged-in session (no tokens: they never leave the core).
#[derive(Clone, Debug, uniffi::Record)]
pub struct SessionInfo {
    /// Session id.
    pub session_id: String,
    /// The core refreshes the access token before this.
    pub access_expires_at: SystemTime,
    /// The session ends if unused until then.
    pub idle_expires_at: SystemTime,
    /// The session ends then.
    pub absolute_expires_at: SystemTime,
}

impl From<SessionRow> for SessionInfo {
    fn from(s: SessionRow) -> Self {
        SessionInfo {
            session_id: s.session_id.clone(),
            access_expires_at: time(s.access_expires_at),
            idle_expires_at: time(s.idle_expires_at),
            absolute_expires_at: time(s.absolute_expires_at),
        }
    }
}

/// One device of the account.
#[derive(Clone, Debug, uniffi::Record)]
pub struct DeviceInfo {
    /// Device id.
    pub device_id: String,
    /// Label.
    pub label: String,
    /// Platform.
    pub platform: Platform,
    /// Whether its key is hardware-backed (as claimed at enrollment).
    pub hardware_backed: bool,
    /// Its status.
    pub status: DeviceStatus,
    /// When it was enrolled.
    pub enrolled_at: SystemTime,
    /// Its last login, if any.
    pub last_login_at: Option<SystemTime>,
    /// Whether this is the device running the app.
    pub is_this_device: bool,
}

/// The server's view of this device.
#[derive(Clone, Debug, uniffi::Record)]
pub struct DeviceStatusInfo {
    /// Status.
    pub status: DeviceStatus,
    /// When the status last changed.
    pub changed_at: SystemTime,
}

/// Passcode lockout state.
#[derive(Clone, Debug, uniffi::Record)]
pub struct PasscodeStatus {
    /// Consecutive failures.
    pub failed_attempts: i32,
    /// Failures left before a delay.
    pub attempts_before_lockout: i32,
    /// Failures left before the local account is erased.
    pub attempts_before_wipe: i32,
    /// Attempts are refused until then.
    pub locked_until: Option<SystemTime>,
}

/// A passcode reset waiting for its OTP.
#[derive(Clone, Debug, uniffi::Record)]
pub struct PasscodeResetTicket {
    /// Reset id.
    pub reset_id: String,
    /// Where the OTP went, masked.
    pub masked_phone: String,
    /// When the OTP expires.
    pub otp_expires_at: SystemTime,
}

/// The server's status of a device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum DeviceStatus {
    /// The account's one active device.
    Active,
    /// Deactivated by a newer enrollment without approval.
    Replaced,
    /// Deactivated by a newer enrollment this device approved.
    Transferred,
    /// Revoked by the citizen.
    Revoked,
    /// Locked remotely (reported lost, from the portal or at a counter): it cannot log in, sign,
    /// submit or present until it is unlocked or a recovery replaces it. The data on the device
    /// is kept; never offer to erase it for this (issue 15).
    Locked,
    /// Deactivated by a completed recovery on a new device (issue 15).
    Recovered,
    /// The server does not know the device (or sent a status this version does not know).
    Unknown,
}

impl DeviceStatus {
    /// Parse the wire name.
    pub fn from_wire(s: &str) -> DeviceStatus {
        match s {
            "active" => DeviceStatus::Active,
            "replaced" => DeviceStatus::Replaced,
            "transferred" => DeviceStatus::Transferred,
            "revoked" => DeviceStatus::Revoked,
            "locked" => DeviceStatus::Locked,
            "recovered" => DeviceStatus::Recovered,
            _ => DeviceStatus::Unknown,
        }
    }
}

/// Where the device stands.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum EnrollmentState {
    /// No account on this device.
    NotEnrolled,
    /// Enrollment started; waiting for the OTP.
    AwaitingOtp,
    /// Enrolled and active.
    Enrolled,
    /// The server deactivated this device.
    Deactivated {
        /// The server's status of this device.
        status: DeviceStatus,
    },
}

/// A snapshot of the core's state, for the shell's first screen.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct CoreStatus {
    /// Enrollment state.
    pub enrollment: EnrollmentState,
    /// This device's id, once enrolled.
    pub device_id: Option<String>,
    /// Whether the device key is hardware-backed.
    pub hardware_backed: bool,
    /// Whether a session is stored and not past its absolute timeout.
    pub logged_in: bool,
    /// When the session ends (its absolute timeout), if logged in.
    pub session_expires_at: Option<SystemTime>,
}

/// A sub-client's handle on its core: weak, see [`Shared`]. A call after the core was closed
/// fails with `core.closed`.
#[derive(Clone)]
pub(crate) struct Engine(std::sync::Weak<Shared>);

impl Engine {
    /// The engine, while the core is open.
    pub(crate) fn account(&self) -> Result<Arc<Held>, Error> {
        self.0.upgrade().and_then(|s| s.account()).ok_or(Error::Domain(Msg::CoreClosed))
    }

    /// The core's shared state, while the root lives.
    pub(crate) fn shared(&self) -> Result<Arc<Shared>, Error> {
        self.0.upgrade().ok_or(Error::Domain(Msg::CoreClosed))
    }

    /// Tell the status subscribers to look again (after a login, a logout, an enrollment, or a
    /// call that found the session or the device gone).
    pub(crate) fn status_changed(&self) {
        if let Some(shared) = self.0.upgrade() {
            shared.hub.status_changed();
        }
    }

    /// Notice the errors that change the status (session ended, device deactivated, wipe).
    fn watch<T>(&self, r: Result<T, Error>) -> Result<T, Error> {
        if let Err(
            Error::Domain(Msg::SessionExpired | Msg::SessionRevoked | Msg::NotLoggedIn | Msg::Wiped | Msg::NotEnrolled)
            | Error::DeviceInactive(_),
        ) = &r
        {
            self.status_changed();
        }
        r
    }

    /// Run an async engine call on the core's runtime (see [`super::runtime`]) and map its error.
    pub(crate) async fn run<T, E, Fut>(&self, f: impl FnOnce(Arc<Held>) -> Fut) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<Error>,
        Fut: std::future::Future<Output = Result<T, Error>> + Send + 'static,
    {
        Ok(self.watch(runtime::run(f(self.account()?)).await)?)
    }

    /// Run a synchronous engine call (SQLite, AES, files) on the runtime's blocking pool.
    pub(crate) async fn blocking<T, E>(
        &self,
        f: impl FnOnce(&Account) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<Error>,
    {
        let account = self.account()?;
        Ok(self.watch(runtime::run_blocking(move || f(&account)).await)?)
    }
}

/// The core: one per app process and data directory; cheap to share. A small root: open it,
/// ask for its [`CoreStatus`], and take the sub-client of an area — [`CitizenCore::account`],
/// [`CitizenCore::services`], [`CitizenCore::consent`], [`CitizenCore::activity`] — each a
/// small object a test can fake on its own.
///
/// **Main-safe.** Every method that touches storage, crypto or the network is `async` (Kotlin
/// `suspend`, Swift `async`) and runs its body on the core's own runtime: call it from the main
/// thread freely, the calling thread only waits.
#[derive(uniffi::Object)]
pub struct CitizenCore {
    pub(crate) shared: Arc<Shared>,
}

impl CitizenCore {
    /// The sub-clients' (weak) handle on this core.
    pub(crate) fn engine(&self) -> Engine {
        Engine(Arc::downgrade(&self.shared))
    }

    /// Rust-only synchronous constructor (tests, CLI, benchmarks): see [`CitizenCore::open`].
    pub fn new(
        config: CoreConfig,
        key_store: Arc<dyn DeviceKeyStore>,
        key_wrapper: Arc<dyn DataKeyWrapper>,
    ) -> Result<Arc<Self>, CitizenError> {
        Self::with_clock(config, key_store, key_wrapper, Arc::new(SystemClock))
    }

    /// Rust-only synchronous constructor with an injected clock (tests, CLI).
    pub fn with_clock(
        config: CoreConfig,
        key_store: Arc<dyn DeviceKeyStore>,
        key_wrapper: Arc<dyn DataKeyWrapper>,
        clock: SharedClock,
    ) -> Result<Arc<Self>, CitizenError> {
        let lock = Self::lock_dir(&config).map_err(setup_error)?;
        Ok(Arc::new(Self::build(config, key_store, key_wrapper, clock, lock).map_err(setup_error)?))
    }

    /// Rust-only synchronous desktop constructor (CLI, tests): see [`CitizenCore::open_desktop`].
    pub fn new_desktop(config: CoreConfig) -> Result<Arc<Self>, CitizenError> {
        let dir = PathBuf::from(&config.data_dir);
        // The lock first: the key files below are read and created under it.
        let lock = Self::lock_dir(&config).map_err(setup_error)?;
        let secret = software::load_or_create_local_secret(&dir.join("device.secret"))
            .map_err(|e| CitizenError::from(Error::io("local secret", e)))?;
        let (ks, kw) = software::open_software_platform(&dir.join("keys"), &secret)
            .map_err(|e| CitizenError::from(Error::io("software keys", e)))?;
        Ok(Arc::new(Self::build(config, Arc::new(ks), Arc::new(kw), Arc::new(SystemClock), lock).map_err(setup_error)?))
    }

    /// Take the data directory's lock (creating the directory `0700`); every constructor does
    /// this first, before it reads or creates anything in the directory.
    fn lock_dir(config: &CoreConfig) -> Result<DataDirLock, Error> {
        if config.data_dir.trim().is_empty() {
            return Err(Error::Config("data_dir is empty".into()));
        }
        DataDirLock::acquire(&PathBuf::from(&config.data_dir))
    }

    fn build(
        config: CoreConfig,
        key_store: Arc<dyn DeviceKeyStore>,
        key_wrapper: Arc<dyn DataKeyWrapper>,
        clock: SharedClock,
        lock: DataDirLock,
    ) -> Result<Self, Error> {
        let net = Net::new(&NetConfig {
            base_url: config.server_base_url.clone(),
            trust_anchors_pem: config.trust_anchors_pem.clone(),
            spki_pins: config.spki_pins.clone(),
            connect_timeout: config.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT).max(Duration::from_millis(1)),
            request_timeout: config.request_timeout.unwrap_or(DEFAULT_REQUEST_TIMEOUT).max(Duration::from_millis(1)),
            allow_insecure_loopback: config.allow_insecure_loopback,
            language: match config.language {
                Language::Vi => "vi",
                Language::En => "en",
            },
        })?;
        let store = Store::open(&PathBuf::from(&config.data_dir), &key_wrapper)?;
        let account =
            Account::new(store, net, key_store, clock, config.platform.wire().to_string(), config.device_label);
        Ok(CitizenCore { shared: Shared::new(account, lock) })
    }

    /// The engine while open (Rust-only helpers below; panics after `shutdown`).
    fn open_account(&self) -> Arc<Held> {
        self.shared.account().expect("the core is open")
    }

    /// Path of the database file (diagnostics, tests).
    pub fn database_path(&self) -> PathBuf {
        self.open_account().database_path()
    }

    /// The stored session tokens (access, refresh). Test support only: lets the project's leak
    /// scans know what to look for.
    #[cfg(feature = "test-support")]
    pub fn session_tokens(&self) -> Option<(String, String)> {
        self.open_account().session_tokens()
    }

    /// The store's commits since this core opened it: (write transactions, those of them that
    /// waited for `fsync`). Test support only: the project's tests assert how many commits a
    /// login, an enqueue and a delivery take.
    #[cfg(feature = "test-support")]
    pub fn store_commit_counts(&self) -> (u64, u64) {
        self.open_account().commit_counts()
    }

    /// How many registry fetches this core has attempted. Test support only: lets the
    /// project's tests prove that hostile login codes do not turn into fetches.
    #[cfg(feature = "test-support")]
    pub fn registry_fetch_count(&self) -> u64 {
        self.open_account().registry_fetches.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// `PRAGMA integrity_check` of the database (`"ok"` when sound). Rust-only: crash tests.
    pub fn database_integrity_check(&self) -> Result<String, CitizenError> {
        Ok(self.open_account().database_integrity_check()?)
    }

    /// A valid access token for other Rust components (refreshing if needed). Never exported.
    pub async fn access_token(&self) -> Result<zeroize::Zeroizing<String>, CitizenError> {
        self.engine().run(|a| async move { a.access_token().await }).await
    }
}

#[uniffi::export]
impl CitizenCore {
    /// Open the core: database (created and migrated if needed), data key (unwrapped by
    /// `key_wrapper`) and the HTTPS client. No network call is made. Main-safe: the migration
    /// and the unwrap run on the core's runtime (the wrapper is called from a core thread, never
    /// the caller's). May prompt only if the shell's `key_wrapper` does. One core per data
    /// directory: while this object lives, another open of the same directory fails with
    /// `CitizenError::Internal` with code `storage.already_open`. Throws [`CitizenError`]:
    /// `DataKeyLost` (the data key is gone: erase and enroll again), `DataKeyLocked` (retry
    /// later, never erase), `Internal` (storage, configuration, already open).
    #[uniffi::constructor]
    pub async fn open(
        config: CoreConfig,
        key_store: Arc<dyn DeviceKeyStore>,
        key_wrapper: Arc<dyn DataKeyWrapper>,
    ) -> Result<Arc<Self>, CitizenError> {
        runtime::run_blocking(move || Self::new(config, key_store, key_wrapper)).await
    }

    /// Open the core for a desktop or kiosk: device keys and the data key are sealed in
    /// `<data_dir>/keys` under Argon2id of a local secret kept in `<data_dir>/device.secret`
    /// (mode 0600). Not hardware-backed; phones use [`CitizenCore::open`] with their key stores.
    /// Like `open`, refuses a data directory another core holds (`storage.already_open`).
    /// Main-safe (the Argon2id derivation runs on the core's runtime); never prompts. Throws
    /// [`CitizenError`].
    #[uniffi::constructor]
    pub async fn open_desktop(config: CoreConfig) -> Result<Arc<Self>, CitizenError> {
        runtime::run_blocking(move || Self::new_desktop(config)).await
    }

    /// Account, enrollment, passcode, login, sessions and devices. Cheap (no I/O): main-safe,
    /// never prompts, never throws (a call on the sub-client after `shutdown` throws
    /// `Internal` with `core.closed`).
    pub fn account(&self) -> Arc<AccountClient> {
        Arc::new(AccountClient(self.engine()))
    }

    /// Public-service requests: catalogue, profile, drafts, submission, outbox, cases. Cheap (no
    /// I/O): main-safe, never prompts, never throws.
    pub fn services(&self) -> Arc<ServicesClient> {
        Arc::new(ServicesClient(self.engine()))
    }

    /// Consent: QR and deep-link login to portals, data sharing, consent receipts. Cheap (no
    /// I/O): main-safe, never prompts, never throws.
    pub fn consent(&self) -> Arc<ConsentClient> {
        Arc::new(ConsentClient(self.engine()))
    }

    /// The tamper-evident activity log: list, verify, export, anchor. Cheap (no I/O): main-safe,
    /// never prompts, never throws.
    pub fn activity(&self) -> Arc<ActivityClient> {
        Arc::new(ActivityClient(self.engine()))
    }

    /// The documents wallet: CCCD, driving licence, health insurance, vehicle registration. Cheap
    /// (no I/O): main-safe, never prompts, never throws.
    pub fn documents(&self) -> Arc<super::documents::DocumentsClient> {
        Arc::new(super::documents::DocumentsClient(self.engine()))
    }

    /// The chip-based ID card: identity level 2 from its chip. Cheap (no I/O): main-safe, never
    /// prompts, never throws.
    pub fn chip(&self) -> Arc<super::chip::ChipClient> {
        Arc::new(super::chip::ChipClient(self.engine()))
    }

    /// The state of this device: enrollment, session. Main-safe (reads the database on the
    /// core's runtime); never prompts. Throws [`CitizenError`] (`Internal`).
    pub async fn status(&self) -> Result<CoreStatus, CitizenError> {
        self.engine().blocking(core_status).await
    }

    /// Subscribe to the status: the current one at once, then each change the core notices
    /// (login, logout, enrollment, session expired or revoked, device deactivated, wipe). See
    /// [`StatusListener`]. Main-safe; never prompts. Throws [`CitizenError`] (`Internal` with
    /// `core.closed` after `shutdown`).
    pub fn observe_status(&self, listener: Arc<dyn StatusListener>) -> Result<Arc<Subscription>, CitizenError> {
        let account = self.engine().account()?;
        Ok(self.shared.observe_status(account, listener))
    }

    /// Stop the core before closing it: the background delivery a submit started is stopped
    /// (and awaited: nothing is written after this returns; an item being sent stays in the
    /// outbox and is resent idempotently later), every subscription ends (`on_end`), and the
    /// data directory is released. Later calls fail with `core.closed`. Call it before erasing
    /// the data (`erase_local_data`) or opening the directory again; then `close()` (Kotlin) or
    /// drop (Swift) the object. Main-safe; never prompts; never throws.
    pub async fn shutdown(&self) {
        self.shared.shutdown().await;
    }
}

impl Drop for CitizenCore {
    /// Closing (Kotlin `close()`, Swift `deinit`, Python `del`) does what `shutdown` does without
    /// waiting for the background work to finish its current step.
    fn drop(&mut self) {
        self.shared.close_now();
    }
}

pub(crate) fn core_status(account: &Account) -> Result<CoreStatus, Error> {
    let state = account.device_state()?;
    let acc = state.account;
    let enrollment = match &acc {
        Some(a) if a.inactive_status.is_some() => {
            EnrollmentState::Deactivated { status: DeviceStatus::from_wire(a.inactive_status.as_deref().unwrap_or("")) }
        }
        Some(_) => EnrollmentState::Enrolled,
        None if state.awaiting_otp => EnrollmentState::AwaitingOtp,
        None => EnrollmentState::NotEnrolled,
    };
    Ok(CoreStatus {
        logged_in: state.session_expires_at.is_some() && matches!(enrollment, EnrollmentState::Enrolled),
        session_expires_at: opt_time(state.session_expires_at),
        enrollment,
        device_id: acc.as_ref().map(|a| a.device_id.clone()),
        hardware_backed: acc.is_some_and(|a| a.hardware_backed),
    })
}
