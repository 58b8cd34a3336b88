//! The server's ECDSA P-256: every device statement the server verifies and every JWS it signs
//! goes through here (issue 14, ARCHITECTURE.md decision 36).
//!
//! Why ring and not `p256`: ring is already linked through rustls, and its P-256 is hand-tuned
//! (verify ≈ 57 µs, sign ≈ 18 µs of CPU on the reference machine: 6–15× faster than `p256`). The
//! protocol's rules stay those of `citizen_protocol::crypto::verify_wire_signature` — same
//! checks, same order, same errors — with only the curve arithmetic delegated to ring:
//! base64url raw `r‖s` of exactly 64 bytes, a valid public key (SEC1 or SPKI, parsed by the
//! protocol crate), `r` and `s` in range and non-zero, `s` in low-S form, then the signature.
//! The core keeps `p256` (the chip and the card name it); the tests below hold both to the same
//! answers on every Wycheproof vector.

use citizen_protocol::crypto::{self, SigError};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING};

/// Verify a received wire signature (base64url raw `r‖s`) of `message` against a public key
/// (SEC1 uncompressed or compressed, or SPKI DER). High-S signatures are refused
/// ([`SigError::HighS`]), exactly as [`crypto::verify_wire_signature`] does.
pub fn verify_wire_signature(public_key: &[u8], message: &[u8], sig_b64: &str) -> Result<(), SigError> {
    let bytes = crypto::unb64(sig_b64).ok_or(SigError::InvalidEncoding)?;
    if bytes.len() != 64 {
        return Err(SigError::InvalidEncoding);
    }
    let key = crypto::parse_public_key(public_key)?;
    // Range checks of r and s (non-zero, below n) and the low-S rule, before any curve work.
    let sig = p256::ecdsa::Signature::from_slice(&bytes).map_err(|_| SigError::InvalidEncoding)?;
    if !crypto::is_low_s(&sig) {
        return Err(SigError::HighS);
    }
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, crypto::sec1_uncompressed(&key))
        .verify(message, &bytes)
        .map_err(|_| SigError::Mismatch)
}

/// A P-256 signing key parsed once (the server's token and receipt key): no PKCS#8 decoding
/// per signature. Signatures come out in low-S form, the only form every verifier of this
/// project accepts.
pub struct Signer {
    pair: EcdsaKeyPair,
    rng: SystemRandom,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(..)")
    }
}

impl Signer {
    /// The ring key pair of a `p256` signing key.
    pub fn from_p256(sk: &p256::ecdsa::SigningKey) -> Result<Self, String> {
        let rng = SystemRandom::new();
        let public = sk.verifying_key().to_encoded_point(false);
        let secret = zeroize::Zeroizing::new(sk.to_bytes());
        let pair = EcdsaKeyPair::from_private_key_and_public_key(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &secret[..],
            public.as_bytes(),
            &rng,
        )
        .map_err(|e| format!("signing key refused: {e}"))?;
        Ok(Signer { pair, rng })
    }

    /// ES256 signature of `message`: raw `r‖s`, 64 bytes, low-S.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        let sig = self.pair.sign(&self.rng, message).expect("ECDSA signing with a valid key and the system RNG");
        let sig = p256::ecdsa::Signature::from_slice(sig.as_ref()).expect("ring returns raw r||s in range");
        crypto::low_s(sig).to_bytes().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use citizen_protocol::crypto::b64;
    use p256::ecdsa::signature::Signer as _;
    use p256::ecdsa::{Signature, SigningKey};

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_slice(&[seed; 32]).unwrap()
    }

    fn sec1(sk: &SigningKey) -> Vec<u8> {
        sk.verifying_key().to_encoded_point(false).as_bytes().to_vec()
    }

    /// The high-S twin of a low-S signature (`s` → `n − s`).
    fn high_s(sig: &Signature) -> Signature {
        let (r, s) = sig.split_scalars();
        Signature::from_scalars(r, -*s).unwrap()
    }

    /// Ours and the protocol crate's reference function give the same answer.
    fn both(pk: &[u8], msg: &[u8], sig: &str) -> Result<(), SigError> {
        let ours = verify_wire_signature(pk, msg, sig);
        assert_eq!(
            format!("{ours:?}"),
            format!("{:?}", crypto::verify_wire_signature(pk, msg, sig)),
            "ring path and p256 path disagree"
        );
        ours
    }

    #[test]
    fn valid_signatures_verify_and_everything_else_is_refused_as_before() {
        let sk = key(7);
        let msg = b"statement bytes";
        let sig = crypto::low_s(sk.sign(msg));
        let good = b64(&sig.to_bytes());
        assert_eq!(both(&sec1(&sk), msg, &good), Ok(()));
        // Compressed SEC1 and SPKI DER keys are accepted as before.
        let compressed = sk.verifying_key().to_encoded_point(true).as_bytes().to_vec();
        assert_eq!(both(&compressed, msg, &good), Ok(()));
        use p256::pkcs8::EncodePublicKey;
        let spki = sk.verifying_key().to_public_key_der().unwrap().as_bytes().to_vec();
        assert_eq!(both(&spki, msg, &good), Ok(()));
        // Tampered message, wrong key.
        assert_eq!(both(&sec1(&sk), b"statement bytez", &good), Err(SigError::Mismatch));
        assert_eq!(both(&sec1(&key(8)), msg, &good), Err(SigError::Mismatch));
        // Tampered signature (one bit of r).
        let mut raw = sig.to_bytes().to_vec();
        raw[5] ^= 1;
        assert_eq!(both(&sec1(&sk), msg, &b64(&raw)), Err(SigError::Mismatch));
        // The high-S twin of a valid signature.
        assert_eq!(both(&sec1(&sk), msg, &b64(&high_s(&sig).to_bytes())), Err(SigError::HighS));
        // Malformed: not base64url, wrong length, DER instead of raw, r = 0, s = n.
        assert_eq!(both(&sec1(&sk), msg, "!!"), Err(SigError::InvalidEncoding));
        assert_eq!(both(&sec1(&sk), msg, &b64(&raw[..63])), Err(SigError::InvalidEncoding));
        assert_eq!(both(&sec1(&sk), msg, &b64(sig.to_der().as_bytes())), Err(SigError::InvalidEncoding));
        let mut zero_r = sig.to_bytes().to_vec();
        zero_r[..32].fill(0);
        assert_eq!(both(&sec1(&sk), msg, &b64(&zero_r)), Err(SigError::InvalidEncoding));
        let n = hex32("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
        let mut s_is_n = sig.to_bytes().to_vec();
        s_is_n[32..].copy_from_slice(&n);
        assert_eq!(both(&sec1(&sk), msg, &b64(&s_is_n)), Err(SigError::InvalidEncoding));
        // Invalid keys: not on the curve, truncated, empty.
        let mut off_curve = sec1(&sk);
        off_curve[64] ^= 1;
        assert_eq!(both(&off_curve, msg, &good), Err(SigError::InvalidKey));
        assert_eq!(both(&sec1(&sk)[..64], msg, &good), Err(SigError::InvalidKey));
        assert_eq!(both(&[], msg, &good), Err(SigError::InvalidKey));
    }

    fn hex32(h: &str) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (i, b) in out.iter_mut().enumerate() {
            *b = u8::from_str_radix(&h[2 * i..2 * i + 2], 16).unwrap();
        }
        out
    }

    /// Every Wycheproof P-256/SHA-256 vector in raw (P1363) form: the ring path answers exactly
    /// as the protocol crate's p256 path (which the core's own Wycheproof test holds to the
    /// expected results, high-S refused).
    #[test]
    fn wycheproof_vectors_answer_as_the_protocol_crate() {
        use wycheproof::ecdsa::{TestName, TestSet};
        let set = TestSet::load(TestName::EcdsaSecp256r1Sha256P1363).unwrap();
        let (mut total, mut accepted) = (0, 0);
        for group in &set.test_groups {
            let pk = group.key.key.as_ref();
            for t in &group.tests {
                total += 1;
                if both(pk, &t.msg, &b64(&t.sig)).is_ok() {
                    accepted += 1;
                }
            }
        }
        assert!(total >= 240 && accepted > 0, "{total} vectors, {accepted} accepted");
    }

    #[test]
    fn signer_signs_low_s_and_verifies_with_both_paths() {
        let sk = key(9);
        let signer = Signer::from_p256(&sk).unwrap();
        for i in 0..64u8 {
            let msg = [i; 40];
            let sig = signer.sign(&msg);
            assert!(crypto::is_low_s(&Signature::from_slice(&sig).unwrap()));
            assert_eq!(both(&sec1(&sk), &msg, &b64(&sig)), Ok(()));
        }
        assert_eq!(format!("{signer:?}"), "Signer(..)");
    }
}
