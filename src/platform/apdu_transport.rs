//! `ApduTransport`: the wire to a contactless or contact smart card (the CCCD's chip).
//!
//! The chip reader of the core is sans-I/O: it emits command APDUs and consumes response APDUs.
//! This port carries them. The shells implement it over the platform's NFC API (Android
//! `IsoDep`, iOS `NFCISO7816Tag`); the desktop/kiosk shell implements it in Rust over PC/SC
//! (`citizen-cli`'s `PcscTransport`, through `pcscd`). See ARCHITECTURE.md, decision 29.
//!
//! **Why async.** An NFC exchange takes milliseconds to seconds and the platform APIs are
//! asynchronous (CoreNFC's `sendCommand` completes on a callback) or blocking (`IsoDep`); an
//! async foreign method lets Kotlin run `transceive` on `Dispatchers.IO` and Swift `await` the
//! tag without blocking the core's executor or CoreNFC's delegate queue.
//!
//! **Cancellation is dropping the future.** When the core abandons a read (the citizen pressed
//! Cancel, a deadline passed), it drops the future returned by [`ApduTransport::transceive`].
//! UniFFI then cancels the foreign side's coroutine (Kotlin `Job.cancel()`) or task (Swift
//! `Task.cancel()`), and the adapters turn that into the platform's abort (closing the `IsoDep`
//! connection, invalidating the NFC session). An implementation must therefore tolerate being
//! dropped at any `await`, and must not leave a half-sent APDU to be answered later: after a
//! cancel, the card's state is unknown and the reader restarts from SELECT.

/// Why an exchange with the card failed. Shells map their platform exceptions onto these; the
/// `reason` is for logs only (never shown to the citizen, never holding APDU bytes, which may be
/// personal data once decrypted).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum ApduTransportError {
    /// The card left the field or the reader (Android `TagLostException`, iOS "tag connection
    /// lost", PC/SC `SCARD_W_REMOVED_CARD`/`SCARD_W_RESET_CARD`). Retryable: the citizen holds the
    /// card again and the reader restarts the session from SELECT (secure-messaging keys are not
    /// reused across a removal).
    #[error("card removed")]
    CardRemoved {
        /// What the platform reported (for logs; never shown to the user).
        reason: String,
    },
    /// The card did not answer in time (the transport's timeout, e.g. `IsoDep.setTimeout`).
    /// Retryable once; a chip that keeps timing out is reported to the citizen.
    #[error("card timeout")]
    Timeout {
        /// What the platform reported (for logs; never shown to the user).
        reason: String,
    },
    /// The exchange was cancelled (the future was dropped, the session invalidated, or the
    /// citizen dismissed the system NFC sheet). Not an error to report; not retried.
    #[error("cancelled")]
    Cancelled {
        /// What the platform reported (for logs; never shown to the user).
        reason: String,
    },
    /// Anything else (no reader, I/O failure, an APDU the transport cannot carry).
    #[error("transport failure")]
    Other {
        /// What the platform reported (for logs; never shown to the user).
        reason: String,
    },
}

impl ApduTransportError {
    /// Whether holding the card to the reader again may succeed (card removed, timeout).
    pub fn is_retryable(&self) -> bool {
        matches!(self, ApduTransportError::CardRemoved { .. } | ApduTransportError::Timeout { .. })
    }
}

impl From<uniffi::UnexpectedUniFFICallbackError> for ApduTransportError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        ApduTransportError::Other { reason: format!("unexpected callback error: {}", e.reason) }
    }
}

/// A connection to one card, able to exchange APDUs. Implemented by the shells
/// (`IsoDepApduTransport` on Android, `NfcIso7816ApduTransport` on iOS) and by the CLI over PC/SC.
///
/// One transport serves one card session; the core sends one APDU at a time (never two
/// `transceive` calls in flight on the same transport).
#[uniffi::export(foreign)]
#[async_trait::async_trait]
pub trait ApduTransport: Send + Sync {
    /// Send one command APDU (header, optional Lc and data, optional Le; short or extended
    /// encoding as ISO 7816-4) and return the card's response: the data followed by SW1 SW2.
    /// Dropping the returned future cancels the exchange (see the module documentation).
    async fn transceive(&self, command: Vec<u8>) -> Result<Vec<u8>, ApduTransportError>;

    /// The largest command APDU the transport can carry, in bytes (Android
    /// `IsoDep.getMaxTransceiveLength`, 261 for short-only readers).
    fn max_apdu_length(&self) -> i32;

    /// Whether extended-length APDUs (Lc/Le on 2–3 bytes) reach the card (Android
    /// `IsoDep.isExtendedLengthApduSupported`). When false, the reader chains short READ BINARY
    /// commands of at most 256 bytes each.
    fn supports_extended_length(&self) -> bool;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_removal_and_timeout_are_retryable() {
        let r = || "x".to_string();
        assert!(ApduTransportError::CardRemoved { reason: r() }.is_retryable());
        assert!(ApduTransportError::Timeout { reason: r() }.is_retryable());
        assert!(!ApduTransportError::Cancelled { reason: r() }.is_retryable());
        assert!(!ApduTransportError::Other { reason: r() }.is_retryable());
    }

    #[test]
    fn an_unexpected_foreign_exception_is_other() {
        let e = ApduTransportError::from(uniffi::UnexpectedUniFFICallbackError::new("boom"));
        assert_eq!(e, ApduTransportError::Other { reason: "unexpected callback error: boom".into() });
        assert!(!e.is_retryable());
    }
}
