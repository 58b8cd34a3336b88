//! The bookkeeping key's record and the activity entries waiting to be signed (schema v7,
//! ARCHITECTURE.md decision 26).
//!
//! Both are sealed under the data key: the record so that an edit at rest cannot swap the key the
//! log is signed with, the waiting entries because their summaries are personal (procedures,
//! case numbers). A waiting entry is bound to its row id, so rows cannot be reordered either.

#![warn(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_possible_wrap)]

use rusqlite::{params, OptionalExtension, TransactionBehavior};
use serde::{Deserialize, Serialize};

use super::Store;
use crate::activity::{ActivityEntry, ActivityKind};
use crate::error::{Error, Msg, Result};
use crate::protocol::SignedStatement;

const BOOKKEEPING_LABEL: &str = "account.bookkeeping";

/// The device's second key: no user authentication, signs activity entries and anchors only.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct BookkeepingKey {
    /// Alias in the platform key store (`<device alias>.bookkeeping`).
    pub(crate) alias: String,
    /// SEC1 uncompressed public key.
    pub(crate) public_key: Vec<u8>,
    /// The statement signed by the device key that registered it at the server (the enrollment
    /// proof or a login), once the server accepted it; `None` until then. Exported with the log
    /// so a verifier can check the device key vouched for the bookkeeping key.
    pub(crate) endorsement: Option<SignedStatement>,
    /// The key store reported the key gone or invalidated: the next login registers a new one.
    #[serde(default)]
    pub(crate) lost: bool,
    /// Earlier registered bookkeeping keys (replaced after they were lost): the log's older
    /// entries were signed with them, so the export keeps them with their endorsements.
    #[serde(default)]
    pub(crate) retired: Vec<EndorsedKey>,
}

/// A bookkeeping public key with the device-key statement that registered it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct EndorsedKey {
    /// SEC1 uncompressed public key.
    pub(crate) public_key: Vec<u8>,
    /// Enrollment proof or login statement naming it.
    pub(crate) endorsement: SignedStatement,
}

impl BookkeepingKey {
    /// Registered at the server and usable: it may sign.
    pub(crate) fn registered(&self) -> bool {
        self.endorsement.is_some() && !self.lost
    }

    /// Every registered bookkeeping key of this enrollment, oldest first (for exports).
    pub(crate) fn endorsed_keys(&self) -> Vec<EndorsedKey> {
        let mut keys = self.retired.clone();
        if let Some(e) = &self.endorsement {
            keys.push(EndorsedKey { public_key: self.public_key.clone(), endorsement: e.clone() });
        }
        keys
    }
}

/// An activity entry waiting for its signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PendingActivity {
    /// What happened.
    pub(crate) kind: ActivityKind,
    /// Its summary.
    pub(crate) summary: String,
    /// When it happened (Unix seconds); kept as the entry's time.
    pub(crate) at: i64,
}

fn pending_label(id: i64) -> String {
    format!("activity_pending.{id}")
}

impl Store {
    /// The bookkeeping key, if this enrollment has one.
    pub(crate) fn bookkeeping_key(&self) -> Result<Option<BookkeepingKey>> {
        let sealed: Option<Option<Vec<u8>>> =
            self.conn().query_row("SELECT bookkeeping FROM account WHERE id = 1", [], |r| r.get(0)).optional()?;
        match sealed.flatten() {
            None => Ok(None),
            Some(s) => match self.open_json(BOOKKEEPING_LABEL, &s) {
                Ok(k) => Ok(Some(k)),
                Err(e) => {
                    // Edited at rest: treat as absent; the next login registers a new key.
                    tracing::warn!(error = %e, "bookkeeping key record does not open");
                    Ok(None)
                }
            },
        }
    }

    /// Record (or replace) the bookkeeping key of the enrolled account.
    pub(crate) fn set_bookkeeping_key(&self, key: &BookkeepingKey) -> Result<()> {
        let sealed = self.seal_json(BOOKKEEPING_LABEL, key)?;
        let n = self.conn().execute("UPDATE account SET bookkeeping = ?1 WHERE id = 1", params![sealed])?;
        if n != 1 {
            return Err(Error::Domain(Msg::NotEnrolled));
        }
        Ok(())
    }

    /// Queue an activity entry for signing (committed before any signing is attempted).
    pub(crate) fn queue_activity(&self, p: &PendingActivity) -> Result<()> {
        let mut c = self.conn();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        self.queue_activity_in(&tx, p)?;
        tx.commit()?;
        Ok(())
    }

    /// Queue an activity entry inside the caller's transaction (the write it records commits
    /// with it: session, enqueue, delivery).
    pub(crate) fn queue_activity_in(&self, tx: &rusqlite::Transaction<'_>, p: &PendingActivity) -> Result<()> {
        let id: i64 =
            tx.query_row("INSERT INTO activity_pending (sealed) VALUES (X'') RETURNING id", [], |r| r.get(0))?;
        let sealed = self.seal_json(&pending_label(id), p)?;
        tx.execute("UPDATE activity_pending SET sealed = ?2 WHERE id = ?1", params![id, sealed])?;
        Ok(())
    }

    /// The waiting entries in the order they happened; `None` for a row that does not open.
    pub(crate) fn pending_activity(&self) -> Result<Vec<(i64, Option<PendingActivity>)>> {
        let rows: Vec<(i64, Vec<u8>)> = {
            let c = self.conn();
            let mut st = c.prepare("SELECT id, sealed FROM activity_pending ORDER BY id")?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<Vec<_>>>()?;
            rows
        };
        Ok(rows.into_iter().map(|(id, s)| (id, self.open_json(&pending_label(id), &s).ok())).collect())
    }

    /// Drop a waiting row that does not open (edited at rest).
    pub(crate) fn drop_pending_activity(&self, id: i64) -> Result<()> {
        self.conn().execute("DELETE FROM activity_pending WHERE id = ?1", [id])?;
        Ok(())
    }

    /// Append the signed entry made from waiting row `id` and remove the row, atomically: a
    /// kill leaves either the row waiting or the entry in the log, never both or neither.
    pub(crate) fn commit_pending_activity(&self, id: i64, e: &ActivityEntry) -> Result<()> {
        let sealed = self.seal_json(&format!("activity_log.{}", e.seq), e)?;
        let mut c = self.conn();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute("INSERT INTO activity_log (seq, entry) VALUES (?1, ?2)", params![e.seq, sealed])?;
        if tx.execute("DELETE FROM activity_pending WHERE id = ?1", [id])? != 1 {
            return Err(Error::Storage("pending activity entry vanished".into()));
        }
        tx.commit()?;
        Ok(())
    }
}
