//! A software smart card served to a real `pcscd` through vsmartcard's `vpcd` driver.
//!
//! Debian's `vsmartcard-vpcd` adds virtual readers to `pcscd` ("Virtual PCD 00 00" on TCP port
//! 35963, "Virtual PCD 00 01" on 35964). Whatever connects to that port *is the card*: `pcscd`
//! sends it power and ATR requests and every APDU a PC/SC client transmits. This crate is that
//! card end: it serves any [`VirtualCard`] over the vpcd protocol (through the `vpicc` crate), so
//! the chip reader of `citizen chip` and an independent reader (JMRTD through
//! `javax.smartcardio`) talk to our software card exactly as to a card in a USB reader
//! (ARCHITECTURE.md, decision 26e).
//!
//! A card is a plain `process(command) -> response` object. To serve another card (the software
//! CCCD), implement [`VirtualCard`] for it and add it to [`card_by_name`].
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod apdu;
pub mod probe;

use std::fmt::Display;
use std::io::{self, ErrorKind};
use std::net::ToSocketAddrs;
use std::time::{Duration, Instant};

pub use probe::ProbeCard;

/// Host where `pcscd`'s vpcd driver listens.
pub const VPCD_HOST: &str = "127.0.0.1";
/// TCP port of the first vpcd reader ("Virtual PCD 00 00"); the second one is on `+1`.
pub const VPCD_PORT: u16 = 35963;
/// Reader name `pcscd` gives the first vpcd slot.
pub const VPCD_READER: &str = "Virtual PCD 00 00";

/// The names [`card_by_name`] knows, for the binary's help text.
pub const CARD_NAMES: &[&str] = &["probe"];

/// A smart card in software: the card side of the APDU exchange.
///
/// The same shape as the software CCCD of `tools/software-cccd` (`SoftwareCard`), so serving it
/// is a four-line `impl`.
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
        _ => None,
    }
}

/// Presents a [`VirtualCard`] to `vpicc`, which drives the vpcd protocol (2-byte big-endian
/// length-prefixed messages; a 1-byte message is a control: 0 power off, 1 power on, 2 reset,
/// 4 get ATR; anything longer is an APDU).
struct Vpcd<'a> {
    card: &'a mut dyn VirtualCard,
    atr: Vec<u8>,
}

impl vpicc::VSmartCard for Vpcd<'_> {
    fn atr(&self) -> &[u8] {
        &self.atr
    }

    fn power_on(&mut self) {
        self.card.power_on();
        self.atr = self.card.atr();
    }

    fn power_off(&mut self) {
        self.card.power_off();
    }

    fn reset(&mut self) {
        self.card.power_off();
        self.card.power_on();
        self.atr = self.card.atr();
    }

    fn execute(&mut self, msg: &[u8]) -> Vec<u8> {
        self.card.process(msg)
    }
}

/// Connect to vpcd at `addr`, retrying until `connect_timeout` has passed (pcscd may still be
/// starting), then serve `card` until vpcd closes the connection (pcscd stopped): `Ok(())`.
///
/// `on_connected` runs once the TCP connection stands (the binary prints its ready line there).
pub fn serve<A>(
    card: &mut dyn VirtualCard,
    addr: A,
    connect_timeout: Duration,
    on_connected: impl FnOnce(),
) -> io::Result<()>
where
    A: ToSocketAddrs + Display + Copy,
{
    let deadline = Instant::now() + connect_timeout;
    let connection = loop {
        match vpicc::connect_socket(addr) {
            Ok(c) => break c,
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
    };
    on_connected();
    let atr = card.atr();
    let mut adapter = Vpcd { card, atr };
    match connection.run(&mut adapter) {
        Err(e) if e.kind() == ErrorKind::UnexpectedEof => Ok(()),
        other => other,
    }
}
