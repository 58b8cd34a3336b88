//! The procedure catalogue (thủ tục hành chính) and its eForm schemas, as Rust data.
//!
//! Five procedures, version 1 each (the fifth, `register-correction`, is the citizen's own
//! correction or addition to their register record, decision 50). The canonical JSON of the catalogue is computed once; its
//! SHA-256 is the strong `ETag` of `GET /v1/procedures`.

use std::sync::OnceLock;

use citizen_protocol::protocol::services::{
    AttachmentSpec, CatalogueDto, Condition, DateRule, FieldKind, FieldSpec, OptionSpec, ProcedureDto,
};

/// Accepted attachment types.
const DOC_TYPES: [&str; 3] = ["application/pdf", "image/jpeg", "image/png"];
/// 5 MiB.
const FIVE_MIB: u64 = 5 * 1024 * 1024;

fn field(key: &str, vi: &str, en: &str, kind: FieldKind) -> FieldSpec {
    FieldSpec {
        key: key.into(),
        label_vi: vi.into(),
        label_en: en.into(),
        kind,
        required: false,
        autofill: None,
        locked: false,
        min_length: None,
        max_length: None,
        options: vec![],
        visible_if: None,
        date_rule: None,
        province_field: None,
        fields: vec![],
        min_items: None,
        max_items: None,
    }
}

trait Build {
    fn req(self) -> Self;
    fn auto(self, path: &str) -> Self;
    fn locked(self) -> Self;
    fn max(self, n: u32) -> Self;
    fn opts(self, o: &[(&str, &str, &str)]) -> Self;
    fn vis(self, field: &str, any_of: &[&str]) -> Self;
    fn rule(self, r: DateRule) -> Self;
    fn province(self, field: &str) -> Self;
}

impl Build for FieldSpec {
    fn req(mut self) -> Self {
        self.required = true;
        self
    }
    fn auto(mut self, path: &str) -> Self {
        self.autofill = Some(path.into());
        self
    }
    fn locked(mut self) -> Self {
        self.locked = true;
        self
    }
    fn max(mut self, n: u32) -> Self {
        self.max_length = Some(n);
        self
    }
    fn opts(mut self, o: &[(&str, &str, &str)]) -> Self {
        self.options = o
            .iter()
            .map(|(v, vi, en)| OptionSpec { value: (*v).into(), label_vi: (*vi).into(), label_en: (*en).into() })
            .collect();
        self
    }
    fn vis(mut self, field: &str, any_of: &[&str]) -> Self {
        self.visible_if = Some(cond(field, any_of));
        self
    }
    fn rule(mut self, r: DateRule) -> Self {
        self.date_rule = Some(r);
        self
    }
    fn province(mut self, field: &str) -> Self {
        self.province_field = Some(field.into());
        self
    }
}

fn cond(field: &str, any_of: &[&str]) -> Condition {
    Condition { field: field.into(), any_of: any_of.iter().map(|s| (*s).into()).collect() }
}

fn locked(key: &str, vi: &str, en: &str, kind: FieldKind, path: &str) -> FieldSpec {
    field(key, vi, en, kind).req().auto(path).locked()
}

/// The applicant block every procedure except the residence notification starts with.
fn applicant(with_sex: bool) -> Vec<FieldSpec> {
    let mut v = vec![
        locked("full_name", "Họ, chữ đệm và tên", "Full name", FieldKind::Text, "full_name"),
        locked("date_of_birth", "Ngày, tháng, năm sinh", "Date of birth", FieldKind::Date, "date_of_birth"),
    ];
    if with_sex {
        v.push(
            locked("sex", "Giới tính", "Sex", FieldKind::Select, "sex")
                .opts(&[("male", "Nam", "Male"), ("female", "Nữ", "Female")]),
        );
    }
    v.push(locked("cccd", "Số định danh cá nhân", "Personal identification number", FieldKind::Cccd, "cccd"));
    v.extend(address("permanent", "Nơi thường trú", "Permanent residence", Some("permanent_residence"), true, None));
    v
}

/// Province / commune / detail fields of an address, keys `<prefix>_province` etc.
fn address(
    prefix: &str,
    vi: &str,
    en: &str,
    autofill: Option<&str>,
    lock: bool,
    visible_if: Option<(&str, &[&str])>,
) -> Vec<FieldSpec> {
    let pk = format!("{prefix}_province");
    let mut v = vec![
        field(&pk, &format!("{vi}: Tỉnh/Thành phố"), &format!("{en}: province"), FieldKind::Province).req(),
        field(
            &format!("{prefix}_commune"),
            &format!("{vi}: Xã/Phường"),
            &format!("{en}: commune/ward"),
            FieldKind::Commune,
        )
        .req()
        .province(&pk),
        field(
            &format!("{prefix}_detail"),
            &format!("{vi}: Số nhà, đường, thôn/tổ"),
            &format!("{en}: house number, street, hamlet"),
            FieldKind::Text,
        )
        .req()
        .max(200),
    ];
    for (f, attr) in v.iter_mut().zip(["province_code", "commune_code", "detail"]) {
        if let Some(a) = autofill {
            f.autofill = Some(format!("{a}.{attr}"));
            f.locked = lock;
        }
        if let Some((c, any)) = visible_if {
            f.visible_if = Some(cond(c, any));
        }
    }
    v
}

fn from_to(max_days: u32) -> Vec<FieldSpec> {
    vec![
        field("from_date", "Từ ngày", "From", FieldKind::Date)
            .req()
            .rule(DateRule { not_in_past: true, ..Default::default() }),
        field("to_date", "Đến ngày", "Until", FieldKind::Date).req().rule(DateRule {
            not_before_field: Some("from_date".into()),
            max_days_after: Some(max_days),
            ..Default::default()
        }),
    ]
}

fn other_reason() -> FieldSpec {
    field("reason_other", "Lý do khác (ghi rõ)", "Other reason (specify)", FieldKind::Text)
        .req()
        .max(200)
        .vis("reason", &["khac"])
}

fn phone_email() -> Vec<FieldSpec> {
    vec![
        field("phone", "Số điện thoại liên hệ", "Contact phone", FieldKind::Phone).req().auto("phone"),
        field("email", "Thư điện tử", "E-mail", FieldKind::Email).auto("email").max(254),
    ]
}

fn doc(key: &str, vi: &str, en: &str, required: bool, visible_if: Option<Condition>) -> AttachmentSpec {
    AttachmentSpec {
        key: key.into(),
        label_vi: vi.into(),
        label_en: en.into(),
        required,
        max_bytes: FIVE_MIB,
        mime_types: DOC_TYPES.iter().map(|s| (*s).into()).collect(),
        visible_if,
    }
}

fn residence_notification() -> ProcedureDto {
    let mut fields = vec![
        locked("host_full_name", "Chủ cơ sở lưu trú: họ và tên", "Host: full name", FieldKind::Text, "full_name"),
        locked("host_cccd", "Chủ cơ sở lưu trú: số định danh", "Host: identification number", FieldKind::Cccd, "cccd"),
        locked("host_phone", "Chủ cơ sở lưu trú: số điện thoại", "Host: phone", FieldKind::Phone, "phone"),
    ];
    fields.extend(address(
        "lodging",
        "Địa chỉ cơ sở lưu trú",
        "Lodging address",
        Some("current_residence"),
        false,
        None,
    ));
    let mut guests = field("guests", "Người lưu trú", "Guests", FieldKind::Group).req();
    guests.min_items = Some(1);
    guests.max_items = Some(20);
    guests.fields = vec![
        field("full_name", "Họ và tên", "Full name", FieldKind::Text).req().max(100),
        field("cccd", "Số định danh cá nhân", "Personal identification number", FieldKind::Cccd).req(),
        field("date_of_birth", "Ngày sinh", "Date of birth", FieldKind::Date)
            .rule(DateRule { not_in_future: true, ..Default::default() }),
        field("relationship", "Quan hệ với chủ cơ sở", "Relationship to the host", FieldKind::Select).req().opts(&[
            ("nguoi_than", "Người thân", "Relative"),
            ("ban_be", "Bạn bè", "Friend"),
            ("khach_thue", "Khách thuê", "Tenant"),
            ("khac", "Khác", "Other"),
        ]),
    ];
    fields.push(guests);
    fields.extend(from_to(180));
    fields.push(field("reason", "Lý do lưu trú", "Reason for the stay", FieldKind::Select).req().opts(&[
        ("tham_than", "Thăm thân", "Visiting family"),
        ("du_lich", "Du lịch", "Tourism"),
        ("cong_tac", "Công tác", "Business trip"),
        ("khac", "Khác", "Other"),
    ]));
    fields.push(other_reason());
    ProcedureDto {
        id: "residence-notification".into(),
        version: 1,
        code: String::new(),
        name_vi: "Thông báo lưu trú".into(),
        name_en: "Residence (stay) notification".into(),
        agency_vi: "Công an cấp xã".into(),
        agency_en: "Commune police".into(),
        fee_vnd: 0,
        processing_days: 1,
        fields,
        attachments: vec![],
    }
}

fn temporary_residence() -> ProcedureDto {
    let mut fields = applicant(true);
    fields.extend(address("new", "Nơi đăng ký tạm trú", "Temporary residence address", None, false, None));
    fields.extend(from_to(730));
    fields.push(field("housing_basis", "Chỗ ở hợp pháp", "Legal basis of the dwelling", FieldKind::Select).req().opts(
        &[
            ("owner", "Nhà thuộc sở hữu của người đăng ký", "Owned by the applicant"),
            ("rent", "Thuê nhà", "Rented"),
            ("borrow", "Mượn, ở nhờ", "Borrowed / staying with someone"),
        ],
    ));
    fields.extend(phone_email());
    ProcedureDto {
        id: "temporary-residence".into(),
        version: 1,
        code: String::new(),
        name_vi: "Đăng ký tạm trú".into(),
        name_en: "Temporary residence registration".into(),
        agency_vi: "Công an cấp xã".into(),
        agency_en: "Commune police".into(),
        fee_vnd: 7_000,
        processing_days: 3,
        fields,
        attachments: vec![doc(
            "housing_proof",
            "Giấy tờ, tài liệu chứng minh chỗ ở hợp pháp",
            "Proof of lawful residence (ownership, lease or loan)",
            true,
            None,
        )],
    }
}

fn temporary_absence() -> ProcedureDto {
    let mut fields = applicant(false);
    fields.extend(address("dest", "Nơi đến", "Destination", None, false, None));
    fields.extend(from_to(730));
    fields.push(field("reason", "Lý do tạm vắng", "Reason for the absence", FieldKind::Select).req().opts(&[
        ("hoc_tap", "Học tập", "Study"),
        ("lao_dong", "Lao động, làm việc", "Work"),
        ("cong_tac", "Công tác", "Business trip"),
        ("chua_benh", "Chữa bệnh", "Medical treatment"),
        ("khac", "Khác", "Other"),
    ]));
    fields.push(other_reason());
    fields.push(field("phone", "Số điện thoại liên hệ", "Contact phone", FieldKind::Phone).req().auto("phone"));
    ProcedureDto {
        id: "temporary-absence".into(),
        version: 1,
        code: String::new(),
        name_vi: "Khai báo tạm vắng".into(),
        name_en: "Temporary absence declaration".into(),
        agency_vi: "Công an cấp xã".into(),
        agency_en: "Commune police".into(),
        fee_vnd: 0,
        processing_days: 1,
        fields,
        attachments: vec![],
    }
}

fn id_card_reissue() -> ProcedureDto {
    let mut fields = applicant(true);
    fields.push(field("reason", "Lý do đề nghị", "Reason for the request", FieldKind::Select).req().opts(&[
        ("het_han", "Cấp đổi: thẻ hết hạn hoặc đến tuổi đổi thẻ", "Renewal: card expired or age milestone"),
        ("hong", "Cấp đổi: thẻ bị hư hỏng, không sử dụng được", "Renewal: card damaged"),
        ("thay_doi_thong_tin", "Cấp đổi: thay đổi thông tin trên thẻ", "Renewal: card details changed"),
        ("mat", "Cấp lại: thẻ bị mất", "Replacement: card lost"),
    ]));
    fields.push(
        field("changed_info", "Thông tin thay đổi (ghi rõ)", "Changed details (describe)", FieldKind::Multiline)
            .req()
            .max(1000)
            .vis("reason", &["thay_doi_thong_tin"]),
    );
    fields.push(field("delivery", "Hình thức nhận thẻ", "How to receive the card", FieldKind::Select).req().opts(&[
        ("nhan_tai_co_quan", "Nhận tại cơ quan Công an", "Collect at the police office"),
        ("chuyen_phat", "Chuyển phát đến địa chỉ", "Deliver by post"),
    ]));
    fields.extend(address(
        "delivery",
        "Địa chỉ nhận thẻ",
        "Delivery address",
        Some("current_residence"),
        false,
        Some(("delivery", &["chuyen_phat"])),
    ));
    fields.push(field("phone", "Số điện thoại liên hệ", "Contact phone", FieldKind::Phone).req().auto("phone"));
    ProcedureDto {
        id: "id-card-reissue".into(),
        version: 1,
        code: String::new(),
        name_vi: "Cấp đổi, cấp lại thẻ căn cước".into(),
        name_en: "Identity card renewal or replacement".into(),
        agency_vi: "Công an cấp tỉnh hoặc cấp xã".into(),
        agency_en: "Provincial or commune police".into(),
        fee_vnd: 30_000,
        processing_days: 7,
        fields,
        attachments: vec![doc(
            "supporting_document",
            "Giấy tờ chứng minh thông tin thay đổi",
            "Document proving the changed details",
            false,
            Some(cond("reason", &["thay_doi_thong_tin"])),
        )],
    }
}

/// Corrections and additions to the citizen's own register record (issue 16 item 1, decision
/// 50). One field per request; the value field shown depends on the field chosen; evidence is
/// required where [`CorrectableField::needs_evidence`] says so. The server checks the value
/// further (`crate::corrections::check_proposal`).
fn register_correction() -> ProcedureDto {
    use citizen_protocol::protocol::corrections::{CorrectableField as F, EDUCATION_LEVELS, PROCEDURE_ID};
    let names = |f: F| match f {
        F::PlaceOfOrigin => ("Quê quán", "Place of origin"),
        F::Occupation => ("Nghề nghiệp", "Occupation"),
        F::Education => ("Trình độ học vấn", "Education"),
        F::BloodGroup => ("Nhóm máu", "Blood group"),
        F::ContactAddress => ("Địa chỉ liên hệ", "Contact address"),
        F::Email => ("Thư điện tử", "E-mail"),
    };
    let opts: Vec<(&str, &str, &str)> = F::ALL
        .iter()
        .map(|f| {
            let (vi, en) = names(*f);
            (f.as_str(), vi, en)
        })
        .collect();
    let with_value = |key: &str| -> Vec<&'static str> {
        F::ALL.iter().filter(|f| f.value_key() == key).map(|f| f.as_str()).collect()
    };
    let blood: Vec<(&str, &str, &str)> =
        citizen_protocol::protocol::corrections::BLOOD_GROUPS.iter().map(|b| (*b, *b, *b)).collect();
    let evidence: Vec<String> = F::ALL.iter().filter(|f| f.needs_evidence()).map(|f| f.as_str().into()).collect();
    let fields = vec![
        field("field", "Thông tin đề nghị điều chỉnh, bổ sung", "Field to correct or add", FieldKind::Select)
            .req()
            .opts(&opts),
        field("new_value", "Thông tin đúng / bổ sung", "Correct or added value", FieldKind::Text)
            .req()
            .max(200)
            .vis("field", &with_value("new_value")),
        field("new_education", "Trình độ học vấn", "Education", FieldKind::Select)
            .req()
            .opts(EDUCATION_LEVELS)
            .vis("field", &with_value("new_education")),
        field("new_blood_group", "Nhóm máu", "Blood group", FieldKind::Select)
            .req()
            .opts(&blood)
            .vis("field", &with_value("new_blood_group")),
        field("new_email", "Thư điện tử", "E-mail", FieldKind::Email)
            .req()
            .max(254)
            .vis("field", &with_value("new_email")),
        field("reason", "Lý do, căn cứ đề nghị", "Reason and grounds", FieldKind::Multiline).req().max(1000),
    ];
    ProcedureDto {
        id: PROCEDURE_ID.into(),
        version: 1,
        code: String::new(),
        name_vi: "Điều chỉnh, bổ sung thông tin trong Cơ sở dữ liệu quốc gia về dân cư".into(),
        name_en: "Correct or add information in the population register".into(),
        agency_vi: "Công an cấp xã".into(),
        agency_en: "Commune police".into(),
        fee_vnd: 0,
        processing_days: 5,
        fields,
        attachments: vec![
            doc(
                "evidence",
                "Giấy tờ chứng minh (giấy khai sinh, văn bằng, kết quả xét nghiệm nhóm máu…)",
                "Evidence (birth certificate, diploma, blood test result…)",
                true,
                Some(Condition { field: "field".into(), any_of: evidence }),
            ),
            doc("other_evidence", "Giấy tờ khác (nếu có)", "Other supporting document (optional)", false, None),
        ],
    }
}

struct Compiled {
    catalogue: CatalogueDto,
    json: Vec<u8>,
    etag: String,
}

fn compiled() -> &'static Compiled {
    static C: OnceLock<Compiled> = OnceLock::new();
    C.get_or_init(|| {
        let catalogue = CatalogueDto {
            procedures: vec![
                residence_notification(),
                temporary_residence(),
                temporary_absence(),
                id_card_reissue(),
                register_correction(),
            ],
        };
        let json = serde_json::to_vec(&catalogue).expect("catalogue serialises");
        let etag = format!("\"{}\"", citizen_protocol::protocol::sha256_hex(&json));
        Compiled { catalogue, json, etag }
    })
}

/// The catalogue.
pub fn catalogue() -> &'static CatalogueDto {
    &compiled().catalogue
}

/// Its canonical JSON (the response body).
pub fn catalogue_json() -> &'static [u8] {
    &compiled().json
}

/// Its strong entity tag, quoted (`"<sha256 hex>"`).
pub fn etag() -> &'static str {
    &compiled().etag
}

/// A procedure by id and version.
pub fn procedure(id: &str, version: u32) -> Option<&'static ProcedureDto> {
    catalogue().procedures.iter().find(|p| p.id == id && p.version == version)
}

#[cfg(test)]
mod tests {
    use super::*;
    use citizen_protocol::protocol::services::CitizenProfileDto;

    fn all_fields(f: &[FieldSpec]) -> Vec<&FieldSpec> {
        f.iter().flat_map(|x| std::iter::once(x).chain(all_fields(&x.fields))).collect()
    }

    #[test]
    fn schemas_are_consistent() {
        let c = catalogue();
        assert_eq!(c.procedures.len(), 5);
        let sample: CitizenProfileDto = serde_json::from_value(serde_json::json!({
            "full_name": "x", "date_of_birth": "2000-01-01", "sex": "male", "cccd": "001090000001",
            "nationality": "Việt Nam", "ethnicity": "Kinh", "religion": "Không", "place_of_origin": "x",
            "permanent_residence": {"detail": "", "commune_code": "", "commune_name": "", "province_code": "", "province_name": ""},
            "current_residence": {"detail": "", "commune_code": "", "commune_name": "", "province_code": "", "province_name": ""},
            "household_head_name": "x", "relationship_to_head": "Chủ hộ", "phone": "+84900000001", "email": null,
            "updated_at": 0
        }))
        .unwrap();
        for p in &c.procedures {
            let keys: Vec<&str> = p.fields.iter().map(|f| f.key.as_str()).collect();
            let mut dedup = keys.clone();
            dedup.sort();
            dedup.dedup();
            assert_eq!(dedup.len(), keys.len(), "{}: duplicate keys", p.id);
            for f in all_fields(&p.fields) {
                if let Some(a) = &f.autofill {
                    assert!(sample.attribute(a).is_some(), "{}: bad autofill {a}", p.id);
                }
                if f.locked {
                    assert!(f.autofill.is_some(), "{}: locked without autofill", f.key);
                }
                if f.kind == FieldKind::Select {
                    assert!(!f.options.is_empty(), "{}", f.key);
                }
            }
            for f in &p.fields {
                if let Some(c) = &f.visible_if {
                    assert!(keys.contains(&c.field.as_str()), "{}: condition on unknown {}", f.key, c.field);
                }
                if let Some(pf) = &f.province_field {
                    assert!(keys.contains(&pf.as_str()));
                }
            }
        }
        assert!(etag().starts_with('"') && etag().len() == 66);
    }
}
