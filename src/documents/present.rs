//! In-person presentation on the citizen's phone (issue 13 item 2; ARCHITECTURE.md, decision on
//! the holder session): the wallet shows a QR code (ISO 18013-5 device engagement), the verifier
//! connects over an [`MdocTransport`] and asks; the citizen sees who asks and which elements,
//! picks, approves with the passcode; the device authentication is signed inside the key store
//! (`SignPurpose::DocumentPresentation`, user-initiated); a consent receipt is stored and an
//! activity entry written.
//!
//! The protocol (`citizen_mdoc::HolderEngagement`/`HolderSession`) is sans-I/O; this module
//! moves its messages over the transport and holds the session across the key-store call. One
//! session, used once: every step out of order (a second `await_request`, `approve` after the
//! end, …) is `mdoc.session_state`, and a refused request ends the session (the reader is told).

use std::sync::Arc;

use citizen_mdoc::{
    HolderDocument, HolderEngagement, HolderSession, PresentationRequest, ReaderIdentity, SelectedElement, TrustAnchor,
    MAX_REQUEST_MESSAGE_BYTES,
};

use crate::account::Account;
use crate::activity::ActivityKind;
use crate::error::{Error, Msg, Result};
use crate::platform::{receive_message, send_message, MdocTransport, SignPurpose, SignRequest};
use crate::protocol::documents::TrustListClaims;
use crate::protocol::rp::{ConsentReceipt, ReceiptKind, SignedReceipt};
use crate::protocol::sha256_hex;

/// The receipt's `purpose` for an in-person presentation.
pub(crate) const IN_PERSON_PURPOSE: &str = "in_person";
/// The receipt's `purpose` when the verifier said it will keep some of the disclosed elements.
pub(crate) const IN_PERSON_RETAINED_PURPOSE: &str = "in_person_retained";
/// The receipt's `origin` of a presentation engaged by QR code.
pub(crate) const IN_PERSON_ORIGIN: &str = "iso18013-5:qr";

/// What the citizen gets back after approving.
#[derive(Clone, Debug)]
pub(crate) struct Presented {
    /// The stored consent receipt (device-signed, awaiting the server's countersignature).
    pub receipt: SignedReceipt,
    /// Exactly what was disclosed.
    pub disclosed: Vec<SelectedElement>,
}

enum Stage {
    /// The QR code is shown; waiting for the verifier.
    Engaged { engagement: Box<HolderEngagement>, documents: Vec<HolderDocument>, reader_trust: Vec<TrustAnchor> },
    /// The request was shown to the citizen; waiting for approve or decline.
    Requested { session: Box<HolderSession>, request: PresentationRequest },
    /// Over (responded, declined, refused or failed).
    Ended,
}

/// One presentation session on the holder's side.
pub(crate) struct HolderPresentation {
    transport: Arc<dyn MdocTransport>,
    qr: String,
    ble_uuid: uuid::Uuid,
    stage: tokio::sync::Mutex<Stage>,
}

impl std::fmt::Debug for HolderPresentation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HolderPresentation").field("ble_uuid", &self.ble_uuid).finish_non_exhaustive()
    }
}

fn out_of_order() -> Error {
    Error::Domain(Msg::MdocSessionState)
}

fn mdoc(e: citizen_mdoc::MdocError) -> Error {
    tracing::info!(code = e.code(), error = %e, "presentation refused");
    Error::Domain(e.msg())
}

impl Account {
    /// The trust list stored with the documents, checked again with the cached server keys (the
    /// row is not sealed: public data, but an attacker with file access must not add a reader
    /// root). `None` when there is none or it does not verify.
    pub(crate) fn stored_trust_list(&self) -> Result<Option<TrustListClaims>> {
        let Some((jwt, _)) = self.store.trust_list()? else { return Ok(None) };
        let kid = crate::consent::jws_kid(&jwt).unwrap_or_default();
        let key = self.cached_server_keys().into_iter().find(|k| k.common.key_id.as_deref() == Some(&kid));
        Ok(key.and_then(|k| crate::crypto::decode_es256::<TrustListClaims>(&jwt, &k)))
    }

    /// Start presenting: the held documents (each bound to this device's key) and a new
    /// engagement with a fresh ephemeral key and BLE service UUID. Offline.
    pub(crate) fn start_presentation(&self, transport: Arc<dyn MdocTransport>) -> Result<HolderPresentation> {
        let acc = self.active_account()?;
        let ours = crate::crypto::parse_public_key(&acc.public_key).map_err(|e| Error::Crypto(e.to_string()))?;
        let mut documents = Vec::new();
        for row in self.documents()? {
            let bytes = crate::crypto::unb64(&row.document.mdoc).ok_or_else(|| Error::Storage("stored mdoc".into()))?;
            let doc = HolderDocument::from_issuer_signed(&bytes).map_err(mdoc)?;
            let theirs = crate::crypto::parse_public_key(&doc.device_public_key()).ok();
            if theirs.as_ref() != Some(&ours) {
                // Issued to an earlier key of this account (before a re-enrolment): not presentable.
                continue;
            }
            documents.push(doc);
        }
        if documents.is_empty() {
            return Err(Error::Domain(Msg::PresentationNoDocuments));
        }
        let reader_trust = match self.stored_trust_list()? {
            Some(claims) => reader_anchors(&claims),
            None => Vec::new(),
        };
        let ble_uuid = uuid::Uuid::new_v4();
        let engagement = HolderEngagement::new(Some(*ble_uuid.as_bytes())).map_err(mdoc)?;
        Ok(HolderPresentation {
            transport,
            qr: engagement.qr_code().to_string(),
            ble_uuid,
            stage: tokio::sync::Mutex::new(Stage::Engaged {
                engagement: Box::new(engagement),
                documents,
                reader_trust,
            }),
        })
    }
}

/// The reader-authentication roots of a trust list (a bad entry is skipped: it only means fewer
/// readers are shown as trusted).
pub(crate) fn reader_anchors(claims: &TrustListClaims) -> Vec<TrustAnchor> {
    use base64::Engine as _;
    let std = base64::engine::general_purpose::STANDARD;
    claims
        .reader_roots
        .iter()
        .filter_map(|c| std.decode(c).ok())
        .filter_map(|d| TrustAnchor::from_der(&d).ok())
        .collect()
}

impl HolderPresentation {
    /// The QR code to show: `mdoc:` + base64url(DeviceEngagement).
    pub(crate) fn qr(&self) -> &str {
        &self.qr
    }

    /// The BLE service UUID the engagement names (the shell's adapter advertises it).
    pub(crate) fn ble_uuid(&self) -> String {
        self.ble_uuid.to_string()
    }

    /// End the session on our side: tell the reader (best effort), close the link.
    async fn end(&self, stage: &mut Stage, tell_reader: bool) {
        if tell_reader {
            if let Err(e) = send_message(&self.transport, &citizen_mdoc::session_termination()).await {
                tracing::info!(error = %e, "session termination not sent");
            }
        }
        *stage = Stage::Ended;
        self.transport.disconnect().await;
    }

    /// Wait for the verifier's request (SessionEstablishment) and check it: who asks (reader
    /// authentication against the reader roots of the stored trust list; a reader that does not
    /// chain is refused, not shown), which elements, and that the reader is authorised for each
    /// (`mdoc.reader_not_authorised` refuses the whole request). A refusal ends the session.
    pub(crate) async fn await_request(&self, now: i64) -> Result<PresentationRequest> {
        let mut stage = self.stage.lock().await;
        if !matches!(*stage, Stage::Engaged { .. }) {
            return Err(out_of_order());
        }
        let message = match receive_message(&self.transport, MAX_REQUEST_MESSAGE_BYTES).await {
            Ok(m) => m,
            Err(e) => {
                self.end(&mut stage, false).await;
                return Err(e);
            }
        };
        let Stage::Engaged { engagement, documents, reader_trust } = std::mem::replace(&mut *stage, Stage::Ended)
        else {
            return Err(out_of_order());
        };
        match (*engagement).accept(&message, documents, &reader_trust, now) {
            Ok((session, request)) => {
                *stage = Stage::Requested { session: Box::new(session), request: request.clone() };
                Ok(request)
            }
            Err(e) => {
                self.end(&mut stage, true).await;
                Err(mdoc(e))
            }
        }
    }

    /// The citizen approves `selection` with the passcode: device authentication signed in the
    /// key store, the receipt signed, the response sent, the receipt stored, the activity entry
    /// written, the session ended. A wrong passcode, a cancelled prompt or a selection that was
    /// not requested leave the session waiting (the citizen may try again or decline).
    pub(crate) async fn approve(
        &self,
        acc: &Account,
        selection: &[SelectedElement],
        passcode: &str,
    ) -> Result<Presented> {
        let mut stage = self.stage.lock().await;
        let Stage::Requested { session, request } = &mut *stage else {
            return Err(out_of_order());
        };
        let row = acc.active_account()?;
        acc.verify_passcode(passcode).await?;
        let to_sign = session.prepare_response(selection).map_err(mdoc)?;
        let mut signatures = Vec::with_capacity(to_sign.len());
        for r in &to_sign {
            let purpose = SignRequest { purpose: SignPurpose::DocumentPresentation, user_initiated: true };
            let alias = row.key_alias.clone();
            let keys = acc.keys.clone();
            let sig = keys.sign(alias, r.message.clone(), purpose).await.map_err(Error::KeyStore)?;
            signatures.push(sig.bytes);
        }
        let response = session.finish(&signatures).map_err(mdoc)?;

        // The receipt: signed before anything leaves the device, so a key-store failure here
        // sends nothing; stored once the response is sent.
        let transcript_hash = sha256_hex(session.session_transcript_bytes());
        let mut disclosed: Vec<SelectedElement> = selection.to_vec();
        disclosed.sort();
        disclosed.dedup();
        let retained = disclosed.iter().any(|s| {
            request.documents.iter().any(|d| {
                d.doc_type == s.doc_type
                    && d.elements
                        .iter()
                        .any(|e| e.namespace == s.namespace && e.identifier == s.identifier && e.intent_to_retain)
            })
        });
        let (rp_id, rp_name) = match &request.reader {
            ReaderIdentity::Anonymous => ("anonymous".to_string(), String::new()),
            ReaderIdentity::Authenticated(r) => (r.subject.clone(), r.common_name.clone().unwrap_or_default()),
        };
        let (chain_guard, chain_seq, prev_digest) = acc.receipt_chain().await?;
        let receipt = ConsentReceipt {
            receipt_id: uuid::Uuid::new_v4().to_string(),
            kind: ReceiptKind::InPerson,
            rp_id,
            rp_name,
            origin: IN_PERSON_ORIGIN.into(),
            purpose: if retained { IN_PERSON_RETAINED_PURPOSE } else { IN_PERSON_PURPOSE }.into(),
            claims: disclosed.iter().map(|s| format!("{}/{}/{}", s.doc_type, s.namespace, s.identifier)).collect(),
            retention_days: 0,
            request_id: transcript_hash.clone(),
            nonce: transcript_hash,
            device_id: row.device_id.clone(),
            issued_at: acc.now(),
            chain_seq,
            prev_digest,
        };
        let signed = acc.sign_consent(&row, &receipt.nonce, receipt.statement_subject(), receipt.issued_at).await?;
        let head = acc.sign_receipt_head(&row, &receipt).await?;

        let sent = send_message(&self.transport, &response).await;
        self.end(&mut stage, false).await;
        sent?;
        let stored = SignedReceipt {
            receipt,
            device_statement: signed,
            device_public_key: crate::crypto::b64(&row.public_key),
            countersignature: String::new(),
            delivery: None,
        };
        acc.store_receipt(&stored, &head)?;
        drop(chain_guard);
        let doc_types: std::collections::BTreeSet<&str> = disclosed.iter().map(|s| s.doc_type.as_str()).collect();
        acc.log_activity(
            ActivityKind::DocumentPresentation,
            format!(
                "receipt={} doc_types={} elements={}",
                stored.receipt.receipt_id,
                doc_types.into_iter().collect::<Vec<_>>().join(","),
                disclosed.iter().map(|s| s.identifier.as_str()).collect::<Vec<_>>().join(",")
            ),
        )
        .await;
        Ok(Presented { receipt: stored, disclosed })
    }

    /// The citizen declines: the reader is told (session termination), the link closed.
    pub(crate) async fn decline(&self) -> Result<()> {
        let mut stage = self.stage.lock().await;
        if matches!(*stage, Stage::Ended) {
            return Err(out_of_order());
        }
        if let Stage::Requested { session, .. } = &mut *stage {
            let message = session.decline();
            if let Err(e) = send_message(&self.transport, &message).await {
                tracing::info!(error = %e, "decline not sent");
            }
            self.end(&mut stage, false).await;
        } else {
            self.end(&mut stage, true).await;
        }
        Ok(())
    }
}
