//! Fictitious citizens: the same numbers, names, dates of birth, sex, ethnicity, religion,
//! place of origin and permanent address as the reference server's register
//! (`server/src/register.rs`, `SEED` and `SEED_PROFILES`), so a card read can be matched
//! against the register. Parents, dates of issue/expiry and identifying features are invented.

/// One fictitious card holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Citizen {
    /// 12-digit personal number.
    pub id_number: &'static str,
    /// Full name.
    pub full_name: &'static str,
    /// Name in MRZ form.
    pub mrz_name: &'static str,
    /// `YYYY-MM-DD`.
    pub date_of_birth: &'static str,
    /// `male` / `female`.
    pub sex: &'static str,
    /// Dân tộc.
    pub ethnicity: &'static str,
    /// Tôn giáo.
    pub religion: &'static str,
    /// Quê quán.
    pub place_of_origin: &'static str,
    /// Nơi thường trú.
    pub residence: &'static str,
    /// Father, mother (invented).
    pub parents: (&'static str, &'static str),
    /// Date of issue `YYYY-MM-DD` (invented).
    pub date_of_issue: &'static str,
    /// Date of expiry `YYYY-MM-DD` (invented).
    pub date_of_expiry: &'static str,
}

/// The register's first three citizens.
pub const CITIZENS: &[Citizen] = &[
    Citizen {
        id_number: "001090000001",
        full_name: "Nguyễn Văn Mẫu",
        mrz_name: "NGUYEN<<VAN<MAU",
        date_of_birth: "1990-01-15",
        sex: "male",
        ethnicity: "Kinh",
        religion: "Không",
        place_of_origin: "Xã Đông Anh, Thành phố Hà Nội",
        residence: "Số 1 Phố Thử Nghiệm, Phường Mẫu, Quận Ví Dụ, Hà Nội (địa chỉ giả định)",
        parents: ("Nguyễn Văn Cha Mẫu", "Lê Thị Mẹ Mẫu"),
        date_of_issue: "2021-04-01",
        date_of_expiry: "2030-01-15",
    },
    Citizen {
        id_number: "079195000002",
        full_name: "Trần Thị Thử Nghiệm",
        mrz_name: "TRAN<<THI<THU<NGHIEM",
        date_of_birth: "1995-06-30",
        sex: "female",
        ethnicity: "Kinh",
        religion: "Phật giáo",
        place_of_origin: "Phường Sài Gòn, Thành phố Hồ Chí Minh",
        residence: "Số 2 Đường Giả Lập, Phường Mẫu, Quận 1, TP. Hồ Chí Minh (địa chỉ giả định)",
        parents: ("Trần Văn Chủ Hộ", "Phạm Thị Mẹ Thử"),
        date_of_issue: "2021-05-02",
        date_of_expiry: "2035-06-30",
    },
    Citizen {
        id_number: "048200000003",
        full_name: "Lê Minh Kiểm Thử",
        mrz_name: "LE<<MINH<KIEM<THU",
        date_of_birth: "2000-12-01",
        sex: "male",
        ethnicity: "Kinh",
        religion: "Công giáo",
        place_of_origin: "Phường Hải Châu, Thành phố Đà Nẵng",
        residence: "Số 3 Đường Kiểm Thử, Phường Ví Dụ, Quận Hải Châu, Đà Nẵng (địa chỉ giả định)",
        parents: ("Lê Văn Thử", "Võ Thị Mẹ Thử"),
        date_of_issue: "2021-06-03",
        date_of_expiry: "2040-12-01",
    },
];

fn dmy(iso: &str) -> String {
    format!("{}/{}/{}", &iso[8..10], &iso[5..7], &iso[0..4])
}

/// `YYMMDD` of an ISO date.
pub fn yymmdd(iso: &str) -> String {
    format!("{}{}{}", &iso[2..4], &iso[5..7], &iso[8..10])
}

impl Citizen {
    /// The CAN printed on the card (by observation the last 6 digits of the number).
    pub fn can(&self) -> &'static str {
        &self.id_number[6..]
    }

    /// DG13 field values (dates as `DD/MM/YYYY`, as on cards seen so far).
    pub fn dg13_fields(&self) -> Vec<(u8, Vec<String>)> {
        vec![
            (1, vec![self.id_number.to_string()]),
            (2, vec![self.full_name.to_string()]),
            (3, vec![dmy(self.date_of_birth)]),
            (4, vec![if self.sex == "male" { "Nam" } else { "Nữ" }.to_string()]),
            (5, vec!["Việt Nam".to_string()]),
            (6, vec![self.ethnicity.to_string()]),
            (7, vec![self.religion.to_string()]),
            (8, vec![self.place_of_origin.to_string()]),
            (9, vec![self.residence.to_string()]),
            (10, vec!["Nốt ruồi C:1cm trên trước mày trái (giả định)".to_string()]),
            (11, vec![dmy(self.date_of_issue)]),
            (12, vec![dmy(self.date_of_expiry)]),
            (13, vec![self.parents.0.to_string(), self.parents.1.to_string()]),
        ]
    }

    /// MRZ sex letter.
    pub fn mrz_sex(&self) -> char {
        if self.sex == "male" {
            'M'
        } else {
            'F'
        }
    }
}
