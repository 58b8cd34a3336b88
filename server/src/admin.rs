//! Administrative units after the 2025 reorganisation (34 provinces, two-level local
//! government: province → commune/ward), as far as this reference server needs them.
//!
//! Stand-in until the core ships `citizen_core::admin_units`: the 34 province codes are the
//! post-2025 ones; the handful of commune codes below are plausible placeholders used only by the
//! fictitious register (server-side validation checks a commune code's shape, not its membership).

/// `(code, name)` of the 34 provinces and centrally-run cities.
pub const PROVINCES: &[(&str, &str)] = &[
    ("01", "Thành phố Hà Nội"),
    ("04", "Tỉnh Cao Bằng"),
    ("08", "Tỉnh Tuyên Quang"),
    ("11", "Tỉnh Điện Biên"),
    ("12", "Tỉnh Lai Châu"),
    ("14", "Tỉnh Sơn La"),
    ("15", "Tỉnh Lào Cai"),
    ("19", "Tỉnh Thái Nguyên"),
    ("20", "Tỉnh Lạng Sơn"),
    ("22", "Tỉnh Quảng Ninh"),
    ("24", "Tỉnh Bắc Ninh"),
    ("25", "Tỉnh Phú Thọ"),
    ("31", "Thành phố Hải Phòng"),
    ("33", "Tỉnh Hưng Yên"),
    ("37", "Tỉnh Ninh Bình"),
    ("38", "Tỉnh Thanh Hóa"),
    ("40", "Tỉnh Nghệ An"),
    ("42", "Tỉnh Hà Tĩnh"),
    ("44", "Tỉnh Quảng Trị"),
    ("46", "Thành phố Huế"),
    ("48", "Thành phố Đà Nẵng"),
    ("51", "Tỉnh Quảng Ngãi"),
    ("52", "Tỉnh Gia Lai"),
    ("56", "Tỉnh Khánh Hòa"),
    ("66", "Tỉnh Đắk Lắk"),
    ("68", "Tỉnh Lâm Đồng"),
    ("75", "Tỉnh Đồng Nai"),
    ("79", "Thành phố Hồ Chí Minh"),
    ("80", "Tỉnh Tây Ninh"),
    ("82", "Tỉnh Đồng Tháp"),
    ("86", "Tỉnh Vĩnh Long"),
    ("91", "Tỉnh An Giang"),
    ("92", "Thành phố Cần Thơ"),
    ("96", "Tỉnh Cà Mau"),
];

/// Name of a post-2025 province code.
pub fn province_name(code: &str) -> Option<&'static str> {
    PROVINCES.iter().find(|(c, _)| *c == code).map(|(_, n)| *n)
}

/// Whether `code` looks like a commune/ward code (five digits).
pub fn is_commune_code(code: &str) -> bool {
    code.len() == 5 && code.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    #[test]
    fn thirty_four_distinct_provinces() {
        let mut codes: Vec<_> = super::PROVINCES.iter().map(|p| p.0).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), 34);
    }
}
