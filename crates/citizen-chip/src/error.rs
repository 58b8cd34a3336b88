//! Typed errors of the chip reader, each with a stable code and Vietnamese/English texts from the
//! protocol crate's catalogue ([`citizen_protocol::messages::Msg`], prefix `chip.`).
//!
//! The `Display` texts are for logs: they name the step and the status word, never a key, the
//! CAN, the MRZ or personal data read from the chip.

use citizen_protocol::messages::Msg;

/// Everything that can stop a chip read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChipError {
    /// The chip refused the CAN or the MRZ data (PACE/BAC authentication failed).
    #[error("the chip refused the access key (status {sw:04X})")]
    AccessDenied {
        /// The status word the chip answered.
        sw: u16,
        /// Attempts left, when the chip says so (`63Cx`).
        tries_left: Option<u8>,
    },
    /// The CAN or MRZ fields are not in the expected form (checked before talking to the chip).
    #[error("the access key is not well formed: {0}")]
    AccessKeyFormat(&'static str),
    /// The card left the field or the transport failed: retry from the start.
    #[error("the card was removed or the connection was lost")]
    CardRemoved,
    /// A secure-messaging response failed its MAC or lacked its data objects; the session is dead.
    #[error("secure messaging failed: {0}")]
    SecureMessaging(&'static str),
    /// A BER-TLV structure is malformed.
    #[error("malformed TLV: {0}")]
    MalformedTlv(&'static str),
    /// EF.SOD (CMS SignedData / LDS security object) is malformed.
    #[error("malformed EF.SOD: {0}")]
    MalformedSod(&'static str),
    /// A certificate (document signer, CSCA) is malformed or uses an unsupported algorithm.
    #[error("malformed or unsupported certificate: {0}")]
    MalformedCertificate(&'static str),
    /// DG13 (the Vietnamese record) is malformed.
    #[error("malformed DG13: {0}")]
    MalformedDg13(&'static str),
    /// Another data group (COM, DG1, DG14, DG15) is malformed.
    #[error("malformed data group: {0}")]
    MalformedDataGroup(&'static str),
    /// A data group's hash differs from the one in EF.SOD.
    #[error("the hash of DG{dg} differs from EF.SOD")]
    HashMismatch {
        /// Data group number.
        dg: u8,
    },
    /// EF.SOD's signature does not verify with the document signer's key.
    #[error("the document signer's signature over EF.SOD is invalid")]
    SodSignatureInvalid,
    /// The document signer does not chain to a configured CSCA.
    #[error("the document signer is not trusted (no configured CSCA signed it)")]
    SignerUntrusted,
    /// The document signer or its CSCA is outside its validity period.
    #[error("the document signer's certificate is expired or not yet valid")]
    SignerExpired,
    /// EF.CardAccess names no protocol or curve this reader supports (and BAC is not possible).
    #[error("unsupported protocol or curve in EF.CardAccess: {0}")]
    UnsupportedProtocol(&'static str),
    /// Chip or active authentication failed: the chip does not hold the private key that EF.SOD
    /// vouches for (a clone with copied data).
    #[error("chip authenticity check failed: {0}")]
    ChipNotGenuine(&'static str),
    /// The chip answered a status word the protocol does not allow at this step.
    #[error("unexpected status {sw:04X} at {step}")]
    UnexpectedStatus {
        /// Step name.
        step: &'static str,
        /// Status word.
        sw: u16,
    },
    /// A protocol rule was broken (wrong response shape, file too large, misuse of the reader).
    #[error("protocol error: {0}")]
    Protocol(&'static str),
}

impl ChipError {
    /// The catalogue entry (stable code, vi/en texts) of this error.
    pub fn msg(&self) -> Msg {
        match self {
            ChipError::AccessDenied { .. } => Msg::ChipAccessDenied,
            ChipError::AccessKeyFormat(_) => Msg::ChipAccessKeyFormat,
            ChipError::CardRemoved => Msg::ChipCardRemoved,
            ChipError::SecureMessaging(_) => Msg::ChipSecureMessaging,
            ChipError::MalformedTlv(_) => Msg::ChipMalformedTlv,
            ChipError::MalformedSod(_) => Msg::ChipMalformedSod,
            ChipError::MalformedCertificate(_) => Msg::ChipMalformedCertificate,
            ChipError::MalformedDg13(_) => Msg::ChipMalformedDg13,
            ChipError::MalformedDataGroup(_) => Msg::ChipMalformedDataGroup,
            ChipError::HashMismatch { .. } => Msg::ChipHashMismatch,
            ChipError::SodSignatureInvalid => Msg::ChipSodSignature,
            ChipError::SignerUntrusted => Msg::ChipSignerUntrusted,
            ChipError::SignerExpired => Msg::ChipSignerExpired,
            ChipError::UnsupportedProtocol(_) => Msg::ChipUnsupportedProtocol,
            ChipError::ChipNotGenuine(_) => Msg::ChipNotGenuine,
            ChipError::UnexpectedStatus { .. } | ChipError::Protocol(_) => Msg::ChipProtocol,
        }
    }

    /// The stable code, e.g. `chip.access_denied`.
    pub fn code(&self) -> &'static str {
        self.msg().code()
    }

    /// Whether simply trying again (card held still, same key) can succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, ChipError::CardRemoved | ChipError::SecureMessaging(_))
    }
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, ChipError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_has_a_chip_code() {
        let all = [
            ChipError::AccessDenied { sw: 0x63C2, tries_left: Some(2) },
            ChipError::AccessKeyFormat("x"),
            ChipError::CardRemoved,
            ChipError::SecureMessaging("x"),
            ChipError::MalformedTlv("x"),
            ChipError::MalformedSod("x"),
            ChipError::MalformedCertificate("x"),
            ChipError::MalformedDg13("x"),
            ChipError::MalformedDataGroup("x"),
            ChipError::HashMismatch { dg: 1 },
            ChipError::SodSignatureInvalid,
            ChipError::SignerUntrusted,
            ChipError::SignerExpired,
            ChipError::UnsupportedProtocol("x"),
            ChipError::ChipNotGenuine("x"),
            ChipError::UnexpectedStatus { step: "x", sw: 0x6F00 },
        ];
        for e in &all {
            assert!(e.code().starts_with("chip."), "{e:?}");
            assert!(!e.msg().vi().is_empty() && !e.msg().en().is_empty());
        }
        assert!(ChipError::CardRemoved.is_retryable());
        assert!(!ChipError::SignerUntrusted.is_retryable());
    }
}
