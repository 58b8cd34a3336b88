//! Benchmarks of the public-service requests (criterion). Figures compare within one run on one
//! machine; the interesting outputs are ratios (per-item delivery cost vs enqueue cost).
//!
//! * `draft/create+fill+validate`: a residence notification created with auto-fill from the
//!   stored profile, six fields set (each edit is sealed and saved), then fully validated.
//! * `outbox/enqueue`: `submit_draft` on a filled draft — validation, the passcode check (HMAC
//!   verifier, with its two committed counter writes), submit-counter reservation, signing with
//!   the in-memory key store (`MemoryKeyStore`, P-256), sealing and the durable enqueue
//!   transaction (SQLite WAL, `synchronous=FULL`). Delivery is held by the server (503 with a long
//!   Retry-After), so the background delivery started by `submit_draft` sends nothing.
//! * `outbox/drain 1000`: one `sync_outbox` that delivers 1,000 queued submissions over loopback
//!   TLS, including the server's verification (device signature, counter, form) and commit, and
//!   the client's receipt verification and its own commit per item. One measured run (building
//!   the queue takes longer than draining it), printed with its per-item cost and the ratio to
//!   the enqueue cost.
//!
//! Run: `cargo bench -p citizen-core --bench services` (add `-- --measurement-time 2
//! --warm-up-time 1` for a quick run).
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
use std::time::{Duration, Instant};

use citizen_core::cccd::Date;
use citizen_core::clock::{Clock, ManualClock};
use citizen_core::platform::software::{MemoryKeyStore, MemoryKeyWrapper};
use citizen_core::{default_core_config, CitizenCore, OutboxState};
use citizen_server::{Fault, MemoryOtpOutbox, RunningServer, ServerConfig};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};

const PASS: &str = "482916";
const DRAIN: usize = 1_000;

struct Env {
    rt: tokio::runtime::Runtime,
    server: RunningServer,
    clock: Arc<ManualClock>,
    core: Arc<CitizenCore>,
    _dir: tempfile::TempDir,
}

fn env() -> Env {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let otp = Arc::new(MemoryOtpOutbox::new());
    let clock = ManualClock::new();
    let server = rt
        .block_on(citizen_server::start(ServerConfig::loopback_dev(
            dir.path().join("server"),
            otp.clone(),
            clock.clone(),
        )))
        .unwrap();
    let mut cfg = default_core_config(server.base_url.clone(), dir.path().join("core").to_string_lossy().into_owned());
    cfg.trust_anchors_pem = vec![server.ca_cert_pem.clone()];
    cfg.spki_pins = vec![server.spki_pin.clone(), server.backup_spki_pin.clone()];
    let core =
        CitizenCore::with_clock(cfg, Arc::new(MemoryKeyStore::new()), Arc::new(MemoryKeyWrapper::new()), clock.clone())
            .unwrap();
    rt.block_on(async {
        citizen_server::testing::enroll_and_login(&core, &otp, citizen_server::testing::CITIZEN_1, PASS).await;
        core.services().refresh_catalogue().await.unwrap();
        core.services().refresh_profile().await.unwrap();
    });
    Env { rt, server, clock, core, _dir: dir }
}

fn day(clock: &ManualClock, offset: i64) -> String {
    let d = Date::from_unix_vn(clock.now() + offset * 86_400);
    format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)
}

/// A filled, valid residence-notification draft (the form's edits in one write); returns its id.
async fn filled_draft(core: &CitizenCore, clock: &ManualClock) -> String {
    let id = core.services().create_draft("residence-notification".into()).await.unwrap().draft_id;
    let values = [
        ("guests.0.full_name", "Khách Thử Nghiệm".to_string()),
        ("guests.0.cccd", "079195000002".to_string()),
        ("guests.0.relationship", "ban_be".to_string()),
        ("reason", "du_lich".to_string()),
        ("from_date", day(clock, 1)),
        ("to_date", day(clock, 5)),
    ]
    .into_iter()
    .map(|(path, value)| (path.to_string(), value))
    .collect();
    core.services().update_draft(id.clone(), values).await.unwrap();
    id
}

async fn pending(core: &CitizenCore) -> usize {
    let outbox = core.services().list_outbox().await.unwrap();
    outbox.iter().filter(|i| matches!(i.state, OutboxState::Queued | OutboxState::Sending)).count()
}

/// Wait for a core call from synchronous code that may already run inside a runtime (criterion's
/// batch setup): the core does the work on its own runtime; a scoped thread only waits for it.
fn wait<T: Send>(f: impl std::future::Future<Output = T> + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(|| tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)).join().unwrap()
    })
}

fn services(c: &mut Criterion) {
    let e = env();
    let (core, clock) = (e.core.clone(), e.clock.clone());

    c.bench_function("draft/create+fill+validate (residence-notification)", |b| {
        b.to_async(&e.rt).iter(|| async {
            let id = filled_draft(&core, &clock).await;
            assert!(core.services().validate_draft(id).await.unwrap().is_empty());
        })
    });

    // Hold delivery: the first attempt gets a 503 with a day-long Retry-After, so the head of the
    // queue (and everything behind it) waits.
    e.server.set_faults(vec![Fault::Status503RetryAfter(86_400)]);
    let first = e.rt.block_on(filled_draft(&core, &clock));
    e.rt.block_on(core.clone().services().submit_draft(first, PASS.into())).unwrap();
    e.rt.block_on(core.services().sync_outbox()).unwrap();
    assert_eq!(e.server.pending_faults(), 0, "the 503 was served");

    c.bench_function("outbox/enqueue (submit: validate + passcode + sign [MemoryKeyStore] + durable enqueue)", |b| {
        b.to_async(&e.rt).iter_batched(
            || wait(filled_draft(&core, &clock)),
            |id| {
                let core = core.clone();
                async move { core.services().submit_draft(id, PASS.into()).await.unwrap() }
            },
            BatchSize::PerIteration,
        )
    });

    // Deliver what the enqueue benchmark queued, then hold the queue again and fill it with
    // exactly DRAIN items, timing the submits (enqueue cost, measured the same way as the drain).
    e.clock.advance(86_401);
    assert_eq!(e.rt.block_on(core.services().sync_outbox()).unwrap().remaining, 0);
    e.server.set_faults(vec![Fault::Status503RetryAfter(86_400)]);
    let first = e.rt.block_on(filled_draft(&core, &clock));
    e.rt.block_on(core.clone().services().submit_draft(first, PASS.into())).unwrap();
    e.rt.block_on(core.services().sync_outbox()).unwrap();
    assert_eq!(e.server.pending_faults(), 0, "the 503 was served");
    let mut top_up = Duration::ZERO;
    let mut topped = 0u32;
    while e.rt.block_on(pending(&core)) < DRAIN {
        let id = e.rt.block_on(filled_draft(&core, &clock));
        let t = Instant::now();
        e.rt.block_on(core.clone().services().submit_draft(id, PASS.into())).unwrap();
        top_up += t.elapsed();
        topped += 1;
    }
    assert_eq!(e.rt.block_on(pending(&core)), DRAIN);
    let enqueue_each = if topped > 0 { top_up / topped } else { Duration::ZERO };

    // Release the queue and time one sync that delivers all of it.
    e.clock.advance(86_401);
    let cases_before = e.server.case_count();
    let t = Instant::now();
    let r = e.rt.block_on(core.services().sync_outbox()).unwrap();
    let drain = t.elapsed();
    assert_eq!((r.delivered as usize, r.remaining), (DRAIN, 0), "{:?}", r.last_error);
    assert_eq!(e.server.case_count() - cases_before, DRAIN);
    let per_item = drain / DRAIN as u32;
    println!(
        "outbox/drain {DRAIN}: one sync_outbox delivered {DRAIN} submissions over loopback TLS in {:.2} s = {:.2} ms \
         per item (server verification + commit + receipt verification + client commit); enqueue measured while \
         topping up ({topped} submits): {:.2} ms each; drain per item / enqueue = {:.2}",
        drain.as_secs_f64(),
        per_item.as_secs_f64() * 1e3,
        enqueue_each.as_secs_f64() * 1e3,
        if enqueue_each.is_zero() { f64::NAN } else { per_item.as_secs_f64() / enqueue_each.as_secs_f64() },
    );
    e.rt.block_on(e.server.shutdown());
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = services
}
criterion_main!(benches);
