//! A dependant's documents on the guardian's device (issue 15 item 5, ARCHITECTURE.md decision
//! 52): fetched under an active mandate (`POST /v1/dependants/documents`), issued by the server
//! as SD-JWT VCs bound to this device's key with `sub` = the dependant's CCCD number, checked
//! like the citizen's own documents (trust list, issuer chain, signature, `vct`, `iss`, expiry,
//! `cnf.jwk`) plus the subject and the mandate that comes with them (server key and `typ`, this
//! server, this device's key, this dependant, this kind), and stored sealed apart from the
//! citizen's own documents (a parent's own health-insurance card and the child's never collide).
//!
//! Presenting one: with the passcode, the SD-JWT with only the chosen disclosures and a KB-JWT
//! (audience = the verifier, its nonce, the time, the device counter, `sd_hash`) signed inside
//! the key store; the mandate JWS travels beside it ([`OnBehalfPresentation`]). A device-signed
//! consent receipt (in-person kind, purpose `on_behalf`, request id `mandate:<id>`) and an
//! activity entry (`on_behalf=mandate:<id>`, never the dependant's number) record it.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use zeroize::Zeroizing;

use crate::account::Account;
use crate::activity::ActivityKind;
use crate::consent::share::DeviceJwsSigner;
use crate::error::{Error, Msg, Result};
use crate::platform::SignPurpose;
use crate::protocol::delegation::{
    DependantDocumentRequest, DependantDocumentResponse, MandateClaims, OnBehalfPresentation, PATH_DEPENDANT_DOCUMENT,
};
use crate::protocol::documents::DocumentKind;
use crate::protocol::rp::{ConsentReceipt, ReceiptKind, SignedReceipt};
use crate::protocol::sha256_hex;
use crate::sdjwt::{self, SdJwtError};

/// The receipt's `purpose` of an on-behalf presentation.
pub(crate) const ON_BEHALF_PURPOSE: &str = "on_behalf";
/// The receipt's `origin` of an on-behalf presentation (SD-JWT VC with the mandate beside it).
pub(crate) const ON_BEHALF_ORIGIN: &str = "sd-jwt-vc:on_behalf";

/// A dependant's document as stored (sealed).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct StoredDependantDocument {
    /// The server's id of the issuance.
    pub id: String,
    /// Which document.
    pub kind: DocumentKind,
    /// The dependant's CCCD number (`sub` of the document).
    pub dependant_cccd: String,
    /// The dependant's full name (from the mandate).
    pub dependant_name: String,
    /// The mandate id.
    pub mandate_id: String,
    /// The mandate JWS received with it (short-lived: fetching the document again renews it).
    pub mandate: String,
    /// The SD-JWT VC.
    pub sd_jwt: String,
    /// Index in the status list.
    pub status_idx: u64,
    /// The status list's URL.
    pub status_uri: String,
    /// When stored.
    #[serde(default)]
    pub stored_at: i64,
}

/// What presenting produced.
pub(crate) struct PresentedOnBehalf {
    /// The JSON of [`OnBehalfPresentation`] to hand the verifier.
    pub presentation: String,
    /// The stored receipt.
    pub receipt: SignedReceipt,
    /// The disclosed claim names.
    pub disclosed: Vec<String>,
}

impl Account {
    /// Fetch the document `kind` of the dependant `dependant_cccd` under their active mandate,
    /// check it and store it (replacing an earlier one of the same dependant and kind).
    pub(crate) async fn fetch_dependant_document(
        &self,
        dependant_cccd: &str,
        kind: DocumentKind,
    ) -> Result<StoredDependantDocument> {
        let acc = self.active_account()?;
        let d = self
            .dependants()
            .await?
            .into_iter()
            .find(|d| d.dto.profile.cccd == dependant_cccd)
            .ok_or(Error::Domain(Msg::DelegationNotDependant))?;
        let req = DependantDocumentRequest {
            mandate_id: d.dto.mandate.mandate_id.clone(),
            dependant_cccd: dependant_cccd.to_string(),
            document_type: kind,
        };
        // Asked even when the listing shows the mandate revoked, expired or out of scope: the
        // server is the authority and answers with the refusal's own code.
        let token = self.access_token().await?;
        let r: DependantDocumentResponse = self.net.post(PATH_DEPENDANT_DOCUMENT, &req, Some(&token)).await?;
        self.accept_dependant_document(&r, &req, &acc.public_key).await
    }

    /// Check a server answer for `req` and store it.
    pub(crate) async fn accept_dependant_document(
        &self,
        r: &DependantDocumentResponse,
        req: &DependantDocumentRequest,
        public_key: &[u8],
    ) -> Result<StoredDependantDocument> {
        let claims = self.check_trust_list(&r.trust_list).await?;
        let anchors = super::anchors_of(&claims)?;
        let w = &r.document;
        if w.kind != req.document_type {
            return Err(crate::consent::share::bad_answer("dependant document: another kind"));
        }
        let (payload, info) = self.check_sd_jwt(&w.sd_jwt, w.kind, &anchors, public_key)?;
        let status = &payload["status"]["status_list"];
        if payload.get("sub").and_then(Value::as_str) != Some(req.dependant_cccd.as_str())
            || status["idx"].as_u64() != Some(w.status_idx)
            || status["uri"].as_str() != Some(w.status_uri.as_str())
            || info.claims.is_empty()
        {
            return Err(Error::Domain(Msg::DocumentMismatch));
        }
        let mandate = self.check_own_mandate(&r.mandate, public_key).await?;
        if mandate.jti != req.mandate_id || mandate.dependant_cccd != req.dependant_cccd {
            return Err(Error::BadReceipt("mandate: not this dependant's".into()));
        }
        if !mandate.document_types.iter().any(|k| k == w.kind.as_str()) {
            return Err(Error::Domain(Msg::DelegationOutOfScope));
        }
        let doc = StoredDependantDocument {
            id: w.id.clone(),
            kind: w.kind,
            dependant_cccd: req.dependant_cccd.clone(),
            dependant_name: mandate.dependant_name,
            mandate_id: mandate.jti,
            mandate: r.mandate.clone(),
            sd_jwt: w.sd_jwt.clone(),
            status_idx: w.status_idx,
            status_uri: w.status_uri.clone(),
            stored_at: self.now(),
        };
        self.store.put_dependant_document(&doc)?;
        Ok(doc)
    }

    /// A mandate JWS received for this device: the server's key and `typ`, this server, this
    /// device's key.
    async fn check_own_mandate(&self, jws: &str, public_key: &[u8]) -> Result<MandateClaims> {
        let c: MandateClaims = self
            .decode_server_jws(jws)
            .await
            .ok_or_else(|| Error::BadReceipt("mandate: signature or kind does not verify".into()))?;
        if c.iss != self.net.audience() || c.guardian_device_key != crate::crypto::b64(public_key) {
            return Err(Error::BadReceipt("mandate: not for this device".into()));
        }
        Ok(c)
    }

    /// The held documents of dependants, by dependant then kind.
    pub(crate) fn dependant_documents(&self) -> Result<Vec<StoredDependantDocument>> {
        self.active_account()?;
        let mut v = self.store.dependant_documents()?;
        v.sort_by(|a, b| (&a.dependant_cccd, a.kind).cmp(&(&b.dependant_cccd, b.kind)));
        Ok(v)
    }

    /// Delete a dependant's document from this device.
    pub(crate) fn delete_dependant_document(&self, id: &str) -> Result<()> {
        if self.store.delete_dependant_document(id)? {
            Ok(())
        } else {
            Err(Error::Domain(Msg::DocumentUnknown))
        }
    }

    /// Present the held dependant's document `id` to the verifier `audience` for its `nonce`,
    /// disclosing `disclose` (see the module documentation). Offline.
    pub(crate) async fn present_for_dependant(
        &self,
        id: &str,
        disclose: &[String],
        audience: &str,
        nonce: &str,
        passcode: &str,
    ) -> Result<PresentedOnBehalf> {
        let acc = self.active_account()?;
        let doc = self
            .store
            .dependant_documents()?
            .into_iter()
            .find(|d| d.id == id)
            .ok_or(Error::Domain(Msg::DocumentUnknown))?;
        if audience.trim().is_empty() || nonce.trim().is_empty() || audience.len() > 512 || nonce.len() > 512 {
            return Err(Error::Domain(Msg::InvalidInput));
        }
        // The stored mandate must still verify and be in force, for this device (a re-bound key
        // makes it useless: fetch the document again).
        let mandate = self.check_own_mandate(&doc.mandate, &acc.public_key).await?;
        if self.now() >= mandate.exp || self.now() >= mandate.mandate_ends_at {
            return Err(Error::Domain(Msg::DelegationExpired));
        }
        let info = sdjwt::inspect(&doc.sd_jwt).map_err(|_| Error::Storage("stored document malformed".into()))?;
        let ours = sdjwt::jwk_from_public_key(&acc.public_key).ok_or_else(|| Error::Crypto("device key".into()))?;
        if info.holder_jwk != ours {
            return Err(Error::Domain(Msg::DelegationWrongHolder));
        }
        let mut disclosed: Vec<String> = disclose.to_vec();
        disclosed.sort();
        disclosed.dedup();
        if disclosed.is_empty() || disclosed.iter().any(|n| !info.claims.contains(n)) {
            return Err(Error::Domain(Msg::InvalidInput));
        }
        self.verify_passcode(passcode).await?;

        let signer = DeviceJwsSigner::new(self.keys.clone(), acc.key_alias.clone(), acc.public_key.clone())
            .with_purpose(SignPurpose::DocumentPresentation);
        let names: Vec<&str> = disclosed.iter().map(String::as_str).collect();
        let counter = self.store.next_counter()?;
        let sd =
            sdjwt::present(&doc.sd_jwt, &names, audience, nonce, self.now(), counter, &signer).await.map_err(|e| {
                match signer.take_error() {
                    Some(k) => Error::KeyStore(k),
                    None if matches!(e, SdJwtError::UnknownClaim(_)) => Error::Domain(Msg::InvalidInput),
                    None => Error::Storage(format!("presentation: {e}")),
                }
            })?;
        let sd = Zeroizing::new(sd);
        let envelope = OnBehalfPresentation { sd_jwt: sd.to_string(), mandate: doc.mandate.clone() };
        let presentation = serde_json::to_string(&envelope).map_err(|e| Error::Storage(e.to_string()))?;

        // The receipt: device-signed now (offline), countersigned later like an in-person one.
        let (chain_guard, chain_seq, prev_digest) = self.receipt_chain().await?;
        let receipt = ConsentReceipt {
            receipt_id: uuid::Uuid::new_v4().to_string(),
            kind: ReceiptKind::InPerson,
            rp_id: audience.to_string(),
            rp_name: String::new(),
            origin: ON_BEHALF_ORIGIN.into(),
            purpose: ON_BEHALF_PURPOSE.into(),
            claims: disclosed.iter().map(|n| format!("{}/{n}", doc.kind.as_str())).collect(),
            retention_days: 0,
            request_id: format!("mandate:{}", doc.mandate_id),
            nonce: sha256_hex(sd.as_bytes()),
            device_id: acc.device_id.clone(),
            issued_at: self.now(),
            chain_seq,
            prev_digest,
        };
        let signed = self.sign_consent(&acc, &receipt.nonce, receipt.statement_subject(), receipt.issued_at).await?;
        let head = self.sign_receipt_head(&acc, &receipt).await?;
        let stored = SignedReceipt {
            receipt,
            device_statement: signed,
            device_public_key: crate::crypto::b64(&acc.public_key),
            countersignature: String::new(),
            delivery: None,
        };
        self.store_receipt(&stored, &head)?;
        drop(chain_guard);
        self.log_activity(
            ActivityKind::DocumentPresentation,
            format!(
                "receipt={} on_behalf=mandate:{} doc_types={} elements={}",
                stored.receipt.receipt_id,
                doc.mandate_id,
                doc.kind.as_str(),
                disclosed.join(",")
            ),
        )
        .await;
        Ok(PresentedOnBehalf { presentation, receipt: stored, disclosed })
    }
}
