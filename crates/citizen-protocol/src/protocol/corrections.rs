//! Corrections and enrichment of the population register by the citizen (issue 16, item 1;
//! decision 50). The citizen proposes a change to one field of their own record as a signed
//! submission of the procedure [`PROCEDURE_ID`] (through the outbox like any submission); a
//! named official holding the `register` role reviews it through the officials' API and
//! approves, rejects or asks for a supplement. On approval the register changes and the change
//! is kept in an append-only history (old value, new value, decision, official, time).
//!
//! Sans-I/O: the field vocabulary, the value rules shared by the server and the device, the
//! officials' wire types and the error codes.

use serde::{Deserialize, Serialize};

/// The procedure id of a correction or addition (`register-correction`, version 1).
pub const PROCEDURE_ID: &str = "register-correction";
/// `GET` (officials' API, role `register`): corrections waiting for a decision
/// ([`CorrectionList`]).
pub const PATH_OFFICIAL_CORRECTIONS: &str = "/v1/official/corrections";
/// `POST` (officials' API, role `register`): one correction with the record's current value
/// ([`CorrectionViewRequest`] → [`CorrectionDto`]); logged in the citizen's access log.
pub const PATH_OFFICIAL_CORRECTION_VIEW: &str = "/v1/official/corrections/view";
/// `POST` (officials' API, role `register`): decide ([`CorrectionDecisionRequest`] →
/// [`CorrectionDto`]).
pub const PATH_OFFICIAL_CORRECTION_DECIDE: &str = "/v1/official/corrections/decide";

/// Nhóm máu: the values the register accepts.
pub const BLOOD_GROUPS: &[&str] = &["A+", "A-", "B+", "B-", "AB+", "AB-", "O+", "O-"];
/// Trình độ học vấn: (value, Vietnamese, English).
pub const EDUCATION_LEVELS: &[(&str, &str, &str)] = &[
    ("chua_qua_dao_tao", "Chưa qua đào tạo", "No formal schooling"),
    ("tieu_hoc", "Tiểu học", "Primary school"),
    ("thcs", "Trung học cơ sở", "Lower secondary school"),
    ("thpt", "Trung học phổ thông", "Upper secondary school"),
    ("trung_cap", "Trung cấp", "Vocational secondary"),
    ("cao_dang", "Cao đẳng", "College"),
    ("dai_hoc", "Đại học", "University"),
    ("thac_si", "Thạc sĩ", "Master's degree"),
    ("tien_si", "Tiến sĩ", "Doctorate"),
];

/// A field of the record the citizen may correct or add.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CorrectableField {
    /// Quê quán — a correction (e.g. a misspelling); carried by the PID credential.
    PlaceOfOrigin,
    /// Nghề nghiệp — an addition or update.
    Occupation,
    /// Trình độ học vấn — an addition or update (one of [`EDUCATION_LEVELS`]).
    Education,
    /// Nhóm máu — an addition (one of [`BLOOD_GROUPS`]).
    BloodGroup,
    /// Địa chỉ liên hệ — where the citizen wants mail (not the residence, which has its own
    /// procedures).
    ContactAddress,
    /// Thư điện tử.
    Email,
}

impl CorrectableField {
    /// Every field, in form order.
    pub const ALL: [CorrectableField; 6] = [
        CorrectableField::PlaceOfOrigin,
        CorrectableField::Occupation,
        CorrectableField::Education,
        CorrectableField::BloodGroup,
        CorrectableField::ContactAddress,
        CorrectableField::Email,
    ];

    /// Wire name (also the profile attribute path).
    pub fn as_str(self) -> &'static str {
        match self {
            CorrectableField::PlaceOfOrigin => "place_of_origin",
            CorrectableField::Occupation => "occupation",
            CorrectableField::Education => "education",
            CorrectableField::BloodGroup => "blood_group",
            CorrectableField::ContactAddress => "contact_address",
            CorrectableField::Email => "email",
        }
    }

    /// Parse a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == s)
    }

    /// The form field holding the proposed value for this field.
    pub fn value_key(self) -> &'static str {
        match self {
            CorrectableField::Education => "new_education",
            CorrectableField::BloodGroup => "new_blood_group",
            CorrectableField::Email => "new_email",
            _ => "new_value",
        }
    }

    /// Whether the citizen must attach evidence (a correction of what the State recorded, or a
    /// fact a document proves); occupation, contact address and e-mail are declarations.
    pub fn needs_evidence(self) -> bool {
        matches!(self, CorrectableField::PlaceOfOrigin | CorrectableField::Education | CorrectableField::BloodGroup)
    }

    /// Whether the PID credential carries this field (then an approval revokes the held PID).
    pub fn in_pid(self) -> bool {
        matches!(self, CorrectableField::PlaceOfOrigin)
    }
}

/// Why a proposed value is not acceptable for its field (beyond the eForm's own rules), as a
/// `correction.*` code; `None` when it is.
pub fn value_problem(field: CorrectableField, value: &str) -> Option<&'static str> {
    let v = value.trim();
    if v.is_empty() || v != value || v.chars().any(char::is_control) {
        return Some(codes::VALUE_INVALID);
    }
    let n = v.chars().count();
    let ok = match field {
        // "Xã …, Tỉnh …": at least a commune and a province part, letters present.
        CorrectableField::PlaceOfOrigin => {
            (5..=200).contains(&n) && v.contains(',') && v.chars().filter(|c| c.is_alphabetic()).count() >= 4
        }
        CorrectableField::Occupation => (2..=100).contains(&n) && v.chars().any(char::is_alphabetic),
        CorrectableField::Education => EDUCATION_LEVELS.iter().any(|(k, _, _)| *k == v),
        CorrectableField::BloodGroup => BLOOD_GROUPS.contains(&v),
        CorrectableField::ContactAddress => (5..=200).contains(&n) && v.chars().any(char::is_alphabetic),
        CorrectableField::Email => n <= 254 && v.split_once('@').is_some_and(|(l, d)| !l.is_empty() && d.contains('.')),
    };
    (!ok).then_some(codes::VALUE_INVALID)
}

/// The state of a correction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CorrectionState {
    /// Waiting for a decision (or for the citizen's supplement).
    Pending,
    /// Approved: the register holds the new value.
    Approved,
    /// Rejected: nothing changed.
    Rejected,
}

/// What an official decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CorrectionDecision {
    /// Change the register.
    Approve,
    /// Change nothing.
    Reject,
    /// Ask the citizen for more evidence (the case's supplement path).
    RequestSupplement,
}

/// One correction as the reviewing official sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorrectionDto {
    /// The case number (mã hồ sơ).
    pub case_number: String,
    /// Which field.
    pub field: CorrectableField,
    /// The register's value now (`None` when the field is empty); absent from the list.
    #[serde(default)]
    pub current_value: Option<String>,
    /// The value the citizen proposes; absent from the list.
    #[serde(default)]
    pub proposed_value: Option<String>,
    /// The citizen's explanation; absent from the list.
    #[serde(default)]
    pub reason: Option<String>,
    /// Keys of the evidence attached (the files stay with the case).
    #[serde(default)]
    pub evidence: Vec<String>,
    /// State.
    pub state: CorrectionState,
    /// The case's status (`received`, `needs_supplement`, …).
    pub case_status: String,
    /// Received (Unix seconds).
    pub received_at: i64,
}

/// Answer of [`PATH_OFFICIAL_CORRECTIONS`]: no personal value, only what to open next.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorrectionList {
    /// Pending corrections, oldest first.
    pub corrections: Vec<CorrectionDto>,
}

/// Body of [`PATH_OFFICIAL_CORRECTION_VIEW`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorrectionViewRequest {
    /// Which case.
    pub case_number: String,
}

/// Body of [`PATH_OFFICIAL_CORRECTION_DECIDE`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorrectionDecisionRequest {
    /// Which case.
    pub case_number: String,
    /// The decision.
    pub decision: CorrectionDecision,
    /// Note to the citizen (Vietnamese), e.g. why it was rejected.
    #[serde(default)]
    pub note_vi: Option<String>,
    /// Note to the citizen (English).
    #[serde(default)]
    pub note_en: Option<String>,
    /// For a supplement request: the attachment keys wanted (default: `evidence`).
    #[serde(default)]
    pub requested_attachments: Vec<String>,
}

/// Error codes of corrections (server answers; the same codes are in the message catalogue,
/// so the device shows them in both languages).
pub mod codes {
    /// The proposed value does not fit the field (HTTP 422).
    pub const VALUE_INVALID: &str = "correction.value_invalid";
    /// The proposed value is what the register already holds (HTTP 422).
    pub const UNCHANGED: &str = "correction.unchanged";
    /// A correction of the same field is already waiting for a decision (HTTP 409).
    pub const ALREADY_PENDING: &str = "correction.already_pending";
    /// Evidence is required for this field and none is attached (HTTP 422).
    pub const EVIDENCE_REQUIRED: &str = "correction.evidence_required";
    /// A correction is decided only by a named official through the corrections API (HTTP
    /// 403): not by the shared officials' token, not through the generic case transition.
    pub const NAMED_OFFICIAL_REQUIRED: &str = "correction.named_official_required";
    /// No correction with this case number (HTTP 404).
    pub const UNKNOWN: &str = "correction.unknown";
    /// The correction was decided already, or waits for the citizen's supplement (HTTP 409).
    pub const NOT_PENDING: &str = "correction.not_pending";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip_and_values_are_checked() {
        for f in CorrectableField::ALL {
            assert_eq!(CorrectableField::parse(f.as_str()), Some(f));
        }
        assert_eq!(CorrectableField::parse("full_name"), None);
        use CorrectableField::*;
        assert_eq!(value_problem(BloodGroup, "O+"), None);
        assert_eq!(value_problem(BloodGroup, "Z"), Some(codes::VALUE_INVALID));
        assert_eq!(value_problem(Education, "dai_hoc"), None);
        assert_eq!(value_problem(Education, "PhD"), Some(codes::VALUE_INVALID));
        assert_eq!(value_problem(PlaceOfOrigin, "Xã Đông Anh, Thành phố Hà Nội"), None);
        assert_eq!(value_problem(PlaceOfOrigin, "Hà Nội"), Some(codes::VALUE_INVALID));
        assert_eq!(value_problem(Occupation, " Kỹ sư"), Some(codes::VALUE_INVALID));
        assert_eq!(value_problem(Occupation, "Kỹ sư\u{7}"), Some(codes::VALUE_INVALID));
        assert_eq!(value_problem(Email, "a@b.vn"), None);
        assert_eq!(value_problem(Email, "ab.vn"), Some(codes::VALUE_INVALID));
        assert!(PlaceOfOrigin.in_pid() && !Occupation.in_pid());
    }
}
