//! The security checks every state-changing request goes through: signed statements (one
//! shared path for login, revoke, transfer approval and passcode reset; a sibling for the
//! enrollment proof), OTP checks, rate limits, the failure throttle and the anti-replay window.
//!
//! Lockout policy (ARCHITECTURE.md, decision 16): a failed signature verification never locks an
//! account — a signature cannot be guessed, and device ids are public. Failures are audited with
//! the device they name and throttled per device and per client address (429 with
//! `Retry-After`). Counter policy (decision 17): each counter is accepted once within a window of
//! [`COUNTER_WINDOW`] below the highest seen, so overlapping operations of one device succeed.

use crate::sql::{params, Connection, OptionalExtension};
use axum::http::StatusCode;
use citizen_protocol::crypto;
use citizen_protocol::protocol::{
    bookkeeping_may_sign, codes, Purpose, SignedStatement, MAX_CLOCK_SKEW_SECS, MAX_SUBMISSION_AGE_SECS,
};

use crate::api::{ApiError, ApiResult, AppState};
use crate::db::audit;
use crate::otp::{ct_eq, hash_otp};

/// A device as stored.
#[derive(Clone, Debug)]
pub struct DeviceRow {
    /// Device id.
    pub device_id: String,
    /// Owning account.
    pub account_id: String,
    /// SEC1 uncompressed public key.
    pub public_key: Vec<u8>,
    /// `active`, `replaced`, `transferred`, `revoked`.
    pub status: String,
    /// Unix seconds of the last status change.
    pub status_changed_at: i64,
    /// Highest counter seen.
    pub last_counter: i64,
    /// The bookkeeping key (SEC1), once registered: it may sign activity anchors, nothing else.
    pub bookkeeping_public_key: Option<Vec<u8>>,
    /// Unix seconds of a remote lock still in force (issue 15): the device stays the account's
    /// device but can neither log in nor sign until an official unlocks it or a recovery
    /// replaces it.
    pub locked_at: Option<i64>,
}

impl DeviceRow {
    /// The status as the citizen sees it: `locked` for an active device under a remote lock.
    pub fn shown_status(&self) -> &str {
        if self.status == "active" && self.locked_at.is_some() {
            "locked"
        } else {
            &self.status
        }
    }
}

/// Refuse a device that may not act: deactivated (403 `device_inactive` with its status) or
/// remotely locked (403 `device_locked`).
pub fn check_device_usable(dev: &DeviceRow) -> ApiResult<()> {
    if dev.status != "active" {
        return Err(ApiError::device_inactive(&dev.status));
    }
    if dev.locked_at.is_some() {
        return Err(ApiError::device_locked());
    }
    Ok(())
}

/// Load a device by id.
pub fn load_device(conn: &Connection, device_id: &str) -> crate::sql::Result<Option<DeviceRow>> {
    conn.query_row(
        "SELECT device_id, account_id, public_key, status, status_changed_at, last_counter, bookkeeping_public_key,
                locked_at
           FROM devices WHERE device_id = ?1",
        [device_id],
        |r| {
            Ok(DeviceRow {
                device_id: r.get(0)?,
                account_id: r.get(1)?,
                public_key: r.get(2)?,
                status: r.get(3)?,
                status_changed_at: r.get(4)?,
                last_counter: r.get(5)?,
                bookkeeping_public_key: r.get(6)?,
                locked_at: r.get(7)?,
            })
        },
    )
    .optional()
}

/// [`load_device`], with the unit's lock on the device's account taken first (decision 47):
/// the row returned is read after the lock, so it holds everything committed by the units that
/// held the lock before (status, lock, counters). The account of a device never changes, so the
/// first read only finds the key. On SQLite one read.
pub fn load_device_locked(conn: &Connection, device_id: &str) -> crate::sql::Result<Option<DeviceRow>> {
    let first = load_device(conn, device_id)?;
    match first {
        Some(d) if conn.is_pg() => {
            conn.lock_key(&crate::sql::lock_keys::account(&d.account_id))?;
            load_device(conn, device_id)
        }
        other => Ok(other),
    }
}

/// Where the statement's nonce must come from.
#[derive(Clone, Copy, Debug)]
pub enum NonceRule<'a> {
    /// A challenge issued by `auth/challenge` for this device and purpose (single-use).
    Challenge,
    /// A fixed value (the reset id for passcode reset).
    Fixed(&'a str),
}

fn unauthorized(code: &str, msg: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, code, msg)
}

/// The statement is for this server.
pub fn check_audience(state: &AppState, audience: &str) -> ApiResult<()> {
    if audience != state.audience {
        return Err(unauthorized(codes::AUDIENCE_MISMATCH, "statement is for another server"));
    }
    Ok(())
}

/// `issued_at` within [`MAX_CLOCK_SKEW_SECS`] of the server's clock.
pub fn check_skew(state: &AppState, issued_at: i64) -> ApiResult<()> {
    if issued_at.abs_diff(state.now()) > MAX_CLOCK_SKEW_SECS as u64 {
        return Err(unauthorized(codes::CLOCK_SKEW, "issued_at too far from server time"));
    }
    Ok(())
}

/// A submission is signed when the citizen submits — possibly offline, hours or days before it
/// is delivered — so it may be old (up to [`MAX_SUBMISSION_AGE_SECS`]) but never from the future.
/// Replay is prevented by the nonce (the submission id, unique) and the submit counter.
fn check_submission_age(state: &AppState, issued_at: i64) -> ApiResult<()> {
    let now = state.now();
    if issued_at > now + MAX_CLOCK_SKEW_SECS || now - issued_at > MAX_SUBMISSION_AGE_SECS {
        return Err(unauthorized(codes::CLOCK_SKEW, "submission signed too long ago or in the future"));
    }
    Ok(())
}

/// Verify the signature of a statement with a stored device key (no other check), through
/// the server's one ECDSA module ([`crate::ecdsa`]).
pub fn check_signature(public_key: &[u8], signed: &SignedStatement) -> ApiResult<()> {
    signature_answer(crate::ecdsa::verify_wire_signature(
        public_key,
        &signed.statement.canonical_bytes(),
        &signed.signature,
    ))
}

fn signature_answer(r: Result<(), crypto::SigError>) -> ApiResult<()> {
    match r {
        Ok(()) => Ok(()),
        Err(crypto::SigError::InvalidKey) => Err(ApiError::invalid("invalid public key")),
        Err(_) => Err(unauthorized(codes::SIGNATURE_INVALID, "signature does not verify")),
    }
}

/// Signature checks done before a request's unit of work, outside the database writer
/// (decision 36): the results of verifying one signed statement against the public keys
/// stored for its device, read through a read-only connection. The unit of work then runs the
/// very same checks in the very same order, asking this instead of verifying again — for a key
/// it holds a result for. Any other key (a bookkeeping key registered in between, a device
/// unknown at pre-check time) is verified inside, as before. Only ever a cache of pure
/// functions of (key, statement, signature): it cannot make anything pass that would not.
#[derive(Clone, Debug, Default)]
pub struct PreVerified {
    results: Vec<(Vec<u8>, Result<(), crypto::SigError>)>,
}

impl PreVerified {
    /// Verify `signed` against its device's stored keys: the device key, and the bookkeeping
    /// key when the purpose allows it (both, so the unit of work never verifies).
    pub fn compute(conn: &Connection, signed: &SignedStatement) -> Self {
        let mut results = Vec::new();
        let device = load_device(conn, &signed.statement.device_id).unwrap_or_else(|e| {
            tracing::warn!("signature pre-check: device lookup failed ({e}); verifying inside");
            None
        });
        if let Some(dev) = device {
            let message = signed.statement.canonical_bytes();
            let mut keys = vec![dev.public_key];
            if bookkeeping_may_sign(signed.statement.purpose) {
                keys.extend(dev.bookkeeping_public_key);
            }
            for k in keys {
                let r = crate::ecdsa::verify_wire_signature(&k, &message, &signed.signature);
                results.push((k, r));
            }
        }
        PreVerified { results }
    }

    /// [`compute`](Self::compute) on a blocking thread with a reader connection; an empty
    /// result (everything verified inside) if that fails.
    pub async fn before(state: &std::sync::Arc<AppState>, signed: &SignedStatement) -> Self {
        let (state, signed) = (state.clone(), signed.clone());
        tokio::task::spawn_blocking(move || match state.store.reader() {
            Ok(conn) => Self::compute(&conn, &signed),
            Err(_) => Self::default(),
        })
        .await
        .unwrap_or_default()
    }

    /// The answer for `public_key`: the stored result, or a verification now.
    pub fn check(&self, public_key: &[u8], signed: &SignedStatement) -> ApiResult<()> {
        match self.results.iter().find(|(k, _)| k == public_key) {
            Some((_, r)) => signature_answer(r.clone()),
            None => check_signature(public_key, signed),
        }
    }
}

/// Verify a signed statement from an enrolled device. On success the device's counter has
/// been accepted and the account's failure count is reset. On failure the attempt is audited
/// with the device it names and recorded for the failure throttle (per device, per client
/// address); a failure on a nonce the server issued to that device, at the signature check, is
/// also counted on the account. Nothing here locks an account. A challenge nonce is consumed on
/// first presentation whatever the outcome. Callers that run this inside a transaction must
/// commit it on failure, or the failure is forgotten.
pub fn verify_signed(
    state: &AppState,
    conn: &Connection,
    signed: &SignedStatement,
    expected: Purpose,
    nonce_rule: NonceRule<'_>,
) -> ApiResult<DeviceRow> {
    verify_signed_ext(state, conn, signed, expected, nonce_rule, None, CounterKind::Login)
}

/// Which per-device counter a statement advances.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CounterKind {
    /// `last_counter`: login, revoke, transfer, passcode reset.
    Login,
    /// `last_submit_counter`: submissions (signed possibly long before delivery, so logins in
    /// between must not invalidate them).
    Submit,
    /// `bookkeeping_counter`: statements signed by the bookkeeping key (decision 26). Its own
    /// window, so a key that needs no user authentication cannot push the device key's counter
    /// out of reach.
    Bookkeeping,
}

/// [`verify_signed`] with an expected subject and a choice of counter. A subject mismatch is
/// reported as `signature_invalid` (the device did not sign this content).
pub fn verify_signed_ext(
    state: &AppState,
    conn: &Connection,
    signed: &SignedStatement,
    expected: Purpose,
    nonce_rule: NonceRule<'_>,
    expected_subject: Option<&str>,
    counter_kind: CounterKind,
) -> ApiResult<DeviceRow> {
    let pre = PreVerified::default();
    verify_signed_pre(state, conn, signed, expected, nonce_rule, expected_subject, counter_kind, &pre)
}

/// [`verify_signed_ext`] with the signature results computed before the unit of work
/// ([`PreVerified::before`]): the same checks in the same order, no ECDSA on the writer.
#[allow(clippy::too_many_arguments)]
pub fn verify_signed_pre(
    state: &AppState,
    conn: &Connection,
    signed: &SignedStatement,
    expected: Purpose,
    nonce_rule: NonceRule<'_>,
    expected_subject: Option<&str>,
    counter_kind: CounterKind,
    pre: &PreVerified,
) -> ApiResult<DeviceRow> {
    let now = state.now();
    let event = format!("verify_{}", expected.as_str());
    let device = load_device_locked(conn, &signed.statement.device_id)?;
    let ids = |d: &Option<DeviceRow>| d.as_ref().map(|d| (d.account_id.clone(), d.device_id.clone())).unzip();
    let (account_id, device_id): (Option<String>, Option<String>) = ids(&device);
    let keys = throttle_keys(state, device_id.as_deref());
    // Throttled: refuse before any signature or nonce work (and without consuming the nonce).
    if let Err(e) = check_throttle(state, conn, &keys) {
        audit(conn, now, &event, e.code(), account_id.as_deref(), device_id.as_deref());
        return Err(e);
    }
    let mut issued_nonce_reached_signature = false;
    let result = verify_inner(
        state,
        conn,
        signed,
        expected,
        nonce_rule,
        device.as_ref(),
        expected_subject,
        counter_kind,
        pre,
        &mut issued_nonce_reached_signature,
    );
    match (&result, &device) {
        (Ok(_), Some(d)) => {
            conn.execute(
                "UPDATE accounts SET consecutive_failures = 0 WHERE account_id = ?1 AND consecutive_failures <> 0",
                [&d.account_id],
            )?;
        }
        (Err(e), d) => {
            audit(conn, now, &event, e.code(), account_id.as_deref(), device_id.as_deref());
            if !matches!(
                e.code(),
                codes::ACCOUNT_LOCKED | codes::DEVICE_INACTIVE | codes::DEVICE_LOCKED | codes::INTERNAL
            ) {
                // Concurrent failures may fill the window while this attempt runs (keyed units
                // overlap, decision 47): it then counts no more and says only "throttled".
                record_throttle(state, conn, &keys)?;
                if let (Some(d), true) = (d, issued_nonce_reached_signature && e.code() == codes::SIGNATURE_INVALID) {
                    conn.execute(
                        "UPDATE accounts SET consecutive_failures = consecutive_failures + 1 WHERE account_id = ?1",
                        [&d.account_id],
                    )?;
                }
            }
        }
        (Ok(_), None) => unreachable!("verification cannot succeed without a device"),
    }
    result.map(|_| device.expect("checked"))
}

/// Refuse with 423 `account_locked` when an official locked the account (decision 7).
pub fn check_not_locked(conn: &Connection, account_id: &str) -> ApiResult<()> {
    let locked: Option<i64> =
        conn.query_row("SELECT locked_at FROM accounts WHERE account_id = ?1", [account_id], |r| r.get(0))?;
    if locked.is_some() {
        return Err(ApiError::new(StatusCode::LOCKED, codes::ACCOUNT_LOCKED, "account locked"));
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn verify_inner(
    state: &AppState,
    conn: &Connection,
    signed: &SignedStatement,
    expected: Purpose,
    nonce_rule: NonceRule<'_>,
    device: Option<&DeviceRow>,
    expected_subject: Option<&str>,
    counter_kind: CounterKind,
    pre: &PreVerified,
    issued_nonce_reached_signature: &mut bool,
) -> ApiResult<()> {
    let st = &signed.statement;
    let now = state.now();
    if st.purpose != expected {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            codes::PURPOSE_MISMATCH,
            "statement purpose does not fit this endpoint",
        ));
    }
    check_audience(state, &st.audience)?;
    let device = device.ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, codes::UNKNOWN_DEVICE, "unknown device"))?;
    check_device_usable(device)?;
    check_not_locked(conn, &device.account_id)?;
    let issued = match nonce_rule {
        NonceRule::Challenge => {
            // Consumed here, before any other check, in its own committed statement.
            let row: Option<(String, String, i64)> = conn
                .query_row(
                    "DELETE FROM nonces WHERE nonce = ?1 RETURNING device_id, purpose, expires_at",
                    [&st.nonce],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let (nonce_device, nonce_purpose, expires_at) =
                row.ok_or_else(|| unauthorized(codes::NONCE_INVALID, "unknown or used nonce"))?;
            if nonce_device != device.device_id {
                return Err(unauthorized(codes::NONCE_INVALID, "nonce was issued to another device"));
            }
            if nonce_purpose != expected.as_str() {
                return Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    codes::PURPOSE_MISMATCH,
                    "nonce was issued for another purpose",
                ));
            }
            if now >= expires_at {
                return Err(unauthorized(codes::NONCE_EXPIRED, "nonce expired"));
            }
            true
        }
        NonceRule::Fixed(expected_nonce) => {
            if st.nonce != expected_nonce {
                return Err(unauthorized(codes::NONCE_INVALID, "nonce does not match"));
            }
            false
        }
    };
    if st.purpose == Purpose::Submit {
        check_submission_age(state, st.issued_at)?;
    } else {
        check_skew(state, st.issued_at)?;
    }
    *issued_nonce_reached_signature = issued;
    if expected_subject.is_some_and(|subj| subj != st.subject) {
        return Err(unauthorized(codes::SIGNATURE_INVALID, "statement subject does not match the signed content"));
    }
    let counter_kind = match pre.check(&device.public_key, signed) {
        Ok(()) => counter_kind,
        // The bookkeeping key may sign bookkeeping statements (activity anchors) and nothing
        // else: for any other purpose the device key's failure stands.
        Err(e) => match &device.bookkeeping_public_key {
            Some(bk) if bookkeeping_may_sign(st.purpose) => {
                pre.check(bk, signed).map_err(|_| e)?;
                CounterKind::Bookkeeping
            }
            _ => return Err(e),
        },
    };
    *issued_nonce_reached_signature = false;
    accept_device_counter(conn, &device.device_id, counter_kind, st.counter)
}

/// The bookkeeping key a device-key statement registers (`bookkeeping_key:<key>` subject of an
/// enrollment proof or a login), stored for the device. An empty subject registers nothing; any
/// other subject is refused.
pub fn bookkeeping_key_of(subject: &str) -> ApiResult<Option<Vec<u8>>> {
    if subject.is_empty() {
        return Ok(None);
    }
    citizen_protocol::protocol::bookkeeping_key_from_subject(subject)
        .map(Some)
        .ok_or_else(|| ApiError::invalid("statement subject is not a valid bookkeeping key registration"))
}

/// Width of the anti-replay window: how far below the highest counter seen an unseen counter is
/// still accepted (ARCHITECTURE.md, decision 17; IPsec and WireGuard use 64 and more).
pub const COUNTER_WINDOW: u64 = 64;

/// The anti-replay window as a pure function. `highest` is the highest counter accepted so far,
/// `seen` a bitmap of the counters `highest − i` already accepted (bit `i`, bit 0 = `highest`).
/// Returns the new `(highest, seen)` when `counter` is accepted — above `highest − 64` and not
/// yet seen — or `None` for a replay or a counter too old to tell.
pub fn accept_counter(highest: u64, seen: u64, counter: u64) -> Option<(u64, u64)> {
    if counter > highest {
        let shift = counter - highest;
        let moved = if shift >= COUNTER_WINDOW { 0 } else { seen << shift };
        return Some((counter, moved | 1));
    }
    let age = highest - counter;
    if age >= COUNTER_WINDOW {
        return None;
    }
    let bit = 1u64 << age;
    (seen & bit == 0).then_some((highest, seen | bit))
}

/// Accept `counter` for the device's login or submit counter, once, by compare-and-swap on the
/// stored (highest, bitmap) pair: two requests racing for the same counter cannot both win,
/// even with several connections (the server's single connection already serialises them).
pub fn accept_device_counter(conn: &Connection, device_id: &str, kind: CounterKind, counter: u64) -> ApiResult<()> {
    let replay = || unauthorized(codes::COUNTER_REPLAY, "counter already used or too old");
    i64::try_from(counter).map_err(|_| ApiError::invalid("counter out of range"))?;
    let (col, wcol) = match kind {
        CounterKind::Login => ("last_counter", "counter_window"),
        CounterKind::Submit => ("last_submit_counter", "submit_counter_window"),
        CounterKind::Bookkeeping => ("bookkeeping_counter", "bookkeeping_counter_window"),
    };
    let (highest, seen): (i64, i64) =
        conn.query_row(&format!("SELECT {col}, {wcol} FROM devices WHERE device_id = ?1"), [device_id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    // The window is a 64-bit bitmap kept in SQLite's i64: reinterpreted bit for bit, both ways.
    #[allow(clippy::cast_sign_loss)]
    let seen_bits = seen as u64;
    let (new_highest, new_seen) =
        accept_counter(highest.max(0).unsigned_abs(), seen_bits, counter).ok_or_else(replay)?;
    #[allow(clippy::cast_possible_wrap)]
    let new_seen = new_seen as i64;
    let updated = conn.execute(
        &format!("UPDATE devices SET {col} = ?2, {wcol} = ?3 WHERE device_id = ?1 AND {col} = ?4 AND {wcol} = ?5"),
        // new_highest is the stored highest or `counter`, both checked to fit in i64 (rusqlite checks again).
        params![device_id, new_highest, new_seen, highest, seen],
    )?;
    if updated != 1 {
        return Err(replay());
    }
    Ok(())
}

/// One key of the failure throttle and its limit.
struct ThrottleKey {
    key: String,
    limit: u32,
}

/// The client address as a throttle key: IPv4 whole, IPv6 by its /64 (one subscriber's prefix).
fn address_key(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V4(v4) => format!("fail-addr:{v4}"),
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("fail-addr:{v4}"),
            None => {
                let s = v6.segments();
                format!("fail-addr:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

fn throttle_keys(state: &AppState, device_id: Option<&str>) -> Vec<ThrottleKey> {
    let mut keys = Vec::with_capacity(2);
    if let Some(d) = device_id {
        keys.push(ThrottleKey { key: format!("fail-device:{d}"), limit: state.limits.failures_per_device });
    }
    if let Some(ip) = crate::api::client_ip() {
        keys.push(ThrottleKey { key: address_key(ip), limit: state.limits.failures_per_address });
    }
    keys
}

fn hashed_key(state: &AppState, key: &str) -> String {
    crypto::b64(&state.secret.hmac(&[b"rate/v1", key.as_bytes()]))
}

fn throttled(retry: u64) -> ApiError {
    ApiError::new(StatusCode::TOO_MANY_REQUESTS, codes::RATE_LIMITED, "too many failed verifications; try again later")
        .with_retry_after(retry)
}

/// The failures of `hashed` in the last `window` seconds and the oldest of them.
fn throttle_count(conn: &Connection, hashed: &str, now: i64, window: i64) -> crate::sql::Result<(i64, Option<i64>)> {
    conn.query_row(
        "SELECT COUNT(*), MIN(at) FROM rate_events WHERE key = ?1 AND at > ?2",
        params![hashed, now - window],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// 429 `rate_limited` (with `Retry-After`) when any key has reached its limit of failures in
/// the last `failure_window_secs`. Reads only: a request that succeeds writes nothing here, so
/// keyed units (decision 47) check the same address without waiting for each other.
fn check_throttle(state: &AppState, conn: &Connection, keys: &[ThrottleKey]) -> ApiResult<()> {
    let (now, window) = (state.now(), state.limits.failure_window_secs);
    for k in keys {
        let (count, oldest) = throttle_count(conn, &hashed_key(state, &k.key), now, window)?;
        if count >= i64::from(k.limit) {
            return Err(throttled((oldest.unwrap_or(now) + window - now).max(1).unsigned_abs()));
        }
    }
    Ok(())
}

/// Count a failure on every key — each under its own key lock (decision 47), counted again
/// there: a failure that finds a key's window already full (concurrent failures of other
/// keyed units got there first) records nothing and answers 429, so no key ever holds more
/// than its limit of failures, whichever instances they reached. Forgets the key's events
/// older than the window.
fn record_throttle(state: &AppState, conn: &Connection, keys: &[ThrottleKey]) -> ApiResult<()> {
    let (now, window) = (state.now(), state.limits.failure_window_secs);
    for k in keys {
        let hashed = hashed_key(state, &k.key);
        conn.lock_key(&crate::sql::lock_keys::throttle(&hashed))?;
        conn.execute("DELETE FROM rate_events WHERE key = ?1 AND at <= ?2", params![hashed, now - window])?;
        let (count, oldest) = throttle_count(conn, &hashed, now, window)?;
        if count >= i64::from(k.limit) {
            return Err(throttled((oldest.unwrap_or(now) + window - now).max(1).unsigned_abs()));
        }
    }
    for k in keys {
        conn.execute("INSERT INTO rate_events (key, at) VALUES (?1, ?2)", params![hashed_key(state, &k.key), now])?;
    }
    Ok(())
}

/// Check the enrollment proof of possession; returns the SEC1 public key to store.
pub fn verify_enroll_proof(
    state: &AppState,
    signed: &SignedStatement,
    enrollment_id: &str,
    device_id: &str,
    public_key_b64: &str,
) -> ApiResult<Vec<u8>> {
    verify_new_key_proof(state, signed, Purpose::Enroll, enrollment_id, device_id, public_key_b64)
}

/// [`verify_enroll_proof`] for another purpose (a recovery's new key, issue 15).
pub fn verify_new_key_proof(
    state: &AppState,
    signed: &SignedStatement,
    purpose: Purpose,
    enrollment_id: &str,
    device_id: &str,
    public_key_b64: &str,
) -> ApiResult<Vec<u8>> {
    let st = &signed.statement;
    if st.purpose != purpose {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, codes::PURPOSE_MISMATCH, "proof has another purpose"));
    }
    check_audience(state, &st.audience)?;
    if st.nonce != enrollment_id {
        return Err(unauthorized(codes::NONCE_INVALID, "proof nonce must be the enrollment id"));
    }
    if st.device_id != device_id {
        return Err(ApiError::invalid("proof device id differs from the registered device"));
    }
    check_skew(state, st.issued_at)?;
    if st.counter < 1 || i64::try_from(st.counter).is_err() {
        return Err(ApiError::invalid("proof counter must be at least 1"));
    }
    let raw = crypto::unb64(public_key_b64).ok_or_else(|| ApiError::invalid("public key is not base64url"))?;
    let key = crypto::parse_public_key(&raw).map_err(|_| ApiError::invalid("invalid public key"))?;
    let sec1 = crypto::sec1_uncompressed(&key);
    check_signature(&sec1, signed)?;
    Ok(sec1)
}

/// An OTP-protected pending operation (enrollment or passcode reset).
pub struct OtpRow {
    /// Stored HMAC.
    pub otp_hash: Vec<u8>,
    /// Unix seconds.
    pub expires_at: i64,
    /// Wrong attempts so far.
    pub attempts: u32,
    /// Already completed.
    pub consumed: bool,
}

/// Which table an [`OtpRow`] lives in.
#[derive(Clone, Copy)]
pub enum OtpTable {
    /// `enrollments`
    Enrollment,
    /// `passcode_resets`
    Reset,
    /// `rebindings` (issue 15)
    Rebind,
    /// `remote_locks` (issue 15, decision 48)
    RemoteLock,
}

/// Apply the OTP rules: consumed → unknown; too many attempts → dead; expired; wrong →
/// count the attempt (the attempt that reaches the limit already answers "exceeded").
pub fn check_otp(
    state: &AppState,
    conn: &Connection,
    table: OtpTable,
    id: &str,
    row: &OtpRow,
    otp: &str,
) -> ApiResult<()> {
    let max = state.limits.otp_max_attempts;
    if row.consumed {
        return Err(ApiError::new(StatusCode::NOT_FOUND, codes::UNKNOWN_ENROLLMENT, "unknown or finished request"));
    }
    let exceeded = || {
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, codes::OTP_ATTEMPTS_EXCEEDED, "too many wrong codes; start again")
            .with_attempts_left(0)
    };
    if row.attempts >= max {
        return Err(exceeded());
    }
    if state.now() >= row.expires_at {
        return Err(ApiError::new(StatusCode::GONE, codes::OTP_EXPIRED, "code expired; start again"));
    }
    if ct_eq(&hash_otp(&state.secret, id, otp), &row.otp_hash) {
        return Ok(());
    }
    let sql = match table {
        OtpTable::Enrollment => "UPDATE enrollments SET attempts = attempts + 1 WHERE enrollment_id = ?1",
        OtpTable::Reset => "UPDATE passcode_resets SET attempts = attempts + 1 WHERE reset_id = ?1",
        OtpTable::Rebind => "UPDATE rebindings SET attempts = attempts + 1 WHERE rebind_id = ?1",
        OtpTable::RemoteLock => "UPDATE remote_locks SET attempts = attempts + 1 WHERE lock_id = ?1",
    };
    conn.execute(sql, [id])?;
    let attempts = row.attempts + 1;
    if attempts >= max {
        return Err(exceeded());
    }
    Err(unauthorized(codes::OTP_INVALID, "wrong code").with_attempts_left(max - attempts))
}

/// Allow at most `limit` events per `window` seconds for `key` (hashed with the server secret,
/// so the table never holds a CCCD number). Records the event when allowed.
pub fn rate_limit(state: &AppState, conn: &Connection, key: &str, limit: u32, window: i64) -> ApiResult<()> {
    let now = state.now();
    let hashed = crypto::b64(&state.secret.hmac(&[b"rate/v1", key.as_bytes()]));
    conn.execute("DELETE FROM rate_events WHERE at <= ?1", [now - window])?;
    let (count, oldest): (i64, Option<i64>) = conn.query_row(
        "SELECT COUNT(*), MIN(at) FROM rate_events WHERE key = ?1 AND at > ?2",
        params![hashed, now - window],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    if count >= i64::from(limit) {
        let retry = (oldest.unwrap_or(now) + window - now).max(1).unsigned_abs();
        return Err(ApiError::new(StatusCode::TOO_MANY_REQUESTS, codes::RATE_LIMITED, "too many requests")
            .with_retry_after(retry));
    }
    conn.execute("INSERT INTO rate_events (key, at) VALUES (?1, ?2)", params![hashed, now])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Apply counters in order; `true` for each accepted.
    fn run(start: (u64, u64), counters: &[u64]) -> Vec<bool> {
        let mut w = start;
        counters
            .iter()
            .map(|&c| match accept_counter(w.0, w.1, c) {
                Some(n) => {
                    w = n;
                    true
                }
                None => false,
            })
            .collect()
    }

    #[test]
    fn anti_replay_window() {
        // A fresh device (enrolled with counter 1, every bit set): nothing at or below 1.
        assert_eq!(run((1, u64::MAX), &[1, 0, 2, 2]), [false, false, true, false]);
        // Out of order once each, replays refused.
        assert_eq!(run((1, u64::MAX), &[5, 3, 4, 2, 3, 5, 4]), [true, true, true, true, false, false, false]);
        // The window's edge: 64 below the highest is too old, 63 below is fine (once).
        assert_eq!(run((100, 1), &[36, 37, 37, 99]), [false, true, false, true]);
        // A jump of 64 or more forgets the old bitmap; counters just below the new highest work.
        assert_eq!(run((100, u64::MAX), &[164, 100, 101, 163, 164]), [true, false, true, true, false]);
        assert_eq!(run((100, u64::MAX), &[1_000_000, 999_999, 1_000_000]), [true, true, false]);
        // Every counter in a shuffled block of 64 is accepted exactly once.
        let mut block: Vec<u64> = (1_001..=1_064).collect();
        block.reverse();
        block.swap(3, 40);
        let once = run((1_000, u64::MAX), &block);
        assert!(once.iter().all(|&ok| ok));
        let twice = run((1_000, u64::MAX), &[block.clone(), block].concat());
        assert_eq!(twice.iter().filter(|&&ok| ok).count(), 64);
    }
}
