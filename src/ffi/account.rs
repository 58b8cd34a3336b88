//! The account sub-client: enrollment, passcode, login, sessions and devices. Thin wrappers
//! over [`crate::account`]; every method that touches storage, crypto or the network runs on
//! the core's runtime ([`super::runtime`]), so all of them are main-safe.

use zeroize::Zeroizing;

use super::errors::CitizenError;
use super::facade::{
    DeviceInfo, DeviceStatus, DeviceStatusInfo, Engine, EnrollmentInput, EnrollmentOutcome, EnrollmentTicket,
    PasscodeResetTicket, PasscodeStatus, SessionInfo,
};
use super::types::{int, opt_time, time, Platform};
use crate::error::FieldError;
use crate::platform::KeyOptions;

/// Account, enrollment, passcode, login, sessions and devices of one core
/// (`CitizenCore.account()`). Small enough to fake in a test of a view model.
#[derive(uniffi::Object)]
pub struct AccountClient(pub(crate) Engine);

#[uniffi::export]
impl AccountClient {
    /// Validate enrollment input without a network call: every field error at once (empty =
    /// valid). Pure computation: main-safe, never prompts, never throws.
    pub fn validate_enrollment(&self, input: EnrollmentInput) -> Vec<FieldError> {
        let Ok(account) = self.0.account() else {
            return super::facade::validate_enrollment_input(input);
        };
        match account.validate_enrollment(&input.cccd, &input.date_of_birth, &input.phone) {
            Ok(_) => vec![],
            Err(e) => e,
        }
    }

    /// Step 1 of enrollment: the number, date of birth and phone are validated locally, then
    /// matched against the population register, which sends an OTP to the phone. Main-safe;
    /// never prompts. Throws [`CitizenError`].
    pub async fn start_enrollment(&self, input: EnrollmentInput) -> Result<EnrollmentTicket, CitizenError> {
        let (r, _) = self
            .0
            .run::<_, CitizenError, _>(|a| async move {
                a.start_enrollment(&input.cccd, &input.date_of_birth, &input.phone).await
            })
            .await?;
        self.0.status_changed();
        Ok(EnrollmentTicket {
            enrollment_id: r.enrollment_id,
            masked_phone: r.masked_phone,
            otp_expires_at: time(r.otp_expires_at),
            has_active_device: r.has_active_device,
        })
    }

    /// Step 2 of enrollment: with the OTP, create the device key in the platform key store,
    /// prove possession to the server, and set the 6-digit passcode. Main-safe; may prompt (the
    /// key store creates and uses the device key). Throws [`CitizenError`].
    pub async fn complete_enrollment(
        &self,
        otp: String,
        passcode: String,
        key_options: KeyOptions,
    ) -> Result<EnrollmentOutcome, CitizenError> {
        let passcode = Zeroizing::new(passcode);
        let e = self
            .0
            .run::<_, CitizenError, _>(|a| async move { a.complete_enrollment(&otp, &passcode, key_options).await })
            .await?;
        self.0.status_changed();
        Ok(EnrollmentOutcome {
            account_id: e.account_id,
            device_id: e.device_id,
            hardware_backed: e.hardware_backed,
            replaced_device_id: e.replaced_device_id,
            transfer_approved: e.transfer_approved,
        })
    }

    /// Log in: check the passcode (with lockout), then sign the server's challenge with the
    /// device key. Stores the tokens encrypted; returns only their expiry. Main-safe; may prompt
    /// (the device key signs). Throws [`CitizenError`].
    pub async fn login(&self, passcode: String) -> Result<SessionInfo, CitizenError> {
        let passcode = Zeroizing::new(passcode);
        let session = self.0.run::<_, CitizenError, _>(|a| async move { a.login(&passcode).await }).await?;
        self.0.status_changed();
        Ok(session.into())
    }

    /// Rotate the refresh token now (the core also does this by itself when needed).
    /// Main-safe; never prompts. Throws [`CitizenError`].
    pub async fn refresh_session(&self) -> Result<SessionInfo, CitizenError> {
        Ok(self.0.run::<_, CitizenError, _>(|a| async move { a.refresh().await }).await?.into())
    }

    /// End the session here and at the server. Main-safe; never prompts. Throws [`CitizenError`].
    pub async fn logout(&self) -> Result<(), CitizenError> {
        let r = self.0.run(|a| async move { a.logout().await }).await;
        self.0.status_changed();
        r
    }

    /// The account's devices. Main-safe; never prompts. Throws [`CitizenError`].
    pub async fn list_devices(&self) -> Result<Vec<DeviceInfo>, CitizenError> {
        self.0
            .run(|a| async move {
                let me = a.this_device_id()?;
                Ok(a.list_devices()
                    .await?
                    .into_iter()
                    .map(|d| DeviceInfo {
                        is_this_device: me.as_deref() == Some(d.device_id.as_str()),
                        device_id: d.device_id,
                        label: d.label,
                        platform: Platform::from_wire(&d.platform),
                        hardware_backed: d.hardware_backed,
                        status: DeviceStatus::from_wire(&d.status),
                        enrolled_at: time(d.enrolled_at),
                        last_login_at: opt_time(d.last_login_at),
                    })
                    .collect())
            })
            .await
    }

    /// Revoke one of the account's devices (needs the passcode again). Main-safe; may prompt
    /// (the device key signs). Throws [`CitizenError`].
    pub async fn revoke_device(&self, device_id: String, passcode: String) -> Result<(), CitizenError> {
        let passcode = Zeroizing::new(passcode);
        self.0.run(|a| async move { a.revoke_device(&device_id, &passcode).await }).await
    }

    /// On the old device: approve handing the account to a new device whose enrollment id the
    /// citizen reads from the new device. The old device is then marked `transferred`, not
    /// `replaced`. Main-safe; may prompt (the device key signs). Throws [`CitizenError`].
    pub async fn approve_device_transfer(&self, enrollment_id: String, passcode: String) -> Result<(), CitizenError> {
        let passcode = Zeroizing::new(passcode);
        self.0.run(|a| async move { a.approve_transfer(&enrollment_id, &passcode).await }).await
    }

    /// A short identity QR (decision 35): the text to show as a QR code, valid 60 s, for a
    /// verifier that only has a camera (verifiable online at the server, and offline with the
    /// server's published keys). Needs the passcode; the device key signs it in the key store
    /// (user-initiated). Fetches the server's binding of this device key when it has none (or
    /// it is about to expire) and works offline while the stored one is valid. Main-safe; may
    /// prompt (biometric/passcode of the key store). Throws [`CitizenError`].
    pub async fn identity_qr(&self, passcode: String) -> Result<IdentityQrCode, CitizenError> {
        let passcode = Zeroizing::new(passcode);
        let (text, at) = self.0.run::<_, CitizenError, _>(|a| async move { a.identity_qr(&passcode).await }).await?;
        let secs = |t: i64| std::time::Duration::from_secs(u64::try_from(t).unwrap_or(0));
        Ok(IdentityQrCode {
            text,
            signed_at: std::time::UNIX_EPOCH + secs(at),
            expires_at: std::time::UNIX_EPOCH + secs(at + crate::account::IDQR_CODE_VALID_SECS),
            valid_for: secs(crate::account::IDQR_CODE_VALID_SECS),
        })
    }

    /// Ask the server whether this device is still the active one; a replaced or revoked device
    /// learns it here (and its session is dropped). Main-safe; never prompts. Throws
    /// [`CitizenError`].
    pub async fn check_device_status(&self) -> Result<DeviceStatusInfo, CitizenError> {
        let r = self.0.run::<_, CitizenError, _>(|a| async move { a.device_status().await }).await?;
        self.0.status_changed();
        Ok(DeviceStatusInfo { status: DeviceStatus::from_wire(&r.status), changed_at: time(r.changed_at) })
    }

    /// Check the passcode locally (e.g. to unlock the app), under the same lockout policy as
    /// login: failures are counted and persisted, delays escalate, the 10th failure erases.
    /// Main-safe; never prompts. Throws [`CitizenError`].
    pub async fn verify_passcode(&self, passcode: String) -> Result<(), CitizenError> {
        let passcode = Zeroizing::new(passcode);
        self.0.run(|a| async move { a.verify_passcode(&passcode).await }).await
    }

    /// Change the passcode (the old one counts as an attempt). Main-safe; never prompts.
    /// Throws [`CitizenError`].
    pub async fn change_passcode(&self, old_passcode: String, new_passcode: String) -> Result<(), CitizenError> {
        let (old, new) = (Zeroizing::new(old_passcode), Zeroizing::new(new_passcode));
        self.0.run(|a| async move { a.change_passcode(&old, &new).await }).await
    }

    /// Failures and lock of the passcode. Main-safe; never prompts. Throws [`CitizenError`].
    pub async fn passcode_status(&self) -> Result<PasscodeStatus, CitizenError> {
        let s = self.0.blocking::<_, CitizenError>(|a| a.passcode_state()).await?;
        Ok(PasscodeStatus {
            failed_attempts: int(s.failed),
            attempts_before_lockout: int(s.before_lockout),
            attempts_before_wipe: int(s.before_wipe),
            locked_until: opt_time(s.locked_until),
        })
    }

    /// Forgotten passcode, step 1: the server sends an OTP to the registered phone. Main-safe;
    /// never prompts. Throws [`CitizenError`].
    pub async fn start_passcode_reset(&self) -> Result<PasscodeResetTicket, CitizenError> {
        let r = self.0.run::<_, CitizenError, _>(|a| async move { a.start_passcode_reset().await }).await?;
        Ok(PasscodeResetTicket {
            reset_id: r.reset_id,
            masked_phone: r.masked_phone,
            otp_expires_at: time(r.otp_expires_at),
        })
    }

    /// Forgotten passcode, step 2: with the OTP (and a signature of the device key) set a new
    /// passcode; clears the failure count and any lock. Main-safe; may prompt (the device key
    /// signs). Throws [`CitizenError`].
    pub async fn complete_passcode_reset(&self, otp: String, new_passcode: String) -> Result<(), CitizenError> {
        let new = Zeroizing::new(new_passcode);
        self.0.run(|a| async move { a.complete_passcode_reset(&otp, &new).await }).await
    }

    /// Erase the account from this device: device key, tokens, personal data. Main-safe; never
    /// prompts. Throws [`CitizenError`].
    pub async fn reset_device(&self) -> Result<(), CitizenError> {
        let r = self.0.run(|a| async move { a.wipe().await }).await;
        self.0.status_changed();
        r
    }
}

/// A short identity QR to show ([`AccountClient::identity_qr`]).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct IdentityQrCode {
    /// The QR text (`CZID1:…`): render it as a QR code.
    pub text: String,
    /// When the device signed it.
    pub signed_at: std::time::SystemTime,
    /// When verifiers stop accepting it.
    pub expires_at: std::time::SystemTime,
    /// How long it is valid (60 s).
    pub valid_for: std::time::Duration,
}
