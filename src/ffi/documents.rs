//! The documents sub-client (`CitizenCore.documents()`, issue 13 item 1, decision 32): the
//! citizen's CCCD, driving licence, health-insurance card and vehicle registration, held as ISO
//! 18013-5 mdocs and SD-JWT VCs bound to the device key. Thin wrappers over [`crate::documents`].

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::errors::CitizenError;
use super::facade::Engine;
use crate::documents::{display_value, elements_of, DocumentRow};
use crate::protocol::documents::{element_label, DocumentKind};

/// Which document.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum DocumentType {
    /// Căn cước công dân (CCCD).
    CitizenIdCard,
    /// Giấy phép lái xe, as the ISO 18013-5 mobile driving licence (`org.iso.18013.5.1.mDL`).
    DrivingLicence,
    /// Thẻ bảo hiểm y tế (BHYT).
    HealthInsuranceCard,
    /// Giấy chứng nhận đăng ký xe.
    VehicleRegistration,
}

impl From<DocumentKind> for DocumentType {
    fn from(k: DocumentKind) -> Self {
        match k {
            DocumentKind::Cccd => DocumentType::CitizenIdCard,
            DocumentKind::DrivingLicence => DocumentType::DrivingLicence,
            DocumentKind::HealthInsurance => DocumentType::HealthInsuranceCard,
            DocumentKind::VehicleRegistration => DocumentType::VehicleRegistration,
        }
    }
}

/// A held document, as listed.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct DocumentSummary {
    /// The issuance id (pass it to `get` and `delete`).
    pub id: String,
    /// Which document.
    pub document_type: DocumentType,
    /// The mdoc docType (e.g. `org.iso.18013.5.1.mDL`).
    pub doc_type: String,
    /// Name in Vietnamese.
    pub title_vi: String,
    /// Name in English.
    pub title_en: String,
    /// The document signer (certificate subject) that issued it.
    pub issuer: String,
    /// When the issuer signed it.
    pub signed_at: SystemTime,
    /// End of the signed validity (the wallet refreshes before).
    pub valid_until: SystemTime,
    /// Index of its entry in the issuer's token status list.
    pub status_index: i64,
    /// When this device stored it.
    pub stored_at: SystemTime,
}

/// One element of a document, labelled.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct DocumentField {
    /// Element identifier (`family_name`, `plate_number`, …).
    pub identifier: String,
    /// Label in Vietnamese.
    pub label_vi: String,
    /// Label in English.
    pub label_en: String,
    /// The value as text (dates `YYYY-MM-DD`; licence categories `B: from → to`).
    pub value: String,
}

/// A held document with its fields and portrait.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct DocumentDetail {
    /// The summary shown in the list.
    pub summary: DocumentSummary,
    /// Every element except the portrait, in the issuer's order.
    pub fields: Vec<DocumentField>,
    /// The portrait image (JPEG) when the document has one (the driving licence).
    pub portrait: Option<Vec<u8>>,
}

fn time(unix: i64) -> SystemTime {
    match u64::try_from(unix) {
        Ok(s) => UNIX_EPOCH + Duration::from_secs(s),
        Err(_) => UNIX_EPOCH,
    }
}

fn detail(row: &DocumentRow) -> Result<DocumentDetail, crate::error::Error> {
    let d = &row.document;
    let doc = d.read()?;
    let (title_vi, title_en) = d.kind.names();
    let summary = DocumentSummary {
        id: d.id.clone(),
        document_type: d.kind.into(),
        doc_type: doc.doc_type.clone(),
        title_vi: title_vi.into(),
        title_en: title_en.into(),
        issuer: doc.issuer.clone(),
        signed_at: time(doc.signed_unix),
        valid_until: time(doc.valid_until_unix),
        status_index: i64::try_from(d.status_idx).unwrap_or(i64::MAX),
        stored_at: time(row.stored_at),
    };
    let mut portrait = None;
    let mut fields = Vec::new();
    for (identifier, value) in elements_of(&doc, d.kind) {
        if identifier == "portrait" {
            if let citizen_mdoc::CborValue::Bytes(b) = value {
                portrait = Some(b);
            }
            continue;
        }
        let (vi, en) = element_label(&identifier);
        let (label_vi, label_en) =
            if vi.is_empty() { (identifier.clone(), identifier.clone()) } else { (vi.to_string(), en.to_string()) };
        fields.push(DocumentField { identifier, label_vi, label_en, value: display_value(&value) });
    }
    Ok(DocumentDetail { summary, fields, portrait })
}

/// The documents wallet of one core (`CitizenCore.documents()`). Small enough to fake in a test
/// of a view model.
#[derive(uniffi::Object)]
pub struct DocumentsClient(pub(crate) Engine);

#[uniffi::export]
impl DocumentsClient {
    /// Ask the server for the citizen's four documents and store them, replacing the held set.
    /// Signs a `credential` statement with the device key (may prompt for the biometric/passcode
    /// of the key store). Every document is checked before anything is stored (issuer chain to
    /// the signed trust list, MSO signature, every element's digest, validity, bound to this
    /// device's key; the SD-JWT VC likewise); one bad document refuses them all with its code
    /// (`Refused`: `mdoc.digest_mismatch`, `mdoc.issuer_untrusted`, `mdoc.device_key_mismatch`,
    /// `documents.sd_jwt_invalid`, `documents.mismatch`, `documents.trust_list_invalid`, …) and
    /// the wallet stays as it was. Main-safe. Throws [`CitizenError`] (`NeedsLogin`, `Network`,
    /// `KeyStore`, `Refused`).
    pub async fn refresh(&self) -> Result<Vec<DocumentSummary>, CitizenError> {
        self.0.run::<_, CitizenError, _>(|a| async move { a.refresh_documents().await }).await?;
        self.list().await
    }

    /// The held documents (CCCD, driving licence, health insurance, vehicle registration order).
    /// Offline. Main-safe; never prompts. Throws [`CitizenError`] (`Internal`).
    pub async fn list(&self) -> Result<Vec<DocumentSummary>, CitizenError> {
        self.0.blocking(|a| a.documents()?.iter().map(|r| Ok(detail(r)?.summary)).collect()).await
    }

    /// One held document with its labelled fields (Vietnamese and English) and its portrait.
    /// Offline. Main-safe; never prompts. Throws [`CitizenError`] (`NotFound`
    /// `documents.unknown`).
    pub async fn get(&self, id: String) -> Result<DocumentDetail, CitizenError> {
        self.0.blocking(move |a| detail(&a.document(&id)?)).await
    }

    /// Delete a held document from this device (`refresh` fetches it again). Main-safe; never
    /// prompts. Throws [`CitizenError`] (`NotFound` `documents.unknown`).
    pub async fn delete(&self, id: String) -> Result<(), CitizenError> {
        self.0.blocking(move |a| a.delete_document(&id)).await
    }

    /// When the trust list the held documents were checked against was fetched (`None` before
    /// the first refresh): verifiers working offline say how old their list is. Main-safe; never
    /// prompts. Throws [`CitizenError`] (`Internal`).
    pub async fn trust_list_fetched_at(&self) -> Result<Option<SystemTime>, CitizenError> {
        self.0.blocking(|a| Ok(a.store.trust_list()?.map(|(_, at)| time(at)))).await
    }
}
