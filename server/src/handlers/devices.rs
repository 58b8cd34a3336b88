//! The device registry: list, status, revoke, and approval of a hand-over to a new device.

use crate::sql::{params, Connection, OptionalExtension};
use axum::http::StatusCode;
use citizen_protocol::protocol::{
    codes, DeviceDto, DeviceStatusRequest, DeviceStatusResponse, DevicesResponse, Ok as OkBody, Purpose,
    RevokeDeviceRequest, TransferApprovalRequest,
};

use crate::api::{ApiError, ApiResult, AppState};
use crate::db::audit;
use crate::handlers::auth::{authenticate, Bearer};
use crate::verify::{load_device, verify_signed, NonceRule};

fn unknown_device() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, codes::UNKNOWN_DEVICE, "unknown device")
}

/// Set a device's status, end its sessions and drop its outstanding nonces.
pub fn deactivate(conn: &Connection, device_id: &str, status: &str, now: i64) -> crate::sql::Result<()> {
    conn.execute(
        "UPDATE devices SET status = ?2, status_changed_at = ?3 WHERE device_id = ?1",
        params![device_id, status, now],
    )?;
    conn.execute(
        "UPDATE sessions SET revoked_at = ?2, revoke_reason = ?3 WHERE device_id = ?1 AND revoked_at IS NULL",
        params![device_id, now, format!("device_{status}")],
    )?;
    conn.execute("DELETE FROM nonces WHERE device_id = ?1", [device_id])?;
    Ok(())
}

/// `GET /v1/devices`.
pub fn list(s: &AppState, conn: &mut Connection, token: Option<&str>) -> ApiResult<DevicesResponse> {
    let b = authenticate(s, conn, token)?;
    let mut st = conn.prepare(
        "SELECT device_id, label, platform, hardware_backed,
                CASE WHEN status = 'active' AND locked_at IS NOT NULL THEN 'locked' ELSE status END,
                enrolled_at, last_login_at
           FROM devices WHERE account_id = ?1 ORDER BY enrolled_at DESC, rowid DESC",
    )?;
    let devices = st
        .query_map([&b.account_id], |r| {
            Ok(DeviceDto {
                device_id: r.get(0)?,
                label: r.get(1)?,
                platform: r.get(2)?,
                hardware_backed: r.get(3)?,
                status: r.get(4)?,
                enrolled_at: r.get(5)?,
                last_login_at: r.get(6)?,
            })
        })?
        .collect::<crate::sql::Result<Vec<_>>>()?;
    Ok(DevicesResponse { devices })
}

fn bearer_signs(b: &Bearer, device_id: &str) -> ApiResult<()> {
    if b.device_id != device_id {
        return Err(ApiError::invalid("statement must be signed by the device of this session"));
    }
    Ok(())
}

/// `POST /v1/devices/revoke`.
pub fn revoke(
    s: &AppState,
    conn: &mut Connection,
    token: Option<&str>,
    req: &RevokeDeviceRequest,
) -> ApiResult<OkBody> {
    let b = authenticate(s, conn, token)?;
    bearer_signs(&b, &req.signed.statement.device_id)?;
    verify_signed(s, conn, &req.signed, Purpose::RevokeDevice, NonceRule::Challenge)?;
    let now = s.now();
    let target = load_device(conn, &req.signed.statement.subject)?
        .filter(|d| d.account_id == b.account_id)
        .ok_or_else(unknown_device)?;
    let tx = conn.savepoint()?;
    if target.status != "revoked" {
        deactivate(&tx, &target.device_id, "revoked", now)?;
    }
    audit(&tx, now, "device_revoked", "ok", Some(&b.account_id), Some(&target.device_id));
    tx.commit()?;
    Ok(OkBody { ok: true })
}

/// `POST /v1/devices/status`.
pub fn status(s: &AppState, conn: &mut Connection, req: &DeviceStatusRequest) -> ApiResult<DeviceStatusResponse> {
    let d = load_device(conn, &req.device_id)?.ok_or_else(unknown_device)?;
    let status = if d.status == "replaced" && super::recovery::was_recovered(conn, &d.device_id)? {
        "recovered".to_string()
    } else {
        d.shown_status().to_string()
    };
    let recovery_notice = if status == "active" { super::recovery::notice_for(s, conn, &d.device_id)? } else { None };
    Ok(DeviceStatusResponse { status, changed_at: d.status_changed_at, recovery_notice })
}

/// `POST /v1/devices/transfer-approval`: the active device approves a pending enrollment of
/// the same citizen, so that enrollment will mark it "transferred" rather than "replaced".
pub fn transfer_approval(
    s: &AppState,
    conn: &mut Connection,
    token: Option<&str>,
    req: &TransferApprovalRequest,
) -> ApiResult<OkBody> {
    let b = authenticate(s, conn, token)?;
    bearer_signs(&b, &req.signed.statement.device_id)?;
    verify_signed(s, conn, &req.signed, Purpose::Transfer, NonceRule::Challenge)?;
    let now = s.now();
    // `transfer:<enrollment id>:<secret digest>` when the old phone scanned the new phone's QR
    // code (issue 15, proximity check); the bare enrollment id otherwise.
    let subject = &req.signed.statement.subject;
    let (enrollment_id, secret_sha256) = match subject.strip_prefix("transfer:").and_then(|r| r.split_once(':')) {
        Some((e, d)) if d.len() == 64 && d.bytes().all(|b| b.is_ascii_hexdigit()) => (e, Some(d)),
        Some(_) => return Err(ApiError::invalid("malformed transfer subject")),
        None => (subject.as_str(), None),
    };
    let pending: Option<i64> = conn
        .query_row(
            "SELECT e.enrollment_id FROM enrollments e JOIN accounts a ON a.citizen_id = e.citizen_id
              WHERE e.enrollment_id = ?1 AND a.account_id = ?2 AND e.consumed_at IS NULL
                AND e.otp_expires_at > ?3 AND e.attempts < ?4",
            params![enrollment_id, b.account_id, now, s.limits.otp_max_attempts],
            |_| Ok(1),
        )
        .optional()?;
    if pending.is_none() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            codes::UNKNOWN_ENROLLMENT,
            "no pending enrollment to approve",
        ));
    }
    conn.execute(
        "UPDATE enrollments SET approved_by_device = ?2, approved_secret_sha256 = ?3 WHERE enrollment_id = ?1",
        params![enrollment_id, b.device_id, secret_sha256],
    )?;
    let how = if secret_sha256.is_some() { "proximity" } else { "ok" };
    audit(conn, now, "transfer_approved", how, Some(&b.account_id), Some(&b.device_id));
    Ok(OkBody { ok: true })
}

/// Body of the officials' `POST /v1/official/devices/lock` (issue 15): lock or unlock the
/// active device of a citizen who reported it lost at a counter (or by the hotline).
#[derive(Clone, Debug, serde::Deserialize)]
pub struct DeviceLockRequest {
    /// The citizen's CCCD number (officials identify citizens by it).
    pub cccd: String,
    /// `true` locks the account's active device, `false` unlocks it.
    pub locked: bool,
    /// Who decided (the official's staff id), recorded with the lock.
    pub official_id: String,
    /// Why (`lost`, `stolen`, `found`, …), recorded with the lock; no personal data.
    #[serde(default)]
    pub reason: String,
}

/// An official's id or a reason: 1..64 printable characters (the reason may be empty).
pub fn valid_label(t: &str, may_be_empty: bool) -> bool {
    (may_be_empty || !t.is_empty()) && t.chars().count() <= 64 && !t.chars().any(char::is_control)
}

/// The account of a CCCD number (officials identify citizens by it).
pub fn account_of_cccd(conn: &Connection, cccd: &str) -> ApiResult<String> {
    conn.query_row(
        "SELECT a.account_id FROM accounts a JOIN citizens c ON c.id = a.citizen_id WHERE c.cccd = ?1",
        [cccd],
        |r| r.get(0),
    )
    .optional()?
    .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, codes::NO_MATCH, "no account for this citizen"))
}

/// The account's one active device.
pub fn active_device(conn: &Connection, account_id: &str) -> ApiResult<Option<String>> {
    Ok(conn
        .query_row("SELECT device_id FROM devices WHERE account_id = ?1 AND status = 'active'", [account_id], |r| {
            r.get(0)
        })
        .optional()?)
}

/// Lock (or unlock) a device remotely, recording who did it (`actor`: `official:<id>` or
/// `portal`) and why. A lock ends the device's sessions and drops its outstanding nonces, so
/// nothing it signed before can still be used with a challenge; the device stays the account's
/// device (its outbox waits on it) until it is unlocked or a recovery replaces it.
pub fn set_device_lock(
    conn: &Connection,
    now: i64,
    account_id: &str,
    device_id: &str,
    locked: bool,
    actor: &str,
    reason: &str,
) -> ApiResult<()> {
    if locked {
        conn.execute(
            "UPDATE devices SET locked_at = COALESCE(locked_at, ?2) WHERE device_id = ?1",
            params![device_id, now],
        )?;
        conn.execute(
            "UPDATE sessions SET revoked_at = ?2, revoke_reason = 'device_locked'
              WHERE device_id = ?1 AND revoked_at IS NULL",
            params![device_id, now],
        )?;
        conn.execute("DELETE FROM nonces WHERE device_id = ?1", [device_id])?;
    } else {
        conn.execute("UPDATE devices SET locked_at = NULL WHERE device_id = ?1", [device_id])?;
    }
    let action = if locked { "lock" } else { "unlock" };
    conn.execute(
        "INSERT INTO device_locks (device_id, account_id, action, actor, reason, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![device_id, account_id, action, actor, reason, now],
    )?;
    audit(conn, now, if locked { "device_locked" } else { "device_unlocked" }, "ok", Some(account_id), Some(device_id));
    Ok(())
}

/// `POST /v1/official/devices/lock` (officials' token checked by the route): the official's id
/// is recorded with the lock.
pub fn official_lock(s: &AppState, conn: &mut Connection, req: &DeviceLockRequest) -> ApiResult<OkBody> {
    if !valid_label(&req.official_id, false) || !valid_label(&req.reason, true) {
        return Err(ApiError::invalid("official_id must be 1..64 printable characters, reason at most 64"));
    }
    let now = s.now();
    let tx = conn.savepoint()?;
    let account_id = account_of_cccd(&tx, &req.cccd)?;
    let device_id = active_device(&tx, &account_id)?.ok_or_else(unknown_device)?;
    set_device_lock(
        &tx,
        now,
        &account_id,
        &device_id,
        req.locked,
        &format!("official:{}", req.official_id),
        &req.reason,
    )?;
    tx.commit()?;
    Ok(OkBody { ok: true })
}
