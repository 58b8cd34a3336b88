//! UniFFI façade of level 2 from the chip (issue 12, decision 30): read the card through the
//! shell's [`ApduTransport`] and raise the account to identity level 2. A thin wrapper over
//! [`crate::chip`]; its errors are [`CitizenError`]'s `Card` and `Cancelled` variants, and the
//! shared ones.

use std::sync::Arc;

use citizen_chip::kdf::AccessKey;
use citizen_chip::reader::{Progress, Step};

use super::errors::CitizenError;
use super::facade::Engine;
use super::runtime;
use super::types::{int, long, time};
use crate::chip::{ChipFlowError, ProgressSink};
use crate::error::{Error, Msg};
use crate::platform::ApduTransport;
use std::time::SystemTime;

/// How the core opens the chip: the CAN printed on the card (preferred), or the MRZ data.
#[derive(Clone, PartialEq, Eq, uniffi::Enum)]
pub enum ChipAccessKey {
    /// The 6-digit card access number printed on the front of the card.
    Can {
        /// Six digits.
        can: String,
    },
    /// The machine-readable-zone data: the 12-digit ID number, date of birth and date of expiry
    /// (`YYMMDD` each), as printed on the back of the card.
    Mrz {
        /// The 12-digit personal number.
        id_number: String,
        /// `YYMMDD`.
        date_of_birth: String,
        /// `YYMMDD`.
        date_of_expiry: String,
    },
}

impl std::fmt::Debug for ChipAccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChipAccessKey(<redacted>)")
    }
}

/// The step a chip read is in, for a progress display.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum ChipReadStep {
    /// Reading the card's access parameters (EF.CardAccess).
    CardAccess,
    /// Opening the secure channel with the CAN or MRZ (PACE).
    Pace,
    /// Opening the secure channel with the MRZ (BAC, older cards).
    Bac,
    /// Selecting the ID application.
    SelectApplication,
    /// Reading a file (`EF.COM`, `EF.SOD`, `DG1`, …).
    ReadFile {
        /// The file's name.
        name: String,
    },
    /// Chip authentication (the chip proves its key to the phone).
    ChipAuthentication,
    /// Active authentication (the chip signs the server's challenge).
    ActiveAuthentication,
    /// The read is complete.
    Done,
}

impl From<&Step> for ChipReadStep {
    fn from(s: &Step) -> Self {
        match s {
            Step::CardAccess => ChipReadStep::CardAccess,
            Step::Pace => ChipReadStep::Pace,
            Step::Bac => ChipReadStep::Bac,
            Step::SelectApplication => ChipReadStep::SelectApplication,
            Step::ReadFile(f) => ChipReadStep::ReadFile { name: f.name() },
            Step::ChipAuthentication => ChipReadStep::ChipAuthentication,
            Step::ActiveAuthentication => ChipReadStep::ActiveAuthentication,
            Step::Done => ChipReadStep::Done,
        }
    }
}

/// Receives the progress of a chip read (called after each answer of the card, on a core
/// thread: post to the UI thread yourself; return quickly).
#[uniffi::export(with_foreign)]
pub trait ChipReadObserver: Send + Sync {
    /// The read is at `step`, with `bytes_read` bytes of file content and `apdus` commands so far.
    fn on_progress(&self, step: ChipReadStep, bytes_read: i64, apdus: i32);
}

/// The result of a successful upgrade.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct ChipUpgradeOutcome {
    /// The account's identity level now (2).
    pub level: i32,
    /// When the server raised the level (server time).
    pub upgraded_at: SystemTime,
    /// Commands exchanged with the card.
    pub apdus: i32,
    /// Bytes of file content read.
    pub bytes_read: i64,
    /// Whether the identity credential stating the new level is already on the device (when
    /// false, the next data share fetches it).
    pub credential_refreshed: bool,
}

impl From<ChipFlowError> for CitizenError {
    fn from(e: ChipFlowError) -> Self {
        match e {
            ChipFlowError::Read(c) => CitizenError::Card { detail: c.msg().detail(), retryable: c.is_retryable() },
            ChipFlowError::Cancelled => CitizenError::Cancelled { detail: Msg::ChipReadCancelled.detail() },
            // The server's `chip.*` and `level.required` refusals are domain conditions: Refused.
            ChipFlowError::Core(e) => CitizenError::from(e),
        }
    }
}

fn access_key(k: &ChipAccessKey) -> Result<AccessKey, CitizenError> {
    let r = match k {
        ChipAccessKey::Can { can } => AccessKey::can(can),
        ChipAccessKey::Mrz { id_number, date_of_birth, date_of_expiry } => {
            AccessKey::cccd_mrz(id_number, date_of_birth, date_of_expiry)
        }
    };
    r.map_err(|e| CitizenError::Card { detail: e.msg().detail(), retryable: false })
}

/// Identity level 2 from the chip of the citizen's ID card (`CitizenCore.chip()`). Small enough
/// to fake in a test of a view model.
#[derive(uniffi::Object)]
pub struct ChipClient(pub(crate) Engine);

#[uniffi::export]
impl ChipClient {
    /// Raise the account to identity level 2 from the chip of the citizen's own ID card: the
    /// core fetches a server challenge, reads the card through `transport` (PACE with the CAN or
    /// MRZ, passive, chip and active authentication; the face image is not read), and uploads
    /// the signed evidence; the server checks the issuer's signature, that the chip signed its
    /// challenge (a copied card cannot) and that the card is the account holder's. Needs a
    /// logged-in session. Progress goes to `observer`. Nothing of the card is kept on the
    /// device afterwards except the new identity credential and an activity-log entry.
    /// Main-safe; prompts once (the device key signs the upload, purpose `chip`). Throws
    /// [`CitizenError`] (`Card`, `Cancelled`, `Refused` with a `chip.*` or `level.required`
    /// code, `NeedsLogin`, `Network`, `KeyStore`). Cancelling the call cancels the NFC exchange.
    pub async fn upgrade_level_with_chip(
        &self,
        transport: Arc<dyn ApduTransport>,
        key: ChipAccessKey,
        observer: Option<Arc<dyn ChipReadObserver>>,
    ) -> Result<ChipUpgradeOutcome, CitizenError> {
        let key = access_key(&key)?;
        let sink: Option<ProgressSink> = observer.map(|o| {
            Arc::new(move |p: &Progress| o.on_progress(ChipReadStep::from(&p.step), long(p.bytes_read), int(p.apdus)))
                as ProgressSink
        });
        let account = self.0.account()?;
        let r =
            runtime::run(async move { account.upgrade_with_chip(transport, key, sink).await }).await.map_err(|e| {
                if matches!(
                    &e,
                    ChipFlowError::Core(Error::Domain(Msg::SessionExpired | Msg::SessionRevoked | Msg::NotLoggedIn))
                ) {
                    self.0.status_changed();
                }
                CitizenError::from(e)
            })?;
        Ok(ChipUpgradeOutcome {
            level: i32::from(r.level),
            upgraded_at: time(r.upgraded_at),
            apdus: int(r.stats.apdus),
            bytes_read: long(r.stats.file_bytes),
            credential_refreshed: r.credential_refreshed,
        })
    }

    /// The identity level the device's credential states: 1 (enrolled with number, birth date
    /// and OTP) or 2 (verified from the chip). Without a stored credential, 1; no network call.
    /// Main-safe; never prompts. Throws [`CitizenError`].
    pub async fn identity_level(&self) -> Result<i32, CitizenError> {
        self.0.blocking(|a| Ok(i32::from(a.identity_level()?))).await
    }
}

#[uniffi::export]
impl ChipClient {
    /// On a new device, level-2 account (issue 15): after `account().start_enrollment` (the OTP
    /// went to the registered phone), read the chip-based ID card with active authentication
    /// over the enrollment and start a recovery without the old phone: the device key is
    /// created, the passcode set aside, and the server holds the recovery for its waiting period
    /// (the old device is told and may cancel). Complete it with
    /// `account().complete_recovery()` once `ready_at` has passed. Nothing of the card is kept.
    /// Main-safe; may prompt (the new key signs). Throws [`CitizenError`] (`Card`, `Cancelled`,
    /// `OtpRejected`, `InvalidInput`, `Refused` with a `chip.*` or `recovery.*` code).
    pub async fn start_recovery_with_chip(
        &self,
        otp: String,
        new_passcode: String,
        key_options: crate::platform::KeyOptions,
        transport: Arc<dyn ApduTransport>,
        key: ChipAccessKey,
        observer: Option<Arc<dyn ChipReadObserver>>,
    ) -> Result<super::recovery::RecoveryTicket, CitizenError> {
        let key = access_key(&key)?;
        let sink: Option<ProgressSink> = observer.map(|o| {
            Arc::new(move |p: &Progress| o.on_progress(ChipReadStep::from(&p.step), long(p.bytes_read), int(p.apdus)))
                as ProgressSink
        });
        let account = self.0.account()?;
        let passcode = zeroize::Zeroizing::new(new_passcode);
        let r = runtime::run(async move {
            let enrollment = account.recovery_enrollment(&otp, &passcode)?;
            let mut ev = account.recovery_evidence(transport, key, sink, &enrollment.reference).await?;
            let r = account.start_recovery(enrollment, &otp, &passcode, key_options, Some(ev.clone())).await;
            crate::chip::wipe_evidence(&mut ev);
            Ok::<_, ChipFlowError>(r?)
        })
        .await
        .map_err(CitizenError::from)?;
        Ok(super::recovery::RecoveryTicket::from(&r))
    }

    /// Re-binding with the chip (issue 15, decision 48), when the device key was invalidated
    /// **and** the session has ended (or instead of the session): after
    /// `account().start_rebinding()` (the OTP went to the registered phone), the passcode, then a
    /// read of the chip-based ID card with active authentication over the re-binding, then a new
    /// device key on this device. The server checks the card against the register and rotates
    /// the key; queued requests are held as with `account().complete_rebinding`. Returns how many
    /// are held. Nothing of the card is kept. Main-safe; prompts once (the new key signs).
    /// Throws [`CitizenError`] (`Card`, `Cancelled`, `OtpRejected`, `PasscodeRejected`,
    /// `NotFound` with `rebind.no_pending`, `Refused` with a `chip.*` code or
    /// `recovery.replayed`).
    pub async fn complete_rebinding_with_chip(
        &self,
        otp: String,
        passcode: String,
        key_options: crate::platform::KeyOptions,
        transport: Arc<dyn ApduTransport>,
        key: ChipAccessKey,
        observer: Option<Arc<dyn ChipReadObserver>>,
    ) -> Result<i32, CitizenError> {
        let key = access_key(&key)?;
        let sink: Option<ProgressSink> = observer.map(|o| {
            Arc::new(move |p: &Progress| o.on_progress(ChipReadStep::from(&p.step), long(p.bytes_read), int(p.apdus)))
                as ProgressSink
        });
        let account = self.0.account()?;
        let passcode = zeroize::Zeroizing::new(passcode);
        let held = runtime::run(async move {
            account.verify_passcode(&passcode).await?;
            let rebind_id = account.pending_rebind_id()?;
            let mut ev = account.recovery_evidence(transport, key, sink, &rebind_id).await?;
            let r = account.complete_rebinding(&otp, key_options, Some(ev.clone())).await;
            crate::chip::wipe_evidence(&mut ev);
            Ok::<_, ChipFlowError>(r?)
        })
        .await
        .map_err(CitizenError::from)?;
        Ok(int(held))
    }

    /// Lock a lost phone with the chip instead of the OTP (decision 48; the SIM went with the
    /// phone): after `account().start_remote_lock(…)`, read the citizen's chip-based ID card
    /// with active authentication over the lock id; the server checks it against the register
    /// and locks the account's active device. Nothing of the card is kept; nothing is stored on
    /// this device. Main-safe; never prompts. Throws [`CitizenError`] (`Card`, `Cancelled`,
    /// `Refused` with a `chip.*` code or `lock.replayed`, `NotFound` with `lock.unknown`).
    pub async fn remote_lock_with_chip(
        &self,
        lock_id: String,
        transport: Arc<dyn ApduTransport>,
        key: ChipAccessKey,
        observer: Option<Arc<dyn ChipReadObserver>>,
    ) -> Result<super::recovery::RemoteLockOutcome, CitizenError> {
        let key = access_key(&key)?;
        let sink: Option<ProgressSink> = observer.map(|o| {
            Arc::new(move |p: &Progress| o.on_progress(ChipReadStep::from(&p.step), long(p.bytes_read), int(p.apdus)))
                as ProgressSink
        });
        let account = self.0.account()?;
        let r = runtime::run(async move {
            let mut ev = account.recovery_evidence(transport, key, sink, &lock_id).await?;
            let r = account.complete_remote_lock(&lock_id, None, Some(ev.clone())).await;
            crate::chip::wipe_evidence(&mut ev);
            Ok::<_, ChipFlowError>(r?)
        })
        .await
        .map_err(CitizenError::from)?;
        Ok(r.into())
    }
}
