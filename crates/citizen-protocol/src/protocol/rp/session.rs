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
    /// The same released claims again, top level, under their standard OpenID Connect names
    /// (`name`, `given_name`, `birthdate`, `phone_number`, `address`…; [`oidc_standard_claims`]),
    /// so a generic OpenID Connect relying party reads them without knowing our wire names.
    /// Deserialising collects every other top-level member here.
    #[serde(flatten)]
    pub standard: serde_json::Map<String, serde_json::Value>,
}

impl crate::jwt::JwtKind for IdTokenClaims {
    const TYP: &'static str = crate::jwt::typ::ID_TOKEN;
}

/// The claims of `released` (by our wire names, as in [`IdTokenClaims::claims`]) under their
/// standard OpenID Connect names (OpenID Connect Core 1.0 §5.1):
///
/// | wire | OpenID Connect |
/// | --- | --- |
/// | `full_name` | `name`; `family_name` (first word), `given_name` (last word), `middle_name` (the rest) — the Vietnamese order is family, middle, given |
/// | `birthdate` | `birthdate` (`YYYY-MM-DD`) |
/// | `sex` | `gender` (`male` / `female`) |
/// | `phone` | `phone_number` (E.164), `phone_number_verified`: `true` (confirmed by OTP at enrolment) |
/// | `permanent_address` | `address` = `{ "formatted": …, "country": "VN" }` |
///
/// Claims without a standard name (`cccd_number`, `nationality`, `place_of_origin`,
/// `age_over_18`) are only released under their wire names.
pub fn oidc_standard_claims(
    released: &serde_json::Map<String, serde_json::Value>,
) -> serde_json::Map<String, serde_json::Value> {
    use serde_json::Value;
    let mut out = serde_json::Map::new();
    for (k, v) in released {
        match (k.as_str(), v.as_str()) {
            ("full_name", Some(name)) => {
                out.insert("name".into(), v.clone());
                let words: Vec<&str> = name.split_whitespace().collect();
                if let [family, middle @ .., given] = words.as_slice() {
                    out.insert("family_name".into(), Value::from(*family));
                    out.insert("given_name".into(), Value::from(*given));
                    if !middle.is_empty() {
                        out.insert("middle_name".into(), Value::from(middle.join(" ")));
                    }
                }
            }
            ("birthdate", Some(_)) => {
                out.insert("birthdate".into(), v.clone());
            }
            ("sex", Some(g)) => {
                out.insert("gender".into(), Value::from(g));
            }
            ("phone", Some(_)) => {
                out.insert("phone_number".into(), v.clone());
                out.insert("phone_number_verified".into(), Value::Bool(true));
            }
            ("permanent_address", Some(a)) => {
                out.insert("address".into(), serde_json::json!({ "formatted": a, "country": "VN" }));
            }
            _ => {}
        }
    }
    out
}

/// The standard OpenID Connect claim names the identity server can release
/// ([`oidc_standard_claims`]), for `claims_supported` in its discovery document.
pub const OIDC_STANDARD_CLAIMS: &[&str] = &[
    "name",
    "family_name",
    "given_name",
    "middle_name",
    "birthdate",
    "gender",
    "phone_number",
    "phone_number_verified",
    "address",
];

#[cfg(test)]
mod oidc_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn released_claims_get_their_standard_openid_connect_names() {
        let released = json!({
            "full_name": "Nguyễn Văn Mẫu",
            "birthdate": "1990-01-15",
            "sex": "male",
            "phone": "+84900000001",
            "permanent_address": "Số 1 Đường Thử Nghiệm, Hà Nội (giả định)",
            "cccd_number": "001090000001",
        });
        let s = oidc_standard_claims(released.as_object().unwrap());
        assert_eq!(
            serde_json::Value::Object(s.clone()),
            json!({
                "name": "Nguyễn Văn Mẫu", "family_name": "Nguyễn", "middle_name": "Văn", "given_name": "Mẫu",
                "birthdate": "1990-01-15", "gender": "male",
                "phone_number": "+84900000001", "phone_number_verified": true,
                "address": { "formatted": "Số 1 Đường Thử Nghiệm, Hà Nội (giả định)", "country": "VN" },
            })
        );
        assert!(s.keys().all(|k| OIDC_STANDARD_CLAIMS.contains(&k.as_str())));
        // Nothing released, nothing standard; a one-word name has no family/given split.
        assert!(oidc_standard_claims(&serde_json::Map::new()).is_empty());
        let one = oidc_standard_claims(json!({"full_name": "Mẫu"}).as_object().unwrap());
        assert_eq!(serde_json::Value::Object(one), json!({"name": "Mẫu"}));
    }

    #[test]
    fn id_token_round_trips_with_standard_claims_at_the_top_level() {
        let released = json!({"full_name": "Trần Thị Thử", "birthdate": "1985-05-05"});
        let t = IdTokenClaims {
            iss: "https://id".into(),
            sub: "s".into(),
            aud: "a".into(),
            nonce: "n".into(),
            sid: "x".into(),
            iat: 1,
            exp: 2,
            auth_time: 1,
            claims: released.as_object().unwrap().clone(),
            standard: oidc_standard_claims(released.as_object().unwrap()),
        };
        let v = serde_json::to_value(&t).unwrap();
        assert_eq!((v["name"].as_str(), v["given_name"].as_str()), (Some("Trần Thị Thử"), Some("Thử")));
        assert_eq!(v["claims"]["full_name"], "Trần Thị Thử");
        let back: IdTokenClaims = serde_json::from_value(v).unwrap();
        assert_eq!(back.standard, t.standard);
        assert_eq!(back.claims, t.claims);
    }
}
