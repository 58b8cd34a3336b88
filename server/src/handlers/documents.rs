//! The documents wallet's endpoints (issue 13 item 1, ARCHITECTURE.md decision 32).
//!
//! * `POST /v1/documents` (Bearer + statement, purpose `credential`, nonce from a `credential`
//!   challenge, subject `documents:<sha256 hex of the device public key>`): issue the citizen's
//!   four documents, each as an mdoc and an SD-JWT VC bound to the device key, each with a new
//!   random index in the status list. The subject binds the statement to the key the documents
//!   will name; the nonce and the counter make it single-use, as for the PID.
//! * `GET /v1/documents/trust-list`, `GET /v1/documents/status/{list}`: public, signed by the
//!   server's token key.
//! * `POST /v1/official/documents/revoke` (`X-Official-Token`): set a document's status bit.
//! * `POST /v1/official/documents/readers` (`X-Official-Token`): certify a verifier's reader
//!   key for one of the demo roles (decision 45).

use std::sync::Arc;

use crate::sql::{params, Connection, OptionalExtension};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use citizen_protocol::protocol::documents::{
    codes as dcodes, DocumentKind, DocumentsRequest, DocumentsResponse, IssuedDocumentWire, ReaderEnrolRequest,
    ReaderEnrolResponse, RevokeDocumentRequest, DOCUMENTS_SUBJECT_PREFIX, PATH_DOCUMENTS,
    PATH_OFFICIAL_DOCUMENT_REVOKE, PATH_OFFICIAL_READER_ENROL, PATH_STATUS_LIST_PREFIX, PATH_TRUST_LIST,
    STATUS_LIST_CONTENT_TYPE,
};
use citizen_protocol::protocol::Ok as OkBody;

use super::{audited, bearer, check_official};
use crate::api::{blocking, ApiError, ApiJson, ApiResult, AppState};
use crate::db::audit;
use crate::documents::data::{elements, CitizenRecord};
use crate::documents::{self as docs, ToIssue, STATUS_LIST_ID, STATUS_LIST_SIZE};

/// What issuance needs after the checks (the SD-JWT signing is async).
struct Prepared {
    device_key: Vec<u8>,
    docs: Vec<ToIssue>,
    now: i64,
}

/// The URL of the (one) status list.
pub(crate) fn status_uri(s: &AppState) -> String {
    format!("{}{PATH_STATUS_LIST_PREFIX}{STATUS_LIST_ID}", s.audience)
}

/// A random free index of the status list.
pub(crate) fn allocate_index(conn: &Connection) -> ApiResult<u64> {
    for _ in 0..64 {
        let r = u64::from_le_bytes(citizen_protocol::crypto::random_array::<8>()) % STATUS_LIST_SIZE;
        let used: Option<i64> = conn
            .query_row("SELECT 1 FROM issued_documents WHERE status_idx = ?1", [i64::try_from(r).unwrap_or(-1)], |r| {
                r.get(0)
            })
            .optional()?;
        if used.is_none() {
            return Ok(r);
        }
    }
    tracing::error!("status list is full");
    Err(ApiError::internal())
}

/// Record one document issued to `account_id`'s device `device_id`: a fresh id and a free index
/// of the status list (by which an official can revoke it), valid for
/// [`docs::DOCUMENT_TTL_SECS`] from `now`. The citizen's own documents and a dependant's
/// (handlers/delegation.rs) are recorded the same way. Returns the id and the index.
pub(crate) fn record_issued(
    conn: &Connection,
    account_id: &str,
    device_id: &str,
    kind: DocumentKind,
    now: i64,
) -> ApiResult<(String, u64)> {
    let id = citizen_protocol::crypto::random_b64url(16);
    let status_idx = allocate_index(conn)?;
    conn.execute(
        "INSERT INTO issued_documents (document_id, account_id, device_id, kind, status_idx, issued_at, valid_until)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            id,
            account_id,
            device_id,
            kind.as_str(),
            i64::try_from(status_idx).unwrap_or(-1),
            now,
            now + docs::DOCUMENT_TTL_SECS
        ],
    )?;
    Ok((id, status_idx))
}

/// Check the request (bearer, statement, subject), read the register and record the issuance.
fn prepare(s: &AppState, conn: &mut Connection, token: Option<&str>, req: &DocumentsRequest) -> ApiResult<Prepared> {
    let (tx, dev) =
        super::credentials::verify_credential_statement(s, conn, token, &req.signed, DOCUMENTS_SUBJECT_PREFIX)?;
    let now = s.now();
    let record = tx.query_row(
        "SELECT c.cccd, c.full_name, c.date_of_birth, c.sex, c.nationality, c.permanent_address, a.level
           FROM citizens c JOIN accounts a ON a.citizen_id = c.id WHERE a.account_id = ?1",
        [&dev.account_id],
        |r| {
            Ok(CitizenRecord {
                cccd: r.get(0)?,
                full_name: r.get(1)?,
                date_of_birth: r.get(2)?,
                sex: r.get(3)?,
                nationality: r.get(4)?,
                permanent_address: r.get(5)?,
                level: u8::try_from(r.get::<_, i64>(6)?).unwrap_or(1),
            })
        },
    )?;
    let mut out = Vec::with_capacity(DocumentKind::ALL.len());
    for kind in DocumentKind::ALL {
        let (id, status_idx) = record_issued(&tx, &dev.account_id, &dev.device_id, kind, now)?;
        out.push(ToIssue { id, kind, elements: elements(kind, &record), status_idx });
    }
    audit(&tx, now, "documents_issue", "ok", Some(&dev.account_id), Some(&dev.device_id));
    tx.commit()?;
    Ok(Prepared { device_key: dev.public_key, docs: out, now })
}

async fn sign_all(s: &AppState, p: Prepared) -> ApiResult<DocumentsResponse> {
    let uri = status_uri(s);
    let mut documents = Vec::with_capacity(p.docs.len());
    for d in &p.docs {
        let fail = |e: String| {
            tracing::error!("document issuance failed: {e}");
            ApiError::internal()
        };
        let mdoc = docs::issue_mdoc(&s.documents, d, &p.device_key, &uri, p.now).map_err(fail)?;
        let sd_jwt =
            docs::issue_sd_jwt(&s.documents, d, &p.device_key, &s.audience, &uri, p.now, None).await.map_err(fail)?;
        documents.push(IssuedDocumentWire {
            id: d.id.clone(),
            kind: d.kind,
            mdoc: citizen_protocol::crypto::b64(&mdoc),
            sd_jwt,
            status_idx: d.status_idx,
            status_uri: uri.clone(),
        });
    }
    let trust_list = docs::trust_list_token(&s.tokens, &s.documents, &s.audience, p.now);
    Ok(DocumentsResponse { documents, trust_list })
}

/// Set a document's revoked bit (idempotent); unknown ids are refused.
pub fn revoke(s: &AppState, conn: &mut Connection, req: &RevokeDocumentRequest) -> ApiResult<OkBody> {
    let now = s.now();
    let n = conn.execute(
        "UPDATE issued_documents SET revoked_at = COALESCE(revoked_at, ?2) WHERE document_id = ?1",
        params![req.document_id, now],
    )?;
    if n == 0 {
        return Err(ApiError::new(StatusCode::NOT_FOUND, dcodes::UNKNOWN_DOCUMENT, "no such document"));
    }
    audit(conn, now, "document_revoke", "ok", None, None);
    Ok(OkBody { ok: true })
}

fn revoked_indices(conn: &Connection) -> ApiResult<Vec<u64>> {
    let mut st = conn.prepare("SELECT status_idx FROM issued_documents WHERE revoked_at IS NOT NULL")?;
    let rows = st.query_map([], |r| r.get::<_, i64>(0))?.collect::<crate::sql::Result<Vec<_>>>()?;
    Ok(rows.into_iter().filter_map(|i| u64::try_from(i).ok()).collect())
}

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

type S = State<Arc<AppState>>;

/// The documents routes (merged into [`super::router`]).
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(PATH_DOCUMENTS, post(http_issue))
        .route(PATH_TRUST_LIST, get(http_trust_list))
        .route(&format!("{PATH_STATUS_LIST_PREFIX}{{list}}"), get(http_status_list))
        .route(PATH_OFFICIAL_DOCUMENT_REVOKE, post(http_revoke))
        .route(PATH_OFFICIAL_READER_ENROL, post(http_enrol_reader))
}

async fn http_issue(
    State(s): S,
    headers: HeaderMap,
    ApiJson(req): ApiJson<DocumentsRequest>,
) -> ApiResult<Json<DocumentsResponse>> {
    let token = bearer(&headers);
    let p = blocking(&s, move |s, c| audited(s, c, "documents_issue", |s, c| prepare(s, c, token.as_deref(), &req)))
        .await?;
    sign_all(&s, p).await.map(Json)
}

fn jwt_response(content_type: &'static str, jwt: String) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, content_type)], jwt).into_response()
}

async fn http_trust_list(State(s): S) -> Response {
    jwt_response("application/jwt", docs::trust_list_token(&s.tokens, &s.documents, &s.audience, s.now()))
}

async fn http_status_list(State(s): S, Path(list): Path<String>) -> Response {
    if list != STATUS_LIST_ID {
        return ApiError::new(StatusCode::NOT_FOUND, dcodes::UNKNOWN_STATUS_LIST, "no such status list")
            .into_response();
    }
    match blocking(&s, |_, c| revoked_indices(c)).await {
        Ok(revoked) => jwt_response(
            STATUS_LIST_CONTENT_TYPE,
            docs::status_list_token(&s.tokens, &status_uri(&s), &revoked, s.now()),
        ),
        Err(e) => e.into_response(),
    }
}

async fn http_revoke(State(s): S, headers: HeaderMap, body: Result<Bytes, BytesRejection>) -> ApiResult<Json<OkBody>> {
    check_official(&s, &headers, "document_revoke").await?;
    let body = body.map_err(|_| ApiError::invalid("unreadable request body"))?;
    let req: RevokeDocumentRequest =
        serde_json::from_slice(&body).map_err(|_| ApiError::invalid("JSON does not match the expected shape"))?;
    blocking(&s, move |s, c| revoke(s, c, &req)).await.map(Json)
}

/// Certify a verifier's reader key for a role (audited with the role and the key's hash).
pub fn enrol_reader(s: &AppState, conn: &mut Connection, req: &ReaderEnrolRequest) -> ApiResult<ReaderEnrolResponse> {
    let bad_key = || ApiError::new(StatusCode::BAD_REQUEST, dcodes::INVALID_READER_KEY, "not a P-256 public key");
    let key = citizen_protocol::crypto::unb64(&req.public_key).ok_or_else(bad_key)?;
    if key.len() != 65 {
        return Err(bad_key());
    }
    let now = s.now();
    let (der, not_after) = s.documents.issue_reader_certificate(req.role, &key, now).map_err(|e| {
        tracing::info!(error = %e, "reader key refused");
        bad_key()
    })?;
    // The reader terminal is the "device" of this entry: its key's hash, and the role.
    let hash = citizen_protocol::protocol::sha256_hex(&key);
    let device = format!("reader:{}:{}", req.role.as_str(), hash.get(..16).unwrap_or_default());
    audit(conn, now, "reader_enrol", "ok", None, Some(&device));
    Ok(ReaderEnrolResponse { x5chain: vec![docs::b64_std(&der)], role: req.role, not_after })
}

async fn http_enrol_reader(
    State(s): S,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<ReaderEnrolResponse>> {
    check_official(&s, &headers, "reader_enrol").await?;
    let body = body.map_err(|_| ApiError::invalid("unreadable request body"))?;
    let req: ReaderEnrolRequest =
        serde_json::from_slice(&body).map_err(|_| ApiError::invalid("JSON does not match the expected shape"))?;
    blocking(&s, move |s, c| enrol_reader(s, c, &req)).await.map(Json)
}
