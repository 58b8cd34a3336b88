//! Outbox policy, sans-I/O: what a delivery attempt's result means, and when to try again.
//!
//! * A **definite rejection** (the server understood the submission and refuses it: invalid
//!   form, unknown procedure, idempotency conflict, inactive device, bad signature) ends the
//!   item as `rejected`, with the reason shown to the citizen; the queue moves on.
//! * Anything else — offline, timeout, 5xx, 429, 409 "in progress", a malformed or unverifiable
//!   answer — is **transient**: the item stays queued and is tried again later, resent with the
//!   same Idempotency-Key and the same signed bytes, so the server answers the original result
//!   if it had already accepted it. Nothing is dropped on a transient failure.
//! * Delivery is strictly in queue order (head-of-line), because each submission carries the
//!   next value of the device's submit counter and the server requires it to increase.

use crate::error::{Error, Msg, NetError, NetworkErrorKind};
use crate::protocol::services::codes as scodes;

/// Base of the exponential backoff.
pub const BACKOFF_BASE_SECS: i64 = 2;
/// Longest backoff.
pub const BACKOFF_MAX_SECS: i64 = 15 * 60;

/// What to do after a failed attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// Keep the item; the server asked to wait this long (seconds), if it said.
    Retry {
        /// `Retry-After`, if any.
        retry_after: Option<u64>,
    },
    /// End the item as rejected with this stable code.
    Reject {
        /// Server or core code.
        code: String,
    },
    /// The device was locked remotely (issue 15): keep the item and every one after it, and
    /// hold the outbox until the device is re-bound and the citizen confirms.
    Hold,
}

/// Classify a delivery error.
pub fn classify(e: &Error) -> Disposition {
    match e {
        Error::Net(NetError { retry_after, .. }) => Disposition::Retry { retry_after: *retry_after },
        Error::Domain(Msg::RateLimited) => Disposition::Retry { retry_after: None },
        Error::DeviceInactive(status) if status == "locked" => Disposition::Hold,
        Error::DeviceInactive(status) => Disposition::Reject { code: format!("device_{status}") },
        Error::Server { status, code } => {
            let transient = matches!(*status, 408 | 425 | 429) || code == scodes::IN_PROGRESS;
            if transient {
                Disposition::Retry { retry_after: None }
            } else {
                Disposition::Reject { code: code.clone() }
            }
        }
        Error::Domain(m) => Disposition::Reject { code: m.code().to_string() },
        // Local problems (storage, key store) never reject a submission the citizen made.
        _ => Disposition::Retry { retry_after: None },
    }
}

/// Exponential backoff with jitter for the `attempts`-th failure: a random delay in
/// `[d/2, d]` with `d = min(base · 2^(attempts−1), max)`. `jitter` ∈ [0, 1).
pub fn backoff_secs(attempts: u32, jitter: f64) -> i64 {
    let exp = attempts.saturating_sub(1).min(20);
    let d = (BACKOFF_BASE_SECS.saturating_mul(1 << exp)).min(BACKOFF_MAX_SECS);
    let half = d / 2;
    // In [0, d − half] (jitter clamped to [0, 1]), and d ≤ BACKOFF_MAX_SECS: no truncation.
    #[allow(clippy::cast_possible_truncation)]
    let spread = ((d - half) as f64 * jitter.clamp(0.0, 1.0)) as i64;
    half + spread
}

/// When to try again, and the server-imposed earliest time (from Retry-After).
pub fn next_attempt(now: i64, attempts: u32, retry_after: Option<u64>, jitter: f64) -> (i64, i64) {
    let not_before = retry_after.map(|s| now.saturating_add_unsigned(s.min(24 * 3600))).unwrap_or(0);
    let backoff = now + backoff_secs(attempts, jitter);
    (backoff.max(not_before), not_before)
}

/// A transient error for a malformed or unverifiable answer (hostile or broken server).
pub fn bad_answer(detail: impl Into<String>) -> Error {
    Error::Net(NetError { kind: NetworkErrorKind::Protocol, detail: detail.into(), retry_after: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_and_definite_failures_are_told_apart() {
        let net = |kind, ra| Error::Net(NetError { kind, detail: String::new(), retry_after: ra });
        assert_eq!(classify(&net(NetworkErrorKind::Offline, None)), Disposition::Retry { retry_after: None });
        assert_eq!(classify(&net(NetworkErrorKind::Server, Some(30))), Disposition::Retry { retry_after: Some(30) });
        assert_eq!(classify(&net(NetworkErrorKind::Protocol, None)), Disposition::Retry { retry_after: None });
        assert_eq!(classify(&net(NetworkErrorKind::Tls, None)), Disposition::Retry { retry_after: None });
        assert_eq!(
            classify(&Error::Server { status: 409, code: scodes::IN_PROGRESS.into() }),
            Disposition::Retry { retry_after: None }
        );
        assert_eq!(
            classify(&Error::Server { status: 429, code: "x".into() }),
            Disposition::Retry { retry_after: None }
        );
        assert_eq!(
            classify(&Error::Server { status: 422, code: scodes::FORM_INVALID.into() }),
            Disposition::Reject { code: "form_invalid".into() }
        );
        assert_eq!(
            classify(&Error::Server { status: 422, code: scodes::IDEMPOTENCY_CONFLICT.into() }),
            Disposition::Reject { code: "idempotency_conflict".into() }
        );
        assert_eq!(
            classify(&Error::DeviceInactive("revoked".into())),
            Disposition::Reject { code: "device_revoked".into() }
        );
        assert_eq!(classify(&Error::Storage("x".into())), Disposition::Retry { retry_after: None });
    }

    #[test]
    fn backoff_grows_with_jitter_and_caps() {
        assert_eq!(backoff_secs(1, 0.0), 1);
        assert_eq!(backoff_secs(1, 0.999), 1);
        assert_eq!(backoff_secs(3, 0.0), 4);
        assert_eq!(backoff_secs(3, 0.99), 7);
        assert_eq!(backoff_secs(30, 0.0), BACKOFF_MAX_SECS / 2);
        assert!(backoff_secs(30, 0.99) <= BACKOFF_MAX_SECS);
        for n in 1..40 {
            assert!(backoff_secs(n, 0.5) <= backoff_secs(n + 1, 0.5));
        }
    }

    #[test]
    fn retry_after_is_honoured() {
        let (next, not_before) = next_attempt(1000, 1, Some(120), 0.0);
        assert_eq!((next, not_before), (1120, 1120));
        let (next, not_before) = next_attempt(1000, 2, None, 0.0);
        assert_eq!((next, not_before), (1002, 0));
    }
}
