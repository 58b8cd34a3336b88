//! The claims vocabulary: what a relying party may ask for, with the labels shown to the citizen.

/// A claim an RP may ask for: wire name and labels shown to the citizen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClaimInfo {
    /// Wire name (also the SD-JWT claim name).
    pub name: &'static str,
    /// Vietnamese label.
    pub label_vi: &'static str,
    /// English label.
    pub label_en: &'static str,
}

/// Every claim name the protocol knows. Anything else in a request is refused.
pub const CLAIMS: &[ClaimInfo] = &[
    ClaimInfo { name: "full_name", label_vi: "Họ, chữ đệm và tên", label_en: "Full name" },
    ClaimInfo { name: "birthdate", label_vi: "Ngày sinh", label_en: "Date of birth" },
    ClaimInfo { name: "sex", label_vi: "Giới tính", label_en: "Sex" },
    ClaimInfo {
        name: "cccd_number", label_vi: "Số định danh cá nhân", label_en: "Personal identification number"
    },
    ClaimInfo { name: "nationality", label_vi: "Quốc tịch", label_en: "Nationality" },
    ClaimInfo { name: "place_of_origin", label_vi: "Quê quán", label_en: "Place of origin" },
    ClaimInfo { name: "permanent_address", label_vi: "Nơi thường trú", label_en: "Permanent residence" },
    ClaimInfo { name: "phone", label_vi: "Số điện thoại", label_en: "Phone number" },
    ClaimInfo { name: "age_over_18", label_vi: "Đủ 18 tuổi", label_en: "Aged 18 or over" },
];

/// Look up a claim by wire name.
pub fn claim_info(name: &str) -> Option<&'static ClaimInfo> {
    CLAIMS.iter().find(|c| c.name == name)
}
