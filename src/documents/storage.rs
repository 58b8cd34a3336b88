//! Storage of the documents wallet (schema v8): each held document sealed under its own label
//! (`documents.<id>`, so rows cannot be swapped), and the trust list they were checked against.

use rusqlite::{params, OptionalExtension, TransactionBehavior};

use super::StoredDocument;
use crate::error::Result;
use crate::store::Store;

/// A stored document, opened.
#[derive(Clone, Debug)]
pub(crate) struct DocumentRow {
    /// The document.
    pub(crate) document: StoredDocument,
    /// When it was stored (Unix seconds).
    pub(crate) stored_at: i64,
}

fn label(id: &str) -> String {
    format!("documents.{id}")
}

impl Store {
    /// Replace every held document and the trust list, in one transaction (all or nothing).
    pub(crate) fn replace_documents(&self, docs: &[StoredDocument], trust_list: &str, now: i64) -> Result<()> {
        let sealed: Vec<(String, &str, Vec<u8>)> = docs
            .iter()
            .map(|d| Ok((d.id.clone(), d.kind.as_str(), self.seal_json(&label(&d.id), d)?)))
            .collect::<Result<_>>()?;
        let mut c = self.conn();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute("DELETE FROM documents", [])?;
        for (id, kind, blob) in sealed {
            tx.execute(
                "INSERT INTO documents (id, kind, sealed, stored_at) VALUES (?1, ?2, ?3, ?4)",
                params![id, kind, blob, now],
            )?;
        }
        tx.execute(
            "INSERT OR REPLACE INTO trust_list (id, jwt, fetched_at) VALUES (1, ?1, ?2)",
            params![trust_list, now],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Every held document.
    pub(crate) fn document_rows(&self) -> Result<Vec<DocumentRow>> {
        let rows: Vec<(String, Vec<u8>, i64)> = {
            let c = self.conn();
            let mut st = c.prepare("SELECT id, sealed, stored_at FROM documents ORDER BY id")?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<rusqlite::Result<_>>()?;
            rows
        };
        rows.into_iter()
            .map(|(id, sealed, stored_at)| {
                Ok(DocumentRow { document: self.open_json(&label(&id), &sealed)?, stored_at })
            })
            .collect()
    }

    /// Delete one document; whether it existed.
    pub(crate) fn delete_document(&self, id: &str) -> Result<bool> {
        Ok(self.conn().execute("DELETE FROM documents WHERE id = ?1", [id])? == 1)
    }

    /// The stored trust list JWT and when it was fetched.
    pub(crate) fn trust_list(&self) -> Result<Option<(String, i64)>> {
        Ok(self
            .conn()
            .query_row("SELECT jwt, fetched_at FROM trust_list WHERE id = 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    }
}

fn dependant_label(id: &str) -> String {
    format!("dependant_documents.{id}")
}

impl Store {
    /// Store a dependant's document, replacing any held one of the same dependant and kind, in
    /// one transaction (the dependant's number is only inside the sealed rows).
    pub(crate) fn put_dependant_document(&self, doc: &super::dependant::StoredDependantDocument) -> Result<()> {
        let same: Vec<String> = self
            .dependant_documents()?
            .into_iter()
            .filter(|d| d.dependant_cccd == doc.dependant_cccd && d.kind == doc.kind)
            .map(|d| d.id)
            .collect();
        let blob = self.seal_json(&dependant_label(&doc.id), doc)?;
        let mut c = self.conn();
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for id in same {
            tx.execute("DELETE FROM dependant_documents WHERE id = ?1", [id])?;
        }
        tx.execute(
            "INSERT OR REPLACE INTO dependant_documents (id, kind, sealed, stored_at) VALUES (?1, ?2, ?3, ?4)",
            params![doc.id, doc.kind.as_str(), blob, doc.stored_at],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Every held dependant's document.
    pub(crate) fn dependant_documents(&self) -> Result<Vec<super::dependant::StoredDependantDocument>> {
        let rows: Vec<(String, Vec<u8>)> = {
            let c = self.conn();
            let mut st = c.prepare("SELECT id, sealed FROM dependant_documents ORDER BY id")?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<_>>()?;
            rows
        };
        rows.into_iter().map(|(id, sealed)| self.open_json(&dependant_label(&id), &sealed)).collect()
    }

    /// Delete one dependant's document; whether it existed.
    pub(crate) fn delete_dependant_document(&self, id: &str) -> Result<bool> {
        Ok(self.conn().execute("DELETE FROM dependant_documents WHERE id = ?1", [id])? == 1)
    }
}
