//! The bookkeeping key (issue 11, decision 26): a second device key without user
//! authentication, registered by a statement the device key signs (enrollment proof or login),
//! accepted for activity anchors ONLY, with its own anti-replay counter. Every other purpose
//! signed with it is refused (`signature_invalid`).

use citizen_protocol::activity::PATH_ANCHOR;
use citizen_protocol::protocol::{self as p, codes, Purpose, SignedStatement};
use p256::ecdsa::SigningKey;
use serde_json::{json, Value};

use crate::common::{start, Device, Harness, C1, C3};

fn new_key() -> SigningKey {
    SigningKey::from_slice(&citizen_protocol::crypto::random_array::<32>()).unwrap()
}

fn sec1(k: &SigningKey) -> Vec<u8> {
    k.verifying_key().to_encoded_point(false).as_bytes().to_vec()
}

/// The device `dev` signing with `key` instead of its device key (same id and counter).
fn signing_with(dev: &Device, key: &SigningKey) -> Device {
    Device { id: dev.id.clone(), key: key.clone(), counter: dev.counter }
}

/// Enroll `c` on `dev`, the proof's subject registering `subject`; returns (status, body).
async fn enroll_with_subject(h: &Harness, c: (&str, &str, &str), dev: &mut Device, subject: &str) -> (u16, Value) {
    let (st, b) = h.enroll_start(c).await;
    assert_eq!(st, 200, "{b}");
    let eid = b["enrollment_id"].as_str().unwrap().to_string();
    let otp = h.outbox.last_otp(&eid).unwrap();
    let proof = dev.sign(h, Purpose::Enroll, &eid, subject);
    h.enroll_complete_with(&eid, &otp, dev, proof).await
}

/// Anchor head `seq` (a made-up hash) with a statement signed by `signer` at `counter`.
async fn anchor(h: &Harness, signer: &mut Device, seq: u64, counter: u64) -> (u16, Value) {
    let hash = format!("{seq:064x}");
    signer.counter = counter - 1;
    let signed = signer.sign(h, Purpose::Activity, &hash, &format!("anchor:{seq}"));
    h.post(PATH_ANCHOR, json!({ "seq": seq, "hash": hash, "signed": signed }), None).await
}

fn refused_as_bad_signature(what: &str, (st, b): (u16, Value)) {
    assert_eq!((st, b["code"].as_str()), (401, Some(codes::SIGNATURE_INVALID)), "{what}: {b}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_bookkeeping_key_anchors_and_nothing_else() {
    let h = start().await;
    let (mut dev, bk) = (Device::new(), new_key());
    let (st, b) = enroll_with_subject(&h, C1, &mut dev, &p::bookkeeping_subject(&sec1(&bk))).await;
    assert_eq!(st, 200, "{b}");
    let token = h.login(&mut dev).await["access_token"].as_str().unwrap().to_string();
    let mut book = signing_with(&dev, &bk);

    // Anchors: yes, on the bookkeeping key's own counter. A counter far ahead of the device
    // key's does not push the device key's window: its next login still works.
    assert_eq!(anchor(&h, &mut book, 1, 1_000_000).await.0, 200);
    let (st, b) = anchor(&h, &mut book, 2, 1_000_000).await;
    assert_eq!((st, b["code"].as_str()), (401, Some(codes::COUNTER_REPLAY)), "{b}");
    h.login(&mut dev).await;

    // Login.
    let nonce = h.nonce(&dev, Purpose::Login).await;
    let signed = signing_with(&dev, &bk).sign(&h, Purpose::Login, &nonce, "");
    refused_as_bad_signature("login", h.login_signed(&signed).await);
    // Device management: revoke, approve a transfer.
    let nonce = h.nonce(&dev, Purpose::RevokeDevice).await;
    let signed = signing_with(&dev, &bk).sign(&h, Purpose::RevokeDevice, &nonce, &dev.id);
    refused_as_bad_signature("revoke", h.post(p::PATH_DEVICE_REVOKE, json!({ "signed": signed }), Some(&token)).await);
    let nonce = h.nonce(&dev, Purpose::Transfer).await;
    let signed = signing_with(&dev, &bk).sign(&h, Purpose::Transfer, &nonce, "enrollment-x");
    refused_as_bad_signature(
        "transfer",
        h.post(p::PATH_TRANSFER_APPROVAL, json!({ "signed": signed }), Some(&token)).await,
    );
    // The credential.
    let nonce = h.nonce(&dev, Purpose::Credential).await;
    let subject = format!("pid:{}", p::sha256_hex(&sec1(&dev.key)));
    let signed = signing_with(&dev, &bk).sign(&h, Purpose::Credential, &nonce, &subject);
    refused_as_bad_signature(
        "credential",
        h.post(citizen_protocol::protocol::rp::PATH_CREDENTIAL, json!({ "signed": signed }), Some(&token)).await,
    );
    // Passcode reset.
    let (st, b) = h.post(p::PATH_RESET_START, json!({ "device_id": dev.id }), None).await;
    assert_eq!(st, 200, "{b}");
    let reset_id = b["reset_id"].as_str().unwrap().to_string();
    let otp = h.outbox.last_otp(&reset_id).unwrap();
    let signed = signing_with(&dev, &bk).sign(&h, Purpose::PasscodeReset, &reset_id, "");
    refused_as_bad_signature(
        "passcode reset",
        h.post(p::PATH_RESET_COMPLETE, json!({ "reset_id": reset_id, "otp": otp, "signed": signed }), None).await,
    );
    // Consent and submissions: see `qr::an_approval_signed_by_the_bookkeeping_key_is_refused`
    // and `services::a_submission_signed_by_the_bookkeeping_key_is_refused`.

    // The device is untouched by all that: still active, its key still logs in.
    h.login(&mut dev).await;
}

/// The enrollment proof signed by the bookkeeping key (for the device key's registration) fails.
#[tokio::test(flavor = "multi_thread")]
async fn an_enrollment_proof_by_the_bookkeeping_key_is_refused() {
    let h = start().await;
    let (dev, bk) = (Device::new(), new_key());
    let (st, b) = h.enroll_start(C3).await;
    assert_eq!(st, 200, "{b}");
    let eid = b["enrollment_id"].as_str().unwrap().to_string();
    let otp = h.outbox.last_otp(&eid).unwrap();
    let proof: SignedStatement =
        signing_with(&dev, &bk).sign(&h, Purpose::Enroll, &eid, &p::bookkeeping_subject(&sec1(&bk)));
    refused_as_bad_signature("enroll", h.enroll_complete_with(&eid, &otp, &dev, proof).await);
    // A subject that is no bookkeeping-key registration is refused outright.
    let mut dev = Device::new();
    let (st, b) = enroll_with_subject(&h, C3, &mut dev, "bookkeeping_key:not-a-key").await;
    assert_eq!(st, 400, "{b}");
}

/// A device enrolled before bookkeeping keys has none: its anchors need the device key until a
/// login (signed by the device key) registers one.
#[tokio::test(flavor = "multi_thread")]
async fn a_device_without_a_bookkeeping_key_registers_one_with_a_login() {
    let h = start().await;
    let (mut dev, bk) = (Device::new(), new_key());
    let (st, b) = enroll_with_subject(&h, C1, &mut dev, "").await;
    assert_eq!(st, 200, "{b}");
    let mut book = signing_with(&dev, &bk);
    refused_as_bad_signature("anchor before registration", anchor(&h, &mut book, 1, 10).await);

    // A malformed registration (signed by the device key) is refused: no session.
    let nonce = h.nonce(&dev, Purpose::Login).await;
    let signed = dev.sign(&h, Purpose::Login, &nonce, "bookkeeping_key:AAAA");
    assert_eq!(h.login_signed(&signed).await.0, 400);
    // Signed by the bookkeeping key itself: refused (only the device key may register it).
    let nonce = h.nonce(&dev, Purpose::Login).await;
    let signed = signing_with(&dev, &bk).sign(&h, Purpose::Login, &nonce, &p::bookkeeping_subject(&sec1(&bk)));
    refused_as_bad_signature("self-registration", h.login_signed(&signed).await);
    refused_as_bad_signature("anchor after self-registration", anchor(&h, &mut book, 1, 11).await);

    let nonce = h.nonce(&dev, Purpose::Login).await;
    let signed = dev.sign(&h, Purpose::Login, &nonce, &p::bookkeeping_subject(&sec1(&bk)));
    let (st, b) = h.login_signed(&signed).await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(anchor(&h, &mut book, 1, 12).await.0, 200);
    // The device key may still anchor (devices that never registered one keep working).
    let mut dev2 = signing_with(&dev, &dev.key);
    assert_eq!(anchor(&h, &mut dev2, 2, dev.counter + 100).await.0, 200);
}
