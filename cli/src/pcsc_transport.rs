//! `PcscTransport`: the core's [`ApduTransport`] over PC/SC, the kiosk route (a USB contactless
//! reader at a one-stop counter) and the CI route (`pcscd` with the vsmartcard `vpcd` virtual
//! reader serving our software card). See ARCHITECTURE.md, decision 29.
//!
//! PC/SC calls block, so [`ApduTransport::transceive`] runs them on tokio's blocking pool.
//! **Cancellation:** PC/SC cannot abort an `SCardTransmit` in flight. Dropping the
//! `transceive` future abandons it: the exchange finishes on the blocking thread, its response is
//! discarded, and the next call waits for it (one APDU at a time on the card). [`PcscTransport::cancel`]
//! makes every later call fail with `Cancelled` and wakes a pending wait for the card
//! (`SCardCancel`), which is what the kiosk's Cancel button needs.

use std::ffi::CString;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use citizen_core::error::{ErrorDetail, Msg, PublicError};
use citizen_core::platform::{ApduTransport, ApduTransportError};
use pcsc::{Attribute, Card, Context, Protocols, ReaderState, Scope, ShareMode, State};

/// The largest short command APDU: header, Lc, 255 data bytes, Le.
pub const SHORT_APDU_MAX: u32 = 4 + 1 + 255 + 1;

/// A reader as `citizen chip readers` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReaderInfo {
    /// The reader's PC/SC name (what `--reader` takes).
    pub name: String,
    /// Whether a card is in the reader (or in its field).
    pub card_present: bool,
}

/// Why no card connection could be made. Each maps to a message of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PcscError {
    /// `pcscd` is not running (or not reachable).
    Unavailable(ErrorDetail),
    /// No reader at all.
    NoReader(ErrorDetail),
    /// `--reader NAME` names no reader; the readers that exist.
    ReaderNotFound(ErrorDetail, Vec<String>),
    /// No card arrived in the reader within the wait.
    NoCard(ErrorDetail),
    /// The card left during the exchange.
    CardRemoved(ErrorDetail),
    /// Cancelled through [`PcscTransport::cancel`].
    Cancelled(ErrorDetail),
    /// Any other PC/SC failure (with PC/SC's own wording, for logs).
    Failure(ErrorDetail, String),
}

impl PcscError {
    fn from_pcsc(e: pcsc::Error) -> Self {
        use pcsc::Error as E;
        match e {
            E::NoReadersAvailable => PcscError::NoReader(Msg::PcscNoReader.detail()),
            E::NoService | E::ServiceStopped | E::CommError => PcscError::Unavailable(Msg::PcscUnavailable.detail()),
            E::RemovedCard | E::ResetCard => PcscError::CardRemoved(Msg::PcscCardRemoved.detail()),
            E::NoSmartcard | E::Timeout => PcscError::NoCard(Msg::PcscNoCard.detail()),
            E::Cancelled => PcscError::Cancelled(Msg::PcscFailure.detail()),
            other => PcscError::Failure(Msg::PcscFailure.detail(), other.to_string()),
        }
    }
}

impl std::fmt::Display for PcscError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PcscError::Failure(d, why) => write!(f, "{} ({why})", d.message_en),
            PcscError::Cancelled(_) => write!(f, "cancelled"),
            other => write!(f, "{}", other.detail().message_en),
        }
    }
}

impl std::error::Error for PcscError {}

impl PublicError for PcscError {
    fn detail(&self) -> &ErrorDetail {
        match self {
            PcscError::Unavailable(d)
            | PcscError::NoReader(d)
            | PcscError::ReaderNotFound(d, _)
            | PcscError::NoCard(d)
            | PcscError::CardRemoved(d)
            | PcscError::Cancelled(d)
            | PcscError::Failure(d, _) => d,
        }
    }
}

/// The readers `pcscd` knows, with whether each holds a card.
pub fn readers() -> Result<Vec<ReaderInfo>, PcscError> {
    let ctx = Context::establish(Scope::User).map_err(PcscError::from_pcsc)?;
    let names = match ctx.list_readers_owned() {
        Ok(n) => n,
        Err(pcsc::Error::NoReadersAvailable) => return Ok(vec![]),
        Err(e) => return Err(PcscError::from_pcsc(e)),
    };
    let mut states: Vec<ReaderState> = names.iter().map(|n| ReaderState::new(n.clone(), State::UNAWARE)).collect();
    ctx.get_status_change(Duration::ZERO, &mut states).map_err(PcscError::from_pcsc)?;
    Ok(states
        .iter()
        .map(|s| ReaderInfo {
            name: s.name().to_string_lossy().into_owned(),
            card_present: s.event_state().contains(State::PRESENT),
        })
        .collect())
}

/// A connection to the card in one PC/SC reader.
pub struct PcscTransport {
    reader: String,
    context: Context,
    card: Arc<Mutex<Card>>,
    atr: Vec<u8>,
    max_apdu_length: i32,
    extended_length: bool,
    cancelled: Arc<AtomicBool>,
}

impl std::fmt::Debug for PcscTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcscTransport")
            .field("reader", &self.reader)
            .field("max_apdu_length", &self.max_apdu_length)
            .field("extended_length", &self.extended_length)
            .finish_non_exhaustive()
    }
}

impl PcscTransport {
    /// Connect to the card in `reader` (exact PC/SC name), or else in the first reader that
    /// holds a card (the first reader when none does), waiting up to `wait` for a card to be
    /// placed. `extended_length` overrides what the reader reports (`SCARD_ATTR_MAXINPUT`);
    /// `None` trusts the reader and assumes short APDUs when it reports nothing.
    pub fn connect(reader: Option<&str>, wait: Duration, extended_length: Option<bool>) -> Result<Self, PcscError> {
        let context = Context::establish(Scope::User).map_err(PcscError::from_pcsc)?;
        let all = readers()?;
        if all.is_empty() {
            return Err(PcscError::NoReader(Msg::PcscNoReader.detail()));
        }
        let chosen = match reader {
            Some(name) => all.iter().find(|r| r.name == name).ok_or_else(|| {
                PcscError::ReaderNotFound(
                    Msg::PcscReaderNotFound.detail(),
                    all.iter().map(|r| r.name.clone()).collect(),
                )
            })?,
            None => all.iter().find(|r| r.card_present).unwrap_or(&all[0]),
        };
        let name = CString::new(chosen.name.clone())
            .map_err(|_| PcscError::ReaderNotFound(Msg::PcscReaderNotFound.detail(), vec![]))?;
        wait_for_card(&context, &name, wait)?;
        let card = context.connect(&name, ShareMode::Shared, Protocols::ANY).map_err(PcscError::from_pcsc)?;
        let atr = card.status2_owned().map(|s| s.atr().to_vec()).unwrap_or_default();
        // SCARD_ATTR_MAXINPUT: the reader's largest command (CCID readers report it; vpcd does not).
        let reported = card
            .get_attribute_owned(Attribute::Maxinput)
            .ok()
            .and_then(|v| v.get(..4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])));
        let extended = extended_length.unwrap_or_else(|| reported.is_some_and(|m| m > SHORT_APDU_MAX));
        let max = if extended {
            let cap = u32::try_from(pcsc::MAX_BUFFER_SIZE_EXTENDED).unwrap_or(u32::MAX);
            reported.filter(|&m| m > SHORT_APDU_MAX).unwrap_or(cap).min(cap)
        } else {
            SHORT_APDU_MAX
        };
        Ok(PcscTransport {
            reader: chosen.name.clone(),
            context,
            card: Arc::new(Mutex::new(card)),
            atr,
            // At most 65 544 (an extended APDU): always fits.
            max_apdu_length: i32::try_from(max).unwrap_or(i32::MAX),
            extended_length: extended,
            cancelled: Arc::new(AtomicBool::new(false)),
        })
    }

    /// The reader's PC/SC name.
    pub fn reader(&self) -> &str {
        &self.reader
    }

    /// The card's answer to reset.
    pub fn atr(&self) -> &[u8] {
        &self.atr
    }

    /// Fail every later exchange with `Cancelled` and wake a pending wait (`SCardCancel`).
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
        let _ = self.context.cancel();
    }

    /// One exchange, blocking (for the CLI's synchronous commands and the async wrapper).
    /// `61xx` (more data: GET RESPONSE) and `6Cxx` (wrong Le: resend) are handled here, as a
    /// T=0 reader needs, so callers always see the whole response.
    pub fn transmit(&self, command: &[u8]) -> Result<Vec<u8>, ApduTransportError> {
        if self.cancelled.load(Ordering::SeqCst) {
            return Err(ApduTransportError::Cancelled { reason: "transport cancelled".into() });
        }
        let card = self.card.lock().map_err(|_| ApduTransportError::Other { reason: "card lock poisoned".into() })?;
        let mut buf = vec![0u8; pcsc::MAX_BUFFER_SIZE_EXTENDED];
        exchange(command, |c| card.transmit(c, &mut buf).map(<[u8]>::to_vec).map_err(transport_error))
    }
}

#[async_trait::async_trait]
impl ApduTransport for PcscTransport {
    async fn transceive(&self, command: Vec<u8>) -> Result<Vec<u8>, ApduTransportError> {
        if self.cancelled.load(Ordering::SeqCst) {
            return Err(ApduTransportError::Cancelled { reason: "transport cancelled".into() });
        }
        let card = Arc::clone(&self.card);
        let cancelled = Arc::clone(&self.cancelled);
        let join = tokio::task::spawn_blocking(move || {
            let card = card.lock().map_err(|_| ApduTransportError::Other { reason: "card lock poisoned".into() })?;
            if cancelled.load(Ordering::SeqCst) {
                return Err(ApduTransportError::Cancelled { reason: "transport cancelled".into() });
            }
            let mut buf = vec![0u8; pcsc::MAX_BUFFER_SIZE_EXTENDED];
            exchange(&command, |c| card.transmit(c, &mut buf).map(<[u8]>::to_vec).map_err(transport_error))
        });
        join.await.map_err(|e| ApduTransportError::Other { reason: format!("transmit task: {e}") })?
    }

    fn max_apdu_length(&self) -> i32 {
        self.max_apdu_length
    }

    fn supports_extended_length(&self) -> bool {
        self.extended_length
    }
}

/// Wait until `reader` holds a card, at most `wait`.
fn wait_for_card(ctx: &Context, reader: &CString, wait: Duration) -> Result<(), PcscError> {
    let deadline = Instant::now() + wait;
    let mut state = [ReaderState::new(reader.clone(), State::UNAWARE)];
    loop {
        match ctx.get_status_change(deadline.saturating_duration_since(Instant::now()), &mut state) {
            Ok(()) => {}
            Err(pcsc::Error::Timeout) => return Err(PcscError::NoCard(Msg::PcscNoCard.detail())),
            Err(e) => return Err(PcscError::from_pcsc(e)),
        }
        let now = state[0].event_state();
        if now.contains(State::PRESENT) && !now.contains(State::MUTE) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(PcscError::NoCard(Msg::PcscNoCard.detail()));
        }
        state[0].sync_current_state();
    }
}

/// The PC/SC errors of an exchange, as the core's transport errors.
fn transport_error(e: pcsc::Error) -> ApduTransportError {
    use pcsc::Error as E;
    let reason = e.to_string();
    match e {
        // SCARD_E_NOT_TRANSACTED: the reader driver lost the card during the exchange (what vpcd
        // and contactless CCID readers report when the card leaves the field mid-APDU).
        E::RemovedCard | E::ResetCard | E::NoSmartcard | E::UnpoweredCard | E::NotTransacted => {
            ApduTransportError::CardRemoved { reason }
        }
        E::Timeout | E::UnresponsiveCard => ApduTransportError::Timeout { reason },
        E::Cancelled | E::CancelledByUser | E::SystemCancelled => ApduTransportError::Cancelled { reason },
        _ => ApduTransportError::Other { reason },
    }
}

/// Send `command` through `send`, following `61xx` with GET RESPONSE and `6Cxx` with the same
/// command and the corrected Le (ISO 7816-3 T=0 rules; bounded, so a card answering `61xx`
/// forever cannot hang the reader).
pub fn exchange(
    command: &[u8],
    mut send: impl FnMut(&[u8]) -> Result<Vec<u8>, ApduTransportError>,
) -> Result<Vec<u8>, ApduTransportError> {
    const MAX_ROUNDS: usize = 64;
    let mut response = send(command)?;
    let mut data = vec![];
    for _ in 0..MAX_ROUNDS {
        let [.., sw1, sw2] = response[..] else {
            return Err(ApduTransportError::Other { reason: "response shorter than a status word".into() });
        };
        match sw1 {
            0x61 => {
                data.extend_from_slice(&response[..response.len() - 2]);
                response = send(&[command.first().map_or(0, |c| c & 0x03), 0xC0, 0x00, 0x00, sw2])?;
            }
            // Short APDUs only: the Le to correct is the last byte.
            0x6C if data.is_empty() && (command.len() == 5 || (command.len() > 5 && command[4] != 0)) => {
                let mut again = command.to_vec();
                if let Some(le) = again.last_mut() {
                    *le = sw2;
                }
                response = send(&again)?;
            }
            _ => {
                data.extend_from_slice(&response);
                return Ok(data);
            }
        }
    }
    Err(ApduTransportError::Other { reason: "card kept asking for GET RESPONSE".into() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_response_chains_are_joined() {
        let mut sent: Vec<Vec<u8>> = vec![];
        let out = exchange(&[0x00, 0xB0, 0x00, 0x00, 0x00], |c| {
            sent.push(c.to_vec());
            Ok(match sent.len() {
                1 => vec![1, 2, 0x61, 0x02],
                2 => vec![3, 4, 0x61, 0x01],
                _ => vec![5, 0x90, 0x00],
            })
        })
        .unwrap();
        assert_eq!(out, [1, 2, 3, 4, 5, 0x90, 0x00]);
        assert_eq!(sent[1], [0x00, 0xC0, 0x00, 0x00, 0x02]);
        assert_eq!(sent[2], [0x00, 0xC0, 0x00, 0x00, 0x01]);
    }

    #[test]
    fn wrong_le_is_resent_once_with_the_cards_length() {
        let mut sent: Vec<Vec<u8>> = vec![];
        let out = exchange(&[0x00, 0xB0, 0x00, 0x00, 0x00], |c| {
            sent.push(c.to_vec());
            Ok(if sent.len() == 1 { vec![0x6C, 0x05] } else { vec![9, 9, 9, 9, 9, 0x90, 0x00] })
        })
        .unwrap();
        assert_eq!(out.len(), 7);
        assert_eq!(sent[1], [0x00, 0xB0, 0x00, 0x00, 0x05]);
    }

    #[test]
    fn endless_get_response_and_short_answers_fail() {
        let e = exchange(&[0, 0xB0, 0, 0, 0], |_| Ok(vec![0x61, 0x01])).unwrap_err();
        assert!(matches!(e, ApduTransportError::Other { .. }));
        let e = exchange(&[0, 0xB0, 0, 0, 0], |_| Ok(vec![0x90])).unwrap_err();
        assert!(matches!(e, ApduTransportError::Other { .. }));
    }

    #[test]
    fn removal_and_timeouts_are_retryable_and_cancel_is_not() {
        assert!(transport_error(pcsc::Error::RemovedCard).is_retryable());
        assert!(transport_error(pcsc::Error::ResetCard).is_retryable());
        assert!(transport_error(pcsc::Error::NotTransacted).is_retryable(), "vpcd's card left mid-APDU");
        assert!(transport_error(pcsc::Error::Timeout).is_retryable());
        assert!(!transport_error(pcsc::Error::Cancelled).is_retryable());
        assert!(matches!(transport_error(pcsc::Error::CommError), ApduTransportError::Other { .. }));
    }

    #[test]
    fn connect_errors_carry_catalogue_codes() {
        assert_eq!(PcscError::from_pcsc(pcsc::Error::NoService).detail().code, "pcsc.unavailable");
        assert_eq!(PcscError::from_pcsc(pcsc::Error::NoReadersAvailable).detail().code, "pcsc.no_reader");
        assert_eq!(PcscError::from_pcsc(pcsc::Error::RemovedCard).detail().code, "pcsc.card_removed");
        assert_eq!(PcscError::from_pcsc(pcsc::Error::Timeout).detail().code, "pcsc.no_card");
    }
}
