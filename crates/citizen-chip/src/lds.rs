//! The files of the CCCD's eMRTD application (LDS 1): identifiers, EF.COM, DG1 (TD1 MRZ), DG2
//! (kept as stored), DG13 (the Vietnamese record), DG14 (security infos) and DG15 (active
//! authentication key). Parsers keep the raw bytes: hashes are computed over the file exactly
//! as read, and the server re-verifies the same bytes.

use std::collections::BTreeMap;

use crate::ec::{parse_ec_spki, Curve};
use crate::error::{ChipError, Result};
use crate::kdf::Cipher;
use crate::pace::parse_security_infos;
use crate::{oid, tlv};

/// An elementary file of the eMRTD application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum File {
    /// EF.COM (`011E`): LDS version and the list of data groups.
    Com,
    /// EF.SOD (`011D`): the document security object.
    Sod,
    /// Data group `n` (`01nn`).
    Dg(u8),
}

impl File {
    /// The file identifier for SELECT.
    pub fn fid(self) -> [u8; 2] {
        match self {
            File::Com => [0x01, 0x1E],
            File::Sod => [0x01, 0x1D],
            File::Dg(n) => [0x01, n],
        }
    }

    /// The outer tag the file starts with.
    pub fn tag(self) -> u32 {
        match self {
            File::Com => 0x60,
            File::Sod => 0x77,
            File::Dg(n) => dg_tag(n).unwrap_or(0),
        }
    }

    /// A short name for progress reports.
    pub fn name(self) -> String {
        match self {
            File::Com => "EF.COM".into(),
            File::Sod => "EF.SOD".into(),
            File::Dg(n) => format!("DG{n}"),
        }
    }
}

const DG_TAGS: [(u8, u32); 16] = [
    (1, 0x61),
    (2, 0x75),
    (3, 0x63),
    (4, 0x76),
    (5, 0x65),
    (6, 0x66),
    (7, 0x67),
    (8, 0x68),
    (9, 0x69),
    (10, 0x6A),
    (11, 0x6B),
    (12, 0x6C),
    (13, 0x6D),
    (14, 0x6E),
    (15, 0x6F),
    (16, 0x70),
];

/// The outer tag of data group `n`.
pub fn dg_tag(n: u8) -> Option<u32> {
    DG_TAGS.iter().find(|(d, _)| *d == n).map(|(_, t)| *t)
}

/// The data group number of an outer tag.
pub fn dg_of_tag(tag: u32) -> Option<u8> {
    DG_TAGS.iter().find(|(_, t)| *t == tag).map(|(d, _)| *d)
}

/// EF.COM: the LDS version and which data groups the chip holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Com {
    /// LDS version (`5F01`), e.g. `0107`.
    pub lds_version: String,
    /// Data group numbers present.
    pub data_groups: Vec<u8>,
}

/// Parse EF.COM.
pub fn parse_com(bytes: &[u8]) -> Result<Com> {
    let bad = |_| ChipError::MalformedDataGroup("EF.COM");
    let com = tlv::parse_single(bytes, 0x60).map_err(bad)?;
    let version =
        com.child(0x5F01).map_err(bad)?.map(|t| String::from_utf8_lossy(t.value).into_owned()).unwrap_or_default();
    let list = com.child(0x5C).map_err(bad)?.ok_or(ChipError::MalformedDataGroup("EF.COM without a tag list"))?;
    let data_groups = list.value.iter().filter_map(|t| dg_of_tag(u32::from(*t))).collect();
    Ok(Com { lds_version: version, data_groups })
}

/// The TD1 MRZ of DG1 (three lines of 30 characters), split into its fields.
#[derive(Clone, PartialEq, Eq)]
pub struct Mrz {
    /// The three lines as read.
    pub lines: [String; 3],
}

impl std::fmt::Debug for Mrz {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Mrz(<personal data redacted>)")
    }
}

impl Mrz {
    /// Document code (`ID`).
    pub fn document_code(&self) -> &str {
        &self.lines[0][0..2]
    }
    /// Issuing state (`VNM`).
    pub fn issuing_state(&self) -> &str {
        &self.lines[0][2..5]
    }
    /// Document number (for the CCCD the last 9 digits of the ID), `<` stripped.
    pub fn document_number(&self) -> &str {
        self.lines[0][5..14].trim_end_matches('<')
    }
    /// Optional data of line 1 (for the CCCD: the 12-digit personal number first).
    pub fn optional_data(&self) -> &str {
        self.lines[0][15..30].trim_end_matches('<')
    }
    /// Date of birth `YYMMDD`.
    pub fn date_of_birth(&self) -> &str {
        &self.lines[1][0..6]
    }
    /// Sex (`M`, `F`, `<`).
    pub fn sex(&self) -> &str {
        &self.lines[1][7..8]
    }
    /// Date of expiry `YYMMDD`.
    pub fn date_of_expiry(&self) -> &str {
        &self.lines[1][8..14]
    }
    /// Nationality.
    pub fn nationality(&self) -> &str {
        &self.lines[1][15..18]
    }
    /// Name as printed (`SURNAME<<GIVEN<NAMES`).
    pub fn name(&self) -> &str {
        self.lines[2].trim_end_matches('<')
    }
}

fn fill(s: &str, n: usize) -> String {
    let mut out: String = s.chars().take(n).collect();
    while out.len() < n {
        out.push('<');
    }
    out
}

/// Build a CCCD TD1 MRZ (`IDVNM`, document number = last 9 digits of the ID, the 12-digit ID
/// as optional data) with its check digits. `name` in MRZ form (`NGUYEN<<VAN<MAU`).
pub fn build_td1(id_number: &str, date_of_birth: &str, sex: char, date_of_expiry: &str, name: &str) -> Result<String> {
    use crate::kdf::check_digit;
    if id_number.len() != 12 {
        return Err(ChipError::AccessKeyFormat("the CCCD number must be 12 digits"));
    }
    let doc = &id_number[3..];
    let line1 = format!("IDVNM{doc}{}{}", check_digit(doc)?, fill(id_number, 15));
    let line2_head = format!(
        "{date_of_birth}{}{sex}{date_of_expiry}{}VNM",
        check_digit(date_of_birth)?,
        check_digit(date_of_expiry)?
    );
    let optional2 = fill("", 11);
    let composite = format!("{}{}{}{}", &line1[5..30], &line2_head[0..7], &line2_head[8..15], optional2);
    let line2 = format!("{line2_head}{optional2}{}", check_digit(&composite)?);
    Ok(format!("{line1}{line2}{}", fill(name, 30)))
}

/// Parse DG1 (TD1 only; the CCCD is TD1).
pub fn parse_dg1(bytes: &[u8]) -> Result<Mrz> {
    let bad = |_| ChipError::MalformedDataGroup("DG1");
    let dg = tlv::parse_single(bytes, 0x61).map_err(bad)?;
    let mrz = dg.child(0x5F1F).map_err(bad)?.ok_or(ChipError::MalformedDataGroup("DG1 without MRZ"))?;
    let text = std::str::from_utf8(mrz.value).map_err(|_| ChipError::MalformedDataGroup("DG1 MRZ is not ASCII"))?;
    if text.len() != 90 || !text.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'<') {
        return Err(ChipError::MalformedDataGroup("DG1 MRZ is not a TD1 (3 x 30 characters)"));
    }
    Ok(Mrz { lines: [text[0..30].to_string(), text[30..60].to_string(), text[60..90].to_string()] })
}

/// One DG13 field: its number, its text values (nested sequences flattened, e.g. father and
/// mother of field 13) and its raw encoding.
#[derive(Clone, PartialEq, Eq)]
pub struct Dg13Field {
    /// Field number (1 = personal number, 2 = full name, …).
    pub number: u8,
    /// The text values in order.
    pub values: Vec<String>,
    /// The field's `SEQUENCE` exactly as read.
    pub raw: Vec<u8>,
}

/// DG13, the Vietnamese personal record, keyed by field number (fields may be absent).
#[derive(Clone, PartialEq, Eq)]
pub struct Dg13 {
    /// Fields by number.
    pub fields: BTreeMap<u8, Dg13Field>,
}

impl std::fmt::Debug for Dg13 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Dg13(fields {:?}, <values redacted>)", self.fields.keys().collect::<Vec<_>>())
    }
}

/// Field numbers of DG13 (reverse-engineered; see the reference notes).
pub mod dg13_field {
    /// 12-digit personal number (số định danh).
    pub const ID_NUMBER: u8 = 1;
    /// Full name.
    pub const FULL_NAME: u8 = 2;
    /// Date of birth (`DD/MM/YYYY` on cards seen so far; kept as is).
    pub const DATE_OF_BIRTH: u8 = 3;
    /// Sex (`Nam` / `Nữ`).
    pub const SEX: u8 = 4;
    /// Nationality.
    pub const NATIONALITY: u8 = 5;
    /// Ethnicity (dân tộc).
    pub const ETHNICITY: u8 = 6;
    /// Religion (tôn giáo).
    pub const RELIGION: u8 = 7;
    /// Place of origin (quê quán).
    pub const PLACE_OF_ORIGIN: u8 = 8;
    /// Place of residence (nơi thường trú).
    pub const PLACE_OF_RESIDENCE: u8 = 9;
    /// Identifying features.
    pub const IDENTIFYING_FEATURES: u8 = 10;
    /// Date of issue.
    pub const DATE_OF_ISSUE: u8 = 11;
    /// Date of expiry.
    pub const DATE_OF_EXPIRY: u8 = 12;
    /// Father and mother.
    pub const PARENTS: u8 = 13;
    /// Spouse.
    pub const SPOUSE: u8 = 14;
    /// Old ID number (CMND).
    pub const OLD_ID_NUMBER: u8 = 15;
}

impl Dg13 {
    /// The first value of field `n`.
    pub fn get(&self, n: u8) -> Option<&str> {
        self.fields.get(&n).and_then(|f| f.values.first()).map(String::as_str)
    }
}

const MAX_DEPTH: usize = 4;

fn collect_strings(t: &tlv::Tlv<'_>, out: &mut Vec<String>, depth: usize) -> Result<()> {
    match t.tag {
        // UTF8String, PrintableString, IA5String, T61String
        0x0C | 0x13 | 0x16 | 0x14 => {
            let s = std::str::from_utf8(t.value).map_err(|_| ChipError::MalformedDg13("a value is not UTF-8"))?;
            out.push(s.to_string());
        }
        0x30 | 0x31 if depth < MAX_DEPTH => {
            for c in t.children().map_err(|_| ChipError::MalformedDg13("nested value"))? {
                collect_strings(&c, out, depth + 1)?;
            }
        }
        _ => return Err(ChipError::MalformedDg13("unexpected value type")),
    }
    Ok(())
}

/// Parse DG13: `6D { 30 { 02 version, 06 charset OID, 31 { 30 { 02 n, value… }… } } }`.
pub fn parse_dg13(bytes: &[u8]) -> Result<Dg13> {
    let bad = |_| ChipError::MalformedDg13("structure");
    let dg = tlv::parse_single(bytes, 0x6D).map_err(bad)?;
    let inner = dg.children().map_err(bad)?;
    let [seq] = inner.as_slice() else { return Err(ChipError::MalformedDg13("expected one SEQUENCE")) };
    if seq.tag != 0x30 {
        return Err(ChipError::MalformedDg13("expected one SEQUENCE"));
    }
    let parts = seq.children().map_err(bad)?;
    let set = parts.iter().find(|p| p.tag == 0x31).ok_or(ChipError::MalformedDg13("no field set"))?;
    let mut fields = BTreeMap::new();
    for field in set.children().map_err(bad)? {
        if field.tag != 0x30 {
            return Err(ChipError::MalformedDg13("field is not a SEQUENCE"));
        }
        let items = field.children().map_err(bad)?;
        let Some((num, rest)) = items.split_first() else { return Err(ChipError::MalformedDg13("empty field")) };
        if num.tag != 0x02 {
            return Err(ChipError::MalformedDg13("field without a number"));
        }
        let number = tlv::small_uint(num.value).map_err(|_| ChipError::MalformedDg13("field number"))?;
        let number = u8::try_from(number).map_err(|_| ChipError::MalformedDg13("field number"))?;
        let mut values = Vec::new();
        for v in rest {
            collect_strings(v, &mut values, 0)?;
        }
        if fields.insert(number, Dg13Field { number, values, raw: field.raw.to_vec() }).is_some() {
            return Err(ChipError::MalformedDg13("duplicate field number"));
        }
    }
    Ok(Dg13 { fields })
}

/// Build DG13 from field values (the software card and tests). A field with several values
/// (13: father, mother) nests them in a SEQUENCE.
pub fn build_dg13(fields: &[(u8, Vec<&str>)]) -> Vec<u8> {
    let mut items = Vec::new();
    for (n, values) in fields {
        let encoded: Vec<Vec<u8>> = values.iter().map(|v| tlv::encode(0x0C, v.as_bytes())).collect();
        let value = if values.len() == 1 { encoded.concat() } else { tlv::encode(0x30, &encoded.concat()) };
        items.push(tlv::encode(0x30, &[tlv::der_uint(&[*n]), value].concat()));
    }
    let body =
        [tlv::der_uint(&[1]), tlv::encode(0x06, oid::der(&oid::UTF8_CHARSET)), tlv::encode(0x31, &items.concat())]
            .concat();
    tlv::encode(0x6D, &tlv::encode(0x30, &body))
}

/// DG14's chip authentication parameters and key, and DG14/DG15's active authentication info.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dg14 {
    /// Chip authentication: protocol OID, cipher, key id.
    pub ca: Option<(const_oid::ObjectIdentifier, Cipher, Option<u32>)>,
    /// Chip authentication public key: curve and SEC1 point (with its key id).
    pub ca_key: Option<(Curve, Vec<u8>, Option<u32>)>,
    /// Active authentication signature algorithm (ECDSA), if listed.
    pub aa_algorithm: Option<const_oid::ObjectIdentifier>,
}

/// Parse DG14.
pub fn parse_dg14(bytes: &[u8]) -> Result<Dg14> {
    let bad = |_| ChipError::MalformedDataGroup("DG14");
    let dg = tlv::parse_single(bytes, 0x6E).map_err(bad)?;
    let infos = parse_security_infos(dg.value).map_err(bad)?;
    let mut out = Dg14 { ca: None, ca_key: None, aa_algorithm: None };
    let key_id = |opt: &Option<Vec<u8>>| -> Result<Option<u32>> {
        match opt {
            Some(raw) => Ok(Some(tlv::small_uint(tlv::parse_single(raw, 0x02).map_err(bad)?.value).map_err(bad)?)),
            None => Ok(None),
        }
    };
    for info in &infos {
        let p = info.protocol;
        let cipher = match p {
            _ if p == oid::CA_ECDH_3DES => Some(Cipher::Tdes),
            _ if p == oid::CA_ECDH_AES128 => Some(Cipher::Aes128),
            _ if p == oid::CA_ECDH_AES192 => Some(Cipher::Aes192),
            _ if p == oid::CA_ECDH_AES256 => Some(Cipher::Aes256),
            _ => None,
        };
        if let Some(cipher) = cipher {
            if out.ca.is_none() {
                out.ca = Some((p, cipher, key_id(&info.optional)?));
            }
        } else if p == oid::PK_ECDH {
            if out.ca_key.is_none() {
                let (curve, point) =
                    parse_ec_spki(&info.required).map_err(|_| ChipError::MalformedDataGroup("DG14 key"))?;
                out.ca_key = Some((curve, point, key_id(&info.optional)?));
            }
        } else if p == oid::AA {
            let alg = info.optional.as_ref().ok_or(ChipError::MalformedDataGroup("DG14 AA info"))?;
            let t = tlv::parse_single(alg, 0x06).map_err(bad)?;
            out.aa_algorithm = oid::from_der(t.value);
        }
    }
    Ok(out)
}

/// Parse DG15: the active authentication public key (EC only; RSA keys are refused as unsupported).
pub fn parse_dg15(bytes: &[u8]) -> Result<(Curve, Vec<u8>)> {
    let dg = tlv::parse_single(bytes, 0x6F).map_err(|_| ChipError::MalformedDataGroup("DG15"))?;
    parse_ec_spki(dg.value).map_err(|e| match e {
        ChipError::MalformedCertificate(m) => ChipError::MalformedDataGroup(m),
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unhex;

    #[test]
    fn icao_ef_com_of_appendix_d4() {
        let com = parse_com(&unhex("60145F0104303130365F36063034303030305C026175").unwrap()).unwrap();
        assert_eq!(com.lds_version, "0106");
        assert_eq!(com.data_groups, vec![1, 2]);
        assert!(parse_com(&unhex("60035F0100").unwrap()).is_err());
    }

    #[test]
    fn dg13_round_trip_keyed_by_number() {
        let bytes = build_dg13(&[
            (1, vec!["001090000001"]),
            (2, vec!["Nguyễn Văn Mẫu"]),
            (13, vec!["Nguyễn Văn Cha", "Trần Thị Mẹ"]),
        ]);
        let dg = parse_dg13(&bytes).unwrap();
        assert_eq!(dg.get(dg13_field::ID_NUMBER), Some("001090000001"));
        assert_eq!(dg.get(dg13_field::FULL_NAME), Some("Nguyễn Văn Mẫu"));
        assert_eq!(dg.fields[&13].values, vec!["Nguyễn Văn Cha", "Trần Thị Mẹ"]);
        assert_eq!(dg.get(dg13_field::SPOUSE), None);
        assert!(format!("{dg:?}").contains("redacted") && !format!("{dg:?}").contains("Mẫu"));
    }

    #[test]
    fn dg13_malformed_inputs() {
        let dup = build_dg13(&[(1, vec!["a"]), (1, vec!["b"])]);
        assert_eq!(parse_dg13(&dup), Err(ChipError::MalformedDg13("duplicate field number")));
        let mut bad_utf8 = build_dg13(&[(2, vec!["ab"])]);
        let n = bad_utf8.len();
        bad_utf8[n - 1] = 0xFF;
        assert_eq!(parse_dg13(&bad_utf8), Err(ChipError::MalformedDg13("a value is not UTF-8")));
        assert!(parse_dg13(&[0x6D, 0x00]).is_err());
        assert!(parse_dg13(&[0x6E, 0x00]).is_err());
    }

    #[test]
    fn dg1_td1() {
        let mrz = build_td1("001090000001", "900115", 'M', "300115", "NGUYEN<<VAN<MAU").unwrap();
        assert_eq!(mrz.len(), 90);
        let dg1 = tlv::encode(0x61, &tlv::encode(0x5F1F, mrz.as_bytes()));
        let m = parse_dg1(&dg1).unwrap();
        assert_eq!(m.document_number(), "090000001");
        assert_eq!(m.optional_data(), "001090000001");
        assert_eq!(m.date_of_birth(), "900115");
        assert_eq!(m.date_of_expiry(), "300115");
        assert_eq!(m.name(), "NGUYEN<<VAN<MAU");
        assert!(parse_dg1(&tlv::encode(0x61, &tlv::encode(0x5F1F, b"short"))).is_err());
    }
}
