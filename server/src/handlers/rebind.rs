//! Re-binding a device whose key was invalidated (issue 15: biometrics changed, Android
//! `KeyPermanentlyInvalidatedException`): a new key on the same device and account.
//!
//! The old key cannot sign any more, so the proof is: the device's **session** (a bearer token,
//! which the device can still refresh without signing), an **OTP** to the registered phone, and
//! the **new key's** signature over the re-binding (purpose `rebind`, nonce = rebind id, subject
//! `rebind:<digest of the new key>`, the device's next counter). The server then replaces the
//! device key (`key_rotations` keeps the old one for the audit) — the device, its counters, its
//! bookkeeping key and its cases stay. A locked or deactivated device cannot re-bind.

use crate::sql::{params, Connection, OptionalExtension};
use axum::http::StatusCode;
use citizen_protocol::cccd::mask_phone;
use citizen_protocol::crypto::{self, random_b64url};
use citizen_protocol::messages::Msg;
use citizen_protocol::protocol::recovery::{
    rebind_subject, RebindCompleteRequest, RebindStartRequest, RebindStartResponse,
};
use citizen_protocol::protocol::{codes, Ok as OkBody, Purpose};

use crate::api::{ApiError, ApiResult, AppState};
use crate::db::audit;
use crate::handlers::auth::authenticate;
use crate::otp::{generate_otp, hash_otp};
use crate::verify::{
    accept_device_counter, check_audience, check_device_usable, check_otp, check_signature, check_skew, load_device,
    rate_limit, CounterKind, OtpRow, OtpTable,
};

/// `POST /v1/rebind/start`.
pub fn start(s: &AppState, conn: &mut Connection, req: &RebindStartRequest) -> ApiResult<RebindStartResponse> {
    let now = s.now();
    let dev = load_device(conn, &req.device_id)?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, codes::UNKNOWN_DEVICE, "unknown device"))?;
    check_device_usable(&dev)?;
    rate_limit(s, conn, &format!("rebind:{}", dev.account_id), s.limits.enroll_per_hour, 3600)?;
    let phone: String = conn.query_row(
        "SELECT c.phone FROM citizens c JOIN accounts a ON a.citizen_id = c.id WHERE a.account_id = ?1",
        [&dev.account_id],
        |r| r.get(0),
    )?;
    let rebind_id = random_b64url(16);
    let otp = generate_otp();
    let expires_at = now + s.limits.otp_ttl_secs;
    conn.execute(
        "INSERT INTO rebindings (rebind_id, device_id, otp_hash, otp_expires_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![rebind_id, dev.device_id, hash_otp(&s.secret, &rebind_id, &otp), expires_at, now],
    )?;
    s.otp_sender.send(&phone, &rebind_id, &otp);
    audit(conn, now, "rebind_start", "ok", Some(&dev.account_id), Some(&dev.device_id));
    Ok(RebindStartResponse { rebind_id, masked_phone: mask_phone(&phone), otp_expires_at: expires_at })
}

/// `POST /v1/rebind/complete` (Bearer).
pub fn complete(
    s: &AppState,
    conn: &mut Connection,
    token: Option<&str>,
    req: &RebindCompleteRequest,
) -> ApiResult<OkBody> {
    let b = authenticate(s, conn, token)?;
    let row = conn
        .query_row(
            "SELECT device_id, otp_hash, otp_expires_at, attempts, consumed_at FROM rebindings WHERE rebind_id = ?1",
            [&req.rebind_id],
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
    let (device_id, otp_row) = row.ok_or_else(|| {
        ApiError::new(StatusCode::NOT_FOUND, Msg::NoPendingRebind.code(), "unknown or finished re-binding")
    })?;
    if otp_row.consumed {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            Msg::RecoveryReplayed.code(),
            "this re-binding was already used",
        ));
    }
    if device_id != b.device_id {
        return Err(ApiError::new(StatusCode::FORBIDDEN, codes::TOKEN_INVALID, "session of another device"));
    }
    check_otp(s, conn, OtpTable::Rebind, &req.rebind_id, &otp_row, &req.otp)?;
    let proof_invalid = |why: &str| ApiError::new(StatusCode::UNAUTHORIZED, Msg::RebindProofInvalid.code(), why);
    let raw = crypto::unb64(&req.new_public_key).ok_or_else(|| ApiError::invalid("new key is not base64url"))?;
    let key = crypto::parse_public_key(&raw).map_err(|_| ApiError::invalid("invalid new public key"))?;
    let new_key = crypto::sec1_uncompressed(&key);
    let st = &req.proof.statement;
    if st.purpose != Purpose::Rebind {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, codes::PURPOSE_MISMATCH, "proof must have purpose rebind"));
    }
    check_audience(s, &st.audience)?;
    check_skew(s, st.issued_at)?;
    if st.nonce != req.rebind_id || st.device_id != device_id || st.subject != rebind_subject(&new_key) {
        return Err(proof_invalid("proof is for another re-binding or key"));
    }
    check_signature(&new_key, &req.proof).map_err(|_| proof_invalid("proof not signed by the new key"))?;
    let now = s.now();
    let tx = conn.savepoint()?;
    accept_device_counter(&tx, &device_id, CounterKind::Login, st.counter)?;
    let old_key: Vec<u8> =
        tx.query_row("SELECT public_key FROM devices WHERE device_id = ?1", [&device_id], |r| r.get(0))?;
    tx.execute("UPDATE devices SET public_key = ?2 WHERE device_id = ?1", params![device_id, new_key])?;
    tx.execute(
        "INSERT INTO key_rotations (device_id, old_public_key, new_public_key, at) VALUES (?1, ?2, ?3, ?4)",
        params![device_id, old_key, new_key, now],
    )?;
    tx.execute("UPDATE rebindings SET consumed_at = ?2 WHERE rebind_id = ?1", params![req.rebind_id, now])?;
    // Outstanding nonces were issued for the old key's signatures: drop them.
    tx.execute("DELETE FROM nonces WHERE device_id = ?1", [&device_id])?;
    audit(&tx, now, "device_key_rotated", "ok", Some(&b.account_id), Some(&device_id));
    tx.commit()?;
    Ok(OkBody { ok: true })
}
