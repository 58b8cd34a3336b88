//! Storage of the services: profile, catalogue, drafts and their files, outbox, cases.
//! Personal data (profile, draft content and files, queued requests, case notes) is sealed per
//! field like the rest of the store; the catalogue is public and kept in clear.

use rusqlite::{params, OptionalExtension, TransactionBehavior};

use super::eform::DraftContent;
use crate::error::{Error, Msg, Result};
use crate::protocol::services::{CaseEventDto, CatalogueDto, CitizenProfileDto, SubmissionRequest};
use crate::store::Store;

/// Outbox states (stored as text).
pub const QUEUED: &str = "queued";
/// Being sent (a crash leaves it here; it is resent, idempotently).
pub const SENDING: &str = "sending";
/// The server accepted it and its receipt verified.
pub const DELIVERED: &str = "delivered";
/// The server refused it for good.
pub const REJECTED: &str = "rejected";

/// A stored draft.
pub struct DraftRow {
    pub draft_id: String,
    pub procedure_id: String,
    pub procedure_version: u32,
    pub status: String,
    pub content: DraftContent,
    pub updated_at: i64,
}

/// A stored outbox item (without the request body).
#[derive(Clone, Debug)]
pub struct OutboxRow {
    pub submission_id: String,
    pub seq: i64,
    pub draft_id: String,
    pub procedure_id: String,
    pub payload_sha256: String,
    pub state: String,
    pub attempts: u32,
    pub next_attempt_at: i64,
    pub not_before: i64,
    pub last_error: Option<String>,
    pub case_number: Option<String>,
    pub receipt: Option<String>,
    pub queued_at: i64,
    pub updated_at: i64,
}

/// A stored case.
#[derive(Clone, Debug)]
pub struct CaseRow {
    pub case_number: String,
    pub submission_id: String,
    pub procedure_id: String,
    pub status: String,
    pub note: Option<(Option<String>, Option<String>)>,
    pub requested_attachments: Vec<String>,
    pub updated_at: i64,
}

const OUTBOX_COLS: &str = "submission_id, seq, draft_id, procedure_id, payload_sha256, state, attempts, \
    next_attempt_at, not_before, last_error, case_number, receipt, queued_at, updated_at";

fn outbox_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<OutboxRow> {
    Ok(OutboxRow {
        submission_id: r.get(0)?,
        seq: r.get(1)?,
        draft_id: r.get(2)?,
        procedure_id: r.get(3)?,
        payload_sha256: r.get(4)?,
        state: r.get(5)?,
        attempts: r.get::<_, i64>(6)? as u32,
        next_attempt_at: r.get(7)?,
        not_before: r.get(8)?,
        last_error: r.get(9)?,
        case_number: r.get(10)?,
        receipt: r.get(11)?,
        queued_at: r.get(12)?,
        updated_at: r.get(13)?,
    })
}

impl Store {
    // ---- profile and catalogue -----------------------------------------------------------

    pub fn save_profile(&self, p: &CitizenProfileDto, now: i64) -> Result<()> {
        let sealed = self.seal_json("profile", p)?;
        self.conn().execute(
            "INSERT OR REPLACE INTO profile (id, data, fetched_at) VALUES (1, ?1, ?2)",
            params![sealed, now],
        )?;
        Ok(())
    }

    pub fn profile(&self) -> Result<Option<(CitizenProfileDto, i64)>> {
        let row: Option<(Vec<u8>, i64)> = self
            .conn()
            .query_row("SELECT data, fetched_at FROM profile WHERE id = 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        row.map(|(d, t)| Ok((self.open_json("profile", &d)?, t))).transpose()
    }

    pub fn save_catalogue(&self, c: &CatalogueDto, etag: Option<&str>, now: i64) -> Result<()> {
        let json = serde_json::to_vec(c).map_err(|e| Error::Storage(e.to_string()))?;
        self.conn().execute(
            "INSERT OR REPLACE INTO catalogue (id, etag, data, fetched_at) VALUES (1, ?1, ?2, ?3)",
            params![etag, json, now],
        )?;
        Ok(())
    }

    pub fn touch_catalogue(&self, now: i64) -> Result<()> {
        self.conn().execute("UPDATE catalogue SET fetched_at = ?1 WHERE id = 1", params![now])?;
        Ok(())
    }

    /// (catalogue, etag, fetched_at)
    pub fn catalogue(&self) -> Result<Option<(CatalogueDto, Option<String>, i64)>> {
        let row: Option<(Option<String>, Vec<u8>, i64)> = self
            .conn()
            .query_row("SELECT etag, data, fetched_at FROM catalogue WHERE id = 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?;
        row.map(|(etag, data, t)| {
            let c = serde_json::from_slice(&data).map_err(|e| Error::Storage(format!("catalogue: {e}")))?;
            Ok((c, etag, t))
        })
        .transpose()
    }

    // ---- drafts --------------------------------------------------------------------------

    fn draft_label(id: &str) -> String {
        format!("drafts.content.{id}")
    }

    pub fn save_draft(&self, d: &DraftRow, now: i64) -> Result<()> {
        let sealed = self.seal_json(&Self::draft_label(&d.draft_id), &d.content)?;
        self.conn().execute(
            "INSERT INTO drafts (draft_id, procedure_id, procedure_version, status, content, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)
             ON CONFLICT (draft_id) DO UPDATE SET status = ?4, content = ?5, updated_at = ?6",
            params![d.draft_id, d.procedure_id, d.procedure_version, d.status, sealed, now],
        )?;
        Ok(())
    }

    pub fn draft(&self, id: &str) -> Result<Option<DraftRow>> {
        let row: Option<(String, String, u32, String, Vec<u8>, i64)> = self
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

    pub fn draft_ids(&self) -> Result<Vec<String>> {
        let c = self.conn();
        let mut st = c.prepare("SELECT draft_id FROM drafts ORDER BY updated_at DESC, draft_id")?;
        let ids = st.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<Vec<String>>>()?;
        Ok(ids)
    }

    pub fn delete_draft(&self, id: &str) -> Result<()> {
        let mut c = self.conn();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute("DELETE FROM draft_files WHERE draft_id = ?1", params![id])?;
        tx.execute("DELETE FROM drafts WHERE draft_id = ?1 AND status = 'editing'", params![id])?;
        tx.commit()?;
        Ok(())
    }

    fn file_label(draft: &str, key: &str) -> String {
        format!("draft_files.{draft}.{key}")
    }

    pub fn save_draft_file(&self, draft: &str, key: &str, data: &[u8]) -> Result<()> {
        let sealed = self.data_key_seal(&Self::file_label(draft, key), data);
        self.conn().execute(
            "INSERT OR REPLACE INTO draft_files (draft_id, key, data) VALUES (?1, ?2, ?3)",
            params![draft, key, sealed],
        )?;
        Ok(())
    }

    pub fn draft_file(&self, draft: &str, key: &str) -> Result<Option<Vec<u8>>> {
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

    pub fn delete_draft_file(&self, draft: &str, key: &str) -> Result<()> {
        self.conn().execute("DELETE FROM draft_files WHERE draft_id = ?1 AND key = ?2", params![draft, key])?;
        Ok(())
    }

    // ---- outbox --------------------------------------------------------------------------

    /// Reserve the next submit counter (committed before signing; gaps are harmless).
    pub fn next_submit_counter(&self) -> Result<u64> {
        let v: i64 = self
            .conn()
            .query_row(
                "UPDATE account SET submit_counter = submit_counter + 1 WHERE id = 1 RETURNING submit_counter",
                [],
                |r| r.get(0),
            )
            .optional()?
            .ok_or(Error::Domain(Msg::NotEnrolled))?;
        Ok(v as u64)
    }

    fn request_label(id: &str) -> String {
        format!("outbox.request.{id}")
    }

    /// Enqueue a signed request and mark its draft submitted — one transaction, so a draft is
    /// never both editable and queued, and a queued request never exists without its draft
    /// being marked.
    pub fn enqueue(&self, req: &SubmissionRequest, seq: u64, draft_id: &str, now: i64) -> Result<()> {
        let id = &req.payload.submission_id;
        let sealed = self.seal_json(&Self::request_label(id), req)?;
        let mut c = self.conn();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let n = tx.execute(
            "UPDATE drafts SET status = 'submitted', updated_at = ?2 WHERE draft_id = ?1 AND status = 'editing'",
            params![draft_id, now],
        )?;
        if n != 1 {
            return Err(Error::Domain(Msg::DraftNotEditable));
        }
        tx.execute(
            "INSERT INTO outbox (submission_id, seq, draft_id, procedure_id, payload_sha256, state, request, attempts,
             next_attempt_at, not_before, queued_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, 'queued', ?6, 0, ?7, 0, ?7, ?7)",
            params![id, seq as i64, draft_id, req.payload.procedure_id, req.payload.digest_hex(), sealed, now],
        )?;
        tx.commit()?;
        Ok(())
    }

    pub fn outbox(&self) -> Result<Vec<OutboxRow>> {
        let c = self.conn();
        let mut st = c.prepare(&format!("SELECT {OUTBOX_COLS} FROM outbox ORDER BY seq"))?;
        let rows = st.query_map([], outbox_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    pub fn outbox_item(&self, id: &str) -> Result<Option<OutboxRow>> {
        Ok(self
            .conn()
            .query_row(&format!("SELECT {OUTBOX_COLS} FROM outbox WHERE submission_id = ?1"), params![id], outbox_row)
            .optional()?)
    }

    /// The next item to deliver: lowest sequence not yet delivered or rejected.
    pub fn outbox_head(&self) -> Result<Option<OutboxRow>> {
        Ok(self
            .conn()
            .query_row(
                &format!("SELECT {OUTBOX_COLS} FROM outbox WHERE state IN ('queued', 'sending') ORDER BY seq LIMIT 1"),
                [],
                outbox_row,
            )
            .optional()?)
    }

    pub fn outbox_request(&self, id: &str) -> Result<SubmissionRequest> {
        let sealed: Vec<u8> =
            self.conn().query_row("SELECT request FROM outbox WHERE submission_id = ?1", params![id], |r| r.get(0))?;
        self.open_json(&Self::request_label(id), &sealed)
    }

    pub fn outbox_mark_sending(&self, id: &str, now: i64) -> Result<()> {
        self.conn().execute(
            "UPDATE outbox SET state = 'sending', attempts = attempts + 1, updated_at = ?2 WHERE submission_id = ?1",
            params![id, now],
        )?;
        Ok(())
    }

    pub fn outbox_retry(&self, id: &str, next: i64, not_before: i64, error: &str, now: i64) -> Result<()> {
        self.conn().execute(
            "UPDATE outbox SET state = 'queued', next_attempt_at = ?2, not_before = ?3, last_error = ?4, updated_at = ?5
             WHERE submission_id = ?1",
            params![id, next, not_before, error, now],
        )?;
        Ok(())
    }

    pub fn outbox_rejected(&self, id: &str, code: &str, now: i64) -> Result<()> {
        self.conn().execute(
            "UPDATE outbox SET state = 'rejected', last_error = ?2, updated_at = ?3 WHERE submission_id = ?1",
            params![id, code, now],
        )?;
        Ok(())
    }

    /// Mark delivered and open the local case — one transaction.
    pub fn outbox_delivered(&self, row: &OutboxRow, case_number: &str, receipt: &str, now: i64) -> Result<()> {
        let mut c = self.conn();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "UPDATE outbox SET state = 'delivered', case_number = ?2, receipt = ?3, last_error = NULL, updated_at = ?4
             WHERE submission_id = ?1",
            params![row.submission_id, case_number, receipt, now],
        )?;
        tx.execute(
            "INSERT INTO cases (case_number, submission_id, procedure_id, status, updated_at)
             VALUES (?1, ?2, ?3, 'received', ?4) ON CONFLICT (case_number) DO NOTHING",
            params![case_number, row.submission_id, row.procedure_id, now],
        )?;
        tx.commit()?;
        Ok(())
    }

    // ---- cases ---------------------------------------------------------------------------

    pub fn case_cursor(&self) -> Result<i64> {
        Ok(self.conn().query_row("SELECT COALESCE(MAX(seq), 0) FROM case_events", [], |r| r.get(0))?)
    }

    /// Apply events from the server (idempotent by sequence number).
    pub fn apply_case_events(&self, events: &[CaseEventDto], now: i64) -> Result<()> {
        let mut c = self.conn();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for e in events {
            let label = format!("case_events.{}", e.seq);
            let sealed = self.seal_json(&label, e)?;
            let status =
                serde_json::to_value(e.status).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
            let inserted = tx.execute(
                "INSERT INTO case_events (seq, case_number, status, event, at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (seq) DO NOTHING",
                params![e.seq, e.case_number, status, sealed, e.at],
            )?;
            if inserted == 0 {
                continue;
            }
            let note =
                self.seal_json(&format!("cases.note.{}", e.case_number), &(e.note_vi.clone(), e.note_en.clone()))?;
            let requested = serde_json::to_string(&e.requested_attachments).unwrap_or_else(|_| "[]".into());
            tx.execute(
                "INSERT INTO cases (case_number, submission_id, procedure_id, status, note, requested_attachments, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (case_number) DO UPDATE SET status = ?4, note = ?5, requested_attachments = ?6, updated_at = ?7",
                params![e.case_number, e.submission_id, e.procedure_id, status, note, requested, now],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn cases(&self) -> Result<Vec<CaseRow>> {
        type Raw = (String, String, String, String, Option<Vec<u8>>, String, i64);
        let rows: Vec<Raw> = {
            let c = self.conn();
            let mut st = c.prepare(
                "SELECT case_number, submission_id, procedure_id, status, note, requested_attachments, updated_at
                 FROM cases ORDER BY updated_at DESC, case_number",
            )?;
            let rows = st
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows
        };
        rows.into_iter()
            .map(|(case_number, submission_id, procedure_id, status, note, requested, updated_at)| {
                let note = note.map(|n| self.open_json(&format!("cases.note.{case_number}"), &n)).transpose()?;
                Ok(CaseRow {
                    case_number,
                    submission_id,
                    procedure_id,
                    status,
                    note,
                    requested_attachments: serde_json::from_str(&requested).unwrap_or_default(),
                    updated_at,
                })
            })
            .collect()
    }

    /// Integrity check (tests and diagnostics).
    pub fn integrity_check(&self) -> Result<String> {
        Ok(self.conn().query_row("PRAGMA integrity_check", [], |r| r.get(0))?)
    }
}

// ---- activity log ---------------------------------------------------------------------------

impl Store {
    /// Append an entry (its sequence must be the next one; enforced by the primary key).
    pub fn append_activity(&self, e: &crate::activity::ActivityEntry) -> Result<()> {
        let sealed = self.seal_json(&format!("activity_log.{}", e.seq), e)?;
        self.conn().execute("INSERT INTO activity_log (seq, entry) VALUES (?1, ?2)", params![e.seq as i64, sealed])?;
        Ok(())
    }

    /// The entries in sequence order; an entry that does not open (tampered at rest) is `None`.
    pub fn activity(&self) -> Result<Vec<(u64, Option<crate::activity::ActivityEntry>)>> {
        let rows: Vec<(i64, Vec<u8>)> = {
            let c = self.conn();
            let mut st = c.prepare("SELECT seq, entry FROM activity_log ORDER BY seq")?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<Vec<_>>>()?;
            rows
        };
        Ok(rows
            .into_iter()
            .map(|(seq, sealed)| (seq as u64, self.open_json(&format!("activity_log.{seq}"), &sealed).ok()))
            .collect())
    }

    /// (seq, hash) of the last entry.
    pub fn activity_head(&self) -> Result<Option<(u64, String)>> {
        let row: Option<(i64, Vec<u8>)> = self
            .conn()
            .query_row("SELECT seq, entry FROM activity_log ORDER BY seq DESC LIMIT 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        row.map(|(seq, sealed)| {
            let e: crate::activity::ActivityEntry = self.open_json(&format!("activity_log.{seq}"), &sealed)?;
            Ok((seq as u64, e.hash))
        })
        .transpose()
    }

    /// Keep an anchor (sealed like the entries) and raise the anchor mark in the same
    /// transaction, so deleting anchor rows later is detected.
    pub fn save_anchor(&self, a: &crate::activity::ActivityAnchor) -> Result<()> {
        let sealed = self.seal_json(&format!("activity_anchors.{}", a.seq), a)?;
        let mut c = self.conn();
        let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT OR REPLACE INTO activity_anchors (seq, anchor, sealed) VALUES (?1, '', ?2)",
            params![a.seq as i64, sealed],
        )?;
        self.update_marks(&tx, |m| {
            if a.seq >= m.anchor_seq {
                (m.anchor_seq, m.anchor_hash) = (a.seq, a.hash.clone());
            }
        })?;
        tx.commit()?;
        Ok(())
    }

    /// Stored anchors in sequence order; `None` where a row does not open (tampered at rest).
    pub fn anchor_rows(&self) -> Result<Vec<(u64, Option<crate::activity::ActivityAnchor>)>> {
        let rows: Vec<(i64, Option<Vec<u8>>)> = {
            let c = self.conn();
            let mut st = c.prepare("SELECT seq, sealed FROM activity_anchors ORDER BY seq")?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<Vec<_>>>()?;
            rows
        };
        Ok(rows
            .into_iter()
            .map(|(seq, sealed)| {
                let a: Option<crate::activity::ActivityAnchor> = sealed
                    .and_then(|s| self.open_json(&format!("activity_anchors.{seq}"), &s).ok())
                    .filter(|a: &crate::activity::ActivityAnchor| a.seq == seq as u64);
                (seq as u64, a)
            })
            .collect())
    }

    /// The anchors that open.
    pub fn anchors(&self) -> Result<Vec<crate::activity::ActivityAnchor>> {
        Ok(self.anchor_rows()?.into_iter().filter_map(|(_, a)| a).collect())
    }

    /// The server's public keys (JWKS entries), kept so receipts and anchors verify offline.
    pub fn save_server_keys(&self, keys: &[serde_json::Value]) -> Result<()> {
        let json = serde_json::to_vec(keys).map_err(|e| Error::Storage(e.to_string()))?;
        self.conn().execute("INSERT OR REPLACE INTO meta (name, value) VALUES ('server_keys', ?1)", params![json])?;
        Ok(())
    }

    pub fn server_keys(&self) -> Result<Vec<serde_json::Value>> {
        let v: Option<Vec<u8>> =
            self.conn().query_row("SELECT value FROM meta WHERE name = 'server_keys'", [], |r| r.get(0)).optional()?;
        Ok(v.and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default())
    }
}
