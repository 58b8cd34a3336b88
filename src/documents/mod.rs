//! The documents wallet on the device (issue 13 item 1, ARCHITECTURE.md decision 32).
//!
//! `refresh` asks the server for the citizen's four documents with a statement signed by the
//! device key (purpose `credential`, nonce from a challenge, subject
//! `documents:<sha256 hex of the device public key>`), then checks *everything* before storing
//! anything:
//!
//! 1. the trust list that comes with them: signed by the server's token key (the key set
//!    fetched over the pinned connection), `typ` `trustlist+jwt`, `iss` = the audience, not past
//!    its `next_update`;
//! 2. each mdoc with `citizen_mdoc::check_issued`: issuer chain to an IACA of that list, mdlDS
//!    usage, MSO signature, docType, every element's digest, validity, and the MSO's device key
//!    = this device's key (`mdoc.*` codes);
//! 3. each SD-JWT VC: `typ` `dc+sd-jwt`, its `x5c` chaining to the same IACA, the signature,
//!    `vct` and `iss`, not expired, `cnf.jwk` = this device's key
//!    (`documents.sd_jwt_invalid`), and the same element names and status entry as the mdoc
//!    (`documents.mismatch`).
//!
//! Only then are the four stored, sealed, in one transaction that replaces the previous set: a
//! refused document leaves the wallet as it was. The private key never leaves the key store; the
//! documents only name its public half.

pub(crate) mod dependant;
pub(crate) mod present;
mod storage;

use std::collections::BTreeMap;

use base64::Engine as _;
use citizen_mdoc::{CborValue, IssuedDocument, TrustAnchor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::account::Account;
use crate::error::{Error, Msg, Result};
use crate::protocol::documents::{
    DocumentKind, DocumentsRequest, DocumentsResponse, IssuedDocumentWire, TrustListClaims, DOCUMENTS_SUBJECT_PREFIX,
    PATH_DOCUMENTS,
};
use crate::protocol::{sha256_hex, Purpose};
use crate::sdjwt;

pub(crate) use storage::DocumentRow;

/// A held document as stored (sealed): both forms as received and where its status lives.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct StoredDocument {
    /// The server's id of the issuance.
    pub id: String,
    /// Which document.
    pub kind: DocumentKind,
    /// base64url of the `IssuerSigned` CBOR.
    pub mdoc: String,
    /// The SD-JWT VC.
    pub sd_jwt: String,
    /// Index in the status list.
    pub status_idx: u64,
    /// The status list's URL.
    pub status_uri: String,
}

impl StoredDocument {
    /// The mdoc's content (read without re-checking: it was checked when received).
    pub(crate) fn read(&self) -> Result<IssuedDocument> {
        let bytes = crate::crypto::unb64(&self.mdoc).ok_or_else(|| Error::Storage("stored mdoc".into()))?;
        citizen_mdoc::read_issued(&bytes).map_err(|e| Error::Storage(format!("stored mdoc: {e}")))
    }
}

fn refuse(m: Msg, why: &str) -> Error {
    tracing::warn!(code = m.code(), why, "issued document refused");
    Error::Domain(m)
}

/// The trust anchors of a trust list whose signature the caller verified.
pub(crate) fn anchors_of(claims: &TrustListClaims) -> Result<Vec<TrustAnchor>> {
    let std = base64::engine::general_purpose::STANDARD;
    claims
        .iaca
        .iter()
        .map(|c| {
            let der = std.decode(c).map_err(|_| refuse(Msg::DocumentTrustListInvalid, "IACA encoding"))?;
            TrustAnchor::from_der(&der).map_err(|_| refuse(Msg::DocumentTrustListInvalid, "IACA certificate"))
        })
        .collect()
}

impl Account {
    /// Verify the trust list that came with the documents (see the module documentation).
    async fn check_trust_list(&self, jwt: &str) -> Result<TrustListClaims> {
        let invalid = |why| refuse(Msg::DocumentTrustListInvalid, why);
        // Typed decoding: the signature, and `typ` = `trustlist+jwt` (`TrustListClaims: JwtKind`).
        let claims: TrustListClaims = self.decode_server_jws(jwt).await.ok_or_else(|| invalid("signature or typ"))?;
        if claims.iss != self.net.audience() || claims.next_update < self.now() || claims.iaca.is_empty() {
            return Err(invalid("issuer, freshness or content"));
        }
        Ok(claims)
    }

    /// Check an SD-JWT VC of `kind` against `anchors`: `typ` `dc+sd-jwt`, its `x5c` chaining to
    /// an IACA of the trust list, the signature, `vct` and `iss`, not expired, `cnf.jwk` =
    /// `public_key` (`documents.sd_jwt_invalid`). Returns the signed payload and what the
    /// holder reads of it.
    pub(crate) fn check_sd_jwt(
        &self,
        sd_jwt: &str,
        kind: DocumentKind,
        anchors: &[TrustAnchor],
        public_key: &[u8],
    ) -> Result<(Value, sdjwt::CredentialInfo)> {
        let now = self.now();
        // The SD-JWT VC, signed by a document signer of the same trust list.
        let sd_invalid = |why| refuse(Msg::DocumentSdJwtInvalid, why);
        let jwt = sd_jwt.split('~').next().unwrap_or_default();
        let header = citizen_protocol::jwt::compact_header(jwt).ok_or_else(|| sd_invalid("header"))?;
        if header.get("typ").and_then(Value::as_str) != Some(sdjwt::SD_JWT_TYP) {
            return Err(sd_invalid("typ"));
        }
        let std = base64::engine::general_purpose::STANDARD;
        let x5c: Vec<Vec<u8>> = header
            .get("x5c")
            .and_then(Value::as_array)
            .ok_or_else(|| sd_invalid("no x5c"))?
            .iter()
            .map(|c| c.as_str().and_then(|c| std.decode(c).ok()).ok_or_else(|| sd_invalid("x5c encoding")))
            .collect::<Result<_>>()?;
        let signer = citizen_mdoc::verify_x5c(&x5c, anchors, now).map_err(|_| sd_invalid("x5c chain"))?;
        let v = sdjwt::verify_es256_jws(jwt, &signer).ok_or_else(|| sd_invalid("signature"))?;
        let payload: Value = serde_json::from_slice(&v.payload).map_err(|_| sd_invalid("payload"))?;
        let info = sdjwt::inspect(sd_jwt).map_err(|_| sd_invalid("structure"))?;
        let ours = sdjwt::jwk_from_public_key(public_key).ok_or_else(|| sd_invalid("own key"))?;
        if payload.get("vct").and_then(Value::as_str) != Some(kind.vct())
            || payload.get("iss").and_then(Value::as_str) != Some(self.net.audience())
            || info.expires_at <= now
            || info.holder_jwk != ours
        {
            return Err(sd_invalid("vct, issuer, expiry or device key"));
        }
        Ok((payload, info))
    }

    /// Check one received document against `anchors` (see the module documentation).
    fn check_document(&self, w: &IssuedDocumentWire, anchors: &[TrustAnchor], public_key: &[u8]) -> Result<()> {
        let now = self.now();
        let mdoc = crate::crypto::unb64(&w.mdoc).ok_or_else(|| refuse(Msg::MdocMalformed, "mdoc encoding"))?;
        let doc = citizen_mdoc::check_issued(&mdoc, w.kind.doc_type(), anchors, public_key, now)
            .map_err(|e| refuse(e.msg(), "mdoc check"))?;
        let (payload, info) = self.check_sd_jwt(&w.sd_jwt, w.kind, anchors, public_key)?;
        // Both forms say the same: element names and status entry.
        let mut sd_names = info.claims.clone();
        sd_names.sort();
        let mdoc_names: Vec<String> =
            doc.elements.get(w.kind.namespace()).map(|m| m.keys().cloned().collect()).unwrap_or_default();
        let status = &payload["status"]["status_list"];
        let same_status = doc.status.as_ref().is_some_and(|s| s.idx == w.status_idx && s.uri == w.status_uri)
            && status["idx"].as_u64() == Some(w.status_idx)
            && status["uri"].as_str() == Some(w.status_uri.as_str());
        if sd_names != mdoc_names || !same_status || doc.elements.len() != 1 {
            return Err(refuse(Msg::DocumentMismatch, "forms differ"));
        }
        Ok(())
    }

    /// Fetch (issue) the citizen's documents, check every one, and replace the stored set.
    /// Returns the number stored.
    pub(crate) async fn refresh_documents(&self) -> Result<usize> {
        let acc = self.active_account()?;
        let token = self.access_token().await?;
        let nonce = self.challenge(&acc, Purpose::Credential).await?;
        let signed = self
            .sign_for(
                &acc,
                Purpose::Credential,
                nonce,
                format!("{DOCUMENTS_SUBJECT_PREFIX}{}", sha256_hex(&acc.public_key)),
            )
            .await?;
        let r: DocumentsResponse = self.net.post(PATH_DOCUMENTS, &DocumentsRequest { signed }, Some(&token)).await?;
        self.accept_documents(&r, &acc.public_key).await
    }

    /// Check a server answer and store it (all or nothing). Separate from the request so tests
    /// can hand it altered answers.
    pub(crate) async fn accept_documents(&self, r: &DocumentsResponse, public_key: &[u8]) -> Result<usize> {
        let claims = self.check_trust_list(&r.trust_list).await?;
        let anchors = anchors_of(&claims)?;
        let mut kinds: Vec<DocumentKind> = r.documents.iter().map(|d| d.kind).collect();
        kinds.sort();
        kinds.dedup();
        if kinds.len() != r.documents.len() || r.documents.is_empty() {
            return Err(crate::consent::share::bad_answer("documents: a kind repeated or none"));
        }
        for w in &r.documents {
            self.check_document(w, &anchors, public_key)?;
        }
        let docs: Vec<StoredDocument> = r
            .documents
            .iter()
            .map(|w| StoredDocument {
                id: w.id.clone(),
                kind: w.kind,
                mdoc: w.mdoc.clone(),
                sd_jwt: w.sd_jwt.clone(),
                status_idx: w.status_idx,
                status_uri: w.status_uri.clone(),
            })
            .collect();
        self.store.replace_documents(&docs, &r.trust_list, self.now())?;
        Ok(docs.len())
    }

    /// The held documents, in display order.
    pub(crate) fn documents(&self) -> Result<Vec<DocumentRow>> {
        let mut rows = self.store.document_rows()?;
        rows.sort_by_key(|r| r.document.kind);
        Ok(rows)
    }

    /// One held document.
    pub(crate) fn document(&self, id: &str) -> Result<DocumentRow> {
        self.store.document_rows()?.into_iter().find(|r| r.document.id == id).ok_or(Error::Domain(Msg::DocumentUnknown))
    }

    /// Delete a held document from this device (the issuance stays valid at the server).
    pub(crate) fn delete_document(&self, id: &str) -> Result<()> {
        if self.store.delete_document(id)? {
            Ok(())
        } else {
            Err(Error::Domain(Msg::DocumentUnknown))
        }
    }
}

/// An element's value as text for display: dates and text as they are, numbers in decimal,
/// driving privileges as `B: 2022-03-15 → 2032-03-15`, bytes as their size.
pub(crate) fn display_value(v: &CborValue) -> String {
    match v {
        CborValue::Text(s) => s.clone(),
        CborValue::Tag(_, inner) => display_value(inner),
        CborValue::Integer(i) => i128::from(*i).to_string(),
        CborValue::Bool(b) => if *b { "✓" } else { "✗" }.to_string(),
        CborValue::Bytes(b) => format!("{} bytes", b.len()),
        CborValue::Array(items) => items.iter().map(display_value).collect::<Vec<_>>().join("; "),
        CborValue::Map(entries) => {
            let field =
                |name: &str| entries.iter().find(|(k, _)| k.as_text() == Some(name)).map(|(_, v)| display_value(v));
            match field("vehicle_category_code") {
                Some(cat) => {
                    let from = field("issue_date").unwrap_or_default();
                    match field("expiry_date") {
                        Some(to) => format!("{cat}: {from} → {to}"),
                        None => format!("{cat}: {from}"),
                    }
                }
                None => entries.iter().map(|(_, v)| display_value(v)).collect::<Vec<_>>().join(" "),
            }
        }
        _ => String::new(),
    }
}

/// The elements of a document in its namespace, in the issuer's (sorted) order.
pub(crate) fn elements_of(doc: &IssuedDocument, kind: DocumentKind) -> BTreeMap<String, CborValue> {
    doc.elements.get(kind.namespace()).cloned().unwrap_or_default()
}
