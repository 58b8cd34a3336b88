//! The documents wallet, server side (issue 13 item 1, decision 32): the four documents are
//! issued as mdocs that pass the holder's checks against the IACA of the signed trust list and
//! as SD-JWT VCs signed by the same document signers; each has its own status-list entry, which
//! an official's revocation sets; the request is single-use and bound to the device key.

use base64::Engine;
use citizen_mdoc::{check_issued, verify_x5c, CborValue, MdocError, TrustAnchor};
use citizen_protocol::crypto::unb64;
use citizen_protocol::protocol::documents::{
    DocumentKind, DocumentsResponse, StatusBits, TrustListClaims, PATH_DOCUMENTS, PATH_OFFICIAL_DOCUMENT_REVOKE,
    PATH_TRUST_LIST, STATUS_LIST_TYP, TRUST_LIST_TYP,
};
use citizen_protocol::protocol::{sha256_hex, Purpose};
use serde_json::{json, Value};

use crate::common::{start, Device, Harness, C1, C3};

const OFFICIAL: &str = "x-official-token";

struct Docs {
    h: Harness,
    dev: Device,
    token: String,
}

async fn setup() -> Docs {
    let h = start().await;
    let mut dev = Device::new();
    h.enroll(C1, &mut dev).await;
    let token = h.login(&mut dev).await["access_token"].as_str().unwrap().to_string();
    Docs { h, dev, token }
}

fn device_key(dev: &Device) -> Vec<u8> {
    dev.key.verifying_key().to_encoded_point(false).as_bytes().to_vec()
}

impl Docs {
    async fn issue_with_subject(&mut self, subject: &str) -> (u16, Value) {
        let nonce = self.h.nonce(&self.dev, Purpose::Credential).await;
        let signed = self.dev.sign(&self.h, Purpose::Credential, &nonce, subject);
        self.h.post(PATH_DOCUMENTS, json!({ "signed": signed }), Some(&self.token)).await
    }

    async fn issue(&mut self) -> DocumentsResponse {
        let subject = format!("documents:{}", sha256_hex(&device_key(&self.dev)));
        let (st, b) = self.issue_with_subject(&subject).await;
        assert_eq!(st, 200, "{b}");
        serde_json::from_value(b).unwrap()
    }

    async fn text(&self, url: &str) -> (u16, String) {
        let r = self.h.http.get(url).send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// The verified payload of a JWT signed by the server's token key, with its `typ`.
    async fn server_jwt(&self, jwt: &str) -> (String, Value) {
        let (_, keys) = self.h.get(citizen_protocol::protocol::services::PATH_KEYS, None).await;
        let jwks: jsonwebtoken::jwk::JwkSet = serde_json::from_value(keys).unwrap();
        let kid = jsonwebtoken::decode_header(jwt).unwrap().kid.unwrap();
        let jwk = jwks.find(&kid).unwrap();
        // Both kinds are checked here (trust list, status list), so verify then read the `typ`.
        let key = citizen_protocol::crypto::p256_key_from_jwk(jwk).unwrap();
        let payload: Value = serde_json::from_slice(
            &citizen_protocol::crypto::verify_es256_compact(jwt, &key).expect("signed by the server key"),
        )
        .unwrap();
        let header: Value = serde_json::from_slice(&unb64(jwt.split('.').next().unwrap()).unwrap()).unwrap();
        (header["typ"].as_str().unwrap().to_string(), payload)
    }

    async fn trust_anchors(&self) -> (TrustListClaims, Vec<TrustAnchor>) {
        let (st, jwt) = self.text(&format!("{}{PATH_TRUST_LIST}", self.h.server.base_url)).await;
        assert_eq!(st, 200);
        let (typ, payload) = self.server_jwt(&jwt).await;
        assert_eq!(typ, TRUST_LIST_TYP);
        let claims: TrustListClaims = serde_json::from_value(payload).unwrap();
        let std = base64::engine::general_purpose::STANDARD;
        let anchors = claims.iaca.iter().map(|c| TrustAnchor::from_der(&std.decode(c).unwrap()).unwrap()).collect();
        (claims, anchors)
    }

    async fn status_bits(&self, uri: &str) -> StatusBits {
        let uri = uri.replace(&self.h.server.audience, &self.h.server.base_url);
        let (st, jwt) = self.text(&uri).await;
        assert_eq!(st, 200, "{jwt}");
        let (typ, payload) = self.server_jwt(&jwt).await;
        assert_eq!(typ, STATUS_LIST_TYP);
        assert_eq!(payload["status_list"]["bits"], 1);
        StatusBits::decode(payload["status_list"]["lst"].as_str().unwrap()).unwrap()
    }
}

#[tokio::test]
async fn four_documents_issued_as_mdoc_and_sd_jwt_bound_to_the_device_and_checked_by_the_holder() {
    let mut d = setup().await;
    let (trust, anchors) = d.trust_anchors().await;
    assert_eq!(trust.reader_roots.len(), 1);
    assert!(trust.next_update > trust.iat);
    let issued = d.issue().await;
    let kinds: Vec<DocumentKind> = issued.documents.iter().map(|x| x.kind).collect();
    assert_eq!(kinds, DocumentKind::ALL.to_vec());
    let now = d.h.now();
    let key = device_key(&d.dev);
    for doc in &issued.documents {
        let mdoc = unb64(&doc.mdoc).unwrap();
        let checked = check_issued(&mdoc, doc.kind.doc_type(), &anchors, &key, now).unwrap();
        assert_eq!(checked.status.as_ref().map(|s| s.idx), Some(doc.status_idx));
        let ns = &checked.elements[doc.kind.namespace()];
        // The SD-JWT VC: dc+sd-jwt, x5c chaining to the same IACA, cnf = the device key.
        let jwt = doc.sd_jwt.split('~').next().unwrap();
        let header: Value = serde_json::from_slice(&unb64(jwt.split('.').next().unwrap()).unwrap()).unwrap();
        assert_eq!(header["typ"], "dc+sd-jwt");
        let std = base64::engine::general_purpose::STANDARD;
        let x5c: Vec<Vec<u8>> =
            header["x5c"].as_array().unwrap().iter().map(|c| std.decode(c.as_str().unwrap()).unwrap()).collect();
        let signer = verify_x5c(&x5c, &anchors, now).unwrap();
        let v = citizen_protocol::sdjwt::verify_es256_jws(jwt, &signer).expect("SD-JWT signed by the document signer");
        let payload: Value = serde_json::from_slice(&v.payload).unwrap();
        assert_eq!(payload["vct"], doc.kind.vct());
        assert_eq!(payload["status"]["status_list"]["idx"], doc.status_idx);
        let info = citizen_protocol::sdjwt::inspect(&doc.sd_jwt).unwrap();
        assert_eq!(info.holder_jwk, citizen_protocol::sdjwt::jwk_from_public_key(&key).unwrap());
        let mut sd_claims = info.claims.clone();
        sd_claims.sort();
        let mdoc_claims: Vec<String> = ns.keys().cloned().collect();
        assert_eq!(sd_claims, mdoc_claims, "{:?}: the same elements in both forms", doc.kind);
        match doc.kind {
            DocumentKind::Cccd => {
                assert_eq!(ns["document_number"], CborValue::Text(C1.0.into()));
                assert_eq!(ns["identity_level"], CborValue::Integer(1.into()));
            }
            DocumentKind::DrivingLicence => {
                let CborValue::Bytes(portrait) = &ns["portrait"] else { panic!("portrait") };
                assert_eq!(&portrait[..2], &[0xff, 0xd8], "a JPEG portrait");
                assert!(matches!(&ns["driving_privileges"], CborValue::Array(p) if p.len() == 2));
                assert_eq!(ns["birth_date"], CborValue::Tag(1004, Box::new(CborValue::Text(C1.1.into()))));
            }
            DocumentKind::HealthInsurance => assert!(ns.contains_key("registered_hospital")),
            DocumentKind::VehicleRegistration => {
                assert!(ns.contains_key("plate_number") && ns.contains_key("chassis_number"));
                assert_eq!(ns["owner_name"], CborValue::Text("Nguyễn Văn Mẫu".into()));
            }
        }
    }
    // Another device key is refused by the holder's check.
    let other = Device::new();
    let first = unb64(&issued.documents[0].mdoc).unwrap();
    assert_eq!(
        check_issued(&first, issued.documents[0].kind.doc_type(), &anchors, &device_key(&other), now),
        Err(MdocError::DeviceKeyMismatch)
    );
    // Outside the MSO's validity (one year from issuance, backdated 5 minutes): refused.
    let ttl = citizen_server::documents::DOCUMENT_TTL_SECS;
    let kind = issued.documents[0].kind.doc_type();
    assert_eq!(check_issued(&first, kind, &anchors, &key, now + ttl + 1), Err(MdocError::Expired));
    assert_eq!(check_issued(&first, kind, &anchors, &key, now - 3600), Err(MdocError::NotYetValid));
    assert!(check_issued(&first, kind, &anchors, &key, now - 60).is_ok(), "clock skew of a minute is absorbed");
    // Not the docType the MSO signs.
    assert!(matches!(
        check_issued(&first, "org.iso.18013.5.1.mDL", &anchors, &key, now),
        Err(MdocError::DocTypeMismatch { .. })
    ));
    // Another issuing authority as the only trust anchor.
    let other_iaca = rcgen::generate_simple_self_signed(vec!["other.example".into()]).unwrap();
    let other_anchor = [TrustAnchor::from_der(other_iaca.cert.der()).unwrap()];
    assert_eq!(check_issued(&first, kind, &other_anchor, &key, now), Err(MdocError::IssuerUntrusted));
    // Random, distinct status indices.
    let mut idx: Vec<u64> = issued.documents.iter().map(|x| x.status_idx).collect();
    idx.sort_unstable();
    idx.dedup();
    assert_eq!(idx.len(), 4);
}

#[tokio::test]
async fn a_revoked_document_sets_its_status_bit_and_only_officials_can_revoke() {
    let mut d = setup().await;
    let issued = d.issue().await;
    let (victim, other) = (&issued.documents[1], &issued.documents[2]);
    let bits = d.status_bits(&victim.status_uri).await;
    assert_eq!((bits.get(victim.status_idx), bits.get(other.status_idx)), (Some(false), Some(false)));

    let url = format!("{}{PATH_OFFICIAL_DOCUMENT_REVOKE}", d.h.server.base_url);
    let body = json!({ "document_id": victim.id });
    let r = d.h.http.post(&url).json(&body).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401, "no officials' token");
    let r = d.h.http.post(&url).header(OFFICIAL, "wrong".repeat(8)).json(&body).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401, "a wrong officials' token");
    assert_eq!(d.status_bits(&victim.status_uri).await.get(victim.status_idx), Some(false));

    let r = d.h.http.post(&url).header(OFFICIAL, &d.h.server.official_token).json(&body).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let bits = d.status_bits(&victim.status_uri).await;
    assert_eq!((bits.get(victim.status_idx), bits.get(other.status_idx)), (Some(true), Some(false)));

    let r =
        d.h.http
            .post(&url)
            .header(OFFICIAL, &d.h.server.official_token)
            .json(&json!({ "document_id": "nope" }))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let (st, _) = d.text(&format!("{}/v1/documents/status/2", d.h.server.base_url)).await;
    assert_eq!(st, 404);
}

#[tokio::test]
async fn issuance_needs_a_session_and_a_fresh_statement_for_this_device_key() {
    let mut d = setup().await;
    // A subject naming another key is a failed signature check.
    let other = Device::new();
    let (st, b) = d.issue_with_subject(&format!("documents:{}", sha256_hex(&device_key(&other)))).await;
    assert_eq!(st, 401, "{b}");
    // The PID subject is not accepted for documents.
    let (st, _) = d.issue_with_subject(&format!("pid:{}", sha256_hex(&device_key(&d.dev)))).await;
    assert_eq!(st, 401);
    // Replaying a statement is refused (nonce consumed, counter used).
    let nonce = d.h.nonce(&d.dev, Purpose::Credential).await;
    let subject = format!("documents:{}", sha256_hex(&device_key(&d.dev)));
    let signed = d.dev.sign(&d.h, Purpose::Credential, &nonce, &subject);
    let (st, b) = d.h.post(PATH_DOCUMENTS, json!({ "signed": signed }), Some(&d.token)).await;
    assert_eq!(st, 200, "{b}");
    let (st, _) = d.h.post(PATH_DOCUMENTS, json!({ "signed": signed }), Some(&d.token)).await;
    assert_ne!(st, 200, "a replayed statement");
    // Without a session.
    let nonce = d.h.nonce(&d.dev, Purpose::Credential).await;
    let signed = d.dev.sign(&d.h, Purpose::Credential, &nonce, &subject);
    let (st, _) = d.h.post(PATH_DOCUMENTS, json!({ "signed": signed }), None).await;
    assert_eq!(st, 401);
    // Another citizen's register gives another CCCD.
    let h2 = &d.h;
    let mut dev3 = Device::new();
    h2.enroll(C3, &mut dev3).await;
    let token3 = h2.login(&mut dev3).await["access_token"].as_str().unwrap().to_string();
    let nonce = h2.nonce(&dev3, Purpose::Credential).await;
    let signed = dev3.sign(h2, Purpose::Credential, &nonce, &format!("documents:{}", sha256_hex(&device_key(&dev3))));
    let (st, b) = h2.post(PATH_DOCUMENTS, json!({ "signed": signed }), Some(&token3)).await;
    assert_eq!(st, 200, "{b}");
    let r: DocumentsResponse = serde_json::from_value(b).unwrap();
    assert!(r.documents.iter().all(|x| !x.id.is_empty()));
}
