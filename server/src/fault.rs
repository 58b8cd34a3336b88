//! Fault injection for client tests of `POST /v1/submissions` (retries, idempotency, lost
//! answers). Deterministic: a FIFO queue; each submission request whose body parsed as a
//! submission takes the next fault from the front (none left = normal handling). Other
//! endpoints are never affected.

use std::collections::VecDeque;
use std::sync::Mutex;

/// What happens to one submission request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Close the connection without an answer; nothing is processed or stored.
    DropBeforeHandling,
    /// Process and commit normally (case created, receipt stored for replay), then close the
    /// connection without an answer: the "answer lost after commit" case.
    FailAfterCommit,
    /// Process and commit normally, then answer 500 `internal` instead of the receipt.
    CommitThen500,
    /// Answer 500 `internal`; nothing is processed.
    Status500,
    /// Answer 503 with `Retry-After: <secs>` (header and `retry_after` in the body); nothing is
    /// processed.
    Status503RetryAfter(u64),
    /// Wait this many milliseconds, then process normally.
    Delay(u64),
}

/// The queue.
#[derive(Default)]
pub struct FaultQueue(Mutex<VecDeque<Fault>>);

impl FaultQueue {
    /// Replace the queue.
    pub fn set(&self, faults: Vec<Fault>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = faults.into();
    }
    /// Take the next fault.
    pub fn next(&self) -> Option<Fault> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).pop_front()
    }
    /// Faults not yet applied.
    pub fn pending(&self) -> usize {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// Abort the current connection: unwinding out of the handler drops the connection task (and the
/// socket) without writing a response. `resume_unwind` skips the panic hook, so nothing is
/// printed; the server keeps serving other connections.
pub fn drop_connection() -> ! {
    std::panic::resume_unwind(Box::new("fault injection: connection dropped"))
}
