//! Re-binding a device whose key was invalidated (issue 15: biometrics changed, Android
//! `KeyPermanentlyInvalidatedException`): a new key on the same device and account.
//!
//! The old key cannot sign any more, so the proof is: the device's **session** (a bearer token,
//! which the device can still refresh without signing) **or**, when the session has expired, a
//! **chip read** with active authentication over `aa_challenge(rebind id)` whose DG13 matches the
//! register (decision 48; without a session and without the chip: `rebind.chip_required`, so an
//! OTP from a swapped SIM is never enough); an **OTP** to the registered phone; and the **new
//! key's** signature over the re-binding (purpose `rebind`, nonce = rebind id, subject
//! `rebind:<digest of the new key>[;chip:<evidence digest>]`, the device's next counter). The
//! server then replaces the device key (`key_rotations` keeps the old one for the audit) — the
//! device, its counters, its bookkeeping key and its cases stay. A locked or deactivated device
//! cannot re-bind; a re-binding is spent by its first success (`recovery.replayed` after).

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
use crate::handlers::chip;
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

/// `POST /v1/rebind/complete` (Bearer, or the chip without a session).
pub fn complete(
    s: &AppState,
    conn: &mut Connection,
    token: Option<&str>,
    req: &RebindCompleteRequest,
) -> ApiResult<OkBody> {
    // Who proves the citizen: the chip when it was read (an expired token does not matter
    // then), else the session; neither is refused before the OTP is looked at.
    let session = match (&req.evidence, token) {
        (Some(_), _) => None,
        (None, Some(_)) => Some(authenticate(s, conn, token)?),
        (None, None) => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                Msg::RebindChipRequired.code(),
                "without a session, re-binding needs the chip",
            ))
        }
    };
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
    let replayed =
        || ApiError::new(StatusCode::CONFLICT, Msg::RecoveryReplayed.code(), "this re-binding was already used");
    if otp_row.consumed {
        return Err(replayed());
    }
    let account_id = match &session {
        Some(b) if b.device_id != device_id => {
            return Err(ApiError::new(StatusCode::FORBIDDEN, codes::TOKEN_INVALID, "session of another device"))
        }
        Some(b) => b.account_id.clone(),
        None => {
            let dev = load_device(conn, &device_id)?
                .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, codes::UNKNOWN_DEVICE, "unknown device"))?;
            check_device_usable(&dev)?;
            dev.account_id
        }
    };
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
    if st.nonce != req.rebind_id
        || st.device_id != device_id
        || st.subject != rebind_subject(&new_key, req.evidence.as_ref())
    {
        return Err(proof_invalid("proof is for another re-binding, key or card read"));
    }
    check_signature(&new_key, &req.proof).map_err(|_| proof_invalid("proof not signed by the new key"))?;
    let now = s.now();
    if let Some(ev) = &req.evidence {
        if let Err(e) = chip::prove_citizen(s, conn, ev, &req.rebind_id, &account_id) {
            audit(conn, now, "rebind_complete", e.code(), Some(&account_id), Some(&device_id));
            return Err(e);
        }
    }
    let tx = conn.savepoint()?;
    // Spent once: of two completions at once, one rotates the key and the other is a replay.
    let spent = tx.execute(
        "UPDATE rebindings SET consumed_at = ?2 WHERE rebind_id = ?1 AND consumed_at IS NULL",
        params![req.rebind_id, now],
    )?;
    if spent != 1 {
        return Err(replayed());
    }
    accept_device_counter(&tx, &device_id, CounterKind::Login, st.counter)?;
    let old_key: Vec<u8> =
        tx.query_row("SELECT public_key FROM devices WHERE device_id = ?1", [&device_id], |r| r.get(0))?;
    tx.execute("UPDATE devices SET public_key = ?2 WHERE device_id = ?1", params![device_id, new_key])?;
    tx.execute(
        "INSERT INTO key_rotations (device_id, old_public_key, new_public_key, at) VALUES (?1, ?2, ?3, ?4)",
        params![device_id, old_key, new_key, now],
    )?;
    // Outstanding nonces were issued for the old key's signatures: drop them.
    tx.execute("DELETE FROM nonces WHERE device_id = ?1", [&device_id])?;
    let how = if req.evidence.is_some() { "chip" } else { "session" };
    audit(&tx, now, "device_key_rotated", how, Some(&account_id), Some(&device_id));
    tx.commit()?;
    Ok(OkBody { ok: true })
}
