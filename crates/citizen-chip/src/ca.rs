//! Chip authentication (ICAO 9303 Part 11 §6.2, ECDH): the reader sends an ephemeral public key
//! on the curve of DG14's chip key; both ends derive K = x(sk · PK) and restart secure messaging
//! with KDF(K, 1/2) and SSC 0. Success is implicit: only a chip holding DG14's private key can
//! MAC the next response, so a clone with copied EF.SOD and data groups fails right there.

use crate::apdu::Command;
use crate::ec::SecretScalar;
use crate::error::{ChipError, Result};
use crate::kdf::Cipher;
use crate::lds::Dg14;
use crate::sm::SecureChannel;
use crate::{oid, tlv, RandomSource};

/// The commands to send (under the current channel) and the channel to switch to afterwards.
pub struct ChipAuthentication {
    /// MSE:Set AT + GENERAL AUTHENTICATE (AES), or MSE:Set KAT (3DES).
    pub commands: Vec<Command>,
    /// The new channel, used from the command after the last one.
    pub channel: SecureChannel,
}

impl std::fmt::Debug for ChipAuthentication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ChipAuthentication({} commands, <keys redacted>)", self.commands.len())
    }
}

/// Prepare chip authentication from DG14 (which passive authentication must later confirm).
pub fn prepare(dg14: &Dg14, rng: &mut dyn RandomSource) -> Result<ChipAuthentication> {
    let (curve, chip_key, key_id) =
        dg14.ca_key.clone().ok_or(ChipError::UnsupportedProtocol("DG14 has no chip authentication key"))?;
    let (protocol, cipher, _) = dg14.ca.unwrap_or((oid::CA_ECDH_3DES, Cipher::Tdes, None));
    let sk: SecretScalar = curve.random_secret(rng);
    let pk = curve.generator().mul(&sk)?.encode();
    let k = curve.decode_point(&chip_key)?.mul(&sk)?.x();
    let channel = SecureChannel::from_secret(cipher, &k)?;
    let key_ref = key_id.map(|id| tlv::encode(0x84, &tlv::der_uint(&id.to_be_bytes())[2..])).unwrap_or_default();
    let commands = if cipher == Cipher::Tdes {
        let data = [tlv::encode(0x91, &pk), key_ref].concat();
        vec![Command::new(0x00, 0x22, 0x41, 0xA6).with_data(data)]
    } else {
        let mse = [tlv::encode(0x80, oid::der(&protocol)), key_ref].concat();
        vec![
            Command::new(0x00, 0x22, 0x41, 0xA4).with_data(mse),
            Command::new(0x00, 0x86, 0x00, 0x00).with_data(tlv::encode(0x7C, &tlv::encode(0x80, &pk))).with_le(256),
        ]
    };
    Ok(ChipAuthentication { commands, channel })
}
