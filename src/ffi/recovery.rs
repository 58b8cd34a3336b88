//! Losing and changing the phone (issue 15): the recovery calls of the account sub-client (the
//! chip-based start is on the chip sub-client, next to the level upgrade). Thin wrappers over
//! `crate::account` (recovery flows).

use std::time::SystemTime;

use zeroize::Zeroizing;

use super::account::AccountClient;
use super::errors::CitizenError;
use super::facade::{EnrollmentInput, EnrollmentOutcome};
use super::types::time;
use crate::account::{NoticeRecord, PendingRecovery};
use crate::platform::KeyOptions;

/// How a recovery proves the citizen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum RecoveryMethod {
    /// The OTP and a read of the chip-based ID card (level-2 accounts).
    Chip,
    /// The OTP and an official's approval at a counter (level-1 accounts).
    Counter,
}

impl RecoveryMethod {
    fn from_wire(s: &str) -> RecoveryMethod {
        if s == "chip" {
            RecoveryMethod::Chip
        } else {
            RecoveryMethod::Counter
        }
    }
}

/// A lock of a lost phone, requested from this (another) device: the OTP went to the registered
/// phone ([`AccountClient::complete_remote_lock`] next; or `chip().remote_lock_with_chip`).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct RemoteLockTicket {
    /// The lock request (also the nonce of a chip read).
    pub lock_id: String,
    /// Where the OTP went (masked).
    pub masked_phone: String,
    /// Until when the OTP is valid.
    pub otp_expires_at: SystemTime,
}

/// A lost phone, locked: it cannot log in, sign, submit or present until it is unlocked at a
/// counter or a recovery replaces it; its data and outbox are kept.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct RemoteLockOutcome {
    /// The locked device.
    pub device_id: String,
    /// When it was locked.
    pub locked_at: SystemTime,
}

impl From<crate::protocol::recovery::RemoteLockCompleteResponse> for RemoteLockOutcome {
    fn from(r: crate::protocol::recovery::RemoteLockCompleteResponse) -> Self {
        RemoteLockOutcome { device_id: r.device_id, locked_at: time(r.locked_at) }
    }
}

/// A recovery started on this new device, waiting for its period to end
/// ([`AccountClient::complete_recovery`] from `ready_at` on).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct RecoveryTicket {
    /// The recovery.
    pub recovery_id: String,
    /// How it proved the citizen.
    pub method: RecoveryMethod,
    /// When it started.
    pub started_at: SystemTime,
    /// From when it may be completed (the waiting period's end).
    pub ready_at: SystemTime,
    /// The device it will replace (told, and able to cancel).
    pub old_device_id: Option<String>,
}

impl From<&PendingRecovery> for RecoveryTicket {
    fn from(r: &PendingRecovery) -> Self {
        RecoveryTicket {
            recovery_id: r.recovery_id.clone(),
            method: RecoveryMethod::from_wire(&r.method),
            started_at: time(r.started_at),
            ready_at: time(r.ready_at),
            old_device_id: r.old_device_id.clone(),
        }
    }
}

/// A recovery on another device that would replace this one, as the server told this device
/// (signed notice, verified). Show it to the citizen: if it was not them, cancel it
/// ([`AccountClient::cancel_recovery`]).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct RecoveryNoticeInfo {
    /// The recovery.
    pub recovery_id: String,
    /// How the other device proved the citizen.
    pub method: RecoveryMethod,
    /// When it started.
    pub started_at: SystemTime,
    /// When the other device may be activated (this one is then deactivated).
    pub ready_at: SystemTime,
}

impl From<&NoticeRecord> for RecoveryNoticeInfo {
    fn from(n: &NoticeRecord) -> Self {
        RecoveryNoticeInfo {
            recovery_id: n.recovery_id.clone(),
            method: RecoveryMethod::from_wire(&n.method),
            started_at: time(n.started_at),
            ready_at: time(n.ready_at),
        }
    }
}

/// A key re-binding waiting for its OTP ([`AccountClient::start_rebinding`]).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct RebindTicket {
    /// The re-binding.
    pub rebind_id: String,
    /// Where the OTP went, masked.
    pub masked_phone: String,
    /// When the OTP expires.
    pub otp_expires_at: SystemTime,
}

#[uniffi::export]
impl AccountClient {
    /// After a signing call failed with `keystore.key_invalidated` (biometrics changed):
    /// re-binding, step 1 — the server sends an OTP to the registered phone. The account, the
    /// data and the outbox stay. Main-safe; never prompts. Throws [`CitizenError`].
    pub async fn start_rebinding(&self) -> Result<RebindTicket, CitizenError> {
        let r = self.0.run::<_, CitizenError, _>(|a| async move { a.start_rebinding().await }).await?;
        Ok(RebindTicket {
            rebind_id: r.rebind_id,
            masked_phone: r.masked_phone,
            otp_expires_at: time(r.otp_expires_at),
        })
    }

    /// Re-binding, step 2: the passcode, then a new device key on this device (created with
    /// `key_options`), proven to the server with the session and the OTP; the server rotates the
    /// device key and the activity log records it. Requests queued before are held: they were
    /// signed with the old key and are re-signed only when the citizen confirms
    /// (`services().release_held_outbox(true, …)`). Returns how many requests are held.
    /// Main-safe; prompts once (the new key signs). Throws [`CitizenError`] (`NeedsLogin` when
    /// the session has ended: re-bind with the chip instead,
    /// `chip().complete_rebinding_with_chip`; `OtpRejected`, `PasscodeRejected`, `Refused` with
    /// `rebind.proof_invalid`).
    pub async fn complete_rebinding(
        &self,
        otp: String,
        passcode: String,
        key_options: KeyOptions,
    ) -> Result<i32, CitizenError> {
        let passcode = Zeroizing::new(passcode);
        let n = self
            .0
            .run::<_, CitizenError, _>(|a| async move {
                a.verify_passcode(&passcode).await?;
                a.complete_rebinding(&otp, key_options, None).await
            })
            .await?;
        Ok(super::types::int(n))
    }

    /// Lock a lost phone from this device (decision 48), step 1: the identifiers of the citizen
    /// whose phone is lost (any citizen: this may be a relative's or a new phone, enrolled or
    /// not), validated here and matched by the register; the OTP goes to the registered phone.
    /// The identifiers alone never lock. Nothing is stored or logged on this device. Main-safe;
    /// never prompts. Throws [`CitizenError`] (`InvalidInput` with field errors, `Refused` with
    /// `no_match` or `rate_limited`).
    pub async fn start_remote_lock(&self, input: EnrollmentInput) -> Result<RemoteLockTicket, CitizenError> {
        let r = self
            .0
            .run::<_, CitizenError, _>(|a| async move {
                a.start_remote_lock(&input.cccd, &input.date_of_birth, &input.phone).await
            })
            .await?;
        Ok(RemoteLockTicket {
            lock_id: r.lock_id,
            masked_phone: r.masked_phone,
            otp_expires_at: time(r.otp_expires_at),
        })
    }

    /// Lock a lost phone, step 2: the OTP sent to the registered phone locks the account's
    /// active device (when the SIM is gone with the phone: `chip().remote_lock_with_chip`).
    /// Main-safe; never prompts. Throws [`CitizenError`] (`OtpRejected`, `NotFound` with
    /// `lock.unknown`, `Refused` with `lock.replayed`).
    pub async fn complete_remote_lock(&self, lock_id: String, otp: String) -> Result<RemoteLockOutcome, CitizenError> {
        let r = self
            .0
            .run::<_, CitizenError, _>(|a| async move { a.complete_remote_lock(&lock_id, Some(&otp), None).await })
            .await?;
        Ok(r.into())
    }

    /// On the new phone, during an enrollment (after `start_enrollment`): the transfer QR code
    /// to show so that the old phone, side by side, approves the hand-over
    /// (`approve_transfer_code` there). Shown text only; no network call. Main-safe; never
    /// prompts. Throws [`CitizenError`] (`NotFound` without a pending enrollment).
    pub async fn transfer_code(&self) -> Result<String, CitizenError> {
        self.0.blocking(|a| a.transfer_code()).await
    }

    /// On the old phone: approve the hand-over to the phone whose transfer QR code was just
    /// scanned — the passcode, then the device key signs the code (purpose `DeviceManagement`).
    /// The new phone then completes its enrollment at once (no waiting period) and this phone is
    /// marked `Transferred`. Returns the approved enrollment id. Main-safe; prompts once. Throws
    /// [`CitizenError`] (`InvalidInput` with `transfer.code_invalid` for another code or
    /// server, `PasscodeRejected`, `NeedsLogin`).
    pub async fn approve_transfer_code(&self, code: String, passcode: String) -> Result<String, CitizenError> {
        let passcode = Zeroizing::new(passcode);
        self.0.run(|a| async move { a.approve_transfer_code(&code, &passcode).await }).await
    }

    /// On the old device: the recovery another device started, if the server told this device
    /// (notices arrive with `check_device_status` and every login challenge). No network call.
    /// Main-safe; never prompts. Throws [`CitizenError`].
    pub async fn pending_recovery_notice(&self) -> Result<Option<RecoveryNoticeInfo>, CitizenError> {
        self.0.blocking(|a| Ok(a.recovery_notice()?.as_ref().map(RecoveryNoticeInfo::from))).await
    }

    /// On the old device: cancel the recovery it was told about ("it was not me"): the passcode,
    /// then a statement signed by the device key (purpose `RecoveryCancel`). Returns the
    /// cancelled recovery's id. Main-safe; prompts once. Throws [`CitizenError`] (`NotFound`
    /// with `recovery.unknown` when none waits, `PasscodeRejected`, `NeedsEnrollment` when this
    /// device is locked or no longer active).
    pub async fn cancel_recovery(&self, passcode: String) -> Result<String, CitizenError> {
        let passcode = Zeroizing::new(passcode);
        self.0.run(|a| async move { a.cancel_recovery(&passcode).await }).await
    }

    /// On a new device, level-1 account: after `start_enrollment` (the OTP went to the
    /// registered phone) and an official's approval at a counter, start the recovery: the device
    /// key is created, the passcode set aside, and the server holds the recovery for its waiting
    /// period. Main-safe; may prompt (the new key signs). Throws [`CitizenError`] (`Refused`
    /// with `recovery.counter_required` before the official's approval, `recovery.chip_required`
    /// for a level-2 account: use `chip().start_recovery_with_chip`).
    pub async fn start_recovery_at_counter(
        &self,
        otp: String,
        new_passcode: String,
        key_options: KeyOptions,
    ) -> Result<RecoveryTicket, CitizenError> {
        let passcode = Zeroizing::new(new_passcode);
        let r = self
            .0
            .run::<_, CitizenError, _>(|a| async move {
                let enrollment = a.recovery_enrollment(&otp, &passcode)?;
                a.start_recovery(enrollment, &otp, &passcode, key_options, None).await
            })
            .await?;
        Ok(RecoveryTicket::from(&r))
    }

    /// On the new device: the recovery waiting here, if any (no network call). Main-safe; never
    /// prompts. Throws [`CitizenError`].
    pub async fn pending_recovery(&self) -> Result<Option<RecoveryTicket>, CitizenError> {
        self.0.blocking(|a| Ok(a.pending_recovery()?.as_ref().map(RecoveryTicket::from))).await
    }

    /// On the new device, once the waiting period is over: activate this device for the account
    /// (the old one is deactivated and told why). Main-safe; may prompt (the new key signs).
    /// Throws [`CitizenError`]: `Refused` with `recovery.waiting` before `ready_at`,
    /// `recovery.cancelled` if the old device or an official cancelled it (the recovery is then
    /// dropped here), `NotFound` with `recovery.unknown` when none waits.
    pub async fn complete_recovery(&self) -> Result<EnrollmentOutcome, CitizenError> {
        let e = self.0.run::<_, CitizenError, _>(|a| async move { a.complete_recovery().await }).await?;
        self.0.status_changed();
        Ok(EnrollmentOutcome {
            account_id: e.account_id,
            device_id: e.device_id,
            hardware_backed: e.hardware_backed,
            replaced_device_id: e.replaced_device_id,
            transfer_approved: e.transfer_approved,
        })
    }
}
