//! Passcode reset. The server never sees passcodes: it checks that the citizen still controls
//! the registered phone (OTP) and the device key (signed statement, nonce = reset id); the
//! device then re-wraps its local data under a new passcode.

use crate::sql::{params, Connection, OptionalExtension};
use axum::http::StatusCode;
use citizen_protocol::cccd::mask_phone;
use citizen_protocol::crypto::random_b64url;
use citizen_protocol::protocol::{
    codes, Ok as OkBody, Purpose, ResetCompleteRequest, ResetStartRequest, ResetStartResponse,
};

use crate::api::{ApiError, ApiResult, AppState};
use crate::db::audit;
use crate::otp::{generate_otp, hash_otp};
use crate::verify::{check_otp, load_device, rate_limit, verify_signed, NonceRule, OtpRow, OtpTable};

/// `POST /v1/passcode-reset/start`.
pub fn start(s: &AppState, conn: &mut Connection, req: &ResetStartRequest) -> ApiResult<ResetStartResponse> {
    let now = s.now();
    let dev = load_device(conn, &req.device_id)?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, codes::UNKNOWN_DEVICE, "unknown device"))?;
    crate::verify::check_device_usable(&dev)?;
    rate_limit(s, conn, &format!("reset:{}", dev.account_id), s.limits.enroll_per_hour, 3600)?;
    let phone: String = conn.query_row(
        "SELECT c.phone FROM citizens c JOIN accounts a ON a.citizen_id = c.id WHERE a.account_id = ?1",
        [&dev.account_id],
        |r| r.get(0),
    )?;
    let reset_id = random_b64url(16);
    let otp = generate_otp();
    let expires_at = now + s.limits.otp_ttl_secs;
    conn.execute(
        "INSERT INTO passcode_resets (reset_id, device_id, otp_hash, otp_expires_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![reset_id, dev.device_id, hash_otp(&s.secret, &reset_id, &otp), expires_at, now],
    )?;
    // Sent once the unit is committed (never for a unit run again or rolled back).
    let (sender, to, reference) = (s.otp_sender.clone(), phone.clone(), reset_id.clone());
    crate::api::after_commit(move || sender.send(&to, &reference, &otp));
    audit(conn, now, "passcode_reset_start", "ok", Some(&dev.account_id), Some(&dev.device_id));
    Ok(ResetStartResponse { reset_id, masked_phone: mask_phone(&phone), otp_expires_at: expires_at })
}

/// `POST /v1/passcode-reset/complete`.
pub fn complete(s: &AppState, conn: &mut Connection, req: &ResetCompleteRequest) -> ApiResult<OkBody> {
    let row = conn
        .query_row(
            "SELECT device_id, otp_hash, otp_expires_at, attempts, consumed_at FROM passcode_resets WHERE reset_id = ?1",
            [&req.reset_id],
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
    let (device_id, otp_row) = row
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, codes::UNKNOWN_ENROLLMENT, "unknown or finished reset"))?;
    check_otp(s, conn, OtpTable::Reset, &req.reset_id, &otp_row, &req.otp)?;
    if req.signed.statement.device_id != device_id {
        return Err(ApiError::invalid("statement must be signed by the device being reset"));
    }
    let dev = verify_signed(s, conn, &req.signed, Purpose::PasscodeReset, NonceRule::Fixed(&req.reset_id))?;
    let now = s.now();
    conn.execute("UPDATE passcode_resets SET consumed_at = ?2 WHERE reset_id = ?1", params![req.reset_id, now])?;
    audit(conn, now, "passcode_reset", "ok", Some(&dev.account_id), Some(&dev.device_id));
    Ok(OkBody { ok: true })
}
