//! Sans-I/O ISO/IEC 18013-5 mdoc crate of the citizen core (issue 13): the offline verifier and
//! the in-person presentation protocol (QR engagement, session encryption, device request and
//! response), for both the holder and the reader.
//!
//! **Verifier.** [`verify_device_response`] takes the bytes of a `DeviceResponse`, the session
//! transcript of the in-person session, the trust anchors (IACA certificates from the cached
//! trust list) and the clock, and returns a [`Verdict`]: valid, or invalid with the first
//! failing check ([`MdocError`], each with a stable `mdoc.*` code), plus the parts that could
//! not be checked ([`Unchecked`]).
//!
//! **Presentation.** The holder: [`HolderEngagement`] → [`HolderSession`] (the device key store
//! signs outside the crate: [`HolderSession::prepare_response`] then [`HolderSession::finish`]).
//! The reader: [`ReaderSession`]. Messages travel in the BLE framing of [`transport`].
//! Nothing here does I/O, so the CLI, the bindings and the fuzz targets share it.
//!
//! `isomdl` 0.2.0 supplies the CBOR/COSE/mdoc structures, the session key derivation and
//! encryption, and the response preparation. Its own reader checks the MSO signature but
//! neither the `valueDigests` of the disclosed items nor the MSO validity window (fixed upstream
//! on git only), so every check is done here; see ARCHITECTURE.md, decisions 31 and 33.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod chain;
mod error;
mod holder;
mod issue;
mod reader;
mod reader_auth;
mod session;
pub mod transport;
mod verify;

pub use chain::TrustAnchor;
pub use error::{MdocError, Unchecked};
pub use holder::{
    check_device_request, HolderDocument, HolderEngagement, HolderEvent, HolderSession, PresentationRequest,
    RequestedDocument, RequestedElement, SelectedElement, SignatureRequest,
};
pub use issue::{
    check_issued, issue_issuer_signed, read_issued, verify_x5c, IssueRequest, IssuedDocument, StatusRef,
    MAX_ISSUER_SIGNED_BYTES,
};
pub use reader::{
    device_request_for_transcript, validate_engagement_cbor, validate_engagement_qr, DocumentRequest, ReaderSession,
};
pub use reader_auth::{
    check_reader_certificate, encode_reader_authorisation, AuthenticatedReader, AuthorisedElements, ReaderAuthKey,
    ReaderIdentity, READER_AUTHORISATION_OID,
};
pub use session::{
    session_termination, MAX_ENGAGEMENT_QR_CHARS, MAX_REQUEST_MESSAGE_BYTES, MAX_RESPONSE_MESSAGE_BYTES,
};
pub use verify::{
    verify_device_response, DeviceAuthResult, Verdict, VerifiedDocument, VerifyRequest, MAX_DEVICE_RESPONSE_BYTES,
};

/// CBOR values of disclosed elements, re-exported so callers need not name `ciborium`.
pub use ciborium::Value as CborValue;
