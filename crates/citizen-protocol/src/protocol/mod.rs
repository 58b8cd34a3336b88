//! The wire protocol between the core and the e-government backend.
//!
//! Both sides compile this one module (the reference server depends on the core crate), so the
//! canonical bytes a device signs and the bytes a server verifies cannot drift apart.
//!
//! Everything here is pure data: no I/O, no clocks, no keys.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub mod chip;
pub mod corrections;
pub mod delegation;
pub mod discovery;
pub mod documents;
pub mod idqr;
pub mod recovery;
pub mod rp;
pub mod services;

/// Domain-separation tag that starts every signed statement. A signature made for this
/// protocol can never be replayed as a signature over some other structure.
pub const STATEMENT_TAG: &[u8] = b"CITIZEN-CORE/STATEMENT/V1";

/// Maximum clock skew (seconds) the server accepts between `issued_at` and its own clock.
pub const MAX_CLOCK_SKEW_SECS: i64 = 300;

/// Oldest signed submission the server accepts (a queued submission may wait offline this long).
pub const MAX_SUBMISSION_AGE_SECS: i64 = 30 * 24 * 3600;

/// Every purpose a device key may sign for. The server checks that the purpose of a statement
/// matches the endpoint it was sent to, so a login signature cannot revoke a device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// Proof of possession of a new device key during enrollment (nonce = enrollment id).
    Enroll,
    /// Challenge–response login.
    Login,
    /// The old device approves handing the account over to a new device (subject = enrollment id).
    Transfer,
    /// Revoke one of the account's devices (subject = the device id being revoked).
    RevokeDevice,
    /// Reset a forgotten passcode after an OTP (nonce = reset id).
    PasscodeReset,
    /// Submit a public-service request (nonce = submission id, subject = payload digest).
    /// Signed when the citizen submits, possibly offline; counted on its own counter so that
    /// logins between enqueue and delivery do not invalidate queued submissions.
    Submit,
    /// An activity-log entry or an anchor of the log's head (nonce = entry/head hash).
    Activity,
    /// Consent to a relying party: approve a QR login (subject `receipt:<digest>`), deny it
    /// (subject `deny:<session id>`), or sign a data-share receipt. Nonce = the RP's nonce.
    Consent,
    /// Ask for the PID credential bound to this device key (nonce from a challenge).
    Credential,
    /// Upload a verified chip read to raise the account to level 2 (nonce from a chip
    /// challenge, subject `chip:<digest of the uploaded files>`; see [`chip`]).
    Chip,
    /// Show the short identity QR (subject `idqr:<binding digest>`, nonce random, chosen by the
    /// device; see [`idqr`]). Never accepted by any other endpoint.
    IdentityQr,
    /// Signed by a **new** device's key during a recovery without the old phone (issue 15; see
    /// [`recovery`]): the proof of possession that starts it (nonce = enrollment id, subject
    /// [`recovery::start_subject`]) and the request that completes it after the waiting period
    /// (nonce = recovery id, subject [`recovery::COMPLETE_SUBJECT`]).
    Recovery,
    /// Signed by the **old** device's key (after its passcode) to cancel a recovery it was told
    /// about (nonce from a challenge, subject `recovery_cancel:<recovery id>`).
    RecoveryCancel,
    /// Re-binding after the device key was invalidated (issue 15): signed by the **new** key of
    /// the same device (nonce = re-binding id, subject `rebind:<new key digest>`).
    Rebind,
}

impl Purpose {
    /// Stable wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Enroll => "enroll",
            Purpose::Login => "login",
            Purpose::Transfer => "transfer",
            Purpose::RevokeDevice => "revoke_device",
            Purpose::PasscodeReset => "passcode_reset",
            Purpose::Submit => "submit",
            Purpose::Activity => "activity",
            Purpose::Consent => "consent",
            Purpose::Credential => "credential",
            Purpose::Chip => "chip",
            Purpose::IdentityQr => "identity_qr",
            Purpose::Recovery => "recovery",
            Purpose::RecoveryCancel => "recovery_cancel",
            Purpose::Rebind => "rebind",
        }
    }
}

/// Prefix of the statement subject that registers a device's **bookkeeping key** (ARCHITECTURE.md,
/// decision 26): `bookkeeping_key:<base64url SEC1 public key>`. The device key signs it in the
/// enrollment proof or, for a device enrolled before bookkeeping keys, in its next login; the
/// server then accepts that key for [`Purpose::Activity`] (log anchors) and nothing else, and a
/// verifier of an activity-log export accepts entries it signed once the device key vouched for
/// it this way.
pub const BOOKKEEPING_SUBJECT_PREFIX: &str = "bookkeeping_key:";

/// The subject that registers `public_key` (SEC1) as the device's bookkeeping key.
pub fn bookkeeping_subject(public_key: &[u8]) -> String {
    format!("{BOOKKEEPING_SUBJECT_PREFIX}{}", crate::crypto::b64(public_key))
}

/// The bookkeeping key a subject registers (SEC1 uncompressed), if it is such a subject with a
/// valid P-256 key.
pub fn bookkeeping_key_from_subject(subject: &str) -> Option<Vec<u8>> {
    let raw = crate::crypto::unb64(subject.strip_prefix(BOOKKEEPING_SUBJECT_PREFIX)?)?;
    let key = crate::crypto::parse_public_key(&raw).ok()?;
    Some(crate::crypto::sec1_uncompressed(&key))
}

/// The purposes a statement signed by the bookkeeping key may have: activity-log entries and
/// anchors. Everything else (login, submit, consent, credential, device management, passcode
/// reset, enrollment) needs the device key, whose use the citizen confirms.
pub fn bookkeeping_may_sign(purpose: Purpose) -> bool {
    matches!(purpose, Purpose::Activity)
}

/// What a device signs. Every field is bound by the signature through [`Statement::canonical_bytes`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement {
    /// What the signature authorises.
    pub purpose: Purpose,
    /// The server the signature is meant for (its origin, e.g. `https://id.example.gov.vn`).
    pub audience: String,
    /// Server-issued single-use nonce (base64url, ≥128 bits), or the enrollment/reset id.
    pub nonce: String,
    /// The signing device.
    pub device_id: String,
    /// Strictly increasing per-key counter; the server refuses anything not above the last seen.
    pub counter: u64,
    /// Unix seconds at signing time.
    pub issued_at: i64,
    /// Operation-specific subject (target device id, enrollment id, body digest) or empty.
    pub subject: String,
}

impl Statement {
    /// The exact bytes that are signed: the tag followed by each field, length-prefixed
    /// (u32 big-endian), in a fixed order. Length prefixes make the encoding injective, so two
    /// different statements can never share signed bytes.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let counter = self.counter.to_be_bytes();
        let issued_at = self.issued_at.to_be_bytes();
        let fields: [&[u8]; 7] = [
            self.purpose.as_str().as_bytes(),
            self.audience.as_bytes(),
            self.nonce.as_bytes(),
            self.device_id.as_bytes(),
            &counter,
            &issued_at,
            self.subject.as_bytes(),
        ];
        let mut out = Vec::with_capacity(STATEMENT_TAG.len() + fields.iter().map(|f| f.len() + 4).sum::<usize>() + 4);
        out.extend_from_slice(&crate::crypto::len_prefix(STATEMENT_TAG.len()));
        out.extend_from_slice(STATEMENT_TAG);
        for f in fields {
            out.extend_from_slice(&crate::crypto::len_prefix(f.len()));
            out.extend_from_slice(f);
        }
        out
    }
}

/// A statement with its P-256 signature (raw `r || s`, 64 bytes, base64url without padding).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedStatement {
    /// What was signed.
    pub statement: Statement,
    /// base64url(raw r||s).
    pub signature: String,
}

/// SHA-256 as lowercase hex; used for subjects that bind a body.
pub fn sha256_hex(data: &[u8]) -> String {
    let d = Sha256::digest(data);
    d.iter().map(|b| format!("{b:02x}")).collect()
}

// ---------------------------------------------------------------------------------------------
// Endpoints. Paths are relative to the server base URL.
// ---------------------------------------------------------------------------------------------

/// `POST /v1/enrollment/start`
pub const PATH_ENROLL_START: &str = "/v1/enrollment/start";
/// `POST /v1/enrollment/complete`
pub const PATH_ENROLL_COMPLETE: &str = "/v1/enrollment/complete";
/// `POST /v1/auth/challenge`
pub const PATH_CHALLENGE: &str = "/v1/auth/challenge";
/// `POST /v1/auth/login`
pub const PATH_LOGIN: &str = "/v1/auth/login";
/// `POST /v1/auth/refresh`
pub const PATH_REFRESH: &str = "/v1/auth/refresh";
/// `POST /v1/auth/logout` (Bearer)
pub const PATH_LOGOUT: &str = "/v1/auth/logout";
/// `GET /v1/devices` (Bearer)
pub const PATH_DEVICES: &str = "/v1/devices";
/// `POST /v1/devices/revoke` (Bearer + signed statement, purpose `revoke_device`)
pub const PATH_DEVICE_REVOKE: &str = "/v1/devices/revoke";
/// `POST /v1/devices/status` — a device asks whether it is still the active one.
pub const PATH_DEVICE_STATUS: &str = "/v1/devices/status";
/// `POST /v1/devices/transfer-approval` (Bearer + signed statement, purpose `transfer`)
pub const PATH_TRANSFER_APPROVAL: &str = "/v1/devices/transfer-approval";
/// `POST /v1/passcode-reset/start`
pub const PATH_RESET_START: &str = "/v1/passcode-reset/start";
/// `POST /v1/passcode-reset/complete`
pub const PATH_RESET_COMPLETE: &str = "/v1/passcode-reset/complete";
/// `GET /v1/health`
pub const PATH_HEALTH: &str = "/v1/health";

/// Format of an SPKI pin: standard base64 (with padding) of SHA-256 over the DER
/// SubjectPublicKeyInfo, as in HPKP; an optional `sha256/` prefix is accepted.
pub fn spki_pin(spki_der: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(spki_der))
}

/// Body of `POST /v1/enrollment/start`.
#[derive(Clone, Serialize, Deserialize)]
pub struct EnrollStartRequest {
    /// 12-digit CCCD number.
    pub cccd: String,
    /// `YYYY-MM-DD`.
    pub date_of_birth: String,
    /// Phone in E.164 (`+84…`).
    pub phone: String,
}

/// Answer to `POST /v1/enrollment/start`: an OTP went to the registered phone.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EnrollStartResponse {
    /// Identifies this enrollment; also the nonce of the proof-of-possession statement.
    pub enrollment_id: String,
    /// The phone the OTP went to, masked (`+84 ••• ••• 678`).
    pub masked_phone: String,
    /// Unix seconds.
    pub otp_expires_at: i64,
    /// Whether the account already has an active device (the citizen may ask it to approve).
    pub has_active_device: bool,
}

/// The new device's key material and provenance.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DeviceRegistration {
    /// Chosen by the device (UUID v4).
    pub device_id: String,
    /// SEC1 uncompressed P-256 point, base64url.
    pub public_key: String,
    /// The key store's own claim; the attestation chain is what a verifier would check.
    pub hardware_backed: bool,
    /// DER certificates, base64url, leaf first, passed through unchanged.
    pub attestation_chain: Vec<String>,
    /// `android`, `ios`, `desktop`, …
    pub platform: String,
    /// Human label (`Pixel 9`), no personal data.
    pub label: String,
}

/// Body of `POST /v1/enrollment/complete`.
#[derive(Clone, Serialize, Deserialize)]
pub struct EnrollCompleteRequest {
    /// From the start response.
    pub enrollment_id: String,
    /// The OTP the citizen received.
    pub otp: String,
    /// The new device.
    pub device: DeviceRegistration,
    /// Proof of possession: purpose `enroll`, nonce = enrollment id, counter 1.
    pub proof: SignedStatement,
    /// The secret of the transfer QR code this phone showed (issue 15): an approval the old
    /// phone signed for it counts only with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer_secret: Option<String>,
}

/// Answer to `POST /v1/enrollment/complete`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EnrollCompleteResponse {
    /// Opaque account id (never the CCCD number).
    pub account_id: String,
    /// Echo of the registered device id.
    pub device_id: String,
    /// The device this enrollment deactivated, if any.
    pub replaced_device_id: Option<String>,
    /// Whether the old device had approved the hand-over.
    pub transfer_approved: bool,
}

/// Body of `POST /v1/auth/challenge`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ChallengeRequest {
    /// Device asking.
    pub device_id: String,
    /// What the nonce will be used for.
    pub purpose: Purpose,
}

/// A single-use nonce.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ChallengeResponse {
    /// base64url of ≥16 random bytes.
    pub nonce: String,
    /// The server's audience; the device refuses to sign for any other.
    pub audience: String,
    /// Unix seconds.
    pub expires_at: i64,
    /// A server-signed notice (JWS, `typ` [`recovery::NOTICE_TYP`]) that a recovery on
    /// another device would replace this one (issue 15): the old device's "next contact".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_notice: Option<String>,
}

/// Body of `POST /v1/auth/login`.
#[derive(Clone, Serialize, Deserialize)]
pub struct LoginRequest {
    /// purpose `login`.
    pub signed: SignedStatement,
}

/// Tokens returned by login and refresh.
#[derive(Clone, Serialize, Deserialize)]
pub struct TokenResponse {
    /// ES256 JWT.
    pub access_token: String,
    /// Unix seconds.
    pub access_expires_at: i64,
    /// Opaque, rotating, single-use.
    pub refresh_token: String,
    /// The session (token family) id.
    pub session_id: String,
    /// Unix seconds: the session ends if unused until then.
    pub idle_expires_at: i64,
    /// Unix seconds: the session ends then whatever happens.
    pub absolute_expires_at: i64,
}

/// Body of `POST /v1/auth/refresh`.
#[derive(Clone, Serialize, Deserialize)]
pub struct RefreshRequest {
    /// The current refresh token.
    pub refresh_token: String,
}

/// Body of `POST /v1/auth/logout`.
#[derive(Clone, Serialize, Deserialize)]
pub struct LogoutRequest {
    /// Optional: the refresh token of the session to end (else the bearer's session).
    pub refresh_token: Option<String>,
}

/// One device of the account, as the server knows it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DeviceDto {
    /// Device id.
    pub device_id: String,
    /// Label.
    pub label: String,
    /// Platform.
    pub platform: String,
    /// Claimed hardware backing.
    pub hardware_backed: bool,
    /// `active`, `locked` (remotely locked, issue 15), `replaced`, `transferred`, `revoked`,
    /// `recovered` (deactivated by a completed recovery).
    pub status: String,
    /// Unix seconds.
    pub enrolled_at: i64,
    /// Unix seconds of the last successful login, if any.
    pub last_login_at: Option<i64>,
}

/// Answer to `GET /v1/devices`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DevicesResponse {
    /// Newest first.
    pub devices: Vec<DeviceDto>,
}

/// Body of `POST /v1/devices/revoke`.
#[derive(Clone, Serialize, Deserialize)]
pub struct RevokeDeviceRequest {
    /// purpose `revoke_device`, subject = device to revoke.
    pub signed: SignedStatement,
}

/// Body of `POST /v1/devices/status`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DeviceStatusRequest {
    /// The asking device.
    pub device_id: String,
}

/// Answer to `POST /v1/devices/status`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DeviceStatusResponse {
    /// `active`, `locked`, `replaced`, `transferred`, `revoked`, `recovered` (issue 15).
    pub status: String,
    /// Unix seconds of the last status change.
    pub changed_at: i64,
    /// As in [`ChallengeResponse::recovery_notice`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_notice: Option<String>,
}

/// Body of `POST /v1/devices/transfer-approval`.
#[derive(Clone, Serialize, Deserialize)]
pub struct TransferApprovalRequest {
    /// purpose `transfer`, subject = the new device's enrollment id, or
    /// [`recovery::transfer_subject`] when the old phone scanned the new phone's QR code.
    pub signed: SignedStatement,
}

/// Body of `POST /v1/passcode-reset/start`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ResetStartRequest {
    /// The device whose passcode is forgotten.
    pub device_id: String,
}

/// Answer to `POST /v1/passcode-reset/start`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ResetStartResponse {
    /// Also the nonce of the statement that completes the reset.
    pub reset_id: String,
    /// Masked phone.
    pub masked_phone: String,
    /// Unix seconds.
    pub otp_expires_at: i64,
}

/// Body of `POST /v1/passcode-reset/complete`.
#[derive(Clone, Serialize, Deserialize)]
pub struct ResetCompleteRequest {
    /// From the start response.
    pub reset_id: String,
    /// The OTP.
    pub otp: String,
    /// purpose `passcode_reset`, nonce = reset id.
    pub signed: SignedStatement,
}

/// Empty success body.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Ok {
    /// Always true.
    pub ok: bool,
}

/// Every error the server returns: HTTP status plus this body.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Stable machine code (see [`codes`]).
    pub code: String,
    /// English, for logs; never personal data.
    pub message: String,
    /// Remaining OTP attempts, where relevant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts_left: Option<u32>,
    /// Seconds to wait before retrying, where relevant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// The device's status, with `device_inactive`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_status: Option<String>,
}

/// Stable server error codes.
pub mod codes {
    /// Malformed request.
    pub const INVALID_REQUEST: &str = "invalid_request";
    /// No citizen in the register matches the number, date of birth and phone.
    pub const NO_MATCH: &str = "no_match";
    /// Unknown or finished enrollment / reset.
    pub const UNKNOWN_ENROLLMENT: &str = "unknown_enrollment";
    /// Wrong OTP.
    pub const OTP_INVALID: &str = "otp_invalid";
    /// OTP expired.
    pub const OTP_EXPIRED: &str = "otp_expired";
    /// Too many wrong OTPs; start again.
    pub const OTP_ATTEMPTS_EXCEEDED: &str = "otp_attempts_exceeded";
    /// Nonce unknown or already used.
    pub const NONCE_INVALID: &str = "nonce_invalid";
    /// Nonce expired.
    pub const NONCE_EXPIRED: &str = "nonce_expired";
    /// Counter not above the last one seen.
    pub const COUNTER_REPLAY: &str = "counter_replay";
    /// Signature does not verify.
    pub const SIGNATURE_INVALID: &str = "signature_invalid";
    /// Statement audience is not this server.
    pub const AUDIENCE_MISMATCH: &str = "audience_mismatch";
    /// Statement purpose does not fit the endpoint or nonce.
    pub const PURPOSE_MISMATCH: &str = "purpose_mismatch";
    /// `issued_at` too far from the server clock.
    pub const CLOCK_SKEW: &str = "clock_skew";
    /// Device unknown.
    pub const UNKNOWN_DEVICE: &str = "unknown_device";
    /// Device replaced, transferred or revoked.
    pub const DEVICE_INACTIVE: &str = "device_inactive";
    /// The device was locked remotely (the citizen reported it lost, from the portal or at a
    /// counter): it can neither log in nor sign until it is re-bound (issue 15).
    pub const DEVICE_LOCKED: &str = "device_locked";
    /// Account locked after too many failures.
    pub const ACCOUNT_LOCKED: &str = "account_locked";
    /// Missing, malformed or expired bearer token.
    pub const TOKEN_INVALID: &str = "token_invalid";
    /// A refresh token was used twice: the whole session family is revoked.
    pub const REFRESH_REUSED: &str = "refresh_reused";
    /// Session idle or absolute timeout reached, or logged out.
    pub const SESSION_EXPIRED: &str = "session_expired";
    /// Device id already registered.
    pub const DEVICE_EXISTS: &str = "device_exists";
    /// Too many requests.
    pub const RATE_LIMITED: &str = "rate_limited";
    /// Server fault.
    pub const INTERNAL: &str = "internal";
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st() -> Statement {
        Statement {
            purpose: Purpose::Login,
            audience: "https://id.example".into(),
            nonce: "n".into(),
            device_id: "d".into(),
            counter: 7,
            issued_at: 1_700_000_000,
            subject: String::new(),
        }
    }

    #[test]
    fn canonical_bytes_bind_every_field() {
        let base = st().canonical_bytes();
        let mut variants = vec![];
        let mut s = st();
        s.purpose = Purpose::RevokeDevice;
        variants.push(s);
        let mut s = st();
        s.audience.push('x');
        variants.push(s);
        let mut s = st();
        s.nonce.push('x');
        variants.push(s);
        let mut s = st();
        s.device_id.push('x');
        variants.push(s);
        let mut s = st();
        s.counter += 1;
        variants.push(s);
        let mut s = st();
        s.issued_at += 1;
        variants.push(s);
        let mut s = st();
        s.subject.push('x');
        variants.push(s);
        for v in variants {
            assert_ne!(v.canonical_bytes(), base, "{v:?}");
        }
    }

    #[test]
    fn canonical_bytes_are_injective_across_field_boundaries() {
        // Moving a character from one field to the next must change the bytes.
        let mut a = st();
        a.nonce = "ab".into();
        a.device_id = "c".into();
        let mut b = st();
        b.nonce = "a".into();
        b.device_id = "bc".into();
        assert_ne!(a.canonical_bytes(), b.canonical_bytes());
        assert!(a.canonical_bytes().starts_with(&(STATEMENT_TAG.len() as u32).to_be_bytes()));
    }
}
