//! `MdocTransport`: the wire of an in-person document presentation (ISO/IEC 18013-5 data
//! retrieval), used by both sides — the citizen's wallet (holder) and the verifier mode.
//!
//! The port carries **frames**, not messages: the core cuts each session message into frames of
//! at most [`MdocTransport::max_frame_size`] bytes with the BLE framing of ISO 18013-5 (a leading
//! `0x01` on every frame but the last, `0x00` on the last; `citizen_mdoc::transport`) and puts
//! received frames back together with a bounded reassembler, so a peer cannot make the phone
//! buffer megabytes. The shells implement the port over BLE GATT (the phone as peripheral
//! server: one characteristic write or notification per frame; `max_frame_size` = ATT MTU − 3);
//! the CLI over TCP; the tests in process ([`LoopbackMdocTransport`]) or, in Python, with queues.
//!
//! **Cancellation is dropping the future**, as for [`crate::platform::ApduTransport`]: when the
//! citizen cancels, the core drops the pending `receive_frame` and then calls `disconnect`.

use std::sync::Arc;

use citizen_mdoc::transport::{split_frames, Reassembler};

use crate::error::{Error, Msg, Result};

/// Why a frame could not be moved. Shells map their platform exceptions onto these; the
/// `reason` is for logs only (never shown to the citizen, never holding frame bytes).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum MdocTransportError {
    /// The peer went away (BLE disconnect, socket closed).
    #[error("disconnected")]
    Disconnected {
        /// What the platform reported (for logs; never shown to the user).
        reason: String,
    },
    /// Nothing arrived in time (the adapter's own timeout).
    #[error("timeout")]
    Timeout {
        /// What the platform reported (for logs; never shown to the user).
        reason: String,
    },
    /// Anything else (BLE off, permission missing, I/O failure).
    #[error("transport failure")]
    Other {
        /// What the platform reported (for logs; never shown to the user).
        reason: String,
    },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for MdocTransportError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        MdocTransportError::Other { reason: format!("unexpected callback error: {}", e.reason) }
    }
}

impl From<MdocTransportError> for Error {
    fn from(e: MdocTransportError) -> Self {
        tracing::info!(error = ?e, "mdoc transport failed");
        Error::Domain(Msg::MdocTransportFailed)
    }
}

/// A connection to the other device of one presentation session, able to move frames both
/// ways. Implemented by the shells over BLE (`BleMdocTransport` on Android and iOS), by the CLI
/// over TCP, by tests in process. One transport serves one session; the core never has two
/// `send_frame` or two `receive_frame` calls in flight on it.
#[uniffi::export(foreign)]
#[async_trait::async_trait]
pub trait MdocTransport: Send + Sync {
    /// The largest frame the link carries in one write, leading byte included (BLE: the
    /// negotiated ATT MTU − 3; at least 2).
    fn max_frame_size(&self) -> i32;

    /// Send one frame (one characteristic write or notification).
    async fn send_frame(&self, frame: Vec<u8>) -> Result<(), MdocTransportError>;

    /// Wait for the next frame from the peer. Dropping the future cancels the wait.
    async fn receive_frame(&self) -> Result<Vec<u8>, MdocTransportError>;

    /// End the link (BLE: disconnect and stop advertising). Called once when the session ends;
    /// never fails. (Not `close`: that name clashes with `AutoCloseable.close` of the generated
    /// Kotlin class.)
    async fn disconnect(&self);
}

/// Send one session message, framed.
pub(crate) async fn send_message(transport: &Arc<dyn MdocTransport>, message: &[u8]) -> Result<()> {
    let max = usize::try_from(transport.max_frame_size()).unwrap_or(0).max(2);
    for frame in split_frames(message, max) {
        transport.send_frame(frame).await?;
    }
    Ok(())
}

/// Receive one session message of at most `max` bytes (refused as soon as it passes the bound,
/// `mdoc.too_large`; an invalid frame is `mdoc.frame_invalid`).
pub(crate) async fn receive_message(transport: &Arc<dyn MdocTransport>, max: usize) -> Result<Vec<u8>> {
    let mut reassembler = Reassembler::new(max);
    loop {
        let frame = transport.receive_frame().await?;
        if let Some(message) = reassembler.push(&frame).map_err(|e| Error::Domain(e.msg()))? {
            return Ok(message);
        }
    }
}

/// An in-process pair of transports, each the other's peer (tests, benchmarks, the demo):
/// what one sends, the other receives, frame by frame, with the same framing a BLE link uses.
pub struct LoopbackMdocTransport {
    max_frame: i32,
    tx: tokio::sync::mpsc::UnboundedSender<Vec<u8>>,
    rx: tokio::sync::Mutex<tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>>,
    closed: std::sync::atomic::AtomicBool,
}

impl LoopbackMdocTransport {
    /// Two connected ends with frames of at most `max_frame` bytes (e.g. 185 − 3 for a typical
    /// BLE MTU).
    pub fn pair(max_frame: i32) -> (Arc<LoopbackMdocTransport>, Arc<LoopbackMdocTransport>) {
        let (a_tx, b_rx) = tokio::sync::mpsc::unbounded_channel();
        let (b_tx, a_rx) = tokio::sync::mpsc::unbounded_channel();
        let end = |tx, rx| {
            Arc::new(LoopbackMdocTransport {
                max_frame,
                tx,
                rx: tokio::sync::Mutex::new(rx),
                closed: std::sync::atomic::AtomicBool::new(false),
            })
        };
        (end(a_tx, a_rx), end(b_tx, b_rx))
    }

    /// Whether `disconnect` was called on this end.
    pub fn is_closed(&self) -> bool {
        self.closed.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[async_trait::async_trait]
impl MdocTransport for LoopbackMdocTransport {
    fn max_frame_size(&self) -> i32 {
        self.max_frame
    }

    async fn send_frame(&self, frame: Vec<u8>) -> Result<(), MdocTransportError> {
        if frame.len() > usize::try_from(self.max_frame).unwrap_or(0).max(2) {
            return Err(MdocTransportError::Other { reason: "frame larger than the link's".into() });
        }
        self.tx.send(frame).map_err(|_| MdocTransportError::Disconnected { reason: "peer dropped".into() })
    }

    async fn receive_frame(&self) -> Result<Vec<u8>, MdocTransportError> {
        self.rx.lock().await.recv().await.ok_or(MdocTransportError::Disconnected { reason: "peer dropped".into() })
    }

    async fn disconnect(&self) {
        self.closed.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_message_crosses_the_loopback_in_frames_and_the_bound_holds() {
        let (a, b) = LoopbackMdocTransport::pair(20);
        let (a, b): (Arc<dyn MdocTransport>, Arc<dyn MdocTransport>) = (a, b);
        let message: Vec<u8> = (0..500u32).map(|i| (i % 251) as u8).collect();
        send_message(&a, &message).await.unwrap();
        assert_eq!(receive_message(&b, 1000).await.unwrap(), message);
        send_message(&a, &message).await.unwrap();
        let e = receive_message(&b, 100).await.unwrap_err();
        assert!(matches!(e, Error::Domain(Msg::MdocTooLarge)), "{e:?}");
        drop(a);
        // The rest of the refused message, then the peer is gone.
        let mut last = None;
        for _ in 0..100 {
            match b.receive_frame().await {
                Ok(_) => continue,
                Err(e) => {
                    last = Some(e);
                    break;
                }
            }
        }
        assert!(matches!(last, Some(MdocTransportError::Disconnected { .. })));
        let e = Error::from(MdocTransportError::Timeout { reason: "x".into() });
        assert!(matches!(e, Error::Domain(Msg::MdocTransportFailed)));
    }
}
