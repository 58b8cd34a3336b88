//! Challenge–response login, rotating refresh tokens with reuse detection, bearer
//! authentication and logout.

use crate::sql::{params, Connection, OptionalExtension};
use axum::http::StatusCode;
use citizen_protocol::crypto::random_b64url;
use citizen_protocol::protocol::{
    codes, ChallengeRequest, ChallengeResponse, LoginRequest, LogoutRequest, Purpose, RefreshRequest, TokenResponse,
};

use crate::api::{ApiError, ApiResult, AppState};
use crate::db::audit;
use crate::tokens::refresh_hash;
use crate::verify::{
    check_device_usable, check_not_locked, load_device, load_device_locked, verify_signed_pre, NonceRule, PreVerified,
};

fn token_invalid() -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, codes::TOKEN_INVALID, "missing, malformed or expired token")
}

fn session_expired() -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, codes::SESSION_EXPIRED, "session ended; log in again")
}

/// `POST /v1/auth/challenge`.
pub fn challenge(s: &AppState, conn: &mut Connection, req: &ChallengeRequest) -> ApiResult<ChallengeResponse> {
    let now = s.now();
    if !matches!(
        req.purpose,
        Purpose::Login | Purpose::RevokeDevice | Purpose::Transfer | Purpose::Credential | Purpose::RecoveryCancel
    ) {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, codes::PURPOSE_MISMATCH, "no challenge for this purpose"));
    }
    let dev = load_device_locked(conn, &req.device_id)?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, codes::UNKNOWN_DEVICE, "unknown device"))?;
    check_device_usable(&dev)?;
    // Housekeeping: forget nonces long expired (recently expired ones still answer nonce_expired).
    // On PostgreSQL keyed units run side by side (decision 47): a bounded batch of rows no other
    // unit holds, so two challenges never wait for (or deadlock on) each other's housekeeping.
    if conn.is_pg() {
        conn.execute(
            "DELETE FROM nonces WHERE nonce IN
               (SELECT nonce FROM nonces WHERE expires_at < ?1 LIMIT 256 FOR UPDATE SKIP LOCKED)",
            [now - 86_400],
        )?;
    } else {
        conn.execute("DELETE FROM nonces WHERE expires_at < ?1", [now - 86_400])?;
    }
    let nonce = random_b64url(32);
    let expires_at = now + s.limits.nonce_ttl_secs;
    conn.execute(
        "INSERT INTO nonces (nonce, device_id, purpose, expires_at) VALUES (?1, ?2, ?3, ?4)",
        params![nonce, dev.device_id, req.purpose.as_str(), expires_at],
    )?;
    let recovery_notice = super::recovery::notice_for(s, conn, &dev.device_id)?;
    Ok(ChallengeResponse { nonce, audience: s.audience.clone(), expires_at, recovery_notice })
}

/// What a successful login's unit of work decided; the access token is signed from it after
/// the commit, outside the database writer ([`LoginGrant::tokens`]).
pub struct LoginGrant {
    account_id: String,
    device_id: String,
    session_id: String,
    refresh_token: String,
    now: i64,
    idle: i64,
    absolute: i64,
}

impl LoginGrant {
    /// Sign the access token and build the answer.
    pub fn tokens(self, s: &AppState) -> TokenResponse {
        TokenResponse {
            access_token: s.tokens.issue(
                &self.account_id,
                &self.session_id,
                &self.device_id,
                self.now,
                s.limits.access_ttl_secs,
            ),
            access_expires_at: self.now + s.limits.access_ttl_secs,
            refresh_token: self.refresh_token,
            session_id: self.session_id,
            idle_expires_at: self.idle,
            absolute_expires_at: self.absolute,
        }
    }
}

/// `POST /v1/auth/login`: one unit of work (decision 36) — nonce consumed, counter window
/// advanced, failure count reset, session and refresh token stored, all in one commit. The
/// signature was checked before ([`PreVerified`]); the token is signed after.
pub fn login(s: &AppState, conn: &mut Connection, req: &LoginRequest, pre: &PreVerified) -> ApiResult<LoginGrant> {
    let dev = verify_signed_pre(
        s,
        conn,
        &req.signed,
        Purpose::Login,
        NonceRule::Challenge,
        None,
        crate::verify::CounterKind::Login,
        pre,
    )?;
    // The subject, which the device key signed, may register a bookkeeping key; anything else
    // there is refused (after the signature check, so a tampered subject stays a bad signature).
    let bookkeeping_key = crate::verify::bookkeeping_key_of(&req.signed.statement.subject)?;
    let now = s.now();
    let tx = conn.savepoint()?;
    if let Some(key) = bookkeeping_key {
        // A device enrolled before bookkeeping keys (or whose key was lost) registers one with
        // a login: the device key signed it (decision 26).
        tx.execute("UPDATE devices SET bookkeeping_public_key = ?2 WHERE device_id = ?1", params![dev.device_id, key])?;
        audit(&tx, now, "bookkeeping_key_registered", "ok", Some(&dev.account_id), Some(&dev.device_id));
    }
    let session_id = random_b64url(16);
    let idle = (now + s.limits.session_idle_secs).min(now + s.limits.session_absolute_secs);
    let absolute = now + s.limits.session_absolute_secs;
    tx.execute(
        "INSERT INTO sessions (session_id, account_id, device_id, created_at, idle_expires_at, absolute_expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![session_id, dev.account_id, dev.device_id, now, idle, absolute],
    )?;
    let refresh_token = random_b64url(32);
    tx.execute(
        "INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES (?1, ?2, ?3)",
        params![refresh_hash(&refresh_token), session_id, now],
    )?;
    tx.execute("UPDATE devices SET last_login_at = ?2 WHERE device_id = ?1", params![dev.device_id, now])?;
    audit(&tx, now, "login", "ok", Some(&dev.account_id), Some(&dev.device_id));
    tx.commit()?;
    Ok(LoginGrant {
        account_id: dev.account_id,
        device_id: dev.device_id,
        session_id,
        refresh_token,
        now,
        idle,
        absolute,
    })
}

/// End a session (all its refresh tokens die with it).
pub fn revoke_session(conn: &Connection, session_id: &str, reason: &str, now: i64) -> crate::sql::Result<()> {
    conn.execute(
        "UPDATE sessions SET revoked_at = ?2, revoke_reason = ?3 WHERE session_id = ?1 AND revoked_at IS NULL",
        params![session_id, now, reason],
    )?;
    Ok(())
}

struct SessionRow {
    session_id: String,
    account_id: String,
    device_id: String,
    idle_expires_at: i64,
    absolute_expires_at: i64,
    revoked: bool,
}

const SESSION_COLS: &str =
    "s.session_id, s.account_id, s.device_id, s.idle_expires_at, s.absolute_expires_at, s.revoked_at";

fn session_row(r: &crate::sql::Row<'_>) -> crate::sql::Result<SessionRow> {
    Ok(SessionRow {
        session_id: r.get(0)?,
        account_id: r.get(1)?,
        device_id: r.get(2)?,
        idle_expires_at: r.get(3)?,
        absolute_expires_at: r.get(4)?,
        revoked: r.get::<_, Option<i64>>(5)?.is_some(),
    })
}

/// `POST /v1/auth/refresh`: rotate. A token presented twice revokes its whole family.
pub fn refresh(s: &AppState, conn: &mut Connection, req: &RefreshRequest) -> ApiResult<TokenResponse> {
    let now = s.now();
    let hash = refresh_hash(&req.refresh_token);
    let tx = conn.savepoint()?;
    let find = |tx: &Connection| {
        tx.query_row(
            &format!("SELECT {SESSION_COLS}, r.used_at FROM refresh_tokens r JOIN sessions s USING (session_id) WHERE r.token_hash = ?1"),
            [&hash],
            |r| Ok((session_row(r)?, r.get::<_, Option<i64>>(6)?)),
        )
        .optional()
    };
    let mut found = find(&tx)?;
    if let (Some((sess, _)), true) = (&found, tx.is_pg()) {
        // The account's lock, then the token again (decision 47): of two refreshes with one
        // token, the second reads the first's `used_at` and is a detected reuse.
        tx.lock_key(&crate::sql::lock_keys::account(&sess.account_id))?;
        found = find(&tx)?;
    }
    let (sess, used_at) = found.ok_or_else(token_invalid)?;
    if used_at.is_some() {
        revoke_session(&tx, &sess.session_id, "refresh_reuse", now)?;
        audit(&tx, now, "refresh_reuse", codes::REFRESH_REUSED, Some(&sess.account_id), Some(&sess.device_id));
        tx.commit()?;
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            codes::REFRESH_REUSED,
            "refresh token reused; session revoked",
        ));
    }
    // A deactivated device learns why its session ended (replaced, transferred, revoked)
    // before it is told the session ended.
    let dev = load_device(&tx, &sess.device_id)?.ok_or_else(ApiError::internal)?;
    check_device_usable(&dev)?;
    // The lock ended the session already; say why.
    check_not_locked(&tx, &sess.account_id)?;
    if sess.revoked {
        return Err(session_expired());
    }
    if now >= sess.idle_expires_at || now >= sess.absolute_expires_at {
        revoke_session(&tx, &sess.session_id, "expired", now)?;
        tx.commit()?;
        return Err(session_expired());
    }
    tx.execute("UPDATE refresh_tokens SET used_at = ?2 WHERE token_hash = ?1", params![hash, now])?;
    let refresh_token = random_b64url(32);
    tx.execute(
        "INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES (?1, ?2, ?3)",
        params![refresh_hash(&refresh_token), sess.session_id, now],
    )?;
    let idle = (now + s.limits.session_idle_secs).min(sess.absolute_expires_at);
    tx.execute("UPDATE sessions SET idle_expires_at = ?2 WHERE session_id = ?1", params![sess.session_id, idle])?;
    audit(&tx, now, "refresh", "ok", Some(&sess.account_id), Some(&sess.device_id));
    tx.commit()?;
    Ok(TokenResponse {
        access_token: s.tokens.issue(
            &sess.account_id,
            &sess.session_id,
            &sess.device_id,
            now,
            s.limits.access_ttl_secs,
        ),
        access_expires_at: now + s.limits.access_ttl_secs,
        refresh_token,
        session_id: sess.session_id,
        idle_expires_at: idle,
        absolute_expires_at: sess.absolute_expires_at,
    })
}

/// Body of `POST /v1/official/accounts/lock` (officials' API).
#[derive(Clone, Debug, serde::Deserialize)]
pub struct AccountLockRequest {
    /// The citizen's CCCD number (officials identify citizens by it).
    pub cccd: String,
    /// `true` locks, `false` unlocks.
    pub locked: bool,
}

/// Lock or unlock an account by an official's decision (ARCHITECTURE.md, decisions 7 and 16).
/// Locking ends every session of the account at once, so its access and refresh tokens are
/// refused from then on, and drops its devices' outstanding nonces; unlocking does not revive
/// them (the citizen logs in again).
pub fn set_account_lock(
    s: &AppState,
    conn: &mut Connection,
    req: &AccountLockRequest,
) -> ApiResult<citizen_protocol::protocol::Ok> {
    let now = s.now();
    let tx = conn.savepoint()?;
    let account_id: String = tx
        .query_row(
            "SELECT a.account_id FROM accounts a JOIN citizens c ON c.id = a.citizen_id WHERE c.cccd = ?1",
            [&req.cccd],
            |r| r.get(0),
        )
        .optional()?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, codes::NO_MATCH, "no account for this citizen"))?;
    if req.locked {
        tx.execute(
            "UPDATE accounts SET locked_at = COALESCE(locked_at, ?2) WHERE account_id = ?1",
            params![account_id, now],
        )?;
        tx.execute(
            "UPDATE sessions SET revoked_at = ?2, revoke_reason = 'account_locked'
              WHERE account_id = ?1 AND revoked_at IS NULL",
            params![account_id, now],
        )?;
        tx.execute(
            "DELETE FROM nonces WHERE device_id IN (SELECT device_id FROM devices WHERE account_id = ?1)",
            [&account_id],
        )?;
        audit(&tx, now, "account_locked", "ok", Some(&account_id), None);
    } else {
        tx.execute(
            "UPDATE accounts SET locked_at = NULL, consecutive_failures = 0 WHERE account_id = ?1",
            [&account_id],
        )?;
        audit(&tx, now, "account_unlocked", "ok", Some(&account_id), None);
    }
    tx.commit()?;
    Ok(citizen_protocol::protocol::Ok { ok: true })
}

/// Who a valid bearer token speaks for.
#[derive(Clone, Debug)]
pub struct Bearer {
    /// Account.
    pub account_id: String,
    /// Device the session was opened on.
    pub device_id: String,
    /// Session.
    pub session_id: String,
}

/// Check a bearer token: signature, issuer, audience, expiry, live session, active device,
/// unlocked account.
/// Counts as session activity (idle deadline moves, capped by the absolute one).
pub fn authenticate(s: &AppState, conn: &Connection, token: Option<&str>) -> ApiResult<Bearer> {
    let now = s.now();
    let claims = token.and_then(|t| s.tokens.verify(t, now)).ok_or_else(token_invalid)?;
    let find = || {
        conn.query_row(
            &format!("SELECT {SESSION_COLS} FROM sessions s WHERE s.session_id = ?1"),
            [&claims.sid],
            session_row,
        )
        .optional()
    };
    let mut sess = find()?;
    if let (Some(found), true) = (&sess, conn.is_pg()) {
        // The account's lock, then the session again (decision 47): what the unit does for
        // this bearer is atomic with every other keyed unit of the account.
        conn.lock_key(&crate::sql::lock_keys::account(&found.account_id))?;
        sess = find()?;
    }
    let sess = sess.ok_or_else(token_invalid)?;
    if sess.account_id != claims.sub || sess.device_id != claims.did {
        return Err(token_invalid());
    }
    // The token is authentic: a deactivated device learns why before anything else.
    let dev = load_device(conn, &sess.device_id)?.ok_or_else(ApiError::internal)?;
    check_device_usable(&dev)?;
    check_not_locked(conn, &sess.account_id)?;
    if sess.revoked {
        return Err(session_expired());
    }
    if now >= sess.idle_expires_at || now >= sess.absolute_expires_at {
        revoke_session(conn, &sess.session_id, "expired", now)?;
        return Err(session_expired());
    }
    let idle = (now + s.limits.session_idle_secs).min(sess.absolute_expires_at);
    conn.execute("UPDATE sessions SET idle_expires_at = ?2 WHERE session_id = ?1", params![sess.session_id, idle])?;
    Ok(Bearer { account_id: sess.account_id, device_id: sess.device_id, session_id: sess.session_id })
}

/// `POST /v1/auth/logout`.
pub fn logout(
    s: &AppState,
    conn: &mut Connection,
    token: Option<&str>,
    req: &LogoutRequest,
) -> ApiResult<citizen_protocol::protocol::Ok> {
    let now = s.now();
    let b = authenticate(s, conn, token)?;
    let tx = conn.savepoint()?;
    revoke_session(&tx, &b.session_id, "logout", now)?;
    if let Some(rt) = &req.refresh_token {
        let other: Option<(String, String)> = tx
            .query_row(
                "SELECT s.session_id, s.account_id FROM refresh_tokens r JOIN sessions s USING (session_id) WHERE r.token_hash = ?1",
                [refresh_hash(rt)],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        if let Some((sid, acc)) = other {
            if acc == b.account_id {
                revoke_session(&tx, &sid, "logout", now)?;
            }
        }
    }
    audit(&tx, now, "logout", "ok", Some(&b.account_id), Some(&b.device_id));
    tx.commit()?;
    Ok(citizen_protocol::protocol::Ok { ok: true })
}
