//! Storage of the activity log: the entries and the server's anchors, each sealed per row like
//! the rest of the store (the sealing label names the table and the sequence number, so a row moved to
//! another sequence does not open). Saving an anchor raises the anchor mark in the same
//! transaction, so anchor rows deleted later are detected.

use rusqlite::{params, OptionalExtension};

use crate::error::Result;
use crate::store::rows::{ActivityHead, ActivityRow, AnchorRow};
use crate::store::Store;

impl Store {
    /// The entries in sequence order; an entry that does not open (tampered at rest) is `None`.
    pub(crate) fn activity(&self) -> Result<Vec<ActivityRow>> {
        let rows: Vec<(u64, Vec<u8>)> = {
            let c = self.conn();
            let mut st = c.prepare("SELECT seq, entry FROM activity_log ORDER BY seq")?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<Vec<_>>>()?;
            rows
        };
        Ok(rows
            .into_iter()
            .map(|(seq, sealed)| ActivityRow {
                seq,
                entry: self.open_json(&format!("activity_log.{seq}"), &sealed).ok(),
            })
            .collect())
    }

    /// The last entry's sequence and hash.
    pub(crate) fn activity_head(&self) -> Result<Option<ActivityHead>> {
        let row: Option<(u64, Vec<u8>)> = self
            .conn()
            .query_row("SELECT seq, entry FROM activity_log ORDER BY seq DESC LIMIT 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        row.map(|(seq, sealed)| {
            let e: crate::activity::ActivityEntry = self.open_json(&format!("activity_log.{seq}"), &sealed)?;
            Ok(ActivityHead { seq, hash: e.hash })
        })
        .transpose()
    }

    /// Keep an anchor (sealed like the entries) and raise the anchor mark in the same
    /// transaction, so deleting anchor rows later is detected.
    pub(crate) fn save_anchor(&self, a: &crate::activity::ActivityAnchor) -> Result<()> {
        let sealed = self.seal_json(&format!("activity_anchors.{}", a.seq), a)?;
        let mut c = self.conn();
        let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT OR REPLACE INTO activity_anchors (seq, anchor, sealed) VALUES (?1, '', ?2)",
            params![a.seq, sealed],
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
    pub(crate) fn anchor_rows(&self) -> Result<Vec<AnchorRow>> {
        let rows: Vec<(u64, Option<Vec<u8>>)> = {
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
                    .filter(|a: &crate::activity::ActivityAnchor| a.seq == seq);
                AnchorRow { seq, anchor: a }
            })
            .collect())
    }

    /// The anchors that open.
    pub(crate) fn anchors(&self) -> Result<Vec<crate::activity::ActivityAnchor>> {
        Ok(self.anchor_rows()?.into_iter().filter_map(|r| r.anchor).collect())
    }
}
