//! The QR session API: the bodies exchanged by the portal, the server and the device.

use serde::{Deserialize, Serialize};

use super::*;
use crate::protocol::SignedStatement;

/// Body of `POST /v1/qr/sessions` (RP → server).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct QrSessionCreate {
    /// base64url of [`SignedLoginRequest::to_bytes`].
    pub request: String,
    /// Same-device flow only: where the citizen's app sends the answer (must be registered).
    #[serde(default)]
    pub redirect_uri: Option<String>,
}

/// Answer of `POST /v1/qr/sessions`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct QrSessionCreated {
    /// base64url session id (as in the request).
    pub session_id: String,
    /// Secret the RP presents when polling.
    pub poll_token: String,
    /// Unix seconds.
    pub expires_at: i64,
}

/// State of a login session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QrSessionState {
    /// Waiting for a scan.
    Pending,
    /// A device scanned it; waiting for the citizen's decision.
    Scanned,
    /// The citizen approved; the ID token is ready.
    Approved,
    /// The citizen declined.
    Denied,
    /// Expired, or cancelled after a wrong verification code.
    Cancelled,
}

/// Answer of `GET /v1/qr/sessions/{id}?poll_token=…`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct QrSessionStatus {
    /// Where the session is.
    pub state: QrSessionState,
    /// Current frame text while pending.
    pub frame: Option<String>,
    /// Seconds until the frame changes.
    pub frame_valid_for: i64,
    /// The code the portal shows once the session was scanned.
    pub verification_code: Option<String>,
    /// Once approved: the ID token (ES256 JWS over [`IdTokenClaims`]).
    pub id_token: Option<String>,
    /// Unix seconds.
    pub expires_at: i64,
}

/// Body of `POST /v1/qr/scan`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct QrScanRequest {
    /// The frame text exactly as scanned.
    pub frame: String,
}

/// Answer of `POST /v1/qr/scan`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct QrScanResponse {
    /// base64url session id.
    pub session_id: String,
    /// Three two-digit codes; the one the portal shows is among them.
    pub code_choices: Vec<String>,
    /// Unix seconds.
    pub expires_at: i64,
}

/// The citizen's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Approve: log in and release the named claims.
    Approve,
    /// Decline.
    Deny,
}

/// Body of `POST /v1/qr/decision`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct QrDecisionRequest {
    /// base64url session id.
    pub session_id: String,
    /// Approve or deny.
    pub decision: Decision,
    /// The code the citizen picked (approve only).
    pub verification_code: Option<String>,
    /// The receipt the device signed (approve only).
    pub receipt: Option<ConsentReceipt>,
    /// Purpose `consent`; nonce = request nonce (base64url); subject `receipt:<digest>` when
    /// approving, `deny:<session id>` when denying.
    pub signed: SignedStatement,
}

/// Answer of `POST /v1/qr/decision`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct QrDecisionResponse {
    /// Server countersignature of the receipt (approve only).
    pub countersignature: Option<String>,
    /// Same-device flow: where the app sends the citizen next, carrying the ID token.
    pub redirect_url: Option<String>,
}

/// Claims of the ID token the RP receives.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IdTokenClaims {
    /// The identity server audience.
    pub iss: String,
    /// Pairwise subject: differs per RP, so RPs cannot join their records on it.
    pub sub: String,
    /// The RP id.
    pub aud: String,
    /// The RP's nonce (base64url).
    pub nonce: String,
    /// Session id (base64url).
    pub sid: String,
    /// Issued at.
    pub iat: i64,
    /// Expiry.
    pub exp: i64,
    /// When the citizen approved.
    pub auth_time: i64,
    /// The released claims, by wire name.
    #[serde(default)]
    pub claims: serde_json::Map<String, serde_json::Value>,
}
