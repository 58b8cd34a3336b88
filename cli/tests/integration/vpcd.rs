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
