//! A server behind a proxy: `--public-url` differs from the listen address, and every URL a
//! browser or a phone sees comes from the public URL.
use crate::common;

use std::sync::Arc;

use citizen_protocol::clock::ManualClock;
use citizen_protocol::protocol::rp::{QrFrame, RegistryClaims, ShareRequestClaims};
use citizen_server::{Limits, MemoryOtpOutbox, ServerConfig, TlsSource};
use serde_json::{json, Value};

const PUBLIC: &str = "https://dichvucong.example.vn";

/// The payload of a compact JWS (signature not checked: the URLs are what is tested here).
fn payload<T: serde::de::DeserializeOwned>(jws: &str) -> T {
    let p = jws.split('.').nth(1).unwrap();
    serde_json::from_slice(&citizen_protocol::crypto::unb64(p).unwrap()).unwrap()
}

fn config(dir: &tempfile::TempDir, public_url: &str) -> ServerConfig {
    ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_path_buf(),
        public_url: Some(public_url.to_string()),
        tls: TlsSource::Generate { hostnames: vec![] },
        otp_sender: Arc::new(MemoryOtpOutbox::new()),
        clock: ManualClock::new(),
        limits: Limits::default(),
        database: None,
    }
}

#[tokio::test]
async fn a_public_url_that_is_not_an_origin_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for bad in ["https://dichvucong.example.vn/citizen", "http://dichvucong.example.vn", "dichvucong.example.vn"] {
        match citizen_server::start(config(&dir, bad)).await {
            Err(citizen_server::ServerError::Config(m)) => assert!(m.contains("origin"), "{m}"),
            Err(e) => panic!("{bad}: {e}"),
            Ok(_) => panic!("{bad} accepted"),
        }
    }
}

#[tokio::test]
async fn every_external_url_comes_from_the_public_url() {
    let dir = tempfile::tempdir().unwrap();
    let server = citizen_server::start(config(&dir, &format!("{PUBLIC}/"))).await.unwrap();
    assert_eq!(server.audience, PUBLIC);
    assert_ne!(server.base_url, PUBLIC);
    let http = common::client_for(&server.ca_cert_pem);
    let base = &server.base_url;

    // The registry devices check RPs against.
    let v: Value = http.get(format!("{base}/v1/relying-parties")).send().await.unwrap().json().await.unwrap();
    let reg: RegistryClaims = payload(v["registry"].as_str().unwrap());
    assert_eq!(reg.iss, PUBLIC);
    assert!(!reg.relying_parties.is_empty());
    for rp in &reg.relying_parties {
        assert_eq!(rp.origins, vec![PUBLIC.to_string()], "{}", rp.id);
        assert!(rp.redirect_uris.iter().all(|u| u.starts_with(&format!("{PUBLIC}/"))), "{:?}", rp.redirect_uris);
    }

    // The bank's share request: the phone posts the presentation to response_uri.
    let v: Value =
        http.post(format!("{base}/rp/bank-demo/requests")).json(&json!({})).send().await.unwrap().json().await.unwrap();
    let req: ShareRequestClaims = payload(v["request"].as_str().unwrap());
    assert_eq!(req.response_uri, format!("{PUBLIC}/rp/bank-demo/presentations"));

    // The portal's login request (origin shown to the citizen) and same-device redirect.
    let v: Value = http
        .post(format!("{base}/portal/api/sessions"))
        .json(&json!({"same_device": true}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let link = v["deep_link"].as_str().unwrap();
    let encoded = link.strip_prefix("citizenid://login?p=").unwrap();
    let f: String = url::form_urlencoded::parse(format!("p={encoded}").as_bytes()).next().unwrap().1.into_owned();
    let frame = QrFrame::parse(&f).unwrap();
    assert_eq!(frame.signed.request.origin, PUBLIC);
    let portal = reg.relying_parties.iter().find(|r| r.id == "dvc-demo").unwrap();
    assert_eq!(portal.redirect_uris, vec![format!("{PUBLIC}/portal/callback")]);
    server.shutdown().await;
}
