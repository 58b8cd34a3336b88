//! Level 2 from the chip (issue 12, ARCHITECTURE.md decision 30): the wire records of
//! `POST /v1/chip/challenge` and `POST /v1/chip/upgrade`, the derivation of the active
//! authentication challenge from the server's nonce, and the digest that binds the uploaded chip
//! files to the device's signed statement.
//!
//! Flow: the enrolled device asks for a challenge (bearer); the server stores a single-use nonce
//! for the device with purpose `chip` and answers it with its CSCA trust list. The device reads
//! the card with active authentication over [`aa_challenge`]`(nonce)` — the chip signs it with
//! the private key of DG15, which the document signer vouched for through EF.SOD — and uploads
//! EF.SOD, DG1, DG13, DG14, DG15 and the chip's signature in a statement of purpose `chip`
//! (nonce = the server's nonce, subject = `chip:<`[`upload_digest`]`>`). The server re-runs passive
//! authentication, checks the chip's signature over the challenge it can recompute, and matches
//! DG13 against the register entry of the account.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::SignedStatement;

/// `POST /v1/chip/challenge` (Bearer): a nonce for a chip upgrade, and the CSCA list.
pub const PATH_CHIP_CHALLENGE: &str = "/v1/chip/challenge";
/// `POST /v1/chip/upgrade` (Bearer + statement, purpose `chip`).
pub const PATH_CHIP_UPGRADE: &str = "/v1/chip/upgrade";

/// `GET /v1/chip/csca` (public): the CSCA certificates the server trusts, for a device that has
/// no session yet (a new phone recovering an account, issue 15).
pub const PATH_CHIP_CSCA: &str = "/v1/chip/csca";

/// Answer of [`PATH_CHIP_CSCA`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ChipTrustResponse {
    /// The CSCA certificates (DER, base64url) the server trusts.
    pub csca: Vec<String>,
}

/// Identity assurance level of an account enrolled with number, date of birth and OTP.
pub const LEVEL_BASIC: u8 = 1;
/// Identity assurance level after a verified chip read (passive + active authentication).
pub const LEVEL_CHIP: u8 = 2;

/// Domain separation of the active-authentication challenge.
const AA_TAG: &[u8] = b"CITIZEN-CORE/CHIP-AA/V1";
/// Domain separation of the upload digest.
const UPLOAD_TAG: &[u8] = b"CITIZEN-CORE/CHIP-UPLOAD/V1";

/// The 8-byte challenge the chip signs in active authentication (INTERNAL AUTHENTICATE takes 8
/// bytes): the first 8 bytes of SHA-256(tag ‖ nonce). Both sides compute it, so the chip's
/// signature proves the card answered *this* server nonce.
pub fn aa_challenge(nonce: &str) -> [u8; 8] {
    let d = Sha256::new().chain_update(AA_TAG).chain_update(nonce.as_bytes()).finalize();
    let mut out = [0u8; 8];
    out.copy_from_slice(&d[..8]);
    out
}

/// Body of `POST /v1/chip/challenge`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ChipChallengeRequest {
    /// The asking device (must be the bearer's).
    pub device_id: String,
}

/// Answer of `POST /v1/chip/challenge`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ChipChallengeResponse {
    /// Single-use nonce (base64url), purpose `chip`, bound to the device.
    pub nonce: String,
    /// The server's audience.
    pub audience: String,
    /// Unix seconds.
    pub expires_at: i64,
    /// The CSCA certificates (DER, base64url) the server trusts, so the device can run passive
    /// authentication before uploading; the server decides with its own list either way.
    pub csca: Vec<String>,
}

/// The chip's files exactly as read (base64url) and the active-authentication signature.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChipEvidence {
    /// EF.SOD.
    pub sod: String,
    /// DG1 (MRZ).
    pub dg1: String,
    /// DG13 (Vietnamese personal record).
    pub dg13: String,
    /// DG14 (security infos), if the card has it.
    pub dg14: Option<String>,
    /// DG15 (active-authentication public key).
    pub dg15: String,
    /// The chip's signature over [`aa_challenge`] of the statement's nonce.
    pub aa_signature: String,
}

impl std::fmt::Debug for ChipEvidence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChipEvidence(<personal data redacted>)")
    }
}

/// SHA-256 hex over every evidence field, each length-prefixed (absent DG14 = length 0 and a
/// zero marker), so the device's signature covers exactly the files it uploads.
pub fn upload_digest(e: &ChipEvidence) -> String {
    let mut h = Sha256::new().chain_update(crate::crypto::len_prefix(UPLOAD_TAG.len())).chain_update(UPLOAD_TAG);
    let dg14 = e.dg14.as_deref();
    let fields: [(&[u8], u8); 6] = [
        (e.sod.as_bytes(), 1),
        (e.dg1.as_bytes(), 1),
        (e.dg13.as_bytes(), 1),
        (dg14.unwrap_or_default().as_bytes(), u8::from(dg14.is_some())),
        (e.dg15.as_bytes(), 1),
        (e.aa_signature.as_bytes(), 1),
    ];
    for (f, present) in fields {
        h.update([present]);
        h.update(crate::crypto::len_prefix(f.len()));
        h.update(f);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The statement subject of an upgrade.
pub fn upload_subject(e: &ChipEvidence) -> String {
    format!("chip:{}", upload_digest(e))
}

/// Body of `POST /v1/chip/upgrade`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ChipUpgradeRequest {
    /// Purpose `chip`, nonce from [`PATH_CHIP_CHALLENGE`], subject [`upload_subject`].
    pub signed: SignedStatement,
    /// The chip's files and proof.
    pub evidence: ChipEvidence,
}

/// Answer of `POST /v1/chip/upgrade`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ChipUpgradeResponse {
    /// The account's level now ([`LEVEL_CHIP`]).
    pub level: u8,
    /// Unix seconds.
    pub upgraded_at: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev() -> ChipEvidence {
        ChipEvidence {
            sod: "a".into(),
            dg1: "b".into(),
            dg13: "c".into(),
            dg14: None,
            dg15: "d".into(),
            aa_signature: "e".into(),
        }
    }

    #[test]
    fn the_digest_binds_every_field_and_dg14_presence() {
        let base = upload_digest(&ev());
        let mut seen = std::collections::HashSet::from([base.clone()]);
        let edits: [fn(&mut ChipEvidence); 7] = [
            |e| e.sod.push('x'),
            |e| e.dg1.push('x'),
            |e| e.dg13.push('x'),
            |e| e.dg14 = Some(String::new()),
            |e| e.dg15.push('x'),
            |e| e.aa_signature.push('x'),
            |e| {
                e.sod = "ab".into();
                e.dg1 = String::new();
            },
        ];
        for edit in edits {
            let mut e = ev();
            edit(&mut e);
            assert!(seen.insert(upload_digest(&e)), "an edit left the digest unchanged");
        }
    }

    #[test]
    fn the_aa_challenge_depends_on_the_nonce() {
        assert_ne!(aa_challenge("n1"), aa_challenge("n2"));
        assert_eq!(aa_challenge("n1"), aa_challenge("n1"));
    }
}
