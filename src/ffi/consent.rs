//! UniFFI façade of consent: QR login to web portals, consent receipts, and the error and
//! records shared with data sharing (`ffi/share.rs`). Thin wrappers over [`crate::consent`].

use super::errors::CitizenError;
use super::facade::Engine;
use super::types::{int, long, time};
use crate::consent::qr::PendingLogin;
use crate::consent::receipts::ReceiptEntry;
use crate::error::ErrorDetail;
use crate::protocol::rp::{DeliveryStatus, ReceiptKind, SignedReceipt};
use std::time::SystemTime;

/// A claim a relying party asks for, with the labels the citizen sees.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct ClaimRequest {
    /// Wire name (`full_name`, `birthdate`, …).
    pub name: String,
    /// Vietnamese label.
    pub label_vi: String,
    /// English label.
    pub label_en: String,
    /// Whether the relying party cannot proceed without it (always true for a login).
    pub required: bool,
}

impl ClaimRequest {
    /// The labelled claim for a wire name (the parser already refused unknown names; an unknown
    /// one here shows its wire name).
    pub(crate) fn of(name: &str, required: bool) -> ClaimRequest {
        let info = crate::protocol::rp::claim_info(name);
        ClaimRequest {
            name: name.to_string(),
            label_vi: info.map(|i| i.label_vi.to_string()).unwrap_or_else(|| name.to_string()),
            label_en: info.map(|i| i.label_en.to_string()).unwrap_or_else(|| name.to_string()),
            required,
        }
    }
}

/// A verified login request, shown to the citizen before they approve: who asks (names from the
/// signed registry, not from the code), on which site, for what, and the codes to pick from.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct LoginRequestInfo {
    /// Login session id (base64url); pass it to `approve_login` / `deny_login`.
    pub session_id: String,
    /// Registered relying-party id.
    pub relying_party_id: String,
    /// Registered Vietnamese name.
    pub relying_party_name_vi: String,
    /// Registered English name.
    pub relying_party_name_en: String,
    /// The site the code is shown on (registered for the relying party).
    pub origin: String,
    /// The data released on approval.
    pub claims: Vec<ClaimRequest>,
    /// Three two-digit codes; the citizen picks the one the site shows.
    pub code_choices: Vec<String>,
    /// When the login request expires.
    pub expires_at: SystemTime,
    /// Opened by a deep link on this device (the answer goes back to the relying party's app).
    pub same_device: bool,
}

/// The result of an approved login.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct LoginApproval {
    /// The consent receipt (signed by the device, countersigned by the server, stored).
    pub receipt: ReceiptInfo,
    /// Same-device flow: where to send the citizen next (a registered redirect URI carrying the
    /// ID token). `None` for a QR code on another screen.
    pub redirect_url: Option<String>,
}

/// What a receipt records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum ConsentKind {
    /// Login to a portal by QR code or deep link.
    QrLogin,
    /// Selective sharing of identity data.
    DataShare,
    /// A document presented in person to a verifier (driving licence to the police, …).
    InPersonPresentation,
    /// A receipt that is missing from the device (only on a `damage` marker).
    Unknown,
}

/// What became of a data share's presentation (recorded and signed by the device after the
/// attempt to deliver it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum ShareDelivery {
    /// Not a data share (a login), or a damage marker.
    NotApplicable,
    /// The relying party received and accepted the data.
    Delivered,
    /// The relying party received the data and refused it.
    Refused,
    /// The data never left the device (no connection to the relying party).
    NotDelivered,
    /// The data was sent but no answer came (or the app stopped while sending): it may have
    /// reached the relying party.
    Unknown,
}

/// A stored consent receipt: with whom, what, why, for how long, when.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct ReceiptInfo {
    /// Receipt id (UUID).
    pub receipt_id: String,
    /// Login or data share.
    pub kind: ConsentKind,
    /// Relying-party id.
    pub relying_party_id: String,
    /// Its registered (Vietnamese) name at the time.
    pub relying_party_name: String,
    /// The origin (login) or response origin (share).
    pub origin: String,
    /// `login` or the relying party's purpose code.
    pub purpose: String,
    /// Exactly the released claims.
    pub claims: Vec<String>,
    /// Days the relying party may keep the data (0: the session only).
    pub retention_days: i32,
    /// When it was issued.
    pub issued_at: SystemTime,
    /// Position in the device's receipt chain (1, 2, 3, …; 0 for a receipt made before
    /// receipts were chained).
    pub sequence: i64,
    /// Data shares: whether the data reached the relying party.
    pub delivery: ShareDelivery,
    /// Set on a marker for a receipt the device cannot show: `consent.receipt_damaged` (the
    /// stored row does not open) or `consent.receipt_missing` (a receipt of the chain was
    /// deleted). The other fields of a marker hold what is still known (id, kind, time).
    pub damage: Option<ErrorDetail>,
    /// An in-person presentation made offline whose receipt the server has not countersigned
    /// yet (`sync_receipts` sends it; it also rides on the periodic case sync).
    pub awaiting_countersignature: bool,
}

impl From<&PendingLogin> for LoginRequestInfo {
    fn from(p: &PendingLogin) -> Self {
        LoginRequestInfo {
            session_id: p.session_id.clone(),
            relying_party_id: p.rp.id.clone(),
            relying_party_name_vi: p.rp.name_vi.clone(),
            relying_party_name_en: p.rp.name_en.clone(),
            origin: p.origin.clone(),
            claims: p.claims.iter().map(|c| ClaimRequest::of(c, true)).collect(),
            code_choices: p.code_choices.clone(),
            expires_at: time(p.expires_at),
            same_device: p.same_device,
        }
    }
}

impl From<&ReceiptEntry> for ReceiptInfo {
    fn from(e: &ReceiptEntry) -> Self {
        match e {
            ReceiptEntry::Stored(r) => ReceiptInfo::from(r.as_ref()),
            ReceiptEntry::Marker { receipt_id, kind, issued_at, sequence, damage } => ReceiptInfo {
                receipt_id: receipt_id.clone(),
                kind: match kind {
                    Some(ReceiptKind::QrLogin) => ConsentKind::QrLogin,
                    Some(ReceiptKind::DataShare) => ConsentKind::DataShare,
                    Some(ReceiptKind::InPerson) => ConsentKind::InPersonPresentation,
                    None => ConsentKind::Unknown,
                },
                relying_party_id: String::new(),
                relying_party_name: String::new(),
                origin: String::new(),
                purpose: String::new(),
                claims: vec![],
                retention_days: 0,
                issued_at: time(*issued_at),
                sequence: long(*sequence),
                delivery: ShareDelivery::NotApplicable,
                damage: Some(damage.detail()),
                awaiting_countersignature: false,
            },
        }
    }
}

impl From<&SignedReceipt> for ReceiptInfo {
    fn from(s: &SignedReceipt) -> Self {
        let r = &s.receipt;
        let delivery = match (r.kind, &s.delivery) {
            (ReceiptKind::QrLogin | ReceiptKind::InPerson, _) => ShareDelivery::NotApplicable,
            (ReceiptKind::DataShare, None) => ShareDelivery::Unknown,
            (ReceiptKind::DataShare, Some(d)) => match d.status {
                DeliveryStatus::Delivered => ShareDelivery::Delivered,
                DeliveryStatus::Refused => ShareDelivery::Refused,
                DeliveryStatus::NotDelivered => ShareDelivery::NotDelivered,
                DeliveryStatus::Unknown => ShareDelivery::Unknown,
            },
        };
        ReceiptInfo {
            sequence: long(r.chain_seq),
            delivery,
            damage: None,
            awaiting_countersignature: s.countersignature.is_empty(),
            receipt_id: r.receipt_id.clone(),
            kind: match r.kind {
                ReceiptKind::QrLogin => ConsentKind::QrLogin,
                ReceiptKind::DataShare => ConsentKind::DataShare,
                ReceiptKind::InPerson => ConsentKind::InPersonPresentation,
            },
            relying_party_id: r.rp_id.clone(),
            relying_party_name: r.rp_name.clone(),
            origin: r.origin.clone(),
            purpose: r.purpose.clone(),
            claims: r.claims.clone(),
            retention_days: int(r.retention_days),
            issued_at: time(r.issued_at),
        }
    }
}

/// Verify an exported receipt file (JSON from `export_receipts`) on its own: every receipt's
/// digest and statement, the device signature with the key it embeds, the server's
/// countersignature with the server key it embeds, each delivery record, and the chain: no
/// receipt removed, reordered or cut off the end (`consent.receipt_chain_broken`,
/// `consent.receipts_truncated`). With `server_key_jwk` (a JWK the verifier trusts, e.g. from
/// the server's `/v1/keys`), the embedded key must be that one — without it the check only
/// proves the file is self-consistent. Returns the number of receipts verified. Pure computation
/// (no storage, no network): main-safe, never prompts. Throws [`CitizenError`] (`InvalidInput`
/// for a file that is not an export; `Refused` with a `consent.*` code for one that does not
/// verify).
#[uniffi::export]
pub fn verify_receipt_export(json: String, server_key_jwk: Option<String>) -> Result<i32, CitizenError> {
    Ok(int(crate::consent::receipts::verify_export(&json, server_key_jwk.as_deref())?))
}

/// Consent of one core (`CitizenCore.consent()`): QR and deep-link login to web portals, data
/// sharing, consent receipts. Small enough to fake in a test of a view model.
#[derive(uniffi::Object)]
pub struct ConsentClient(pub(crate) Engine);

#[uniffi::export]
impl ConsentClient {
    /// Fetch the registry of relying parties, verify the server's signature, and cache it (login
    /// codes are then checked offline). Returns how many relying parties it lists. Main-safe;
    /// never prompts. Throws [`CitizenError`].
    pub async fn refresh_relying_parties(&self) -> Result<i32, CitizenError> {
        // Saturating (a registry fits in a 1 MiB answer: far fewer than i32::MAX entries).
        self.0.run(|a| async move { Ok(int(a.refresh_registry().await?.relying_parties.len())) }).await
    }

    /// Scan a login QR code. Everything that can be checked on the device is checked before any
    /// network call: strict parse, relying party in the signed registry, its signature, the
    /// origin, the claims, the expiry. Then the server is told at once (it refuses a stale or
    /// forged frame) and answers the verification-code choices. Main-safe; never prompts.
    /// Throws [`CitizenError`].
    pub async fn scan_login_code(&self, frame: String) -> Result<LoginRequestInfo, CitizenError> {
        self.0.run(|a| async move { Ok(LoginRequestInfo::from(&a.scan_login(&frame).await?)) }).await
    }

    /// Same-device flow: a relying party's app opened `citizenid://login?p=<frame>`. Same checks
    /// as [`ConsentClient::scan_login_code`]. Main-safe; never prompts. Throws [`CitizenError`].
    pub async fn open_login_link(&self, url: String) -> Result<LoginRequestInfo, CitizenError> {
        self.0
            .run(|a| async move {
                let frame = crate::consent::qr::frame_from_link(&url)?;
                Ok(LoginRequestInfo::from(&a.scan_login(&frame).await?))
            })
            .await
    }

    /// Approve a scanned login with the code the site shows and the passcode: the device signs
    /// a consent receipt binding the relying party, origin, session, nonce, claims and counter;
    /// the server countersigns it. The receipt is verified and stored. Main-safe; may prompt
    /// (the device key signs). Throws [`CitizenError`].
    pub async fn approve_login(
        &self,
        session_id: String,
        verification_code: String,
        passcode: String,
    ) -> Result<LoginApproval, CitizenError> {
        let passcode = zeroize::Zeroizing::new(passcode);
        self.0
            .run(|a| async move {
                let r = a.approve_login(&session_id, &verification_code, &passcode).await?;
                Ok(LoginApproval { receipt: ReceiptInfo::from(&r.receipt), redirect_url: r.redirect_url })
            })
            .await
    }

    /// Decline a scanned login (signed, so the portal learns it at once). Main-safe; may prompt
    /// (the device key signs). Throws [`CitizenError`].
    pub async fn deny_login(&self, session_id: String) -> Result<(), CitizenError> {
        self.0.run(|a| async move { a.deny_login(&session_id).await }).await
    }

    /// The consent receipts on this device, newest first. A stored receipt that cannot be read
    /// is listed as a marker with `damage` = `consent.receipt_damaged`, and a receipt deleted
    /// from the chain as one with `consent.receipt_missing`; the others are listed as usual.
    /// Main-safe; never prompts. Throws [`CitizenError`].
    pub async fn list_receipts(&self) -> Result<Vec<ReceiptInfo>, CitizenError> {
        self.0.blocking(|a| Ok(a.receipt_list()?.iter().map(ReceiptInfo::from).collect())).await
    }

    /// Send the receipts of in-person presentations made offline to the server for its
    /// countersignature (online), and store each one checked. Signed by the bookkeeping key:
    /// never prompts. Also done after each `services().sync_cases()`. Returns how many were
    /// countersigned now (0 when none waits, or before the bookkeeping key is registered).
    /// Main-safe. Throws [`CitizenError`] (`Network`: they stay pending and are sent next time;
    /// `Refused` `consent.countersignature_invalid` for an answer that does not verify).
    pub async fn sync_receipts(&self) -> Result<u32, CitizenError> {
        self.0.run(|a| async move { a.sync_in_person_receipts().await }).await
    }

    /// The receipts as JSON anyone can verify with the device's and the server's public keys
    /// (`verify_receipt_export`). Main-safe; never prompts. Throws [`CitizenError`].
    pub async fn export_receipts(&self) -> Result<String, CitizenError> {
        self.0
            .blocking(|a| {
                let x = a.export_receipts()?;
                Ok(serde_json::to_string_pretty(&x)?)
            })
            .await
    }
}

#[cfg(feature = "test-support")]
impl crate::CitizenCore {
    /// Test support: sign a consent statement with this device's key and its next counter, so
    /// tests can build hostile decision requests (replays, other sessions, changed claims) by
    /// hand with the protocol types.
    pub async fn sign_consent_for_test(
        &self,
        nonce: String,
        subject: String,
        issued_at: i64,
    ) -> Result<crate::protocol::SignedStatement, CitizenError> {
        self.engine()
            .run(|a| async move {
                let acc = a.active_account()?;
                a.sign_consent(&acc, &nonce, subject, issued_at).await
            })
            .await
    }
}
