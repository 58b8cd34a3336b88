//! Issue 11 item 3 (decision 26): bookkeeping signatures — activity-log entries and anchors —
//! use the bookkeeping key (no user authentication) and never prompt; a failed append waits and
//! is retried, never dropped; an account enrolled before bookkeeping keys registers one with its
//! next login and keeps its entries waiting until then.

use citizen_core::activity::ActivityKind;
use citizen_core::platform::software::MemoryKeyStore;
use citizen_core::platform::SignPurpose;
use citizen_core::{verify_activity_log_export, EnrollmentInput, KeyOptions};
use citizen_server::testing::CITIZEN_1;

use crate::env::{submit_residence, Device, Env, PASS};

/// The device key as a phone creates it: every use needs the citizen (a prompt).
fn user_auth() -> KeyOptions {
    KeyOptions { require_user_authentication: true, prefer_strongbox: true, attestation_challenge: vec![] }
}

/// Enroll `d` as CITIZEN_1 with a user-authentication key, log in, fetch the catalogue and
/// the citizen's record (no signatures).
async fn enroll_phone(env: &Env, d: &Device) {
    let who = CITIZEN_1;
    let t = d
        .core
        .account()
        .start_enrollment(EnrollmentInput { cccd: who.0.into(), date_of_birth: who.1.into(), phone: who.2.into() })
        .await
        .unwrap();
    let otp = env.otp.last_otp(&t.enrollment_id).unwrap();
    d.core.account().complete_enrollment(otp, PASS.into(), user_auth()).await.unwrap();
    d.core.account().login(PASS.into()).await.unwrap();
    d.core.services().refresh_catalogue().await.unwrap();
    d.core.services().refresh_profile().await.unwrap();
}

/// The purposes of the prompts shown so far: signatures with a user-authentication key.
fn bookkeeping_alias_used(keys: &MemoryKeyStore) -> bool {
    keys.sign_requests().iter().any(|(alias, _)| alias.ends_with(".bookkeeping"))
}

async fn server_jwk(env: &Env) -> String {
    let keys: citizen_core::protocol::services::KeysResponse =
        env.net().get(citizen_core::protocol::services::PATH_KEYS, None).await.unwrap();
    keys.keys[0].to_string()
}

/// The "done when": a submit and a background sync (delivery, case sync, anchoring)
/// cause exactly one prompt, the submit's. Before decision 26 every log entry and every anchor
/// was signed with the device key: enrollment + login made 4 prompts instead of 2, and this
/// submit + sync 4 instead of 1 (submit, its entry, the delivery entry, the anchor).
#[tokio::test(flavor = "multi_thread")]
async fn a_submit_and_a_background_sync_prompt_exactly_once() {
    let env = Env::new().await;
    let d = env.device("phone");
    enroll_phone(&env, &d).await;
    assert_eq!(d.keys.prompt_count(), 2, "enrollment proof and login only");

    let before = d.keys.prompt_count();
    let item = submit_residence(&d.core, env.clock.as_ref()).await;
    let r = d.core.services().sync_outbox().await.unwrap();
    assert!(r.remaining == 0, "{r:?}");
    d.core.services().sync_cases().await.unwrap();
    assert!(d
        .core
        .services()
        .list_outbox()
        .await
        .unwrap()
        .iter()
        .any(|o| o.submission_id == item.submission_id && o.case_number.is_some()));
    assert_eq!(d.keys.prompt_count() - before, 1, "the submit's prompt only");

    // The bookkeeping happened, silently, with the bookkeeping key.
    let kinds: Vec<ActivityKind> = d.core.activity().list_entries().await.unwrap().iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [ActivityKind::Enrollment, ActivityKind::Login, ActivityKind::Submission, ActivityKind::SubmissionDelivered]
    );
    let requests = d.keys.sign_requests();
    for (alias, req) in &requests {
        let bookkeeping = matches!(req.purpose, SignPurpose::ActivityEntry | SignPurpose::ActivityAnchor);
        assert_eq!(alias.ends_with(".bookkeeping"), bookkeeping, "{alias} signed {req:?}");
        assert_eq!(req.user_initiated, !bookkeeping, "{req:?}");
    }
    assert_eq!(requests.iter().filter(|(_, r)| r.purpose == SignPurpose::ActivityAnchor).count(), 1);
    assert_eq!(requests.iter().filter(|(_, r)| r.purpose == SignPurpose::Submit).count(), 1);

    // The log, its anchor and its export verify, with the bookkeeping key vouched for by the
    // device key.
    let r = d.core.activity().verify().await.unwrap();
    assert!(r.intact && r.entries == 4 && r.anchors == 1, "{r:?}");
    let json = d.core.activity().export().await.unwrap();
    let pinned = server_jwk(&env).await;
    let r = verify_activity_log_export(json.clone(), pinned.clone()).unwrap();
    assert!(r.intact && r.anchored_seq == 4, "{r:?}");
    // Without the endorsed key the bookkeeping key's entries do not count.
    let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
    v.as_object_mut().unwrap().remove("bookkeeping_keys");
    let r = verify_activity_log_export(v.to_string(), pinned.clone()).unwrap();
    assert_eq!(r.problems.len(), 4, "{r:?}");
    // Nor with another key under that endorsement.
    let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
    v["bookkeeping_keys"][0]["public_key"] = v["device_public_key"].clone();
    assert!(!verify_activity_log_export(v.to_string(), pinned).unwrap().intact);
}

/// The key store loses the bookkeeping key (invalidated, deleted): entries wait (no prompt, not
/// dropped), the next login registers a new key, and the log — signed by both keys — verifies,
/// on the device and as an export.
#[tokio::test(flavor = "multi_thread")]
async fn a_lost_bookkeeping_key_is_replaced_at_the_next_login() {
    let env = Env::new().await;
    let d = env.device("phone");
    enroll_phone(&env, &d).await;
    let old = d.keys.aliases().into_iter().find(|a| a.ends_with(".bookkeeping")).unwrap();
    d.keys.invalidate(&old);
    let prompts = d.keys.prompt_count();
    d.core.account().change_passcode(PASS.into(), "739201".into()).await.unwrap();
    // Found lost when the entry was to be signed: recorded, so anchoring waits too.
    assert!(d.core.activity().anchor().await.unwrap().is_none(), "the lost key cannot anchor");
    assert_eq!(d.core.activity().list_entries().await.unwrap().len(), 2, "the entry waits");

    d.core.account().login("739201".into()).await.unwrap();
    assert_eq!(d.keys.prompt_count(), prompts + 1, "the login's prompt only");
    let kinds: Vec<ActivityKind> = d.core.activity().list_entries().await.unwrap().iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [ActivityKind::Enrollment, ActivityKind::Login, ActivityKind::PasscodeChange, ActivityKind::Login]
    );
    assert_eq!(d.core.activity().anchor().await.unwrap().expect("anchored").seq, 4);
    assert!(d.core.activity().verify().await.unwrap().intact);
    let json = d.core.activity().export().await.unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["bookkeeping_keys"].as_array().unwrap().len(), 2, "the old and the new key");
    let r = verify_activity_log_export(json, server_jwk(&env).await).unwrap();
    assert!(r.intact, "{r:?}");
}

/// A bookkeeping signature that fails (busy hardware) leaves the entry waiting; the next
/// bookkeeping occasion signs and appends it, in order. Before, the entry was dropped.
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_bookkeeping_append_is_retried_not_dropped() {
    let env = Env::new().await;
    let d = env.device("phone");
    enroll_phone(&env, &d).await;
    let bookkeeping = d.keys.aliases().into_iter().find(|a| a.ends_with(".bookkeeping")).unwrap();
    d.keys.fail_signing(&bookkeeping, true);

    d.core.account().change_passcode(PASS.into(), "739201".into()).await.unwrap();
    d.core.account().change_passcode("739201".into(), PASS.into()).await.unwrap();
    submit_residence(&d.core, env.clock.as_ref()).await;
    // Not in the log yet, and not lost: waiting.
    let kinds: Vec<ActivityKind> = d.core.activity().list_entries().await.unwrap().iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [ActivityKind::Enrollment, ActivityKind::Login]);
    // Anchoring cannot sign either: nothing anchored, the sync itself still works.
    d.core.services().sync_outbox().await.unwrap();
    d.core.services().sync_cases().await.unwrap();
    assert_eq!(d.core.activity().list_entries().await.unwrap().len(), 2);

    // The key store recovers: the next occasion appends everything, in the order it happened.
    d.keys.fail_signing(&bookkeeping, false);
    let anchor = d.core.activity().anchor().await.unwrap().expect("anchored");
    let kinds: Vec<ActivityKind> = d.core.activity().list_entries().await.unwrap().iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            ActivityKind::Enrollment,
            ActivityKind::Login,
            ActivityKind::PasscodeChange,
            ActivityKind::PasscodeChange,
            ActivityKind::Submission,
            ActivityKind::SubmissionDelivered
        ]
    );
    assert_eq!(anchor.seq, 6);
    let r = d.core.activity().verify().await.unwrap();
    assert!(r.intact, "{r:?}");

    // And an app restart in between keeps what waits (it is committed before signing).
    d.keys.fail_signing(&bookkeeping, true);
    d.core.account().logout().await.unwrap();
    let d = env.reopen(d);
    d.keys.fail_signing(&bookkeeping, false);
    d.core.account().login(PASS.into()).await.unwrap();
    let kinds: Vec<ActivityKind> = d.core.activity().list_entries().await.unwrap().iter().map(|e| e.kind).collect();
    assert_eq!(&kinds[6..], [ActivityKind::Logout, ActivityKind::Login]);
}

/// An account enrolled before bookkeeping keys (no key recorded; the server knows none): its
/// entries wait and nothing is anchored until the next login registers a bookkeeping key (the
/// device key signs it into the login statement); then they are signed without a prompt.
#[tokio::test(flavor = "multi_thread")]
async fn an_old_enrollment_registers_its_bookkeeping_key_at_the_next_login() {
    let env = Env::new().await;
    let d = env.device("phone");
    enroll_phone(&env, &d).await;
    // Make it an account of schema v6: no bookkeeping key on the device nor at the server, and
    // (to keep the simulation honest: these were signed with a bookkeeping key) no log yet.
    let db = env.db("phone");
    db.execute_batch("UPDATE account SET bookkeeping = NULL; DELETE FROM activity_log;").unwrap();
    let server = rusqlite::Connection::open(env.dir.path().join("server/citizen-server.db")).unwrap();
    server.execute("UPDATE devices SET bookkeeping_public_key = NULL", []).unwrap();
    let d = env.reopen(d);
    let prompts = d.keys.prompt_count();
    d.core.account().change_passcode(PASS.into(), "739201".into()).await.unwrap();
    assert_eq!(d.core.activity().list_entries().await.unwrap().len(), 0, "the entry waits for the bookkeeping key");
    assert!(d.core.activity().anchor().await.unwrap().is_none(), "no anchor without a bookkeeping key");
    assert_eq!(d.keys.prompt_count(), prompts, "waiting entries never prompt");

    d.core.account().login("739201".into()).await.unwrap();
    assert_eq!(d.keys.prompt_count(), prompts + 1, "the login's prompt only");
    let kinds: Vec<ActivityKind> = d.core.activity().list_entries().await.unwrap().iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [ActivityKind::PasscodeChange, ActivityKind::Login]);
    let login = d.keys.sign_requests().into_iter().rev().find(|(_, r)| r.purpose == SignPurpose::Login).unwrap();
    assert!(!login.0.ends_with(".bookkeeping"));
    // The server accepts anchors from the newly registered key.
    assert_eq!(d.core.activity().anchor().await.unwrap().expect("anchored").seq, 2);
    assert!(d.core.activity().verify().await.unwrap().intact);
    let r = verify_activity_log_export(d.core.activity().export().await.unwrap(), server_jwk(&env).await).unwrap();
    assert!(r.intact, "{r:?}");
    assert!(bookkeeping_alias_used(&d.keys));
}

/// A wipe deletes both device keys.
#[tokio::test(flavor = "multi_thread")]
async fn reset_deletes_the_bookkeeping_key_too() {
    let env = Env::new().await;
    let d = env.device("phone");
    enroll_phone(&env, &d).await;
    assert_eq!(d.keys.key_count(), 2);
    d.core.account().reset_device().await.unwrap();
    assert_eq!(d.keys.key_count(), 0, "{:?}", d.keys.aliases());
}
