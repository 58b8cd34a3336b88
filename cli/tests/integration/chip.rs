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

// --- `citizen chip read`: the software CCCD (tools/software-cccd) through pcscd + vpcd. ---

use software_cccd::{CardOptions, SoftwareCard, TestPki, CITIZENS};

/// The default test CSCA in a file, and a CSCA nobody signed the card with.
fn csca_files(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let trusted = dir.join("csca.der");
    std::fs::write(&trusted, virtual_card::cccd::test_csca()).unwrap();
    let other = dir.join("other-csca.der");
    let pki =
        TestPki::generate("another country", citizen_chip::ec::Curve::BrainpoolP256r1, 1_735_689_600, 2_366_841_600);
    std::fs::write(&other, pki.csca).unwrap();
    (trusted, other)
}

fn cccd(citizen: usize) -> SoftwareCard {
    virtual_card::cccd::cccd_card(&virtual_card::cccd::CccdOptions { citizen, ..Default::default() }).unwrap()
}

fn chip_read(csca: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let mut c = citizen();
    c.args(["chip", "read", "--reader", READER, "--wait", "10", "--csca"]).arg(csca).args(extra);
    c.output().unwrap()
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn chip_read_verifies_the_software_cccd_through_pcscd() {
    let Some(_slot) = vpcd::reader_or_skip("chip_read_verifies_the_software_cccd_through_pcscd") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (csca, _) = csca_files(dir.path());
    let card = cccd(1);
    let expected = card.citizen().clone();
    let files: Vec<([u8; 2], Vec<u8>)> = [[1, 0x1E], [1, 0x1D], [1, 1], [1, 13], [1, 14], [1, 15]]
        .iter()
        .map(|f| (*f, card.file(*f).unwrap().to_vec()))
        .collect();
    let _card = vpcd::OnReader::place(|| cccd(1), None);

    // Text: the record with the number masked, the three verifications, every step timed.
    let out = chip_read(&csca, &["--can", expected.can()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", stderr_of(&out));
    assert!(stdout.contains(&format!("full_name: {}", expected.full_name)), "{stdout}");
    assert!(stdout.contains(&format!("id_number: {}", citizen_cli::mask(expected.id_number))), "{stdout}");
    assert!(!stdout.contains(expected.id_number), "the number is masked without --show: {stdout}");
    assert!(stdout.contains("passive authentication: verified (DG1, DG13, DG14, DG15;"), "{stdout}");
    assert!(stdout.contains("chip authentication: verified"), "{stdout}");
    assert!(stdout.contains("active authentication: verified"), "{stdout}");
    for step in ["PACE", "EF.COM", "EF.SOD", "DG1", "DG13", "DG14", "DG15", "passive authentication"] {
        assert!(stdout.contains(&format!("step {step} ")), "{step}: {stdout}");
    }

    // JSON with --show and --dump: the full number, and every file byte for byte as on the card.
    let dump = dir.path().join("dump");
    let out = chip_read(&csca, &["--can", expected.can(), "--json", "--show", "--dump"]);
    assert!(!out.status.success(), "--dump needs a directory");
    let out = citizen()
        .args(["chip", "read", "--reader", READER, "--can", expected.can(), "--json", "--show", "--csca"])
        .arg(&csca)
        .arg("--dump")
        .arg(&dump)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["record"]["id_number"], expected.id_number);
    assert_eq!(json["record"]["date_of_birth"], "30/06/1995");
    assert_eq!(json["passive_authentication"]["result"], "verified");
    assert_eq!(json["passive_authentication"]["data_groups"], serde_json::json!([1, 13, 14, 15]));
    assert_eq!(json["access"], "PACE-CAN/MRZ (BrainpoolP256r1)");
    assert!(json["stats"]["apdus"].as_u64().unwrap() > 30, "{json}");
    for (fid, bytes) in files {
        let name = match fid {
            [1, 0x1E] => "EF.COM".to_string(),
            [1, 0x1D] => "EF.SOD".to_string(),
            [_, n] => format!("DG{n}"),
        };
        assert_eq!(std::fs::read(dump.join(format!("{name}.bin"))).unwrap(), bytes, "{name}");
    }

    // The MRZ data open it too (PACE with the MRZ on this card).
    let mrz = format!(
        "{},{},{}",
        expected.id_number,
        software_cccd::citizens::yymmdd(expected.date_of_birth),
        software_cccd::citizens::yymmdd(expected.date_of_expiry)
    );
    let out = chip_read(&csca, &["--mrz", &mrz]);
    assert!(out.status.success(), "{}", stderr_of(&out));
}

#[test]
fn chip_read_opens_a_bac_only_card_with_the_mrz() {
    let Some(_slot) = vpcd::reader_or_skip("chip_read_opens_a_bac_only_card_with_the_mrz") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (csca, _) = csca_files(dir.path());
    let c = &CITIZENS[0];
    let card =
        || SoftwareCard::new(c, &TestPki::default_test(), CardOptions { pace_curve: None, ..Default::default() });
    let _card = vpcd::OnReader::place(card, None);
    let mrz = format!(
        "{},{},{}",
        c.id_number,
        software_cccd::citizens::yymmdd(c.date_of_birth),
        software_cccd::citizens::yymmdd(c.date_of_expiry)
    );
    let out = chip_read(&csca, &["--bac", &mrz, "--json"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["access"], "BAC");
    assert_eq!(json["chip_authentication"], "verified");
    // The CAN cannot open a card without PACE.
    let out = chip_read(&csca, &["--can", c.can()]);
    assert!(!out.status.success());
}

#[test]
fn chip_read_with_a_wrong_can_exits_6_with_access_denied_and_tries_left() {
    let Some(_slot) = vpcd::reader_or_skip("chip_read_with_a_wrong_can_exits_6_with_access_denied_and_tries_left")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (csca, _) = csca_files(dir.path());
    let _card = vpcd::OnReader::place(|| cccd(0), None);
    let out = chip_read(&csca, &["--can", "123456"]);
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(6), "{stderr}");
    assert!(stderr.contains("error [chip.access_denied]"), "{stderr}");
    assert!(stderr.contains("lỗi [chip.access_denied]"), "{stderr}");
    assert!(stderr.contains("2 attempt(s) left"), "{stderr}");
    assert!(out.stdout.is_empty(), "nothing of a record is printed");
    // A malformed CAN is refused before the card is touched.
    let out = chip_read(&csca, &["--can", "12345"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).contains("error [chip.access_key_format]"));
}

#[test]
fn chip_read_of_a_card_removed_mid_read_is_retryable_and_the_next_read_succeeds() {
    let Some(_slot) =
        vpcd::reader_or_skip("chip_read_of_a_card_removed_mid_read_is_retryable_and_the_next_read_succeeds")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (csca, _) = csca_files(dir.path());
    let can = CITIZENS[0].can();
    // 20 APDUs: PACE done, in the middle of EF.SOD.
    let placed = vpcd::OnReader::place(|| cccd(0), Some(20));
    let out = chip_read(&csca, &["--can", can]);
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(7), "{stderr}");
    assert!(stderr.contains("error [chip.card_removed]"), "{stderr}");
    assert!(stderr.contains("retryable"), "{stderr}");
    assert!(out.stdout.is_empty());
    drop(placed);

    // Placed again: a new read starts from the beginning and succeeds.
    let _card = vpcd::OnReader::place(|| cccd(0), None);
    let out = chip_read(&csca, &["--can", can]);
    assert!(out.status.success(), "{}", stderr_of(&out));
}

#[test]
fn chip_read_refuses_an_untrusted_csca_and_a_tampered_data_group_with_exit_8() {
    let Some(_slot) = vpcd::reader_or_skip("chip_read_refuses_an_untrusted_csca_and_a_tampered_data_group_with_exit_8")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (csca, other) = csca_files(dir.path());
    let can = CITIZENS[0].can();
    let placed = vpcd::OnReader::place(|| cccd(0), None);
    let out = chip_read(&other, &["--can", can]);
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(8), "{stderr}");
    assert!(stderr.contains("error [chip.signer_untrusted]"), "{stderr}");
    assert!(out.stdout.is_empty(), "no record from an unverified chip");
    drop(placed);

    let tampered = || {
        virtual_card::cccd::cccd_card(&virtual_card::cccd::CccdOptions { tamper_dg: Some(13), ..Default::default() })
            .unwrap()
    };
    let _card = vpcd::OnReader::place(tampered, None);
    let out = chip_read(&csca, &["--can", can]);
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(8), "{stderr}");
    assert!(stderr.contains("error [chip.hash_mismatch]"), "{stderr}");
    assert!(stderr.contains("DG13"), "{stderr}");
}
