//! The population register: fictitious citizens only.
//!
//! A real deployment would query the national population database; this reference server
//! seeds a handful of clearly fake records (names such as "Mẫu", "Thử Nghiệm" mean "sample",
//! "test") so that clients have something to enroll against.

use rusqlite::{params, Connection, OptionalExtension};

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
];

/// Insert the seed citizens that are not there yet.
pub fn seed(conn: &Connection) -> rusqlite::Result<()> {
    for c in SEED {
        conn.execute(
            "INSERT OR IGNORE INTO citizens
               (cccd, full_name, date_of_birth, sex, phone, nationality, ethnicity, permanent_address)
             VALUES (?1, ?2, ?3, ?4, ?5, 'Việt Nam', 'Kinh', ?6)",
            params![c.cccd, c.full_name, c.date_of_birth, c.sex, c.phone, c.permanent_address],
        )?;
    }
    Ok(())
}

/// Find a citizen by exact (CCCD, date of birth, normalised phone); returns the row id.
pub fn find_match(conn: &Connection, cccd: &str, dob: &str, phone: &str) -> rusqlite::Result<Option<i64>> {
    conn.query_row(
        "SELECT id FROM citizens WHERE cccd = ?1 AND date_of_birth = ?2 AND phone = ?3",
        params![cccd, dob, phone],
        |r| r.get(0),
    )
    .optional()
}

/// The registered phone of a citizen.
pub fn phone_of(conn: &Connection, citizen_id: i64) -> rusqlite::Result<String> {
    conn.query_row("SELECT phone FROM citizens WHERE id = ?1", [citizen_id], |r| r.get(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use citizen_core::cccd::{normalize_phone, validate_identity, Date};

    #[test]
    fn seed_records_are_valid_identities() {
        let today = Date { year: 2026, month: 1, day: 1 };
        for c in SEED {
            assert!(validate_identity(c.cccd, c.date_of_birth, today).is_empty(), "{}", c.cccd);
            assert_eq!(normalize_phone(c.phone).unwrap(), c.phone);
            let info = citizen_core::cccd::parse_cccd(c.cccd).unwrap();
            let sex = match info.sex {
                citizen_core::cccd::Sex::Male => "male",
                citizen_core::cccd::Sex::Female => "female",
            };
            assert_eq!(sex, c.sex, "{}", c.cccd);
        }
    }
}
