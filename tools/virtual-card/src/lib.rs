//! A software smart card served to a real `pcscd` through vsmartcard's `vpcd` driver.
//!
//! Debian's `vsmartcard-vpcd` adds virtual readers to `pcscd` ("Virtual PCD 00 00" on TCP port
//! 35963, "Virtual PCD 00 01" on 35964). Whatever connects to that port *is the card*: `pcscd`
//! sends it power and ATR requests and every APDU a PC/SC client transmits. This crate is that
//! card end: it serves any [`VirtualCard`] over the vpcd protocol (our own loop, `run_vpcd`), so
//! the chip reader of `citizen chip` and an independent reader (JMRTD through
//! `javax.smartcardio`) talk to our software card exactly as to a card in a USB reader
//! (ARCHITECTURE.md, decision 29).
//!
//! A card is a plain `process(command) -> response` object. To serve another card (the software
//! CCCD), implement [`VirtualCard`] for it and add it to [`card_by_name`].
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod apdu;
pub mod cccd;
pub mod probe;

use std::fmt::Display;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

pub use probe::ProbeCard;

/// Host where `pcscd`'s vpcd driver listens.
pub const VPCD_HOST: &str = "127.0.0.1";
/// TCP port of the first vpcd reader ("Virtual PCD 00 00"); the second one is on `+1`.
pub const VPCD_PORT: u16 = 35963;
/// Reader name `pcscd` gives the first vpcd slot.
pub const VPCD_READER: &str = "Virtual PCD 00 00";

/// The names [`card_by_name`] knows, for the binary's help text.
pub const CARD_NAMES: &[&str] = &["probe", "cccd"];

/// A smart card in software: the card side of the APDU exchange.
///
/// The software CCCD of `tools/software-cccd` (`SoftwareCard`) implements it in [`cccd`].
pub trait VirtualCard {
    /// The answer to reset the reader reports (ISO 7816-3; contactless cards get the PC/SC
    /// part 3 form `3B 8x 80 01 …`).
    fn atr(&self) -> Vec<u8>;
    /// The card enters the field (or is powered in a contact reader): a fresh session.
    fn power_on(&mut self);
    /// The card leaves the field: everything volatile (selected files, session keys) is lost.
    fn power_off(&mut self);
    /// Answer one command APDU; the response ends with SW1 SW2.
    fn process(&mut self, command_apdu: &[u8]) -> Vec<u8>;
}

/// The cards the `virtual-card` binary can serve, by name.
pub fn card_by_name(name: &str) -> Option<Box<dyn VirtualCard + Send>> {
    match name {
        "probe" => Some(Box::new(ProbeCard::new())),
        "cccd" => Some(Box::new(cccd::cccd_card(&cccd::CccdOptions::default())?)),
        _ => None,
    }
}

/// Read one vpcd message: a 2-byte big-endian length, then that many bytes. The ACK of the
/// length is forced out at once (`TCP_QUICKACK`): vpcd writes the length and the body with two
/// `send` calls, so with Nagle on its side and a delayed ACK on ours every body would wait for
/// our delayed-ACK timer (measured through pcscd: ~50 ms per APDU, 1.86 s of transport for a
/// full CCCD read of 37 APDUs; 18 ms with the forced ACK).
fn read_message(stream: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut size = [0u8; 2];
    stream.read_exact(&mut size)?;
    quick_ack(stream);
    let mut msg = vec![0u8; usize::from(u16::from_be_bytes(size))];
    stream.read_exact(&mut msg)?;
    Ok(msg)
}

#[cfg(target_os = "linux")]
fn quick_ack(stream: &TcpStream) {
    // Best effort: a failure only costs latency.
    let _ = socket2::SockRef::from(stream).set_tcp_quickack(true);
}

#[cfg(not(target_os = "linux"))]
fn quick_ack(_stream: &TcpStream) {}

/// Write one vpcd message (length and body in one write).
fn write_message(stream: &mut TcpStream, data: &[u8]) -> io::Result<()> {
    let len =
        u16::try_from(data.len()).map_err(|_| io::Error::new(ErrorKind::InvalidData, "response over 65535 bytes"))?;
    stream.write_all(&[&len.to_be_bytes()[..], data].concat())
}

/// The vpcd protocol's card end: a 1-byte message is a control (0 power off, 1 power on,
/// 2 reset, 4 get ATR, answered with the ATR), anything longer is an APDU, answered with the
/// card's response. (The `vpicc` crate implements the same loop over a `TcpStream` it owns,
/// which leaves no place to force the ACK of a length prefix; hence our own ~30 lines.)
fn run_vpcd(stream: &mut TcpStream, card: &mut dyn VirtualCard) -> io::Result<()> {
    loop {
        let msg = read_message(stream)?;
        match msg.as_slice() {
            [] => return Err(io::Error::new(ErrorKind::InvalidData, "vpcd sent an empty message")),
            [0] => card.power_off(),
            [1] => card.power_on(),
            [2] => {
                card.power_off();
                card.power_on();
            }
            [4] => write_message(stream, &card.atr())?,
            [c] => return Err(io::Error::new(ErrorKind::InvalidData, format!("unknown vpcd control {c}"))),
            apdu => {
                let response = card.process(apdu);
                write_message(stream, &response)?;
            }
        }
    }
}

/// A TCP connection to vpcd: the card is "in the reader" while it stands.
#[derive(Debug)]
pub struct VpcdConnection {
    stream: TcpStream,
}

/// Takes the card out of the reader from another thread (shuts the connection down).
#[derive(Debug)]
pub struct Remover {
    stream: TcpStream,
}

impl Remover {
    /// Remove the card: pcscd sees it leave, an exchange in flight fails as "card removed", and
    /// [`VpcdConnection::serve`] returns `Ok(())`.
    pub fn remove(&self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}

impl VpcdConnection {
    /// Connect to vpcd at `addr`, retrying until `connect_timeout` has passed (pcscd may still
    /// be starting).
    pub fn connect<A>(addr: A, connect_timeout: Duration) -> io::Result<Self>
    where
        A: ToSocketAddrs + Display + Copy,
    {
        let deadline = Instant::now() + connect_timeout;
        loop {
            match TcpStream::connect(addr) {
                Ok(stream) => {
                    // Every message is written as a 2-byte length then the body: without
                    // TCP_NODELAY the body may wait for the ACK of the length (Nagle).
                    stream.set_nodelay(true)?;
                    return Ok(VpcdConnection { stream });
                }
                Err(e) if Instant::now() < deadline && e.kind() == ErrorKind::ConnectionRefused => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => {
                    return Err(io::Error::new(
                        e.kind(),
                        format!("cannot connect to vpcd at {addr} (is pcscd with vsmartcard-vpcd running?): {e}"),
                    ))
                }
            }
        }
    }

    /// A handle that removes the card from another thread.
    pub fn remover(&self) -> io::Result<Remover> {
        Ok(Remover { stream: self.stream.try_clone()? })
    }

    /// Serve `card` until vpcd closes the connection (pcscd stopped) or a [`Remover`] removes
    /// the card: `Ok(())`. A malformed vpcd message is an error.
    pub fn serve(mut self, card: &mut dyn VirtualCard) -> io::Result<()> {
        match run_vpcd(&mut self.stream, card) {
            Err(e) if matches!(e.kind(), ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset) => Ok(()),
            other => other,
        }
    }
}

/// Connect to vpcd at `addr` (see [`VpcdConnection::connect`]), call `on_connected` (the
/// binary prints its ready line there), and serve `card` until the connection ends.
pub fn serve<A>(
    card: &mut dyn VirtualCard,
    addr: A,
    connect_timeout: Duration,
    on_connected: impl FnOnce(),
) -> io::Result<()>
where
    A: ToSocketAddrs + Display + Copy,
{
    let connection = VpcdConnection::connect(addr, connect_timeout)?;
    on_connected();
    connection.serve(card)
}

/// A card served on a background thread (tests: a card placed on the reader for one test).
/// Dropping it removes the card and waits for the thread.
#[derive(Debug)]
pub struct CardInReader {
    remover: Remover,
    thread: Option<std::thread::JoinHandle<io::Result<()>>>,
}

impl CardInReader {
    /// Connect to vpcd at `addr` and serve `card` on a new thread.
    pub fn place<A>(card: Box<dyn VirtualCard + Send>, addr: A, connect_timeout: Duration) -> io::Result<Self>
    where
        A: ToSocketAddrs + Display + Copy,
    {
        Self::place_removing_after(card, None, addr, connect_timeout)
    }

    /// As [`CardInReader::place`]; with `Some(n)` the card leaves the reader after answering
    /// `n` APDUs ([`cccd::RemovingAfter`]: a card pulled away mid-read).
    pub fn place_removing_after<A>(
        card: Box<dyn VirtualCard + Send>,
        remove_after: Option<usize>,
        addr: A,
        connect_timeout: Duration,
    ) -> io::Result<Self>
    where
        A: ToSocketAddrs + Display + Copy,
    {
        let connection = VpcdConnection::connect(addr, connect_timeout)?;
        let remover = connection.remover()?;
        let mut card: Box<dyn VirtualCard + Send> = match remove_after {
            Some(n) => Box::new(cccd::RemovingAfter::new(card, n, connection.remover()?)),
            None => card,
        };
        let thread = std::thread::spawn(move || connection.serve(card.as_mut()));
        Ok(CardInReader { remover, thread: Some(thread) })
    }

    /// Take the card out of the reader (also mid-exchange) and return how serving ended.
    pub fn remove(mut self) -> io::Result<()> {
        self.remover.remove();
        self.join()
    }

    fn join(&mut self) -> io::Result<()> {
        match self.thread.take().map(std::thread::JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(io::Error::other("the card thread panicked")),
            None => Ok(()),
        }
    }
}

impl Drop for CardInReader {
    fn drop(&mut self) {
        self.remover.remove();
        let _ = self.join();
    }
}
