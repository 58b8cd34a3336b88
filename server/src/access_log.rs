//! The citizen's access log (issue 16, item 2; decision 43): every read of a citizen's register
//! record by someone other than the citizen — an official through the officials' API (who,
//! agency, purpose code), a relying party through a share or a QR login (the consent receipt is
//! the reference), the services back office (prefilling/checking an eForm from the register,
//! deciding a case) — appended in the same unit of work as the read, hash-chained per citizen
//! (`citizen_protocol::access`, the activity log's link format under its own domain).
//!
//! Append-only: rows are only inserted (the schema's triggers refuse UPDATE and DELETE; the
//! chain and the heads citizens keep from earlier signed exports show what a direct edit of the
//! file would do). The next link is taken under the writer (one unit at a time), and the
//! primary key `(citizen_id, seq)` refuses a second link at the same place under any backend.

use crate::sql::{params, Connection, OptionalExtension};
use citizen_protocol::access::{codes, AccessEntry, AccessLogClaims, AccessPurpose, Accessor, OfficialRecordRequest};
use citizen_protocol::activity::GENESIS;
use citizen_protocol::protocol::services::CitizenProfileDto;

use crate::api::{ApiError, ApiResult, AppState};
use crate::db::audit;

/// The agency name the back office records under.
pub const BACK_OFFICE: &str = "Dịch vụ công (hệ thống)";

/// One read to record.
pub struct Read<'a> {
    /// Who.
    pub accessor: Accessor,
    /// Agency (relying party id for a share).
    pub agency: &'a str,
    /// Official's staff id (officials only).
    pub official: Option<&'a str>,
    /// Why.
    pub purpose: AccessPurpose,
    /// Case number or receipt id.
    pub reference: Option<&'a str>,
}

/// The back office checked (prefilled) a new case's form against the register.
pub fn prefill(case_number: &str) -> Read<'_> {
    Read {
        accessor: Accessor::BackOffice,
        agency: BACK_OFFICE,
        official: None,
        purpose: AccessPurpose::FormPrefill,
        reference: Some(case_number),
    }
}

/// The back office decided a case (approval, rejection, supplement request).
pub fn decision(case_number: &str) -> Read<'_> {
    Read {
        accessor: Accessor::BackOffice,
        agency: BACK_OFFICE,
        official: None,
        purpose: AccessPurpose::CaseDecision,
        reference: Some(case_number),
    }
}

/// Append a read of the record of `citizen_id` at `at`. Runs on the caller's connection: call
/// it in the unit of work that made the read, so the read and its record commit together.
pub fn record(conn: &Connection, citizen_id: i64, at: i64, r: &Read<'_>) -> crate::sql::Result<AccessEntry> {
    // One chain, one lock (decision 47): the last entry is read after it.
    conn.lock_key(&crate::sql::lock_keys::access_log(citizen_id))?;
    let last: Option<(i64, String)> = conn
        .query_row(
            "SELECT seq, hash FROM access_log WHERE citizen_id = ?1 ORDER BY seq DESC LIMIT 1",
            [citizen_id],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    let (last_seq, prev_hash) = last.unwrap_or((0, GENESIS.to_string()));
    let seq = u64::try_from(last_seq + 1).unwrap_or(1);
    let hash = citizen_protocol::access::entry_hash(
        seq,
        at,
        r.accessor,
        r.agency,
        r.official,
        r.purpose,
        r.reference,
        &prev_hash,
    );
    conn.execute(
        "INSERT INTO access_log (citizen_id, seq, at, accessor, agency, official, purpose, reference, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            citizen_id,
            last_seq + 1,
            at,
            r.accessor.as_str(),
            r.agency,
            r.official,
            r.purpose.as_str(),
            r.reference,
            prev_hash,
            hash
        ],
    )?;
    Ok(AccessEntry {
        seq,
        at,
        accessor: r.accessor,
        agency: r.agency.to_string(),
        official: r.official.map(str::to_string),
        purpose: r.purpose,
        reference: r.reference.map(str::to_string),
        prev_hash,
        hash,
    })
}

/// The citizen behind an account.
pub fn citizen_of_account(conn: &Connection, account_id: &str) -> crate::sql::Result<Option<i64>> {
    conn.query_row("SELECT citizen_id FROM accounts WHERE account_id = ?1", [account_id], |r| r.get(0)).optional()
}

/// [`record`] for the citizen of an account (nothing when the account is unknown).
pub fn record_for_account(conn: &Connection, account_id: &str, at: i64, r: &Read<'_>) -> crate::sql::Result<()> {
    if let Some(c) = citizen_of_account(conn, account_id)? {
        record(conn, c, at, r)?;
    }
    Ok(())
}

/// The whole chain of a citizen, oldest first. A stored value that no longer parses (edited
/// at rest) is kept as read where possible, so the chain check reports it rather than hiding it.
pub fn entries(conn: &Connection, citizen_id: i64) -> crate::sql::Result<Vec<AccessEntry>> {
    let mut st = conn.prepare(
        "SELECT seq, at, accessor, agency, official, purpose, reference, prev_hash, hash
           FROM access_log WHERE citizen_id = ?1 ORDER BY seq",
    )?;
    let rows = st.query_map([citizen_id], |r| {
        let accessor: String = r.get(2)?;
        let purpose: String = r.get(5)?;
        let seq: i64 = r.get(0)?;
        Ok(AccessEntry {
            seq: u64::try_from(seq).unwrap_or(0),
            at: r.get(1)?,
            accessor: Accessor::parse(&accessor).unwrap_or(Accessor::Official),
            agency: r.get(3)?,
            official: r.get(4)?,
            purpose: AccessPurpose::parse(&purpose).unwrap_or(AccessPurpose::Investigation),
            reference: r.get(6)?,
            prev_hash: r.get(7)?,
            hash: r.get(8)?,
        })
    })?;
    rows.collect()
}

/// `GET /v1/citizen/access-log` (bearer): the claims to sign (signed after the unit of work,
/// decision 36). The citizen reading their own log is not a read of the record by someone else.
pub fn log_claims(s: &AppState, conn: &mut Connection, token: Option<&str>) -> ApiResult<AccessLogClaims> {
    let b = crate::handlers::auth::authenticate(s, conn, token)?;
    let citizen = citizen_of_account(conn, &b.account_id)?.ok_or_else(ApiError::internal)?;
    let entries = entries(conn, citizen)?;
    audit(conn, s.now(), "access_log", "ok", Some(&b.account_id), Some(&b.device_id));
    Ok(AccessLogClaims { iss: s.audience.clone(), sub: b.account_id, iat: s.now(), entries })
}

/// `POST /v1/official/citizens/record` (officials' token checked by the caller, role
/// `records`): the register record of a citizen, for a stated purpose; the read is logged in
/// the citizen's access log in the same unit of work.
pub fn official_read(
    s: &AppState,
    conn: &mut Connection,
    who: &crate::officials::Official,
    req: &OfficialRecordRequest,
) -> ApiResult<CitizenProfileDto> {
    use citizen_protocol::access::label_ok;
    if !AccessPurpose::OFFICIAL.contains(&req.purpose) {
        return Err(ApiError::invalid("this purpose is recorded by the server, not stated by an official"));
    }
    // A named official is who their token says; the shared token must say who reads.
    let official = who.id.as_deref().or(req.official_id.as_deref()).unwrap_or_default();
    let agency = who.agency.as_deref().or(req.agency.as_deref()).unwrap_or_default();
    if !label_ok(official) || !label_ok(agency) || req.reference.as_deref().is_some_and(|r| !label_ok(r)) {
        return Err(ApiError::invalid("official_id, agency and reference must be 1-128 printable characters"));
    }
    let now = s.now();
    let tx = conn.savepoint()?;
    let citizen: Option<(i64, Option<String>)> = tx
        .query_row(
            "SELECT c.id, a.account_id FROM citizens c LEFT JOIN accounts a ON a.citizen_id = c.id WHERE c.cccd = ?1",
            [&req.cccd],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((citizen_id, account_id)) = citizen else {
        drop(tx);
        audit(conn, now, "official_record_read", codes::UNKNOWN_CITIZEN, None, None);
        return Err(ApiError::new(axum::http::StatusCode::NOT_FOUND, codes::UNKNOWN_CITIZEN, "no such citizen"));
    };
    let profile = crate::register::profile_of_cccd(&tx, &req.cccd)?.ok_or_else(ApiError::internal)?;
    record(
        &tx,
        citizen_id,
        now,
        &Read {
            accessor: Accessor::Official,
            agency,
            official: Some(official),
            purpose: req.purpose,
            reference: req.reference.as_deref(),
        },
    )?;
    audit(&tx, now, "official_record_read", "ok", account_id.as_deref(), None);
    tx.commit()?;
    Ok(profile)
}
