//! The public-service flows on top of the account engine: profile and catalogue sync, drafts,
//! submission into the durable outbox, delivery, case sync and supplements.

use std::collections::BTreeMap;
use std::sync::Arc;

use jsonwebtoken::Algorithm;

use super::eform::{self, DraftAttachmentMeta, DraftContent, EditError};
use super::outbox::{self, Disposition};
use super::storage::{CaseRow, DraftRow, OutboxRow};
use crate::account::Account;
use crate::cccd::Date;
use crate::crypto;
use crate::error::{Error, FieldError, Msg, Result};
use crate::protocol::services::*;
use crate::protocol::{Purpose, Statement};
use crate::store::rows::{DraftStatus, OutboxState};
use crate::store::CounterKind;

/// What one delivery run did.
#[derive(Debug, Default)]
pub struct SyncReport {
    /// Submissions delivered.
    pub delivered: u32,
    /// Submissions rejected.
    pub rejected: u32,
    /// Submissions still queued.
    pub remaining: u32,
    /// Why the run stopped early, if it did.
    pub last_error: Option<Error>,
}

/// Mutable state of the services (locks, observer, key cache).
#[derive(Default)]
pub struct ServicesState {
    /// Serialises submit: counter reservation → signing → enqueue, so queue order is counter order.
    submit_lock: tokio::sync::Mutex<()>,
    /// One sender at a time.
    sender_lock: tokio::sync::Mutex<()>,
    listener: std::sync::Mutex<Option<OutboxListener>>,
    /// The server's token keys (`net::server_keys`).
    pub(crate) server_keys: crate::net::server_keys::ServerKeyCache,
    /// Serialises activity-log appends (sequence and hash chain).
    pub(crate) activity_lock: tokio::sync::Mutex<()>,
    /// Serialises consent receipts from sequence reservation to storage (the receipt chain).
    pub(crate) receipt_lock: tokio::sync::Mutex<()>,
    /// One sync of in-person receipts at a time (two would send the same receipt twice).
    pub(crate) receipt_sync_lock: tokio::sync::Mutex<()>,
}

/// The engine's outbox event stream: called with the item after every state change (queued →
/// sending → delivered / rejected, or back to queued), synchronously, so a subscriber has seen
/// every change of a call before the call returns. The FFI layer subscribes and forwards each
/// event to the shell's subscriptions (`OutboxListener`); the engine knows nothing of the shell.
pub(crate) type OutboxListener = Arc<dyn Fn(&OutboxRow) + Send + Sync>;

/// The largest file `attach_file` reads (the procedure's own limit is checked after).
const ATTACH_FILE_LIMIT: u64 = 32 << 20;

/// Read a file for attaching, refusing anything over `limit` bytes before reading it whole.
fn read_limited(path: &str, limit: u64) -> Result<Vec<u8>> {
    let unreadable = || Error::Fields(vec![FieldError::new("attachment", Msg::AttachmentUnreadable)]);
    let meta = std::fs::metadata(path).map_err(|_| unreadable())?;
    if !meta.is_file() {
        return Err(unreadable());
    }
    if meta.len() > limit {
        return Err(Error::Fields(vec![FieldError::new("attachment", Msg::AttachmentTooLarge)]));
    }
    std::fs::read(path).map_err(|_| unreadable())
}

fn edit(e: EditError) -> Error {
    Error::Fields(vec![e.0])
}

impl Account {
    fn today(&self) -> Date {
        Date::from_unix_vn(self.now())
    }

    /// Subscribe to the outbox events (replacing any subscriber), or unsubscribe with `None`.
    pub(crate) fn set_outbox_listener(&self, l: Option<OutboxListener>) {
        *self.services.listener.lock().unwrap_or_else(|p| p.into_inner()) = l;
    }

    pub(crate) fn notify(&self, id: &str) {
        let listener = self.services.listener.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let (Some(listener), Ok(Some(row))) = (listener, self.store.outbox_item(id)) {
            listener(&row);
        }
    }

    /// All drafts, newest first.
    pub(crate) fn drafts(&self) -> Result<Vec<DraftRow>> {
        self.store.draft_ids()?.iter().map(|id| self.draft(id)).collect()
    }

    /// Delete an editable draft.
    pub(crate) fn delete_draft(&self, id: &str) -> Result<()> {
        self.store.delete_draft(id)
    }

    /// The outbox, in queue order.
    pub(crate) fn outbox_items(&self) -> Result<Vec<OutboxRow>> {
        self.store.outbox()
    }

    /// The cases, as last synced.
    pub(crate) fn case_list(&self) -> Result<Vec<CaseRow>> {
        self.store.cases()
    }

    /// Attach a file by path: refused over `ATTACH_FILE_LIMIT` bytes before it is read whole,
    /// then stored like [`Account::attach`] (the path is the file name shown).
    pub(crate) fn attach_file(&self, id: &str, key: &str, path: &str, mime_type: &str) -> Result<DraftRow> {
        let data = read_limited(path, ATTACH_FILE_LIMIT)?;
        self.attach(id, key, path, mime_type, data)
    }

    // ---- profile and catalogue -----------------------------------------------------------

    pub(crate) async fn refresh_profile(&self) -> Result<CitizenProfileDto> {
        let token = self.access_token().await?;
        let p: CitizenProfileDto = self.net.get(PATH_PROFILE, Some(&token)).await?;
        self.store.save_profile(&p, self.now())?;
        Ok(p)
    }

    pub(crate) fn cached_profile(&self) -> Result<CitizenProfileDto> {
        Ok(self.store.profile()?.ok_or(Error::Domain(Msg::ProfileMissing))?.value)
    }

    /// Fetch the catalogue if it changed (ETag); returns whether it changed.
    pub(crate) async fn refresh_catalogue(&self) -> Result<bool> {
        let etag = self.store.catalogue()?.and_then(|c| c.etag);
        match self.net.get_if_changed::<CatalogueDto>(PATH_PROCEDURES, etag.as_deref()).await? {
            None => {
                self.store.touch_catalogue(self.now())?;
                Ok(false)
            }
            Some((c, etag)) => {
                self.store.save_catalogue(&c, etag.as_deref(), self.now())?;
                Ok(true)
            }
        }
    }

    pub(crate) fn catalogue(&self) -> Result<CatalogueDto> {
        Ok(self.store.catalogue()?.ok_or(Error::Domain(Msg::CatalogueMissing))?.catalogue)
    }

    pub(crate) fn procedure(&self, id: &str, version: Option<u32>) -> Result<ProcedureDto> {
        self.catalogue()?
            .procedures
            .into_iter()
            .find(|p| p.id == id && version.is_none_or(|v| v == p.version))
            .ok_or(Error::Domain(Msg::UnknownProcedure))
    }

    // ---- drafts --------------------------------------------------------------------------

    pub(crate) fn create_draft(&self, procedure_id: &str) -> Result<DraftRow> {
        self.active_account()?;
        let procedure = self.procedure(procedure_id, None)?;
        let profile = self.cached_profile()?;
        let row = DraftRow {
            draft_id: uuid::Uuid::new_v4().to_string(),
            procedure_id: procedure.id.clone(),
            procedure_version: procedure.version,
            status: DraftStatus::Editing,
            content: eform::new_draft(&procedure, &profile),
            updated_at: self.now(),
        };
        self.store.save_draft(&row, self.now())?;
        Ok(row)
    }

    pub(crate) fn draft(&self, id: &str) -> Result<DraftRow> {
        self.store.draft(id)?.ok_or(Error::Domain(Msg::UnknownDraft))
    }

    /// Apply an edit to an editable draft and save it.
    pub(crate) fn edit_draft<T>(
        &self,
        id: &str,
        f: impl FnOnce(&ProcedureDto, &mut DraftContent) -> std::result::Result<T, EditError>,
    ) -> Result<(DraftRow, T)> {
        let mut row = self.draft(id)?;
        if row.status != DraftStatus::Editing {
            return Err(Error::Domain(Msg::DraftNotEditable));
        }
        let procedure = self.procedure(&row.procedure_id, Some(row.procedure_version))?;
        let out = f(&procedure, &mut row.content).map_err(edit)?;
        row.updated_at = self.now();
        self.store.save_draft(&row, row.updated_at)?;
        Ok((row, out))
    }

    /// Attach bytes to a draft (checked against the procedure's size and type limits).
    pub(crate) fn attach(
        &self,
        id: &str,
        key: &str,
        file_name: &str,
        mime_type: &str,
        data: Vec<u8>,
    ) -> Result<DraftRow> {
        let data = zeroize::Zeroizing::new(data);
        let file_name = std::path::Path::new(file_name)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "attachment".into());
        let meta = DraftAttachmentMeta {
            key: key.to_string(),
            file_name,
            mime_type: mime_type.to_string(),
            size: data.len() as u64,
            sha256: crate::protocol::sha256_hex(&data),
        };
        let (row, ()) = self.edit_draft(id, |p, d| {
            eform::check_attachment(p, &meta)?;
            d.attachments.insert(meta.key.clone(), meta.clone());
            Ok(())
        })?;
        self.store.save_draft_file(id, key, &data)?;
        Ok(row)
    }

    pub(crate) fn detach(&self, id: &str, key: &str) -> Result<DraftRow> {
        let (row, ()) = self.edit_draft(id, |_, d| {
            d.attachments.remove(key);
            Ok(())
        })?;
        self.store.delete_draft_file(id, key)?;
        Ok(row)
    }

    pub(crate) fn validate_draft(&self, id: &str) -> Result<Vec<FieldError>> {
        let row = self.draft(id)?;
        let procedure = self.procedure(&row.procedure_id, Some(row.procedure_version))?;
        Ok(eform::validate(&procedure, &row.content, self.today()))
    }

    /// A draft that answers a supplement request: the original values, and the requested
    /// attachments made required.
    pub(crate) fn supplement_draft(&self, case_number: &str) -> Result<DraftRow> {
        let case = self
            .store
            .cases()?
            .into_iter()
            .find(|c| c.case_number == case_number)
            .ok_or(Error::Domain(Msg::UnknownCase))?;
        if case.status != CaseStatusDto::NeedsSupplement {
            return Err(Error::Domain(Msg::CaseNotAwaitingSupplement));
        }
        let original = self.store.outbox_request(&case.submission_id)?;
        let procedure = self
            .procedure(&original.payload.procedure_id, Some(original.payload.procedure_version))
            .or_else(|_| self.procedure(&original.payload.procedure_id, None))?;
        let profile = self.cached_profile()?;
        let mut content = eform::new_draft(&procedure, &profile);
        for (path, value) in &original.payload.values {
            if let Some((group, rest)) = path.split_once('.') {
                if let Some(i) = rest.split('.').next().and_then(|i| i.parse::<u32>().ok()) {
                    let n = content.group_items.entry(group.to_string()).or_insert(0);
                    *n = (*n).max(i + 1);
                }
            }
            if !content.locked.contains(path) {
                content.values.insert(path.clone(), value.clone());
            }
        }
        content.supplements_case = Some(case.case_number.clone());
        content.required_attachments = case.requested_attachments.iter().cloned().collect();
        let row = DraftRow {
            draft_id: uuid::Uuid::new_v4().to_string(),
            procedure_id: procedure.id.clone(),
            procedure_version: procedure.version,
            status: DraftStatus::Editing,
            content,
            updated_at: self.now(),
        };
        self.store.save_draft(&row, self.now())?;
        Ok(row)
    }

    // ---- submission ----------------------------------------------------------------------

    /// Validate, sign and enqueue. Returns the queued item at once; delivery is separate.
    pub(crate) async fn submit(&self, draft_id: &str, passcode_in: &str) -> Result<OutboxRow> {
        let acc = self.active_account()?;
        let row = self.draft(draft_id)?;
        if row.status != DraftStatus::Editing {
            return Err(Error::Domain(Msg::DraftNotEditable));
        }
        let procedure = self.procedure(&row.procedure_id, Some(row.procedure_version))?;
        let errors = eform::validate(&procedure, &row.content, self.today());
        if !errors.is_empty() {
            return Err(Error::Fields(errors));
        }
        // Serialised from the passcode check on: the submit counter is reserved with the
        // passcode's success (one commit), and queue order is counter order.
        let _serial = self.services.submit_lock.lock().await;
        let counter = self
            .verify_passcode_reserving(passcode_in, Some(CounterKind::Submit))
            .await?
            .ok_or_else(|| Error::Storage("no submit counter reserved".into()))?;
        let submission_id = uuid::Uuid::new_v4().to_string();
        let payload = eform::payload(&procedure, &row.content, &submission_id);
        let mut attachment_data = BTreeMap::new();
        for a in &payload.attachments {
            let data = self.store.draft_file(draft_id, &a.key)?.ok_or(Error::Domain(Msg::AttachmentUnreadable))?;
            attachment_data.insert(a.key.clone(), crypto::b64(&data));
        }
        let statement = Statement {
            purpose: Purpose::Submit,
            audience: self.net.audience().to_string(),
            nonce: submission_id.clone(),
            device_id: acc.device_id.clone(),
            counter,
            issued_at: self.now(),
            subject: payload.digest_hex(),
        };
        let signed = self.sign_statement(&acc.key_alias, &acc.public_key, statement).await?;
        let req = SubmissionRequest { payload, signed, attachment_data };
        let now = self.now();
        let activity = self.activity_now(
            crate::activity::ActivityKind::Submission,
            match &req.payload.on_behalf {
                // On behalf of a dependant (decision 49): the mandate id, never the dependant's number.
                Some(o) => format!(
                    "procedure={} submission={submission_id} on_behalf=mandate:{}",
                    row.procedure_id, o.mandate_id
                ),
                None => format!("procedure={} submission={submission_id}", row.procedure_id),
            },
        );
        self.store.enqueue(&req, counter, draft_id, now, &activity)?;
        drop(_serial);
        // The local receipt is the item exactly as queued (a delivery already running may move
        // it on at once, so it is not read back).
        let queued = OutboxRow {
            submission_id: submission_id.clone(),
            seq: i64::try_from(counter).map_err(|_| Error::Storage("submit counter out of range".into()))?,
            draft_id: draft_id.to_string(),
            procedure_id: req.payload.procedure_id.clone(),
            payload_sha256: req.payload.digest_hex(),
            state: OutboxState::Queued,
            attempts: 0,
            next_attempt_at: now,
            not_before: 0,
            last_error: None,
            case_number: None,
            receipt: None,
            queued_at: now,
            updated_at: now,
        };
        self.notify(&submission_id);
        self.flush_logged(crate::activity::ActivityKind::Submission).await;
        Ok(queued)
    }

    /// Re-sign every queued request with the current device key (after a key rotation, once the
    /// citizen confirmed: issue 15). Same submission id (Idempotency-Key) and payload digest, so
    /// a request the server had already accepted under the old key still answers its original
    /// receipt; a new submit counter and time. In queue order, under the submit lock.
    pub(crate) async fn resign_outbox(&self, acc: &crate::store::AccountRow) -> Result<u32> {
        let _serial = self.services.submit_lock.lock().await;
        let _sender = self.services.sender_lock.lock().await;
        let mut n = 0;
        for row in self.store.outbox()?.into_iter().filter(|r| r.state.is_pending()) {
            let mut req = self.store.outbox_request(&row.submission_id)?;
            let counter = self.store.next_submit_counter()?;
            let statement = Statement {
                counter,
                issued_at: self.now(),
                device_id: acc.device_id.clone(),
                audience: self.net.audience().to_string(),
                ..req.signed.statement.clone()
            };
            req.signed = self.sign_statement(&acc.key_alias, &acc.public_key, statement).await?;
            self.store.outbox_replace_request(&req, self.now())?;
            self.notify(&row.submission_id);
            n += 1;
        }
        Ok(n)
    }

    // ---- delivery ------------------------------------------------------------------------

    /// Check the server's receipt: ES256 by a key of `/v1/keys`, issued by our audience, for
    /// exactly this submission and payload.
    pub(crate) async fn verify_receipt(
        &self,
        resp: &SubmissionResponse,
        payload: &SubmissionPayload,
    ) -> Result<ReceiptClaims> {
        let header =
            jsonwebtoken::decode_header(&resp.receipt).map_err(|_| Error::BadReceipt("receipt is not a JWS".into()))?;
        if header.alg != Algorithm::ES256 {
            return Err(Error::BadReceipt("receipt algorithm".into()));
        }
        // jsonwebtoken accepts both ECDSA twins; only the low-S one is the server's.
        if !crate::crypto::jws_signature_is_low_s(&resp.receipt) {
            return Err(Error::BadReceipt("receipt signature is not in low-S form".into()));
        }
        let kid = header.kid.ok_or_else(|| Error::BadReceipt("receipt without key id".into()))?;
        // A cached key that does not verify may be stale (rotation) or may have come from a bad
        // answer: fetch the key set once more before calling the receipt bad.
        let mut claims = None;
        for refetch in [false, true] {
            let jwk = self.server_key(&kid, refetch).await?;
            // ES256 with low-S, verified with p256 (`crypto::decode_es256`).
            if let Some(c) = crate::crypto::decode_es256::<ReceiptClaims>(&resp.receipt, &jwk) {
                claims = Some(c);
                break;
            }
        }
        let claims = claims.ok_or_else(|| Error::BadReceipt("receipt signature does not verify".into()))?;
        if claims.iss != self.net.audience()
            || claims.submission_id != payload.submission_id
            || claims.payload_sha256 != payload.digest_hex()
            || claims.procedure_id != payload.procedure_id
            || claims.case_number != resp.case_number
            || claims.on_behalf != payload.on_behalf
        {
            return Err(Error::BadReceipt("receipt is for something else".into()));
        }
        Ok(claims)
    }

    /// Deliver queued submissions in order until the queue is empty or a transient failure
    /// stops it. `explicit` (the shell asked: connectivity came back, the citizen pulled to
    /// refresh) ignores our own backoff but still honours the server's Retry-After.
    pub(crate) async fn sync_outbox(&self, explicit: bool) -> Result<SyncReport> {
        let _sender = match self.services.sender_lock.try_lock() {
            Ok(g) => g,
            Err(_) if explicit => self.services.sender_lock.lock().await,
            Err(_) => return Ok(SyncReport::default()),
        };
        let mut report = SyncReport::default();
        // A held outbox (remote lock, key rotation: issue 15) waits for the citizen's decision.
        if self.store.outbox_hold()?.is_some() {
            let pending = self.store.outbox()?.iter().filter(|r| r.state.is_pending()).count();
            report.remaining = u32::try_from(pending).unwrap_or(u32::MAX);
            return Ok(report);
        }
        while let Some(item) = self.store.outbox_head()? {
            let now = self.now();
            if item.not_before > now || (!explicit && item.next_attempt_at > now) {
                break;
            }
            let id = item.submission_id.clone();
            self.store.outbox_mark_sending(&id, now)?;
            self.notify(&id);
            let req = self.store.outbox_request(&id)?;
            let result = match self.net.post_idempotent::<_, SubmissionResponse>(PATH_SUBMISSIONS, &req, &id).await {
                Ok(resp) => self.verify_receipt(&resp, &req.payload).await.map(|_| resp),
                Err(e) => Err(e),
            };
            let now = self.now();
            match result {
                Ok(resp) => {
                    let kind = crate::activity::ActivityKind::SubmissionDelivered;
                    let activity = self
                        .store
                        .account()?
                        .is_some()
                        .then(|| self.activity_now(kind, format!("submission={id} case={}", resp.case_number)));
                    self.store.outbox_delivered(&item, &resp.case_number, &resp.receipt, now, activity.as_ref())?;
                    report.delivered += 1;
                    self.flush_logged(kind).await;
                }
                Err(e) => match outbox::classify(&e) {
                    Disposition::Reject { code } => {
                        tracing::info!(code = %code, "submission rejected");
                        self.store.outbox_rejected(&id, &code, now)?;
                        report.rejected += 1;
                    }
                    Disposition::Hold => {
                        // Nothing is lost: the item goes back to the queue untouched and the
                        // whole outbox waits (the lock is recorded with the hold).
                        tracing::info!("device locked: the outbox is held");
                        self.store.outbox_retry(&id, now, 0, Msg::DeviceLocked.code(), now)?;
                        self.record_inactive("locked")?;
                        if let Err(e) = self.flush_activity().await {
                            tracing::info!(error = %e, "activity entries kept waiting for their signature");
                        }
                        self.notify(&id);
                        report.last_error = Some(e);
                        break;
                    }
                    Disposition::Retry { retry_after } => {
                        let jitter = f64::from(crypto::random_array::<1>()[0]) / 256.0;
                        let (next, not_before) = outbox::next_attempt(now, item.attempts + 1, retry_after, jitter);
                        self.store.outbox_retry(&id, next, not_before, error_code(&e), now)?;
                        self.notify(&id);
                        report.last_error = Some(e);
                        break;
                    }
                },
            }
            self.notify(&id);
        }
        let pending = self.store.outbox()?.iter().filter(|r| r.state.is_pending()).count();
        report.remaining = u32::try_from(pending).unwrap_or(u32::MAX);
        Ok(report)
    }

    // ---- cases ---------------------------------------------------------------------------

    /// Fetch case events after the local cursor; returns the new ones.
    pub(crate) async fn sync_cases(&self) -> Result<Vec<CaseEventDto>> {
        let token = self.access_token().await?;
        let mut all = vec![];
        loop {
            let after = self.store.case_cursor()?;
            let r: CaseEventsResponse =
                self.net.get(&format!("{PATH_CASE_EVENTS}?after={after}"), Some(&token)).await?;
            if r.events.iter().any(|e| e.seq <= after) {
                return Err(outbox::bad_answer("case events not after the cursor"));
            }
            self.store.apply_case_events(&r.events, self.now())?;
            let done = !r.more || r.events.is_empty();
            all.extend(r.events);
            if done {
                break;
            }
        }
        // An approved correction changed the register (decision 50): refresh the cached profile
        // (best effort; the events are stored already). A held PID credential issued before
        // the change is fetched anew by the next share.
        let corrected = all.iter().any(|e| {
            e.status == CaseStatusDto::Approved && e.procedure_id == crate::protocol::corrections::PROCEDURE_ID
        });
        if corrected {
            if let Err(e) = self.refresh_profile().await {
                tracing::info!(error = %e, "profile not refreshed after a correction");
            }
        }
        // Periodic anchoring of the activity log rides on this periodic sync (best effort), and
        // so does the countersigning of receipts of in-person presentations made offline.
        if let Err(e) = self.anchor_activity().await {
            tracing::info!(error = %e, "activity log not anchored");
        }
        if let Err(e) = self.sync_in_person_receipts().await {
            tracing::info!(error = %e, "in-person receipts not countersigned");
        }
        Ok(all)
    }
}

/// The stable code stored with a failed attempt.
pub fn error_code(e: &Error) -> &'static str {
    match e {
        Error::BadReceipt(_) => Msg::ReceiptInvalid.code(),
        Error::Net(n) => match n.kind {
            crate::error::NetworkErrorKind::Offline => Msg::Offline.code(),
            crate::error::NetworkErrorKind::Timeout => Msg::Timeout.code(),
            crate::error::NetworkErrorKind::Tls => Msg::Tls.code(),
            crate::error::NetworkErrorKind::InsecureUrl => Msg::InsecureUrl.code(),
            crate::error::NetworkErrorKind::Server => Msg::ServerError.code(),
            crate::error::NetworkErrorKind::Protocol => Msg::ProtocolError.code(),
        },
        Error::Domain(m) => m.code(),
        _ => Msg::Internal.code(),
    }
}
