//! PACE with ECDH generic mapping (ICAO 9303 Part 11 §4.4), reader side, plus the
//! SecurityInfos of EF.CardAccess and DG14 and the primitives the card side shares.
//!
//! Sequence: MSE:Set AT, then four chained GENERAL AUTHENTICATEs (encrypted nonce, mapping,
//! key agreement, mutual tokens). Every chip point is validated (on the curve, not the
//! identity, the chip's ephemeral key differs from ours).

use const_oid::ObjectIdentifier as Oid;
use zeroize::Zeroizing;

use crate::apdu::{Command, Response, SW_OK};
use crate::bac::tries_left;
use crate::crypto::{aes_cmac8, aes_decrypt, aes_encrypt, ct_eq, pad, retail_mac, tdes_decrypt, tdes_encrypt};
use crate::ec::{Curve, SecretScalar};
use crate::error::{ChipError, Result};
use crate::kdf::{kdf, AccessKey, Cipher, PACE};
use crate::sm::SecureChannel;
use crate::{oid, tlv, RandomSource};

/// EF.CardAccess as observed on CCCDs (hard-coded by several Vietnamese apps): TA v1, CA
/// ECDH-AES-128, PACE-ECDH-GM-AES-128 on brainpoolP256r1. The last fallback when the chip
/// answers neither the SFI read nor SELECT of EF.CardAccess.
pub const CCCD_CARD_ACCESS: &str =
    "3134300d060804007f0007020202020101300f060a04007f000702020302020201013012060a04007f0007020204020202010202010d";

/// One entry of a SecurityInfos set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityInfo {
    /// Protocol OID.
    pub protocol: Oid,
    /// The raw required data (TLV).
    pub required: Vec<u8>,
    /// The raw optional data (TLV), if any.
    pub optional: Option<Vec<u8>>,
}

/// Parse SecurityInfos (`SET OF SecurityInfo`) of EF.CardAccess or DG14's content.
pub fn parse_security_infos(bytes: &[u8]) -> Result<Vec<SecurityInfo>> {
    let set = tlv::parse_single(bytes, 0x31)?;
    let mut out = Vec::new();
    for item in set.children()? {
        if item.tag != 0x30 {
            return Err(ChipError::MalformedTlv("SecurityInfo is not a SEQUENCE"));
        }
        let parts = item.children()?;
        let (Some(p), Some(req)) = (parts.first(), parts.get(1)) else {
            return Err(ChipError::MalformedTlv("SecurityInfo without protocol and data"));
        };
        if p.tag != 0x06 || parts.len() > 3 {
            return Err(ChipError::MalformedTlv("SecurityInfo shape"));
        }
        let protocol = oid::from_der(p.value).ok_or(ChipError::MalformedTlv("bad OID"))?;
        out.push(SecurityInfo { protocol, required: req.raw.to_vec(), optional: parts.get(2).map(|t| t.raw.to_vec()) });
    }
    Ok(out)
}

/// A PACE configuration this reader can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaceParams {
    /// The PACE protocol OID (MSE:Set AT's `80`).
    pub protocol: Oid,
    /// The cipher of the nonce and of the session.
    pub cipher: Cipher,
    /// The curve of the standardized domain parameters.
    pub curve: Curve,
}

impl PaceParams {
    /// From a protocol OID and parameter ID, if supported.
    pub fn new(protocol: Oid, parameter_id: u32) -> Result<Self> {
        let cipher = match protocol {
            p if p == oid::PACE_ECDH_GM_3DES => Cipher::Tdes,
            p if p == oid::PACE_ECDH_GM_AES128 => Cipher::Aes128,
            p if p == oid::PACE_ECDH_GM_AES192 => Cipher::Aes192,
            p if p == oid::PACE_ECDH_GM_AES256 => Cipher::Aes256,
            _ => return Err(ChipError::UnsupportedProtocol("PACE mapping or key agreement")),
        };
        let curve =
            Curve::from_parameter_id(parameter_id).ok_or(ChipError::UnsupportedProtocol("PACE domain parameters"))?;
        Ok(PaceParams { protocol, cipher, curve })
    }
}

/// The PACE configurations EF.CardAccess offers. `Ok(empty)` means the chip offers no PACE;
/// an error means it offers only PACE variants this reader cannot run.
pub fn pace_options(card_access: &[u8]) -> Result<Vec<PaceParams>> {
    let infos = parse_security_infos(card_access)?;
    let mut offered = 0;
    let mut out = Vec::new();
    for info in infos.iter().filter(|i| i.protocol.to_string().starts_with(oid::PACE_PREFIX)) {
        // PACEInfo: version INTEGER (2), parameterId INTEGER OPTIONAL; PACEDomainParameterInfo
        // entries (explicit domain parameters) are skipped.
        let version = tlv::parse_single(&info.required, 0x02)?;
        if tlv::small_uint(version.value)? != 2 {
            continue;
        }
        offered += 1;
        let Some(opt) = &info.optional else { continue };
        let id = tlv::parse_single(opt, 0x02)?;
        if let Ok(p) = PaceParams::new(info.protocol, tlv::small_uint(id.value)?) {
            out.push(p);
        }
    }
    if offered > 0 && out.is_empty() {
        return Err(ChipError::UnsupportedProtocol("no supported PACE protocol or curve in EF.CardAccess"));
    }
    Ok(out)
}

/// K_π = KDF(π, 3).
pub fn password_key(key: &AccessKey, cipher: Cipher) -> Result<Zeroizing<Vec<u8>>> {
    Ok(kdf(&key.pace_password()?, PACE, cipher))
}

/// Encrypt the nonce s with K_π (card side): CBC with IV 0.
pub fn encrypt_nonce(k_pi: &[u8], cipher: Cipher, s: &[u8]) -> Result<Vec<u8>> {
    match cipher {
        Cipher::Tdes => tdes_encrypt(k_pi.try_into().map_err(|_| ChipError::Protocol("key"))?, s),
        _ => aes_encrypt(k_pi, &[0u8; 16], s),
    }
}

/// Decrypt the nonce z with K_π (reader side).
pub fn decrypt_nonce(k_pi: &[u8], cipher: Cipher, z: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    Ok(Zeroizing::new(match cipher {
        Cipher::Tdes => tdes_decrypt(k_pi.try_into().map_err(|_| ChipError::Protocol("key"))?, z)?,
        _ => aes_decrypt(k_pi, &[0u8; 16], z)?,
    }))
}

/// The authentication token over the peer's ephemeral public key:
/// MAC(KS_mac, `7F49 { 06 OID, 86 point }`), 8 bytes.
pub fn auth_token(cipher: Cipher, ks_mac: &[u8], protocol: &Oid, peer_point: &[u8]) -> Result<[u8; 8]> {
    let inner = [tlv::encode(0x06, oid::der(protocol)), tlv::encode(0x86, peer_point)].concat();
    let data = tlv::encode(0x7F49, &inner);
    match cipher {
        Cipher::Tdes => retail_mac(ks_mac.try_into().map_err(|_| ChipError::Protocol("key"))?, &pad(&data, 8)),
        _ => aes_cmac8(ks_mac, &data),
    }
}

/// MSE:Set AT for PACE.
pub fn mse_set_at(params: &PaceParams, key_reference: u8) -> Command {
    let data = [
        tlv::encode(0x80, oid::der(&params.protocol)),
        tlv::encode(0x83, &[key_reference]),
        tlv::encode(0x84, &[params.curve.parameter_id()]),
    ]
    .concat();
    Command::new(0x00, 0x22, 0xC1, 0xA4).with_data(data)
}

fn general_authenticate(last: bool, tag: u32, value: &[u8]) -> Command {
    let inner = if value.is_empty() && tag == 0 { Vec::new() } else { tlv::encode(tag, value) };
    Command::new(if last { 0x00 } else { 0x10 }, 0x86, 0x00, 0x00).with_data(tlv::encode(0x7C, &inner)).with_le(256)
}

/// The one data object inside a `7C` dynamic authentication data response.
pub fn dynamic_data(data: &[u8], tag: u32) -> Result<Vec<u8>> {
    let outer = tlv::parse_single(data, 0x7C)?;
    outer.child(tag)?.map(|t| t.value.to_vec()).ok_or(ChipError::MalformedTlv("missing dynamic authentication object"))
}

/// What the PACE sub-machine wants next.
#[derive(Debug)]
pub enum PaceStep {
    /// Send this command.
    Send(Command),
    /// PACE done: the secure channel and the chip's ephemeral public key (for CA binding).
    Done(SecureChannel),
}

enum Stage {
    SetAt,
    Nonce,
    Map { s: Zeroizing<Vec<u8>>, sk_map: SecretScalar },
    Agree { sk: SecretScalar, pk: Vec<u8> },
    Tokens { channel: SecureChannel, expected: [u8; 8] },
    Finished,
}

/// The reader side of PACE-ECDH-GM.
pub struct Pace {
    params: PaceParams,
    k_pi: Zeroizing<Vec<u8>>,
    key_reference: u8,
    stage: Stage,
}

impl std::fmt::Debug for Pace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pace({:?}, <redacted>)", self.params)
    }
}

fn denied(resp: &Response) -> ChipError {
    ChipError::AccessDenied { sw: resp.sw, tries_left: tries_left(resp.sw) }
}

impl Pace {
    /// Prepare PACE with `key` (CAN or MRZ).
    pub fn new(params: PaceParams, key: &AccessKey) -> Result<Self> {
        Ok(Pace {
            params,
            k_pi: password_key(key, params.cipher)?,
            key_reference: key.pace_reference(),
            stage: Stage::SetAt,
        })
    }

    /// MSE:Set AT.
    pub fn first_command(&self) -> Command {
        mse_set_at(&self.params, self.key_reference)
    }

    /// Consume the chip's answer to the previous command.
    pub fn on_response(&mut self, resp: &Response, rng: &mut dyn RandomSource) -> Result<PaceStep> {
        let curve = self.params.curve;
        match std::mem::replace(&mut self.stage, Stage::Finished) {
            Stage::SetAt => {
                if resp.sw != SW_OK {
                    // 63Cx / 6983 here: a suspended or blocked password reference.
                    if resp.sw & 0xFF00 == 0x6300 || resp.sw == 0x6983 {
                        return Err(denied(resp));
                    }
                    return Err(ChipError::UnexpectedStatus { step: "PACE MSE:Set AT", sw: resp.sw });
                }
                self.stage = Stage::Nonce;
                Ok(PaceStep::Send(general_authenticate(false, 0, &[])))
            }
            Stage::Nonce => {
                if resp.sw != SW_OK {
                    return Err(ChipError::UnexpectedStatus { step: "PACE nonce", sw: resp.sw });
                }
                let z = dynamic_data(&resp.data, 0x80)?;
                let s = decrypt_nonce(&self.k_pi, self.params.cipher, &z)?;
                let sk_map = curve.random_secret(rng);
                let pk_map = curve.generator().mul(&sk_map)?.encode();
                self.stage = Stage::Map { s, sk_map };
                Ok(PaceStep::Send(general_authenticate(false, 0x81, &pk_map)))
            }
            Stage::Map { s, sk_map } => {
                if resp.sw != SW_OK {
                    return Err(ChipError::UnexpectedStatus { step: "PACE mapping", sw: resp.sw });
                }
                let pk_map_ic = curve.decode_point(&dynamic_data(&resp.data, 0x82)?)?;
                let h = pk_map_ic.mul(&sk_map)?;
                let g = curve.map_generator(&s, &h)?;
                let sk = curve.random_secret(rng);
                let pk = g.mul(&sk)?.encode();
                self.stage = Stage::Agree { sk, pk: pk.clone() };
                Ok(PaceStep::Send(general_authenticate(false, 0x83, &pk)))
            }
            Stage::Agree { sk, pk } => {
                if resp.sw != SW_OK {
                    return Err(ChipError::UnexpectedStatus { step: "PACE key agreement", sw: resp.sw });
                }
                let pk_ic_bytes = dynamic_data(&resp.data, 0x84)?;
                let pk_ic = curve.decode_point(&pk_ic_bytes)?;
                if pk_ic.encode() == pk {
                    return Err(ChipError::Protocol("chip echoed our ephemeral key"));
                }
                let k = pk_ic.mul(&sk)?.x();
                let channel = SecureChannel::from_secret(self.params.cipher, &k)?;
                let ks_mac = kdf(&k, crate::kdf::MAC, self.params.cipher);
                let t_ifd = auth_token(self.params.cipher, &ks_mac, &self.params.protocol, &pk_ic.encode())?;
                let expected = auth_token(self.params.cipher, &ks_mac, &self.params.protocol, &pk)?;
                self.stage = Stage::Tokens { channel, expected };
                Ok(PaceStep::Send(general_authenticate(true, 0x85, &t_ifd)))
            }
            Stage::Tokens { channel, expected } => {
                if resp.sw != SW_OK {
                    // A wrong CAN/MRZ shows here: the chip cannot verify our token.
                    return Err(denied(resp));
                }
                let t_ic = dynamic_data(&resp.data, 0x86)?;
                if !ct_eq(&t_ic, &expected) {
                    return Err(ChipError::AccessDenied { sw: resp.sw, tries_left: None });
                }
                Ok(PaceStep::Done(channel))
            }
            Stage::Finished => Err(ChipError::Protocol("PACE already finished")),
        }
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

    const PK_MAP_IC: &str = "04824FBA91C9CBE26BEF53A0EBE7342A3BF178CEA9F45DE0B70AA601651FBA3F5730D8C879AAA9C9F73991E61B58F4D52EB87A0A0C709A49DC63719363CCD13C54";
    const PK_IC: &str = "049E880F842905B8B3181F7AF7CAA9F0EFB743847F44A306D2D28C1D9EC65DF6DB7764B22277A2EDDC3C265A9F018F9CB852E111B768B326904B59A0193776F094";

    #[test]
    fn cccd_card_access_decodes_to_pace_gm_aes128_brainpool() {
        let opts = pace_options(&unhex(CCCD_CARD_ACCESS).unwrap()).unwrap();
        assert_eq!(
            opts,
            vec![PaceParams {
                protocol: oid::PACE_ECDH_GM_AES128,
                cipher: Cipher::Aes128,
                curve: Curve::BrainpoolP256r1
            }]
        );
        let infos = parse_security_infos(&unhex(CCCD_CARD_ACCESS).unwrap()).unwrap();
        assert_eq!(infos.len(), 3);
    }

    #[test]
    fn unknown_curve_or_mapping_is_unsupported() {
        // parameter ID 15 (brainpoolP384r1 is 16; 15 = NIST P-384): not supported here.
        let p384 = unhex("31143012060A04007F0007020204020202010202010F").unwrap();
        assert!(matches!(pace_options(&p384), Err(ChipError::UnsupportedProtocol(_))));
        // integrated mapping (…4.4.2) only
        let im = unhex("31143012060A04007F0007020204040202010202010D").unwrap();
        assert!(matches!(pace_options(&im), Err(ChipError::UnsupportedProtocol(_))));
        // No PACE at all: empty.
        assert!(pace_options(&unhex("3100").unwrap()).unwrap().is_empty());
        assert!(pace_options(&[0x31, 0x05, 0x30]).is_err());
    }

    #[test]
    fn icao_appendix_g1_pace_ecdh_gm_brainpool_transcript() {
        let key = AccessKey::mrz("T22000129", "640812", "101031").unwrap();
        let card_access = unhex("31143012060A04007F0007020204020202010202010D").unwrap();
        let params = pace_options(&card_access).unwrap()[0];
        let mut rng = Script(
            unhex(
                "7F4EF07B9EA82FD78AD689B38D0BC78CF21F249D953BC46F4C6E19259C010F99\
                 A73FB703AC1436A18E0CFA5ABB3F7BEC7A070E7A6788486BEE230C4A22762595",
            )
            .unwrap(),
        );
        let mut pace = Pace::new(params, &key).unwrap();
        assert_eq!(hex(&pace.first_command().encode()), "0022c1a412800a04007f0007020204020283010184010d");
        let ok = |data: &str| Response::new(unhex(data).unwrap(), 0x9000);
        let PaceStep::Send(c) = pace.on_response(&ok(""), &mut rng).unwrap() else { panic!() };
        assert_eq!(hex(&c.encode()), "10860000027c0000");
        let PaceStep::Send(c) = pace.on_response(&ok("7C12801095A3A016522EE98D01E76CB6B98B42C3"), &mut rng).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            hex(&c.encode()),
            "10860000457c438141047acf3efc982ec45565a4b155129efbc74650dcbfa6362d896fc70262e0c2cc5e\
             544552dcb6725218799115b55c9baa6d9f6bc3a9618e70c25af71777a9c4922d00"
        );
        let PaceStep::Send(c) = pace.on_response(&ok(&format!("7C438241{PK_MAP_IC}")), &mut rng).unwrap() else {
            panic!()
        };
        assert_eq!(
            hex(&c.encode()),
            "10860000457c438341042db7a64c0355044ec9df190514c625cba2cea48754887122f3a5ef0d5edd301c\
             3556f3b3b186df10b857b58f6a7eb80f20ba5dc7be1d43d9bf850149fbb3646200"
        );
        let PaceStep::Send(c) = pace.on_response(&ok(&format!("7C438441{PK_IC}")), &mut rng).unwrap() else { panic!() };
        assert_eq!(hex(&c.encode()), "008600000c7c0a8508c2b0bd78d94ba86600");
        let PaceStep::Done(_sm) = pace.on_response(&ok("7C0A86083ABB9674BCE93C08"), &mut rng).unwrap() else {
            panic!()
        };
    }

    #[test]
    fn icao_appendix_g1_session_keys_and_tokens() {
        let k = unhex("28768D20701247DAE81804C9E780EDE582A9996DB4A315020B2733197DB84925").unwrap();
        assert_eq!(hex(&kdf(&k, 1, Cipher::Aes128)), "f5f0e35c0d7161ee6724ee513a0d9a7f");
        let ks_mac = kdf(&k, 2, Cipher::Aes128);
        assert_eq!(hex(&ks_mac), "fe251c7858b356b24514b3bd5f4297d1");
        let t = auth_token(Cipher::Aes128, &ks_mac, &oid::PACE_ECDH_GM_AES128, &unhex(PK_IC).unwrap()).unwrap();
        assert_eq!(hex(&t), "c2b0bd78d94ba866");
        // Nonce: z → s.
        let key = AccessKey::mrz("T22000129", "640812", "101031").unwrap();
        let k_pi = password_key(&key, Cipher::Aes128).unwrap();
        let s = decrypt_nonce(&k_pi, Cipher::Aes128, &unhex("95A3A016522EE98D01E76CB6B98B42C3").unwrap()).unwrap();
        assert_eq!(hex(&s), "3f00c4d39d153f2b2a214a078d899b22");
        // Mapped generator.
        let curve = Curve::BrainpoolP256r1;
        let sk_map = curve
            .secret_from_bytes(&unhex("7F4EF07B9EA82FD78AD689B38D0BC78CF21F249D953BC46F4C6E19259C010F99").unwrap())
            .unwrap();
        let h = curve.decode_point(&unhex(PK_MAP_IC).unwrap()).unwrap().mul(&sk_map).unwrap();
        let g = curve.map_generator(&s, &h).unwrap().encode();
        assert_eq!(
            hex(&g[1..]),
            "8ced63c91426d4f0eb1435e7cb1d74a46723a0af21c89634f65a9ae87a9265e28c879506743f8611ac33645c5b985c80b5f09a0b83407c1b6a4d857ae76fe522"
        );
    }

    #[test]
    fn wrong_password_at_the_token_step_is_access_denied() {
        let key = AccessKey::can("654321").unwrap();
        let params = pace_options(&unhex(CCCD_CARD_ACCESS).unwrap()).unwrap()[0];
        let mut pace = Pace::new(params, &key).unwrap();
        pace.stage =
            Stage::Tokens { channel: SecureChannel::from_secret(Cipher::Aes128, &[1; 32]).unwrap(), expected: [0; 8] };
        let r = pace.on_response(&Response::new(vec![], 0x63C2), &mut Script(vec![]));
        assert_eq!(r.unwrap_err(), ChipError::AccessDenied { sw: 0x63C2, tries_left: Some(2) });
    }
}
