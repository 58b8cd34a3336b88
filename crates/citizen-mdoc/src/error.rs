//! The failing check of an invalid verdict and the parts a verdict leaves unchecked, each mapped
//! to a stable code and Vietnamese/English texts in the protocol crate's catalogue (`mdoc.*`).

use citizen_protocol::messages::Msg;

/// Why a `DeviceResponse` is not trustworthy: the first check that failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MdocError {
    /// The message is larger than the bound; it was refused before decoding.
    #[error("device response of {size} bytes exceeds the bound of {max}")]
    TooLarge {
        /// Size received.
        size: usize,
        /// The bound.
        max: usize,
    },
    /// Not well-formed CBOR, or not the structure ISO 18013-5 defines.
    #[error("malformed mdoc data: {0}")]
    Malformed(String),
    /// The response carries no document (status not OK, or an empty list).
    #[error("the device response holds no document")]
    NoDocuments,
    /// An algorithm, curve or digest the verifier does not support.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The issuer certificate does not chain to a trust anchor.
    #[error("the issuer is not in the trust list")]
    IssuerUntrusted,
    /// The certificate that signed the MSO is not a document signer (no mdlDS extended key usage).
    #[error("the MSO signer is not a document signer certificate")]
    NotDocumentSigner,
    /// A certificate of the chain is outside its validity at the verifier's clock.
    #[error("an issuer certificate is expired or not yet valid")]
    CertificateExpired,
    /// The MSO's COSE_Sign1 signature does not verify under the issuer certificate.
    #[error("the issuer signature over the MSO is not valid")]
    IssuerSignature,
    /// The document's docType differs from the docType the MSO signs.
    #[error("docType {document} differs from the MSO's {mso}")]
    DocTypeMismatch {
        /// docType of the Document.
        document: String,
        /// docType in the MSO.
        mso: String,
    },
    /// A disclosed element's digest differs from the MSO's value digest (tampered element).
    #[error("digest mismatch for {namespace}/{element}")]
    DigestMismatch {
        /// Namespace of the element.
        namespace: String,
        /// Element identifier.
        element: String,
    },
    /// A disclosed element whose digest ID the MSO does not sign in that namespace (for example an
    /// element taken from another document).
    #[error("element {namespace}/{element} is not signed by the MSO")]
    ElementNotSigned {
        /// Namespace of the element.
        namespace: String,
        /// Element identifier.
        element: String,
    },
    /// The clock is before the MSO's `validFrom` (or its `signed` time).
    #[error("the MSO is not valid yet")]
    NotYetValid,
    /// The clock is after the MSO's `validUntil`.
    #[error("the MSO has expired")]
    Expired,
    /// The device signature (or MAC) does not verify over this session's DeviceAuthentication:
    /// a replay from another session, or a forged response.
    #[error("device authentication failed")]
    DeviceAuth,
    /// The engagement QR code is not `mdoc:` + base64url of a DeviceEngagement this crate
    /// supports (version 1.0, cipher suite 1, a P-256 EDeviceKey).
    #[error("invalid device engagement: {0}")]
    EngagementInvalid(String),
    /// A session message did not decrypt under this session's key and counter: another session,
    /// an altered or replayed message.
    #[error("session data could not be decrypted")]
    SessionDecrypt,
    /// The peer ended the session (SessionData with a status and no data).
    #[error("the peer ended the session (status {0})")]
    SessionEnded(u64),
    /// A step of the session was called out of order (a programming error of the caller).
    #[error("session step out of order: {0}")]
    SessionState(&'static str),
    /// The reader authentication certificate does not chain to a reader trust anchor.
    #[error("the reader is not in the trust list")]
    ReaderUntrusted,
    /// The reader authentication signature, certificate usage or structure is not valid.
    #[error("reader authentication is not valid: {0}")]
    ReaderAuthInvalid(String),
    /// A certificate of the reader's chain is outside its validity.
    #[error("a reader certificate is expired or not yet valid")]
    ReaderCertificateExpired,
    /// The reader asked for an element its certificate does not authorise.
    #[error("the reader is not authorised for {doc_type} {namespace}/{element}")]
    ReaderNotAuthorised {
        /// docType of the request.
        doc_type: String,
        /// Namespace of the element.
        namespace: String,
        /// Element identifier.
        element: String,
    },
    /// The citizen's selection names an element that was not requested or is not held.
    #[error("selection of {doc_type} {namespace}/{element} was not requested or is not held")]
    SelectionInvalid {
        /// docType of the selection.
        doc_type: String,
        /// Namespace of the element.
        namespace: String,
        /// Element identifier.
        element: String,
    },
    /// The signature the key store returned does not verify under the document's device key
    /// (wrong alias, wrong key, or a corrupted signature); nothing is sent.
    #[error("the device signature does not verify under the document's device key")]
    DeviceSignatureInvalid,
    /// A transport frame is not valid (unknown leading byte, empty frame).
    #[error("invalid transport frame: {0}")]
    FrameInvalid(&'static str),
    /// An issued document's MSO names another device key than the wallet's own (issuance,
    /// decision 32): storing it would keep a document this device cannot present.
    #[error("the document is bound to another device key")]
    DeviceKeyMismatch,
}

impl MdocError {
    /// The catalogue entry (stable code, Vietnamese and English text).
    pub fn msg(&self) -> Msg {
        match self {
            MdocError::TooLarge { .. } => Msg::MdocTooLarge,
            MdocError::Malformed(_) => Msg::MdocMalformed,
            MdocError::NoDocuments => Msg::MdocNoDocuments,
            MdocError::Unsupported(_) => Msg::MdocUnsupported,
            MdocError::IssuerUntrusted => Msg::MdocIssuerUntrusted,
            MdocError::NotDocumentSigner => Msg::MdocNotDocumentSigner,
            MdocError::CertificateExpired => Msg::MdocCertificateExpired,
            MdocError::IssuerSignature => Msg::MdocIssuerSignature,
            MdocError::DocTypeMismatch { .. } => Msg::MdocDocTypeMismatch,
            MdocError::DigestMismatch { .. } => Msg::MdocDigestMismatch,
            MdocError::ElementNotSigned { .. } => Msg::MdocElementNotSigned,
            MdocError::NotYetValid => Msg::MdocNotYetValid,
            MdocError::Expired => Msg::MdocExpired,
            MdocError::DeviceAuth => Msg::MdocDeviceAuth,
            MdocError::EngagementInvalid(_) => Msg::MdocEngagementInvalid,
            MdocError::SessionDecrypt => Msg::MdocSessionDecrypt,
            MdocError::SessionEnded(_) => Msg::MdocSessionEnded,
            MdocError::SessionState(_) => Msg::MdocSessionState,
            MdocError::ReaderUntrusted => Msg::MdocReaderUntrusted,
            MdocError::ReaderAuthInvalid(_) => Msg::MdocReaderAuthInvalid,
            MdocError::ReaderCertificateExpired => Msg::MdocReaderCertificateExpired,
            MdocError::ReaderNotAuthorised { .. } => Msg::MdocReaderNotAuthorised,
            MdocError::SelectionInvalid { .. } => Msg::MdocSelectionInvalid,
            MdocError::DeviceSignatureInvalid => Msg::MdocDeviceSignatureInvalid,
            MdocError::FrameInvalid(_) => Msg::MdocFrameInvalid,
            MdocError::DeviceKeyMismatch => Msg::MdocDeviceKeyMismatch,
        }
    }

    /// The stable code, e.g. `mdoc.digest_mismatch`.
    pub fn code(&self) -> &'static str {
        self.msg().code()
    }
}

/// A part of the verification that could not be done; never reported as valid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unchecked {
    /// The document authenticates the device with a MAC and the reader's ephemeral private key
    /// was not supplied, so the MAC key cannot be derived.
    DeviceMac {
        /// docType of the document concerned.
        doc_type: String,
    },
    /// Revocation (token status list) is not checked by this increment.
    Status {
        /// docType of the document concerned.
        doc_type: String,
    },
}

impl Unchecked {
    /// The catalogue entry (stable code, Vietnamese and English text).
    pub fn msg(&self) -> Msg {
        match self {
            Unchecked::DeviceMac { .. } => Msg::MdocDeviceMacUnchecked,
            Unchecked::Status { .. } => Msg::MdocStatusUnchecked,
        }
    }

    /// The stable code, e.g. `mdoc.device_mac_unchecked`.
    pub fn code(&self) -> &'static str {
        self.msg().code()
    }
}
