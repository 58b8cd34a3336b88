//! The PID credential and selective sharing: request, share request, presentation.

use serde::{Deserialize, Serialize};

use crate::protocol::SignedStatement;

/// Body of `POST /v1/credentials/pid` (Bearer).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CredentialRequest {
    /// Purpose `credential`, nonce from a `credential` challenge, subject
    /// `pid:<sha256 hex of the device public key SEC1 bytes>`.
    pub signed: SignedStatement,
}

/// Answer of `POST /v1/credentials/pid`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CredentialResponse {
    /// The SD-JWT (issuer JWT then disclosures, `~`-separated, ending in `~`), every personal
    /// claim selectively disclosable, `cnf.jwk` = the device key.
    pub sd_jwt: String,
    /// Unix seconds.
    pub expires_at: i64,
}

/// Claims of an RP's share request (JWS ES256 by the RP's registered key, `typ`
/// [`SHARE_REQUEST_TYP`](super::SHARE_REQUEST_TYP), `kid` = RP id).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareRequestClaims {
    /// The RP id.
    pub iss: String,
    /// Random id (base64url).
    pub request_id: String,
    /// Random nonce the KB-JWT must carry.
    pub nonce: String,
    /// Registered purpose code.
    pub purpose: String,
    /// Why, in Vietnamese (shown to the citizen).
    pub purpose_vi: String,
    /// Why, in English.
    pub purpose_en: String,
    /// Days the RP will keep the data.
    pub retention_days: u32,
    /// Claims the RP cannot proceed without.
    pub required: Vec<String>,
    /// Claims the citizen may add.
    pub optional: Vec<String>,
    /// Where the presentation is posted (an origin registered for the RP, plus a path).
    pub response_uri: String,
    /// Issued at.
    pub iat: i64,
    /// Expiry.
    pub exp: i64,
}

/// Body the core posts to an RP's `response_uri`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PresentationSubmission {
    /// The request this answers.
    pub request_id: String,
    /// SD-JWT presentation with KB-JWT (`aud` = RP id, `nonce` = request nonce).
    pub presentation: String,
}

/// What the reference RP verifier answers.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PresentationResult {
    /// Whether the presentation verified.
    pub verified: bool,
    /// The disclosed claims.
    pub claims: serde_json::Map<String, serde_json::Value>,
}
