//! Secure messaging (ICAO 9303 Part 11 §9.8): both ends of the channel.
//!
//! The reader [`wrap`](SecureChannel::wrap)s commands and [`unwrap`](SecureChannel::unwrap)s
//! responses; the card side (the software card of the tests) does the reverse with
//! [`unwrap_command`](SecureChannel::unwrap_command) and
//! [`wrap_response`](SecureChannel::wrap_response). Every message increments the send sequence
//! counter (SSC). The MAC is always checked before anything is decrypted, in constant time.

use zeroize::Zeroizing;

use crate::apdu::{Command, Response};
use crate::crypto::{self, aes_block, aes_cmac8, ct_eq, pad, retail_mac, unpad};
use crate::error::{ChipError, Result};
use crate::kdf::{self, Cipher};
use crate::tlv;

/// The SM status words that mean the chip dropped the channel.
pub const SW_SM_MISSING: u16 = 0x6987;
/// Incorrect SM data objects.
pub const SW_SM_INCORRECT: u16 = 0x6988;

/// An established secure-messaging channel: session keys, cipher and SSC.
pub struct SecureChannel {
    cipher: Cipher,
    ks_enc: Zeroizing<Vec<u8>>,
    ks_mac: Zeroizing<Vec<u8>>,
    ssc: Vec<u8>,
}

impl std::fmt::Debug for SecureChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecureChannel({:?}, <keys redacted>)", self.cipher)
    }
}

impl SecureChannel {
    /// A channel from session keys and an initial SSC (8 bytes for 3DES, 16 for AES).
    pub fn new(cipher: Cipher, ks_enc: &[u8], ks_mac: &[u8], ssc: &[u8]) -> Result<Self> {
        let block = Self::block_size_of(cipher);
        if ks_enc.len() != cipher.key_len() || ks_mac.len() != cipher.key_len() || ssc.len() != block {
            return Err(ChipError::Protocol("secure messaging key or SSC of the wrong length"));
        }
        Ok(SecureChannel {
            cipher,
            ks_enc: Zeroizing::new(ks_enc.to_vec()),
            ks_mac: Zeroizing::new(ks_mac.to_vec()),
            ssc: ssc.to_vec(),
        })
    }

    /// Session keys from a shared secret (PACE K, CA K, BAC K_seed) with SSC 0 (PACE and CA).
    pub fn from_secret(cipher: Cipher, secret: &[u8]) -> Result<Self> {
        let enc = kdf::kdf(secret, kdf::ENC, cipher);
        let mac = kdf::kdf(secret, kdf::MAC, cipher);
        Self::new(cipher, &enc, &mac, &vec![0u8; Self::block_size_of(cipher)])
    }

    fn block_size_of(cipher: Cipher) -> usize {
        if cipher == Cipher::Tdes {
            8
        } else {
            16
        }
    }

    /// The cipher of this channel.
    pub fn cipher(&self) -> Cipher {
        self.cipher
    }

    fn block(&self) -> usize {
        Self::block_size_of(self.cipher)
    }

    fn inc_ssc(&mut self) {
        for b in self.ssc.iter_mut().rev() {
            let (v, carry) = b.overflowing_add(1);
            *b = v;
            if !carry {
                break;
            }
        }
    }

    fn key16(&self, k: &[u8]) -> Result<[u8; 16]> {
        k.try_into().map_err(|_| ChipError::Protocol("3DES key length"))
    }

    fn encrypt(&self, data: &[u8]) -> Result<Vec<u8>> {
        let padded = pad(data, self.block());
        match self.cipher {
            Cipher::Tdes => crypto::tdes_encrypt(&self.key16(&self.ks_enc)?, &padded),
            _ => {
                let iv = self.aes_iv()?;
                crypto::aes_encrypt(&self.ks_enc, &iv, &padded)
            }
        }
    }

    fn decrypt(&self, data: &[u8]) -> Result<Vec<u8>> {
        let plain = match self.cipher {
            Cipher::Tdes => crypto::tdes_decrypt(&self.key16(&self.ks_enc)?, data)?,
            _ => {
                let iv = self.aes_iv()?;
                crypto::aes_decrypt(&self.ks_enc, &iv, data)?
            }
        };
        unpad(&plain)
    }

    fn aes_iv(&self) -> Result<[u8; 16]> {
        let ssc: [u8; 16] = self.ssc.as_slice().try_into().map_err(|_| ChipError::Protocol("SSC length"))?;
        aes_block(&self.ks_enc, &ssc)
    }

    /// MAC over `SSC ‖ data`, padded to the block size.
    fn mac(&self, data: &[u8]) -> Result<[u8; 8]> {
        let mut input = self.ssc.clone();
        input.extend_from_slice(data);
        let padded = pad(&input, self.block());
        match self.cipher {
            Cipher::Tdes => retail_mac(&self.key16(&self.ks_mac)?, &padded),
            _ => aes_cmac8(&self.ks_mac, &padded),
        }
    }

    fn le_bytes(le: usize, extended: bool) -> Vec<u8> {
        if extended {
            let v = u16::try_from(le).unwrap_or(0); // 65,536 is encoded as 0000
            v.to_be_bytes().to_vec()
        } else {
            vec![u8::try_from(le).unwrap_or(0)] // 256 is encoded as 00
        }
    }

    /// Protect a command (reader side).
    pub fn wrap(&mut self, cmd: &Command) -> Result<Command> {
        self.inc_ssc();
        let cla = cmd.cla | 0x0C;
        let header = pad(&[cla, cmd.ins, cmd.p1, cmd.p2], self.block());
        let mut dos = Vec::new();
        if !cmd.data.is_empty() {
            // Odd INS (e.g. READ BINARY B1 with an offset object) carries its data BER-TLV
            // encoded: DO'85' without the padding-content indicator; even INS uses DO'87'.
            if cmd.ins & 1 == 1 {
                dos.extend_from_slice(&tlv::encode(0x85, &self.encrypt(&cmd.data)?));
            } else {
                let mut v = vec![0x01];
                v.extend_from_slice(&self.encrypt(&cmd.data)?);
                dos.extend_from_slice(&tlv::encode(0x87, &v));
            }
        }
        if let Some(le) = cmd.le {
            dos.extend_from_slice(&tlv::encode(0x97, &Self::le_bytes(le, cmd.is_extended())));
        }
        let mut m = header;
        m.extend_from_slice(&dos);
        let cc = self.mac(&m)?;
        dos.extend_from_slice(&tlv::encode(0x8E, &cc));
        let extended = cmd.is_extended() || dos.len() > 255;
        Ok(Command {
            cla,
            ins: cmd.ins,
            p1: cmd.p1,
            p2: cmd.p2,
            data: dos,
            le: Some(if extended { 65536 } else { 256 }),
        })
    }

    /// Check and open a protected response (reader side). The MAC over DO'87' ‖ DO'99' is
    /// verified before DO'87' is decrypted. A response without any SM data object and with an
    /// error status is returned as is (the chip aborted the channel).
    pub fn unwrap(&mut self, resp: &Response) -> Result<Response> {
        self.inc_ssc();
        if resp.data.is_empty() {
            if resp.sw == SW_SM_MISSING || resp.sw == SW_SM_INCORRECT {
                return Err(ChipError::SecureMessaging("the chip reported a secure-messaging error"));
            }
            if resp.sw != crate::apdu::SW_OK {
                return Ok(resp.clone());
            }
            return Err(ChipError::SecureMessaging("response without a MAC"));
        }
        let dos = tlv::parse_all(&resp.data).map_err(|_| ChipError::SecureMessaging("malformed SM data objects"))?;
        let mut covered = Vec::new();
        let mut do87 = None;
        let mut do99 = None;
        let mut do8e = None;
        for d in &dos {
            match d.tag {
                0x87 if do87.is_none() && do99.is_none() && do8e.is_none() => {
                    do87 = Some(d.value);
                    covered.extend_from_slice(d.raw);
                }
                0x99 if do99.is_none() && do8e.is_none() => {
                    do99 = Some(d.value);
                    covered.extend_from_slice(d.raw);
                }
                0x8E if do8e.is_none() => do8e = Some(d.value),
                _ => return Err(ChipError::SecureMessaging("unexpected SM data object")),
            }
        }
        let cc = do8e.ok_or(ChipError::SecureMessaging("response without a MAC"))?;
        let expected = self.mac(&covered)?;
        if !ct_eq(cc, &expected) {
            return Err(ChipError::SecureMessaging("response MAC does not verify"));
        }
        let sw = match do99 {
            Some([a, b]) => u16::from_be_bytes([*a, *b]),
            _ => return Err(ChipError::SecureMessaging("missing or malformed DO'99'")),
        };
        let data = match do87 {
            Some([0x01, rest @ ..]) => self.decrypt(rest)?,
            Some(_) => return Err(ChipError::SecureMessaging("DO'87' without padding indicator 01")),
            None => Vec::new(),
        };
        Ok(Response { data, sw })
    }

    /// Check and open a protected command (card side). Returns the plain command.
    pub fn unwrap_command(&mut self, cmd: &Command) -> Result<Command> {
        self.inc_ssc();
        if cmd.cla & 0x0C != 0x0C {
            return Err(ChipError::SecureMessaging("command not protected"));
        }
        let dos = tlv::parse_all(&cmd.data).map_err(|_| ChipError::SecureMessaging("malformed SM data objects"))?;
        let mut m = pad(&[cmd.cla, cmd.ins, cmd.p1, cmd.p2], self.block());
        let (mut do87, mut do97, mut do8e) = (None, None, None);
        for d in &dos {
            match d.tag {
                0x87 | 0x85 if do87.is_none() && do97.is_none() && do8e.is_none() => {
                    if (d.tag == 0x85) != (cmd.ins & 1 == 1) {
                        return Err(ChipError::SecureMessaging("DO'85'/'87' does not match the instruction"));
                    }
                    do87 = Some(d.value);
                    m.extend_from_slice(d.raw);
                }
                0x97 if do97.is_none() && do8e.is_none() => {
                    do97 = Some(d.value);
                    m.extend_from_slice(d.raw);
                }
                0x8E if do8e.is_none() => do8e = Some(d.value),
                _ => return Err(ChipError::SecureMessaging("unexpected SM data object")),
            }
        }
        let cc = do8e.ok_or(ChipError::SecureMessaging("command without a MAC"))?;
        if !ct_eq(cc, &self.mac(&m)?) {
            return Err(ChipError::SecureMessaging("command MAC does not verify"));
        }
        let data = match do87 {
            Some(v) if cmd.ins & 1 == 1 => self.decrypt(v)?,
            Some([0x01, rest @ ..]) => self.decrypt(rest)?,
            Some(_) => return Err(ChipError::SecureMessaging("DO'87' without padding indicator 01")),
            None => Vec::new(),
        };
        let le = match do97 {
            None => None,
            Some([0]) => Some(256),
            Some([0, 0]) => Some(65536),
            Some([b]) => Some(usize::from(*b)),
            Some([a, b]) => Some(usize::from(u16::from_be_bytes([*a, *b]))),
            Some(_) => return Err(ChipError::SecureMessaging("malformed DO'97'")),
        };
        Ok(Command { cla: cmd.cla & !0x0C, ins: cmd.ins, p1: cmd.p1, p2: cmd.p2, data, le })
    }

    /// Protect a response (card side).
    pub fn wrap_response(&mut self, resp: &Response) -> Result<Response> {
        self.inc_ssc();
        let mut covered = Vec::new();
        if !resp.data.is_empty() {
            let mut v = vec![0x01];
            v.extend_from_slice(&self.encrypt(&resp.data)?);
            covered.extend_from_slice(&tlv::encode(0x87, &v));
        }
        covered.extend_from_slice(&tlv::encode(0x99, &resp.sw.to_be_bytes()));
        let cc = self.mac(&covered)?;
        covered.extend_from_slice(&tlv::encode(0x8E, &cc));
        Ok(Response { data: covered, sw: resp.sw })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{hex, unhex};

    fn appendix_d4_channel() -> SecureChannel {
        SecureChannel::new(
            Cipher::Tdes,
            &unhex("979EC13B1CBFE9DCD01AB0FED307EAE5").unwrap(),
            &unhex("F1CB1F1FB5ADF208806B89DC579DC1F8").unwrap(),
            &unhex("887022120C06C226").unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn icao_appendix_d4_secure_messaging_3des() {
        let mut sm = appendix_d4_channel();
        // SELECT EF.COM
        let select = Command::new(0x00, 0xA4, 0x02, 0x0C).with_data(vec![0x01, 0x1E]);
        let wrapped = sm.wrap(&select).unwrap();
        assert_eq!(hex(&wrapped.encode()), "0ca4020c158709016375432908c044f68e08bf8b92d635ff24f800");
        let r = sm.unwrap(&Response::parse(&unhex("990290008E08FA855A5D4C50A8ED9000").unwrap()).unwrap()).unwrap();
        assert!(r.is_ok() && r.data.is_empty());
        // READ BINARY 4 bytes
        let wrapped = sm.wrap(&Command::new(0x00, 0xB0, 0x00, 0x00).with_le(4)).unwrap();
        assert_eq!(hex(&wrapped.encode()), "0cb000000d9701048e08ed6705417e96ba5500");
        let r = sm
            .unwrap(
                &Response::parse(&unhex("8709019FF0EC34F9922651990290008E08AD55CC17140B2DED9000").unwrap()).unwrap(),
            )
            .unwrap();
        assert_eq!(hex(&r.data), "60145f01");
        // READ BINARY 18 bytes at offset 4
        let wrapped = sm.wrap(&Command::new(0x00, 0xB0, 0x00, 0x04).with_le(0x12)).unwrap();
        assert_eq!(hex(&wrapped.encode()), "0cb000040d9701128e082ea28a70f3c7b53500");
        let r = sm
            .unwrap(
                &Response::parse(
                    &unhex("871901FB9235F4E4037F2327DCC8964F1F9B8C30F42C8E2FFF224A990290008E08C8B2787EAEA07D749000")
                        .unwrap(),
                )
                .unwrap(),
            )
            .unwrap();
        assert_eq!(hex(&r.data), "04303130365f36063034303030305c026175");
    }

    #[test]
    fn card_side_reproduces_appendix_d4_responses() {
        // The card end, starting from the same SSC, must produce the ICAO response bytes.
        let mut card = appendix_d4_channel();
        let cmd = Command::decode(&unhex("0ca4020c158709016375432908c044f68e08bf8b92d635ff24f800").unwrap()).unwrap();
        let plain = card.unwrap_command(&cmd).unwrap();
        assert_eq!(plain.data, vec![0x01, 0x1E]);
        let resp = card.wrap_response(&Response::new(vec![], 0x9000)).unwrap();
        assert_eq!(hex(&resp.encode()), "990290008e08fa855a5d4c50a8ed9000");
    }

    #[test]
    fn tampered_response_fails_before_decryption() {
        let mut sm = appendix_d4_channel();
        sm.wrap(&Command::new(0x00, 0xA4, 0x02, 0x0C).with_data(vec![0x01, 0x1E])).unwrap();
        let mut bytes = unhex("990290008E08FA855A5D4C50A8ED9000").unwrap();
        bytes[3] ^= 1; // status inside DO'99'
        assert_eq!(
            sm.unwrap(&Response::parse(&bytes).unwrap()),
            Err(ChipError::SecureMessaging("response MAC does not verify"))
        );
        // A reply without SM objects and a plain 6987 is an SM error.
        let mut sm = appendix_d4_channel();
        assert!(matches!(sm.unwrap(&Response::new(vec![], 0x6987)), Err(ChipError::SecureMessaging(_))));
    }

    #[test]
    fn aes_round_trip_both_ends() {
        let secret = [9u8; 32];
        for cipher in [Cipher::Aes128, Cipher::Aes192, Cipher::Aes256, Cipher::Tdes] {
            let mut reader = SecureChannel::from_secret(cipher, &secret).unwrap();
            let mut card = SecureChannel::from_secret(cipher, &secret).unwrap();
            for (ins, data, le) in [
                (0xB0, vec![], Some(4)),
                (0xB0, vec![1, 2, 3], None),
                (0xB0, vec![5; 300], Some(1000)),
                (0xB1, vec![0x54, 2, 0x80, 0], Some(223)),
            ] {
                let cmd = Command { cla: 0, ins, p1: 0, p2: 0, data: data.clone(), le };
                let wire = reader.wrap(&cmd).unwrap().encode();
                let got = card.unwrap_command(&Command::decode(&wire).unwrap()).unwrap();
                assert_eq!(got, cmd);
                let resp = card.wrap_response(&Response::new(vec![0xAA; 40], 0x9000)).unwrap();
                let back = reader.unwrap(&Response::parse(&resp.encode()).unwrap()).unwrap();
                assert_eq!(back.data, vec![0xAA; 40]);
            }
        }
    }
}
