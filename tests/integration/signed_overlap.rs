//! Issue 9 item 7: overlapping signed operations through the public `CitizenCore` API. The core
//! reserves a counter before signing, so requests reach the server out of counter order; the
//! server's anti-replay window accepts each unseen counter once (ARCHITECTURE.md, counter policy).

use crate::env::{Device, Env, PASS};

const WHO: (&str, &str, &str) = ("001090000001", "1990-01-15", "0900000001");

/// The shared environment and one enrolled, logged-in device.
async fn env() -> (Env, Device) {
    let env = Env::new().await;
    let device = env.enrolled("dev", WHO).await;
    (env, device)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_concurrent_logins_all_succeed() {
    let (e, d) = env().await;
    for round in 0..5 {
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let core = d.core.clone();
            set.spawn(async move { core.account().login(PASS.into()).await });
        }
        let mut failures = Vec::new();
        while let Some(r) = set.join_next().await {
            if let Err(err) = r.unwrap() {
                failures.push(format!("{err:?}"));
            }
        }
        assert!(failures.is_empty(), "round {round}: {} of 8 logins failed: {failures:?}", failures.len());
    }
    assert!(!e.server().audit_events().iter().any(|a| a.outcome == "counter_replay"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn login_anchor_and_sync_overlap_without_refusals() {
    let (e, d) = env().await;
    for round in 0..5 {
        let (a, b, c, d) = (d.core.clone(), d.core.clone(), d.core.clone(), d.core.clone());
        let (login, anchor, sync, login2) = tokio::join!(
            tokio::spawn(async move { a.account().login(PASS.into()).await.map(|_| ()).map_err(|e| format!("{e:?}")) }),
            tokio::spawn(async move { b.activity().anchor().await.map(|_| ()).map_err(|e| format!("{e:?}")) }),
            tokio::spawn(async move { c.services().sync_cases().await.map(|_| ()).map_err(|e| format!("{e:?}")) }),
            tokio::spawn(async move { d.account().login(PASS.into()).await.map(|_| ()).map_err(|e| format!("{e:?}")) }),
        );
        for (what, r) in [("login", login), ("anchor", anchor), ("sync", sync), ("login2", login2)] {
            assert!(r.as_ref().unwrap().is_ok(), "round {round}: {what} failed: {r:?}");
        }
    }
    assert!(!e.server().audit_events().iter().any(|a| a.outcome == "counter_replay"));
    let report = d.core.activity().verify().await.unwrap();
    assert!(report.intact, "activity log after overlapping operations: {:?}", report.problems);
}
