//! Symmetric primitives of ICAO 9303 on RustCrypto: 2-key 3DES and AES in CBC mode with IV 0
//! (the caller pads), the retail MAC (ISO/IEC 9797-1 algorithm 3, DES), AES-CMAC truncated to
//! 8 bytes, and ISO/IEC 9797-1 padding method 2.

use aes::{Aes128, Aes192, Aes256};
use cbc::cipher::{
    Block, BlockCipherDecrypt, BlockCipherEncrypt, BlockModeDecrypt, BlockModeEncrypt, KeyInit, KeyIvInit,
};
use cmac::{Cmac, Mac};
use des::{Des, TdesEde2};

use crate::error::{ChipError, Result};

/// Append `80 00…` up to a multiple of `block` (ISO/IEC 9797-1 padding method 2).
pub fn pad(data: &[u8], block: usize) -> Vec<u8> {
    let mut out = data.to_vec();
    out.push(0x80);
    while out.len() % block != 0 {
        out.push(0);
    }
    out
}

/// Remove method-2 padding.
pub fn unpad(data: &[u8]) -> Result<Vec<u8>> {
    let end = data.iter().rposition(|b| *b != 0).ok_or(ChipError::SecureMessaging("bad padding"))?;
    if data[end] != 0x80 {
        return Err(ChipError::SecureMessaging("bad padding"));
    }
    Ok(data[..end].to_vec())
}

fn cbc_encrypt<C>(key: &[u8], iv: &[u8], data: &[u8]) -> Result<Vec<u8>>
where
    cbc::Encryptor<C>: KeyIvInit + BlockModeEncrypt,
    C: BlockCipherEncrypt,
{
    let mut enc = cbc::Encryptor::<C>::new_from_slices(key, iv).map_err(|_| ChipError::Protocol("bad key length"))?;
    let bs = iv.len();
    if data.len() % bs != 0 {
        return Err(ChipError::Protocol("data not padded to the block size"));
    }
    let mut out = Vec::with_capacity(data.len());
    for chunk in data.chunks(bs) {
        let mut block = Block::<cbc::Encryptor<C>>::try_from(chunk).map_err(|_| ChipError::Protocol("block size"))?;
        enc.encrypt_block(&mut block);
        out.extend_from_slice(&block);
    }
    Ok(out)
}

fn cbc_decrypt<C>(key: &[u8], iv: &[u8], data: &[u8]) -> Result<Vec<u8>>
where
    cbc::Decryptor<C>: KeyIvInit + BlockModeDecrypt,
    C: BlockCipherDecrypt,
{
    let mut dec = cbc::Decryptor::<C>::new_from_slices(key, iv).map_err(|_| ChipError::Protocol("bad key length"))?;
    let bs = iv.len();
    if data.len() % bs != 0 || data.is_empty() {
        return Err(ChipError::SecureMessaging("ciphertext not a whole number of blocks"));
    }
    let mut out = Vec::with_capacity(data.len());
    for chunk in data.chunks(bs) {
        let mut block = Block::<cbc::Decryptor<C>>::try_from(chunk).map_err(|_| ChipError::Protocol("block size"))?;
        dec.decrypt_block(&mut block);
        out.extend_from_slice(&block);
    }
    Ok(out)
}

/// 2-key 3DES-CBC encryption with IV 0 of already padded data.
pub fn tdes_encrypt(key: &[u8; 16], data: &[u8]) -> Result<Vec<u8>> {
    cbc_encrypt::<TdesEde2>(key, &[0u8; 8], data)
}

/// 2-key 3DES-CBC decryption with IV 0.
pub fn tdes_decrypt(key: &[u8; 16], data: &[u8]) -> Result<Vec<u8>> {
    cbc_decrypt::<TdesEde2>(key, &[0u8; 8], data)
}

/// AES-CBC encryption (key of 16, 24 or 32 bytes) of already padded data.
pub fn aes_encrypt(key: &[u8], iv: &[u8; 16], data: &[u8]) -> Result<Vec<u8>> {
    match key.len() {
        16 => cbc_encrypt::<Aes128>(key, iv, data),
        24 => cbc_encrypt::<Aes192>(key, iv, data),
        32 => cbc_encrypt::<Aes256>(key, iv, data),
        _ => Err(ChipError::Protocol("bad AES key length")),
    }
}

/// AES-CBC decryption.
pub fn aes_decrypt(key: &[u8], iv: &[u8; 16], data: &[u8]) -> Result<Vec<u8>> {
    match key.len() {
        16 => cbc_decrypt::<Aes128>(key, iv, data),
        24 => cbc_decrypt::<Aes192>(key, iv, data),
        32 => cbc_decrypt::<Aes256>(key, iv, data),
        _ => Err(ChipError::Protocol("bad AES key length")),
    }
}

/// One AES block encrypted with no chaining (the SM IV is `E(KSenc, SSC)`).
pub fn aes_block(key: &[u8], block: &[u8; 16]) -> Result<[u8; 16]> {
    let out = aes_encrypt(key, &[0u8; 16], block)?;
    let mut b = [0u8; 16];
    b.copy_from_slice(&out);
    Ok(b)
}

/// Retail MAC (ISO/IEC 9797-1 MAC algorithm 3 with DES, IV 0) over already padded data.
pub fn retail_mac(key: &[u8; 16], padded: &[u8]) -> Result<[u8; 8]> {
    if padded.len() % 8 != 0 || padded.is_empty() {
        return Err(ChipError::Protocol("MAC input not padded"));
    }
    let ka = Des::new_from_slice(&key[..8]).map_err(|_| ChipError::Protocol("bad DES key"))?;
    let kb = Des::new_from_slice(&key[8..]).map_err(|_| ChipError::Protocol("bad DES key"))?;
    let mut h = Block::<Des>::default();
    for chunk in padded.chunks(8) {
        for (x, y) in h.iter_mut().zip(chunk) {
            *x ^= y;
        }
        ka.encrypt_block(&mut h);
    }
    kb.decrypt_block(&mut h);
    ka.encrypt_block(&mut h);
    let mut out = [0u8; 8];
    out.copy_from_slice(&h);
    Ok(out)
}

/// AES-CMAC truncated to 8 bytes (the caller does not pad: CMAC pads itself).
pub fn aes_cmac8(key: &[u8], data: &[u8]) -> Result<[u8; 8]> {
    fn run<M: Mac + KeyInit>(key: &[u8], data: &[u8]) -> Result<[u8; 8]> {
        let mut mac = <M as KeyInit>::new_from_slice(key).map_err(|_| ChipError::Protocol("bad CMAC key"))?;
        mac.update(data);
        let tag = mac.finalize().into_bytes();
        let mut out = [0u8; 8];
        out.copy_from_slice(&tag[..8]);
        Ok(out)
    }
    match key.len() {
        16 => run::<Cmac<Aes128>>(key, data),
        24 => run::<Cmac<Aes192>>(key, data),
        32 => run::<Cmac<Aes256>>(key, data),
        _ => Err(ChipError::Protocol("bad AES key length")),
    }
}

/// Constant-time equality of two MACs.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unhex;

    #[test]
    fn padding_round_trip_and_refusal() {
        assert_eq!(pad(&[1, 2, 3], 8), vec![1, 2, 3, 0x80, 0, 0, 0, 0]);
        assert_eq!(pad(&[0; 8], 8).len(), 16);
        assert_eq!(unpad(&pad(&[1, 2, 0], 16)).unwrap(), vec![1, 2, 0]);
        assert!(unpad(&[1, 2, 0, 0]).is_err());
        assert!(unpad(&[0, 0]).is_err());
    }

    #[test]
    fn aes_cmac_rfc4493_example_2() {
        // RFC 4493, example 2 (16-byte message), first 8 bytes of the tag.
        let key = unhex("2b7e151628aed2a6abf7158809cf4f3c").unwrap();
        let msg = unhex("6bc1bee22e409f96e93d7e117393172a").unwrap();
        assert_eq!(aes_cmac8(&key, &msg).unwrap().to_vec(), unhex("070a16b46b4d4144").unwrap());
    }

    #[test]
    fn cbc_round_trips() {
        let k16 = [7u8; 16];
        let data = pad(b"citizen", 16);
        let iv = [3u8; 16];
        assert_eq!(aes_decrypt(&k16, &iv, &aes_encrypt(&k16, &iv, &data).unwrap()).unwrap(), data);
        let data8 = pad(b"citizen", 8);
        assert_eq!(tdes_decrypt(&k16, &tdes_encrypt(&k16, &data8).unwrap()).unwrap(), data8);
        assert!(tdes_encrypt(&k16, &[1, 2, 3]).is_err());
    }
}
