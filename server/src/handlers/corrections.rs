//! The officials' corrections API (issue 16 item 1, decision 50): list, open and decide the
//! citizens' corrections of the register. Every endpoint needs a named official holding the
//! `register` role (`X-Official-Token`); logic in [`crate::corrections`].

use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use citizen_protocol::protocol::corrections::{
    CorrectionDecisionRequest, CorrectionDto, CorrectionList, CorrectionViewRequest, PATH_OFFICIAL_CORRECTIONS,
    PATH_OFFICIAL_CORRECTION_DECIDE, PATH_OFFICIAL_CORRECTION_VIEW,
};

use super::audited;
use crate::api::{blocking, ApiJson, ApiResult, AppState};
use crate::officials::{self, Role};

/// The routes (merged into [`super::router`]).
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(PATH_OFFICIAL_CORRECTIONS, get(http_list))
        .route(PATH_OFFICIAL_CORRECTION_VIEW, post(http_view))
        .route(PATH_OFFICIAL_CORRECTION_DECIDE, post(http_decide))
}

async fn http_list(State(s): State<Arc<AppState>>, headers: HeaderMap) -> ApiResult<Json<CorrectionList>> {
    let token = officials::token_of(&headers);
    blocking(&s, move |s, c| {
        let who = officials::check(s, c, &token, Role::Register, "correction_list")?;
        audited(s, c, "correction_list", |s, c| crate::corrections::list(s, c, &who))
    })
    .await
    .map(Json)
}

async fn http_view(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<CorrectionViewRequest>,
) -> ApiResult<Json<CorrectionDto>> {
    let token = officials::token_of(&headers);
    blocking(&s, move |s, c| {
        let who = officials::check(s, c, &token, Role::Register, "correction_view")?;
        audited(s, c, "correction_view", |s, c| crate::corrections::view(s, c, &who, &req.case_number))
    })
    .await
    .map(Json)
}

async fn http_decide(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<CorrectionDecisionRequest>,
) -> ApiResult<Json<CorrectionDto>> {
    let token = officials::token_of(&headers);
    blocking(&s, move |s, c| {
        let who = officials::check(s, c, &token, Role::Register, "correction_decide")?;
        audited(s, c, "correction_decide", |s, c| crate::corrections::decide(s, c, &who, &req))
    })
    .await
    .map(Json)
}
