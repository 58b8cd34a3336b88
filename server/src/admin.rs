//! Administrative units after the 2025 reorganisation (34 provinces, two-level local
//! government: province → commune/ward): a thin layer over the core's bundled official list,
//! [`citizen_protocol::admin_units`], so the server and the device validate the same codes.

use citizen_protocol::admin_units;

/// Official name of a post-2025 province code.
pub fn province_name(code: &str) -> Option<&'static str> {
    admin_units::province(code).map(|p| p.name)
}

/// Official name of a commune/ward code.
pub fn commune_name(code: &str) -> Option<&'static str> {
    admin_units::commune(code).map(|c| c.name)
}

/// Whether a commune/ward code exists and belongs to that province.
pub fn commune_in_province(commune_code: &str, province_code: &str) -> bool {
    admin_units::commune_in_province(commune_code, province_code)
}

#[cfg(test)]
mod tests {
    #[test]
    fn thirty_four_provinces() {
        assert_eq!(citizen_protocol::admin_units::provinces().len(), 34);
        assert_eq!(super::province_name("46"), Some("Thành phố Huế"));
        assert!(super::commune_in_province("00070", "01"));
        assert!(!super::commune_in_province("00070", "79"));
    }
}
