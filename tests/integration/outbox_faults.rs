//! HTTP fault matrix of the outbox: at least 1,000 submissions (`CITIZEN_FAULT_SUBMISSIONS` may
//! raise it), each given a random sequence of server faults (connection dropped before or after
//! the commit, 500 before or after the commit, 503 with Retry-After, slow answers, a client
//! timeout while the server sleeps before handling — the server then drops the work — and, once
//! per batch, a client timeout *after* the server committed: a TCP relay in front of the server
//! holds that answer longer than the client's timeout). The core and the server share a
//! `ManualClock`, advanced to get past Retry-After.
//!
//! The server's fault queue is consumed one entry per submission request, and the core delivers
//! strictly in queue order, one request at a time, so submission *i* meets exactly the faults
//! planned for it; the test checks that too (its attempt count is the planned one, and the fault
//! queue is empty after each batch).
//!
//! At the end: every submission delivered with a verified receipt, exactly one case per
//! submission on the server, as many cases as submissions (no loss, no duplicate).
//! `CITIZEN_FAULT_SEED` replays a run (the seed is printed).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use citizen_core::{CitizenCore, OutboxItem, OutboxState};
use citizen_server::Fault;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::env::{submit_residence, Env, Rng, PASS};

/// The core's whole-request timeout in this test.
const REQUEST_TIMEOUT_MS: u64 = 600;
/// A server delay, or a relay hold, longer than the client's timeout.
const TIMEOUT_DELAY_MS: u64 = 900;
/// Submissions per batch (queued, then driven to delivery).
const BATCH: usize = 100;

/// Fault kinds, for the plan and the statistics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    DropBeforeHandling,
    FailAfterCommit,
    CommitThen500,
    Status500,
    Status503RetryAfter,
    /// A delay the client waits out (the attempt succeeds).
    SlowAnswer,
    /// A delay longer than the client's timeout, before the server handles the request (the
    /// client gives up; hyper then drops the handler, so nothing is committed).
    ClientTimeoutBeforeCommit,
    /// The server commits and answers; the relay holds the answer past the client's timeout.
    ClientTimeoutAfterCommit,
}

const FAILING: [Kind; 5] =
    [Kind::DropBeforeHandling, Kind::FailAfterCommit, Kind::CommitThen500, Kind::Status500, Kind::Status503RetryAfter];

/// The faults planned for one submission: failing attempts, then the successful one.
struct Plan {
    failing: Vec<(Kind, Fault)>,
    last: (Option<Kind>, Fault),
}

impl Plan {
    fn random(rng: &mut Rng, with_timeout: bool) -> Plan {
        let mut failing = vec![];
        let n = if with_timeout || rng.below(10) < 4 { 0 } else { 1 + rng.below(3) };
        for _ in 0..n {
            let k = FAILING[rng.below(FAILING.len() as u64) as usize];
            let f = match k {
                Kind::DropBeforeHandling => Fault::DropBeforeHandling,
                Kind::FailAfterCommit => Fault::FailAfterCommit,
                Kind::CommitThen500 => Fault::CommitThen500,
                Kind::Status500 => Fault::Status500,
                Kind::Status503RetryAfter => Fault::Status503RetryAfter(1 + rng.below(3)),
                _ => unreachable!(),
            };
            failing.push((k, f));
        }
        if with_timeout {
            failing.insert(
                rng.below(failing.len() as u64 + 1) as usize,
                (Kind::ClientTimeoutBeforeCommit, Fault::Delay(TIMEOUT_DELAY_MS)),
            );
        }
        let last = if rng.below(5) == 0 {
            (Some(Kind::SlowAnswer), Fault::Delay(5 + rng.below(45)))
        } else {
            (None, Fault::Delay(0)) // no fault
        };
        Plan { failing, last }
    }

    fn faults(&self) -> impl Iterator<Item = Fault> + '_ {
        self.failing.iter().map(|(_, f)| f.clone()).chain(std::iter::once(self.last.1.clone()))
    }

    fn attempts(&self) -> i32 {
        self.failing.len() as i32 + 1
    }
}

/// A TCP relay in front of the server (TLS passes through untouched). When `hold_ms` is set, the
/// next request burst (at least 1,000 client→server bytes since the server last spoke: a
/// submission, not a handshake or a GET) has its answer held that long before it is passed on.
#[derive(Default)]
struct Relay {
    hold_ms: AtomicU64,
}

fn spawn_relay(listener: tokio::net::TcpListener, upstream: std::net::SocketAddr, relay: Arc<Relay>) {
    tokio::spawn(async move {
        loop {
            let Ok((client, _)) = listener.accept().await else { return };
            let relay = relay.clone();
            tokio::spawn(async move {
                let Ok(server) = tokio::net::TcpStream::connect(upstream).await else { return };
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                let hold = Arc::new(AtomicU64::new(0));
                // Client bytes since the server last wrote (reset by the downstream half).
                let burst = Arc::new(AtomicU64::new(0));
                let (h, b) = (hold.clone(), burst.clone());
                let up = tokio::spawn(async move {
                    let mut buf = vec![0u8; 64 << 10];
                    loop {
                        let n = match cr.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        if b.fetch_add(n as u64, Ordering::SeqCst) + n as u64 >= 1_000 {
                            let ms = relay.hold_ms.swap(0, Ordering::SeqCst);
                            if ms > 0 {
                                h.store(ms, Ordering::SeqCst);
                            }
                        }
                        if sw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                    let _ = sw.shutdown().await;
                });
                let mut buf = vec![0u8; 64 << 10];
                loop {
                    let n = match sr.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    burst.store(0, Ordering::SeqCst);
                    let ms = hold.swap(0, Ordering::SeqCst);
                    if ms > 0 {
                        tokio::time::sleep(Duration::from_millis(ms)).await;
                    }
                    if cw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
                let _ = cw.shutdown().await;
                up.abort();
            });
        }
    });
}

/// The shared environment behind a TCP relay (the server's public URL is the relay's origin), and
/// one enrolled, logged-in device that talks to the relay with a short request timeout.
struct Faults {
    env: Env,
    relay: Arc<Relay>,
    core: Arc<CitizenCore>,
}

impl std::ops::Deref for Faults {
    type Target = Env;
    fn deref(&self) -> &Env {
        &self.env
    }
}

impl Faults {
    async fn new() -> Faults {
        // The core talks to the relay; the server's audience is the relay's origin.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("https://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let env = Env::with_server(|cfg| cfg.public_url = Some(base_url.clone())).await;
        let relay = Arc::new(Relay::default());
        spawn_relay(listener, env.server().addr, relay.clone());
        let mut c = env.config("core");
        c.server_base_url = base_url;
        c.request_timeout = Some(std::time::Duration::from_millis(REQUEST_TIMEOUT_MS));
        let core = env.device_with("core", c).core;
        citizen_server::testing::enroll_and_login(&core, &env.otp, citizen_server::testing::CITIZEN_1, PASS).await;
        assert!(core.services().refresh_catalogue().await.unwrap());
        core.services().refresh_profile().await.unwrap();
        Faults { env, relay, core }
    }

    /// Create, fill and submit a residence notification; returns the queued item.
    async fn submit(&self) -> OutboxItem {
        submit_residence(&self.core, &*self.clock).await
    }

    async fn item(&self, id: &str) -> OutboxItem {
        self.core.services().list_outbox().await.unwrap().into_iter().find(|i| i.submission_id == id).unwrap()
    }

    /// Drive delivery until nothing remains: explicit syncs (they skip the core's own backoff),
    /// the clock moved past Retry-After.
    async fn drain(&self) -> (u32, u32) {
        let (mut rounds, mut timeouts) = (0, 0);
        loop {
            let r = self.core.services().sync_outbox().await.unwrap();
            assert_eq!(r.rejected, 0, "nothing is rejected: {:?}", r.last_error);
            if r.remaining == 0 {
                return (rounds, timeouts);
            }
            rounds += 1;
            assert!(rounds < 100_000, "delivery does not progress: {:?}", r.last_error);
            if r.last_error.as_ref().is_some_and(|e| e.code == "network.timeout") {
                timeouts += 1;
            }
            self.clock.advance(4); // past any Retry-After (1..=3 s)
        }
    }
}

/// The client times out after the server committed (the relay holds the answer): the item stays
/// queued, the server holds the case; the resend gets the original answer, one case.
async fn timeout_after_commit(env: &Faults) -> String {
    assert_eq!(env.server().pending_faults(), 0);
    env.relay.hold_ms.store(TIMEOUT_DELAY_MS, Ordering::SeqCst);
    let item = env.submit().await;
    // The delivery started by `submit_draft` times out.
    let deadline = Instant::now() + Duration::from_secs(10);
    let it = loop {
        let it = env.item(&item.submission_id).await;
        if it.state == OutboxState::Queued && it.attempts == 1 {
            break it;
        }
        assert!(Instant::now() < deadline, "no timed-out attempt: {it:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(it.last_error.as_ref().map(|e| e.code.as_str()), Some("network.timeout"), "{it:?}");
    assert!(env.server().submission_stored(&item.submission_id), "the server committed before the client gave up");
    assert_eq!(env.server().cases_for_submission(&item.submission_id), 1);
    let r = env.core.services().sync_outbox().await.unwrap();
    assert_eq!((r.delivered, r.remaining), (1, 0), "{:?}", r.last_error);
    let it = env.item(&item.submission_id).await;
    assert_eq!((it.state, it.attempts), (OutboxState::Delivered, 2));
    assert_eq!(env.server().cases_for_submission(&item.submission_id), 1);
    item.submission_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_submission_is_delivered_exactly_once_whatever_the_network_does() {
    let started = Instant::now();
    let total: usize = std::env::var("CITIZEN_FAULT_SUBMISSIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000);
    let total = total.max(1_000);
    let seed: u64 = std::env::var("CITIZEN_FAULT_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| u64::from_le_bytes(citizen_core::crypto::random_array::<8>()));
    println!("outbox_faults: submissions={total} seed={seed} (replay: CITIZEN_FAULT_SUBMISSIONS={total} CITIZEN_FAULT_SEED={seed})");
    let mut rng = Rng(seed);
    let env = Faults::new().await;
    let mut after_commit = vec![];

    let mut planned: Vec<(String, Plan)> = Vec::with_capacity(total);
    let (mut rounds, mut timeouts) = (0, 0);
    let (mut submit_time, mut drain_time) = (Duration::ZERO, Duration::ZERO);
    let mut done = 0;
    while done < total {
        after_commit.push(timeout_after_commit(&env).await);
        let n = BATCH.min(total - done);
        // About one client timeout per batch (each costs a real second).
        let timeout_at = rng.below(n as u64) as usize;
        let plans: Vec<Plan> = (0..n).map(|i| Plan::random(&mut rng, i == timeout_at)).collect();
        assert_eq!(env.server().pending_faults(), 0);
        env.server().set_faults(plans.iter().flat_map(Plan::faults).collect());
        // Submit the batch; the background delivery started by each submit already meets faults.
        let t = Instant::now();
        for plan in plans {
            let item = env.submit().await;
            assert_eq!(item.state, OutboxState::Queued);
            planned.push((item.submission_id, plan));
        }
        submit_time += t.elapsed();
        let t = Instant::now();
        let (r, to) = env.drain().await;
        drain_time += t.elapsed();
        rounds += r;
        timeouts += to;
        assert_eq!(env.server().pending_faults(), 0, "each request consumed exactly one planned fault");
        done += n;
    }

    // Everything delivered, exactly once, with the planned number of attempts.
    let items: BTreeMap<String, OutboxItem> =
        env.core.services().list_outbox().await.unwrap().into_iter().map(|i| (i.submission_id.clone(), i)).collect();
    assert_eq!(items.len(), total + after_commit.len());
    let mut kinds: BTreeMap<Kind, usize> = BTreeMap::new();
    let (mut faulty, mut clean, mut attempts_total, mut max_attempts) = (0, 0, 0, 0);
    for (id, plan) in &planned {
        let it = &items[id];
        assert_eq!(it.state, OutboxState::Delivered, "{id}: {it:?}");
        assert!(it.case_number.is_some() && it.receipt.is_some() && it.last_error.is_none(), "{it:?}");
        assert_eq!(env.server().cases_for_submission(id), 1, "{id}: exactly one case");
        assert_eq!(it.attempts, plan.attempts(), "{id}: attempts vs planned faults {:?}", plan.failing);
        if plan.failing.is_empty() {
            clean += 1;
        } else {
            faulty += 1;
            assert!(it.attempts > 1);
        }
        for (k, _) in &plan.failing {
            *kinds.entry(*k).or_default() += 1;
        }
        if let Some(k) = plan.last.0 {
            *kinds.entry(k).or_default() += 1;
        }
        attempts_total += it.attempts;
        max_attempts = max_attempts.max(it.attempts);
    }
    for id in &after_commit {
        assert_eq!(env.server().cases_for_submission(id), 1);
    }
    kinds.insert(Kind::ClientTimeoutAfterCommit, after_commit.len());
    assert_eq!(env.server().case_count(), total + after_commit.len(), "no loss, no duplicate");
    let distinct: std::collections::BTreeSet<_> = items.values().filter_map(|i| i.case_number.clone()).collect();
    assert_eq!(distinct.len(), total + after_commit.len());

    println!(
        "outbox_faults: {total} submissions ({faulty} with failing attempts, {clean} clean), {attempts_total} \
         attempts (max {max_attempts} for one), {rounds} sync rounds, {timeouts} client timeouts; submit phase \
         {:.1}s, delivery phase {:.1}s, total {:.1}s",
        submit_time.as_secs_f64(),
        drain_time.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    println!("outbox_faults: fault distribution {kinds:?}");
}
