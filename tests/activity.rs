//! The activity log end to end: real flows append signed entries; the head is anchored at the
//! server; the local log and its export verify; every kind of tampering of an export is caught.

use std::sync::Arc;

use citizen_core::activity::{ActivityKind, LogProblem};
use citizen_core::clock::ManualClock;
use citizen_core::platform::software::{MemoryKeyStore, MemoryKeyWrapper};
use citizen_core::{default_core_config, verify_activity_log_export, CitizenCore};
use citizen_server::testing::{enroll_and_login, CITIZEN_1};
use citizen_server::{MemoryOtpOutbox, ServerConfig};

const PASS: &str = "482916";

#[tokio::test(flavor = "multi_thread")]
async fn flows_are_logged_anchored_and_tampering_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let otp = Arc::new(MemoryOtpOutbox::new());
    let clock = ManualClock::new();
    let server =
        citizen_server::start(ServerConfig::loopback_dev(dir.path().join("server"), otp.clone(), clock.clone()))
            .await
            .unwrap();
    let mut cfg = default_core_config(server.base_url.clone(), dir.path().join("core").to_string_lossy().into());
    cfg.trust_anchors_pem = vec![server.ca_cert_pem.clone()];
    cfg.spki_pins = vec![server.spki_pin.clone(), server.backup_spki_pin.clone()];
    let core =
        CitizenCore::with_clock(cfg, Arc::new(MemoryKeyStore::new()), Arc::new(MemoryKeyWrapper::new()), clock.clone())
            .unwrap();
    enroll_and_login(&core, &otp, CITIZEN_1, PASS).await;
    core.change_passcode(PASS.into(), "739201".into()).await.unwrap();
    for _ in 0..5 {
        let _ = core.verify_passcode("111112".into()).await;
    }
    let kinds: Vec<ActivityKind> = core.activity_log().unwrap().iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [ActivityKind::Enrollment, ActivityKind::Login, ActivityKind::PasscodeChange, ActivityKind::Lockout]
    );
    let log = core.activity_log().unwrap();
    assert!(log.windows(2).all(|w| w[1].prev_hash == w[0].hash && w[1].counter > w[0].counter));
    assert!(log.iter().all(|e| !e.summary.contains(CITIZEN_1.0) && !e.summary.contains(CITIZEN_1.2)));

    // Anchor (also done by sync_cases): the server countersigns the head.
    let anchor = core.anchor_activity_log().await.unwrap().expect("anchored");
    assert_eq!(anchor.seq, 4);
    assert!(core.anchor_activity_log().await.unwrap().is_none(), "nothing new to anchor");
    let r = core.verify_activity_log().unwrap();
    assert!(r.intact, "{:?}", r.problems);
    assert_eq!((r.entries, r.anchors), (4, 1));

    // The export verifies on its own.
    let json = core.export_activity_log().unwrap();
    let r = verify_activity_log_export(json.clone()).unwrap();
    assert!(r.intact && r.entries == 4 && r.anchors == 1, "{r:?}");

    let tamper = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
        f(&mut v);
        verify_activity_log_export(v.to_string()).unwrap().problems
    };
    // Changed.
    let p = tamper(&|v| v["entries"][1]["summary"] = "something else".into());
    assert!(p.contains(&LogProblem::ChangedEntry { seq: 2 }), "{p:?}");
    // Removed.
    let p = tamper(&|v| {
        v["entries"].as_array_mut().unwrap().remove(1);
    });
    assert!(
        p.iter().any(|x| matches!(x, LogProblem::Gap { .. })) && p.contains(&LogProblem::BrokenLink { seq: 3 }),
        "{p:?}"
    );
    // Reordered.
    let p = tamper(&|v| v["entries"].as_array_mut().unwrap().swap(1, 2));
    assert!(p.contains(&LogProblem::BrokenLink { seq: 3 }), "{p:?}");
    // Truncated below the anchor.
    let p = tamper(&|v| {
        v["entries"].as_array_mut().unwrap().truncate(2);
    });
    assert_eq!(p, vec![LogProblem::Truncated { anchored_seq: 4, last_seq: 2 }]);
    // A forged anchor.
    let p = tamper(&|v| v["anchors"][0]["hash"] = v["entries"][0]["hash"].clone());
    assert_eq!(p, vec![LogProblem::BadAnchor { seq: 4 }]);
    // Another device's key.
    let p = tamper(&|v| v["device_public_key"] = "BAAA".into());
    assert_eq!(p.iter().filter(|x| matches!(x, LogProblem::BadSignature { .. })).count(), 4);
    // Not JSON.
    assert!(verify_activity_log_export("{".into()).is_err());

    // More activity after the anchor is appended and anchored again.
    clock.advance(3_600);
    core.login("739201".into()).await.ok(); // locked for a while: still logged as nothing new
    clock.advance(3_600);
    core.login("739201".into()).await.unwrap();
    core.sync_cases().await.unwrap();
    let r = core.verify_activity_log().unwrap();
    assert!(r.intact && r.anchors == 2, "{r:?}");
    server.shutdown().await;
}
