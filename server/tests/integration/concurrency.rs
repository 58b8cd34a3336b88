//! The server's concurrency model (decision 36): requests' units of work are group-committed
//! by one writer, signatures are checked before and tokens signed after. Replays raced in
//! parallel must still win exactly once.

use citizen_protocol::protocol::{codes, Purpose, Statement};

use crate::common::*;

/// Await spawned tasks in order.
async fn join_all<T: Send + 'static>(tasks: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

const PARALLEL: usize = 24;

/// One signed login statement (same nonce, same counter) sent 24 times at once: exactly one
/// session; every other copy is refused as a used nonce (or throttled), never accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_replays_of_one_login_are_accepted_once() {
    let h = std::sync::Arc::new(start().await);
    let mut dev = Device::new();
    h.enroll(C1, &mut dev).await;
    let nonce = h.nonce(&dev, Purpose::Login).await;
    let signed = dev.sign(&h, Purpose::Login, &nonce, "");
    let tasks = (0..PARALLEL)
        .map(|_| {
            let (h, signed) = (h.clone(), signed.clone());
            tokio::spawn(async move { h.login_signed(&signed).await })
        })
        .collect();
    let answers = join_all(tasks).await;
    let ok = answers.iter().filter(|(st, _)| *st == 200).count();
    assert_eq!(ok, 1, "{answers:?}");
    for (st, b) in answers.iter().filter(|(st, _)| *st != 200) {
        assert!(matches!(b["code"].as_str(), Some(codes::NONCE_INVALID | codes::RATE_LIMITED)), "{st} {b}");
    }
}

/// 24 fresh nonces, each signed with the SAME counter, sent at once: the counter window lets
/// exactly one through; the others are counter replays.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_logins_reusing_one_counter_are_accepted_once() {
    let h = std::sync::Arc::new(start().await);
    let mut dev = Device::new();
    h.enroll(C2, &mut dev).await;
    let counter = dev.counter + 1;
    let mut signed = Vec::new();
    for _ in 0..PARALLEL {
        let nonce = h.nonce(&dev, Purpose::Login).await;
        signed.push(dev.sign_statement(Statement {
            purpose: Purpose::Login,
            audience: h.server.audience.clone(),
            nonce,
            device_id: dev.id.clone(),
            counter,
            issued_at: h.now(),
            subject: String::new(),
        }));
    }
    let tasks = signed
        .into_iter()
        .map(|s| {
            let h = h.clone();
            tokio::spawn(async move { h.login_signed(&s).await })
        })
        .collect();
    let answers = join_all(tasks).await;
    assert_eq!(answers.iter().filter(|(st, _)| *st == 200).count(), 1, "{answers:?}");
    for (st, b) in answers.iter().filter(|(st, _)| *st != 200) {
        assert!(matches!(b["code"].as_str(), Some(codes::COUNTER_REPLAY | codes::RATE_LIMITED)), "{st} {b}");
    }
}

/// Many devices logging in at once all succeed, each once, with their own counters (the
/// writer serialises units; nothing is lost or doubled in a group commit).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_logins_of_different_devices_all_succeed() {
    let h = std::sync::Arc::new(start().await);
    let mut devs = Vec::new();
    for c in [C1, C2, C3, C4, C8] {
        let mut d = Device::new();
        h.enroll(c, &mut d).await;
        devs.push(d);
    }
    let mut signed = Vec::new();
    for d in &mut devs {
        for _ in 0..4 {
            let nonce = h.nonce(d, Purpose::Login).await;
            signed.push(d.sign(&h, Purpose::Login, &nonce, ""));
        }
    }
    let tasks = signed
        .into_iter()
        .map(|s| {
            let h = h.clone();
            tokio::spawn(async move { h.login_signed(&s).await })
        })
        .collect();
    let answers = join_all(tasks).await;
    assert!(answers.iter().all(|(st, _)| *st == 200), "{answers:?}");
    let sessions: std::collections::HashSet<_> =
        answers.iter().map(|(_, b)| b["session_id"].as_str().unwrap().to_string()).collect();
    assert_eq!(sessions.len(), 20);
}

/// A login is one unit of work: one commit for the challenge, one for the login (nonce,
/// counter, failure reset, session, refresh token and audit together) — four commits before.
#[tokio::test]
async fn a_login_commits_once() {
    let h = start().await;
    let mut dev = Device::new();
    h.enroll(C3, &mut dev).await;
    let nonce = h.nonce(&dev, Purpose::Login).await;
    let signed = dev.sign(&h, Purpose::Login, &nonce, "");
    let before = h.server.db_commits();
    let (st, b) = h.login_signed(&signed).await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(h.server.db_commits() - before, 1);
    // A refused login commits once too (the consumed nonce and the recorded failure).
    let (st, b) = h.login_signed(&signed).await;
    assert_eq!((st, b["code"].as_str()), (401, Some(codes::NONCE_INVALID)));
    assert_eq!(h.server.db_commits() - before, 2);
}

/// Failed logins from one address at once, three times the per-address limit, spread over
/// devices that stay under their own limit: exactly `limit` are refused for themselves
/// (`nonce_invalid`) and every other is throttled (`rate_limited`) — concurrent failures cannot
/// slip past the throttle together. With PostgreSQL (`CITIZEN_TEST_POSTGRES_URL`) logins are
/// keyed units that overlap (decision 47): each failure is counted under the throttle key's
/// lock, so the same count holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_failures_from_one_address_stop_exactly_at_the_limit() {
    let limits =
        citizen_server::config::Limits { failures_per_address: 6, failures_per_device: 100, ..Default::default() };
    let h = std::sync::Arc::new(start_with(limits).await);
    let mut devs = Vec::new();
    for c in [C1, C2, C3] {
        let mut d = Device::new();
        h.enroll(c, &mut d).await;
        devs.push(d);
    }
    let mut signed = Vec::new();
    for i in 0..18 {
        let d = &mut devs[i % 3];
        signed.push(d.sign(&h, Purpose::Login, &format!("never-issued-{i}"), ""));
    }
    let tasks = signed
        .into_iter()
        .map(|s| {
            let h = h.clone();
            tokio::spawn(async move { h.login_signed(&s).await })
        })
        .collect();
    let answers = join_all(tasks).await;
    let refused = answers.iter().filter(|(st, b)| *st == 401 && b["code"] == codes::NONCE_INVALID).count();
    let throttled = answers.iter().filter(|(st, b)| *st == 429 && b["code"] == codes::RATE_LIMITED).count();
    assert_eq!((refused, throttled), (6, 12), "{answers:?}");
    // And the window stays full: a correct login from the same address is throttled too.
    let nonce = h.nonce(&devs[0], Purpose::Login).await;
    let ok = devs[0].sign(&h, Purpose::Login, &nonce, "");
    let (st, b) = h.login_signed(&ok).await;
    assert_eq!((st, b["code"].as_str()), (429, Some(codes::RATE_LIMITED)), "{b}");
}

/// One refresh token presented 12 times at once: one rotation; every other copy is a detected
/// reuse, which ends the session, so the rotated token is refused too.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_refreshes_of_one_token_rotate_once_and_detect_every_reuse() {
    let h = std::sync::Arc::new(start().await);
    let mut dev = Device::new();
    h.enroll(C4, &mut dev).await;
    let tokens = h.login(&mut dev).await;
    let rt = tokens["refresh_token"].as_str().unwrap().to_string();
    let tasks = (0..12)
        .map(|_| {
            let (h, rt) = (h.clone(), rt.clone());
            tokio::spawn(async move { h.refresh(&rt).await })
        })
        .collect();
    let answers = join_all(tasks).await;
    let rotated: Vec<_> = answers.iter().filter(|(st, _)| *st == 200).collect();
    let reused = answers.iter().filter(|(st, b)| *st == 401 && b["code"] == codes::REFRESH_REUSED).count();
    assert_eq!((rotated.len(), reused), (1, 11), "{answers:?}");
    let next = rotated[0].1["refresh_token"].as_str().unwrap();
    let (st, _) = h.refresh(next).await;
    assert_eq!(st, 401);
}
