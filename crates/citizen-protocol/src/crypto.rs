//! Cryptographic building blocks, each small and tested next to its code.
//!
//! * P-256 public keys in either encoding a key store produces (SEC1 point, SPKI DER).
//! * Signature normalisation: DER or raw `r||s` → one canonical [`p256::ecdsa::Signature`] in
//!   low-S form, then verification. The core verifies every signature a key store returns before
//!   sending it, so a broken or malicious key store cannot make the core send garbage.
//! * Low-S: every ECDSA signature this project *receives* (device statements on the server,
//!   server JWS and relying-party signatures on the device) must have `s ≤ n/2`. ECDSA accepts
//!   both `(r, s)` and its twin `(r, n − s)`; refusing the high twin makes each signed message
//!   have exactly one valid encoding, so nothing keyed on signature bytes (dedup, audit, replay
//!   caches) can be fooled by a re-encoded copy. Our own signers emit low-S ([`low_s`],
//!   [`low_s_jws`]).
//! * Field encryption: AES-256-GCM with a random 96-bit nonce and associated data that names the
//!   field, so a ciphertext cannot be moved to another column and still open.
//! * Randomness: only the OS CSPRNG (`getrandom`).

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey;
use zeroize::Zeroizing;

/// Version byte of the sealed-field format.
const SEAL_V1: u8 = 1;
/// Nonce length of AES-GCM.
const NONCE_LEN: usize = 12;

/// Why a signature or key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigError {
    /// Public key bytes are not a valid P-256 point or SPKI.
    #[error("invalid public key")]
    InvalidKey,
    /// Signature bytes are not a valid encoding.
    #[error("invalid signature encoding")]
    InvalidEncoding,
    /// The signature does not verify.
    #[error("signature does not verify")]
    Mismatch,
    /// The signature is the high-S twin (`s > n/2`) of a valid signature: refused so that every
    /// signed message has one encoding only.
    #[error("signature is not in low-S form")]
    HighS,
}

/// Fill a fresh array from the OS CSPRNG.
pub fn random_array<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    getrandom::getrandom(&mut b).expect("OS random number generator unavailable");
    b
}

/// `n` random bytes as base64url without padding.
pub fn random_b64url(n: usize) -> String {
    let mut b = vec![0u8; n];
    getrandom::getrandom(&mut b).expect("OS random number generator unavailable");
    b64(&b)
}

/// base64url without padding.
pub fn b64(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

/// Decode base64url without padding (strict).
pub fn unb64(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s).ok()
}

/// Parse a P-256 public key: SEC1 (uncompressed 65 bytes or compressed 33 bytes) or X.509
/// SubjectPublicKeyInfo DER (what Android's `Certificate.publicKey.encoded` gives).
pub fn parse_public_key(bytes: &[u8]) -> Result<VerifyingKey, SigError> {
    match bytes.first() {
        Some(0x04) if bytes.len() == 65 => VerifyingKey::from_sec1_bytes(bytes).map_err(|_| SigError::InvalidKey),
        Some(0x02 | 0x03) if bytes.len() == 33 => {
            VerifyingKey::from_sec1_bytes(bytes).map_err(|_| SigError::InvalidKey)
        }
        Some(0x30) => VerifyingKey::from_public_key_der(bytes).map_err(|_| SigError::InvalidKey),
        _ => Err(SigError::InvalidKey),
    }
}

/// SEC1 uncompressed encoding of a public key (65 bytes), the form the server stores.
pub fn sec1_uncompressed(key: &VerifyingKey) -> Vec<u8> {
    key.to_encoded_point(false).as_bytes().to_vec()
}

/// Encoding of a signature as a platform key store returns it (the core's UniFFI
/// `SignatureFormat` maps onto this one to one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureEncoding {
    /// ASN.1 DER `SEQUENCE { r INTEGER, s INTEGER }` (Android `SHA256withECDSA`, iOS X9.62).
    Der,
    /// Fixed-width `r || s`, 64 bytes (IEEE P1363, JOSE).
    Raw,
}

/// Normalise a key-store signature to a canonical P-256 signature. DER must be strict DER
/// (no BER long forms, no padding, no trailing bytes); raw must be exactly 64 bytes. Zero or
/// out-of-range `r`/`s` are refused in both. A high `s` is replaced by `n − s` (platform key
/// stores — Android Keystore, the Secure Enclave — emit either twin; receivers accept low-S
/// only).
pub fn normalize_key_store_signature(bytes: &[u8], encoding: SignatureEncoding) -> Result<Signature, SigError> {
    let parsed = match encoding {
        SignatureEncoding::Der => Signature::from_der(bytes).map_err(|_| SigError::InvalidEncoding)?,
        SignatureEncoding::Raw => {
            if bytes.len() != 64 {
                return Err(SigError::InvalidEncoding);
            }
            Signature::from_slice(bytes).map_err(|_| SigError::InvalidEncoding)?
        }
    };
    Ok(low_s(parsed))
}

/// The low-S form of a signature (`s` replaced by `n − s` when `s > n/2`). Every signer of this
/// project passes its signatures through this before they leave.
pub fn low_s(sig: Signature) -> Signature {
    sig.normalize_s().unwrap_or(sig)
}

/// Whether `s ≤ n/2`.
pub fn is_low_s(sig: &Signature) -> bool {
    sig.normalize_s().is_none()
}

/// A compact ES256 JWS with its signature put into low-S form (unchanged if it is not a
/// well-formed ES256 JWS). For JWS produced by `jsonwebtoken`, whose signer does not normalise.
pub fn low_s_jws(jws: &str) -> String {
    let Some((input, sig)) = jws.rsplit_once('.') else { return jws.to_string() };
    match unb64(sig).and_then(|b| Signature::from_slice(&b).ok()) {
        Some(s) => format!("{input}.{}", b64(&low_s(s).to_bytes())),
        None => jws.to_string(),
    }
}

/// Whether a compact JWS carries a well-formed raw ES256 signature (64 bytes, `r`, `s` in
/// range) in low-S form. `jsonwebtoken` accepts both twins, so every ES256 verification that
/// goes through it also asks this.
pub fn jws_signature_is_low_s(jws: &str) -> bool {
    jws.rsplit_once('.')
        .and_then(|(_, sig)| unb64(sig))
        .and_then(|b| Signature::from_slice(&b).ok())
        .is_some_and(|s| is_low_s(&s))
}

/// The P-256 key of a JWK (`kty` EC, `crv` P-256, 32-byte `x` and `y` on the curve); `None`
/// for any other key.
pub fn p256_key_from_jwk(jwk: &jsonwebtoken::jwk::Jwk) -> Option<VerifyingKey> {
    use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve};
    let AlgorithmParameters::EllipticCurve(ec) = &jwk.algorithm else { return None };
    if ec.curve != EllipticCurve::P256 {
        return None;
    }
    let mut sec1 = vec![4u8];
    sec1.extend(unb64(&ec.x).filter(|v| v.len() == 32)?);
    sec1.extend(unb64(&ec.y).filter(|v| v.len() == 32)?);
    VerifyingKey::from_sec1_bytes(&sec1).ok()
}

/// Verify a compact ES256 JWS (`header.payload.signature`, base64url) with `key` and return its
/// payload bytes: three parts, a JSON header whose `alg` is ES256, a raw `r‖s` signature in
/// low-S form over `header.payload`. Claims (time, audience, issuer) are the caller's to check.
///
/// Why not `jsonwebtoken::decode`: its crypto backend (`rust_crypto`) brings RSA, EdDSA, P-384
/// and HMAC into the shipped library, and the device only ever verifies ES256; so the core and
/// this crate use jsonwebtoken for its types (`Jwk`, headers) and verify with `p256` here
/// (ARCHITECTURE.md, "Library size").
pub fn verify_es256_compact(jws: &str, key: &VerifyingKey) -> Option<Vec<u8>> {
    let mut parts = jws.split('.');
    let (h, p, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let header: serde_json::Value = serde_json::from_slice(&unb64(h)?).ok()?;
    if header.get("alg").and_then(serde_json::Value::as_str) != Some("ES256") {
        return None;
    }
    let sig = Signature::from_slice(&unb64(s)?).ok()?;
    verify(key, format!("{h}.{p}").as_bytes(), &sig).ok()?;
    unb64(p)
}

/// Verify a compact ES256 JWS with a JWK ([`p256_key_from_jwk`], [`verify_es256_compact`]) and
/// parse its claims, which must be of kind `T`: the header's `typ` is `T::TYP`
/// ([`crate::jwt`]), so a JWT the same key signed as another kind is refused even when its
/// claims would parse. No time, audience or issuer checks: callers check those fields
/// themselves, against their own clock. `None` when it does not verify, is of another kind or
/// the claims do not parse.
pub fn decode_es256<T: serde::de::DeserializeOwned + crate::jwt::JwtKind>(
    jws: &str,
    jwk: &jsonwebtoken::jwk::Jwk,
) -> Option<T> {
    let key = p256_key_from_jwk(jwk)?;
    let payload = verify_es256_compact(jws, &key)?;
    if !crate::jwt::header_has_typ(&crate::jwt::compact_header(jws)?, T::TYP) {
        return None;
    }
    serde_json::from_slice(&payload).ok()
}

/// Verify ECDSA P-256/SHA-256 of `message` (the verifier hashes). High-S signatures are
/// refused ([`SigError::HighS`]).
pub fn verify(key: &VerifyingKey, message: &[u8], sig: &Signature) -> Result<(), SigError> {
    if !is_low_s(sig) {
        return Err(SigError::HighS);
    }
    key.verify(message, sig).map_err(|_| SigError::Mismatch)
}

/// Normalise then verify: the one path every key-store signature goes through, on both sides.
pub fn verify_key_store_signature(
    public_key: &[u8],
    message: &[u8],
    bytes: &[u8],
    encoding: SignatureEncoding,
) -> Result<Signature, SigError> {
    let key = parse_public_key(public_key)?;
    let sig = normalize_key_store_signature(bytes, encoding)?;
    verify(&key, message, &sig)?;
    Ok(sig)
}

/// Verify a received wire signature (base64url raw `r||s`) against a SEC1 public key. Unlike
/// [`verify_key_store_signature`] nothing is normalised: a high-S signature is refused.
pub fn verify_wire_signature(public_key: &[u8], message: &[u8], sig_b64: &str) -> Result<(), SigError> {
    let bytes = unb64(sig_b64).ok_or(SigError::InvalidEncoding)?;
    if bytes.len() != 64 {
        return Err(SigError::InvalidEncoding);
    }
    let key = parse_public_key(public_key)?;
    let sig = Signature::from_slice(&bytes).map_err(|_| SigError::InvalidEncoding)?;
    verify(&key, message, &sig)
}

/// A 32-byte symmetric key that is wiped on drop and never printed.
pub struct SecretKey(Zeroizing<[u8; 32]>);

impl SecretKey {
    /// A new random key.
    pub fn generate() -> Self {
        SecretKey(Zeroizing::new(random_array()))
    }
    /// Take ownership of key bytes (the caller's copy should be zeroized).
    pub fn from_slice(b: &[u8]) -> Option<Self> {
        let arr: [u8; 32] = b.try_into().ok()?;
        Some(SecretKey(Zeroizing::new(arr)))
    }
    /// The key bytes; keep the borrow short.
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
    /// Derive an independent sub-key with HKDF-SHA-256 (`info` names its use).
    pub fn derive(&self, info: &str) -> SecretKey {
        let hk = hkdf::Hkdf::<sha2::Sha256>::new(Some(b"citizen-core/hkdf/v1"), self.0.as_ref());
        let mut out = Zeroizing::new([0u8; 32]);
        hk.expand(info.as_bytes(), out.as_mut()).expect("32 bytes is a valid HKDF length");
        SecretKey(out)
    }
    /// HMAC-SHA-256 under this key (every part length-prefixed, see [`len_prefix`]).
    pub fn hmac(&self, parts: &[&[u8]]) -> [u8; 32] {
        use hmac::{Hmac, Mac};
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(self.0.as_ref()).expect("any key length");
        for p in parts {
            mac.update(&len_prefix(p.len()));
            mac.update(p);
        }
        mac.finalize().into_bytes().into()
    }

    /// Seal `plaintext` with AES-256-GCM; `aad` names what the value is (table, column, row).
    /// Output: `0x01 || nonce(12) || ciphertext+tag`.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let cipher = Aes256Gcm::new_from_slice(self.0.as_ref()).expect("32-byte key");
        let nonce: [u8; NONCE_LEN] = random_array();
        let ct = cipher
            .encrypt(&Nonce::from(nonce), Payload { msg: plaintext, aad })
            .expect("AES-GCM encryption cannot fail for in-memory buffers");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ct.len());
        out.push(SEAL_V1);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        out
    }

    /// Open a value made by [`SecretKey::seal`] with the same `aad`.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        if sealed.len() < 1 + NONCE_LEN + 16 || sealed[0] != SEAL_V1 {
            return None;
        }
        let cipher = Aes256Gcm::new_from_slice(self.0.as_ref()).expect("32-byte key");
        let (nonce, ct) = sealed[1..].split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
        cipher.decrypt(&Nonce::from(nonce), Payload { msg: ct, aad }).ok().map(Zeroizing::new)
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// The 4-byte big-endian length prefix of the injective encodings (signed statement, receipt,
/// activity chain, HMAC inputs).
///
/// Panics rather than truncating if `len` does not fit in a `u32`: a silently truncated prefix
/// would let two different inputs encode the same. Every caller encodes in-memory fields that are
/// bounded at validation (request bodies and records are capped far below 4 GiB), so this is an
/// invariant, not an input error.
pub fn len_prefix(len: usize) -> [u8; 4] {
    u32::try_from(len).expect("length-prefixed field bounded far below 4 GiB").to_be_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::Signer;
    use p256::ecdsa::SigningKey;

    /// A key-store signature as bytes plus encoding (the core's `DeviceSignature`).
    #[derive(Clone)]
    struct DS {
        bytes: Vec<u8>,
        format: SignatureEncoding,
    }

    fn vds(pk: &[u8], msg: &[u8], s: &DS) -> Result<Signature, SigError> {
        verify_key_store_signature(pk, msg, &s.bytes, s.format)
    }

    fn key() -> SigningKey {
        SigningKey::from_slice(&[7u8; 32]).unwrap()
    }

    #[test]
    fn der_and_raw_signatures_verify_and_mutations_fail() {
        let sk = key();
        let vk = VerifyingKey::from(&sk);
        let msg = b"hello";
        let sig: Signature = sk.sign(msg);
        let pk = sec1_uncompressed(&vk);
        let der = DS { bytes: sig.to_der().as_bytes().to_vec(), format: SignatureEncoding::Der };
        let raw = DS { bytes: sig.to_bytes().to_vec(), format: SignatureEncoding::Raw };
        assert_eq!(vds(&pk, msg, &der).unwrap(), low_s(sig));
        assert_eq!(vds(&pk, msg, &raw).unwrap(), low_s(sig));
        // SPKI-encoded key works too.
        use p256::pkcs8::EncodePublicKey;
        let spki = vk.to_public_key_der().unwrap();
        assert!(vds(spki.as_bytes(), msg, &raw).is_ok());
        // Wrong message, wrong format label, flipped bit.
        assert_eq!(vds(&pk, b"hellp", &raw), Err(SigError::Mismatch));
        let mislabelled = DS { bytes: raw.bytes.clone(), format: SignatureEncoding::Der };
        assert_eq!(vds(&pk, msg, &mislabelled), Err(SigError::InvalidEncoding));
        let mut flipped = raw.clone();
        flipped.bytes[40] ^= 1;
        assert!(vds(&pk, msg, &flipped).is_err());
        let mut long = der.clone();
        long.bytes.push(0);
        assert_eq!(vds(&pk, msg, &long), Err(SigError::InvalidEncoding));
        assert_eq!(parse_public_key(&[4u8; 65]).unwrap_err(), SigError::InvalidKey);
        assert_eq!(parse_public_key(&[]).unwrap_err(), SigError::InvalidKey);
    }

    /// The twin `(r, n − s)` of a signature: valid ECDSA, the other `s`.
    fn twin(sig: &Signature) -> Signature {
        let (r, s) = sig.split_scalars();
        Signature::from_scalars(r, -s).unwrap()
    }

    #[test]
    fn high_s_twins_are_refused_on_receipt_and_normalised_from_key_stores() {
        let sk = key();
        let pk = sec1_uncompressed(&VerifyingKey::from(&sk));
        for i in 0..8u8 {
            let msg = [b'm', i];
            let sig: Signature = sk.sign(&msg);
            let (low, high) = if is_low_s(&sig) { (sig, twin(&sig)) } else { (twin(&sig), sig) };
            assert!(is_low_s(&low) && !is_low_s(&high));
            // Both twins are mathematically valid ECDSA…
            assert!(VerifyingKey::from(&sk).verify(&msg, &high).is_ok());
            // …but a received high-S signature is refused, the low one accepted.
            assert_eq!(verify_wire_signature(&pk, &msg, &b64(&high.to_bytes())), Err(SigError::HighS));
            assert_eq!(verify_wire_signature(&pk, &msg, &b64(&low.to_bytes())), Ok(()));
            // A key store's high-S signature (raw or DER) is normalised, not refused.
            for ds in [
                DS { bytes: high.to_bytes().to_vec(), format: SignatureEncoding::Raw },
                DS { bytes: high.to_der().as_bytes().to_vec(), format: SignatureEncoding::Der },
            ] {
                assert_eq!(vds(&pk, &msg, &ds).unwrap(), low);
            }
            // JWS: the signature segment is checked and normalised the same way.
            let jws_high = format!("h.p.{}", b64(&high.to_bytes()));
            assert!(!jws_signature_is_low_s(&jws_high));
            assert!(jws_signature_is_low_s(&low_s_jws(&jws_high)));
            assert_eq!(low_s_jws(&jws_high), format!("h.p.{}", b64(&low.to_bytes())));
        }
        assert!(!jws_signature_is_low_s("h.p.AA"));
        assert!(!jws_signature_is_low_s("no-dots"));
    }

    #[test]
    fn sealed_fields_are_bound_to_their_label() {
        let k = SecretKey::generate();
        let s = k.seal(b"account.cccd", b"001090000123");
        assert_eq!(k.open(b"account.cccd", &s).unwrap().as_slice(), b"001090000123");
        assert!(k.open(b"account.phone", &s).is_none());
        let mut t = s.clone();
        t[20] ^= 1;
        assert!(k.open(b"account.cccd", &t).is_none());
        assert!(SecretKey::generate().open(b"account.cccd", &s).is_none());
        assert!(k.open(b"x", &[1, 2, 3]).is_none());
        // Fresh nonce each time.
        assert_ne!(k.seal(b"a", b"x"), k.seal(b"a", b"x"));
        assert_eq!(format!("{k:?}"), "SecretKey(<redacted>)");
    }

    #[test]
    fn derived_keys_differ_by_purpose() {
        let k = SecretKey::generate();
        assert_ne!(k.derive("a").expose(), k.derive("b").expose());
        assert_eq!(k.derive("a").expose(), k.derive("a").expose());
    }

    /// A compact ES256 JWS over `payload` with `header`, signed by `sk` (low-S unless `high`).
    fn es256(sk: &SigningKey, header: &str, payload: &str, high: bool) -> String {
        let input = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
        let sig = low_s(sk.sign(input.as_bytes()));
        let sig = if high { Signature::from_scalars(sig.r(), -*sig.s()).unwrap() } else { sig };
        format!("{input}.{}", b64(&sig.to_bytes()))
    }

    fn jwk(sk: &SigningKey) -> jsonwebtoken::jwk::Jwk {
        let p = sk.verifying_key().to_encoded_point(false);
        serde_json::from_value(serde_json::json!({
            "kty": "EC", "crv": "P-256", "kid": "k", "x": b64(p.x().unwrap()), "y": b64(p.y().unwrap()),
        }))
        .unwrap()
    }

    #[test]
    fn es256_compact_jws_verifies_only_as_signed() {
        let sk = key();
        let vk = p256_key_from_jwk(&jwk(&sk)).unwrap();
        assert_eq!(&vk, sk.verifying_key());
        let good = es256(&sk, r#"{"alg":"ES256","kid":"k"}"#, r#"{"n":1}"#, false);
        assert_eq!(verify_es256_compact(&good, &vk).unwrap(), br#"{"n":1}"#);

        let other = SigningKey::from_slice(&[9u8; 32]).unwrap();
        assert!(verify_es256_compact(&good, other.verifying_key()).is_none(), "another key");
        let (input, sig) = good.rsplit_once('.').unwrap();
        let changed = format!("{}.{sig}", input.replace(&b64(br#"{"n":1}"#), &b64(br#"{"n":2}"#)));
        assert!(verify_es256_compact(&changed, &vk).is_none(), "changed payload");
        let high = es256(&sk, r#"{"alg":"ES256"}"#, "{}", true);
        assert!(verify_es256_compact(&high, &vk).is_none(), "high-S twin");
        assert!(verify_es256_compact(&low_s_jws(&high), &vk).is_some(), "its low-S form verifies");
        let hs = es256(&sk, r#"{"alg":"HS256"}"#, "{}", false);
        assert!(verify_es256_compact(&hs, &vk).is_none(), "another alg in the header");
        let none = es256(&sk, r#"{"kid":"k"}"#, "{}", false);
        assert!(verify_es256_compact(&none, &vk).is_none(), "no alg");
        assert!(verify_es256_compact(&format!("{good}.x"), &vk).is_none(), "four parts");
        assert!(verify_es256_compact(input, &vk).is_none(), "two parts");
        assert!(verify_es256_compact(&format!("{input}.!!"), &vk).is_none(), "bad base64");
    }

    /// Claims of every kind the server key signs, each with its own `typ`.
    fn kinds() -> Vec<(&'static str, String)> {
        use crate::jwt::{typ, JwtKind};
        use crate::protocol::rp::{IdTokenClaims, ReceiptCountersignClaims, RegistryClaims};
        let id = IdTokenClaims {
            iss: "https://id".into(),
            sub: "s".into(),
            aud: "dvc-demo".into(),
            nonce: "n".into(),
            sid: "sid".into(),
            iat: 1,
            exp: 2,
            auth_time: 1,
            claims: Default::default(),
            standard: Default::default(),
        };
        let reg = RegistryClaims { iss: "https://id".into(), iat: 1, exp: 2, version: 1, relying_parties: vec![] };
        let rc = ReceiptCountersignClaims {
            iss: "https://id".into(),
            receipt_id: "r".into(),
            receipt_digest: "d".into(),
            device_id: "dev".into(),
            device_signature: "sig".into(),
            counter: 1,
            countersigned_at: 1,
        };
        let anchor = crate::activity::AnchorClaims {
            iss: "https://id".into(),
            device_id: "dev".into(),
            seq: 1,
            hash: "h".into(),
            anchored_at: 1,
        };
        let sub = crate::protocol::services::ReceiptClaims {
            iss: "https://id".into(),
            submission_id: "s".into(),
            case_number: "c".into(),
            procedure_id: "p".into(),
            procedure_version: 1,
            payload_sha256: "d".into(),
            received_at: 1,
            due_date: "2026-01-01".into(),
            on_behalf: None,
        };
        assert_eq!(typ::ID_TOKEN, IdTokenClaims::TYP);
        vec![
            (IdTokenClaims::TYP, serde_json::to_string(&id).unwrap()),
            (RegistryClaims::TYP, serde_json::to_string(&reg).unwrap()),
            (ReceiptCountersignClaims::TYP, serde_json::to_string(&rc).unwrap()),
            (crate::activity::AnchorClaims::TYP, serde_json::to_string(&anchor).unwrap()),
            (crate::protocol::services::ReceiptClaims::TYP, serde_json::to_string(&sub).unwrap()),
        ]
    }

    /// Whether `decode_es256` accepts `jws` as kind `kind` (by its `typ`).
    fn accepts(kind: &str, jws: &str, key: &jsonwebtoken::jwk::Jwk) -> bool {
        use crate::jwt::JwtKind;
        use crate::protocol::rp::{IdTokenClaims, ReceiptCountersignClaims, RegistryClaims};
        match kind {
            k if k == IdTokenClaims::TYP => decode_es256::<IdTokenClaims>(jws, key).is_some(),
            k if k == RegistryClaims::TYP => decode_es256::<RegistryClaims>(jws, key).is_some(),
            k if k == ReceiptCountersignClaims::TYP => decode_es256::<ReceiptCountersignClaims>(jws, key).is_some(),
            k if k == crate::activity::AnchorClaims::TYP => {
                decode_es256::<crate::activity::AnchorClaims>(jws, key).is_some()
            }
            k if k == crate::protocol::services::ReceiptClaims::TYP => {
                decode_es256::<crate::protocol::services::ReceiptClaims>(jws, key).is_some()
            }
            _ => unreachable!(),
        }
    }

    /// Substitution (RFC 8725 §3.11): before explicit typing, a JWT the server key signed as one
    /// kind with claims a verifier of another kind could parse was accepted as that other kind.
    /// Every verifier now refuses every other kind's `typ`, and a missing `typ`.
    #[test]
    fn a_jwt_of_one_kind_is_refused_as_another() {
        let sk = key();
        let key = jwk(&sk);
        for (kind, claims) in kinds() {
            let right = es256(&sk, &format!(r#"{{"alg":"ES256","typ":"{kind}"}}"#), &claims, false);
            assert!(accepts(kind, &right, &key), "{kind} with its own typ");
            let untyped = es256(&sk, r#"{"alg":"ES256"}"#, &claims, false);
            assert!(!accepts(kind, &untyped, &key), "{kind} without typ accepted");
            for other in crate::jwt::typ::ALL.iter().filter(|t| !crate::jwt::typ_matches(t, kind)) {
                let wrong = es256(&sk, &format!(r#"{{"alg":"ES256","typ":"{other}"}}"#), &claims, false);
                assert!(!accepts(kind, &wrong, &key), "{kind} claims typed {other} accepted as {kind}");
            }
        }
    }

    #[test]
    fn only_p256_jwks_give_a_key() {
        let sk = key();
        let mut v = serde_json::to_value(jwk(&sk)).unwrap();
        v["crv"] = "P-384".into();
        assert!(serde_json::from_value(v.clone()).ok().and_then(|j| p256_key_from_jwk(&j)).is_none());
        v["crv"] = "P-256".into();
        v["x"] = b64(&[1u8; 32]).into();
        assert!(p256_key_from_jwk(&serde_json::from_value(v).unwrap()).is_none(), "not on the curve");
        let rsa: jsonwebtoken::jwk::Jwk =
            serde_json::from_value(serde_json::json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"})).unwrap();
        assert!(p256_key_from_jwk(&rsa).is_none());
    }
}
