//! The population register: fictitious citizens only.
//!
//! A real deployment would query the national population database; this reference server
//! seeds a handful of clearly fake records (names such as "Mẫu", "Thử Nghiệm" mean "sample",
//! "test") so that clients have something to enroll against.

use crate::sql::{params, Connection, OptionalExtension};
use citizen_protocol::protocol::services::{AddressDto, CitizenProfileDto};

/// One fictitious citizen.
pub struct SeedCitizen {
    /// 12-digit CCCD number.
    pub cccd: &'static str,
    /// Full name.
    pub full_name: &'static str,
    /// `YYYY-MM-DD`.
    pub date_of_birth: &'static str,
    /// `male` / `female`.
    pub sex: &'static str,
    /// E.164 phone.
    pub phone: &'static str,
    /// Fictitious permanent address.
    pub permanent_address: &'static str,
}

/// The seed data. Client-side tests rely on these exact records.
pub const SEED: &[SeedCitizen] = &[
    SeedCitizen {
        cccd: "001090000001",
        full_name: "Nguyễn Văn Mẫu",
        date_of_birth: "1990-01-15",
        sex: "male",
        phone: "+84900000001",
        permanent_address: "Số 1 Phố Thử Nghiệm, Phường Mẫu, Quận Ví Dụ, Hà Nội (địa chỉ giả định)",
    },
    SeedCitizen {
        cccd: "079195000002",
        full_name: "Trần Thị Thử Nghiệm",
        date_of_birth: "1995-06-30",
        sex: "female",
        phone: "+84900000002",
        permanent_address: "Số 2 Đường Giả Lập, Phường Mẫu, Quận 1, TP. Hồ Chí Minh (địa chỉ giả định)",
    },
    SeedCitizen {
        cccd: "048200000003",
        full_name: "Lê Minh Kiểm Thử",
        date_of_birth: "2000-12-01",
        sex: "male",
        phone: "+84900000003",
        permanent_address: "Số 3 Đường Kiểm Thử, Phường Ví Dụ, Quận Hải Châu, Đà Nẵng (địa chỉ giả định)",
    },
    SeedCitizen {
        cccd: "031187000004",
        full_name: "Phạm Thị Giả Định",
        date_of_birth: "1987-09-09",
        sex: "female",
        phone: "+84900000004",
        permanent_address: "Số 4 Phố Giả Định, Phường Mẫu, Quận Ngô Quyền, Hải Phòng (địa chỉ giả định)",
    },
    SeedCitizen {
        cccd: "092301000005",
        full_name: "Hoàng Thị Ví Dụ",
        date_of_birth: "2001-07-20",
        sex: "female",
        phone: "+84900000005",
        permanent_address: "Số 5 Đường Ví Dụ, Phường Mẫu, Quận Ninh Kiều, Cần Thơ (địa chỉ giả định)",
    },
    SeedCitizen {
        cccd: "036076000006",
        full_name: "Đỗ Văn Minh Hoạ",
        date_of_birth: "1976-11-11",
        sex: "male",
        phone: "+84900000006",
        permanent_address: "Số 6 Đường Minh Hoạ, Phường Mẫu, TP. Nam Định, Nam Định (địa chỉ giả định)",
    },
    SeedCitizen {
        cccd: "001090000007",
        full_name: "Vũ Văn Dữ Liệu",
        date_of_birth: "1990-02-02",
        sex: "male",
        phone: "+84900000007",
        permanent_address: "Số 7 Phố Dữ Liệu, Phường Mẫu, Quận Ví Dụ, Hà Nội (địa chỉ giả định)",
    },
    SeedCitizen {
        cccd: "001190000008",
        full_name: "Bùi Thị Mô Phỏng",
        date_of_birth: "1990-03-03",
        sex: "female",
        phone: "+84900000008",
        permanent_address: "Số 8 Phố Mô Phỏng, Phường Mẫu, Quận Ví Dụ, Hà Nội (địa chỉ giả định)",
    },
    SeedCitizen {
        cccd: "079088000009",
        full_name: "Trịnh Văn Trình Duyệt",
        date_of_birth: "1988-04-04",
        sex: "male",
        phone: "+84900000009",
        permanent_address: "Số 9 Đường Trình Duyệt, Phường Sài Gòn, TP. Hồ Chí Minh (địa chỉ giả định)",
    },
    SeedCitizen {
        cccd: "048199000010",
        full_name: "Đặng Thị Chia Sẻ",
        date_of_birth: "1999-05-05",
        sex: "female",
        phone: "+84900000010",
        permanent_address: "Số 10 Đường Chia Sẻ, Phường Hải Châu, Đà Nẵng (địa chỉ giả định)",
    },
    SeedCitizen {
        cccd: "001305000011",
        full_name: "Ngô Thị Đồng Ý",
        date_of_birth: "2005-10-10",
        sex: "female",
        phone: "+84900000011",
        permanent_address: "Số 11 Phố Đồng Ý, Phường Hoàn Kiếm, Hà Nội (địa chỉ giả định)",
    },
    // Fictitious families (issue 15 item 5, decision 49): two children under 14 of 001090000001
    // (the younger also of 031187000004), and a ward of 079195000002. Children have no phone of
    // their own in the register: the parent's is recorded.
    SeedCitizen {
        cccd: "001216000012",
        full_name: "Nguyễn Minh Con Mẫu",
        date_of_birth: "2016-05-10",
        sex: "male",
        phone: "+84900000001",
        permanent_address: "Số 1 Phố Thử Nghiệm, Phường Mẫu, Quận Ví Dụ, Hà Nội (địa chỉ giả định)",
    },
    SeedCitizen {
        cccd: "001319000013",
        full_name: "Nguyễn Thị Bé Thử",
        date_of_birth: "2019-08-21",
        sex: "female",
        phone: "+84900000001",
        permanent_address: "Số 1 Phố Thử Nghiệm, Phường Mẫu, Quận Ví Dụ, Hà Nội (địa chỉ giả định)",
    },
    SeedCitizen {
        cccd: "079058000014",
        full_name: "Trần Văn Được Giám Hộ",
        date_of_birth: "1958-02-14",
        sex: "male",
        phone: "+84900000002",
        permanent_address: "Số 2 Đường Giả Lập, Phường Mẫu, Quận 1, TP. Hồ Chí Minh (địa chỉ giả định)",
    },
];

/// A fictitious address (street and number invented; commune and province are real post-2025
/// units from [`citizen_protocol::admin_units`]).
pub struct SeedAddress {
    /// Clearly fictitious street address.
    pub detail: &'static str,
    /// Commune/ward code.
    pub commune_code: &'static str,
    /// Commune/ward name.
    pub commune_name: &'static str,
    /// Post-2025 province code.
    pub province_code: &'static str,
}

impl SeedAddress {
    fn dto(&self) -> AddressDto {
        AddressDto {
            detail: self.detail.into(),
            commune_code: self.commune_code.into(),
            commune_name: self.commune_name.into(),
            province_code: self.province_code.into(),
            province_name: crate::admin::province_name(self.province_code).unwrap_or_default().into(),
        }
    }
}

/// The rest of a seed citizen's record (schema v2), by CCCD number.
pub struct SeedProfile {
    /// Which citizen.
    pub cccd: &'static str,
    /// Dân tộc.
    pub ethnicity: &'static str,
    /// Tôn giáo.
    pub religion: &'static str,
    /// Quê quán (post-2025 names).
    pub place_of_origin: &'static str,
    /// Nơi thường trú.
    pub permanent: SeedAddress,
    /// Nơi ở hiện tại; `None` = same as permanent.
    pub current: Option<SeedAddress>,
    /// Chủ hộ; `None` = the citizen is the head.
    pub household_head: Option<(&'static str, &'static str)>,
    /// Optional e-mail.
    pub email: Option<&'static str>,
}

const fn addr(
    detail: &'static str,
    commune_code: &'static str,
    commune_name: &'static str,
    province_code: &'static str,
) -> SeedAddress {
    SeedAddress { detail, commune_code, commune_name, province_code }
}

/// When the seed records were last "changed" (2025-07-02, the day after the reorganisation took
/// effect). Also the seed revision: a stored seed record older than this is refreshed at start
/// (the first revision used placeholder commune codes), a newer one is left alone.
pub const PROFILE_UPDATED_AT: i64 = 1_751_389_200;

/// Full records of the seed citizens. Client-side tests rely on these values.
pub const SEED_PROFILES: &[SeedProfile] = &[
    SeedProfile {
        cccd: "001090000001",
        ethnicity: "Kinh",
        religion: "Không",
        place_of_origin: "Xã Đông Anh, Thành phố Hà Nội",
        permanent: addr("Số 1 Đường Thử Nghiệm", "00070", "Phường Hoàn Kiếm", "01"),
        current: None,
        household_head: None,
        email: Some("nguyen.van.mau@example.vn"),
    },
    SeedProfile {
        cccd: "079195000002",
        ethnicity: "Kinh",
        religion: "Phật giáo",
        place_of_origin: "Phường Sài Gòn, Thành phố Hồ Chí Minh",
        permanent: addr("Số 2 Đường Giả Lập", "26740", "Phường Sài Gòn", "79"),
        current: Some(addr("Số 12 Ngõ Thử Nghiệm", "00004", "Phường Ba Đình", "01")),
        household_head: Some(("Trần Văn Chủ Hộ", "Con")),
        email: None,
    },
    SeedProfile {
        cccd: "048200000003",
        ethnicity: "Kinh",
        religion: "Công giáo",
        place_of_origin: "Phường Hải Châu, Thành phố Đà Nẵng",
        permanent: addr("Số 3 Đường Kiểm Thử", "20242", "Phường Hải Châu", "48"),
        current: None,
        household_head: Some(("Lê Văn Thử", "Con")),
        email: Some("le.minh.kiem.thu@example.vn"),
    },
    SeedProfile {
        cccd: "031187000004",
        ethnicity: "Tày",
        religion: "Không",
        place_of_origin: "Xã Thử Nghiệm, Tỉnh Lạng Sơn",
        permanent: addr("Số 4 Phố Giả Định", "11329", "Phường Ngô Quyền", "31"),
        current: None,
        household_head: Some(("Nguyễn Văn Giả Định", "Vợ")),
        email: None,
    },
    SeedProfile {
        cccd: "092301000005",
        ethnicity: "Khmer",
        religion: "Phật giáo",
        place_of_origin: "Phường Ninh Kiều, Thành phố Cần Thơ",
        permanent: addr("Số 5 Đường Ví Dụ", "31135", "Phường Ninh Kiều", "92"),
        current: None,
        household_head: None,
        email: Some("hoang.thi.vi.du@example.vn"),
    },
    SeedProfile {
        cccd: "036076000006",
        ethnicity: "Mường",
        religion: "Công giáo",
        place_of_origin: "Phường Nam Định, Tỉnh Ninh Bình",
        permanent: addr("Số 6 Đường Minh Hoạ", "13669", "Phường Nam Định", "37"),
        current: None,
        household_head: None,
        email: None,
    },
    SeedProfile {
        cccd: "001090000007",
        ethnicity: "Kinh",
        religion: "Không",
        place_of_origin: "Xã Đông Anh, Thành phố Hà Nội",
        permanent: addr("Số 7 Phố Dữ Liệu", "00454", "Xã Đông Anh", "01"),
        current: Some(addr("Số 17 Đường Thử Nghiệm", "19789", "Phường Thuận Hóa", "46")),
        household_head: Some(("Vũ Văn Chủ", "Con")),
        email: None,
    },
    SeedProfile {
        cccd: "001190000008",
        ethnicity: "Kinh",
        religion: "Không",
        place_of_origin: "Phường Ba Đình, Thành phố Hà Nội",
        permanent: addr("Số 8 Phố Mô Phỏng", "00004", "Phường Ba Đình", "01"),
        current: None,
        household_head: Some(("Bùi Văn Mô", "Con")),
        email: Some("bui.thi.mo.phong@example.vn"),
    },
    SeedProfile {
        cccd: "079088000009",
        ethnicity: "Kinh",
        religion: "Không",
        place_of_origin: "Phường Sài Gòn, Thành phố Hồ Chí Minh",
        permanent: addr("Số 9 Đường Trình Duyệt", "26740", "Phường Sài Gòn", "79"),
        current: None,
        household_head: None,
        email: None,
    },
    SeedProfile {
        cccd: "048199000010",
        ethnicity: "Kinh",
        religion: "Không",
        place_of_origin: "Phường Hải Châu, Thành phố Đà Nẵng",
        permanent: addr("Số 10 Đường Chia Sẻ", "20242", "Phường Hải Châu", "48"),
        current: None,
        household_head: None,
        email: Some("dang.thi.chia.se@example.vn"),
    },
    SeedProfile {
        cccd: "001305000011",
        ethnicity: "Kinh",
        religion: "Không",
        place_of_origin: "Phường Hoàn Kiếm, Thành phố Hà Nội",
        permanent: addr("Số 11 Phố Đồng Ý", "00070", "Phường Hoàn Kiếm", "01"),
        current: None,
        household_head: Some(("Ngô Văn Chủ", "Con")),
        email: None,
    },
    SeedProfile {
        cccd: "001216000012",
        ethnicity: "Kinh",
        religion: "Không",
        place_of_origin: "Xã Đông Anh, Thành phố Hà Nội",
        permanent: addr("Số 1 Đường Thử Nghiệm", "00070", "Phường Hoàn Kiếm", "01"),
        current: None,
        household_head: Some(("Nguyễn Văn Mẫu", "Con")),
        email: None,
    },
    SeedProfile {
        cccd: "001319000013",
        ethnicity: "Kinh",
        religion: "Không",
        place_of_origin: "Xã Đông Anh, Thành phố Hà Nội",
        permanent: addr("Số 1 Đường Thử Nghiệm", "00070", "Phường Hoàn Kiếm", "01"),
        current: None,
        household_head: Some(("Nguyễn Văn Mẫu", "Con")),
        email: None,
    },
    SeedProfile {
        cccd: "079058000014",
        ethnicity: "Kinh",
        religion: "Không",
        place_of_origin: "Phường Sài Gòn, Thành phố Hồ Chí Minh",
        permanent: addr("Số 2 Đường Giả Lập", "26740", "Phường Sài Gòn", "79"),
        current: None,
        household_head: Some(("Trần Văn Chủ Hộ", "Cha")),
        email: None,
    },
];

/// One relation of the register: who may act for whom (Decree 59/2022 Art. 11).
pub struct SeedGuardianship {
    /// The parent's or guardian's CCCD number.
    pub guardian: &'static str,
    /// The child's or ward's CCCD number.
    pub dependant: &'static str,
    /// `parent` (ends at the child's 14th birthday) or `guardian` (ends on `until`).
    pub relation: &'static str,
    /// A ward's scope in the register: procedure ids (a parent's is the server's child scope).
    pub procedures: &'static [&'static str],
    /// A ward's scope: document kinds.
    pub document_types: &'static [&'static str],
    /// Since (`YYYY-MM-DD`).
    pub since: &'static str,
    /// A ward's guardianship ends (`YYYY-MM-DD`, exclusive).
    pub until: Option<&'static str>,
}

/// The fictitious families. Client-side tests rely on these relations.
pub const SEED_GUARDIANSHIPS: &[SeedGuardianship] = &[
    SeedGuardianship {
        guardian: "001090000001",
        dependant: "001216000012",
        relation: "parent",
        procedures: citizen_protocol::protocol::delegation::CHILD_PROCEDURES,
        document_types: citizen_protocol::protocol::delegation::CHILD_DOCUMENTS,
        since: "2016-05-10",
        until: None,
    },
    SeedGuardianship {
        guardian: "001090000001",
        dependant: "001319000013",
        relation: "parent",
        procedures: citizen_protocol::protocol::delegation::CHILD_PROCEDURES,
        document_types: citizen_protocol::protocol::delegation::CHILD_DOCUMENTS,
        since: "2019-08-21",
        until: None,
    },
    SeedGuardianship {
        guardian: "031187000004",
        dependant: "001319000013",
        relation: "parent",
        procedures: citizen_protocol::protocol::delegation::CHILD_PROCEDURES,
        document_types: citizen_protocol::protocol::delegation::CHILD_DOCUMENTS,
        since: "2019-08-21",
        until: None,
    },
    SeedGuardianship {
        guardian: "079195000002",
        dependant: "079058000014",
        relation: "guardian",
        procedures: &["residence-notification"],
        document_types: &["health_insurance"],
        since: "2024-03-01",
        until: Some("2031-03-01"),
    },
];

fn format_address(a: &AddressDto) -> String {
    format!("{}, {}, {} (địa chỉ giả định)", a.detail, a.commune_name, a.province_name)
}

/// Insert the seed citizens that are not there yet, and complete (or refresh) the records whose
/// `updated_at` is older than [`PROFILE_UPDATED_AT`] (0 = a schema-v1 record without v2 fields).
pub fn seed(conn: &Connection) -> crate::sql::Result<()> {
    seed_citizens(conn)?;
    for g in SEED_GUARDIANSHIPS {
        let json = |v: &[&str]| serde_json::to_string(v).expect("a list of strings serialises");
        conn.execute(
            "INSERT INTO guardianships (guardian_cccd, dependant_cccd, relation, procedures, document_types, since, until)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (guardian_cccd, dependant_cccd) DO NOTHING",
            params![g.guardian, g.dependant, g.relation, json(g.procedures), json(g.document_types), g.since, g.until],
        )?;
    }
    Ok(())
}

/// The citizens part of [`seed`] (all a server before schema v11 seeded).
pub fn seed_citizens(conn: &Connection) -> crate::sql::Result<()> {
    for c in SEED {
        conn.execute(
            "INSERT INTO citizens
               (cccd, full_name, date_of_birth, sex, phone, nationality, ethnicity, permanent_address)
             VALUES (?1, ?2, ?3, ?4, ?5, 'Việt Nam', 'Kinh', ?6) ON CONFLICT (cccd) DO NOTHING",
            params![c.cccd, c.full_name, c.date_of_birth, c.sex, c.phone, c.permanent_address],
        )?;
    }
    for p in SEED_PROFILES {
        let permanent = p.permanent.dto();
        let current = p.current.as_ref().map(SeedAddress::dto).unwrap_or_else(|| permanent.clone());
        let full_name: Option<String> =
            conn.query_row("SELECT full_name FROM citizens WHERE cccd = ?1", [p.cccd], |r| r.get(0)).optional()?;
        let Some(full_name) = full_name else { continue };
        let (head, relation) = p.household_head.map(|(h, r)| (h.to_string(), r)).unwrap_or((full_name, "Chủ hộ"));
        conn.execute(
            "UPDATE citizens SET ethnicity = ?2, religion = ?3, place_of_origin = ?4, permanent_residence = ?5,
                    current_residence = ?6, household_head_name = ?7, relationship_to_head = ?8, email = ?9,
                    permanent_address = ?10, updated_at = ?11
              WHERE cccd = ?1 AND updated_at < ?11",
            params![
                p.cccd,
                p.ethnicity,
                p.religion,
                p.place_of_origin,
                serde_json::to_string(&permanent).expect("address serialises"),
                serde_json::to_string(&current).expect("address serialises"),
                head,
                relation,
                p.email,
                format_address(&permanent),
                PROFILE_UPDATED_AT,
            ],
        )?;
    }
    Ok(())
}

/// The register's record of a citizen, by account.
pub fn profile_of_account(conn: &Connection, account_id: &str) -> crate::sql::Result<Option<CitizenProfileDto>> {
    profile_where(conn, "JOIN accounts a ON a.citizen_id = c.id WHERE a.account_id = ?1", account_id)
}

/// The register's record of a citizen, by CCCD number (an account is not needed).
pub fn profile_of_cccd(conn: &Connection, cccd: &str) -> crate::sql::Result<Option<CitizenProfileDto>> {
    profile_where(conn, "WHERE c.cccd = ?1", cccd)
}

fn profile_where(conn: &Connection, filter: &str, key: &str) -> crate::sql::Result<Option<CitizenProfileDto>> {
    let found: Option<(i64, CitizenProfileDto)> = conn
        .query_row(
            &format!(
                "SELECT c.full_name, c.date_of_birth, c.sex, c.cccd, c.nationality, c.ethnicity, c.religion,
                c.place_of_origin, c.permanent_residence, c.current_residence, c.household_head_name,
                c.relationship_to_head, c.phone, c.email, c.updated_at, c.id
           FROM citizens c {filter}"
            ),
            [key],
            |r| {
                let address = |i: usize| -> crate::sql::Result<AddressDto> {
                    let s: String = r.get(i)?;
                    Ok(serde_json::from_str(&s).unwrap_or_default())
                };
                Ok((
                    r.get(15)?,
                    CitizenProfileDto {
                        full_name: r.get(0)?,
                        date_of_birth: r.get(1)?,
                        sex: r.get(2)?,
                        cccd: r.get(3)?,
                        nationality: r.get(4)?,
                        ethnicity: r.get(5)?,
                        religion: r.get(6)?,
                        place_of_origin: r.get(7)?,
                        permanent_residence: address(8)?,
                        current_residence: address(9)?,
                        household_head_name: r.get(10)?,
                        relationship_to_head: r.get(11)?,
                        phone: r.get(12)?,
                        email: r.get(13)?,
                        updated_at: r.get(14)?,
                        occupation: None,
                        education: None,
                        blood_group: None,
                        contact_address: None,
                    },
                ))
            },
        )
        .optional()?;
    let Some((citizen_id, mut p)) = found else { return Ok(None) };
    // What the citizen added through approved corrections (decision 50).
    let mut extra = crate::corrections::enrichment(conn, citizen_id)?;
    p.occupation = extra.remove("occupation");
    p.education = extra.remove("education");
    p.blood_group = extra.remove("blood_group");
    p.contact_address = extra.remove("contact_address");
    Ok(Some(p))
}

/// Find a citizen by exact (CCCD, date of birth, normalised phone); returns the row id.
pub fn find_match(conn: &Connection, cccd: &str, dob: &str, phone: &str) -> crate::sql::Result<Option<i64>> {
    conn.query_row(
        "SELECT id FROM citizens WHERE cccd = ?1 AND date_of_birth = ?2 AND phone = ?3",
        params![cccd, dob, phone],
        |r| r.get(0),
    )
    .optional()
}

/// The registered phone of a citizen.
pub fn phone_of(conn: &Connection, citizen_id: i64) -> crate::sql::Result<String> {
    conn.query_row("SELECT phone FROM citizens WHERE id = ?1", [citizen_id], |r| r.get(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use citizen_protocol::cccd::{normalize_phone, validate_identity, Date};

    #[test]
    fn seed_records_are_valid_identities() {
        let today = Date { year: 2026, month: 1, day: 1 };
        for c in SEED {
            assert!(validate_identity(c.cccd, c.date_of_birth, today).is_empty(), "{}", c.cccd);
            assert_eq!(normalize_phone(c.phone).unwrap(), c.phone);
            let info = citizen_protocol::cccd::parse_cccd(c.cccd).unwrap();
            let sex = match info.sex {
                citizen_protocol::cccd::Sex::Male => "male",
                citizen_protocol::cccd::Sex::Female => "female",
            };
            assert_eq!(sex, c.sex, "{}", c.cccd);
        }
    }

    #[test]
    fn every_seed_citizen_has_a_full_profile() {
        assert_eq!(SEED_PROFILES.len(), SEED.len());
        for p in SEED_PROFILES {
            assert!(SEED.iter().any(|c| c.cccd == p.cccd));
            for a in std::iter::once(&p.permanent).chain(p.current.as_ref()) {
                assert!(crate::admin::province_name(a.province_code).is_some(), "{}", a.province_code);
                assert!(crate::admin::commune_in_province(a.commune_code, a.province_code), "{}", a.commune_code);
                assert_eq!(crate::admin::commune_name(a.commune_code), Some(a.commune_name));
                assert!(a.detail.contains("Thử Nghiệm") || a.detail.starts_with("Số "));
            }
        }
    }
}
