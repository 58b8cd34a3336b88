//! Active authentication (ICAO 9303 Part 11 §6.1): INTERNAL AUTHENTICATE over a challenge the
//! caller supplies (later the server's nonce, so the proof is fresh and can be re-checked
//! remotely), verified with DG15's public key. EC keys only (plain r ‖ s ECDSA, SHA-256 unless
//! DG14 names another algorithm we support); RSA / ISO 9796-2 is not implemented.

use crate::apdu::Command;
use crate::ec::{verify_prehash, Curve};
use crate::error::{ChipError, Result};
use crate::oid;
use crate::pa::HashAlg;

/// INTERNAL AUTHENTICATE with an 8-byte challenge.
pub fn internal_authenticate(challenge: &[u8; 8]) -> Command {
    Command::new(0x00, 0x88, 0x00, 0x00).with_data(challenge.to_vec()).with_le(256)
}

/// The hash an ECDSA active authentication uses, from DG14's ActiveAuthenticationInfo.
pub fn hash_for(algorithm: Option<&const_oid::ObjectIdentifier>) -> Result<HashAlg> {
    match algorithm {
        None => Ok(HashAlg::Sha256),
        Some(a) if *a == oid::ECDSA_PLAIN_SHA256 || *a == oid::ECDSA_SHA256 => Ok(HashAlg::Sha256),
        Some(_) => Err(ChipError::UnsupportedProtocol("active authentication signature algorithm")),
    }
}

/// Verify the chip's signature over `challenge` with DG15's key.
pub fn verify(key: &(Curve, Vec<u8>), hash: HashAlg, challenge: &[u8], signature: &[u8]) -> Result<()> {
    if verify_prehash(key.0, &key.1, &hash.digest(challenge), signature, false) {
        Ok(())
    } else {
        Err(ChipError::ChipNotGenuine("active authentication signature does not verify"))
    }
}
