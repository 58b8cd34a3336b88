//! Platform types at the boundary (issue 11, item 5): the exported forms of the protocol crate's
//! records whose wire shape is not what a phone developer wants, and the conversions the other
//! FFI modules use.
//!
//! **Why.** The wire (and the database) keeps Unix seconds, unsigned counters and free-form
//! strings; Kotlin and Swift want `Instant`/`Date`, `Duration`, signed `Int`/`Long` (Kotlin's
//! `UInt` is awkward in UI state, Swift's `UInt` does not mix with `Int`) and enums. The
//! protocol crate stays unchanged (the server and the fuzz targets depend on it); this module
//! converts, in one direction only (the core never takes these records back). Unsigned values
//! from the core become signed ones by saturation: every one of them is bounded far below
//! `i32::MAX`/`i64::MAX` by the storage (a count of rows, a sequence number, a file size
//! under 5 MiB), so saturation never happens in practice and a call never fails for it. Values
//! coming *in* (an index) are checked and refused with `input.invalid` (see [`index_in`]).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::activity::{
    ActivityAnchor as WireAnchor, ActivityEntry as WireEntry, ActivityKind, LogProblem as WireProblem,
};
use crate::error::{Error, FieldError, Msg};
use crate::protocol::services::{
    AddressDto, AttachmentSpec as WireAttachmentSpec, CaseEventDto, CaseStatusDto, CitizenProfileDto,
    DateRule as WireDateRule,
};

/// Unix seconds as a point in time (Kotlin `java.time.Instant`, Swift `Date`, Python `datetime`).
pub(crate) fn time(unix_seconds: i64) -> SystemTime {
    let magnitude = Duration::from_secs(unix_seconds.unsigned_abs());
    if unix_seconds >= 0 {
        UNIX_EPOCH + magnitude
    } else {
        UNIX_EPOCH - magnitude
    }
}

/// A point in time as Unix seconds (the inverse of [`time`]; saturating).
pub(crate) fn unix(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}

/// [`time`] of an optional timestamp.
pub(crate) fn opt_time(unix_seconds: Option<i64>) -> Option<SystemTime> {
    unix_seconds.map(time)
}

/// A count or size from the core as a signed 32-bit integer (saturating; see the module docs).
pub(crate) fn int(n: impl TryInto<i32>) -> i32 {
    n.try_into().unwrap_or(i32::MAX)
}

/// A sequence number, counter or size from the core as a signed 64-bit integer (saturating; see
/// the module docs).
pub(crate) fn long(n: impl TryInto<i64>) -> i64 {
    n.try_into().unwrap_or(i64::MAX)
}

/// An index or count the app passes in: negative values are refused with a field error on
/// `field` (`input.invalid`), never wrapped around.
pub(crate) fn index_in(field: &str, n: i32) -> Result<u32, Error> {
    u32::try_from(n).map_err(|_| {
        let d = Msg::InvalidInput.detail();
        Error::Fields(vec![FieldError {
            field: field.to_string(),
            code: d.code,
            message_vi: d.message_vi,
            message_en: d.message_en,
        }])
    })
}

/// The platform a device runs on (sent at enrollment, shown in the device list).
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum Platform {
    /// An Android phone or tablet.
    Android,
    /// An iPhone or iPad.
    Ios,
    /// A desktop computer (the CLI, a desktop app).
    Desktop,
    /// A public kiosk.
    Kiosk,
    /// Not said, or a platform this version does not know.
    Unknown,
}

impl Platform {
    /// The wire name (`android`, `ios`, `desktop`, `kiosk`, `unknown`).
    pub fn wire(self) -> &'static str {
        match self {
            Platform::Android => "android",
            Platform::Ios => "ios",
            Platform::Desktop => "desktop",
            Platform::Kiosk => "kiosk",
            Platform::Unknown => "unknown",
        }
    }

    /// Parse the wire name (anything unknown is [`Platform::Unknown`]).
    pub fn from_wire(s: &str) -> Platform {
        match s {
            "android" => Platform::Android,
            "ios" => Platform::Ios,
            "desktop" => Platform::Desktop,
            "kiosk" => Platform::Kiosk,
            _ => Platform::Unknown,
        }
    }
}

/// Sex as the population register records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum Sex {
    /// Nam.
    Male,
    /// Nữ.
    Female,
    /// A value this version does not know.
    Unknown,
}

impl Sex {
    fn from_wire(s: &str) -> Sex {
        match s {
            "male" => Sex::Male,
            "female" => Sex::Female,
            _ => Sex::Unknown,
        }
    }
}

/// An address as the register keeps it.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Address {
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

impl From<AddressDto> for Address {
    fn from(a: AddressDto) -> Self {
        Address {
            detail: a.detail,
            commune_code: a.commune_code,
            commune_name: a.commune_name,
            province_code: a.province_code,
            province_name: a.province_name,
        }
    }
}

/// The citizen's record from the population register (`ServicesClient.refresh_profile`,
/// `get_profile`).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct CitizenProfile {
    /// Họ và tên.
    pub full_name: String,
    /// `YYYY-MM-DD` (a calendar date, not a point in time).
    pub date_of_birth: String,
    /// Giới tính.
    pub sex: Sex,
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
    pub permanent_residence: Address,
    /// Nơi ở hiện tại.
    pub current_residence: Address,
    /// Chủ hộ.
    pub household_head_name: String,
    /// Quan hệ với chủ hộ (`Chủ hộ`, `Con`, `Vợ`, …).
    pub relationship_to_head: String,
    /// E.164.
    pub phone: String,
    /// Optional e-mail.
    pub email: Option<String>,
    /// When the record last changed.
    pub updated_at: SystemTime,
    /// Nghề nghiệp, when the citizen added it (an approved correction, procedure
    /// `register-correction`).
    pub occupation: Option<String>,
    /// Trình độ học vấn (a value such as `dai_hoc`; labels in the procedure's `new_education`
    /// options), when added.
    pub education: Option<String>,
    /// Nhóm máu (`A+`, `O-`, …), when added.
    pub blood_group: Option<String>,
    /// Địa chỉ liên hệ (where the citizen wants mail), when added.
    pub contact_address: Option<String>,
}

impl From<CitizenProfileDto> for CitizenProfile {
    fn from(p: CitizenProfileDto) -> Self {
        CitizenProfile {
            full_name: p.full_name,
            date_of_birth: p.date_of_birth,
            sex: Sex::from_wire(&p.sex),
            cccd: p.cccd,
            nationality: p.nationality,
            ethnicity: p.ethnicity,
            religion: p.religion,
            place_of_origin: p.place_of_origin,
            permanent_residence: p.permanent_residence.into(),
            current_residence: p.current_residence.into(),
            household_head_name: p.household_head_name,
            relationship_to_head: p.relationship_to_head,
            phone: p.phone,
            email: p.email,
            updated_at: time(p.updated_at),
            occupation: p.occupation,
            education: p.education,
            blood_group: p.blood_group,
            contact_address: p.contact_address,
        }
    }
}

/// The states of a case (hồ sơ).
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum CaseStatus {
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

impl From<CaseStatusDto> for CaseStatus {
    fn from(s: CaseStatusDto) -> Self {
        match s {
            CaseStatusDto::Received => CaseStatus::Received,
            CaseStatusDto::Processing => CaseStatus::Processing,
            CaseStatusDto::NeedsSupplement => CaseStatus::NeedsSupplement,
            CaseStatusDto::Approved => CaseStatus::Approved,
            CaseStatusDto::Rejected => CaseStatus::Rejected,
            CaseStatusDto::Completed => CaseStatus::Completed,
        }
    }
}

/// One event of a case (also the citizen's notification feed; `ServicesClient.sync_cases`).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct CaseEvent {
    /// Monotonic sequence number (the cursor).
    pub seq: i64,
    /// Case number.
    pub case_number: String,
    /// Submission that opened the case.
    pub submission_id: String,
    /// Procedure id.
    pub procedure_id: String,
    /// New status.
    pub status: CaseStatus,
    /// Reason or note (Vietnamese), e.g. for rejection or a supplement request.
    pub note_vi: Option<String>,
    /// Reason or note (English).
    pub note_en: Option<String>,
    /// For `NeedsSupplement`: the attachment keys requested.
    pub requested_attachments: Vec<String>,
    /// When it happened (server time).
    pub at: SystemTime,
}

impl From<CaseEventDto> for CaseEvent {
    fn from(e: CaseEventDto) -> Self {
        CaseEvent {
            seq: e.seq,
            case_number: e.case_number,
            submission_id: e.submission_id,
            procedure_id: e.procedure_id,
            status: e.status.into(),
            note_vi: e.note_vi,
            note_en: e.note_en,
            requested_attachments: e.requested_attachments,
            at: time(e.at),
        }
    }
}

/// Date constraints of a date field.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct DateRule {
    /// Refuse dates before today (Vietnam time).
    pub not_in_past: bool,
    /// Refuse dates after today.
    pub not_in_future: bool,
    /// This date must be on or after the date in that field (from ≤ to).
    pub not_before_field: Option<String>,
    /// At most this many days after `not_before_field`.
    pub max_days_after: Option<i32>,
}

impl From<WireDateRule> for DateRule {
    fn from(r: WireDateRule) -> Self {
        DateRule {
            not_in_past: r.not_in_past,
            not_in_future: r.not_in_future,
            not_before_field: r.not_before_field,
            max_days_after: r.max_days_after.map(int),
        }
    }
}

/// An attachment a procedure wants.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct AttachmentSpec {
    /// Stable key.
    pub key: String,
    /// Vietnamese label.
    pub label_vi: String,
    /// English label.
    pub label_en: String,
    /// Must be attached (when visible).
    pub required: bool,
    /// Largest accepted size in bytes.
    pub max_bytes: i64,
    /// Accepted MIME types (`application/pdf`, `image/jpeg`, `image/png`).
    pub mime_types: Vec<String>,
    /// Visibility condition.
    pub visible_if: Option<crate::protocol::services::Condition>,
}

impl From<WireAttachmentSpec> for AttachmentSpec {
    fn from(a: WireAttachmentSpec) -> Self {
        AttachmentSpec {
            key: a.key,
            label_vi: a.label_vi,
            label_en: a.label_en,
            required: a.required,
            max_bytes: long(a.max_bytes),
            mime_types: a.mime_types,
            visible_if: a.visible_if,
        }
    }
}

/// One entry of the activity log (`ActivityClient.list_entries`).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct ActivityEntry {
    /// 1, 2, 3, … without gaps.
    pub seq: i64,
    /// When it happened.
    pub at: SystemTime,
    /// What happened.
    pub kind: ActivityKind,
    /// Short, non-personal summary (procedure id, case number, device id).
    pub summary: String,
    /// Hash of the previous entry (hex), 64 zeros for the first.
    pub prev_hash: String,
    /// The device counter value used to sign it.
    pub counter: i64,
    /// Hash of this entry (hex).
    pub hash: String,
    /// Device signature (base64url raw r||s) over the statement binding `hash`.
    pub signature: String,
}

impl From<WireEntry> for ActivityEntry {
    fn from(e: WireEntry) -> Self {
        ActivityEntry {
            seq: long(e.seq),
            at: time(e.at),
            kind: e.kind,
            summary: e.summary,
            prev_hash: e.prev_hash,
            counter: long(e.counter),
            hash: e.hash,
            signature: e.signature,
        }
    }
}

/// A server countersignature of the activity log's head (`ActivityClient.anchor`).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct ActivityAnchor {
    /// Anchored sequence number.
    pub seq: i64,
    /// Anchored hash.
    pub hash: String,
    /// When the server anchored it.
    pub anchored_at: SystemTime,
    /// Compact JWS (ES256) by the server over `{iss, device_id, seq, hash, anchored_at}`.
    pub countersignature: String,
}

impl From<WireAnchor> for ActivityAnchor {
    fn from(a: WireAnchor) -> Self {
        ActivityAnchor {
            seq: long(a.seq),
            hash: a.hash,
            anchored_at: time(a.anchored_at),
            countersignature: a.countersignature,
        }
    }
}

/// Ways an activity log can be broken.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum LogProblem {
    /// An entry's content does not match its hash (changed).
    ChangedEntry {
        /// The changed entry.
        seq: i64,
    },
    /// An entry's signature does not verify.
    BadSignature {
        /// The entry.
        seq: i64,
    },
    /// A sequence number is missing or out of place (removed or reordered).
    Gap {
        /// The sequence number expected here.
        expected_seq: i64,
        /// The one found.
        found_seq: i64,
    },
    /// An entry does not link to the previous one (removed, inserted or reordered).
    BrokenLink {
        /// The entry.
        seq: i64,
    },
    /// Counters must increase along the log.
    CounterNotIncreasing {
        /// The entry.
        seq: i64,
    },
    /// The log ends before an anchored entry (truncated).
    Truncated {
        /// The highest anchored sequence number.
        anchored_seq: i64,
        /// The last sequence number in the log.
        last_seq: i64,
    },
    /// An anchored entry's hash differs from the anchor (rewritten history).
    AnchorMismatch {
        /// The entry.
        seq: i64,
    },
    /// An anchor's countersignature does not verify.
    BadAnchor {
        /// The anchored sequence number.
        seq: i64,
    },
    /// The device stored an anchor up to `anchored_seq` that is no longer there (anchor rows
    /// deleted).
    AnchorRemoved {
        /// The highest anchored sequence number the device recorded.
        anchored_seq: i64,
    },
    /// The device's sealed record of its anchors is missing or does not open (edited at rest).
    AnchorRecordDamaged,
}

impl From<WireProblem> for LogProblem {
    fn from(p: WireProblem) -> Self {
        match p {
            WireProblem::ChangedEntry { seq } => LogProblem::ChangedEntry { seq: long(seq) },
            WireProblem::BadSignature { seq } => LogProblem::BadSignature { seq: long(seq) },
            WireProblem::Gap { expected_seq, found_seq } => {
                LogProblem::Gap { expected_seq: long(expected_seq), found_seq: long(found_seq) }
            }
            WireProblem::BrokenLink { seq } => LogProblem::BrokenLink { seq: long(seq) },
            WireProblem::CounterNotIncreasing { seq } => LogProblem::CounterNotIncreasing { seq: long(seq) },
            WireProblem::Truncated { anchored_seq, last_seq } => {
                LogProblem::Truncated { anchored_seq: long(anchored_seq), last_seq: long(last_seq) }
            }
            WireProblem::AnchorMismatch { seq } => LogProblem::AnchorMismatch { seq: long(seq) },
            WireProblem::BadAnchor { seq } => LogProblem::BadAnchor { seq: long(seq) },
            WireProblem::AnchorRemoved { anchored_seq } => {
                LogProblem::AnchorRemoved { anchored_seq: long(anchored_seq) }
            }
            WireProblem::AnchorRecordDamaged => LogProblem::AnchorRecordDamaged,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_seconds_round_trip_through_system_time() {
        for s in [0_i64, 1, 1_767_225_600, -86_400] {
            assert_eq!(unix(time(s)), s);
        }
    }

    #[test]
    fn counts_saturate_and_negative_indices_are_refused() {
        assert_eq!(int(7_u32), 7);
        assert_eq!(int(u32::MAX), i32::MAX);
        assert_eq!(long(u64::MAX), i64::MAX);
        assert_eq!(index_in("index", 3).unwrap(), 3);
        let Err(Error::Fields(f)) = index_in("index", -1) else { panic!("a negative index must be refused") };
        assert_eq!(f[0].field, "index");
    }

    #[test]
    fn unknown_wire_names_become_unknown() {
        assert_eq!(Platform::from_wire("ios"), Platform::Ios);
        assert_eq!(Platform::from_wire("symbian"), Platform::Unknown);
        for p in [Platform::Android, Platform::Ios, Platform::Desktop, Platform::Kiosk, Platform::Unknown] {
            assert_eq!(Platform::from_wire(p.wire()), p);
        }
        assert_eq!(Sex::from_wire("female"), Sex::Female);
        assert_eq!(Sex::from_wire("x"), Sex::Unknown);
    }
}
