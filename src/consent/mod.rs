//! Consent: the signed registry of relying parties, QR login (scan, approve, deny) and consent
//! receipts (store, export, verification). The wire formats live in [`crate::protocol::rp`];
//! the UniFFI layer in `ffi/consent.rs`.
//!
//! Everything the device can check itself is checked before it talks to the server: a login
//! code from a fake portal is refused offline, with a code that says why.

pub mod qr;
pub mod receipts;
pub mod registry;
pub(crate) mod share;
pub mod storage;

use serde::de::DeserializeOwned;

/// Decode an ES256 JWS with `key` (low-S, `alg` ES256), without time and audience checks
/// (callers check those fields themselves, against the core's clock). `None` when it does not
/// verify. Verified with `p256`, not jsonwebtoken's crypto backend (see
/// [`crate::crypto::verify_es256_compact`]).
pub(crate) use crate::crypto::decode_es256;

/// The `kid` of a compact JWS header.
pub(crate) fn jws_kid(jws: &str) -> Option<String> {
    jsonwebtoken::decode_header(jws).ok()?.kid
}

impl crate::account::Account {
    /// Decode a JWS of kind `T` (its `typ`, RFC 8725) signed by the server's token key: the cached key set first, then (unknown
    /// or non-verifying key id: rotation) the key set fetched again. `None` when it does not
    /// verify with the server's keys.
    pub(crate) async fn decode_server_jws<T: DeserializeOwned + crate::jwt::JwtKind>(&self, jws: &str) -> Option<T> {
        let kid = jws_kid(jws)?;
        let by_kid =
            |keys: Vec<jsonwebtoken::jwk::Jwk>| keys.into_iter().find(|k| k.common.key_id.as_deref() == Some(&kid));
        if let Some(claims) = by_kid(self.cached_server_keys()).and_then(|k| decode_es256(jws, &k)) {
            return Some(claims);
        }
        let key = self.server_key_refresh(&kid).await.ok()?;
        decode_es256(jws, &key)
    }
}
