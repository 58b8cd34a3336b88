//! The short identity QR through the core (issue 13, item 4; decision 35): the binding is
//! fetched once and kept, a code is signed with the passcode in the key store, verified online
//! once (then refused as a replay), offline with the published keys, and refused when expired or
//! tampered; with the server down the stored binding still makes codes.

use citizen_core::clock::Clock;
use citizen_core::protocol::idqr::{self, IdQrError, IdentityQr};
use serde_json::{json, Value};

use crate::env::{Env, PASS};

const WHO: (&str, &str, &str) = ("001090000001", "1990-01-15", "+84900000001");

#[tokio::test(flavor = "multi_thread")]
async fn identity_qr_verifies_online_once_offline_and_expires() {
    let mut env = Env::new().await;
    let dev = env.device("dev");
    citizen_server::testing::enroll_and_login(&dev.core, &env.otp, WHO, PASS).await;
    let http = reqwest::Client::builder()
        .tls_backend_preconfigured(
            citizen_core::net::tls::client_config(std::slice::from_ref(&env.server().ca_cert_pem), &[]).unwrap(),
        )
        .build()
        .unwrap();
    let url = |p: &str| format!("{}{p}", env.server().base_url);
    let verify = |qr: String| {
        let (http, u) = (http.clone(), url(idqr::PATH_IDENTITY_VERIFY));
        async move {
            let r = http.post(u).json(&json!({ "qr": qr })).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };

    // A wrong passcode makes no code.
    assert!(dev.core.account().identity_qr("000000".into()).await.is_err());
    let code = dev.core.account().identity_qr(PASS.into()).await.unwrap();
    assert!(code.text.starts_with(idqr::IDQR_PREFIX));
    assert_eq!(code.valid_for, std::time::Duration::from_secs(60));
    assert_eq!(code.expires_at.duration_since(code.signed_at).unwrap().as_secs(), 60);

    // Online: once.
    let (st, b) = verify(code.text.clone()).await;
    assert_eq!(st, 200, "{b}");
    assert_eq!((b["full_name"].as_str(), b["cccd_number"].as_str()), (Some("Nguyễn Văn Mẫu"), Some("001090000001")));
    let (st, b) = verify(code.text.clone()).await;
    assert_eq!((st, b["code"].as_str()), (409, Some("idqr.replayed")));

    // Offline, with the key set a verifier fetched earlier; the server may even be down.
    let keys: Value = http.get(url("/v1/keys")).send().await.unwrap().json().await.unwrap();
    let keys: Vec<jsonwebtoken::jwk::Jwk> = serde_json::from_value(keys["keys"].clone()).unwrap();
    let audience = env.server().audience.clone();
    env.stop().await;
    let offline = dev.core.account().identity_qr(PASS.into()).await.expect("the stored binding works offline");
    let now = env.clock.now();
    let v = idqr::verify_identity_qr(&offline.text, &keys, &audience, now).unwrap();
    assert_eq!(v.binding.birthdate, "1990-01-15");
    // Tampered: the signing time moved.
    let mut t = IdentityQr::parse(&offline.text).unwrap();
    t.signed.statement.issued_at += 20;
    assert_eq!(idqr::verify_identity_qr(&t.encode(), &keys, &audience, now).unwrap_err(), IdQrError::SignatureInvalid);
    // Expired after 60 s.
    env.clock.advance(61);
    let later = env.clock.now();
    assert_eq!(idqr::verify_identity_qr(&offline.text, &keys, &audience, later).unwrap_err(), IdQrError::Expired);
}
