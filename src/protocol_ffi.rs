//! UniFFI declarations of the protocol crate's records and enums that the core exports.
//!
//! `citizen-protocol` is sans-I/O and has no UniFFI dependency, so the foreign-language
//! interface of its types is declared here with `#[uniffi::remote(..)]`: the definitions below
//! mirror the protocol crate's (same fields in the same order, which the compiler checks; the
//! docstrings here are the ones the bindings carry) and generate the FFI code for
//! `citizen_core`'s own UniFFI tag. The
//! bindings therefore keep every type in the one `citizen_core` module, as before the split
//! (a UniFFI derive inside the protocol crate would give it a scaffolding and a binding module
//! of its own).

use citizen_protocol::activity::{ActivityAnchor, ActivityEntry, ActivityKind, LogProblem};
use citizen_protocol::messages::{ErrorDetail, FieldError};
use citizen_protocol::protocol::services::{
    AddressDto, AttachmentSpec, CaseEventDto, CaseStatusDto, CitizenProfileDto, Condition, DateRule, FieldKind,
    OptionSpec,
};

/// A stable code with its message in both languages.
#[uniffi::remote(Record)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `auth.locked_out`.
    pub code: String,
    /// Message for the citizen in Vietnamese.
    pub message_vi: String,
    /// Message for the citizen in English.
    pub message_en: String,
}

/// One invalid input field.
#[uniffi::remote(Record)]
pub struct FieldError {
    /// The field name as in the API (`cccd`, `date_of_birth`, `phone`, `passcode`).
    pub field: String,
    /// Stable code, e.g. `cccd.province`.
    pub code: String,
    /// Vietnamese message.
    pub message_vi: String,
    /// English message.
    pub message_en: String,
}

/// An address as the register keeps it.
#[uniffi::remote(Record)]
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
#[uniffi::remote(Record)]
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
}

/// Kinds of eForm fields.
#[uniffi::remote(Enum)]
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
#[uniffi::remote(Record)]
pub struct OptionSpec {
    /// Stored value.
    pub value: String,
    /// Vietnamese label.
    pub label_vi: String,
    /// English label.
    pub label_en: String,
}

/// Show a field only when another field has one of some values.
#[uniffi::remote(Record)]
pub struct Condition {
    /// Key of the controlling field (same level).
    pub field: String,
    /// The field is visible when the controlling value is one of these.
    pub any_of: Vec<String>,
}

/// Date constraints.
#[uniffi::remote(Record)]
pub struct DateRule {
    /// Refuse dates before today (Vietnam time).
    pub not_in_past: bool,
    /// Refuse dates after today.
    pub not_in_future: bool,
    /// This date must be on or after the date in that field (from ≤ to).
    pub not_before_field: Option<String>,
    /// At most this many days after `not_before_field`.
    pub max_days_after: Option<u32>,
}

/// An attachment a procedure wants.
#[uniffi::remote(Record)]
pub struct AttachmentSpec {
    /// Stable key.
    pub key: String,
    /// Vietnamese label.
    pub label_vi: String,
    /// English label.
    pub label_en: String,
    /// Must be attached (when visible).
    pub required: bool,
    /// Largest accepted size.
    pub max_bytes: u64,
    /// Accepted MIME types (`application/pdf`, `image/jpeg`, `image/png`).
    pub mime_types: Vec<String>,
    /// Visibility condition.
    pub visible_if: Option<Condition>,
}

/// Case states.
#[uniffi::remote(Enum)]
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

/// One event of a case (also the citizen's notification feed).
#[uniffi::remote(Record)]
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
    pub note_vi: Option<String>,
    /// Reason or note (English).
    pub note_en: Option<String>,
    /// For `needs_supplement`: the attachment keys requested.
    pub requested_attachments: Vec<String>,
    /// Unix seconds.
    pub at: i64,
}

/// What happened.
#[uniffi::remote(Enum)]
pub enum ActivityKind {
    /// This device was enrolled.
    Enrollment,
    /// Logged in.
    Login,
    /// Logged out.
    Logout,
    /// A public-service request was submitted (queued).
    Submission,
    /// A submission was delivered and a case opened.
    SubmissionDelivered,
    /// A device of the account was revoked, or a transfer approved.
    DeviceChange,
    /// The passcode was changed or reset.
    PasscodeChange,
    /// Too many wrong passcodes: locked.
    Lockout,
    /// A QR login was approved (issue 4, QR login).
    QrApproval,
    /// A QR login was denied.
    QrDenial,
    /// Identity data was shared with a relying party.
    DataShare,
}

/// One entry of the log.
#[uniffi::remote(Record)]
pub struct ActivityEntry {
    /// 1, 2, 3, … without gaps.
    pub seq: u64,
    /// Unix seconds.
    pub at: i64,
    /// What happened.
    pub kind: ActivityKind,
    /// Short, non-personal summary (procedure id, case number, device id).
    pub summary: String,
    /// Hash of the previous entry (hex), [`GENESIS`] for the first.
    pub prev_hash: String,
    /// The device counter value used to sign it.
    pub counter: u64,
    /// Hash of this entry (hex).
    pub hash: String,
    /// Device signature (base64url raw r||s) over the statement binding `hash`.
    pub signature: String,
}

/// A server countersignature of a head.
#[uniffi::remote(Record)]
pub struct ActivityAnchor {
    /// Anchored sequence number.
    pub seq: u64,
    /// Anchored hash.
    pub hash: String,
    /// Unix seconds.
    pub anchored_at: i64,
    /// Compact JWS (ES256) by the server over `{iss, device_id, seq, hash, anchored_at}`.
    pub countersignature: String,
}

/// Ways a log can be broken.
#[uniffi::remote(Enum)]
pub enum LogProblem {
    /// An entry's content does not match its hash (changed).
    ChangedEntry { seq: u64 },
    /// An entry's signature does not verify.
    BadSignature { seq: u64 },
    /// A sequence number is missing or out of place (removed or reordered).
    Gap { expected_seq: u64, found_seq: u64 },
    /// An entry does not link to the previous one (removed, inserted or reordered).
    BrokenLink { seq: u64 },
    /// Counters must increase along the log.
    CounterNotIncreasing { seq: u64 },
    /// The log ends before an anchored entry (truncated).
    Truncated { anchored_seq: u64, last_seq: u64 },
    /// An anchored entry's hash differs from the anchor (rewritten history).
    AnchorMismatch { seq: u64 },
    /// An anchor's countersignature does not verify.
    BadAnchor { seq: u64 },
    /// The device stored an anchor up to `anchored_seq` that is no longer there (anchor rows
    /// deleted).
    AnchorRemoved { anchored_seq: u64 },
    /// The device's sealed record of its anchors is missing or does not open (edited at rest).
    AnchorRecordDamaged,
}
