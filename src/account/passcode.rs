//! The 6-digit passcode: format policy, verifier and the escalating lockout. Sans-I/O.
//!
//! **Verifier.** `HMAC-SHA-256(K, salt || passcode)` where `K` is derived from the data key, and
//! the data key exists on disk only wrapped by the platform [`crate::DataKeyWrapper`]. A copy of
//! the database alone therefore gives an attacker nothing to test guesses against: the 10⁶
//! possible passcodes are only enumerable with the phone's key store. (A slow hash would not
//! help against 10⁶ candidates; binding to the hardware key does.)
//!
//! **Lockout** (NIST SP 800-63B §3.2.2 asks for rate limiting; the platform key store's own
//! throttling comes on top): 5 free attempts, then a delay of 1 min, 5 min, then 1 h per further
//! failure, and at the 10th consecutive failure the local account is wiped and the citizen must
//! enroll again. Each failure is committed *before* the comparison's result is acted on.

use crate::crypto::{random_array, SecretKey};
use crate::error::{Error, FieldError, Msg};

/// Failures allowed without any delay.
pub const FREE_ATTEMPTS: u32 = 5;
/// At this many consecutive failures the local account is wiped.
pub const WIPE_AFTER: u32 = 10;
/// HKDF label of the verifier key.
pub const VERIFIER_KEY_INFO: &str = "passcode-verifier/v1";

/// Delay (seconds) imposed after the `failed`-th consecutive failure.
pub fn lockout_secs(failed: u32) -> u64 {
    match failed {
        0..FREE_ATTEMPTS => 0,
        5 => 60,
        6 => 5 * 60,
        _ => 60 * 60,
    }
}

/// Check the format of a new passcode. `date_of_birth` (`YYYY-MM-DD`), when known, rules out
/// passcodes built from it.
pub fn validate_new(passcode: &str, date_of_birth: Option<&str>) -> Result<(), Error> {
    let field = |m| Error::Fields(vec![FieldError::new("passcode", m)]);
    if passcode.len() != 6 || !passcode.bytes().all(|c| c.is_ascii_digit()) {
        return Err(field(Msg::PasscodeFormat));
    }
    let d: Vec<i32> = passcode.bytes().map(|c| i32::from(c - b'0')).collect();
    let all_same = d.iter().all(|&x| x == d[0]);
    let step = d[1] - d[0];
    let sequential = step.abs() == 1 && d.windows(2).all(|w| w[1] - w[0] == step);
    let from_dob = date_of_birth.is_some_and(|dob| {
        if dob.len() != 10 {
            return false;
        }
        let (y, m, dd) = (&dob[2..4], &dob[5..7], &dob[8..10]);
        [format!("{dd}{m}{y}"), format!("{y}{m}{dd}"), format!("{m}{dd}{y}")].iter().any(|p| p == passcode)
    });
    if all_same || sequential || from_dob {
        return Err(field(Msg::PasscodeWeak));
    }
    Ok(())
}

/// A verifier for `passcode` with a fresh salt.
pub fn make_verifier(key: &SecretKey, passcode: &str) -> (Vec<u8>, Vec<u8>) {
    let salt: [u8; 16] = random_array();
    let v = key.hmac(&[&salt, passcode.as_bytes()]);
    (salt.to_vec(), v.to_vec())
}

/// Constant-time check of `passcode` against a stored verifier.
pub fn matches(key: &SecretKey, salt: &[u8], verifier: &[u8], passcode: &str) -> bool {
    let v = key.hmac(&[salt, passcode.as_bytes()]);
    v.len() == verifier.len() && v.iter().zip(verifier).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

/// What the lockout policy says about the next attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// The attempt may proceed; record `failed` (already incremented) and `locked_until` first.
    Proceed {
        /// Failure count to commit before comparing.
        failed: u32,
        /// Lock to commit before comparing (applies if the attempt fails).
        locked_until: Option<i64>,
    },
    /// Locked for this many more seconds.
    Locked(u64),
    /// The wipe threshold was reached: erase the account.
    Wipe,
}

/// Decide on an attempt given the stored failure count and lock.
pub fn gate(failed: u32, locked_until: Option<i64>, now: i64) -> Gate {
    if failed >= WIPE_AFTER {
        return Gate::Wipe;
    }
    if let Some(until) = locked_until {
        if now < until {
            return Gate::Locked(until.abs_diff(now));
        }
    }
    let next = failed + 1;
    let delay = lockout_secs(next);
    Gate::Proceed { failed: next, locked_until: (delay > 0).then_some(now.saturating_add_unsigned(delay)) }
}

/// The error for a failed attempt that left `failed` consecutive failures.
pub fn failure_error(failed: u32) -> Error {
    Error::PasscodeIncorrect {
        before_lockout: FREE_ATTEMPTS.saturating_sub(failed),
        before_wipe: WIPE_AFTER.saturating_sub(failed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(r: Result<(), Error>) -> String {
        match r {
            Ok(()) => "ok".into(),
            Err(Error::Fields(f)) => f[0].code.clone(),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn format_and_strength() {
        assert_eq!(code(validate_new("482916", None)), "ok");
        for (p, c) in [
            ("12345", "passcode.format"),
            ("1234567", "passcode.format"),
            ("12a456", "passcode.format"),
            ("１２３４５６", "passcode.format"),
            ("111111", "passcode.weak"),
            ("123456", "passcode.weak"),
            ("654321", "passcode.weak"),
            ("345678", "passcode.weak"),
            ("150190", "passcode.weak"),
        ] {
            assert_eq!(code(validate_new(p, Some("1990-01-15"))), c, "{p}");
        }
        // Not a dob pattern without a dob.
        assert_eq!(code(validate_new("150190", None)), "ok");
    }

    #[test]
    fn verifier_matches_only_the_passcode() {
        let k = SecretKey::generate();
        let (salt, v) = make_verifier(&k, "482916");
        assert!(matches(&k, &salt, &v, "482916"));
        assert!(!matches(&k, &salt, &v, "482917"));
        assert!(!matches(&SecretKey::generate(), &salt, &v, "482916"), "bound to the data key");
    }

    #[test]
    fn lockout_escalates_then_wipes() {
        let now = 1000;
        let mut failed = 0;
        let mut locked = None;
        let mut delays = vec![];
        let mut t = now;
        loop {
            match gate(failed, locked, t) {
                Gate::Proceed { failed: f, locked_until } => {
                    failed = f;
                    locked = locked_until;
                    delays.push(locked_until.map(|u| u - t).unwrap_or(0));
                    // a lock, if any, must be waited out
                    if let Some(u) = locked.filter(|_| failed < WIPE_AFTER) {
                        assert_eq!(gate(failed, locked, u - 1), Gate::Locked(1));
                        t = u;
                    }
                }
                Gate::Wipe => break,
                Gate::Locked(_) => unreachable!(),
            }
        }
        assert_eq!(delays, vec![0, 0, 0, 0, 60, 300, 3600, 3600, 3600, 3600]);
        assert_eq!(failed, WIPE_AFTER);
    }

    #[test]
    fn failure_error_counts_down() {
        match failure_error(3) {
            Error::PasscodeIncorrect { before_lockout, before_wipe } => {
                assert_eq!((before_lockout, before_wipe), (2, 7))
            }
            e => panic!("{e}"),
        }
    }
}
