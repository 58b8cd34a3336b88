//! Delegation (issue 15 item 5, decision 49): dependants from the register, server-signed
//! mandates, filing on behalf of a child, and every attack of the issue refused with its code.

use std::collections::BTreeMap;

use crate::common::*;
use crate::services::{citizen, submit_body, Citizen};
use citizen_protocol::cccd::Date;
use citizen_protocol::protocol::delegation::{self as dg, MandateClaims, OnBehalf};
use citizen_protocol::protocol::services::{self as ps, SubmissionPayload};
use serde_json::{json, Value};

const CHILD: &str = "001216000012";
const CHILD_DOB: &str = "2016-05-10";
const YOUNGER: &str = "001319000013";
const WARD: &str = "079058000014";

fn day(h: &Harness, offset_days: i64) -> String {
    let d = Date::from_unix_vn(h.now() + offset_days * 86_400);
    format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)
}

/// A residence notification with the child as the filer (host), prefilled from the child's
/// register record, on behalf under `mandate`.
fn child_residence(h: &Harness, dependant: &str, name: &str, mandate: &str) -> SubmissionPayload {
    let from = day(h, 0);
    let to = day(h, 3);
    let values: BTreeMap<String, String> = [
        ("host_full_name", name),
        ("host_cccd", dependant),
        ("host_phone", "+84900000001"),
        ("lodging_province", "01"),
        ("lodging_commune", "00070"),
        ("lodging_detail", "Số 1 Đường Thử Nghiệm"),
        ("guests.0.full_name", "Khách Thử Nghiệm"),
        ("guests.0.cccd", "079195000002"),
        ("guests.0.relationship", "ban_be"),
        ("from_date", &from),
        ("to_date", &to),
        ("reason", "du_lich"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    SubmissionPayload {
        submission_id: uuid::Uuid::new_v4().to_string(),
        procedure_id: "residence-notification".into(),
        procedure_version: 1,
        values,
        attachments: vec![],
        supplements_case: None,
        on_behalf: Some(OnBehalf { mandate_id: mandate.into(), dependant_cccd: dependant.into() }),
    }
}

async fn dependants(h: &Harness, c: &Citizen) -> Value {
    let (st, b) = h.get(dg::PATH_DEPENDANTS, Some(&c.access)).await;
    assert_eq!(st, 200, "{b}");
    b
}

fn dependant<'a>(list: &'a Value, cccd: &str) -> &'a Value {
    list["dependants"].as_array().unwrap().iter().find(|d| d["profile"]["cccd"] == cccd).expect("dependant listed")
}

async fn server_keys(h: &Harness) -> Vec<jsonwebtoken::jwk::Jwk> {
    let (_, keys) = h.get(ps::PATH_KEYS, None).await;
    serde_json::from_value(keys["keys"].clone()).unwrap()
}

fn code(b: &Value) -> &str {
    b["code"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn a_parent_lists_children_and_files_for_one_with_a_signed_mandate() {
    let h = start().await;
    let mut parent = citizen(&h, C1).await;
    let list = dependants(&h, &parent).await;
    let ds = list["dependants"].as_array().unwrap();
    assert_eq!(ds.len(), 2, "two children of C1 in the register: {list}");
    let child = dependant(&list, CHILD);
    assert_eq!(child["relation"], "parent");
    assert_eq!(child["profile"]["full_name"], "Nguyễn Minh Con Mẫu");
    assert_eq!(child["mandate"]["state"], "active");
    assert_eq!(child["mandate"]["ends_at"].as_i64(), dg::birthday_at(CHILD_DOB, 14));
    // The mandate verifies offline against the server's keys and names this device's key.
    let jws = child["mandate"]["jws"].as_str().unwrap();
    let claims = dg::verify_mandate(jws, &server_keys(&h).await, &h.server.audience, h.now()).unwrap();
    assert_eq!((claims.guardian_cccd.as_str(), claims.dependant_cccd.as_str()), (C1.0, CHILD));
    assert_eq!(claims.guardian_device_key, parent.dev.registration().public_key);
    assert!(claims.procedures.contains(&"residence-notification".to_string()));
    assert!(claims.exp <= h.now() + dg::MANDATE_JWS_TTL_SECS);
    // Listing again returns the same mandate (granted once).
    let again = dependants(&h, &parent).await;
    assert_eq!(dependant(&again, CHILD)["mandate"]["mandate_id"], child["mandate"]["mandate_id"]);

    let mandate = child["mandate"]["mandate_id"].as_str().unwrap().to_string();
    let p = child_residence(&h, CHILD, "Nguyễn Minh Con Mẫu", &mandate);
    let body = parent.request(&h, &p, &BTreeMap::new());
    let (st, b) = submit_body(&h, &body).await;
    assert_eq!(st, 201, "{b}");
    let case = b["case_number"].as_str().unwrap().to_string();
    // The receipt records the on-behalf filing.
    let receipt: ps::ReceiptClaims =
        citizen_protocol::crypto::decode_es256(b["receipt"].as_str().unwrap(), &server_keys(&h).await[0]).unwrap();
    assert_eq!(receipt.on_behalf, p.on_behalf);
    // An identical retry (the outbox after a lost answer) gets the original answer, no new case.
    let (st, again) = submit_body(&h, &body).await;
    assert_eq!((st, again["case_number"].as_str()), (200, Some(case.as_str())));
    // The case belongs to the child and records the guardian.
    let list = dependants(&h, &parent).await;
    let cases = dependant(&list, CHILD)["cases"].as_array().unwrap().clone();
    assert_eq!(cases.len(), 1, "{list}");
    assert_eq!((cases[0]["case_number"].as_str(), cases[0]["filed_by"].as_str()), (Some(case.as_str()), Some(C1.0)));
    // The other parent of the younger child sees the younger child's (empty) cases, not this one.
    let other = citizen(&h, C4).await;
    let theirs = dependants(&h, &other).await;
    assert_eq!(theirs["dependants"].as_array().unwrap().len(), 1);
    assert_eq!(dependant(&theirs, YOUNGER)["cases"].as_array().unwrap().len(), 0);
    // The audit log has the on-behalf filing under the guardian's account.
    let audit = h.server.audit_events();
    assert!(audit.iter().any(|e| e.event == "submission_on_behalf" && e.outcome == "ok"));
}

#[tokio::test]
async fn each_delegation_attack_is_refused_with_its_own_code() {
    let h = start().await;
    let mut parent = citizen(&h, C1).await;
    let list = dependants(&h, &parent).await;
    let mandate = dependant(&list, CHILD)["mandate"]["mandate_id"].as_str().unwrap().to_string();
    let younger = dependant(&list, YOUNGER)["mandate"]["mandate_id"].as_str().unwrap().to_string();

    // Outside the scope: an ID-card reissue is not a child procedure.
    let mut p = child_residence(&h, CHILD, "Nguyễn Minh Con Mẫu", &mandate);
    p.procedure_id = "id-card-reissue".into();
    let (st, b) = submit_body(&h, &parent.request(&h, &p, &BTreeMap::new())).await;
    assert_eq!((st, code(&b)), (403, "delegation.out_of_scope"), "{b}");

    // Someone who is not their dependant: C1 names the ward of C2.
    let p = child_residence(&h, WARD, "Trần Văn Được Giám Hộ", &mandate);
    let (st, b) = submit_body(&h, &parent.request(&h, &p, &BTreeMap::new())).await;
    assert_eq!((st, code(&b)), (403, "delegation.not_dependant"), "{b}");
    // … or a mandate of another relation (the younger child's) for this child.
    let p = child_residence(&h, CHILD, "Nguyễn Minh Con Mẫu", &younger);
    let (st, b) = submit_body(&h, &parent.request(&h, &p, &BTreeMap::new())).await;
    assert_eq!((st, code(&b)), (403, "delegation.not_dependant"), "{b}");
    // … or a stranger (C3 has no dependants) naming C1's child and mandate.
    let mut stranger = citizen(&h, C3).await;
    assert!(dependants(&h, &stranger).await["dependants"].as_array().unwrap().is_empty());
    let p = child_residence(&h, CHILD, "Nguyễn Minh Con Mẫu", &mandate);
    let (st, b) = submit_body(&h, &stranger.request(&h, &p, &BTreeMap::new())).await;
    assert_eq!((st, code(&b)), (403, "delegation.not_dependant"), "{b}");

    // A replayed on-behalf statement: accepted once, then the same signed statement under
    // another submission id.
    let p = child_residence(&h, CHILD, "Nguyễn Minh Con Mẫu", &mandate);
    let body = parent.request(&h, &p, &BTreeMap::new());
    let (st, b) = submit_body(&h, &body).await;
    assert_eq!(st, 201, "{b}");
    let mut replay = body.clone();
    let mut p2 = p.clone();
    p2.submission_id = uuid::Uuid::new_v4().to_string();
    replay["payload"] = serde_json::to_value(&p2).unwrap();
    let (st, b) = submit_body(&h, &replay).await;
    assert_eq!((st, code(&b)), (409, "delegation.replayed"), "{b}");

    // A forged mandate: claims altered (another child) keep the server's signature invalid;
    // a mandate signed by another key is refused too.
    let keys = server_keys(&h).await;
    let jws = dependant(&list, CHILD)["mandate"]["jws"].as_str().unwrap().to_string();
    let mut parts: Vec<String> = jws.split('.').map(str::to_string).collect();
    let mut claims: MandateClaims =
        serde_json::from_slice(&citizen_protocol::crypto::unb64(&parts[1]).unwrap()).unwrap();
    claims.dependant_cccd = WARD.into();
    parts[1] = citizen_protocol::crypto::b64(&serde_json::to_vec(&claims).unwrap());
    let forged = parts.join(".");
    assert_eq!(
        dg::verify_mandate(&forged, &keys, &h.server.audience, h.now()).unwrap_err().msg().code(),
        "delegation.mandate_invalid"
    );
    assert!(dg::verify_mandate(&jws, &keys, "https://another.example", h.now()).is_err());

    // After revocation by the guardian (and a second revocation is refused).
    let (st, b) = h.post(dg::PATH_MANDATE_REVOKE, json!({"mandate_id": younger}), Some(&parent.access)).await;
    assert_eq!(st, 200, "{b}");
    let (st, b) = h.post(dg::PATH_MANDATE_REVOKE, json!({"mandate_id": younger}), Some(&parent.access)).await;
    assert_eq!((st, code(&b)), (409, "delegation.revoked"));
    let p = child_residence(&h, YOUNGER, "Nguyễn Thị Bé Thử", &younger);
    let (st, b) = submit_body(&h, &parent.request(&h, &p, &BTreeMap::new())).await;
    assert_eq!((st, code(&b)), (403, "delegation.revoked"), "{b}");
    let list = dependants(&h, &parent).await;
    let m = &dependant(&list, YOUNGER)["mandate"];
    assert_eq!(
        (m["state"].as_str(), m["revoked_by"].as_str(), m["jws"].is_null()),
        (Some("revoked"), Some("guardian"), true)
    );
    // A guardian cannot revoke another guardian's mandate; an official can.
    let ward_guardian = citizen(&h, C2).await;
    let ward_list = dependants(&h, &ward_guardian).await;
    let ward_mandate = dependant(&ward_list, WARD)["mandate"]["mandate_id"].as_str().unwrap().to_string();
    let (st, b) = h.post(dg::PATH_MANDATE_REVOKE, json!({"mandate_id": ward_mandate}), Some(&parent.access)).await;
    assert_eq!((st, code(&b)), (403, "delegation.not_dependant"));
    let resp = h
        .http
        .post(format!("{}{}", h.server.base_url, dg::PATH_OFFICIAL_MANDATE_REVOKE))
        .header("x-official-token", &h.server.official_token)
        .json(&json!({"mandate_id": ward_mandate, "reason": "quyết định của toà án (giả định)"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let ward_list = dependants(&h, &ward_guardian).await;
    assert_eq!(dependant(&ward_list, WARD)["mandate"]["state"], "revoked");
    let (st, b) = h.post(dg::PATH_MANDATE_REVOKE, json!({"mandate_id": "mdt_nope"}), Some(&parent.access)).await;
    assert_eq!((st, code(&b)), (404, "delegation.unknown"));
}

#[tokio::test]
async fn the_mandate_ends_when_the_child_turns_14() {
    let h = start().await;
    let mut parent = citizen(&h, C1).await;
    let list = dependants(&h, &parent).await;
    let mandate = dependant(&list, CHILD)["mandate"]["mandate_id"].as_str().unwrap().to_string();
    let jws = dependant(&list, CHILD)["mandate"]["jws"].as_str().unwrap().to_string();
    let keys = server_keys(&h).await;
    let fourteen = dg::birthday_at(CHILD_DOB, 14).unwrap();
    // The day before the 14th birthday the grant is in force (the clock is moved there from
    // whenever the test runs); from the birthday on it has ended, on the server and offline.
    h.clock.advance(fourteen - 3600 - h.now());
    // The access token outlives no such jump: log in again.
    let t = h.login(&mut parent.dev).await;
    parent.access = t["access_token"].as_str().unwrap().to_string();
    let list = dependants(&h, &parent).await;
    assert_eq!(dependant(&list, CHILD)["mandate"]["state"], "active");
    let p = child_residence(&h, CHILD, "Nguyễn Minh Con Mẫu", &mandate);
    let (st, b) = submit_body(&h, &parent.request(&h, &p, &BTreeMap::new())).await;
    assert_eq!(st, 201, "{b}");

    h.clock.advance(3600);
    let t = h.login(&mut parent.dev).await;
    parent.access = t["access_token"].as_str().unwrap().to_string();
    assert_eq!(dg::verify_mandate(&jws, &keys, &h.server.audience, h.now()).unwrap_err(), dg::MandateError::Expired);
    let list = dependants(&h, &parent).await;
    let m = &dependant(&list, CHILD)["mandate"];
    assert_eq!((m["state"].as_str(), m["jws"].is_null()), (Some("expired"), true));
    let p = child_residence(&h, CHILD, "Nguyễn Minh Con Mẫu", &mandate);
    let (st, b) = submit_body(&h, &parent.request(&h, &p, &BTreeMap::new())).await;
    assert_eq!((st, code(&b)), (403, "delegation.expired"), "{b}");
    // The younger child's mandate is untouched.
    assert_eq!(dependant(&list, YOUNGER)["mandate"]["state"], "active");
}

/// Ask for a dependant's document (decision 52).
async fn dependant_document(h: &Harness, c: &Citizen, mandate: &str, dependant: &str, kind: &str) -> (u16, Value) {
    let body = json!({"mandate_id": mandate, "dependant_cccd": dependant, "document_type": kind});
    h.post(dg::PATH_DEPENDANT_DOCUMENT, body, Some(&c.access)).await
}

fn jwt_part(jwt: &str, i: usize) -> Value {
    serde_json::from_slice(&citizen_protocol::crypto::unb64(jwt.split('.').nth(i).unwrap()).unwrap()).unwrap()
}

#[tokio::test]
async fn a_parent_gets_a_childs_document_bound_to_the_parents_key_only_under_the_mandate() {
    let h = start().await;
    let mut parent = citizen(&h, C1).await;
    let list = dependants(&h, &parent).await;
    let child_m = dependant(&list, CHILD)["mandate"]["mandate_id"].as_str().unwrap().to_string();
    let younger_m = dependant(&list, YOUNGER)["mandate"]["mandate_id"].as_str().unwrap().to_string();

    let (st, b) = dependant_document(&h, &parent, &child_m, CHILD, "health_insurance").await;
    assert_eq!(st, 200, "{b}");
    let sd = b["document"]["sd_jwt"].as_str().unwrap();
    let jwt = sd.split('~').next().unwrap();
    assert_eq!(jwt_part(jwt, 0)["typ"], "dc+sd-jwt");
    let payload = jwt_part(jwt, 1);
    // About the child (always-visible `sub`), bound to the parent's device key, the child's data
    // only in disclosures.
    assert_eq!(payload["sub"], CHILD);
    assert_eq!(payload["vct"], citizen_protocol::protocol::documents::DocumentKind::HealthInsurance.vct());
    let keys = server_keys(&h).await;
    let m = dg::verify_mandate(b["mandate"].as_str().unwrap(), &keys, &h.server.audience, h.now()).unwrap();
    assert_eq!((m.jti.as_str(), m.dependant_cccd.as_str()), (child_m.as_str(), CHILD));
    let device_key = citizen_protocol::crypto::unb64(&m.guardian_device_key).unwrap();
    let jwk = citizen_protocol::sdjwt::jwk_from_public_key(&device_key).unwrap();
    assert_eq!(payload["cnf"]["jwk"], Value::Object(jwk));
    let info = citizen_protocol::sdjwt::inspect(sd).unwrap();
    assert_eq!(info.values["full_name"], "Nguyễn Minh Con Mẫu");
    assert!(!jwt.contains("Con"));

    // Another relation's mandate for this child, someone not a dependant, no mandate at all.
    let (st, b) = dependant_document(&h, &parent, &younger_m, CHILD, "health_insurance").await;
    assert_eq!((st, code(&b)), (403, "delegation.not_dependant"), "{b}");
    let (st, b) = dependant_document(&h, &parent, &child_m, WARD, "health_insurance").await;
    assert_eq!((st, code(&b)), (403, "delegation.not_dependant"), "{b}");
    let (st, b) = dependant_document(&h, &parent, "mdt_nope", CHILD, "health_insurance").await;
    assert_eq!((st, code(&b)), (404, "delegation.unknown"), "{b}");
    // A kind outside the scope: the child's driving licence.
    let (st, b) = dependant_document(&h, &parent, &child_m, CHILD, "driving_licence").await;
    assert_eq!((st, code(&b)), (403, "delegation.out_of_scope"), "{b}");
    // The ward's guardian's scope has the health-insurance card but not the identity card.
    let ward_guardian = citizen(&h, C2).await;
    let ward_list = dependants(&h, &ward_guardian).await;
    let ward_m = dependant(&ward_list, WARD)["mandate"]["mandate_id"].as_str().unwrap().to_string();
    let (st, b) = dependant_document(&h, &ward_guardian, &ward_m, WARD, "cccd").await;
    assert_eq!((st, code(&b)), (403, "delegation.out_of_scope"), "{b}");
    let (st, b) = dependant_document(&h, &ward_guardian, &ward_m, WARD, "health_insurance").await;
    assert_eq!(st, 200, "{b}");
    // No bearer: refused before anything.
    let (st, _) = h
        .post(
            dg::PATH_DEPENDANT_DOCUMENT,
            json!({"mandate_id": child_m, "dependant_cccd": CHILD, "document_type": "cccd"}),
            None,
        )
        .await;
    assert_eq!(st, 401);

    // Revoked, then never issued again.
    let (st, _) = h.post(dg::PATH_MANDATE_REVOKE, json!({"mandate_id": younger_m}), Some(&parent.access)).await;
    assert_eq!(st, 200);
    let (st, b) = dependant_document(&h, &parent, &younger_m, YOUNGER, "health_insurance").await;
    assert_eq!((st, code(&b)), (403, "delegation.revoked"), "{b}");

    // The child's access log has the read, with the mandate as the reference; the refusals left
    // nothing; the server's audit log has the issuance and the refusals with their codes.
    let refs: Vec<Option<String>> = h.server.access_log_of(CHILD).into_iter().map(|e| e.reference).collect();
    assert_eq!(refs, vec![Some(format!("mandate:{child_m}"))]);
    let outcomes: Vec<String> =
        h.server.audit_events().into_iter().filter(|e| e.event == "dependant_document").map(|e| e.outcome).collect();
    for want in ["ok", "delegation.revoked", "delegation.out_of_scope", "delegation.not_dependant"] {
        assert!(outcomes.iter().any(|o| o == want), "{want} not in {outcomes:?}");
    }

    // The 14th birthday ends it.
    h.clock.advance(dg::birthday_at(CHILD_DOB, 14).unwrap() - h.now());
    let t = h.login(&mut parent.dev).await;
    parent.access = t["access_token"].as_str().unwrap().to_string();
    let (st, b) = dependant_document(&h, &parent, &child_m, CHILD, "health_insurance").await;
    assert_eq!((st, code(&b)), (403, "delegation.expired"), "{b}");
}
