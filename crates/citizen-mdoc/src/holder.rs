//! The holder (mdoc) side of an in-person presentation, sans-I/O (ISO/IEC 18013-5, QR engagement):
//!
//! 1. [`HolderEngagement::new`]: a fresh ephemeral `EDeviceKey` and the `DeviceEngagement`,
//!    shown as the QR string `mdoc:` + base64url ([`HolderEngagement::qr_code`]).
//! 2. [`HolderEngagement::accept`] with the reader's `SessionEstablishment`: session keys,
//!    the decrypted `DeviceRequest`, reader authentication checked against the reader trust
//!    anchors, and the reader's authorisation enforced. Returns the [`HolderSession`] and the
//!    [`PresentationRequest`] to show the citizen: who asks, which elements.
//! 3. [`HolderSession::prepare_response`] with the citizen's selection: the `DeviceResponse` is
//!    prepared with only those elements and one [`SignatureRequest`] per document: the bytes the
//!    **device key store** signs (ECDSA P-256 over SHA-256, the key store hashes). No private key
//!    ever enters this crate, and the session object can wait across an asynchronous (prompting)
//!    key-store call, which is what an FFI wrapper needs.
//! 4. [`HolderSession::finish`] with the signatures: each is checked under the document's device
//!    key, then the encrypted `SessionData` for the reader is returned.
//!
//! The message types, the transcript, the key derivation, the encryption and the response
//! preparation (`DeviceSession::prepare_response`, `PreparedDeviceResponse`) are isomdl 0.2.0's;
//! the bounds, the reader checks and the state machine are ours (ARCHITECTURE.md, decision 33).

use std::collections::{BTreeMap, BTreeSet};

use isomdl::definitions::device_engagement::{BleOptions, DeviceRetrievalMethod, PeripheralServerMode, Security};
use isomdl::definitions::device_request::{DeviceRequest, ItemsRequest};
use isomdl::definitions::device_signed::DeviceAuthType;
use isomdl::definitions::helpers::{NonEmptyMap, NonEmptyVec, Tag24};
use isomdl::definitions::mso::Mso;
use isomdl::definitions::session::{create_p256_ephemeral_keys, Handover};
use isomdl::definitions::{DeviceEngagement, IssuerSigned, SessionEstablishment, SessionTranscript180135};
use isomdl::presentation::device::{
    DeviceSession, Document as DeviceDocument, Documents, PermittedItems, PreparedCose, PreparedDeviceResponse,
};
use p256::ecdsa::{signature::Verifier, Signature, VerifyingKey};

use crate::reader_auth::{verify_reader_auth, AuthenticatedReader, ReaderIdentity};
use crate::session::{
    bound, parse_session_data, session_data, session_termination, Incoming, SessionKeys, Transcript,
    MAX_REQUEST_MESSAGE_BYTES, STATUS_TERMINATION,
};
use crate::verify::device_key;
use crate::{MdocError, TrustAnchor, MAX_DEVICE_RESPONSE_BYTES};

/// A document the holder can present: the ISO 18013-5 `IssuerSigned` structure as issued (the
/// `mso_mdoc` credential of OpenID4VCI), parsed once. Its device key is the public half of a key
/// in the device key store.
#[derive(Clone)]
pub struct HolderDocument {
    document: DeviceDocument,
    device_key: VerifyingKey,
}

impl std::fmt::Debug for HolderDocument {
    // Element values are personal data: never in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HolderDocument").field("doc_type", &self.document.mso.doc_type).finish_non_exhaustive()
    }
}

impl HolderDocument {
    /// Parse the CBOR `IssuerSigned` (nameSpaces + issuerAuth). The issuer's checks are the
    /// verifier's; here only the structure and the P-256 device key are required.
    pub fn from_issuer_signed(bytes: &[u8]) -> Result<Self, MdocError> {
        bound(bytes, MAX_DEVICE_RESPONSE_BYTES)?;
        let issuer_signed: IssuerSigned =
            isomdl::cbor::from_slice(bytes).map_err(|e| MdocError::Malformed(format!("IssuerSigned: {e}")))?;
        let payload = issuer_signed
            .issuer_auth
            .payload
            .as_ref()
            .ok_or_else(|| MdocError::Malformed("IssuerAuth without payload".into()))?;
        let mso: Tag24<Mso> = isomdl::cbor::from_slice(payload)
            .map_err(|e| MdocError::Malformed(format!("MobileSecurityObject: {e}")))?;
        let mso = mso.into_inner();
        let device_key = device_key(&mso.device_key_info.device_key)?;
        let namespaces = issuer_signed.namespaces.ok_or_else(|| MdocError::Malformed("no nameSpaces".into()))?;
        let mut by_ns = BTreeMap::new();
        for (ns, items) in namespaces.iter() {
            let map: BTreeMap<String, _> =
                items.iter().map(|item| (item.as_ref().element_identifier.clone(), item.clone())).collect();
            let map = NonEmptyMap::try_from(map).map_err(|_| MdocError::Malformed("empty namespace".into()))?;
            by_ns.insert(ns.clone(), map);
        }
        let namespaces = NonEmptyMap::try_from(by_ns).map_err(|_| MdocError::Malformed("no nameSpaces".into()))?;
        let document =
            DeviceDocument { id: uuid::Uuid::nil(), issuer_auth: issuer_signed.issuer_auth, mso, namespaces };
        Ok(HolderDocument { document, device_key })
    }

    /// The document's docType (from the MSO).
    pub fn doc_type(&self) -> &str {
        &self.document.mso.doc_type
    }

    /// The device key the MSO binds, SEC1 uncompressed: the wallet checks it is the public key
    /// of the key-store alias it will sign with.
    pub fn device_public_key(&self) -> Vec<u8> {
        self.device_key.to_encoded_point(false).as_bytes().to_vec()
    }

    /// Every element the document holds: (namespace, identifier).
    pub fn elements(&self) -> Vec<(String, String)> {
        self.document
            .namespaces
            .iter()
            .flat_map(|(ns, items)| items.keys().map(move |id| (ns.clone(), id.clone())))
            .collect()
    }

    fn holds(&self, namespace: &str, element: &str) -> bool {
        self.document.namespaces.get(namespace).is_some_and(|items| items.contains_key(element))
    }
}

/// The holder's side before the reader connects: the ephemeral key and the engagement.
pub struct HolderEngagement {
    e_device_key: p256::SecretKey,
    engagement: Tag24<DeviceEngagement>,
    qr: String,
}

impl std::fmt::Debug for HolderEngagement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HolderEngagement").field("qr", &self.qr).finish_non_exhaustive()
    }
}

impl HolderEngagement {
    /// A new engagement with a fresh ephemeral P-256 key (isomdl's generator, OS randomness).
    /// `ble_peripheral_uuid`: the BLE service UUID when the phone acts as the peripheral server
    /// (the mode the shells' BLE adapters offer); `None` for an engagement without a retrieval
    /// method (the in-process transport of the tests).
    pub fn new(ble_peripheral_uuid: Option<[u8; 16]>) -> Result<Self, MdocError> {
        let (e_device_key, public) =
            create_p256_ephemeral_keys().map_err(|e| MdocError::Malformed(format!("ephemeral key: {e}")))?;
        let key_bytes = Tag24::new(public).map_err(|e| MdocError::Malformed(format!("EDeviceKey: {e}")))?;
        let device_retrieval_methods = ble_peripheral_uuid.map(|uuid| {
            NonEmptyVec::new(DeviceRetrievalMethod::BLE(BleOptions {
                peripheral_server_mode: Some(PeripheralServerMode {
                    uuid: uuid::Uuid::from_bytes(uuid),
                    ble_device_address: None,
                }),
                central_client_mode: None,
            }))
        });
        let engagement = DeviceEngagement {
            version: "1.0".into(),
            security: Security(1, key_bytes),
            device_retrieval_methods,
            server_retrieval_methods: None,
            protocol_info: None,
        };
        let engagement = Tag24::new(engagement).map_err(|e| MdocError::Malformed(format!("DeviceEngagement: {e}")))?;
        let qr = engagement.to_qr_code_uri().map_err(|e| MdocError::Malformed(format!("QR code: {e}")))?;
        Ok(HolderEngagement { e_device_key, engagement, qr })
    }

    /// The QR code content: `mdoc:` + base64url(DeviceEngagement).
    pub fn qr_code(&self) -> &str {
        &self.qr
    }

    /// The `DeviceEngagement` CBOR (for an NFC handover later).
    pub fn engagement_bytes(&self) -> &[u8] {
        &self.engagement.inner_bytes
    }

    /// Accept the reader's `SessionEstablishment`: derive the session keys, decrypt and check the
    /// `DeviceRequest`. `documents` are those the citizen may present (one per docType);
    /// `reader_trust` the reader CA certificates of the trust list; `now_unix` the clock.
    ///
    /// Refused, each with its code: an oversized or malformed message, a request that does not
    /// decrypt, a reader whose authentication is invalid, untrusted or expired, a reader asking
    /// for an element its certificate does not authorise. On refusal the engagement is spent:
    /// send [`session_termination`] and show a new QR code.
    pub fn accept(
        self,
        session_establishment: &[u8],
        documents: Vec<HolderDocument>,
        reader_trust: &[TrustAnchor],
        now_unix: i64,
    ) -> Result<(HolderSession, PresentationRequest), MdocError> {
        bound(session_establishment, MAX_REQUEST_MESSAGE_BYTES)?;
        let establishment: SessionEstablishment = isomdl::cbor::from_slice(session_establishment)
            .map_err(|e| MdocError::Malformed(format!("SessionEstablishment: {e}")))?;
        let transcript = Transcript::new(SessionTranscript180135(
            self.engagement.clone(),
            establishment.e_reader_key.clone(),
            Handover::QR,
        ))?;
        let mut keys = SessionKeys::derive(&self.e_device_key, establishment.e_reader_key.as_ref(), &transcript)?;
        let plaintext = keys.decrypt_from_reader(establishment.data.as_ref())?;
        let request = parse_request(&plaintext)?;

        let mut held: BTreeMap<String, HolderDocument> = BTreeMap::new();
        for doc in documents {
            let doc_type = doc.doc_type().to_owned();
            if held.insert(doc_type, doc).is_some() {
                return Err(MdocError::SessionState("two documents of one docType: pass the one to present"));
            }
        }

        let (reader, items) = check_request(&request, &transcript.value, reader_trust, now_unix)?;
        let presentation = PresentationRequest {
            reader,
            documents: items
                .iter()
                .map(|item| {
                    let doc = held.get(&item.doc_type);
                    RequestedDocument {
                        doc_type: item.doc_type.clone(),
                        held: doc.is_some(),
                        elements: item
                            .namespaces
                            .iter()
                            .flat_map(|(ns, elements)| {
                                elements.iter().map(move |(id, retain)| RequestedElement {
                                    namespace: ns.clone(),
                                    identifier: id.clone(),
                                    intent_to_retain: *retain,
                                    held: doc.is_some_and(|d| d.holds(ns, id)),
                                })
                            })
                            .collect(),
                    }
                })
                .collect(),
        };
        let documents = held.iter().map(|(t, d)| (t.clone(), d.document.clone())).collect::<BTreeMap<_, _>>();
        let session = HolderSession {
            keys,
            transcript,
            documents: NonEmptyMap::try_from(documents).ok(),
            device_keys: held.into_iter().map(|(t, d)| (t, d.device_key)).collect(),
            requested: items,
            stage: Stage::AwaitingSelection,
        };
        Ok((session, presentation))
    }
}

/// The holder's checks of a decrypted `DeviceRequest` (structure, version, reader
/// authentication for the session of `session_transcript`, authorisation), without a session:
/// the fuzz target of the request parser.
#[doc(hidden)]
pub fn check_device_request(
    plaintext: &[u8],
    session_transcript: &[u8],
    reader_trust: &[TrustAnchor],
    now_unix: i64,
) -> Result<ReaderIdentity, MdocError> {
    bound(plaintext, MAX_REQUEST_MESSAGE_BYTES)?;
    let transcript = crate::session::parse_transcript(session_transcript)?;
    let request = parse_request(plaintext)?;
    check_request(&request, &transcript, reader_trust, now_unix).map(|(reader, _)| reader)
}

fn parse_request(plaintext: &[u8]) -> Result<DeviceRequest, MdocError> {
    let request: DeviceRequest =
        isomdl::cbor::from_slice(plaintext).map_err(|e| MdocError::Malformed(format!("DeviceRequest: {e}")))?;
    // 1.1 (ISO 18013-5 second edition) adds readerAuthAll and request info; the per-document
    // readerAuth checked here is in both.
    if request.version != "1.0" && request.version != "1.1" {
        return Err(MdocError::Unsupported(format!("DeviceRequest version {}", request.version)));
    }
    Ok(request)
}

/// Reader authentication of every document request (all or none, one reader), then the
/// reader's authorisation of every requested element.
fn check_request(
    request: &DeviceRequest,
    transcript: &SessionTranscript180135,
    reader_trust: &[TrustAnchor],
    now_unix: i64,
) -> Result<(ReaderIdentity, Vec<ItemsRequest>), MdocError> {
    let mut reader: Option<AuthenticatedReader> = None;
    let mut anonymous = false;
    let mut items = Vec::new();
    for doc_request in request.doc_requests.iter() {
        match &doc_request.reader_auth {
            Some(auth) => {
                let this = verify_reader_auth(auth, transcript, &doc_request.items_request, reader_trust, now_unix)?;
                if reader.as_ref().is_some_and(|r| r.subject != this.subject) {
                    return Err(MdocError::ReaderAuthInvalid("document requests signed by different readers".into()));
                }
                reader = Some(this);
            }
            None => anonymous = true,
        }
        items.push(doc_request.items_request.as_ref().clone());
    }
    if anonymous && reader.is_some() {
        return Err(MdocError::ReaderAuthInvalid("some document requests are not authenticated".into()));
    }
    let Some(reader) = reader else {
        return Ok((ReaderIdentity::Anonymous, items));
    };
    if let Some(authorised) = &reader.authorised {
        for item in &items {
            for (ns, elements) in item.namespaces.iter() {
                for id in elements.keys() {
                    let ok = authorised.get(&item.doc_type).and_then(|n| n.get(ns)).is_some_and(|ids| ids.contains(id));
                    if !ok {
                        return Err(MdocError::ReaderNotAuthorised {
                            doc_type: item.doc_type.clone(),
                            namespace: ns.clone(),
                            element: id.clone(),
                        });
                    }
                }
            }
        }
    }
    Ok((ReaderIdentity::Authenticated(reader), items))
}

/// What the reader asks, to show the citizen before any selection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PresentationRequest {
    /// Who asks.
    pub reader: ReaderIdentity,
    /// The documents asked for, in the reader's order.
    pub documents: Vec<RequestedDocument>,
}

/// One requested document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestedDocument {
    /// docType asked for.
    pub doc_type: String,
    /// Whether the holder offered a document of this type.
    pub held: bool,
    /// The elements asked for.
    pub elements: Vec<RequestedElement>,
}

/// One requested element.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestedElement {
    /// Namespace, e.g. `org.iso.18013.5.1`.
    pub namespace: String,
    /// Element identifier, e.g. `family_name`.
    pub identifier: String,
    /// The reader says it will keep the value after the session.
    pub intent_to_retain: bool,
    /// The document holds it (otherwise it cannot be disclosed).
    pub held: bool,
}

/// One element the citizen agreed to disclose.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SelectedElement {
    /// docType of the document.
    pub doc_type: String,
    /// Namespace.
    pub namespace: String,
    /// Element identifier.
    pub identifier: String,
}

/// Bytes the device key store must sign for one document: ECDSA P-256 with SHA-256 over
/// `message` (the COSE `Sig_structure` of the DeviceSignature over this session's
/// `DeviceAuthenticationBytes`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureRequest {
    /// The document whose device key signs (the wallet maps it to the key-store alias).
    pub doc_type: String,
    /// The bytes to sign.
    pub message: Vec<u8>,
}

enum Stage {
    AwaitingSelection,
    Signing { prepared: PreparedDeviceResponse, requests: Vec<SignatureRequest> },
    Responded,
    Ended,
}

/// An established session on the holder's side. See the module documentation for the steps.
pub struct HolderSession {
    keys: SessionKeys,
    transcript: Transcript,
    documents: Option<Documents>,
    device_keys: BTreeMap<String, VerifyingKey>,
    requested: Vec<ItemsRequest>,
    stage: Stage,
}

impl std::fmt::Debug for HolderSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HolderSession").field("documents", &self.device_keys.keys()).finish_non_exhaustive()
    }
}

/// What the reader sent after the response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HolderEvent {
    /// The reader ended the session (status 20).
    Ended,
}

impl HolderSession {
    /// `SessionTranscriptBytes` of this session (what device authentication binds; a consent
    /// receipt records its hash).
    pub fn session_transcript_bytes(&self) -> &[u8] {
        &self.transcript.bytes
    }

    /// Prepare the `DeviceResponse` with exactly `selection` (each element requested and held;
    /// otherwise `mdoc.selection_invalid`) and return what the key store must sign, one request
    /// per document. May be called again to change the selection before [`Self::finish`].
    pub fn prepare_response(&mut self, selection: &[SelectedElement]) -> Result<Vec<SignatureRequest>, MdocError> {
        if matches!(self.stage, Stage::Responded | Stage::Ended) {
            return Err(MdocError::SessionState("the session already responded or ended"));
        }
        if selection.is_empty() {
            return Err(MdocError::SessionState("empty selection: decline instead"));
        }
        let mut permitted: PermittedItems = BTreeMap::new();
        let unique: BTreeSet<&SelectedElement> = selection.iter().collect();
        for sel in unique {
            let requested = self.requested.iter().any(|item| {
                item.doc_type == sel.doc_type
                    && item.namespaces.get(&sel.namespace).is_some_and(|e| e.contains_key(&sel.identifier))
            });
            let held = self
                .documents
                .as_ref()
                .and_then(|d| d.get(&sel.doc_type))
                .and_then(|d| d.namespaces.get(&sel.namespace))
                .is_some_and(|items| items.contains_key(&sel.identifier));
            if !requested || !held {
                return Err(MdocError::SelectionInvalid {
                    doc_type: sel.doc_type.clone(),
                    namespace: sel.namespace.clone(),
                    element: sel.identifier.clone(),
                });
            }
            permitted
                .entry(sel.doc_type.clone())
                .or_default()
                .entry(sel.namespace.clone())
                .or_default()
                .push(sel.identifier.clone());
        }
        let Some(documents) = &self.documents else {
            return Err(MdocError::NoDocuments);
        };
        let preparer = Preparer { documents, transcript: &self.transcript.value };
        let prepared = preparer.prepare_response(&self.requested, permitted);
        // isomdl hands the documents out for signing last first.
        let mut requests = Vec::new();
        for doc in prepared.prepared_documents.iter().rev() {
            let PreparedCose::Sign1(sign1) = &doc.prepared_cose else {
                return Err(MdocError::Unsupported("device MAC".into()));
            };
            requests
                .push(SignatureRequest { doc_type: doc.doc_type.clone(), message: sign1.signature_payload().to_vec() });
        }
        if requests.is_empty() {
            return Err(MdocError::NoDocuments);
        }
        self.stage = Stage::Signing { prepared, requests: requests.clone() };
        Ok(requests)
    }

    /// Complete the response with the key store's signatures, in the order of the
    /// [`SignatureRequest`]s (DER or raw `r || s`). Each is checked under the document's device
    /// key first (`mdoc.device_signature_invalid`, the session stays ready for another try).
    /// Returns the `SessionData` message for the reader.
    pub fn finish(&mut self, signatures: &[Vec<u8>]) -> Result<Vec<u8>, MdocError> {
        let Stage::Signing { prepared, requests } = &self.stage else {
            return Err(MdocError::SessionState("finish before prepare_response"));
        };
        if signatures.len() != requests.len() {
            return Err(MdocError::SessionState("one signature per signature request"));
        }
        let mut prepared = prepared.clone();
        for (request, raw) in requests.iter().zip(signatures) {
            let key = self.device_keys.get(&request.doc_type).ok_or(MdocError::DeviceSignatureInvalid)?;
            let sig = if raw.len() == 64 { Signature::from_slice(raw) } else { Signature::from_der(raw) }
                .map_err(|_| MdocError::DeviceSignatureInvalid)?;
            let sig = sig.normalize_s().unwrap_or(sig);
            key.verify(&request.message, &sig).map_err(|_| MdocError::DeviceSignatureInvalid)?;
            prepared.submit_next_signature(sig.to_bytes().to_vec());
        }
        let response = prepared.finalize_response();
        let plaintext =
            isomdl::cbor::to_vec(&response).map_err(|e| MdocError::Malformed(format!("DeviceResponse: {e}")))?;
        let message = session_data(self.keys.encrypt_from_device(&plaintext)?)?;
        self.stage = Stage::Responded;
        Ok(message)
    }

    /// The citizen refuses: the session-termination message for the reader.
    pub fn decline(&mut self) -> Vec<u8> {
        self.stage = Stage::Ended;
        session_termination()
    }

    /// A message from the reader after the response. Only the end of the session is supported;
    /// a second request in one session is refused (`mdoc.unsupported`): the reader starts a new
    /// session from a new QR code.
    pub fn handle_message(&mut self, message: &[u8]) -> Result<HolderEvent, MdocError> {
        bound(message, MAX_REQUEST_MESSAGE_BYTES)?;
        match parse_session_data(message)? {
            Incoming::Ended(STATUS_TERMINATION) => {
                self.stage = Stage::Ended;
                Ok(HolderEvent::Ended)
            }
            Incoming::Ended(status) => {
                self.stage = Stage::Ended;
                Err(MdocError::SessionEnded(status))
            }
            Incoming::Data(_) => Err(MdocError::Unsupported("a second request in one session".into())),
        }
    }
}

/// isomdl's response preparation (selected elements, DeviceAuthentication, the COSE_Sign1 to
/// be signed outside) works on any `DeviceSession`: this one borrows the held documents.
struct Preparer<'a> {
    documents: &'a Documents,
    transcript: &'a SessionTranscript180135,
}

impl DeviceSession for Preparer<'_> {
    type ST = SessionTranscript180135;

    fn documents(&self) -> &Documents {
        self.documents
    }

    fn session_transcript(&self) -> SessionTranscript180135 {
        self.transcript.clone()
    }

    fn device_auth_type(&self) -> DeviceAuthType {
        DeviceAuthType::Sign1
    }
}

#[cfg(test)]
mod tests {
    /// An FFI wrapper keeps the session in a `Mutex` inside an exported object while it awaits
    /// the key store, which requires `Send` (and `Sync` for the shared `Arc`).
    #[test]
    fn sessions_can_wait_across_an_async_key_store_call() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<super::HolderEngagement>();
        send_sync::<super::HolderSession>();
        send_sync::<super::HolderDocument>();
        send_sync::<crate::ReaderSession>();
    }
}
