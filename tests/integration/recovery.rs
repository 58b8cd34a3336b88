//! Losing, changing and re-binding the phone (issue 15), through the public API: a remote lock
//! keeps the outbox and delivers it only after the citizen confirms.

use citizen_core::{
    CitizenError, DeviceStatus, EnrollmentReason, EnrollmentState, OutboxHoldReason, OutboxState, PublicError,
};
use serde_json::json;

use crate::env::*;

const WHO: (&str, &str, &str) = ("001090000001", "1990-01-15", "+84900000001");

/// An official's call (officials' token) to `path`.
pub async fn official(env: &Env, path: &str, body: serde_json::Value) -> u16 {
    let http = reqwest::Client::builder()
        .tls_backend_preconfigured(
            citizen_core::net::tls::client_config(std::slice::from_ref(&env.server().ca_cert_pem), &[]).unwrap(),
        )
        .build()
        .unwrap();
    let r = http
        .post(format!("{}{path}", env.server().base_url))
        .header("x-official-token", &env.server().official_token)
        .json(&body)
        .send()
        .await
        .unwrap();
    r.status().as_u16()
}

pub async fn lock(env: &Env, cccd: &str, locked: bool) {
    let st = official(
        env,
        "/v1/official/devices/lock",
        json!({"cccd": cccd, "locked": locked, "official_id": "CA-HN-0042", "reason": "lost"}),
    )
    .await;
    assert_eq!(st, 200);
}

/// A delivery attempt while the server is away: it fails, and the background delivery the
/// submit started cannot send before the (manual) clock passes the backoff.
async fn offline_attempt(d: &Device) {
    let r = d.core.services().sync_outbox().await.unwrap();
    assert_eq!((r.delivered, r.remaining), (0, 1), "{r:?}");
}

/// The shared set-up: a phone enrolled for WHO with the catalogue and its profile, one request
/// queued while the server was away (its delivery failed once), and the server back.
async fn queued_offline(env: &mut Env) -> (Device, citizen_core::OutboxItem) {
    let d = env.enrolled("phone", WHO).await;
    assert!(d.core.services().refresh_catalogue().await.unwrap());
    d.core.services().refresh_profile().await.unwrap();
    env.stop().await;
    let item = submit_residence(&d.core, env.clock.as_ref()).await;
    offline_attempt(&d).await;
    env.restart().await;
    (d, item)
}

fn is_locked(e: &CitizenError) -> bool {
    matches!(
        e,
        CitizenError::NeedsEnrollment {
            reason: EnrollmentReason::DeviceDeactivated { status: DeviceStatus::Locked },
            ..
        }
    ) && e.detail().code == "auth.device_locked"
}

#[tokio::test(flavor = "multi_thread")]
async fn a_locked_phone_keeps_its_outbox_and_sends_it_only_after_the_citizen_confirms() {
    let mut env = Env::new().await;
    let (d, item) = queued_offline(&mut env).await;

    // Reported lost at a counter: the next delivery attempt learns the lock; nothing is lost.
    lock(&env, WHO.0, true).await;
    let r = d.core.services().sync_outbox().await.unwrap();
    assert_eq!((r.delivered, r.rejected, r.remaining), (0, 0, 1), "{r:?}");
    assert_eq!(r.last_error.map(|e| e.code).as_deref(), Some("auth.device_locked"));
    assert_eq!(d.core.services().outbox_hold().await.unwrap(), Some(OutboxHoldReason::DeviceLocked));
    let outbox = d.core.services().list_outbox().await.unwrap();
    assert_eq!(outbox.len(), 1);
    assert_eq!((outbox[0].submission_id.as_str(), outbox[0].state), (item.submission_id.as_str(), OutboxState::Queued));
    // Locked: no login, no submit, no release; the shell sees why (never "erase").
    let e = d.core.account().login(PASS.into()).await.unwrap_err();
    assert!(is_locked(&e), "{e:?}");
    let status = d.core.status().await.unwrap();
    assert_eq!(status.enrollment, EnrollmentState::Deactivated { status: DeviceStatus::Locked });
    let e = d.core.services().release_held_outbox(true, PASS.into()).await.unwrap_err();
    assert!(is_locked(&e), "{e:?}");
    // A second sync sends nothing.
    let r = d.core.services().sync_outbox().await.unwrap();
    assert_eq!((r.delivered, r.remaining), (0, 1));
    assert!(!env.server().submission_stored(&item.submission_id));

    // Unlocked at the counter: the device learns it, logs in, and the outbox still waits.
    lock(&env, WHO.0, false).await;
    let s = d.core.account().check_device_status().await.unwrap();
    assert_eq!(s.status, DeviceStatus::Active);
    assert_eq!(d.core.status().await.unwrap().enrollment, EnrollmentState::Enrolled);
    d.core.account().login(PASS.into()).await.unwrap();
    let r = d.core.services().sync_outbox().await.unwrap();
    assert_eq!((r.delivered, r.remaining), (0, 1), "held until the citizen decides");
    assert!(!env.server().submission_stored(&item.submission_id));

    // The citizen confirms: delivered.
    let e = d.core.services().release_held_outbox(true, "000000".into()).await.unwrap_err();
    assert!(matches!(e, CitizenError::PasscodeRejected { .. }), "{e:?}");
    assert_eq!(d.core.services().release_held_outbox(true, PASS.into()).await.unwrap(), 1);
    assert_eq!(d.core.services().outbox_hold().await.unwrap(), None);
    let r = d.core.services().sync_outbox().await.unwrap();
    assert_eq!(r.remaining, 0, "{r:?}");
    assert!(env.server().submission_stored(&item.submission_id));
    let e = d.core.services().release_held_outbox(true, PASS.into()).await.unwrap_err();
    assert_eq!(e.detail().code, "outbox.nothing_held");

    // Every step is in the device's log.
    let summaries: Vec<String> =
        d.core.activity().list_entries().await.unwrap().into_iter().map(|e| e.summary).collect();
    for want in ["locked_remotely", "unlocked", "outbox_released=1 after=device_locked"] {
        assert!(summaries.iter().any(|s| s == want), "{want} missing from {summaries:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_citizen_may_withdraw_what_was_queued_on_a_locked_phone() {
    let mut env = Env::new().await;
    let (d, item) = queued_offline(&mut env).await;
    lock(&env, WHO.0, true).await;
    d.core.services().sync_outbox().await.unwrap();
    lock(&env, WHO.0, false).await;
    d.core.account().check_device_status().await.unwrap();
    assert_eq!(d.core.services().release_held_outbox(false, PASS.into()).await.unwrap(), 1);
    let outbox = d.core.services().list_outbox().await.unwrap();
    assert_eq!(outbox[0].state, OutboxState::Rejected);
    assert_eq!(outbox[0].last_error.as_ref().map(|e| e.code.as_str()), Some("outbox.withdrawn"));
    d.core.account().login(PASS.into()).await.unwrap();
    d.core.services().sync_outbox().await.unwrap();
    assert!(!env.server().submission_stored(&item.submission_id));
}

// ---- recovery without the old phone (issue 15, item 2) --------------------------------------

use citizen_core::{EnrollmentInput, KeyStoreProblem, RecoveryMethod};
use citizen_server::testing::plain_key_options;
use software_cccd::CITIZENS;

use crate::chip::{can, transport, Chip};

fn code(e: &CitizenError) -> String {
    e.detail().code.clone()
}

fn input(who: (&str, &str, &str)) -> EnrollmentInput {
    EnrollmentInput { cccd: who.0.into(), date_of_birth: who.1.into(), phone: who.2.into() }
}

/// The shared set-up of the level-2 flows: WHO's phone enrolled, logged in and raised to level
/// 2 with the software card; with its device id.
async fn level2_phone(chip: &Chip) -> (std::sync::Arc<citizen_core::CitizenCore>, String) {
    let old = chip.core().await;
    let card = chip.card(&CITIZENS[0]);
    let key = can(&card);
    assert_eq!(old.chip().upgrade_level_with_chip(transport(card), key, None).await.unwrap().level, 2);
    let old_id = old.status().await.unwrap().device_id.unwrap();
    (old, old_id)
}

async fn summaries(core: &citizen_core::CitizenCore) -> Vec<String> {
    core.activity().list_entries().await.unwrap().into_iter().map(|e| e.summary).collect()
}

/// The "done when", through the public API: a level-2 citizen loses the phone; on a new
/// phone the OTP alone is refused, the chip and the OTP start a recovery held for 24 hours; the
/// old phone is told at its next contact and cancels it; the second recovery is completed after
/// the waiting period, and the old phone learns why it stopped working.
#[tokio::test(flavor = "multi_thread")]
async fn a_recovery_with_the_chip_is_cancelled_once_by_the_old_phone_and_completed_once() {
    let chip = Chip::new().await;
    let env = &chip.env;
    let (old, old_id) = level2_phone(&chip).await;
    let key = can(&chip.card(&CITIZENS[0]));

    let new = env.device("new-phone");
    let t = new.core.account().start_enrollment(input(WHO)).await.unwrap();
    assert!(t.has_active_device);
    let otp = env.otp.last_otp(&t.enrollment_id).unwrap();
    // Attack: the OTP alone (a SIM swap) does not move a level-2 account.
    let e = new.core.account().complete_enrollment(otp.clone(), PASS.into(), plain_key_options()).await.unwrap_err();
    assert_eq!(code(&e), "recovery.chip_required", "{e:?}");
    let e =
        new.core.account().start_recovery_at_counter(otp.clone(), PASS.into(), plain_key_options()).await.unwrap_err();
    assert_eq!(code(&e), "recovery.chip_required", "{e:?}");

    let ticket = new
        .core
        .chip()
        .start_recovery_with_chip(
            otp,
            PASS.into(),
            plain_key_options(),
            transport(chip.card(&CITIZENS[0])),
            key.clone(),
            None,
        )
        .await
        .unwrap();
    assert_eq!((ticket.method, ticket.old_device_id.as_deref()), (RecoveryMethod::Chip, Some(old_id.as_str())));
    assert_eq!(secs(ticket.ready_at) - secs(ticket.started_at), 24 * 3600);
    assert_eq!(new.core.account().pending_recovery().await.unwrap(), Some(ticket.clone()));
    // Attack: completed before the waiting period.
    let e = new.core.account().complete_recovery().await.unwrap_err();
    assert_eq!(code(&e), "recovery.waiting", "{e:?}");

    // The old phone's next contact brings the signed notice; the citizen cancels ("not me").
    old.account().check_device_status().await.unwrap();
    let notice = old.account().pending_recovery_notice().await.unwrap().expect("the old phone was told");
    assert_eq!((notice.recovery_id.as_str(), notice.method), (ticket.recovery_id.as_str(), RecoveryMethod::Chip));
    assert_eq!(old.account().cancel_recovery(PASS.into()).await.unwrap(), ticket.recovery_id);
    assert_eq!(old.account().pending_recovery_notice().await.unwrap(), None);
    env.clock.advance(24 * 3600 + 1);
    let e = new.core.account().complete_recovery().await.unwrap_err();
    assert_eq!(code(&e), "recovery.cancelled", "{e:?}");
    assert_eq!(new.core.account().pending_recovery().await.unwrap(), None);
    old.account().login(PASS.into()).await.unwrap();

    // Again; nobody cancels; completed after the waiting period.
    let t = new.core.account().start_enrollment(input(WHO)).await.unwrap();
    let otp = env.otp.last_otp(&t.enrollment_id).unwrap();
    let ticket2 = new
        .core
        .chip()
        .start_recovery_with_chip(otp, PASS.into(), plain_key_options(), transport(chip.card(&CITIZENS[0])), key, None)
        .await
        .unwrap();
    env.clock.advance(24 * 3600);
    let outcome = new.core.account().complete_recovery().await.unwrap();
    assert_eq!(outcome.replaced_device_id.as_deref(), Some(old_id.as_str()));
    assert_eq!(new.core.status().await.unwrap().enrollment, EnrollmentState::Enrolled);
    new.core.account().login(PASS.into()).await.unwrap();
    assert_eq!(new.core.activity().verify().await.unwrap().problems.len(), 0, "the new phone's log verifies");

    // The old phone learns why.
    let s = old.account().check_device_status().await.unwrap();
    assert_eq!(s.status, DeviceStatus::Recovered);
    let e = old.account().login(PASS.into()).await.unwrap_err();
    assert!(
        matches!(
            e,
            CitizenError::NeedsEnrollment {
                reason: EnrollmentReason::DeviceDeactivated { status: DeviceStatus::Recovered },
                ..
            }
        ),
        "{e:?}"
    );

    // Both phones' logs.
    let old_log = summaries(&old).await;
    for want in
        [format!("recovery_notice={}", ticket.recovery_id), format!("recovery_cancelled={}", ticket.recovery_id)]
    {
        assert!(old_log.iter().any(|s| s.starts_with(&want)), "{want} missing from {old_log:?}");
    }
    let new_log = summaries(&new.core).await;
    assert!(new_log.iter().any(|s| s.starts_with(&format!("recovery_started={}", ticket2.recovery_id))), "{new_log:?}");
    assert!(new_log.iter().any(|s| s.contains(&format!("recovered_from={old_id}"))), "{new_log:?}");
}

// ---- key invalidation → re-binding (issue 15, item 3) ---------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn an_invalidated_key_is_re_bound_and_the_queued_request_re_signed_only_after_confirmation() {
    let mut env = Env::new().await;
    let (d, item) = queued_offline(&mut env).await;

    // Biometrics changed: the platform invalidates the device key.
    let device_id = d.core.status().await.unwrap().device_id.unwrap();
    d.keys.invalidate(&format!("citizen-core.device.{device_id}"));
    let e = d.core.account().login(PASS.into()).await.unwrap_err();
    assert!(matches!(e, CitizenError::KeyStore { problem: KeyStoreProblem::Invalidated, .. }), "{e:?}");

    // Guided re-binding: passcode + OTP, a new key on the same device and account.
    let t = d.core.account().start_rebinding().await.unwrap();
    let otp = env.otp.last_otp(&t.rebind_id).unwrap();
    let e = d.core.account().complete_rebinding(otp.clone(), "000000".into(), plain_key_options()).await.unwrap_err();
    assert!(matches!(e, CitizenError::PasscodeRejected { .. }), "{e:?}");
    assert_eq!(d.core.account().complete_rebinding(otp, PASS.into(), plain_key_options()).await.unwrap(), 1);
    assert_eq!(d.core.status().await.unwrap().device_id.as_deref(), Some(device_id.as_str()), "same device");
    assert_eq!(d.core.services().outbox_hold().await.unwrap(), Some(OutboxHoldReason::KeyRotated));
    let r = d.core.services().sync_outbox().await.unwrap();
    assert_eq!((r.delivered, r.remaining), (0, 1), "not sent before the citizen confirms");
    assert!(!env.server().submission_stored(&item.submission_id));

    // The citizen confirms: re-signed with the new key and delivered.
    assert_eq!(d.core.services().release_held_outbox(true, PASS.into()).await.unwrap(), 1);
    d.core.services().sync_outbox().await.unwrap();
    assert!(env.server().submission_stored(&item.submission_id));
    d.core.account().login(PASS.into()).await.unwrap();
    let log = summaries(&d.core).await;
    for want in ["key_rotated held_requests=1", "outbox_released=1 after=key_rotated"] {
        assert!(log.iter().any(|s| s == want), "{want} missing from {log:?}");
    }
    assert!(env.server().audit_events().iter().any(|e| e.event == "device_key_rotated"));
}

/// Decision 48: the key is invalidated **and** the session has ended — the OTP alone is then
/// refused (`rebind.chip_required`), the chip + OTP re-bind the same device, and what was queued
/// is still held for the citizen's confirmation.
#[tokio::test(flavor = "multi_thread")]
async fn without_a_session_an_invalidated_key_is_re_bound_with_the_chip() {
    let chip = Chip::new().await;
    let env = &chip.env;
    let d = env.device("phone");
    citizen_server::testing::enroll_and_login(&d.core, &env.otp, WHO, PASS).await;
    let device_id = d.core.status().await.unwrap().device_id.unwrap();
    d.keys.invalidate(&format!("citizen-core.device.{device_id}"));
    d.core.account().logout().await.unwrap();

    let t = d.core.account().start_rebinding().await.unwrap();
    let otp = env.otp.last_otp(&t.rebind_id).unwrap();
    // Without a session the OTP path cannot prove the citizen.
    let e = d.core.account().complete_rebinding(otp.clone(), PASS.into(), plain_key_options()).await.unwrap_err();
    assert!(matches!(e, CitizenError::NeedsLogin { .. }), "{e:?}");
    // Another citizen's card: refused, nothing rotated.
    let other = chip.card(&CITIZENS[1]);
    let key = can(&other);
    let e = d
        .core
        .chip()
        .complete_rebinding_with_chip(otp.clone(), PASS.into(), plain_key_options(), transport(other), key, None)
        .await
        .unwrap_err();
    assert_eq!(code(&e), "chip.other_citizen", "{e:?}");
    // The citizen's card: re-bound on the same device; the new key logs in.
    let card = chip.card(&CITIZENS[0]);
    let key = can(&card);
    let held = d
        .core
        .chip()
        .complete_rebinding_with_chip(otp, PASS.into(), plain_key_options(), transport(card), key, None)
        .await
        .unwrap();
    assert_eq!(held, 0);
    assert_eq!(d.core.status().await.unwrap().device_id.as_deref(), Some(device_id.as_str()), "same device");
    d.core.account().login(PASS.into()).await.unwrap();
    assert!(summaries(&d.core).await.iter().any(|s| s == "key_rotated held_requests=0"));
    assert!(env.server().audit_events().iter().any(|e| e.event == "device_key_rotated" && e.outcome == "chip"));
}

// ---- device change with the old phone side by side (issue 15, item 4) -----------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_transfer_approved_by_scanning_the_new_phones_code_needs_no_waiting_period() {
    let chip = Chip::new().await;
    let env = &chip.env;
    let (old, old_id) = level2_phone(&chip).await;

    let new = env.device("new-phone");
    let t = new.core.account().start_enrollment(input(WHO)).await.unwrap();
    let code_text = new.core.account().transfer_code().await.unwrap();
    assert!(code_text.starts_with("CZTR1:"));
    // A code of another server, or garbage, is refused before anything is signed.
    let e = old.account().approve_transfer_code("CZTR1:e30".into(), PASS.into()).await.unwrap_err();
    assert_eq!(code(&e), "transfer.code_invalid");
    assert_eq!(old.account().approve_transfer_code(code_text, PASS.into()).await.unwrap(), t.enrollment_id);
    let otp = env.otp.last_otp(&t.enrollment_id).unwrap();
    let outcome = new.core.account().complete_enrollment(otp, PASS.into(), plain_key_options()).await.unwrap();
    assert!(outcome.transfer_approved, "{outcome:?}");
    assert_eq!(outcome.replaced_device_id.as_deref(), Some(old_id.as_str()));
    assert_eq!(old.account().check_device_status().await.unwrap().status, DeviceStatus::Transferred);
    new.core.account().login(PASS.into()).await.unwrap();
}
