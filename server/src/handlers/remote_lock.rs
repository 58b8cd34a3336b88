//! The citizen's own remote lock of a lost phone, from the portal or any other device, without
//! the phone (issue 15, decision 48).
//!
//! A lost phone cannot approve a QR login, so the portal cannot use one: the citizen proves
//! themselves with what is left.
//!
//! * `POST /v1/lock/start` takes the three identifiers of an enrollment (CCCD number, date of
//!   birth, registered phone; all must match the register) and sends an OTP to the registered
//!   phone. The identifiers are semi-public, so **they alone never lock**: they only cause an
//!   SMS to the citizen, throttled per CCCD number (`Limits::enroll_per_hour` per hour).
//! * `POST /v1/lock/complete` takes the lock id with **one proof**: the OTP (bounded attempts,
//!   like every OTP), or a chip read with active authentication over `aa_challenge(lock id)`,
//!   passive authentication and DG13 equal to the register (when the SIM went with the phone:
//!   read at a kiosk or on another phone). Without either: `lock.proof_required`. A request is
//!   spent by its first success (`lock.replayed` after).
//!
//! The lock itself is the officials' lock (`devices::set_device_lock`, actor `portal:otp` or
//! `portal:chip`): the device's sessions end, its nonces are dropped, its outbox waits; it is
//! lifted at a counter or ended by a recovery.

use crate::sql::{params, Connection, OptionalExtension};
use axum::http::StatusCode;
use citizen_protocol::cccd::{mask_phone, normalize_phone, validate_identity, Date};
use citizen_protocol::crypto::random_b64url;
use citizen_protocol::messages::Msg;
use citizen_protocol::protocol::codes;
use citizen_protocol::protocol::recovery::{
    RemoteLockCompleteRequest, RemoteLockCompleteResponse, RemoteLockStartRequest, RemoteLockStartResponse,
};

use crate::api::{ApiError, ApiResult, AppState};
use crate::db::audit;
use crate::handlers::chip;
use crate::handlers::devices::{active_device, set_device_lock};
use crate::otp::{generate_otp, hash_otp};
use crate::verify::{check_otp, rate_limit, OtpRow, OtpTable};

fn refuse(status: StatusCode, msg: Msg, detail: &str) -> ApiError {
    ApiError::new(status, msg.code(), detail)
}

/// `POST /v1/lock/start`.
pub fn start(s: &AppState, conn: &mut Connection, req: &RemoteLockStartRequest) -> ApiResult<RemoteLockStartResponse> {
    let now = s.now();
    let mut problems: Vec<String> =
        validate_identity(&req.cccd, &req.date_of_birth, Date::from_unix_vn(now)).into_iter().map(|e| e.code).collect();
    let phone = normalize_phone(&req.phone).map_err(|e| problems.push(e.code)).ok();
    let phone = match (problems.is_empty(), phone) {
        (true, Some(p)) => p,
        _ => return Err(ApiError::invalid(format!("invalid fields: {}", problems.join(", ")))),
    };
    // Throttled before the register is read: guesses count as much as matches.
    rate_limit(s, conn, &format!("remote_lock:{}", req.cccd), s.limits.enroll_per_hour, 3600)?;
    let no_match = || {
        ApiError::new(StatusCode::NOT_FOUND, codes::NO_MATCH, "no account matches this number, date of birth and phone")
    };
    let citizen_id = crate::register::find_match(conn, &req.cccd, &req.date_of_birth, &phone)?.ok_or_else(no_match)?;
    let account_id: String = conn
        .query_row("SELECT account_id FROM accounts WHERE citizen_id = ?1", [citizen_id], |r| r.get(0))
        .optional()?
        .ok_or_else(no_match)?;
    // No active device, nothing to lock: answered like a mismatch (`unknown_device` would tell
    // the asking device that *it* is unknown).
    if active_device(conn, &account_id)?.is_none() {
        return Err(no_match());
    }
    let lock_id = random_b64url(16);
    let otp = generate_otp();
    let expires_at = now + s.limits.otp_ttl_secs;
    conn.execute(
        "INSERT INTO remote_locks (lock_id, account_id, otp_hash, otp_expires_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![lock_id, account_id, hash_otp(&s.secret, &lock_id, &otp), expires_at, now],
    )?;
    let (sender, to, reference) = (s.otp_sender.clone(), phone.clone(), lock_id.clone());
    crate::api::after_commit(move || sender.send(&to, &reference, &otp));
    audit(conn, now, "remote_lock_start", "ok", Some(&account_id), None);
    Ok(RemoteLockStartResponse { lock_id, masked_phone: mask_phone(&phone), otp_expires_at: expires_at })
}

/// `POST /v1/lock/complete`.
pub fn complete(
    s: &AppState,
    conn: &mut Connection,
    req: &RemoteLockCompleteRequest,
) -> ApiResult<RemoteLockCompleteResponse> {
    let now = s.now();
    let row = conn
        .query_row(
            "SELECT account_id, otp_hash, otp_expires_at, attempts, consumed_at FROM remote_locks WHERE lock_id = ?1",
            [&req.lock_id],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    OtpRow {
                        otp_hash: r.get(1)?,
                        expires_at: r.get(2)?,
                        attempts: r.get(3)?,
                        consumed: r.get::<_, Option<i64>>(4)?.is_some(),
                    },
                ))
            },
        )
        .optional()?;
    let (account_id, otp_row) =
        row.ok_or_else(|| refuse(StatusCode::NOT_FOUND, Msg::LockUnknown, "unknown lock request"))?;
    let replayed = || refuse(StatusCode::CONFLICT, Msg::LockReplayed, "this lock request was already used");
    if otp_row.consumed {
        return Err(replayed());
    }
    let method = match (&req.evidence, &req.otp) {
        (Some(ev), _) => {
            if let Err(e) = chip::prove_citizen(s, conn, ev, &req.lock_id, &account_id) {
                audit(conn, now, "remote_lock", e.code(), Some(&account_id), None);
                return Err(e);
            }
            "chip"
        }
        (None, Some(otp)) => {
            check_otp(s, conn, OtpTable::RemoteLock, &req.lock_id, &otp_row, otp)?;
            "otp"
        }
        (None, None) => {
            audit(conn, now, "remote_lock", Msg::LockProofRequired.code(), Some(&account_id), None);
            return Err(refuse(
                StatusCode::FORBIDDEN,
                Msg::LockProofRequired,
                "a remote lock needs the OTP or the chip",
            ));
        }
    };
    let tx = conn.savepoint()?;
    // Spent once: of two completions at once, one locks and the other is a replay.
    let spent = tx.execute(
        "UPDATE remote_locks SET consumed_at = ?2, method = ?3 WHERE lock_id = ?1 AND consumed_at IS NULL",
        params![req.lock_id, now, method],
    )?;
    if spent != 1 {
        return Err(replayed());
    }
    let device_id = active_device(&tx, &account_id)?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, codes::NO_MATCH, "the account has no active device"))?;
    set_device_lock(&tx, now, &account_id, &device_id, true, &format!("portal:{method}"), "lost")?;
    tx.commit()?;
    Ok(RemoteLockCompleteResponse { device_id, locked_at: now, method: method.to_string() })
}
