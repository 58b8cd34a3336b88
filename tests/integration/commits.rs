//! How many SQLite commits, and how many of them `fsync`ed, a login, an enqueue and a delivery
//! take on the device (issue 14, item 5; ARCHITECTURE.md, the decision on grouped commits).
//! Counts, not times: the store counts its commits through SQLite's commit hook (feature
//! `test-support`), and a commit made under `synchronous=NORMAL` (`Store::unsynced`) is counted
//! as not synced. Before the grouping a login took 7 commits, all synced; an enqueue 7, all
//! synced; a delivery 5, all synced. Decision 39 brought them to 5/4, 5/4 and 4/2; decision 46
//! reserves the counter with the passcode attempt and lets the login's session wait for its
//! signed entry: 5/2, 5/3 and 4/2.

use citizen_core::OutboxState;
use citizen_server::Fault;

use crate::env::{fill_residence, Env, PASS};

fn delta(before: (u64, u64), after: (u64, u64)) -> (u64, u64) {
    (after.0 - before.0, after.1 - before.1)
}

/// Wait until the signed activity log holds `n` delivery entries (the delivery's last commit).
async fn wait_for_delivered_entries(core: &citizen_core::CitizenCore, n: usize) {
    for _ in 0..1000 {
        let entries = core.activity().list_entries().await.unwrap();
        if entries.iter().filter(|e| format!("{:?}", e.kind) == "SubmissionDelivered").count() >= n {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("{n} delivery entries never appeared");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_login_an_enqueue_and_a_delivery_take_grouped_commits() {
    let env = Env::new().await;
    let d = env.enrolled("commits", citizen_server::testing::CITIZEN_1).await;
    let core = d.core.clone();
    core.services().refresh_catalogue().await.unwrap();
    core.services().refresh_profile().await.unwrap();

    // Login: passcode reservation + the login counter (synced, before the comparison); passcode
    // success (not synced); the session + the queued activity entry (not synced); the entry's
    // counter (not synced: the entry carries its signature); the signed entry (synced, which
    // makes everything before it durable: WAL order).
    let before = core.store_commit_counts();
    core.account().login(PASS.into()).await.unwrap();
    assert_eq!(delta(before, core.store_commit_counts()), (5, 2), "login: (commits, synced)");

    // Hold delivery: the first attempt gets a 503 with a day-long Retry-After.
    env.server().set_faults(vec![Fault::Status503RetryAfter(86_400)]);
    let first = core.services().create_draft("residence-notification".into()).await.unwrap().draft_id;
    fill_residence(&core, &first, &*env.clock).await;
    core.clone().services().submit_draft(first, PASS.into()).await.unwrap();
    // The background attempt: `sending` (not synced), back to `queued` with the Retry-After.
    for _ in 0..500 {
        let items = core.services().list_outbox().await.unwrap();
        if items[0].state == OutboxState::Queued && items[0].attempts == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(env.server().pending_faults(), 0, "the 503 was served");

    // Enqueue: passcode reservation + the submit counter (synced); passcode success (not
    // synced); the queued request + its draft marked + the queued activity entry (synced); the entry's
    // counter (not synced); the signed entry (synced). Its background delivery stops at the
    // held head of the queue without writing.
    let second = core.services().create_draft("residence-notification".into()).await.unwrap().draft_id;
    fill_residence(&core, &second, &*env.clock).await;
    let before = core.store_commit_counts();
    core.clone().services().submit_draft(second, PASS.into()).await.unwrap();
    assert_eq!(delta(before, core.store_commit_counts()), (5, 3), "enqueue: (commits, synced)");

    // Release the queue and let both be delivered (not counted: the first receipt also fetches
    // and stores the server's keys).
    env.clock.advance(86_401);
    let r = core.services().sync_outbox().await.unwrap();
    assert_eq!(r.remaining, 0, "{:?}", r.last_error);
    wait_for_delivered_entries(&core, 2).await;

    // A third submission and its delivery (by the background task `submit_draft` starts), with
    // nothing else writing: the enqueue as above, then per delivery `sending` (not synced);
    // delivered + case + the queued activity entry (synced); the entry's counter (not synced);
    // the signed entry (synced).
    let third = core.services().create_draft("residence-notification".into()).await.unwrap().draft_id;
    fill_residence(&core, &third, &*env.clock).await;
    let before = core.store_commit_counts();
    core.clone().services().submit_draft(third, PASS.into()).await.unwrap();
    wait_for_delivered_entries(&core, 3).await;
    let items = core.services().list_outbox().await.unwrap();
    assert!(items.iter().all(|i| i.state == OutboxState::Delivered), "{items:?}");
    assert_eq!(delta(before, core.store_commit_counts()), (5 + 4, 3 + 2), "enqueue + delivery: (commits, synced)");

    // Nothing was lost by the grouping: both deliveries and the login are in the signed log, and
    // the log verifies.
    let entries = core.activity().list_entries().await.unwrap();
    let kinds: Vec<String> = entries.iter().map(|e| format!("{:?}", e.kind)).collect();
    for kind in ["Login", "Submission", "SubmissionDelivered"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} not in the activity log: {kinds:?}");
    }
    assert_eq!(kinds.iter().filter(|k| *k == "SubmissionDelivered").count(), 3, "{kinds:?}");
    let report = core.activity().verify().await.unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}
