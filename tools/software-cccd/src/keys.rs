//! Deterministic test keys (derived from labels, so every run builds the same card and PKI)
//! and a deterministic random source for the card's nonces.

use citizen_chip::ec::{Curve, SecretScalar};
use citizen_chip::RandomSource;
use ecdsa::signature::hazmat::PrehashSigner;
use sha2::{Digest, Sha256};

/// An EC key pair on one of the chip curves.
#[derive(Clone)]
pub struct KeyPair {
    /// The curve.
    pub curve: Curve,
    secret: [u8; 32],
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyPair({:?}, <secret redacted>)", self.curve)
    }
}

impl KeyPair {
    /// The key pair derived from `label` (SHA-256 with a counter until the scalar is in range).
    pub fn derive(curve: Curve, label: &str) -> Self {
        let mut counter = 0u32;
        loop {
            let mut h = Sha256::new();
            h.update(label.as_bytes());
            h.update(counter.to_be_bytes());
            let secret: [u8; 32] = h.finalize().into();
            if curve.secret_from_bytes(&secret).is_ok() {
                return KeyPair { curve, secret };
            }
            counter += 1;
        }
    }

    /// The secret scalar (for ECDH).
    pub fn scalar(&self) -> SecretScalar {
        // In range by construction.
        #[allow(clippy::expect_used)]
        self.curve.secret_from_bytes(&self.secret).expect("derived in range")
    }

    /// The uncompressed public point.
    pub fn public(&self) -> Vec<u8> {
        #[allow(clippy::expect_used)]
        self.curve.generator().mul(&self.scalar()).expect("non-zero scalar").encode()
    }

    /// ECDSA over a prehash: plain r ‖ s (64 bytes).
    pub fn sign_prehash(&self, prehash: &[u8]) -> Vec<u8> {
        #[allow(clippy::expect_used)]
        match self.curve {
            Curve::P256 => {
                let k = ecdsa::SigningKey::<p256::NistP256>::from_slice(&self.secret).expect("in range");
                let sig: ecdsa::Signature<p256::NistP256> = k.sign_prehash(prehash).expect("signing");
                sig.to_bytes().to_vec()
            }
            Curve::BrainpoolP256r1 => {
                let k = ecdsa::SigningKey::<bp256::BrainpoolP256r1>::from_slice(&self.secret).expect("in range");
                let sig: ecdsa::Signature<bp256::BrainpoolP256r1> = k.sign_prehash(prehash).expect("signing");
                sig.to_bytes().to_vec()
            }
        }
    }

    /// ECDSA over a prehash, DER encoded (`SEQUENCE { r, s }`).
    pub fn sign_prehash_der(&self, prehash: &[u8]) -> Vec<u8> {
        let plain = self.sign_prehash(prehash);
        let r = citizen_chip::tlv::der_uint(&plain[..32]);
        let s = citizen_chip::tlv::der_uint(&plain[32..]);
        citizen_chip::tlv::encode(0x30, &[r, s].concat())
    }
}

/// A deterministic random source (SHA-256 in counter mode over a seed) for the card's nonces
/// and ephemeral keys. Not for production: the reader uses [`citizen_chip::OsRandom`].
#[derive(Debug, Clone)]
pub struct SeededRandom {
    seed: [u8; 32],
    counter: u64,
}

impl SeededRandom {
    /// From a label.
    pub fn new(label: &str) -> Self {
        SeededRandom { seed: Sha256::digest(label.as_bytes()).into(), counter: 0 }
    }
}

impl RandomSource for SeededRandom {
    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(32) {
            let mut h = Sha256::new();
            h.update(self.seed);
            h.update(self.counter.to_be_bytes());
            self.counter += 1;
            let block = h.finalize();
            chunk.copy_from_slice(&block[..chunk.len()]);
        }
    }
}
