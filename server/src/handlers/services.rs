//! Public services: the citizen's profile, signed submissions with idempotency and receipts,
//! cases and their events, and the officials' transition API.

use std::collections::{BTreeMap, BTreeSet};

use crate::sql::{params, Connection, OptionalExtension};
use axum::http::StatusCode;
use citizen_protocol::cccd::{normalize_phone, parse_cccd, Date};
use citizen_protocol::protocol::services::{
    codes as sc, AttachmentRef, CaseEventDto, CaseEventsResponse, CaseStatusDto, CitizenProfileDto, Condition,
    FieldKind, FieldSpec, KeysResponse, ProcedureDto, ReceiptClaims, SubmissionRequest, SubmissionResponse,
    TransitionRequest,
};
use citizen_protocol::protocol::{sha256_hex, Purpose};

use citizen_protocol::messages::Msg;

use crate::api::{ApiError, ApiResult, AppState};
use crate::db::audit;
use crate::handlers::auth::authenticate;
use crate::verify::{load_device, CounterKind, DeviceRow, NonceRule};

/// Events per page of `GET /v1/cases/events`.
pub const EVENTS_PAGE: usize = 200;

fn unprocessable(code: &str, msg: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, msg)
}

fn unknown_case() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, sc::UNKNOWN_CASE, "unknown case")
}

/// Wire name of a status (`needs_supplement`, …).
pub fn status_str(s: CaseStatusDto) -> String {
    serde_json::to_value(s).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

/// Parse a stored status.
pub fn parse_status(s: &str) -> Option<CaseStatusDto> {
    serde_json::from_value(serde_json::Value::String(s.into())).ok()
}

// --- calendar (Vietnam time) -------------------------------------------------------------------

pub(crate) fn days_from_civil(d: Date) -> i64 {
    let y = if d.month <= 2 { i64::from(d.year) - 1 } else { i64::from(d.year) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(d.month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d.day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn add_days(d: Date, n: i64) -> Date {
    // Noon of the day, shifted back from Vietnam time, is unambiguous.
    Date::from_unix_vn((days_from_civil(d) + n) * 86_400 + 5 * 3600)
}

fn fmt_date(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)
}

// --- profile, keys -------------------------------------------------------------------------------

/// `GET /v1/citizen/profile`.
pub fn profile(s: &AppState, conn: &mut Connection, token: Option<&str>) -> ApiResult<CitizenProfileDto> {
    let b = authenticate(s, conn, token)?;
    crate::register::profile_of_account(conn, &b.account_id)?.ok_or_else(ApiError::internal)
}

/// `GET /v1/keys`.
pub fn keys(s: &AppState) -> KeysResponse {
    KeysResponse { keys: vec![s.tokens.jwk().clone()] }
}

// --- form and attachment validation -------------------------------------------------------------

fn visible(cond: &Option<Condition>, prefix: &str, values: &BTreeMap<String, String>) -> bool {
    match cond {
        None => true,
        Some(c) => values.get(&format!("{prefix}{}", c.field)).is_some_and(|v| c.any_of.contains(v)),
    }
}

fn email_ok(v: &str) -> bool {
    let Some((local, domain)) = v.split_once('@') else { return false };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !v.chars().any(char::is_whitespace)
}

fn value_ok(f: &FieldSpec, v: &str, prefix: &str, values: &BTreeMap<String, String>, today: Date) -> bool {
    // Saturating: a value longer than u32::MAX characters is over every limit.
    let len = u32::try_from(v.chars().count()).unwrap_or(u32::MAX);
    if f.min_length.is_some_and(|m| len < m) || f.max_length.is_some_and(|m| len > m) || len > 10_000 {
        return false;
    }
    match f.kind {
        FieldKind::Text => !v.contains(['\n', '\r']),
        FieldKind::Multiline => true,
        FieldKind::Date => {
            let Some(d) = Date::parse(v) else { return false };
            let Some(rule) = &f.date_rule else { return true };
            if (rule.not_in_past && d < today) || (rule.not_in_future && d > today) {
                return false;
            }
            if let Some(other) = &rule.not_before_field {
                // The other field is checked on its own; only compare when it parses.
                if let Some(o) = values.get(&format!("{prefix}{other}")).and_then(|o| Date::parse(o)) {
                    if d < o {
                        return false;
                    }
                    if rule.max_days_after.is_some_and(|max| days_from_civil(d) - days_from_civil(o) > i64::from(max)) {
                        return false;
                    }
                }
            }
            true
        }
        FieldKind::Phone => normalize_phone(v).is_ok(),
        FieldKind::Cccd => parse_cccd(v).is_ok(),
        FieldKind::Email => email_ok(v),
        FieldKind::Select => f.options.iter().any(|o| o.value == v),
        FieldKind::Province => crate::admin::province_name(v).is_some(),
        FieldKind::Commune => match f.province_field.as_ref() {
            Some(pf) => values.get(&format!("{prefix}{pf}")).is_some_and(|p| crate::admin::commune_in_province(v, p)),
            None => crate::admin::commune_name(v).is_some(),
        },
        FieldKind::Number => !v.is_empty() && v.len() <= 18 && v.bytes().all(|b| b.is_ascii_digit()),
        FieldKind::Boolean => v == "true" || v == "false",
        FieldKind::Group => false,
    }
}

fn validate_fields(
    fields: &[FieldSpec],
    prefix: &str,
    values: &BTreeMap<String, String>,
    profile: &CitizenProfileDto,
    today: Date,
    errs: &mut Vec<String>,
) {
    for f in fields {
        let path = format!("{prefix}{}", f.key);
        if !visible(&f.visible_if, prefix, values) {
            continue;
        }
        if f.kind == FieldKind::Group {
            let item_prefix = format!("{path}.");
            let mut idx = BTreeSet::new();
            for k in values.keys().filter(|k| k.starts_with(&item_prefix)) {
                match k[item_prefix.len()..].split_once('.').and_then(|(i, _)| i.parse::<usize>().ok()) {
                    Some(i) if i < 1000 => {
                        idx.insert(i);
                    }
                    _ => errs.push(k.clone()),
                }
            }
            let n = u32::try_from(idx.len()).unwrap_or(u32::MAX); // at most 1000 (indexes < 1000)
            let contiguous = idx.iter().enumerate().all(|(a, b)| a == *b);
            let min = f.min_items.unwrap_or(if f.required { 1 } else { 0 });
            if !contiguous || n < min || f.max_items.is_some_and(|m| n > m) {
                errs.push(path.clone());
            }
            for i in idx {
                validate_fields(&f.fields, &format!("{path}.{i}."), values, profile, today, errs);
            }
            continue;
        }
        let raw = values.get(&path).map(String::as_str);
        if f.locked {
            if let Some(attr) = &f.autofill {
                if raw.unwrap_or("") != profile.attribute(attr).unwrap_or_default() {
                    errs.push(path);
                }
                continue;
            }
        }
        match raw.filter(|v| !v.trim().is_empty()) {
            None if f.required => errs.push(path),
            None => {}
            Some(v) if !value_ok(f, v, prefix, values, today) => errs.push(path),
            Some(_) => {}
        }
    }
}

/// Field paths of `values` that do not validate against the procedure (empty = valid). Values of
/// hidden fields are ignored; values for keys the form does not have are errors.
pub fn validate_form(
    proc_: &ProcedureDto,
    values: &BTreeMap<String, String>,
    profile: &CitizenProfileDto,
    today: Date,
) -> Vec<String> {
    let mut errs = vec![];
    for k in values.keys() {
        let top = k.split('.').next().unwrap_or_default();
        let known = proc_.fields.iter().any(|f| {
            f.key == top
                && (k == top
                    || (f.kind == FieldKind::Group && f.fields.iter().any(|s| k.ends_with(&format!(".{}", s.key)))))
        });
        if !known || (k != top && k.split('.').count() != 3) {
            errs.push(k.clone());
        }
    }
    validate_fields(&proc_.fields, "", values, profile, today, &mut errs);
    errs.sort();
    errs.dedup();
    errs
}

/// A decoded, checked attachment.
struct File<'a> {
    r: &'a AttachmentRef,
    data: Vec<u8>,
}

fn check_attachments<'a>(
    proc_: &ProcedureDto,
    req: &'a SubmissionRequest,
    require_visible: bool,
) -> ApiResult<Vec<File<'a>>> {
    let bad = |key: &str, why: &str| unprocessable(sc::ATTACHMENT_INVALID, format!("attachment {key}: {why}"));
    let mut seen = BTreeSet::new();
    let mut out = vec![];
    for r in &req.payload.attachments {
        let spec = proc_.attachments.iter().find(|a| a.key == r.key).ok_or_else(|| bad(&r.key, "unknown key"))?;
        if !seen.insert(r.key.as_str()) {
            return Err(bad(&r.key, "given twice"));
        }
        if r.file_name.is_empty() || r.file_name.len() > 255 || r.file_name.contains(['/', '\\', '\0']) {
            return Err(bad(&r.key, "invalid file name"));
        }
        if !spec.mime_types.contains(&r.mime_type) {
            return Err(bad(&r.key, "type not accepted"));
        }
        if r.size > spec.max_bytes {
            return Err(bad(&r.key, "too large"));
        }
        let b64 = req.attachment_data.get(&r.key).ok_or_else(|| bad(&r.key, "content missing"))?;
        let data = citizen_protocol::crypto::unb64(b64).ok_or_else(|| bad(&r.key, "content is not base64url"))?;
        if data.len() as u64 != r.size {
            return Err(bad(&r.key, "size does not match the content"));
        }
        if sha256_hex(&data) != r.sha256 {
            return Err(bad(&r.key, "SHA-256 does not match the content"));
        }
        out.push(File { r, data });
    }
    if let Some(extra) = req.attachment_data.keys().find(|k| !seen.contains(k.as_str())) {
        return Err(bad(extra, "content without metadata"));
    }
    if require_visible {
        for spec in &proc_.attachments {
            if spec.required && visible(&spec.visible_if, "", &req.payload.values) && !seen.contains(spec.key.as_str())
            {
                return Err(bad(&spec.key, "required"));
            }
        }
    }
    Ok(out)
}

// --- cases and events ---------------------------------------------------------------------------

#[allow(clippy::too_many_arguments)]
fn append_event(
    conn: &Connection,
    case_number: &str,
    account_id: &str,
    status: CaseStatusDto,
    note_vi: Option<&str>,
    note_en: Option<&str>,
    requested: &[String],
    at: i64,
) -> crate::sql::Result<i64> {
    conn.query_row(
        "INSERT INTO case_events (case_number, account_id, status, note_vi, note_en, requested_attachments, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING seq",
        params![
            case_number,
            account_id,
            status_str(status),
            note_vi,
            note_en,
            serde_json::to_string(requested).expect("strings serialise"),
            at
        ],
        |r| r.get(0),
    )
}

const EVENT_COLS: &str = "e.seq, e.case_number, c.submission_id, c.procedure_id, e.status, e.note_vi, e.note_en,
     e.requested_attachments, e.at";

fn event_row(r: &crate::sql::Row<'_>) -> crate::sql::Result<CaseEventDto> {
    let status: String = r.get(4)?;
    let requested: String = r.get(7)?;
    Ok(CaseEventDto {
        seq: r.get(0)?,
        case_number: r.get(1)?,
        submission_id: r.get(2)?,
        procedure_id: r.get(3)?,
        status: parse_status(&status).unwrap_or(CaseStatusDto::Received),
        note_vi: r.get(5)?,
        note_en: r.get(6)?,
        requested_attachments: serde_json::from_str(&requested).unwrap_or_default(),
        at: r.get(8)?,
    })
}

fn event_by_seq(conn: &Connection, seq: i64) -> crate::sql::Result<CaseEventDto> {
    conn.query_row(
        &format!("SELECT {EVENT_COLS} FROM case_events e JOIN cases c USING (case_number) WHERE e.seq = ?1"),
        [seq],
        event_row,
    )
}

/// `GET /v1/cases/events?after=<seq>`.
pub fn events(s: &AppState, conn: &mut Connection, token: Option<&str>, after: i64) -> ApiResult<CaseEventsResponse> {
    let b = authenticate(s, conn, token)?;
    let mut st = conn.prepare(&format!(
        "SELECT {EVENT_COLS} FROM case_events e JOIN cases c USING (case_number)
          WHERE e.account_id = ?1 AND e.seq > ?2 ORDER BY e.seq LIMIT ?3"
    ))?;
    let mut events = st
        .query_map(params![b.account_id, after, EVENTS_PAGE + 1], event_row)?
        .collect::<crate::sql::Result<Vec<_>>>()?;
    let more = events.len() > EVENTS_PAGE;
    events.truncate(EVENTS_PAGE);
    let next_after = events.last().map_or(after, |e| e.seq);
    Ok(CaseEventsResponse { events, next_after, more })
}

/// `POST /v1/official/cases/transition` (the officials' token is checked by the caller). A
/// correction of the register is not decided here (`correction.named_official_required`): only
/// a named official with the `register` role decides it, through `crate::corrections`.
pub fn transition(s: &AppState, conn: &mut Connection, req: &TransitionRequest) -> ApiResult<CaseEventDto> {
    transition_as(s, conn, req, None)
}

/// [`transition`], by `official` when a named official decides through their own API (the
/// decision's read of the record is then logged under their name, agency and
/// `register_maintenance`, and a correction case may be decided).
pub(crate) fn transition_as(
    s: &AppState,
    conn: &mut Connection,
    req: &TransitionRequest,
    official: Option<&crate::officials::Official>,
) -> ApiResult<CaseEventDto> {
    let now = s.now();
    for n in [&req.note_vi, &req.note_en].into_iter().flatten() {
        if n.chars().count() > 2000 {
            return Err(ApiError::invalid("note too long"));
        }
    }
    let tx = conn.savepoint()?;
    let row: Option<(String, String, u32, String)> = tx
        .query_row(
            "SELECT account_id, procedure_id, procedure_version, status FROM cases WHERE case_number = ?1",
            [&req.case_number],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    let (account_id, procedure_id, version, status) = row.ok_or_else(unknown_case)?;
    let from = parse_status(&status).ok_or_else(ApiError::internal)?;
    let decides = matches!(req.to, CaseStatusDto::Approved | CaseStatusDto::Rejected | CaseStatusDto::NeedsSupplement);
    if decides && official.is_none() && procedure_id == citizen_protocol::protocol::corrections::PROCEDURE_ID {
        drop(tx);
        let code = citizen_protocol::protocol::corrections::codes::NAMED_OFFICIAL_REQUIRED;
        audit(conn, now, "case_transition", code, Some(&account_id), None);
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            code,
            "a correction of the register is decided by a named official through the corrections API",
        ));
    }
    if !from.can_move_to(req.to) {
        drop(tx);
        audit(conn, now, "case_transition", sc::INVALID_TRANSITION, Some(&account_id), None);
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            sc::INVALID_TRANSITION,
            format!("cannot move a case from {} to {}", status, status_str(req.to)),
        ));
    }
    let requested: Vec<String> =
        if req.to == CaseStatusDto::NeedsSupplement { req.requested_attachments.clone() } else { vec![] };
    if let Some(p) = crate::catalogue::procedure(&procedure_id, version) {
        if let Some(bad) = requested.iter().find(|k| !p.attachments.iter().any(|a| &a.key == *k)) {
            return Err(ApiError::invalid(format!("procedure has no attachment {bad}")));
        }
    }
    tx.execute(
        "UPDATE cases SET status = ?2, updated_at = ?3 WHERE case_number = ?1",
        params![req.case_number, status_str(req.to), now],
    )?;
    let seq = append_event(
        &tx,
        &req.case_number,
        &account_id,
        req.to,
        req.note_vi.as_deref(),
        req.note_en.as_deref(),
        &requested,
        now,
    )?;
    audit(&tx, now, &format!("case_{}", status_str(req.to)), "ok", Some(&account_id), None);
    if decides {
        // Deciding a case is a read of the applicant's record (issue 16): by the back office, or
        // by the named official who decides it.
        let read = match official {
            Some(o) => crate::access_log::Read {
                accessor: citizen_protocol::access::Accessor::Official,
                agency: o.agency.as_deref().unwrap_or_default(),
                official: o.id.as_deref(),
                purpose: citizen_protocol::access::AccessPurpose::RegisterMaintenance,
                reference: Some(&req.case_number),
            },
            None => crate::access_log::decision(&req.case_number),
        };
        crate::access_log::record_for_account(&tx, &account_id, now, &read)?;
    }
    let ev = event_by_seq(&tx, seq)?;
    tx.commit()?;
    Ok(ev)
}

// --- submissions ------------------------------------------------------------------------------

/// Longest accepted submission id.
const MAX_SUBMISSION_ID: usize = 128;

/// `POST /v1/submissions`: returns the HTTP status (201 new, 200 replay) and the JSON body
/// (for a replay, byte for byte the body of the first answer).
pub fn submit(
    s: &AppState,
    conn: &mut Connection,
    idempotency_key: Option<&str>,
    req: &SubmissionRequest,
    pre: &crate::verify::PreVerified,
    channel: crate::dashboard::Channel,
) -> ApiResult<(StatusCode, String)> {
    let now = s.now();
    let sid = req.payload.submission_id.as_str();
    let key_err = match idempotency_key {
        None => Some("missing Idempotency-Key header"),
        Some(k) if k != sid => Some("Idempotency-Key must equal payload.submission_id"),
        Some(_) if sid.is_empty() || sid.len() > MAX_SUBMISSION_ID || sid.chars().any(char::is_control) => {
            Some("invalid submission id")
        }
        Some(_) => None,
    };
    if let Some(msg) = key_err {
        audit(conn, now, "submission", citizen_protocol::protocol::codes::INVALID_REQUEST, None, None);
        return Err(ApiError::invalid(msg));
    }
    let digest = req.payload.digest_hex();
    let tx = conn.savepoint()?;
    // One unit at a time decides what a submission id stores (decision 47), whichever account
    // sent it: the lock before the idempotency read. (Then the account's, in verification.)
    tx.lock_key(&crate::sql::lock_keys::submission(sid))?;

    // 1. Idempotency, before any counter or nonce check: a retry of a delivered submission gets
    //    the original answer.
    let prior: Option<(String, String, String, i64, String)> = tx
        .query_row(
            "SELECT payload_sha256, account_id, device_id, http_status, response FROM submissions WHERE submission_id = ?1",
            [sid],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .optional()?;
    if let Some((prior_digest, account_id, device_id, _status, body)) = prior {
        if prior_digest != digest {
            drop(tx);
            audit(conn, now, "submission", sc::IDEMPOTENCY_CONFLICT, Some(&account_id), Some(&device_id));
            return Err(unprocessable(sc::IDEMPOTENCY_CONFLICT, "this submission id was used for a different payload"));
        }
        // Same content: the replay must still carry the original device's signature over it
        // (its counter is not checked again: it is the same statement).
        let st = &req.signed.statement;
        let dev = load_device(&tx, &device_id)?.ok_or_else(ApiError::internal)?;
        if st.device_id != device_id || st.subject != digest || st.nonce != sid || st.purpose != Purpose::Submit {
            drop(tx);
            audit(
                conn,
                now,
                "submission_replay",
                citizen_protocol::protocol::codes::SIGNATURE_INVALID,
                Some(&account_id),
                Some(&device_id),
            );
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                citizen_protocol::protocol::codes::SIGNATURE_INVALID,
                "replay is not signed by the original device over this payload",
            ));
        }
        pre.check(&dev.public_key, &req.signed)?;
        audit(&tx, now, "submission_replay", "ok", Some(&account_id), Some(&device_id));
        tx.commit()?;
        return Ok((StatusCode::OK, body));
    }

    // 1b. An on-behalf statement is used once (decision 49): the same device and counter under
    //     another submission id is a replay, refused before anything else is looked at.
    if req.payload.on_behalf.is_some()
        && crate::handlers::delegation::statement_used(
            &tx,
            &req.signed.statement.device_id,
            req.signed.statement.counter,
        )?
    {
        drop(tx);
        audit(conn, now, "submission_on_behalf", Msg::DelegationReplayed.code(), None, None);
        return Err(crate::handlers::delegation::refuse(Msg::DelegationReplayed));
    }

    // 2. The device signature: purpose submit, nonce = submission id, subject = payload digest,
    //    the device's submit counter. Failures are committed (failure count, audit).
    let dev = match crate::verify::verify_signed_pre(
        s,
        &tx,
        &req.signed,
        Purpose::Submit,
        NonceRule::Fixed(sid),
        Some(&digest),
        CounterKind::Submit,
        pre,
    ) {
        Ok(d) => d,
        Err(e) => {
            tx.commit()?;
            return Err(e);
        }
    };

    // 3. Content. A refusal rolls everything back (the counter too), so the client may correct
    //    the payload and send it again under the same submission id.
    match create(s, &tx, &dev, req, &digest, now, channel) {
        Ok(body) => {
            audit(&tx, now, "submission", "ok", Some(&dev.account_id), Some(&dev.device_id));
            tx.commit()?;
            Ok((StatusCode::CREATED, body))
        }
        Err(e) => {
            drop(tx);
            audit(conn, now, "submission", e.code(), Some(&dev.account_id), Some(&dev.device_id));
            Err(e)
        }
    }
}

/// The next case number of the day `prefix` names (`HS-YYMMDD-NNNNNN`).
///
/// SQLite: the day's last number plus one, by a range on the primary key (O(log n); counting
/// the day's cases scanned the whole table inside the writer, issue 14); numbers are dense from
/// 1 each day. PostgreSQL (decision 47): the sequence `case_number_seq` (migration 0004), so
/// that concurrent submissions of different citizens never wait for one another: numbers are
/// unique and increase with time, but neither dense (a rolled-back unit leaves a gap) nor
/// restarted each day — a dense per-day count would make every submission of every instance
/// wait for the previous one's commit.
fn next_case_number(tx: &Connection, prefix: &str) -> ApiResult<String> {
    if tx.is_pg() {
        let n: i64 = tx.query_row("SELECT nextval('case_number_seq')", [], |r| r.get(0))?;
        return Ok(format!("{prefix}{n:06}"));
    }
    let last: Option<String> = tx.query_row(
        "SELECT MAX(case_number) FROM cases WHERE case_number > ?1 AND case_number < ?1 || '~'",
        [prefix],
        |r| r.get(0),
    )?;
    let n: i64 = last.and_then(|l| l.get(prefix.len()..).and_then(|d| d.parse().ok())).unwrap_or(0);
    Ok(format!("{prefix}{:06}", n + 1))
}

fn create(
    s: &AppState,
    tx: &Connection,
    dev: &DeviceRow,
    req: &SubmissionRequest,
    digest: &str,
    now: i64,
    channel: crate::dashboard::Channel,
) -> ApiResult<String> {
    let p = &req.payload;
    let proc_ = crate::catalogue::procedure(&p.procedure_id, p.procedure_version)
        .ok_or_else(|| unprocessable(sc::UNKNOWN_PROCEDURE, "unknown procedure or version"))?;
    let today = Date::from_unix_vn(now);
    // On behalf of a dependant (decision 49): relation, mandate, revocation, end, scope.
    let mandate = match &p.on_behalf {
        Some(on) => Some(crate::handlers::delegation::check_on_behalf(tx, &dev.account_id, on, &proc_.id, now)?),
        None => None,
    };
    match &p.supplements_case {
        None => {
            let correction = proc_.id == citizen_protocol::protocol::corrections::PROCEDURE_ID;
            if correction {
                crate::corrections::check_evidence(req)?;
            }
            let files = check_attachments(proc_, req, true)?;
            // The form is the dependant's when filed on their behalf.
            let profile = match &mandate {
                Some(m) => crate::register::profile_of_cccd(tx, &m.dependant_cccd)?,
                None => crate::register::profile_of_account(tx, &dev.account_id)?,
            }
            .ok_or_else(ApiError::internal)?;
            // Date rules refer to the day the citizen signed (a queued submission may arrive days
            // later, see MAX_SUBMISSION_AGE_SECS); the case itself is dated on receipt.
            let signed_on = Date::from_unix_vn(req.signed.statement.issued_at);
            let errs = validate_form(proc_, &p.values, &profile, signed_on);
            if !errs.is_empty() {
                return Err(unprocessable(sc::FORM_INVALID, format!("fields: {}", errs.join(", "))));
            }
            let proposal = if correction {
                Some(crate::corrections::check_proposal(tx, &dev.account_id, &p.values, &profile)?)
            } else {
                None
            };
            let prefix = format!("HS-{:02}{:02}{:02}-", today.year % 100, today.month, today.day);
            let case_number = next_case_number(tx, &prefix)?;
            let due = fmt_date(add_days(today, i64::from(proc_.processing_days)));
            // The province and channel the officials' dashboard groups by (issue 16).
            let province = crate::dashboard::case_province(proc_, &p.values, &profile);
            tx.execute(
                "INSERT INTO cases (case_number, account_id, submission_id, procedure_id, procedure_version, status,
                                    received_at, due_date, updated_at, province_code, channel, dependant_cccd,
                                    mandate_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'received', ?6, ?7, ?6, ?8, ?9, ?10, ?11)",
                params![
                    case_number,
                    dev.account_id,
                    p.submission_id,
                    proc_.id,
                    proc_.version,
                    now,
                    due,
                    province,
                    channel.as_str(),
                    mandate.as_ref().map(|m| m.dependant_cccd.as_str()),
                    mandate.as_ref().map(|m| m.mandate_id.as_str())
                ],
            )?;
            // The form was checked against (prefilled from) the register: a back-office read —
            // of the dependant's record when filed on their behalf, so the dependant's own access
            // log (theirs when they have an account one day) shows the on-behalf case.
            let read = crate::access_log::prefill(&case_number);
            match &mandate {
                Some(m) => {
                    let citizen: i64 =
                        tx.query_row("SELECT id FROM citizens WHERE cccd = ?1", [&m.dependant_cccd], |r| r.get(0))?;
                    crate::access_log::record(tx, citizen, now, &read)?;
                }
                None => crate::access_log::record_for_account(tx, &dev.account_id, now, &read)?,
            }
            if let Some(m) = &mandate {
                crate::handlers::delegation::record_use(
                    tx,
                    &dev.device_id,
                    req.signed.statement.counter,
                    &m.mandate_id,
                    &p.submission_id,
                    now,
                )?;
                audit(tx, now, "submission_on_behalf", "ok", Some(&dev.account_id), Some(&dev.device_id));
            }
            if let Some(proposal) = &proposal {
                crate::corrections::record_proposal(tx, &case_number, proposal, now)?;
            }
            append_event(
                tx,
                &case_number,
                &dev.account_id,
                CaseStatusDto::Received,
                Some("Hồ sơ đã được tiếp nhận"),
                Some("Application received"),
                &[],
                now,
            )?;
            store(s, tx, dev, req, digest, &case_number, &due, &files, now)
        }
        Some(cn) => {
            let row: Option<(String, String, String, String)> = tx
                .query_row(
                    "SELECT account_id, procedure_id, status, due_date FROM cases WHERE case_number = ?1",
                    [cn],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()?;
            let (_, case_proc, status, due) = row.filter(|r| r.0 == dev.account_id).ok_or_else(unknown_case)?;
            if case_proc != proc_.id {
                return Err(unprocessable(sc::FORM_INVALID, "fields: procedure_id"));
            }
            if status != status_str(CaseStatusDto::NeedsSupplement) {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    sc::INVALID_TRANSITION,
                    "the case is not waiting for a supplement",
                ));
            }
            let files = check_attachments(proc_, req, false)?;
            let requested: String = tx.query_row(
                "SELECT requested_attachments FROM case_events WHERE case_number = ?1 AND status = 'needs_supplement'
                  ORDER BY seq DESC LIMIT 1",
                [cn],
                |r| r.get(0),
            )?;
            let requested: Vec<String> = serde_json::from_str(&requested).unwrap_or_default();
            if let Some(missing) = requested.iter().find(|k| !files.iter().any(|f| &f.r.key == *k)) {
                return Err(unprocessable(sc::ATTACHMENT_INVALID, format!("attachment {missing}: requested")));
            }
            tx.execute(
                "UPDATE cases SET status = 'processing', updated_at = ?2 WHERE case_number = ?1",
                params![cn, now],
            )?;
            append_event(
                tx,
                cn,
                &dev.account_id,
                CaseStatusDto::Processing,
                Some("Công dân đã bổ sung hồ sơ"),
                Some("The citizen supplied the requested documents"),
                &[],
                now,
            )?;
            store(s, tx, dev, req, digest, cn, &due, &files, now)
        }
    }
}

/// Sign the receipt, insert the submission (with its answer, for replays) and its
/// attachments; returns the answer body.
#[allow(clippy::too_many_arguments)]
fn store(
    s: &AppState,
    tx: &Connection,
    dev: &DeviceRow,
    req: &SubmissionRequest,
    digest: &str,
    case_number: &str,
    due_date: &str,
    files: &[File<'_>],
    now: i64,
) -> ApiResult<String> {
    let p = &req.payload;
    let claims = ReceiptClaims {
        iss: s.audience.clone(),
        submission_id: p.submission_id.clone(),
        case_number: case_number.into(),
        procedure_id: p.procedure_id.clone(),
        procedure_version: p.procedure_version,
        payload_sha256: digest.into(),
        received_at: now,
        due_date: due_date.into(),
        on_behalf: p.on_behalf.clone(),
    };
    let body =
        serde_json::to_string(&SubmissionResponse { receipt: s.tokens.sign(&claims), case_number: case_number.into() })
            .expect("response serialises");
    tx.execute(
        "INSERT INTO submissions (submission_id, account_id, device_id, payload_sha256, payload, case_number,
                                  http_status, response, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 201, ?7, ?8)",
        params![
            p.submission_id,
            dev.account_id,
            dev.device_id,
            digest,
            String::from_utf8(p.canonical_bytes()).expect("JSON is UTF-8"),
            case_number,
            body,
            now
        ],
    )?;
    for f in files {
        tx.execute(
            "INSERT INTO submission_attachments (submission_id, key, file_name, mime_type, size, sha256, data)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![p.submission_id, f.r.key, f.r.file_name, f.r.mime_type, f.r.size, f.r.sha256, f.data],
        )?;
    }
    Ok(body)
}
