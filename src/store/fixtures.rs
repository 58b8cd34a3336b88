//! Databases of old schema versions, populated, for the upgrade tests (feature `test-support`).
//!
//! A fixture is built from the shipped SQL of each version (`schema/v1.sql` …) — never from
//! today's schema with columns dropped — so an upgrade test starts from what a device in the
//! field really holds. Rows are added at the version that introduced their table, with their
//! sensitive fields sealed by the real sealing code ([`SecretKey::seal`] under the data key
//! that [`Store::open`] later unwraps), and with the values in clear that that version stored in
//! clear (v2–v4 outbox and case identifiers, v4 anchors). [`verify`] then opens the directory
//! with the current code and reads every record back.
//!
//! The data key is wrapped by [`FixedKeyWrapper`], so a second process (the interrupted-
//! migration test's worker) opens the same database.

// Test fixtures (feature `test-support`, never shipped): sizes and versions are small constants.
#![allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_possible_wrap, clippy::cast_lossless)]

use std::path::Path;
use std::sync::Arc;

use rusqlite::{params, Connection};

use super::{Store, DB_FILE, MIGRATIONS};
use crate::platform::{DataKeyWrapper, KeyWrapError};

/// A data-key "wrapper" that any process can undo: test fixtures only, never a real device.
#[derive(Debug, Default)]
pub struct FixedKeyWrapper;

const FIXED_PREFIX: &[u8] = b"fixture-wrapped:";

impl DataKeyWrapper for FixedKeyWrapper {
    fn wrap(&self, _alias: String, data_key: Vec<u8>) -> Result<Vec<u8>, KeyWrapError> {
        Ok([FIXED_PREFIX, &data_key].concat())
    }

    fn unwrap(&self, _alias: String, wrapped: Vec<u8>) -> Result<Vec<u8>, KeyWrapError> {
        wrapped
            .strip_prefix(FIXED_PREFIX)
            .map(<[u8]>::to_vec)
            .ok_or(KeyWrapError::UnwrapFailed { reason: "not a fixture key".into() })
    }

    fn delete_key(&self, _alias: String) -> Result<(), KeyWrapError> {
        Ok(())
    }
}

/// The wrapper of every fixture.
pub fn wrapper() -> Arc<dyn DataKeyWrapper> {
    Arc::new(FixedKeyWrapper)
}

/// Fictitious values of the fixture (a register test citizen).
pub const CCCD: &str = "001090000001";
/// Its phone.
pub const PHONE: &str = "+84900000001";
/// The session's refresh token.
pub const REFRESH: &str = "fixture-refresh-token";
/// Procedure, case number and receipt of the delivered submission (v2).
pub const PROCEDURE: &str = "residence-notification";
/// Case number of the fixture's case.
pub const CASE: &str = "HS-2031-000042";
/// Receipt (compact JWS) of the fixture's delivered submission.
pub const RECEIPT: &str = "eyJhbGciOiJFUzI1NiJ9.fixture-receipt.c2ln";

fn seal(key: &crate::crypto::SecretKey, label: &str, v: &serde_json::Value) -> Vec<u8> {
    key.seal(label.as_bytes(), &serde_json::to_vec(v).expect("json"))
}

fn entry(seq: u64) -> serde_json::Value {
    serde_json::json!({"seq": seq, "at": 100 + seq as i64, "kind": "login", "summary": "fixture",
        "prev_hash": format!("{:064}", seq - 1), "counter": seq, "hash": format!("{seq:064}"), "signature": "sig"})
}

fn anchor(seq: u64) -> serde_json::Value {
    serde_json::json!({"seq": seq, "hash": format!("{seq:064}"), "anchored_at": 200, "countersignature": "cs"})
}

fn receipt() -> serde_json::Value {
    serde_json::json!({
        "receipt": {"receipt_id": "r-1", "kind": "qr_login", "rp_id": "dvc-demo", "rp_name": "Cổng",
            "origin": "https://id.example", "purpose": "login", "claims": ["full_name"], "retention_days": 0,
            "request_id": "s", "nonce": "n", "device_id": "dev-1", "issued_at": 5},
        "device_statement": {"statement": {"purpose": "consent", "audience": "https://id.example", "nonce": "n",
            "device_id": "dev-1", "counter": 3, "issued_at": 5, "subject": "receipt:x"}, "signature": "s"},
        "device_public_key": "k", "countersignature": "c"
    })
}

fn migrate_to(conn: &mut Connection, version: usize) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    tx.execute_batch(MIGRATIONS[version - 1])?;
    tx.pragma_update(None, "user_version", version as i64)?;
    tx.commit()
}

/// Write a populated database of schema `version` (1–9) into `dir`.
pub fn write(dir: &Path, version: usize) -> crate::error::Result<()> {
    assert!((1..=super::SCHEMA_INTEGRITY + 3).contains(&version), "fixture version {version}");
    std::fs::create_dir_all(dir).map_err(|e| crate::error::Error::Storage(e.to_string()))?;
    let mut c = Connection::open(dir.join(DB_FILE))?;
    Store::configure(&c)?;
    migrate_to(&mut c, 1)?;
    let key = Store::load_data_key(&c, &wrapper())?;
    let identity = serde_json::json!({"cccd": CCCD, "date_of_birth": "1990-01-15", "phone": PHONE});
    c.execute(
        "INSERT INTO account (id, account_id, device_id, key_alias, public_key, hardware_backed, counter, \
         enrolled_at, inactive_status, identity) VALUES (1, 'acc-1', 'dev-1', 'alias-1', X'04', 0, 7, 1, NULL, ?1)",
        params![seal(&key, "account.identity", &identity)],
    )?;
    c.execute("INSERT INTO passcode (id, salt, verifier, failed, locked_until) VALUES (1, X'01', X'02', 2, NULL)", [])?;
    let tokens = serde_json::json!({"access_token": "fixture-access", "refresh_token": REFRESH});
    c.execute(
        "INSERT INTO session (id, session_id, tokens, access_expires_at, idle_expires_at, absolute_expires_at) \
         VALUES (1, 'sid-1', ?1, 10, 20, 30)",
        params![seal(&key, "session.tokens", &tokens)],
    )?;
    c.execute(
        "INSERT INTO pending (kind, reference, expires_at, payload) VALUES ('passcode_reset', 'reset-1', 40, ?1)",
        params![seal(&key, "pending.passcode_reset", &serde_json::json!({"fixture": true}))],
    )?;
    if version >= 2 {
        migrate_to(&mut c, 2)?;
        let content = serde_json::json!({"values": {"reason": "du_lich"}, "locked": [], "group_items": {},
            "attachments": {}, "supplements_case": null});
        c.execute(
            "INSERT INTO drafts (draft_id, procedure_id, procedure_version, status, content, created_at, updated_at) \
             VALUES ('draft-1', ?1, 1, 'submitted', ?2, 1, 2)",
            params![PROCEDURE, seal(&key, "drafts.content.draft-1", &content)],
        )?;
        c.execute(
            "INSERT INTO outbox (submission_id, seq, draft_id, procedure_id, payload_sha256, state, request, attempts, \
             next_attempt_at, not_before, case_number, receipt, queued_at, updated_at) \
             VALUES ('sub-1', 1, 'draft-1', ?1, 'abc', 'delivered', X'00', 1, 0, 0, ?2, ?3, 10, 20)",
            params![PROCEDURE, CASE, RECEIPT],
        )?;
        let note = seal(&key, &format!("cases.note.{CASE}"), &serde_json::json!(["Ghi chú", null]));
        c.execute(
            "INSERT INTO cases (case_number, submission_id, procedure_id, status, note, requested_attachments, \
             updated_at) VALUES (?1, 'sub-1', ?2, 'needs_supplement', ?3, '[\"photo\"]', 20)",
            params![CASE, PROCEDURE, note],
        )?;
        c.execute(
            "INSERT INTO case_events (seq, case_number, status, event, at) VALUES (1, ?1, 'received', X'00', 20)",
            params![CASE],
        )?;
    }
    if version >= 3 {
        migrate_to(&mut c, 3)?;
        for seq in [1u64, 2] {
            c.execute(
                "INSERT INTO activity_log (seq, entry) VALUES (?1, ?2)",
                params![seq as i64, seal(&key, &format!("activity_log.{seq}"), &entry(seq))],
            )?;
        }
        c.execute("INSERT INTO activity_anchors (seq, anchor) VALUES (1, ?1)", params![anchor(1).to_string()])?;
    }
    if version >= 4 {
        migrate_to(&mut c, 4)?;
        c.execute("INSERT INTO rp_registry (id, jws, version, fetched_at) VALUES (1, 'registry-jws', 3, 50)", [])?;
        c.execute(
            "INSERT INTO consent_receipts (receipt_id, kind, receipt, issued_at) VALUES ('r-1', 'qr_login', ?1, 5)",
            params![seal(&key, "consent_receipts.r-1", &receipt())],
        )?;
        c.execute(
            "INSERT INTO credentials (kind, sd_jwt, expires_at) VALUES ('pid', ?1, 99)",
            params![seal(&key, "credentials.pid", &serde_json::json!("fixture-sd-jwt"))],
        )?;
    }
    if version >= 5 {
        migrate_to(&mut c, 5)?;
    }
    if version >= 6 {
        // v6 is the keyed migration as it shipped (v7 did not change it).
        super::migrations::migrate_keyed(&mut c, &key)?;
        // An entry written at v6 (after the keyed step sealed the anchors).
        c.execute(
            "INSERT INTO activity_log (seq, entry) VALUES (3, ?1)",
            params![seal(&key, "activity_log.3", &entry(3))],
        )?;
    }
    if version >= 7 {
        // v7 as it shipped: the bookkeeping key column and the waiting entries (none here).
        let tx = c.transaction()?;
        tx.execute_batch(super::migrations::LATE_MIGRATIONS[0])?;
        tx.pragma_update(None, "user_version", 7)?;
        tx.commit()?;
    }
    if version >= 8 {
        // v8 as it shipped: the documents wallet (empty here); v9 then adds the outbox hold.
        let tx = c.transaction()?;
        tx.execute_batch(super::migrations::LATE_MIGRATIONS[1])?;
        tx.pragma_update(None, "user_version", 8)?;
        tx.commit()?;
    }
    if version >= 9 {
        // v9 as it shipped: the outbox hold (none here); v10 then adds a dependant's documents.
        let tx = c.transaction()?;
        tx.execute_batch(super::migrations::LATE_MIGRATIONS[2])?;
        tx.pragma_update(None, "user_version", 9)?;
        tx.commit()?;
    }
    Ok(())
}

/// The fixture's version as written to disk: `(user_version, integrity_check)`, read without
/// migrating.
pub fn raw_state(dir: &Path) -> crate::error::Result<(usize, String)> {
    let c = Connection::open(dir.join(DB_FILE))?;
    let v: i64 = c.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let ok: String = c.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    Ok((v as usize, ok))
}

/// Open a fixture written at `version` with the current code (migrating it) and read every
/// record back; returns the schema version after the open. An `Err` names what is missing.
pub fn verify(dir: &Path, version: usize) -> Result<usize, String> {
    use crate::protocol::services::CaseStatusDto;
    use crate::store::rows::{CredentialKind, OutboxState, PendingKind};

    let s = Store::open(dir, &wrapper()).map_err(|e| format!("open: {e:?}"))?;
    fn e(what: &'static str) -> impl Fn(crate::error::Error) -> String {
        move |err| format!("{what}: {err:?}")
    }
    let check = |ok: bool, what: &str| if ok { Ok(()) } else { Err(format!("{what} wrong")) };
    let acc = s.account().map_err(e("account"))?.ok_or("no account")?;
    check((acc.account_id.as_str(), acc.device_id.as_str(), acc.counter) == ("acc-1", "dev-1", 7), "account")?;
    let id = s.identity().map_err(e("identity"))?.ok_or("no identity")?;
    check(id.cccd == CCCD && id.phone == PHONE, "identity")?;
    let p = s.passcode().map_err(e("passcode"))?.ok_or("no passcode")?;
    check((p.salt, p.verifier, p.failed) == (vec![1], vec![2], 2), "passcode")?;
    let session = s.session().map_err(e("session"))?.ok_or("no session")?;
    check(session.tokens.refresh_token == REFRESH && session.absolute_expires_at == 30, "session")?;
    let pending =
        s.pending::<serde_json::Value>(PendingKind::PasscodeReset).map_err(e("pending"))?.ok_or("no pending")?;
    check(pending.reference == "reset-1" && pending.payload["fixture"] == true, "pending")?;
    let marks = s.integrity_marks().map_err(e("marks"))?.ok_or("no marks")?;
    check(!marks.damaged, "integrity marks")?;
    if version >= 2 {
        let d = s.draft("draft-1").map_err(e("draft"))?.ok_or("no draft")?;
        check(d.content.values.get("reason").map(String::as_str) == Some("du_lich"), "draft")?;
        let o = s.outbox().map_err(e("outbox"))?;
        check(o.len() == 1 && o[0].state == OutboxState::Delivered, "outbox state")?;
        check(o[0].procedure_id == PROCEDURE && o[0].case_number.as_deref() == Some(CASE), "outbox meta")?;
        check(o[0].receipt.as_deref() == Some(RECEIPT), "outbox receipt")?;
        let cases = s.cases().map_err(e("cases"))?;
        check(cases.len() == 1 && cases[0].case_number == CASE && cases[0].submission_id == "sub-1", "case")?;
        check(
            cases[0].status == CaseStatusDto::NeedsSupplement && cases[0].requested_attachments == ["photo"],
            "case",
        )?;
        check(cases[0].note == Some((Some("Ghi chú".into()), None)), "case note")?;
        check(s.case_cursor().map_err(e("case cursor"))? == 1, "case cursor")?;
    }
    if version >= 3 {
        let n = if version >= 6 { 3 } else { 2 };
        let a = s.activity().map_err(e("activity"))?;
        check(a.len() == n && a.iter().all(|r| r.entry.is_some()), "activity")?;
        check(s.activity_head().map_err(e("head"))?.map(|h| h.seq) == Some(n as u64), "activity head")?;
        let anchors = s.anchors().map_err(e("anchors"))?;
        check(anchors.len() == 1 && anchors[0].seq == 1, "anchors")?;
        check(marks.anchor_seq == 1, "anchor mark")?;
    }
    if version >= 4 {
        check(s.registry().map_err(e("registry"))?.is_some_and(|r| r.version == 3), "registry")?;
        let r = s.receipt_rows().map_err(e("receipts"))?;
        check(r.len() == 1 && r[0].receipt.is_some() && r[0].kind.is_some() && r[0].chain_seq.is_none(), "receipt")?;
        let cred = s.credential::<String>(CredentialKind::Pid).map_err(e("credential"))?.ok_or("no credential")?;
        check(cred.credential == "fixture-sd-jwt" && cred.expires_at == 99, "credential")?;
    }
    // v7: an account enrolled before it has no bookkeeping key and nothing waiting yet.
    check(s.bookkeeping_key().map_err(e("bookkeeping key"))?.is_none(), "bookkeeping key")?;
    check(s.pending_activity().map_err(e("pending activity"))?.is_empty(), "pending activity")?;
    // v8: the documents wallet starts empty, with no trust list.
    check(s.document_rows().map_err(e("documents"))?.is_empty(), "documents")?;
    check(s.trust_list().map_err(e("trust list"))?.is_none(), "trust list")?;
    // v9 (issue 15): an upgraded account's outbox is not held; the queued item is kept.
    check(s.outbox_hold().map_err(e("outbox hold"))?.is_none(), "outbox hold")?;
    let (v, ok) = {
        let c = s.conn();
        let v: i64 = c.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(|e| e.to_string())?;
        let ok: String = c.query_row("PRAGMA integrity_check", [], |r| r.get(0)).map_err(|e| e.to_string())?;
        (v as usize, ok)
    };
    check(ok == "ok", "integrity_check")?;
    Ok(v)
}
