//! The virtual card in a real `pcscd` (Debian's pcscd + vsmartcard-vpcd, started by `.ci/run`):
//! tests place a software card on the second vpcd reader and drive `citizen chip` against it.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use citizen_cli::pcsc_transport::{self, PcscError};
use virtual_card::{CardInReader, VirtualCard};

/// The vpcd reader these tests use (the second slot: a card someone serves by hand on the first
/// one does not disturb them).
pub const READER: &str = "Virtual PCD 00 01";
const PORT: u16 = virtual_card::VPCD_PORT + 1;

/// One card in the reader at a time across the tests of this binary.
static SLOT: Mutex<()> = Mutex::new(());

/// The reader slot, or `None` after printing why the test is skipped: only when pcscd is not
/// running, and never when `CITIZEN_REQUIRE_PCSCD=1` (set by `.ci/run`, which starts pcscd).
pub fn reader_or_skip(test: &str) -> Option<MutexGuard<'static, ()>> {
    match pcsc_transport::readers() {
        Err(PcscError::Unavailable(_)) if std::env::var("CITIZEN_REQUIRE_PCSCD").as_deref() != Ok("1") => {
            eprintln!(
                "SKIPPED {test}: pcscd is not running (start it with `.ci/pcsc.sh install && .ci/pcsc.sh start`; \
                 CI runs it)"
            );
            None
        }
        Err(e) => panic!("pcscd: {e}"),
        Ok(readers) => {
            assert!(
                readers.iter().any(|r| r.name == READER),
                "pcscd runs but has no {READER:?} (is vsmartcard-vpcd installed?): {readers:?}"
            );
            Some(SLOT.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
        }
    }
}

/// Place `card` on [`READER`]; removed when the returned value is dropped.
pub fn place(card: impl VirtualCard + Send + 'static) -> CardInReader {
    CardInReader::place(Box::new(card), std::net::SocketAddr::from(([127, 0, 0, 1], PORT)), Duration::from_secs(5))
        .unwrap()
}

/// Place `card` on [`READER`]; it leaves the reader after answering `n` APDUs.
pub fn place_removing_after(card: impl VirtualCard + Send + 'static, n: usize) -> CardInReader {
    CardInReader::place_removing_after(
        Box::new(card),
        Some(n),
        std::net::SocketAddr::from(([127, 0, 0, 1], PORT)),
        Duration::from_secs(5),
    )
    .unwrap()
}

/// Wait until pcscd has noticed that [`READER`] is empty (it polls vpcd for presence), at most
/// 10 s.
pub fn wait_until_empty() {
    for _ in 0..100 {
        let readers = pcsc_transport::readers().unwrap();
        if readers.iter().any(|r| r.name == READER && !r.card_present) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("pcscd still sees a card in {READER} 10 s after it was removed");
}

/// A card on [`READER`] that, when dropped (also when a test fails), is removed and waited
/// for until pcscd has noticed: the next test's card is never mistaken for this one.
pub struct OnReader(Option<CardInReader>);

impl OnReader {
    /// Place a card made by `card` (leaving after `remove_after` APDUs when given) and wait
    /// until pcscd sees it. Right after a card was pulled mid-exchange, vpcd may accept the next
    /// connection without polling it for a while; then the card is placed again (a new one from
    /// `card`), at most 5 times.
    pub fn place<C: VirtualCard + Send + 'static>(card: impl Fn() -> C, remove_after: Option<usize>) -> Self {
        for _ in 0..5 {
            let placed = match remove_after {
                Some(n) => place_removing_after(card(), n),
                None => place(card()),
            };
            for _ in 0..30 {
                if pcsc_transport::readers().unwrap().iter().any(|r| r.name == READER && r.card_present) {
                    return OnReader(Some(placed));
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            drop(placed);
        }
        panic!("pcscd sees no card in {READER} after placing it 5 times");
    }
}

impl Drop for OnReader {
    fn drop(&mut self) {
        if let Some(card) = self.0.take() {
            let _ = card.remove();
            for _ in 0..100 {
                if pcsc_transport::readers().is_ok_and(|rs| rs.iter().any(|r| r.name == READER && !r.card_present)) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}
