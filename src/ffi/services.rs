//! UniFFI façade of the public-service requests: catalogue, profile, drafts, submission,
//! outbox, cases. Thin wrappers over [`crate::services::flows`].

use std::collections::HashMap;
use std::sync::Arc;

use super::errors::ServiceError;
use super::outbox_observer::OutboxObserver;
use crate::error::{Error, ErrorDetail, FieldError, Msg, PublicError};
use crate::protocol::services::{
    AttachmentSpec, CaseEventDto, CaseStatusDto, CitizenProfileDto, Condition, DateRule, FieldKind, FieldSpec,
    OptionSpec, ProcedureDto,
};
use crate::services::storage::{CaseRow, DraftRow, OutboxRow};
use crate::CitizenCore;

/// A field of an item of a repeated group.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct FormItemField {
    /// Key of the field within its item (the path is `group[i].key`).
    pub key: String,
    /// Label in Vietnamese.
    pub label_vi: String,
    /// Label in English.
    pub label_en: String,
    /// Input kind (text, date, choice, …).
    pub kind: FieldKind,
    /// Whether a value is required.
    pub required: bool,
    /// Register attribute the field is filled from, if any.
    pub autofill: Option<String>,
    /// Whether an autofilled value cannot be changed.
    pub locked: bool,
    /// Minimum length in characters.
    pub min_length: Option<u32>,
    /// Maximum length in characters.
    pub max_length: Option<u32>,
    /// Choices of a choice field.
    pub options: Vec<OptionSpec>,
    /// Shown (and validated) only while this condition holds.
    pub visible_if: Option<Condition>,
    /// Rule a date value must satisfy.
    pub date_rule: Option<DateRule>,
    /// For a commune field: the key of the province field it depends on.
    pub province_field: Option<String>,
}

/// A field of a form. Values are addressed by path: `key`, or `group.<index>.<item key>`.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct FormField {
    /// Stable key.
    pub key: String,
    /// Vietnamese label.
    pub label_vi: String,
    /// English label.
    pub label_en: String,
    /// Kind of value.
    pub kind: FieldKind,
    /// Must be filled when visible.
    pub required: bool,
    /// Profile attribute that fills it.
    pub autofill: Option<String>,
    /// Auto-filled from the register and not editable.
    pub locked: bool,
    /// Minimum text length.
    pub min_length: Option<u32>,
    /// Maximum text length.
    pub max_length: Option<u32>,
    /// Options of a select.
    pub options: Vec<OptionSpec>,
    /// Shown only when this holds.
    pub visible_if: Option<Condition>,
    /// Date constraints.
    pub date_rule: Option<DateRule>,
    /// For a commune: its province field.
    pub province_field: Option<String>,
    /// For a group: the fields of each item.
    pub item_fields: Vec<FormItemField>,
    /// For a group: fewest items.
    pub min_items: Option<u32>,
    /// For a group: most items.
    pub max_items: Option<u32>,
}

/// A public-service procedure with its form.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Procedure {
    /// Procedure identifier.
    pub id: String,
    /// Form version, bound into the signed submission.
    pub version: u32,
    /// Official procedure code.
    pub code: String,
    /// Name in Vietnamese.
    pub name_vi: String,
    /// Name in English.
    pub name_en: String,
    /// Responsible agency in Vietnamese.
    pub agency_vi: String,
    /// Responsible agency in English.
    pub agency_en: String,
    /// Fee in đồng.
    pub fee_vnd: u64,
    /// Statutory processing time in working days.
    pub processing_days: u32,
    /// The form fields.
    pub fields: Vec<FormField>,
    /// Attachments the procedure accepts.
    pub attachments: Vec<AttachmentSpec>,
}

fn item_field(f: &FieldSpec) -> FormItemField {
    FormItemField {
        key: f.key.clone(),
        label_vi: f.label_vi.clone(),
        label_en: f.label_en.clone(),
        kind: f.kind,
        required: f.required,
        autofill: f.autofill.clone(),
        locked: f.locked,
        min_length: f.min_length,
        max_length: f.max_length,
        options: f.options.clone(),
        visible_if: f.visible_if.clone(),
        date_rule: f.date_rule.clone(),
        province_field: f.province_field.clone(),
    }
}

impl From<&ProcedureDto> for Procedure {
    fn from(p: &ProcedureDto) -> Self {
        Procedure {
            id: p.id.clone(),
            version: p.version,
            code: p.code.clone(),
            name_vi: p.name_vi.clone(),
            name_en: p.name_en.clone(),
            agency_vi: p.agency_vi.clone(),
            agency_en: p.agency_en.clone(),
            fee_vnd: p.fee_vnd,
            processing_days: p.processing_days,
            fields: p
                .fields
                .iter()
                .map(|f| {
                    let FormItemField {
                        key,
                        label_vi,
                        label_en,
                        kind,
                        required,
                        autofill,
                        locked,
                        min_length,
                        max_length,
                        options,
                        visible_if,
                        date_rule,
                        province_field,
                    } = item_field(f);
                    FormField {
                        key,
                        label_vi,
                        label_en,
                        kind,
                        required,
                        autofill,
                        locked,
                        min_length,
                        max_length,
                        options,
                        visible_if,
                        date_rule,
                        province_field,
                        item_fields: f.fields.iter().map(item_field).collect(),
                        min_items: f.min_items,
                        max_items: f.max_items,
                    }
                })
                .collect(),
            attachments: p.attachments.clone(),
        }
    }
}

/// Draft states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum DraftStatus {
    /// Editable.
    Editing,
    /// Submitted (in the outbox or delivered); read-only.
    Submitted,
}

/// An attachment of a draft.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct DraftAttachment {
    /// Attachment slot (an `AttachmentSpec` key).
    pub key: String,
    /// File name as chosen by the citizen.
    pub file_name: String,
    /// MIME type.
    pub mime_type: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 (hex), bound into the signed submission.
    pub sha256: String,
}

/// A form being filled.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Draft {
    /// Draft identifier.
    pub draft_id: String,
    /// Procedure this draft is for.
    pub procedure_id: String,
    /// Form version the draft was started with.
    pub procedure_version: u32,
    /// Editing or submitted.
    pub status: DraftStatus,
    /// Values by path.
    pub values: HashMap<String, String>,
    /// Paths filled from the register that cannot be changed.
    pub locked_fields: Vec<String>,
    /// Number of items per group.
    pub group_items: HashMap<String, u32>,
    /// Attached files.
    pub attachments: Vec<DraftAttachment>,
    /// The case this draft supplements.
    pub supplements_case: Option<String>,
    /// Attachments an official asked for.
    pub requested_attachments: Vec<String>,
    /// Unix seconds of the last change.
    pub updated_at: i64,
}

fn draft(r: DraftRow) -> Draft {
    Draft {
        status: match r.status {
            crate::store::rows::DraftStatus::Editing => DraftStatus::Editing,
            crate::store::rows::DraftStatus::Submitted => DraftStatus::Submitted,
        },
        values: r.content.values.into_iter().collect(),
        locked_fields: r.content.locked.into_iter().collect(),
        group_items: r.content.group_items.into_iter().collect(),
        attachments: r
            .content
            .attachments
            .into_values()
            .map(|a| DraftAttachment {
                key: a.key,
                file_name: a.file_name,
                mime_type: a.mime_type,
                size: a.size,
                sha256: a.sha256,
            })
            .collect(),
        supplements_case: r.content.supplements_case,
        requested_attachments: r.content.required_attachments.into_iter().collect(),
        draft_id: r.draft_id,
        procedure_id: r.procedure_id,
        procedure_version: r.procedure_version,
        updated_at: r.updated_at,
    }
}

/// Outbox states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum OutboxState {
    /// Waiting to be sent.
    Queued,
    /// Being sent.
    Sending,
    /// Accepted; the receipt verified; a case exists.
    Delivered,
    /// Refused for good (`last_error` says why).
    Rejected,
}

/// A submission in the outbox (the citizen's local receipt until the server's arrives).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct OutboxItem {
    /// Also the Idempotency-Key.
    pub submission_id: String,
    /// Draft this submission was made from.
    pub draft_id: String,
    /// Procedure submitted.
    pub procedure_id: String,
    /// SHA-256 of the signed payload (hex).
    pub payload_sha256: String,
    /// Delivery state.
    pub state: OutboxState,
    /// Delivery attempts so far.
    pub attempts: u32,
    /// Unix seconds of the next automatic attempt, while queued.
    pub next_attempt_at: Option<i64>,
    /// Why the last attempt failed, or why it was rejected.
    pub last_error: Option<ErrorDetail>,
    /// Case number (mã hồ sơ), once delivered.
    pub case_number: Option<String>,
    /// The server's signed receipt (compact JWS), once delivered.
    pub receipt: Option<String>,
    /// Unix seconds when it was queued.
    pub queued_at: i64,
    /// Unix seconds of the last state change.
    pub updated_at: i64,
}

fn detail_of_code(code: &str) -> ErrorDetail {
    Msg::all().iter().find(|m| m.code() == code).map(|m| m.detail()).unwrap_or_else(|| ErrorDetail {
        code: format!("server.{code}"),
        message_vi: format!("Máy chủ từ chối hồ sơ ({code})."),
        message_en: format!("The server refused the request ({code})."),
    })
}

fn outbox_item(r: &OutboxRow) -> OutboxItem {
    use crate::store::rows::OutboxState as Stored;
    let state = match r.state {
        Stored::Queued => OutboxState::Queued,
        Stored::Sending => OutboxState::Sending,
        Stored::Delivered => OutboxState::Delivered,
        Stored::Rejected => OutboxState::Rejected,
    };
    OutboxItem {
        submission_id: r.submission_id.clone(),
        draft_id: r.draft_id.clone(),
        procedure_id: r.procedure_id.clone(),
        payload_sha256: r.payload_sha256.clone(),
        state,
        attempts: r.attempts,
        next_attempt_at: (state == OutboxState::Queued).then_some(r.next_attempt_at.max(r.not_before)),
        last_error: r.last_error.as_deref().map(detail_of_code),
        case_number: r.case_number.clone(),
        receipt: r.receipt.clone(),
        queued_at: r.queued_at,
        updated_at: r.updated_at,
    }
}

/// What a sync run did.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct OutboxSyncReport {
    /// Submissions delivered in this run.
    pub delivered: u32,
    /// Submissions the server rejected in this run.
    pub rejected: u32,
    /// Still queued.
    pub remaining: u32,
    /// Why the run stopped early, if it did.
    pub last_error: Option<ErrorDetail>,
}

/// A case (hồ sơ) and its latest status.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct CaseInfo {
    /// Case number (mã hồ sơ).
    pub case_number: String,
    /// The submission that opened the case.
    pub submission_id: String,
    /// Procedure of the case.
    pub procedure_id: String,
    /// Latest status.
    pub status: CaseStatusDto,
    /// Official's note in Vietnamese, if any.
    pub note_vi: Option<String>,
    /// Official's note in English, if any.
    pub note_en: Option<String>,
    /// For `NeedsSupplement`: the attachments requested.
    pub requested_attachments: Vec<String>,
    /// Unix seconds of the latest status.
    pub updated_at: i64,
}

fn case_info(c: CaseRow) -> CaseInfo {
    let status = c.status;
    let (note_vi, note_en) = c.note.unwrap_or((None, None));
    CaseInfo {
        case_number: c.case_number,
        submission_id: c.submission_id,
        procedure_id: c.procedure_id,
        status,
        note_vi,
        note_en,
        requested_attachments: c.requested_attachments,
        updated_at: c.updated_at,
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl CitizenCore {
    /// Download the procedure catalogue if it changed (conditional request). Returns whether it
    /// changed. Works without login.
    pub async fn refresh_catalogue(&self) -> Result<bool, ServiceError> {
        Ok(self.account.refresh_catalogue().await?)
    }

    /// The cached catalogue (offline).
    pub fn procedures(&self) -> Result<Vec<Procedure>, ServiceError> {
        Ok(self.account.catalogue()?.procedures.iter().map(Procedure::from).collect())
    }

    /// Fetch the citizen's record from the population register (needs a session) and store it
    /// encrypted.
    pub async fn refresh_profile(&self) -> Result<CitizenProfileDto, ServiceError> {
        Ok(self.account.refresh_profile().await?)
    }

    /// The stored record (offline).
    pub fn profile(&self) -> Result<CitizenProfileDto, ServiceError> {
        Ok(self.account.cached_profile()?)
    }

    /// A new draft of `procedure_id`, auto-filled from the register; register fields are locked.
    pub fn create_draft(&self, procedure_id: String) -> Result<Draft, ServiceError> {
        Ok(draft(self.account.create_draft(&procedure_id)?))
    }

    /// A draft by id.
    pub fn draft(&self, draft_id: String) -> Result<Draft, ServiceError> {
        Ok(draft(self.account.draft(&draft_id)?))
    }

    /// All drafts, newest first (editing and submitted).
    pub fn drafts(&self) -> Result<Vec<Draft>, ServiceError> {
        Ok(self.account.drafts()?.into_iter().map(draft).collect())
    }

    /// Set a value (`path` = `key` or `group.<index>.<key>`); an empty value clears it. Locked
    /// fields are refused with `field.locked`.
    pub fn set_field(&self, draft_id: String, path: String, value: String) -> Result<Draft, ServiceError> {
        let (row, ()) =
            self.account.edit_draft(&draft_id, |p, d| crate::services::eform::set_value(p, d, &path, &value))?;
        Ok(draft(row))
    }

    /// Add an item to a repeated group; returns the new item's index.
    pub fn add_group_item(&self, draft_id: String, group: String) -> Result<u32, ServiceError> {
        Ok(self.account.edit_draft(&draft_id, |p, d| crate::services::eform::add_group_item(p, d, &group))?.1)
    }

    /// Remove an item of a repeated group (later items move down).
    pub fn remove_group_item(&self, draft_id: String, group: String, index: u32) -> Result<Draft, ServiceError> {
        let (row, ()) = self
            .account
            .edit_draft(&draft_id, |p, d| crate::services::eform::remove_group_item(p, d, &group, index))?;
        Ok(draft(row))
    }

    /// Attach bytes (checked against the procedure's size and type limits; stored encrypted).
    pub fn attach_bytes(
        &self,
        draft_id: String,
        key: String,
        file_name: String,
        mime_type: String,
        data: Vec<u8>,
    ) -> Result<Draft, ServiceError> {
        Ok(draft(self.account.attach(&draft_id, &key, &file_name, &mime_type, data)?))
    }

    /// Attach a file by path (read once, then stored encrypted like `attach_bytes`).
    pub fn attach_file(
        &self,
        draft_id: String,
        key: String,
        path: String,
        mime_type: String,
    ) -> Result<Draft, ServiceError> {
        Ok(draft(self.account.attach_file(&draft_id, &key, &path, &mime_type)?))
    }

    /// Remove an attachment.
    pub fn remove_attachment(&self, draft_id: String, key: String) -> Result<Draft, ServiceError> {
        Ok(draft(self.account.detach(&draft_id, &key)?))
    }

    /// Validate without submitting: every field error at once (empty = valid).
    pub fn validate_draft(&self, draft_id: String) -> Result<Vec<FieldError>, ServiceError> {
        Ok(self.account.validate_draft(&draft_id)?)
    }

    /// Delete an editable draft.
    pub fn delete_draft(&self, draft_id: String) -> Result<(), ServiceError> {
        Ok(self.account.delete_draft(&draft_id)?)
    }

    /// Submit: validate, confirm with the passcode, sign with the device key and put the request
    /// in the durable outbox in the same transaction that marks the draft submitted. Returns at
    /// once (works offline); delivery starts in the background.
    pub async fn submit_draft(self: Arc<Self>, draft_id: String, passcode: String) -> Result<OutboxItem, ServiceError> {
        let passcode = zeroize::Zeroizing::new(passcode);
        let row = self.account.submit_and_deliver(&draft_id, &passcode).await?;
        Ok(outbox_item(&row))
    }

    /// The outbox, in queue order.
    pub fn outbox(&self) -> Result<Vec<OutboxItem>, ServiceError> {
        Ok(self.account.outbox_items()?.iter().map(outbox_item).collect())
    }

    /// Deliver what is queued now (call when connectivity returns or the citizen asks).
    /// Ignores the core's own backoff, honours the server's Retry-After.
    pub async fn sync_outbox(&self) -> Result<OutboxSyncReport, ServiceError> {
        let r = self.account.sync_outbox(true).await?;
        Ok(OutboxSyncReport {
            delivered: r.delivered,
            rejected: r.rejected,
            remaining: r.remaining,
            last_error: r.last_error.map(|e| ServiceError::from(e).detail().clone()),
        })
    }

    /// Receive outbox progress callbacks (replaces any previous observer).
    pub fn set_outbox_observer(&self, observer: Arc<dyn OutboxObserver>) {
        // The engine's outbox events, forwarded to the shell; an observer can never stop a
        // delivery, so its failures are logged and otherwise ignored.
        self.account.set_outbox_listener(Some(Arc::new(move |row: &OutboxRow| {
            if let Err(e) = observer.on_outbox_item(outbox_item(row)) {
                tracing::info!(error = %e, "outbox observer failed");
            }
        })));
    }

    /// Stop outbox callbacks.
    pub fn clear_outbox_observer(&self) {
        self.account.set_outbox_listener(None);
    }

    /// Fetch new case events (status changes, supplement requests) and return them.
    pub async fn sync_cases(&self) -> Result<Vec<CaseEventDto>, ServiceError> {
        Ok(self.account.sync_cases().await?)
    }

    /// The citizen's cases with their latest status (offline).
    pub fn cases(&self) -> Result<Vec<CaseInfo>, ServiceError> {
        Ok(self.account.case_list()?.into_iter().map(case_info).collect())
    }

    /// A draft answering a supplement request of `case_number`: the original values, the
    /// requested attachments required. Submit it like any draft.
    pub fn create_supplement_draft(&self, case_number: String) -> Result<Draft, ServiceError> {
        Ok(draft(self.account.supplement_draft(&case_number)?))
    }
}

/// The result of verifying an activity log.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct ActivityLogReport {
    /// Entries checked.
    pub entries: u32,
    /// Server anchors checked.
    pub anchors: u32,
    /// Every problem found (empty = intact).
    pub problems: Vec<crate::activity::LogProblem>,
    /// No problem found. Note: entries appended after the last anchor can be dropped without
    /// trace by whoever controls the device; anchoring often keeps that window small, and
    /// `anchored_seq` says how far the verified anchors reach.
    pub intact: bool,
    /// Highest sequence covered by an anchor whose countersignature verified with the trusted
    /// server key (0 = none: nothing in the log is vouched for by the server).
    pub anchored_seq: u64,
    /// The device the log claims to be from.
    pub device_id: String,
    /// The device key (SEC1, base64url) the entry signatures were checked with — the key the
    /// file carries. `intact` only says the log is consistent with this key: compare it with the
    /// key of the device you expect (e.g. from the server's device registry).
    pub device_public_key: String,
}

fn report(c: crate::activity::flows::LogCheck) -> ActivityLogReport {
    ActivityLogReport {
        entries: u32::try_from(c.entries).unwrap_or(u32::MAX),
        anchors: u32::try_from(c.anchors).unwrap_or(u32::MAX),
        intact: c.problems.is_empty(),
        problems: c.problems,
        anchored_seq: c.anchored_seq,
        device_id: c.device_id,
        device_public_key: c.device_public_key,
    }
}

/// Verify an exported activity log (JSON from `export_activity_log`) against the server key the
/// verifier trusts: `server_key_jwk` is a JWK or a JWKS (`{"keys": [...]}`) obtained
/// independently of the file (e.g. the server's `/v1/keys` fetched over a pinned connection).
/// Server keys inside the file are ignored — a forger can put any key there. The entries are
/// checked with the device key the file carries; the report names it (`device_public_key`) so
/// the caller can compare it with the device it expects. Anyone can run this.
#[uniffi::export]
pub fn verify_activity_log_export(json: String, server_key_jwk: String) -> Result<ActivityLogReport, ServiceError> {
    Ok(report(crate::activity::flows::verify_export(&json, &server_key_jwk)?))
}

#[uniffi::export(async_runtime = "tokio")]
impl CitizenCore {
    /// The activity log: every enrollment, login, submission, device and passcode change and
    /// lockout on this device, oldest first.
    pub fn activity_log(&self) -> Result<Vec<crate::activity::ActivityEntry>, ServiceError> {
        Ok(self.account.activity_entries()?.into_iter().filter_map(|r| r.entry).collect())
    }

    /// Verify the log: hashes, links, order, counters, device signatures, server anchors (with
    /// the server keys fetched over the pinned connection), and that no anchor the device stored
    /// was deleted and the log reaches the highest one. Offline; `anchor_activity_log` (and
    /// `sync_cases`) also fetch the server's latest anchor of this device, so a log truncated
    /// below it is reported even when the local anchors were removed.
    pub fn verify_activity_log(&self) -> Result<ActivityLogReport, ServiceError> {
        Ok(report(self.account.verify_activity()?))
    }

    /// The log as JSON that anyone can verify (`verify_activity_log_export`).
    pub fn export_activity_log(&self) -> Result<String, ServiceError> {
        let x = self.account.export_activity()?;
        serde_json::to_string_pretty(&x).map_err(|e| ServiceError::from(Error::from(e)))
    }

    /// Anchor the head of the log at the server now (also done on every `sync_cases`). When
    /// logged in, first fetches the server's latest anchor of this device and keeps it if the
    /// device did not hold it.
    pub async fn anchor_activity_log(&self) -> Result<Option<crate::activity::ActivityAnchor>, ServiceError> {
        Ok(self.account.anchor_activity().await?)
    }
}

/// The bundled list of the 34 provinces (code, name) after the 2025 reorganisation.
#[uniffi::export]
pub fn provinces() -> Vec<AdminUnit> {
    crate::admin_units::provinces().iter().map(|p| AdminUnit { code: p.code.into(), name: p.name.into() }).collect()
}

/// The communes/wards of a province (bundled list).
#[uniffi::export]
pub fn communes(province_code: String) -> Vec<AdminUnit> {
    crate::admin_units::communes_of(&province_code)
        .iter()
        .map(|c| AdminUnit { code: c.code.into(), name: c.name.into() })
        .collect()
}

/// An administrative unit.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct AdminUnit {
    /// Official unit code.
    pub code: String,
    /// Official name (Vietnamese).
    pub name: String,
}
