//! The documents wallet end to end (issue 13 item 1, decision 32): the four documents issued by
//! the reference server, checked and stored sealed by the core, listed and shown with Vietnamese
//! and English labels and the portrait, deleted; refreshing replaces the set; an official's
//! revocation shows in the status list. The refusals of
//! altered issuances are in `hostile_server` (they need the rewriting proxy).

use citizen_core::error::PublicError;
use citizen_core::protocol::documents::{StatusBits, PATH_OFFICIAL_DOCUMENT_REVOKE};
use citizen_core::{CitizenError, DocumentType};

use crate::env::Env;

const WHO: (&str, &str, &str) = ("001090000001", "1990-01-15", "+84900000001");
const FULL_NAME: &str = "Nguyễn Văn Mẫu";

#[tokio::test]
async fn four_documents_are_issued_checked_stored_sealed_listed_shown_and_deleted() {
    let env = Env::new().await;
    let d = env.enrolled("dev", WHO).await;
    let docs = d.core.documents();
    assert!(docs.list().await.unwrap().is_empty());
    assert_eq!(docs.trust_list_fetched_at().await.unwrap(), None);

    let list = docs.refresh().await.unwrap();
    let types: Vec<DocumentType> = list.iter().map(|s| s.document_type).collect();
    assert_eq!(
        types,
        [
            DocumentType::CitizenIdCard,
            DocumentType::DrivingLicence,
            DocumentType::HealthInsuranceCard,
            DocumentType::VehicleRegistration
        ]
    );
    assert!(docs.trust_list_fetched_at().await.unwrap().is_some());
    assert_eq!(list[1].doc_type, "org.iso.18013.5.1.mDL");
    assert!(list.iter().all(|s| s.valid_until > s.signed_at && s.issuer.contains("demo")), "{list:?}");

    // The driving licence: labelled fields, categories, portrait.
    let mdl = docs.get(list[1].id.clone()).await.unwrap();
    let field = |id: &str| mdl.fields.iter().find(|f| f.identifier == id).unwrap().clone();
    assert_eq!(field("family_name").value, "Nguyễn");
    assert_eq!(field("given_name").value, "Văn Mẫu");
    assert_eq!(field("birth_date").value, "1990-01-15");
    assert_eq!(
        (field("birth_date").label_vi.as_str(), field("birth_date").label_en.as_str()),
        ("Ngày sinh", "Date of birth")
    );
    assert_eq!(field("driving_privileges").value, "A1: 2022-03-15; B: 2022-03-15 → 2032-03-15");
    assert!(mdl.portrait.as_ref().is_some_and(|p| p.starts_with(&[0xff, 0xd8])), "a JPEG portrait");
    assert!(mdl.fields.iter().all(|f| f.identifier != "portrait"));
    // The others.
    let cccd = docs.get(list[0].id.clone()).await.unwrap();
    assert!(cccd.fields.iter().any(|f| f.identifier == "document_number" && f.value == WHO.0));
    assert!(cccd.fields.iter().any(|f| f.identifier == "identity_level" && f.value == "1"));
    assert_eq!(cccd.portrait, None);
    let bhyt = docs.get(list[2].id.clone()).await.unwrap();
    assert!(bhyt.fields.iter().any(|f| f.identifier == "registered_hospital" && f.label_en == "Registered hospital"));
    let car = docs.get(list[3].id.clone()).await.unwrap();
    assert!(car.fields.iter().any(|f| f.identifier == "owner_name" && f.value == FULL_NAME));
    assert!(car.fields.iter().any(|f| f.identifier == "plate_number" && f.label_vi == "Biển số"));

    // Sealed at rest: neither the name nor the plate number is in the database file in clear.
    let plate = car.fields.iter().find(|f| f.identifier == "plate_number").unwrap().value.clone();
    let db = std::fs::read(env.dir.path().join("dev").join(citizen_core::store::DB_FILE)).unwrap();
    let wal = std::fs::read(env.dir.path().join("dev").join(format!("{}-wal", citizen_core::store::DB_FILE)))
        .unwrap_or_default();
    for needle in [FULL_NAME.as_bytes(), plate.as_bytes()] {
        assert!(!db.windows(needle.len()).any(|w| w == needle) && !wal.windows(needle.len()).any(|w| w == needle));
    }

    // Delete one; an unknown id is NotFound with its code.
    docs.delete(list[3].id.clone()).await.unwrap();
    assert_eq!(docs.list().await.unwrap().len(), 3);
    let e = docs.get(list[3].id.clone()).await.unwrap_err();
    assert!(matches!(e, CitizenError::NotFound { .. }) && e.detail().code == "documents.unknown", "{e:?}");
    let e = docs.delete(list[3].id.clone()).await.unwrap_err();
    assert_eq!(e.detail().code, "documents.unknown");

    // Refresh: a new issuance of all four replaces the held set.
    let again = docs.refresh().await.unwrap();
    assert_eq!(again.len(), 4);
    assert!(again.iter().all(|s| list.iter().all(|o| o.id != s.id)), "new issuances");

    // Documents survive an app restart.
    let d = env.reopen(d);
    assert_eq!(d.core.documents().list().await.unwrap().len(), 4);
}

#[tokio::test]
async fn an_officials_revocation_sets_the_documents_status_bit() {
    let env = Env::new().await;
    let d = env.enrolled("dev", WHO).await;
    let list = d.core.documents().refresh().await.unwrap();
    let victim = &list[2];
    let http = reqwest::Client::builder()
        .tls_backend_preconfigured(
            citizen_core::net::tls::client_config(std::slice::from_ref(&env.server().ca_cert_pem), &[]).unwrap(),
        )
        .build()
        .unwrap();
    let url = |p: &str| format!("{}{p}", env.server().base_url);
    let bits = || async {
        let jwt = http.get(url("/v1/documents/status/1")).send().await.unwrap().text().await.unwrap();
        let payload: serde_json::Value =
            serde_json::from_slice(&citizen_core::crypto::unb64(jwt.split('.').nth(1).unwrap()).unwrap()).unwrap();
        StatusBits::decode(payload["status_list"]["lst"].as_str().unwrap()).unwrap()
    };
    let idx = u64::try_from(victim.status_index).unwrap();
    assert_eq!(bits().await.get(idx), Some(false));
    let r = http
        .post(url(PATH_OFFICIAL_DOCUMENT_REVOKE))
        .header("x-official-token", &env.server().official_token)
        .json(&serde_json::json!({ "document_id": victim.id }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(bits().await.get(idx), Some(true));
    let others = list.iter().filter(|s| s.id != victim.id).map(|s| u64::try_from(s.status_index).unwrap());
    let b = bits().await;
    assert!(others.into_iter().all(|i| b.get(i) == Some(false)));
}

/// Two refreshes at once (a pull-to-refresh while the screen's own refresh runs): each signs its
/// own statement with its own counter, and the wallet ends with exactly one set of four documents
/// — none lost, none twice — whichever commit lands last.
#[tokio::test]
async fn two_refreshes_at_once_leave_exactly_one_set() {
    let env = Env::new().await;
    let d = env.enrolled("dev", WHO).await;
    let (one, two) = (d.core.documents(), d.core.documents());
    let (a, b) = tokio::join!(one.refresh(), two.refresh());
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!((a.len(), b.len()), (4, 4));
    let held = d.core.documents().list().await.unwrap();
    let mut types: Vec<DocumentType> = held.iter().map(|s| s.document_type).collect();
    types.dedup();
    assert_eq!(types.len(), 4, "{held:?}");
    let ids: Vec<&String> = held.iter().map(|s| &s.id).collect();
    assert!(ids == a.iter().map(|s| &s.id).collect::<Vec<_>>() || ids == b.iter().map(|s| &s.id).collect::<Vec<_>>());
}
