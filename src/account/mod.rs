//! The account flows: enrollment, passcode, login, session refresh, devices.
//!
//! This is the engine behind the façade. It owns the store, the HTTP client and the platform key
//! store, and composes the pure pieces (`cccd`, `passcode`, `protocol`) with them. Every method
//! returns the internal [`Error`]; the façade maps it to the public error of its domain.

pub(crate) mod access_log;
pub(crate) mod delegation;
mod identity_qr;
pub(crate) use identity_qr::IDQR_CODE_VALID_SECS;
pub mod passcode;
mod recovery;
pub(crate) use recovery::{NoticeRecord, PendingRecovery};

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use self::passcode::Gate;
use crate::activity::ActivityKind;
use crate::cccd::{self, Date};
use crate::clock::SharedClock;
use crate::crypto;
use crate::error::{Error, FieldError, Msg, NetError, NetworkErrorKind, Result};
use crate::net::Net;
use crate::platform::{DeviceKeyStore, DeviceKeyStoreError, KeyOptions, SignPurpose, SignRequest};
use crate::protocol::*;
use crate::store::rows::{PendingKind, PendingRow};
use crate::store::{
    AccountRow, BookkeepingKey, CounterKind, Identity, PasscodeRow, PendingActivity, SessionRow, Store, Tokens,
};

/// Refresh the access token when it has less than this many seconds left.
const REFRESH_MARGIN_SECS: i64 = 30;

const PENDING_ENROLLMENT: PendingKind = PendingKind::Enrollment;
const PENDING_RESET: PendingKind = PendingKind::PasscodeReset;

/// A pending enrollment (sealed in the store).
#[derive(Serialize, Deserialize)]
pub(crate) struct PendingEnrollment {
    pub identity: Identity,
    pub device_id: String,
    pub masked_phone: String,
    pub has_active_device: bool,
    /// The secret of the transfer QR code this phone shows, once asked (issue 15).
    #[serde(default)]
    pub transfer_secret: Option<String>,
}

/// A pending passcode reset.
#[derive(Serialize, Deserialize)]
pub(crate) struct PendingReset {
    pub masked_phone: String,
}

/// What enrollment produced.
pub(crate) struct Enrolled {
    pub account_id: String,
    pub device_id: String,
    pub hardware_backed: bool,
    pub replaced_device_id: Option<String>,
    pub transfer_approved: bool,
}

/// The engine.
pub(crate) struct Account {
    pub store: Store,
    pub net: Net,
    pub keys: Arc<dyn DeviceKeyStore>,
    pub clock: SharedClock,
    pub platform: String,
    pub device_label: String,
    refresh_lock: tokio::sync::Mutex<()>,
    /// Serialises passcode attempts (see [`Account::verify_passcode`]).
    passcode_lock: tokio::sync::Mutex<()>,
    /// Registry fetches attempted (diagnostics and the project's tests).
    pub(crate) registry_fetches: std::sync::atomic::AtomicU64,
    pub(crate) services: crate::services::flows::ServicesState,
}

/// Run a (possibly blocking: biometric prompt) key-store call off the async executor.
async fn keystore<T: Send + 'static>(
    f: impl FnOnce() -> std::result::Result<T, DeviceKeyStoreError> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| Error::KeyStore(DeviceKeyStoreError::Failure { reason: "key store call panicked".into() }))?
        .map_err(Error::KeyStore)
}

fn key_alias(device_id: &str) -> String {
    format!("citizen-core.device.{device_id}")
}

/// Alias of the bookkeeping key that goes with the device key `device_alias` (decision 26).
pub(crate) fn bookkeeping_alias(device_alias: &str) -> String {
    format!("{device_alias}.bookkeeping")
}

/// What the key store is told about a signature of `st`.
pub(crate) fn sign_request(st: &Statement, user_initiated: bool) -> SignRequest {
    let purpose = match st.purpose {
        Purpose::Enroll => SignPurpose::Enroll,
        Purpose::Login => SignPurpose::Login,
        Purpose::Transfer | Purpose::RevokeDevice => SignPurpose::DeviceManagement,
        Purpose::PasscodeReset => SignPurpose::PasscodeReset,
        Purpose::Submit => SignPurpose::Submit,
        Purpose::Activity if st.subject.starts_with("anchor:") => SignPurpose::ActivityAnchor,
        Purpose::Activity => SignPurpose::ActivityEntry,
        Purpose::Consent => SignPurpose::Consent,
        Purpose::Credential => SignPurpose::Credential,
        Purpose::Chip => SignPurpose::Chip,
        Purpose::IdentityQr => SignPurpose::IdentityQr,
        // Issue 15: the new device's recovery, the old device's cancel, a key re-binding.
        Purpose::Recovery => SignPurpose::Recovery,
        Purpose::RecoveryCancel => SignPurpose::RecoveryCancel,
        Purpose::Rebind => SignPurpose::Rebind,
    };
    SignRequest { purpose, user_initiated }
}

/// The bookkeeping key is created like the device key but without user authentication: it
/// signs in the background and must never show a prompt.
fn bookkeeping_options(device: &KeyOptions) -> KeyOptions {
    KeyOptions { require_user_authentication: false, ..device.clone() }
}

/// Where this device stands, read from the store in one place (the FFI's `status()`).
pub(crate) struct DeviceState {
    /// The enrolled account, if any (with its inactive status).
    pub account: Option<AccountRow>,
    /// An enrollment is waiting for its OTP.
    pub awaiting_otp: bool,
    /// The absolute expiry of the stored session, if it is not past it.
    pub session_expires_at: Option<i64>,
}

/// Passcode failures and lock, with what is left before a delay and before the wipe.
pub(crate) struct PasscodeState {
    /// Consecutive failures.
    pub failed: u32,
    /// Failures left before a delay.
    pub before_lockout: u32,
    /// Failures left before the local account is erased.
    pub before_wipe: u32,
    /// Unix seconds until which attempts are refused, if still locked.
    pub locked_until: Option<i64>,
}

/// A device key just created in the platform key store ([`Account::create_device_key`]).
pub(crate) struct NewDeviceKey {
    /// SEC1 uncompressed point.
    pub(crate) public_key: Vec<u8>,
    /// Whether the platform keeps it in hardware (TEE, StrongBox, Secure Enclave).
    pub(crate) hardware_backed: bool,
    /// The platform's attestation chain (DER certificates; may be empty).
    pub(crate) attestation: Vec<Vec<u8>>,
}

impl Account {
    pub(crate) fn new(
        store: Store,
        net: Net,
        keys: Arc<dyn DeviceKeyStore>,
        clock: SharedClock,
        platform: String,
        device_label: String,
    ) -> Self {
        Account {
            store,
            net,
            keys,
            clock,
            platform,
            device_label,
            refresh_lock: tokio::sync::Mutex::new(()),
            passcode_lock: tokio::sync::Mutex::new(()),
            registry_fetches: Default::default(),
            services: Default::default(),
        }
    }

    pub(crate) fn now(&self) -> i64 {
        self.clock.now()
    }

    /// The account, which must exist and be active.
    pub(crate) fn active_account(&self) -> Result<AccountRow> {
        let acc = self.store.account()?.ok_or(Error::Domain(Msg::NotEnrolled))?;
        if let Some(status) = &acc.inactive_status {
            return Err(Error::DeviceInactive(status.clone()));
        }
        Ok(acc)
    }

    /// Remember a server's "device inactive" answer locally, then pass the error on.
    pub(crate) fn note_inactive<T>(&self, r: Result<T>) -> Result<T> {
        if let Err(Error::DeviceInactive(status)) = &r {
            if let Err(e) = self.record_inactive(status) {
                tracing::warn!(error = %e, "could not record inactive device");
            }
        }
        r
    }

    /// Record the server's status of this device. The first time a remote lock is learned it is
    /// also written to the activity log (queued: it is signed with the next entry), and the
    /// outbox is held (issue 15).
    pub(crate) fn record_inactive(&self, status: &str) -> Result<()> {
        let before = self.store.account()?.and_then(|a| a.inactive_status);
        self.store.mark_inactive(status)?;
        if status == "locked" && before.as_deref() != Some("locked") {
            self.store.queue_activity(&crate::store::PendingActivity {
                kind: ActivityKind::DeviceChange,
                summary: "locked_remotely".into(),
                at: self.now(),
            })?;
        }
        Ok(())
    }

    /// The device's enrollment and session state (no network call).
    pub(crate) fn device_state(&self) -> Result<DeviceState> {
        let account = self.store.account()?;
        let awaiting_otp = self.store.pending::<serde_json::Value>(PENDING_ENROLLMENT)?.is_some();
        let now = self.now();
        let session_expires_at = self.store.session()?.map(|s| s.absolute_expires_at).filter(|&t| t > now);
        Ok(DeviceState { account, awaiting_otp, session_expires_at })
    }

    /// This device's id, once enrolled.
    pub(crate) fn this_device_id(&self) -> Result<Option<String>> {
        Ok(self.store.account()?.map(|a| a.device_id))
    }

    /// Passcode failures and lock (`auth.not_enrolled` without an account).
    pub(crate) fn passcode_state(&self) -> Result<PasscodeState> {
        let row = self.store.passcode()?.ok_or(Error::Domain(Msg::NotEnrolled))?;
        let now = self.now();
        Ok(PasscodeState {
            failed: row.failed,
            before_lockout: passcode::FREE_ATTEMPTS.saturating_sub(row.failed),
            before_wipe: passcode::WIPE_AFTER.saturating_sub(row.failed),
            locked_until: row.locked_until.filter(|&u| u > now),
        })
    }

    /// Path of the database file (diagnostics, tests).
    pub(crate) fn database_path(&self) -> std::path::PathBuf {
        self.store.path().to_path_buf()
    }

    /// `PRAGMA integrity_check` of the database.
    pub(crate) fn database_integrity_check(&self) -> Result<String> {
        self.store.integrity_check()
    }

    /// The store's commit counts (write transactions, fsync'd ones); test support only.
    #[cfg(feature = "test-support")]
    pub(crate) fn commit_counts(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        let c = self.store.commit_counts();
        (c.commits.load(Relaxed), c.synced.load(Relaxed))
    }

    /// The stored session tokens (access, refresh). Test support only.
    #[cfg(feature = "test-support")]
    pub(crate) fn session_tokens(&self) -> Option<(String, String)> {
        self.store.session().ok().flatten().map(|s| (s.tokens.access_token.clone(), s.tokens.refresh_token.clone()))
    }

    // ---- signing -------------------------------------------------------------------------

    /// Sign a statement with the device key, for an operation the citizen initiated (the key
    /// store may prompt): the counter is committed first, the key store's signature is
    /// normalised and verified against the known public key before it is sent.
    pub(crate) async fn sign_statement(
        &self,
        alias: &str,
        public_key: &[u8],
        statement: Statement,
    ) -> Result<SignedStatement> {
        let request = sign_request(&statement, true);
        self.sign_with(alias, public_key, statement, request).await
    }

    /// Sign a bookkeeping statement (activity entry or anchor) with the bookkeeping key, never
    /// prompting (`user_initiated = false`). Refuses any other purpose: the server would too.
    pub(crate) async fn sign_bookkeeping(&self, key: &BookkeepingKey, statement: Statement) -> Result<SignedStatement> {
        if !crate::protocol::bookkeeping_may_sign(statement.purpose) {
            return Err(Error::KeyStore(DeviceKeyStoreError::Failure {
                reason: format!("the bookkeeping key may not sign {}", statement.purpose.as_str()),
            }));
        }
        let request = sign_request(&statement, false);
        let r = self.sign_with(&key.alias, &key.public_key, statement, request).await;
        if let Err(Error::KeyStore(
            DeviceKeyStoreError::KeyInvalidated { .. } | DeviceKeyStoreError::KeyNotFound { .. },
        )) = &r
        {
            // Gone for good: the next login registers a new one; entries wait until then.
            tracing::warn!("the bookkeeping key is gone; a new one is registered at the next login");
            let lost = BookkeepingKey { lost: true, ..key.clone() };
            if let Err(e) = self.store.set_bookkeeping_key(&lost) {
                tracing::warn!(error = %e, "could not record the lost bookkeeping key");
            }
        }
        r
    }

    async fn sign_with(
        &self,
        alias: &str,
        public_key: &[u8],
        statement: Statement,
        request: SignRequest,
    ) -> Result<SignedStatement> {
        let message = statement.canonical_bytes();
        // Awaited in place: dropping this future (the caller's coroutine or task was cancelled)
        // cancels the foreign call and with it any prompt.
        let sig = self.keys.sign(alias.to_string(), message.clone(), request).await.map_err(Error::KeyStore)?;
        let sig = crypto::verify_device_signature(public_key, &message, &sig).map_err(|e| {
            Error::KeyStore(DeviceKeyStoreError::Failure { reason: format!("key store signature refused: {e}") })
        })?;
        Ok(SignedStatement { statement, signature: crypto::b64(&sig.to_bytes()) })
    }

    /// A new key in the platform key store under `alias` (it never leaves it): its public key
    /// as a SEC1 point, whatever encoding the platform returned.
    pub(crate) async fn create_key_point(&self, alias: &str, options: &KeyOptions) -> Result<Vec<u8>> {
        let public_key = self.keys.create_key(alias.to_string(), options.clone()).await.map_err(Error::KeyStore)?;
        let vk = crypto::parse_public_key(&public_key).map_err(|_| {
            Error::KeyStore(DeviceKeyStoreError::Failure { reason: "key store returned an invalid public key".into() })
        })?;
        Ok(crypto::sec1_uncompressed(&vk))
    }

    /// A new device key as the server registers it (an enrollment, a recovery): the SEC1
    /// point, whether the platform keeps it in hardware, and its attestation chain.
    pub(crate) async fn create_device_key(&self, alias: &str, options: &KeyOptions) -> Result<NewDeviceKey> {
        let public_key = self.create_key_point(alias, options).await?;
        let (ks, a) = (self.keys.clone(), alias.to_string());
        let hardware_backed = keystore(move || ks.is_hardware_backed(a)).await?;
        let (ks, a) = (self.keys.clone(), alias.to_string());
        let attestation = keystore(move || ks.attestation_chain(a)).await?;
        Ok(NewDeviceKey { public_key, hardware_backed, attestation })
    }

    /// Create a bookkeeping key for the device key `device_alias` (replacing any), SEC1.
    async fn create_bookkeeping_key(&self, device_alias: &str, options: &KeyOptions) -> Result<BookkeepingKey> {
        let alias = bookkeeping_alias(device_alias);
        let public_key = self.create_key_point(&alias, &bookkeeping_options(options)).await?;
        Ok(BookkeepingKey { alias, public_key, endorsement: None, lost: false, retired: vec![] })
    }

    /// For an account without a usable registered bookkeeping key (enrolled before v7, its record
    /// unreadable, or the key store lost the key): the key to register in the next user-initiated
    /// signature, created now if needed (no prompt: it has no user authentication) and
    /// remembered unregistered; a lost key's registration is kept as retired (older entries were
    /// signed with it). `None` when the key store cannot make one: the signature then goes ahead
    /// without it.
    async fn bookkeeping_to_register(&self, acc: &AccountRow) -> Option<BookkeepingKey> {
        let retired = match self.store.bookkeeping_key() {
            Ok(Some(k)) if k.registered() => return None,
            Ok(Some(k)) if !k.lost => return Some(k),
            Ok(Some(k)) => k.endorsed_keys(),
            Ok(None) => vec![],
            Err(e) => {
                tracing::warn!(error = %e, "bookkeeping key record unreadable");
                return None;
            }
        };
        let options =
            KeyOptions { require_user_authentication: false, prefer_strongbox: true, attestation_challenge: vec![] };
        match self.create_bookkeeping_key(&acc.key_alias, &options).await {
            Ok(k) => {
                let k = BookkeepingKey { retired, ..k };
                if let Err(e) = self.store.set_bookkeeping_key(&k) {
                    tracing::warn!(error = %e, "could not record the bookkeeping key");
                    return None;
                }
                Some(k)
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not create the bookkeeping key");
                None
            }
        }
    }

    pub(crate) async fn sign_for(
        &self,
        acc: &AccountRow,
        purpose: Purpose,
        nonce: String,
        subject: String,
    ) -> Result<SignedStatement> {
        let counter = self.store.next_counter()?;
        self.sign_reserved(acc, purpose, nonce, subject, counter).await
    }

    /// [`Account::sign_for`] with a counter already reserved (committed) by the caller.
    pub(crate) async fn sign_reserved(
        &self,
        acc: &AccountRow,
        purpose: Purpose,
        nonce: String,
        subject: String,
        counter: u64,
    ) -> Result<SignedStatement> {
        let st = Statement {
            purpose,
            audience: self.net.audience().to_string(),
            nonce,
            device_id: acc.device_id.clone(),
            counter,
            issued_at: self.now(),
            subject,
        };
        self.sign_statement(&acc.key_alias, &acc.public_key, st).await
    }

    /// Fetch a nonce for `purpose` and check the server signs for the audience we expect.
    pub(crate) async fn challenge(&self, acc: &AccountRow, purpose: Purpose) -> Result<String> {
        let r: ChallengeResponse = self.note_inactive(
            self.net.post(PATH_CHALLENGE, &ChallengeRequest { device_id: acc.device_id.clone(), purpose }, None).await,
        )?;
        if r.audience != self.net.audience() {
            return Err(Error::Net(NetError {
                kind: NetworkErrorKind::Protocol,
                detail: "challenge for another audience".into(),
                retry_after: None,
            }));
        }
        // The old device's next contact during a recovery (issue 15).
        self.take_recovery_notice(r.recovery_notice.as_deref()).await;
        Ok(r.nonce)
    }

    // ---- enrollment ----------------------------------------------------------------------

    /// Validate enrollment input; returns normalised (cccd, dob, phone) or every field error.
    pub(crate) fn validate_enrollment(
        &self,
        cccd_no: &str,
        dob: &str,
        phone: &str,
    ) -> std::result::Result<Identity, Vec<FieldError>> {
        let mut errors = cccd::validate_identity(cccd_no.trim(), dob.trim(), Date::from_unix_vn(self.now()));
        let phone = cccd::normalize_phone(phone).map_err(|e| errors.push(e)).ok();
        match phone {
            Some(phone) if errors.is_empty() => {
                Ok(Identity { cccd: cccd_no.trim().to_string(), date_of_birth: dob.trim().to_string(), phone })
            }
            _ => Err(errors),
        }
    }

    pub(crate) async fn start_enrollment(
        &self,
        cccd_no: &str,
        dob: &str,
        phone: &str,
    ) -> Result<(EnrollStartResponse, String)> {
        if let Some(acc) = self.store.account()? {
            if acc.inactive_status.is_none() {
                return Err(Error::Domain(Msg::AlreadyEnrolled));
            }
        }
        let identity = self.validate_enrollment(cccd_no, dob, phone).map_err(Error::Fields)?;
        let req = EnrollStartRequest {
            cccd: identity.cccd.clone(),
            date_of_birth: identity.date_of_birth.clone(),
            phone: identity.phone.clone(),
        };
        let resp: EnrollStartResponse = self.net.post(PATH_ENROLL_START, &req, None).await?;
        let device_id = uuid::Uuid::new_v4().to_string();
        self.store.put_pending(
            PENDING_ENROLLMENT,
            &resp.enrollment_id,
            resp.otp_expires_at,
            &PendingEnrollment {
                identity,
                device_id: device_id.clone(),
                masked_phone: resp.masked_phone.clone(),
                has_active_device: resp.has_active_device,
                transfer_secret: None,
            },
        )?;
        Ok((resp, device_id))
    }

    pub(crate) async fn complete_enrollment(
        &self,
        otp: &str,
        new_passcode: &str,
        options: KeyOptions,
    ) -> Result<Enrolled> {
        let PendingRow::<PendingEnrollment> { reference: enrollment_id, payload: pending, .. } =
            self.store.pending(PENDING_ENROLLMENT)?.ok_or(Error::Domain(Msg::NoPendingEnrollment))?;
        let mut fields = vec![];
        if otp.len() != 6 || !otp.bytes().all(|c| c.is_ascii_digit()) {
            fields.push(FieldError::new("otp", Msg::OtpFormat));
        }
        if let Err(Error::Fields(f)) = passcode::validate_new(new_passcode, Some(&pending.identity.date_of_birth)) {
            fields.extend(f);
        }
        if !fields.is_empty() {
            return Err(Error::Fields(fields));
        }

        // The device key: created in the platform key store, never seen by the core.
        let alias = key_alias(&pending.device_id);
        let NewDeviceKey { public_key, hardware_backed, attestation } =
            self.create_device_key(&alias, &options).await?;
        // The bookkeeping key (no user authentication): registered by the proof's subject, which
        // the device key signs.
        let mut bookkeeping = self.create_bookkeeping_key(&alias, &options).await?;

        let proof = self
            .sign_statement(
                &alias,
                &public_key,
                Statement {
                    purpose: Purpose::Enroll,
                    audience: self.net.audience().to_string(),
                    nonce: enrollment_id.clone(),
                    device_id: pending.device_id.clone(),
                    counter: 1,
                    issued_at: self.now(),
                    subject: crate::protocol::bookkeeping_subject(&bookkeeping.public_key),
                },
            )
            .await?;
        bookkeeping.endorsement = Some(proof.clone());
        let req = EnrollCompleteRequest {
            enrollment_id,
            otp: otp.to_string(),
            device: DeviceRegistration {
                device_id: pending.device_id.clone(),
                public_key: crypto::b64(&public_key),
                hardware_backed,
                attestation_chain: attestation.iter().map(|c| crypto::b64(c)).collect(),
                platform: self.platform.clone(),
                label: self.device_label.clone(),
            },
            proof,
            transfer_secret: pending.transfer_secret.clone(),
        };
        let resp: EnrollCompleteResponse = match self.net.post(PATH_ENROLL_COMPLETE, &req, None).await {
            Ok(r) => r,
            Err(e) => {
                // A dead enrollment cannot be retried: drop it and the unused key.
                if matches!(e, Error::Domain(Msg::OtpExpired | Msg::OtpAttemptsExceeded | Msg::NoPendingEnrollment)) {
                    self.store.delete_pending(PENDING_ENROLLMENT)?;
                    for a in [alias.clone(), bookkeeping.alias.clone()] {
                        let ks = self.keys.clone();
                        let _ = keystore(move || ks.delete_key(a)).await;
                    }
                }
                return Err(e);
            }
        };

        let old = self.store.account()?;
        let verifier_key = self.store.derive_key(passcode::VERIFIER_KEY_INFO);
        let (salt, verifier) = passcode::make_verifier(&verifier_key, new_passcode);
        self.store.save_enrollment(
            &AccountRow {
                account_id: resp.account_id.clone(),
                device_id: pending.device_id.clone(),
                key_alias: alias,
                public_key,
                hardware_backed,
                counter: 1,
                enrolled_at: self.now(),
                inactive_status: None,
            },
            &pending.identity,
            &PasscodeRow { salt, verifier, failed: 0, locked_until: None },
        )?;
        self.store.set_bookkeeping_key(&bookkeeping)?;
        if let Some(old) = old {
            self.delete_device_keys(&old.key_alias).await;
        }
        let summary = match &resp.replaced_device_id {
            Some(old) if resp.transfer_approved => format!("device={} transferred_from={old}", pending.device_id),
            Some(old) => format!("device={} replaced={old}", pending.device_id),
            None => format!("device={}", pending.device_id),
        };
        self.log_activity(ActivityKind::Enrollment, summary).await;
        Ok(Enrolled {
            account_id: resp.account_id,
            device_id: pending.device_id,
            hardware_backed,
            replaced_device_id: resp.replaced_device_id,
            transfer_approved: resp.transfer_approved,
        })
    }

    // ---- passcode ------------------------------------------------------------------------

    /// Check the passcode under the lockout policy. The failure is committed before the
    /// comparison is acted on; a kill at any point never loses a failed attempt.
    ///
    /// Attempts are serialised by `passcode_lock` and each one reserves its failure with an
    /// atomic increment in the database ([`Store::reserve_passcode_attempt_with`]). Both are needed:
    /// the atomic increment alone counts every attempt, but overlapping *correct* attempts would
    /// then hold several reservations at once and the fifth would impose a lockout on the
    /// citizen; serialising them makes each success clear the count before the next attempt
    /// reserves. The comparison is one HMAC, so the lock costs nothing noticeable.
    pub(crate) async fn verify_passcode(&self, candidate: &str) -> Result<()> {
        self.verify_passcode_reserving(candidate, None).await.map(drop)
    }

    /// [`Account::verify_passcode`], and on success the next value of `counter` reserved in the
    /// same commit as the cleared failures (the operation the passcode unlocks signs with it:
    /// one fsync'd commit instead of two). `Some(value)` exactly when `counter` is given.
    pub(crate) async fn verify_passcode_reserving(
        &self,
        candidate: &str,
        counter: Option<CounterKind>,
    ) -> Result<Option<u64>> {
        if candidate.len() != 6 || !candidate.bytes().all(|c| c.is_ascii_digit()) {
            return Err(Error::Fields(vec![FieldError::new("passcode", Msg::PasscodeFormat)]));
        }
        let _serial = self.passcode_lock.lock().await;
        // With a counter, it is reserved with the attempt (one fsync'd commit before the
        // comparison) and the success is committed without waiting for fsync: every caller
        // with a counter commits with `synchronous=FULL` before it returns (decision 46).
        let (gate, row, reserved) =
            self.store.reserve_passcode_attempt_with(self.now(), counter)?.ok_or(Error::Domain(Msg::NotEnrolled))?;
        match (gate, row) {
            (Gate::Wipe, _) => {
                self.wipe().await?;
                Err(Error::Domain(Msg::Wiped))
            }
            (Gate::Locked(secs), _) => Err(Error::LockedOut(secs)),
            (Gate::Proceed { failed, locked_until }, Some(row)) => {
                let key = self.store.derive_key(passcode::VERIFIER_KEY_INFO);
                if passcode::matches(&key, &row.salt, &row.verifier, candidate) {
                    match reserved {
                        Some(value) => {
                            self.store.passcode_succeeded_unsynced(failed)?;
                            Ok(Some(value))
                        }
                        None => self.store.passcode_succeeded(failed, None),
                    }
                } else if failed >= passcode::WIPE_AFTER {
                    tracing::warn!("passcode: wipe threshold reached");
                    self.wipe().await?;
                    Err(Error::Domain(Msg::Wiped))
                } else {
                    tracing::info!(failed, "passcode: failed attempt");
                    if locked_until.is_some() {
                        self.log_activity(ActivityKind::Lockout, format!("failed_attempts={failed}")).await;
                    }
                    Err(passcode::failure_error(failed))
                }
            }
            (Gate::Proceed { .. }, None) => Err(Error::Storage("passcode reservation without a verifier".into())),
        }
    }

    pub(crate) async fn change_passcode(&self, old: &str, new: &str) -> Result<()> {
        self.verify_passcode(old).await?;
        if old == new {
            return Err(Error::Fields(vec![FieldError::new("passcode", Msg::PasscodeSame)]));
        }
        let dob = self.store.identity()?.map(|i| i.date_of_birth.clone());
        passcode::validate_new(new, dob.as_deref())?;
        self.set_passcode(new)?;
        self.log_activity(ActivityKind::PasscodeChange, "changed".into()).await;
        Ok(())
    }

    fn set_passcode(&self, new: &str) -> Result<()> {
        let key = self.store.derive_key(passcode::VERIFIER_KEY_INFO);
        let (salt, verifier) = passcode::make_verifier(&key, new);
        self.store.set_passcode(&PasscodeRow { salt, verifier, failed: 0, locked_until: None })
    }

    pub(crate) async fn start_passcode_reset(&self) -> Result<ResetStartResponse> {
        let acc = self.active_account()?;
        let r: ResetStartResponse = self.note_inactive(
            self.net.post(PATH_RESET_START, &ResetStartRequest { device_id: acc.device_id }, None).await,
        )?;
        self.store.put_pending(
            PENDING_RESET,
            &r.reset_id,
            r.otp_expires_at,
            &PendingReset { masked_phone: r.masked_phone.clone() },
        )?;
        Ok(r)
    }

    pub(crate) async fn complete_passcode_reset(&self, otp: &str, new: &str) -> Result<()> {
        let acc = self.active_account()?;
        let PendingRow::<PendingReset> { reference: reset_id, .. } =
            self.store.pending(PENDING_RESET)?.ok_or(Error::Domain(Msg::NoPendingReset))?;
        let dob = self.store.identity()?.map(|i| i.date_of_birth.clone());
        let mut fields = vec![];
        if otp.len() != 6 || !otp.bytes().all(|c| c.is_ascii_digit()) {
            fields.push(FieldError::new("otp", Msg::OtpFormat));
        }
        if let Err(Error::Fields(f)) = passcode::validate_new(new, dob.as_deref()) {
            fields.extend(f);
        }
        if !fields.is_empty() {
            return Err(Error::Fields(fields));
        }
        let signed = self.sign_for(&acc, Purpose::PasscodeReset, reset_id.clone(), String::new()).await?;
        let r: Result<crate::protocol::Ok> = self
            .net
            .post(PATH_RESET_COMPLETE, &ResetCompleteRequest { reset_id, otp: otp.to_string(), signed }, None)
            .await;
        match self.note_inactive(r) {
            Ok(_) => {}
            Err(Error::Domain(Msg::NoPendingEnrollment)) => {
                self.store.delete_pending(PENDING_RESET)?;
                return Err(Error::Domain(Msg::NoPendingReset));
            }
            Err(e @ Error::Domain(Msg::OtpExpired | Msg::OtpAttemptsExceeded)) => {
                self.store.delete_pending(PENDING_RESET)?;
                return Err(e);
            }
            Err(e) => return Err(e),
        }
        self.set_passcode(new)?;
        self.store.delete_pending(PENDING_RESET)?;
        self.log_activity(ActivityKind::PasscodeChange, "reset_with_otp".into()).await;
        Ok(())
    }

    // ---- login and session ---------------------------------------------------------------

    /// Store the tokens of an answer; with `activity`, queue that entry in the same commit.
    fn save_tokens(&self, t: TokenResponse, activity: Option<&PendingActivity>) -> Result<SessionRow> {
        self.save_tokens_with(t, activity, true)
    }

    /// [`Account::save_tokens`]; with `synced` false the commit does not wait for fsync
    /// (`Store::save_session_unsynced`: the caller makes it durable before it returns).
    fn save_tokens_with(
        &self,
        t: TokenResponse,
        activity: Option<&PendingActivity>,
        synced: bool,
    ) -> Result<SessionRow> {
        let row = SessionRow {
            session_id: t.session_id.clone(),
            tokens: Tokens { access_token: t.access_token.clone(), refresh_token: t.refresh_token.clone() },
            access_expires_at: t.access_expires_at,
            idle_expires_at: t.idle_expires_at,
            absolute_expires_at: t.absolute_expires_at,
        };
        // `t` holds copies of the tokens; wipe them.
        let TokenResponse { access_token, refresh_token, .. } = t;
        drop(Zeroizing::new(access_token));
        drop(Zeroizing::new(refresh_token));
        if synced {
            self.store.save_session(&row, activity)?;
        } else {
            self.store.save_session_unsynced(&row, activity)?;
        }
        Ok(row)
    }

    pub(crate) async fn login(&self, passcode_in: &str) -> Result<SessionRow> {
        let acc = self.active_account()?;
        // The login statement's counter is reserved with the passcode's success (one commit,
        // durable before the signature is even made; a failed challenge leaves a harmless gap).
        let counter = self
            .verify_passcode_reserving(passcode_in, Some(CounterKind::Device))
            .await?
            .ok_or_else(|| Error::Storage("no counter reserved".into()))?;
        let nonce = self.challenge(&acc, Purpose::Login).await?;
        // An account enrolled before bookkeeping keys registers one with this login (decision
        // 26): the device key signs its public key in the subject.
        let register = self.bookkeeping_to_register(&acc).await;
        let subject =
            register.as_ref().map(|k| crate::protocol::bookkeeping_subject(&k.public_key)).unwrap_or_default();
        let signed = self.sign_reserved(&acc, Purpose::Login, nonce, subject, counter).await?;
        let endorsement = signed.clone();
        let t: TokenResponse = self.note_inactive(self.net.post(PATH_LOGIN, &LoginRequest { signed }, None).await)?;
        // The session and the activity entry that records the login: one commit, not fsync'd
        // on its own — the signed entry below commits with `synchronous=FULL` before the login
        // returns, or `Store::sync` does (decision 46).
        let logged = self.activity_now(ActivityKind::Login, "challenge_response".into());
        let row = self.save_tokens_with(t, Some(&logged), false)?;
        if let Some(mut k) = register {
            k.endorsement = Some(endorsement);
            if let Err(e) = self.store.set_bookkeeping_key(&k) {
                tracing::warn!(error = %e, "could not record the registered bookkeeping key");
            }
        }
        match self.flush_activity().await {
            Ok(n) if n > 0 => {}
            r => {
                if let Err(e) = r {
                    tracing::info!(error = %e, "the login's activity entry kept waiting for its signature");
                }
                // Nothing was committed with `synchronous=FULL` after the session: make it
                // durable. A failure here does not undo the login (the session is in the WAL,
                // which survives a kill of the app).
                if let Err(e) = self.store.sync() {
                    tracing::warn!(error = %e, "the login's session could not be synced");
                }
            }
        }
        Ok(row)
    }

    /// Rotate the refresh token. Callers hold `refresh_lock`.
    async fn rotate(&self, current: &SessionRow) -> Result<SessionRow> {
        let req = RefreshRequest { refresh_token: current.tokens.refresh_token.clone() };
        let r: Result<TokenResponse> = self.net.post(PATH_REFRESH, &req, None).await;
        drop(Zeroizing::new(req.refresh_token.clone()));
        match self.note_inactive(r) {
            Ok(t) => self.save_tokens(t, None),
            Err(e @ Error::Domain(Msg::SessionExpired | Msg::SessionRevoked)) => {
                self.store.clear_session()?;
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    /// Force a refresh (single-flight with automatic refreshes).
    pub(crate) async fn refresh(&self) -> Result<SessionRow> {
        self.active_account()?;
        let before = self.store.session()?.ok_or(Error::Domain(Msg::NotLoggedIn))?;
        let _g = self.refresh_lock.lock().await;
        let s = self.store.session()?.ok_or(Error::Domain(Msg::NotLoggedIn))?;
        if s.tokens.refresh_token != before.tokens.refresh_token {
            // Someone refreshed while we waited: that refresh is ours too.
            return Ok(s);
        }
        self.rotate(&s).await
    }

    /// A valid access token, refreshing at most once across concurrent callers.
    pub(crate) async fn access_token(&self) -> Result<Zeroizing<String>> {
        self.active_account()?;
        let fresh = |s: &SessionRow, now: i64| s.access_expires_at - REFRESH_MARGIN_SECS > now;
        let s = self.store.session()?.ok_or(Error::Domain(Msg::NotLoggedIn))?;
        let now = self.now();
        if now >= s.absolute_expires_at {
            self.store.clear_session()?;
            return Err(Error::Domain(Msg::SessionExpired));
        }
        if fresh(&s, now) {
            return Ok(Zeroizing::new(s.tokens.access_token.clone()));
        }
        let _g = self.refresh_lock.lock().await;
        let s = self.store.session()?.ok_or(Error::Domain(Msg::NotLoggedIn))?;
        if fresh(&s, self.now()) {
            return Ok(Zeroizing::new(s.tokens.access_token.clone()));
        }
        let s = self.rotate(&s).await?;
        Ok(Zeroizing::new(s.tokens.access_token.clone()))
    }

    pub(crate) async fn logout(&self) -> Result<()> {
        let Some(s) = self.store.session()? else { return Ok(()) };
        self.store.clear_session()?;
        self.log_activity(ActivityKind::Logout, String::new()).await;
        let req = LogoutRequest { refresh_token: Some(s.tokens.refresh_token.clone()) };
        let r: Result<crate::protocol::Ok> = self.net.post(PATH_LOGOUT, &req, Some(&s.tokens.access_token)).await;
        if let Err(e) = r {
            // The session is gone on this device either way; the server's copy expires with it.
            tracing::info!(error = %e, "logout not confirmed by the server");
        }
        Ok(())
    }

    pub(crate) async fn list_devices(&self) -> Result<Vec<DeviceDto>> {
        let token = self.access_token().await?;
        let r: DevicesResponse = self.note_inactive(self.net.get(PATH_DEVICES, Some(&token)).await)?;
        Ok(r.devices)
    }

    pub(crate) async fn revoke_device(&self, device_id: &str, passcode_in: &str) -> Result<()> {
        let acc = self.active_account()?;
        self.verify_passcode(passcode_in).await?;
        let token = self.access_token().await?;
        let nonce = self.challenge(&acc, Purpose::RevokeDevice).await?;
        let signed = self.sign_for(&acc, Purpose::RevokeDevice, nonce, device_id.to_string()).await?;
        let _: crate::protocol::Ok =
            self.note_inactive(self.net.post(PATH_DEVICE_REVOKE, &RevokeDeviceRequest { signed }, Some(&token)).await)?;
        self.log_activity(ActivityKind::DeviceChange, format!("revoked={device_id}")).await;
        if device_id == acc.device_id {
            self.store.mark_inactive("revoked")?;
        }
        Ok(())
    }

    pub(crate) async fn approve_transfer(&self, enrollment_id: &str, passcode_in: &str) -> Result<()> {
        let acc = self.active_account()?;
        self.verify_passcode(passcode_in).await?;
        let token = self.access_token().await?;
        let nonce = self.challenge(&acc, Purpose::Transfer).await?;
        let signed = self.sign_for(&acc, Purpose::Transfer, nonce, enrollment_id.to_string()).await?;
        let _: crate::protocol::Ok = self.note_inactive(
            self.net.post(PATH_TRANSFER_APPROVAL, &TransferApprovalRequest { signed }, Some(&token)).await,
        )?;
        self.log_activity(ActivityKind::DeviceChange, format!("transfer_approved={enrollment_id}")).await;
        Ok(())
    }

    /// On the new phone, during an enrollment: the transfer QR code to show to the old phone
    /// (issue 15, proximity check). The secret is made once and kept with the enrollment.
    pub(crate) fn transfer_code(&self) -> Result<String> {
        let PendingRow::<PendingEnrollment> { reference, mut payload, expires_at } =
            self.store.pending(PENDING_ENROLLMENT)?.ok_or(Error::Domain(Msg::NoPendingEnrollment))?;
        let secret = match &payload.transfer_secret {
            Some(s) => s.clone(),
            None => {
                let s = crypto::random_b64url(16);
                payload.transfer_secret = Some(s.clone());
                self.store.put_pending(PENDING_ENROLLMENT, &reference, expires_at, &payload)?;
                s
            }
        };
        Ok(crate::protocol::recovery::TransferCode {
            enrollment_id: reference,
            audience: self.net.audience().to_string(),
            secret,
        }
        .encode())
    }

    /// On the old phone: approve the hand-over to the phone whose transfer QR code was scanned
    /// (after the passcode; the device key signs the code's secret digest). No waiting period:
    /// the two phones are side by side.
    pub(crate) async fn approve_transfer_code(&self, text: &str, passcode_in: &str) -> Result<String> {
        let code = crate::protocol::recovery::TransferCode::decode(text.trim())
            .filter(|c| c.audience == self.net.audience())
            .ok_or(Error::Domain(Msg::TransferCodeInvalid))?;
        let acc = self.active_account()?;
        self.verify_passcode(passcode_in).await?;
        let token = self.access_token().await?;
        let nonce = self.challenge(&acc, Purpose::Transfer).await?;
        let subject = crate::protocol::recovery::transfer_subject(&code.enrollment_id, &code.secret);
        let signed = self.sign_for(&acc, Purpose::Transfer, nonce, subject).await?;
        let _: crate::protocol::Ok = self.note_inactive(
            self.net.post(PATH_TRANSFER_APPROVAL, &TransferApprovalRequest { signed }, Some(&token)).await,
        )?;
        self.log_activity(ActivityKind::DeviceChange, format!("transfer_approved={} proximity=qr", code.enrollment_id))
            .await;
        Ok(code.enrollment_id)
    }

    pub(crate) async fn device_status(&self) -> Result<DeviceStatusResponse> {
        let acc = self.store.account()?.ok_or(Error::Domain(Msg::NotEnrolled))?;
        let r: DeviceStatusResponse =
            self.net.post(PATH_DEVICE_STATUS, &DeviceStatusRequest { device_id: acc.device_id }, None).await?;
        self.take_recovery_notice(r.recovery_notice.as_deref()).await;
        if r.status != "active" && acc.inactive_status.as_deref() != Some(r.status.as_str()) {
            self.record_inactive(&r.status)?;
            // The lock's entry is signed now (the bookkeeping key still works on a locked phone).
            if let Err(e) = self.flush_activity().await {
                tracing::info!(error = %e, "activity entries kept waiting for their signature");
            }
        }
        // A lifted lock (an official unlocked the device, issue 15): usable again; the outbox
        // stays held until the citizen decides (`release_held_outbox`).
        if r.status == "active" && self.store.clear_lock()? {
            self.log_activity(ActivityKind::DeviceChange, "unlocked".into()).await;
        }
        Ok(r)
    }

    /// Why the outbox waits for the citizen, if it does (issue 15).
    pub(crate) fn outbox_hold(&self) -> Result<Option<String>> {
        self.store.outbox_hold()
    }

    /// The citizen's decision on a held outbox, once the device is usable again: `deliver`
    /// lifts the hold (a key rotation first re-signs the queued requests with the new key);
    /// otherwise the held requests are withdrawn (marked rejected with `outbox.withdrawn`,
    /// kept in the list). Refused while the device is still locked or inactive, and when
    /// nothing is held. Returns how many requests were affected.
    pub(crate) async fn release_held_outbox(&self, deliver: bool) -> Result<u32> {
        let acc = self.active_account()?;
        let reason = self.store.outbox_hold()?.ok_or(Error::Domain(Msg::NothingHeld))?;
        let pending: Vec<_> = self.store.outbox()?.into_iter().filter(|r| r.state.is_pending()).collect();
        let n = u32::try_from(pending.len()).unwrap_or(u32::MAX);
        if deliver {
            if reason == crate::store::OUTBOX_HOLD_KEY_ROTATED {
                self.resign_outbox(&acc).await?;
            }
            self.store.set_outbox_hold(None)?;
            self.log_activity(ActivityKind::DeviceChange, format!("outbox_released={n} after={reason}")).await;
        } else {
            let now = self.now();
            for row in &pending {
                self.store.outbox_rejected(&row.submission_id, Msg::OutboxWithdrawn.code(), now)?;
                self.notify(&row.submission_id);
            }
            self.store.set_outbox_hold(None)?;
            self.log_activity(ActivityKind::DeviceChange, format!("outbox_withdrawn={n} after={reason}")).await;
        }
        Ok(n)
    }

    /// Delete a device key and its bookkeeping key (best effort).
    async fn delete_device_keys(&self, device_alias: &str) {
        for a in [device_alias.to_string(), bookkeeping_alias(device_alias)] {
            let ks = self.keys.clone();
            if let Err(e) = keystore(move || ks.delete_key(a)).await {
                tracing::warn!(error = %e, "could not delete a device key");
            }
        }
    }

    /// Erase the local account and its device keys (the data key stays; it protects nothing now).
    pub(crate) async fn wipe(&self) -> Result<()> {
        if let Some(acc) = self.store.account()? {
            self.delete_device_keys(&acc.key_alias).await;
        }
        self.store.wipe_account()
    }
}
