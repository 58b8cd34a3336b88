//! In-person presentation on the citizen's phone (`DocumentsClient.start_presentation`, issue 13
//! item 2): the QR code, who asks and for what, the citizen's approval (passcode, then the device
//! signature inside the key store), the receipt. Thin wrappers over
//! [`crate::documents::present`].

use std::sync::Arc;
use std::time::SystemTime;

use citizen_mdoc::{PresentationRequest, ReaderIdentity, SelectedElement};

use super::documents::{DocumentType, DocumentsClient};
use super::errors::CitizenError;
use super::facade::Engine;
use super::types::time;
use crate::documents::present::HolderPresentation;
use crate::platform::MdocTransport;
use crate::protocol::documents::{element_label, DocumentKind};

/// Who asks to see a document, as the citizen is shown it before choosing.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct RequesterInfo {
    /// The request is signed by a reader certificate that chains to a reader root of the trust
    /// list the wallet holds. When `false` the request is anonymous: anyone could have sent it
    /// (a reader whose certificate does not chain is refused, never shown).
    pub authenticated: bool,
    /// The reader certificate's subject (`CN=…, O=…`); empty when anonymous.
    pub subject: String,
    /// Its organisation (`O=`), when the certificate names one.
    pub organisation: Option<String>,
    /// Its common name (`CN=`), when the certificate names one.
    pub common_name: Option<String>,
    /// The reader root of the trust list it chains to; empty when anonymous.
    pub trust_anchor: String,
    /// The certificate lists which elements the reader may ask for (each requested element was
    /// checked against it: a request beyond it is refused with `mdoc.reader_not_authorised`).
    pub states_authorisation: bool,
}

/// One element the verifier asks for.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct RequestedDocumentElement {
    /// docType of the document (`org.iso.18013.5.1.mDL`, …).
    pub doc_type: String,
    /// The document, when it is one of the wallet's four.
    pub document_type: Option<DocumentType>,
    /// Namespace.
    pub namespace: String,
    /// Element identifier (`family_name`, …).
    pub identifier: String,
    /// Label in Vietnamese.
    pub label_vi: String,
    /// Label in English.
    pub label_en: String,
    /// The verifier says it will keep the value after the session.
    pub intent_to_retain: bool,
    /// The wallet holds it (otherwise it cannot be selected).
    pub held: bool,
}

/// What the verifier asks, to show before any choice.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct PresentationRequestInfo {
    /// Who asks.
    pub requester: RequesterInfo,
    /// The elements asked for, in the verifier's order.
    pub elements: Vec<RequestedDocumentElement>,
}

/// One element the citizen chose to disclose (or that was disclosed).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct ElementSelection {
    /// docType of the document.
    pub doc_type: String,
    /// Namespace.
    pub namespace: String,
    /// Element identifier.
    pub identifier: String,
}

/// The result of an approved presentation.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct PresentationOutcome {
    /// The consent receipt stored for it (in `ConsentClient.receipts`, kind
    /// `InPersonPresentation`; device-signed, countersigned by the server later).
    pub receipt_id: String,
    /// Exactly what was disclosed.
    pub disclosed: Vec<ElementSelection>,
    /// When.
    pub presented_at: SystemTime,
}

/// `CN=` or `O=` of a certificate subject as `x509-cert` prints it (`CN=…,O=…`).
fn rdn(subject: &str, key: &str) -> Option<String> {
    subject
        .split(',')
        .map(str::trim)
        .find_map(|p| p.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
        .map(str::to_string)
}

fn labels(identifier: &str) -> (String, String) {
    let (vi, en) = element_label(identifier);
    if vi.is_empty() {
        (identifier.to_string(), identifier.to_string())
    } else {
        (vi.to_string(), en.to_string())
    }
}

impl From<&PresentationRequest> for PresentationRequestInfo {
    fn from(r: &PresentationRequest) -> Self {
        let requester = match &r.reader {
            ReaderIdentity::Anonymous => RequesterInfo {
                authenticated: false,
                subject: String::new(),
                organisation: None,
                common_name: None,
                trust_anchor: String::new(),
                states_authorisation: false,
            },
            ReaderIdentity::Authenticated(a) => RequesterInfo {
                authenticated: true,
                subject: a.subject.clone(),
                organisation: rdn(&a.subject, "O"),
                common_name: a.common_name.clone().or_else(|| rdn(&a.subject, "CN")),
                trust_anchor: a.trust_anchor.clone(),
                states_authorisation: a.authorised.is_some(),
            },
        };
        let elements = r
            .documents
            .iter()
            .flat_map(|d| {
                d.elements.iter().map(move |e| {
                    let (label_vi, label_en) = labels(&e.identifier);
                    RequestedDocumentElement {
                        doc_type: d.doc_type.clone(),
                        document_type: DocumentKind::from_doc_type(&d.doc_type).map(DocumentType::from),
                        namespace: e.namespace.clone(),
                        identifier: e.identifier.clone(),
                        label_vi,
                        label_en,
                        intent_to_retain: e.intent_to_retain,
                        held: e.held,
                    }
                })
            })
            .collect();
        PresentationRequestInfo { requester, elements }
    }
}

impl From<&SelectedElement> for ElementSelection {
    fn from(s: &SelectedElement) -> Self {
        ElementSelection {
            doc_type: s.doc_type.clone(),
            namespace: s.namespace.clone(),
            identifier: s.identifier.clone(),
        }
    }
}

impl From<&ElementSelection> for SelectedElement {
    fn from(s: &ElementSelection) -> Self {
        SelectedElement {
            doc_type: s.doc_type.clone(),
            namespace: s.namespace.clone(),
            identifier: s.identifier.clone(),
        }
    }
}

/// One in-person presentation (ISO 18013-5): show [`Self::engagement_qr`], then
/// [`Self::await_request`], then [`Self::approve`] or [`Self::decline`]. Used once: a step out of
/// order, or any step after the session ended, throws `Refused` with `mdoc.session_state`.
#[derive(uniffi::Object)]
pub struct PresentationSession {
    engine: Engine,
    inner: Arc<HolderPresentation>,
}

#[uniffi::export]
impl PresentationSession {
    /// The QR code content to show the verifier (`mdoc:` + base64url DeviceEngagement). Pure:
    /// main-safe, never prompts, never throws.
    pub fn engagement_qr(&self) -> String {
        self.inner.qr().to_string()
    }

    /// The BLE service UUID the engagement names: the shell's BLE adapter advertises it (the
    /// phone is the GATT peripheral). Pure: main-safe, never prompts, never throws.
    pub fn ble_service_uuid(&self) -> String {
        self.inner.ble_uuid()
    }

    /// Wait for the verifier's request and check it: who asks (reader authentication against
    /// the reader roots of the trust list held with the documents) and which elements. Offline.
    /// Main-safe; never prompts. Throws [`CitizenError`]: `Refused` with `mdoc.reader_untrusted`,
    /// `mdoc.reader_auth_invalid`, `mdoc.reader_not_authorised` (the reader asked for an element
    /// its certificate does not allow), `mdoc.session_decrypt_failed`, `mdoc.malformed`,
    /// `mdoc.too_large`, `mdoc.transport_failed` — each ends the session (the verifier is told)
    /// — or `mdoc.session_state` when called twice.
    pub async fn await_request(&self) -> Result<PresentationRequestInfo, CitizenError> {
        let inner = self.inner.clone();
        let r = self.engine.run::<_, CitizenError, _>(|a| async move { inner.await_request(a.now()).await }).await?;
        Ok(PresentationRequestInfo::from(&r))
    }

    /// Disclose `selection` (each element requested and held) after checking `passcode`: the
    /// device authentication is signed inside the key store (`SignPurpose::DocumentPresentation`,
    /// may prompt), the consent receipt signed, the response sent, the receipt stored and an
    /// activity entry written; the session ends. Offline. A wrong passcode (`PasscodeRejected`),
    /// a cancelled prompt (`KeyStore`) or a selection that was not requested (`Refused`
    /// `mdoc.selection_invalid`) leave the session waiting: try again or decline. Main-safe.
    pub async fn approve(
        &self,
        selection: Vec<ElementSelection>,
        passcode: String,
    ) -> Result<PresentationOutcome, CitizenError> {
        let inner = self.inner.clone();
        let selection: Vec<SelectedElement> = selection.iter().map(SelectedElement::from).collect();
        let p = self
            .engine
            .run::<_, CitizenError, _>(|a| async move { inner.approve(&a, &selection, &passcode).await })
            .await?;
        Ok(PresentationOutcome {
            receipt_id: p.receipt.receipt.receipt_id.clone(),
            disclosed: p.disclosed.iter().map(ElementSelection::from).collect(),
            presented_at: time(p.receipt.receipt.issued_at),
        })
    }

    /// Decline: the verifier is told the session ended, nothing is disclosed. Main-safe; never
    /// prompts. Throws [`CitizenError`] (`Refused` `mdoc.session_state` after the end).
    pub async fn decline(&self) -> Result<(), CitizenError> {
        let inner = self.inner.clone();
        self.engine.run::<_, CitizenError, _>(|_| async move { inner.decline().await }).await
    }
}

#[uniffi::export]
impl DocumentsClient {
    /// Start presenting documents in person over `transport` (BLE in the shells): a fresh
    /// engagement (ephemeral key, BLE service UUID) with the held documents. Offline. Main-safe;
    /// never prompts. Throws [`CitizenError`] (`Refused` `presentation.no_documents` when the
    /// wallet holds none; `NeedsEnrollment`).
    pub async fn start_presentation(
        &self,
        transport: Arc<dyn MdocTransport>,
    ) -> Result<Arc<PresentationSession>, CitizenError> {
        let inner = self.0.blocking::<_, CitizenError>(move |a| a.start_presentation(transport)).await?;
        Ok(Arc::new(PresentationSession { engine: self.0.clone(), inner: Arc::new(inner) }))
    }
}

#[cfg(test)]
mod tests {
    use super::rdn;

    #[test]
    fn subject_parts() {
        let s = "CN=Cảnh sát giao thông (demo),O=Bộ Công an (demo),C=VN";
        assert_eq!(rdn(s, "O").as_deref(), Some("Bộ Công an (demo)"));
        assert_eq!(rdn(s, "CN").as_deref(), Some("Cảnh sát giao thông (demo)"));
        assert_eq!(rdn(s, "OU"), None);
    }
}
