//! Relying parties: the registry, the animated login QR code, consent receipts, the PID
//! credential and selective sharing. Wire formats shared by the core and the reference server.
//!
//! # The login QR code
//!
//! A portal (a *relying party*, RP) that wants a citizen to log in creates a **login request**:
//! a random session id and nonce, its registered id and origin, the claims it asks for, an issue
//! and expiry time. It signs the request with its registered P-256 key and hands it to the
//! identity server, which keeps a per-session secret. The portal then shows a QR code that
//! changes every [`QR_STEP_SECS`] seconds: each **frame** is the signed request plus a time step
//! and a MAC under the session secret (the technique of BankID's animated QR). A photo of the code
//! forwarded to someone else is stale by the time it is scanned, because the server refuses a
//! frame whose step is more than [`QR_MAX_FRAME_AGE_STEPS`] behind its own.
//!
//! The frame is binary, fixed-order and length-prefixed, then base64url (no padding) after the
//! prefix [`QR_PREFIX`]. The parser is strict: size limit before decoding, canonical base64,
//! known version, every field validated, no trailing bytes. It never panics (fuzzed in
//! `fuzz/fuzz_targets/qr_frame.rs`).
//!
//! ```text
//! magic "CZ" | version u8 (=1) | flags u8 (bit 0: same-device)
//! session_id [16] | nonce [16] | issued_at i64 BE | expires_at i64 BE
//! rp_id str8 | origin str8 | claim count u8, claims str8…
//! rp_signature [64]                      (P-256 r‖s over REQUEST_TAG ‖ everything above)
//! step u32 BE | mac [16]                  (HMAC-SHA-256/128 over FRAME_TAG ‖ everything above)
//! ```
//! (`str8` = one length byte then that many ASCII bytes.)
//!
//! # Consent receipts
//!
//! Every QR login and every data share yields a [`ConsentReceipt`]: what was shared, with whom,
//! why, for how long. The device signs a [`Statement`](super::Statement) whose subject is
//! `receipt:<sha256 of the receipt's canonical bytes>`; the server countersigns with an ES256 JWS
//! ([`ReceiptCountersignClaims`]). Anyone holding the device's public key and the server's key can
//! verify an exported receipt.
//!
//! # Modules
//!
//! Split by concern (as rustls splits its `msgs`): the claims vocabulary, the registry,
//! the login request and QR frame codec, the QR session API, receipts, the PID credential and
//! selective sharing, and the error [`codes`]. Every item is re-exported here, so
//! `protocol::rp::X` names stay as they were.

mod claims;
pub mod codes;
mod credential;
mod qr;
mod receipt;
mod registry;
mod session;

pub use claims::*;
pub use credential::*;
pub use qr::*;
pub use receipt::*;
pub use registry::*;
pub use session::*;

// Endpoints

/// `GET /v1/relying-parties` — the registry as a server-signed JWS ([`RegistryResponse`]).
pub const PATH_REGISTRY: &str = "/v1/relying-parties";
/// `POST /v1/qr/sessions` — an RP registers a signed login request ([`QrSessionCreate`]).
pub const PATH_QR_SESSIONS: &str = "/v1/qr/sessions";
/// `GET /v1/qr/sessions/{id}?poll_token=…` — the RP polls ([`QrSessionStatus`]).
pub const PATH_QR_SESSION_PREFIX: &str = "/v1/qr/sessions/";
/// `POST /v1/qr/scan` (Bearer) — the device reports a scanned frame ([`QrScanRequest`]).
pub const PATH_QR_SCAN: &str = "/v1/qr/scan";
/// `POST /v1/qr/decision` (Bearer + statement, purpose `consent`) — approve or deny
/// ([`QrDecisionRequest`]).
pub const PATH_QR_DECISION: &str = "/v1/qr/decision";
/// `POST /v1/credentials/pid` (Bearer + statement, purpose `credential`) — issue the PID
/// SD-JWT bound to the device key ([`CredentialRequest`]).
pub const PATH_CREDENTIAL: &str = "/v1/credentials/pid";
/// `POST /v1/consent/receipts` (Bearer + statement, purpose `consent`) — countersign a data-share
/// receipt ([`ReceiptCountersignRequest`]).
pub const PATH_RECEIPTS: &str = "/v1/consent/receipts";
/// `POST /v1/consent/receipts/in-person` (a bookkeeping statement, purpose `activity`, nonce =
/// the receipt's digest, subject [`receipt_sync_subject`]) — countersign the receipt of an
/// in-person presentation made offline ([`InPersonCountersignRequest`]; decision 45).
pub const PATH_RECEIPTS_IN_PERSON: &str = "/v1/consent/receipts/in-person";

// Limits and tags

/// Longest accepted origin (bytes): what the frame's one-byte length prefix can state. A
/// DNS name (≤ 253 bytes) with scheme and port can be longer; such an origin is refused at
/// validation rather than truncated by the encoder.
pub const MAX_ORIGIN_LEN: usize = 255;

/// Text prefix of a login QR frame (also the `p` parameter of the same-device deep link).
pub const QR_PREFIX: &str = "CZQR1:";
/// Longest frame text accepted, checked before any decoding.
pub const QR_MAX_TEXT: usize = 1024;
/// Binary magic.
pub const QR_MAGIC: &[u8; 2] = b"CZ";
/// Current version.
pub const QR_VERSION: u8 = 1;
/// Seconds per animation step.
pub const QR_STEP_SECS: i64 = 2;
/// How many steps behind the server's current step a scanned frame may be (so a frame is at most
/// ~`(QR_MAX_FRAME_AGE_STEPS + 1) * QR_STEP_SECS` seconds old when the server sees it).
pub const QR_MAX_FRAME_AGE_STEPS: u32 = 2;
/// Longest lifetime of a login session (expiry − issue).
pub const QR_MAX_LIFETIME_SECS: i64 = 300;
/// Most claims a login request may name.
pub const QR_MAX_CLAIMS: usize = 16;
/// Domain separation of the RP's signature over a login request.
pub const REQUEST_TAG: &[u8] = b"CITIZEN-CORE/RP-LOGIN-REQUEST/V1";
/// Domain separation of the frame MAC.
pub const FRAME_TAG: &[u8] = b"CITIZEN-CORE/QR-FRAME/V1";
/// Domain separation of receipt digests.
pub const RECEIPT_TAG: &[u8] = b"CITIZEN-CORE/CONSENT-RECEIPT/V1";
/// Domain tag of a chained receipt's digest.
pub const RECEIPT_TAG_V2: &[u8] = b"CITIZEN-CORE/CONSENT-RECEIPT/V2";
/// `vct` of the PID credential.
pub const PID_VCT: &str = "urn:vn:citizen:pid:1";
/// `typ` of the RP's share-request JWS.
pub const SHARE_REQUEST_TYP: &str = "citizen-share-request+jwt";
/// How long a cached registry may be used offline before the core must refresh it.
pub const REGISTRY_MAX_AGE_SECS: i64 = 7 * 24 * 3600;
