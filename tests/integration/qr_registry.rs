//! Registry fetches caused by scanned login codes (issue 9, item 13): a stream of well-formed
//! codes naming relying parties that are not registered must not become a stream of registry
//! fetches. The same age floor that protects the recheck path ([`REGISTRY_RECHECK_AFTER_SECS`])
//! protects the unknown-RP path: at most one fetch per floor period, however many codes.

use std::sync::Arc;

use citizen_core::clock::{Clock, ManualClock};
use citizen_core::consent::qr::REGISTRY_RECHECK_AFTER_SECS;
use citizen_core::crypto::random_array;
use citizen_core::error::PublicError;
use citizen_core::platform::software::{MemoryKeyStore, MemoryKeyWrapper};
use citizen_core::protocol::rp::{LoginRequest, QrFrame, SignedLoginRequest};
use citizen_core::{default_core_config, CitizenCore};
use citizen_server::testing::{enroll_and_login, CITIZEN_1};
use citizen_server::{MemoryOtpOutbox, ServerConfig};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};

const FRAMES: usize = 2_000;

/// A well-formed login code from an unregistered relying party with a random id.
fn unknown_rp_frame(clock: &ManualClock, origin: &str, key: &SigningKey) -> String {
    let now = clock.now();
    let id: [u8; 6] = random_array();
    let request = LoginRequest {
        same_device: false,
        session_id: random_array(),
        nonce: random_array(),
        issued_at: now,
        expires_at: now + 120,
        rp_id: format!("rp-{}", id.iter().map(|b| format!("{b:02x}")).collect::<String>()),
        origin: origin.into(),
        claims: vec!["full_name".into()],
    };
    let sig: Signature = key.sign(&request.signing_input());
    QrFrame::new(SignedLoginRequest { request, rp_signature: sig.to_bytes().into() }, 0, b"secret").to_text()
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_relying_parties_fetch_the_registry_at_most_once_per_floor_period() {
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
    enroll_and_login(&core, &otp, CITIZEN_1, "482916").await;
    core.refresh_relying_parties().await.unwrap();
    assert_eq!(core.registry_fetch_count(), 1);
    let key = SigningKey::from_slice(&random_array::<32>()).unwrap();

    // A fresh cache: thousands of unknown ids, each refused offline, no fetch at all.
    for _ in 0..FRAMES {
        let e = core.scan_login_code(unknown_rp_frame(&clock, &server.base_url, &key)).await.unwrap_err();
        assert_eq!(e.detail().code, "consent.rp_unknown");
    }
    assert_eq!(core.registry_fetch_count(), 1, "unknown ids fetched the registry");

    // Once the cache is older than the floor, one fetch (a newly registered party is found),
    // and the cache is fresh again for every further code.
    clock.advance(REGISTRY_RECHECK_AFTER_SECS);
    for _ in 0..FRAMES / 10 {
        let e = core.scan_login_code(unknown_rp_frame(&clock, &server.base_url, &key)).await.unwrap_err();
        assert_eq!(e.detail().code, "consent.rp_unknown");
    }
    assert_eq!(core.registry_fetch_count(), 2);
    server.shutdown().await;
}
