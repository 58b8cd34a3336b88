//! The access log's endpoints (issue 16, item 2): the citizen's signed log, and the officials'
//! read of a register record (logged in it). Logic in [`crate::access_log`].

use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use citizen_protocol::access::{AccessLogResponse, OfficialRecordRequest, PATH_ACCESS_LOG, PATH_OFFICIAL_RECORD};
use citizen_protocol::protocol::services::CitizenProfileDto;

use super::{audited, bearer};
use crate::api::{blocking, ApiJson, ApiResult, AppState};
use crate::officials::{self, Role};

/// The routes (merged into [`super::router`]).
pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route(PATH_ACCESS_LOG, get(http_log)).route(PATH_OFFICIAL_RECORD, post(http_official_record))
}

/// Claims read in the unit of work, signed after it (decision 36).
async fn http_log(State(s): State<Arc<AppState>>, headers: HeaderMap) -> ApiResult<Json<AccessLogResponse>> {
    let token = bearer(&headers);
    let claims = blocking(&s, move |s, c| {
        audited(s, c, "access_log", |s, c| crate::access_log::log_claims(s, c, token.as_deref()))
    })
    .await?;
    Ok(Json(AccessLogResponse { log: s.tokens.sign(&claims) }))
}

async fn http_official_record(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<OfficialRecordRequest>,
) -> ApiResult<Json<CitizenProfileDto>> {
    let token = officials::token_of(&headers);
    blocking(&s, move |s, c| {
        let who = officials::check(s, c, &token, Role::Records, "official_record_read")?;
        audited(s, c, "official_record_read", |s, c| crate::access_log::official_read(s, c, &who, &req))
    })
    .await
    .map(Json)
}
