//! Challenge–response login and the shared signed-statement checks.

use crate::common::*;
use citizen_protocol::protocol::{self as p, Purpose};
use citizen_server::Limits;
use serde_json::json;

fn jwt_claims(token: &str) -> serde_json::Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&citizen_protocol::crypto::unb64(payload).unwrap()).unwrap()
}

#[tokio::test]
async fn happy_path_enroll_login_devices_refresh_logout() {
    let h = start().await;
    let mut dev = Device::new();
    let acc = h.enroll(C1, &mut dev).await;
    // The harness clock follows the system clock (plus test offsets), so the login may land in
    // either second around the call.
    let before = h.now();
    let t = h.login(&mut dev).await;
    let access = t["access_token"].as_str().unwrap();
    let after = h.now();
    let issued = t["access_expires_at"].as_i64().unwrap() - 300;
    assert!((before..=after).contains(&issued), "{before} ≤ {issued} ≤ {after}");
    assert_eq!(t["idle_expires_at"].as_i64().unwrap(), issued + 3600);
    assert_eq!(t["absolute_expires_at"].as_i64().unwrap(), issued + 86_400);
    let claims = jwt_claims(access);
    assert_eq!(claims["sub"], acc.as_str());
    assert_eq!(claims["aud"], "citizen-api");
    assert_eq!(claims["iss"], h.server.audience.as_str());
    assert_eq!(claims["did"], dev.id.as_str());
    assert_eq!(claims["sid"], t["session_id"]);
    assert!(!acc.contains("001090000001"));

    let (st, b) = h.get(p::PATH_DEVICES, Some(access)).await;
    assert_eq!(st, 200, "{b}");
    let d = &b["devices"][0];
    assert_eq!((d["device_id"].as_str(), d["status"].as_str()), (Some(dev.id.as_str()), Some("active")));
    assert_eq!(d["last_login_at"].as_i64(), Some(issued));

    let (st, t2) = h.refresh(t["refresh_token"].as_str().unwrap()).await;
    assert_eq!(st, 200, "{t2}");
    assert_ne!(t2["refresh_token"], t["refresh_token"]);
    assert_eq!(t2["session_id"], t["session_id"]);
    let access2 = t2["access_token"].as_str().unwrap();
    assert_eq!(h.get(p::PATH_DEVICES, Some(access2)).await.0, 200);

    let (st, b) = h.post(p::PATH_LOGOUT, json!({}), Some(access2)).await;
    assert_eq!((st, b), (200, json!({"ok": true})));
    let (st, b) = h.get(p::PATH_DEVICES, Some(access2)).await;
    assert_eq!((st, b["code"].as_str()), (401, Some("session_expired")));
    let (st, b) = h.refresh(t2["refresh_token"].as_str().unwrap()).await;
    assert_eq!((st, b["code"].as_str()), (401, Some("session_expired")));

    // Passcode reset in the same run, so the audit check below sees its OTP too.
    let (st, r) = h.post(p::PATH_RESET_START, json!({"device_id": dev.id}), None).await;
    assert_eq!(st, 200, "{r}");
    let reset_id = r["reset_id"].as_str().unwrap().to_string();
    let reset_otp = h.outbox.last_otp(&reset_id).unwrap();
    let signed = dev.sign(&h, Purpose::PasscodeReset, &reset_id, "");
    let (st, b) =
        h.post(p::PATH_RESET_COMPLETE, json!({"reset_id": reset_id, "otp": reset_otp, "signed": signed}), None).await;
    assert_eq!((st, b), (200, json!({"ok": true})));

    // The audit log holds no personal data or secrets.
    let events = h.server.audit_events();
    let names: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    for e in ["enroll_start", "enroll_complete", "login", "refresh", "logout", "passcode_reset"] {
        assert!(names.contains(&e), "{names:?}");
    }
    let dump = format!("{events:?}");
    for secret in [
        "001090000001",
        "+84900000001",
        "900000001",
        &reset_otp,
        access,
        access2,
        t["refresh_token"].as_str().unwrap(),
        t2["refresh_token"].as_str().unwrap(),
        &reset_id,
    ] {
        assert!(!dump.contains(secret), "audit log leaks {secret}");
    }
    // Nor does the database file hold tokens or OTPs in clear.
    let db = std::fs::read(h.dir.path().join("citizen-server.db")).unwrap();
    let db = String::from_utf8_lossy(&db);
    for secret in [t["refresh_token"].as_str().unwrap(), t2["refresh_token"].as_str().unwrap(), &reset_otp] {
        assert!(!db.contains(secret));
    }
}

#[tokio::test]
async fn signed_statement_checks() {
    let h = start().await;
    let mut dev = Device::new();
    h.enroll(C2, &mut dev).await;

    // Replayed nonce: the same signed statement twice.
    let n = h.nonce(&dev, Purpose::Login).await;
    let s1 = dev.sign(&h, Purpose::Login, &n, "");
    assert_eq!(h.login_signed(&s1).await.0, 200);
    let (st, b) = h.login_signed(&s1).await;
    assert_eq!((st, b["code"].as_str()), (401, Some("nonce_invalid")));

    // Repeated counter with a fresh nonce.
    let n = h.nonce(&dev, Purpose::Login).await;
    let mut stmt = dev.sign(&h, Purpose::Login, &n, "").statement;
    stmt.counter = s1.statement.counter;
    let (st, b) = h.login_signed(&dev.sign_statement(stmt)).await;
    assert_eq!((st, b["code"].as_str()), (401, Some("counter_replay")));

    // Another audience.
    let n = h.nonce(&dev, Purpose::Login).await;
    let mut stmt = dev.sign(&h, Purpose::Login, &n, "").statement;
    stmt.audience = "https://other-server.example".into();
    let (st, b) = h.login_signed(&dev.sign_statement(stmt)).await;
    assert_eq!((st, b["code"].as_str()), (401, Some("audience_mismatch")));

    // Another purpose on the login endpoint.
    let n = h.nonce(&dev, Purpose::Login).await;
    let s = dev.sign(&h, Purpose::RevokeDevice, &n, &dev.id.clone());
    let (st, b) = h.login_signed(&s).await;
    assert_eq!((st, b["code"].as_str()), (400, Some("purpose_mismatch")));

    // A nonce issued for revocation cannot be used to log in.
    let n = h.nonce(&dev, Purpose::RevokeDevice).await;
    let s = dev.sign(&h, Purpose::Login, &n, "");
    let (st, b) = h.login_signed(&s).await;
    assert_eq!((st, b["code"].as_str()), (401, Some("purpose_mismatch")));

    // Expired nonce.
    let n = h.nonce(&dev, Purpose::Login).await;
    h.clock.advance(61);
    let s = dev.sign(&h, Purpose::Login, &n, "");
    let (st, b) = h.login_signed(&s).await;
    assert_eq!((st, b["code"].as_str()), (401, Some("nonce_expired")));

    // Clock skew.
    let n = h.nonce(&dev, Purpose::Login).await;
    let mut stmt = dev.sign(&h, Purpose::Login, &n, "").statement;
    stmt.issued_at += 400;
    let (st, b) = h.login_signed(&dev.sign_statement(stmt)).await;
    assert_eq!((st, b["code"].as_str()), (401, Some("clock_skew")));

    // Bad signature (signed by another key); the nonce is consumed anyway.
    let n = h.nonce(&dev, Purpose::Login).await;
    let mut stmt = dev.sign(&h, Purpose::Login, &n, "").statement;
    let other = Device::new();
    let (st, b) = h.login_signed(&other.sign_statement(stmt.clone())).await;
    assert_eq!((st, b["code"].as_str()), (401, Some("signature_invalid")));
    stmt.counter += 1;
    dev.counter += 1;
    let (st, b) = h.login_signed(&dev.sign_statement(stmt)).await;
    assert_eq!((st, b["code"].as_str()), (401, Some("nonce_invalid")));

    // Unknown device / unknown nonce.
    let mut ghost = Device::new();
    let (st, b) = h.challenge(&ghost, Purpose::Login).await;
    assert_eq!((st, b["code"].as_str()), (404, Some("unknown_device")));
    let s = ghost.sign(&h, Purpose::Login, "made-up", "");
    let (st, b) = h.login_signed(&s).await;
    assert_eq!((st, b["code"].as_str()), (404, Some("unknown_device")));
    let s = dev.sign(&h, Purpose::Login, "made-up-nonce", "");
    let (st, b) = h.login_signed(&s).await;
    assert_eq!((st, b["code"].as_str()), (401, Some("nonce_invalid")));

    // Still able to log in normally afterwards.
    h.login(&mut dev).await;
}

async fn bad_login(h: &Harness, dev: &mut Device) {
    let n = h.nonce(dev, Purpose::Login).await;
    let mut s = dev.sign(h, Purpose::Login, &n, "");
    s.statement.subject = "tampered".into();
    let (st, b) = h.login_signed(&s).await;
    assert_eq!((st, b["code"].as_str()), (401, Some("signature_invalid")));
}

#[tokio::test]
async fn failed_signatures_are_throttled_never_locked() {
    // Issue 9: a signature cannot be guessed, so failures throttle (429 + Retry-After) for a
    // short window and never lock the account.
    let h = start_with(Limits { failures_per_device: 3, failure_window_secs: 30, ..Limits::default() }).await;
    let mut dev = Device::new();
    let acc = h.enroll(C3, &mut dev).await;
    bad_login(&h, &mut dev).await;
    bad_login(&h, &mut dev).await;
    bad_login(&h, &mut dev).await;
    // The window is full: even the genuine device waits (the throttle cannot tell it apart),
    // and its nonce is not consumed by the refusal.
    let n = h.nonce(&dev, Purpose::Login).await;
    let s = dev.sign(&h, Purpose::Login, &n, "");
    let resp = h
        .http
        .post(format!("{}{}", h.server.base_url, p::PATH_LOGIN))
        .json(&json!({"signed": s}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    let retry: i64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=30).contains(&retry), "{retry}");
    let b: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(b["code"], "rate_limited");
    assert_eq!(h.server.account_locked(&acc), Some(false));
    assert!(!h.server.audit_events().iter().any(|e| e.event == "account_locked"));
    h.clock.advance(retry);
    assert_eq!(h.login_signed(&s).await.0, 200, "same nonce, after the window");

    // Limits are validated: a zero limit or a window longer than an hour is refused.
    for limits in [
        Limits { failures_per_device: 0, ..Limits::default() },
        Limits { failures_per_address: 0, ..Limits::default() },
        Limits { failure_window_secs: 3601, ..Limits::default() },
        Limits { failure_window_secs: 0, ..Limits::default() },
    ] {
        let dir = tempfile::tempdir().unwrap();
        let r = citizen_server::start(citizen_server::ServerConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: dir.path().to_path_buf(),
            public_url: None,
            tls: citizen_server::TlsSource::Generate { hostnames: vec![] },
            otp_sender: std::sync::Arc::new(citizen_server::MemoryOtpOutbox::new()),
            clock: citizen_protocol::clock::ManualClock::new(),
            limits,
            database: None,
        })
        .await;
        assert!(r.is_err());
    }
}

#[tokio::test]
async fn passcode_reset_rules() {
    let h = start().await;
    let mut dev = Device::new();
    h.enroll(C4, &mut dev).await;
    let (st, r) = h.post(p::PATH_RESET_START, json!({"device_id": dev.id}), None).await;
    assert_eq!(st, 200);
    assert_eq!(r["masked_phone"], "+84 ••• ••• 004");
    let rid = r["reset_id"].as_str().unwrap().to_string();
    let otp = h.outbox.last_otp(&rid).unwrap();
    let wrong = if otp == "111111" { "222222" } else { "111111" };
    let signed = dev.sign(&h, Purpose::PasscodeReset, &rid, "");
    let (st, b) = h.post(p::PATH_RESET_COMPLETE, json!({"reset_id": rid, "otp": wrong, "signed": signed}), None).await;
    assert_eq!((st, b["code"].as_str(), b["attempts_left"].as_u64()), (401, Some("otp_invalid"), Some(4)));
    // Nonce must be the reset id.
    let signed = dev.sign(&h, Purpose::PasscodeReset, "other", "");
    let (st, b) = h.post(p::PATH_RESET_COMPLETE, json!({"reset_id": rid, "otp": otp, "signed": signed}), None).await;
    assert_eq!((st, b["code"].as_str()), (401, Some("nonce_invalid")));
    let signed = dev.sign(&h, Purpose::PasscodeReset, &rid, "");
    let (st, _) = h.post(p::PATH_RESET_COMPLETE, json!({"reset_id": rid, "otp": otp, "signed": signed}), None).await;
    assert_eq!(st, 200);
    let signed = dev.sign(&h, Purpose::PasscodeReset, &rid, "");
    let (st, b) = h.post(p::PATH_RESET_COMPLETE, json!({"reset_id": rid, "otp": otp, "signed": signed}), None).await;
    assert_eq!((st, b["code"].as_str()), (404, Some("unknown_enrollment")));
    let (st, b) = h.post(p::PATH_RESET_START, json!({"device_id": "nope"}), None).await;
    assert_eq!((st, b["code"].as_str()), (404, Some("unknown_device")));
}
