//! Subscriptions and the core's lifecycle (issue 11): `observe_outbox` replays the current
//! outbox and then every change in order to each of several subscribers, `cancel()` ends one,
//! closing the core ends all; `observe_status` reports logins, logouts and lost sessions;
//! `shutdown()` stops the background delivery a submit started, so nothing is written after it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use citizen_core::{
    CitizenCore, CitizenError, CoreStatus, ObserverError, OutboxItem, OutboxListener, OutboxState, StatusListener,
};
use citizen_server::Fault;

use crate::env::{submit_residence, Env, PASS};

const WHO: (&str, &str, &str) = ("036076000006", "1976-11-11", "+84900000006");

/// Every notification a listener got, and whether it heard the end.
#[derive(Default)]
struct Outbox {
    snapshots: Mutex<Vec<Vec<OutboxItem>>>,
    ended: Mutex<bool>,
}

impl OutboxListener for Outbox {
    fn on_outbox(&self, items: Vec<OutboxItem>) -> Result<(), ObserverError> {
        assert!(!*self.ended.lock().unwrap(), "a notification after the end");
        self.snapshots.lock().unwrap().push(items);
        Ok(())
    }
    fn on_end(&self) -> Result<(), ObserverError> {
        *self.ended.lock().unwrap() = true;
        Ok(())
    }
}

/// Wait for a condition the core reaches on its own threads (never a timing assertion: the
/// bound only turns a hang into a failure).
async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..2000 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("timed out waiting for {what}");
}

impl Outbox {
    fn count(&self) -> usize {
        self.snapshots.lock().unwrap().len()
    }
    fn last(&self) -> Vec<OutboxItem> {
        self.snapshots.lock().unwrap().last().cloned().unwrap_or_default()
    }
    /// The states `id` went through, in delivery order, without repeats.
    fn states(&self, id: &str) -> Vec<OutboxState> {
        let mut out: Vec<OutboxState> = vec![];
        for snap in self.snapshots.lock().unwrap().iter() {
            if let Some(i) = snap.iter().find(|i| i.submission_id == id) {
                if out.last() != Some(&i.state) {
                    out.push(i.state);
                }
            }
        }
        out
    }
    fn ended(&self) -> bool {
        *self.ended.lock().unwrap()
    }
}

async fn ready(env: &Env) -> Arc<CitizenCore> {
    let d = env.enrolled("phone", WHO).await;
    assert!(d.core.services().refresh_catalogue().await.unwrap());
    d.core.services().refresh_profile().await.unwrap();
    d.core
}

#[tokio::test(flavor = "multi_thread")]
async fn the_outbox_subscription_replays_keeps_order_and_ends() {
    let mut env = Env::new().await;
    let core = ready(&env).await;
    // Offline: the first submission stays queued.
    env.stop().await;
    let first = submit_residence(&core, &*env.clock).await;
    // The submit's background attempt is over once an explicit sync (which waits for it) is.
    assert_eq!(core.services().sync_outbox().await.unwrap().remaining, 1);

    // Replay: a new subscriber gets the current outbox first.
    let a = Arc::new(Outbox::default());
    let b = Arc::new(Outbox::default());
    let sub_a = core.services().observe_outbox(a.clone()).unwrap();
    let _sub_b = core.services().observe_outbox(b.clone()).unwrap();
    until("the replay", || a.count() >= 1 && b.count() >= 1).await;
    let replay = a.snapshots.lock().unwrap()[0].clone();
    assert_eq!(replay.iter().map(|i| i.submission_id.as_str()).collect::<Vec<_>>(), [first.submission_id.as_str()]);
    assert_eq!(replay[0].state, OutboxState::Queued);

    // Online again: both see the item go queued → sending → delivered, in that order.
    env.restart().await;
    assert_eq!(core.services().sync_outbox().await.unwrap().delivered, 1);
    for l in [&a, &b] {
        until("delivered", || l.last().first().is_some_and(|i| i.state == OutboxState::Delivered)).await;
        let states = l.states(&first.submission_id);
        assert_eq!(states.first(), Some(&OutboxState::Queued), "{states:?}");
        assert_eq!(states.last(), Some(&OutboxState::Delivered), "{states:?}");
        assert!(states.contains(&OutboxState::Sending), "{states:?}");
        let order = |s: OutboxState| states.iter().position(|x| *x == s).unwrap();
        assert!(order(OutboxState::Queued) < order(OutboxState::Sending));
        assert!(order(OutboxState::Sending) < order(OutboxState::Delivered));
    }

    // Cancel one: it hears the end and nothing more; the other keeps listening.
    sub_a.cancel();
    until("a's end", || a.ended()).await;
    let a_count = a.count();
    let second = submit_residence(&core, &*env.clock).await;
    until("b sees the second submission", || b.last().iter().any(|i| i.submission_id == second.submission_id)).await;
    assert_eq!(a.count(), a_count, "a cancelled subscription was notified");
    assert!(!b.ended());

    // Closing the core (dropping the root) ends every subscription.
    drop(core);
    until("b's end", || b.ended()).await;
    env.stop().await;
}

/// Status changes the core notices, deduplicated.
#[derive(Default)]
struct Status(Mutex<Vec<CoreStatus>>, Mutex<bool>);

impl StatusListener for Status {
    fn on_status(&self, status: CoreStatus) -> Result<(), ObserverError> {
        self.0.lock().unwrap().push(status);
        Ok(())
    }
    fn on_end(&self) -> Result<(), ObserverError> {
        *self.1.lock().unwrap() = true;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_status_subscription_reports_logout_login_and_ends_on_shutdown() {
    let mut env = Env::new().await;
    let core = ready(&env).await;
    let s = Arc::new(Status::default());
    let _sub = core.observe_status(s.clone()).unwrap();
    until("the replay", || !s.0.lock().unwrap().is_empty()).await;
    assert!(s.0.lock().unwrap()[0].logged_in);

    core.account().logout().await.unwrap();
    until("logged out", || s.0.lock().unwrap().last().is_some_and(|st| !st.logged_in)).await;
    core.account().login(PASS.into()).await.unwrap();
    until("logged in", || s.0.lock().unwrap().last().is_some_and(|st| st.logged_in)).await;
    let seen = s.0.lock().unwrap().clone();
    assert!(seen.windows(2).all(|w| w[0] != w[1]), "repeated statuses: {seen:?}");

    core.shutdown().await;
    until("the end", || *s.1.lock().unwrap()).await;
    env.stop().await;
}

/// The detached delivery task used to outlive `close()` and keep writing after a reset. Now a
/// submit's delivery is background work of the core: `shutdown()` aborts and awaits it while it
/// waits for the server's answer, so that answer is never written; the item stays in the outbox,
/// the directory is free at once, and a new core delivers it exactly once (idempotent replay).
#[tokio::test(flavor = "multi_thread")]
async fn shutdown_stops_the_background_delivery_before_close() {
    let env = Env::new().await;
    let core = ready(&env).await;
    // The server holds the submission for a while before committing it.
    env.server().set_faults(vec![Fault::Delay(1_500)]);
    let item = submit_residence(&core, &*env.clock).await;
    // The background delivery has reached the server (it took the fault) …
    until("the request in flight", || env.server().pending_faults() == 0).await;
    // … and the core is shut down while it waits for the answer.
    core.shutdown().await;
    let e = core.services().list_outbox().await.unwrap_err();
    assert_eq!(citizen_core::PublicError::detail(&e).code, "core.closed");
    assert!(matches!(e, CitizenError::Internal { .. }));
    // The data directory is free while the old object still exists; the stored item is still
    // the one being sent (the delivery was stopped before any answer was written) …
    let again = env.device("phone").core;
    let stored = again.services().list_outbox().await.unwrap();
    let stored = stored.iter().find(|i| i.submission_id == item.submission_id).unwrap();
    assert_eq!(stored.state, OutboxState::Sending, "written after shutdown: {stored:?}");
    drop(core);
    // … and is delivered once when the app runs again.
    again.account().login(PASS.into()).await.unwrap();
    let r = again.services().sync_outbox().await.unwrap();
    assert_eq!((r.delivered, r.remaining), (1, 0), "{:?}", r.last_error);
    assert_eq!(env.server().cases_for_submission(&item.submission_id), 1, "no duplicate case");
}
