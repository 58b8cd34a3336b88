//! Issue 9 item 7: overlapping signed operations through the public `CitizenCore` API. The core
//! reserves a counter before signing, so requests reach the server out of counter order; the
//! server's anti-replay window accepts each unseen counter once (ARCHITECTURE.md, counter policy).

use std::sync::Arc;

use citizen_core::clock::ManualClock;
use citizen_core::platform::software::{MemoryKeyStore, MemoryKeyWrapper};
use citizen_core::{default_core_config, CitizenCore};
use citizen_server::{MemoryOtpOutbox, RunningServer, ServerConfig};

const PASS: &str = "482916";
const WHO: (&str, &str, &str) = ("001090000001", "1990-01-15", "0900000001");

struct Env {
    server: RunningServer,
    core: Arc<CitizenCore>,
    _dir: tempfile::TempDir,
}

async fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let outbox = Arc::new(MemoryOtpOutbox::new());
    let clock = ManualClock::new();
    let server =
        citizen_server::start(ServerConfig::loopback_dev(dir.path().join("server"), outbox.clone(), clock.clone()))
            .await
            .unwrap();
    let mut c = default_core_config(server.base_url.clone(), dir.path().join("dev").to_string_lossy().into_owned());
    c.trust_anchors_pem = vec![server.ca_cert_pem.clone()];
    c.spki_pins = vec![server.spki_pin.clone(), server.backup_spki_pin.clone()];
    c.platform = "test".into();
    c.device_label = "test device".into();
    let core =
        CitizenCore::with_clock(c, Arc::new(MemoryKeyStore::new()), Arc::new(MemoryKeyWrapper::new()), clock).unwrap();
    citizen_server::testing::enroll_and_login(&core, &outbox, WHO, PASS).await;
    Env { server, core, _dir: dir }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_concurrent_logins_all_succeed() {
    let e = env().await;
    for round in 0..5 {
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let core = e.core.clone();
            set.spawn(async move { core.login(PASS.into()).await });
        }
        let mut failures = Vec::new();
        while let Some(r) = set.join_next().await {
            if let Err(err) = r.unwrap() {
                failures.push(format!("{err:?}"));
            }
        }
        assert!(failures.is_empty(), "round {round}: {} of 8 logins failed: {failures:?}", failures.len());
    }
    assert!(!e.server.audit_events().iter().any(|a| a.outcome == "counter_replay"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn login_anchor_and_sync_overlap_without_refusals() {
    let e = env().await;
    for round in 0..5 {
        let (a, b, c, d) = (e.core.clone(), e.core.clone(), e.core.clone(), e.core.clone());
        let (login, anchor, sync, login2) = tokio::join!(
            tokio::spawn(async move { a.login(PASS.into()).await.map(|_| ()).map_err(|e| format!("{e:?}")) }),
            tokio::spawn(async move { b.anchor_activity_log().await.map(|_| ()).map_err(|e| format!("{e:?}")) }),
            tokio::spawn(async move { c.sync_cases().await.map(|_| ()).map_err(|e| format!("{e:?}")) }),
            tokio::spawn(async move { d.login(PASS.into()).await.map(|_| ()).map_err(|e| format!("{e:?}")) }),
        );
        for (what, r) in [("login", login), ("anchor", anchor), ("sync", sync), ("login2", login2)] {
            assert!(r.as_ref().unwrap().is_ok(), "round {round}: {what} failed: {r:?}");
        }
    }
    assert!(!e.server.audit_events().iter().any(|a| a.outcome == "counter_replay"));
    let report = e.core.verify_activity_log().unwrap();
    assert!(report.intact, "activity log after overlapping operations: {:?}", report.problems);
}
