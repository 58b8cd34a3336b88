//! Session encryption of ISO/IEC 18013-5 (§9.1.1): the pieces both sides share. The key
//! agreement, the HKDF derivation of `SKDevice`/`SKReader` and the AES-256-GCM framing with
//! message counters are isomdl 0.2.0's (`definitions::session`); this module only validates
//! what reaches them (isomdl's `get_shared_secret` panics on a coordinate that is not 32 bytes
//! long, so the peer's key is checked here first), bounds every message before decoding, and
//! keeps the keys zeroised.

use isomdl::definitions::helpers::Tag24;
use isomdl::definitions::session::{self as iso, SessionTranscript180135, Status};
use isomdl::definitions::{CoseKey, SessionData};
use zeroize::Zeroizing;

use crate::verify::device_key;
use crate::{MdocError, MAX_DEVICE_RESPONSE_BYTES};

/// Upper bound on the engagement QR string (`mdoc:` + base64url): an engagement with a BLE
/// retrieval method is about 120 characters; anything near a kilobyte is not an engagement.
pub const MAX_ENGAGEMENT_QR_CHARS: usize = 2048;

/// Upper bound on a `SessionEstablishment` or on a `SessionData` the holder receives: a request
/// with reader authentication (two certificates) is 2–3 KB.
pub const MAX_REQUEST_MESSAGE_BYTES: usize = 64 * 1024;

/// Upper bound on the `SessionData` carrying a `DeviceResponse`: the response bound plus the
/// AES-GCM tag and the CBOR envelope.
pub const MAX_RESPONSE_MESSAGE_BYTES: usize = MAX_DEVICE_RESPONSE_BYTES + 1024;

/// ISO 18013-5 SessionData status 20: session termination.
pub(crate) const STATUS_TERMINATION: u64 = 20;

/// The transcript of one session, as isomdl builds it, with its tagged encoding kept (the
/// salt of the key derivation and the DeviceAuthentication/ReaderAuthentication input).
#[derive(Clone)]
pub(crate) struct Transcript {
    pub(crate) value: SessionTranscript180135,
    /// `SessionTranscriptBytes` = `#6.24(bstr .cbor SessionTranscript)`.
    pub(crate) bytes: Vec<u8>,
}

impl Transcript {
    pub(crate) fn new(value: SessionTranscript180135) -> Result<Self, MdocError> {
        let tagged = Tag24::new(value.clone()).map_err(|e| MdocError::Malformed(format!("session transcript: {e}")))?;
        let bytes =
            isomdl::cbor::to_vec(&tagged).map_err(|e| MdocError::Malformed(format!("session transcript: {e}")))?;
        Ok(Transcript { value, bytes })
    }

    fn tagged(&self) -> Result<Tag24<SessionTranscript180135>, MdocError> {
        Tag24::new(self.value.clone()).map_err(|e| MdocError::Malformed(format!("session transcript: {e}")))
    }
}

/// Parse `SessionTranscriptBytes` (tag 24) into isomdl's transcript (the tagged pieces keep
/// their bytes).
pub(crate) fn parse_transcript(bytes: &[u8]) -> Result<SessionTranscript180135, MdocError> {
    let tagged: Tag24<SessionTranscript180135> =
        isomdl::cbor::from_slice(bytes).map_err(|e| MdocError::Malformed(format!("session transcript: {e}")))?;
    Ok(tagged.into_inner())
}

/// The two session keys and the two message counters of one session.
pub(crate) struct SessionKeys {
    sk_device: Zeroizing<[u8; 32]>,
    sk_reader: Zeroizing<[u8; 32]>,
    device_counter: u32,
    reader_counter: u32,
}

/// A P-256 public key from a COSE_Key received from the peer, validated before isomdl sees it.
pub(crate) fn peer_public_key(key: &CoseKey) -> Result<p256::PublicKey, MdocError> {
    Ok(p256::PublicKey::from(device_key(key)?))
}

impl SessionKeys {
    /// ECDH between our ephemeral key and the peer's, then `SKDevice`/`SKReader` with
    /// HKDF-SHA-256 salted with `SHA-256(SessionTranscriptBytes)` (isomdl).
    pub(crate) fn derive(own: &p256::SecretKey, peer: &CoseKey, transcript: &Transcript) -> Result<Self, MdocError> {
        peer_public_key(peer)?;
        let shared = iso::get_shared_secret(peer.clone(), &own.to_nonzero_scalar())
            .map_err(|e| MdocError::Malformed(format!("key agreement: {e}")))?;
        let tagged = transcript.tagged()?;
        let derive = |reader: bool| -> Result<Zeroizing<[u8; 32]>, MdocError> {
            let key = iso::derive_session_key(&shared, &tagged, reader)
                .map_err(|e| MdocError::Malformed(format!("session key: {e}")))?;
            let mut out = Zeroizing::new([0u8; 32]);
            out.copy_from_slice(&key[..]);
            Ok(out)
        };
        Ok(SessionKeys { sk_device: derive(false)?, sk_reader: derive(true)?, device_counter: 0, reader_counter: 0 })
    }

    /// Encrypt a message from the mdoc (SKDevice, next device counter).
    pub(crate) fn encrypt_from_device(&mut self, plaintext: &[u8]) -> Result<Vec<u8>, MdocError> {
        iso::encrypt_device_data(&(*self.sk_device).into(), plaintext, &mut self.device_counter)
            .map_err(|_| MdocError::SessionDecrypt)
    }

    /// Encrypt a message from the reader (SKReader, next reader counter).
    pub(crate) fn encrypt_from_reader(&mut self, plaintext: &[u8]) -> Result<Vec<u8>, MdocError> {
        iso::encrypt_reader_data(&(*self.sk_reader).into(), plaintext, &mut self.reader_counter)
            .map_err(|_| MdocError::SessionDecrypt)
    }

    /// Decrypt a message from the mdoc. A failure (another session, an altered or replayed
    /// message: the counter is part of the nonce) ends the session.
    pub(crate) fn decrypt_from_device(&mut self, ciphertext: &[u8]) -> Result<Vec<u8>, MdocError> {
        iso::decrypt_device_data(&(*self.sk_device).into(), ciphertext, &mut self.device_counter)
            .map_err(|_| MdocError::SessionDecrypt)
    }

    /// Decrypt a message from the reader.
    pub(crate) fn decrypt_from_reader(&mut self, ciphertext: &[u8]) -> Result<Vec<u8>, MdocError> {
        iso::decrypt_reader_data(&(*self.sk_reader).into(), ciphertext, &mut self.reader_counter)
            .map_err(|_| MdocError::SessionDecrypt)
    }
}

/// Refuse a message over `max` bytes before decoding it.
pub(crate) fn bound(message: &[u8], max: usize) -> Result<(), MdocError> {
    if message.len() > max {
        return Err(MdocError::TooLarge { size: message.len(), max });
    }
    Ok(())
}

/// What a `SessionData` carries: encrypted data, or a status that ends the session.
pub(crate) enum Incoming {
    Data(Vec<u8>),
    Ended(u64),
}

/// Decode a `SessionData` (bounded by the caller).
pub(crate) fn parse_session_data(message: &[u8]) -> Result<Incoming, MdocError> {
    let data: SessionData =
        isomdl::cbor::from_slice(message).map_err(|e| MdocError::Malformed(format!("SessionData: {e}")))?;
    match (data.data, data.status) {
        (Some(bytes), _) => Ok(Incoming::Data(bytes.into())),
        (None, Some(status)) => Ok(Incoming::Ended(u64::from(status))),
        (None, None) => Err(MdocError::Malformed("SessionData without data or status".into())),
    }
}

/// `SessionData` with encrypted data.
pub(crate) fn session_data(ciphertext: Vec<u8>) -> Result<Vec<u8>, MdocError> {
    isomdl::cbor::to_vec(&SessionData { data: Some(ciphertext.into()), status: None })
        .map_err(|e| MdocError::Malformed(format!("SessionData: {e}")))
}

/// `SessionData` with status 20 (session termination) and no data: how either side ends the
/// session (ISO 18013-5 §9.1.1.4). Needs no key, so it can be sent after any failure.
pub fn session_termination() -> Vec<u8> {
    // {"status": 20}
    isomdl::cbor::to_vec(&SessionData { data: None, status: Some(Status::SessionTermination) })
        .unwrap_or_else(|_| vec![0xa1, 0x66, b's', b't', b'a', b't', b'u', b's', 0x14])
}
