//! The life of an open core: what it owns ([`Shared`]), its background work, its subscriptions
//! ([`Subscription`], `observe_outbox`, `observe_status`) and their end (`shutdown`, drop).
//!
//! **Ownership.** Only the root `CitizenCore` holds [`Shared`] strongly; sub-clients hold it
//! weakly (`facade::Engine`). `shutdown()` — and dropping the root (Kotlin `close()`, Swift
//! `deinit`) — first stops the background work (the delivery a submit starts is a task of this
//! core, aborted and awaited, so nothing writes after `shutdown` returns), then ends every
//! subscription (each listener hears `on_end`), then lets go of the engine; the data
//! directory's lock goes with the last reference to the engine ([`Held`]: a call still running
//! keeps it, so two engines never share a directory). Later calls fail with `core.closed`.
//!
//! **Subscriptions.** A listener is registered before the current state is read, gets that
//! state first (replay), then every change in the order the engine made it: each subscription has
//! its own channel and its own task on the core's runtime, which calls the listener one
//! notification at a time. Several subscribers are independent; `cancel()` ends one. A
//! subscription does not end when its object is garbage-collected — only `cancel()`, `shutdown`
//! or closing the core end it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};

use tokio::sync::mpsc;

use super::facade::{core_status, CoreStatus};
use super::runtime;
use super::services::{outbox_item, OutboxItem};
use crate::account::Account;
use crate::datadir::DataDirLock;
use crate::platform::DataKeyWrapper;
use crate::services::storage::OutboxRow;

/// Errors a listener reports (logged and otherwise ignored: a listener can never stop a
/// delivery or the core).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum ObserverError {
    /// The listener failed.
    #[error("observer failed")]
    Failed {
        /// What went wrong (logged, never shown).
        reason: String,
    },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for ObserverError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        ObserverError::Failed { reason: e.reason }
    }
}

/// Receives the outbox: first the current items, then the whole outbox again after every
/// change, in order. Called from a core thread, one call at a time; keep it short and hop to the
/// UI thread yourself (the shells' `Flow` / `AsyncStream` adapters do).
#[uniffi::export(with_foreign)]
pub trait OutboxListener: Send + Sync {
    /// The outbox in queue order (the first call is the state when the subscription started).
    fn on_outbox(&self, items: Vec<OutboxItem>) -> Result<(), ObserverError>;
    /// The subscription ended (cancelled, or the core was shut down or closed): no more calls.
    fn on_end(&self) -> Result<(), ObserverError>;
}

/// Receives the core's status: first the current one, then each change the core notices (a
/// login or logout, an enrollment, a session that expired or was revoked, a device the server
/// deactivated, a wipe). Called from a core thread, one call at a time.
#[uniffi::export(with_foreign)]
pub trait StatusListener: Send + Sync {
    /// The status (never the same twice in a row).
    fn on_status(&self, status: CoreStatus) -> Result<(), ObserverError>;
    /// The subscription ended (cancelled, or the core was shut down or closed): no more calls.
    fn on_end(&self) -> Result<(), ObserverError>;
}

/// A running subscription (`observe_outbox`, `observe_status`). Keep it while you listen and
/// call `cancel()` when done; it also ends when the core is shut down or closed.
#[derive(uniffi::Object)]
pub struct Subscription {
    hub: Weak<Hub>,
    id: u64,
}

#[uniffi::export]
impl Subscription {
    /// Stop the notifications (idempotent). The listener hears `on_end` once the notification
    /// being delivered, if any, is done. Main-safe; never prompts; never throws.
    pub fn cancel(&self) {
        if let Some(hub) = self.hub.upgrade() {
            hub.remove(self.id);
        }
    }
}

/// What a subscription's channel carries.
enum Event {
    /// An outbox item changed (boxed: the status tick stays small).
    Outbox(Box<OutboxItem>),
    /// The status may have changed.
    Status,
}

/// The subscribers of one core.
#[derive(Default)]
pub(crate) struct Hub {
    next_id: AtomicU64,
    senders: Mutex<HashMap<u64, (mpsc::UnboundedSender<Event>, bool)>>,
}

impl Hub {
    fn add(&self, wants_outbox: bool) -> (u64, mpsc::UnboundedReceiver<Event>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.senders.lock().unwrap_or_else(|p| p.into_inner()).insert(id, (tx, wants_outbox));
        (id, rx)
    }

    fn remove(&self, id: u64) {
        self.senders.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
    }

    /// End every subscription (their channels close; each task tells its listener).
    pub(crate) fn close(&self) {
        self.senders.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    fn publish(&self, outbox: bool, event: impl Fn() -> Event) {
        let senders = self.senders.lock().unwrap_or_else(|p| p.into_inner());
        for (tx, wants_outbox) in senders.values() {
            if *wants_outbox == outbox {
                let _ = tx.send(event());
            }
        }
    }

    /// The engine's outbox event (called synchronously after every state change).
    pub(crate) fn outbox_changed(&self, row: &OutboxRow) {
        let item = outbox_item(row);
        self.publish(true, || Event::Outbox(Box::new(item.clone())));
    }

    /// Something that may change the status happened.
    pub(crate) fn status_changed(&self) {
        self.publish(false, || Event::Status);
    }
}

/// How long `shutdown` waits for calls still running on blocking threads to let go of the data
/// directory (an object the app still holds, such as an open presentation session, keeps it
/// until it is closed; shutdown does not wait for that longer than this).
const RELEASE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// What one open core owns. Only the root holds it strongly (see the module docs).
pub(crate) struct Shared {
    open: RwLock<Option<Open>>,
    pub(crate) hub: Arc<Hub>,
    /// Background work of this core (deliveries started by a submit).
    tasks: Mutex<tokio::task::JoinSet<()>>,
}

struct Open {
    engine: Arc<Held>,
}

/// The engine together with the data directory's lock. Every call and task holds this (not the
/// bare engine), so the directory stays locked until the last of them is done: closing the core
/// never lets a second core open the directory while this one's engine still runs.
pub(crate) struct Held {
    account: Account,
    /// Exclusive hold on the data directory (see [`crate::datadir`]).
    _dir_lock: DataDirLock,
}

impl std::ops::Deref for Held {
    type Target = Account;
    fn deref(&self) -> &Account {
        &self.account
    }
}

impl Shared {
    pub(crate) fn new(account: Account, lock: DataDirLock) -> Arc<Shared> {
        let hub = Arc::new(Hub::default());
        let weak = Arc::downgrade(&hub);
        account.set_outbox_listener(Some(Arc::new(move |row: &OutboxRow| {
            if let Some(hub) = weak.upgrade() {
                hub.outbox_changed(row);
            }
        })));
        Arc::new(Shared {
            open: RwLock::new(Some(Open { engine: Arc::new(Held { account, _dir_lock: lock }) })),
            hub,
            tasks: Mutex::new(tokio::task::JoinSet::new()),
        })
    }

    /// The engine, while the core is open.
    pub(crate) fn account(&self) -> Option<Arc<Held>> {
        self.open.read().unwrap_or_else(|p| p.into_inner()).as_ref().map(|o| Arc::clone(&o.engine))
    }

    /// Run `fut` as background work of this core (stopped by `shutdown` and by closing).
    pub(crate) fn spawn_background(&self, fut: impl std::future::Future<Output = ()> + Send + 'static) {
        let mut tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        // Reap what finished, so the set does not grow with every submit.
        while tasks.try_join_next().is_some() {}
        tasks.spawn_on(fut, &runtime::handle());
    }

    /// Stop the background work and wait until it has stopped; end the subscriptions; release
    /// the engine and the data directory, and wait (bounded by [`RELEASE_WAIT`]) until the
    /// directory is free.
    ///
    /// Why the wait: a call already running on a blocking thread (a database step of a status
    /// subscription or of an aborted delivery) cannot be interrupted and holds the engine, and so
    /// the directory's lock, until it returns. Without waiting, "shut down, then open the
    /// directory again" (the documented way to hand the directory to another core or to the
    /// desktop binary) failed now and then with `storage.already_open` on a loaded machine.
    pub(crate) async fn shutdown(&self) {
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|p| p.into_inner()));
        let engine = self.account().map(|held| Arc::downgrade(&held));
        runtime::run(async move {
            let mut tasks = tasks;
            tasks.shutdown().await;
        })
        .await;
        self.close_now();
        if let Some(engine) = engine {
            runtime::run(async move {
                let released = async {
                    while engine.strong_count() > 0 {
                        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                    }
                };
                if tokio::time::timeout(RELEASE_WAIT, released).await.is_err() {
                    tracing::info!(
                        "shutdown: the engine is still in use; the directory is released when that call returns"
                    );
                }
            })
            .await;
        }
    }

    /// What dropping the root does: abort the background work (without waiting), end the
    /// subscriptions, release the engine and the directory.
    pub(crate) fn close_now(&self) {
        self.tasks.lock().unwrap_or_else(|p| p.into_inner()).abort_all();
        self.hub.close();
        let open = self.open.write().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(open) = open {
            open.engine.set_outbox_listener(None);
        }
    }

    /// Subscribe to the outbox (see [`OutboxListener`]).
    pub(crate) fn observe_outbox(&self, account: Arc<Held>, listener: Arc<dyn OutboxListener>) -> Arc<Subscription> {
        let (id, mut rx) = self.hub.add(true);
        runtime::handle().spawn(async move {
            // Registered first, then the snapshot: a change in between arrives after it.
            let snapshot = runtime::run_blocking(move || account.outbox_items()).await;
            let mut items: Vec<OutboxItem> = match snapshot {
                Ok(rows) => rows.iter().map(outbox_item).collect(),
                Err(e) => {
                    tracing::info!(error = %e, "outbox subscription: snapshot");
                    vec![]
                }
            };
            notify(&listener, items.clone()).await;
            while let Some(event) = rx.recv().await {
                let Event::Outbox(item) = event else { continue };
                match items.iter_mut().find(|i| i.submission_id == item.submission_id) {
                    Some(old) => *old = *item,
                    None => items.push(*item),
                }
                notify(&listener, items.clone()).await;
            }
            let l = Arc::clone(&listener);
            let _ = runtime::run_blocking(move || l.on_end()).await;
        });
        Arc::new(Subscription { hub: Arc::downgrade(&self.hub), id })
    }

    /// Subscribe to the status (see [`StatusListener`]).
    pub(crate) fn observe_status(&self, account: Arc<Held>, listener: Arc<dyn StatusListener>) -> Arc<Subscription> {
        let (id, mut rx) = self.hub.add(false);
        let weak = Arc::downgrade(&account);
        drop(account);
        runtime::handle().spawn(async move {
            let mut last: Option<CoreStatus> = None;
            loop {
                // The engine may be gone (closed) while the channel still holds a tick.
                let Some(account) = weak.upgrade() else { break };
                let status = runtime::run_blocking(move || core_status(&account)).await;
                match status {
                    Ok(s) if last.as_ref() != Some(&s) => {
                        last = Some(s.clone());
                        let l = Arc::clone(&listener);
                        if let Err(e) = runtime::run_blocking(move || l.on_status(s)).await {
                            tracing::info!(error = %e, "status listener failed");
                        }
                    }
                    Ok(_) => {}
                    Err(e) => tracing::info!(error = %e, "status subscription: read"),
                }
                if rx.recv().await.is_none() {
                    break;
                }
                // Several ticks in a row are one change to look at.
                while rx.try_recv().is_ok() {}
            }
            let l = Arc::clone(&listener);
            let _ = runtime::run_blocking(move || l.on_end()).await;
        });
        Arc::new(Subscription { hub: Arc::downgrade(&self.hub), id })
    }
}

/// Call the outbox listener on a blocking thread and wait for it (one call at a time keeps the
/// order). A failing listener keeps its subscription; its failure is logged.
async fn notify(listener: &Arc<dyn OutboxListener>, items: Vec<OutboxItem>) {
    let l = Arc::clone(listener);
    if let Err(e) = runtime::run_blocking(move || l.on_outbox(items)).await {
        tracing::info!(error = %e, "outbox listener failed");
    }
}

/// The version of the core (the crate version), for support and for the shells' "about" page.
/// Pure: main-safe, never prompts, never throws.
#[uniffi::export]
pub fn core_version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// Erase this app's local data in `data_dir` (database, local keys, everything the core stored
/// there) and the platform key that wrapped its data key: after a lost data key
/// (`CitizenError::DataKeyLost`) or when the citizen resets the app. Never call it for
/// `DataKeyLocked` (retry instead). `key_wrapper` is the wrapper the core was opened with: the
/// core calls its `delete_key` with the aliases it used, so a shell never hard-codes them; pass
/// `None` for a desktop core (`open_desktop`), whose keys live in the directory. The wrapping key
/// goes first (what is left of the data can then never be opened, even if deleting a file
/// fails), then the files. Refused while a core holds the directory (`storage.already_open`:
/// shut it down first). Main-safe (runs on the core's runtime); never prompts. Throws
/// [`super::errors::CitizenError`] (`Internal`; `KeyStore` when the wrapper cannot delete its
/// key).
#[uniffi::export]
pub async fn erase_local_data(
    data_dir: String,
    key_wrapper: Option<Arc<dyn DataKeyWrapper>>,
) -> Result<(), super::errors::CitizenError> {
    runtime::run_blocking(move || {
        let dir = std::path::PathBuf::from(&data_dir);
        if data_dir.trim().is_empty() {
            return Err(crate::error::Error::Config("data_dir is empty".into()).into());
        }
        // Held while erasing: no core can open the directory meanwhile.
        let lock = if dir.exists() { Some(DataDirLock::acquire(&dir)?) } else { None };
        if let Some(wrapper) = &key_wrapper {
            wrapper.delete_key(crate::store::DATA_KEY_ALIAS.to_string()).map_err(|e| {
                tracing::info!(error = %e, "erase: the wrapping key was not deleted");
                super::errors::CitizenError::KeyStore {
                    detail: crate::error::Msg::KeyStore.detail(),
                    problem: super::errors::KeyStoreProblem::Failed,
                }
            })?;
        }
        if let Some(lock) = lock {
            for entry in std::fs::read_dir(&dir).map_err(|e| crate::error::Error::io("erase data dir", e))? {
                let entry = entry.map_err(|e| crate::error::Error::io("erase data dir", e))?;
                if entry.file_name() == crate::datadir::LOCK_FILE {
                    continue;
                }
                let path = entry.path();
                let r = if path.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
                r.map_err(|e| crate::error::Error::io("erase data dir", e))?;
            }
            drop(lock);
            let _ = std::fs::remove_file(dir.join(crate::datadir::LOCK_FILE));
        }
        Ok(())
    })
    .await
}
