//! UniFFI façade of consent: QR login to web portals, consent receipts, and the error and
//! records shared with data sharing (`facade_share.rs`). Thin wrappers over [`crate::consent`].

use crate::error::{Error, ErrorDetail, Msg, NetworkErrorKind, PublicError};
use crate::protocol::rp::{DeliveryStatus, ReceiptKind, SignedReceipt};
use crate::{CitizenCore, DeviceStatus};

/// Errors of QR login, data sharing and consent receipts. Every variant carries a stable code
/// (`consent.frame_stale`, …) and the message in both languages.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum ConsentError {
    /// What was scanned or opened is not a valid login code, link or request (too long, wrong
    /// version, malformed), or a local input was refused (passcode format).
    #[error("{}", detail.code)]
    InvalidCode { detail: ErrorDetail },
    /// The relying party failed a check against the signed registry: unknown, bad signature,
    /// unregistered origin or redirect, a claim or purpose it may not ask for. Likely a fake site.
    #[error("{}", detail.code)]
    RelyingPartyRejected { detail: ErrorDetail },
    /// The request or the scanned frame is too old (scan the code on the screen again).
    #[error("{}", detail.code)]
    Expired { detail: ErrorDetail },
    /// No such login session or share request (or it was already answered on this device), or
    /// no credential on the device.
    #[error("{}", detail.code)]
    NotFound { detail: ErrorDetail },
    /// The server or the relying party refused (already scanned or decided, wrong verification
    /// code, mismatched approval, presentation refused).
    #[error("{}", detail.code)]
    Refused { detail: ErrorDetail },
    /// A receipt export did not verify: changed content, bad device signature, bad server
    /// countersignature, or another server key than the pinned one.
    #[error("{}", detail.code)]
    ReceiptInvalid { detail: ErrorDetail },
    /// No account on this device.
    #[error("{}", detail.code)]
    NotEnrolled { detail: ErrorDetail },
    /// Not logged in, or the session ended: log in again.
    #[error("{}", detail.code)]
    NotLoggedIn { detail: ErrorDetail },
    /// Wrong passcode.
    #[error("{}", detail.code)]
    PasscodeIncorrect { detail: ErrorDetail, attempts_before_lockout: u32, attempts_before_wipe: u32 },
    /// Too many wrong passcodes; wait.
    #[error("{}", detail.code)]
    LockedOut { detail: ErrorDetail, retry_after_secs: u64 },
    /// Too many wrong passcodes; the local account was erased.
    #[error("{}", detail.code)]
    Wiped { detail: ErrorDetail },
    /// This device was replaced or revoked.
    #[error("{}", detail.code)]
    DeviceInactive { detail: ErrorDetail, status: DeviceStatus },
    /// Key store failure, cancellation or invalidated key.
    #[error("{}", detail.code)]
    KeyStore { detail: ErrorDetail },
    /// Transport failure.
    #[error("{}", detail.code)]
    Network { detail: ErrorDetail, kind: NetworkErrorKind },
    /// The server's answer did not verify (registry, countersignature, malformed data).
    #[error("{}", detail.code)]
    BadServerResponse { detail: ErrorDetail },
    /// Local storage or another unexpected failure.
    #[error("{}", detail.code)]
    Internal { detail: ErrorDetail },
}

/// Which public variant a consent message belongs to.
fn consent_variant(m: Msg) -> Option<fn(ErrorDetail) -> ConsentError> {
    use Msg::*;
    Some(match m {
        ConsentQrNotLoginCode
        | ConsentQrTooLong
        | ConsentQrVersion
        | ConsentQrMalformed
        | ConsentShareRequestInvalid
        | ConsentClaimNotOffered
        | ConsentExportInvalid => |detail| ConsentError::InvalidCode { detail },
        ConsentRpUnknown
        | ConsentRpSignatureInvalid
        | ConsentOriginUnregistered
        | ConsentClaimNotAllowed
        | ConsentPurposeNotRegistered => |detail| ConsentError::RelyingPartyRejected { detail },
        ConsentRequestExpired | ConsentFrameStale => |detail| ConsentError::Expired { detail },
        ConsentUnknownSession | ConsentUnknownShareRequest | ConsentNoCredential => {
            |detail| ConsentError::NotFound { detail }
        }
        ConsentFrameForged
        | ConsentAlreadyScanned
        | ConsentAlreadyDecided
        | ConsentSessionMismatch
        | ConsentClaimsChanged
        | ConsentWrongCode
        | ConsentPresentationRejected
        | ConsentPresentationReplayed
        | ConsentPresentationWrongAudience => |detail| ConsentError::Refused { detail },
        ConsentServerKeyMismatch
        | ConsentReceiptTampered
        | ConsentReceiptSignatureInvalid
        | ConsentReceiptChainBroken
        | ConsentReceiptsTruncated
        | ConsentDeliveryInvalid => |detail| ConsentError::ReceiptInvalid { detail },
        ConsentRegistryInvalid | ConsentCountersignatureInvalid | ReceiptInvalid | ProtocolError => {
            |detail| ConsentError::BadServerResponse { detail }
        }
        _ => return None,
    })
}

impl From<Error> for ConsentError {
    fn from(e: Error) -> Self {
        tracing::info!(error = %e, "consent error");
        match e {
            Error::Domain(m) if consent_variant(m).is_some() => consent_variant(m).expect("checked")(m.detail()),
            Error::Fields(fields) => {
                let detail = fields
                    .first()
                    .map(|f| ErrorDetail {
                        code: f.code.clone(),
                        message_vi: f.message_vi.clone(),
                        message_en: f.message_en.clone(),
                    })
                    .unwrap_or_else(|| Msg::InvalidInput.detail());
                ConsentError::InvalidCode { detail }
            }
            Error::PasscodeIncorrect { before_lockout, before_wipe } => ConsentError::PasscodeIncorrect {
                detail: Msg::PasscodeIncorrect.detail(),
                attempts_before_lockout: before_lockout,
                attempts_before_wipe: before_wipe,
            },
            Error::LockedOut(s) => ConsentError::LockedOut { detail: Msg::LockedOut.detail(), retry_after_secs: s },
            Error::Domain(m @ Msg::Wiped) => ConsentError::Wiped { detail: m.detail() },
            Error::Domain(m @ Msg::NotEnrolled) => ConsentError::NotEnrolled { detail: m.detail() },
            Error::Domain(m @ (Msg::NotLoggedIn | Msg::SessionExpired | Msg::SessionRevoked)) => {
                ConsentError::NotLoggedIn { detail: m.detail() }
            }
            Error::DeviceInactive(s) => ConsentError::DeviceInactive {
                detail: Msg::DeviceInactive.detail(),
                status: DeviceStatus::from_wire(&s),
            },
            Error::KeyStore(k) => ConsentError::KeyStore {
                detail: match k {
                    crate::DeviceKeyStoreError::KeyInvalidated { .. } => Msg::KeyInvalidated.detail(),
                    crate::DeviceKeyStoreError::UserCancelled { .. } => Msg::UserCancelled.detail(),
                    _ => Msg::KeyStore.detail(),
                },
            },
            Error::BadReceipt(_) => {
                ConsentError::BadServerResponse { detail: Msg::ConsentCountersignatureInvalid.detail() }
            }
            Error::Net(n) if n.kind == NetworkErrorKind::Protocol => {
                ConsentError::BadServerResponse { detail: Msg::ProtocolError.detail() }
            }
            Error::Net(n) => ConsentError::Network {
                detail: Msg::all()
                    .iter()
                    .find(|m| m.code() == crate::services::flows::error_code(&Error::Net(n.clone())))
                    .map(|m| m.detail())
                    .unwrap_or_else(|| Msg::Offline.detail()),
                kind: n.kind,
            },
            Error::Domain(m) => ConsentError::Refused { detail: m.detail() },
            Error::Server { code, .. } => ConsentError::Refused {
                detail: ErrorDetail {
                    code: format!("server.{code}"),
                    message_vi: format!("Máy chủ từ chối yêu cầu ({code})."),
                    message_en: format!("The server refused the request ({code})."),
                },
            },
            _ => ConsentError::Internal { detail: Msg::Internal.detail() },
        }
    }
}

impl PublicError for ConsentError {
    fn detail(&self) -> &ErrorDetail {
        use ConsentError::*;
        match self {
            InvalidCode { detail }
            | RelyingPartyRejected { detail }
            | Expired { detail }
            | NotFound { detail }
            | Refused { detail }
            | ReceiptInvalid { detail }
            | NotEnrolled { detail }
            | NotLoggedIn { detail }
            | PasscodeIncorrect { detail, .. }
            | LockedOut { detail, .. }
            | Wiped { detail }
            | DeviceInactive { detail, .. }
            | KeyStore { detail }
            | Network { detail, .. }
            | BadServerResponse { detail }
            | Internal { detail } => detail,
        }
    }
}

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
    /// Unix seconds.
    pub expires_at: i64,
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
    pub retention_days: u32,
    /// Unix seconds.
    pub issued_at: i64,
    /// Position in the device's receipt chain (1, 2, 3, …; 0 for a receipt made before
    /// receipts were chained).
    pub sequence: u64,
    /// Data shares: whether the data reached the relying party.
    pub delivery: ShareDelivery,
    /// Set on a marker for a receipt the device cannot show: `consent.receipt_damaged` (the
    /// stored row does not open) or `consent.receipt_missing` (a receipt of the chain was
    /// deleted). The other fields of a marker hold what is still known (id, kind, time).
    pub damage: Option<ErrorDetail>,
}

impl From<&SignedReceipt> for ReceiptInfo {
    fn from(s: &SignedReceipt) -> Self {
        let r = &s.receipt;
        let delivery = match (r.kind, &s.delivery) {
            (ReceiptKind::QrLogin, _) => ShareDelivery::NotApplicable,
            (ReceiptKind::DataShare, None) => ShareDelivery::Unknown,
            (ReceiptKind::DataShare, Some(d)) => match d.status {
                DeliveryStatus::Delivered => ShareDelivery::Delivered,
                DeliveryStatus::Refused => ShareDelivery::Refused,
                DeliveryStatus::NotDelivered => ShareDelivery::NotDelivered,
                DeliveryStatus::Unknown => ShareDelivery::Unknown,
            },
        };
        ReceiptInfo {
            sequence: r.chain_seq,
            delivery,
            damage: None,
            receipt_id: r.receipt_id.clone(),
            kind: match r.kind {
                ReceiptKind::QrLogin => ConsentKind::QrLogin,
                ReceiptKind::DataShare => ConsentKind::DataShare,
            },
            relying_party_id: r.rp_id.clone(),
            relying_party_name: r.rp_name.clone(),
            origin: r.origin.clone(),
            purpose: r.purpose.clone(),
            claims: r.claims.clone(),
            retention_days: r.retention_days,
            issued_at: r.issued_at,
        }
    }
}

/// Verify an exported receipt file (JSON from `export_receipts`) on its own: every receipt's
/// digest and statement, the device signature with the key it embeds, the server's
/// countersignature with the server key it embeds, each delivery record, and the chain: no
/// receipt removed, reordered or cut off the end (`consent.receipt_chain_broken`,
/// `consent.receipts_truncated`). With `server_key_jwk` (a JWK the verifier trusts, e.g. from
/// the server's `/v1/keys`), the embedded key must be that one — without it the check only
/// proves the file is self-consistent. Returns the number of receipts verified.
#[uniffi::export]
pub fn verify_receipt_export(json: String, server_key_jwk: Option<String>) -> Result<u32, ConsentError> {
    Ok(crate::consent::receipts::verify_export(&json, server_key_jwk.as_deref())?)
}

#[uniffi::export(async_runtime = "tokio")]
impl CitizenCore {
    /// Fetch the registry of relying parties, verify the server's signature, and cache it (login
    /// codes are then checked offline). Returns how many relying parties it lists.
    pub async fn refresh_relying_parties(&self) -> Result<u32, ConsentError> {
        Ok(self.account.refresh_registry().await?.relying_parties.len() as u32)
    }

    /// Scan a login QR code. Everything that can be checked on the device is checked before any
    /// network call: strict parse, relying party in the signed registry, its signature, the
    /// origin, the claims, the expiry. Then the server is told at once (it refuses a stale or
    /// forged frame) and answers the verification-code choices.
    pub async fn scan_login_code(&self, frame: String) -> Result<LoginRequestInfo, ConsentError> {
        Ok(self.account.scan_login(&frame).await?)
    }

    /// Same-device flow: a relying party's app opened `citizenid://login?p=<frame>`. Same checks
    /// as [`CitizenCore::scan_login_code`].
    pub async fn open_login_link(&self, url: String) -> Result<LoginRequestInfo, ConsentError> {
        let frame = crate::consent::qr::frame_from_link(&url)?;
        Ok(self.account.scan_login(&frame).await?)
    }

    /// Approve a scanned login with the code the site shows and the passcode: the device signs
    /// a consent receipt binding the relying party, origin, session, nonce, claims and counter;
    /// the server countersigns it. The receipt is verified and stored.
    pub async fn approve_login(
        &self,
        session_id: String,
        verification_code: String,
        passcode: String,
    ) -> Result<LoginApproval, ConsentError> {
        let passcode = zeroize::Zeroizing::new(passcode);
        Ok(self.account.approve_login(&session_id, &verification_code, &passcode).await?)
    }

    /// Decline a scanned login (signed, so the portal learns it at once).
    pub async fn deny_login(&self, session_id: String) -> Result<(), ConsentError> {
        Ok(self.account.deny_login(&session_id).await?)
    }

    /// The consent receipts on this device, newest first. A stored receipt that cannot be read
    /// is listed as a marker with `damage` = `consent.receipt_damaged`, and a receipt deleted
    /// from the chain as one with `consent.receipt_missing`; the others are listed as usual.
    pub fn list_receipts(&self) -> Result<Vec<ReceiptInfo>, ConsentError> {
        Ok(self.account.receipt_list()?)
    }

    /// The receipts as JSON anyone can verify with the device's and the server's public keys
    /// (`verify_receipt_export`).
    pub fn export_receipts(&self) -> Result<String, ConsentError> {
        let x = self.account.export_receipts()?;
        serde_json::to_string_pretty(&x).map_err(|e| ConsentError::from(Error::Storage(e.to_string())))
    }
}

#[cfg(feature = "test-support")]
impl CitizenCore {
    /// Test support: sign a consent statement with this device's key and its next counter, so
    /// tests can build hostile decision requests (replays, other sessions, changed claims) by
    /// hand with the protocol types.
    pub async fn sign_consent_for_test(
        &self,
        nonce: String,
        subject: String,
        issued_at: i64,
    ) -> Result<crate::protocol::SignedStatement, ConsentError> {
        let acc = self.account.active_account()?;
        Ok(self.account.sign_consent(&acc, &nonce, subject, issued_at).await?)
    }
}
