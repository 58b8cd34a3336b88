//! The activity log: its hash chain and verification, from the sans-I/O protocol crate
//! ([`citizen_protocol::activity`]), re-exported under its old path, with the UniFFI
//! declarations of its records and enums; and the log on the device ([`flows`], and its storage
//! in `storage.rs`).

pub mod flows;
mod storage;

pub use citizen_protocol::activity::*;

// UniFFI declaration of the protocol crate's activity kind, which the core exports as it is (the
// entry, anchor and problem records carry timestamps and unsigned numbers: they are exported in
// converted form from `ffi/types.rs`). `citizen-protocol` has no UniFFI dependency, so their foreign-language interface is
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
    /// A document was presented in person (ISO 18013-5) to a verifier.
    DocumentPresentation,
}
