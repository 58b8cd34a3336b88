//! The vpcd wire protocol against a fake `pcscd` (a TCP listener playing vpcd's side): what the
//! real driver sends, and what our card end must answer. Runs without pcscd.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use virtual_card::{ProbeCard, VirtualCard};

fn send(s: &mut TcpStream, msg: &[u8]) {
    let len = u16::try_from(msg.len()).unwrap().to_be_bytes();
    s.write_all(&len).unwrap();
    s.write_all(msg).unwrap();
}

fn recv(s: &mut TcpStream) -> Vec<u8> {
    let mut len = [0u8; 2];
    s.read_exact(&mut len).unwrap();
    let mut msg = vec![0u8; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut msg).unwrap();
    msg
}

/// Records power events so the test sees them forwarded.
#[derive(Default)]
struct Recorder {
    events: Vec<&'static str>,
    inner: ProbeCard,
}

impl VirtualCard for Recorder {
    fn atr(&self) -> Vec<u8> {
        self.inner.atr()
    }
    fn power_on(&mut self) {
        self.events.push("on");
        self.inner.power_on();
    }
    fn power_off(&mut self) {
        self.events.push("off");
        self.inner.power_off();
    }
    fn process(&mut self, command_apdu: &[u8]) -> Vec<u8> {
        self.events.push("apdu");
        self.inner.process(command_apdu)
    }
}

#[test]
fn serves_controls_and_apdus_then_ends_cleanly_when_vpcd_closes() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let fake_pcscd = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        send(&mut s, &[4]); // get ATR
        let atr = recv(&mut s);
        send(&mut s, &[1]); // power on
        send(&mut s, &[0x00, 0xA4, 0x04, 0x0C, 0x07, 0xA0, 0x00, 0x00, 0x02, 0x47, 0x10, 0x01]);
        let select = recv(&mut s);
        send(&mut s, &[0x00, 0xB0, 0x9C, 0x00, 0x00]);
        let card_access = recv(&mut s);
        send(&mut s, &[2]); // reset
        send(&mut s, &[0]); // power off
        send(&mut s, &[0x00, 0xB0, 0x00, 0x00, 0x10]); // after power off: nothing selected
        let after_off = recv(&mut s);
        (atr, select, card_access, after_off)
    });
    let mut card = Recorder::default();
    let mut connected = false;
    virtual_card::serve(&mut card, addr, Duration::from_secs(5), || connected = true).unwrap();
    let (atr, select, card_access, after_off) = fake_pcscd.join().unwrap();
    assert!(connected);
    assert_eq!(atr, [0x3B, 0x80, 0x80, 0x01, 0x01]);
    assert_eq!(select, [0x90, 0x00]);
    assert_eq!(card_access[..card_access.len() - 2], virtual_card::probe::CCCD_CARD_ACCESS);
    assert_eq!(card_access[card_access.len() - 2..], [0x62, 0x82], "Le 256 > 54 bytes: end of file");
    assert_eq!(after_off, [0x69, 0x86]);
    assert_eq!(card.events, ["on", "apdu", "apdu", "off", "on", "off", "apdu"]);
}

#[test]
fn an_unknown_control_byte_ends_the_session_with_an_error() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let fake_pcscd = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        send(&mut s, &[9]);
        // Keep the socket open until the card end gives up on it.
        let mut buf = [0u8; 1];
        let _ = s.read(&mut buf);
    });
    let mut card = ProbeCard::new();
    let err = virtual_card::serve(&mut card, addr, Duration::from_secs(5), || {}).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    drop(err);
    fake_pcscd.join().unwrap();
}

#[test]
fn gives_up_when_nothing_listens() {
    // Bind then drop: the port is (very likely) closed now; a zero timeout means one attempt.
    let addr = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let mut card = ProbeCard::new();
    let err = virtual_card::serve(&mut card, addr, Duration::ZERO, || panic!("must not connect")).unwrap_err();
    assert!(err.to_string().contains("is pcscd with vsmartcard-vpcd running?"), "{err}");
}

#[test]
fn a_card_in_the_reader_is_removed_on_request() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let placed = virtual_card::CardInReader::place(Box::new(ProbeCard::new()), addr, Duration::from_secs(5)).unwrap();
    let (mut s, _) = listener.accept().unwrap();
    send(&mut s, &[4]);
    assert_eq!(recv(&mut s), [0x3B, 0x80, 0x80, 0x01, 0x01]);
    placed.remove().unwrap();
    // vpcd's side sees the connection end: the card left the reader.
    let mut buf = [0u8; 2];
    assert_eq!(s.read(&mut buf).unwrap(), 0);
}
