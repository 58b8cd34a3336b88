//! Typed values of the device database: the states and kinds stored in text columns, and the
//! rows read back.
//!
//! Why: the states (`'queued'`, `'delivered'`, `'submitted'` …) were string literals repeated in
//! the SQL, in the flows and in the façade, which matched them with a catch-all arm. A typo or a
//! value written by another version then silently became "queued". Here each column has one
//! Rust enum; the SQL binds it as a parameter (`ToSql`), a read decodes it (`FromSql`), and a
//! stored value this build does not know is a storage error naming the column
//! ([`UnknownValue`]), never a panic or a guess.

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use serde::{de::DeserializeOwned, Serialize};

/// A stored text value that no variant of the column's enum names (written by a newer app, or
/// edited at rest). Carried as the source of the `rusqlite` conversion error.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown value {value:?} in {column}")]
pub(crate) struct UnknownValue {
    /// `table.column` (or the Rust type for values shared by several columns).
    pub(crate) column: &'static str,
    /// What was stored.
    pub(crate) value: String,
}

/// The [`UnknownValue`] inside a core error, if that is what it is: the internal error keeps
/// SQLite's conversion failure as its source (see `crate::error::Error::Sqlite`), so callers and
/// tests can tell "a state this build does not know" from other storage failures.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) fn unknown_value(e: &crate::error::Error) -> Option<&UnknownValue> {
    match e {
        crate::error::Error::Sqlite(rusqlite::Error::FromSqlConversionFailure(_, _, src)) => src.downcast_ref(),
        _ => None,
    }
}

/// A text-backed enum: each variant has one stored spelling.
macro_rules! text_enum {
    ($(#[$m:meta])* $name:ident in $column:literal { $($(#[$vm:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub(crate) enum $name {
            $($(#[$vm])* $variant,)+
        }

        impl $name {
            /// Every variant.
            pub(crate) const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The stored spelling.
            pub(crate) fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            /// The variant stored as `s`.
            pub(crate) fn parse(s: &str) -> Result<Self, UnknownValue> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| UnknownValue { column: $column, value: s.to_string() })
            }
        }

        impl ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::from(self.as_str()))
            }
        }

        impl FromSql for $name {
            fn column_result(v: ValueRef<'_>) -> FromSqlResult<Self> {
                Self::parse(v.as_str()?).map_err(|e| FromSqlError::Other(Box::new(e)))
            }
        }
    };
}

text_enum! {
    /// State of an outbox item (`outbox.state`).
    OutboxState in "outbox.state" {
        /// Waiting to be sent (first time or after a transient failure).
        Queued = "queued",
        /// Being sent (a crash leaves it here; it is resent, idempotently).
        Sending = "sending",
        /// The server accepted it and its receipt verified.
        Delivered = "delivered",
        /// The server refused it for good.
        Rejected = "rejected",
    }
}

impl OutboxState {
    /// Still to be delivered (the worker's queue).
    pub(crate) fn is_pending(self) -> bool {
        matches!(self, OutboxState::Queued | OutboxState::Sending)
    }
}

text_enum! {
    /// Status of a draft (`drafts.status`).
    DraftStatus in "drafts.status" {
        /// Editable.
        Editing = "editing",
        /// Signed and queued; no longer editable.
        Submitted = "submitted",
    }
}

text_enum! {
    /// Kind of a pending operation (`pending.kind`, one row each); also part of the sealed
    /// payload's associated data.
    PendingKind in "pending.kind" {
        /// An enrollment waiting for its OTP.
        Enrollment = "enrollment",
        /// A passcode reset waiting for its OTP.
        PasscodeReset = "passcode_reset",
        /// A data-share request waiting for the citizen's decision.
        ShareRequest = "share_request",
        /// The server's signed notice that a recovery on another device would replace this one
        /// (issue 15).
        RecoveryNotice = "recovery_notice",
        /// This (new) device's recovery waiting for its period to end (issue 15).
        Recovery = "recovery",
        /// A key re-binding waiting for its OTP (issue 15).
        Rebind = "rebind",
    }
}

text_enum! {
    /// Kind of a stored credential (`credentials.kind`).
    CredentialKind in "credentials.kind" {
        /// The PID SD-JWT.
        Pid = "pid",
        /// The server's binding of the device key for the short identity QR (a JWS).
        IdentityBinding = "identity_binding",
    }
}

/// A wire enum of the protocol (case status, receipt kind) stored in a text column under its
/// serde name, so the stored spelling is the wire spelling and cannot drift from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WireText<T>(pub(crate) T);

impl<T: Serialize> ToSql for WireText<T> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        match serde_json::to_value(&self.0) {
            Ok(serde_json::Value::String(s)) => Ok(ToSqlOutput::from(s)),
            _ => Err(rusqlite::Error::ToSqlConversionFailure(Box::new(UnknownValue {
                column: std::any::type_name::<T>(),
                value: String::new(),
            }))),
        }
    }
}

impl<T: DeserializeOwned> FromSql for WireText<T> {
    fn column_result(v: ValueRef<'_>) -> FromSqlResult<Self> {
        let s = v.as_str()?;
        serde_json::from_value(serde_json::Value::String(s.to_string())).map(WireText).map_err(|_| {
            FromSqlError::Other(Box::new(UnknownValue { column: std::any::type_name::<T>(), value: s.to_string() }))
        })
    }
}

/// A singleton value fetched from the server, with when.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Fetched<T> {
    /// The value.
    pub(crate) value: T,
    /// Unix seconds.
    pub(crate) fetched_at: i64,
}

/// The cached catalogue (`catalogue`).
#[derive(Clone, Debug)]
pub(crate) struct CatalogueRow {
    /// The catalogue.
    pub(crate) catalogue: crate::protocol::services::CatalogueDto,
    /// The server's ETag, for conditional fetches.
    pub(crate) etag: Option<String>,
    /// Unix seconds (the catalogue is refreshed by ETag, not by age; kept for diagnostics).
    #[allow(dead_code)]
    pub(crate) fetched_at: i64,
}

/// The cached relying-party registry (`rp_registry`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RegistryRow {
    /// The server-signed registry document (JWS).
    pub(crate) jws: String,
    /// Its version.
    pub(crate) version: u64,
    /// Unix seconds.
    pub(crate) fetched_at: i64,
}

/// A pending operation (`pending`), its payload opened.
#[derive(Clone, Debug)]
pub(crate) struct PendingRow<T> {
    /// The server's reference of the operation.
    pub(crate) reference: String,
    /// Unix seconds (the server enforces it; kept for diagnostics and tests).
    #[allow(dead_code)]
    pub(crate) expires_at: i64,
    /// The sealed payload.
    pub(crate) payload: T,
}

/// A stored credential (`credentials`), opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CredentialRow<T> {
    /// The credential.
    pub(crate) credential: T,
    /// Unix seconds.
    pub(crate) expires_at: i64,
}

/// An activity-log row: the entry is `None` where the sealed row does not open (tampered at
/// rest), so the others stay readable and the gap is reported.
#[derive(Clone, Debug)]
pub(crate) struct ActivityRow {
    /// Sequence number (primary key).
    pub(crate) seq: u64,
    /// The entry.
    pub(crate) entry: Option<crate::activity::ActivityEntry>,
}

/// An anchor row: `None` where the sealed row does not open or names another sequence.
#[derive(Clone, Debug)]
pub(crate) struct AnchorRow {
    /// Sequence number (primary key).
    pub(crate) seq: u64,
    /// The anchor.
    pub(crate) anchor: Option<crate::activity::ActivityAnchor>,
}

/// The head of the activity log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ActivityHead {
    /// Last sequence number.
    pub(crate) seq: u64,
    /// Its hash.
    pub(crate) hash: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::services::CaseStatusDto;

    #[test]
    fn every_state_round_trips_and_an_unknown_value_is_a_typed_error() {
        let c = rusqlite::Connection::open_in_memory().unwrap();
        c.execute_batch("CREATE TABLE t (v TEXT)").unwrap();
        for s in OutboxState::ALL {
            c.execute("DELETE FROM t", []).unwrap();
            c.execute("INSERT INTO t VALUES (?1)", [s]).unwrap();
            assert_eq!(c.query_row("SELECT v FROM t", [], |r| r.get::<_, OutboxState>(0)).unwrap(), *s);
        }
        c.execute("UPDATE t SET v = 'archived'", []).unwrap();
        let e = c.query_row("SELECT v FROM t", [], |r| r.get::<_, OutboxState>(0)).unwrap_err();
        match &e {
            rusqlite::Error::FromSqlConversionFailure(_, _, src) => {
                let u = src.downcast_ref::<UnknownValue>().expect("typed source");
                assert_eq!((u.column, u.value.as_str()), ("outbox.state", "archived"));
            }
            other => panic!("{other:?}"),
        }
        // Through the crate's error: a storage error that keeps the typed source, not a panic.
        let e: crate::error::Error = e.into();
        let u = unknown_value(&e).expect("typed source kept");
        assert_eq!((u.column, u.value.as_str()), ("outbox.state", "archived"), "{e:?}");

        c.execute("UPDATE t SET v = ?1", [WireText(CaseStatusDto::NeedsSupplement)]).unwrap();
        let raw: String = c.query_row("SELECT v FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(raw, "needs_supplement");
        let back: WireText<CaseStatusDto> = c.query_row("SELECT v FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(back.0, CaseStatusDto::NeedsSupplement);
        c.execute("UPDATE t SET v = 'lost'", []).unwrap();
        assert!(c.query_row("SELECT v FROM t", [], |r| r.get::<_, WireText<CaseStatusDto>>(0)).is_err());
    }
}
