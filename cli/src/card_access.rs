//! EF.CardAccess as `citizen chip probe` reports it: the list of SecurityInfos (BSI TR-03110
//! part 3, A.1) with each protocol OID, its version and, for PACE, the standardized domain
//! parameter id.
//!
//! The parsing is the chip crate's (`citizen_chip::pace::parse_security_infos`, the fuzzed
//! BER-TLV reader the full read uses); this module only turns its SecurityInfos into the
//! integers and names the probe prints.

use std::fmt;

use citizen_chip::tlv;

/// One SecurityInfo: `SEQUENCE { protocol OBJECT IDENTIFIER, requiredData ANY, optionalData ANY
/// OPTIONAL }`, with the integers `citizen chip probe` reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecurityInfo {
    /// The protocol, dotted (`0.4.0.127.0.7.2.2.4.2.2`).
    pub protocol: String,
    /// `requiredData` when it is an INTEGER: the protocol version.
    pub version: Option<u64>,
    /// For a PACEInfo, `parameterId`: the standardized domain parameters (13 = brainpoolP256r1).
    pub parameter_id: Option<u64>,
}

/// Why EF.CardAccess could not be read as a set of SecurityInfos (the chip crate's reason).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CardAccessError(pub citizen_chip::ChipError);

impl fmt::Display for CardAccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed EF.CardAccess: {}", self.0)
    }
}

impl std::error::Error for CardAccessError {}

/// `id-PACE` (BSI TR-03110): `bsi-de protocols(2) smartcard(2) 4`.
pub const ID_PACE: &str = "0.4.0.127.0.7.2.2.4";

/// An INTEGER TLV's value, `None` when the TLV is not an INTEGER.
fn integer(raw: &[u8]) -> Result<Option<u64>, CardAccessError> {
    let t = tlv::parse_single(raw, 0x02).ok();
    t.map(|t| tlv::small_uint(t.value).map(u64::from)).transpose().map_err(CardAccessError)
}

/// Parse EF.CardAccess (`SET OF SecurityInfo`). Unknown protocols are kept; anything that is not
/// well-formed BER-TLV is an error.
pub fn parse(bytes: &[u8]) -> Result<Vec<SecurityInfo>, CardAccessError> {
    let infos = citizen_chip::pace::parse_security_infos(bytes).map_err(CardAccessError)?;
    let mut out = vec![];
    for info in infos {
        let protocol = info.protocol.to_string();
        let version = integer(&info.required)?;
        // PACEInfo's protocol names a cipher suite (id-PACE.<mapping>.<suite>); a
        // PACEDomainParameterInfo (id-PACE.<mapping>) carries an AlgorithmIdentifier instead.
        let is_pace_info = protocol.starts_with(&format!("{ID_PACE}.")) && protocol.split('.').count() == 11;
        let parameter_id = match (&info.optional, is_pace_info) {
            (Some(raw), true) => integer(raw)?,
            _ => None,
        };
        out.push(SecurityInfo { protocol, version, parameter_id });
    }
    Ok(out)
}

/// The name of a protocol OID of the eMRTD world, when known.
pub fn protocol_name(oid: &str) -> Option<&'static str> {
    Some(match oid.strip_prefix("0.4.0.127.0.7.2.2.")? {
        "2" => "id-TA",
        "3.2.1" => "id-CA-ECDH-3DES-CBC-CBC",
        "3.2.2" => "id-CA-ECDH-AES-CBC-CMAC-128",
        "3.2.3" => "id-CA-ECDH-AES-CBC-CMAC-192",
        "3.2.4" => "id-CA-ECDH-AES-CBC-CMAC-256",
        "4.1.2" => "id-PACE-DH-GM-AES-CBC-CMAC-128",
        "4.2.1" => "id-PACE-ECDH-GM-3DES-CBC-CBC",
        "4.2.2" => "id-PACE-ECDH-GM-AES-CBC-CMAC-128",
        "4.2.3" => "id-PACE-ECDH-GM-AES-CBC-CMAC-192",
        "4.2.4" => "id-PACE-ECDH-GM-AES-CBC-CMAC-256",
        "4.4.2" => "id-PACE-ECDH-IM-AES-CBC-CMAC-128",
        "4.6.2" => "id-PACE-ECDH-CAM-AES-CBC-CMAC-128",
        _ => return None,
    })
}

/// The standardized domain parameters of a PACE parameter id (TR-03110 part 3, table 4).
pub fn parameter_name(id: u64) -> Option<&'static str> {
    Some(match id {
        0 => "1024-bit MODP, 160-bit subgroup",
        1 => "2048-bit MODP, 224-bit subgroup",
        2 => "2048-bit MODP, 256-bit subgroup",
        8 => "NIST P-192",
        9 => "brainpoolP192r1",
        10 => "NIST P-224",
        11 => "brainpoolP224r1",
        12 => "NIST P-256",
        13 => "brainpoolP256r1",
        14 => "brainpoolP320r1",
        15 => "NIST P-384",
        16 => "brainpoolP384r1",
        17 => "brainpoolP512r1",
        18 => "NIST P-521",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The CCCD's EF.CardAccess (shared/reference/icao9303-cccd.md, §1.1).
    const CCCD: &str =
        "3134300d060804007f0007020202020101300f060a04007f000702020302020201013012060a04007f0007020204020202010202010d";

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn the_cccd_announces_pace_gm_aes128_on_brainpool_p256() {
        let infos = parse(&hex(CCCD)).unwrap();
        let pace: Vec<_> = infos.iter().filter(|i| i.protocol.starts_with(ID_PACE)).collect();
        assert_eq!(pace.len(), 1);
        assert_eq!(pace[0].protocol, "0.4.0.127.0.7.2.2.4.2.2");
        assert_eq!(protocol_name(&pace[0].protocol), Some("id-PACE-ECDH-GM-AES-CBC-CMAC-128"));
        assert_eq!((pace[0].version, pace[0].parameter_id), (Some(2), Some(13)));
        assert_eq!(parameter_name(13), Some("brainpoolP256r1"));
        assert_eq!(
            infos[0],
            SecurityInfo { protocol: "0.4.0.127.0.7.2.2.2".into(), version: Some(1), parameter_id: None }
        );
        assert_eq!(infos[1].protocol, "0.4.0.127.0.7.2.2.3.2.2");
        assert_eq!((infos[1].version, infos[1].parameter_id), (Some(1), None), "CAInfo has no parameter id");
    }

    #[test]
    fn the_icao_g1_card_access_is_pace_on_parameter_13_too() {
        let infos = parse(&hex("31143012060A04007F0007020204020202010202010D")).unwrap();
        assert_eq!(infos.len(), 1);
        assert_eq!(infos[0].parameter_id, Some(13));
    }

    #[test]
    fn malformed_card_access_is_refused() {
        let good = hex(CCCD);
        for (bytes, why) in [
            (vec![], "truncated tag"),
            (good[..good.len() - 1].to_vec(), "value shorter than its length"),
            ([&good[..], &[0u8][..]].concat(), "bytes after the SET"),
            (hex("3003020101"), "not a SET"),
            (hex("3103020101"), "a SecurityInfo is not a SEQUENCE"),
            (hex("31053003020101"), "a SecurityInfo does not start with an OID"),
            (hex("3180"), "indefinite or oversized length"),
            (hex("31053003060180"), "bad OID"),
            (hex("3108300606012A0201FF"), "negative INTEGER"),
            (hex("3110300E06012A0209010000000000000000"), "INTEGER too large"),
        ] {
            assert!(parse(&bytes).is_err(), "{why}");
        }
    }
}
