//! `citizen chip` through the real PC/SC stack: the `citizen` binary talks to pcscd, pcscd to
//! the vpcd driver, vpcd to our software card (`virtual_card::ProbeCard`).

use std::process::Command;
use std::time::Duration;

use citizen_cli::pcsc_transport::PcscTransport;
use citizen_core::platform::{ApduTransport, ApduTransportError};

use virtual_card::ProbeCard;

use crate::vpcd::{self, READER};

fn citizen() -> Command {
    Command::new(env!("CARGO_BIN_EXE_citizen"))
}

#[test]
fn probe_reads_the_pace_protocol_and_parameters_through_pcscd() {
    let Some(_slot) = vpcd::reader_or_skip("probe_reads_the_pace_protocol_and_parameters_through_pcscd") else {
        return;
    };
    let card = vpcd::place(ProbeCard::new());

    let out = citizen().args(["chip", "probe", "--reader", READER]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("PACE: 0.4.0.127.0.7.2.2.4.2.2 parameter id 13\n"), "{stdout}");
    assert!(stdout.contains("(id-PACE-ECDH-GM-AES-CBC-CMAC-128), version 2, parameter id 13 (brainpoolP256r1)"));
    assert!(stdout.contains("EF.CardAccess: 54 bytes (read by SFI 1C)"), "{stdout}");
    assert!(stdout.contains("eMRTD application: selected"), "{stdout}");
    assert!(stdout.contains("atr: 3B80800101"), "{stdout}");

    let out = citizen().args(["chip", "probe", "--json", "--reader", READER]).output().unwrap();
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json["pace"],
        serde_json::json!([{"protocol": "0.4.0.127.0.7.2.2.4.2.2", "version": 2, "parameter_id": 13}])
    );
    assert_eq!(json["card_access"], hex(&virtual_card::probe::CCCD_CARD_ACCESS));
    assert_eq!(json["reader"], READER);

    let out = citizen().args(["chip", "readers"]).output().unwrap();
    let listed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(listed.contains(&format!("{READER}\tcard present")), "{listed}");

    card.remove().unwrap();
    vpcd::wait_until_empty();
    // The card is gone: a probe waits (1 s) for one, then fails with the catalogue code.
    let out = citizen().args(["chip", "probe", "--wait", "1", "--reader", READER]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("error [pcsc.no_card]"), "{stderr}");
    let out = citizen().args(["chip", "readers"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("{READER}\tempty")));
}

#[test]
fn probe_names_the_readers_when_the_named_one_does_not_exist() {
    let Some(_slot) = vpcd::reader_or_skip("probe_names_the_readers_when_the_named_one_does_not_exist") else {
        return;
    };
    let out = citizen().args(["chip", "probe", "--reader", "No Such Reader 00 00"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("error [pcsc.reader_not_found]"), "{stderr}");
    assert!(stderr.contains(READER), "{stderr}");
}

/// A card that leaves the reader between two APDUs: the next exchange fails as "card removed",
/// which the core treats as retryable. (Before the mapping of SCARD_E_NOT_TRANSACTED, what vpcd
/// reports then, this was `Other`: "An attempt was made to end a non-existent transaction".)
#[test]
fn a_card_removed_mid_read_is_a_retryable_card_removed() {
    let Some(_slot) = vpcd::reader_or_skip("a_card_removed_mid_read_is_a_retryable_card_removed") else {
        return;
    };
    let card = vpcd::place(ProbeCard::new());
    let transport = PcscTransport::connect(Some(READER), Duration::from_secs(10), None).unwrap();
    assert!(!transport.supports_extended_length(), "vpcd reports no SCARD_ATTR_MAXINPUT");
    assert_eq!(transport.max_apdu_length(), 261);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let select = vec![0x00, 0xA4, 0x04, 0x0C, 0x07, 0xA0, 0x00, 0x00, 0x02, 0x47, 0x10, 0x01];
    assert_eq!(rt.block_on(transport.transceive(select.clone())).unwrap(), [0x90, 0x00]);
    card.remove().unwrap();
    let err = rt.block_on(transport.transceive(select.clone())).unwrap_err();
    assert!(matches!(err, ApduTransportError::CardRemoved { .. }), "{err:?}");
    assert!(err.is_retryable());

    // A cancelled transport refuses further exchanges without touching the card.
    transport.cancel();
    let err = rt.block_on(transport.transceive(select)).unwrap_err();
    assert!(matches!(err, ApduTransportError::Cancelled { .. }), "{err:?}");
    vpcd::wait_until_empty();
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}
