//! Decision 48 (issue 15): the citizen's own remote lock of a lost phone without the phone (the
//! OTP or the chip; identifiers alone never lock), and re-binding an invalidated key with the
//! chip when there is no session. Attacks refused with their own codes; two uses at once.

use citizen_protocol::crypto::b64;
use citizen_protocol::protocol::chip::{aa_challenge, ChipEvidence};
use citizen_protocol::protocol::recovery::{
    rebind_subject, PATH_REBIND_COMPLETE, PATH_REBIND_START, PATH_REMOTE_LOCK_COMPLETE, PATH_REMOTE_LOCK_START,
};
use citizen_protocol::protocol::{self as p, Purpose};
use serde_json::{json, Value};
use software_cccd::CITIZENS;

use crate::chip::{evidence, read, setup, Chip};
use crate::common::*;

fn code(b: &Value) -> &str {
    b["code"].as_str().unwrap_or_default()
}

/// `POST /v1/lock/start` for `who`: (status, body).
async fn lock_start(h: &Harness, who: (&str, &str, &str)) -> (u16, Value) {
    h.post(PATH_REMOTE_LOCK_START, json!({"cccd": who.0, "date_of_birth": who.1, "phone": who.2}), None).await
}

/// A started lock request for `who`: (lock id, the OTP the registered phone received).
async fn lock_request(h: &Harness, who: (&str, &str, &str)) -> (String, String) {
    let (st, b) = lock_start(h, who).await;
    assert_eq!(st, 200, "{b}");
    let id = b["lock_id"].as_str().unwrap().to_string();
    let otp = h.outbox.last_otp(&id).unwrap();
    (id, otp)
}

async fn lock_complete(h: &Harness, lock_id: &str, otp: Option<&str>, ev: Option<&ChipEvidence>) -> (u16, Value) {
    h.post(PATH_REMOTE_LOCK_COMPLETE, json!({"lock_id": lock_id, "otp": otp, "evidence": ev}), None).await
}

fn wrong(otp: &str) -> String {
    if otp == "000000" { "111111" } else { "000000" }.to_string()
}

/// Identifiers alone (CCCD, date of birth, phone: all semi-public) never lock: without a proof,
/// with wrong OTPs, with identifiers that do not match, and past the throttle, the device stays
/// usable; the OTP sent to the registered phone locks it, once.
#[tokio::test]
async fn identifiers_alone_never_lock_and_the_otp_locks_once() {
    let h = start().await;
    let mut dev = Device::new();
    h.enroll(C4, &mut dev).await;
    h.login(&mut dev).await;

    // Identifiers that do not match the register: nothing is sent.
    let (st, b) = lock_start(&h, (C4.0, C4.1, C3.2)).await;
    assert_eq!((st, code(&b)), (404, "no_match"), "{b}");
    let (id, otp) = lock_request(&h, C4).await;
    // No proof: refused with its own code.
    let (st, b) = lock_complete(&h, &id, None, None).await;
    assert_eq!((st, code(&b)), (403, "lock.proof_required"), "{b}");
    // Guessing: bounded like every OTP; the request is then dead, even for the right code.
    for _ in 0..4 {
        let (st, b) = lock_complete(&h, &id, Some(&wrong(&otp)), None).await;
        assert_eq!((st, code(&b)), (401, "otp_invalid"), "{b}");
    }
    let (st, b) = lock_complete(&h, &id, Some(&wrong(&otp)), None).await;
    assert_eq!((st, code(&b)), (429, "otp_attempts_exceeded"), "{b}");
    let (st, b) = lock_complete(&h, &id, Some(&otp), None).await;
    assert_eq!((st, code(&b)), (429, "otp_attempts_exceeded"), "{b}");
    assert_eq!(h.server.device_status(&dev.id).as_deref(), Some("active"));
    h.login(&mut dev).await;

    // The right OTP locks the active device, recorded as the citizen's own lock.
    let (id, otp) = lock_request(&h, C4).await;
    let (st, b) = lock_complete(&h, &id, Some(&otp), None).await;
    assert_eq!(st, 200, "{b}");
    assert_eq!((b["device_id"].as_str(), b["method"].as_str()), (Some(dev.id.as_str()), Some("otp")));
    let (st, b) = h.challenge(&dev, Purpose::Login).await;
    assert_eq!((st, code(&b)), (403, "device_locked"), "{b}");
    assert_eq!(
        h.server.device_lock_records(&dev.id),
        vec![("lock".to_string(), "portal:otp".to_string(), "lost".to_string())]
    );
    // Replayed: refused with its own code; an unknown id too.
    let (st, b) = lock_complete(&h, &id, Some(&otp), None).await;
    assert_eq!((st, code(&b)), (409, "lock.replayed"), "{b}");
    let (st, b) = lock_complete(&h, "no-such-lock", Some(&otp), None).await;
    assert_eq!((st, code(&b)), (404, "lock.unknown"), "{b}");

    // Throttled per CCCD number (5 starts an hour, the mismatched one included): no SMS bombing.
    let mut last = (0, Value::Null);
    for _ in 0..3 {
        last = lock_start(&h, C4).await;
    }
    assert_eq!((last.0, code(&last.1)), (429, "rate_limited"), "{}", last.1);
}

/// With the SIM gone with the phone: the chip read over the lock id locks instead of the OTP;
/// a read for another nonce (an old read replayed) and another citizen's card do not.
#[tokio::test]
async fn the_chip_locks_without_the_otp_and_a_stale_read_does_not() {
    let c: Chip = setup().await;
    let h = &c.h;
    let mut card = c.card(&CITIZENS[0]);
    let (id, _) = lock_request(h, C1).await;
    let stale = evidence(&read(&mut card, &c.pki, aa_challenge("another nonce"), h.now()));
    let (st, b) = lock_complete(h, &id, None, Some(&stale)).await;
    assert_eq!((st, code(&b)), (422, "chip.not_genuine"), "{b}");
    let mut other = c.card(&CITIZENS[1]);
    let theirs = evidence(&read(&mut other, &c.pki, aa_challenge(&id), h.now()));
    let (st, b) = lock_complete(h, &id, None, Some(&theirs)).await;
    assert_eq!((st, code(&b)), (403, "chip.other_citizen"), "{b}");
    assert_eq!(h.server.device_status(&c.dev.id).as_deref(), Some("active"));
    let ev = evidence(&read(&mut card, &c.pki, aa_challenge(&id), h.now()));
    let (st, b) = lock_complete(h, &id, None, Some(&ev)).await;
    assert_eq!((st, b["method"].as_str()), (200, Some("chip")), "{b}");
    assert_eq!(h.server.device_lock_records(&c.dev.id)[0].1, "portal:chip");
    let (st, b) = h.get(p::PATH_DEVICES, Some(&c.token)).await;
    assert_eq!((st, code(&b)), (403, "device_locked"), "{b}");
}

/// One lock request completed twice at once: exactly one locks, the other is a replay.
#[tokio::test]
async fn one_lock_request_completed_twice_at_once_locks_once() {
    let h = start().await;
    let mut dev = Device::new();
    h.enroll(C4, &mut dev).await;
    let (id, otp) = lock_request(&h, C4).await;
    let (a, b) = tokio::join!(lock_complete(&h, &id, Some(&otp), None), lock_complete(&h, &id, Some(&otp), None));
    let mut outcomes = vec![(a.0, code(&a.1).to_string()), (b.0, code(&b.1).to_string())];
    outcomes.sort();
    assert_eq!(outcomes, vec![(200, String::new()), (409, "lock.replayed".to_string())]);
    assert_eq!(h.server.device_lock_records(&dev.id).len(), 1);
}

/// The new key of a re-binding (same device id, the device's counter).
fn new_key_for(dev: &Device) -> (Device, Vec<u8>) {
    let mut rotated = Device::new();
    rotated.id = dev.id.clone();
    rotated.counter = dev.counter;
    let key = rotated.key.verifying_key().to_encoded_point(false).as_bytes().to_vec();
    (rotated, key)
}

async fn rebind_start(h: &Harness, dev: &Device) -> (String, String) {
    let (st, b) = h.post(PATH_REBIND_START, json!({"device_id": dev.id}), None).await;
    assert_eq!(st, 200, "{b}");
    let rid = b["rebind_id"].as_str().unwrap().to_string();
    let otp = h.outbox.last_otp(&rid).unwrap();
    (rid, otp)
}

fn rebind_body(rid: &str, otp: &str, key: &[u8], proof: &p::SignedStatement, ev: Option<&ChipEvidence>) -> Value {
    json!({"rebind_id": rid, "otp": otp, "new_public_key": b64(key), "proof": proof, "evidence": ev})
}

/// Re-binding without a session (issue 15 item 4, decision 48): the OTP alone is refused
/// (`rebind.chip_required`), a card read for another nonce and a proof that does not bind the
/// read are refused, the chip + OTP rotate the key, and a replay is refused.
#[tokio::test]
async fn without_a_session_a_rebinding_needs_the_chip_and_is_spent_once() {
    let c = setup().await;
    let h = &c.h;
    let mut card = c.card(&CITIZENS[0]);
    let (rid, otp) = rebind_start(h, &c.dev).await;
    let (mut rotated, key) = new_key_for(&c.dev);

    // Attack: the OTP (a swapped SIM) without the chip and without a session.
    let plain = rotated.sign(h, Purpose::Rebind, &rid, &rebind_subject(&key, None));
    let (st, b) = h.post(PATH_REBIND_COMPLETE, rebind_body(&rid, &otp, &key, &plain, None), None).await;
    assert_eq!((st, code(&b)), (403, "rebind.chip_required"), "{b}");
    // A card read for another nonce: not this re-binding.
    let stale = evidence(&read(&mut card, &c.pki, aa_challenge("another nonce"), h.now()));
    let proof = rotated.sign(h, Purpose::Rebind, &rid, &rebind_subject(&key, Some(&stale)));
    let (st, b) = h.post(PATH_REBIND_COMPLETE, rebind_body(&rid, &otp, &key, &proof, Some(&stale)), None).await;
    assert_eq!((st, code(&b)), (422, "chip.not_genuine"), "{b}");
    // A proof that does not bind the card read.
    let ev = evidence(&read(&mut card, &c.pki, aa_challenge(&rid), h.now()));
    let (st, b) = h.post(PATH_REBIND_COMPLETE, rebind_body(&rid, &otp, &key, &plain, Some(&ev)), None).await;
    assert_eq!((st, code(&b)), (401, "rebind.proof_invalid"), "{b}");

    let proof = rotated.sign(h, Purpose::Rebind, &rid, &rebind_subject(&key, Some(&ev)));
    let (st, b) = h.post(PATH_REBIND_COMPLETE, rebind_body(&rid, &otp, &key, &proof, Some(&ev)), None).await;
    assert_eq!(st, 200, "{b}");
    // Replayed: spent.
    let (st, b) = h.post(PATH_REBIND_COMPLETE, rebind_body(&rid, &otp, &key, &proof, Some(&ev)), None).await;
    assert_eq!((st, code(&b)), (409, "recovery.replayed"), "{b}");
    // The new key logs in.
    rotated.counter += 20;
    h.login(&mut rotated).await;
    assert!(h.server.audit_events().iter().any(|e| e.event == "device_key_rotated" && e.outcome == "chip"));
}

/// One re-binding completed twice at once (the same request sent twice): exactly one rotates.
#[tokio::test]
async fn one_rebinding_completed_twice_at_once_rotates_once() {
    let c = setup().await;
    let h = &c.h;
    let mut card = c.card(&CITIZENS[0]);
    let (rid, otp) = rebind_start(h, &c.dev).await;
    let (mut rotated, key) = new_key_for(&c.dev);
    let ev = evidence(&read(&mut card, &c.pki, aa_challenge(&rid), h.now()));
    let proof = rotated.sign(h, Purpose::Rebind, &rid, &rebind_subject(&key, Some(&ev)));
    let body = rebind_body(&rid, &otp, &key, &proof, Some(&ev));
    let (a, b) = tokio::join!(
        h.post(PATH_REBIND_COMPLETE, body.clone(), None),
        h.post(PATH_REBIND_COMPLETE, body.clone(), None)
    );
    let mut outcomes = vec![(a.0, code(&a.1).to_string()), (b.0, code(&b.1).to_string())];
    outcomes.sort();
    assert_eq!(outcomes, vec![(200, String::new()), (409, "recovery.replayed".to_string())]);
    let rotations = h.server.audit_events().iter().filter(|e| e.event == "device_key_rotated").count();
    assert_eq!(rotations, 1);
}
