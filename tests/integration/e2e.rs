//! The core against the real reference server over loopback TLS with pinning: every account
//! flow of the foundation, positive and negative. Server and core share one `ManualClock`, so
//! lockouts and timeouts are tested by moving time, never by sleeping.

use std::path::Path;
use std::sync::Arc;

use citizen_core::clock::Clock;
use citizen_core::error::PublicError;
use citizen_core::platform::software::{MemoryKeyStore, MemoryKeyWrapper};
use citizen_core::{
    default_core_config, CitizenCore, CitizenError, DataKeyWrapper, DeviceStatus, EnrollmentInput, EnrollmentReason,
    EnrollmentState, KeyOptions, NetworkErrorKind,
};

use crate::env::{secs, Device, Env, PASS};

fn input(who: (&str, &str, &str)) -> EnrollmentInput {
    EnrollmentInput { cccd: who.0.into(), date_of_birth: who.1.into(), phone: who.2.into() }
}

fn opts() -> KeyOptions {
    KeyOptions { require_user_authentication: true, prefer_strongbox: true, attestation_challenge: vec![] }
}

const A: (&str, &str, &str) = ("001090000001", "1990-01-15", "0900000001");
const B: (&str, &str, &str) = ("079195000002", "1995-06-30", "+84900000002");

fn files_contain(dir: &Path, needle: &[u8]) -> bool {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            stack.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        } else if let Ok(b) = std::fs::read(&p) {
            if b.windows(needle.len()).any(|w| w == needle) {
                return true;
            }
        }
    }
    false
}

#[tokio::test]
async fn enroll_login_refresh_devices_logout_with_nothing_sensitive_on_disk() {
    let env = Env::new().await;
    let d = env.device("a");
    assert_eq!(d.core.status().await.unwrap().enrollment, EnrollmentState::NotEnrolled);
    let t = d.core.account().start_enrollment(input(A)).await.unwrap();
    assert_eq!(t.masked_phone, "+84 ••• ••• 001");
    assert!(!t.has_active_device);
    assert_eq!(d.core.status().await.unwrap().enrollment, EnrollmentState::AwaitingOtp);
    let otp = env.otp.last_otp(&t.enrollment_id).unwrap();
    let outcome = d.core.account().complete_enrollment(otp, PASS.into(), opts()).await.unwrap();
    assert!(!outcome.hardware_backed);
    assert_eq!(outcome.replaced_device_id, None);
    let st = d.core.status().await.unwrap();
    assert_eq!(st.enrollment, EnrollmentState::Enrolled);
    assert!(!st.logged_in);

    let s1 = d.core.account().login(PASS.into()).await.unwrap();
    assert!(d.core.status().await.unwrap().logged_in);
    assert!(secs(s1.absolute_expires_at) - env.clock.now() <= 86_400);
    assert!(secs(s1.idle_expires_at) - env.clock.now() <= 3_600);
    let (access1, refresh1) = d.core.session_tokens().unwrap();
    let s2 = d.core.account().refresh_session().await.unwrap();
    assert_eq!(s1.session_id, s2.session_id);
    let (access2, refresh2) = d.core.session_tokens().unwrap();
    assert_ne!(refresh1, refresh2, "refresh token rotates");

    let devices = d.core.account().list_devices().await.unwrap();
    assert_eq!(devices.len(), 1);
    assert!(devices[0].is_this_device && devices[0].status == DeviceStatus::Active);
    assert_eq!(env.server().device_status(&outcome.device_id).as_deref(), Some("active"));

    d.core.account().logout().await.unwrap();
    assert!(!d.core.status().await.unwrap().logged_in);
    assert!(matches!(d.core.account().list_devices().await, Err(CitizenError::NeedsLogin { .. })));

    // Nothing sensitive in clear anywhere in the core's data directory (db, WAL, SHM).
    drop(d);
    for needle in [A.0, "+84900000001", "0900000001", PASS, &access1, &refresh1, &access2, &refresh2] {
        assert!(!files_contain(&env.dir.path().join("a"), needle.as_bytes()), "found a secret in clear");
    }
}

#[tokio::test]
async fn invalid_enrollment_input_is_refused_before_any_network_call() {
    // A server URL nobody listens on: any network call would fail with `Offline`.
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let cfg = default_core_config(format!("https://127.0.0.1:{port}"), dir.path().to_string_lossy().into_owned());
    let core = CitizenCore::new(cfg, Arc::new(MemoryKeyStore::new()), Arc::new(MemoryKeyWrapper::new())).unwrap();
    let cases = [
        (("00109000000", "1990-01-15", "0900000001"), vec!["cccd.format"]),
        (("003090000001", "1990-01-15", "0900000001"), vec!["cccd.province"]),
        (("001290000001", "1990-01-15", "0900000001"), vec!["cccd.century"]),
        (("001091000001", "1990-01-15", "0900000001"), vec!["cccd.birth_year"]),
        (("001090000001", "1990-13-01", "0900000001"), vec!["dob.invalid"]),
        (("001090000001", "1990-01-15", "0200000001"), vec!["phone.format"]),
        (("12", "x", "y"), vec!["dob.invalid", "cccd.format", "phone.format"]),
    ];
    for (who, codes) in cases {
        match core.account().start_enrollment(input(who)).await {
            Err(CitizenError::InvalidInput { detail, fields }) => {
                assert_eq!(detail.code, "input.invalid");
                assert_eq!(fields.iter().map(|f| f.code.as_str()).collect::<Vec<_>>(), codes, "{who:?}");
                assert!(fields.iter().all(|f| !f.message_vi.is_empty() && !f.message_en.is_empty()));
            }
            other => panic!("{who:?}: {other:?}"),
        }
    }
    // Valid input does reach the network (and finds it offline): the refusals above were local.
    match core.account().start_enrollment(input(A)).await {
        Err(CitizenError::Network { kind: NetworkErrorKind::Offline, detail }) => {
            assert_eq!(detail.code, "network.offline")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn no_match_and_wrong_otp_until_the_limit() {
    let env = Env::new().await;
    let d = env.device("a");
    // Right number, wrong date of birth (still structurally valid).
    let e = d.core.account().start_enrollment(input(("001090000001", "1990-01-16", "0900000001"))).await.unwrap_err();
    assert!(matches!(e, CitizenError::Refused { .. }), "{e:?}");

    d.core.account().start_enrollment(input(A)).await.unwrap();
    for left in (1..=4).rev() {
        match d.core.account().complete_enrollment("000000".into(), PASS.into(), opts()).await {
            Err(CitizenError::OtpRejected { attempts_left, .. }) => assert_eq!(attempts_left, left),
            other => panic!("{other:?}"),
        }
    }
    let e = d.core.account().complete_enrollment("000000".into(), PASS.into(), opts()).await.unwrap_err();
    assert!(matches!(e, CitizenError::OtpRejected { .. }), "{e:?}");
    // The dead enrollment is dropped; its unused key is deleted.
    let e = d.core.account().complete_enrollment("123456".into(), PASS.into(), opts()).await.unwrap_err();
    assert!(matches!(e, CitizenError::NotFound { .. }), "{e:?}");
    assert_eq!(d.keys.key_count(), 0);
    // Weak passcode and malformed OTP are refused locally.
    d.core.account().start_enrollment(input(A)).await.unwrap();
    match d.core.account().complete_enrollment("12a".into(), "123456".into(), opts()).await {
        Err(CitizenError::InvalidInput { fields, .. }) => {
            assert_eq!(fields.iter().map(|f| f.code.as_str()).collect::<Vec<_>>(), ["otp.format", "passcode.weak"])
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn passcode_lockout_escalates_survives_restart_and_wipes_at_ten() {
    let env = Env::new().await;
    let d = env.device("a");
    env.enroll(&d, A).await;
    for left in (0..5).rev() {
        match d.core.account().login("111112".into()).await {
            Err(CitizenError::PasscodeRejected { attempts_before_lockout, attempts_before_wipe, detail }) => {
                assert_eq!(attempts_before_lockout, left);
                assert_eq!(attempts_before_wipe, 5 + left);
                assert_eq!(detail.code, "auth.passcode_incorrect");
            }
            other => panic!("{other:?}"),
        }
    }
    // Locked for a minute — even the right passcode.
    match d.core.account().login(PASS.into()).await {
        Err(CitizenError::LockedOut { retry_after, .. }) => assert!((55..=60).contains(&retry_after.as_secs())),
        other => panic!("{other:?}"),
    }
    // An app restart changes nothing.
    let d = env.reopen(d);
    assert!(matches!(d.core.account().login(PASS.into()).await, Err(CitizenError::LockedOut { .. })));
    let st = d.core.account().passcode_status().await.unwrap();
    assert_eq!((st.failed_attempts, st.attempts_before_wipe), (5, 5));
    assert!(st.locked_until.is_some());

    // Escalation: 5 min, then 1 h.
    // The clock follows real time plus an offset, so a second may tick during the login: the lock
    // starts somewhere between the clock readings taken before and after the failed attempt.
    for expected in [300, 3600, 3600, 3600] {
        env.clock.advance(3_601);
        let before = env.clock.now();
        assert!(matches!(d.core.account().login("111112".into()).await, Err(CitizenError::PasscodeRejected { .. })));
        let after = env.clock.now();
        let until = secs(d.core.account().passcode_status().await.unwrap().locked_until.unwrap());
        assert!(
            (before + expected..=after + expected).contains(&until),
            "lock {until} not {expected} s after [{before}, {after}]"
        );
    }
    env.clock.advance(3_601);
    // The 10th failure erases the account and the device key.
    assert!(matches!(d.core.account().login("111112".into()).await, Err(CitizenError::NeedsEnrollment { .. })));
    assert_eq!(d.core.status().await.unwrap().enrollment, EnrollmentState::NotEnrolled);
    assert_eq!(d.keys.key_count(), 0);
    assert!(matches!(d.core.account().login(PASS.into()).await, Err(CitizenError::NeedsEnrollment { .. })));
}

#[tokio::test]
async fn a_correct_passcode_clears_failures() {
    let env = Env::new().await;
    let d = env.device("a");
    env.enroll(&d, A).await;
    for _ in 0..3 {
        assert!(d.core.account().verify_passcode("111112".into()).await.is_err());
    }
    assert_eq!(d.core.account().passcode_status().await.unwrap().failed_attempts, 3);
    d.core.account().verify_passcode(PASS.into()).await.unwrap();
    assert_eq!(d.core.account().passcode_status().await.unwrap().failed_attempts, 0);
}

#[tokio::test]
async fn refresh_is_automatic_and_single_flight() {
    let env = Env::new().await;
    let d = env.device("a");
    env.enroll(&d, A).await;
    d.core.account().login(PASS.into()).await.unwrap();
    env.clock.advance(301); // access token expired
    let calls = (0..8).map(|_| {
        let core = d.core.clone();
        tokio::spawn(async move { core.account().list_devices().await })
    });
    for c in calls {
        assert_eq!(c.await.unwrap().unwrap().len(), 1);
    }
    let refreshes = env.server().audit_events().iter().filter(|e| e.event == "refresh" && e.outcome == "ok").count();
    assert_eq!(refreshes, 1, "exactly one refresh for eight concurrent calls");
    assert!(!env.server().audit_events().iter().any(|e| e.event == "refresh_reuse"));
}

#[tokio::test]
async fn reuse_of_an_old_refresh_token_revokes_the_session() {
    let env = Env::new().await;
    let d = env.device("a");
    env.enroll(&d, A).await;
    d.core.account().login(PASS.into()).await.unwrap();
    let (_, old_refresh) = d.core.session_tokens().unwrap();
    d.core.account().refresh_session().await.unwrap();

    // An attacker replays the stolen, already-rotated token.
    let client = reqwest::Client::builder()
        .tls_backend_preconfigured(
            citizen_core::net::tls::client_config(std::slice::from_ref(&env.server().ca_cert_pem), &[]).unwrap(),
        )
        .build()
        .unwrap();
    let r = client
        .post(format!("{}/v1/auth/refresh", env.server().base_url))
        .json(&serde_json::json!({ "refresh_token": old_refresh }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["code"], "refresh_reused");

    // The whole family is dead: the citizen's current token no longer works either.
    let e = d.core.account().refresh_session().await.unwrap_err();
    assert!(
        matches!(&e, CitizenError::NeedsLogin { detail } if ["auth.session_expired", "auth.session_revoked"].contains(&detail.code.as_str())),
        "{e:?}"
    );
    assert!(!d.core.status().await.unwrap().logged_in);
}

#[tokio::test]
async fn sessions_end_at_idle_and_absolute_timeouts() {
    let env = Env::new().await;
    let d = env.device("a");
    env.enroll(&d, A).await;
    d.core.account().login(PASS.into()).await.unwrap();
    env.clock.advance(3_601);
    let e = d.core.account().list_devices().await.unwrap_err();
    assert!(matches!(&e, CitizenError::NeedsLogin { detail } if detail.code == "auth.session_expired"), "idle: {e:?}");

    d.core.account().login(PASS.into()).await.unwrap();
    // Stay active every 50 minutes for a day: the absolute limit still ends the session.
    for _ in 0..30 {
        env.clock.advance(3_000);
        if d.core.account().list_devices().await.is_err() {
            break;
        }
    }
    let e = d.core.account().list_devices().await.unwrap_err();
    assert!(
        matches!(&e, CitizenError::NeedsLogin { detail } if ["auth.session_expired", "auth.not_logged_in"].contains(&detail.code.as_str())),
        "absolute: {e:?}"
    );
}

#[tokio::test]
async fn a_new_device_replaces_the_old_one_which_learns_it() {
    let env = Env::new().await;
    let old = env.device("old");
    let first = env.enroll(&old, A).await;
    old.core.account().login(PASS.into()).await.unwrap();

    let new = env.device("new");
    let t = new.core.account().start_enrollment(input(A)).await.unwrap();
    assert!(t.has_active_device);
    let otp = env.otp.last_otp(&t.enrollment_id).unwrap();
    let second = new.core.account().complete_enrollment(otp, "739201".into(), opts()).await.unwrap();
    assert_eq!(second.replaced_device_id.as_deref(), Some(first.device_id.as_str()));
    assert!(!second.transfer_approved);

    // The old device's session is dead and it learns why.
    let e = old.core.account().list_devices().await.unwrap_err();
    assert!(
        matches!(
            &e,
            CitizenError::NeedsEnrollment {
                reason: EnrollmentReason::DeviceDeactivated { status: DeviceStatus::Replaced },
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(
        old.core.status().await.unwrap().enrollment,
        EnrollmentState::Deactivated { status: DeviceStatus::Replaced }
    );
    assert_eq!(old.core.account().check_device_status().await.unwrap().status, DeviceStatus::Replaced);
    assert!(matches!(old.core.account().login(PASS.into()).await, Err(CitizenError::NeedsEnrollment { .. })));
    // It may enroll again (which replaces the other one in turn).
    assert!(old.core.account().start_enrollment(input(A)).await.is_ok());

    new.core.account().login("739201".into()).await.unwrap();
    let devices = new.core.account().list_devices().await.unwrap();
    assert_eq!(devices.iter().filter(|d| d.status == DeviceStatus::Active).count(), 1);
}

#[tokio::test]
async fn an_approved_transfer_marks_the_old_device_transferred() {
    let env = Env::new().await;
    let old = env.device("old");
    env.enroll(&old, B).await;
    old.core.account().login(PASS.into()).await.unwrap();
    let new = env.device("new");
    let t = new.core.account().start_enrollment(input(B)).await.unwrap();
    // A wrong passcode on the old device approves nothing.
    assert!(matches!(
        old.core.account().approve_device_transfer(t.enrollment_id.clone(), "111112".into()).await,
        Err(CitizenError::PasscodeRejected { .. })
    ));
    old.core.account().approve_device_transfer(t.enrollment_id.clone(), PASS.into()).await.unwrap();
    let otp = env.otp.last_otp(&t.enrollment_id).unwrap();
    let outcome = new.core.account().complete_enrollment(otp, "739201".into(), opts()).await.unwrap();
    assert!(outcome.transfer_approved);
    assert_eq!(old.core.account().check_device_status().await.unwrap().status, DeviceStatus::Transferred);
    assert_eq!(
        old.core.status().await.unwrap().enrollment,
        EnrollmentState::Deactivated { status: DeviceStatus::Transferred }
    );
}

#[tokio::test]
async fn a_revoked_device_cannot_log_in() {
    let env = Env::new().await;
    let d = env.device("a");
    let o = env.enroll(&d, A).await;
    d.core.account().login(PASS.into()).await.unwrap();
    d.core.account().revoke_device(o.device_id.clone(), PASS.into()).await.unwrap();
    assert_eq!(env.server().device_status(&o.device_id).as_deref(), Some("revoked"));
    let e = d.core.account().login(PASS.into()).await.unwrap_err();
    assert!(
        matches!(
            &e,
            CitizenError::NeedsEnrollment {
                reason: EnrollmentReason::DeviceDeactivated { status: DeviceStatus::Revoked },
                ..
            }
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn passcode_change_and_otp_reset() {
    let env = Env::new().await;
    let d = env.device("a");
    env.enroll(&d, A).await;
    assert!(matches!(
        d.core.account().change_passcode("111112".into(), "739201".into()).await,
        Err(CitizenError::PasscodeRejected { .. })
    ));
    assert!(matches!(
        d.core.account().change_passcode(PASS.into(), PASS.into()).await,
        Err(CitizenError::InvalidInput { fields, .. }) if fields[0].code == "passcode.same"
    ));
    assert!(matches!(
        d.core.account().change_passcode(PASS.into(), "150190".into()).await,
        Err(CitizenError::InvalidInput { fields, .. }) if fields[0].code == "passcode.weak"
    ));
    d.core.account().change_passcode(PASS.into(), "739201".into()).await.unwrap();
    assert!(matches!(d.core.account().login(PASS.into()).await, Err(CitizenError::PasscodeRejected { .. })));
    d.core.account().login("739201".into()).await.unwrap();

    // Forgotten: lock it, then reset with an OTP.
    for _ in 0..5 {
        let _ = d.core.account().verify_passcode("111112".into()).await;
    }
    assert!(matches!(d.core.account().verify_passcode("739201".into()).await, Err(CitizenError::LockedOut { .. })));
    assert!(matches!(
        d.core.account().complete_passcode_reset("123456".into(), "905172".into()).await,
        Err(CitizenError::NotFound { .. })
    ));
    let t = d.core.account().start_passcode_reset().await.unwrap();
    assert_eq!(t.masked_phone, "+84 ••• ••• 001");
    match d.core.account().complete_passcode_reset("000000".into(), "905172".into()).await {
        Err(CitizenError::OtpRejected { attempts_left, .. }) => assert_eq!(attempts_left, 4),
        other => panic!("{other:?}"),
    }
    let otp = env.otp.last_otp(&t.reset_id).unwrap();
    d.core.account().complete_passcode_reset(otp, "905172".into()).await.unwrap();
    assert_eq!(d.core.account().passcode_status().await.unwrap().failed_attempts, 0);
    d.core.account().login("905172".into()).await.unwrap();
}

#[tokio::test]
async fn key_store_failures_are_distinct_errors_and_raw_signatures_work() {
    let env = Env::new().await;
    let d = env.device("a");
    let o = env.enroll(&d, A).await;
    d.keys.use_raw_signatures(true);
    d.core.account().login(PASS.into()).await.unwrap();
    d.keys.invalidate(&format!("citizen-core.device.{}", o.device_id));
    let e = d.core.account().login(PASS.into()).await.unwrap_err();
    assert!(matches!(&e, CitizenError::KeyStore { .. }), "{e:?}");
    assert_eq!(e.detail().code, "keystore.key_invalidated");
}

#[tokio::test]
async fn the_data_key_opens_only_with_its_wrapper_and_nothing_is_lost() {
    let env = Env::new().await;
    let d = env.device("a");
    env.enroll(&d, A).await;
    let other: Arc<dyn DataKeyWrapper> = Arc::new(MemoryKeyWrapper::new());
    let Device { core, keys, wrapper, config, .. } = d;
    drop(core);
    let e = CitizenCore::with_clock(config.clone(), keys.clone(), other, env.clock.clone()).err().unwrap();
    assert!(matches!(e, CitizenError::DataKeyLost { .. }), "{e:?}");
    assert_eq!(e.detail().code, "storage.data_key_lost");
    // The right wrapper still opens everything.
    let core = CitizenCore::with_clock(config, keys, wrapper, env.clock.clone()).unwrap();
    core.account().login(PASS.into()).await.unwrap();
}

/// Issue 11 item 8: a wrapper that reports "temporarily unavailable" (device locked, key store
/// busy) yields `storage.data_key_locked` — not "lost", which shells answer with an erase — and
/// leaves the database untouched: once unlocked, the same data opens and the session is there.
#[tokio::test]
async fn a_locked_data_key_is_reported_as_locked_and_the_data_opens_later() {
    let env = Env::new().await;
    let d = env.device("a");
    env.enroll(&d, A).await;
    d.core.account().login(PASS.into()).await.unwrap();
    let before = d.core.activity().list_entries().await.unwrap();
    let Device { core, keys, wrapper, config, .. } = d;
    drop(core);
    let files = |dir: &str| -> Vec<(String, Vec<u8>)> {
        let mut v: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file() && !p.to_string_lossy().ends_with(".lock"))
            .map(|p| (p.to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
            .collect();
        v.sort();
        v
    };
    let snapshot = files(&config.data_dir);
    wrapper.set_locked(true);
    for _ in 0..3 {
        let e =
            CitizenCore::with_clock(config.clone(), keys.clone(), wrapper.clone(), env.clock.clone()).err().unwrap();
        assert!(matches!(e, CitizenError::DataKeyLocked { .. }), "{e:?}");
        assert_eq!(e.detail().code, "storage.data_key_locked");
    }
    assert!(files(&config.data_dir) == snapshot, "a locked data key changed files in the data directory");
    wrapper.set_locked(false);
    let core = CitizenCore::with_clock(config, keys, wrapper, env.clock.clone()).unwrap();
    assert_eq!(core.activity().list_entries().await.unwrap(), before);
    assert!(core.status().await.unwrap().logged_in, "still logged in");
}

/// Issue 11 item 8: `erase_local_data(data_dir, key_wrapper)` deletes the wrapping key through
/// the shell's wrapper (the shell names no alias) and the data; it is refused while a core holds
/// the directory; afterwards the directory opens as a new, empty device.
#[tokio::test]
async fn erase_local_data_deletes_the_wrapping_key_through_the_wrapper() {
    let env = Env::new().await;
    let d = env.device("a");
    env.enroll(&d, A).await;
    let Device { core, keys, wrapper, config, .. } = d;
    let wrapper_dyn: Arc<dyn citizen_core::DataKeyWrapper> = wrapper.clone();
    let held = citizen_core::erase_local_data(config.data_dir.clone(), Some(wrapper_dyn.clone())).await.unwrap_err();
    assert_eq!(held.detail().code, "storage.already_open");
    assert!(wrapper.deleted_keys().is_empty(), "nothing deleted while the core holds the directory");
    core.shutdown().await;
    drop(core);
    citizen_core::erase_local_data(config.data_dir.clone(), Some(wrapper_dyn)).await.unwrap();
    assert_eq!(wrapper.deleted_keys(), vec![citizen_core::store::DATA_KEY_ALIAS.to_string()]);
    let left: Vec<_> = std::fs::read_dir(&config.data_dir).map(|r| r.count()).into_iter().collect();
    assert!(left.iter().all(|n| *n == 0), "the data directory is empty: {left:?}");
    let core = CitizenCore::with_clock(config, keys, wrapper, env.clock.clone()).unwrap();
    assert_eq!(core.status().await.unwrap().enrollment, EnrollmentState::NotEnrolled);
}

#[tokio::test]
async fn config_errors_are_typed() {
    let dir = tempfile::tempdir().unwrap();
    let mk = |f: &dyn Fn(&mut citizen_core::CoreConfig)| {
        let mut c = default_core_config("https://127.0.0.1:1".into(), dir.path().to_string_lossy().into_owned());
        f(&mut c);
        CitizenCore::new(c, Arc::new(MemoryKeyStore::new()), Arc::new(MemoryKeyWrapper::new())).err()
    };
    for e in [
        mk(&|c| c.server_base_url = "not a url".into()),
        mk(&|c| c.spki_pins = vec![citizen_core::protocol::spki_pin(b"x")]),
        mk(&|c| c.trust_anchors_pem = vec!["-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".into()]),
        mk(&|c| c.data_dir = "".into()),
    ] {
        match e {
            Some(CitizenError::Internal { detail }) => assert_eq!(detail.code, "setup.invalid_config"),
            other => panic!("{other:?}"),
        }
    }
}
