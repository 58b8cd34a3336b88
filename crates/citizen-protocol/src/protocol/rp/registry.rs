//! The relying-party registry: the server-signed list of registered parties, their origins and
//! allowed claims.

use serde::{Deserialize, Serialize};

/// One registered relying party.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelyingPartyEntry {
    /// Stable id (`[a-z0-9-]{1,64}`).
    pub id: String,
    /// Display name in Vietnamese.
    pub name_vi: String,
    /// Display name in English.
    pub name_en: String,
    /// Web origins the RP may show login codes on (`https://host[:port]`).
    pub origins: Vec<String>,
    /// Exact redirect URIs for the same-device flow.
    pub redirect_uris: Vec<String>,
    /// P-256 public key, SEC1 uncompressed, base64url.
    pub public_key: String,
    /// Claims the RP may ask for.
    pub claims: Vec<String>,
    /// Purposes the RP is registered for (`login`, `account_opening`, …).
    pub purposes: Vec<String>,
    /// The lowest identity level an account needs to log in to or share data with this RP
    /// (1 = enrolled with number, birth date and OTP; 2 = verified from the card's chip). The
    /// server refuses a lower account with `level.required` (decision 30).
    #[serde(default = "default_min_level")]
    pub min_level: u8,
}

fn default_min_level() -> u8 {
    crate::protocol::chip::LEVEL_BASIC
}

/// Claims of the registry JWS (ES256 by the server's key, `kid` from `GET /v1/keys`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RegistryClaims {
    /// The server audience.
    pub iss: String,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// The core refuses the document after this.
    pub exp: i64,
    /// Increases with every change.
    pub version: u64,
    /// All registered RPs.
    pub relying_parties: Vec<RelyingPartyEntry>,
}

impl crate::jwt::JwtKind for RegistryClaims {
    const TYP: &'static str = crate::jwt::typ::RP_REGISTRY;
}

/// Answer of `GET /v1/relying-parties`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RegistryResponse {
    /// Compact JWS over [`RegistryClaims`].
    pub registry: String,
}
