//! Registry fetches caused by scanned login codes (issue 9, item 13): a stream of well-formed
//! codes naming relying parties that are not registered must not become a stream of registry
//! fetches. The same age floor that protects the recheck path ([`REGISTRY_RECHECK_AFTER_SECS`])
//! protects the unknown-RP path: at most one fetch per floor period, however many codes.

use citizen_core::clock::{Clock, ManualClock};
use citizen_core::consent::qr::REGISTRY_RECHECK_AFTER_SECS;
use citizen_core::crypto::random_array;
use citizen_core::error::PublicError;
use citizen_core::protocol::rp::{LoginRequest, QrFrame, SignedLoginRequest};
use citizen_server::testing::CITIZEN_1;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};

use crate::env::Env;

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
    let sig: Signature = key.sign(&request.signing_input().unwrap());
    QrFrame::new(SignedLoginRequest { request, rp_signature: sig.to_bytes().into() }, 0, b"secret")
        .unwrap()
        .to_text()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_relying_parties_fetch_the_registry_at_most_once_per_floor_period() {
    let mut env = Env::new().await;
    let core = env.enrolled("core", CITIZEN_1).await.core;
    let (clock, base_url) = (env.clock.clone(), env.server().base_url.clone());
    core.consent().refresh_relying_parties().await.unwrap();
    assert_eq!(core.registry_fetch_count(), 1);
    let key = SigningKey::from_slice(&random_array::<32>()).unwrap();

    // A fresh cache: thousands of unknown ids, each refused offline, no fetch at all.
    for _ in 0..FRAMES {
        let e = core.consent().scan_login_code(unknown_rp_frame(&clock, &base_url, &key)).await.unwrap_err();
        assert_eq!(e.detail().code, "consent.rp_unknown");
    }
    assert_eq!(core.registry_fetch_count(), 1, "unknown ids fetched the registry");

    // Once the cache is older than the floor, one fetch (a newly registered party is found),
    // and the cache is fresh again for every further code.
    clock.advance(REGISTRY_RECHECK_AFTER_SECS);
    for _ in 0..FRAMES / 10 {
        let e = core.consent().scan_login_code(unknown_rp_frame(&clock, &base_url, &key)).await.unwrap_err();
        assert_eq!(e.detail().code, "consent.rp_unknown");
    }
    assert_eq!(core.registry_fetch_count(), 2);
    env.stop().await;
}
