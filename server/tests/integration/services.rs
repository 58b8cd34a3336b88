//! Public services: profile, catalogue, signed submissions with receipts and idempotency, cases,
//! the officials' API, case events and fault injection.

use std::collections::BTreeMap;

use crate::common::*;
use citizen_protocol::cccd::Date;
use citizen_protocol::protocol::services::{self as ps, AttachmentRef, SubmissionPayload};
use citizen_protocol::protocol::{sha256_hex, Purpose, SignedStatement, Statement};
use citizen_server::Fault;
use serde_json::{json, Value};

const OFFICIAL: &str = "x-official-token";

fn day(h: &Harness, offset_days: i64) -> String {
    let d = Date::from_unix_vn(h.now() + offset_days * 86_400);
    format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)
}

/// An enrolled, logged-in citizen with a device and its own submit counter.
pub struct Citizen {
    pub dev: Device,
    pub access: String,
    pub account: String,
    pub submit_counter: u64,
}

pub async fn citizen(h: &Harness, c: (&str, &str, &str)) -> Citizen {
    let mut dev = Device::new();
    let account = h.enroll(c, &mut dev).await;
    let t = h.login(&mut dev).await;
    Citizen { dev, access: t["access_token"].as_str().unwrap().to_string(), account, submit_counter: 0 }
}

fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// A valid residence notification by C1 (Nguyễn Văn Mẫu, Phường Hoàn Kiếm, Hà Nội).
pub fn residence_payload(h: &Harness) -> SubmissionPayload {
    let from = day(h, 0);
    let to = day(h, 3);
    SubmissionPayload {
        submission_id: uuid::Uuid::new_v4().to_string(),
        procedure_id: "residence-notification".into(),
        procedure_version: 1,
        values: values(&[
            ("host_full_name", "Nguyễn Văn Mẫu"),
            ("host_cccd", "001090000001"),
            ("host_phone", "+84900000001"),
            ("lodging_province", "01"),
            ("lodging_commune", "00070"),
            ("lodging_detail", "Số 1 Đường Thử Nghiệm"),
            ("guests.0.full_name", "Khách Thử Nghiệm"),
            ("guests.0.cccd", "079195000002"),
            ("guests.0.relationship", "ban_be"),
            ("guests.1.full_name", "Khách Mẫu Hai"),
            ("guests.1.cccd", "048200000003"),
            ("guests.1.date_of_birth", "2000-12-01"),
            ("guests.1.relationship", "nguoi_than"),
            ("from_date", &from),
            ("to_date", &to),
            ("reason", "du_lich"),
        ]),
        attachments: vec![],
        supplements_case: None,
        on_behalf: None,
    }
}

fn applicant_c1() -> Vec<(&'static str, &'static str)> {
    vec![
        ("full_name", "Nguyễn Văn Mẫu"),
        ("date_of_birth", "1990-01-15"),
        ("sex", "male"),
        ("cccd", "001090000001"),
        ("permanent_province", "01"),
        ("permanent_commune", "00070"),
        ("permanent_detail", "Số 1 Đường Thử Nghiệm"),
    ]
}

fn attachment(key: &str, mime: &str, data: &[u8]) -> (AttachmentRef, String) {
    (
        AttachmentRef {
            key: key.into(),
            file_name: format!("{key}.pdf"),
            mime_type: mime.into(),
            size: data.len() as u64,
            sha256: sha256_hex(data),
        },
        citizen_protocol::crypto::b64(data),
    )
}

fn temp_residence_payload(h: &Harness, doc: &[u8]) -> (SubmissionPayload, BTreeMap<String, String>) {
    let from = day(h, 1);
    let to = day(h, 365);
    let mut v = applicant_c1();
    v.extend([
        ("new_province", "79"),
        ("new_commune", "26740"),
        ("new_detail", "Số 9 Đường Thử Nghiệm"),
        ("from_date", from.as_str()),
        ("to_date", to.as_str()),
        ("housing_basis", "rent"),
        ("phone", "0900000009"),
    ]);
    let (r, data) = attachment("housing_proof", "application/pdf", doc);
    let payload = SubmissionPayload {
        submission_id: uuid::Uuid::new_v4().to_string(),
        procedure_id: "temporary-residence".into(),
        procedure_version: 1,
        values: values(&v),
        attachments: vec![r],
        supplements_case: None,
        on_behalf: None,
    };
    (payload, BTreeMap::from([("housing_proof".to_string(), data)]))
}

fn id_card_payload() -> SubmissionPayload {
    let mut v = applicant_c1();
    v.extend([
        ("reason", "thay_doi_thong_tin"),
        ("changed_info", "Thay đổi nơi thường trú (dữ liệu thử nghiệm)"),
        ("delivery", "nhan_tai_co_quan"),
        ("phone", "+84900000001"),
    ]);
    SubmissionPayload {
        submission_id: uuid::Uuid::new_v4().to_string(),
        procedure_id: "id-card-reissue".into(),
        procedure_version: 1,
        values: values(&v),
        attachments: vec![],
        supplements_case: None,
        on_behalf: None,
    }
}

impl Citizen {
    /// Sign a submit statement over `subject` with the next submit counter.
    fn sign_submit(&mut self, h: &Harness, nonce: &str, subject: &str) -> SignedStatement {
        self.submit_counter += 1;
        self.dev.sign_statement(Statement {
            purpose: Purpose::Submit,
            audience: h.server.audience.clone(),
            nonce: nonce.into(),
            device_id: self.dev.id.clone(),
            counter: self.submit_counter,
            issued_at: h.now(),
            subject: subject.into(),
        })
    }

    pub fn request(&mut self, h: &Harness, p: &SubmissionPayload, data: &BTreeMap<String, String>) -> Value {
        let signed = self.sign_submit(h, &p.submission_id, &p.digest_hex());
        json!({ "payload": p, "signed": signed, "attachment_data": data })
    }
}

async fn post_submission(h: &Harness, key: Option<&str>, body: &Value) -> Result<(u16, String), reqwest::Error> {
    let mut rb = h.http.post(format!("{}{}", h.server.base_url, ps::PATH_SUBMISSIONS)).json(body);
    if let Some(k) = key {
        rb = rb.header("Idempotency-Key", k);
    }
    let resp = rb.send().await?;
    let status = resp.status().as_u16();
    Ok((status, resp.text().await?))
}

pub async fn submit_body(h: &Harness, body: &Value) -> (u16, Value) {
    let key = body["payload"]["submission_id"].as_str().unwrap().to_string();
    let (st, text) = post_submission(h, Some(&key), body).await.unwrap();
    (st, serde_json::from_str(&text).unwrap_or_else(|_| panic!("non-JSON {st}: {text}")))
}

pub async fn transition(h: &Harness, token: &str, case: &str, to: &str, extra: Value) -> (u16, Value) {
    let mut body = json!({"case_number": case, "to": to});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let resp = h
        .http
        .post(format!("{}{}", h.server.base_url, ps::PATH_OFFICIAL_TRANSITION))
        .header(OFFICIAL, token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let st = resp.status().as_u16();
    (st, resp.json().await.unwrap())
}

async fn verify_receipt(h: &Harness, receipt: &str) -> ps::ReceiptClaims {
    let (st, keys) = h.get(ps::PATH_KEYS, None).await;
    assert_eq!(st, 200);
    let header = jsonwebtoken::decode_header(receipt).unwrap();
    let kid = header.kid.expect("receipt has a kid");
    let jwk_json = keys["keys"].as_array().unwrap().iter().find(|k| k["kid"] == kid.as_str()).expect("kid in JWKS");
    assert_eq!(
        (jwk_json["kty"].as_str(), jwk_json["crv"].as_str(), jwk_json["alg"].as_str()),
        (Some("EC"), Some("P-256"), Some("ES256"))
    );
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwk_json.clone()).unwrap();
    let key = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    v.required_spec_claims.clear();
    v.validate_exp = false;
    v.validate_aud = false;
    jsonwebtoken::decode::<ps::ReceiptClaims>(receipt, &key, &v).expect("receipt verifies").claims
}

#[tokio::test]
async fn profile_comes_from_the_register() {
    let h = start().await;
    let c1 = citizen(&h, C1).await;
    let (st, b) = h.get(ps::PATH_PROFILE, Some(&c1.access)).await;
    assert_eq!(st, 200, "{b}");
    let p: ps::CitizenProfileDto = serde_json::from_value(b).unwrap();
    assert_eq!((p.full_name.as_str(), p.cccd.as_str(), p.sex.as_str()), ("Nguyễn Văn Mẫu", "001090000001", "male"));
    assert_eq!((p.nationality.as_str(), p.ethnicity.as_str(), p.religion.as_str()), ("Việt Nam", "Kinh", "Không"));
    assert_eq!(p.place_of_origin, "Xã Đông Anh, Thành phố Hà Nội");
    assert_eq!(p.permanent_residence.province_code, "01");
    assert_eq!(p.permanent_residence.province_name, "Thành phố Hà Nội");
    assert_eq!(p.permanent_residence.detail, "Số 1 Đường Thử Nghiệm");
    assert_eq!(p.current_residence, p.permanent_residence);
    assert_eq!((p.household_head_name.as_str(), p.relationship_to_head.as_str()), ("Nguyễn Văn Mẫu", "Chủ hộ"));
    assert_eq!(p.phone, "+84900000001");
    assert!(p.email.is_some() && p.updated_at > 0);

    let c2 = citizen(&h, C2).await;
    let (_, b) = h.get(ps::PATH_PROFILE, Some(&c2.access)).await;
    let p: ps::CitizenProfileDto = serde_json::from_value(b).unwrap();
    assert_eq!(p.permanent_residence.province_code, "79");
    assert_eq!(p.current_residence.province_code, "01");
    assert_eq!((p.religion.as_str(), p.relationship_to_head.as_str(), p.email), ("Phật giáo", "Con", None));

    let (st, b) = h.get(ps::PATH_PROFILE, None).await;
    assert_eq!((st, b["code"].as_str()), (401, Some("token_invalid")));
}

#[tokio::test]
async fn catalogue_has_a_strong_etag_and_answers_304() {
    let h = start().await;
    let url = format!("{}{}", h.server.base_url, ps::PATH_PROCEDURES);
    let resp = h.http.get(&url).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let etag = resp.headers()["etag"].to_str().unwrap().to_string();
    assert!(etag.starts_with('"') && !etag.starts_with("W/"), "{etag}");
    let body = resp.bytes().await.unwrap();
    assert_eq!(etag, format!("\"{}\"", sha256_hex(&body)));
    let cat: ps::CatalogueDto = serde_json::from_slice(&body).unwrap();
    let ids: Vec<_> = cat.procedures.iter().map(|p| (p.id.as_str(), p.version)).collect();
    assert_eq!(
        ids,
        [
            ("residence-notification", 1),
            ("temporary-residence", 1),
            ("temporary-absence", 1),
            ("id-card-reissue", 1),
            ("register-correction", 1)
        ]
    );
    let rn = &cat.procedures[0];
    assert_eq!((rn.fee_vnd, rn.processing_days, rn.agency_vi.as_str()), (0, 1, "Công an cấp xã"));
    let guests = rn.fields.iter().find(|f| f.key == "guests").unwrap();
    assert_eq!((guests.min_items, guests.max_items), (Some(1), Some(20)));

    let resp = h.http.get(&url).header("If-None-Match", &etag).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 304);
    assert_eq!(resp.headers()["etag"].to_str().unwrap(), etag);
    assert!(resp.bytes().await.unwrap().is_empty());
    let resp = h.http.get(&url).header("If-None-Match", "\"other\", ".to_string() + &etag).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 304);
    let resp = h.http.get(&url).header("If-None-Match", "\"stale\"").send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
}

#[tokio::test]
async fn submission_happy_path_receipt_replay_and_conflict() {
    let h = start().await;
    let mut c = citizen(&h, C1).await;
    let p = residence_payload(&h);
    let body = c.request(&h, &p, &BTreeMap::new());
    let (st, b) = submit_body(&h, &body).await;
    assert_eq!(st, 201, "{b}");
    let case = b["case_number"].as_str().unwrap().to_string();
    let d = Date::from_unix_vn(h.now());
    assert_eq!(&case[..10], format!("HS-{:02}{:02}{:02}-", d.year % 100, d.month, d.day));
    assert_eq!(case.len(), 16);
    let claims = verify_receipt(&h, b["receipt"].as_str().unwrap()).await;
    assert_eq!(claims.iss, h.server.audience);
    assert_eq!((claims.submission_id.as_str(), claims.case_number.as_str()), (p.submission_id.as_str(), case.as_str()));
    assert_eq!((claims.procedure_id.as_str(), claims.procedure_version), ("residence-notification", 1));
    assert_eq!(claims.payload_sha256, p.digest_hex());
    assert_eq!(claims.received_at, h.now());
    assert_eq!(claims.due_date, day(&h, 1));
    assert_eq!(h.server.case_status(&case), Some(ps::CaseStatusDto::Received));

    // The same request again (a retry): the original answer, byte for byte, and no second case.
    let (st, text) = post_submission(&h, Some(&p.submission_id), &body).await.unwrap();
    assert_eq!(st, 200);
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), b);
    assert_eq!((h.server.case_count(), h.server.cases_for_submission(&p.submission_id)), (1, 1));

    // Same id, different content, freshly signed: conflict.
    let mut p2 = p.clone();
    p2.values.insert("reason".into(), "cong_tac".into());
    let body2 = c.request(&h, &p2, &BTreeMap::new());
    let (st, b2) = submit_body(&h, &body2).await;
    assert_eq!((st, b2["code"].as_str()), (422, Some("idempotency_conflict")));
    assert_eq!(h.server.case_count(), 1);

    // A replay signed by someone else is refused even with the same payload.
    let mut other = citizen(&h, C2).await;
    let body3 = other.request(&h, &p, &BTreeMap::new());
    let (st, b3) = submit_body(&h, &body3).await;
    assert_eq!((st, b3["code"].as_str()), (401, Some("signature_invalid")));

    // Events: one "received".
    let (st, ev) = h.get(&format!("{}?after=0", ps::PATH_CASE_EVENTS), Some(&c.access)).await;
    assert_eq!(st, 200, "{ev}");
    assert_eq!(ev["events"].as_array().unwrap().len(), 1);
    assert_eq!(ev["events"][0]["status"], "received");
    assert_eq!(ev["events"][0]["case_number"], case.as_str());
    assert_eq!(ev["events"][0]["submission_id"], p.submission_id.as_str());
    assert_eq!(ev["more"], false);
}

#[tokio::test]
async fn idempotency_key_must_match_and_be_present() {
    let h = start().await;
    let mut c = citizen(&h, C1).await;
    let p = residence_payload(&h);
    let body = c.request(&h, &p, &BTreeMap::new());
    let (st, text) = post_submission(&h, None, &body).await.unwrap();
    assert_eq!(st, 400, "{text}");
    let (st, text) = post_submission(&h, Some("something-else"), &body).await.unwrap();
    assert_eq!(st, 400, "{text}");
    assert!(text.contains("invalid_request"));
    assert_eq!(h.server.case_count(), 0);
    // The counter was not consumed by those refusals: the same signed request still goes through.
    assert_eq!(submit_body(&h, &body).await.0, 201);
}

#[tokio::test]
async fn submit_counter_is_separate_and_must_increase() {
    let h = start().await;
    let mut c = citizen(&h, C1).await;
    // Logins advanced the login counter; the submit counter starts on its own at 1.
    assert!(c.dev.counter >= 2);
    let (st, b) = submit_body(&h, &c.request(&h, &residence_payload(&h), &BTreeMap::new())).await;
    assert_eq!(st, 201, "{b}");
    // A new submission signed with the same counter: replay.
    c.submit_counter -= 1;
    let (st, b) = submit_body(&h, &c.request(&h, &residence_payload(&h), &BTreeMap::new())).await;
    assert_eq!((st, b["code"].as_str()), (401, Some("counter_replay")));
    // Logging in again still works (its own counter), and so does the next submission.
    h.login(&mut c.dev).await;
    c.submit_counter += 5;
    let (st, b) = submit_body(&h, &c.request(&h, &residence_payload(&h), &BTreeMap::new())).await;
    assert_eq!(st, 201, "{b}");
    assert_eq!(h.server.case_count(), 2);
}

#[tokio::test]
async fn queued_submissions_may_be_old_but_not_from_the_future() {
    let h = start().await;
    let mut c = citizen(&h, C1).await;
    let mut send = |p: &SubmissionPayload, issued_at: i64| {
        c.submit_counter += 1;
        let signed = c.dev.sign_statement(Statement {
            purpose: Purpose::Submit,
            audience: h.server.audience.clone(),
            nonce: p.submission_id.clone(),
            device_id: c.dev.id.clone(),
            counter: c.submit_counter,
            issued_at,
            subject: p.digest_hex(),
        });
        json!({"payload": p, "signed": signed})
    };
    // Filled and signed two days ago, offline, starting that day: date rules use the signing day.
    let mut p = residence_payload(&h);
    p.values.insert("from_date".into(), day(&h, -2));
    let body = send(&p, h.now() - 2 * 86_400);
    let (st, b) = submit_body(&h, &body).await;
    assert_eq!(st, 201, "{b}");
    let body = send(&residence_payload(&h), h.now() - 31 * 86_400);
    assert_eq!(submit_body(&h, &body).await.1["code"], "clock_skew");
    let body = send(&residence_payload(&h), h.now() + 3600);
    assert_eq!(submit_body(&h, &body).await.1["code"], "clock_skew");
    assert_eq!(h.server.case_count(), 1);
}

#[tokio::test]
async fn subject_must_be_the_payload_digest() {
    let h = start().await;
    let mut c = citizen(&h, C1).await;
    let p = residence_payload(&h);
    // Signed over another digest.
    let signed = c.sign_submit(&h, &p.submission_id, &"0".repeat(64));
    let (st, b) = submit_body(&h, &json!({"payload": p, "signed": signed})).await;
    assert_eq!((st, b["code"].as_str()), (401, Some("signature_invalid")));
    // Signed correctly, then the payload was altered in transit.
    let mut body = c.request(&h, &p, &BTreeMap::new());
    body["payload"]["values"]["reason"] = json!("cong_tac");
    let (st, b) = submit_body(&h, &body).await;
    assert_eq!((st, b["code"].as_str()), (401, Some("signature_invalid")));
    // Nonce must be the submission id; purpose must be submit.
    let signed = c.sign_submit(&h, "another-nonce", &p.digest_hex());
    let (st, b) = submit_body(&h, &json!({"payload": p, "signed": signed})).await;
    assert_eq!((st, b["code"].as_str()), (401, Some("nonce_invalid")));
    let signed = c.dev.sign(&h, Purpose::Login, &p.submission_id, &p.digest_hex());
    let (st, b) = submit_body(&h, &json!({"payload": p, "signed": signed})).await;
    assert_eq!((st, b["code"].as_str()), (400, Some("purpose_mismatch")));
    assert_eq!(h.server.case_count(), 0);
}

#[tokio::test]
async fn attachments_are_checked_and_large_bodies_accepted() {
    let h = start().await;
    let mut c = citizen(&h, C1).await;
    let doc: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();

    // Digest mismatch.
    let (mut p, data) = temp_residence_payload(&h, &doc);
    p.attachments[0].sha256 = sha256_hex(b"something else");
    let (st, b) = submit_body(&h, &c.request(&h, &p, &data)).await;
    assert_eq!((st, b["code"].as_str()), (422, Some("attachment_invalid")), "{b}");
    // Size mismatch.
    let (mut p, data) = temp_residence_payload(&h, &doc);
    p.attachments[0].size += 1;
    let (st, b) = submit_body(&h, &c.request(&h, &p, &data)).await;
    assert_eq!((st, b["code"].as_str()), (422, Some("attachment_invalid")));
    // Type not accepted.
    let (mut p, data) = temp_residence_payload(&h, &doc);
    p.attachments[0].mime_type = "text/plain".into();
    let (st, b) = submit_body(&h, &c.request(&h, &p, &data)).await;
    assert_eq!((st, b["code"].as_str()), (422, Some("attachment_invalid")));
    // Required attachment missing.
    let (mut p, _) = temp_residence_payload(&h, &doc);
    p.attachments.clear();
    let (st, b) = submit_body(&h, &c.request(&h, &p, &BTreeMap::new())).await;
    assert_eq!((st, b["code"].as_str()), (422, Some("attachment_invalid")));
    assert!(b["message"].as_str().unwrap().contains("housing_proof"));
    // Too large for the procedure (5 MiB).
    let big = vec![7u8; 5 * 1024 * 1024 + 1];
    let (p, data) = temp_residence_payload(&h, &big);
    let (st, b) = submit_body(&h, &c.request(&h, &p, &data)).await;
    assert_eq!((st, b["code"].as_str()), (422, Some("attachment_invalid")));
    assert_eq!(h.server.case_count(), 0);

    // Valid, ~400 KB of base64 in the body (above the 64 KiB limit of other routes).
    let (p, data) = temp_residence_payload(&h, &doc);
    let (st, b) = submit_body(&h, &c.request(&h, &p, &data)).await;
    assert_eq!(st, 201, "{b}");
    let claims = verify_receipt(&h, b["receipt"].as_str().unwrap()).await;
    assert_eq!(claims.due_date, day(&h, 3));
}

#[tokio::test]
async fn form_is_validated_server_side() {
    let h = start().await;
    let mut c = citizen(&h, C1).await;
    // Locked, auto-filled fields must equal the register.
    let mut p = residence_payload(&h);
    p.values.insert("host_full_name".into(), "Người Khác".into());
    p.values.insert("host_cccd".into(), "079195000002".into());
    let (st, b) = submit_body(&h, &c.request(&h, &p, &BTreeMap::new())).await;
    assert_eq!((st, b["code"].as_str()), (422, Some("form_invalid")));
    let msg = b["message"].as_str().unwrap();
    assert!(msg.contains("host_full_name") && msg.contains("host_cccd"), "{msg}");
    assert!(!msg.contains("079195000002") && !msg.contains("Người Khác"));

    // Conditional required field, date order, group item, unknown key.
    let mut p = residence_payload(&h);
    p.values.insert("reason".into(), "khac".into());
    p.values.insert("to_date".into(), day(&h, -1));
    p.values.insert("guests.1.cccd".into(), "12345".into());
    p.values.insert("unexpected".into(), "x".into());
    let (st, b) = submit_body(&h, &c.request(&h, &p, &BTreeMap::new())).await;
    assert_eq!(st, 422);
    let msg = b["message"].as_str().unwrap();
    for k in ["reason_other", "to_date", "guests.1.cccd", "unexpected"] {
        assert!(msg.contains(k), "{k} missing in {msg}");
    }
    // Too long a stay, no guests.
    let mut p = residence_payload(&h);
    p.values.insert("to_date".into(), day(&h, 181));
    p.values.retain(|k, _| !k.starts_with("guests."));
    let (st, b) = submit_body(&h, &c.request(&h, &p, &BTreeMap::new())).await;
    assert_eq!(st, 422);
    let msg = b["message"].as_str().unwrap();
    assert!(msg.contains("to_date") && msg.contains("guests"), "{msg}");

    // A commune of another province; an unknown province.
    let mut p = residence_payload(&h);
    p.values.insert("lodging_commune".into(), "26740".into());
    let (st, b) = submit_body(&h, &c.request(&h, &p, &BTreeMap::new())).await;
    assert_eq!((st, b["message"].as_str()), (422, Some("fields: lodging_commune")));
    let mut p = residence_payload(&h);
    p.values.insert("lodging_province".into(), "02".into());
    let (st, b) = submit_body(&h, &c.request(&h, &p, &BTreeMap::new())).await;
    assert_eq!((st, b["message"].as_str()), (422, Some("fields: lodging_commune, lodging_province")));

    // Unknown procedure version.
    let mut p = residence_payload(&h);
    p.procedure_version = 2;
    let (st, b) = submit_body(&h, &c.request(&h, &p, &BTreeMap::new())).await;
    assert_eq!((st, b["code"].as_str()), (422, Some("unknown_procedure")));

    // Hidden fields are ignored; reason_other given with khac passes.
    let mut p = residence_payload(&h);
    p.values.insert("reason".into(), "khac".into());
    p.values.insert("reason_other".into(), "Dự hội nghị thử nghiệm".into());
    let (st, b) = submit_body(&h, &c.request(&h, &p, &BTreeMap::new())).await;
    assert_eq!(st, 201, "{b}");
    assert_eq!(h.server.case_count(), 1);
}

#[tokio::test]
async fn officials_move_cases_and_citizens_see_events() {
    let h = start().await;
    let mut c = citizen(&h, C1).await;
    let (st, b) = submit_body(&h, &c.request(&h, &residence_payload(&h), &BTreeMap::new())).await;
    assert_eq!(st, 201, "{b}");
    let case = b["case_number"].as_str().unwrap().to_string();
    let tok = h.server.official_token.clone();
    assert_eq!(std::fs::read_to_string(&h.server.official_token_path).unwrap().trim(), tok);

    let (st, b) = transition(&h, "wrong", &case, "processing", json!({})).await;
    assert_eq!((st, b["code"].as_str()), (401, Some("official_unauthorized")));
    let resp = h
        .http
        .post(format!("{}{}", h.server.base_url, ps::PATH_OFFICIAL_TRANSITION))
        .json(&json!({"case_number": case, "to": "processing"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    let (st, b) = transition(&h, &tok, "HS-000000-000000", "processing", json!({})).await;
    assert_eq!((st, b["code"].as_str()), (404, Some("unknown_case")));
    let (st, b) = transition(&h, &tok, &case, "approved", json!({})).await;
    assert_eq!((st, b["code"].as_str()), (409, Some("invalid_transition")));
    assert_eq!(h.server.case_status(&case), Some(ps::CaseStatusDto::Received));

    let (st, b) = transition(&h, &tok, &case, "processing", json!({"note_vi": "Đang xử lý"})).await;
    assert_eq!(st, 200, "{b}");
    assert_eq!((b["status"].as_str(), b["note_vi"].as_str()), (Some("processing"), Some("Đang xử lý")));
    let (st, _) = transition(&h, &tok, &case, "approved", json!({})).await;
    assert_eq!(st, 200);
    let (st, _) = transition(&h, &tok, &case, "processing", json!({})).await;
    assert_eq!(st, 409);
    let (st, _) = transition(&h, &tok, &case, "completed", json!({"note_en": "Done"})).await;
    assert_eq!(st, 200);
    assert_eq!(h.server.case_status(&case), Some(ps::CaseStatusDto::Completed));
    let (st, _) = transition(&h, &tok, &case, "rejected", json!({})).await;
    assert_eq!(st, 409);

    // Cursor paging over the four events.
    let (st, ev) = h.get(&format!("{}?after=0", ps::PATH_CASE_EVENTS), Some(&c.access)).await;
    assert_eq!(st, 200);
    let statuses: Vec<_> = ev["events"].as_array().unwrap().iter().map(|e| e["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["received", "processing", "approved", "completed"]);
    let seqs: Vec<i64> = ev["events"].as_array().unwrap().iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(ev["next_after"].as_i64(), seqs.last().copied());
    let (_, ev2) = h.get(&format!("{}?after={}", ps::PATH_CASE_EVENTS, seqs[1]), Some(&c.access)).await;
    assert_eq!(ev2["events"].as_array().unwrap().len(), 2);
    let (_, ev3) = h.get(&format!("{}?after={}", ps::PATH_CASE_EVENTS, seqs[3]), Some(&c.access)).await;
    assert_eq!(
        (ev3["events"].as_array().unwrap().len(), ev3["next_after"].as_i64(), ev3["more"].as_bool()),
        (0, Some(seqs[3]), Some(false))
    );
    // Another citizen sees none of them.
    let other = citizen(&h, C2).await;
    let (_, ev4) = h.get(ps::PATH_CASE_EVENTS, Some(&other.access)).await;
    assert_eq!(ev4["events"].as_array().unwrap().len(), 0);
    let (st, _) = h.get(&format!("{}?after=x", ps::PATH_CASE_EVENTS), Some(&c.access)).await;
    assert_eq!(st, 400);
    let (st, _) = h.get(ps::PATH_CASE_EVENTS, None).await;
    assert_eq!(st, 401);

    // Audit: submissions and transitions recorded, with no personal data.
    let audit = h.server.audit_events();
    assert!(audit
        .iter()
        .any(|e| e.event == "submission" && e.outcome == "ok" && e.account_id.as_deref() == Some(c.account.as_str())));
    assert!(audit.iter().any(|e| e.event == "case_completed" && e.outcome == "ok"));
    assert!(audit.iter().any(|e| e.outcome == "official_unauthorized"));
    let dump = format!("{audit:?}");
    for secret in ["001090000001", "+84900000001", "Nguyễn", "079195000002", tok.as_str()] {
        assert!(!dump.contains(secret), "audit leaks {secret}");
    }
}

#[tokio::test]
async fn events_are_paged_by_200() {
    let h = start().await;
    let mut c = citizen(&h, C1).await;
    let (st, b) = submit_body(&h, &c.request(&h, &id_card_payload(), &BTreeMap::new())).await;
    assert_eq!(st, 201, "{b}");
    let case = b["case_number"].as_str().unwrap().to_string();
    let tok = h.server.official_token.clone();
    assert_eq!(transition(&h, &tok, &case, "processing", json!({})).await.0, 200);
    // processing ⇄ needs_supplement (an official may take the request back): 2 + 200 events.
    for i in 0..200 {
        let to = if i % 2 == 0 { "needs_supplement" } else { "processing" };
        assert_eq!(transition(&h, &tok, &case, to, json!({})).await.0, 200);
    }
    let (_, page1) = h.get(ps::PATH_CASE_EVENTS, Some(&c.access)).await;
    assert_eq!((page1["events"].as_array().unwrap().len(), page1["more"].as_bool()), (200, Some(true)));
    let after = page1["next_after"].as_i64().unwrap();
    assert_eq!(page1["events"][199]["seq"].as_i64(), Some(after));
    let (_, page2) = h.get(&format!("{}?after={after}", ps::PATH_CASE_EVENTS), Some(&c.access)).await;
    assert_eq!((page2["events"].as_array().unwrap().len(), page2["more"].as_bool()), (2, Some(false)));
    assert_eq!(page2["events"][1]["status"], "processing");
}

#[tokio::test]
async fn supplement_flow() {
    let h = start().await;
    let mut c = citizen(&h, C1).await;
    let p = id_card_payload();
    let (st, b) = submit_body(&h, &c.request(&h, &p, &BTreeMap::new())).await;
    assert_eq!(st, 201, "{b}");
    let case = b["case_number"].as_str().unwrap().to_string();
    let tok = h.server.official_token.clone();

    let doc = b"%PDF-1.4 fictitious supporting document".to_vec();
    let (r, data) = attachment("supporting_document", "application/pdf", &doc);
    let supplement = |_: &Harness| SubmissionPayload {
        submission_id: uuid::Uuid::new_v4().to_string(),
        procedure_id: "id-card-reissue".into(),
        procedure_version: 1,
        values: BTreeMap::new(),
        attachments: vec![r.clone()],
        supplements_case: Some(case.clone()),
        on_behalf: None,
    };
    let files = BTreeMap::from([("supporting_document".to_string(), data.clone())]);

    // Not waiting for a supplement yet.
    let s0 = supplement(&h);
    let (st, b) = submit_body(&h, &c.request(&h, &s0, &files)).await;
    assert_eq!((st, b["code"].as_str()), (409, Some("invalid_transition")), "{b}");

    assert_eq!(transition(&h, &tok, &case, "processing", json!({})).await.0, 200);
    let (st, b) = transition(
        &h,
        &tok,
        &case,
        "needs_supplement",
        json!({"note_vi": "Bổ sung giấy tờ", "requested_attachments": ["supporting_document"]}),
    )
    .await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["requested_attachments"], json!(["supporting_document"]));
    let (st, _) = transition(&h, &tok, &case, "needs_supplement", json!({})).await;
    assert_eq!(st, 409);

    // Another citizen cannot supplement it.
    let mut other = citizen(&h, C2).await;
    let (st, b) = submit_body(&h, &other.request(&h, &supplement(&h), &files)).await;
    assert_eq!((st, b["code"].as_str()), (404, Some("unknown_case")));
    // Without the requested document.
    let mut s1 = supplement(&h);
    s1.attachments.clear();
    let (st, b) = submit_body(&h, &c.request(&h, &s1, &BTreeMap::new())).await;
    assert_eq!((st, b["code"].as_str()), (422, Some("attachment_invalid")));

    let s2 = supplement(&h);
    let (st, b) = submit_body(&h, &c.request(&h, &s2, &files)).await;
    assert_eq!(st, 201, "{b}");
    assert_eq!(b["case_number"], case.as_str());
    let claims = verify_receipt(&h, b["receipt"].as_str().unwrap()).await;
    assert_eq!(
        (claims.case_number.as_str(), claims.submission_id.as_str()),
        (case.as_str(), s2.submission_id.as_str())
    );
    assert_eq!(claims.due_date, day(&h, 7));
    assert_eq!(h.server.case_status(&case), Some(ps::CaseStatusDto::Processing));
    assert_eq!(h.server.case_count(), 1);
    assert_eq!(h.server.cases_for_submission(&s2.submission_id), 0);
    assert!(h.server.submission_stored(&s2.submission_id));

    let (_, ev) = h.get(ps::PATH_CASE_EVENTS, Some(&c.access)).await;
    let statuses: Vec<_> = ev["events"].as_array().unwrap().iter().map(|e| e["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["received", "processing", "needs_supplement", "processing"]);
    assert_eq!(ev["events"][2]["requested_attachments"], json!(["supporting_document"]));
}

#[tokio::test]
async fn concurrent_duplicates_create_one_case() {
    let h = start().await;
    let mut c = citizen(&h, C1).await;
    let p = residence_payload(&h);
    let body = c.request(&h, &p, &BTreeMap::new());
    let (a, b) = tokio::join!(submit_body(&h, &body), submit_body(&h, &body));
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(statuses, [200, 201]);
    assert_eq!(a.1, b.1);
    assert_eq!(h.server.case_count(), 1);
}

#[tokio::test]
async fn faults_behave_as_documented() {
    let h = start().await;
    let mut c = citizen(&h, C1).await;

    // Dropped before handling: the client sees a transport error; nothing stored; retry works.
    let p = residence_payload(&h);
    let body = c.request(&h, &p, &BTreeMap::new());
    h.server.set_fault(Some(Fault::DropBeforeHandling));
    assert!(post_submission(&h, Some(&p.submission_id), &body).await.is_err());
    assert_eq!((h.server.case_count(), h.server.pending_faults()), (0, 0));
    let (st, first) = submit_body(&h, &body).await;
    assert_eq!(st, 201, "{first}");

    // Answer lost after commit: transport error, but the case exists; the retry gets the receipt.
    let p = residence_payload(&h);
    let body = c.request(&h, &p, &BTreeMap::new());
    h.server.set_fault(Some(Fault::FailAfterCommit));
    assert!(post_submission(&h, Some(&p.submission_id), &body).await.is_err());
    assert_eq!(h.server.cases_for_submission(&p.submission_id), 1);
    let (st, b) = submit_body(&h, &body).await;
    assert_eq!(st, 200, "{b}");
    let claims = verify_receipt(&h, b["receipt"].as_str().unwrap()).await;
    assert_eq!(claims.submission_id, p.submission_id);

    // Queue: 503 with Retry-After, then 500 before handling, then commit-then-500, then a delay.
    let p = residence_payload(&h);
    let body = c.request(&h, &p, &BTreeMap::new());
    h.server.set_faults(vec![Fault::Status503RetryAfter(7), Fault::Status500, Fault::CommitThen500, Fault::Delay(150)]);
    let resp = h
        .http
        .post(format!("{}{}", h.server.base_url, ps::PATH_SUBMISSIONS))
        .header("Idempotency-Key", &p.submission_id)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 503);
    assert_eq!(resp.headers()["retry-after"].to_str().unwrap(), "7");
    assert_eq!(resp.json::<Value>().await.unwrap()["retry_after"], 7);
    let (st, _) = submit_body(&h, &body).await;
    assert_eq!(st, 500);
    assert_eq!(h.server.cases_for_submission(&p.submission_id), 0);
    let (st, _) = submit_body(&h, &body).await;
    assert_eq!(st, 500);
    assert_eq!(h.server.cases_for_submission(&p.submission_id), 1);
    let t0 = std::time::Instant::now();
    let (st, _) = submit_body(&h, &body).await;
    assert_eq!(st, 200);
    assert!(t0.elapsed() >= std::time::Duration::from_millis(150));
    assert_eq!(h.server.pending_faults(), 0);
    assert_eq!(h.server.case_count(), 3);

    // Other endpoints are unaffected by queued faults, and the server keeps serving.
    h.server.set_faults(vec![Fault::DropBeforeHandling]);
    assert_eq!(h.get(ps::PATH_PROCEDURES, None).await.0, 200);
    assert_eq!(h.server.pending_faults(), 1);
    h.server.set_fault(None);
    assert_eq!(h.server.pending_faults(), 0);
}

/// Issue 11 (decision 26): the bookkeeping key, once registered, still cannot sign a submission
/// (only activity anchors); the device key's submission of the same payload goes through.
#[tokio::test(flavor = "multi_thread")]
async fn a_submission_signed_by_the_bookkeeping_key_is_refused() {
    let h = start().await;
    let mut c = citizen(&h, C1).await;
    let bk = p256::ecdsa::SigningKey::from_slice(&citizen_protocol::crypto::random_array::<32>()).unwrap();
    let nonce = h.nonce(&c.dev, Purpose::Login).await;
    let subject =
        citizen_protocol::protocol::bookkeeping_subject(bk.verifying_key().to_encoded_point(false).as_bytes());
    let (st, b) = h.login_signed(&c.dev.sign(&h, Purpose::Login, &nonce, &subject)).await;
    assert_eq!(st, 200, "{b}");
    let p = residence_payload(&h);
    let device_key = std::mem::replace(&mut c.dev.key, bk);
    let (st, b) = submit_body(&h, &c.request(&h, &p, &BTreeMap::new())).await;
    assert_eq!((st, b["code"].as_str()), (401, Some("signature_invalid")), "{b}");
    c.dev.key = device_key;
    let (st, b) = submit_body(&h, &c.request(&h, &p, &BTreeMap::new())).await;
    assert_eq!(st, 201, "{b}");
}

/// Idempotency under concurrency (decision 36): one signed submission sent 16 times at once
/// opens exactly one case; every other copy gets the original answer (or is told the first is
/// still in progress), and one statement's counter is accepted once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_copies_of_one_submission_open_one_case() {
    let h = std::sync::Arc::new(start().await);
    let mut c = citizen(&h, C1).await;
    let p = residence_payload(&h);
    let body = c.request(&h, &p, &BTreeMap::new());
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (h, body) = (h.clone(), body.clone());
            tokio::spawn(async move { submit_body(&h, &body).await })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    let created: Vec<_> = answers.iter().filter(|(st, _)| *st == 201).collect();
    assert_eq!(created.len(), 1, "{answers:?}");
    for (st, b) in &answers {
        assert!(*st == 201 || (*st == 200 && b == &created[0].1), "{st} {b}");
    }
    assert_eq!((h.server.case_count(), h.server.cases_for_submission(&p.submission_id)), (1, 1));
}

/// 16 different submissions signed with the same submit counter, sent at once: exactly one is
/// accepted, the others are counter replays.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_submissions_reusing_one_counter_are_accepted_once() {
    let h = std::sync::Arc::new(start().await);
    let mut c = citizen(&h, C1).await;
    let bodies: Vec<_> = (0..16)
        .map(|_| {
            let b = c.request(&h, &residence_payload(&h), &BTreeMap::new());
            c.submit_counter -= 1;
            b
        })
        .collect();
    let tasks: Vec<_> = bodies
        .into_iter()
        .map(|body| {
            let h = h.clone();
            tokio::spawn(async move { submit_body(&h, &body).await })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    assert_eq!(answers.iter().filter(|(st, _)| *st == 201).count(), 1, "{answers:?}");
    for (st, b) in answers.iter().filter(|(st, _)| *st != 201) {
        assert_eq!((*st, b["code"].as_str()), (401, Some("counter_replay")));
    }
    assert_eq!(h.server.case_count(), 1);
}

/// Case numbers of one day are dense from 000001 (the next number is read from the day's last
/// case by a primary-key range, not by counting the table).
#[tokio::test]
async fn case_numbers_of_a_day_follow_each_other() {
    let h = start().await;
    let mut c = citizen(&h, C1).await;
    let mut numbers = Vec::new();
    for _ in 0..3 {
        let (st, b) = submit_body(&h, &c.request(&h, &residence_payload(&h), &BTreeMap::new())).await;
        assert_eq!(st, 201, "{b}");
        numbers.push(b["case_number"].as_str().unwrap().to_string());
    }
    let d = Date::from_unix_vn(h.now());
    let prefix = format!("HS-{:02}{:02}{:02}-", d.year % 100, d.month, d.day);
    assert_eq!(numbers, ["000001", "000002", "000003"].map(|n| format!("{prefix}{n}")));
}
