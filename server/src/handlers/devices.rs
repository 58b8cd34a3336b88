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
        "SELECT device_id, label, platform, hardware_backed, status, enrolled_at, last_login_at
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
pub fn status(_s: &AppState, conn: &mut Connection, req: &DeviceStatusRequest) -> ApiResult<DeviceStatusResponse> {
    let d = load_device(conn, &req.device_id)?.ok_or_else(unknown_device)?;
    Ok(DeviceStatusResponse { status: d.status, changed_at: d.status_changed_at })
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
    let enrollment_id = &req.signed.statement.subject;
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
        "UPDATE enrollments SET approved_by_device = ?2 WHERE enrollment_id = ?1",
        params![enrollment_id, b.device_id],
    )?;
    audit(conn, now, "transfer_approved", "ok", Some(&b.account_id), Some(&b.device_id));
    Ok(OkBody { ok: true })
}
