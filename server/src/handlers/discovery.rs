//! Discovery documents for generic verifiers (issue 13, item 5): JWT VC Issuer Metadata and
//! OpenID Connect Discovery, both built from the one token key ([`crate::tokens::TokenKeys`])
//! and the server's origin, so they cannot disagree with `GET /v1/keys`
//! ([`citizen_protocol::protocol::discovery`]).

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use citizen_protocol::protocol::discovery::{
    JwtVcIssuerMetadata, OpenIdConfiguration, PATH_JWT_VC_ISSUER, PATH_OPENID_CONFIGURATION,
};

use crate::api::AppState;

/// Public, personal-data free and changed only by a key rotation: cacheable briefly (clients
/// refetch on an unknown `kid` anyway).
const CACHE: &str = "public, max-age=300";

/// The discovery routes.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(PATH_JWT_VC_ISSUER, get(jwt_vc_issuer))
        .route(PATH_OPENID_CONFIGURATION, get(openid_configuration))
}

/// The JWT VC Issuer Metadata of the server.
pub fn jwt_vc_issuer_metadata(s: &AppState) -> JwtVcIssuerMetadata {
    JwtVcIssuerMetadata {
        issuer: s.audience.clone(),
        jwks: serde_json::to_value(super::services::keys(s)).unwrap_or_default(),
    }
}

async fn jwt_vc_issuer(State(s): State<Arc<AppState>>) -> Response {
    ([(header::CACHE_CONTROL, CACHE)], Json(jwt_vc_issuer_metadata(&s))).into_response()
}

async fn openid_configuration(State(s): State<Arc<AppState>>) -> Response {
    ([(header::CACHE_CONTROL, CACHE)], Json(OpenIdConfiguration::for_issuer(&s.audience))).into_response()
}
