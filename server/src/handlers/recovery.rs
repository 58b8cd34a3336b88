//! Recovery of an account on a new phone without the old one, with a cancellable waiting
//! period (issue 15; the states are drawn in `citizen_protocol::protocol::recovery`).
//!
//! * `POST /v1/recovery/start`: the new phone has an enrollment (OTP sent to the registered
//!   phone) and proves the OTP, its new key (purpose `recovery`, nonce = enrollment id) and the
//!   citizen: for a **level-2** account a chip read with active authentication over
//!   `aa_challenge(enrollment id)`, passive authentication against the server's CSCA list and
//!   DG13 equal to the register (`recovery.chip_required` without it); for a **level-1**
//!   account an official's approval at a counter (`recovery.counter_required` without it). The
//!   server keeps the new device in `recoveries`, state `waiting`, ready after the waiting period
//!   (`Limits::recovery_wait_secs`, default 24 h).
//! * The old device, while it is still used, receives a server-signed [`RecoveryNotice`] with
//!   every challenge and status answer ([`notice_for`]) and may cancel with its key after its
//!   passcode (`POST /v1/recovery/cancel`, purpose `recovery_cancel`); an official may cancel
//!   at a counter. A locked old device cannot cancel (its lock refuses every statement).
//! * `POST /v1/recovery/complete` (the new key, nonce = recovery id): refused before `ready_at`
//!   (`recovery.waiting`); then the old device is deactivated (`replaced`; its status reads
//!   `recovered`) and the new one registered active, in one unit of work.
//!
//! Every step is audited (`recovery_started`, `recovery_cancelled`, `recovery_completed`,
//! `recovery_notice`, refusals with their codes).

use crate::sql::{params, Connection, OptionalExtension};
use axum::http::StatusCode;
use citizen_protocol::messages::Msg;
use citizen_protocol::protocol::recovery::{
    cancel_subject, parse_start_subject, start_subject, RecoveryCancelRequest, RecoveryCompleteRequest,
    RecoveryCompleteResponse, RecoveryNotice, RecoveryStartRequest, RecoveryStartResponse, COMPLETE_SUBJECT,
};
use citizen_protocol::protocol::{codes, Ok as OkBody, Purpose};

use crate::api::{ApiError, ApiResult, AppState};
use crate::db::audit;
use crate::handlers::chip;
use crate::handlers::devices::{account_of_cccd, active_device, deactivate, valid_label};
use crate::verify::{
    check_otp, check_signature, load_device, verify_new_key_proof, verify_signed, NonceRule, OtpRow, OtpTable,
};

fn refuse(status: StatusCode, msg: Msg, detail: &str) -> ApiError {
    ApiError::new(status, msg.code(), detail)
}

fn unknown() -> ApiError {
    refuse(StatusCode::NOT_FOUND, Msg::RecoveryUnknown, "no such recovery waiting")
}

/// A recovery as stored.
struct Recovery {
    account_id: String,
    old_device_id: Option<String>,
    new_device_id: String,
    registration: String,
    public_key: Vec<u8>,
    bookkeeping_public_key: Option<Vec<u8>>,
    counter: i64,
    method: String,
    state: String,
    ready_at: i64,
}

fn load(conn: &Connection, recovery_id: &str) -> crate::sql::Result<Option<Recovery>> {
    conn.query_row(
        "SELECT account_id, old_device_id, new_device_id, registration, public_key, bookkeeping_public_key, counter,
                method, state, ready_at
           FROM recoveries WHERE recovery_id = ?1",
        [recovery_id],
        |r| {
            Ok(Recovery {
                account_id: r.get(0)?,
                old_device_id: r.get(1)?,
                new_device_id: r.get(2)?,
                registration: r.get(3)?,
                public_key: r.get(4)?,
                bookkeeping_public_key: r.get(5)?,
                counter: r.get(6)?,
                method: r.get(7)?,
                state: r.get(8)?,
                ready_at: r.get(9)?,
            })
        },
    )
    .optional()
}

/// `POST /v1/recovery/start`.
pub fn start(s: &AppState, conn: &mut Connection, req: &RecoveryStartRequest) -> ApiResult<RecoveryStartResponse> {
    let now = s.now();
    let row = conn
        .query_row(
            "SELECT citizen_id, otp_hash, otp_expires_at, attempts, consumed_at, approved_by_official
               FROM enrollments WHERE enrollment_id = ?1",
            [&req.enrollment_id],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    OtpRow {
                        otp_hash: r.get(1)?,
                        expires_at: r.get(2)?,
                        attempts: r.get(3)?,
                        consumed: r.get::<_, Option<i64>>(4)?.is_some(),
                    },
                    r.get::<_, Option<String>>(5)?,
                ))
            },
        )
        .optional()?;
    let (citizen_id, otp_row, official) = row.ok_or_else(|| {
        ApiError::new(StatusCode::NOT_FOUND, codes::UNKNOWN_ENROLLMENT, "unknown or finished enrollment")
    })?;
    // A used enrollment id is a replayed start: named as such.
    if otp_row.consumed {
        return Err(refuse(StatusCode::CONFLICT, Msg::RecoveryReplayed, "this recovery start was already used"));
    }
    check_otp(s, conn, OtpTable::Enrollment, &req.enrollment_id, &otp_row, &req.otp)?;
    super::enrollment::validate_device(&req.device)?;
    let public_key = verify_new_key_proof(
        s,
        &req.proof,
        Purpose::Recovery,
        &req.enrollment_id,
        &req.device.device_id,
        &req.device.public_key,
    )?;
    let (_, bookkeeping) = parse_start_subject(&req.proof.statement.subject)
        .ok_or_else(|| ApiError::invalid("proof subject is not a recovery start subject"))?;
    if req.proof.statement.subject != start_subject(req.evidence.as_ref(), &bookkeeping) {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            codes::SIGNATURE_INVALID,
            "proof does not bind the evidence",
        ));
    }
    let account_id: String = conn
        .query_row("SELECT account_id FROM accounts WHERE citizen_id = ?1", [citizen_id], |r| r.get(0))
        .optional()?
        .ok_or_else(|| ApiError::invalid("no account to recover: enroll instead"))?;
    let level = chip::account_level(conn, &account_id)?;
    let (method, started_by) = match (&req.evidence, &official) {
        (Some(ev), _) if level >= 2 => {
            if let Err(e) = chip::prove_citizen(s, conn, ev, &req.enrollment_id, &account_id) {
                audit(conn, now, "recovery_start", e.code(), Some(&account_id), Some(&req.device.device_id));
                return Err(e);
            }
            ("chip", "citizen".to_string())
        }
        (None, Some(official)) => ("counter", format!("official:{official}")),
        (_, None) if level >= 2 => {
            return Err(refuse(
                StatusCode::FORBIDDEN,
                Msg::RecoveryChipRequired,
                "a level-2 account is recovered with the OTP and the chip",
            ))
        }
        _ => {
            return Err(refuse(
                StatusCode::FORBIDDEN,
                Msg::RecoveryCounterRequired,
                "a level-1 account is recovered at a counter",
            ))
        }
    };
    if load_device(conn, &req.device.device_id)?.is_some()
        || conn
            .query_row("SELECT 1 FROM recoveries WHERE new_device_id = ?1", [&req.device.device_id], |_| Ok(()))
            .optional()?
            .is_some()
    {
        return Err(ApiError::new(StatusCode::CONFLICT, codes::DEVICE_EXISTS, "device id already registered"));
    }
    let tx = conn.savepoint()?;
    let waiting: Option<i64> = tx
        .query_row("SELECT 1 FROM recoveries WHERE account_id = ?1 AND state = 'waiting'", [&account_id], |r| r.get(0))
        .optional()?;
    if waiting.is_some() {
        return Err(refuse(StatusCode::CONFLICT, Msg::RecoveryInProgress, "a recovery is already waiting"));
    }
    let old_device_id = active_device(&tx, &account_id)?;
    let recovery_id = citizen_protocol::crypto::random_b64url(16);
    let ready_at = now + s.limits.recovery_wait_secs.max(0);
    let registration = serde_json::to_string(&req.device).map_err(|_| ApiError::internal())?;
    let counter = i64::try_from(req.proof.statement.counter).map_err(|_| ApiError::invalid("counter out of range"))?;
    tx.execute(
        "INSERT INTO recoveries (recovery_id, account_id, old_device_id, new_device_id, registration, public_key,
                                 bookkeeping_public_key, counter, method, started_by, state, started_at, ready_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'waiting', ?11, ?12)",
        params![
            recovery_id,
            account_id,
            old_device_id,
            req.device.device_id,
            registration,
            public_key,
            bookkeeping,
            counter,
            method,
            started_by,
            now,
            ready_at
        ],
    )?;
    tx.execute("UPDATE enrollments SET consumed_at = ?2 WHERE enrollment_id = ?1", params![req.enrollment_id, now])?;
    audit(&tx, now, "recovery_started", method, Some(&account_id), Some(&req.device.device_id));
    tx.commit()?;
    Ok(RecoveryStartResponse { recovery_id, account_id, old_device_id, ready_at, method: method.to_string() })
}

/// `POST /v1/recovery/complete`.
pub fn complete(
    s: &AppState,
    conn: &mut Connection,
    req: &RecoveryCompleteRequest,
) -> ApiResult<RecoveryCompleteResponse> {
    let now = s.now();
    let r = load(conn, &req.recovery_id)?.ok_or_else(unknown)?;
    let st = &req.signed.statement;
    // The new key, for this recovery, with a counter above its proof's.
    if st.purpose != Purpose::Recovery
        || st.nonce != req.recovery_id
        || st.subject != COMPLETE_SUBJECT
        || st.device_id != r.new_device_id
    {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            codes::PURPOSE_MISMATCH,
            "not a completion of this recovery",
        ));
    }
    crate::verify::check_audience(s, &st.audience)?;
    crate::verify::check_skew(s, st.issued_at)?;
    check_signature(&r.public_key, &req.signed)?;
    match r.state.as_str() {
        "cancelled" => return Err(refuse(StatusCode::CONFLICT, Msg::RecoveryCancelled, "the recovery was cancelled")),
        "completed" => return Err(refuse(StatusCode::CONFLICT, Msg::RecoveryReplayed, "the recovery is complete")),
        _ => {}
    }
    let counter = i64::try_from(st.counter).map_err(|_| ApiError::invalid("counter out of range"))?;
    if counter <= r.counter {
        return Err(refuse(StatusCode::CONFLICT, Msg::RecoveryReplayed, "counter already used"));
    }
    if now < r.ready_at {
        let wait = u64::try_from(r.ready_at - now).unwrap_or(1);
        audit(conn, now, "recovery_complete", Msg::RecoveryWaiting.code(), Some(&r.account_id), Some(&r.new_device_id));
        return Err(refuse(StatusCode::CONFLICT, Msg::RecoveryWaiting, "the waiting period has not ended")
            .with_retry_after(wait));
    }
    let d: citizen_protocol::protocol::DeviceRegistration =
        serde_json::from_str(&r.registration).map_err(|_| ApiError::internal())?;
    let tx = conn.savepoint()?;
    // The device active now (the old one, or none); a locked old device is replaced as well.
    let old = active_device(&tx, &r.account_id)?;
    if let Some(old_id) = &old {
        deactivate(&tx, old_id, "replaced", now)?;
        tx.execute("UPDATE devices SET locked_at = NULL WHERE device_id = ?1", [old_id])?;
        audit(&tx, now, "device_recovered", "ok", Some(&r.account_id), Some(old_id));
    }
    tx.execute(
        "INSERT INTO devices (device_id, account_id, public_key, hardware_backed, attestation_chain, platform, label,
                              status, status_changed_at, last_counter, enrolled_at, bookkeeping_public_key)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'active', ?8, ?9, ?8, ?10)",
        params![
            r.new_device_id,
            r.account_id,
            r.public_key,
            d.hardware_backed,
            serde_json::to_string(&d.attestation_chain).map_err(|_| ApiError::internal())?,
            d.platform,
            d.label,
            now,
            counter,
            r.bookkeeping_public_key
        ],
    )?;
    tx.execute(
        "UPDATE recoveries SET state = 'completed', ended_at = ?2, ended_by = 'new_device', old_device_id = ?3
          WHERE recovery_id = ?1",
        params![req.recovery_id, now, old],
    )?;
    audit(&tx, now, "recovery_completed", &r.method, Some(&r.account_id), Some(&r.new_device_id));
    tx.commit()?;
    Ok(RecoveryCompleteResponse { account_id: r.account_id, device_id: r.new_device_id, replaced_device_id: old })
}

/// `POST /v1/recovery/cancel`: the old device, with its key (after its passcode on the phone).
/// A statement signed by another key is `recovery.cancel_invalid`; a replayed one (nonce used,
/// counter seen) `recovery.replayed`.
pub fn cancel(s: &AppState, conn: &mut Connection, req: &RecoveryCancelRequest) -> ApiResult<OkBody> {
    let st = &req.signed.statement;
    let recovery_id = st
        .subject
        .strip_prefix(citizen_protocol::protocol::recovery::CANCEL_SUBJECT_PREFIX)
        .ok_or_else(|| ApiError::invalid("subject must name the recovery"))?
        .to_string();
    let r = load(conn, &recovery_id)?.ok_or_else(unknown)?;
    if r.old_device_id.as_deref() != Some(st.device_id.as_str()) {
        return Err(refuse(StatusCode::FORBIDDEN, Msg::RecoveryCancelInvalid, "not the device this recovery replaces"));
    }
    let tx = conn.savepoint()?;
    let verified = verify_signed(s, &tx, &req.signed, Purpose::RecoveryCancel, NonceRule::Challenge);
    if let Err(e) = verified {
        tx.commit()?; // the consumed nonce and the failure stay recorded
        return Err(match e.code() {
            codes::SIGNATURE_INVALID => {
                refuse(StatusCode::UNAUTHORIZED, Msg::RecoveryCancelInvalid, "not signed by the old device's key")
            }
            codes::NONCE_INVALID | codes::COUNTER_REPLAY => {
                refuse(StatusCode::CONFLICT, Msg::RecoveryReplayed, "this cancellation was already used")
            }
            _ => e,
        });
    }
    if st.subject != cancel_subject(&recovery_id) {
        return Err(ApiError::invalid("subject must name the recovery"));
    }
    match r.state.as_str() {
        "waiting" => {}
        "cancelled" => {
            tx.commit()?;
            return Err(refuse(StatusCode::CONFLICT, Msg::RecoveryCancelled, "the recovery was already cancelled"));
        }
        _ => {
            tx.commit()?;
            return Err(unknown());
        }
    }
    let now = s.now();
    tx.execute(
        "UPDATE recoveries SET state = 'cancelled', ended_at = ?2, ended_by = 'old_device' WHERE recovery_id = ?1",
        params![recovery_id, now],
    )?;
    audit(&tx, now, "recovery_cancelled", "old_device", Some(&r.account_id), Some(&st.device_id));
    tx.commit()?;
    Ok(OkBody { ok: true })
}

/// Body of the officials' recovery calls.
#[derive(Clone, Debug, serde::Deserialize)]
pub struct OfficialRecoveryRequest {
    /// The citizen's CCCD number.
    pub cccd: String,
    /// The official's staff id, recorded.
    pub official_id: String,
    /// `approve` only: the new phone's enrollment (its OTP went to the registered phone), which
    /// the official approves after checking the citizen in person.
    #[serde(default)]
    pub enrollment_id: Option<String>,
}

/// `POST /v1/official/recovery/approve`: an official, with the citizen at the counter, approves
/// the new phone's pending enrollment for a recovery (level-1 accounts; level-2 ones too).
pub fn official_approve(s: &AppState, conn: &mut Connection, req: &OfficialRecoveryRequest) -> ApiResult<OkBody> {
    if !valid_label(&req.official_id, false) {
        return Err(ApiError::invalid("official_id must be 1..64 printable characters"));
    }
    let now = s.now();
    let account_id = account_of_cccd(conn, &req.cccd)?;
    let enrollment_id = req.enrollment_id.as_deref().ok_or_else(|| ApiError::invalid("enrollment_id missing"))?;
    let n = conn.execute(
        "UPDATE enrollments SET approved_by_official = ?3
          WHERE enrollment_id = ?1 AND consumed_at IS NULL AND otp_expires_at > ?4
            AND citizen_id = (SELECT citizen_id FROM accounts WHERE account_id = ?2)",
        params![enrollment_id, account_id, req.official_id, now],
    )?;
    if n != 1 {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            codes::UNKNOWN_ENROLLMENT,
            "no pending enrollment to approve",
        ));
    }
    audit(conn, now, "recovery_approved", &format!("official:{}", req.official_id), Some(&account_id), None);
    Ok(OkBody { ok: true })
}

/// `POST /v1/official/recovery/cancel`: an official cancels the account's waiting recovery at
/// the citizen's request (the citizen still has the old phone, or it was not them).
pub fn official_cancel(s: &AppState, conn: &mut Connection, req: &OfficialRecoveryRequest) -> ApiResult<OkBody> {
    if !valid_label(&req.official_id, false) {
        return Err(ApiError::invalid("official_id must be 1..64 printable characters"));
    }
    let now = s.now();
    let account_id = account_of_cccd(conn, &req.cccd)?;
    let n = conn.execute(
        "UPDATE recoveries SET state = 'cancelled', ended_at = ?2, ended_by = ?3
          WHERE account_id = ?1 AND state = 'waiting'",
        params![account_id, now, format!("official:{}", req.official_id)],
    )?;
    if n != 1 {
        return Err(unknown());
    }
    audit(conn, now, "recovery_cancelled", &format!("official:{}", req.official_id), Some(&account_id), None);
    Ok(OkBody { ok: true })
}

/// The signed notice for `device_id` if a recovery that would replace it is waiting (the old
/// device's "next contact": challenges and status answers). Audited once, when first given.
pub fn notice_for(s: &AppState, conn: &Connection, device_id: &str) -> ApiResult<Option<String>> {
    let row: Option<(String, String, String, i64, i64, Option<i64>)> = conn
        .query_row(
            "SELECT recovery_id, account_id, method, started_at, ready_at, notice_seen_at FROM recoveries
              WHERE old_device_id = ?1 AND state = 'waiting'",
            [device_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
        )
        .optional()?;
    let Some((recovery_id, account_id, method, started_at, ready_at, seen)) = row else { return Ok(None) };
    let now = s.now();
    if seen.is_none() {
        conn.execute("UPDATE recoveries SET notice_seen_at = ?2 WHERE recovery_id = ?1", params![recovery_id, now])?;
        audit(conn, now, "recovery_notice", "ok", Some(&account_id), Some(device_id));
    }
    let notice = RecoveryNotice {
        iss: s.audience.clone(),
        device_id: device_id.to_string(),
        recovery_id,
        method,
        started_at,
        ready_at,
        iat: now,
    };
    Ok(Some(s.tokens.sign(&notice)))
}

/// Whether a device was deactivated by a completed recovery (its status reads `recovered`).
pub fn was_recovered(conn: &Connection, device_id: &str) -> crate::sql::Result<bool> {
    Ok(conn
        .query_row("SELECT 1 FROM recoveries WHERE old_device_id = ?1 AND state = 'completed'", [device_id], |_| Ok(()))
        .optional()?
        .is_some())
}

#[cfg(test)]
mod tests {
    #[test]
    fn recovery_codes_are_in_the_catalogue() {
        use citizen_protocol::messages::Msg;
        for m in [Msg::RecoveryChipRequired, Msg::RecoveryWaiting, Msg::RecoveryCancelInvalid, Msg::RecoveryReplayed] {
            assert!(m.code().starts_with("recovery."));
        }
    }
}
