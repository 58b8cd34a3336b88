//! Losing and changing the phone, device side (issue 15): the old device's recovery notice and
//! its signed cancel; the new device's recovery with the chip (or approved at a counter), held
//! by the server for its waiting period, then completed.
//!
//! The server's states are drawn in `citizen_protocol::protocol::recovery`. On the devices:
//! * **old device**: every challenge and status answer may carry the server's signed notice; it
//!   is verified (server key, `typ`, issuer, this device), kept sealed (`pending`, kind
//!   `recovery_notice`) and written to the activity log once. `cancel_recovery` signs a
//!   `recovery_cancel` statement with the device key after the passcode.
//! * **new device**: after `start_enrollment` (the OTP went to the registered phone),
//!   `start_recovery` reads the chip for `aa_challenge(enrollment id)` (level 2) or relies on an
//!   official's approval (level 1), creates the device and bookkeeping keys and the passcode
//!   verifier, and keeps all of it sealed (`pending`, kind `recovery`) until `complete_recovery`
//!   succeeds after the waiting period; then the account is stored as after an enrollment, and
//!   the start and the completion are written to the new device's log.

use serde::{Deserialize, Serialize};

use super::{key_alias, keystore, passcode, Account, Enrolled, NewDeviceKey, PendingEnrollment, PENDING_ENROLLMENT};
use crate::activity::ActivityKind;
use crate::crypto;
use crate::error::{Error, FieldError, Msg, Result};
use crate::platform::KeyOptions;
use crate::protocol::chip::ChipEvidence;
use crate::protocol::recovery::{
    cancel_subject, rebind_subject, start_subject, RebindCompleteRequest, RebindStartRequest, RebindStartResponse,
    RecoveryCancelRequest, RecoveryCompleteRequest, RecoveryCompleteResponse, RecoveryNotice, RecoveryStartRequest,
    RecoveryStartResponse, RemoteLockCompleteRequest, RemoteLockCompleteResponse, RemoteLockStartRequest,
    RemoteLockStartResponse, COMPLETE_SUBJECT, PATH_REBIND_COMPLETE, PATH_REBIND_START, PATH_RECOVERY_CANCEL,
    PATH_RECOVERY_COMPLETE, PATH_RECOVERY_START, PATH_REMOTE_LOCK_COMPLETE, PATH_REMOTE_LOCK_START,
};
use crate::protocol::{DeviceRegistration, Purpose, Statement};
use crate::store::rows::{PendingKind, PendingRow};
use crate::store::{AccountRow, BookkeepingKey, Identity, PasscodeRow, PendingActivity};

/// What the old device was told (sealed).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct NoticeRecord {
    pub recovery_id: String,
    pub method: String,
    pub started_at: i64,
    pub ready_at: i64,
}

/// A recovery started on this (new) device (sealed): everything the account row will hold.
#[derive(Serialize, Deserialize)]
pub(crate) struct PendingRecovery {
    identity: Identity,
    device_id: String,
    key_alias: String,
    public_key: Vec<u8>,
    hardware_backed: bool,
    bookkeeping: BookkeepingKey,
    salt: Vec<u8>,
    verifier: Vec<u8>,
    pub recovery_id: String,
    pub method: String,
    pub started_at: i64,
    pub ready_at: i64,
    pub old_device_id: Option<String>,
    /// The last counter the new key used (the proof signs 1).
    counter: u64,
}

impl Account {
    // ---- the old device ------------------------------------------------------------------

    /// Take a notice from a server answer (best effort: a notice that does not verify is logged
    /// and ignored; the next contact brings it again).
    pub(crate) async fn take_recovery_notice(&self, jws: Option<&str>) {
        let Some(jws) = jws else { return };
        if let Err(e) = self.accept_notice(jws).await {
            tracing::info!(error = %e, "recovery notice not accepted");
        }
    }

    async fn accept_notice(&self, jws: &str) -> Result<()> {
        let acc = self.active_account()?;
        let bad = || crate::services::outbox::bad_answer("recovery notice does not verify");
        let kid = jsonwebtoken::decode_header(jws).map_err(|_| bad())?.kid.ok_or_else(bad)?;
        let mut claims = None;
        for refetch in [false, true] {
            let jwk = self.server_key(&kid, refetch).await?;
            if let Some(c) = crypto::decode_es256::<RecoveryNotice>(jws, &jwk) {
                claims = Some(c);
                break;
            }
        }
        let n = claims.ok_or_else(bad)?;
        if n.iss != self.net.audience() || n.device_id != acc.device_id {
            return Err(bad());
        }
        let known = self.store.pending::<NoticeRecord>(PendingKind::RecoveryNotice)?;
        if known.is_some_and(|k| k.reference == n.recovery_id) {
            return Ok(());
        }
        let record = NoticeRecord {
            recovery_id: n.recovery_id.clone(),
            method: n.method,
            started_at: n.started_at,
            ready_at: n.ready_at,
        };
        self.store.put_pending(PendingKind::RecoveryNotice, &n.recovery_id, n.ready_at, &record)?;
        self.log_activity(
            ActivityKind::DeviceChange,
            format!("recovery_notice={} method={} ready_at={}", record.recovery_id, record.method, record.ready_at),
        )
        .await;
        Ok(())
    }

    /// The recovery this device was told about, if one is waiting.
    pub(crate) fn recovery_notice(&self) -> Result<Option<NoticeRecord>> {
        Ok(self.store.pending::<NoticeRecord>(PendingKind::RecoveryNotice)?.map(|p| p.payload))
    }

    /// Cancel the recovery this device was told about: passcode, then a `recovery_cancel`
    /// statement signed by the device key.
    pub(crate) async fn cancel_recovery(&self, passcode_in: &str) -> Result<String> {
        let acc = self.active_account()?;
        let notice = self.recovery_notice()?.ok_or(Error::Domain(Msg::RecoveryUnknown))?;
        self.verify_passcode(passcode_in).await?;
        let nonce = self.challenge(&acc, Purpose::RecoveryCancel).await?;
        let signed = self.sign_for(&acc, Purpose::RecoveryCancel, nonce, cancel_subject(&notice.recovery_id)).await?;
        let r: Result<crate::protocol::Ok> =
            self.note_inactive(self.net.post(PATH_RECOVERY_CANCEL, &RecoveryCancelRequest { signed }, None).await);
        match r {
            Ok(_) | Err(Error::Domain(Msg::RecoveryCancelled)) => {}
            Err(Error::Domain(Msg::RecoveryUnknown)) => {
                self.store.delete_pending(PendingKind::RecoveryNotice)?;
                return Err(Error::Domain(Msg::RecoveryUnknown));
            }
            Err(e) => return Err(e),
        }
        self.store.delete_pending(PendingKind::RecoveryNotice)?;
        self.log_activity(ActivityKind::DeviceChange, format!("recovery_cancelled={}", notice.recovery_id)).await;
        Ok(notice.recovery_id)
    }

    // ---- the new device ------------------------------------------------------------------

    /// The recovery started on this device, if any.
    pub(crate) fn pending_recovery(&self) -> Result<Option<PendingRecovery>> {
        Ok(self.store.pending::<PendingRecovery>(PendingKind::Recovery)?.map(|p| p.payload))
    }

    /// The enrollment the recovery builds on, with the input checked.
    pub(crate) fn recovery_enrollment(&self, otp: &str, new_passcode: &str) -> Result<PendingRow<PendingEnrollment>> {
        let pending: PendingRow<PendingEnrollment> =
            self.store.pending(PENDING_ENROLLMENT)?.ok_or(Error::Domain(Msg::NoPendingEnrollment))?;
        let mut fields = vec![];
        if otp.len() != 6 || !otp.bytes().all(|c| c.is_ascii_digit()) {
            fields.push(FieldError::new("otp", Msg::OtpFormat));
        }
        if let Err(Error::Fields(f)) =
            passcode::validate_new(new_passcode, Some(&pending.payload.identity.date_of_birth))
        {
            fields.extend(f);
        }
        if !fields.is_empty() {
            return Err(Error::Fields(fields));
        }
        Ok(pending)
    }

    /// Start the recovery with the checked enrollment and, for a level-2 account, the chip
    /// evidence read for `aa_challenge(enrollment id)`.
    pub(crate) async fn start_recovery(
        &self,
        enrollment: PendingRow<PendingEnrollment>,
        otp: &str,
        new_passcode: &str,
        options: KeyOptions,
        evidence: Option<ChipEvidence>,
    ) -> Result<PendingRecovery> {
        let PendingRow { reference: enrollment_id, payload: pending, .. } = enrollment;
        let alias = key_alias(&pending.device_id);
        let NewDeviceKey { public_key, hardware_backed, attestation } =
            self.create_device_key(&alias, &options).await?;
        let mut bookkeeping = self.create_bookkeeping_key(&alias, &options).await?;
        let proof = self
            .sign_statement(
                &alias,
                &public_key,
                Statement {
                    purpose: Purpose::Recovery,
                    audience: self.net.audience().to_string(),
                    nonce: enrollment_id.clone(),
                    device_id: pending.device_id.clone(),
                    counter: 1,
                    issued_at: self.now(),
                    subject: start_subject(evidence.as_ref(), &bookkeeping.public_key),
                },
            )
            .await?;
        bookkeeping.endorsement = Some(proof.clone());
        let req = RecoveryStartRequest {
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
            evidence,
        };
        let resp: RecoveryStartResponse = match self.net.post(PATH_RECOVERY_START, &req, None).await {
            Ok(r) => r,
            Err(e) => {
                // The keys are unused: delete them; a dead enrollment goes too.
                for a in [alias.clone(), bookkeeping.alias.clone()] {
                    let ks = self.keys.clone();
                    let _ = keystore(move || ks.delete_key(a)).await;
                }
                if matches!(e, Error::Domain(Msg::OtpExpired | Msg::OtpAttemptsExceeded | Msg::NoPendingEnrollment)) {
                    self.store.delete_pending(PENDING_ENROLLMENT)?;
                }
                return Err(e);
            }
        };
        let verifier_key = self.store.derive_key(passcode::VERIFIER_KEY_INFO);
        let (salt, verifier) = passcode::make_verifier(&verifier_key, new_passcode);
        let rec = PendingRecovery {
            identity: pending.identity,
            device_id: pending.device_id,
            key_alias: alias,
            public_key,
            hardware_backed,
            bookkeeping,
            salt,
            verifier,
            recovery_id: resp.recovery_id.clone(),
            method: resp.method,
            started_at: self.now(),
            ready_at: resp.ready_at,
            old_device_id: resp.old_device_id,
            counter: 1,
        };
        self.store.put_pending(PendingKind::Recovery, &resp.recovery_id, resp.ready_at, &rec)?;
        self.store.delete_pending(PENDING_ENROLLMENT)?;
        Ok(rec)
    }

    /// Complete the recovery started on this device once its waiting period is over
    /// (`recovery.waiting` before; `recovery.cancelled` if the old device or an official
    /// cancelled it, which also drops it here).
    pub(crate) async fn complete_recovery(&self) -> Result<Enrolled> {
        let mut rec = self.pending_recovery()?.ok_or(Error::Domain(Msg::RecoveryUnknown))?;
        // The counter is committed before it is used (decision 3).
        rec.counter += 1;
        self.store.put_pending(PendingKind::Recovery, &rec.recovery_id, rec.ready_at, &rec)?;
        let signed = self
            .sign_statement(
                &rec.key_alias,
                &rec.public_key,
                Statement {
                    purpose: Purpose::Recovery,
                    audience: self.net.audience().to_string(),
                    nonce: rec.recovery_id.clone(),
                    device_id: rec.device_id.clone(),
                    counter: rec.counter,
                    issued_at: self.now(),
                    subject: COMPLETE_SUBJECT.to_string(),
                },
            )
            .await?;
        let r: Result<RecoveryCompleteResponse> = self
            .net
            .post(
                PATH_RECOVERY_COMPLETE,
                &RecoveryCompleteRequest { recovery_id: rec.recovery_id.clone(), signed },
                None,
            )
            .await;
        let resp = match r {
            Ok(r) => r,
            Err(e @ Error::Domain(Msg::RecoveryCancelled | Msg::RecoveryUnknown)) => {
                self.store.delete_pending(PendingKind::Recovery)?;
                for a in [rec.key_alias.clone(), rec.bookkeeping.alias.clone()] {
                    let ks = self.keys.clone();
                    let _ = keystore(move || ks.delete_key(a)).await;
                }
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        let old = self.store.account()?;
        self.store.save_enrollment(
            &AccountRow {
                account_id: resp.account_id.clone(),
                device_id: rec.device_id.clone(),
                key_alias: rec.key_alias.clone(),
                public_key: rec.public_key.clone(),
                hardware_backed: rec.hardware_backed,
                counter: rec.counter,
                enrolled_at: self.now(),
                inactive_status: None,
            },
            &rec.identity,
            &PasscodeRow { salt: rec.salt.clone(), verifier: rec.verifier.clone(), failed: 0, locked_until: None },
        )?;
        self.store.set_bookkeeping_key(&rec.bookkeeping)?;
        if let Some(old) = old {
            self.delete_device_keys(&old.key_alias).await;
        }
        // Both steps in this device's log: the start (at its time) and the completion.
        self.store.queue_activity(&PendingActivity {
            kind: ActivityKind::DeviceChange,
            summary: format!("recovery_started={} method={}", rec.recovery_id, rec.method),
            at: rec.started_at,
        })?;
        let replaced = resp.replaced_device_id.clone().unwrap_or_default();
        self.log_activity(
            ActivityKind::Enrollment,
            format!("device={} recovered_from={replaced} recovery={}", rec.device_id, rec.recovery_id),
        )
        .await;
        Ok(Enrolled {
            account_id: resp.account_id,
            device_id: rec.device_id,
            hardware_backed: rec.hardware_backed,
            replaced_device_id: resp.replaced_device_id,
            transfer_approved: false,
        })
    }

    // ---- re-binding after key invalidation -----------------------------------------------

    /// Re-binding, step 1: the server sends an OTP to the registered phone. Needs no signature
    /// (the device key is the thing that no longer works).
    pub(crate) async fn start_rebinding(&self) -> Result<RebindStartResponse> {
        let acc = self.active_account()?;
        let r: RebindStartResponse = self.note_inactive(
            self.net.post(PATH_REBIND_START, &RebindStartRequest { device_id: acc.device_id }, None).await,
        )?;
        self.store.put_pending(PendingKind::Rebind, &r.rebind_id, r.otp_expires_at, &r.masked_phone)?;
        Ok(r)
    }

    /// The re-binding waiting for its OTP (its id is the nonce of a chip read), if any.
    pub(crate) fn pending_rebind_id(&self) -> Result<String> {
        let PendingRow::<String> { reference, .. } =
            self.store.pending(PendingKind::Rebind)?.ok_or(Error::Domain(Msg::NoPendingRebind))?;
        Ok(reference)
    }

    /// Re-binding, step 2 (after the passcode): a new device key on this device, proven with the
    /// session (refreshed without signing) — or, without one, the chip `evidence` read over the
    /// rebind id — the OTP and the new key's signature; the server rotates the key. Queued
    /// requests signed with the old key are held until the citizen confirms
    /// (`release_held_outbox`, which re-signs them). Returns how many are held.
    pub(crate) async fn complete_rebinding(
        &self,
        otp: &str,
        options: KeyOptions,
        evidence: Option<ChipEvidence>,
    ) -> Result<u32> {
        let acc = self.active_account()?;
        let rebind_id = self.pending_rebind_id()?;
        if otp.len() != 6 || !otp.bytes().all(|c| c.is_ascii_digit()) {
            return Err(Error::Fields(vec![FieldError::new("otp", Msg::OtpFormat)]));
        }
        // The chip proves the citizen when it was read: the session is not needed then.
        let token = match evidence {
            Some(_) => None,
            None => Some(self.access_token().await?),
        };
        let alias = format!("{}.{}", key_alias(&acc.device_id), crypto::random_b64url(6));
        let public_key = self.create_key_point(&alias, &options).await?;
        let counter = self.store.next_counter()?;
        let proof = self
            .sign_statement(
                &alias,
                &public_key,
                Statement {
                    purpose: Purpose::Rebind,
                    audience: self.net.audience().to_string(),
                    nonce: rebind_id.clone(),
                    device_id: acc.device_id.clone(),
                    counter,
                    issued_at: self.now(),
                    subject: rebind_subject(&public_key, evidence.as_ref()),
                },
            )
            .await?;
        let req = RebindCompleteRequest {
            rebind_id,
            otp: otp.to_string(),
            new_public_key: crypto::b64(&public_key),
            proof,
            evidence,
        };
        let r: Result<crate::protocol::Ok> =
            self.net.post(PATH_REBIND_COMPLETE, &req, token.as_ref().map(|t| t.as_str())).await;
        if let Err(e) = self.note_inactive(r) {
            let ks = self.keys.clone();
            let _ = keystore(move || ks.delete_key(alias)).await;
            if matches!(e, Error::Domain(Msg::OtpExpired | Msg::OtpAttemptsExceeded | Msg::NoPendingRebind)) {
                self.store.delete_pending(PendingKind::Rebind)?;
            }
            return Err(e);
        }
        let held = self.store.rotate_device_key(&alias, &public_key)?;
        self.store.delete_pending(PendingKind::Rebind)?;
        let ks = self.keys.clone();
        let old = acc.key_alias.clone();
        if let Err(e) = keystore(move || ks.delete_key(old)).await {
            tracing::info!(error = %e, "the invalidated key could not be deleted");
        }
        self.log_activity(ActivityKind::DeviceChange, format!("key_rotated held_requests={held}")).await;
        Ok(held)
    }

    // ---- the citizen's own lock of a lost phone, from this (another) device (decision 48) ----

    /// Remote lock, step 1: the identifiers of the citizen whose phone is lost, validated here
    /// and matched by the server, which sends an OTP to the registered phone. Any device may ask
    /// (enrolled or not, for any citizen): nothing is stored or logged here, since this device may
    /// be a relative's.
    pub(crate) async fn start_remote_lock(
        &self,
        cccd_no: &str,
        dob: &str,
        phone: &str,
    ) -> Result<RemoteLockStartResponse> {
        let identity = self.validate_enrollment(cccd_no, dob, phone).map_err(Error::Fields)?;
        let req = RemoteLockStartRequest {
            cccd: identity.cccd.clone(),
            date_of_birth: identity.date_of_birth.clone(),
            phone: identity.phone.clone(),
        };
        self.net.post(PATH_REMOTE_LOCK_START, &req, None).await
    }

    /// Remote lock, step 2: the OTP (`otp`) or a chip read over the lock id (`evidence`) locks
    /// the account's active device.
    pub(crate) async fn complete_remote_lock(
        &self,
        lock_id: &str,
        otp: Option<&str>,
        evidence: Option<ChipEvidence>,
    ) -> Result<RemoteLockCompleteResponse> {
        if let Some(otp) = otp {
            if otp.len() != 6 || !otp.bytes().all(|c| c.is_ascii_digit()) {
                return Err(Error::Fields(vec![FieldError::new("otp", Msg::OtpFormat)]));
            }
        }
        let req = RemoteLockCompleteRequest { lock_id: lock_id.to_string(), otp: otp.map(str::to_string), evidence };
        self.net.post(PATH_REMOTE_LOCK_COMPLETE, &req, None).await
    }
}
