//! Concurrent use of one core (issue 9, items 6 and 14): simultaneous passcode attempts through
//! the public `CitizenCore` API, each counted exactly once under the lockout schedule, and a
//! second `CitizenCore` on the same data directory refused while the first is alive.
//! Server and core share one [`ManualClock`]; tasks start together behind a barrier on a
//! multi-threaded runtime, so the attempts really overlap.

use std::sync::Arc;

use citizen_core::account::passcode::{FREE_ATTEMPTS, WIPE_AFTER};
use citizen_core::activity::ActivityKind;
use citizen_core::error::PublicError;
use citizen_core::platform::software::{MemoryKeyStore, MemoryKeyWrapper};
use citizen_core::{CitizenCore, CitizenError, EnrollmentReason, EnrollmentState};
use citizen_server::testing::{enroll, CITIZEN_1};

use crate::env::{Device, Env, PASS};

const WRONG: &str = "111112";
const PARALLEL: usize = 8;

/// The shared environment with one enrolled device (not logged in).
struct Concurrency {
    env: Env,
    core: Arc<CitizenCore>,
    keys: Arc<MemoryKeyStore>,
    wrapper: Arc<MemoryKeyWrapper>,
}

impl std::ops::Deref for Concurrency {
    type Target = Env;
    fn deref(&self) -> &Env {
        &self.env
    }
}

impl std::ops::DerefMut for Concurrency {
    fn deref_mut(&mut self) -> &mut Env {
        &mut self.env
    }
}

async fn env() -> Concurrency {
    let env = Env::new().await;
    let Device { core, keys, wrapper, .. } = env.device("core");
    enroll(&core, &env.otp, CITIZEN_1, PASS).await;
    Concurrency { env, core, keys, wrapper }
}

/// Run `PARALLEL` copies of `f` at once (released together by a barrier) and collect the results.
async fn burst<T, F, Fut>(core: &Arc<CitizenCore>, f: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(Arc<CitizenCore>) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    let barrier = Arc::new(tokio::sync::Barrier::new(PARALLEL));
    let tasks: Vec<_> = (0..PARALLEL)
        .map(|_| {
            let (b, fut) = (barrier.clone(), f(core.clone()));
            tokio::spawn(async move {
                b.wait().await;
                fut.await
            })
        })
        .collect();
    let mut out = vec![];
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

type Attempt = std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), CitizenError>> + Send>>;

fn verify(passcode: &'static str) -> impl Fn(Arc<CitizenCore>) -> Attempt {
    move |core| Box::pin(async move { core.account().verify_passcode(passcode.into()).await })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn simultaneous_wrong_passcodes_are_each_counted_once() {
    let mut env = env().await;
    let results = burst(&env.core, verify(WRONG)).await;
    let mut incorrect: Vec<i32> = vec![];
    let mut locked = 0;
    for r in &results {
        match r {
            Err(CitizenError::PasscodeRejected { attempts_before_wipe, .. }) => incorrect.push(*attempts_before_wipe),
            Err(CitizenError::LockedOut { .. }) => locked += 1,
            other => panic!("{other:?}"),
        }
    }
    let failed = env.core.account().passcode_status().await.unwrap().failed_attempts;
    // Every answer `incorrect` is a failure on disk, and the lockout stops the burst at the
    // schedule's free attempts: 5 counted, countdown 9..5, the rest refused without a comparison.
    assert_eq!(failed as usize, incorrect.len(), "answers {results:?} but {failed} failures stored");
    assert_eq!(failed, FREE_ATTEMPTS as i32, "{results:?}");
    incorrect.sort_unstable();
    assert_eq!(incorrect, (WIPE_AFTER - FREE_ATTEMPTS..WIPE_AFTER).map(|n| n as i32).collect::<Vec<_>>());
    assert_eq!(locked, PARALLEL - FREE_ATTEMPTS as usize);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn bursts_of_wrong_passcodes_wipe_after_exactly_the_schedule() {
    let mut env = env().await;
    let mut incorrect = 0u32;
    let mut wiped = 0u32;
    let mut rounds = 0;
    while env.core.status().await.unwrap().enrollment == EnrollmentState::Enrolled {
        rounds += 1;
        assert!(rounds <= 2 * WIPE_AFTER, "no wipe after {rounds} bursts, {incorrect} incorrect");
        for r in burst(&env.core, verify(WRONG)).await {
            match r {
                Err(CitizenError::PasscodeRejected { .. }) => incorrect += 1,
                Err(CitizenError::NeedsEnrollment { reason: EnrollmentReason::Wiped, .. }) => wiped += 1,
                Err(
                    CitizenError::LockedOut { .. }
                    | CitizenError::NeedsEnrollment { reason: EnrollmentReason::NotEnrolled, .. },
                ) => {}
                other => panic!("{other:?}"),
            }
        }
        // Wait out whatever lock the burst left.
        env.clock.advance(3_601);
    }
    // The 10th consecutive failure erases: 9 answers `incorrect`, one answers `wiped`.
    assert_eq!((incorrect, wiped), (WIPE_AFTER - 1, 1));
    assert_eq!(env.keys.key_count(), 0);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn simultaneous_correct_passcodes_never_lock_out() {
    let mut env = env().await;
    for round in 0..40 {
        for r in burst(&env.core, verify(PASS)).await {
            if let Err(e) = r {
                panic!("round {round}: correct passcode refused: {}", e.detail().code);
            }
        }
        assert_eq!(env.core.account().passcode_status().await.unwrap().failed_attempts, 0);
    }
    // Logins too (each also signs a challenge; the passcode gate is the same).
    for r in burst(&env.core, |core| async move { core.account().login(PASS.into()).await.map(|_| ()) }).await {
        assert!(!matches!(r, Err(CitizenError::LockedOut { .. } | CitizenError::PasscodeRejected { .. })), "{r:?}");
    }
    assert_eq!(env.core.account().passcode_status().await.unwrap().failed_attempts, 0);
    env.stop().await;
}

#[tokio::test]
async fn a_second_core_on_the_same_data_directory_is_refused_until_the_first_is_dropped() {
    let env = env().await;
    let open = || CitizenCore::with_clock(env.config("core"), env.keys.clone(), env.wrapper.clone(), env.clock.clone());
    let e = open().err().expect("a second core on the same directory must be refused");
    assert_eq!(e.detail().code, "storage.already_open");
    assert!(matches!(e, CitizenError::Internal { .. }), "{e:?}");
    // The desktop constructor takes the same lock.
    let desktop = CitizenCore::new_desktop(env.config("core"));
    assert!(matches!(desktop, Err(CitizenError::Internal { .. })));
    // The first core is unaffected.
    assert_eq!(env.core.status().await.unwrap().enrollment, EnrollmentState::Enrolled);

    // After the first is dropped the directory opens again, with everything in it — even while
    // the shell still holds sub-clients of the old core (garbage-collected whenever the runtime
    // likes): only the root holds the directory.
    let Concurrency { mut env, core, keys, wrapper } = env;
    let (old_account, old_services) = (core.account(), core.services());
    drop(core);
    let core = CitizenCore::with_clock(env.config("core"), keys, wrapper, env.clock.clone()).unwrap();
    // The old sub-clients are closed with their core: a typed error, nothing touches the data.
    let e = old_account.verify_passcode(PASS.into()).await.unwrap_err();
    assert_eq!(e.detail().code, "core.closed", "{e:?}");
    assert_eq!(old_services.list_drafts().await.unwrap_err().detail().code, "core.closed");
    assert_eq!(core.status().await.unwrap().enrollment, EnrollmentState::Enrolled);
    core.account().verify_passcode(PASS.into()).await.unwrap();
    // The lock is per directory: another directory opens alongside.
    let other = CitizenCore::new_desktop(env.config("other")).unwrap();
    assert_eq!(other.status().await.unwrap().enrollment, EnrollmentState::NotEnrolled);
    env.stop().await;
}

/// A core dropped right after its last call frees the directory at once: no call's task still
/// holds the engine (and with it the lock) after the call returned.
#[tokio::test(flavor = "multi_thread")]
async fn a_core_reopens_right_after_its_last_call() {
    let env = env().await;
    let Concurrency { env, core, keys, wrapper } = env;
    drop(core);
    for i in 0..200 {
        let core = CitizenCore::with_clock(env.config("core"), keys.clone(), wrapper.clone(), env.clock.clone())
            .unwrap_or_else(|e| panic!("reopen {i}: {e:?}"));
        assert_eq!(core.status().await.unwrap().enrollment, EnrollmentState::Enrolled);
        core.account().passcode_status().await.unwrap();
    }
}

/// Issue 11: bookkeeping appends that run at the same time — the activity entries of
/// simultaneous submits (each queued to `activity_pending` and flushed by its own task), while
/// case syncs and anchors flush and sign the same queue — lose no entry and no count: every
/// submission has its entry, the sequence numbers run 1, 2, 3, … without a gap or a repeat, the
/// counters increase, nothing stays waiting, and the log verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn simultaneous_bookkeeping_appends_lose_no_entry() {
    const SUBMITS: usize = 4;
    let mut env = Env::new().await;
    let d = env.enrolled("phone", CITIZEN_1).await;
    let core = d.core.clone();
    core.services().refresh_catalogue().await.unwrap();
    core.services().refresh_profile().await.unwrap();
    let mut drafts = vec![];
    for _ in 0..SUBMITS {
        let id = core.services().create_draft("residence-notification".into()).await.unwrap().draft_id;
        crate::env::fill_residence(&core, &id, env.clock.as_ref()).await;
        drafts.push(id);
    }
    let before = core.activity().list_entries().await.unwrap().len();

    let barrier = Arc::new(tokio::sync::Barrier::new(SUBMITS + 4));
    let mut tasks = vec![];
    for id in drafts {
        let (b, core) = (barrier.clone(), core.clone());
        tasks.push(tokio::spawn(async move {
            b.wait().await;
            core.services().submit_draft(id, PASS.into()).await.map(|_| ())
        }));
    }
    for i in 0..4 {
        let (b, core) = (barrier.clone(), core.clone());
        tasks.push(tokio::spawn(async move {
            b.wait().await;
            if i % 2 == 0 {
                core.services().sync_cases().await.map(|_| ())
            } else {
                core.activity().anchor().await.map(|_| ())
            }
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    // Deliver what the background deliveries have not yet: one delivery entry per submission.
    core.services().sync_outbox().await.unwrap();
    let items = core.services().list_outbox().await.unwrap();
    assert!(items.iter().all(|i| i.state == citizen_core::OutboxState::Delivered), "{items:?}");
    core.activity().anchor().await.unwrap();

    let entries = core.activity().list_entries().await.unwrap();
    let count = |k: ActivityKind| entries.iter().filter(|e| e.kind == k).count();
    assert_eq!(count(ActivityKind::Submission), SUBMITS, "{entries:?}");
    assert_eq!(count(ActivityKind::SubmissionDelivered), SUBMITS, "{entries:?}");
    assert_eq!(entries.len(), before + 2 * SUBMITS, "no other entry, none lost");
    let seqs: Vec<i64> = entries.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=entries.len() as i64).collect::<Vec<_>>(), "no gap, no repeat");
    assert!(entries.windows(2).all(|w| w[0].counter < w[1].counter), "counters increase");
    let report = core.activity().verify().await.unwrap();
    assert!(report.intact, "{:?}", report.problems);
    assert_eq!(report.entries as usize, entries.len());
    assert_eq!(report.anchored_seq, entries.len() as i64, "the final anchor covers every entry");
    env.stop().await;
}
