//! UniFFI façade of consent-based data sharing (eKYC): open a relying party's signed share
//! request, show what it asks and why, share only what the citizen picks. Thin wrappers over
//! [`crate::consent::share`]; errors are [`CitizenError`] (shared with QR login).

use super::consent::ConsentClient;
use super::consent::{ClaimRequest, ReceiptInfo};
use super::errors::CitizenError;
use super::types::{int, time};
use std::collections::HashMap;
use std::time::SystemTime;

/// A verified share request, shown to the citizen before they decide: who asks (names from the
/// signed registry), why, for how long they keep the data, what they need and what is optional.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct ShareRequestInfo {
    /// Request id; pass it to `share_data`.
    pub request_id: String,
    /// Registered relying-party id.
    pub relying_party_id: String,
    /// Registered Vietnamese name.
    pub relying_party_name_vi: String,
    /// Registered English name.
    pub relying_party_name_en: String,
    /// Registered purpose code (`account_opening`, …).
    pub purpose: String,
    /// The relying party's own explanation, in Vietnamese.
    pub purpose_vi: String,
    /// The relying party's own explanation, in English.
    pub purpose_en: String,
    /// Days the relying party will keep the data.
    pub retention_days: i32,
    /// Claims it cannot proceed without (always shared).
    pub required: Vec<ClaimRequest>,
    /// Claims the citizen may add.
    pub optional: Vec<ClaimRequest>,
    /// When the request expires.
    pub expires_at: SystemTime,
}

/// The result of a share.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct ShareOutcome {
    /// The consent receipt (signed by the device, countersigned by the server, stored).
    pub receipt: ReceiptInfo,
    /// Exactly the claims revealed, sorted.
    pub disclosed_claims: Vec<String>,
    /// Whether the relying party verified the presentation.
    pub relying_party_accepted: bool,
}

/// The identity credential (PID) this device holds, as its holder reads it.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct HeldCredentialInfo {
    /// Every claim it can disclose, with its value as issued (`place_of_origin` → `Xã …`).
    pub claims: HashMap<String, String>,
    /// Identity level the issuer vouched for (1 or 2).
    pub level: u8,
    /// When it was issued.
    pub issued_at: SystemTime,
    /// When it expires.
    pub expires_at: SystemTime,
    /// Its index in the issuer's status list (`None` for a credential issued without one).
    pub status_index: Option<u64>,
    /// Whether the issuer revoked it — e.g. after an approved correction of a claim it carries
    /// (then `fetch_credential` gets a new one). `None` when not checked.
    pub revoked: Option<bool>,
}

#[uniffi::export]
impl ConsentClient {
    /// The identity credential this device holds (`None` when none is held): its claims and
    /// values, and, when `check_status`, whether the issuer has revoked it (fetches and verifies
    /// the server's status list). Main-safe; never prompts. Throws [`CitizenError`]
    /// (`NeedsEnrollment`, `Network` when checking, `Storage`).
    pub async fn credential_info(&self, check_status: bool) -> Result<Option<HeldCredentialInfo>, CitizenError> {
        let held = self.0.run::<_, CitizenError, _>(|a| async move { a.held_credential(check_status).await }).await?;
        Ok(held.map(|(info, revoked)| HeldCredentialInfo {
            claims: info
                .values
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_string)))
                .collect(),
            level: info.level,
            issued_at: time(info.issued_at),
            expires_at: time(info.expires_at),
            status_index: info.status.as_ref().map(|s| s.0),
            revoked,
        }))
    }

    /// Fetch the identity credential the device presents from (an SD-JWT bound to the device
    /// key, every personal claim selectively disclosable) and keep it sealed. `share_data`
    /// calls this itself when the credential is missing or about to expire. Needs a session.
    /// Main-safe; may prompt (the device key signs the request, purpose `Credential`). Throws
    /// [`CitizenError`] (`NeedsLogin`, `Network`, `KeyStore`, `Refused`).
    pub async fn fetch_credential(&self) -> Result<(), CitizenError> {
        self.0.run(|a| async move { a.fetch_credential().await }).await
    }

    /// Open a relying party's share request: the JWS itself or `citizenid://share?request=…`.
    /// Checked on the device against the signed registry before anything is shown: registered
    /// party, its signature, a registered purpose, only claims it may ask for, the answer going
    /// to one of its registered origins, not expired. Main-safe; never prompts. Throws
    /// [`CitizenError`] (`InvalidInput` with `consent.share_request_invalid`, `Refused`,
    /// `Network`).
    pub async fn open_share_request(&self, request: String) -> Result<ShareRequestInfo, CitizenError> {
        let p = self.0.run::<_, CitizenError, _>(|a| async move { a.open_share_request(&request).await }).await?;
        Ok(ShareRequestInfo {
            request_id: p.claims.request_id.clone(),
            relying_party_id: p.rp.id.clone(),
            relying_party_name_vi: p.rp.name_vi.clone(),
            relying_party_name_en: p.rp.name_en.clone(),
            purpose: p.claims.purpose.clone(),
            purpose_vi: p.claims.purpose_vi.clone(),
            purpose_en: p.claims.purpose_en.clone(),
            retention_days: int(p.claims.retention_days),
            required: labelled(&p.claims.required, true),
            optional: labelled(&p.claims.optional, false),
            expires_at: time(p.claims.exp),
        })
    }

    /// Share the required claims plus `optional_claims` (each must be one the request offers)
    /// after the passcode: the presentation reveals nothing else and is bound to this relying
    /// party and request by the device key; a consent receipt is signed, countersigned and
    /// stored, and the share is recorded in the activity log before the data is sent. Main-safe;
    /// may prompt (the device key signs the presentation and the receipt, purpose `Consent`).
    /// Throws [`CitizenError`] (`PasscodeRejected`, `LockedOut`, `NotFound`, `InvalidInput`,
    /// `NeedsLogin`, `Network`, `KeyStore`, `Refused`).
    pub async fn share_data(
        &self,
        request_id: String,
        optional_claims: Vec<String>,
        passcode: String,
    ) -> Result<ShareOutcome, CitizenError> {
        let passcode = zeroize::Zeroizing::new(passcode);
        let s = self
            .0
            .run::<_, CitizenError, _>(|a| async move { a.share_data(&request_id, &optional_claims, &passcode).await })
            .await?;
        Ok(ShareOutcome {
            receipt: ReceiptInfo::from(&s.receipt),
            disclosed_claims: s.disclosed,
            relying_party_accepted: s.accepted,
        })
    }
}

#[cfg(feature = "test-support")]
impl crate::CitizenCore {
    /// The last presentation this device sent (test support only: tests replay it and search it
    /// for undisclosed values). Never compiled into the shipped library.
    pub fn test_last_presentation(&self) -> Option<String> {
        let device_id = self.shared.account()?.this_device_id().ok().flatten()?;
        crate::consent::share::last_presentation(&device_id)
    }
}

/// Labelled claims for the citizen.
fn labelled(names: &[String], required: bool) -> Vec<ClaimRequest> {
    names.iter().map(|n| ClaimRequest::of(n, required)).collect()
}
