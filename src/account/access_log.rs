//! The citizen's access log on the device (issue 16, item 2; ARCHITECTURE.md decision 43;
//! [`crate::protocol::access`]): who read the citizen's register record.
//!
//! The server sends the whole chain as one JWS under its own `typ`; the device checks the
//! signature with the server's keys, that it is for this server and this account, and the
//! chain (sequence, hashes, links). It keeps the head of the last intact log it saw (`meta`,
//! per account): a later log that no longer holds that head unchanged — an entry removed or
//! rewritten and the chain recomputed — is reported (`Truncated`, `AnchorMismatch`). The
//! filter (agency, period) is applied after verification, on the whole chain.

use citizen_protocol::access::{verify_chain, AccessEntry, AccessFilter, AccessLogClaims, AccessLogResponse};
use citizen_protocol::activity::LogProblem;
use rusqlite::{params, OptionalExtension};

use crate::error::{Error, Result};

/// A verified access log.
pub(crate) struct AccessLogView {
    /// The entries the filter kept, oldest first.
    pub entries: Vec<AccessEntry>,
    /// Entries in the whole log.
    pub total: usize,
    /// Problems of the chain (empty = intact).
    pub problems: Vec<LogProblem>,
    /// When the server signed it.
    pub signed_at: i64,
    /// The signed log (the export).
    pub signed: String,
}

/// What verifying an exported log found.
pub(crate) struct AccessLogCheck {
    /// The server's signature verified with a trusted key, and the kind is an access log.
    pub signature_valid: bool,
    /// Entries.
    pub entries: Vec<AccessEntry>,
    /// Chain problems.
    pub problems: Vec<LogProblem>,
    /// Account the log is for.
    pub account_id: String,
    /// Issuer.
    pub issuer: String,
    /// Signed at.
    pub signed_at: i64,
}

/// Verify an exported log (the signed JWS) against server keys the verifier trusts (a JWK or a
/// JWKS, as for the activity log): signature and kind, then the chain. A log whose signature
/// does not verify is reported with its (untrusted) content and `signature_valid = false`.
pub(crate) fn verify_export(signed: &str, pinned_server_jwk: &str) -> Result<AccessLogCheck> {
    let keys = crate::activity::flows::pinned_keys(pinned_server_jwk)?;
    let verified =
        keys.iter().find_map(|k| citizen_protocol::crypto::decode_es256::<AccessLogClaims>(signed.trim(), k));
    let signature_valid = verified.is_some();
    let claims = match verified {
        Some(c) => c,
        None => {
            // Read what the file claims, to report it (nothing of it is trusted).
            let payload = signed.trim().split('.').nth(1).and_then(crate::crypto::unb64);
            payload.and_then(|p| serde_json::from_slice::<AccessLogClaims>(&p).ok()).ok_or_else(|| {
                Error::Fields(vec![crate::error::FieldError::at(
                    "access_log".to_string(),
                    crate::error::Msg::InvalidInput,
                )])
            })?
        }
    };
    let problems = verify_chain(&claims.entries, None);
    Ok(AccessLogCheck {
        signature_valid,
        entries: claims.entries,
        problems,
        account_id: claims.sub,
        issuer: claims.iss,
        signed_at: claims.iat,
    })
}

impl crate::account::Account {
    /// Fetch, verify and filter the access log (logged in; network).
    pub(crate) async fn access_log(&self, filter: &AccessFilter) -> Result<AccessLogView> {
        let acc = self.active_account()?;
        let token = self.access_token().await?;
        let r: AccessLogResponse = self.net.get(citizen_protocol::access::PATH_ACCESS_LOG, Some(&token)).await?;
        let bad = |why: &str| Error::BadReceipt(format!("access log: {why}"));
        let claims: AccessLogClaims =
            self.decode_server_jws(&r.log).await.ok_or_else(|| bad("signature or kind does not verify"))?;
        if claims.iss != self.net.audience() || claims.sub != acc.account_id {
            return Err(bad("not for this account"));
        }
        let key = format!("access_log_head:{}", acc.account_id);
        let kept: Option<(u64, String)> = {
            let conn = self.store.conn();
            let v: Option<Vec<u8>> =
                conn.query_row("SELECT value FROM meta WHERE name = ?1", [&key], |row| row.get(0)).optional()?;
            v.and_then(|b| serde_json::from_slice(&b).ok())
        };
        let problems = verify_chain(&claims.entries, kept.as_ref().map(|(s, h)| (*s, h.as_str())));
        if problems.is_empty() {
            if let Some(last) = claims.entries.last() {
                let head = serde_json::to_vec(&(last.seq, &last.hash)).map_err(|e| Error::Storage(e.to_string()))?;
                self.store
                    .conn()
                    .execute("INSERT OR REPLACE INTO meta (name, value) VALUES (?1, ?2)", params![key, head])?;
            }
        }
        let total = claims.entries.len();
        let entries = claims.entries.into_iter().filter(|e| filter.matches(e)).collect();
        Ok(AccessLogView { entries, total, problems, signed_at: claims.iat, signed: r.log })
    }
}
