//! Storage of consent: the cached registry, receipts (sealed), the PID credential (sealed) and
//! scanned login requests waiting for the citizen's decision (sealed, so approval survives an
//! app restart).

use rusqlite::{params, OptionalExtension, TransactionBehavior};
use serde::{de::DeserializeOwned, Serialize};

use crate::error::{Error, Msg, Result};
use crate::protocol::rp::{ReceiptKind, SignedReceipt, RECEIPT_CHAIN_GENESIS};
use crate::protocol::SignedStatement;
use crate::store::rows::{CredentialKind, CredentialRow, RegistryRow, WireText};
use crate::store::Store;

/// A stored receipt row.
#[derive(Clone, Debug)]
pub(crate) struct ReceiptRow {
    /// Receipt id (clear column).
    pub(crate) receipt_id: String,
    /// Kind (clear column: `qr_login`, `data_share`). `None` for a value this build does not
    /// know: unlike the other state columns this one is read leniently, because the receipt list
    /// shows a damaged row as a marker (with its id and date) rather than failing as a whole.
    pub(crate) kind: Option<ReceiptKind>,
    /// Unix seconds (clear column).
    pub(crate) issued_at: i64,
    /// Position in the chain (`None`: an unchained receipt from before chaining).
    pub(crate) chain_seq: Option<u64>,
    /// The receipt; `None` when the sealed row does not open.
    pub(crate) receipt: Option<SignedReceipt>,
}

impl Store {
    // ---- registry ------------------------------------------------------------------------

    /// Replace the cached registry document (a server-signed JWS, public data).
    pub(crate) fn save_registry(&self, jws: &str, version: u64, fetched_at: i64) -> Result<()> {
        self.conn().execute(
            "INSERT OR REPLACE INTO rp_registry (id, jws, version, fetched_at) VALUES (1, ?1, ?2, ?3)",
            params![jws, version, fetched_at],
        )?;
        Ok(())
    }

    /// The cached registry.
    pub(crate) fn registry(&self) -> Result<Option<RegistryRow>> {
        Ok(self
            .conn()
            .query_row("SELECT jws, version, fetched_at FROM rp_registry WHERE id = 1", [], |r| {
                Ok(RegistryRow { jws: r.get(0)?, version: r.get(1)?, fetched_at: r.get(2)? })
            })
            .optional()?)
    }

    // ---- receipts ------------------------------------------------------------------------

    /// Append a receipt (sealed; the receipt id is bound as associated data). A chained receipt
    /// must be the next of the chain; its sequence, digest and the device's signed `head` of the
    /// chain go into the integrity marks in the same transaction, so deleting the row later is
    /// detected (the marks still name it).
    pub(crate) fn save_receipt(&self, r: &SignedReceipt, head: Option<&SignedStatement>) -> Result<()> {
        let sealed = self.seal_json(&format!("consent_receipts.{}", r.receipt.receipt_id), r)?;
        let chain_seq = r.receipt.chain_seq;
        let mut c = self.conn();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO consent_receipts (receipt_id, kind, receipt, issued_at, chain_seq) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                r.receipt.receipt_id,
                WireText(r.receipt.kind),
                sealed,
                r.receipt.issued_at,
                (chain_seq > 0).then_some(chain_seq)
            ],
        )?;
        if chain_seq > 0 {
            let mut next = true;
            self.update_marks(&tx, |m| {
                next = m.receipt_seq + 1 == chain_seq;
                m.receipt_seq = chain_seq;
                m.receipt_digest = r.receipt.digest();
                m.receipt_head = head.cloned();
            })?;
            if !next {
                return Err(Error::Storage("receipt out of chain order".into()));
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The next link of the receipt chain: (sequence, previous digest).
    pub(crate) fn next_receipt_link(&self) -> Result<(u64, String)> {
        let m = self.integrity_marks()?.ok_or(Error::Domain(Msg::NotEnrolled))?;
        Ok(if m.receipt_seq == 0 {
            (1, RECEIPT_CHAIN_GENESIS.to_string())
        } else {
            (m.receipt_seq + 1, m.receipt_digest)
        })
    }

    /// Replace a stored receipt's content (same id; used to add the delivery outcome).
    pub(crate) fn update_receipt(&self, r: &SignedReceipt) -> Result<()> {
        let sealed = self.seal_json(&format!("consent_receipts.{}", r.receipt.receipt_id), r)?;
        let n = self.conn().execute(
            "UPDATE consent_receipts SET receipt = ?2 WHERE receipt_id = ?1",
            params![r.receipt.receipt_id, sealed],
        )?;
        if n != 1 {
            return Err(Error::Storage("receipt to update not found".into()));
        }
        Ok(())
    }

    /// Every receipt row, oldest first; a row that does not open (damaged or tampered at rest)
    /// is kept with `receipt: None` so the others stay readable.
    pub(crate) fn receipt_rows(&self) -> Result<Vec<ReceiptRow>> {
        type Raw = (String, Option<WireText<ReceiptKind>>, i64, Option<u64>, Vec<u8>);
        let rows: Vec<Raw> = {
            let c = self.conn();
            let mut st =
                c.prepare("SELECT receipt_id, kind, issued_at, chain_seq, receipt FROM consent_receipts ORDER BY seq")?;
            let rows = st
                .query_map([], |r| Ok((r.get(0)?, r.get(1).ok(), r.get(2)?, r.get(3)?, r.get(4)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows
        };
        Ok(rows
            .into_iter()
            .map(|(receipt_id, kind, issued_at, chain_seq, sealed)| {
                let receipt: Option<SignedReceipt> = self
                    .open_json(&format!("consent_receipts.{receipt_id}"), &sealed)
                    .ok()
                    .filter(|r: &SignedReceipt| {
                        r.receipt.receipt_id == receipt_id && chain_seq.unwrap_or(0) == r.receipt.chain_seq
                    });
                let kind = kind.map(|k| k.0);
                ReceiptRow { receipt_id, kind, issued_at, chain_seq, receipt }
            })
            .collect())
    }

    /// Every receipt that opens, oldest first.
    pub(crate) fn receipts(&self) -> Result<Vec<SignedReceipt>> {
        Ok(self.receipt_rows()?.into_iter().filter_map(|r| r.receipt).collect())
    }

    // ---- credentials ---------------------------------------------------------------------

    /// Store (replace) a credential of `kind`, sealed.
    pub(crate) fn save_credential<T: Serialize>(
        &self,
        kind: CredentialKind,
        credential: &T,
        expires_at: i64,
    ) -> Result<()> {
        let sealed = self.seal_json(&format!("credentials.{}", kind.as_str()), credential)?;
        self.conn().execute(
            "INSERT OR REPLACE INTO credentials (kind, sd_jwt, expires_at) VALUES (?1, ?2, ?3)",
            params![kind, sealed, expires_at],
        )?;
        Ok(())
    }

    /// The credential of `kind` with its expiry.
    pub(crate) fn credential<T: DeserializeOwned>(&self, kind: CredentialKind) -> Result<Option<CredentialRow<T>>> {
        let row: Option<(Vec<u8>, i64)> = self
            .conn()
            .query_row("SELECT sd_jwt, expires_at FROM credentials WHERE kind = ?1", params![kind], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        row.map(|(sealed, expires_at)| {
            Ok(CredentialRow {
                credential: self.open_json(&format!("credentials.{}", kind.as_str()), &sealed)?,
                expires_at,
            })
        })
        .transpose()
    }

    // ---- scanned login requests ----------------------------------------------------------

    /// Keep a scanned login request until the citizen decides (expired ones are dropped here).
    pub(crate) fn save_qr_pending<T: Serialize>(
        &self,
        session_id: &str,
        pending: &T,
        expires_at: i64,
        now: i64,
    ) -> Result<()> {
        let sealed = self.seal_json(&format!("qr_pending.{session_id}"), pending)?;
        let c = self.conn();
        c.execute("DELETE FROM qr_pending WHERE expires_at < ?1", params![now])?;
        c.execute(
            "INSERT OR REPLACE INTO qr_pending (session_id, request, expires_at) VALUES (?1, ?2, ?3)",
            params![session_id, sealed, expires_at],
        )?;
        Ok(())
    }

    /// A scanned login request by session id.
    pub(crate) fn qr_pending<T: DeserializeOwned>(&self, session_id: &str) -> Result<Option<T>> {
        let sealed: Option<Vec<u8>> = self
            .conn()
            .query_row("SELECT request FROM qr_pending WHERE session_id = ?1", params![session_id], |r| r.get(0))
            .optional()?;
        sealed.map(|s| self.open_json(&format!("qr_pending.{session_id}"), &s)).transpose()
    }

    /// Drop a scanned login request (decided, refused or expired).
    pub(crate) fn delete_qr_pending(&self, session_id: &str) -> Result<()> {
        self.conn().execute("DELETE FROM qr_pending WHERE session_id = ?1", params![session_id])?;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_possible_wrap)]
mod tests {
    use std::sync::Arc;

    use crate::platform::software::MemoryKeyWrapper;
    use crate::platform::DataKeyWrapper;
    use crate::protocol::rp::{ConsentReceipt, ReceiptKind, SignedReceipt};
    use crate::protocol::{Purpose, SignedStatement, Statement};
    use crate::store::rows::{CredentialKind, CredentialRow, RegistryRow};
    use crate::store::Store;

    fn receipt(id: &str) -> SignedReceipt {
        let receipt = ConsentReceipt {
            receipt_id: id.into(),
            kind: ReceiptKind::QrLogin,
            rp_id: "dvc-demo".into(),
            rp_name: "Cổng".into(),
            origin: "https://id.example".into(),
            purpose: "login".into(),
            claims: vec!["full_name".into()],
            retention_days: 0,
            request_id: "RP-REQUEST-CANARY".into(),
            nonce: "n".into(),
            device_id: "d".into(),
            issued_at: 1,
            chain_seq: 0,
            prev_digest: String::new(),
        };
        let statement = Statement {
            purpose: Purpose::Consent,
            audience: "https://id.example".into(),
            nonce: "n".into(),
            device_id: "d".into(),
            counter: 2,
            issued_at: 1,
            subject: receipt.statement_subject(),
        };
        SignedReceipt {
            receipt,
            device_statement: SignedStatement { statement, signature: "s".into() },
            device_public_key: "k".into(),
            countersignature: "c".into(),
            delivery: None,
        }
    }

    #[test]
    fn receipts_and_pending_logins_are_sealed_ordered_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let w: Arc<dyn DataKeyWrapper> = Arc::new(MemoryKeyWrapper::new());
        {
            let s = Store::open(dir.path(), &w).unwrap();
            s.save_receipt(&receipt("r1"), None).unwrap();
            s.save_receipt(&receipt("r2"), None).unwrap();
            assert!(s.save_receipt(&receipt("r1"), None).is_err(), "receipt ids are unique");
            s.save_qr_pending("sess", &"PENDING-CANARY".to_string(), 100, 50).unwrap();
            s.save_qr_pending("old", &"x".to_string(), 10, 50).unwrap();
            s.save_credential(CredentialKind::Pid, &"SDJWT-CANARY".to_string(), 99).unwrap();
            s.save_registry("jws", 3, 7).unwrap();
        }
        let s = Store::open(dir.path(), &w).unwrap();
        let ids: Vec<String> = s.receipts().unwrap().into_iter().map(|r| r.receipt.receipt_id).collect();
        assert_eq!(ids, ["r1", "r2"]);
        assert_eq!(s.qr_pending::<String>("sess").unwrap().as_deref(), Some("PENDING-CANARY"));
        assert_eq!(
            s.credential::<String>(CredentialKind::Pid).unwrap(),
            Some(CredentialRow { credential: "SDJWT-CANARY".to_string(), expires_at: 99 })
        );
        assert_eq!(s.registry().unwrap(), Some(RegistryRow { jws: "jws".to_string(), version: 3, fetched_at: 7 }));
        // Saving another pending request drops the expired ones.
        s.save_qr_pending("new", &"y".to_string(), 200, 60).unwrap();
        assert!(s.qr_pending::<String>("old").unwrap().is_none());
        s.delete_qr_pending("sess").unwrap();
        assert!(s.qr_pending::<String>("sess").unwrap().is_none());
        s.wipe_account().unwrap();
        assert!(s.receipts().unwrap().is_empty() && s.credential::<String>(CredentialKind::Pid).unwrap().is_none());
        assert!(s.registry().unwrap().is_some(), "the public registry stays");
        drop(s);
        let mut all = vec![];
        for e in std::fs::read_dir(dir.path()).unwrap() {
            all.extend(std::fs::read(e.unwrap().path()).unwrap());
        }
        for canary in ["RP-REQUEST-CANARY", "PENDING-CANARY", "SDJWT-CANARY"] {
            assert!(!all.windows(canary.len()).any(|w| w == canary.as_bytes()), "{canary} in clear");
        }
    }
}
