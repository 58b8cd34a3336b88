//! Delegation through the FFI (issue 15 item 5, decision 49): a parent's or guardian's
//! dependants with their mandates and cases (`AccountClient::dependants`), revocation
//! (`AccountClient::revoke_mandate`) and drafts on a dependant's behalf
//! (`ServicesClient::create_draft_for`). Thin wrappers over [`crate::account::delegation`].

use std::time::SystemTime;

use citizen_protocol::protocol::delegation::{MandateState as WireState, Relation as WireRelation};

use super::account::AccountClient;
use super::documents::{DocumentField, DocumentType, DocumentsClient};
use super::errors::CitizenError;
use super::services::{Draft, ServicesClient};
use super::types::{time, CitizenProfile};
use crate::documents::dependant::StoredDependantDocument;
use crate::protocol::documents::{element_label, DocumentKind};

/// How the account holder is related to the dependant in the population register.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum GuardianRelation {
    /// Parent (cha/mẹ) of a child under 14.
    Parent,
    /// Guardian (người giám hộ) of a ward.
    Guardian,
}

/// The state of a mandate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum MandateState {
    /// In force: the guardian may file and present within its scope.
    Active,
    /// Ended: the child turned 14, or the guardianship ended in the register.
    Expired,
    /// Revoked by the guardian or an official.
    Revoked,
}

/// A mandate: the server's signed, scoped, time-limited grant to act for a dependant.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Mandate {
    /// Its id (named in every on-behalf submission).
    pub mandate_id: String,
    /// Its state now.
    pub state: MandateState,
    /// The procedures (catalogue ids) it covers.
    pub procedures: Vec<String>,
    /// The document kinds (`health_insurance`, `cccd`, …) it covers.
    pub document_types: Vec<String>,
    /// When the grant ends.
    pub ends_at: SystemTime,
    /// When it was revoked, if it was.
    pub revoked_at: Option<SystemTime>,
    /// Who revoked it (`guardian`, or `official:<staff id>`).
    pub revoked_by: Option<String>,
    /// The signed mandate (compact JWS, `typ` `citizen-mandate+jwt`), checked by the core, while
    /// active: what a verifier checks offline against the server's keys.
    pub signed: Option<String>,
}

/// A case filed on behalf of a dependant.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct DependantCase {
    /// Case number (mã hồ sơ).
    pub case_number: String,
    /// Procedure id.
    pub procedure_id: String,
    /// Status (wire name: `received`, `processing`, …).
    pub status: String,
    /// When it was received.
    pub received_at: SystemTime,
    /// The CCCD number of the guardian who filed it.
    pub filed_by: String,
}

/// A child or ward the account holder may act for.
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct Dependant {
    /// The relation in the register.
    pub relation: GuardianRelation,
    /// The dependant's register record.
    pub profile: CitizenProfile,
    /// The mandate of this relation.
    pub mandate: Mandate,
    /// Cases filed on the dependant's behalf (by any of their guardians).
    pub cases: Vec<DependantCase>,
}

fn dependant(d: crate::account::delegation::Dependant) -> Dependant {
    let d = d.dto;
    Dependant {
        relation: match d.relation {
            WireRelation::Parent => GuardianRelation::Parent,
            WireRelation::Guardian => GuardianRelation::Guardian,
        },
        profile: d.profile.into(),
        mandate: Mandate {
            mandate_id: d.mandate.mandate_id,
            state: match d.mandate.state {
                WireState::Active => MandateState::Active,
                WireState::Expired => MandateState::Expired,
                WireState::Revoked => MandateState::Revoked,
            },
            procedures: d.mandate.procedures,
            document_types: d.mandate.document_types,
            ends_at: time(d.mandate.ends_at),
            revoked_at: d.mandate.revoked_at.map(time),
            revoked_by: d.mandate.revoked_by,
            signed: d.mandate.jws,
        },
        cases: d
            .cases
            .into_iter()
            .map(|c| DependantCase {
                case_number: c.case_number,
                procedure_id: c.procedure_id,
                status: c.status,
                received_at: time(c.received_at),
                filed_by: c.filed_by,
            })
            .collect(),
    }
}

#[uniffi::export]
impl AccountClient {
    /// The children under 14 and wards the population register names the account holder as
    /// parent or guardian of, each with its mandate (granted by the server for the relation;
    /// every active one verified: the server's signature, this device's key, this dependant)
    /// and the cases filed on the dependant's behalf. Logged in; network. Main-safe; never
    /// prompts. Throws [`CitizenError`] (`Network` when a mandate does not verify).
    pub async fn dependants(&self) -> Result<Vec<Dependant>, CitizenError> {
        let v = self.0.run::<_, CitizenError, _>(|a| async move { a.dependants().await }).await?;
        Ok(v.into_iter().map(dependant).collect())
    }

    /// Revoke one of the account holder's mandates (it cannot be used again; a new one is
    /// granted only at a counter). Logged in; network. Main-safe; never prompts. Throws
    /// [`CitizenError`] (`Refused` `delegation.revoked` when already revoked,
    /// `delegation.not_dependant` for another guardian's mandate; `NotFound` for an unknown one).
    pub async fn revoke_mandate(&self, mandate_id: String) -> Result<(), CitizenError> {
        self.0.run::<_, CitizenError, _>(|a| async move { a.revoke_mandate(&mandate_id).await }).await
    }
}

#[uniffi::export]
impl ServicesClient {
    /// A new draft of `procedure_id` on behalf of the dependant with CCCD number
    /// `dependant_cccd`, auto-filled and locked from the dependant's register record; submitted
    /// like any draft (signed by this device's key, the mandate id in the signed payload). The
    /// mandate must be active and cover the procedure. Logged in; network. Main-safe; never
    /// prompts. Throws [`CitizenError`] (`Refused` `delegation.not_dependant`,
    /// `delegation.out_of_scope`, `delegation.expired`, `delegation.revoked`).
    pub async fn create_draft_for(&self, procedure_id: String, dependant_cccd: String) -> Result<Draft, CitizenError> {
        let row = self
            .0
            .run::<_, CitizenError, _>(|a| async move { a.create_draft_for(&procedure_id, &dependant_cccd).await })
            .await?;
        Ok(super::services::draft(row))
    }
}

/// What a verified mandate says (every field from the server-signed mandate).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct VerifiedMandate {
    /// The mandate id.
    pub mandate_id: String,
    /// The relation in the register.
    pub relation: GuardianRelation,
    /// The guardian's CCCD number.
    pub guardian_cccd: String,
    /// The guardian's full name.
    pub guardian_name: String,
    /// The guardian's device key (SEC1, base64url): the only key that may act under it.
    pub guardian_device_key: String,
    /// The dependant's CCCD number.
    pub dependant_cccd: String,
    /// The dependant's full name.
    pub dependant_name: String,
    /// The dependant's date of birth (`YYYY-MM-DD`).
    pub dependant_birthdate: String,
    /// Procedures covered.
    pub procedures: Vec<String>,
    /// Document kinds covered.
    pub document_types: Vec<String>,
    /// When this signed mandate stops being valid (its own expiry or the grant's end).
    pub valid_until: SystemTime,
}

/// Verify a mandate (`Mandate.signed`) offline, as a verifier at a counter does: the server's
/// signature under `server_key_jwk` (a JWK or JWKS obtained independently), its `typ`
/// `citizen-mandate+jwt`, issuer `issuer` (the server's origin), and that it has not ended.
/// Pure computation: main-safe, never prompts. Throws [`CitizenError`] (`Refused`
/// `delegation.mandate_invalid` for a forged or altered one, `delegation.expired`;
/// `InvalidInput` when the key is not a JWK).
#[uniffi::export]
pub fn verify_mandate(signed: String, server_key_jwk: String, issuer: String) -> Result<VerifiedMandate, CitizenError> {
    let now = citizen_protocol::clock::Clock::now(&citizen_protocol::clock::SystemClock);
    let c = crate::account::delegation::verify_mandate(&signed, &server_key_jwk, &issuer, now)?;
    Ok(VerifiedMandate {
        mandate_id: c.jti,
        relation: match c.relation {
            WireRelation::Parent => GuardianRelation::Parent,
            WireRelation::Guardian => GuardianRelation::Guardian,
        },
        guardian_cccd: c.guardian_cccd,
        guardian_name: c.guardian_name,
        guardian_device_key: c.guardian_device_key,
        dependant_cccd: c.dependant_cccd,
        dependant_name: c.dependant_name,
        dependant_birthdate: c.dependant_birthdate,
        procedures: c.procedures,
        document_types: c.document_types,
        valid_until: time(c.exp.min(c.mandate_ends_at)),
    })
}

impl From<DocumentType> for DocumentKind {
    fn from(t: DocumentType) -> Self {
        match t {
            DocumentType::CitizenIdCard => DocumentKind::Cccd,
            DocumentType::DrivingLicence => DocumentKind::DrivingLicence,
            DocumentType::HealthInsuranceCard => DocumentKind::HealthInsurance,
            DocumentType::VehicleRegistration => DocumentKind::VehicleRegistration,
        }
    }
}

/// A document of a child or ward held by the guardian's device (decision 52): an SD-JWT VC
/// about the dependant, bound to this device's key, presented with the mandate beside it. Kept
/// apart from the citizen's own documents.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct DependantDocument {
    /// The server's id of the issuance (what `present_for_dependant` names).
    pub id: String,
    /// Which document.
    pub document_type: DocumentType,
    /// Title in Vietnamese.
    pub title_vi: String,
    /// Title in English.
    pub title_en: String,
    /// The dependant's CCCD number.
    pub dependant_cccd: String,
    /// The dependant's full name.
    pub dependant_name: String,
    /// The mandate it was issued under.
    pub mandate_id: String,
    /// Its fields (the dependant's data, shown to the guardian).
    pub fields: Vec<DocumentField>,
    /// When this device stored it.
    pub stored_at: SystemTime,
}

fn dependant_document(d: &StoredDependantDocument) -> DependantDocument {
    let (title_vi, title_en) = d.kind.names();
    let values = citizen_protocol::sdjwt::inspect(&d.sd_jwt).map(|i| i.values).unwrap_or_default();
    let fields = values
        .into_iter()
        .map(|(identifier, v)| {
            let (vi, en) = element_label(&identifier);
            let (label_vi, label_en) =
                if vi.is_empty() { (identifier.clone(), identifier.clone()) } else { (vi.into(), en.into()) };
            let value = match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            DocumentField { identifier, label_vi, label_en, value }
        })
        .collect();
    DependantDocument {
        id: d.id.clone(),
        document_type: d.kind.into(),
        title_vi: title_vi.into(),
        title_en: title_en.into(),
        dependant_cccd: d.dependant_cccd.clone(),
        dependant_name: d.dependant_name.clone(),
        mandate_id: d.mandate_id.clone(),
        fields,
        stored_at: time(d.stored_at),
    }
}

/// What presenting a dependant's document produced.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct OnBehalfShare {
    /// The presentation to hand the verifier (JSON: the SD-JWT with its key-binding JWT, and
    /// the mandate JWS), e.g. as a QR code or over the verifier's channel.
    pub presentation: String,
    /// The consent receipt's id (stored on the device, device-signed).
    pub receipt_id: String,
    /// Exactly the disclosed fields.
    pub disclosed: Vec<String>,
}

#[uniffi::export]
impl DocumentsClient {
    /// Fetch the document `document_type` of the dependant with CCCD number `dependant_cccd`
    /// under their active mandate: issued by the server bound to this device's key, checked
    /// (trust list, issuer, this device's key, the dependant, the mandate) and stored sealed,
    /// replacing an earlier one of the same dependant and kind. Logged in; network. Main-safe;
    /// never prompts. Throws [`CitizenError`] (`Refused` `delegation.not_dependant`,
    /// `delegation.revoked`, `delegation.expired`, `delegation.out_of_scope`; `Network`).
    pub async fn fetch_for_dependant(
        &self,
        dependant_cccd: String,
        document_type: DocumentType,
    ) -> Result<DependantDocument, CitizenError> {
        let d = self
            .0
            .run::<_, CitizenError, _>(|a| async move {
                a.fetch_dependant_document(&dependant_cccd, document_type.into()).await
            })
            .await?;
        Ok(dependant_document(&d))
    }

    /// The held documents of dependants, by dependant then kind. Offline. Main-safe; never
    /// prompts.
    pub async fn list_for_dependants(&self) -> Result<Vec<DependantDocument>, CitizenError> {
        self.0.blocking(|a| Ok(a.dependant_documents()?.iter().map(dependant_document).collect())).await
    }

    /// Delete a held dependant's document from this device. Offline. Main-safe; never prompts.
    /// Throws [`CitizenError`] (`NotFound` `documents.unknown`).
    pub async fn delete_for_dependant(&self, id: String) -> Result<(), CitizenError> {
        self.0.blocking(move |a| a.delete_dependant_document(&id)).await
    }

    /// Present the held dependant's document `id` to the verifier `verifier_id` (the audience)
    /// for its `nonce`, disclosing only `fields`: the citizen's passcode, a key-binding JWT
    /// signed in the key store (purpose document presentation, user-initiated), the mandate
    /// attached; a consent receipt and an activity entry (naming the mandate, not the
    /// dependant) record it. Offline. Main-safe; prompts only through the key store for this
    /// call. Throws [`CitizenError`] (`PasscodeRejected`; `NotFound` `documents.unknown`;
    /// `Refused` `delegation.expired` when the stored mandate has ended — fetch again;
    /// `InvalidInput` for a field the document does not hold).
    pub async fn present_for_dependant(
        &self,
        id: String,
        fields: Vec<String>,
        verifier_id: String,
        nonce: String,
        passcode: String,
    ) -> Result<OnBehalfShare, CitizenError> {
        let passcode = zeroize::Zeroizing::new(passcode);
        let p = self
            .0
            .run::<_, CitizenError, _>(|a| async move {
                a.present_for_dependant(&id, &fields, &verifier_id, &nonce, &passcode).await
            })
            .await?;
        Ok(OnBehalfShare {
            presentation: p.presentation,
            receipt_id: p.receipt.receipt.receipt_id,
            disclosed: p.disclosed,
        })
    }
}

/// A dependant's document presented by a guardian, verified (`Verifier.verify_on_behalf`).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct OnBehalfVerification {
    /// "Thẻ bảo hiểm y tế của con Y do cha/mẹ X trình".
    pub summary_vi: String,
    /// "Health insurance card of child Y presented by parent X".
    pub summary_en: String,
    /// The relation.
    pub relation: GuardianRelation,
    /// The guardian's full name.
    pub guardian_name: String,
    /// The guardian's CCCD number.
    pub guardian_cccd: String,
    /// The dependant's full name.
    pub dependant_name: String,
    /// The dependant's CCCD number.
    pub dependant_cccd: String,
    /// The dependant's date of birth.
    pub dependant_birthdate: String,
    /// The mandate id.
    pub mandate_id: String,
    /// Which document.
    pub document_type: DocumentType,
    /// Exactly the disclosed fields (the dependant's data).
    pub fields: Vec<DocumentField>,
    /// Whether the document's revocation status was checked (a fresh cached status list);
    /// `false`: refresh the verifier's trust when online.
    pub revocation_checked: bool,
}

pub(crate) fn on_behalf_verification(
    v: crate::verifier::on_behalf::OnBehalfVerdict,
    revocation_checked: bool,
) -> OnBehalfVerification {
    let (summary_vi, summary_en) = v.summary();
    let m = v.mandate;
    let fields = v
        .claims
        .into_iter()
        .map(|(identifier, value)| {
            let (vi, en) = element_label(&identifier);
            let (label_vi, label_en) =
                if vi.is_empty() { (identifier.clone(), identifier.clone()) } else { (vi.into(), en.into()) };
            let value = match value {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            DocumentField { identifier, label_vi, label_en, value }
        })
        .collect();
    OnBehalfVerification {
        summary_vi,
        summary_en,
        relation: match m.relation {
            WireRelation::Parent => GuardianRelation::Parent,
            WireRelation::Guardian => GuardianRelation::Guardian,
        },
        guardian_name: m.guardian_name,
        guardian_cccd: m.guardian_cccd,
        dependant_name: m.dependant_name,
        dependant_cccd: m.dependant_cccd,
        dependant_birthdate: m.dependant_birthdate,
        mandate_id: m.jti,
        document_type: v.kind.into(),
        fields,
        revocation_checked,
    }
}
