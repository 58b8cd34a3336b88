//! The activity log: its hash chain and verification, from the sans-I/O protocol crate
//! ([`citizen_protocol::activity`]), re-exported under its old path, with the UniFFI
//! declarations of its records and enums; and the log on the device ([`flows`], and its storage
//! in `storage.rs`).

pub mod flows;
mod storage;

pub use citizen_protocol::activity::*;

// UniFFI declarations of the protocol crate's activity-log records and enums that the core
// exports. `citizen-protocol` has no UniFFI dependency, so their foreign-language interface is
// declared here with `#[uniffi::remote(..)]`: the definitions mirror the protocol crate's (same
// fields in the same order, which the compiler checks; the docstrings here are the ones the
// bindings carry) and generate the FFI code for this crate's UniFFI tag. They sit in the module
// the types were defined in before the split (UniFFI's checksums include it), so the bindings are
// unchanged and stay in the one `citizen_core` module.

/// What happened.
#[uniffi::remote(Enum)]
pub enum ActivityKind {
    /// This device was enrolled.
    Enrollment,
    /// Logged in.
    Login,
    /// Logged out.
    Logout,
    /// A public-service request was submitted (queued).
    Submission,
    /// A submission was delivered and a case opened.
    SubmissionDelivered,
    /// A device of the account was revoked, or a transfer approved.
    DeviceChange,
    /// The passcode was changed or reset.
    PasscodeChange,
    /// Too many wrong passcodes: locked.
    Lockout,
    /// A QR login was approved (issue 4, QR login).
    QrApproval,
    /// A QR login was denied.
    QrDenial,
    /// Identity data was shared with a relying party.
    DataShare,
    /// The account was raised to identity level 2 from the card's chip (decision 30).
    LevelUpgrade,
}

/// One entry of the log.
#[uniffi::remote(Record)]
pub struct ActivityEntry {
    /// 1, 2, 3, … without gaps.
    pub seq: u64,
    /// Unix seconds.
    pub at: i64,
    /// What happened.
    pub kind: ActivityKind,
    /// Short, non-personal summary (procedure id, case number, device id).
    pub summary: String,
    /// Hash of the previous entry (hex), [`GENESIS`] for the first.
    pub prev_hash: String,
    /// The device counter value used to sign it.
    pub counter: u64,
    /// Hash of this entry (hex).
    pub hash: String,
    /// Device signature (base64url raw r||s) over the statement binding `hash`.
    pub signature: String,
}

/// A server countersignature of a head.
#[uniffi::remote(Record)]
pub struct ActivityAnchor {
    /// Anchored sequence number.
    pub seq: u64,
    /// Anchored hash.
    pub hash: String,
    /// Unix seconds.
    pub anchored_at: i64,
    /// Compact JWS (ES256) by the server over `{iss, device_id, seq, hash, anchored_at}`.
    pub countersignature: String,
}

/// Ways a log can be broken.
#[uniffi::remote(Enum)]
pub enum LogProblem {
    /// An entry's content does not match its hash (changed).
    ChangedEntry { seq: u64 },
    /// An entry's signature does not verify.
    BadSignature { seq: u64 },
    /// A sequence number is missing or out of place (removed or reordered).
    Gap { expected_seq: u64, found_seq: u64 },
    /// An entry does not link to the previous one (removed, inserted or reordered).
    BrokenLink { seq: u64 },
    /// Counters must increase along the log.
    CounterNotIncreasing { seq: u64 },
    /// The log ends before an anchored entry (truncated).
    Truncated { anchored_seq: u64, last_seq: u64 },
    /// An anchored entry's hash differs from the anchor (rewritten history).
    AnchorMismatch { seq: u64 },
    /// An anchor's countersignature does not verify.
    BadAnchor { seq: u64 },
    /// The device stored an anchor up to `anchored_seq` that is no longer there (anchor rows
    /// deleted).
    AnchorRemoved { anchored_seq: u64 },
    /// The device's sealed record of its anchors is missing or does not open (edited at rest).
    AnchorRecordDamaged,
}
