//! Error codes of the relying-party endpoints (in addition to [`crate::protocol::codes`]).

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
