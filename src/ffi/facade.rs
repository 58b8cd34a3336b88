//! The UniFFI façade: the one object the shells see, [`CitizenCore`], and its records.
//!
//! Each method is a small wrapper: it calls the engine ([`crate::account`]) and maps the
//! internal error to the public error of its domain. Async methods become Kotlin `suspend` and
//! Swift `async` functions and run on the tokio runtime.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::errors::{AuthError, EnrollmentError, PasscodeError, SetupError};
use crate::account::Account;
use crate::clock::{SharedClock, SystemClock};
use crate::datadir::DataDirLock;
use crate::error::{Error, FieldError};
use crate::net::{Net, NetConfig};
use crate::platform::{software, DataKeyWrapper, DeviceKeyStore, KeyOptions};
use crate::store::{SessionRow, Store};

/// Language of the citizen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum Locale {
    /// Tiếng Việt.
    Vi,
    /// English.
    En,
}

/// Everything the core needs to start.
#[derive(Clone, Debug, uniffi::Record)]
pub struct CoreConfig {
    /// Base URL of the e-government backend (`https://…`).
    pub server_base_url: String,
    /// Directory for the database (app-private, excluded from backup).
    pub data_dir: String,
    /// PEM certificates to trust instead of the platform roots; empty = platform roots.
    pub trust_anchors_pem: Vec<String>,
    /// SPKI pins (`sha256/<base64>` or `<base64>`); empty = no pinning, else at least two distinct pins (a repeated pin is refused).
    pub spki_pins: Vec<String>,
    /// Language sent to the server.
    pub locale: Locale,
    /// TCP+TLS connect timeout.
    pub connect_timeout_ms: u64,
    /// Whole-request timeout.
    pub request_timeout_ms: u64,
    /// Allow plain `http://` to loopback hosts (development only).
    pub allow_insecure_loopback: bool,
    /// Device label shown in the device list (no personal data), e.g. `Pixel 9`.
    pub device_label: String,
    /// `android`, `ios`, `desktop`, `kiosk`.
    pub platform: String,
}

/// A configuration with safe defaults: platform roots, no pins, Vietnamese, 10 s connect and
/// 30 s request timeouts, HTTPS only.
#[uniffi::export]
pub fn default_core_config(server_base_url: String, data_dir: String) -> CoreConfig {
    CoreConfig {
        server_base_url,
        data_dir,
        trust_anchors_pem: vec![],
        spki_pins: vec![],
        locale: Locale::Vi,
        connect_timeout_ms: 10_000,
        request_timeout_ms: 30_000,
        allow_insecure_loopback: false,
        device_label: "device".into(),
        platform: "unknown".into(),
    }
}

/// Validate enrollment input without a network call: every field error at once.
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
    /// Unix seconds.
    pub otp_expires_at: i64,
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
    /// Unix seconds; the core refreshes before this.
    pub access_expires_at: i64,
    /// Unix seconds; the session ends if unused until then.
    pub idle_expires_at: i64,
    /// Unix seconds; the session ends then.
    pub absolute_expires_at: i64,
}

impl From<SessionRow> for SessionInfo {
    fn from(s: SessionRow) -> Self {
        SessionInfo {
            session_id: s.session_id.clone(),
            access_expires_at: s.access_expires_at,
            idle_expires_at: s.idle_expires_at,
            absolute_expires_at: s.absolute_expires_at,
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
    pub platform: String,
    /// Whether its key is hardware-backed (as claimed at enrollment).
    pub hardware_backed: bool,
    /// Its status.
    pub status: DeviceStatus,
    /// Unix seconds.
    pub enrolled_at: i64,
    /// Unix seconds.
    pub last_login_at: Option<i64>,
    /// Whether this is the device running the app.
    pub is_this_device: bool,
}

/// The server's view of this device.
#[derive(Clone, Debug, uniffi::Record)]
pub struct DeviceStatusInfo {
    /// Status.
    pub status: DeviceStatus,
    /// Unix seconds.
    pub changed_at: i64,
}

/// Passcode lockout state.
#[derive(Clone, Debug, uniffi::Record)]
pub struct PasscodeStatus {
    /// Consecutive failures.
    pub failed_attempts: u32,
    /// Failures left before a delay.
    pub attempts_before_lockout: u32,
    /// Failures left before the local account is erased.
    pub attempts_before_wipe: u32,
    /// Unix seconds until which attempts are refused.
    pub locked_until: Option<i64>,
}

/// A passcode reset waiting for its OTP.
#[derive(Clone, Debug, uniffi::Record)]
pub struct PasscodeResetTicket {
    /// Reset id.
    pub reset_id: String,
    /// Where the OTP went, masked.
    pub masked_phone: String,
    /// Unix seconds.
    pub otp_expires_at: i64,
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
#[derive(Clone, Debug, uniffi::Record)]
pub struct CoreStatus {
    /// Enrollment state.
    pub enrollment: EnrollmentState,
    /// This device's id, once enrolled.
    pub device_id: Option<String>,
    /// Whether the device key is hardware-backed.
    pub hardware_backed: bool,
    /// Whether a session is stored and not past its absolute timeout.
    pub logged_in: bool,
    /// Unix seconds, if logged in.
    pub session_expires_at: Option<i64>,
}

/// The core. One per app process; cheap to share.
#[derive(uniffi::Object)]
pub struct CitizenCore {
    pub(crate) account: Arc<Account>,
    /// Exclusive hold on the data directory for the life of this object (see [`crate::datadir`]).
    _dir_lock: DataDirLock,
}

impl CitizenCore {
    /// Rust-only constructor with an injected clock (tests, CLI).
    pub fn with_clock(
        config: CoreConfig,
        key_store: Arc<dyn DeviceKeyStore>,
        key_wrapper: Arc<dyn DataKeyWrapper>,
        clock: SharedClock,
    ) -> Result<Arc<Self>, SetupError> {
        let lock = Self::lock_dir(&config)?;
        Ok(Arc::new(Self::build(config, key_store, key_wrapper, clock, lock)?))
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
            connect_timeout: Duration::from_millis(config.connect_timeout_ms.max(1)),
            request_timeout: Duration::from_millis(config.request_timeout_ms.max(1)),
            allow_insecure_loopback: config.allow_insecure_loopback,
            language: match config.locale {
                Locale::Vi => "vi",
                Locale::En => "en",
            },
        })?;
        let store = Store::open(&PathBuf::from(&config.data_dir), &key_wrapper)?;
        Ok(CitizenCore {
            account: Arc::new(Account::new(store, net, key_store, clock, config.platform, config.device_label)),
            _dir_lock: lock,
        })
    }

    /// Path of the database file (diagnostics, tests).
    pub fn database_path(&self) -> PathBuf {
        self.account.database_path()
    }

    /// The stored session tokens (access, refresh). Test support only: lets the project's leak
    /// scans know what to look for.
    #[cfg(feature = "test-support")]
    pub fn session_tokens(&self) -> Option<(String, String)> {
        self.account.session_tokens()
    }

    /// How many registry fetches this core has attempted. Test support only: lets the
    /// project's tests prove that hostile login codes do not turn into fetches.
    #[cfg(feature = "test-support")]
    pub fn registry_fetch_count(&self) -> u64 {
        self.account.registry_fetches.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// `PRAGMA integrity_check` of the database (`"ok"` when sound). Rust-only: crash tests.
    pub fn database_integrity_check(&self) -> Result<String, SetupError> {
        Ok(self.account.database_integrity_check()?)
    }

    /// A valid access token for other Rust components (refreshing if needed). Never exported.
    pub async fn access_token(&self) -> Result<zeroize::Zeroizing<String>, AuthError> {
        Ok(self.account.access_token().await?)
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl CitizenCore {
    /// Open the core: database (created and migrated if needed), data key (unwrapped by
    /// `key_wrapper`) and the HTTPS client. No network call is made. One core per data
    /// directory: while this object lives, another open of the same directory fails with
    /// `SetupError::AlreadyOpen` (`storage.already_open`).
    #[uniffi::constructor]
    pub fn new(
        config: CoreConfig,
        key_store: Arc<dyn DeviceKeyStore>,
        key_wrapper: Arc<dyn DataKeyWrapper>,
    ) -> Result<Arc<Self>, SetupError> {
        Self::with_clock(config, key_store, key_wrapper, Arc::new(SystemClock))
    }

    /// Open the core for a desktop or kiosk: device keys and the data key are sealed in
    /// `<data_dir>/keys` under Argon2id of a local secret kept in `<data_dir>/device.secret`
    /// (mode 0600). Not hardware-backed; phones use [`CitizenCore::new`] with their key stores.
    /// Like `new`, refuses a data directory another core holds (`storage.already_open`).
    #[uniffi::constructor]
    pub fn new_desktop(config: CoreConfig) -> Result<Arc<Self>, SetupError> {
        let dir = PathBuf::from(&config.data_dir);
        // The lock first: the key files below are read and created under it.
        let lock = Self::lock_dir(&config)?;
        let secret = software::load_or_create_local_secret(&dir.join("device.secret"))
            .map_err(|e| SetupError::from(Error::io("local secret", e)))?;
        let (ks, kw) = software::open_software_platform(&dir.join("keys"), &secret)
            .map_err(|e| SetupError::from(Error::io("software keys", e)))?;
        Ok(Arc::new(Self::build(config, Arc::new(ks), Arc::new(kw), Arc::new(SystemClock), lock)?))
    }

    /// The state of this device: enrollment, session.
    pub fn status(&self) -> Result<CoreStatus, AuthError> {
        let state = self.account.device_state()?;
        let acc = state.account;
        let enrollment = match &acc {
            Some(a) if a.inactive_status.is_some() => EnrollmentState::Deactivated {
                status: DeviceStatus::from_wire(a.inactive_status.as_deref().unwrap_or("")),
            },
            Some(_) => EnrollmentState::Enrolled,
            None if state.awaiting_otp => EnrollmentState::AwaitingOtp,
            None => EnrollmentState::NotEnrolled,
        };
        Ok(CoreStatus {
            logged_in: state.session_expires_at.is_some() && matches!(enrollment, EnrollmentState::Enrolled),
            session_expires_at: state.session_expires_at,
            enrollment,
            device_id: acc.as_ref().map(|a| a.device_id.clone()),
            hardware_backed: acc.is_some_and(|a| a.hardware_backed),
        })
    }

    /// Validate enrollment input without a network call.
    pub fn validate_enrollment(&self, input: EnrollmentInput) -> Vec<FieldError> {
        match self.account.validate_enrollment(&input.cccd, &input.date_of_birth, &input.phone) {
            Ok(_) => vec![],
            Err(e) => e,
        }
    }

    /// Step 1 of enrollment: the number, date of birth and phone are validated locally, then
    /// matched against the population register, which sends an OTP to the phone.
    pub async fn start_enrollment(&self, input: EnrollmentInput) -> Result<EnrollmentTicket, EnrollmentError> {
        let (r, _) = self.account.start_enrollment(&input.cccd, &input.date_of_birth, &input.phone).await?;
        Ok(EnrollmentTicket {
            enrollment_id: r.enrollment_id,
            masked_phone: r.masked_phone,
            otp_expires_at: r.otp_expires_at,
            has_active_device: r.has_active_device,
        })
    }

    /// Step 2 of enrollment: with the OTP, create the device key in the platform key store,
    /// prove possession to the server, and set the 6-digit passcode.
    pub async fn complete_enrollment(
        &self,
        otp: String,
        passcode: String,
        key_options: KeyOptions,
    ) -> Result<EnrollmentOutcome, EnrollmentError> {
        let passcode = zeroize::Zeroizing::new(passcode);
        let e = self.account.complete_enrollment(&otp, &passcode, key_options).await?;
        Ok(EnrollmentOutcome {
            account_id: e.account_id,
            device_id: e.device_id,
            hardware_backed: e.hardware_backed,
            replaced_device_id: e.replaced_device_id,
            transfer_approved: e.transfer_approved,
        })
    }

    /// Log in: check the passcode (with lockout), then sign the server's challenge with the
    /// device key. Stores the tokens encrypted; returns only their expiry.
    pub async fn login(&self, passcode: String) -> Result<SessionInfo, AuthError> {
        let passcode = zeroize::Zeroizing::new(passcode);
        Ok(self.account.login(&passcode).await?.into())
    }

    /// Rotate the refresh token now (the core also does this by itself when needed).
    pub async fn refresh_session(&self) -> Result<SessionInfo, AuthError> {
        Ok(self.account.refresh().await?.into())
    }

    /// End the session here and at the server.
    pub async fn logout(&self) -> Result<(), AuthError> {
        Ok(self.account.logout().await?)
    }

    /// The account's devices.
    pub async fn list_devices(&self) -> Result<Vec<DeviceInfo>, AuthError> {
        let me = self.account.this_device_id()?;
        Ok(self
            .account
            .list_devices()
            .await?
            .into_iter()
            .map(|d| DeviceInfo {
                is_this_device: me.as_deref() == Some(d.device_id.as_str()),
                device_id: d.device_id,
                label: d.label,
                platform: d.platform,
                hardware_backed: d.hardware_backed,
                status: DeviceStatus::from_wire(&d.status),
                enrolled_at: d.enrolled_at,
                last_login_at: d.last_login_at,
            })
            .collect())
    }

    /// Revoke one of the account's devices (needs the passcode again).
    pub async fn revoke_device(&self, device_id: String, passcode: String) -> Result<(), AuthError> {
        let passcode = zeroize::Zeroizing::new(passcode);
        Ok(self.account.revoke_device(&device_id, &passcode).await?)
    }

    /// On the old device: approve handing the account to a new device whose enrollment id the
    /// citizen reads from the new device. The old device is then marked `transferred`, not
    /// `replaced`.
    pub async fn approve_device_transfer(&self, enrollment_id: String, passcode: String) -> Result<(), AuthError> {
        let passcode = zeroize::Zeroizing::new(passcode);
        Ok(self.account.approve_transfer(&enrollment_id, &passcode).await?)
    }

    /// Ask the server whether this device is still the active one; a replaced or revoked device
    /// learns it here (and its session is dropped).
    pub async fn check_device_status(&self) -> Result<DeviceStatusInfo, AuthError> {
        let r = self.account.device_status().await?;
        Ok(DeviceStatusInfo { status: DeviceStatus::from_wire(&r.status), changed_at: r.changed_at })
    }

    /// Check the passcode locally (e.g. to unlock the app), under the same lockout policy as
    /// login: failures are counted and persisted, delays escalate, the 10th failure erases.
    pub async fn verify_passcode(&self, passcode: String) -> Result<(), PasscodeError> {
        let passcode = zeroize::Zeroizing::new(passcode);
        Ok(self.account.verify_passcode(&passcode).await?)
    }

    /// Change the passcode (the old one counts as an attempt).
    pub async fn change_passcode(&self, old_passcode: String, new_passcode: String) -> Result<(), PasscodeError> {
        let (old, new) = (zeroize::Zeroizing::new(old_passcode), zeroize::Zeroizing::new(new_passcode));
        Ok(self.account.change_passcode(&old, &new).await?)
    }

    /// Failures and lock of the passcode.
    pub fn passcode_status(&self) -> Result<PasscodeStatus, PasscodeError> {
        let s = self.account.passcode_state()?;
        Ok(PasscodeStatus {
            failed_attempts: s.failed,
            attempts_before_lockout: s.before_lockout,
            attempts_before_wipe: s.before_wipe,
            locked_until: s.locked_until,
        })
    }

    /// Forgotten passcode, step 1: the server sends an OTP to the registered phone.
    pub async fn start_passcode_reset(&self) -> Result<PasscodeResetTicket, PasscodeError> {
        let r = self.account.start_passcode_reset().await?;
        Ok(PasscodeResetTicket { reset_id: r.reset_id, masked_phone: r.masked_phone, otp_expires_at: r.otp_expires_at })
    }

    /// Forgotten passcode, step 2: with the OTP (and a signature of the device key) set a new
    /// passcode; clears the failure count and any lock.
    pub async fn complete_passcode_reset(&self, otp: String, new_passcode: String) -> Result<(), PasscodeError> {
        let new = zeroize::Zeroizing::new(new_passcode);
        Ok(self.account.complete_passcode_reset(&otp, &new).await?)
    }

    /// Erase the account from this device: device key, tokens, personal data.
    pub async fn reset_device(&self) -> Result<(), AuthError> {
        Ok(self.account.wipe().await?)
    }
}
