//! Basic access control (ICAO 9303 Part 11 §4.3), reader side, as a small sub-machine:
//! GET CHALLENGE, then EXTERNAL AUTHENTICATE, then a 3DES secure channel.

use zeroize::Zeroizing;

use crate::apdu::{Command, Response, SW_OK};
use crate::crypto::{ct_eq, pad, retail_mac, tdes_decrypt, tdes_encrypt};
use crate::error::{ChipError, Result};
use crate::kdf::{kdf16, AccessKey, Cipher, ENC, MAC};
use crate::sm::SecureChannel;
use crate::RandomSource;

/// E ‖ M of EXTERNAL AUTHENTICATE: E = 3DES(K_enc, S), M = retail MAC(K_mac, pad(E)).
pub fn cryptogram(seed: &[u8], s: &[u8]) -> Result<Vec<u8>> {
    let (k_enc, k_mac) = (kdf16(seed, ENC), kdf16(seed, MAC));
    let e = tdes_encrypt(&k_enc, s)?;
    let m = retail_mac(&k_mac, &pad(&e, 8))?;
    let mut out = e;
    out.extend_from_slice(&m);
    Ok(out)
}

/// Check the MAC of a 40-byte cryptogram and decrypt it.
pub fn open_cryptogram(seed: &[u8], data: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    if data.len() != 40 {
        return Err(ChipError::Protocol("BAC cryptogram must be 40 bytes"));
    }
    let (k_enc, k_mac) = (kdf16(seed, ENC), kdf16(seed, MAC));
    if !ct_eq(&data[32..], &retail_mac(&k_mac, &pad(&data[..32], 8))?) {
        return Err(ChipError::SecureMessaging("BAC cryptogram MAC does not verify"));
    }
    Ok(Zeroizing::new(tdes_decrypt(&k_enc, &data[..32])?))
}

/// The session channel from K.IFD, K.IC and the two challenges.
pub fn session(k_ifd: &[u8], k_ic: &[u8], rnd_ic: &[u8], rnd_ifd: &[u8]) -> Result<SecureChannel> {
    let seed: Zeroizing<Vec<u8>> = Zeroizing::new(k_ifd.iter().zip(k_ic).map(|(a, b)| a ^ b).collect());
    let mut ssc = rnd_ic[4..8].to_vec();
    ssc.extend_from_slice(&rnd_ifd[4..8]);
    SecureChannel::new(Cipher::Tdes, &kdf16(&seed, ENC)[..], &kdf16(&seed, MAC)[..], &ssc)
}

/// What the BAC sub-machine wants next.
#[derive(Debug)]
pub enum BacStep {
    /// Send this command.
    Send(Command),
    /// BAC done: the secure channel.
    Done(SecureChannel),
}

/// The reader side of BAC.
pub struct Bac {
    seed: Zeroizing<[u8; 16]>,
    rnd_ifd: [u8; 8],
    k_ifd: Zeroizing<[u8; 16]>,
    rnd_ic: Option<[u8; 8]>,
}

impl std::fmt::Debug for Bac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Bac(<redacted>)")
    }
}

impl Bac {
    /// Start BAC with the MRZ key; draws RND.IFD and K.IFD from `rng`.
    pub fn new(key: &AccessKey, rng: &mut dyn RandomSource) -> Result<Self> {
        let mut rnd_ifd = [0u8; 8];
        rng.fill(&mut rnd_ifd);
        let mut k_ifd = Zeroizing::new([0u8; 16]);
        rng.fill(&mut k_ifd[..]);
        Ok(Bac { seed: key.bac_seed()?, rnd_ifd, k_ifd, rnd_ic: None })
    }

    /// GET CHALLENGE.
    pub fn first_command(&self) -> Command {
        Command::new(0x00, 0x84, 0x00, 0x00).with_le(8)
    }

    /// Consume the chip's answer.
    pub fn on_response(&mut self, resp: &Response) -> Result<BacStep> {
        match self.rnd_ic {
            None => {
                if !resp.is_ok() || resp.data.len() != 8 {
                    return Err(ChipError::UnexpectedStatus { step: "BAC GET CHALLENGE", sw: resp.sw });
                }
                let mut rnd_ic = [0u8; 8];
                rnd_ic.copy_from_slice(&resp.data);
                self.rnd_ic = Some(rnd_ic);
                let mut s = Zeroizing::new(Vec::with_capacity(32));
                s.extend_from_slice(&self.rnd_ifd);
                s.extend_from_slice(&rnd_ic);
                s.extend_from_slice(&self.k_ifd[..]);
                let data = cryptogram(&self.seed[..], &s)?;
                Ok(BacStep::Send(Command::new(0x00, 0x82, 0x00, 0x00).with_data(data).with_le(40)))
            }
            Some(rnd_ic) => {
                if resp.sw != SW_OK {
                    return Err(ChipError::AccessDenied { sw: resp.sw, tries_left: tries_left(resp.sw) });
                }
                let r = open_cryptogram(&self.seed[..], &resp.data)
                    .map_err(|_| ChipError::AccessDenied { sw: resp.sw, tries_left: None })?;
                if r[..8] != rnd_ic || r[8..16] != self.rnd_ifd {
                    return Err(ChipError::AccessDenied { sw: resp.sw, tries_left: None });
                }
                Ok(BacStep::Done(session(&self.k_ifd[..], &r[16..32], &rnd_ic, &self.rnd_ifd)?))
            }
        }
    }
}

/// Attempts left from a `63Cx` status.
pub fn tries_left(sw: u16) -> Option<u8> {
    if sw & 0xFFF0 == 0x63C0 {
        Some((sw & 0x000F) as u8)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{hex, unhex};

    struct Script(Vec<u8>);
    impl RandomSource for Script {
        fn fill(&mut self, buf: &mut [u8]) {
            let n = buf.len();
            buf.copy_from_slice(&self.0[..n]);
            self.0.drain(..n);
        }
    }

    #[test]
    fn icao_appendix_d2_mutual_authentication() {
        let key = AccessKey::mrz("L898902C", "690806", "940623").unwrap();
        let mut rng = Script(unhex("781723860C06C226 0B795240CB7049B01C19B33E32804F0B").unwrap());
        let mut bac = Bac::new(&key, &mut rng).unwrap();
        assert_eq!(hex(&bac.first_command().encode()), "0084000008");
        let step = bac.on_response(&Response::new(unhex("4608F91988702212").unwrap(), 0x9000)).unwrap();
        let BacStep::Send(ext) = step else { panic!("EXTERNAL AUTHENTICATE expected") };
        assert_eq!(hex(&ext.data), "72c29c2371cc9bdb65b779b8e8d37b29ecc154aa56a8799fae2f498f76ed92f25f1448eea8ad90a7");
        let resp = unhex("46B9342A41396CD7386BF5803104D7CEDC122B9132139BAF2EEDC94EE178534F2F2D235D074D7449").unwrap();
        let BacStep::Done(mut sm) = bac.on_response(&Response::new(resp, 0x9000)).unwrap() else {
            panic!("done expected")
        };
        // The App. D.4 SELECT EF.COM under the derived keys and SSC 887022120C06C226.
        let wrapped = sm.wrap(&Command::new(0, 0xA4, 2, 0x0C).with_data(vec![1, 0x1E])).unwrap();
        assert_eq!(hex(&wrapped.encode()), "0ca4020c158709016375432908c044f68e08bf8b92d635ff24f800");
    }

    #[test]
    fn wrong_key_is_access_denied() {
        let key = AccessKey::mrz("L898902C", "690806", "940624").unwrap();
        let mut rng = Script(unhex("781723860C06C226 0B795240CB7049B01C19B33E32804F0B").unwrap());
        let mut bac = Bac::new(&key, &mut rng).unwrap();
        bac.on_response(&Response::new(unhex("4608F91988702212").unwrap(), 0x9000)).unwrap();
        let resp = unhex("46B9342A41396CD7386BF5803104D7CEDC122B9132139BAF2EEDC94EE178534F2F2D235D074D7449").unwrap();
        assert!(matches!(bac.on_response(&Response::new(resp, 0x9000)), Err(ChipError::AccessDenied { .. })));
        assert_eq!(tries_left(0x63C2), Some(2));
    }
}
