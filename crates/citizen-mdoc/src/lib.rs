//! Sans-I/O offline verifier of ISO/IEC 18013-5 mdocs: the verifier mode's core (issue 13).
//!
//! [`verify_device_response`] takes the bytes of a `DeviceResponse`, the session transcript of
//! the in-person session, the trust anchors (IACA certificates from the cached trust list) and
//! the clock, and returns a [`Verdict`]: valid, or invalid with the first failing check
//! ([`MdocError`], each with a stable `mdoc.*` code), plus the parts that could not be checked
//! ([`Unchecked`]). Nothing here does I/O, so the CLI, the bindings and the fuzz target share it.
//!
//! `isomdl` 0.2.0 supplies the CBOR/COSE/mdoc structures only. Its own reader checks the MSO
//! signature but neither the `valueDigests` of the disclosed items nor the MSO validity window
//! (fixed upstream on git only), so every check is done here; see ARCHITECTURE.md, decision 31.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod chain;
mod error;
mod issue;
mod verify;

pub use chain::TrustAnchor;
pub use error::{MdocError, Unchecked};
pub use issue::{
    check_issued, issue_issuer_signed, read_issued, verify_x5c, IssueRequest, IssuedDocument, StatusRef,
    MAX_ISSUER_SIGNED_BYTES,
};
pub use verify::{
    verify_device_response, DeviceAuthResult, Verdict, VerifiedDocument, VerifyRequest, MAX_DEVICE_RESPONSE_BYTES,
};

/// CBOR values of disclosed elements, re-exported so callers need not name `ciborium`.
pub use ciborium::Value as CborValue;
