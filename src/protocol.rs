//! The wire protocol, from the sans-I/O protocol crate ([`citizen_protocol::protocol`]):
//! re-exported under its old path, with the UniFFI declarations of the services DTOs that the
//! core exports.

pub use citizen_protocol::protocol::*;

/// Public-services wire format ([`citizen_protocol::protocol::services`]).
pub mod services {
    pub use citizen_protocol::protocol::services::*;

    // UniFFI declarations of the protocol crate's services records and enums that the core
    // exports. `citizen-protocol` has no UniFFI dependency, so their foreign-language interface is
    // declared here with `#[uniffi::remote(..)]`: the definitions mirror the protocol crate's (same
    // fields in the same order, which the compiler checks; the docstrings here are the ones the
    // bindings carry) and generate the FFI code for this crate's UniFFI tag. They sit in the module
    // the types were defined in before the split (UniFFI's checksums include it), so the bindings are
    // unchanged and stay in the one `citizen_core` module.

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
}
