//! The short identity QR (issue 13, item 4): the server binds the device key, the device signs a
//! 60 s code, a verifier checks it online here (and offline with the same protocol function).

use citizen_protocol::protocol::idqr::{
    self, statement_subject, IdentityQr, PATH_IDENTITY_BINDING, PATH_IDENTITY_VERIFY,
};
use citizen_protocol::protocol::{self as p, Purpose};
use serde_json::{json, Value};

use crate::common::*;

struct Shown {
    dev: Device,
    token: String,
    binding: String,
}

async fn citizen_with_binding(h: &Harness) -> Shown {
    let mut dev = Device::new();
    h.enroll(C1, &mut dev).await;
    let token = h.login(&mut dev).await["access_token"].as_str().unwrap().to_string();
    let (st, b) = h.post(PATH_IDENTITY_BINDING, json!({}), Some(&token)).await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(
        jsonwebtoken::decode_header(b["binding"].as_str().unwrap()).unwrap().typ.as_deref(),
        Some("citizen-identity-binding+jwt")
    );
    Shown { dev, token, binding: b["binding"].as_str().unwrap().to_string() }
}

fn code(h: &Harness, s: &mut Shown) -> String {
    let nonce = citizen_protocol::crypto::random_b64url(16);
    let signed = s.dev.sign(h, Purpose::IdentityQr, &nonce, &statement_subject(&s.binding));
    IdentityQr { binding: s.binding.clone(), signed }.encode()
}

async fn verify(h: &Harness, qr: &str) -> (u16, Value) {
    h.post(PATH_IDENTITY_VERIFY, json!({ "qr": qr }), None).await
}

#[tokio::test]
async fn a_code_verifies_online_once_and_offline_with_the_published_keys() {
    let h = start().await;
    let mut s = citizen_with_binding(&h).await;
    let qr = code(&h, &mut s);
    let (st, b) = verify(&h, &qr).await;
    assert_eq!(st, 200, "{b}");
    assert_eq!((b["full_name"].as_str(), b["cccd_number"].as_str()), (Some("Nguyễn Văn Mẫu"), Some("001090000001")));
    assert_eq!((b["birthdate"].as_str(), b["level"].as_u64()), (Some("1990-01-15"), Some(1)));
    // Replayed: the same code a second time.
    let (st, b) = verify(&h, &qr).await;
    assert_eq!((st, b["code"].as_str()), (409, Some("idqr.replayed")));
    // Offline: the protocol function with the key set from GET /v1/keys, no call to the server.
    let (_, keys) = h.get(p::services::PATH_KEYS, None).await;
    let keys: Vec<jsonwebtoken::jwk::Jwk> = serde_json::from_value(keys["keys"].clone()).unwrap();
    let fresh = code(&h, &mut s);
    let v = idqr::verify_identity_qr(&fresh, &keys, &h.server.audience, h.now()).unwrap();
    assert_eq!(v.binding.full_name, "Nguyễn Văn Mẫu");
    assert_eq!(h.server.audit_events().iter().filter(|e| e.event == "identity_verify" && e.outcome == "ok").count(), 1);
}

#[tokio::test]
async fn expired_tampered_and_revoked_codes_are_refused_online() {
    let h = start().await;
    let mut s = citizen_with_binding(&h).await;
    // Expired: shown, then scanned 61 s later.
    let qr = code(&h, &mut s);
    h.clock.advance(idqr::IDQR_VALID_SECS + 1);
    let (st, b) = verify(&h, &qr).await;
    assert_eq!((st, b["code"].as_str()), (422, Some("idqr.expired")));
    // Tampered: the signing time moved forward to stretch the minute.
    let mut t = IdentityQr::parse(&code(&h, &mut s)).unwrap();
    t.signed.statement.issued_at += 30;
    let (st, b) = verify(&h, &t.encode()).await;
    assert_eq!((st, b["code"].as_str()), (422, Some("idqr.signature_invalid")));
    // Another binding's claims under this signature: the server's signature breaks.
    let mut t = IdentityQr::parse(&code(&h, &mut s)).unwrap();
    let parts: Vec<&str> = t.binding.split('.').collect();
    let mut c: Value = serde_json::from_slice(&citizen_protocol::crypto::unb64(parts[1]).unwrap()).unwrap();
    c["level"] = 2.into();
    t.binding = format!("{}.{}.{}", parts[0], citizen_protocol::crypto::b64(c.to_string().as_bytes()), parts[2]);
    let (st, b) = verify(&h, &t.encode()).await;
    assert_eq!((st, b["code"].as_str()), (422, Some("idqr.binding_invalid")));
    // An access token is signed by the same key but is not a binding (RFC 8725 typing).
    let mut t = IdentityQr::parse(&code(&h, &mut s)).unwrap();
    t.binding = s.token.clone();
    t.signed = s.dev.sign(&h, Purpose::IdentityQr, "bm9uY2Utbm9uY2Utbm9uY2U", &statement_subject(&t.binding));
    let (st, b) = verify(&h, &t.encode()).await;
    assert_eq!((st, b["code"].as_str()), (422, Some("idqr.binding_invalid")));
    // Garbage.
    let (st, b) = verify(&h, "CZID1:!!").await;
    assert_eq!((st, b["code"].as_str()), (400, Some("idqr.malformed")));
    // Revoked device: its binding is still signed and unexpired, but the server knows better.
    let qr = code(&h, &mut s);
    let n = h.nonce(&s.dev, Purpose::RevokeDevice).await;
    let own = s.dev.id.clone();
    let signed = s.dev.sign(&h, Purpose::RevokeDevice, &n, &own);
    let (st, b) = h.post(p::PATH_DEVICE_REVOKE, json!({ "signed": signed }), Some(&s.token)).await;
    assert_eq!(st, 200, "{b}");
    let (st, b) = verify(&h, &qr).await;
    assert_eq!((st, b["code"].as_str()), (422, Some("idqr.device_revoked")));
    // And a binding needs a valid session.
    let (st, _) = h.post(PATH_IDENTITY_BINDING, json!({}), None).await;
    assert_eq!(st, 401);
}
