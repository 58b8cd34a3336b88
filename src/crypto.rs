//! Cryptographic building blocks. The pure primitives (key parsing, signature normalisation
//! and low-S checks, HKDF, sealing, base64url) live in the sans-I/O protocol crate
//! ([`citizen_protocol::crypto`]) and are re-exported here; this module adds the two entry
//! points that take the key store's UniFFI [`DeviceSignature`].

pub use citizen_protocol::crypto::*;
use p256::ecdsa::Signature;

use crate::platform::{DeviceSignature, SignatureFormat};

fn encoding(format: SignatureFormat) -> SignatureEncoding {
    match format {
        SignatureFormat::Der => SignatureEncoding::Der,
        SignatureFormat::Raw => SignatureEncoding::Raw,
    }
}

/// Normalise a key-store signature to a canonical low-S P-256 signature
/// ([`normalize_key_store_signature`]).
pub fn normalize_signature(sig: &DeviceSignature) -> Result<Signature, SigError> {
    normalize_key_store_signature(&sig.bytes, encoding(sig.format))
}

/// Normalise then verify: the one path every device signature goes through, on both sides
/// ([`verify_key_store_signature`]).
pub fn verify_device_signature(
    public_key: &[u8],
    message: &[u8],
    sig: &DeviceSignature,
) -> Result<Signature, SigError> {
    verify_key_store_signature(public_key, message, &sig.bytes, encoding(sig.format))
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::Signer;
    use p256::ecdsa::{SigningKey, VerifyingKey};

    #[test]
    fn device_signatures_map_onto_the_protocol_encodings() {
        let sk = SigningKey::from_slice(&[7u8; 32]).unwrap();
        let pk = sec1_uncompressed(&VerifyingKey::from(&sk));
        let sig: Signature = sk.sign(b"m");
        let der = DeviceSignature { bytes: sig.to_der().as_bytes().to_vec(), format: SignatureFormat::Der };
        let raw = DeviceSignature { bytes: sig.to_bytes().to_vec(), format: SignatureFormat::Raw };
        assert_eq!(verify_device_signature(&pk, b"m", &der).unwrap(), low_s(sig));
        assert_eq!(normalize_signature(&raw).unwrap(), low_s(sig));
        let mislabelled = DeviceSignature { bytes: raw.bytes.clone(), format: SignatureFormat::Der };
        assert_eq!(verify_device_signature(&pk, b"m", &mislabelled), Err(SigError::InvalidEncoding));
    }
}
