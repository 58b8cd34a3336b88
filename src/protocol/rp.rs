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

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::{sha256_hex, SignedStatement};

// ---------------------------------------------------------------------------------------------
// Endpoints
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Limits and tags
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Claims vocabulary
// ---------------------------------------------------------------------------------------------

/// A claim an RP may ask for: wire name and labels shown to the citizen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClaimInfo {
    /// Wire name (also the SD-JWT claim name).
    pub name: &'static str,
    /// Vietnamese label.
    pub label_vi: &'static str,
    /// English label.
    pub label_en: &'static str,
}

/// Every claim name the protocol knows. Anything else in a request is refused.
pub const CLAIMS: &[ClaimInfo] = &[
    ClaimInfo { name: "full_name", label_vi: "Họ, chữ đệm và tên", label_en: "Full name" },
    ClaimInfo { name: "birthdate", label_vi: "Ngày sinh", label_en: "Date of birth" },
    ClaimInfo { name: "sex", label_vi: "Giới tính", label_en: "Sex" },
    ClaimInfo {
        name: "cccd_number", label_vi: "Số định danh cá nhân", label_en: "Personal identification number"
    },
    ClaimInfo { name: "nationality", label_vi: "Quốc tịch", label_en: "Nationality" },
    ClaimInfo { name: "place_of_origin", label_vi: "Quê quán", label_en: "Place of origin" },
    ClaimInfo { name: "permanent_address", label_vi: "Nơi thường trú", label_en: "Permanent residence" },
    ClaimInfo { name: "phone", label_vi: "Số điện thoại", label_en: "Phone number" },
    ClaimInfo { name: "age_over_18", label_vi: "Đủ 18 tuổi", label_en: "Aged 18 or over" },
];

/// Look up a claim by wire name.
pub fn claim_info(name: &str) -> Option<&'static ClaimInfo> {
    CLAIMS.iter().find(|c| c.name == name)
}

// ---------------------------------------------------------------------------------------------
// Registry
// ---------------------------------------------------------------------------------------------

/// One registered relying party.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelyingPartyEntry {
    /// Stable id (`[a-z0-9-]{1,64}`).
    pub id: String,
    /// Display name in Vietnamese.
    pub name_vi: String,
    /// Display name in English.
    pub name_en: String,
    /// Web origins the RP may show login codes on (`https://host[:port]`).
    pub origins: Vec<String>,
    /// Exact redirect URIs for the same-device flow.
    pub redirect_uris: Vec<String>,
    /// P-256 public key, SEC1 uncompressed, base64url.
    pub public_key: String,
    /// Claims the RP may ask for.
    pub claims: Vec<String>,
    /// Purposes the RP is registered for (`login`, `account_opening`, …).
    pub purposes: Vec<String>,
}

/// Claims of the registry JWS (ES256 by the server's key, `kid` from `GET /v1/keys`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RegistryClaims {
    /// The server audience.
    pub iss: String,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// The core refuses the document after this.
    pub exp: i64,
    /// Increases with every change.
    pub version: u64,
    /// All registered RPs.
    pub relying_parties: Vec<RelyingPartyEntry>,
}

/// Answer of `GET /v1/relying-parties`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RegistryResponse {
    /// Compact JWS over [`RegistryClaims`].
    pub registry: String,
}

// ---------------------------------------------------------------------------------------------
// Login request and QR frame codec
// ---------------------------------------------------------------------------------------------

/// Why a QR frame (or a login request) was refused by the parser. Each maps to a stable error
/// code in the core's message catalogue.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QrParseError {
    /// Longer than [`QR_MAX_TEXT`] (or the binary form longer than it can be).
    #[error("payload too long")]
    TooLong,
    /// Not a citizen login code at all (wrong prefix, not base64url, wrong magic).
    #[error("not a login code")]
    NotLoginCode,
    /// A version this build does not understand.
    #[error("unsupported version {0}")]
    UnsupportedVersion(u8),
    /// Ends before the last field.
    #[error("truncated")]
    Truncated,
    /// Bytes after the MAC.
    #[error("trailing bytes")]
    TrailingBytes,
    /// A field is out of its domain.
    #[error("invalid field {0}")]
    InvalidField(&'static str),
}

/// The unsigned content of a login request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginRequest {
    /// Same-device flow (the RP app opened a deep link) rather than a QR code on another screen.
    pub same_device: bool,
    /// Random, chosen by the RP.
    pub session_id: [u8; 16],
    /// Random, chosen by the RP; returned in the ID token.
    pub nonce: [u8; 16],
    /// Unix seconds.
    pub issued_at: i64,
    /// Unix seconds; at most [`QR_MAX_LIFETIME_SECS`] after `issued_at`.
    pub expires_at: i64,
    /// Registered RP id.
    pub rp_id: String,
    /// Origin the code is shown on.
    pub origin: String,
    /// Requested claims (from [`CLAIMS`], no duplicates).
    pub claims: Vec<String>,
}

/// A login request with the RP's signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedLoginRequest {
    /// The request.
    pub request: LoginRequest,
    /// P-256 raw `r‖s` over `REQUEST_TAG ‖ request.to_bytes()`.
    pub rp_signature: [u8; 64],
}

/// One frame of the animated QR code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QrFrame {
    /// The signed request.
    pub signed: SignedLoginRequest,
    /// Animation step: `(now − issued_at) / QR_STEP_SECS` when the frame was made.
    pub step: u32,
    /// HMAC-SHA-256 truncated to 128 bits, under the session secret.
    pub mac: [u8; 16],
}

fn put_str8(out: &mut Vec<u8>, s: &str) {
    debug_assert!(s.len() <= 255);
    out.push(s.len() as u8);
    out.extend_from_slice(s.as_bytes());
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], QrParseError> {
        if self.buf.len() < n {
            return Err(QrParseError::Truncated);
        }
        let (a, b) = self.buf.split_at(n);
        self.buf = b;
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, QrParseError> {
        Ok(self.take(1)?[0])
    }
    fn arr<const N: usize>(&mut self) -> Result<[u8; N], QrParseError> {
        Ok(self.take(N)?.try_into().expect("length checked"))
    }
    fn i64(&mut self) -> Result<i64, QrParseError> {
        Ok(i64::from_be_bytes(self.arr()?))
    }
    fn str8(&mut self, field: &'static str) -> Result<String, QrParseError> {
        let n = self.u8()? as usize;
        let b = self.take(n)?;
        if !b.iter().all(|c| c.is_ascii_graphic()) {
            return Err(QrParseError::InvalidField(field));
        }
        Ok(String::from_utf8(b.to_vec()).expect("ASCII is UTF-8"))
    }
}

/// Whether `id` is a well-formed RP id.
pub fn valid_rp_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
}

/// Whether `origin` is a serialised web origin: `https://host[:port]`, or `http://` for a
/// loopback host (development). No path, query, fragment or credentials.
pub fn valid_origin(origin: &str) -> bool {
    let Ok(u) = url::Url::parse(origin) else { return false };
    let loopback = matches!(u.host(), Some(url::Host::Ipv4(ip)) if ip.is_loopback())
        || matches!(u.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback())
        || u.host_str() == Some("localhost");
    let scheme_ok = u.scheme() == "https" || (u.scheme() == "http" && loopback);
    scheme_ok && u.origin().ascii_serialization() == origin
}

impl LoginRequest {
    /// Check every field's domain (the parser calls this; servers call it on creation).
    pub fn validate(&self) -> Result<(), QrParseError> {
        if !valid_rp_id(&self.rp_id) {
            return Err(QrParseError::InvalidField("rp_id"));
        }
        if !valid_origin(&self.origin) {
            return Err(QrParseError::InvalidField("origin"));
        }
        // Checked: both times come from the wire, and `i64::MAX - (-1)` must not panic (found
        // by the fuzz target).
        let lifetime = self.expires_at.checked_sub(self.issued_at);
        if self.expires_at <= self.issued_at || lifetime.is_none_or(|l| l > QR_MAX_LIFETIME_SECS) {
            return Err(QrParseError::InvalidField("expires_at"));
        }
        if self.issued_at <= 0 {
            return Err(QrParseError::InvalidField("issued_at"));
        }
        if self.claims.len() > QR_MAX_CLAIMS {
            return Err(QrParseError::InvalidField("claims"));
        }
        for (i, c) in self.claims.iter().enumerate() {
            if claim_info(c).is_none() || self.claims[..i].contains(c) {
                return Err(QrParseError::InvalidField("claims"));
            }
        }
        Ok(())
    }

    /// Binary encoding (magic, version, flags, fields). Panics only on values `validate`
    /// refuses (strings over 255 bytes), which the constructors never produce.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128);
        out.extend_from_slice(QR_MAGIC);
        out.push(QR_VERSION);
        out.push(u8::from(self.same_device));
        out.extend_from_slice(&self.session_id);
        out.extend_from_slice(&self.nonce);
        out.extend_from_slice(&self.issued_at.to_be_bytes());
        out.extend_from_slice(&self.expires_at.to_be_bytes());
        put_str8(&mut out, &self.rp_id);
        put_str8(&mut out, &self.origin);
        out.push(self.claims.len() as u8);
        for c in &self.claims {
            put_str8(&mut out, c);
        }
        out
    }

    /// The bytes the RP signs.
    pub fn signing_input(&self) -> Vec<u8> {
        let mut m = REQUEST_TAG.to_vec();
        m.extend_from_slice(&self.to_bytes());
        m
    }

    /// Session id as base64url (the form used in JSON bodies and URLs).
    pub fn session_id_b64(&self) -> String {
        crate::crypto::b64(&self.session_id)
    }

    /// Nonce as base64url.
    pub fn nonce_b64(&self) -> String {
        crate::crypto::b64(&self.nonce)
    }

    fn read(r: &mut Reader<'_>) -> Result<LoginRequest, QrParseError> {
        if r.take(2).map_err(|_| QrParseError::NotLoginCode)? != QR_MAGIC {
            return Err(QrParseError::NotLoginCode);
        }
        let version = r.u8()?;
        if version != QR_VERSION {
            return Err(QrParseError::UnsupportedVersion(version));
        }
        let flags = r.u8()?;
        if flags & !1 != 0 {
            return Err(QrParseError::InvalidField("flags"));
        }
        let session_id = r.arr()?;
        let nonce = r.arr()?;
        let issued_at = r.i64()?;
        let expires_at = r.i64()?;
        let rp_id = r.str8("rp_id")?;
        let origin = r.str8("origin")?;
        let n = r.u8()? as usize;
        if n > QR_MAX_CLAIMS {
            return Err(QrParseError::InvalidField("claims"));
        }
        let mut claims = Vec::with_capacity(n);
        for _ in 0..n {
            claims.push(r.str8("claims")?);
        }
        let req = LoginRequest {
            same_device: flags & 1 == 1,
            session_id,
            nonce,
            issued_at,
            expires_at,
            rp_id,
            origin,
            claims,
        };
        req.validate()?;
        Ok(req)
    }
}

impl SignedLoginRequest {
    /// Binary encoding: request then signature.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.request.to_bytes();
        out.extend_from_slice(&self.rp_signature);
        out
    }

    /// Strict parse of [`SignedLoginRequest::to_bytes`] (no trailing bytes).
    pub fn from_bytes(bytes: &[u8]) -> Result<SignedLoginRequest, QrParseError> {
        if bytes.len() > QR_MAX_TEXT {
            return Err(QrParseError::TooLong);
        }
        let mut r = Reader { buf: bytes };
        let request = LoginRequest::read(&mut r)?;
        let rp_signature = r.arr()?;
        if !r.buf.is_empty() {
            return Err(QrParseError::TrailingBytes);
        }
        Ok(SignedLoginRequest { request, rp_signature })
    }

    /// Verify the RP's signature with its registered key (SEC1 bytes).
    pub fn verify_rp_signature(&self, rp_public_key: &[u8]) -> Result<(), crate::crypto::SigError> {
        crate::crypto::verify_wire_signature(
            rp_public_key,
            &self.request.signing_input(),
            &crate::crypto::b64(&self.rp_signature),
        )
    }
}

/// The animation step at `now` for a request issued at `issued_at` (0 before issue).
pub fn step_at(issued_at: i64, now: i64) -> u32 {
    let s = (now - issued_at).max(0) / QR_STEP_SECS;
    u32::try_from(s).unwrap_or(u32::MAX)
}

impl QrFrame {
    /// Make the frame for `step` under `session_secret`.
    pub fn new(signed: SignedLoginRequest, step: u32, session_secret: &[u8]) -> QrFrame {
        let mac = frame_mac(session_secret, &signed.to_bytes(), step);
        QrFrame { signed, step, mac }
    }

    /// Binary encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.signed.to_bytes();
        out.extend_from_slice(&self.step.to_be_bytes());
        out.extend_from_slice(&self.mac);
        out
    }

    /// The text shown in the QR code: [`QR_PREFIX`] then base64url.
    pub fn to_text(&self) -> String {
        format!("{QR_PREFIX}{}", crate::crypto::b64(&self.to_bytes()))
    }

    /// Strict parse of the QR text. Checks size first, then prefix, canonical base64url, magic,
    /// version, every field, and that nothing follows the MAC. Does not check signature, MAC or
    /// time: those need the registry, the session secret and a clock.
    pub fn parse(text: &str) -> Result<QrFrame, QrParseError> {
        if text.len() > QR_MAX_TEXT {
            return Err(QrParseError::TooLong);
        }
        let body = text.strip_prefix(QR_PREFIX).ok_or(QrParseError::NotLoginCode)?;
        let bytes = crate::crypto::unb64(body).ok_or(QrParseError::NotLoginCode)?;
        let mut r = Reader { buf: &bytes };
        let request = LoginRequest::read(&mut r)?;
        let rp_signature = r.arr()?;
        let step = u32::from_be_bytes(r.arr()?);
        let mac = r.arr()?;
        if !r.buf.is_empty() {
            return Err(QrParseError::TrailingBytes);
        }
        Ok(QrFrame { signed: SignedLoginRequest { request, rp_signature }, step, mac })
    }

    /// Constant-time check of the MAC under `session_secret`.
    pub fn verify_mac(&self, session_secret: &[u8]) -> bool {
        // Truncated comparison through the hmac crate's constant-time verifier.
        frame_hmac(session_secret, &self.signed.to_bytes(), self.step).verify_truncated_left(&self.mac).is_ok()
    }
}

fn frame_hmac(secret: &[u8], signed_bytes: &[u8], step: u32) -> Hmac<Sha256> {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes any key length");
    m.update(FRAME_TAG);
    m.update(signed_bytes);
    m.update(&step.to_be_bytes());
    m
}

fn frame_mac(secret: &[u8], signed_bytes: &[u8], step: u32) -> [u8; 16] {
    let full = frame_hmac(secret, signed_bytes, step).finalize().into_bytes();
    full[..16].try_into().expect("32 ≥ 16")
}

// ---------------------------------------------------------------------------------------------
// QR session API
// ---------------------------------------------------------------------------------------------

/// Body of `POST /v1/qr/sessions` (RP → server).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct QrSessionCreate {
    /// base64url of [`SignedLoginRequest::to_bytes`].
    pub request: String,
    /// Same-device flow only: where the citizen's app sends the answer (must be registered).
    #[serde(default)]
    pub redirect_uri: Option<String>,
}

/// Answer of `POST /v1/qr/sessions`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct QrSessionCreated {
    /// base64url session id (as in the request).
    pub session_id: String,
    /// Secret the RP presents when polling.
    pub poll_token: String,
    /// Unix seconds.
    pub expires_at: i64,
}

/// State of a login session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QrSessionState {
    /// Waiting for a scan.
    Pending,
    /// A device scanned it; waiting for the citizen's decision.
    Scanned,
    /// The citizen approved; the ID token is ready.
    Approved,
    /// The citizen declined.
    Denied,
    /// Expired, or cancelled after a wrong verification code.
    Cancelled,
}

/// Answer of `GET /v1/qr/sessions/{id}?poll_token=…`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct QrSessionStatus {
    /// Where the session is.
    pub state: QrSessionState,
    /// Current frame text while pending.
    pub frame: Option<String>,
    /// Seconds until the frame changes.
    pub frame_valid_for: i64,
    /// The code the portal shows once the session was scanned.
    pub verification_code: Option<String>,
    /// Once approved: the ID token (ES256 JWS over [`IdTokenClaims`]).
    pub id_token: Option<String>,
    /// Unix seconds.
    pub expires_at: i64,
}

/// Body of `POST /v1/qr/scan`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct QrScanRequest {
    /// The frame text exactly as scanned.
    pub frame: String,
}

/// Answer of `POST /v1/qr/scan`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct QrScanResponse {
    /// base64url session id.
    pub session_id: String,
    /// Three two-digit codes; the one the portal shows is among them.
    pub code_choices: Vec<String>,
    /// Unix seconds.
    pub expires_at: i64,
}

/// The citizen's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Approve: log in and release the named claims.
    Approve,
    /// Decline.
    Deny,
}

/// Body of `POST /v1/qr/decision`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct QrDecisionRequest {
    /// base64url session id.
    pub session_id: String,
    /// Approve or deny.
    pub decision: Decision,
    /// The code the citizen picked (approve only).
    pub verification_code: Option<String>,
    /// The receipt the device signed (approve only).
    pub receipt: Option<ConsentReceipt>,
    /// Purpose `consent`; nonce = request nonce (base64url); subject `receipt:<digest>` when
    /// approving, `deny:<session id>` when denying.
    pub signed: SignedStatement,
}

/// Answer of `POST /v1/qr/decision`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct QrDecisionResponse {
    /// Server countersignature of the receipt (approve only).
    pub countersignature: Option<String>,
    /// Same-device flow: where the app sends the citizen next, carrying the ID token.
    pub redirect_url: Option<String>,
}

/// Claims of the ID token the RP receives.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IdTokenClaims {
    /// The identity server audience.
    pub iss: String,
    /// Pairwise subject: differs per RP, so RPs cannot join their records on it.
    pub sub: String,
    /// The RP id.
    pub aud: String,
    /// The RP's nonce (base64url).
    pub nonce: String,
    /// Session id (base64url).
    pub sid: String,
    /// Issued at.
    pub iat: i64,
    /// Expiry.
    pub exp: i64,
    /// When the citizen approved.
    pub auth_time: i64,
    /// The released claims, by wire name.
    #[serde(default)]
    pub claims: serde_json::Map<String, serde_json::Value>,
}

// ---------------------------------------------------------------------------------------------
// Receipts
// ---------------------------------------------------------------------------------------------

/// What a receipt records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptKind {
    /// Login to a portal by QR code or deep link.
    QrLogin,
    /// Selective disclosure of PID claims.
    DataShare,
}

impl ReceiptKind {
    /// Stable wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReceiptKind::QrLogin => "qr_login",
            ReceiptKind::DataShare => "data_share",
        }
    }
}

/// A consent receipt: every field is bound by the device's signature through
/// [`ConsentReceipt::digest`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentReceipt {
    /// UUID v4 chosen by the device.
    pub receipt_id: String,
    /// Login or data share.
    pub kind: ReceiptKind,
    /// The relying party.
    pub rp_id: String,
    /// Its registered Vietnamese name at the time.
    pub rp_name: String,
    /// The origin (login) or response origin (share).
    pub origin: String,
    /// `login` or the RP's stated purpose code.
    pub purpose: String,
    /// Exactly the released claims, sorted.
    pub claims: Vec<String>,
    /// Days the RP may keep the data (0: only for the session).
    pub retention_days: u32,
    /// Login session id or share request id.
    pub request_id: String,
    /// The RP's nonce.
    pub nonce: String,
    /// The signing device.
    pub device_id: String,
    /// Unix seconds of consent.
    pub issued_at: i64,
    /// Position in the device's receipt chain: 1, 2, 3, … without gaps (0 = a receipt made
    /// before receipts were chained). Bound by the digest, hence by the device signature and the
    /// server's countersignature.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub chain_seq: u64,
    /// Digest of the previous receipt in the chain ([`RECEIPT_CHAIN_GENESIS`] for the first).
    /// Empty for unchained (older) receipts.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub prev_digest: String,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// `prev_digest` of the first receipt of a chain.
pub const RECEIPT_CHAIN_GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

fn put_field(out: &mut Vec<u8>, f: &[u8]) {
    out.extend_from_slice(&(f.len() as u32).to_be_bytes());
    out.extend_from_slice(f);
}

impl ConsentReceipt {
    /// Injective encoding: tag and every field length-prefixed, claims counted. A chained
    /// receipt (`chain_seq` > 0) uses the V2 tag and appends its sequence and the previous
    /// digest; an unchained one encodes exactly as before, so older receipts keep their digest.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        put_field(&mut out, if self.chain_seq > 0 { RECEIPT_TAG_V2 } else { RECEIPT_TAG });
        put_field(&mut out, self.receipt_id.as_bytes());
        put_field(&mut out, self.kind.as_str().as_bytes());
        put_field(&mut out, self.rp_id.as_bytes());
        put_field(&mut out, self.rp_name.as_bytes());
        put_field(&mut out, self.origin.as_bytes());
        put_field(&mut out, self.purpose.as_bytes());
        out.extend_from_slice(&(self.claims.len() as u32).to_be_bytes());
        for c in &self.claims {
            put_field(&mut out, c.as_bytes());
        }
        put_field(&mut out, &self.retention_days.to_be_bytes());
        put_field(&mut out, self.request_id.as_bytes());
        put_field(&mut out, self.nonce.as_bytes());
        put_field(&mut out, self.device_id.as_bytes());
        put_field(&mut out, &self.issued_at.to_be_bytes());
        if self.chain_seq > 0 {
            put_field(&mut out, &self.chain_seq.to_be_bytes());
            put_field(&mut out, self.prev_digest.as_bytes());
        }
        out
    }

    /// SHA-256 hex of the canonical bytes.
    pub fn digest(&self) -> String {
        sha256_hex(&self.canonical_bytes())
    }

    /// The subject of the device statement that signs this receipt.
    pub fn statement_subject(&self) -> String {
        format!("receipt:{}", self.digest())
    }
}

/// Claims of the server's countersignature (ES256 JWS).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptCountersignClaims {
    /// The server audience.
    pub iss: String,
    /// The receipt.
    pub receipt_id: String,
    /// Its digest (hex).
    pub receipt_digest: String,
    /// The device whose signature is countersigned.
    pub device_id: String,
    /// The device statement's signature (base64url), so the countersignature names exactly one
    /// device signature.
    pub device_signature: String,
    /// The device counter of that statement.
    pub counter: u64,
    /// Unix seconds.
    pub countersigned_at: i64,
}

/// Body of `POST /v1/consent/receipts` (data shares; QR logins are countersigned by the decision).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReceiptCountersignRequest {
    /// The receipt.
    pub receipt: ConsentReceipt,
    /// Purpose `consent`, nonce = receipt nonce, subject `receipt:<digest>`.
    pub signed: SignedStatement,
    /// The RP's share request JWS, so the server can check the receipt matches what the RP
    /// asked (registered RP, purpose, claims within required ∪ optional).
    pub share_request: String,
}

/// Answer of `POST /v1/consent/receipts`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReceiptCountersignResponse {
    /// JWS over [`ReceiptCountersignClaims`].
    pub countersignature: String,
}

/// A receipt with both signatures, as stored and exported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedReceipt {
    /// The receipt.
    pub receipt: ConsentReceipt,
    /// The device's statement over it.
    pub device_statement: SignedStatement,
    /// The device public key (SEC1 uncompressed, base64url).
    pub device_public_key: String,
    /// The server's countersignature (JWS).
    pub countersignature: String,
    /// Data shares: what became of the presentation, signed by the device once known. Absent
    /// while unknown (e.g. the app was killed while sending) and for logins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<DeliveryRecord>,
}

/// What became of a data share's presentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// The relying party received and accepted the presentation.
    Delivered,
    /// The relying party received the presentation and refused it (it did see the data).
    Refused,
    /// No connection to the relying party: the presentation never left the device.
    NotDelivered,
    /// Sent, but no answer (timeout, connection lost): it may have reached the relying party.
    Unknown,
}

impl DeliveryStatus {
    /// Stable wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Refused => "refused",
            DeliveryStatus::NotDelivered => "not_delivered",
            DeliveryStatus::Unknown => "unknown",
        }
    }
}

/// The device's signed record of a delivery outcome: a consent statement (nonce = the receipt's
/// nonce) whose subject is [`delivery_subject`], so it names exactly one receipt and one status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    /// The outcome.
    pub status: DeliveryStatus,
    /// The device statement (its `issued_at` is the time of the outcome).
    pub signed: SignedStatement,
}

/// Subject of the statement recording a delivery outcome.
pub fn delivery_subject(receipt: &ConsentReceipt, status: DeliveryStatus) -> String {
    format!("delivery:{}:{}", status.as_str(), receipt.digest())
}

/// Subject of the device's signed head of the receipt chain.
pub fn receipt_head_subject(seq: u64, digest: &str) -> String {
    format!("receipts:{seq}:{digest}")
}

/// Export format of receipts.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReceiptExport {
    /// Format version (1).
    pub format: u32,
    /// The server's signing key (JWK) that countersigned.
    pub server_key: serde_json::Value,
    /// The receipts, oldest first.
    pub receipts: Vec<SignedReceipt>,
    /// The device's signed head of the chain (`receipts:<last seq>:<last digest>`): removing
    /// receipts from the end of an export breaks it. Absent when no receipt is chained.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head: Option<SignedStatement>,
}

// ---------------------------------------------------------------------------------------------
// PID credential and sharing
// ---------------------------------------------------------------------------------------------

/// Body of `POST /v1/credentials/pid` (Bearer).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CredentialRequest {
    /// Purpose `credential`, nonce from a `credential` challenge, subject
    /// `pid:<sha256 hex of the device public key SEC1 bytes>`.
    pub signed: SignedStatement,
}

/// Answer of `POST /v1/credentials/pid`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CredentialResponse {
    /// The SD-JWT (issuer JWT then disclosures, `~`-separated, ending in `~`), every personal
    /// claim selectively disclosable, `cnf.jwk` = the device key.
    pub sd_jwt: String,
    /// Unix seconds.
    pub expires_at: i64,
}

/// Claims of an RP's share request (JWS ES256 by the RP's registered key, `typ`
/// [`SHARE_REQUEST_TYP`], `kid` = RP id).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareRequestClaims {
    /// The RP id.
    pub iss: String,
    /// Random id (base64url).
    pub request_id: String,
    /// Random nonce the KB-JWT must carry.
    pub nonce: String,
    /// Registered purpose code.
    pub purpose: String,
    /// Why, in Vietnamese (shown to the citizen).
    pub purpose_vi: String,
    /// Why, in English.
    pub purpose_en: String,
    /// Days the RP will keep the data.
    pub retention_days: u32,
    /// Claims the RP cannot proceed without.
    pub required: Vec<String>,
    /// Claims the citizen may add.
    pub optional: Vec<String>,
    /// Where the presentation is posted (an origin registered for the RP, plus a path).
    pub response_uri: String,
    /// Issued at.
    pub iat: i64,
    /// Expiry.
    pub exp: i64,
}

/// Body the core posts to an RP's `response_uri`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PresentationSubmission {
    /// The request this answers.
    pub request_id: String,
    /// SD-JWT presentation with KB-JWT (`aud` = RP id, `nonce` = request nonce).
    pub presentation: String,
}

/// What the reference RP verifier answers.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PresentationResult {
    /// Whether the presentation verified.
    pub verified: bool,
    /// The disclosed claims.
    pub claims: serde_json::Map<String, serde_json::Value>,
}

/// Error codes of this module's endpoints (in addition to [`super::codes`]).
pub mod codes {
    /// Unknown login session.
    pub const QR_UNKNOWN_SESSION: &str = "qr_unknown_session";
    /// Frame older than the server accepts (forwarded photo).
    pub const QR_FRAME_STALE: &str = "qr_frame_stale";
    /// Frame MAC does not verify.
    pub const QR_FRAME_FORGED: &str = "qr_frame_forged";
    /// Session expired.
    pub const QR_EXPIRED: &str = "qr_expired";
    /// Session already scanned by another device.
    pub const QR_ALREADY_SCANNED: &str = "qr_already_scanned";
    /// Decision for a session that was already decided (replayed approval).
    pub const QR_ALREADY_DECIDED: &str = "qr_already_decided";
    /// Approval bound to another session.
    pub const QR_SESSION_MISMATCH: &str = "qr_session_mismatch";
    /// Approved claims differ from the requested ones.
    pub const CLAIMS_CHANGED: &str = "claims_changed";
    /// The citizen picked the wrong verification code.
    pub const QR_WRONG_CODE: &str = "qr_wrong_code";
    /// RP signature does not verify.
    pub const RP_SIGNATURE_INVALID: &str = "rp_signature_invalid";
    /// RP not registered.
    pub const RP_UNKNOWN: &str = "rp_unknown";
    /// Origin or redirect URI not registered for the RP.
    pub const ORIGIN_UNREGISTERED: &str = "origin_unregistered";
    /// Claim or purpose the RP is not registered for.
    pub const CLAIM_NOT_ALLOWED: &str = "claim_not_allowed";
    /// Presentation refused by the RP verifier.
    pub const PRESENTATION_INVALID: &str = "presentation_invalid";
    /// Presentation or request nonce already used.
    pub const PRESENTATION_REPLAYED: &str = "presentation_replayed";
    /// Presentation meant for another RP.
    pub const PRESENTATION_WRONG_AUDIENCE: &str = "presentation_wrong_audience";
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> LoginRequest {
        LoginRequest {
            same_device: false,
            session_id: [7; 16],
            nonce: [9; 16],
            issued_at: 1_780_000_000,
            expires_at: 1_780_000_120,
            rp_id: "dvc-demo".into(),
            origin: "https://dichvucong.example.gov.vn".into(),
            claims: vec!["full_name".into(), "birthdate".into()],
        }
    }

    fn frame() -> QrFrame {
        QrFrame::new(SignedLoginRequest { request: request(), rp_signature: [3; 64] }, 5, b"secret")
    }

    #[test]
    fn frame_round_trips_and_fits_a_qr_code() {
        let f = frame();
        let text = f.to_text();
        assert!(text.len() < 400, "{}", text.len());
        assert_eq!(QrFrame::parse(&text).unwrap(), f);
        assert!(f.verify_mac(b"secret"));
        assert!(!f.verify_mac(b"other"));
        let mut next = f.clone();
        next.step += 1;
        assert!(!next.verify_mac(b"secret"), "the MAC binds the step");
    }

    #[test]
    fn parser_is_strict() {
        let f = frame();
        let bytes = f.to_bytes();
        let enc = |b: &[u8]| format!("{QR_PREFIX}{}", crate::crypto::b64(b));
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert_eq!(QrFrame::parse(&enc(&trailing)), Err(QrParseError::TrailingBytes));
        assert_eq!(QrFrame::parse(&enc(&bytes[..bytes.len() - 1])), Err(QrParseError::Truncated));
        let mut v2 = bytes.clone();
        v2[2] = 2;
        assert_eq!(QrFrame::parse(&enc(&v2)), Err(QrParseError::UnsupportedVersion(2)));
        assert_eq!(QrFrame::parse(&"A".repeat(QR_MAX_TEXT + 1)), Err(QrParseError::TooLong));
        assert_eq!(QrFrame::parse("https://example.com"), Err(QrParseError::NotLoginCode));
        assert_eq!(QrFrame::parse(&format!("{QR_PREFIX}!!!")), Err(QrParseError::NotLoginCode));
        assert_eq!(QrFrame::parse(&enc(b"XX\x01")), Err(QrParseError::NotLoginCode));
        let mut flags = bytes.clone();
        flags[3] = 0x80;
        assert_eq!(QrFrame::parse(&enc(&flags)), Err(QrParseError::InvalidField("flags")));
    }

    #[test]
    fn fields_are_validated() {
        let bad = |f: fn(&mut LoginRequest), field| {
            let mut r = request();
            f(&mut r);
            let fr = QrFrame::new(SignedLoginRequest { request: r, rp_signature: [0; 64] }, 0, b"k");
            assert_eq!(QrFrame::parse(&fr.to_text()), Err(QrParseError::InvalidField(field)));
        };
        bad(|r| r.origin = "http://evil.example".into(), "origin");
        bad(|r| r.origin = "https://a.example/path".into(), "origin");
        bad(|r| r.rp_id = "Bank".into(), "rp_id");
        bad(|r| r.claims.push("password".into()), "claims");
        bad(|r| r.claims.push("full_name".into()), "claims");
        bad(|r| r.expires_at = r.issued_at + QR_MAX_LIFETIME_SECS + 1, "expires_at");
        bad(|r| r.expires_at = r.issued_at, "expires_at");
        // Far apart enough that `expires_at - issued_at` overflows (fuzz finding): refused, no panic.
        bad(
            |r| {
                r.issued_at = -0x2000_0000_0000_0000;
                r.expires_at = i64::MAX - 1;
            },
            "expires_at",
        );
        assert!(valid_origin("http://127.0.0.1:8443"));
        assert!(valid_origin("https://id.example.gov.vn"));
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut seed = 0x1234_5678_u64;
        for len in 0..600 {
            let b: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect();
            assert!(QrFrame::parse(&format!("{QR_PREFIX}{}", crate::crypto::b64(&b))).is_err());
        }
    }

    #[test]
    fn steps_advance_every_two_seconds() {
        assert_eq!(step_at(100, 99), 0);
        assert_eq!(step_at(100, 101), 0);
        assert_eq!(step_at(100, 102), 1);
        assert_eq!(step_at(100, 107), 3);
    }

    #[test]
    fn receipt_digest_binds_every_field() {
        let r = ConsentReceipt {
            receipt_id: "r".into(),
            kind: ReceiptKind::DataShare,
            rp_id: "bank".into(),
            rp_name: "Ngân hàng".into(),
            origin: "https://bank.example".into(),
            purpose: "account_opening".into(),
            claims: vec!["birthdate".into(), "full_name".into()],
            retention_days: 365,
            request_id: "q".into(),
            nonce: "n".into(),
            device_id: "d".into(),
            issued_at: 1,
            chain_seq: 0,
            prev_digest: String::new(),
        };
        let d = r.digest();
        let mut c = r.clone();
        c.claims = vec!["birthdate".into(), "full_namex".into()];
        assert_ne!(c.digest(), d);
        let mut c = r.clone();
        c.retention_days = 366;
        assert_ne!(c.digest(), d);
        let mut c = r.clone();
        c.kind = ReceiptKind::QrLogin;
        assert_ne!(c.digest(), d);
        // Moving bytes between adjacent fields changes the digest (length prefixes).
        let mut c = r.clone();
        c.claims = vec!["birthdatefull_name".into()];
        assert_ne!(c.digest(), d);
        assert_eq!(r.statement_subject(), format!("receipt:{d}"));
        // Chained: the sequence and the previous digest are bound too (and the tag changes).
        let mut c1 = r.clone();
        c1.chain_seq = 1;
        c1.prev_digest = RECEIPT_CHAIN_GENESIS.into();
        assert_ne!(c1.digest(), d);
        let mut c2 = c1.clone();
        c2.chain_seq = 2;
        assert_ne!(c2.digest(), c1.digest());
        let mut c3 = c1.clone();
        c3.prev_digest = d.clone();
        assert_ne!(c3.digest(), c1.digest());
        // An unchained receipt serialises without the chain fields (older digests stay valid).
        let json = serde_json::to_value(&r).unwrap();
        assert!(json.get("chain_seq").is_none() && json.get("prev_digest").is_none());
    }
}
