//! Vietnam's administrative units after the 2025 reorganisation: the 34 provincial units and the
//! 3,321 commune-level units (2,621 xã, 687 phường, 13 đặc khu) in force from 1 July 2025, with
//! their official codes.
//!
//! Why bundled: address fields of enrollment and other forms are checked on the device, offline,
//! before anything is sent (the same reason [`crate::cccd`] validates locally). A commune code
//! must exist and must belong to the province picked alongside it. The list changes only by
//! resolution of the National Assembly, so a dated, reviewed copy in the binary is preferable to
//! a network lookup at form time. About 115 KB of UTF-8 text.
//!
//! Where it comes from (details, checksums and licence in `data/README.md`): the codes are those
//! of the official list, Decision 19/2025/QĐ-TTg of 30 June 2025 (General Statistics Office,
//! letters 915/CTK-CSCL and 1027/CTK-CSCL), as transcribed by the MIT-licensed
//! `dvhcvn/20250701` repository, with one correction applied: Xã Ia Mơ (Gia Lai) is `23938`,
//! not `23737` (GSO correction of 30 June 2025). Names are the official full names, prefix
//! included ("Tỉnh …", "Thành phố …", "Phường …", "Xã …", "Đặc khu …").
//!
//! Snapshot date: this is the state of 1 July 2025. Later resolutions that rename a unit or change
//! its type (for example Đồng Nai becoming a centrally governed city in 2026) keep the codes, so
//! validation by code is unaffected; names may lag behind such changes.
//!
//! Codes are compared exactly, as ASCII digit strings: two digits for a province (`"01"`), five
//! for a commune (`"00004"`). No trimming, no padding: normalise user input before calling.
//!
//! ```
//! use citizen_protocol::admin_units;
//! assert_eq!(admin_units::province("01").unwrap().name, "Thành phố Hà Nội");
//! assert!(admin_units::commune_in_province("00004", "01")); // Phường Ba Đình
//! ```

use std::sync::OnceLock;

/// Short provenance string of the bundled list.
pub const SOURCE: &str = "Decision 19/2025/QĐ-TTg (GSO letters 915 & 1027/CTK-CSCL), units in force from 2025-07-01; \
                          transcribed by github.com/dvhcvn/20250701 @ dd94887 (MIT), Ia Mơ corrected to 23938";

/// The bundled table: `level\tcode\tname\tparent_code`, provinces then communes, each sorted by code.
const TSV: &str = include_str!("../data/admin-units-2025.tsv");

/// A provincial unit (tỉnh or thành phố trực thuộc trung ương).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Province {
    /// Two-digit official code, e.g. `"01"`.
    pub code: &'static str,
    /// Official full name, e.g. `"Thành phố Hà Nội"`.
    pub name: &'static str,
}

/// A commune-level unit (xã, phường or đặc khu).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Commune {
    /// Five-digit official code, e.g. `"00004"`.
    pub code: &'static str,
    /// Official full name, e.g. `"Phường Ba Đình"`.
    pub name: &'static str,
    /// Code of the province the unit belongs to.
    pub province_code: &'static str,
}

struct Tables {
    /// Sorted by code.
    provinces: Vec<Province>,
    /// Sorted by (province code, code), so each province's communes form one contiguous slice.
    communes: Vec<Commune>,
    /// `communes[ranges[i].0..ranges[i].1]` are the communes of `provinces[i]`.
    ranges: Vec<(usize, usize)>,
    /// Indices into `communes`, sorted by commune code (for lookups by code).
    by_code: Vec<u16>,
}

fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| parse(TSV))
}

/// Parses the bundled table. The data is fixed at compile time and checked by the tests below,
/// so a malformed line is a build defect: it panics with the offending line.
fn parse(tsv: &'static str) -> Tables {
    let mut lines = tsv.lines();
    assert_eq!(lines.next(), Some("level\tcode\tname\tparent_code"), "admin units: unexpected header");
    let mut provinces = Vec::with_capacity(34);
    let mut communes = Vec::with_capacity(3400);
    for line in lines.filter(|l| !l.is_empty()) {
        let mut fields = line.split('\t');
        let (level, code, name) = match (fields.next(), fields.next(), fields.next()) {
            (Some(level), Some(code), Some(name)) => (level, code, name),
            _ => panic!("admin units: malformed line {line:?}"),
        };
        let parent = fields.next().unwrap_or("");
        match level {
            "province" => provinces.push(Province { code, name }),
            "commune" => communes.push(Commune { code, name, province_code: parent }),
            _ => panic!("admin units: unknown level in {line:?}"),
        }
    }
    provinces.sort_unstable_by_key(|p| p.code);
    communes.sort_unstable_by_key(|c| (c.province_code, c.code));
    let ranges = provinces
        .iter()
        .map(|p| {
            let start = communes.partition_point(|c| c.province_code < p.code);
            let end = communes.partition_point(|c| c.province_code <= p.code);
            (start, end)
        })
        .collect();
    let mut by_code: Vec<u16> =
        (0..communes.len()).map(|i| u16::try_from(i).expect("admin units: too many communes")).collect();
    by_code.sort_unstable_by_key(|&i| communes[usize::from(i)].code);
    Tables { provinces, communes, ranges, by_code }
}

/// The 34 provincial units, sorted by code.
pub fn provinces() -> &'static [Province] {
    &tables().provinces
}

/// The province with this code, if any (`"01"` → Thành phố Hà Nội).
pub fn province(code: &str) -> Option<&'static Province> {
    let t = tables();
    t.provinces.binary_search_by(|p| p.code.cmp(code)).ok().map(|i| &t.provinces[i])
}

/// The communes of a province, sorted by code; empty for an unknown province code.
pub fn communes_of(province_code: &str) -> &'static [Commune] {
    let t = tables();
    match t.provinces.binary_search_by(|p| p.code.cmp(province_code)) {
        Ok(i) => {
            let (start, end) = t.ranges[i];
            &t.communes[start..end]
        }
        Err(_) => &[],
    }
}

/// The commune-level unit with this code, if any (`"00004"` → Phường Ba Đình).
pub fn commune(code: &str) -> Option<&'static Commune> {
    let t = tables();
    t.by_code
        .binary_search_by(|&i| t.communes[usize::from(i)].code.cmp(code))
        .ok()
        .map(|k| &t.communes[usize::from(t.by_code[k])])
}

/// Whether `commune_code` is a commune of `province_code`. False if either code is unknown.
pub fn commune_in_province(commune_code: &str, province_code: &str) -> bool {
    commune(commune_code).is_some_and(|c| c.province_code == province_code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// The 34 provincial units of Resolution 202/2025/QH15 with their codes (GSO letter 915/CTK-CSCL).
    const EXPECTED_PROVINCES: [&str; 34] = [
        "01", "04", "08", "11", "12", "14", "15", "19", "20", "22", "24", "25", "31", "33", "37", "38", "40", "42",
        "44", "46", "48", "51", "52", "56", "66", "68", "75", "79", "80", "82", "86", "91", "92", "96",
    ];

    #[test]
    fn exactly_34_provinces_sorted_with_official_codes() {
        let codes: Vec<&str> = provinces().iter().map(|p| p.code).collect();
        assert_eq!(codes, EXPECTED_PROVINCES);
        assert!(provinces().iter().all(|p| p.name.starts_with("Tỉnh ") || p.name.starts_with("Thành phố ")));
        let cities: Vec<&str> =
            provinces().iter().filter(|p| p.name.starts_with("Thành phố ")).map(|p| p.code).collect();
        assert_eq!(cities, ["01", "31", "46", "48", "79", "92"]);
    }

    #[test]
    fn commune_counts_match_the_official_list() {
        let t = tables();
        assert_eq!(t.communes.len(), 3321);
        let count = |prefix: &str| t.communes.iter().filter(|c| c.name.starts_with(prefix)).count();
        assert_eq!((count("Xã "), count("Phường "), count("Đặc khu ")), (2621, 687, 13));
        assert_eq!(provinces().iter().map(|p| communes_of(p.code).len()).sum::<usize>(), 3321);
        assert_eq!(communes_of("01").len(), 126);
        assert_eq!(communes_of("79").len(), 168);
        assert_eq!(communes_of("46").len(), 40);
    }

    #[test]
    fn codes_are_unique_and_well_formed() {
        let t = tables();
        let mut seen = HashSet::new();
        for p in &t.provinces {
            assert!(p.code.len() == 2 && p.code.bytes().all(|b| b.is_ascii_digit()), "{p:?}");
            assert!(seen.insert(p.code), "duplicate province code {}", p.code);
        }
        for c in &t.communes {
            assert!(c.code.len() == 5 && c.code.bytes().all(|b| b.is_ascii_digit()), "{c:?}");
            assert!(seen.insert(c.code), "duplicate commune code {}", c.code);
            assert!(!c.name.is_empty() && c.name.trim() == c.name, "{c:?}");
        }
    }

    #[test]
    fn every_commune_has_an_existing_parent_and_lookups_agree() {
        for c in &tables().communes {
            assert!(province(c.province_code).is_some(), "orphan commune {c:?}");
            assert_eq!(commune(c.code), Some(c));
            assert!(commune_in_province(c.code, c.province_code));
        }
        for p in provinces() {
            let list = communes_of(p.code);
            assert!(!list.is_empty(), "province {} has no commune", p.code);
            assert!(list.windows(2).all(|w| w[0].code < w[1].code), "communes of {} not sorted", p.code);
            assert!(list.iter().all(|c| c.province_code == p.code));
        }
    }

    #[test]
    fn bundled_file_is_sorted_by_code() {
        let mut lines = TSV.lines().skip(1);
        let province_codes: Vec<&str> = lines.by_ref().take(34).map(|l| l.split('\t').nth(1).unwrap()).collect();
        assert!(province_codes.windows(2).all(|w| w[0] < w[1]));
        let commune_codes: Vec<&str> = lines.map(|l| l.split('\t').nth(1).unwrap()).collect();
        assert_eq!(commune_codes.len(), 3321);
        assert!(commune_codes.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn known_units() {
        assert_eq!(province("01"), Some(&Province { code: "01", name: "Thành phố Hà Nội" }));
        assert_eq!(province("79").unwrap().name, "Thành phố Hồ Chí Minh");
        assert_eq!(province("46").unwrap().name, "Thành phố Huế");
        assert_eq!(province("66").unwrap().name, "Tỉnh Đắk Lắk");
        assert_eq!(commune("00004"), Some(&Commune { code: "00004", name: "Phường Ba Đình", province_code: "01" }));
        assert_eq!(commune("00070").unwrap().name, "Phường Hoàn Kiếm");
        assert_eq!(commune("26740"), Some(&Commune { code: "26740", name: "Phường Sài Gòn", province_code: "79" }));
        assert_eq!(commune("20333").unwrap().name, "Đặc khu Hoàng Sa");
        assert_eq!(commune("20333").unwrap().province_code, "48");
        assert_eq!(commune("22736").unwrap().name, "Đặc khu Trường Sa");
        assert_eq!(commune("22736").unwrap().province_code, "56");
        // The two codes on which public transcriptions disagree (see data/README.md).
        assert_eq!(commune("23938"), Some(&Commune { code: "23938", name: "Xã Ia Mơ", province_code: "52" }));
        assert_eq!(commune("23737"), None);
        assert_eq!(commune("06970"), Some(&Commune { code: "06970", name: "Xã Ba Chẽ", province_code: "22" }));
        assert_eq!(commune("06978"), None);
    }

    #[test]
    fn unknown_codes_are_refused() {
        for code in ["", "0", "1", "00", "02", "99", "001", "01 ", " 01", "1a", "Hà Nội", "00004"] {
            assert_eq!(province(code), None, "{code:?}");
            assert!(communes_of(code).is_empty(), "{code:?}");
        }
        // Pre-2025 provinces are gone (Hà Giang 02, Bình Dương 74, Bà Rịa - Vũng Tàu 77).
        for code in ["02", "74", "77"] {
            assert_eq!(province(code), None);
        }
        for code in ["", "0", "4", "0004", "000004", "00000", "99999", "00004 ", "0000a", "01", "00013"] {
            assert_eq!(commune(code), None, "{code:?}");
        }
    }

    #[test]
    fn commune_in_province_cases() {
        assert!(commune_in_province("00004", "01")); // Phường Ba Đình, Hà Nội
        assert!(commune_in_province("26740", "79")); // Phường Sài Gòn, Hồ Chí Minh
        assert!(commune_in_province("23938", "52")); // Xã Ia Mơ, Gia Lai
        assert!(!commune_in_province("00004", "79")); // wrong province
        assert!(!commune_in_province("26740", "01"));
        assert!(!commune_in_province("00004", "1")); // province code not padded
        assert!(!commune_in_province("00004", "")); // no province
        assert!(!commune_in_province("99999", "01")); // unknown commune
        assert!(!commune_in_province("00004", "99")); // unknown province
        assert!(!commune_in_province("01", "01")); // a province code is not a commune code
    }
}
