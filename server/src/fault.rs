//! Fault injection for client tests of `POST /v1/submissions` (retries, idempotency, lost
//! answers). Deterministic: a FIFO queue; each submission request whose body parsed as a
//! submission takes the next fault from the front (none left = normal handling). Other
//! endpoints are never affected.
//!
//! Behind the `fault` feature (enabled by the `testing` feature and by this crate's and the
//! core's tests): the shipped server has no fault queue and no hook.

use std::collections::VecDeque;
use std::sync::Mutex;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use citizen_protocol::protocol as p;

use crate::api::{ApiError, AppState};

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

/// The hook before a submission is handled: takes the next fault and applies what happens
/// before processing. `Err` is the answer to send instead of processing; `Ok` carries the fault
/// for [`after_handling`].
pub async fn before_handling(s: &AppState) -> Result<Option<Fault>, Response> {
    let fault = s.faults.next();
    match fault {
        Some(Fault::DropBeforeHandling) => drop_connection(),
        Some(Fault::Status500) => return Err(ApiError::internal().into_response()),
        Some(Fault::Status503RetryAfter(secs)) => {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                p::codes::INTERNAL,
                "service temporarily unavailable",
            )
            .with_retry_after(secs)
            .into_response())
        }
        Some(Fault::Delay(ms)) => tokio::time::sleep(std::time::Duration::from_millis(ms)).await,
        _ => {}
    }
    Ok(fault)
}

/// The hook after a submission was handled (`committed`: it succeeded): the answer to send
/// instead of the real one, if the fault says so.
pub fn after_handling(fault: Option<Fault>, committed: bool) -> Option<Response> {
    match (fault, committed) {
        (Some(Fault::FailAfterCommit), true) => drop_connection(),
        (Some(Fault::CommitThen500), true) => Some(ApiError::internal().into_response()),
        _ => None,
    }
}
