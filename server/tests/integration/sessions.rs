//! Sessions: bearer checks, refresh rotation and reuse detection, idle and absolute timeouts,
//! device revocation, persistence across restarts.

use crate::common::*;
use citizen_protocol::protocol::{self as p, Purpose};
use citizen_server::Limits;
use serde_json::json;

#[tokio::test]
async fn refresh_token_reuse_revokes_the_family() {
    let h = start().await;
    let mut dev = Device::new();
    h.enroll(C1, &mut dev).await;
    let t1 = h.login(&mut dev).await;
    let r1 = t1["refresh_token"].as_str().unwrap();
    let (st, t2) = h.refresh(r1).await;
    assert_eq!(st, 200);
    let r2 = t2["refresh_token"].as_str().unwrap();
    let (st, b) = h.refresh(r1).await;
    assert_eq!((st, b["code"].as_str()), (401, Some("refresh_reused")));
    // The newer token of the same family is dead too, and so is its access token's session.
    let (st, b) = h.refresh(r2).await;
    assert_eq!((st, b["code"].as_str()), (401, Some("session_expired")));
    let (st, b) = h.get(p::PATH_DEVICES, t2["access_token"].as_str()).await;
    assert_eq!((st, b["code"].as_str()), (401, Some("session_expired")));
    assert!(h.server.audit_events().iter().any(|e| e.event == "refresh_reuse" && e.outcome == "refresh_reused"));
    let (st, b) = h.refresh("not-a-token").await;
    assert_eq!((st, b["code"].as_str()), (401, Some("token_invalid")));
    // A fresh login still works.
    h.login(&mut dev).await;
}

#[tokio::test]
async fn idle_timeout_and_activity() {
    let h = start().await;
    let mut dev = Device::new();
    h.enroll(C2, &mut dev).await;
    // Activity keeps the session alive beyond the idle period.
    let t = h.login(&mut dev).await;
    h.clock.advance(3000);
    let (st, t) = h.refresh(t["refresh_token"].as_str().unwrap()).await;
    assert_eq!(st, 200);
    h.clock.advance(3000);
    let (st, t) = h.refresh(t["refresh_token"].as_str().unwrap()).await;
    assert_eq!(st, 200);
    // Then an idle hour ends it.
    h.clock.advance(3601);
    let (st, b) = h.refresh(t["refresh_token"].as_str().unwrap()).await;
    assert_eq!((st, b["code"].as_str()), (401, Some("session_expired")));

    // Bearer use also counts as activity.
    let t = h.login(&mut dev).await;
    h.clock.advance(200);
    let (st, _) = h.get(p::PATH_DEVICES, t["access_token"].as_str()).await;
    assert_eq!(st, 200);
    h.clock.advance(3500); // 3700 s after login, 3500 after last use
    let (st, _) = h.refresh(t["refresh_token"].as_str().unwrap()).await;
    assert_eq!(st, 200);
}

#[tokio::test]
async fn absolute_timeout_caps_the_session() {
    let h = start_with(Limits { session_idle_secs: 3600, session_absolute_secs: 5000, ..Limits::default() }).await;
    let mut dev = Device::new();
    h.enroll(C3, &mut dev).await;
    let t = h.login(&mut dev).await;
    let absolute = t["absolute_expires_at"].as_i64().unwrap();
    h.clock.advance(3000);
    let (st, t) = h.refresh(t["refresh_token"].as_str().unwrap()).await;
    assert_eq!(st, 200);
    assert_eq!(t["idle_expires_at"].as_i64().unwrap(), absolute);
    assert_eq!(t["absolute_expires_at"].as_i64().unwrap(), absolute);
    h.clock.advance(2001);
    let (st, b) = h.refresh(t["refresh_token"].as_str().unwrap()).await;
    assert_eq!((st, b["code"].as_str()), (401, Some("session_expired")));
}

#[tokio::test]
async fn bearer_tokens_are_checked() {
    let h = start().await;
    let mut dev = Device::new();
    h.enroll(C4, &mut dev).await;
    let t = h.login(&mut dev).await;
    let access = t["access_token"].as_str().unwrap();
    let (st, b) = h.get(p::PATH_DEVICES, None).await;
    assert_eq!((st, b["code"].as_str()), (401, Some("token_invalid")));
    let (st, b) = h.get(p::PATH_DEVICES, Some("garbage.token.here")).await;
    assert_eq!((st, b["code"].as_str()), (401, Some("token_invalid")));
    let mut tampered = access.to_string();
    tampered.insert(tampered.find('.').unwrap() + 2, 'x');
    assert_eq!(h.get(p::PATH_DEVICES, Some(&tampered)).await.0, 401);
    // Logout accepts an empty body.
    let t2 = h.login(&mut dev).await;
    let r = h
        .http
        .post(format!("{}{}", h.server.base_url, p::PATH_LOGOUT))
        .bearer_auth(t2["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(h.get(p::PATH_DEVICES, t2["access_token"].as_str()).await.0, 401);
    // Access tokens live 300 s.
    h.clock.advance(301);
    let (st, b) = h.get(p::PATH_DEVICES, Some(access)).await;
    assert_eq!((st, b["code"].as_str()), (401, Some("token_invalid")));
}

#[tokio::test]
async fn revoked_device_cannot_log_in() {
    let h = start().await;
    let mut dev = Device::new();
    h.enroll(C1, &mut dev).await;
    let mut other = Device::new();
    h.enroll(C2, &mut other).await;
    let t = h.login(&mut dev).await;
    let access = t["access_token"].as_str().unwrap();

    // Cannot revoke another account's device.
    let n = h.nonce(&dev, Purpose::RevokeDevice).await;
    let s = dev.sign(&h, Purpose::RevokeDevice, &n, &other.id.clone());
    let (st, b) = h.post(p::PATH_DEVICE_REVOKE, json!({ "signed": s }), Some(access)).await;
    assert_eq!((st, b["code"].as_str()), (404, Some("unknown_device")));
    assert_eq!(h.server.device_status(&other.id).as_deref(), Some("active"));
    // A statement signed by another device than the session's is refused.
    let n = h.nonce(&other, Purpose::RevokeDevice).await;
    let s = other.sign(&h, Purpose::RevokeDevice, &n, &dev.id.clone());
    let (st, _) = h.post(p::PATH_DEVICE_REVOKE, json!({ "signed": s }), Some(access)).await;
    assert_eq!(st, 400);

    let n = h.nonce(&dev, Purpose::RevokeDevice).await;
    let s = dev.sign(&h, Purpose::RevokeDevice, &n, &dev.id.clone());
    let (st, b) = h.post(p::PATH_DEVICE_REVOKE, json!({ "signed": s }), Some(access)).await;
    assert_eq!((st, b), (200, json!({"ok": true})));
    assert_eq!(h.server.device_status(&dev.id).as_deref(), Some("revoked"));
    let (st, b) = h.post(p::PATH_DEVICE_STATUS, json!({"device_id": dev.id}), None).await;
    assert_eq!((st, b["status"].as_str()), (200, Some("revoked")));
    assert_eq!(b["changed_at"].as_i64(), Some(h.now()));

    let (st, b) = h.challenge(&dev, Purpose::Login).await;
    assert_eq!((st, b["code"].as_str(), b["device_status"].as_str()), (403, Some("device_inactive"), Some("revoked")));
    // A statement for a nonce obtained earlier doesn't help either.
    let s = dev.sign(&h, Purpose::Login, "any", "");
    let (st, b) = h.login_signed(&s).await;
    assert_eq!((st, b["code"].as_str()), (403, Some("device_inactive")));
    let (st, b) = h.refresh(t["refresh_token"].as_str().unwrap()).await;
    assert_eq!((st, b["device_status"].as_str()), (403, Some("revoked")));
    let (st, b) = h.post(p::PATH_DEVICE_STATUS, json!({"device_id": "unknown"}), None).await;
    assert_eq!((st, b["code"].as_str()), (404, Some("unknown_device")));
}

#[tokio::test]
async fn state_and_pins_survive_a_restart() {
    let h = start().await;
    let mut dev = Device::new();
    h.enroll(C8, &mut dev).await;
    let t = h.login(&mut dev).await;
    let (pin, backup, ca) = (h.server.spki_pin.clone(), h.server.backup_spki_pin.clone(), h.server.ca_cert_pem.clone());
    assert_ne!(pin, backup);
    let Harness { server, dir, .. } = h;
    server.shutdown().await;

    let h = start_in(dir, Limits::default()).await;
    assert_eq!((&h.server.spki_pin, &h.server.backup_spki_pin, &h.server.ca_cert_pem), (&pin, &backup, &ca));
    // The audience changed with the port, so old tokens (other issuer) are refused; the device
    // itself is still enrolled and logs in with its next counter.
    let (st, _) = h.get(p::PATH_DEVICES, t["access_token"].as_str()).await;
    assert_eq!(st, 401);
    assert_eq!(h.server.device_status(&dev.id).as_deref(), Some("active"));
    h.login(&mut dev).await;
}
