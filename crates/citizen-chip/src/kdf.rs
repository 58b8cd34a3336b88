//! Key derivation (ICAO 9303 Part 11 §9.7.1) and the access keys: BAC/PACE-MRZ keys from the
//! document number, date of birth and expiry date (with check digits), PACE-CAN keys from the
//! 6-digit CAN.
//!
//! For the CCCD the BAC document number is the last 9 digits of the 12-digit personal number
//! and the CAN is printed on the card (by observation the last 6 digits of the number).

use sha1::{Digest, Sha1};
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

use crate::error::{ChipError, Result};

/// KDF counter of the encryption key.
pub const ENC: u32 = 1;
/// KDF counter of the MAC key.
pub const MAC: u32 = 2;
/// KDF counter of the PACE password key.
pub const PACE: u32 = 3;

/// The cipher a derived key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cipher {
    /// 2-key 3DES (16 bytes, SHA-1).
    Tdes,
    /// AES-128 (SHA-1).
    Aes128,
    /// AES-192 (SHA-256).
    Aes192,
    /// AES-256 (SHA-256).
    Aes256,
}

impl Cipher {
    /// Key length in bytes.
    pub fn key_len(self) -> usize {
        match self {
            Cipher::Tdes | Cipher::Aes128 => 16,
            Cipher::Aes192 => 24,
            Cipher::Aes256 => 32,
        }
    }
}

/// KDF(K, c) = H(K ‖ c) truncated; SHA-1 for 3DES and AES-128, SHA-256 for AES-192/256.
pub fn kdf(secret: &[u8], counter: u32, cipher: Cipher) -> Zeroizing<Vec<u8>> {
    let mut out: Vec<u8> = match cipher {
        Cipher::Tdes | Cipher::Aes128 => {
            let mut h = Sha1::new();
            h.update(secret);
            h.update(counter.to_be_bytes());
            h.finalize().to_vec()
        }
        Cipher::Aes192 | Cipher::Aes256 => {
            let mut h = Sha256::new();
            h.update(secret);
            h.update(counter.to_be_bytes());
            h.finalize().to_vec()
        }
    };
    out.truncate(cipher.key_len());
    Zeroizing::new(out)
}

/// A 16-byte 3DES key from the KDF.
pub fn kdf16(secret: &[u8], counter: u32) -> Zeroizing<[u8; 16]> {
    let v = kdf(secret, counter, Cipher::Tdes);
    let mut k = [0u8; 16];
    k.copy_from_slice(&v);
    Zeroizing::new(k)
}

/// ICAO check digit (weights 7, 3, 1; `<` = 0, digits, letters A=10…).
pub fn check_digit(field: &str) -> Result<char> {
    let weights = [7u32, 3, 1];
    let mut sum = 0u32;
    for (i, c) in field.chars().enumerate() {
        let v = match c {
            '0'..='9' => c as u32 - '0' as u32,
            'A'..='Z' => c as u32 - 'A' as u32 + 10,
            '<' => 0,
            _ => return Err(ChipError::AccessKeyFormat("MRZ field has a character outside 0-9, A-Z, <")),
        };
        sum += v * weights[i % 3];
    }
    char::from_digit(sum % 10, 10).ok_or(ChipError::AccessKeyFormat("check digit"))
}

/// What opens the chip.
#[derive(Clone, PartialEq, Eq)]
pub enum AccessKey {
    /// The 6-digit Card Access Number printed on the card.
    Can(String),
    /// The MRZ fields: document number (for the CCCD the last 9 digits of the ID), date of
    /// birth and date of expiry as `YYMMDD`.
    Mrz {
        /// Document number as printed in the MRZ (without check digit).
        document_number: String,
        /// `YYMMDD`.
        date_of_birth: String,
        /// `YYMMDD`.
        date_of_expiry: String,
    },
}

impl std::fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AccessKey::Can(_) => f.write_str("AccessKey::Can(<redacted>)"),
            AccessKey::Mrz { .. } => f.write_str("AccessKey::Mrz(<redacted>)"),
        }
    }
}

impl Drop for AccessKey {
    fn drop(&mut self) {
        match self {
            AccessKey::Can(c) => c.zeroize(),
            AccessKey::Mrz { document_number, date_of_birth, date_of_expiry } => {
                document_number.zeroize();
                date_of_birth.zeroize();
                date_of_expiry.zeroize();
            }
        }
    }
}

fn yymmdd(s: &str) -> Result<()> {
    let ok = s.len() == 6
        && s.bytes().all(|b| b.is_ascii_digit())
        && matches!(s[2..4].parse::<u8>(), Ok(1..=12))
        && matches!(s[4..6].parse::<u8>(), Ok(1..=31));
    if ok {
        Ok(())
    } else {
        Err(ChipError::AccessKeyFormat("dates must be YYMMDD"))
    }
}

impl AccessKey {
    /// The CAN key, checked to be 6 digits.
    pub fn can(can: &str) -> Result<Self> {
        if can.len() != 6 || !can.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ChipError::AccessKeyFormat("the CAN must be 6 digits"));
        }
        Ok(AccessKey::Can(can.to_string()))
    }

    /// The MRZ key of a CCCD from its 12-digit number (the document number is the last 9
    /// digits), the date of birth and the date of expiry (`YYMMDD`).
    pub fn cccd_mrz(id_number: &str, date_of_birth: &str, date_of_expiry: &str) -> Result<Self> {
        if id_number.len() != 12 || !id_number.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ChipError::AccessKeyFormat("the CCCD number must be 12 digits"));
        }
        Self::mrz(&id_number[3..], date_of_birth, date_of_expiry)
    }

    /// A general MRZ key (document number of up to 9 characters; shorter ones are `<`-filled).
    pub fn mrz(document_number: &str, date_of_birth: &str, date_of_expiry: &str) -> Result<Self> {
        if document_number.is_empty()
            || document_number.len() > 9
            || !document_number.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase() || b == b'<')
        {
            return Err(ChipError::AccessKeyFormat("the document number must be 1-9 characters 0-9, A-Z"));
        }
        yymmdd(date_of_birth)?;
        yymmdd(date_of_expiry)?;
        Ok(AccessKey::Mrz {
            document_number: document_number.to_string(),
            date_of_birth: date_of_birth.to_string(),
            date_of_expiry: date_of_expiry.to_string(),
        })
    }

    /// `MRZ_information`: number ‖ cd ‖ birth ‖ cd ‖ expiry ‖ cd (MRZ keys only).
    pub fn mrz_information(&self) -> Result<Zeroizing<String>> {
        match self {
            AccessKey::Mrz { document_number, date_of_birth, date_of_expiry } => {
                let mut doc = document_number.clone();
                while doc.len() < 9 {
                    doc.push('<');
                }
                let s = format!(
                    "{doc}{}{date_of_birth}{}{date_of_expiry}{}",
                    check_digit(&doc)?,
                    check_digit(date_of_birth)?,
                    check_digit(date_of_expiry)?
                );
                doc.zeroize();
                Ok(Zeroizing::new(s))
            }
            AccessKey::Can(_) => Err(ChipError::AccessKeyFormat("BAC needs the MRZ data, not the CAN")),
        }
    }

    /// The PACE password π: SHA-1(MRZ_information) for the MRZ, the CAN's ASCII digits for the CAN.
    pub fn pace_password(&self) -> Result<Zeroizing<Vec<u8>>> {
        match self {
            AccessKey::Can(can) => Ok(Zeroizing::new(can.as_bytes().to_vec())),
            AccessKey::Mrz { .. } => Ok(Zeroizing::new(Sha1::digest(self.mrz_information()?.as_bytes()).to_vec())),
        }
    }

    /// The PACE password reference of MSE:Set AT (`01` MRZ, `02` CAN).
    pub fn pace_reference(&self) -> u8 {
        match self {
            AccessKey::Mrz { .. } => 0x01,
            AccessKey::Can(_) => 0x02,
        }
    }

    /// BAC's K_seed = SHA-1(MRZ_information)[0..16].
    pub fn bac_seed(&self) -> Result<Zeroizing<[u8; 16]>> {
        let h = Sha1::digest(self.mrz_information()?.as_bytes());
        let mut k = [0u8; 16];
        k.copy_from_slice(&h[..16]);
        Ok(Zeroizing::new(k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{hex, unhex};

    #[test]
    fn icao_appendix_d1_bac_key_derivation() {
        let key = AccessKey::mrz("L898902C", "690806", "940623").unwrap();
        assert_eq!(key.mrz_information().unwrap().as_str(), "L898902C<369080619406236");
        let seed = key.bac_seed().unwrap();
        assert_eq!(hex(&seed[..]), "239ab9cb282daf66231dc5a4df6bfbae");
        // Raw KDF output; App. D prints parity-adjusted keys (DES ignores parity bits).
        assert_eq!(hex(&kdf16(&seed[..], ENC)[..]), "ab94fcedf2664edfb9b291f85d7f77f2");
        assert_eq!(hex(&kdf16(&seed[..], MAC)[..]), "7862d9ece03c1bcd4d77089dcf131442");
    }

    #[test]
    fn icao_pace_passwords() {
        // App. G.1: K = SHA-1(MRZ_information), K_pi = KDF(K, 3).
        let key = AccessKey::mrz("T22000129", "640812", "101031").unwrap();
        assert_eq!(key.mrz_information().unwrap().as_str(), "T22000129364081251010318");
        let pi = key.pace_password().unwrap();
        assert_eq!(hex(&pi), "7e2d2a41c74ea0b38cd36f863939bfa8e9032aad");
        assert_eq!(hex(&kdf(&pi, PACE, Cipher::Aes128)), "89ded1b26624ec1e634c1989302849dd");
        // App. H: CAN 123456.
        let can = AccessKey::can("123456").unwrap();
        assert_eq!(hex(&kdf(&can.pace_password().unwrap(), PACE, Cipher::Aes128)), "591468cda83d65219cccb8560233600f");
        assert_eq!(can.pace_reference(), 2);
        assert_eq!(key.pace_reference(), 1);
    }

    #[test]
    fn cccd_document_number_is_the_last_nine_digits() {
        let key = AccessKey::cccd_mrz("001090000001", "900115", "300115").unwrap();
        match &key {
            AccessKey::Mrz { document_number, .. } => assert_eq!(document_number, "090000001"),
            AccessKey::Can(_) => panic!("MRZ key expected"),
        }
        assert_eq!(key.mrz_information().unwrap().len(), 24);
        assert!(AccessKey::cccd_mrz("00109000000", "900115", "300115").is_err());
        assert!(AccessKey::cccd_mrz("001090000001", "901315", "300115").is_err());
        assert!(AccessKey::can("12345").is_err());
        assert!(AccessKey::can("12345a").is_err());
        assert_eq!(format!("{key:?}"), "AccessKey::Mrz(<redacted>)");
        assert!(unhex("0").is_none());
    }

    #[test]
    fn check_digits() {
        assert_eq!(check_digit("L898902C<").unwrap(), '3');
        assert_eq!(check_digit("690806").unwrap(), '1');
        assert_eq!(check_digit("940623").unwrap(), '6');
        assert!(check_digit("abc").is_err());
    }
}
