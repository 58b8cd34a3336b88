//! Wire protocol of public-service requests: citizen profile, procedure catalogue and eForm
//! schemas, signed submissions with idempotency, signed receipts, case events.
//!
//! Shared by the core and the reference server, like the rest of [`crate::protocol`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::SignedStatement;

/// `GET /v1/citizen/profile` (Bearer): the citizen's record from the population register.
pub const PATH_PROFILE: &str = "/v1/citizen/profile";
/// `GET /v1/procedures` — the catalogue; supports `If-None-Match` (answers 304).
pub const PATH_PROCEDURES: &str = "/v1/procedures";
/// `GET /v1/keys` — the server's public keys (JWKS) for receipts and tokens.
pub const PATH_KEYS: &str = "/v1/keys";
/// `POST /v1/submissions` — header `Idempotency-Key: <submission_id>`. Authenticated by the
/// device signature inside (no bearer needed, so a queued submission can be delivered after the
/// session ended).
pub const PATH_SUBMISSIONS: &str = "/v1/submissions";
/// `GET /v1/cases/events?after=<seq>` (Bearer): case events of the citizen after a cursor.
pub const PATH_CASE_EVENTS: &str = "/v1/cases/events";
/// `POST /v1/official/cases/transition` — officials' API (header `X-Official-Token`).
pub const PATH_OFFICIAL_TRANSITION: &str = "/v1/official/cases/transition";

/// An address as the register keeps it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressDto {
    /// House number, street, hamlet (số nhà, đường, thôn/tổ).
    pub detail: String,
    /// Commune/ward code (mã xã/phường) after the 2025 reorganisation.
    pub commune_code: String,
    /// Commune/ward name.
    pub commune_name: String,
    /// Province code (mã tỉnh) after the 2025 reorganisation (34 provinces).
    pub province_code: String,
    /// Province name.
    pub province_name: String,
}

/// The citizen's record (answer to `GET /v1/citizen/profile`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CitizenProfileDto {
    /// Họ và tên.
    pub full_name: String,
    /// `YYYY-MM-DD`.
    pub date_of_birth: String,
    /// `male` | `female`.
    pub sex: String,
    /// Số định danh cá nhân (CCCD number).
    pub cccd: String,
    /// Quốc tịch.
    pub nationality: String,
    /// Dân tộc.
    pub ethnicity: String,
    /// Tôn giáo (`Không` when none).
    pub religion: String,
    /// Quê quán.
    pub place_of_origin: String,
    /// Nơi thường trú.
    pub permanent_residence: AddressDto,
    /// Nơi ở hiện tại.
    pub current_residence: AddressDto,
    /// Chủ hộ.
    pub household_head_name: String,
    /// Quan hệ với chủ hộ (`Chủ hộ`, `Con`, `Vợ`, …).
    pub relationship_to_head: String,
    /// E.164.
    pub phone: String,
    /// Optional e-mail.
    pub email: Option<String>,
    /// Unix seconds of the record's last change.
    pub updated_at: i64,
    /// Nghề nghiệp (enrichment by the citizen, issue 16; `None` until given).
    #[serde(default)]
    pub occupation: Option<String>,
    /// Trình độ học vấn (enrichment; one of [`super::corrections::EDUCATION_LEVELS`]).
    #[serde(default)]
    pub education: Option<String>,
    /// Nhóm máu (enrichment; one of [`super::corrections::BLOOD_GROUPS`]).
    #[serde(default)]
    pub blood_group: Option<String>,
    /// Địa chỉ liên hệ (enrichment: where the citizen wants mail, free text).
    #[serde(default)]
    pub contact_address: Option<String>,
}

impl CitizenProfileDto {
    /// The value of a profile attribute by its auto-fill path (`full_name`,
    /// `permanent_residence.province_code`, …). `None` for unknown paths.
    pub fn attribute(&self, path: &str) -> Option<String> {
        let addr = |a: &AddressDto, f: &str| -> Option<String> {
            Some(match f {
                "detail" => a.detail.clone(),
                "commune_code" => a.commune_code.clone(),
                "commune_name" => a.commune_name.clone(),
                "province_code" => a.province_code.clone(),
                "province_name" => a.province_name.clone(),
                _ => return None,
            })
        };
        match path.split_once('.') {
            Some(("permanent_residence", f)) => addr(&self.permanent_residence, f),
            Some(("current_residence", f)) => addr(&self.current_residence, f),
            Some(_) => None,
            None => Some(match path {
                "full_name" => self.full_name.clone(),
                "date_of_birth" => self.date_of_birth.clone(),
                "sex" => self.sex.clone(),
                "cccd" => self.cccd.clone(),
                "nationality" => self.nationality.clone(),
                "ethnicity" => self.ethnicity.clone(),
                "religion" => self.religion.clone(),
                "place_of_origin" => self.place_of_origin.clone(),
                "household_head_name" => self.household_head_name.clone(),
                "relationship_to_head" => self.relationship_to_head.clone(),
                "phone" => self.phone.clone(),
                "email" => self.email.clone().unwrap_or_default(),
                "occupation" => self.occupation.clone().unwrap_or_default(),
                "education" => self.education.clone().unwrap_or_default(),
                "blood_group" => self.blood_group.clone().unwrap_or_default(),
                "contact_address" => self.contact_address.clone().unwrap_or_default(),
                _ => return None,
            }),
        }
    }
}

/// Kinds of eForm fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    /// One line of text.
    Text,
    /// Several lines.
    Multiline,
    /// `YYYY-MM-DD`.
    Date,
    /// Vietnamese mobile number.
    Phone,
    /// 12-digit CCCD number (same rules as enrollment).
    Cccd,
    /// E-mail address.
    Email,
    /// One of `options`.
    Select,
    /// A province code from the bundled 2025 list (34 provinces).
    Province,
    /// A commune/ward code of the province in field `province_field`.
    Commune,
    /// Non-negative integer.
    Number,
    /// `true` / `false`.
    Boolean,
    /// A repeated group of `fields` (values at paths `key.<index>.<subkey>`).
    Group,
}

/// An option of a select field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OptionSpec {
    /// Stored value.
    pub value: String,
    /// Vietnamese label.
    pub label_vi: String,
    /// English label.
    pub label_en: String,
}

/// Show a field only when another field has one of some values.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Condition {
    /// Key of the controlling field (same level).
    pub field: String,
    /// The field is visible when the controlling value is one of these.
    pub any_of: Vec<String>,
}

/// Date constraints.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DateRule {
    /// Refuse dates before today (Vietnam time).
    #[serde(default)]
    pub not_in_past: bool,
    /// Refuse dates after today.
    #[serde(default)]
    pub not_in_future: bool,
    /// This date must be on or after the date in that field (from ≤ to).
    #[serde(default)]
    pub not_before_field: Option<String>,
    /// At most this many days after `not_before_field`.
    #[serde(default)]
    pub max_days_after: Option<u32>,
}

/// One field of a form.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldSpec {
    /// Stable key.
    pub key: String,
    /// Vietnamese label.
    pub label_vi: String,
    /// English label.
    pub label_en: String,
    /// Kind.
    pub kind: FieldKind,
    /// Must be filled when visible.
    #[serde(default)]
    pub required: bool,
    /// Profile attribute that fills the field (see [`CitizenProfileDto::attribute`]).
    #[serde(default)]
    pub autofill: Option<String>,
    /// An auto-filled field the citizen cannot change (the register's value is authoritative).
    #[serde(default)]
    pub locked: bool,
    /// Minimum length (characters) of text.
    #[serde(default)]
    pub min_length: Option<u32>,
    /// Maximum length (characters) of text.
    #[serde(default)]
    pub max_length: Option<u32>,
    /// Options of a select field.
    #[serde(default)]
    pub options: Vec<OptionSpec>,
    /// Visibility condition.
    #[serde(default)]
    pub visible_if: Option<Condition>,
    /// Date constraints.
    #[serde(default)]
    pub date_rule: Option<DateRule>,
    /// For `commune`: the key of the province field it belongs to.
    #[serde(default)]
    pub province_field: Option<String>,
    /// For `group`: the item fields.
    #[serde(default)]
    pub fields: Vec<FieldSpec>,
    /// For `group`: fewest items.
    #[serde(default)]
    pub min_items: Option<u32>,
    /// For `group`: most items.
    #[serde(default)]
    pub max_items: Option<u32>,
}

/// An attachment a procedure wants.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentSpec {
    /// Stable key.
    pub key: String,
    /// Vietnamese label.
    pub label_vi: String,
    /// English label.
    pub label_en: String,
    /// Must be attached (when visible).
    #[serde(default)]
    pub required: bool,
    /// Largest accepted size.
    pub max_bytes: u64,
    /// Accepted MIME types (`application/pdf`, `image/jpeg`, `image/png`).
    pub mime_types: Vec<String>,
    /// Visibility condition.
    #[serde(default)]
    pub visible_if: Option<Condition>,
}

/// A procedure (thủ tục hành chính) with its versioned form.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcedureDto {
    /// Stable id, e.g. `residence-notification`.
    pub id: String,
    /// Form schema version; a submission names the version it was filled against.
    pub version: u32,
    /// National procedure code, if any.
    pub code: String,
    /// Vietnamese name.
    pub name_vi: String,
    /// English name.
    pub name_en: String,
    /// Competent agency (Vietnamese).
    pub agency_vi: String,
    /// Competent agency (English).
    pub agency_en: String,
    /// Fee in VND (0 = free).
    pub fee_vnd: u64,
    /// Statutory processing time in working days.
    pub processing_days: u32,
    /// Fields.
    pub fields: Vec<FieldSpec>,
    /// Attachments.
    pub attachments: Vec<AttachmentSpec>,
}

/// The catalogue (answer to `GET /v1/procedures`, with an `ETag`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogueDto {
    /// Procedures.
    pub procedures: Vec<ProcedureDto>,
}

/// An attachment of a submission: its metadata and content digest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentRef {
    /// Attachment key of the procedure.
    pub key: String,
    /// File name (no path).
    pub file_name: String,
    /// MIME type.
    pub mime_type: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the content, lowercase hex.
    pub sha256: String,
}

/// What a submission says; its canonical JSON is what the device signs (by digest).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmissionPayload {
    /// Client-generated UUID; also the Idempotency-Key and the statement nonce.
    pub submission_id: String,
    /// Procedure id.
    pub procedure_id: String,
    /// Form schema version.
    pub procedure_version: u32,
    /// Field values by path (sorted).
    pub values: BTreeMap<String, String>,
    /// Attachments (sorted by key).
    pub attachments: Vec<AttachmentRef>,
    /// When answering a supplement request: the case it supplements.
    #[serde(default)]
    pub supplements_case: Option<String>,
    /// Filed by a guardian on behalf of a dependant under this mandate (decision 49). Absent
    /// (not `null`) otherwise, so the canonical bytes of ordinary submissions are unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf: Option<super::delegation::OnBehalf>,
}

impl SubmissionPayload {
    /// Canonical bytes: serde_json of the struct (fixed field order, `BTreeMap` keys sorted,
    /// no whitespace). Both sides compute it from the parsed struct, never from received bytes.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("payload serialises")
    }
    /// Lowercase hex SHA-256 of the canonical bytes (the statement subject).
    pub fn digest_hex(&self) -> String {
        let d = Sha256::digest(self.canonical_bytes());
        d.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Body of `POST /v1/submissions`. Attachment bytes travel base64url inside (bounded by the
/// procedure's limits and the server's body limit).
#[derive(Clone, Serialize, Deserialize)]
pub struct SubmissionRequest {
    /// What is submitted.
    pub payload: SubmissionPayload,
    /// purpose `submit`, nonce = submission id, subject = payload digest, counter from the
    /// device's submit sequence.
    pub signed: SignedStatement,
    /// Attachment contents by key, base64url.
    #[serde(default)]
    pub attachment_data: BTreeMap<String, String>,
}

/// Claims of a receipt (compact JWS, ES256, by the server's key from `GET /v1/keys`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptClaims {
    /// Issuer: the server audience.
    pub iss: String,
    /// Submission id.
    pub submission_id: String,
    /// Case number (mã hồ sơ).
    pub case_number: String,
    /// Procedure id.
    pub procedure_id: String,
    /// Form version.
    pub procedure_version: u32,
    /// Digest of the payload the server accepted.
    pub payload_sha256: String,
    /// Unix seconds.
    pub received_at: i64,
    /// Expected completion date `YYYY-MM-DD`.
    pub due_date: String,
    /// Filed by a guardian on behalf of a dependant under this mandate (decision 49).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf: Option<super::delegation::OnBehalf>,
}

impl crate::jwt::JwtKind for ReceiptClaims {
    const TYP: &'static str = crate::jwt::typ::SUBMISSION_RECEIPT;
}

/// Answer to `POST /v1/submissions` (201 first time, 200 for an idempotent replay).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SubmissionResponse {
    /// Compact JWS over [`ReceiptClaims`].
    pub receipt: String,
    /// Case number (also inside the receipt).
    pub case_number: String,
}

/// The server's public keys.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KeysResponse {
    /// JWKS `keys` (EC P-256: kty, crv, x, y, kid, use, alg).
    pub keys: Vec<serde_json::Value>,
}

/// Case states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseStatusDto {
    /// Tiếp nhận.
    Received,
    /// Đang xử lý.
    Processing,
    /// Yêu cầu bổ sung hồ sơ.
    NeedsSupplement,
    /// Đã duyệt.
    Approved,
    /// Từ chối (with reason).
    Rejected,
    /// Hoàn thành (result delivered).
    Completed,
}

impl CaseStatusDto {
    /// Whether an official may move a case from `self` to `to`.
    pub fn can_move_to(self, to: CaseStatusDto) -> bool {
        use CaseStatusDto::*;
        matches!(
            (self, to),
            (Received, Processing)
                | (Received, Rejected)
                | (Processing, NeedsSupplement)
                | (Processing, Approved)
                | (Processing, Rejected)
                | (NeedsSupplement, Processing)
                | (NeedsSupplement, Rejected)
                | (Approved, Completed)
        )
    }
}

/// One event of a case (also the citizen's notification feed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseEventDto {
    /// Monotonic sequence number (the cursor).
    pub seq: i64,
    /// Case number.
    pub case_number: String,
    /// Submission that opened the case.
    pub submission_id: String,
    /// Procedure id.
    pub procedure_id: String,
    /// New status.
    pub status: CaseStatusDto,
    /// Reason or note (Vietnamese), e.g. for rejection or a supplement request.
    #[serde(default)]
    pub note_vi: Option<String>,
    /// Reason or note (English).
    #[serde(default)]
    pub note_en: Option<String>,
    /// For `needs_supplement`: the attachment keys requested.
    #[serde(default)]
    pub requested_attachments: Vec<String>,
    /// Unix seconds.
    pub at: i64,
}

/// Answer to `GET /v1/cases/events?after=<seq>`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CaseEventsResponse {
    /// Events after the cursor, oldest first (at most 200).
    pub events: Vec<CaseEventDto>,
    /// Cursor for the next call.
    pub next_after: i64,
    /// More events wait.
    pub more: bool,
}

/// Body of the officials' transition call.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TransitionRequest {
    /// Case number.
    pub case_number: String,
    /// Target status.
    pub to: CaseStatusDto,
    /// Note (Vietnamese).
    #[serde(default)]
    pub note_vi: Option<String>,
    /// Note (English).
    #[serde(default)]
    pub note_en: Option<String>,
    /// For `needs_supplement`.
    #[serde(default)]
    pub requested_attachments: Vec<String>,
}

/// Error codes of the services endpoints (in addition to [`super::codes`]).
pub mod codes {
    /// Same Idempotency-Key with a different payload (HTTP 422).
    pub const IDEMPOTENCY_CONFLICT: &str = "idempotency_conflict";
    /// The same key is being processed right now (HTTP 409; retry later).
    pub const IN_PROGRESS: &str = "in_progress";
    /// Unknown procedure or version no longer accepted (HTTP 422).
    pub const UNKNOWN_PROCEDURE: &str = "unknown_procedure";
    /// The form does not validate server-side (HTTP 422); `fields` lists field codes.
    pub const FORM_INVALID: &str = "form_invalid";
    /// Attachment missing, too large, wrong type or digest mismatch (HTTP 422).
    pub const ATTACHMENT_INVALID: &str = "attachment_invalid";
    /// Unknown case (HTTP 404).
    pub const UNKNOWN_CASE: &str = "unknown_case";
    /// Transition not allowed from the current state (HTTP 409).
    pub const INVALID_TRANSITION: &str = "invalid_transition";
    /// Missing or wrong officials' token (HTTP 401).
    pub const OFFICIAL_UNAUTHORIZED: &str = "official_unauthorized";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_digest_is_stable_and_binds_content() {
        let mut p = SubmissionPayload {
            submission_id: "s".into(),
            procedure_id: "residence-notification".into(),
            procedure_version: 1,
            values: BTreeMap::from([("b".into(), "2".into()), ("a".into(), "1".into())]),
            attachments: vec![],
            supplements_case: None,
            on_behalf: None,
        };
        let d = p.digest_hex();
        // Delegation (decision 49) added a field that is absent, not `null`, when unused: the
        // canonical bytes of ordinary submissions did not change.
        assert!(!String::from_utf8(p.canonical_bytes()).unwrap().contains("on_behalf"));
        let mut q = p.clone();
        q.on_behalf = Some(crate::protocol::delegation::OnBehalf {
            mandate_id: "mdt_1".into(),
            dependant_cccd: "001216000012".into(),
        });
        assert_ne!(d, q.digest_hex(), "the mandate is bound by the digest");
        assert_eq!(d, p.clone().digest_hex());
        assert!(String::from_utf8(p.canonical_bytes()).unwrap().contains(r#""values":{"a":"1","b":"2"}"#));
        p.values.insert("a".into(), "x".into());
        assert_ne!(d, p.digest_hex());
    }

    #[test]
    fn case_transitions_follow_the_lifecycle() {
        use CaseStatusDto::*;
        assert!(Received.can_move_to(Processing));
        assert!(Processing.can_move_to(NeedsSupplement));
        assert!(NeedsSupplement.can_move_to(Processing));
        assert!(Approved.can_move_to(Completed));
        assert!(!Received.can_move_to(Approved));
        assert!(!Completed.can_move_to(Processing));
        assert!(!Rejected.can_move_to(Processing));
    }

    #[test]
    fn profile_attributes_resolve_by_path() {
        let p = CitizenProfileDto {
            full_name: "Nguyễn Văn Mẫu".into(),
            date_of_birth: "1990-01-15".into(),
            sex: "male".into(),
            cccd: "001090000001".into(),
            nationality: "Việt Nam".into(),
            ethnicity: "Kinh".into(),
            religion: "Không".into(),
            place_of_origin: "x".into(),
            permanent_residence: AddressDto { province_code: "01".into(), ..Default::default() },
            current_residence: AddressDto::default(),
            household_head_name: "h".into(),
            relationship_to_head: "Chủ hộ".into(),
            phone: "+84900000001".into(),
            email: None,
            updated_at: 0,
            occupation: None,
            education: None,
            blood_group: None,
            contact_address: None,
        };
        assert_eq!(p.attribute("full_name").unwrap(), "Nguyễn Văn Mẫu");
        assert_eq!(p.attribute("permanent_residence.province_code").unwrap(), "01");
        assert_eq!(p.attribute("email").unwrap(), "");
        assert!(p.attribute("nope").is_none());
        assert!(p.attribute("current_residence.nope").is_none());
    }
}
