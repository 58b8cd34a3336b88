//! Enrollment: match the citizen in the register, prove the phone with an OTP, prove
//! possession of the new device key, and make that device the account's one active device.

use crate::sql::{params, Connection, OptionalExtension};
use axum::http::StatusCode;
use citizen_protocol::cccd::{mask_phone, normalize_phone, validate_identity, Date};
use citizen_protocol::crypto::{random_b64url, unb64};
use citizen_protocol::protocol::{
    codes, EnrollCompleteRequest, EnrollCompleteResponse, EnrollStartRequest, EnrollStartResponse,
};

use crate::api::{ApiError, ApiResult, AppState};
use crate::db::audit;
use crate::otp::{generate_otp, hash_otp};
use crate::verify::{check_otp, load_device, rate_limit, verify_enroll_proof, OtpRow, OtpTable};

/// `POST /v1/enrollment/start`.
pub fn start(s: &AppState, conn: &mut Connection, req: &EnrollStartRequest) -> ApiResult<EnrollStartResponse> {
    let now = s.now();
    let mut problems: Vec<String> =
        validate_identity(&req.cccd, &req.date_of_birth, Date::from_unix_vn(now)).into_iter().map(|e| e.code).collect();
    let phone = match normalize_phone(&req.phone) {
        Ok(p) => Some(p),
        Err(e) => {
            problems.push(e.code);
            None
        }
    };
    let phone = match (problems.is_empty(), phone) {
        (true, Some(p)) => p,
        _ => return Err(ApiError::invalid(format!("invalid fields: {}", problems.join(", ")))),
    };
    rate_limit(s, conn, &format!("enroll:{}", req.cccd), s.limits.enroll_per_hour, 3600)?;
    let citizen_id = crate::register::find_match(conn, &req.cccd, &req.date_of_birth, &phone)?.ok_or_else(|| {
        ApiError::new(StatusCode::NOT_FOUND, codes::NO_MATCH, "no citizen matches this number, date of birth and phone")
    })?;
    let enrollment_id = random_b64url(16);
    let otp = generate_otp();
    let expires_at = now + s.limits.otp_ttl_secs;
    conn.execute(
        "INSERT INTO enrollments (enrollment_id, citizen_id, otp_hash, otp_expires_at, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![enrollment_id, citizen_id, hash_otp(&s.secret, &enrollment_id, &otp), expires_at, now],
    )?;
    let account_id: Option<String> = conn
        .query_row("SELECT account_id FROM accounts WHERE citizen_id = ?1", [citizen_id], |r| r.get(0))
        .optional()?;
    let has_active_device = match &account_id {
        Some(a) => conn
            .query_row("SELECT 1 FROM devices WHERE account_id = ?1 AND status = 'active'", [a], |_| Ok(()))
            .optional()?
            .is_some(),
        None => false,
    };
    // Sent once the unit is committed (never for a unit run again or rolled back).
    let (sender, to, reference) = (s.otp_sender.clone(), phone.clone(), enrollment_id.clone());
    crate::api::after_commit(move || sender.send(&to, &reference, &otp));
    audit(conn, now, "enroll_start", "ok", account_id.as_deref(), None);
    Ok(EnrollStartResponse {
        enrollment_id,
        masked_phone: mask_phone(&phone),
        otp_expires_at: expires_at,
        has_active_device,
    })
}

/// The new device's registration: printable ids and labels, a bounded attestation chain.
pub(crate) fn validate_device(d: &citizen_protocol::protocol::DeviceRegistration) -> ApiResult<()> {
    let ok_text = |t: &str, max: usize| t.chars().count() <= max && !t.chars().any(char::is_control);
    if d.device_id.is_empty() || !ok_text(&d.device_id, 128) {
        return Err(ApiError::invalid("device_id must be 1..128 printable characters"));
    }
    if !ok_text(&d.label, 128) || !ok_text(&d.platform, 32) {
        return Err(ApiError::invalid("label or platform too long"));
    }
    if d.attestation_chain.len() > 10 || d.attestation_chain.iter().any(|c| unb64(c).is_none()) {
        return Err(ApiError::invalid("attestation chain must be at most 10 base64url certificates"));
    }
    Ok(())
}

/// `POST /v1/enrollment/complete`.
pub fn complete(s: &AppState, conn: &mut Connection, req: &EnrollCompleteRequest) -> ApiResult<EnrollCompleteResponse> {
    let now = s.now();
    let row = conn
        .query_row(
            "SELECT citizen_id, otp_hash, otp_expires_at, attempts, consumed_at, approved_by_device,
                    approved_secret_sha256
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
                    r.get::<_, Option<String>>(6)?,
                ))
            },
        )
        .optional()?;
    let (citizen_id, otp_row, approved_by, approved_secret) = row.ok_or_else(|| {
        ApiError::new(StatusCode::NOT_FOUND, codes::UNKNOWN_ENROLLMENT, "unknown or finished enrollment")
    })?;
    check_otp(s, conn, OtpTable::Enrollment, &req.enrollment_id, &otp_row, &req.otp)?;
    validate_device(&req.device)?;
    let public_key =
        verify_enroll_proof(s, &req.proof, &req.enrollment_id, &req.device.device_id, &req.device.public_key)?;
    // The proof's subject registers the bookkeeping key (decision 26); the proof signs it.
    let bookkeeping_key = crate::verify::bookkeeping_key_of(&req.proof.statement.subject)?;
    if load_device(conn, &req.device.device_id)?.is_some() {
        return Err(ApiError::new(StatusCode::CONFLICT, codes::DEVICE_EXISTS, "device id already registered"));
    }

    let tx = conn.savepoint()?;
    let account_id: String = match tx
        .query_row("SELECT account_id FROM accounts WHERE citizen_id = ?1", [citizen_id], |r| r.get(0))
        .optional()?
    {
        Some(a) => a,
        None => {
            let a = uuid::Uuid::new_v4().to_string();
            tx.execute(
                "INSERT INTO accounts (account_id, citizen_id, created_at) VALUES (?1, ?2, ?3)",
                params![a, citizen_id, now],
            )?;
            a
        }
    };
    let old: Option<String> = tx
        .query_row("SELECT device_id FROM devices WHERE account_id = ?1 AND status = 'active'", [&account_id], |r| {
            r.get(0)
        })
        .optional()?;
    // An approval bound to the new phone's QR code counts only with that code's secret
    // (proximity check, issue 15): the old phone saw this phone's screen.
    let secret_ok = match (&approved_secret, &req.transfer_secret) {
        (None, _) => true,
        (Some(d), Some(secret)) => {
            crate::otp::ct_eq(citizen_protocol::protocol::sha256_hex(secret.as_bytes()).as_bytes(), d.as_bytes())
        }
        (Some(_), None) => false,
    };
    let transfer_approved = old.is_some() && old == approved_by && secret_ok;
    // A level-2 account's device is never replaced by an OTP alone (issue 15): without the old
    // device's approval, the new phone goes through a recovery (chip + OTP, waiting period).
    if old.is_some() && !transfer_approved && crate::handlers::chip::account_level(&tx, &account_id)? >= 2 {
        drop(tx);
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            citizen_protocol::messages::Msg::RecoveryChipRequired.code(),
            "a level-2 account is moved to a new device by a recovery with the chip",
        ));
    }
    if let Some(old_id) = &old {
        let status = if transfer_approved { "transferred" } else { "replaced" };
        crate::handlers::devices::deactivate(&tx, old_id, status, now)?;
        audit(&tx, now, &format!("device_{status}"), "ok", Some(&account_id), Some(old_id));
    }
    let d = &req.device;
    let chain = serde_json::to_string(&d.attestation_chain).map_err(|_| ApiError::internal())?;
    let counter = req.proof.statement.counter; // fits in i64: checked by verify_enroll_proof
    tx.execute(
        "INSERT INTO devices (device_id, account_id, public_key, hardware_backed, attestation_chain, platform, label,
                              status, status_changed_at, last_counter, enrolled_at, bookkeeping_public_key)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'active', ?8, ?9, ?8, ?10)",
        params![
            d.device_id,
            account_id,
            public_key,
            d.hardware_backed,
            chain,
            d.platform,
            d.label,
            now,
            counter,
            bookkeeping_key
        ],
    )?;
    tx.execute("UPDATE enrollments SET consumed_at = ?2 WHERE enrollment_id = ?1", params![req.enrollment_id, now])?;
    // A lock is an official's decision (ARCHITECTURE.md, decision 7): re-enrolling does not lift it.
    tx.execute("UPDATE accounts SET consecutive_failures = 0 WHERE account_id = ?1", [&account_id])?;
    audit(&tx, now, "enroll_complete", "ok", Some(&account_id), Some(&d.device_id));
    tx.commit()?;
    Ok(EnrollCompleteResponse {
        account_id,
        device_id: d.device_id.clone(),
        replaced_device_id: old,
        transfer_approved,
    })
}
