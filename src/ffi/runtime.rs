//! The core's own runtime: where every exported call does its work.
//!
//! **Why.** UniFFI drives an exported `async fn` by polling its Rust future *on the thread that
//! called it* (Kotlin's dispatcher thread, Swift's executor). A body that does SQLite, AES-GCM or
//! an `fsync` inside that poll does it on the caller's thread — on Android's main dispatcher an
//! ANR risk, on iOS a `@MainActor` stall. So every exported method that touches storage, crypto
//! or the network hands its body to this runtime and only awaits the task's `JoinHandle`
//! ([`run`] for async bodies, [`run_blocking`] for synchronous SQLite work), as matrix-sdk-ffi
//! does: the caller's poll only checks whether the task is done. Main-safety is then a property
//! of the construction, not of each shell's discipline (`Dispatchers.IO`, `Task.detached`).
//!
//! **One runtime per process**, created on first use and never dropped: a runtime owned by a
//! core would have to be shut down when the core goes, and tokio refuses to drop a runtime from
//! inside an async context (a Rust test, the CLI). Background work of a core (outbox delivery)
//! runs here too, so it does not depend on the caller keeping a runtime alive.
//!
//! **Cancellation.** Dropping the caller's future (a cancelled Kotlin coroutine or Swift task)
//! aborts the task spawned by [`run`] at its next `.await`: a key-store `sign` it awaits is
//! dropped with it, so UniFFI cancels the foreign call and the platform dismisses the biometric
//! prompt (decision 26). Nothing is half-written by that: storage work runs in
//! [`run_blocking`] sections, which always finish once started (tokio cannot abort them), and
//! everything durable is committed in one transaction; an outbox item already committed is
//! delivered by the core's own background task, which a caller's cancellation does not touch.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;

/// The process-wide runtime of the core (two worker threads; blocking work on its blocking pool).
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("citizen-core")
            .enable_all()
            .build()
            .expect("the core's runtime starts")
    })
}

/// A handle to the core's runtime (subscriptions and background work that outlive the call).
pub(crate) fn handle() -> tokio::runtime::Handle {
    runtime().handle().clone()
}

/// The result of a task, its type erased (see [`run`]).
type Output = Box<dyn Any + Send>;

/// Run `fut` on the core's runtime and wait for it; the caller's thread does none of its work.
/// A panic in the task resumes in the caller (UniFFI turns it into an internal error).
///
/// The future and its output are boxed and their types erased before spawning, so tokio's task
/// machinery (cell, harness, vtable: ~2.5 KB of code per task type) is compiled once instead of
/// once per exported call (116 of them; issue 14, size). The cost is two allocations per call.
pub(crate) async fn run<T: Send + 'static>(fut: impl Future<Output = T> + Send + 'static) -> T {
    let erased: Pin<Box<dyn Future<Output = Output> + Send>> = Box::pin(async move { Box::new(fut.await) as Output });
    let handle = spawn_erased(erased);
    // Aborting a task that already finished does nothing, so the guard needs no disarming.
    let _abort_if_dropped = AbortOnDrop(handle.abort_handle());
    unerase(joined(handle.await))
}

/// The one spawn of [`run`] (one task type).
fn spawn_erased(fut: Pin<Box<dyn Future<Output = Output> + Send>>) -> tokio::task::JoinHandle<Output> {
    runtime().spawn(fut)
}

/// The one blocking spawn of [`run_blocking`] (one blocking task type).
fn spawn_blocking_erased(f: Box<dyn FnOnce() -> Output + Send>) -> tokio::task::JoinHandle<Output> {
    runtime().spawn_blocking(f)
}

fn unerase<T: 'static>(out: Output) -> T {
    match out.downcast::<T>() {
        Ok(v) => *v,
        // The box was made from a `T` by the caller's own closure just above.
        Err(_) => unreachable!("a task's output has the type it was spawned with"),
    }
}

/// Aborts the task when the caller stops waiting for it (see "Cancellation" above).
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Run the synchronous (SQLite, AES, file) `f` on the runtime's blocking pool and wait for it.
pub(crate) async fn run_blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    unerase(joined(spawn_blocking_erased(Box::new(move || Box::new(f()) as Output)).await))
}

fn joined<T>(r: Result<T, tokio::task::JoinError>) -> T {
    match r {
        Ok(v) => v,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        // The runtime is never shut down, and a handle is aborted only once nobody waits for it.
        Err(e) => panic!("core task ended without a result: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The work runs on a thread of the core's runtime, not on the caller's.
    #[tokio::test(flavor = "current_thread")]
    async fn work_runs_off_the_calling_thread() {
        let caller = std::thread::current().id();
        let async_thread = run(async { std::thread::current().id() }).await;
        let blocking_thread = run_blocking(|| std::thread::current().id()).await;
        assert_ne!(async_thread, caller);
        assert_ne!(blocking_thread, caller);
    }

    /// Dropping the caller's wait cancels the task at its next await (a pending key-store
    /// prompt is dropped with it), instead of leaving it running with nobody to answer.
    #[tokio::test(flavor = "current_thread")]
    async fn dropping_the_wait_cancels_the_task() {
        struct Flag(std::sync::Arc<std::sync::atomic::AtomicBool>);
        impl Drop for Flag {
            fn drop(&mut self) {
                self.0.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        }
        let dropped = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
        let flag = Flag(dropped.clone());
        let wait = tokio::spawn(run(async move {
            let _flag = flag;
            let _ = started_tx.send(());
            std::future::pending::<()>().await;
        }));
        started_rx.await.unwrap();
        wait.abort();
        let _ = wait.await;
        let (done_tx, done_rx) = tokio::sync::oneshot::channel::<bool>();
        runtime().spawn(async move {
            for _ in 0..1000 {
                if dropped.load(std::sync::atomic::Ordering::SeqCst) {
                    let _ = done_tx.send(true);
                    return;
                }
                tokio::task::yield_now().await;
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
            let _ = done_tx.send(false);
        });
        assert!(done_rx.await.unwrap(), "the aborted task's future was dropped");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_panic_in_the_task_reaches_the_caller() {
        let r = tokio::spawn(async { run_blocking(|| panic!("boom")).await as () }).await;
        assert!(r.unwrap_err().is_panic());
    }
}
