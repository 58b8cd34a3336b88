//! The reader (verifier) side of an in-person presentation, sans-I/O:
//!
//! 1. [`ReaderSession::start`] with the scanned QR string and the documents/elements to ask
//!    for: a fresh ephemeral `EReaderKey`, the session keys, and the `SessionEstablishment`
//!    message carrying the encrypted `DeviceRequest` (each document request signed with the
//!    reader's key and certificate when a [`ReaderAuthKey`] is given).
//! 2. [`ReaderSession::handle_response`] with the holder's `SessionData`: decrypted, then
//!    checked by [`crate::verify_device_response`] against *this* session's transcript, so a
//!    response recorded in another session fails device authentication.
//! 3. [`ReaderSession::end_session`]: the termination message.

use std::collections::BTreeMap;

use isomdl::definitions::device_engagement::DeviceEngagement;
use isomdl::definitions::device_request::{DeviceRequest, DocRequest, ItemsRequest};
use isomdl::definitions::helpers::{NonEmptyMap, NonEmptyVec, Tag24};
use isomdl::definitions::session::{create_p256_ephemeral_keys, Handover};
use isomdl::definitions::{SessionEstablishment, SessionTranscript180135};

use crate::reader_auth::ReaderAuthKey;
use crate::session::{
    bound, parse_session_data, peer_public_key, session_termination, Incoming, SessionKeys, Transcript,
    MAX_ENGAGEMENT_QR_CHARS, MAX_RESPONSE_MESSAGE_BYTES,
};
use crate::{verify_device_response, MdocError, TrustAnchor, Verdict, VerifyRequest};

/// The elements of one document the reader asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocumentRequest {
    /// docType, e.g. `org.iso.18013.5.1.mDL`.
    pub doc_type: String,
    /// namespace → element identifier → intent to retain.
    pub namespaces: BTreeMap<String, BTreeMap<String, bool>>,
}

impl DocumentRequest {
    /// A request for `doc_type` with no elements yet.
    pub fn new(doc_type: impl Into<String>) -> Self {
        DocumentRequest { doc_type: doc_type.into(), namespaces: BTreeMap::new() }
    }

    /// Ask for one more element (`intent_to_retain`: the reader will keep the value).
    pub fn element(mut self, namespace: &str, identifier: &str, intent_to_retain: bool) -> Self {
        self.namespaces.entry(namespace.to_owned()).or_default().insert(identifier.to_owned(), intent_to_retain);
        self
    }

    fn items_request(&self) -> Result<ItemsRequest, MdocError> {
        let mut namespaces = BTreeMap::new();
        for (ns, elements) in &self.namespaces {
            let elements = NonEmptyMap::try_from(elements.clone())
                .map_err(|_| MdocError::SessionState("a namespace without elements"))?;
            namespaces.insert(ns.clone(), elements);
        }
        let namespaces = NonEmptyMap::try_from(namespaces)
            .map_err(|_| MdocError::SessionState("a document request without elements"))?;
        Ok(ItemsRequest { doc_type: self.doc_type.clone(), namespaces, request_info: None })
    }
}

/// An established session on the reader's side.
pub struct ReaderSession {
    e_reader_key: p256::SecretKey,
    transcript: Transcript,
    keys: SessionKeys,
}

impl std::fmt::Debug for ReaderSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReaderSession").finish_non_exhaustive()
    }
}

impl ReaderSession {
    /// Parse the holder's QR code, create this session's ephemeral key and return the session
    /// with the `SessionEstablishment` to send. Refused: a QR code that is not an mdoc
    /// engagement of cipher suite 1 with a P-256 key (`mdoc.engagement_invalid`), an oversized
    /// one (`mdoc.too_large`).
    pub fn start(
        qr_code: &str,
        requests: &[DocumentRequest],
        reader_auth: Option<&ReaderAuthKey>,
    ) -> Result<(ReaderSession, Vec<u8>), MdocError> {
        Self::establish(qr_code, |transcript| device_request(&transcript.value, requests, reader_auth))
    }

    /// Like [`Self::start`] with an arbitrary `DeviceRequest` plaintext, encrypted as a genuine
    /// reader would: for the tests and the fuzz seeds of the holder's request parser.
    #[doc(hidden)]
    pub fn start_with_request_bytes(qr_code: &str, plaintext: &[u8]) -> Result<(ReaderSession, Vec<u8>), MdocError> {
        Self::establish(qr_code, |_| Ok(plaintext.to_vec()))
    }

    fn establish(
        qr_code: &str,
        request: impl FnOnce(&Transcript) -> Result<Vec<u8>, MdocError>,
    ) -> Result<(ReaderSession, Vec<u8>), MdocError> {
        let engagement = parse_engagement(qr_code)?;
        let (e_reader_key, public) =
            create_p256_ephemeral_keys().map_err(|e| MdocError::Malformed(format!("ephemeral key: {e}")))?;
        let e_reader_key_bytes = Tag24::new(public).map_err(|e| MdocError::Malformed(format!("EReaderKey: {e}")))?;
        let e_device_key = engagement.as_ref().security.1.as_ref().clone();
        let transcript =
            Transcript::new(SessionTranscript180135(engagement, e_reader_key_bytes.clone(), Handover::QR))?;
        let mut keys = SessionKeys::derive(&e_reader_key, &e_device_key, &transcript)?;
        let plaintext = request(&transcript)?;
        let establishment = SessionEstablishment {
            e_reader_key: e_reader_key_bytes,
            data: keys.encrypt_from_reader(&plaintext)?.into(),
        };
        let message = isomdl::cbor::to_vec(&establishment)
            .map_err(|e| MdocError::Malformed(format!("SessionEstablishment: {e}")))?;
        Ok((ReaderSession { e_reader_key, transcript, keys }, message))
    }

    /// `SessionTranscriptBytes` of this session.
    pub fn session_transcript_bytes(&self) -> &[u8] {
        &self.transcript.bytes
    }

    /// Decrypt the holder's `SessionData` and verify the `DeviceResponse` in it against this
    /// session (issuer chain to `trust_anchors`, MSO signature, digests, validity, device
    /// authentication over this session's transcript). Session-level refusals come back as an
    /// invalid [`Verdict`] too: `mdoc.too_large`, `mdoc.malformed`, `mdoc.session_ended` (the
    /// holder declined), `mdoc.session_decrypt_failed` (another session's or an altered message).
    pub fn handle_response(&mut self, message: &[u8], trust_anchors: &[TrustAnchor], now_unix: i64) -> Verdict {
        match self.decrypt_response(message) {
            Ok(device_response) => self.verify(&device_response, trust_anchors, now_unix),
            Err(e) => Verdict::invalid(e),
        }
    }

    /// The first half of [`Self::handle_response`]: the `DeviceResponse` bytes in the holder's
    /// `SessionData` (for a verifier that keeps the raw response as evidence).
    pub fn decrypt_response(&mut self, message: &[u8]) -> Result<Vec<u8>, MdocError> {
        bound(message, MAX_RESPONSE_MESSAGE_BYTES)?;
        match parse_session_data(message)? {
            Incoming::Data(ciphertext) => self.keys.decrypt_from_device(&ciphertext),
            Incoming::Ended(status) => Err(MdocError::SessionEnded(status)),
        }
    }

    /// The second half of [`Self::handle_response`]: verify `DeviceResponse` bytes against this
    /// session. A response recorded in another session fails here (`mdoc.device_auth_failed`).
    pub fn verify(&self, device_response: &[u8], trust_anchors: &[TrustAnchor], now_unix: i64) -> Verdict {
        verify_device_response(&VerifyRequest {
            device_response,
            session_transcript: &self.transcript.bytes,
            trust_anchors,
            now_unix,
            reader_ephemeral_key: Some(&self.e_reader_key),
        })
    }

    /// The session-termination message for the holder.
    pub fn end_session(&self) -> Vec<u8> {
        session_termination()
    }
}

/// The `DeviceRequest` CBOR for `requests`, each signed for `transcript` when `reader_auth` is given.
fn device_request(
    transcript: &SessionTranscript180135,
    requests: &[DocumentRequest],
    reader_auth: Option<&ReaderAuthKey>,
) -> Result<Vec<u8>, MdocError> {
    let mut doc_requests = Vec::new();
    for request in requests {
        let items_request =
            Tag24::new(request.items_request()?).map_err(|e| MdocError::Malformed(format!("ItemsRequest: {e}")))?;
        let reader_auth = reader_auth.map(|key| key.sign(transcript, &items_request)).transpose()?;
        doc_requests.push(DocRequest { items_request, reader_auth });
    }
    let doc_requests =
        NonEmptyVec::try_from(doc_requests).map_err(|_| MdocError::SessionState("no document requested"))?;
    let request = DeviceRequest {
        version: DeviceRequest::VERSION.into(),
        doc_requests,
        reader_auth_all: None,
        device_request_info: None,
    };
    isomdl::cbor::to_vec(&request).map_err(|e| MdocError::Malformed(format!("DeviceRequest: {e}")))
}

/// The plaintext `DeviceRequest` a reader would send in the session of `session_transcript`
/// (`SessionTranscriptBytes`): for the fuzz seeds of the holder's request parser.
#[doc(hidden)]
pub fn device_request_for_transcript(
    session_transcript: &[u8],
    requests: &[DocumentRequest],
    reader_auth: Option<&ReaderAuthKey>,
) -> Result<Vec<u8>, MdocError> {
    device_request(&crate::session::parse_transcript(session_transcript)?, requests, reader_auth)
}

/// Check an engagement QR string as a reader would before starting a session: `mdoc:` +
/// base64url of a `DeviceEngagement` of version 1.0 (isomdl), cipher suite 1, with a valid
/// P-256 `EDeviceKey` (`mdoc.engagement_invalid`; `mdoc.too_large` over the bound).
pub fn validate_engagement_qr(qr_code: &str) -> Result<(), MdocError> {
    parse_engagement(qr_code).map(|_| ())
}

/// The same check on the `DeviceEngagement` CBOR itself (NFC engagement; the fuzz target).
pub fn validate_engagement_cbor(engagement: &[u8]) -> Result<(), MdocError> {
    bound(engagement, MAX_ENGAGEMENT_QR_CHARS)?;
    let engagement = Tag24::<DeviceEngagement>::from_bytes(engagement.to_vec())
        .map_err(|e| MdocError::EngagementInvalid(e.to_string()))?;
    check_engagement(&engagement)
}

pub(crate) fn parse_engagement(qr_code: &str) -> Result<Tag24<DeviceEngagement>, MdocError> {
    bound(qr_code.as_bytes(), MAX_ENGAGEMENT_QR_CHARS)?;
    let engagement = Tag24::<DeviceEngagement>::from_qr_code_uri(qr_code)
        .map_err(|e| MdocError::EngagementInvalid(e.to_string()))?;
    check_engagement(&engagement)?;
    Ok(engagement)
}

fn check_engagement(engagement: &Tag24<DeviceEngagement>) -> Result<(), MdocError> {
    let security = &engagement.as_ref().security;
    if security.0 != 1 {
        return Err(MdocError::EngagementInvalid(format!("cipher suite {}", security.0)));
    }
    peer_public_key(security.1.as_ref()).map_err(|e| MdocError::EngagementInvalid(e.to_string()))?;
    Ok(())
}
