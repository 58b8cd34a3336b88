//! The one mapping from a core error to what the process prints and its exit status.
//!
//! Every public error of the core carries a stable code and a Vietnamese and an English message
//! ([`PublicError`]); the exit status depends on the code alone, so the same condition exits the
//! same way whichever command met it (a wrong passcode is 2 for `login`, `qr approve`,
//! `services submit`, …). Scripts test the status; people read the two printed lines.

use std::process::ExitCode;

use citizen_core::error::{FieldError, PublicError};
use citizen_core::CitizenError;

/// Exit status of every error whose code is not in [`STATUS_BY_CODE`].
pub(crate) const FAILURE: u8 = 1;

/// Error codes with their own exit status (the codes are the catalogue's, see `src/error.rs`).
pub(crate) const STATUS_BY_CODE: &[(&str, u8)] = &[
    // The passcode was wrong; attempts remain.
    ("auth.passcode_incorrect", 2),
    // Too many wrong passcodes: locked for a while.
    ("auth.locked_out", 3),
    // Too many wrong passcodes: the device's data was erased.
    ("auth.wiped", 4),
    // (5: `receipts verify` / `log verify`: not valid.)
    // The chip refused the CAN or the MRZ data.
    ("chip.access_denied", 6),
    // The card left the reader or the secure channel broke: place it again and retry.
    ("chip.card_removed", 7),
    ("chip.secure_messaging", 7),
    ("pcsc.card_removed", 7),
    // The chip's data or the chip itself failed verification (passive, chip or active
    // authentication): altered data, an untrusted or expired signer, a clone.
    ("chip.hash_mismatch", 8),
    ("chip.sod_signature", 8),
    ("chip.signer_untrusted", 8),
    ("chip.signer_expired", 8),
    ("chip.not_genuine", 8),
];

/// The exit status for an error code.
pub(crate) fn status(code: &str) -> u8 {
    STATUS_BY_CODE.iter().find(|(c, _)| *c == code).map_or(FAILURE, |(_, s)| *s)
}

/// A public error of the core as the CLI reports it: code and messages, and the invalid fields
/// when the error lists them.
pub(crate) trait CliError: PublicError {
    /// The invalid fields, printed one per line after the message.
    fn fields(&self) -> &[FieldError] {
        &[]
    }
}

impl CliError for CitizenError {
    fn fields(&self) -> &[FieldError] {
        match self {
            CitizenError::InvalidInput { fields, .. } => fields,
            _ => &[],
        }
    }
}

/// Print `e` on stderr (`lỗi [code]: …` and `error [code]: …`, then its invalid fields) and
/// return its exit status.
pub(crate) fn fail(e: &dyn CliError) -> ExitCode {
    print(e);
    ExitCode::from(status(&e.detail().code))
}

/// Print `e` on stderr as [`fail`] does, for commands whose exit status says something else
/// (e.g. `receipts verify`: 5, not valid).
pub(crate) fn print(e: &dyn CliError) {
    let d = e.detail();
    eprintln!("lỗi [{}]: {}\nerror [{}]: {}", d.code, d.message_vi, d.code, d.message_en);
    print_fields(e.fields());
}

/// Print invalid fields, one per line, on stderr.
pub(crate) fn print_fields(fields: &[FieldError]) {
    for f in fields {
        eprintln!("  {} [{}]: {} / {}", f.field, f.code, f.message_vi, f.message_en);
    }
}

/// A failure outside the core (a file that cannot be read, a malformed argument): the message
/// on stderr, exit 1.
pub(crate) fn other(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("{message}");
    ExitCode::from(FAILURE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use citizen_core::error::ErrorDetail;

    fn detail(code: &str) -> ErrorDetail {
        ErrorDetail { code: code.into(), message_vi: "vi".into(), message_en: "en".into() }
    }

    #[test]
    fn passcode_outcomes_have_their_own_status_and_everything_else_is_one() {
        assert_eq!(status("auth.passcode_incorrect"), 2);
        assert_eq!(status("auth.locked_out"), 3);
        assert_eq!(status("auth.wiped"), 4);
        assert_eq!(status("network.offline"), FAILURE);
        assert_eq!(status(""), FAILURE);
    }

    #[test]
    fn chip_outcomes_exit_by_kind_wrong_key_retry_or_not_verified() {
        use citizen_chip::ChipError;
        assert_eq!(status(ChipError::AccessDenied { sw: 0x63C2, tries_left: Some(2) }.code()), 6);
        assert_eq!(status(ChipError::CardRemoved.code()), 7);
        assert_eq!(status(ChipError::SecureMessaging("x").code()), 7);
        for e in [
            ChipError::HashMismatch { dg: 13 },
            ChipError::SodSignatureInvalid,
            ChipError::SignerUntrusted,
            ChipError::SignerExpired,
            ChipError::ChipNotGenuine("x"),
        ] {
            assert_eq!(status(e.code()), 8, "{e:?}");
        }
        assert_eq!(status(ChipError::MalformedDg13("x").code()), FAILURE);
    }

    #[test]
    fn a_wrong_passcode_exits_2_whichever_domain_reports_it() {
        let (l, w) = (1, 5);
        let d = || detail("auth.passcode_incorrect");
        let errors: [Box<dyn CliError>; 4] = [
            Box::new(CitizenError::PasscodeRejected {
                detail: d(),
                attempts_before_lockout: l,
                attempts_before_wipe: w,
            }),
            Box::new(CitizenError::PasscodeRejected {
                detail: d(),
                attempts_before_lockout: l,
                attempts_before_wipe: w,
            }),
            Box::new(CitizenError::PasscodeRejected {
                detail: d(),
                attempts_before_lockout: l,
                attempts_before_wipe: w,
            }),
            Box::new(CitizenError::PasscodeRejected {
                detail: d(),
                attempts_before_lockout: l,
                attempts_before_wipe: w,
            }),
        ];
        assert!(errors.iter().all(|e| status(&e.detail().code) == 2));
    }

    #[test]
    fn only_invalid_input_lists_fields() {
        let field = FieldError {
            field: "cccd".into(),
            code: "cccd.invalid".into(),
            message_vi: "vi".into(),
            message_en: "en".into(),
        };
        let e = CitizenError::InvalidInput { detail: detail("input.invalid"), fields: vec![field.clone()] };
        assert_eq!(e.fields(), std::slice::from_ref(&field));
        let e = CitizenError::InvalidInput { detail: detail("input.invalid"), fields: vec![field.clone()] };
        assert_eq!(e.fields(), [field]);
        assert!(CitizenError::Internal { detail: detail("storage.failure") }.fields().is_empty());
    }
}
