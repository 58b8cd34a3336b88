//! Corrections and enrichment of the register by the citizen (issue 16 item 1, decision 50):
//! an approved correction changes the register, the profile and the history and revokes the
//! PID credential that carried the old value; a rejected one changes nothing; only a named
//! official with the `register` role decides (403 otherwise, each refusal with its own code);
//! a supplement request is answered through the case's supplement path; every view and decision
//! is in the citizen's access log.

use std::collections::BTreeMap;

use citizen_protocol::access::{self as acc, AccessLogClaims, AccessPurpose, Accessor};
use citizen_protocol::protocol::corrections::{codes, PATH_OFFICIAL_CORRECTIONS, PROCEDURE_ID};
use citizen_protocol::protocol::documents::StatusBits;
use citizen_protocol::protocol::services::{self as ps, AttachmentRef, SubmissionPayload};
use citizen_protocol::protocol::{sha256_hex, Purpose};
use citizen_server::officials::Role;
use serde_json::{json, Value};

use crate::common::*;
use crate::services::{citizen, submit_body, transition, Citizen};

const OFFICIAL: &str = "x-official-token";
const ORIGIN_BEFORE: &str = "Xã Đông Anh, Thành phố Hà Nội";
const ORIGIN_AFTER: &str = "Xã Thư Lâm, Thành phố Hà Nội";

fn evidence(key: &str) -> (AttachmentRef, BTreeMap<String, String>) {
    let data = format!("%PDF-1.4 fictitious evidence {key}").into_bytes();
    let r = AttachmentRef {
        key: key.into(),
        file_name: format!("{key}.pdf"),
        mime_type: "application/pdf".into(),
        size: data.len() as u64,
        sha256: sha256_hex(&data),
    };
    (r, BTreeMap::from([(key.to_string(), citizen_protocol::crypto::b64(&data))]))
}

/// A correction of `field` to `value` (in the field's own form key), with evidence or not.
fn proposal(
    field: &str,
    value_key: &str,
    value: &str,
    with_evidence: bool,
) -> (SubmissionPayload, BTreeMap<String, String>) {
    let values: BTreeMap<String, String> =
        [("field", field), (value_key, value), ("reason", "Thông tin trong hồ sơ bị ghi sai (dữ liệu thử nghiệm)")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    let (attachments, data) = if with_evidence {
        let (r, d) = evidence("evidence");
        (vec![r], d)
    } else {
        (vec![], BTreeMap::new())
    };
    let p = SubmissionPayload {
        submission_id: uuid::Uuid::new_v4().to_string(),
        procedure_id: PROCEDURE_ID.into(),
        procedure_version: 1,
        values,
        attachments,
        on_behalf: None,
        supplements_case: None,
    };
    (p, data)
}

async fn propose(h: &Harness, c: &mut Citizen, p: &(SubmissionPayload, BTreeMap<String, String>)) -> (u16, Value) {
    let body = c.request(h, &p.0, &p.1);
    submit_body(h, &body).await
}

async fn official(h: &Harness, token: Option<&str>, path: &str, body: Option<Value>) -> (u16, Value) {
    let url = format!("{}{path}", h.server.base_url);
    let mut rb = match &body {
        Some(b) => h.http.post(url).json(b),
        None => h.http.get(url),
    };
    if let Some(t) = token {
        rb = rb.header(OFFICIAL, t);
    }
    let resp = rb.send().await.unwrap();
    let st = resp.status().as_u16();
    (st, resp.json().await.unwrap_or(Value::Null))
}

async fn decide(h: &Harness, token: &str, case: &str, decision: &str) -> (u16, Value) {
    official(
        h,
        Some(token),
        "/v1/official/corrections/decide",
        Some(json!({"case_number": case, "decision": decision})),
    )
    .await
}

async fn profile(h: &Harness, c: &Citizen) -> Value {
    let (st, p) = h.get(ps::PATH_PROFILE, Some(&c.access)).await;
    assert_eq!(st, 200, "{p}");
    p
}

/// The citizen's PID credential, freshly issued: its disclosed values and status entry.
async fn fetch_pid(h: &Harness, c: &mut Citizen) -> citizen_protocol::sdjwt::CredentialInfo {
    let nonce = h.nonce(&c.dev, Purpose::Credential).await;
    let key = c.dev.key.verifying_key().to_encoded_point(false).as_bytes().to_vec();
    let signed = c.dev.sign(h, Purpose::Credential, &nonce, &format!("pid:{}", sha256_hex(&key)));
    let (st, b) =
        h.post(citizen_protocol::protocol::rp::PATH_CREDENTIAL, json!({ "signed": signed }), Some(&c.access)).await;
    assert_eq!(st, 200, "{b}");
    citizen_protocol::sdjwt::inspect(b["sd_jwt"].as_str().unwrap()).unwrap()
}

async fn revoked(h: &Harness, info: &citizen_protocol::sdjwt::CredentialInfo) -> bool {
    let (idx, uri) = info.status.clone().expect("the PID has a status entry");
    let url = uri.replace(&h.server.audience, &h.server.base_url);
    let jwt = h.http.get(url).send().await.unwrap().text().await.unwrap();
    let payload: Value =
        serde_json::from_slice(&citizen_protocol::crypto::unb64(jwt.trim().split('.').nth(1).unwrap()).unwrap())
            .unwrap();
    StatusBits::decode(payload["status_list"]["lst"].as_str().unwrap()).unwrap().get(idx).unwrap()
}

async fn access_log(h: &Harness, c: &Citizen) -> AccessLogClaims {
    let (st, b) = h.get(acc::PATH_ACCESS_LOG, Some(&c.access)).await;
    assert_eq!(st, 200, "{b}");
    let (_, keys) = h.get(ps::PATH_KEYS, None).await;
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(keys["keys"][0].clone()).unwrap();
    citizen_protocol::crypto::decode_es256::<AccessLogClaims>(b["log"].as_str().unwrap(), &jwk).unwrap()
}

#[tokio::test]
async fn an_approved_correction_changes_the_register_keeps_history_and_revokes_the_pid() {
    let h = start().await;
    let mut c = citizen(&h, C1).await;
    let registrar = h.server.add_official("CB-0100", "Công an xã Thư Lâm", &[Role::Register]).unwrap();
    let clerk = h.server.add_official("CB-0042", "Công an phường Hoàn Kiếm", &[Role::Records, Role::Counter]).unwrap();
    let shared = h.server.official_token.clone();

    let old_pid = fetch_pid(&h, &mut c).await;
    assert_eq!(old_pid.values["place_of_origin"], ORIGIN_BEFORE);
    assert!(!revoked(&h, &old_pid).await);
    let before = profile(&h, &c).await;
    assert_eq!(before["place_of_origin"], ORIGIN_BEFORE);

    let (st, b) = propose(&h, &mut c, &proposal("place_of_origin", "new_value", ORIGIN_AFTER, true)).await;
    assert_eq!(st, 201, "{b}");
    let case = b["case_number"].as_str().unwrap().to_string();

    // Least privilege: no token 401; the shared token, a clerk without the role: 403.
    assert_eq!(official(&h, None, PATH_OFFICIAL_CORRECTIONS, None).await.0, 401);
    for t in [&shared, &clerk] {
        let (st, b) = official(&h, Some(t), PATH_OFFICIAL_CORRECTIONS, None).await;
        assert_eq!((st, b["code"].as_str()), (403, Some(acc::codes::OFFICIAL_FORBIDDEN)), "{b}");
        let (st, b) = decide(&h, t, &case, "approve").await;
        assert_eq!((st, b["code"].as_str()), (403, Some(acc::codes::OFFICIAL_FORBIDDEN)), "{b}");
    }
    // The generic transition cannot decide a correction (it may move it to processing).
    let (st, b) = transition(&h, &shared, &case, "rejected", json!({})).await;
    assert_eq!((st, b["code"].as_str()), (403, Some(codes::NAMED_OFFICIAL_REQUIRED)), "{b}");
    assert_eq!(profile(&h, &c).await, before, "refusals change nothing");

    // The list names cases and fields only; opening one shows the values (a logged read).
    let (st, list) = official(&h, Some(&registrar), PATH_OFFICIAL_CORRECTIONS, None).await;
    assert_eq!(st, 200, "{list}");
    assert_eq!(list["corrections"].as_array().unwrap().len(), 1);
    assert_eq!(list["corrections"][0]["case_number"], case.as_str());
    assert_eq!(list["corrections"][0]["proposed_value"], Value::Null);
    let (st, v) =
        official(&h, Some(&registrar), "/v1/official/corrections/view", Some(json!({"case_number": case}))).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!((v["current_value"].as_str(), v["proposed_value"].as_str()), (Some(ORIGIN_BEFORE), Some(ORIGIN_AFTER)));
    assert_eq!(v["evidence"], json!(["evidence"]));

    h.clock.advance(60);
    // The test clock is the system clock plus an offset: under load a second may pass between
    // the decision and the checks, so its time is checked against this window.
    let decided_from = h.now();
    let (st, d) = decide(&h, &registrar, &case, "approve").await;
    assert_eq!((st, d["state"].as_str(), d["case_status"].as_str()), (200, Some("approved"), Some("approved")), "{d}");
    let (st, d) = decide(&h, &registrar, &case, "reject").await;
    assert_eq!((st, d["code"].as_str()), (409, Some(codes::NOT_PENDING)), "decided once");

    // Register and profile.
    let after = profile(&h, &c).await;
    assert_eq!(after["place_of_origin"], ORIGIN_AFTER);
    let updated_at = after["updated_at"].as_i64().unwrap();
    assert!((decided_from..=h.now()).contains(&updated_at), "updated_at {updated_at} at the decision");
    // History, append-only.
    let hist = h.server.register_history(C1.0);
    assert_eq!(hist.len(), 1);
    let e = &hist[0];
    assert_eq!(
        (e.field.as_str(), e.old_value.as_deref(), e.new_value.as_str(), e.decision.as_str()),
        ("place_of_origin", Some(ORIGIN_BEFORE), ORIGIN_AFTER, "approved")
    );
    assert_eq!(
        (e.case_number.as_str(), e.official_id.as_str(), e.agency.as_str(), e.at),
        (case.as_str(), "CB-0100", "Công an xã Thư Lâm", updated_at)
    );
    let db = rusqlite::Connection::open(h.server.database_path()).unwrap();
    assert!(db.execute("DELETE FROM register_history", []).is_err());
    assert!(db.execute("UPDATE register_history SET new_value = 'x'", []).is_err());

    // The PID that carried the old value is revoked; a new one carries the new value.
    assert!(revoked(&h, &old_pid).await, "the old PID's status bit is set");
    let new_pid = fetch_pid(&h, &mut c).await;
    assert_eq!(new_pid.values["place_of_origin"], ORIGIN_AFTER);
    assert!(!revoked(&h, &new_pid).await);
    assert_ne!(new_pid.status.unwrap().0, old_pid.status.unwrap().0);

    // The citizen's access log: the form check, the official's view and decision, by name.
    let log = access_log(&h, &c).await;
    let seen: Vec<(Accessor, Option<String>, AccessPurpose)> =
        log.entries.iter().map(|e| (e.accessor, e.official.clone(), e.purpose)).collect();
    let by_registrar = (Accessor::Official, Some("CB-0100".to_string()), AccessPurpose::RegisterMaintenance);
    assert_eq!(
        seen,
        vec![(Accessor::BackOffice, None, AccessPurpose::FormPrefill), by_registrar.clone(), by_registrar],
        "the form's check, the official's view, the official's decision"
    );
    assert!(log
        .entries
        .iter()
        .skip(1)
        .all(|e| e.agency == "Công an xã Thư Lâm" && e.reference.as_deref() == Some(case.as_str())));
}

#[tokio::test]
async fn a_rejection_changes_nothing_and_a_supplement_is_answered() {
    let h = start().await;
    let mut c = citizen(&h, C1).await;
    let registrar = h.server.add_official("CB-0101", "Công an xã Đông Anh", &[Role::Register]).unwrap();
    let before = profile(&h, &c).await;
    assert_eq!(before["occupation"], Value::Null);

    // Checks beyond the form, each with its own code; none leaves a case.
    let refused = [
        (proposal("place_of_origin", "new_value", "Hà Nội", true), 422, codes::VALUE_INVALID),
        (proposal("email", "new_email", "nguyen.van.mau@example.vn", false), 422, codes::UNCHANGED),
        (proposal("blood_group", "new_blood_group", "O+", false), 422, codes::EVIDENCE_REQUIRED),
        (proposal("blood_group", "new_blood_group", "Z+", true), 422, "form_invalid"),
        (proposal("education", "new_education", "dai_hoc", false), 422, codes::EVIDENCE_REQUIRED),
    ];
    for (p, status, code) in &refused {
        let (st, b) = propose(&h, &mut c, p).await;
        assert_eq!((st, b["code"].as_str()), (*status, Some(*code)), "{:?}: {b}", p.0.values);
    }

    let (st, b) = propose(&h, &mut c, &proposal("occupation", "new_value", "Kỹ sư phần mềm", false)).await;
    assert_eq!(st, 201, "{b}");
    let case = b["case_number"].as_str().unwrap().to_string();
    let (st, b) = propose(&h, &mut c, &proposal("occupation", "new_value", "Giáo viên", false)).await;
    assert_eq!((st, b["code"].as_str()), (409, Some(codes::ALREADY_PENDING)), "{b}");

    // Supplement requested: the case waits for the citizen, who answers with evidence.
    let (st, d) = decide(&h, &registrar, &case, "request_supplement").await;
    assert_eq!(
        (st, d["case_status"].as_str(), d["state"].as_str()),
        (200, Some("needs_supplement"), Some("pending")),
        "{d}"
    );
    let (st, d) = decide(&h, &registrar, &case, "approve").await;
    assert_eq!((st, d["code"].as_str()), (409, Some(codes::NOT_PENDING)), "waits for the citizen");
    let (r, data) = evidence("evidence");
    let supplement = SubmissionPayload {
        submission_id: uuid::Uuid::new_v4().to_string(),
        procedure_id: PROCEDURE_ID.into(),
        procedure_version: 1,
        values: BTreeMap::new(),
        attachments: vec![r],
        on_behalf: None,
        supplements_case: Some(case.clone()),
    };
    let (st, b) = submit_body(&h, &c.request(&h, &supplement, &data)).await;
    assert_eq!(st, 201, "{b}");

    // Rejected: nothing in the register changes; the history says who refused what.
    let (st, d) = decide(&h, &registrar, &case, "reject").await;
    assert_eq!((st, d["state"].as_str(), d["case_status"].as_str()), (200, Some("rejected"), Some("rejected")), "{d}");
    assert_eq!(profile(&h, &c).await, before, "a rejection changes nothing");
    let hist = h.server.register_history(C1.0);
    assert_eq!(hist.len(), 1);
    assert_eq!(
        (hist[0].decision.as_str(), hist[0].old_value.as_deref(), hist[0].new_value.as_str()),
        ("rejected", None, "Kỹ sư phần mềm")
    );

    // Enrichment approved: the profile gains the field; the PID does not carry it, so it stays.
    let pid = fetch_pid(&h, &mut c).await;
    let (st, b) = propose(&h, &mut c, &proposal("blood_group", "new_blood_group", "O+", true)).await;
    assert_eq!(st, 201, "{b}");
    let case2 = b["case_number"].as_str().unwrap().to_string();
    h.clock.advance(60);
    assert_eq!(decide(&h, &registrar, &case2, "approve").await.0, 200);
    let after = profile(&h, &c).await;
    assert_eq!((after["blood_group"].as_str(), after["occupation"].as_str()), (Some("O+"), None));
    assert_eq!(after["place_of_origin"], before["place_of_origin"]);
    assert!(!revoked(&h, &pid).await, "a field the PID does not carry leaves it valid");
}

/// Two registrars decide the same case at the same moment, one approving and one rejecting:
/// exactly one decision applies (the other is told the case is no longer pending), the history
/// has one entry and the register matches that decision — never both, never neither.
#[tokio::test]
async fn two_decisions_at_once_apply_exactly_one() {
    let h = start().await;
    let mut c = citizen(&h, C1).await;
    let first = h.server.add_official("CB-0102", "Công an xã Thư Lâm", &[Role::Register]).unwrap();
    let second = h.server.add_official("CB-0103", "Công an xã Thư Lâm", &[Role::Register]).unwrap();
    let (st, b) = propose(&h, &mut c, &proposal("place_of_origin", "new_value", ORIGIN_AFTER, true)).await;
    assert_eq!(st, 201, "{b}");
    let case = b["case_number"].as_str().unwrap().to_string();
    h.clock.advance(60);

    let ((sa, a), (sr, r)) = tokio::join!(decide(&h, &first, &case, "approve"), decide(&h, &second, &case, "reject"));
    let mut statuses = [sa, sr];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409], "approve: {a}; reject: {r}");
    let loser = if sa == 409 { &a } else { &r };
    assert_eq!(loser["code"].as_str(), Some(codes::NOT_PENDING), "{loser}");

    let hist = h.server.register_history(C1.0);
    assert_eq!(hist.len(), 1, "one decision recorded");
    let origin = profile(&h, &c).await["place_of_origin"].as_str().map(str::to_owned);
    if sa == 200 {
        assert_eq!((hist[0].decision.as_str(), origin.as_deref()), ("approved", Some(ORIGIN_AFTER)));
    } else {
        assert_eq!((hist[0].decision.as_str(), origin.as_deref()), ("rejected", Some(ORIGIN_BEFORE)));
    }
}
