//! Access tokens (ES256 JWTs via `jsonwebtoken`) and refresh-token hashing.
//!
//! The signing key is a P-256 key persisted in the data directory, so tokens survive a
//! restart. Expiry is checked against the injectable clock, not the system time, so tests can
//! move time.

use std::path::Path;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use p256::ecdsa::{SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::ServerError;
use citizen_protocol::jwt::JwtKind;

/// The `aud` claim of every access token: the API, as opposed to the signing audience.
pub const ACCESS_AUDIENCE: &str = "citizen-api";

/// Claims of an access token.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer: the server audience.
    pub iss: String,
    /// Opaque account id.
    pub sub: String,
    /// Always [`ACCESS_AUDIENCE`].
    pub aud: String,
    /// Session id.
    pub sid: String,
    /// Device id.
    pub did: String,
    /// Issued at.
    pub iat: i64,
    /// Expiry.
    pub exp: i64,
    /// Token id.
    pub jti: String,
}

impl JwtKind for Claims {
    const TYP: &'static str = citizen_protocol::jwt::typ::ACCESS_TOKEN;
}

/// Issues and verifies access tokens.
pub struct TokenKeys {
    /// The signing key, parsed once at start (ring; `jsonwebtoken` would rebuild it from PKCS#8
    /// for every token, which was a third of a login's CPU time: issue 14).
    signer: crate::ecdsa::Signer,
    decoding: DecodingKey,
    issuer: String,
    jwk: serde_json::Value,
    kid: String,
}

impl TokenKeys {
    /// Load the key from `path`, generating it on first start.
    pub fn load_or_create(path: &Path, issuer: &str) -> Result<Self, ServerError> {
        let err = |e: &dyn std::fmt::Display| ServerError::Pki(format!("token key: {e}"));
        let sk = if path.exists() {
            let pem = std::fs::read_to_string(path)?;
            SigningKey::from_pkcs8_pem(&pem).map_err(|e| err(&e))?
        } else {
            let sk = SigningKey::from_slice(&citizen_protocol::crypto::random_array::<32>()).map_err(|e| err(&e))?;
            let pem = sk.to_pkcs8_pem(LineEnding::LF).map_err(|e| err(&e))?;
            crate::pki::write_private(path, pem.as_bytes())?;
            sk
        };
        let priv_pem = sk.to_pkcs8_pem(LineEnding::LF).map_err(|e| err(&e))?;
        let pub_pem = VerifyingKey::from(&sk).to_public_key_pem(LineEnding::LF).map_err(|e| err(&e))?;
        let point = VerifyingKey::from(&sk).to_encoded_point(false);
        let (x, y) = (
            citizen_protocol::crypto::b64(point.x().expect("uncompressed point")),
            citizen_protocol::crypto::b64(point.y().expect("uncompressed point")),
        );
        // RFC 7638 thumbprint: SHA-256 over the required members in lexicographic order.
        let thumb = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        let kid = citizen_protocol::crypto::b64(&Sha256::digest(thumb.as_bytes()));
        let jwk = serde_json::json!({
            "kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": kid, "use": "sig", "alg": "ES256"
        });
        // Refuse at start a key the JWT library could not use either.
        EncodingKey::from_ec_pem(priv_pem.as_bytes()).map_err(|e| err(&e))?;
        Ok(TokenKeys {
            signer: crate::ecdsa::Signer::from_p256(&sk).map_err(|e| err(&e))?,
            decoding: DecodingKey::from_ec_pem(pub_pem.as_bytes()).map_err(|e| err(&e))?,
            issuer: issuer.to_string(),
            jwk,
            kid,
        })
    }

    /// The public key as a JWK (with `kid`, `use`, `alg`).
    pub fn jwk(&self) -> &serde_json::Value {
        &self.jwk
    }

    /// Key id (RFC 7638 thumbprint), in the `kid` header of everything this key signs.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    fn header(&self, typ: &str) -> Header {
        let mut h = Header::new(Algorithm::ES256);
        h.kid = Some(self.kid.clone());
        h.typ = Some(typ.to_string());
        h
    }

    /// Sign claims of one JWT kind (access token, ID token, receipts, anchors, registry) as a
    /// compact JWS with this key, typed `T::TYP` (RFC 8725 explicit typing,
    /// [`citizen_protocol::jwt`]): every kind this one key signs has its own `typ`, and every
    /// verifier refuses the others. The signature is put into low-S form: every verifier (this
    /// server's, the core's) refuses the high-S twin.
    pub fn sign<T: Serialize + JwtKind>(&self, claims: &T) -> String {
        // What `jsonwebtoken::encode` does (base64url JSON header and claims), signed with the
        // key parsed once.
        let header = serde_json::to_vec(&self.header(T::TYP)).expect("a JWS header serialises");
        let claims = serde_json::to_vec(claims).expect("claims serialise");
        let b64 = citizen_protocol::crypto::b64;
        let input = format!("{}.{}", b64(&header), b64(&claims));
        let sig = self.signer.sign(input.as_bytes());
        format!("{input}.{}", citizen_protocol::crypto::b64(&sig))
    }

    /// Raw ES256 signature (`r‖s`, 64 bytes) of a JWS signing input, for JWS this module does
    /// not encode itself (the SD-JWT credential, whose encoding `sd-jwt-payload` owns).
    pub fn sign_raw(&self, signing_input: &[u8]) -> Vec<u8> {
        self.signer.sign(signing_input).to_vec()
    }

    /// Sign an access token.
    pub fn issue(&self, account_id: &str, session_id: &str, device_id: &str, now: i64, ttl: i64) -> String {
        let claims = Claims {
            iss: self.issuer.clone(),
            sub: account_id.into(),
            aud: ACCESS_AUDIENCE.into(),
            sid: session_id.into(),
            did: device_id.into(),
            iat: now,
            exp: now + ttl,
            jti: citizen_protocol::crypto::random_b64url(16),
        };
        self.sign(&claims)
    }

    /// Verify signature (low-S only: `jsonwebtoken` alone accepts both ECDSA twins), algorithm,
    /// `typ` `at+jwt` (RFC 9068), issuer and audience, then expiry against `now`.
    pub fn verify(&self, token: &str, now: i64) -> Option<Claims> {
        if !citizen_protocol::crypto::jws_signature_is_low_s(token) {
            return None;
        }
        // Explicit typing: only an access token is one (an ID token, receipt… signed by the
        // same key is refused even when its claims would parse).
        let typ = jsonwebtoken::decode_header(token).ok()?.typ;
        if !typ.is_some_and(|t| citizen_protocol::jwt::typ_matches(&t, Claims::TYP)) {
            return None;
        }
        let mut v = Validation::new(Algorithm::ES256);
        v.set_issuer(&[&self.issuer]);
        v.set_audience(&[ACCESS_AUDIENCE]);
        // Expiry is checked below against the server clock (which tests can move).
        v.validate_exp = false;
        v.validate_nbf = false;
        v.required_spec_claims = ["exp", "iss", "aud", "sub"].iter().map(|s| s.to_string()).collect();
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &v).ok()?;
        (data.claims.exp > now).then_some(data.claims)
    }
}

/// What the database stores for a refresh token: SHA-256 hex.
pub fn refresh_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_and_reject_tampering_expiry_and_other_issuers() {
        let dir = std::env::temp_dir().join(format!("tok-{}", citizen_protocol::crypto::random_b64url(6)));
        std::fs::create_dir_all(&dir).unwrap();
        let k = TokenKeys::load_or_create(&dir.join("k.pem"), "https://a").unwrap();
        let t = k.issue("acc", "sid", "dev", 1000, 300);
        let c = k.verify(&t, 1100).unwrap();
        assert_eq!((c.sub.as_str(), c.sid.as_str(), c.did.as_str(), c.exp), ("acc", "sid", "dev", 1300));
        assert!(k.verify(&t, 1300).is_none(), "expired");
        let mut bad = t.clone();
        bad.pop();
        bad.push(if t.ends_with('A') { 'B' } else { 'A' });
        assert!(k.verify(&bad, 1100).is_none(), "tampered");
        // Same key reloaded, different issuer: refused.
        let other = TokenKeys::load_or_create(&dir.join("k.pem"), "https://b").unwrap();
        assert!(other.verify(&t, 1100).is_none());
        // Same key reloaded, same issuer: accepted (survives restart).
        let again = TokenKeys::load_or_create(&dir.join("k.pem"), "https://a").unwrap();
        assert!(again.verify(&t, 1100).is_some());
        assert_eq!(refresh_hash("x").len(), 64);
        let _ = std::fs::remove_dir_all(dir);
    }

    /// Substitution (RFC 8725 §3.11): before explicit typing every JWT this key signed had
    /// `typ` JWT, so a JWT of another kind (an ID token, a receipt…) whose claims parse as an
    /// access token's was accepted as one. Now only `at+jwt` is.
    #[test]
    fn access_token_verifier_refuses_every_other_kind() {
        let dir = std::env::temp_dir().join(format!("tok-{}", citizen_protocol::crypto::random_b64url(6)));
        std::fs::create_dir_all(&dir).unwrap();
        let k = TokenKeys::load_or_create(&dir.join("k.pem"), "https://a").unwrap();
        let t = k.issue("acc", "sid", "dev", 1000, 300);
        assert_eq!(jsonwebtoken::decode_header(&t).unwrap().typ.as_deref(), Some("at+jwt"));
        assert!(k.verify(&t, 1100).is_some());
        let claims = k.verify(&t, 1100).unwrap();
        for typ in citizen_protocol::jwt::typ::ALL
            .iter()
            .filter(|t| **t != "at+jwt")
            .map(|t| Some(t.to_string()))
            .chain([None])
        {
            let mut h = Header::new(Algorithm::ES256);
            h.kid = Some(k.kid().to_string());
            h.typ = typ.clone();
            let b64 = citizen_protocol::crypto::b64;
            let input =
                format!("{}.{}", b64(&serde_json::to_vec(&h).unwrap()), b64(&serde_json::to_vec(&claims).unwrap()));
            let other = format!("{input}.{}", b64(&k.signer.sign(input.as_bytes())));
            assert!(k.verify(&other, 1100).is_none(), "access-token claims typed {typ:?} accepted as an access token");
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}
