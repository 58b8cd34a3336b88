//! Storage of the services: profile, catalogue, drafts and their files, outbox, cases.
//! Personal data (profile, draft content and files, queued requests, case notes) is sealed per
//! field like the rest of the store; the catalogue is public and kept in clear.
//!
//! Which services the citizen used is personal too: the submission receipt (procedure, case
//! number, due date), the procedure id and case number of each outbox item and each case are
//! sealed in a `meta` column (schema v5). Cases and case events are keyed by a keyed hash of the
//! case number ([`Store::case_key`]) so that upserts still find their row without the number
//! being stored in clear. Rows written in clear by schema v4 are sealed once, right after the
//! data key is loaded ([`Store::seal_v4_service_rows`]).

use rusqlite::{params, OptionalExtension, TransactionBehavior};
use serde::{Deserialize, Serialize};

use super::eform::DraftContent;
use crate::error::{Error, Msg, Result};
use crate::protocol::services::{CaseEventDto, CaseStatusDto, CatalogueDto, CitizenProfileDto, SubmissionRequest};
use crate::store::rows::{CatalogueRow, DraftStatus, Fetched, OutboxState, WireText};
use crate::store::{PendingActivity, Store};

/// A stored draft.
pub(crate) struct DraftRow {
    pub(crate) draft_id: String,
    pub(crate) procedure_id: String,
    pub(crate) procedure_version: u32,
    pub(crate) status: DraftStatus,
    pub(crate) content: DraftContent,
    pub(crate) updated_at: i64,
}

/// A stored outbox item (without the request body).
#[derive(Clone, Debug)]
pub(crate) struct OutboxRow {
    pub(crate) submission_id: String,
    /// Delivery order (read for diagnostics and tests; the queue orders by it in SQL).
    #[allow(dead_code)]
    pub(crate) seq: i64,
    pub(crate) draft_id: String,
    pub(crate) procedure_id: String,
    pub(crate) payload_sha256: String,
    pub(crate) state: OutboxState,
    pub(crate) attempts: u32,
    pub(crate) next_attempt_at: i64,
    pub(crate) not_before: i64,
    pub(crate) last_error: Option<String>,
    pub(crate) case_number: Option<String>,
    pub(crate) receipt: Option<String>,
    pub(crate) queued_at: i64,
    pub(crate) updated_at: i64,
}

/// A stored case.
#[derive(Clone, Debug)]
pub(crate) struct CaseRow {
    pub(crate) case_number: String,
    pub(crate) submission_id: String,
    pub(crate) procedure_id: String,
    pub(crate) status: CaseStatusDto,
    pub(crate) note: Option<(Option<String>, Option<String>)>,
    pub(crate) requested_attachments: Vec<String>,
    pub(crate) updated_at: i64,
}

/// A `cases` row as stored: identifying fields sealed in `meta` (v5) or, before the v4 rows are
/// sealed, in clear.
struct RawCase {
    key: String,
    submission_id: String,
    procedure_id: String,
    status: CaseStatusDto,
    note: Option<Vec<u8>>,
    requested_attachments: String,
    updated_at: i64,
    meta: Option<Vec<u8>>,
}

const OUTBOX_COLS: &str = "submission_id, seq, draft_id, procedure_id, payload_sha256, state, attempts, \
    next_attempt_at, not_before, last_error, case_number, receipt, queued_at, updated_at, meta";

/// What an outbox row reveals about the citizen's use of services, sealed in `outbox.meta`.
#[derive(Serialize, Deserialize)]
struct OutboxMeta {
    procedure_id: String,
    case_number: Option<String>,
    receipt: Option<String>,
}

/// The identifying fields of a case, sealed in `cases.meta`.
#[derive(Serialize, Deserialize)]
struct CaseMeta {
    case_number: String,
    submission_id: String,
    procedure_id: String,
}

/// Name in `meta` of the flag that the v4 clear rows were sealed (see [`Store::seal_v4_service_rows`]).
const SEALED_V5_FLAG: &str = "services_sealed_v5";
/// HKDF label of the key of [`Store::case_key`].
const CASE_KEY_INFO: &str = "cases.key/v1";

fn outbox_meta_label(id: &str) -> String {
    format!("outbox.meta.{id}")
}

fn case_meta_label(key: &str) -> String {
    format!("cases.meta.{key}")
}

fn outbox_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(OutboxRow, Option<Vec<u8>>)> {
    Ok((
        OutboxRow {
            submission_id: r.get(0)?,
            seq: r.get(1)?,
            draft_id: r.get(2)?,
            procedure_id: r.get(3)?,
            payload_sha256: r.get(4)?,
            state: r.get(5)?,
            attempts: r.get(6)?,
            next_attempt_at: r.get(7)?,
            not_before: r.get(8)?,
            last_error: r.get(9)?,
            case_number: r.get(10)?,
            receipt: r.get(11)?,
            queued_at: r.get(12)?,
            updated_at: r.get(13)?,
        },
        r.get(14)?,
    ))
}

impl Store {
    // ---- profile and catalogue -----------------------------------------------------------

    pub(crate) fn save_profile(&self, p: &CitizenProfileDto, now: i64) -> Result<()> {
        let sealed = self.seal_json("profile", p)?;
        self.conn().execute(
            "INSERT OR REPLACE INTO profile (id, data, fetched_at) VALUES (1, ?1, ?2)",
            params![sealed, now],
        )?;
        Ok(())
    }

    pub(crate) fn profile(&self) -> Result<Option<Fetched<CitizenProfileDto>>> {
        let row: Option<Fetched<Vec<u8>>> = self
            .conn()
            .query_row("SELECT data, fetched_at FROM profile WHERE id = 1", [], |r| {
                Ok(Fetched { value: r.get(0)?, fetched_at: r.get(1)? })
            })
            .optional()?;
        row.map(|f| Ok(Fetched { value: self.open_json("profile", &f.value)?, fetched_at: f.fetched_at })).transpose()
    }

    pub(crate) fn save_catalogue(&self, c: &CatalogueDto, etag: Option<&str>, now: i64) -> Result<()> {
        let json = serde_json::to_vec(c).map_err(|e| Error::Storage(e.to_string()))?;
        self.conn().execute(
            "INSERT OR REPLACE INTO catalogue (id, etag, data, fetched_at) VALUES (1, ?1, ?2, ?3)",
            params![etag, json, now],
        )?;
        Ok(())
    }

    pub(crate) fn touch_catalogue(&self, now: i64) -> Result<()> {
        self.conn().execute("UPDATE catalogue SET fetched_at = ?1 WHERE id = 1", params![now])?;
        Ok(())
    }

    /// The cached catalogue (public, in clear).
    pub(crate) fn catalogue(&self) -> Result<Option<CatalogueRow>> {
        let row: Option<(Option<String>, Vec<u8>, i64)> = self
            .conn()
            .query_row("SELECT etag, data, fetched_at FROM catalogue WHERE id = 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?;
        row.map(|(etag, data, fetched_at)| {
            let catalogue = serde_json::from_slice(&data).map_err(|e| Error::Storage(format!("catalogue: {e}")))?;
            Ok(CatalogueRow { catalogue, etag, fetched_at })
        })
        .transpose()
    }

    // ---- drafts --------------------------------------------------------------------------

    fn draft_label(id: &str) -> String {
        format!("drafts.content.{id}")
    }

    pub(crate) fn save_draft(&self, d: &DraftRow, now: i64) -> Result<()> {
        let sealed = self.seal_json(&Self::draft_label(&d.draft_id), &d.content)?;
        self.conn().execute(
            "INSERT INTO drafts (draft_id, procedure_id, procedure_version, status, content, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)
             ON CONFLICT (draft_id) DO UPDATE SET status = ?4, content = ?5, updated_at = ?6",
            params![d.draft_id, d.procedure_id, d.procedure_version, d.status, sealed, now],
        )?;
        Ok(())
    }

    pub(crate) fn draft(&self, id: &str) -> Result<Option<DraftRow>> {
        let row: Option<(String, String, u32, DraftStatus, Vec<u8>, i64)> = self
            .conn()
            .query_row(
                "SELECT draft_id, procedure_id, procedure_version, status, content, updated_at FROM drafts WHERE draft_id = ?1",
                params![id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
            )
            .optional()?;
        row.map(|(draft_id, procedure_id, procedure_version, status, sealed, updated_at)| {
            let content = self.open_json(&Self::draft_label(&draft_id), &sealed)?;
            Ok(DraftRow { draft_id, procedure_id, procedure_version, status, content, updated_at })
        })
        .transpose()
    }

    pub(crate) fn draft_ids(&self) -> Result<Vec<String>> {
        let c = self.conn();
        let mut st = c.prepare("SELECT draft_id FROM drafts ORDER BY updated_at DESC, draft_id")?;
        let ids = st.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<Vec<String>>>()?;
        Ok(ids)
    }

    pub(crate) fn delete_draft(&self, id: &str) -> Result<()> {
        let mut c = self.conn();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute("DELETE FROM draft_files WHERE draft_id = ?1", params![id])?;
        tx.execute("DELETE FROM drafts WHERE draft_id = ?1 AND status = ?2", params![id, DraftStatus::Editing])?;
        tx.commit()?;
        Ok(())
    }

    fn file_label(draft: &str, key: &str) -> String {
        format!("draft_files.{draft}.{key}")
    }

    pub(crate) fn save_draft_file(&self, draft: &str, key: &str, data: &[u8]) -> Result<()> {
        let sealed = self.data_key_seal(&Self::file_label(draft, key), data);
        self.conn().execute(
            "INSERT OR REPLACE INTO draft_files (draft_id, key, data) VALUES (?1, ?2, ?3)",
            params![draft, key, sealed],
        )?;
        Ok(())
    }

    pub(crate) fn draft_file(&self, draft: &str, key: &str) -> Result<Option<Vec<u8>>> {
        let sealed: Option<Vec<u8>> = self
            .conn()
            .query_row("SELECT data FROM draft_files WHERE draft_id = ?1 AND key = ?2", params![draft, key], |r| {
                r.get(0)
            })
            .optional()?;
        sealed
            .map(|s| {
                self.data_key_open(&Self::file_label(draft, key), &s)
                    .ok_or_else(|| Error::Crypto("draft file does not open".into()))
            })
            .transpose()
    }

    pub(crate) fn delete_draft_file(&self, draft: &str, key: &str) -> Result<()> {
        self.conn().execute("DELETE FROM draft_files WHERE draft_id = ?1 AND key = ?2", params![draft, key])?;
        Ok(())
    }

    // ---- outbox --------------------------------------------------------------------------

    /// Reserve the next submit counter for re-signing a queued request after a key rotation
    /// (issue 15; committed before signing; gaps are harmless). A new submission reserves its
    /// counter with the passcode's success instead (one commit).
    pub(crate) fn next_submit_counter(&self) -> Result<u64> {
        let v: u64 = self
            .conn()
            .query_row(
                "UPDATE account SET submit_counter = submit_counter + 1 WHERE id = 1 RETURNING submit_counter",
                [],
                |r| r.get(0),
            )
            .optional()?
            .ok_or(Error::Domain(Msg::NotEnrolled))?;
        Ok(v)
    }

    fn request_label(id: &str) -> String {
        format!("outbox.request.{id}")
    }

    /// Enqueue a signed request and mark its draft submitted — one transaction, so a draft is
    /// never both editable and queued, and a queued request never exists without its draft
    /// being marked. The activity entry that records the submission is queued in it too.
    pub(crate) fn enqueue(
        &self,
        req: &SubmissionRequest,
        seq: u64,
        draft_id: &str,
        now: i64,
        activity: &PendingActivity,
    ) -> Result<()> {
        let id = &req.payload.submission_id;
        let sealed = self.seal_json(&Self::request_label(id), req)?;
        let mut c = self.conn();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let n = tx.execute(
            "UPDATE drafts SET status = ?3, updated_at = ?2 WHERE draft_id = ?1 AND status = ?4",
            params![draft_id, now, DraftStatus::Submitted, DraftStatus::Editing],
        )?;
        if n != 1 {
            return Err(Error::Domain(Msg::DraftNotEditable));
        }
        let meta = self.seal_json(
            &outbox_meta_label(id),
            &OutboxMeta { procedure_id: req.payload.procedure_id.clone(), case_number: None, receipt: None },
        )?;
        tx.execute(
            "INSERT INTO outbox (submission_id, seq, draft_id, procedure_id, payload_sha256, state, request, attempts,
             next_attempt_at, not_before, queued_at, updated_at, meta)
             VALUES (?1, ?2, ?3, '', ?4, ?8, ?5, 0, ?6, 0, ?6, ?6, ?7)",
            params![id, seq, draft_id, req.payload.digest_hex(), sealed, now, meta, OutboxState::Queued],
        )?;
        self.queue_activity_in(&tx, activity)?;
        tx.commit()?;
        Ok(())
    }

    /// Rows of `SELECT {OUTBOX_COLS} …`, their sealed fields opened.
    fn outbox_query(&self, sql: &str, p: impl rusqlite::Params) -> Result<Vec<OutboxRow>> {
        let raw = {
            let c = self.conn();
            let mut st = c.prepare(sql)?;
            let rows = st.query_map(p, outbox_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
            rows
        };
        raw.into_iter()
            .map(|(mut row, meta)| {
                if let Some(sealed) = meta {
                    let m: OutboxMeta = self.open_json(&outbox_meta_label(&row.submission_id), &sealed)?;
                    (row.procedure_id, row.case_number, row.receipt) = (m.procedure_id, m.case_number, m.receipt);
                }
                Ok(row)
            })
            .collect()
    }

    pub(crate) fn outbox(&self) -> Result<Vec<OutboxRow>> {
        self.outbox_query(&format!("SELECT {OUTBOX_COLS} FROM outbox ORDER BY seq"), [])
    }

    pub(crate) fn outbox_item(&self, id: &str) -> Result<Option<OutboxRow>> {
        Ok(self.outbox_query(&format!("SELECT {OUTBOX_COLS} FROM outbox WHERE submission_id = ?1"), params![id])?.pop())
    }

    /// The next item to deliver: lowest sequence not yet delivered or rejected.
    pub(crate) fn outbox_head(&self) -> Result<Option<OutboxRow>> {
        Ok(self
            .outbox_query(
                &format!("SELECT {OUTBOX_COLS} FROM outbox WHERE state IN (?1, ?2) ORDER BY seq LIMIT 1"),
                params![OutboxState::Queued, OutboxState::Sending],
            )?
            .pop())
    }

    pub(crate) fn outbox_request(&self, id: &str) -> Result<SubmissionRequest> {
        let sealed: Vec<u8> =
            self.conn().query_row("SELECT request FROM outbox WHERE submission_id = ?1", params![id], |r| r.get(0))?;
        self.open_json(&Self::request_label(id), &sealed)
    }

    /// Mark the item `sending` (one more attempt) before its request goes out. Not `fsync`ed
    /// ([`Store::unsynced`]): it survives a kill of the app, and if power loss takes it the item
    /// is `queued` again and is resent under the same idempotency key, which the server answers
    /// with its first response; the delivery's own commit (`synchronous=FULL`) makes it durable.
    pub(crate) fn outbox_mark_sending(&self, id: &str, now: i64) -> Result<()> {
        self.unsynced(|c| {
            c.execute(
                "UPDATE outbox SET state = ?3, attempts = attempts + 1, updated_at = ?2 WHERE submission_id = ?1",
                params![id, now, OutboxState::Sending],
            )?;
            Ok(())
        })
    }

    /// Replace the signed request of a queued item (re-signed after a key rotation, issue 15).
    pub(crate) fn outbox_replace_request(&self, req: &SubmissionRequest, now: i64) -> Result<()> {
        let id = &req.payload.submission_id;
        let sealed = self.seal_json(&Self::request_label(id), req)?;
        self.conn().execute(
            "UPDATE outbox SET request = ?2, updated_at = ?3, next_attempt_at = ?3, not_before = 0 WHERE submission_id = ?1",
            params![id, sealed, now],
        )?;
        Ok(())
    }

    pub(crate) fn outbox_retry(&self, id: &str, next: i64, not_before: i64, error: &str, now: i64) -> Result<()> {
        self.conn().execute(
            "UPDATE outbox SET state = ?6, next_attempt_at = ?2, not_before = ?3, last_error = ?4, updated_at = ?5
             WHERE submission_id = ?1",
            params![id, next, not_before, error, now, OutboxState::Queued],
        )?;
        Ok(())
    }

    pub(crate) fn outbox_rejected(&self, id: &str, code: &str, now: i64) -> Result<()> {
        self.conn().execute(
            "UPDATE outbox SET state = ?4, last_error = ?2, updated_at = ?3 WHERE submission_id = ?1",
            params![id, code, now, OutboxState::Rejected],
        )?;
        Ok(())
    }

    /// Mark delivered, open the local case and queue the activity entry of the delivery — one
    /// transaction. The case number and the receipt are sealed with the procedure id; the case
    /// row is keyed by [`Store::case_key`].
    pub(crate) fn outbox_delivered(
        &self,
        row: &OutboxRow,
        case_number: &str,
        receipt: &str,
        now: i64,
        activity: Option<&PendingActivity>,
    ) -> Result<()> {
        let meta = self.seal_json(
            &outbox_meta_label(&row.submission_id),
            &OutboxMeta {
                procedure_id: row.procedure_id.clone(),
                case_number: Some(case_number.to_string()),
                receipt: Some(receipt.to_string()),
            },
        )?;
        let key = self.case_key(case_number);
        let case_meta = self.seal_json(
            &case_meta_label(&key),
            &CaseMeta {
                case_number: case_number.to_string(),
                submission_id: row.submission_id.clone(),
                procedure_id: row.procedure_id.clone(),
            },
        )?;
        let mut c = self.conn();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "UPDATE outbox SET state = ?4, procedure_id = '', case_number = NULL, receipt = NULL, meta = ?2,
             last_error = NULL, updated_at = ?3 WHERE submission_id = ?1",
            params![row.submission_id, meta, now, OutboxState::Delivered],
        )?;
        tx.execute(
            "INSERT INTO cases (case_number, submission_id, procedure_id, status, updated_at, meta)
             VALUES (?1, '', '', ?4, ?2, ?3) ON CONFLICT (case_number) DO NOTHING",
            params![key, now, case_meta, WireText(CaseStatusDto::Received)],
        )?;
        if let Some(p) = activity {
            self.queue_activity_in(&tx, p)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The key under which a case and its events are stored: HMAC of the case number under a
    /// sub-key of the data key (hex). Stable, so upserts find their row; says nothing without
    /// the data key.
    pub(crate) fn case_key(&self, case_number: &str) -> String {
        self.derive_key(CASE_KEY_INFO).hmac(&[case_number.as_bytes()]).iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Seal the service rows a schema-v4 database holds in clear (outbox procedure id, case
    /// number and receipt; case numbers, submission and procedure ids of cases and case events).
    /// Runs at every open once the data key is loaded; a flag in `meta`, written in the same
    /// transaction, makes it run once. The old clear pages are overwritten (`secure_delete`) and
    /// moved out of the WAL by a checkpoint.
    pub(crate) fn seal_v4_service_rows(&self) -> Result<()> {
        let done: bool =
            self.conn()
                .query_row("SELECT COUNT(*) > 0 FROM meta WHERE name = ?1", params![SEALED_V5_FLAG], |r| r.get(0))?;
        if done {
            return Ok(());
        }
        let mut c = self.conn();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let outbox: Vec<(String, String, Option<String>, Option<String>)> = {
            let mut st =
                tx.prepare("SELECT submission_id, procedure_id, case_number, receipt FROM outbox WHERE meta IS NULL")?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        for (id, procedure_id, case_number, receipt) in outbox {
            let meta = self.seal_json(&outbox_meta_label(&id), &OutboxMeta { procedure_id, case_number, receipt })?;
            tx.execute(
                "UPDATE outbox SET procedure_id = '', case_number = NULL, receipt = NULL, meta = ?2 WHERE submission_id = ?1",
                params![id, meta],
            )?;
        }
        let cases: Vec<(String, String, String)> = {
            let mut st = tx.prepare("SELECT case_number, submission_id, procedure_id FROM cases WHERE meta IS NULL")?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        for (case_number, submission_id, procedure_id) in cases {
            let key = self.case_key(&case_number);
            let meta = self.seal_json(
                &case_meta_label(&key),
                &CaseMeta { case_number: case_number.clone(), submission_id, procedure_id },
            )?;
            tx.execute(
                "UPDATE cases SET case_number = ?2, submission_id = '', procedure_id = '', meta = ?3 WHERE case_number = ?1",
                params![case_number, key, meta],
            )?;
        }
        let events: Vec<(i64, String)> = {
            let mut st = tx.prepare("SELECT seq, case_number FROM case_events")?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        for (seq, case_number) in events {
            tx.execute(
                "UPDATE case_events SET case_number = ?2 WHERE seq = ?1",
                params![seq, self.case_key(&case_number)],
            )?;
        }
        tx.execute("INSERT INTO meta (name, value) VALUES (?1, x'01')", params![SEALED_V5_FLAG])?;
        tx.commit()?;
        drop(c);
        let _ = self.conn().execute_batch("PRAGMA wal_checkpoint(TRUNCATE);");
        Ok(())
    }

    // ---- cases ---------------------------------------------------------------------------

    pub(crate) fn case_cursor(&self) -> Result<i64> {
        Ok(self.conn().query_row("SELECT COALESCE(MAX(seq), 0) FROM case_events", [], |r| r.get(0))?)
    }

    /// Apply events from the server (idempotent by sequence number).
    pub(crate) fn apply_case_events(&self, events: &[CaseEventDto], now: i64) -> Result<()> {
        let mut c = self.conn();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for e in events {
            let label = format!("case_events.{}", e.seq);
            let sealed = self.seal_json(&label, e)?;
            let status = WireText(e.status);
            let key = self.case_key(&e.case_number);
            let inserted = tx.execute(
                "INSERT INTO case_events (seq, case_number, status, event, at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (seq) DO NOTHING",
                params![e.seq, key, status, sealed, e.at],
            )?;
            if inserted == 0 {
                continue;
            }
            let note =
                self.seal_json(&format!("cases.note.{}", e.case_number), &(e.note_vi.clone(), e.note_en.clone()))?;
            let requested = serde_json::to_string(&e.requested_attachments).unwrap_or_else(|_| "[]".into());
            let meta = self.seal_json(
                &case_meta_label(&key),
                &CaseMeta {
                    case_number: e.case_number.clone(),
                    submission_id: e.submission_id.clone(),
                    procedure_id: e.procedure_id.clone(),
                },
            )?;
            tx.execute(
                "INSERT INTO cases (case_number, submission_id, procedure_id, status, note, requested_attachments, updated_at, meta)
                 VALUES (?1, '', '', ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (case_number) DO UPDATE SET status = ?2, note = ?3, requested_attachments = ?4, updated_at = ?5",
                params![key, status, note, requested, now, meta],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    pub(crate) fn cases(&self) -> Result<Vec<CaseRow>> {
        let rows: Vec<RawCase> = {
            let c = self.conn();
            let mut st = c.prepare(
                "SELECT case_number, submission_id, procedure_id, status, note, requested_attachments, updated_at, meta
                 FROM cases",
            )?;
            let rows = st
                .query_map([], |r| {
                    Ok(RawCase {
                        key: r.get(0)?,
                        submission_id: r.get(1)?,
                        procedure_id: r.get(2)?,
                        status: r.get::<_, WireText<CaseStatusDto>>(3)?.0,
                        note: r.get(4)?,
                        requested_attachments: r.get(5)?,
                        updated_at: r.get(6)?,
                        meta: r.get(7)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows
        };
        let mut cases = rows
            .into_iter()
            .map(|raw| {
                let (case_number, submission_id, procedure_id) = match raw.meta {
                    Some(sealed) => {
                        let m: CaseMeta = self.open_json(&case_meta_label(&raw.key), &sealed)?;
                        (m.case_number, m.submission_id, m.procedure_id)
                    }
                    None => (raw.key, raw.submission_id, raw.procedure_id),
                };
                let note = raw.note.map(|n| self.open_json(&format!("cases.note.{case_number}"), &n)).transpose()?;
                Ok(CaseRow {
                    case_number,
                    submission_id,
                    procedure_id,
                    status: raw.status,
                    note,
                    requested_attachments: serde_json::from_str(&raw.requested_attachments).unwrap_or_default(),
                    updated_at: raw.updated_at,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        cases.sort_by(|a, b| b.updated_at.cmp(&a.updated_at).then_with(|| a.case_number.cmp(&b.case_number)));
        Ok(cases)
    }

    /// Integrity check (tests and diagnostics).
    pub(crate) fn integrity_check(&self) -> Result<String> {
        Ok(self.conn().query_row("PRAGMA integrity_check", [], |r| r.get(0))?)
    }
}

/// Issue 9, item 15: schema v5 seals the service rows; a v4 database with clear rows upgrades.
#[cfg(test)]
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_possible_wrap)]
mod v5_sealing {
    use std::path::Path;
    use std::sync::Arc;

    use super::*;
    use crate::platform::software::MemoryKeyWrapper;
    use crate::platform::DataKeyWrapper;
    use crate::protocol::services::CaseStatusDto;

    const PROCEDURE: &str = "proc-canary-tam-tru";
    const CASE: &str = "CASE-CANARY-20310042";
    const RECEIPT: &str = "eyJhbGciOiJFUzI1NiJ9.receipt-canary-due-2031-12-24.c2ln";

    fn files_contain(dir: &Path, needle: &str) -> bool {
        std::fs::read_dir(dir).unwrap().any(|e| {
            let b = std::fs::read(e.unwrap().path()).unwrap_or_default();
            b.windows(needle.len()).any(|w| w == needle.as_bytes())
        })
    }

    /// Turn a freshly created (v7) database into what schema v4 left: no `meta` columns (v5), no
    /// integrity columns (v6), no bookkeeping column and waiting table (v7), no sealing flag, `user_version` 4, and a delivered submission
    /// with its case in clear.
    fn make_v4_with_clear_receipt(s: &Store) {
        let note = s.seal_json(&format!("cases.note.{CASE}"), &(Some("Ghi chú".to_string()), None::<String>)).unwrap();
        let c = s.conn();
        c.execute_batch(&format!(
            "ALTER TABLE outbox DROP COLUMN meta; ALTER TABLE cases DROP COLUMN meta;
             ALTER TABLE account DROP COLUMN integrity; ALTER TABLE activity_anchors DROP COLUMN sealed;
             ALTER TABLE consent_receipts DROP COLUMN chain_seq;
             ALTER TABLE account DROP COLUMN bookkeeping; DROP TABLE activity_pending;
             DROP TABLE documents; DROP TABLE trust_list; ALTER TABLE account DROP COLUMN outbox_hold;
             DROP TABLE dependant_documents;
             DELETE FROM meta WHERE name = '{SEALED_V5_FLAG}'; PRAGMA user_version = 4;"
        ))
        .unwrap();
        c.execute(
            "INSERT INTO outbox (submission_id, seq, draft_id, procedure_id, payload_sha256, state, request, attempts,
             next_attempt_at, not_before, case_number, receipt, queued_at, updated_at)
             VALUES ('sub-1', 1, 'draft-1', ?1, 'abc', 'delivered', x'00', 1, 0, 0, ?2, ?3, 10, 20)",
            params![PROCEDURE, CASE, RECEIPT],
        )
        .unwrap();
        c.execute(
            "INSERT INTO cases (case_number, submission_id, procedure_id, status, note, requested_attachments, updated_at)
             VALUES (?1, 'sub-1', ?2, 'received', ?3, '[]', 20)",
            params![CASE, PROCEDURE, note],
        )
        .unwrap();
        c.execute(
            "INSERT INTO case_events (seq, case_number, status, event, at) VALUES (1, ?1, 'received', x'00', 20)",
            params![CASE],
        )
        .unwrap();
    }

    fn check(s: &Store) {
        let o = s.outbox().unwrap();
        assert_eq!(o.len(), 1);
        assert_eq!(o[0].procedure_id, PROCEDURE);
        assert_eq!(o[0].case_number.as_deref(), Some(CASE));
        assert_eq!(o[0].receipt.as_deref(), Some(RECEIPT));
        assert_eq!(s.outbox_item("sub-1").unwrap().unwrap().receipt.as_deref(), Some(RECEIPT));
        let cases = s.cases().unwrap();
        assert_eq!(cases.len(), 1);
        assert_eq!((cases[0].case_number.as_str(), cases[0].submission_id.as_str()), (CASE, "sub-1"));
        assert_eq!(cases[0].procedure_id, PROCEDURE);
        assert_eq!(cases[0].note, Some((Some("Ghi chú".to_string()), None)));
    }

    #[test]
    fn a_v4_database_with_a_clear_receipt_is_sealed_on_upgrade_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let w: Arc<dyn DataKeyWrapper> = Arc::new(MemoryKeyWrapper::new());
        {
            let s = Store::open(dir.path(), &w).unwrap();
            make_v4_with_clear_receipt(&s);
        }
        // The test really starts from clear rows.
        for canary in [PROCEDURE, CASE, RECEIPT] {
            assert!(files_contain(dir.path(), canary), "{canary} not in the v4 files");
        }

        let s = Store::open(dir.path(), &w).unwrap();
        let v: i64 = s.conn().query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert!(v >= 5);
        check(&s);
        drop(s);
        // Idempotent: a second open changes nothing.
        let s = Store::open(dir.path(), &w).unwrap();
        check(&s);

        // New events for the case still find its (re-keyed) row, and a new delivery is sealed.
        let event = CaseEventDto {
            seq: 2,
            case_number: CASE.into(),
            submission_id: "sub-1".into(),
            procedure_id: PROCEDURE.into(),
            status: CaseStatusDto::Processing,
            note_vi: None,
            note_en: None,
            requested_attachments: vec![],
            at: 30,
        };
        s.apply_case_events(&[event], 30).unwrap();
        let cases = s.cases().unwrap();
        assert_eq!((cases.len(), cases[0].case_number.as_str(), cases[0].status), (1, CASE, CaseStatusDto::Processing));
        let row = s.outbox().unwrap().remove(0);
        s.outbox_delivered(&OutboxRow { submission_id: "sub-2".into(), ..row }, "CASE-CANARY-20310043", "r2", 40, None)
            .unwrap();
        assert_eq!(s.cases().unwrap().len(), 2);
        drop(s);

        // At rest: none of it in the database or its WAL.
        for canary in [PROCEDURE, CASE, RECEIPT, "CASE-CANARY-20310043", "due-2031-12-24"] {
            assert!(!files_contain(dir.path(), canary), "{canary} found in clear");
        }
    }
}
