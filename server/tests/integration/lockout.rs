//! Issue 9: nobody can lock a citizen out with public identifiers (device ids are not secret),
//! failed anchors are counted and attributed, a lock by an official ends the sessions, high-S
//! twins are refused, and the anti-replay window accepts overlapping signed operations.

use crate::common::*;
use citizen_protocol::activity::PATH_ANCHOR;
use citizen_protocol::crypto::{b64, unb64};
use citizen_protocol::protocol::services::{self as ps, SubmissionPayload};
use citizen_protocol::protocol::{self as p, Purpose, SignedStatement, Statement};
use p256::ecdsa::Signature;
use serde_json::{json, Value};

const OFFICIAL: &str = "x-official-token";

fn retry_after(headers: &reqwest::header::HeaderMap) -> i64 {
    headers
        .get(reqwest::header::RETRY_AFTER)
        .expect("429 carries Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After in seconds")
}

/// The high-S twin `(r, n − s)` of a low-S base64url raw signature: valid ECDSA for the same
/// message and key.
fn high_s_twin(sig_b64: &str) -> String {
    let sig = Signature::from_slice(&unb64(sig_b64).unwrap()).unwrap();
    let (r, s) = sig.split_scalars();
    let twin = Signature::from_scalars(r, -s).unwrap();
    assert!(twin.normalize_s().is_some(), "the twin is the high one");
    b64(&twin.to_bytes())
}

fn forged_login(h: &Harness, dev: &Device) -> Value {
    json!({"signed": {"statement": {"purpose": "login", "audience": h.server.audience, "nonce": "x",
        "device_id": dev.id, "counter": 1, "issued_at": h.now(), "subject": ""}, "signature": "AA"}})
}

/// Send `n` forged requests; every answer is the forgery's own refusal or 429 `rate_limited`
/// with a Retry-After. Returns (refusals, throttled, largest Retry-After).
async fn flood(
    h: &Harness,
    n: usize,
    path: &str,
    refusal: &str,
    body: impl Fn(&Harness, usize) -> Value,
) -> (usize, usize, i64) {
    let (mut refused, mut throttled, mut wait) = (0, 0, 0);
    for i in 0..n {
        let (st, headers, b) = h.post_full(path, body(h, i), None).await;
        match st {
            429 => {
                assert_eq!(b["code"], "rate_limited", "{b}");
                wait = wait.max(retry_after(&headers));
                throttled += 1;
            }
            _ => {
                assert_eq!(b["code"], refusal, "{st} {b}");
                refused += 1;
            }
        }
    }
    (refused, throttled, wait)
}

/// The genuine device logs in after a flood: refused only by a throttle (429 with Retry-After,
/// never 423) while the window lasts, then accepted once the clock passes it. Loopback puts the
/// flooder and the citizen on the same client address (and the same device id), so the honest
/// expectation is "throttled, then served" rather than "served at once".
async fn genuine_login_after_the_window(h: &Harness, dev: &mut Device) {
    let n = h.nonce(dev, Purpose::Login).await;
    let s = dev.sign(h, Purpose::Login, &n, "");
    let (st, headers, b) = h.post_full(p::PATH_LOGIN, json!({ "signed": s }), None).await;
    assert_ne!(st, 423, "a flood of forgeries must not lock the account: {b}");
    if st == 429 {
        assert_eq!(b["code"], "rate_limited");
        h.clock.advance(retry_after(&headers));
        h.login(dev).await;
    } else {
        assert_eq!(st, 200, "{b}");
    }
}

#[tokio::test]
async fn forged_logins_naming_a_device_never_lock_the_account() {
    let h = start().await;
    let mut dev = Device::new();
    let acc = h.enroll(C1, &mut dev).await;
    let (refused, throttled, wait) = flood(&h, 100, p::PATH_LOGIN, "nonce_invalid", |h, _| forged_login(h, &dev)).await;
    assert_eq!(h.server.account_locked(&acc), Some(false), "unknown nonces and garbage signatures never lock");
    assert!(throttled > 0 && refused > 0, "the flooder is throttled ({refused} refused, {throttled} throttled)");
    assert!(wait > 0 && wait <= 600, "short window: {wait}");
    genuine_login_after_the_window(&h, &mut dev).await;
    assert_eq!(h.server.account_locked(&acc), Some(false));
}

#[tokio::test]
async fn forged_signatures_on_issued_nonces_never_lock_either() {
    // The challenge endpoint issues nonces to whoever names a device id, so a failure on an
    // issued nonce is counted and attributed, yet it must not lock the account either.
    let h = start().await;
    let mut dev = Device::new();
    let acc = h.enroll(C2, &mut dev).await;
    let forger = Device::new();
    let (mut throttled, mut counted) = (0, 0);
    for _ in 0..100 {
        let n = h.nonce(&dev, Purpose::Login).await;
        let st = Statement {
            purpose: Purpose::Login,
            audience: h.server.audience.clone(),
            nonce: n,
            device_id: dev.id.clone(),
            counter: 1_000,
            issued_at: h.now(),
            subject: String::new(),
        };
        let (code, _, b) = h.post_full(p::PATH_LOGIN, json!({"signed": forger.sign_statement(st)}), None).await;
        match code {
            429 => throttled += 1,
            401 => {
                assert_eq!(b["code"], "signature_invalid");
                counted += 1
            }
            _ => panic!("{code} {b}"),
        }
    }
    assert_eq!(h.server.account_locked(&acc), Some(false));
    assert!(throttled > 0 && counted > 0);
    let named = h
        .server
        .audit_events()
        .iter()
        .filter(|e| e.device_id.as_deref() == Some(dev.id.as_str()) && e.outcome == "signature_invalid")
        .count();
    assert_eq!(named, counted, "every counted failure is attributed to the device");
    genuine_login_after_the_window(&h, &mut dev).await;
}

#[tokio::test]
async fn the_throttle_keys_on_the_client_address_and_on_the_device() {
    let h = start().await;
    let mut dev = Device::new();
    h.enroll(C4, &mut dev).await;
    // Another client address on loopback floods with device ids it makes up: only its address
    // key fills (limit 50 per window), so it is throttled…
    let other = client_bound(&h.server.ca_cert_pem, Some("127.0.0.2".parse().unwrap()));
    let mut throttled = 0;
    for _ in 0..60 {
        let ghost = Device::new();
        let r = other
            .post(format!("{}{}", h.server.base_url, p::PATH_LOGIN))
            .json(&forged_login(&h, &ghost))
            .send()
            .await
            .unwrap();
        if r.status().as_u16() == 429 {
            assert!(r.headers().contains_key(reqwest::header::RETRY_AFTER));
            throttled += 1;
        }
    }
    assert_eq!(throttled, 10, "51st to 60th attempt from that address are throttled");
    // …while the genuine device on 127.0.0.1 is served at once: different address, and its
    // device key saw no failure.
    h.login(&mut dev).await;
    // Naming the genuine device id from the other address fills the device key (limit 20 per
    // window) instead: then the genuine client waits out the window too (429, never a lock).
    h.clock.advance(61);
    for _ in 0..20 {
        let r = other
            .post(format!("{}{}", h.server.base_url, p::PATH_LOGIN))
            .json(&forged_login(&h, &dev))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401);
    }
    let n = h.nonce(&dev, Purpose::Login).await;
    let s = dev.sign(&h, Purpose::Login, &n, "");
    let (st, headers, b) = h.post_full(p::PATH_LOGIN, json!({ "signed": s }), None).await;
    assert_eq!((st, b["code"].as_str()), (429, Some("rate_limited")));
    h.clock.advance(retry_after(&headers));
    h.login(&mut dev).await;
}

fn forged_submission(h: &Harness, dev: &Device) -> Value {
    let payload = SubmissionPayload {
        submission_id: uuid::Uuid::new_v4().to_string(),
        procedure_id: "residence-notification".into(),
        procedure_version: 1,
        values: Default::default(),
        attachments: vec![],
        supplements_case: None,
        on_behalf: None,
    };
    let st = Statement {
        purpose: Purpose::Submit,
        audience: h.server.audience.clone(),
        nonce: payload.submission_id.clone(),
        device_id: dev.id.clone(),
        counter: 1,
        issued_at: h.now(),
        subject: payload.digest_hex(),
    };
    json!({"payload": payload, "signed": SignedStatement { statement: st, signature: "AA".into() }, "attachment_data": {}})
}

#[tokio::test]
async fn garbage_submissions_without_a_bearer_never_lock_the_account() {
    let h = start().await;
    let mut dev = Device::new();
    let acc = h.enroll(C3, &mut dev).await;
    let (_, throttled, _) =
        flood(&h, 100, ps::PATH_SUBMISSIONS, "signature_invalid", |h, _| forged_submission(h, &dev)).await;
    assert_eq!(h.server.account_locked(&acc), Some(false));
    assert!(throttled > 0, "the flooder is throttled");
    genuine_login_after_the_window(&h, &mut dev).await;
}

fn forged_anchor(h: &Harness, dev: &Device, i: usize) -> Value {
    let hash = format!("{:064x}", i + 1);
    let st = Statement {
        purpose: Purpose::Activity,
        audience: h.server.audience.clone(),
        nonce: hash.clone(),
        device_id: dev.id.clone(),
        counter: 1_000 + i as u64,
        issued_at: h.now(),
        subject: "anchor:1".into(),
    };
    json!({"seq": 1, "hash": hash, "signed": SignedStatement { statement: st, signature: "AA".into() }})
}

#[tokio::test]
async fn forged_anchors_are_counted_attributed_and_throttled() {
    let h = start().await;
    let mut dev = Device::new();
    let acc = h.enroll(C4, &mut dev).await;
    let (refused, throttled, _) =
        flood(&h, 150, PATH_ANCHOR, "signature_invalid", |h, i| forged_anchor(h, &dev, i)).await;
    let named: Vec<_> = h
        .server
        .audit_events()
        .into_iter()
        .filter(|e| e.device_id.as_deref() == Some(dev.id.as_str()) && e.event.contains("activity"))
        .collect();
    assert!(
        named.iter().filter(|e| e.outcome == "signature_invalid").count() == refused && refused > 0,
        "each failed anchor leaves an audit row naming the device ({refused} refused, {} rows)",
        named.len()
    );
    assert!(throttled > 0, "the flooder is throttled");
    assert_eq!(h.server.account_locked(&acc), Some(false));
    genuine_login_after_the_window(&h, &mut dev).await;
}

async fn lock(h: &Harness, cccd: &str, locked: bool) -> (u16, Value) {
    let resp = h
        .http
        .post(format!("{}/v1/official/accounts/lock", h.server.base_url))
        .header(OFFICIAL, &h.server.official_token)
        .json(&json!({"cccd": cccd, "locked": locked}))
        .send()
        .await
        .unwrap();
    let st = resp.status().as_u16();
    (st, resp.json().await.unwrap())
}

#[tokio::test]
async fn an_official_lock_ends_the_sessions_and_refuses_the_old_tokens() {
    let h = start().await;
    let mut dev = Device::new();
    let acc = h.enroll(C8, &mut dev).await;
    let t = h.login(&mut dev).await;
    let (access, refresh) = (t["access_token"].as_str().unwrap(), t["refresh_token"].as_str().unwrap());
    assert_eq!(h.get(p::PATH_DEVICES, Some(access)).await.0, 200);

    // Without the officials' token: refused.
    let resp = h
        .http
        .post(format!("{}/v1/official/accounts/lock", h.server.base_url))
        .json(&json!({"cccd": C8.0, "locked": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    assert_eq!(h.get(p::PATH_DEVICES, Some(access)).await.0, 200);

    let (st, b) = lock(&h, C8.0, true).await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(h.server.account_locked(&acc), Some(true));
    let (st, b) = h.get(p::PATH_DEVICES, Some(access)).await;
    assert_eq!((st, b["code"].as_str()), (423, Some("account_locked")), "old access token refused");
    let (st, b) = h.refresh(refresh).await;
    assert_eq!((st, b["code"].as_str()), (423, Some("account_locked")), "old refresh token refused");
    let n = h.nonce(&dev, Purpose::Login).await;
    let s = dev.sign(&h, Purpose::Login, &n, "");
    let (st, b) = h.login_signed(&s).await;
    assert_eq!((st, b["code"].as_str()), (423, Some("account_locked")));
    assert!(h
        .server
        .audit_events()
        .iter()
        .any(|e| e.event == "account_locked" && e.account_id.as_deref() == Some(&acc)));

    // Unlocking does not revive the old session: the citizen logs in again.
    let (st, _) = lock(&h, C8.0, false).await;
    assert_eq!(st, 200);
    assert_eq!(h.server.account_locked(&acc), Some(false));
    let (st, b) = h.refresh(refresh).await;
    assert_eq!((st, b["code"].as_str()), (401, Some("session_expired")));
    let (st, _) = h.get(p::PATH_DEVICES, Some(access)).await;
    assert_eq!(st, 401);
    h.login(&mut dev).await;
    let (st, b) = lock(&h, "001099999999", true).await;
    assert_eq!((st, b["code"].as_str()), (404, Some("no_match")));
}

#[tokio::test]
async fn high_s_twins_of_statements_and_tokens_are_refused() {
    let h = start().await;
    let mut dev = Device::new();
    h.enroll(C1, &mut dev).await;
    // The twin of a valid login statement, sent instead of it.
    let n = h.nonce(&dev, Purpose::Login).await;
    let mut s = dev.sign(&h, Purpose::Login, &n, "");
    s.signature = high_s_twin(&s.signature);
    let (st, b) = h.login_signed(&s).await;
    assert_eq!((st, b["code"].as_str()), (401, Some("signature_invalid")), "high-S statement accepted");

    // The twin of a valid access token.
    let t = h.login(&mut dev).await;
    let access = t["access_token"].as_str().unwrap();
    let (input, sig) = access.rsplit_once('.').unwrap();
    assert!(Signature::from_slice(&unb64(sig).unwrap()).unwrap().normalize_s().is_none(), "server signs low-S");
    let twin = format!("{input}.{}", high_s_twin(sig));
    assert_eq!(h.get(p::PATH_DEVICES, Some(access)).await.0, 200);
    let (st, b) = h.get(p::PATH_DEVICES, Some(&twin)).await;
    assert_eq!((st, b["code"].as_str()), (401, Some("token_invalid")), "high-S access token accepted");
}

#[tokio::test]
async fn the_anti_replay_window_accepts_out_of_order_counters_once() {
    let h = start().await;
    let mut dev = Device::new();
    h.enroll(C2, &mut dev).await;
    let login_with = |counter: u64| {
        let h = &h;
        let dev = &dev;
        async move {
            let n = h.nonce(dev, Purpose::Login).await;
            let st = Statement {
                purpose: Purpose::Login,
                audience: h.server.audience.clone(),
                nonce: n,
                device_id: dev.id.clone(),
                counter,
                issued_at: h.now(),
                subject: String::new(),
            };
            let (st, b) = h.login_signed(&dev.sign_statement(st)).await;
            (st, b["code"].as_str().unwrap_or("").to_string())
        }
    };
    // Two operations reserved counters 10 and 11; 11 arrives first.
    assert_eq!(login_with(11).await.0, 200);
    assert_eq!(login_with(10).await.0, 200, "an unseen counter below the highest is accepted");
    assert_eq!(login_with(10).await, (401, "counter_replay".into()), "…once");
    assert_eq!(login_with(11).await, (401, "counter_replay".into()));
    // The window is 64 wide below the highest.
    assert_eq!(login_with(100).await.0, 200);
    assert_eq!(login_with(36).await, (401, "counter_replay".into()), "too old: 100 − 64");
    assert_eq!(login_with(37).await.0, 200, "oldest counter inside the window");
    assert_eq!(login_with(37).await, (401, "counter_replay".into()));
    // A jump larger than the window clears it.
    assert_eq!(login_with(1_000).await.0, 200);
    assert_eq!(login_with(999).await.0, 200);
    assert_eq!(login_with(100).await, (401, "counter_replay".into()));
    assert_eq!(login_with(0).await, (401, "counter_replay".into()));

    // Concurrency: 16 logins with distinct counters sent at once in reverse order all succeed;
    // then 8 at once with the same counter: exactly one succeeds.
    let batch = |counters: Vec<u64>| {
        let (h, dev) = (&h, &dev);
        async move {
            let mut signed = Vec::new();
            for counter in counters {
                let nonce = h.nonce(dev, Purpose::Login).await;
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
            let mut set = tokio::task::JoinSet::new();
            for s in signed {
                let (http, url) = (h.http.clone(), format!("{}{}", h.server.base_url, p::PATH_LOGIN));
                set.spawn(async move {
                    let r = http.post(url).json(&json!({ "signed": s })).send().await.unwrap();
                    let st = r.status().as_u16();
                    (st, r.json::<Value>().await.unwrap())
                });
            }
            let mut results = Vec::new();
            while let Some(r) = set.join_next().await {
                results.push(r.unwrap());
            }
            results
        }
    };
    let results = batch((1_001..=1_016).rev().collect()).await;
    assert!(results.iter().all(|(st, _)| *st == 200), "{:?}", results.iter().map(|r| r.0).collect::<Vec<_>>());
    let results = batch(vec![2_000; 8]).await;
    assert_eq!(results.iter().filter(|(st, _)| *st == 200).count(), 1);
    assert!(results.iter().all(|(st, b)| *st == 200 || b["code"] == "counter_replay"));
}
