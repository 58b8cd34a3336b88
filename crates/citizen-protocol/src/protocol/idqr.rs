//! The short identity QR (issue 13, item 4; ARCHITECTURE.md decision 35): what VNeID shows
//! today as a one-minute code, made verifiable — online at the identity server and offline by
//! a verifier that only has a camera and the server's cached key set.
//!
//! Two signatures, two keys:
//!
//! * a **binding** ([`IdentityBindingClaims`], JWT `typ` `citizen-identity-binding+jwt`), signed
//!   by the server's token key: "device key K belongs to the citizen named N, born B, CCCD C,
//!   identity level L, until T" (7 days). The device fetches it when online and keeps it.
//! * a **device statement** ([`Purpose::IdentityQr`]) signed in the key store, user-initiated, when
//!   the citizen shows the code: audience = the server, a fresh random nonce, the device
//!   counter, the time, subject `idqr:<SHA-256 of the binding>` — so it names exactly one binding.
//!
//! The QR text is `CZID1:` + base64url(JSON [`IdentityQr`]). A verifier accepts it for
//! [`IDQR_VALID_SECS`] after signing ([`verify_identity_qr`]); single use is the verifier's
//! state (a nonce cache for 60 s, [`VerifiedIdentity::nonce`]); the online verifier also knows
//! whether the device has been revoked since the binding was issued.

use serde::{Deserialize, Serialize};

use super::{sha256_hex, Purpose, SignedStatement};
use crate::crypto::{b64, unb64};
use crate::jwt::JwtKind;

/// Prefix (and version) of the QR text.
pub const IDQR_PREFIX: &str = "CZID1:";
/// How long a code is valid after the device signed it.
pub const IDQR_VALID_SECS: i64 = 60;
/// Tolerated clock difference for a code signed "in the future" of the verifier.
pub const IDQR_FUTURE_SKEW_SECS: i64 = 10;
/// Lifetime of a binding.
pub const BINDING_TTL_SECS: i64 = 7 * 24 * 3600;
/// Longest QR text accepted (a binding and a statement are ~1.5 KB).
pub const IDQR_MAX_LEN: usize = 4096;
/// `POST` (bearer): a binding of the token's device key.
pub const PATH_IDENTITY_BINDING: &str = "/v1/identity/binding";
/// `POST` `{qr}`: online verification (public: a verifier has no account).
pub const PATH_IDENTITY_VERIFY: &str = "/v1/identity/verify";

/// The server's binding of a device key to an identity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityBindingClaims {
    /// The server audience.
    pub iss: String,
    /// The device.
    pub device_id: String,
    /// The device public key, SEC1 uncompressed, base64url.
    pub device_key: String,
    /// Họ và tên.
    pub full_name: String,
    /// `YYYY-MM-DD`.
    pub birthdate: String,
    /// Số CCCD.
    pub cccd_number: String,
    /// Identity level (1 or 2).
    pub level: u8,
    /// Issued at.
    pub iat: i64,
    /// Expiry.
    pub exp: i64,
}

impl JwtKind for IdentityBindingClaims {
    const TYP: &'static str = crate::jwt::typ::IDENTITY_BINDING;
}

/// Answer of [`PATH_IDENTITY_BINDING`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IdentityBindingResponse {
    /// Compact JWS over [`IdentityBindingClaims`].
    pub binding: String,
    /// Its expiry (Unix seconds).
    pub expires_at: i64,
}

/// Body of [`PATH_IDENTITY_VERIFY`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IdentityVerifyRequest {
    /// The scanned QR text.
    pub qr: String,
}

/// What the QR carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityQr {
    /// The server's binding (compact JWS).
    pub binding: String,
    /// The device's statement (purpose `identity_qr`).
    pub signed: SignedStatement,
}

/// The statement subject that names `binding`.
pub fn statement_subject(binding: &str) -> String {
    format!("idqr:{}", sha256_hex(binding.as_bytes()))
}

impl IdentityQr {
    /// The QR text.
    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).expect("serialisable");
        format!("{IDQR_PREFIX}{}", b64(&json))
    }

    /// Parse a QR text (length bound first).
    pub fn parse(text: &str) -> Result<Self, IdQrError> {
        if text.len() > IDQR_MAX_LEN {
            return Err(IdQrError::Malformed);
        }
        let body = text.strip_prefix(IDQR_PREFIX).ok_or(IdQrError::Malformed)?;
        serde_json::from_slice(&unb64(body).ok_or(IdQrError::Malformed)?).map_err(|_| IdQrError::Malformed)
    }
}

/// Why a code was refused; each a distinct code in the message catalogue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IdQrError {
    /// Not a `CZID1:` code, or damaged.
    #[error("malformed identity code")]
    Malformed,
    /// The binding is not signed by this server's key (or is another kind of JWT).
    #[error("binding not signed by the identity server")]
    BindingInvalid,
    /// The binding expired.
    #[error("binding expired")]
    BindingExpired,
    /// The device signature does not verify under the bound key, or the statement is not an
    /// identity-code statement for this server and this binding (tampered or transplanted).
    #[error("device signature invalid")]
    SignatureInvalid,
    /// Signed more than [`IDQR_VALID_SECS`] ago (or too far in the future).
    #[error("identity code expired")]
    Expired,
    /// Already verified once (its nonce was seen).
    #[error("identity code already used")]
    Replayed,
    /// The device was revoked since the binding was issued (online check only).
    #[error("device revoked")]
    DeviceRevoked,
}

impl IdQrError {
    /// The catalogue entry of this refusal.
    pub fn msg(self) -> crate::messages::Msg {
        use crate::messages::Msg;
        match self {
            IdQrError::Malformed => Msg::IdQrMalformed,
            IdQrError::BindingInvalid => Msg::IdQrBindingInvalid,
            IdQrError::BindingExpired => Msg::IdQrBindingExpired,
            IdQrError::SignatureInvalid => Msg::IdQrSignatureInvalid,
            IdQrError::Expired => Msg::IdQrExpired,
            IdQrError::Replayed => Msg::IdQrReplayed,
            IdQrError::DeviceRevoked => Msg::IdQrDeviceRevoked,
        }
    }
}

/// A verified identity code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedIdentity {
    /// The bound identity.
    pub binding: IdentityBindingClaims,
    /// When the device signed the code.
    pub signed_at: i64,
    /// The code's nonce: the verifier refuses it a second time within [`IDQR_VALID_SECS`].
    pub nonce: String,
    /// The device counter in the statement.
    pub counter: u64,
}

/// Verify a code against the server's keys (`server_keys`, JWKS entries; the one named by the
/// binding's `kid` is used), the server audience and the verifier's clock. Checks, in order:
/// format, binding signature and kind, binding issuer and expiry, the statement (purpose,
/// audience, device, subject = this binding) and its signature under the bound key, then the
/// 60 s window. Single use ([`VerifiedIdentity::nonce`]) and revocation are the caller's.
pub fn verify_identity_qr(
    text: &str,
    server_keys: &[jsonwebtoken::jwk::Jwk],
    audience: &str,
    now: i64,
) -> Result<VerifiedIdentity, IdQrError> {
    let qr = IdentityQr::parse(text)?;
    let kid = crate::jwt::compact_header(&qr.binding)
        .and_then(|h| h.get("kid").and_then(|k| k.as_str().map(str::to_string)))
        .ok_or(IdQrError::BindingInvalid)?;
    let key = server_keys.iter().find(|k| k.common.key_id.as_deref() == Some(&kid)).ok_or(IdQrError::BindingInvalid)?;
    let binding: IdentityBindingClaims =
        crate::crypto::decode_es256(&qr.binding, key).ok_or(IdQrError::BindingInvalid)?;
    if binding.iss != audience {
        return Err(IdQrError::BindingInvalid);
    }
    if binding.exp <= now {
        return Err(IdQrError::BindingExpired);
    }
    let st = &qr.signed.statement;
    if st.purpose != Purpose::IdentityQr
        || st.audience != audience
        || st.device_id != binding.device_id
        || st.subject != statement_subject(&qr.binding)
        || st.nonce.len() < 16
    {
        return Err(IdQrError::SignatureInvalid);
    }
    let device_key = unb64(&binding.device_key).ok_or(IdQrError::BindingInvalid)?;
    crate::crypto::verify_wire_signature(&device_key, &st.canonical_bytes(), &qr.signed.signature)
        .map_err(|_| IdQrError::SignatureInvalid)?;
    if st.issued_at < now - IDQR_VALID_SECS || st.issued_at > now + IDQR_FUTURE_SKEW_SECS {
        return Err(IdQrError::Expired);
    }
    Ok(VerifiedIdentity { signed_at: st.issued_at, nonce: st.nonce.clone(), counter: st.counter, binding })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Statement;
    use p256::ecdsa::signature::Signer;
    use p256::ecdsa::{Signature, SigningKey, VerifyingKey};

    const AUD: &str = "https://id.example.gov.vn";
    const NOW: i64 = 1_780_000_000;

    fn server_key() -> SigningKey {
        SigningKey::from_slice(&[5u8; 32]).unwrap()
    }
    fn device_key() -> SigningKey {
        SigningKey::from_slice(&[6u8; 32]).unwrap()
    }
    fn jwks(sk: &SigningKey) -> Vec<jsonwebtoken::jwk::Jwk> {
        let p = sk.verifying_key().to_encoded_point(false);
        vec![serde_json::from_value(serde_json::json!({
            "kty": "EC", "crv": "P-256", "kid": "srv", "x": b64(p.x().unwrap()), "y": b64(p.y().unwrap()),
        }))
        .unwrap()]
    }
    fn binding_with(typ: &str, f: impl Fn(&mut IdentityBindingClaims)) -> String {
        let mut c = IdentityBindingClaims {
            iss: AUD.into(),
            device_id: "dev-1".into(),
            device_key: b64(&crate::crypto::sec1_uncompressed(&VerifyingKey::from(&device_key()))),
            full_name: "Nguyễn Văn Mẫu".into(),
            birthdate: "1990-01-15".into(),
            cccd_number: "001090000001".into(),
            level: 1,
            iat: NOW - 100,
            exp: NOW + BINDING_TTL_SECS,
        };
        f(&mut c);
        let mut h = serde_json::Map::new();
        h.insert("typ".into(), typ.into());
        let payload = serde_json::to_value(&c).unwrap();
        crate::sdjwt::P256JwsSigner::new(server_key(), Some("srv".into()))
            .sign_compact(&h, payload.as_object().unwrap())
    }
    fn binding() -> String {
        binding_with(crate::jwt::typ::IDENTITY_BINDING, |_| {})
    }
    fn code_with(binding: &str, signer: &SigningKey, f: impl Fn(&mut Statement)) -> String {
        let mut st = Statement {
            purpose: Purpose::IdentityQr,
            audience: AUD.into(),
            nonce: "bm9uY2Utbm9uY2Utbm9uY2U".into(),
            device_id: "dev-1".into(),
            counter: 9,
            issued_at: NOW,
            subject: statement_subject(binding),
        };
        f(&mut st);
        let sig: Signature = signer.sign(&st.canonical_bytes());
        let signed = SignedStatement { statement: st, signature: b64(&crate::crypto::low_s(sig).to_bytes()) };
        IdentityQr { binding: binding.into(), signed }.encode()
    }
    fn verify(text: &str, now: i64) -> Result<VerifiedIdentity, IdQrError> {
        verify_identity_qr(text, &jwks(&server_key()), AUD, now)
    }

    #[test]
    fn a_fresh_code_verifies_offline_and_names_the_bound_identity() {
        let code = code_with(&binding(), &device_key(), |_| {});
        assert!(code.starts_with(IDQR_PREFIX) && code.len() < IDQR_MAX_LEN, "{}", code.len());
        let v = verify(&code, NOW + 30).unwrap();
        assert_eq!((v.binding.full_name.as_str(), v.binding.cccd_number.as_str()), ("Nguyễn Văn Mẫu", "001090000001"));
        assert_eq!((v.signed_at, v.counter), (NOW, 9));
    }

    #[test]
    fn expired_codes_and_bindings_are_refused() {
        let code = code_with(&binding(), &device_key(), |_| {});
        assert!(verify(&code, NOW + IDQR_VALID_SECS).is_ok(), "valid for exactly 60 s");
        assert_eq!(verify(&code, NOW + IDQR_VALID_SECS + 1).unwrap_err(), IdQrError::Expired);
        assert_eq!(verify(&code, NOW - IDQR_FUTURE_SKEW_SECS - 1).unwrap_err(), IdQrError::Expired);
        let old = binding_with(crate::jwt::typ::IDENTITY_BINDING, |c| c.exp = NOW - 1);
        let code = code_with(&old, &device_key(), |_| {});
        assert_eq!(verify(&code, NOW).unwrap_err(), IdQrError::BindingExpired);
    }

    #[test]
    fn tampered_transplanted_and_forged_codes_are_refused() {
        let b = binding();
        let dev = device_key();
        // Another name in the binding, re-encoded: the server signature breaks.
        let mut qr = IdentityQr::parse(&code_with(&b, &dev, |_| {})).unwrap();
        let (h, rest) = qr.binding.split_once('.').unwrap();
        let (p, s) = rest.split_once('.').unwrap();
        let mut claims: serde_json::Value = serde_json::from_slice(&unb64(p).unwrap()).unwrap();
        claims["full_name"] = "Kẻ Mạo Danh".into();
        qr.binding = format!("{h}.{}.{s}", b64(claims.to_string().as_bytes()));
        assert_eq!(verify(&qr.encode(), NOW).unwrap_err(), IdQrError::BindingInvalid);
        // The statement's time moved (to stretch the minute): the device signature breaks.
        let mut qr = IdentityQr::parse(&code_with(&b, &dev, |_| {})).unwrap();
        qr.signed.statement.issued_at += 50;
        assert_eq!(verify(&qr.encode(), NOW + 100).unwrap_err(), IdQrError::SignatureInvalid);
        // Signed by another device key than the bound one.
        let other = SigningKey::from_slice(&[7u8; 32]).unwrap();
        assert_eq!(verify(&code_with(&b, &other, |_| {}), NOW).unwrap_err(), IdQrError::SignatureInvalid);
        // A statement for another binding, another purpose or another server.
        let b2 = binding_with(crate::jwt::typ::IDENTITY_BINDING, |c| c.full_name = "Trần Thị Thử".into());
        let code = code_with(&b, &dev, |st| st.subject = statement_subject(&b2));
        assert_eq!(verify(&code, NOW).unwrap_err(), IdQrError::SignatureInvalid);
        let code = code_with(&b, &dev, |st| st.purpose = Purpose::Consent);
        assert_eq!(verify(&code, NOW).unwrap_err(), IdQrError::SignatureInvalid);
        let code = code_with(&b, &dev, |st| st.audience = "https://evil.example".into());
        assert_eq!(verify(&code, NOW).unwrap_err(), IdQrError::SignatureInvalid);
        // The server key signed it, but as another kind of JWT (RFC 8725): not a binding.
        let id_token_typed = binding_with(crate::jwt::typ::ID_TOKEN, |_| {});
        assert_eq!(verify(&code_with(&id_token_typed, &dev, |_| {}), NOW).unwrap_err(), IdQrError::BindingInvalid);
        // A binding by a key the verifier does not trust.
        assert_eq!(
            verify_identity_qr(&code_with(&b, &dev, |_| {}), &jwks(&other), AUD, NOW).unwrap_err(),
            IdQrError::BindingInvalid
        );
        // Garbage and oversized input.
        for t in ["", "CZID1:", "CZID1:!!!", "CZQR1:abc", &format!("CZID1:{}", "A".repeat(IDQR_MAX_LEN))] {
            assert_eq!(verify(t, NOW).unwrap_err(), IdQrError::Malformed, "{t:.20}");
        }
    }

    #[test]
    fn every_refusal_has_its_own_catalogue_code() {
        use IdQrError::*;
        let all = [Malformed, BindingInvalid, BindingExpired, SignatureInvalid, Expired, Replayed, DeviceRevoked];
        let mut codes: Vec<&str> = all.iter().map(|e| e.msg().code()).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), all.len());
        assert!(codes.iter().all(|c| c.starts_with("idqr.")));
    }
}
