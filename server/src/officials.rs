//! Named officials and their roles (issue 16; decision 44): least privilege for the officials'
//! side, separate from the citizens' API (officials never hold a citizen's bearer token and
//! citizens' tokens open nothing here).
//!
//! Two kinds of credential reach the officials' endpoints through `X-Official-Token`:
//! * the server's **shared officials' token** (`<data_dir>/official-token`, the case, lock and
//!   revocation API so far), which carries every role *except* [`Role::Dashboard`] and
//!   [`Role::Register`] — a leak of the operators' secret does not open the leaders' figures nor
//!   change anyone's register record, and neither is a by-product of being able to move cases;
//! * a **named official's token** (`citizen-server add-official`), stored only as its SHA-256,
//!   carrying exactly the roles it was created with, and an identity (staff id, agency) that
//!   the access log and the audit log record instead of anything the request claims.
//!
//! No token or an unknown one: 401 `official_unauthorized`; a known one without the role: 403
//! `official_forbidden`. Both refusals are audited.

use crate::sql::{params, Connection, OptionalExtension};
use axum::http::{HeaderMap, StatusCode};
use citizen_protocol::access::codes as ac;
use citizen_protocol::protocol::services::codes as sc;
use citizen_protocol::protocol::sha256_hex;

use crate::api::{ApiError, ApiResult, AppState};
use crate::db::audit;

/// What an official may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Read a citizen's register record (logged in the citizen's access log).
    Records,
    /// See the officials' dashboard and its exports.
    Dashboard,
    /// Forward a citizen's signed submission filed at a counter.
    Counter,
    /// Maintain the population register: review and decide the citizens' corrections and
    /// additions (decision 50). Never carried by the shared token: a change of the register
    /// must name the official who made it.
    Register,
}

impl Role {
    /// Name in `officials.roles` (comma-separated).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Records => "records",
            Role::Dashboard => "dashboard",
            Role::Counter => "counter",
            Role::Register => "register",
        }
    }

    /// Parse a role name.
    pub fn parse(s: &str) -> Option<Role> {
        match s.trim() {
            "records" => Some(Role::Records),
            "dashboard" => Some(Role::Dashboard),
            "counter" => Some(Role::Counter),
            "register" => Some(Role::Register),
            _ => None,
        }
    }
}

/// An authenticated official.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Official {
    /// Staff id (`None` for the shared officials' token).
    pub id: Option<String>,
    /// Agency (`None` for the shared officials' token).
    pub agency: Option<String>,
}

/// Create a named official with `roles`; returns the token (shown once, stored hashed).
pub fn add(conn: &Connection, id: &str, agency: &str, roles: &[Role], now: i64) -> crate::sql::Result<String> {
    let token = citizen_protocol::crypto::random_b64url(32);
    let roles: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
    conn.execute(
        "INSERT INTO officials (official_id, agency, token_hash, roles, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![id, agency, sha256_hex(token.as_bytes()), roles.join(","), now],
    )?;
    Ok(token)
}

/// Who `token` is and whether they hold `role` (`Err` = 401 or 403). Runs inside a unit of
/// work (the named officials are in the database); audits refusals under `event`.
pub fn check(s: &AppState, conn: &Connection, token: &[u8], role: Role, event: &str) -> ApiResult<Official> {
    let now = s.now();
    if crate::otp::ct_eq(token, s.official_token.as_bytes()) {
        if matches!(role, Role::Dashboard | Role::Register) {
            audit(conn, now, event, ac::OFFICIAL_FORBIDDEN, None, None);
            return Err(forbidden());
        }
        return Ok(Official { id: None, agency: None });
    }
    // Looked up by the SHA-256 of a 256-bit random token: the lookup reveals nothing usable.
    let row: Option<(String, String, String)> = conn
        .query_row("SELECT official_id, agency, roles FROM officials WHERE token_hash = ?1", [sha256_hex(token)], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    let Some((id, agency, roles)) = row.filter(|_| !token.is_empty()) else {
        audit(conn, now, event, sc::OFFICIAL_UNAUTHORIZED, None, None);
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            sc::OFFICIAL_UNAUTHORIZED,
            "missing or wrong officials' token",
        ));
    };
    if !roles.split(',').filter_map(Role::parse).any(|r| r == role) {
        audit(conn, now, event, ac::OFFICIAL_FORBIDDEN, Some(&format!("official:{id}")), None);
        return Err(forbidden());
    }
    Ok(Official { id: Some(id), agency: Some(agency) })
}

fn forbidden() -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, ac::OFFICIAL_FORBIDDEN, "this official does not hold the role")
}

/// The `X-Official-Token` header's bytes (empty when absent).
pub fn token_of(headers: &HeaderMap) -> Vec<u8> {
    headers.get(crate::handlers::OFFICIAL_TOKEN_HEADER).map(|v| v.as_bytes().to_vec()).unwrap_or_default()
}
