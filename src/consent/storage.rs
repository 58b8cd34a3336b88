//! Storage of consent: the cached registry, receipts (sealed), the PID credential (sealed) and
//! scanned login requests waiting for the citizen's decision (sealed, so approval survives an
//! app restart).

use rusqlite::{params, OptionalExtension};
use serde::{de::DeserializeOwned, Serialize};

use crate::error::Result;
use crate::protocol::rp::SignedReceipt;
use crate::store::Store;

impl Store {
    // ---- registry ------------------------------------------------------------------------

    /// Replace the cached registry document (a server-signed JWS, public data).
    pub fn save_registry(&self, jws: &str, version: u64, fetched_at: i64) -> Result<()> {
        self.conn().execute(
            "INSERT OR REPLACE INTO rp_registry (id, jws, version, fetched_at) VALUES (1, ?1, ?2, ?3)",
            params![jws, version as i64, fetched_at],
        )?;
        Ok(())
    }

    /// The cached registry: (JWS, version, fetched_at).
    pub fn registry(&self) -> Result<Option<(String, u64, i64)>> {
        Ok(self
            .conn()
            .query_row("SELECT jws, version, fetched_at FROM rp_registry WHERE id = 1", [], |r| {
                Ok((r.get(0)?, r.get::<_, i64>(1)? as u64, r.get(2)?))
            })
            .optional()?)
    }

    // ---- receipts ------------------------------------------------------------------------

    /// Append a receipt (sealed; the receipt id is bound as associated data).
    pub fn save_receipt(&self, r: &SignedReceipt) -> Result<()> {
        let sealed = self.seal_json(&format!("consent_receipts.{}", r.receipt.receipt_id), r)?;
        self.conn().execute(
            "INSERT INTO consent_receipts (receipt_id, kind, receipt, issued_at) VALUES (?1, ?2, ?3, ?4)",
            params![r.receipt.receipt_id, r.receipt.kind.as_str(), sealed, r.receipt.issued_at],
        )?;
        Ok(())
    }

    /// Every receipt, oldest first.
    pub fn receipts(&self) -> Result<Vec<SignedReceipt>> {
        let rows: Vec<(String, Vec<u8>)> = {
            let c = self.conn();
            let mut st = c.prepare("SELECT receipt_id, receipt FROM consent_receipts ORDER BY seq")?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<Vec<_>>>()?;
            rows
        };
        rows.into_iter().map(|(id, sealed)| self.open_json(&format!("consent_receipts.{id}"), &sealed)).collect()
    }

    // ---- credentials ---------------------------------------------------------------------

    /// Store (replace) a credential of `kind` (e.g. `pid`), sealed.
    pub fn save_credential<T: Serialize>(&self, kind: &str, credential: &T, expires_at: i64) -> Result<()> {
        let sealed = self.seal_json(&format!("credentials.{kind}"), credential)?;
        self.conn().execute(
            "INSERT OR REPLACE INTO credentials (kind, sd_jwt, expires_at) VALUES (?1, ?2, ?3)",
            params![kind, sealed, expires_at],
        )?;
        Ok(())
    }

    /// The credential of `kind` with its expiry.
    pub fn credential<T: DeserializeOwned>(&self, kind: &str) -> Result<Option<(T, i64)>> {
        let row: Option<(Vec<u8>, i64)> = self
            .conn()
            .query_row("SELECT sd_jwt, expires_at FROM credentials WHERE kind = ?1", params![kind], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        row.map(|(sealed, exp)| Ok((self.open_json(&format!("credentials.{kind}"), &sealed)?, exp))).transpose()
    }

    /// Forget the credential of `kind`.
    pub fn delete_credential(&self, kind: &str) -> Result<()> {
        self.conn().execute("DELETE FROM credentials WHERE kind = ?1", params![kind])?;
        Ok(())
    }

    // ---- scanned login requests ----------------------------------------------------------

    /// Keep a scanned login request until the citizen decides (expired ones are dropped here).
    pub fn save_qr_pending<T: Serialize>(
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
    pub fn qr_pending<T: DeserializeOwned>(&self, session_id: &str) -> Result<Option<T>> {
        let sealed: Option<Vec<u8>> = self
            .conn()
            .query_row("SELECT request FROM qr_pending WHERE session_id = ?1", params![session_id], |r| r.get(0))
            .optional()?;
        sealed.map(|s| self.open_json(&format!("qr_pending.{session_id}"), &s)).transpose()
    }

    /// Drop a scanned login request (decided, refused or expired).
    pub fn delete_qr_pending(&self, session_id: &str) -> Result<()> {
        self.conn().execute("DELETE FROM qr_pending WHERE session_id = ?1", params![session_id])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::platform::software::MemoryKeyWrapper;
    use crate::platform::DataKeyWrapper;
    use crate::protocol::rp::{ConsentReceipt, ReceiptKind, SignedReceipt};
    use crate::protocol::{Purpose, SignedStatement, Statement};
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
        }
    }

    #[test]
    fn receipts_and_pending_logins_are_sealed_ordered_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let w: Arc<dyn DataKeyWrapper> = Arc::new(MemoryKeyWrapper::new());
        {
            let s = Store::open(dir.path(), &w).unwrap();
            s.save_receipt(&receipt("r1")).unwrap();
            s.save_receipt(&receipt("r2")).unwrap();
            assert!(s.save_receipt(&receipt("r1")).is_err(), "receipt ids are unique");
            s.save_qr_pending("sess", &"PENDING-CANARY".to_string(), 100, 50).unwrap();
            s.save_qr_pending("old", &"x".to_string(), 10, 50).unwrap();
            s.save_credential("pid", &"SDJWT-CANARY".to_string(), 99).unwrap();
            s.save_registry("jws", 3, 7).unwrap();
        }
        let s = Store::open(dir.path(), &w).unwrap();
        let ids: Vec<String> = s.receipts().unwrap().into_iter().map(|r| r.receipt.receipt_id).collect();
        assert_eq!(ids, ["r1", "r2"]);
        assert_eq!(s.qr_pending::<String>("sess").unwrap().as_deref(), Some("PENDING-CANARY"));
        assert_eq!(s.credential::<String>("pid").unwrap(), Some(("SDJWT-CANARY".to_string(), 99)));
        assert_eq!(s.registry().unwrap(), Some(("jws".to_string(), 3, 7)));
        // Saving another pending request drops the expired ones.
        s.save_qr_pending("new", &"y".to_string(), 200, 60).unwrap();
        assert!(s.qr_pending::<String>("old").unwrap().is_none());
        s.delete_qr_pending("sess").unwrap();
        assert!(s.qr_pending::<String>("sess").unwrap().is_none());
        s.wipe_account().unwrap();
        assert!(s.receipts().unwrap().is_empty() && s.credential::<String>("pid").unwrap().is_none());
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
