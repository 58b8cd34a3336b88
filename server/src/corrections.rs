//! Corrections and enrichment of the population register by the citizen (issue 16 item 1,
//! decision 50).
//!
//! * **Proposal.** A signed submission of the procedure `register-correction` (through the
//!   device's outbox: durable, idempotent, signed like any submission). Besides the eForm's own
//!   rules, [`check_proposal`] refuses a value that does not fit the field
//!   (`correction.value_invalid`), one the register already holds (`correction.unchanged`) and a
//!   second pending proposal for the same field (`correction.already_pending`);
//!   [`check_evidence`] refuses a correction that needs evidence without it
//!   (`correction.evidence_required`). The proposal is recorded with its case, in the same unit.
//! * **Review** by a named official holding [`Role::Register`] (the shared officials' token
//!   never holds it, and the generic case transition refuses to decide a correction:
//!   `correction.named_official_required`). The list carries no personal value; opening one
//!   ([`view`]) and deciding one ([`decide`]) are reads of the record, logged in the citizen's
//!   access log under the official's name and agency, purpose `register_maintenance`.
//! * **Decision.** Approve: the register changes (a column of `citizens`, or the enrichment
//!   table), `updated_at` moves, the history keeps old value, new value, decision, official,
//!   agency and time (append-only), and when the PID credential carries the field every PID
//!   issued to the citizen's accounts is revoked in the token status list (the device fetches a
//!   new one). Reject: only the history row and the case's decision; the register is untouched.
//!   Request supplement: the case's existing supplement path (the citizen answers with a signed
//!   supplement submission; the correction stays pending). All in one unit of work.

use std::collections::BTreeMap;

use crate::sql::{params, Connection, OptionalExtension};
use axum::http::StatusCode;
use citizen_protocol::access::{AccessPurpose, Accessor};
use citizen_protocol::protocol::corrections::{
    codes, value_problem, CorrectableField, CorrectionDecision, CorrectionDto, CorrectionList, CorrectionState,
    PROCEDURE_ID,
};
use citizen_protocol::protocol::services::{CaseStatusDto, CitizenProfileDto, SubmissionRequest, TransitionRequest};

use crate::api::{ApiError, ApiResult, AppState};
use crate::db::audit;
use crate::officials::Official;

/// A checked proposal, recorded with its case.
#[derive(Debug)]
pub struct Proposal {
    citizen_id: i64,
    field: CorrectableField,
    value: String,
    reason: String,
}

fn refuse(status: StatusCode, code: &str, msg: &str) -> ApiError {
    ApiError::new(status, code, msg)
}

fn field_of(values: &BTreeMap<String, String>) -> ApiResult<CorrectableField> {
    // The eForm's select already restricts it; a missing value is a form error found later.
    values
        .get("field")
        .and_then(|f| CorrectableField::parse(f))
        .ok_or_else(|| refuse(StatusCode::UNPROCESSABLE_ENTITY, codes::VALUE_INVALID, "unknown field"))
}

/// Evidence the field needs must be attached (before the generic attachment check, so the
/// citizen hears which rule failed).
pub fn check_evidence(req: &SubmissionRequest) -> ApiResult<()> {
    let Ok(field) = field_of(&req.payload.values) else { return Ok(()) };
    if field.needs_evidence() && !req.payload.attachments.iter().any(|a| a.key == "evidence") {
        return Err(refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            codes::EVIDENCE_REQUIRED,
            "this field needs evidence attached (attachment `evidence`)",
        ));
    }
    Ok(())
}

/// The rules beyond the form (the form itself validated already).
pub fn check_proposal(
    conn: &Connection,
    account_id: &str,
    values: &BTreeMap<String, String>,
    profile: &CitizenProfileDto,
) -> ApiResult<Proposal> {
    let field = field_of(values)?;
    let value = values.get(field.value_key()).cloned().unwrap_or_default();
    if let Some(code) = value_problem(field, &value) {
        return Err(refuse(StatusCode::UNPROCESSABLE_ENTITY, code, "the value does not fit the field"));
    }
    if profile.attribute(field.as_str()).unwrap_or_default() == value {
        return Err(refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            codes::UNCHANGED,
            "the register already holds this value",
        ));
    }
    let citizen_id = crate::access_log::citizen_of_account(conn, account_id)?.ok_or_else(ApiError::internal)?;
    let pending: Option<String> = conn
        .query_row(
            "SELECT case_number FROM register_corrections WHERE citizen_id = ?1 AND field = ?2 AND state = 'pending'",
            params![citizen_id, field.as_str()],
            |r| r.get(0),
        )
        .optional()?;
    if pending.is_some() {
        return Err(refuse(
            StatusCode::CONFLICT,
            codes::ALREADY_PENDING,
            "a correction of this field is already waiting for a decision",
        ));
    }
    Ok(Proposal { citizen_id, field, value, reason: values.get("reason").cloned().unwrap_or_default() })
}

/// Record a checked proposal with its new case (same unit of work).
pub fn record_proposal(conn: &Connection, case_number: &str, p: &Proposal, now: i64) -> crate::sql::Result<()> {
    conn.execute(
        "INSERT INTO register_corrections (case_number, citizen_id, field, proposed, reason, state, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6)",
        params![case_number, p.citizen_id, p.field.as_str(), p.value, p.reason, now],
    )?;
    Ok(())
}

struct Row {
    case_number: String,
    citizen_id: i64,
    account_id: String,
    field: CorrectableField,
    proposed: String,
    reason: String,
    state: CorrectionState,
    case_status: String,
    received_at: i64,
    submission_id: String,
}

const ROW_COLS: &str = "r.case_number, r.citizen_id, c.account_id, r.field, r.proposed, r.reason, r.state, c.status,
     c.received_at, c.submission_id";

fn row(r: &crate::sql::Row<'_>) -> crate::sql::Result<Row> {
    let field: String = r.get(3)?;
    let state: String = r.get(6)?;
    Ok(Row {
        case_number: r.get(0)?,
        citizen_id: r.get(1)?,
        account_id: r.get(2)?,
        field: CorrectableField::parse(&field).unwrap_or(CorrectableField::Occupation),
        proposed: r.get(4)?,
        reason: r.get(5)?,
        state: match state.as_str() {
            "approved" => CorrectionState::Approved,
            "rejected" => CorrectionState::Rejected,
            _ => CorrectionState::Pending,
        },
        case_status: r.get(7)?,
        received_at: r.get(8)?,
        submission_id: r.get(9)?,
    })
}

fn load(conn: &Connection, case_number: &str) -> ApiResult<Row> {
    conn.query_row(
        &format!(
            "SELECT {ROW_COLS} FROM register_corrections r JOIN cases c USING (case_number) WHERE r.case_number = ?1"
        ),
        [case_number],
        row,
    )
    .optional()?
    .ok_or_else(|| refuse(StatusCode::NOT_FOUND, codes::UNKNOWN, "no such correction"))
}

/// The register's current value of `field` for `citizen_id` (`None` when empty).
fn current_value(conn: &Connection, citizen_id: i64, field: CorrectableField) -> crate::sql::Result<Option<String>> {
    let cccd: String = conn.query_row("SELECT cccd FROM citizens WHERE id = ?1", [citizen_id], |r| r.get(0))?;
    let profile = crate::register::profile_of_cccd(conn, &cccd)?;
    Ok(profile.and_then(|p| p.attribute(field.as_str())).filter(|v| !v.is_empty()))
}

fn evidence_keys(conn: &Connection, submission_id: &str) -> crate::sql::Result<Vec<String>> {
    let mut st = conn.prepare("SELECT key FROM submission_attachments WHERE submission_id = ?1 ORDER BY key")?;
    let keys = st.query_map([submission_id], |r| r.get(0))?.collect::<crate::sql::Result<Vec<String>>>()?;
    Ok(keys)
}

fn read_by<'a>(who: &'a Official, case_number: &'a str) -> crate::access_log::Read<'a> {
    crate::access_log::Read {
        accessor: Accessor::Official,
        agency: who.agency.as_deref().unwrap_or_default(),
        official: who.id.as_deref(),
        purpose: AccessPurpose::RegisterMaintenance,
        reference: Some(case_number),
    }
}

/// `GET /v1/official/corrections` (role `register`): pending corrections, oldest first,
/// without any personal value (opening one is the logged read).
pub fn list(s: &AppState, conn: &mut Connection, who: &Official) -> ApiResult<CorrectionList> {
    let mut st = conn.prepare(&format!(
        "SELECT {ROW_COLS} FROM register_corrections r JOIN cases c USING (case_number)
          WHERE r.state = 'pending' ORDER BY c.received_at, r.case_number LIMIT 500"
    ))?;
    let rows = st.query_map([], row)?.collect::<crate::sql::Result<Vec<_>>>()?;
    drop(st);
    let corrections = rows
        .into_iter()
        .map(|r| CorrectionDto {
            case_number: r.case_number,
            field: r.field,
            current_value: None,
            proposed_value: None,
            reason: None,
            evidence: vec![],
            state: r.state,
            case_status: r.case_status,
            received_at: r.received_at,
        })
        .collect();
    audit(conn, s.now(), "correction_list", "ok", who.id.as_deref().map(|i| format!("official:{i}")).as_deref(), None);
    Ok(CorrectionList { corrections })
}

fn dto(conn: &Connection, r: Row) -> crate::sql::Result<CorrectionDto> {
    Ok(CorrectionDto {
        current_value: current_value(conn, r.citizen_id, r.field)?,
        evidence: evidence_keys(conn, &r.submission_id)?,
        case_number: r.case_number,
        field: r.field,
        proposed_value: Some(r.proposed),
        reason: Some(r.reason),
        state: r.state,
        case_status: r.case_status,
        received_at: r.received_at,
    })
}

/// `POST /v1/official/corrections/view` (role `register`): one correction with the record's
/// current value; the read is logged in the citizen's access log in the same unit.
pub fn view(s: &AppState, conn: &mut Connection, who: &Official, case_number: &str) -> ApiResult<CorrectionDto> {
    let now = s.now();
    let tx = conn.savepoint()?;
    let r = load(&tx, case_number)?;
    crate::access_log::record(&tx, r.citizen_id, now, &read_by(who, case_number))?;
    audit(&tx, now, "correction_view", "ok", Some(&r.account_id), None);
    let out = dto(&tx, r)?;
    tx.commit()?;
    Ok(out)
}

/// `POST /v1/official/corrections/decide` (role `register`): approve, reject or ask for a
/// supplement, in one unit of work with the case's transition, the register change, the
/// history row, the access-log entry and the PID revocation.
pub fn decide(
    s: &AppState,
    conn: &mut Connection,
    who: &Official,
    req: &citizen_protocol::protocol::corrections::CorrectionDecisionRequest,
) -> ApiResult<CorrectionDto> {
    let now = s.now();
    let (Some(official_id), Some(agency)) = (who.id.as_deref(), who.agency.as_deref()) else {
        // `Role::Register` is never held by the shared token; kept as a guard.
        return Err(refuse(StatusCode::FORBIDDEN, codes::NAMED_OFFICIAL_REQUIRED, "a named official decides"));
    };
    let tx = conn.savepoint()?;
    let r = load(&tx, &req.case_number)?;
    let open = matches!(r.case_status.as_str(), "received" | "processing");
    if r.state != CorrectionState::Pending || !open {
        drop(tx);
        audit(conn, now, "correction_decide", codes::NOT_PENDING, Some(&r.account_id), None);
        return Err(refuse(
            StatusCode::CONFLICT,
            codes::NOT_PENDING,
            "the correction was decided already or waits for the citizen's supplement",
        ));
    }
    let mut tx = tx;
    let step = |tx: &mut Connection, to: CaseStatusDto, vi: Option<&str>, en: Option<&str>, want: Vec<String>| {
        crate::handlers::services::transition_as(
            s,
            tx,
            &TransitionRequest {
                case_number: req.case_number.clone(),
                to,
                note_vi: vi.map(str::to_string),
                note_en: en.map(str::to_string),
                requested_attachments: want,
            },
            Some(who),
        )
    };
    if r.case_status == "received" && req.decision != CorrectionDecision::Reject {
        step(
            &mut tx,
            CaseStatusDto::Processing,
            Some("Cán bộ đang xem xét đề nghị"),
            Some("An official is reviewing the request"),
            vec![],
        )?;
    }
    let old = current_value(&tx, r.citizen_id, r.field)?;
    match req.decision {
        CorrectionDecision::RequestSupplement => {
            let want = if req.requested_attachments.is_empty() {
                vec!["evidence".to_string()]
            } else {
                req.requested_attachments.clone()
            };
            step(
                &mut tx,
                CaseStatusDto::NeedsSupplement,
                Some(req.note_vi.as_deref().unwrap_or("Đề nghị bổ sung giấy tờ chứng minh")),
                Some(req.note_en.as_deref().unwrap_or("Please add supporting evidence")),
                want,
            )?;
        }
        CorrectionDecision::Reject => {
            history(&tx, &r, old.as_deref(), "rejected", official_id, agency, now)?;
            tx.execute(
                "UPDATE register_corrections SET state = 'rejected' WHERE case_number = ?1",
                [&req.case_number],
            )?;
            step(
                &mut tx,
                CaseStatusDto::Rejected,
                Some(req.note_vi.as_deref().unwrap_or("Đề nghị điều chỉnh không được chấp thuận")),
                Some(req.note_en.as_deref().unwrap_or("The correction was not approved")),
                vec![],
            )?;
        }
        CorrectionDecision::Approve => {
            apply(&tx, r.citizen_id, r.field, &r.proposed, now)?;
            history(&tx, &r, old.as_deref(), "approved", official_id, agency, now)?;
            tx.execute(
                "UPDATE register_corrections SET state = 'approved' WHERE case_number = ?1",
                [&req.case_number],
            )?;
            if r.field.in_pid() {
                revoke_pids(&tx, r.citizen_id, now)?;
            }
            step(
                &mut tx,
                CaseStatusDto::Approved,
                Some(
                    req.note_vi
                        .as_deref()
                        .unwrap_or("Thông tin đã được điều chỉnh trong Cơ sở dữ liệu quốc gia về dân cư"),
                ),
                Some(req.note_en.as_deref().unwrap_or("The population register was updated")),
                vec![],
            )?;
        }
    }
    audit(&tx, now, "correction_decide", "ok", Some(&r.account_id), None);
    let out = dto(&tx, load(&tx, &req.case_number)?)?;
    tx.commit()?;
    Ok(out)
}

fn history(
    conn: &Connection,
    r: &Row,
    old: Option<&str>,
    decision: &str,
    official_id: &str,
    agency: &str,
    now: i64,
) -> crate::sql::Result<()> {
    conn.execute(
        "INSERT INTO register_history (citizen_id, field, old_value, new_value, decision, case_number, official_id,
                                       agency, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![r.citizen_id, r.field.as_str(), old, r.proposed, decision, r.case_number, official_id, agency, now],
    )?;
    Ok(())
}

/// Write the approved value: a column of the base record, or the enrichment table.
fn apply(conn: &Connection, citizen_id: i64, field: CorrectableField, value: &str, now: i64) -> crate::sql::Result<()> {
    match field {
        CorrectableField::PlaceOfOrigin => {
            conn.execute(
                "UPDATE citizens SET place_of_origin = ?2, updated_at = ?3 WHERE id = ?1",
                params![citizen_id, value, now],
            )?;
        }
        CorrectableField::Email => {
            conn.execute(
                "UPDATE citizens SET email = ?2, updated_at = ?3 WHERE id = ?1",
                params![citizen_id, value, now],
            )?;
        }
        _ => {
            conn.execute(
                "INSERT INTO register_enrichment (citizen_id, field, value, updated_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (citizen_id, field) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                params![citizen_id, field.as_str(), value, now],
            )?;
            conn.execute("UPDATE citizens SET updated_at = ?2 WHERE id = ?1", params![citizen_id, now])?;
        }
    }
    Ok(())
}

/// Revoke (status bit) every PID credential issued to the citizen's accounts; returns how many.
fn revoke_pids(conn: &Connection, citizen_id: i64, now: i64) -> crate::sql::Result<usize> {
    conn.execute(
        "UPDATE issued_documents SET revoked_at = ?2
          WHERE kind = 'pid' AND revoked_at IS NULL
            AND account_id IN (SELECT account_id FROM accounts WHERE citizen_id = ?1)",
        params![citizen_id, now],
    )
}

/// The enrichment fields of a citizen (`field` → value), for the profile.
pub fn enrichment(conn: &Connection, citizen_id: i64) -> crate::sql::Result<BTreeMap<String, String>> {
    let mut st = conn.prepare("SELECT field, value FROM register_enrichment WHERE citizen_id = ?1")?;
    let rows = st
        .query_map([citizen_id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
        .collect::<crate::sql::Result<BTreeMap<_, _>>>()?;
    Ok(rows)
}

/// One row of a citizen's register history (tests, tools).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryEntry {
    /// Field.
    pub field: String,
    /// Value before (`None` when empty).
    pub old_value: Option<String>,
    /// Value proposed (applied when approved).
    pub new_value: String,
    /// `approved` / `rejected`.
    pub decision: String,
    /// Case number.
    pub case_number: String,
    /// Official's staff id.
    pub official_id: String,
    /// Official's agency.
    pub agency: String,
    /// When.
    pub at: i64,
}

/// A citizen's register history by CCCD, oldest first.
pub fn history_of(conn: &Connection, cccd: &str) -> crate::sql::Result<Vec<HistoryEntry>> {
    let mut st = conn.prepare(
        "SELECT h.field, h.old_value, h.new_value, h.decision, h.case_number, h.official_id, h.agency, h.at
           FROM register_history h JOIN citizens c ON c.id = h.citizen_id WHERE c.cccd = ?1 ORDER BY h.id",
    )?;
    let rows = st.query_map([cccd], |r| {
        Ok(HistoryEntry {
            field: r.get(0)?,
            old_value: r.get(1)?,
            new_value: r.get(2)?,
            decision: r.get(3)?,
            case_number: r.get(4)?,
            official_id: r.get(5)?,
            agency: r.get(6)?,
            at: r.get(7)?,
        })
    })?;
    rows.collect()
}

/// Whether `procedure_id` is the correction procedure.
pub fn is_correction(procedure_id: &str) -> bool {
    procedure_id == PROCEDURE_ID
}
