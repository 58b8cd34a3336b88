//! Recovery of an account on a new phone without the old one (issue 15): the wire records, the
//! statement subjects and the server's signed notice to the old device.
//!
//! States of a recovery (server side; README and ARCHITECTURE.md draw the diagram):
//!
//! ```text
//!   (enrollment start: OTP sent)
//!        │ POST /v1/recovery/start: OTP + new key's proof + chip proof (level 2)
//!        │                          or an official's approval at a counter (level 1)
//!        ▼
//!    waiting ──(old device: signed cancel + passcode)──► cancelled
//!        │   ──(official at a counter)────────────────► cancelled
//!        │ POST /v1/recovery/complete, not before ready_at = started_at + waiting period
//!        ▼
//!    completed: the new device active, the old one `replaced` (shown as `recovered`)
//! ```
//!
//! During the wait the old device, if it is still in use, receives a [`RecoveryNotice`] signed
//! by the server with every challenge and status answer, and can cancel with its own key.

use serde::{Deserialize, Serialize};

use super::chip::{upload_digest, ChipEvidence};
use super::{DeviceRegistration, SignedStatement};

/// `POST /v1/recovery/start`.
pub const PATH_RECOVERY_START: &str = "/v1/recovery/start";
/// `POST /v1/recovery/complete`.
pub const PATH_RECOVERY_COMPLETE: &str = "/v1/recovery/complete";
/// `POST /v1/recovery/cancel` (the old device's signed statement).
pub const PATH_RECOVERY_CANCEL: &str = "/v1/recovery/cancel";
/// Officials' API: approve a recovery at a counter (level-1 accounts), identity recorded.
pub const PATH_OFFICIAL_RECOVERY_APPROVE: &str = "/v1/official/recovery/approve";
/// Officials' API: cancel a waiting recovery at the citizen's request.
pub const PATH_OFFICIAL_RECOVERY_CANCEL: &str = "/v1/official/recovery/cancel";

/// Default waiting period: 24 hours.
pub const DEFAULT_WAIT_SECS: i64 = 24 * 3600;
/// `typ` of the server's recovery notice (a JWS by the server's token key).
pub const NOTICE_TYP: &str = "citizen-recovery-notice+jwt";
/// Subject of the new device's statement that completes a recovery.
pub const COMPLETE_SUBJECT: &str = "recovery_complete";
/// Prefix of the old device's cancel statement subject (followed by the recovery id).
pub const CANCEL_SUBJECT_PREFIX: &str = "recovery_cancel:";

/// The subject of the new device's proof that starts a recovery: what proves the citizen (the
/// digest of the chip evidence, or `counter` for an official's approval), then the bookkeeping
/// key registration, separated by `;`. The signature thus binds the evidence to the new key.
pub fn start_subject(evidence: Option<&ChipEvidence>, bookkeeping_public_key: &[u8]) -> String {
    let proof = evidence.map(upload_digest).unwrap_or_else(|| "counter".to_string());
    format!("recovery:{proof};{}", super::bookkeeping_subject(bookkeeping_public_key))
}

/// Split a [`start_subject`] into its proof part (`recovery:<digest>|counter`) and the
/// bookkeeping key it registers (SEC1), if well formed.
pub fn parse_start_subject(subject: &str) -> Option<(&str, Vec<u8>)> {
    let (proof, bookkeeping) = subject.split_once(';')?;
    proof.strip_prefix("recovery:")?;
    Some((proof, super::bookkeeping_key_from_subject(bookkeeping)?))
}

/// The old device's cancel subject for `recovery_id`.
pub fn cancel_subject(recovery_id: &str) -> String {
    format!("{CANCEL_SUBJECT_PREFIX}{recovery_id}")
}

/// Body of `POST /v1/recovery/start`.
#[derive(Clone, Serialize, Deserialize)]
pub struct RecoveryStartRequest {
    /// From `POST /v1/enrollment/start` (the OTP went to the registered phone).
    pub enrollment_id: String,
    /// The OTP.
    pub otp: String,
    /// The new device.
    pub device: DeviceRegistration,
    /// The new key's proof: purpose `recovery`, nonce = enrollment id, subject
    /// [`start_subject`].
    pub proof: SignedStatement,
    /// The chip read, with active authentication over `aa_challenge(enrollment id)`; required
    /// for a level-2 account, absent when an official approved the recovery at a counter.
    pub evidence: Option<ChipEvidence>,
}

/// Answer of `POST /v1/recovery/start`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RecoveryStartResponse {
    /// The recovery.
    pub recovery_id: String,
    /// Opaque account id.
    pub account_id: String,
    /// The device it will replace (told with a signed notice).
    pub old_device_id: Option<String>,
    /// Unix seconds: it may be completed from then on.
    pub ready_at: i64,
    /// `chip` or `counter`.
    pub method: String,
}

/// Body of `POST /v1/recovery/complete`.
#[derive(Clone, Serialize, Deserialize)]
pub struct RecoveryCompleteRequest {
    /// The recovery.
    pub recovery_id: String,
    /// Purpose `recovery`, nonce = recovery id, subject [`COMPLETE_SUBJECT`], by the new key,
    /// with a counter above the proof's.
    pub signed: SignedStatement,
}

/// Answer of `POST /v1/recovery/complete`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RecoveryCompleteResponse {
    /// Opaque account id.
    pub account_id: String,
    /// The new device, now active.
    pub device_id: String,
    /// The device it replaced.
    pub replaced_device_id: Option<String>,
}

/// Body of `POST /v1/recovery/cancel`.
#[derive(Clone, Serialize, Deserialize)]
pub struct RecoveryCancelRequest {
    /// Purpose `recovery_cancel`, nonce from a challenge (purpose `recovery_cancel`), subject
    /// [`cancel_subject`], signed by the old device's key.
    pub signed: SignedStatement,
}

/// The claims of the server's signed notice to the old device ([`NOTICE_TYP`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryNotice {
    /// The server (its audience).
    pub iss: String,
    /// The device told (the one the recovery will replace).
    pub device_id: String,
    /// The recovery.
    pub recovery_id: String,
    /// `chip` or `counter`.
    pub method: String,
    /// Unix seconds.
    pub started_at: i64,
    /// Unix seconds: the new device may be activated from then on.
    pub ready_at: i64,
    /// Issued at.
    pub iat: i64,
}

impl crate::jwt::JwtKind for RecoveryNotice {
    const TYP: &'static str = NOTICE_TYP;
}

// ---------------------------------------------------------------------------------------------
// Re-binding after the device key was invalidated (same device, same account).
// ---------------------------------------------------------------------------------------------

/// `POST /v1/rebind/start`: an OTP to the registered phone for re-binding this device's key.
pub const PATH_REBIND_START: &str = "/v1/rebind/start";
/// `POST /v1/rebind/complete`: rotate the device key, with the device's session (Bearer) or,
/// without one, a chip read over the rebind id.
pub const PATH_REBIND_COMPLETE: &str = "/v1/rebind/complete";

/// The subject of the new key's re-binding proof: `rebind:<SHA-256 hex of the new SEC1 key>`,
/// followed by `;chip:<digest of the chip evidence>` when the chip proves the citizen (so the
/// signature binds that card read to the new key).
pub fn rebind_subject(new_public_key: &[u8], evidence: Option<&ChipEvidence>) -> String {
    let key = super::sha256_hex(new_public_key);
    match evidence {
        Some(e) => format!("rebind:{key};chip:{}", upload_digest(e)),
        None => format!("rebind:{key}"),
    }
}

/// Body of `POST /v1/rebind/start`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RebindStartRequest {
    /// The device whose key was invalidated.
    pub device_id: String,
}

/// Answer of `POST /v1/rebind/start`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RebindStartResponse {
    /// Also the nonce of the new key's proof.
    pub rebind_id: String,
    /// Masked phone the OTP went to.
    pub masked_phone: String,
    /// Unix seconds.
    pub otp_expires_at: i64,
}

/// Body of `POST /v1/rebind/complete`.
#[derive(Clone, Serialize, Deserialize)]
pub struct RebindCompleteRequest {
    /// From the start answer.
    pub rebind_id: String,
    /// The OTP.
    pub otp: String,
    /// The new key (SEC1 uncompressed, base64url).
    pub new_public_key: String,
    /// Purpose `rebind`, nonce = rebind id, subject [`rebind_subject`], signed by the new key
    /// with the device's next counter.
    pub proof: SignedStatement,
    /// The chip read with active authentication over `aa_challenge(rebind id)`: the proof of
    /// the citizen when the device has no live session (required then); absent with a session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<ChipEvidence>,
}

// ---------------------------------------------------------------------------------------------
// Remote lock of a lost phone from the portal (or any other device), without the phone.
// ---------------------------------------------------------------------------------------------

/// `POST /v1/lock/start`: the citizen's identifiers; an OTP goes to the registered phone.
pub const PATH_REMOTE_LOCK_START: &str = "/v1/lock/start";
/// `POST /v1/lock/complete`: the OTP or a chip read over the lock id; locks the active device.
pub const PATH_REMOTE_LOCK_COMPLETE: &str = "/v1/lock/complete";

/// Body of `POST /v1/lock/start` (the three identifiers of an enrollment; all must match the
/// register). Identifiers alone never lock: they only send an OTP to the registered phone.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RemoteLockStartRequest {
    /// CCCD number (12 digits).
    pub cccd: String,
    /// `YYYY-MM-DD`.
    pub date_of_birth: String,
    /// The registered phone number.
    pub phone: String,
}

/// Answer of `POST /v1/lock/start`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RemoteLockStartResponse {
    /// The lock request; also the nonce of a chip read (`aa_challenge(lock id)`).
    pub lock_id: String,
    /// Masked phone the OTP went to.
    pub masked_phone: String,
    /// Unix seconds.
    pub otp_expires_at: i64,
}

/// Body of `POST /v1/lock/complete`: one proof of the citizen, the OTP or the chip.
#[derive(Clone, Serialize, Deserialize)]
pub struct RemoteLockCompleteRequest {
    /// From the start answer.
    pub lock_id: String,
    /// The OTP sent to the registered phone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub otp: Option<String>,
    /// A chip read with active authentication over `aa_challenge(lock id)` (when the SIM went
    /// with the phone): read at a kiosk or on another phone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<ChipEvidence>,
}

/// Answer of `POST /v1/lock/complete`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RemoteLockCompleteResponse {
    /// The device now locked.
    pub device_id: String,
    /// Unix seconds.
    pub locked_at: i64,
    /// `otp` or `chip`.
    pub method: String,
}

// ---------------------------------------------------------------------------------------------
// Device change with the old phone: the proximity check (the new phone shows a QR code).
// ---------------------------------------------------------------------------------------------

/// Prefix of the transfer QR code the new phone shows.
pub const TRANSFER_QR_PREFIX: &str = "CZTR1:";

/// What the new phone's transfer QR code carries: its enrollment, the server it enrolls at, and
/// a random secret that only its screen shows. The old phone signs the secret's digest; the new
/// phone sends the secret itself when it completes the enrollment, so the approval counts only
/// for the phone whose screen the old phone scanned (a remote attacker who learned the
/// enrollment id cannot use the citizen's approval).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferCode {
    /// The new phone's enrollment.
    pub enrollment_id: String,
    /// The server (its audience); the old phone refuses another.
    pub audience: String,
    /// base64url of 16 random bytes.
    pub secret: String,
}

impl TransferCode {
    /// `CZTR1:` + base64url(JSON).
    pub fn encode(&self) -> String {
        format!("{TRANSFER_QR_PREFIX}{}", crate::crypto::b64(&serde_json::to_vec(self).unwrap_or_default()))
    }

    /// Parse a scanned code (bounded, strict).
    pub fn decode(text: &str) -> Option<TransferCode> {
        if text.len() > 512 {
            return None;
        }
        let raw = crate::crypto::unb64(text.strip_prefix(TRANSFER_QR_PREFIX)?)?;
        let c: TransferCode = serde_json::from_slice(&raw).ok()?;
        (c.enrollment_id.len() <= 64 && c.secret.len() <= 64 && c.audience.len() <= 255).then_some(c)
    }
}

/// The old phone's transfer subject bound to the scanned code:
/// `transfer:<enrollment id>:<SHA-256 hex of the secret>`.
pub fn transfer_subject(enrollment_id: &str, secret: &str) -> String {
    format!("transfer:{enrollment_id}:{}", super::sha256_hex(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_subject_binds_the_proof_and_the_bookkeeping_key() {
        let sk = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
        let sec1 = crate::crypto::sec1_uncompressed(sk.verifying_key());
        let s = start_subject(None, &sec1);
        let (proof, bk) = parse_start_subject(&s).unwrap();
        assert_eq!((proof, bk), ("recovery:counter", sec1.clone()));
        assert!(parse_start_subject("recovery:counter").is_none());
        assert!(parse_start_subject(&s.replace("recovery:", "chip:")).is_none());
        assert_eq!(cancel_subject("r1"), "recovery_cancel:r1");
        let code = TransferCode { enrollment_id: "e".into(), audience: "https://a".into(), secret: "s".into() };
        assert_eq!(TransferCode::decode(&code.encode()), Some(code));
        assert_eq!(TransferCode::decode("CZTR1:!!"), None);
        assert!(transfer_subject("e", "s").starts_with("transfer:e:"));
        let ev = ChipEvidence {
            sod: "s".into(),
            dg1: "1".into(),
            dg13: "13".into(),
            dg14: None,
            dg15: "15".into(),
            aa_signature: "a".into(),
        };
        let (plain, chip) = (rebind_subject(&sec1, None), rebind_subject(&sec1, Some(&ev)));
        assert!(chip.starts_with(&format!("{plain};chip:")) && chip != plain, "{chip}");
    }
}
