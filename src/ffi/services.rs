//! UniFFI façade of the public-service requests: catalogue, profile, drafts, submission,
//! outbox, cases. Thin wrappers over [`crate::services::flows`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use super::errors::CitizenError;
use super::facade::Engine;
use super::lifecycle::{OutboxListener, Subscription};
use super::types::{index_in, int, long, time, AttachmentSpec, CaseEvent, CaseStatus, CitizenProfile, DateRule};
use crate::error::{ErrorDetail, FieldError, Msg, PublicError};
use crate::protocol::services::{Condition, FieldKind, FieldSpec, OptionSpec, ProcedureDto};
use crate::services::storage::{CaseRow, DraftRow, OutboxRow};

/// A field of a form. Values are addressed by path: `key`, or `group.<index>.<item key>`. A
/// repeated group (`kind` = `Group`) lists the fields of each item in `item_fields` (fields of
/// the same shape, with no items of their own).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct FormField {
    /// Stable key (within its item, for a field of a group).
    pub key: String,
    /// Vietnamese label.
    pub label_vi: String,
    /// English label.
    pub label_en: String,
    /// Kind of value.
    pub kind: FieldKind,
    /// Must be filled when visible.
    #[uniffi(default = false)]
    pub required: bool,
    /// Profile (register) attribute that fills it.
    #[uniffi(default)]
    pub autofill: Option<String>,
    /// Auto-filled from the register and not editable.
    #[uniffi(default = false)]
    pub locked: bool,
    /// Minimum text length in characters.
    #[uniffi(default)]
    pub min_length: Option<i32>,
    /// Maximum text length in characters.
    #[uniffi(default)]
    pub max_length: Option<i32>,
    /// Options of a select.
    #[uniffi(default)]
    pub options: Vec<OptionSpec>,
    /// Shown (and validated) only while this holds.
    #[uniffi(default)]
    pub visible_if: Option<Condition>,
    /// Date constraints.
    #[uniffi(default)]
    pub date_rule: Option<DateRule>,
    /// For a commune: the key of its province field.
    #[uniffi(default)]
    pub province_field: Option<String>,
    /// For a group: the fields of each item (empty otherwise).
    #[uniffi(default)]
    pub item_fields: Vec<FormField>,
    /// For a group: fewest items.
    #[uniffi(default)]
    pub min_items: Option<i32>,
    /// For a group: most items.
    #[uniffi(default)]
    pub max_items: Option<i32>,
}

/// A public-service procedure with its form.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Procedure {
    /// Procedure identifier.
    pub id: String,
    /// Form version, bound into the signed submission.
    pub version: i32,
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
    pub fee_vnd: i64,
    /// Statutory processing time in working days.
    pub processing_days: i32,
    /// The form fields.
    pub fields: Vec<FormField>,
    /// Attachments the procedure accepts.
    pub attachments: Vec<AttachmentSpec>,
}

fn form_field(f: &FieldSpec) -> FormField {
    FormField {
        key: f.key.clone(),
        label_vi: f.label_vi.clone(),
        label_en: f.label_en.clone(),
        kind: f.kind,
        required: f.required,
        autofill: f.autofill.clone(),
        locked: f.locked,
        min_length: f.min_length.map(int),
        max_length: f.max_length.map(int),
        options: f.options.clone(),
        visible_if: f.visible_if.clone(),
        date_rule: f.date_rule.clone().map(DateRule::from),
        province_field: f.province_field.clone(),
        item_fields: f.fields.iter().map(form_field).collect(),
        min_items: f.min_items.map(int),
        max_items: f.max_items.map(int),
    }
}

impl From<&ProcedureDto> for Procedure {
    fn from(p: &ProcedureDto) -> Self {
        Procedure {
            id: p.id.clone(),
            version: int(p.version),
            code: p.code.clone(),
            name_vi: p.name_vi.clone(),
            name_en: p.name_en.clone(),
            agency_vi: p.agency_vi.clone(),
            agency_en: p.agency_en.clone(),
            fee_vnd: long(p.fee_vnd),
            processing_days: int(p.processing_days),
            fields: p.fields.iter().map(form_field).collect(),
            attachments: p.attachments.iter().cloned().map(AttachmentSpec::from).collect(),
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
    pub size: i64,
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
    pub procedure_version: i32,
    /// Editing or submitted.
    pub status: DraftStatus,
    /// Values by path.
    pub values: HashMap<String, String>,
    /// Paths filled from the register that cannot be changed.
    pub locked_fields: Vec<String>,
    /// Number of items per group.
    pub group_items: HashMap<String, i32>,
    /// Attached files.
    pub attachments: Vec<DraftAttachment>,
    /// The case this draft supplements.
    pub supplements_case: Option<String>,
    /// Attachments an official asked for.
    pub requested_attachments: Vec<String>,
    /// When it last changed.
    pub updated_at: SystemTime,
    /// Filed on behalf of this dependant (CCCD number) under a mandate (`create_draft_for`).
    pub on_behalf_of: Option<String>,
}

pub(crate) fn draft(r: DraftRow) -> Draft {
    Draft {
        status: match r.status {
            crate::store::rows::DraftStatus::Editing => DraftStatus::Editing,
            crate::store::rows::DraftStatus::Submitted => DraftStatus::Submitted,
        },
        values: r.content.values.into_iter().collect(),
        locked_fields: r.content.locked.into_iter().collect(),
        group_items: r.content.group_items.into_iter().map(|(k, n)| (k, int(n))).collect(),
        attachments: r
            .content
            .attachments
            .into_values()
            .map(|a| DraftAttachment {
                key: a.key,
                file_name: a.file_name,
                mime_type: a.mime_type,
                size: long(a.size),
                sha256: a.sha256,
            })
            .collect(),
        supplements_case: r.content.supplements_case,
        on_behalf_of: r.content.on_behalf.map(|o| o.dependant_cccd),
        requested_attachments: r.content.required_attachments.into_iter().collect(),
        draft_id: r.draft_id,
        procedure_id: r.procedure_id,
        procedure_version: int(r.procedure_version),
        updated_at: time(r.updated_at),
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
    pub attempts: i32,
    /// The next automatic attempt, while queued.
    pub next_attempt_at: Option<SystemTime>,
    /// Why the last attempt failed, or why it was rejected.
    pub last_error: Option<ErrorDetail>,
    /// Case number (mã hồ sơ), once delivered.
    pub case_number: Option<String>,
    /// The server's signed receipt (compact JWS), once delivered.
    pub receipt: Option<String>,
    /// When it was queued.
    pub queued_at: SystemTime,
    /// When its state last changed.
    pub updated_at: SystemTime,
}

fn detail_of_code(code: &str) -> ErrorDetail {
    Msg::all().iter().find(|m| m.code() == code).map(|m| m.detail()).unwrap_or_else(|| ErrorDetail {
        code: format!("server.{code}"),
        message_vi: format!("Máy chủ từ chối hồ sơ ({code})."),
        message_en: format!("The server refused the request ({code})."),
    })
}

pub(crate) fn outbox_item(r: &OutboxRow) -> OutboxItem {
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
        attempts: int(r.attempts),
        next_attempt_at: (state == OutboxState::Queued).then(|| time(r.next_attempt_at.max(r.not_before))),
        last_error: r.last_error.as_deref().map(detail_of_code),
        case_number: r.case_number.clone(),
        receipt: r.receipt.clone(),
        queued_at: time(r.queued_at),
        updated_at: time(r.updated_at),
    }
}

/// What a sync run did.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct OutboxSyncReport {
    /// Submissions delivered in this run.
    pub delivered: i32,
    /// Submissions the server rejected in this run.
    pub rejected: i32,
    /// Still queued.
    pub remaining: i32,
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
    pub status: CaseStatus,
    /// Official's note in Vietnamese, if any.
    pub note_vi: Option<String>,
    /// Official's note in English, if any.
    pub note_en: Option<String>,
    /// For `NeedsSupplement`: the attachments requested.
    pub requested_attachments: Vec<String>,
    /// When the latest status was set.
    pub updated_at: SystemTime,
}

fn case_info(c: CaseRow) -> CaseInfo {
    let status = c.status;
    let (note_vi, note_en) = c.note.unwrap_or((None, None));
    CaseInfo {
        case_number: c.case_number,
        submission_id: c.submission_id,
        procedure_id: c.procedure_id,
        status: status.into(),
        note_vi,
        note_en,
        requested_attachments: c.requested_attachments,
        updated_at: time(c.updated_at),
    }
}

/// Public-service requests of one core (`CitizenCore.services()`): catalogue, profile, drafts,
/// submission, outbox, cases. Small enough to fake in a test of a view model.
#[derive(uniffi::Object)]
pub struct ServicesClient(pub(crate) Engine);

/// Why the queued requests wait for the citizen's decision instead of being delivered
/// (issue 15). Nothing queued is lost while they wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum OutboxHoldReason {
    /// The device was locked remotely (reported lost). Once it is unlocked (or re-bound), the
    /// citizen decides whether the requests queued on it should still be sent.
    DeviceLocked,
    /// The device key was replaced after it was invalidated (biometrics changed): the queued
    /// requests were signed with the old key and are re-signed with the new one only if the
    /// citizen confirms.
    KeyRotated,
}

impl OutboxHoldReason {
    fn from_stored(s: &str) -> OutboxHoldReason {
        if s == crate::store::OUTBOX_HOLD_KEY_ROTATED {
            OutboxHoldReason::KeyRotated
        } else {
            OutboxHoldReason::DeviceLocked
        }
    }
}

#[uniffi::export]
impl ServicesClient {
    /// Download the procedure catalogue if it changed (conditional request). Returns whether it
    /// changed. Works without login. Main-safe; never prompts. Throws [`CitizenError`].
    pub async fn refresh_catalogue(&self) -> Result<bool, CitizenError> {
        self.0.run(|a| async move { a.refresh_catalogue().await }).await
    }

    /// The cached catalogue (offline). Main-safe; never prompts. Throws [`CitizenError`]
    /// (`NotSynced` before the first `refresh_catalogue`).
    pub async fn list_procedures(&self) -> Result<Vec<Procedure>, CitizenError> {
        self.0.blocking(|a| Ok(a.catalogue()?.procedures.iter().map(Procedure::from).collect())).await
    }

    /// Fetch the citizen's record from the population register (needs a session) and store it
    /// encrypted. Main-safe; never prompts. Throws [`CitizenError`].
    pub async fn refresh_profile(&self) -> Result<CitizenProfile, CitizenError> {
        self.0.run(|a| async move { Ok(a.refresh_profile().await?.into()) }).await
    }

    /// The stored record (offline). Main-safe; never prompts. Throws [`CitizenError`]
    /// (`NotSynced` before the first `refresh_profile`).
    pub async fn get_profile(&self) -> Result<CitizenProfile, CitizenError> {
        self.0.blocking(|a| Ok(a.cached_profile()?.into())).await
    }

    /// A new draft of `procedure_id`, auto-filled from the register; register fields are locked.
    /// Main-safe; never prompts. Throws [`CitizenError`].
    pub async fn create_draft(&self, procedure_id: String) -> Result<Draft, CitizenError> {
        self.0.blocking(move |a| Ok(draft(a.create_draft(&procedure_id)?))).await
    }

    /// A draft by id. Main-safe; never prompts. Throws [`CitizenError`] (`NotFound`).
    pub async fn get_draft(&self, draft_id: String) -> Result<Draft, CitizenError> {
        self.0.blocking(move |a| Ok(draft(a.draft(&draft_id)?))).await
    }

    /// All drafts, newest first (editing and submitted). Main-safe; never prompts. Throws
    /// [`CitizenError`].
    pub async fn list_drafts(&self) -> Result<Vec<Draft>, CitizenError> {
        self.0.blocking(|a| Ok(a.drafts()?.into_iter().map(draft).collect())).await
    }

    /// Set several values in one write (`path` = `key` or `group.<index>.<key>`; an empty value
    /// clears the field): call it when the citizen leaves a field or pauses, not per keystroke.
    /// All or nothing: if one value is refused (`field.locked`, `field.unknown`) nothing is
    /// saved and the error names the first refused path (in path order). Main-safe; never
    /// prompts. Throws [`CitizenError`] (`InvalidForm`, `NotFound`, `WrongState`).
    pub async fn update_draft(&self, draft_id: String, values: HashMap<String, String>) -> Result<Draft, CitizenError> {
        self.0
            .blocking(move |a| {
                let mut values: Vec<(String, String)> = values.into_iter().collect();
                values.sort();
                let (row, ()) = a.edit_draft(&draft_id, |p, d| {
                    values.iter().try_for_each(|(path, value)| crate::services::eform::set_value(p, d, path, value))
                })?;
                Ok(draft(row))
            })
            .await
    }

    /// Add an item to a repeated group; returns the new item's index. Main-safe; never
    /// prompts. Throws [`CitizenError`].
    pub async fn add_group_item(&self, draft_id: String, group: String) -> Result<i32, CitizenError> {
        self.0
            .blocking(move |a| {
                Ok(int(a.edit_draft(&draft_id, |p, d| crate::services::eform::add_group_item(p, d, &group))?.1))
            })
            .await
    }

    /// Remove an item of a repeated group (later items move down). Main-safe; never prompts.
    /// Throws [`CitizenError`].
    pub async fn remove_group_item(&self, draft_id: String, group: String, index: i32) -> Result<Draft, CitizenError> {
        self.0
            .blocking(move |a| {
                let index = index_in("index", index)?;
                let (row, ()) =
                    a.edit_draft(&draft_id, |p, d| crate::services::eform::remove_group_item(p, d, &group, index))?;
                Ok(draft(row))
            })
            .await
    }

    /// Attach bytes (checked against the procedure's size and type limits; stored encrypted).
    /// Main-safe (the sealing runs on the core's runtime); never prompts. Throws
    /// [`CitizenError`].
    pub async fn attach_bytes(
        &self,
        draft_id: String,
        key: String,
        file_name: String,
        mime_type: String,
        data: Vec<u8>,
    ) -> Result<Draft, CitizenError> {
        self.0.blocking(move |a| Ok(draft(a.attach(&draft_id, &key, &file_name, &mime_type, data)?))).await
    }

    /// Attach a file by path (read once, then stored encrypted like `attach_bytes`). Main-safe;
    /// never prompts. Throws [`CitizenError`].
    pub async fn attach_file(
        &self,
        draft_id: String,
        key: String,
        path: String,
        mime_type: String,
    ) -> Result<Draft, CitizenError> {
        self.0.blocking(move |a| Ok(draft(a.attach_file(&draft_id, &key, &path, &mime_type)?))).await
    }

    /// Remove an attachment. Main-safe; never prompts. Throws [`CitizenError`].
    pub async fn remove_attachment(&self, draft_id: String, key: String) -> Result<Draft, CitizenError> {
        self.0.blocking(move |a| Ok(draft(a.detach(&draft_id, &key)?))).await
    }

    /// Validate without submitting: every field error at once (empty = valid). Main-safe; never
    /// prompts. Throws [`CitizenError`].
    pub async fn validate_draft(&self, draft_id: String) -> Result<Vec<FieldError>, CitizenError> {
        self.0.blocking(move |a| a.validate_draft(&draft_id)).await
    }

    /// Delete an editable draft. Main-safe; never prompts. Throws [`CitizenError`].
    pub async fn delete_draft(&self, draft_id: String) -> Result<(), CitizenError> {
        self.0.blocking(move |a| a.delete_draft(&draft_id)).await
    }

    /// Submit: validate, confirm with the passcode, sign with the device key and put the request
    /// in the durable outbox in the same transaction that marks the draft submitted. Returns at
    /// once (works offline); delivery starts in the background. Main-safe (the attachments are
    /// sealed on the core's runtime); may prompt (the device key signs). Throws
    /// [`CitizenError`].
    pub async fn submit_draft(&self, draft_id: String, passcode: String) -> Result<OutboxItem, CitizenError> {
        let passcode = zeroize::Zeroizing::new(passcode);
        let row = self.0.run::<_, CitizenError, _>(|a| async move { a.submit(&draft_id, &passcode).await }).await?;
        // Delivery starts in the background, as work of this core: `shutdown` stops it.
        if let (Ok(shared), Ok(account)) = (self.0.shared(), self.0.account()) {
            shared.spawn_background(async move {
                if let Err(e) = account.sync_outbox(false).await {
                    tracing::info!(error = %e, "background delivery");
                }
            });
        }
        Ok(outbox_item(&row))
    }

    /// The outbox, in queue order. Main-safe; never prompts. Throws [`CitizenError`].
    pub async fn list_outbox(&self) -> Result<Vec<OutboxItem>, CitizenError> {
        self.0.blocking(|a| Ok(a.outbox_items()?.iter().map(outbox_item).collect())).await
    }

    /// Deliver what is queued now (call when connectivity returns or the citizen asks).
    /// Ignores the core's own backoff, honours the server's Retry-After. Main-safe; never
    /// prompts. Throws [`CitizenError`].
    pub async fn sync_outbox(&self) -> Result<OutboxSyncReport, CitizenError> {
        let r = self.0.run::<_, CitizenError, _>(|a| async move { a.sync_outbox(true).await }).await?;
        Ok(OutboxSyncReport {
            delivered: int(r.delivered),
            rejected: int(r.rejected),
            remaining: int(r.remaining),
            last_error: r.last_error.map(|e| CitizenError::from(e).detail().clone()),
        })
    }

    /// Why the outbox is held for the citizen's decision (issue 15), or `None` when it is
    /// delivered normally. While held, `sync_outbox` sends nothing and every queued request is
    /// kept. Main-safe; never prompts. Throws [`CitizenError`].
    pub async fn outbox_hold(&self) -> Result<Option<OutboxHoldReason>, CitizenError> {
        self.0.blocking(|a| Ok(a.outbox_hold()?.map(|r| OutboxHoldReason::from_stored(&r)))).await
    }

    /// The citizen's decision on a held outbox, once the device is usable again (unlocked or
    /// re-bound): `deliver = true` sends the held requests (after a key rotation they are first
    /// re-signed with the new key: one key-store signature each, user-initiated) and starts a
    /// delivery; `deliver = false` withdraws them (they stay in the list as rejected with
    /// `outbox.withdrawn`). Checks the passcode first. Returns how many requests were
    /// affected. Throws [`CitizenError`]: `Refused` with `outbox.nothing_held` when nothing is
    /// held, `NeedsEnrollment` (`auth.device_locked`) while the device is still locked,
    /// `PasscodeRejected`, `KeyStore`.
    pub async fn release_held_outbox(&self, deliver: bool, passcode: String) -> Result<i32, CitizenError> {
        let n = self
            .0
            .run::<_, CitizenError, _>(|a| async move {
                a.active_account()?;
                a.verify_passcode(&passcode).await?;
                let n = a.release_held_outbox(deliver).await?;
                if deliver {
                    if let Err(e) = a.sync_outbox(true).await {
                        tracing::info!(error = %e, "held requests released; delivery continues later");
                    }
                }
                Ok(n)
            })
            .await?;
        Ok(int(n))
    }

    /// Subscribe to the outbox: the current items at once, then the whole outbox again after
    /// every change (queued → sending → delivered / rejected, or back to queued), in order. Any
    /// number of subscribers; `Subscription.cancel()` ends one, `shutdown`/closing the core ends
    /// all (each listener hears `on_end`). See [`OutboxListener`]. Main-safe; never prompts.
    /// Throws [`CitizenError`] (`Internal` with `core.closed` after `shutdown`).
    pub fn observe_outbox(&self, listener: Arc<dyn OutboxListener>) -> Result<Arc<Subscription>, CitizenError> {
        let account = self.0.account()?;
        Ok(self.0.shared()?.observe_outbox(account, listener))
    }

    /// Fetch new case events (status changes, supplement requests) and return them. Main-safe;
    /// never prompts. Throws [`CitizenError`].
    pub async fn sync_cases(&self) -> Result<Vec<CaseEvent>, CitizenError> {
        self.0.run(|a| async move { Ok(a.sync_cases().await?.into_iter().map(CaseEvent::from).collect()) }).await
    }

    /// The citizen's cases with their latest status (offline). Main-safe; never prompts. Throws
    /// [`CitizenError`].
    pub async fn list_cases(&self) -> Result<Vec<CaseInfo>, CitizenError> {
        self.0.blocking(|a| Ok(a.case_list()?.into_iter().map(case_info).collect())).await
    }

    /// A draft answering a supplement request of `case_number`: the original values, the
    /// requested attachments required. Submit it like any draft. Main-safe; never prompts.
    /// Throws [`CitizenError`].
    pub async fn create_supplement_draft(&self, case_number: String) -> Result<Draft, CitizenError> {
        self.0.blocking(move |a| Ok(draft(a.supplement_draft(&case_number)?))).await
    }
}

/// The bundled list of the 34 provinces (code, name) after the 2025 reorganisation. Bundled data
/// (no I/O): main-safe, never prompts, never throws.
#[uniffi::export]
pub fn provinces() -> Vec<AdminUnit> {
    crate::admin_units::provinces().iter().map(|p| AdminUnit { code: p.code.into(), name: p.name.into() }).collect()
}

/// The communes/wards of a province (bundled list; empty for an unknown province code).
/// Bundled data (no I/O): main-safe, never prompts, never throws.
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
