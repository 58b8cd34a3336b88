//! Delegation (issue 15 item 5, decision 49): the register's guardianships, the mandates granted
//! for them, their revocation, and the check of an on-behalf submission.
//!
//! A mandate is granted the first time the guardian's app lists its dependants (one per
//! relation, ever: a revoked mandate is not granted again by listing). Its end is computed from
//! the register when granted: a parent's at the child's 14th birthday, a ward's guardian's on the
//! register's `until`. Its state is computed from the server's clock at each use.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use citizen_protocol::messages::Msg;
use citizen_protocol::protocol::delegation::{
    birthday_at, day_start_vn, DependantCaseDto, DependantDocumentRequest, DependantDocumentResponse,
    DependantDocumentWire, DependantDto, DependantsResponse, MandateClaims, MandateDto, MandateRevokeRequest,
    MandateState, OnBehalf, Relation, CHILD_MANDATE_AGE, MANDATE_JWS_TTL_SECS, PATH_DEPENDANTS,
    PATH_DEPENDANT_DOCUMENT, PATH_MANDATE_REVOKE, PATH_OFFICIAL_MANDATE_REVOKE,
};
use citizen_protocol::protocol::Ok as OkBody;

use super::auth::authenticate;
use super::{audited, bearer};
use crate::api::{blocking, ApiError, ApiJson, ApiResult, AppState};
use crate::db::audit;
use crate::sql::{params, Connection, OptionalExtension};
use crate::verify::load_device;

/// The delegation routes.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(PATH_DEPENDANTS, get(http_dependants))
        .route(PATH_MANDATE_REVOKE, post(http_revoke))
        .route(PATH_DEPENDANT_DOCUMENT, post(http_dependant_document))
        .route(PATH_OFFICIAL_MANDATE_REVOKE, post(http_official_revoke))
}

async fn http_dependants(State(s): State<Arc<AppState>>, headers: HeaderMap) -> ApiResult<Json<DependantsResponse>> {
    let token = bearer(&headers);
    blocking(&s, move |s, c| audited(s, c, "dependants", |s, c| dependants(s, c, token.as_deref()))).await.map(Json)
}

async fn http_dependant_document(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<DependantDocumentRequest>,
) -> ApiResult<Json<DependantDocumentResponse>> {
    let token = bearer(&headers);
    let p = blocking(&s, move |s, c| {
        audited(s, c, "dependant_document", |s, c| prepare_dependant_document(s, c, token.as_deref(), &req))
    })
    .await?;
    let uri = super::documents::status_uri(&s);
    let sd_jwt = crate::documents::issue_sd_jwt(
        &s.documents,
        &p.doc,
        &p.device_key,
        &s.audience,
        &uri,
        p.now,
        Some(&p.dependant_cccd),
    )
    .await
    .map_err(|e| {
        tracing::error!("dependant document issuance failed: {e}");
        ApiError::internal()
    })?;
    let trust_list = crate::documents::trust_list_token(&s.tokens, &s.documents, &s.audience, p.now);
    Ok(Json(DependantDocumentResponse {
        document: DependantDocumentWire {
            id: p.doc.id.clone(),
            kind: p.doc.kind,
            sd_jwt,
            status_idx: p.doc.status_idx,
            status_uri: uri,
        },
        mandate: p.mandate,
        trust_list,
    }))
}

async fn http_revoke(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<MandateRevokeRequest>,
) -> ApiResult<Json<OkBody>> {
    let token = bearer(&headers);
    blocking(&s, move |s, c| audited(s, c, "mandate_revoke", |s, c| revoke_by_guardian(s, c, token.as_deref(), &req)))
        .await
        .map(Json)
}

async fn http_official_revoke(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<MandateRevokeRequest>,
) -> ApiResult<Json<OkBody>> {
    let token = crate::officials::token_of(&headers);
    blocking(&s, move |s, c| {
        let official =
            crate::officials::check(s, c, &token, crate::officials::Role::Records, "mandate_revoke_official")?;
        let by = format!("official:{}", official.id.as_deref().unwrap_or("shared-token"));
        let tx = c.savepoint()?;
        let m = mandate(&tx, &req.mandate_id)?.ok_or_else(|| refuse(Msg::DelegationUnknown))?;
        revoke(s, &tx, &m, &by, &req.reason)?;
        tx.commit()?;
        Ok(OkBody { ok: true })
    })
    .await
    .map(Json)
}

/// A refusal of this module: its status by code.
pub fn refuse(m: Msg) -> ApiError {
    let status = match m {
        Msg::DelegationUnknown => StatusCode::NOT_FOUND,
        Msg::DelegationReplayed => StatusCode::CONFLICT,
        _ => StatusCode::FORBIDDEN,
    };
    ApiError::new(status, m.code(), m.en())
}

/// One mandate row.
pub struct MandateRow {
    /// Id.
    pub mandate_id: String,
    /// Its relation.
    pub guardianship_id: i64,
    /// Guardian.
    pub guardian_cccd: String,
    /// Dependant.
    pub dependant_cccd: String,
    /// Procedure ids.
    pub procedures: Vec<String>,
    /// Document kinds.
    pub document_types: Vec<String>,
    /// When the grant ends.
    pub ends_at: i64,
    /// Revoked at.
    pub revoked_at: Option<i64>,
    /// Revoked by.
    pub revoked_by: Option<String>,
}

impl MandateRow {
    /// The state at `now`: revoked wins over expired.
    pub fn state(&self, now: i64) -> MandateState {
        if self.revoked_at.is_some() {
            MandateState::Revoked
        } else if now >= self.ends_at {
            MandateState::Expired
        } else {
            MandateState::Active
        }
    }
}

const MANDATE_COLS: &str = "mandate_id, guardianship_id, guardian_cccd, dependant_cccd, procedures, document_types,
                            ends_at, revoked_at, revoked_by";

fn mandate_row(r: &crate::sql::Row<'_>) -> crate::sql::Result<MandateRow> {
    let list = |i: usize| -> crate::sql::Result<Vec<String>> {
        let s: String = r.get(i)?;
        Ok(serde_json::from_str(&s).unwrap_or_default())
    };
    Ok(MandateRow {
        mandate_id: r.get(0)?,
        guardianship_id: r.get(1)?,
        guardian_cccd: r.get(2)?,
        dependant_cccd: r.get(3)?,
        procedures: list(4)?,
        document_types: list(5)?,
        ends_at: r.get(6)?,
        revoked_at: r.get(7)?,
        revoked_by: r.get(8)?,
    })
}

/// A mandate by id.
pub fn mandate(conn: &Connection, id: &str) -> crate::sql::Result<Option<MandateRow>> {
    conn.query_row(&format!("SELECT {MANDATE_COLS} FROM mandates WHERE mandate_id = ?1"), [id], mandate_row).optional()
}

/// The CCCD number and full name of an account's citizen.
fn citizen_of_account(conn: &Connection, account_id: &str) -> ApiResult<(String, String)> {
    conn.query_row(
        "SELECT c.cccd, c.full_name FROM citizens c JOIN accounts a ON a.citizen_id = c.id WHERE a.account_id = ?1",
        [account_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()?
    .ok_or_else(ApiError::internal)
}

struct Guardianship {
    id: i64,
    dependant_cccd: String,
    relation: Relation,
    procedures: String,
    document_types: String,
    until: Option<String>,
}

/// The mandate of a relation, granted now if it never was.
fn mandate_of(conn: &Connection, g: &Guardianship, guardian: &str, now: i64) -> ApiResult<MandateRow> {
    if let Some(m) = conn
        .query_row(&format!("SELECT {MANDATE_COLS} FROM mandates WHERE guardianship_id = ?1"), [g.id], mandate_row)
        .optional()?
    {
        return Ok(m);
    }
    let dob: String =
        conn.query_row("SELECT date_of_birth FROM citizens WHERE cccd = ?1", [&g.dependant_cccd], |r| r.get(0))?;
    let ends_at = match g.relation {
        Relation::Parent => birthday_at(&dob, CHILD_MANDATE_AGE),
        Relation::Guardian => g.until.as_deref().and_then(day_start_vn).or(Some(i64::MAX)),
    }
    .ok_or_else(ApiError::internal)?;
    let id = format!("mdt_{}", citizen_protocol::crypto::random_b64url(16));
    conn.execute(
        "INSERT INTO mandates (mandate_id, guardianship_id, guardian_cccd, dependant_cccd, procedures, document_types,
                               issued_at, ends_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![id, g.id, guardian, g.dependant_cccd, g.procedures, g.document_types, now, ends_at],
    )?;
    mandate(conn, &id)?.ok_or_else(ApiError::internal)
}

/// `GET /v1/dependants`: the account holder's dependants by the register, each with its mandate
/// (granted on first listing; the JWS bound to this device's key while active) and the cases
/// filed on the dependant's behalf.
pub fn dependants(s: &AppState, conn: &mut Connection, token: Option<&str>) -> ApiResult<DependantsResponse> {
    let b = authenticate(s, conn, token)?;
    let dev = load_device(conn, &b.device_id)?.ok_or_else(ApiError::internal)?;
    let now = s.now();
    let tx = conn.savepoint()?;
    let (guardian, guardian_name) = citizen_of_account(&tx, &b.account_id)?;
    let relations: Vec<Guardianship> = {
        let mut st = tx.prepare(
            "SELECT id, dependant_cccd, relation, procedures, document_types, until FROM guardianships
              WHERE guardian_cccd = ?1 ORDER BY dependant_cccd",
        )?;
        let rows = st.query_map([&guardian], |r| {
            let relation: String = r.get(2)?;
            Ok(Guardianship {
                id: r.get(0)?,
                dependant_cccd: r.get(1)?,
                relation: Relation::parse(&relation).unwrap_or(Relation::Guardian),
                procedures: r.get(3)?,
                document_types: r.get(4)?,
                until: r.get(5)?,
            })
        })?;
        rows.collect::<crate::sql::Result<_>>()?
    };
    let mut out = vec![];
    for g in relations {
        let m = mandate_of(&tx, &g, &guardian, now)?;
        let profile = crate::register::profile_of_cccd(&tx, &g.dependant_cccd)?.ok_or_else(ApiError::internal)?;
        let state = m.state(now);
        let jws = (state == MandateState::Active).then(|| {
            let who = Parties {
                relation: g.relation,
                guardian: (&guardian, &guardian_name),
                device_key: &dev.public_key,
                dependant: (&g.dependant_cccd, &profile.full_name, &profile.date_of_birth),
            };
            mandate_jws(s, &m, &who, now)
        });
        let cases = dependant_cases(&tx, &g.dependant_cccd)?;
        out.push(DependantDto {
            relation: g.relation,
            profile,
            mandate: MandateDto {
                mandate_id: m.mandate_id.clone(),
                state,
                procedures: m.procedures,
                document_types: m.document_types,
                ends_at: m.ends_at,
                revoked_at: m.revoked_at,
                revoked_by: m.revoked_by,
                jws,
            },
            cases,
        });
    }
    audit(&tx, now, "dependants", "ok", Some(&b.account_id), Some(&b.device_id));
    tx.commit()?;
    Ok(DependantsResponse { dependants: out })
}

/// Who a mandate JWS names.
struct Parties<'a> {
    relation: Relation,
    /// CCCD number and name.
    guardian: (&'a str, &'a str),
    /// The presenting device's public key (SEC1).
    device_key: &'a [u8],
    /// CCCD number, name, birth date.
    dependant: (&'a str, &'a str, &'a str),
}

/// The mandate JWS for the device `who.device_key`, signed now.
fn mandate_jws(s: &AppState, m: &MandateRow, who: &Parties<'_>, now: i64) -> String {
    s.tokens.sign(&MandateClaims {
        iss: s.audience.clone(),
        jti: m.mandate_id.clone(),
        relation: who.relation,
        guardian_cccd: who.guardian.0.to_string(),
        guardian_name: who.guardian.1.to_string(),
        guardian_device_key: citizen_protocol::crypto::b64(who.device_key),
        dependant_cccd: who.dependant.0.to_string(),
        dependant_name: who.dependant.1.to_string(),
        dependant_birthdate: who.dependant.2.to_string(),
        procedures: m.procedures.clone(),
        document_types: m.document_types.clone(),
        iat: now,
        mandate_ends_at: m.ends_at,
        exp: m.ends_at.min(now + MANDATE_JWS_TTL_SECS),
    })
}

/// What the issuance of a dependant's document needs after the checks (the SD-JWT signing is
/// async, outside the unit).
pub struct PreparedDependantDocument {
    doc: crate::documents::ToIssue,
    device_key: Vec<u8>,
    dependant_cccd: String,
    mandate: String,
    now: i64,
}

/// `POST /v1/dependants/documents` (decision 52): the checks of [`check_mandate`], then the
/// scope (`delegation.out_of_scope` when the mandate's `document_types` lack the kind); the
/// issuance recorded on the guardian's account and device, the read of the dependant's record
/// appended to the dependant's access log, audited — all in one unit.
pub fn prepare_dependant_document(
    s: &AppState,
    conn: &mut Connection,
    token: Option<&str>,
    req: &DependantDocumentRequest,
) -> ApiResult<PreparedDependantDocument> {
    use crate::documents::data::{elements, CitizenRecord};
    let b = authenticate(s, conn, token)?;
    let dev = load_device(conn, &b.device_id)?.ok_or_else(ApiError::internal)?;
    let now = s.now();
    let tx = conn.savepoint()?;
    let on = OnBehalf { mandate_id: req.mandate_id.clone(), dependant_cccd: req.dependant_cccd.clone() };
    let (m, relation) = check_mandate(&tx, &b.account_id, &on, now)?;
    let kind = req.document_type;
    if !m.document_types.iter().any(|k| k == kind.as_str()) {
        return Err(refuse(Msg::DelegationOutOfScope));
    }
    let (guardian, guardian_name) = citizen_of_account(&tx, &b.account_id)?;
    let (citizen_id, record) = tx.query_row(
        "SELECT id, cccd, full_name, date_of_birth, sex, nationality, permanent_address FROM citizens WHERE cccd = ?1",
        [&on.dependant_cccd],
        |r| {
            Ok((
                r.get::<_, i64>(0)?,
                CitizenRecord {
                    cccd: r.get(1)?,
                    full_name: r.get(2)?,
                    date_of_birth: r.get(3)?,
                    sex: r.get(4)?,
                    nationality: r.get(5)?,
                    permanent_address: r.get(6)?,
                    // A dependant has no account of their own: no chip-verified level.
                    level: 1,
                },
            ))
        },
    )?;
    let (id, status_idx) = super::documents::record_issued(&tx, &dev.account_id, &dev.device_id, kind, now)?;
    // The dependant's record was read to issue it: the dependant's access log shows it, with the
    // mandate as the reference (never the guardian's personal data).
    let reference = format!("mandate:{}", m.mandate_id);
    crate::access_log::record(
        &tx,
        citizen_id,
        now,
        &crate::access_log::Read {
            accessor: citizen_protocol::access::Accessor::BackOffice,
            agency: crate::access_log::BACK_OFFICE,
            official: None,
            purpose: citizen_protocol::access::AccessPurpose::DataShare,
            reference: Some(&reference),
        },
    )?;
    let who = Parties {
        relation,
        guardian: (&guardian, &guardian_name),
        device_key: &dev.public_key,
        dependant: (&record.cccd, &record.full_name, &record.date_of_birth),
    };
    let mandate = mandate_jws(s, &m, &who, now);
    audit(&tx, now, "dependant_document", "ok", Some(&b.account_id), Some(&b.device_id));
    tx.commit()?;
    let doc = crate::documents::ToIssue { id, kind, elements: elements(kind, &record), status_idx };
    Ok(PreparedDependantDocument { doc, device_key: dev.public_key, dependant_cccd: on.dependant_cccd, mandate, now })
}

fn dependant_cases(conn: &Connection, dependant: &str) -> ApiResult<Vec<DependantCaseDto>> {
    let mut st = conn.prepare(
        "SELECT k.case_number, k.procedure_id, k.status, k.received_at, c.cccd
           FROM cases k JOIN accounts a ON a.account_id = k.account_id JOIN citizens c ON c.id = a.citizen_id
          WHERE k.dependant_cccd = ?1 ORDER BY k.received_at, k.case_number",
    )?;
    let rows = st.query_map([dependant], |r| {
        Ok(DependantCaseDto {
            case_number: r.get(0)?,
            procedure_id: r.get(1)?,
            status: r.get(2)?,
            received_at: r.get(3)?,
            filed_by: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<crate::sql::Result<_>>()?)
}

fn revoke(s: &AppState, tx: &Connection, m: &MandateRow, by: &str, reason: &str) -> ApiResult<()> {
    if m.revoked_at.is_some() {
        return Err(ApiError::new(StatusCode::CONFLICT, Msg::DelegationRevoked.code(), "already revoked"));
    }
    if reason.len() > 200 || reason.chars().any(char::is_control) {
        return Err(ApiError::invalid("reason: at most 200 printable characters"));
    }
    tx.execute(
        "UPDATE mandates SET revoked_at = ?2, revoked_by = ?3, revoke_reason = ?4 WHERE mandate_id = ?1",
        params![m.mandate_id, s.now(), by, reason],
    )?;
    audit(tx, s.now(), "mandate_revoke", "ok", None, None);
    Ok(())
}

/// `POST /v1/mandates/revoke`: the guardian revokes a mandate of their own.
pub fn revoke_by_guardian(
    s: &AppState,
    conn: &mut Connection,
    token: Option<&str>,
    req: &MandateRevokeRequest,
) -> ApiResult<OkBody> {
    let b = authenticate(s, conn, token)?;
    let tx = conn.savepoint()?;
    let (guardian, _) = citizen_of_account(&tx, &b.account_id)?;
    let m = mandate(&tx, &req.mandate_id)?.ok_or_else(|| refuse(Msg::DelegationUnknown))?;
    if m.guardian_cccd != guardian {
        return Err(refuse(Msg::DelegationNotDependant));
    }
    revoke(s, &tx, &m, "guardian", &req.reason)?;
    tx.commit()?;
    Ok(OkBody { ok: true })
}

/// The check of an on-behalf submission by the account `account_id` for `procedure_id`, in this
/// order: the register relation (`delegation.not_dependant`), the mandate (`delegation.unknown`,
/// another relation's: `delegation.not_dependant`), revocation (`delegation.revoked`), its end
/// (`delegation.expired`), its scope (`delegation.out_of_scope`).
pub fn check_on_behalf(
    conn: &Connection,
    account_id: &str,
    on: &OnBehalf,
    procedure_id: &str,
    now: i64,
) -> ApiResult<MandateRow> {
    let (m, _) = check_mandate(conn, account_id, on, now)?;
    if !m.procedures.iter().any(|p| p == procedure_id) {
        return Err(refuse(Msg::DelegationOutOfScope));
    }
    Ok(m)
}

/// The checks shared by every on-behalf act, in order: the register relation of the account's
/// citizen with the named dependant (`delegation.not_dependant`), the mandate
/// (`delegation.unknown`; another relation's: `delegation.not_dependant`), revocation
/// (`delegation.revoked`), its end (`delegation.expired`). Returns the mandate and the relation.
pub fn check_mandate(
    conn: &Connection,
    account_id: &str,
    on: &OnBehalf,
    now: i64,
) -> ApiResult<(MandateRow, Relation)> {
    let (guardian, _) = citizen_of_account(conn, account_id)?;
    let relation: Option<(i64, String)> = conn
        .query_row(
            "SELECT id, relation FROM guardianships WHERE guardian_cccd = ?1 AND dependant_cccd = ?2",
            params![guardian, on.dependant_cccd],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let (relation, kind) = relation.ok_or_else(|| refuse(Msg::DelegationNotDependant))?;
    let m = mandate(conn, &on.mandate_id)?.ok_or_else(|| refuse(Msg::DelegationUnknown))?;
    if m.guardianship_id != relation {
        return Err(refuse(Msg::DelegationNotDependant));
    }
    match m.state(now) {
        MandateState::Revoked => return Err(refuse(Msg::DelegationRevoked)),
        MandateState::Expired => return Err(refuse(Msg::DelegationExpired)),
        MandateState::Active => {}
    }
    Ok((m, Relation::parse(&kind).unwrap_or(Relation::Guardian)))
}

/// Whether an on-behalf statement of this device with this counter was already accepted.
pub fn statement_used(conn: &Connection, device_id: &str, counter: u64) -> crate::sql::Result<bool> {
    let n: i64 = conn.query_row(
        "SELECT COUNT(*) FROM mandate_uses WHERE device_id = ?1 AND counter = ?2",
        params![device_id, i64::try_from(counter).unwrap_or(i64::MAX)],
        |r| r.get(0),
    )?;
    Ok(n > 0)
}

/// Record an accepted on-behalf statement.
pub fn record_use(
    conn: &Connection,
    device_id: &str,
    counter: u64,
    mandate_id: &str,
    submission_id: &str,
    now: i64,
) -> crate::sql::Result<()> {
    conn.execute(
        "INSERT INTO mandate_uses (device_id, counter, mandate_id, submission_id, at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![device_id, i64::try_from(counter).unwrap_or(i64::MAX), mandate_id, submission_id, now],
    )?;
    Ok(())
}
