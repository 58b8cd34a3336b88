//! Enrollment: register matching, OTP rules, proof of possession, one active device.

use crate::common::*;
use citizen_protocol::protocol::{self as p, Purpose};
use serde_json::json;

#[tokio::test]
async fn start_validates_and_matches_the_register() {
    let h = start().await;
    let (st, b) = h.get(p::PATH_HEALTH, None).await;
    assert_eq!((st, b), (200, json!({"ok": true})));

    // Structurally invalid CCCD (unknown province 999) → 400 invalid_request.
    let (st, b) = h.enroll_start(("999090000001", "1990-01-15", "+84900000001")).await;
    assert_eq!((st, b["code"].as_str()), (400, Some("invalid_request")), "{b}");
    // Birth year disagrees with the number.
    let (st, b) = h.enroll_start(("001090000001", "1991-01-15", "+84900000001")).await;
    assert_eq!((st, b["code"].as_str()), (400, Some("invalid_request")));
    // Bad phone.
    let (st, b) = h.enroll_start(("001090000001", "1990-01-15", "12345")).await;
    assert_eq!((st, b["code"].as_str()), (400, Some("invalid_request")));
    // Valid but not in the register / wrong phone → 404 no_match.
    let (st, b) = h.enroll_start(("001090000099", "1990-01-15", "+84900000001")).await;
    assert_eq!((st, b["code"].as_str()), (404, Some("no_match")));
    let (st, b) = h.enroll_start(("001090000001", "1990-01-15", "+84900000002")).await;
    assert_eq!((st, b["code"].as_str()), (404, Some("no_match")));
    // Phone in national format is normalised; answer masks it.
    let before = h.now();
    let (st, b) = h.enroll_start(("001090000001", "1990-01-15", "0900 000 001")).await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["masked_phone"], "+84 ••• ••• 001");
    assert_eq!(b["has_active_device"], false);
    let eid = b["enrollment_id"].as_str().unwrap();
    assert!(eid.len() >= 22);
    let otp = h.outbox.last_otp(eid).unwrap();
    assert!(otp.len() == 6 && otp.bytes().all(|c| c.is_ascii_digit()));
    // The harness clock follows the system clock: the answer may come a second later.
    let expires = b["otp_expires_at"].as_i64().unwrap();
    assert!((before + 300..=h.now() + 300).contains(&expires), "{expires}");
}

#[tokio::test]
async fn malformed_requests_get_json_errors() {
    let h = start().await;
    let url = format!("{}{}", h.server.base_url, p::PATH_ENROLL_START);
    for (ct, body) in [
        ("application/json", "{not json".to_string()),
        ("application/json", r#"{"cccd": 1}"#.to_string()),
        ("text/plain", r#"{"cccd":"001090000001","date_of_birth":"1990-01-15","phone":"+84900000001"}"#.to_string()),
    ] {
        let r = h.http.post(&url).header("content-type", ct).body(body).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 400);
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["code"], "invalid_request");
    }
    let big = format!(r#"{{"cccd":"{}","date_of_birth":"x","phone":"y"}}"#, "1".repeat(70 * 1024));
    let r = h.http.post(&url).header("content-type", "application/json").body(big).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 413);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["code"], "invalid_request");
    let (st, v) = h.get("/v1/nope", None).await;
    assert_eq!((st, v["code"].as_str()), (404, Some("invalid_request")));
    let (st, v) = h.get(p::PATH_LOGIN, None).await;
    assert_eq!((st, v["code"].as_str()), (405, Some("invalid_request")));
}

#[tokio::test]
async fn start_is_rate_limited_per_cccd() {
    let h = start().await;
    for _ in 0..5 {
        assert_eq!(h.enroll_start(C4).await.0, 200);
    }
    let (st, b) = h.enroll_start(C4).await;
    assert_eq!((st, b["code"].as_str()), (429, Some("rate_limited")));
    assert!(b["retry_after"].as_u64().unwrap() > 0);
    // Another citizen is unaffected; an hour later C4 may start again.
    assert_eq!(h.enroll_start(C3).await.0, 200);
    h.clock.advance(3601);
    assert_eq!(h.enroll_start(C4).await.0, 200);
}

#[tokio::test]
async fn wrong_otp_counts_down_then_the_enrollment_is_dead() {
    let h = start().await;
    let (_, b) = h.enroll_start(C1).await;
    let eid = b["enrollment_id"].as_str().unwrap().to_string();
    let otp = h.outbox.last_otp(&eid).unwrap();
    let wrong = if otp == "000000" { "000001" } else { "000000" };
    let mut dev = Device::new();
    for left in [4, 3, 2, 1] {
        let (st, b) = h.enroll_complete(&eid, wrong, &mut dev).await;
        assert_eq!((st, b["code"].as_str()), (401, Some("otp_invalid")), "{b}");
        assert_eq!(b["attempts_left"], left);
    }
    let (st, b) = h.enroll_complete(&eid, wrong, &mut dev).await;
    assert_eq!((st, b["code"].as_str()), (429, Some("otp_attempts_exceeded")));
    // Even the right OTP no longer works.
    let (st, b) = h.enroll_complete(&eid, &otp, &mut dev).await;
    assert_eq!((st, b["code"].as_str()), (429, Some("otp_attempts_exceeded")));
    assert_eq!(h.server.device_status(&dev.id), None);
}

#[tokio::test]
async fn expired_and_unknown_enrollments() {
    let h = start().await;
    let (_, b) = h.enroll_start(C1).await;
    let eid = b["enrollment_id"].as_str().unwrap().to_string();
    let otp = h.outbox.last_otp(&eid).unwrap();
    h.clock.advance(301);
    let mut dev = Device::new();
    let (st, b) = h.enroll_complete(&eid, &otp, &mut dev).await;
    assert_eq!((st, b["code"].as_str()), (410, Some("otp_expired")));
    let (st, b) = h.enroll_complete("no-such-enrollment", &otp, &mut dev).await;
    assert_eq!((st, b["code"].as_str()), (404, Some("unknown_enrollment")));
}

#[tokio::test]
async fn proof_of_possession_is_checked() {
    let h = start().await;
    let (_, b) = h.enroll_start(C2).await;
    let eid = b["enrollment_id"].as_str().unwrap().to_string();
    let otp = h.outbox.last_otp(&eid).unwrap();
    let mut dev = Device::new();

    let mut st = dev.sign(&h, Purpose::Enroll, &eid, "").statement;
    st.audience = "https://evil.example".into();
    let (s, b) = h.enroll_complete_with(&eid, &otp, &dev, dev.sign_statement(st.clone())).await;
    assert_eq!((s, b["code"].as_str()), (401, Some("audience_mismatch")));

    let mut wrong = st.clone();
    wrong.audience = h.server.audience.clone();
    wrong.purpose = Purpose::Login;
    let (s, b) = h.enroll_complete_with(&eid, &otp, &dev, dev.sign_statement(wrong)).await;
    assert_eq!((s, b["code"].as_str()), (400, Some("purpose_mismatch")));

    let mut skew = st.clone();
    skew.audience = h.server.audience.clone();
    skew.issued_at -= 301;
    let (s, b) = h.enroll_complete_with(&eid, &otp, &dev, dev.sign_statement(skew)).await;
    assert_eq!((s, b["code"].as_str()), (401, Some("clock_skew")));

    let mut other_nonce = st.clone();
    other_nonce.audience = h.server.audience.clone();
    other_nonce.nonce = "something-else".into();
    let (s, b) = h.enroll_complete_with(&eid, &otp, &dev, dev.sign_statement(other_nonce)).await;
    assert_eq!((s, b["code"].as_str()), (401, Some("nonce_invalid")));

    // Signed by a different key than the one registered.
    let impostor = Device::new();
    let mut good = st.clone();
    good.audience = h.server.audience.clone();
    let (s, b) = h.enroll_complete_with(&eid, &otp, &dev, impostor.sign_statement(good.clone())).await;
    assert_eq!((s, b["code"].as_str()), (401, Some("signature_invalid")));

    // Correct proof: success; none of the failures above consumed the enrollment.
    let (s, b) = h.enroll_complete_with(&eid, &otp, &dev, dev.sign_statement(good.clone())).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["device_id"], dev.id);
    assert_eq!(b["replaced_device_id"], serde_json::Value::Null);
    assert_eq!(h.server.device_status(&dev.id).as_deref(), Some("active"));
    // Consumed.
    let (s, b) = h.enroll_complete_with(&eid, &otp, &dev, dev.sign_statement(good)).await;
    assert_eq!((s, b["code"].as_str()), (404, Some("unknown_enrollment")));

    // Same device id again (another enrollment) → 409 device_exists.
    let (_, b) = h.enroll_start(C2).await;
    let eid2 = b["enrollment_id"].as_str().unwrap().to_string();
    let otp2 = h.outbox.last_otp(&eid2).unwrap();
    let (s, b) = h.enroll_complete(&eid2, &otp2, &mut dev).await;
    assert_eq!((s, b["code"].as_str()), (409, Some("device_exists")));
}

#[tokio::test]
async fn second_enrollment_replaces_the_first_device() {
    let h = start().await;
    let mut a = Device::new();
    let acc = h.enroll(C1, &mut a).await;
    let tokens_a = h.login(&mut a).await;

    let (_, b) = h.enroll_start(C1).await;
    assert_eq!(b["has_active_device"], true);
    let eid = b["enrollment_id"].as_str().unwrap().to_string();
    let otp = h.outbox.last_otp(&eid).unwrap();
    let mut bdev = Device::new();
    let (st, b) = h.enroll_complete(&eid, &otp, &mut bdev).await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["account_id"], acc.as_str());
    assert_eq!(b["replaced_device_id"], a.id.as_str());
    assert_eq!(b["transfer_approved"], false);
    assert_eq!(h.server.device_status(&a.id).as_deref(), Some("replaced"));

    let (st, b) = h.challenge(&a, Purpose::Login).await;
    assert_eq!((st, b["code"].as_str()), (403, Some("device_inactive")));
    assert_eq!(b["device_status"], "replaced");
    let (st, b) = h.post(p::PATH_DEVICE_STATUS, json!({"device_id": a.id}), None).await;
    assert_eq!((st, b["status"].as_str()), (200, Some("replaced")));
    // A's session died with it, and A is told why.
    let (st, b) = h.refresh(tokens_a["refresh_token"].as_str().unwrap()).await;
    assert_eq!((st, b["code"].as_str(), b["device_status"].as_str()), (403, Some("device_inactive"), Some("replaced")));
    let (st, b) = h.get(p::PATH_DEVICES, tokens_a["access_token"].as_str()).await;
    assert_eq!((st, b["code"].as_str()), (403, Some("device_inactive")));

    let tokens_b = h.login(&mut bdev).await;
    let (st, b) = h.get(p::PATH_DEVICES, tokens_b["access_token"].as_str()).await;
    assert_eq!(st, 200);
    let devices = b["devices"].as_array().unwrap();
    assert_eq!(devices.len(), 2);
    assert_eq!(devices[0]["device_id"], bdev.id.as_str());
    assert_eq!(devices[0]["status"], "active");
    assert_eq!(devices[1]["status"], "replaced");
}

#[tokio::test]
async fn transfer_approval_marks_the_old_device_transferred() {
    let h = start().await;
    let mut a = Device::new();
    h.enroll(C8, &mut a).await;
    let tokens = h.login(&mut a).await;
    let access = tokens["access_token"].as_str().unwrap().to_string();

    let (_, b) = h.enroll_start(C8).await;
    let eid = b["enrollment_id"].as_str().unwrap().to_string();
    let otp = h.outbox.last_otp(&eid).unwrap();

    // Unknown enrollment → 404.
    let n = h.nonce(&a, Purpose::Transfer).await;
    let signed = a.sign(&h, Purpose::Transfer, &n, "not-an-enrollment");
    let (st, b) = h.post(p::PATH_TRANSFER_APPROVAL, json!({ "signed": signed }), Some(&access)).await;
    assert_eq!((st, b["code"].as_str()), (404, Some("unknown_enrollment")));
    // Login signature cannot approve a transfer.
    let n = h.nonce(&a, Purpose::Transfer).await;
    let signed = a.sign(&h, Purpose::Login, &n, &eid);
    let (st, b) = h.post(p::PATH_TRANSFER_APPROVAL, json!({ "signed": signed }), Some(&access)).await;
    assert_eq!((st, b["code"].as_str()), (400, Some("purpose_mismatch")));
    // No bearer → 401.
    let n = h.nonce(&a, Purpose::Transfer).await;
    let signed = a.sign(&h, Purpose::Transfer, &n, &eid);
    let (st, b) = h.post(p::PATH_TRANSFER_APPROVAL, json!({ "signed": signed }), None).await;
    assert_eq!((st, b["code"].as_str()), (401, Some("token_invalid")));

    let n = h.nonce(&a, Purpose::Transfer).await;
    let signed = a.sign(&h, Purpose::Transfer, &n, &eid);
    let (st, b) = h.post(p::PATH_TRANSFER_APPROVAL, json!({ "signed": signed }), Some(&access)).await;
    assert_eq!((st, b), (200, json!({"ok": true})));

    let mut bdev = Device::new();
    let (st, b) = h.enroll_complete(&eid, &otp, &mut bdev).await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["transfer_approved"], true);
    assert_eq!(b["replaced_device_id"], a.id.as_str());
    assert_eq!(h.server.device_status(&a.id).as_deref(), Some("transferred"));
    let (st, b) = h.challenge(&a, Purpose::Login).await;
    assert_eq!((st, b["device_status"].as_str()), (403, Some("transferred")));
}

/// A proof counter past `i64::MAX` is refused (400), never stored wrapped to a negative value
/// (which would read as "no counter used yet"): the device row stores the proof's counter as is,
/// relying on this check.
#[tokio::test]
async fn an_enrollment_counter_past_i64_max_is_refused_not_wrapped() {
    let h = start().await;
    let (st, b) = h.enroll_start(C1).await;
    assert_eq!(st, 200, "{b}");
    let eid = b["enrollment_id"].as_str().unwrap().to_string();
    let otp = h.outbox.last_otp(&eid).unwrap();
    let mut dev = Device::new();
    dev.counter = i64::MAX as u64; // the proof carries i64::MAX + 1
    let (st, b) = h.enroll_complete(&eid, &otp, &mut dev).await;
    assert_eq!((st, b["code"].as_str()), (400, Some("invalid_request")), "{b}");
    // The same enrollment then completes with an ordinary counter.
    let mut dev = Device::new();
    let (st, b) = h.enroll_complete(&eid, &otp, &mut dev).await;
    assert_eq!(st, 200, "{b}");
}
