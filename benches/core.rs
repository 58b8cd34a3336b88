//! Benchmarks (criterion). Figures are for comparison within one run on one machine; the
//! interesting outputs are ratios (login round trip vs a bare HTTPS GET on the same connection).
//!
//! Run: `cargo bench -p citizen-core --bench core`
// Test code: may unwrap, cast freely, and share helpers across modules with plain `pub`.
#![allow(
    unreachable_pub,
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap,
    clippy::cast_lossless
)]

use std::sync::Arc;

use citizen_core::clock::SystemClock;
use citizen_core::crypto::{sec1_uncompressed, verify_device_signature};
use citizen_core::net::{Net, NetConfig};
use citizen_core::platform::software::{open_software_platform, MemoryKeyStore, MemoryKeyWrapper};
use citizen_core::platform::{SignPurpose, SignRequest};
use citizen_core::{default_core_config, CitizenCore, DeviceKeyStore, KeyOptions};
use citizen_server::{MemoryOtpOutbox, ServerConfig};
use criterion::{criterion_group, criterion_main, Criterion};

fn opts() -> KeyOptions {
    KeyOptions { require_user_authentication: false, prefer_strongbox: false, attestation_challenge: vec![] }
}

fn req() -> SignRequest {
    SignRequest { purpose: SignPurpose::Login, user_initiated: true }
}

fn crypto(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let msg = vec![7u8; 200];
    let mem = MemoryKeyStore::new();
    let pk = rt.block_on(mem.create_key("k".into(), opts())).unwrap();
    c.bench_function("sign/memory_key_store", |b| {
        b.iter(|| rt.block_on(mem.sign("k".into(), msg.clone(), req())).unwrap())
    });

    let dir = tempfile::tempdir().unwrap();
    let (soft, _) = open_software_platform(dir.path(), b"bench secret").unwrap();
    rt.block_on(soft.create_key("k".into(), opts())).unwrap();
    c.bench_function("sign/software_key_store (unseal + sign)", |b| {
        b.iter(|| rt.block_on(soft.sign("k".into(), msg.clone(), req())).unwrap())
    });

    let sig = rt.block_on(mem.sign("k".into(), msg.clone(), req())).unwrap();
    c.bench_function("verify/der (normalise + verify)", |b| {
        b.iter(|| verify_device_signature(&pk, &msg, &sig).unwrap())
    });
    let _ = sec1_uncompressed;
}

fn construction(c: &mut Criterion) {
    c.bench_function("core/cold_construction (new db + migration)", |b| {
        b.iter_batched(
            || tempfile::tempdir().unwrap(),
            |dir| {
                let cfg = default_core_config("https://127.0.0.1:1".into(), dir.path().to_string_lossy().into_owned());
                let core =
                    CitizenCore::new(cfg, Arc::new(MemoryKeyStore::new()), Arc::new(MemoryKeyWrapper::new())).unwrap();
                (core, dir)
            },
            criterion::BatchSize::PerIteration,
        )
    });
    let dir = tempfile::tempdir().unwrap();
    let wrapper = Arc::new(MemoryKeyWrapper::new());
    let cfg = default_core_config("https://127.0.0.1:1".into(), dir.path().to_string_lossy().into_owned());
    drop(CitizenCore::new(cfg.clone(), Arc::new(MemoryKeyStore::new()), wrapper.clone()).unwrap());
    c.bench_function("core/warm_construction (existing db)", |b| {
        b.iter(|| CitizenCore::new(cfg.clone(), Arc::new(MemoryKeyStore::new()), wrapper.clone()).unwrap())
    });
}

fn login_round_trip(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let outbox = Arc::new(MemoryOtpOutbox::new());
    let server = rt
        .block_on(citizen_server::start(ServerConfig::loopback_dev(
            dir.path().join("server"),
            outbox.clone(),
            Arc::new(SystemClock),
        )))
        .unwrap();
    let mut cfg = default_core_config(server.base_url.clone(), dir.path().join("core").to_string_lossy().into_owned());
    cfg.trust_anchors_pem = vec![server.ca_cert_pem.clone()];
    cfg.spki_pins = vec![server.spki_pin.clone(), server.backup_spki_pin.clone()];
    let core =
        CitizenCore::new(cfg.clone(), Arc::new(MemoryKeyStore::new()), Arc::new(MemoryKeyWrapper::new())).unwrap();
    rt.block_on(async {
        citizen_server::testing::enroll_and_login(&core, &outbox, citizen_server::testing::CITIZEN_1, "482916").await;
    });
    let net = Net::new(&NetConfig {
        base_url: server.base_url.clone(),
        trust_anchors_pem: cfg.trust_anchors_pem.clone(),
        spki_pins: cfg.spki_pins.clone(),
        connect_timeout: std::time::Duration::from_secs(5),
        request_timeout: std::time::Duration::from_secs(10),
        allow_insecure_loopback: false,
        language: "vi",
    })
    .unwrap();
    let mut g = c.benchmark_group("loopback_tls");
    g.bench_function("bare_https_get (warm connection)", |b| {
        b.to_async(&rt)
            .iter(|| async { net.get::<serde_json::Value>(citizen_core::protocol::PATH_HEALTH, None).await.unwrap() })
    });
    g.bench_function("login (passcode + challenge + sign + login)", |b| {
        b.to_async(&rt).iter(|| async { core.account().login("482916".into()).await.unwrap() })
    });
    g.finish();
    rt.block_on(server.shutdown());
}

criterion_group!(benches, crypto, construction, login_round_trip);
criterion_main!(benches);
