//! Where generic verifiers find the identity server's keys (issue 13, item 5).
//!
//! Libraries that know nothing of this project look in standard places:
//!
//! * SD-JWT VC verifiers (e.g. `@sd-jwt/sd-jwt-vc`, EUDI libraries) resolve the key of an
//!   HTTPS `iss` through **JWT VC Issuer Metadata** at `<iss>/.well-known/jwt-vc-issuer`
//!   (draft-ietf-oauth-sd-jwt-vc, "JWT VC Issuer Metadata"): `issuer` equal to the credential's
//!   `iss` and the keys inline in `jwks` (one fetch; the same keys as the JWKS URI).
//! * OpenID Connect relying parties read `<issuer>/.well-known/openid-configuration`
//!   (OpenID Connect Discovery 1.0 §4) for `issuer`, `jwks_uri` and the algorithms and claims.
//! * The JWKS URI is the existing [`PATH_KEYS`](super::services::PATH_KEYS) (`{"keys": […]}`),
//!   so the core, the CLI and generic libraries read one key set.
//!
//! The PID credential's `iss` is the server's HTTPS origin, so the format identifies its issuer
//! key through the metadata above, not through an `x5c` certificate chain (which the format
//! uses when the issuer is identified by a certificate instead of an HTTPS `iss`).

use serde::{Deserialize, Serialize};

/// JWT VC Issuer Metadata.
pub const PATH_JWT_VC_ISSUER: &str = "/.well-known/jwt-vc-issuer";
/// OpenID Connect Discovery.
pub const PATH_OPENID_CONFIGURATION: &str = "/.well-known/openid-configuration";

/// The JWT VC Issuer Metadata document.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JwtVcIssuerMetadata {
    /// Equal to the `iss` of the credentials (the server's origin).
    pub issuer: String,
    /// The issuer's keys as a JWK Set (`{"keys": […]}`).
    pub jwks: serde_json::Value,
}

/// The OpenID Provider Metadata this server publishes (OpenID Connect Discovery 1.0 §3). Only
/// the members that describe what it does: the login itself is the decoupled QR flow
/// (`authorization_endpoint` names where a relying party starts one).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OpenIdConfiguration {
    /// The `iss` of ID tokens.
    pub issuer: String,
    /// Where a relying party starts a login (a QR session, `POST`).
    pub authorization_endpoint: String,
    /// The JWK Set of the key that signs ID tokens.
    pub jwks_uri: String,
    /// `["id_token"]`: the ID token is the only artefact.
    pub response_types_supported: Vec<String>,
    /// `["pairwise"]`: `sub` differs per relying party.
    pub subject_types_supported: Vec<String>,
    /// `["ES256"]`.
    pub id_token_signing_alg_values_supported: Vec<String>,
    /// `["openid"]`.
    pub scopes_supported: Vec<String>,
    /// Every claim an ID token can carry: registered JWT claims, our wire names and their
    /// standard OpenID Connect names.
    pub claims_supported: Vec<String>,
}

impl OpenIdConfiguration {
    /// The document of the server whose origin is `issuer`.
    pub fn for_issuer(issuer: &str) -> Self {
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let mut claims = strings(&["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "sid", "claims"]);
        claims.extend(super::rp::CLAIMS.iter().map(|c| c.name.to_string()));
        for c in super::rp::OIDC_STANDARD_CLAIMS {
            if !claims.iter().any(|x| x == c) {
                claims.push(c.to_string());
            }
        }
        OpenIdConfiguration {
            issuer: issuer.to_string(),
            authorization_endpoint: format!("{issuer}{}", super::rp::PATH_QR_SESSIONS),
            jwks_uri: format!("{issuer}{}", super::services::PATH_KEYS),
            response_types_supported: strings(&["id_token"]),
            subject_types_supported: strings(&["pairwise"]),
            id_token_signing_alg_values_supported: strings(&[crate::sdjwt::ALG]),
            scopes_supported: strings(&["openid"]),
            claims_supported: claims,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openid_configuration_names_the_issuer_keys_and_standard_claims() {
        let c = OpenIdConfiguration::for_issuer("https://id.example.gov.vn");
        assert_eq!(c.jwks_uri, "https://id.example.gov.vn/v1/keys");
        assert_eq!(c.id_token_signing_alg_values_supported, ["ES256"]);
        for n in ["name", "given_name", "family_name", "birthdate", "phone_number", "address", "full_name", "sub"] {
            assert!(c.claims_supported.iter().any(|x| x == n), "{n}");
        }
        let mut dedup = c.claims_supported.clone();
        dedup.sort();
        dedup.dedup();
        assert_eq!(dedup.len(), c.claims_supported.len(), "no claim listed twice");
    }
}
