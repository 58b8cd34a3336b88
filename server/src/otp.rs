//! One-time passwords: generation, hashing, and delivery.
//!
//! The server stores only an HMAC of each OTP (keyed by a server secret and bound to the
//! enrollment/reset id), so a database dump does not reveal live codes. Delivery is a trait so
//! a production SMS gateway can plug in; the built-in senders are for development and tests.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use citizen_protocol::cccd::mask_phone;
use citizen_protocol::crypto::{random_array, SecretKey};

/// Delivers an OTP to a phone. `reference` is the enrollment or reset id the OTP belongs to.
pub trait OtpSender: Send + Sync {
    /// Deliver `otp` to `to_e164`. Must not fail the request: delivery problems are the
    /// gateway's to log and retry.
    fn send(&self, to_e164: &str, reference: &str, otp: &str);
}

/// Keeps OTPs in memory so in-process tests can read them back.
#[derive(Default)]
pub struct MemoryOtpOutbox {
    inner: Mutex<Outbox>,
}

#[derive(Default)]
struct Outbox {
    by_reference: HashMap<String, String>,
    latest: Option<(String, String)>,
}

impl MemoryOtpOutbox {
    /// An empty outbox.
    pub fn new() -> Self {
        Self::default()
    }
    /// The OTP last sent for `reference`.
    pub fn last_otp(&self, reference: &str) -> Option<String> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).by_reference.get(reference).cloned()
    }
    /// The most recent `(reference, otp)`.
    pub fn latest(&self) -> Option<(String, String)> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).latest.clone()
    }
}

impl OtpSender for MemoryOtpOutbox {
    fn send(&self, _to_e164: &str, reference: &str, otp: &str) {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.by_reference.insert(reference.to_string(), otp.to_string());
        g.latest = Some((reference.to_string(), otp.to_string()));
    }
}

/// Development only: appends one JSON line per OTP (`{"reference","to"(masked),"otp"}`) to a
/// file, so an out-of-process test or a developer can read codes without an SMS gateway.
pub struct FileOtpOutbox {
    path: PathBuf,
    lock: Mutex<()>,
}

impl FileOtpOutbox {
    /// Write to `path` (created on first OTP, appended to afterwards).
    pub fn new(path: impl AsRef<Path>) -> Self {
        FileOtpOutbox { path: path.as_ref().to_path_buf(), lock: Mutex::new(()) }
    }
}

impl OtpSender for FileOtpOutbox {
    fn send(&self, to_e164: &str, reference: &str, otp: &str) {
        let _g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let line = serde_json::json!({ "reference": reference, "to": mask_phone(to_e164), "otp": otp });
        let res = std::fs::OpenOptions::new().create(true).append(true).open(&self.path).and_then(|mut f| {
            writeln!(f, "{line}")?;
            f.flush()?;
            f.sync_data()
        });
        if let Err(e) = res {
            tracing::error!("dev OTP file write failed: {e}");
        }
    }
}

/// Default sender without `--dev-otp-file`: logs that an OTP went out, never the code. A
/// production deployment replaces it with an SMS gateway client.
pub struct LogOtpSender;

impl OtpSender for LogOtpSender {
    fn send(&self, to_e164: &str, _reference: &str, _otp: &str) {
        tracing::info!("OTP sent to {}", mask_phone(to_e164));
    }
}

/// A uniformly random 6-digit code from the OS CSPRNG (rejection sampling, no modulo bias).
pub fn generate_otp() -> String {
    const LIMIT: u32 = u32::MAX - (u32::MAX % 1_000_000);
    loop {
        let v = u32::from_be_bytes(random_array::<4>());
        if v < LIMIT {
            return format!("{:06}", v % 1_000_000);
        }
    }
}

/// HMAC of an OTP bound to the id it was issued for.
pub fn hash_otp(secret: &SecretKey, reference: &str, otp: &str) -> Vec<u8> {
    secret.hmac(&[b"otp/v1", reference.as_bytes(), otp.as_bytes()]).to_vec()
}

/// Constant-time equality for digests.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn otps_are_six_digits_and_vary() {
        let a: Vec<String> = (0..50).map(|_| generate_otp()).collect();
        assert!(a.iter().all(|o| o.len() == 6 && o.bytes().all(|c| c.is_ascii_digit())));
        let distinct: std::collections::HashSet<_> = a.iter().collect();
        assert!(distinct.len() > 40);
    }

    #[test]
    fn otp_hash_is_bound_to_reference() {
        let k = SecretKey::generate();
        assert!(ct_eq(&hash_otp(&k, "e1", "123456"), &hash_otp(&k, "e1", "123456")));
        assert!(!ct_eq(&hash_otp(&k, "e1", "123456"), &hash_otp(&k, "e2", "123456")));
        assert!(!ct_eq(&hash_otp(&k, "e1", "123456"), &hash_otp(&k, "e1", "123457")));
    }

    #[test]
    fn memory_outbox_and_file_outbox() {
        let m = MemoryOtpOutbox::new();
        m.send("+84900000001", "r1", "111111");
        m.send("+84900000002", "r2", "222222");
        assert_eq!(m.last_otp("r1").as_deref(), Some("111111"));
        assert_eq!(m.latest(), Some(("r2".into(), "222222".into())));
        let dir = std::env::temp_dir().join(format!("otp-{}", citizen_protocol::crypto::random_b64url(6)));
        std::fs::create_dir_all(&dir).unwrap();
        let f = FileOtpOutbox::new(dir.join("otp.jsonl"));
        f.send("+84900000678", "ref", "654321");
        let text = std::fs::read_to_string(dir.join("otp.jsonl")).unwrap();
        let v: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(v["otp"], "654321");
        assert_eq!(v["to"], "+84 ••• ••• 678");
        assert!(!text.contains("900000678"));
        let _ = std::fs::remove_dir_all(dir);
    }
}
