//! Explicit typing of every JWT kind this project signs (RFC 8725 §3.11).
//!
//! The identity server signs access tokens, ID tokens, consent-receipt countersignatures,
//! submission receipts, activity anchors, the relying-party registry and PID credentials with
//! **one** key (the one published in its JWKS). Without an explicit `typ` a verifier could only
//! tell the kinds apart by their claims, and a JWT issued as one kind whose claims happen to
//! satisfy another verifier would be accepted as that other kind. So each kind carries its own
//! `typ` header ([`typ`]), every signer sets it from the claims type ([`JwtKind`]), and every
//! verifier (server, core, this crate) refuses any other `typ`, including none.
//!
//! The ID token is typed `JWT`: OpenID Connect does not define a media type for it, and generic
//! relying-party libraries (e.g. Nimbus JOSE's default type verifier) accept only `JWT` or no
//! `typ` there. `JWT` is still unique among the kinds our key signs, and our verifiers require it.
//!
//! Comparison follows RFC 7515 §4.1.9: case-insensitive, and `application/` may be omitted.

use serde_json::{Map, Value};

/// The `typ` header value of each kind.
pub mod typ {
    /// OAuth 2.0 access token (RFC 9068).
    pub const ACCESS_TOKEN: &str = "at+jwt";
    /// OpenID Connect ID token (see the module docs for why `JWT`).
    pub const ID_TOKEN: &str = "JWT";
    /// The server's countersignature of a consent receipt (data share or QR login).
    pub const CONSENT_RECEIPT: &str = "citizen-consent-receipt+jwt";
    /// The receipt of a public-service submission (biên nhận hồ sơ).
    pub const SUBMISSION_RECEIPT: &str = "citizen-submission-receipt+jwt";
    /// The server's countersignature of an activity-log head.
    pub const ACTIVITY_ANCHOR: &str = "citizen-activity-anchor+jwt";
    /// The signed registry of relying parties.
    pub const RP_REGISTRY: &str = "citizen-rp-registry+jwt";
    /// The PID credential's issuer JWT (SD-JWT VC).
    pub const PID_SD_JWT: &str = crate::sdjwt::SD_JWT_TYP;
    /// The holder's key-binding JWT of a presentation.
    pub const KEY_BINDING: &str = crate::sdjwt::KB_JWT_TYP;
    /// A relying party's share request (signed by the RP's key, not the server's).
    pub const SHARE_REQUEST: &str = crate::protocol::rp::SHARE_REQUEST_TYP;
    /// The server's binding of a device key to an identity (the short identity QR).
    pub const IDENTITY_BINDING: &str = "citizen-identity-binding+jwt";
    /// The signed trust list of document issuers and readers (documents wallet, verifier mode).
    pub const TRUST_LIST: &str = crate::protocol::documents::TRUST_LIST_TYP;
    /// The token status list of issued documents (draft-ietf-oauth-status-list).
    pub const STATUS_LIST: &str = crate::protocol::documents::STATUS_LIST_TYP;
    /// The server's signed export of a citizen's access log (who read their register record).
    pub const ACCESS_LOG: &str = "citizen-access-log+jwt";

    /// The server's notice to an account's device that a recovery on another device started
    /// (issue 15).
    pub const RECOVERY_NOTICE: &str = crate::protocol::recovery::NOTICE_TYP;
    /// A guardian's mandate to act for a child or ward (issue 15, decision 49).
    pub const MANDATE: &str = crate::protocol::delegation::MANDATE_TYP;
    /// Every kind, for tests and documents that list them.
    pub const ALL: &[&str] = &[
        ACCESS_TOKEN,
        ID_TOKEN,
        CONSENT_RECEIPT,
        SUBMISSION_RECEIPT,
        ACTIVITY_ANCHOR,
        RP_REGISTRY,
        PID_SD_JWT,
        KEY_BINDING,
        SHARE_REQUEST,
        IDENTITY_BINDING,
        TRUST_LIST,
        STATUS_LIST,
        ACCESS_LOG,
        RECOVERY_NOTICE,
        MANDATE,
    ];
}

/// A claims type signed as a JWT of one kind: its `typ` header.
pub trait JwtKind {
    /// The `typ` header a JWT with these claims carries and must carry.
    const TYP: &'static str;
}

/// Whether a `typ` header value names `expected` (RFC 7515 §4.1.9: ASCII case-insensitive, an
/// `application/` prefix is implied when absent).
pub fn typ_matches(actual: &str, expected: &str) -> bool {
    let strip = |s: &str| -> String {
        let l = s.to_ascii_lowercase();
        l.strip_prefix("application/").map(str::to_string).unwrap_or(l)
    };
    strip(actual) == strip(expected)
}

/// Whether a JOSE header carries `typ` = `expected` ([`typ_matches`]); a missing `typ` is refused.
pub fn header_has_typ(header: &Map<String, Value>, expected: &str) -> bool {
    header.get("typ").and_then(Value::as_str).is_some_and(|t| typ_matches(t, expected))
}

/// The decoded protected header of a compact JWS (no signature check).
pub fn compact_header(jws: &str) -> Option<Map<String, Value>> {
    let h = jws.split('.').next()?;
    serde_json::from_slice(&crate::crypto::unb64(h)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typ_comparison_follows_rfc_7515() {
        assert!(typ_matches("at+jwt", typ::ACCESS_TOKEN));
        assert!(typ_matches("application/AT+JWT", typ::ACCESS_TOKEN));
        assert!(typ_matches("jwt", typ::ID_TOKEN));
        assert!(!typ_matches("JWT", typ::ACCESS_TOKEN));
        assert!(!typ_matches("at+jwt ", typ::ACCESS_TOKEN));
        let mut h = Map::new();
        assert!(!header_has_typ(&h, typ::ID_TOKEN), "missing typ is refused");
        h.insert("typ".into(), Value::from(7));
        assert!(!header_has_typ(&h, typ::ID_TOKEN), "non-string typ is refused");
    }

    #[test]
    fn every_kind_has_its_own_typ() {
        for (i, a) in typ::ALL.iter().enumerate() {
            for b in &typ::ALL[i + 1..] {
                assert!(!typ_matches(a, b), "{a} and {b} collide");
            }
        }
    }
}
