//! Losing, changing and re-binding the phone (issue 15): a remote lock by an official, recovery
//! on a new phone with a cancellable waiting period, and the attacks that must fail.

use citizen_protocol::protocol::{self as p, Purpose};
use serde_json::{json, Value};

use crate::common::*;

const OFFICIAL: &str = "x-official-token";

pub async fn official(h: &Harness, path: &str, body: Value) -> (u16, Value) {
    let resp = h
        .http
        .post(format!("{}{path}", h.server.base_url))
        .header(OFFICIAL, &h.server.official_token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let st = resp.status().as_u16();
    (st, resp.json().await.unwrap())
}

#[tokio::test]
async fn an_official_lock_refuses_the_device_with_its_own_code_until_unlocked() {
    let h = start().await;
    let mut dev = Device::new();
    let acc = h.enroll(C1, &mut dev).await;
    let t = h.login(&mut dev).await;
    let access = t["access_token"].as_str().unwrap().to_string();

    // Without the officials' token, or without the official's identity: refused.
    let resp = h
        .http
        .post(format!("{}/v1/official/devices/lock", h.server.base_url))
        .json(&json!({"cccd": C1.0, "locked": true, "official_id": "CA-HN-0042"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    let (st, _) =
        official(&h, "/v1/official/devices/lock", json!({"cccd": C1.0, "locked": true, "official_id": ""})).await;
    assert_eq!(st, 400);
    assert_eq!(h.get(p::PATH_DEVICES, Some(&access)).await.0, 200, "nothing locked yet");

    let (st, b) = official(
        &h,
        "/v1/official/devices/lock",
        json!({"cccd": C1.0, "locked": true, "official_id": "CA-HN-0042", "reason": "lost"}),
    )
    .await;
    assert_eq!(st, 200, "{b}");
    // The old session, a new challenge, a login signed with a nonce issued before: all refused.
    let (st, b) = h.get(p::PATH_DEVICES, Some(&access)).await;
    assert_eq!((st, b["code"].as_str(), b["device_status"].as_str()), (403, Some("device_locked"), Some("locked")));
    let (st, b) = h.challenge(&dev, Purpose::Login).await;
    assert_eq!((st, b["code"].as_str()), (403, Some("device_locked")));
    let (st, b) = h.post(p::PATH_DEVICE_STATUS, json!({"device_id": dev.id}), None).await;
    assert_eq!((st, b["status"].as_str()), (200, Some("locked")));
    // The account itself is not locked (that is another decision): the device is.
    assert_eq!(h.server.account_locked(&acc), Some(false));
    assert_eq!(
        h.server.device_lock_records(&dev.id),
        vec![("lock".to_string(), "official:CA-HN-0042".to_string(), "lost".to_string())]
    );
    assert!(h
        .server
        .audit_events()
        .iter()
        .any(|e| e.event == "device_locked" && e.device_id.as_deref() == Some(&dev.id)));

    // Unlocked at the counter: the device logs in again (the old session stays ended).
    let (st, _) =
        official(&h, "/v1/official/devices/lock", json!({"cccd": C1.0, "locked": false, "official_id": "CA-HN-0007"}))
            .await;
    assert_eq!(st, 200);
    assert_eq!(h.get(p::PATH_DEVICES, Some(&access)).await.0, 401);
    let (st, b) = h.post(p::PATH_DEVICE_STATUS, json!({"device_id": dev.id}), None).await;
    assert_eq!((st, b["status"].as_str()), (200, Some("active")));
    h.login(&mut dev).await;
    assert_eq!(h.server.device_lock_records(&dev.id).len(), 2);
    // A citizen without an account: nothing to lock.
    let (st, b) =
        official(&h, "/v1/official/devices/lock", json!({"cccd": C4.0, "locked": true, "official_id": "CA-HN-0042"}))
            .await;
    assert_eq!((st, b["code"].as_str()), (404, Some("no_match")));
}

use citizen_protocol::protocol::chip::aa_challenge;
use citizen_protocol::protocol::recovery::{cancel_subject, start_subject, COMPLETE_SUBJECT};
use software_cccd::CITIZENS;

use crate::chip::{evidence, read, setup, Chip};

fn code(b: &Value) -> &str {
    b["code"].as_str().unwrap_or_default()
}

/// A level-2 account: C1 enrolled on `c.dev`, raised to level 2 with the software card.
async fn level2() -> Chip {
    let mut c = setup().await;
    let mut card = c.card(&CITIZENS[0]);
    let (nonce, ev) = c.read_for_upgrade(&mut card, &c.pki.clone()).await;
    let (st, b) = c.upload(&nonce, &ev).await;
    assert_eq!(st, 200, "{b}");
    c
}

/// Start an enrollment for `who` on a new phone: (enrollment id, OTP).
async fn new_phone_enrollment(h: &Harness, who: (&str, &str, &str)) -> (String, String) {
    let (st, b) = h.enroll_start(who).await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["has_active_device"], true);
    let eid = b["enrollment_id"].as_str().unwrap().to_string();
    let otp = h.outbox.last_otp(&eid).unwrap();
    (eid, otp)
}

/// The new phone's recovery start, with or without a chip read for this enrollment.
async fn recovery_start(
    h: &Harness,
    new: &mut Device,
    eid: &str,
    otp: &str,
    ev: Option<&citizen_protocol::protocol::chip::ChipEvidence>,
) -> (u16, Value) {
    let bookkeeping = Device::new();
    let bk = bookkeeping.key.verifying_key().to_encoded_point(false);
    let proof = new.sign(h, Purpose::Recovery, eid, &start_subject(ev, bk.as_bytes()));
    let body = json!({"enrollment_id": eid, "otp": otp, "device": new.registration(), "proof": proof, "evidence": ev});
    h.post(p::recovery::PATH_RECOVERY_START, body, None).await
}

async fn recovery_complete(h: &Harness, new: &mut Device, recovery_id: &str) -> (u16, Value) {
    let signed = new.sign(h, Purpose::Recovery, recovery_id, COMPLETE_SUBJECT);
    h.post(p::recovery::PATH_RECOVERY_COMPLETE, json!({"recovery_id": recovery_id, "signed": signed}), None).await
}

/// The old device's cancel statement (fresh challenge nonce), signed by `signer`'s key under
/// `old`'s device id.
async fn cancel_statement(h: &Harness, old: &mut Device, recovery_id: &str) -> p::SignedStatement {
    let nonce = h.nonce(old, Purpose::RecoveryCancel).await;
    old.sign(h, Purpose::RecoveryCancel, &nonce, &cancel_subject(recovery_id))
}

/// Issue 15's attacks and the two endings of a level-2 recovery: cancelled by the old phone,
/// then completed after the waiting period.
#[tokio::test]
async fn a_level2_recovery_needs_the_chip_waits_and_is_cancelled_once_and_completed_once() {
    let mut c = level2().await;
    let h = &c.h;
    let mut new = Device::new();
    let (eid, otp) = new_phone_enrollment(h, C1).await;

    // Attack: someone with the OTP but no chip. Neither a plain enrollment nor a recovery
    // without the chip replaces the level-2 account's device.
    let (st, b) = h.enroll_complete(&eid, &otp, &mut new).await;
    assert_eq!((st, code(&b)), (403, "recovery.chip_required"), "{b}");
    let (st, b) = recovery_start(h, &mut new, &eid, &otp, None).await;
    assert_eq!((st, code(&b)), (403, "recovery.chip_required"), "{b}");
    assert_eq!(h.server.device_status(&c.dev.id).as_deref(), Some("active"));

    // With the chip (active authentication over the enrollment id): waiting for 24 h.
    let mut card = c.card(&CITIZENS[0]);
    let ev = evidence(&read(&mut card, &c.pki, aa_challenge(&eid), h.now()));
    // A card read for another challenge (an old read replayed) does not start it.
    let stale = evidence(&read(&mut card, &c.pki, aa_challenge("another nonce"), h.now()));
    let (st, b) = recovery_start(h, &mut new, &eid, &otp, Some(&stale)).await;
    assert_eq!((st, code(&b)), (422, "chip.not_genuine"), "{b}");
    // The test clock is the system time plus an offset: a second may pass during the request.
    let before = h.now();
    let (st, b) = recovery_start(h, &mut new, &eid, &otp, Some(&ev)).await;
    assert_eq!(st, 200, "{b}");
    assert_eq!((b["method"].as_str(), b["old_device_id"].as_str()), (Some("chip"), Some(c.dev.id.as_str())));
    let ready_at = b["ready_at"].as_i64().expect("ready_at");
    assert!((before + 24 * 3600..=h.now() + 24 * 3600).contains(&ready_at), "ready_at {ready_at}");
    let rid = b["recovery_id"].as_str().unwrap().to_string();
    // Attack: the same start replayed.
    let (st, b) = recovery_start(h, &mut new, &eid, &otp, Some(&ev)).await;
    assert_eq!((st, code(&b)), (409, "recovery.replayed"), "{b}");
    // Attack: completed before the waiting period.
    let (st, b) = recovery_complete(h, &mut new, &rid).await;
    assert_eq!((st, code(&b)), (409, "recovery.waiting"), "{b}");

    // The old phone's next contact carries the signed notice.
    let (st, b) = h.challenge(&c.dev, Purpose::Login).await;
    assert_eq!(st, 200);
    let notice = b["recovery_notice"].as_str().expect("notice with the challenge");
    let claims: Value =
        serde_json::from_slice(&citizen_protocol::crypto::unb64(notice.split('.').nth(1).unwrap()).unwrap()).unwrap();
    assert_eq!(
        (claims["recovery_id"].as_str(), claims["device_id"].as_str()),
        (Some(rid.as_str()), Some(c.dev.id.as_str()))
    );

    // Attack: a cancel forged without the old key (the old id, another key).
    let mut forger = Device::new();
    forger.id = c.dev.id.clone();
    forger.counter = 1000;
    let forged = cancel_statement(h, &mut forger, &rid).await;
    let (st, b) = h.post(p::recovery::PATH_RECOVERY_CANCEL, json!({"signed": forged}), None).await;
    assert_eq!((st, code(&b)), (401, "recovery.cancel_invalid"), "{b}");
    // The old phone cancels; the same statement replayed is refused.
    let genuine = cancel_statement(h, &mut c.dev, &rid).await;
    let (st, b) = h.post(p::recovery::PATH_RECOVERY_CANCEL, json!({"signed": genuine}), None).await;
    assert_eq!(st, 200, "{b}");
    let (st, b) = h.post(p::recovery::PATH_RECOVERY_CANCEL, json!({"signed": genuine}), None).await;
    assert_eq!((st, code(&b)), (409, "recovery.replayed"), "{b}");
    h.clock.advance(24 * 3600 + 1);
    let (st, b) = recovery_complete(h, &mut new, &rid).await;
    assert_eq!((st, code(&b)), (409, "recovery.cancelled"), "{b}");
    h.login(&mut c.dev).await;

    // Again, and this time nobody cancels: completed after the wait.
    let mut new2 = Device::new();
    let (eid, otp) = new_phone_enrollment(h, C1).await;
    let ev = evidence(&read(&mut card, &c.pki, aa_challenge(&eid), h.now()));
    let (st, b) = recovery_start(h, &mut new2, &eid, &otp, Some(&ev)).await;
    assert_eq!(st, 200, "{b}");
    let rid2 = b["recovery_id"].as_str().unwrap().to_string();
    let (st, b) = h.post(p::PATH_DEVICE_STATUS, json!({"device_id": c.dev.id}), None).await;
    assert_eq!((st, b["status"].as_str()), (200, Some("active")));
    assert!(b["recovery_notice"].is_string());
    h.clock.advance(24 * 3600);
    let (st, b) = recovery_complete(h, &mut new2, &rid2).await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["replaced_device_id"].as_str(), Some(c.dev.id.as_str()));
    // Replayed completion.
    let (st, b) = recovery_complete(h, &mut new2, &rid2).await;
    assert_eq!((st, code(&b)), (409, "recovery.replayed"), "{b}");
    // The old phone learns why; the new one logs in.
    let (st, b) = h.post(p::PATH_DEVICE_STATUS, json!({"device_id": c.dev.id}), None).await;
    assert_eq!((st, b["status"].as_str()), (200, Some("recovered")));
    let (st, b) = h.challenge(&c.dev, Purpose::Login).await;
    assert_eq!((st, code(&b)), (403, "device_inactive"));
    h.login(&mut new2).await;
    let events: Vec<String> =
        h.server.audit_events().into_iter().map(|e| format!("{}:{}", e.event, e.outcome)).collect();
    for want in [
        "recovery_started:chip",
        "recovery_notice:ok",
        "recovery_cancelled:old_device",
        "recovery_completed:chip",
        "device_recovered:ok",
    ] {
        assert!(events.iter().any(|e| e == want), "{want} not audited: {events:?}");
    }
}

/// A level-1 account has no chip proof: its recovery needs an official at a counter, who can
/// also cancel it.
#[tokio::test]
async fn a_level1_recovery_needs_the_counter_and_an_official_can_cancel_it() {
    let h = start().await;
    let mut old = Device::new();
    h.enroll(C2, &mut old).await;
    let mut new = Device::new();
    let (eid, otp) = new_phone_enrollment(&h, C2).await;
    let (st, b) = recovery_start(&h, &mut new, &eid, &otp, None).await;
    assert_eq!((st, code(&b)), (403, "recovery.counter_required"), "{b}");
    let (st, _) = official(
        &h,
        p::recovery::PATH_OFFICIAL_RECOVERY_APPROVE,
        json!({"cccd": C2.0, "official_id": "", "enrollment_id": eid}),
    )
    .await;
    assert_eq!(st, 400, "the official's identity is required");
    let (st, b) = official(
        &h,
        p::recovery::PATH_OFFICIAL_RECOVERY_APPROVE,
        json!({"cccd": C2.0, "official_id": "CA-HCM-0101", "enrollment_id": eid}),
    )
    .await;
    assert_eq!(st, 200, "{b}");
    let (st, b) = recovery_start(&h, &mut new, &eid, &otp, None).await;
    assert_eq!((st, b["method"].as_str()), (200, Some("counter")), "{b}");
    let rid = b["recovery_id"].as_str().unwrap().to_string();
    let (st, b) =
        official(&h, p::recovery::PATH_OFFICIAL_RECOVERY_CANCEL, json!({"cccd": C2.0, "official_id": "CA-HCM-0102"}))
            .await;
    assert_eq!(st, 200, "{b}");
    h.clock.advance(24 * 3600 + 1);
    let (st, b) = recovery_complete(&h, &mut new, &rid).await;
    assert_eq!((st, code(&b)), (409, "recovery.cancelled"), "{b}");
    assert_eq!(h.server.device_status(&old.id).as_deref(), Some("active"));
    let events: Vec<String> =
        h.server.audit_events().into_iter().map(|e| format!("{}:{}", e.event, e.outcome)).collect();
    for want in [
        "recovery_approved:official:CA-HCM-0101",
        "recovery_started:counter",
        "recovery_cancelled:official:CA-HCM-0102",
    ] {
        assert!(events.iter().any(|e| e == want), "{want} not audited: {events:?}");
    }
}

/// The device change with the old phone side by side (issue 15, item 4): the old phone's
/// approval bound to the new phone's QR code counts only when the enrollment brings the code's
/// secret (shown only on that screen); no waiting period.
#[tokio::test]
async fn a_transfer_approval_bound_to_the_qr_code_counts_only_with_its_secret() {
    use citizen_protocol::protocol::recovery::transfer_subject;
    let h = start().await;
    let mut old = Device::new();
    h.enroll(C3, &mut old).await;
    let access = h.login(&mut old).await["access_token"].as_str().unwrap().to_string();
    let approve = |eid: String, secret: &'static str, dev: &mut Device, nonce: String| {
        let signed = dev.sign(&h, Purpose::Transfer, &nonce, &transfer_subject(&eid, secret));
        json!({ "signed": signed })
    };
    let complete = |eid: &str, otp: &str, dev: &mut Device, secret: &str| {
        let proof = dev.sign(&h, Purpose::Enroll, eid, "");
        json!({"enrollment_id": eid, "otp": otp, "device": dev.registration(), "proof": proof, "transfer_secret": secret})
    };

    // Approved for the code, completed with another secret: not a transfer.
    let (eid, otp) = new_phone_enrollment(&h, C3).await;
    let n = h.nonce(&old, Purpose::Transfer).await;
    let (st, b) =
        h.post(p::PATH_TRANSFER_APPROVAL, approve(eid.clone(), "the-secret", &mut old, n), Some(&access)).await;
    assert_eq!(st, 200, "{b}");
    let mut stranger = Device::new();
    let (st, b) = h.post(p::PATH_ENROLL_COMPLETE, complete(&eid, &otp, &mut stranger, "guessed"), None).await;
    assert_eq!((st, b["transfer_approved"].as_bool()), (200, Some(false)), "{b}");

    // Approved by the (now) active phone and completed with the code's secret: a transfer.
    let access = h.login(&mut stranger).await["access_token"].as_str().unwrap().to_string();
    let (eid, otp) = new_phone_enrollment(&h, C3).await;
    let n = h.nonce(&stranger, Purpose::Transfer).await;
    let (st, _) =
        h.post(p::PATH_TRANSFER_APPROVAL, approve(eid.clone(), "the-secret", &mut stranger, n), Some(&access)).await;
    assert_eq!(st, 200);
    let mut next = Device::new();
    let (st, b) = h.post(p::PATH_ENROLL_COMPLETE, complete(&eid, &otp, &mut next, "the-secret"), None).await;
    assert_eq!((st, b["transfer_approved"].as_bool()), (200, Some(true)), "{b}");
    assert_eq!(h.server.device_status(&stranger.id).as_deref(), Some("transferred"));
    assert!(h.server.audit_events().iter().any(|e| e.event == "transfer_approved" && e.outcome == "proximity"));
}

/// Re-binding after key invalidation (issue 15, item 3), server side: session + OTP + the new
/// key's proof rotate the device key; the old key no longer logs in, the new one does; a proof
/// by another key and a replay are refused with their own codes.
#[tokio::test]
async fn a_rebinding_rotates_the_device_key_with_session_otp_and_the_new_keys_proof() {
    use citizen_protocol::protocol::recovery::rebind_subject;
    let h = start().await;
    let mut dev = Device::new();
    h.enroll(C4, &mut dev).await;
    let access = h.login(&mut dev).await["access_token"].as_str().unwrap().to_string();
    let (st, b) = h.post(p::recovery::PATH_REBIND_START, json!({"device_id": dev.id}), None).await;
    assert_eq!(st, 200, "{b}");
    let rid = b["rebind_id"].as_str().unwrap().to_string();
    let otp = h.outbox.last_otp(&rid).unwrap();
    let mut rotated = Device::new();
    rotated.id = dev.id.clone();
    rotated.counter = dev.counter;
    let new_key = rotated.key.verifying_key().to_encoded_point(false).as_bytes().to_vec();
    let body = |proof: p::SignedStatement| json!({"rebind_id": rid, "otp": otp, "new_public_key": citizen_protocol::crypto::b64(&new_key), "proof": proof});
    // A proof signed by another key than the one registered: refused.
    let mut other = Device::new();
    other.id = dev.id.clone();
    other.counter = dev.counter;
    let forged = other.sign(&h, Purpose::Rebind, &rid, &rebind_subject(&new_key, None));
    let (st, b) = h.post(p::recovery::PATH_REBIND_COMPLETE, body(forged), Some(&access)).await;
    assert_eq!((st, code(&b)), (401, "rebind.proof_invalid"), "{b}");
    let proof = rotated.sign(&h, Purpose::Rebind, &rid, &rebind_subject(&new_key, None));
    let (st, b) = h.post(p::recovery::PATH_REBIND_COMPLETE, body(proof.clone()), Some(&access)).await;
    assert_eq!(st, 200, "{b}");
    let (st, b) = h.post(p::recovery::PATH_REBIND_COMPLETE, body(proof), Some(&access)).await;
    assert_eq!((st, code(&b)), (409, "recovery.replayed"), "{b}");
    // The old key no longer logs in; the new one does.
    let n = h.nonce(&dev, Purpose::Login).await;
    dev.counter = rotated.counter + 10;
    let s = dev.sign(&h, Purpose::Login, &n, "");
    let (st, b) = h.login_signed(&s).await;
    assert_eq!((st, code(&b)), (401, "signature_invalid"), "{b}");
    rotated.counter += 20;
    h.login(&mut rotated).await;
    assert!(h.server.audit_events().iter().any(|e| e.event == "device_key_rotated"));
}

/// Two recoveries started at once for one account (two new phones): exactly one waits, the
/// other is refused with `recovery.in_progress` — never two waiting, never none.
#[tokio::test]
async fn two_recoveries_started_at_once_leave_exactly_one_waiting() {
    let c = level2().await;
    let h = &c.h;
    let mut card = c.card(&CITIZENS[0]);
    let (mut a, mut b) = (Device::new(), Device::new());
    let (ea, oa) = new_phone_enrollment(h, C1).await;
    let (eb, ob) = new_phone_enrollment(h, C1).await;
    let eva = evidence(&read(&mut card, &c.pki, aa_challenge(&ea), h.now()));
    let evb = evidence(&read(&mut card, &c.pki, aa_challenge(&eb), h.now()));
    let (ra, rb) =
        tokio::join!(recovery_start(h, &mut a, &ea, &oa, Some(&eva)), recovery_start(h, &mut b, &eb, &ob, Some(&evb)));
    let mut outcomes = vec![(ra.0, code(&ra.1).to_string()), (rb.0, code(&rb.1).to_string())];
    outcomes.sort();
    assert_eq!(outcomes, vec![(200, String::new()), (409, "recovery.in_progress".to_string())]);
}
