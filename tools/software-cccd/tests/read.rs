//! The reader (`citizen-chip`) against the software card, in process: every access path, a full
//! verified read, and each bad-input case of issue 12.
#![allow(clippy::unwrap_used)]

use citizen_chip::ec::Curve;
use citizen_chip::kdf::AccessKey;
use citizen_chip::lds::{dg13_field, File};
use citizen_chip::pa::TrustList;
use citizen_chip::reader::{run, AccessProtocol, ChipAuthStatus, ChipReadout, Reader, ReaderConfig};
use citizen_chip::{ChipError, OsRandom};
use software_cccd::citizens::yymmdd;
use software_cccd::pki::{VALID_FROM, VALID_TO};
use software_cccd::{CardOptions, SoftwareCard, TestPki, CITIZENS};

/// 2026-12-01, inside the test PKI's validity.
const NOW: u64 = 1_796_083_200;
const CHALLENGE: [u8; 8] = [0x4E, 0x4F, 0x4E, 0x43, 0x45, 0x30, 0x30, 0x31];

fn config(key: AccessKey, pki: &TestPki) -> ReaderConfig {
    ReaderConfig {
        access_key: key,
        max_response_len: 256,
        read_dg2: true,
        trust: TrustList::new(vec![pki.csca.clone()]).unwrap(),
        now: NOW,
        aa_challenge: Some(CHALLENGE),
    }
}

fn read(card: &mut SoftwareCard, config: ReaderConfig) -> Result<ChipReadout, ChipError> {
    card.power_on();
    let reader = Reader::new(config, Box::new(OsRandom));
    run(reader, |apdu| {
        let answer = card.process(apdu);
        if answer.is_empty() {
            Err(ChipError::CardRemoved)
        } else {
            Ok(answer)
        }
    })
}

fn can_key(card: &SoftwareCard) -> AccessKey {
    AccessKey::can(card.citizen().can()).unwrap()
}

fn mrz_key(card: &SoftwareCard) -> AccessKey {
    let c = card.citizen();
    AccessKey::cccd_mrz(c.id_number, &yymmdd(c.date_of_birth), &yymmdd(c.date_of_expiry)).unwrap()
}

fn assert_full_verified_read(card: &SoftwareCard, out: &ChipReadout) {
    let c = card.citizen();
    let dg13 = out.dg13.as_ref().unwrap();
    assert_eq!(dg13.get(dg13_field::ID_NUMBER), Some(c.id_number));
    assert_eq!(dg13.get(dg13_field::FULL_NAME), Some(c.full_name));
    assert_eq!(dg13.get(dg13_field::PLACE_OF_RESIDENCE), Some(c.residence));
    assert_eq!(out.mrz.document_number(), &c.id_number[3..]);
    assert_eq!(out.mrz.optional_data(), c.id_number);
    assert_eq!(out.passive_auth.verified_data_groups, vec![1, 2, 13, 14, 15]);
    assert_eq!(out.chip_auth, ChipAuthStatus::Verified);
    let aa = out.active_auth.as_ref().unwrap();
    assert_eq!(aa.challenge, CHALLENGE);
    for f in [File::Com, File::Sod, File::Dg(1), File::Dg(2), File::Dg(13), File::Dg(14), File::Dg(15)] {
        assert_eq!(out.files.get(&f).map(Vec::as_slice), card.file(f.fid()), "{f:?} read exactly");
    }
    assert!(!out.files.contains_key(&File::Dg(3)), "DG3 is never read");
}

#[test]
fn pace_can_brainpool_full_read_passes_pa_ca_and_aa() {
    let pki = TestPki::default_test();
    let mut card = SoftwareCard::new(&CITIZENS[0], &pki, CardOptions::default());
    let out = {
        let cfg = config(can_key(&card), &pki);
        read(&mut card, cfg)
    }
    .unwrap();
    assert_eq!(out.access, AccessProtocol::Pace(Curve::BrainpoolP256r1));
    assert_full_verified_read(&card, &out);
    assert!(!format!("{out:?}").contains(CITIZENS[0].full_name), "Debug redacts personal data");
}

#[test]
fn pace_can_p256_full_read() {
    let pki = TestPki::generate("VN test P-256", Curve::P256, VALID_FROM, VALID_TO);
    let options = CardOptions {
        pace_curve: Some(Curve::P256),
        ca_curve: Some(Curve::P256),
        aa_curve: Some(Curve::P256),
        ..CardOptions::default()
    };
    let mut card = SoftwareCard::new(&CITIZENS[1], &pki, options);
    let out = {
        let cfg = config(can_key(&card), &pki);
        read(&mut card, cfg)
    }
    .unwrap();
    assert_eq!(out.access, AccessProtocol::Pace(Curve::P256));
    assert_full_verified_read(&card, &out);
}

#[test]
fn pace_with_the_mrz_and_card_access_only_by_fid() {
    let pki = TestPki::default_test();
    let options = CardOptions { card_access_by_sfi: false, ..CardOptions::default() };
    let mut card = SoftwareCard::new(&CITIZENS[2], &pki, options);
    let out = {
        let cfg = config(mrz_key(&card), &pki);
        read(&mut card, cfg)
    }
    .unwrap();
    assert_eq!(out.access, AccessProtocol::Pace(Curve::BrainpoolP256r1));
    assert_full_verified_read(&card, &out);
}

#[test]
fn bac_on_a_card_without_pace() {
    let pki = TestPki::default_test();
    let options = CardOptions { pace_curve: None, ..CardOptions::default() };
    let mut card = SoftwareCard::new(&CITIZENS[0], &pki, options);
    let out = {
        let cfg = config(mrz_key(&card), &pki);
        read(&mut card, cfg)
    }
    .unwrap();
    assert_eq!(out.access, AccessProtocol::Bac);
    assert!(out.card_access.is_none());
    assert_full_verified_read(&card, &out);
    // The CAN cannot open a BAC-only chip.
    let err = {
        let cfg = config(can_key(&card), &pki);
        read(&mut card, cfg)
    }
    .unwrap_err();
    assert!(matches!(err, ChipError::UnexpectedStatus { .. } | ChipError::UnsupportedProtocol(_)), "{err:?}");
}

#[test]
fn extended_length_reads_the_same_files_with_fewer_apdus() {
    let pki = TestPki::default_test();
    let mut card = SoftwareCard::new(&CITIZENS[0], &pki, CardOptions::default());
    let short = {
        let cfg = config(can_key(&card), &pki);
        read(&mut card, cfg)
    }
    .unwrap();
    let mut cfg = config(can_key(&card), &pki);
    cfg.max_response_len = 65536;
    let ext = read(&mut card, cfg).unwrap();
    assert_full_verified_read(&card, &ext);
    assert_eq!(short.files, ext.files);
    assert!(ext.stats.apdus < short.stats.apdus, "{:?} vs {:?}", ext.stats, short.stats);
}

#[test]
fn wrong_can_is_refused_with_a_counter_and_the_right_can_still_works() {
    let pki = TestPki::default_test();
    let mut card = SoftwareCard::new(&CITIZENS[0], &pki, CardOptions::default());
    let wrong = AccessKey::can("000000").unwrap();
    let err = read(&mut card, config(wrong.clone(), &pki)).unwrap_err();
    assert_eq!(err, ChipError::AccessDenied { sw: 0x63C2, tries_left: Some(2) });
    assert_eq!(err.code(), "chip.access_denied");
    assert!(!err.is_retryable());
    assert_eq!(card.tries_left(), 2);
    // The right CAN resets the counter.
    {
        let cfg = config(can_key(&card), &pki);
        read(&mut card, cfg)
    }
    .unwrap();
    assert_eq!(card.tries_left(), 3);
    // Three wrong CANs block PACE (6983), as a real chip suspends/blocks the reference.
    for left in [2u8, 1, 0] {
        let err = read(&mut card, config(wrong.clone(), &pki)).unwrap_err();
        assert_eq!(err, ChipError::AccessDenied { sw: 0x63C0 | u16::from(left), tries_left: Some(left) });
    }
    let err = {
        let cfg = config(can_key(&card), &pki);
        read(&mut card, cfg)
    }
    .unwrap_err();
    assert_eq!(err, ChipError::AccessDenied { sw: 0x6983, tries_left: None });
}

#[test]
fn wrong_mrz_data_is_refused_by_bac() {
    let pki = TestPki::default_test();
    let mut card = SoftwareCard::new(&CITIZENS[0], &pki, CardOptions { pace_curve: None, ..CardOptions::default() });
    let wrong = AccessKey::cccd_mrz(CITIZENS[0].id_number, "900116", &yymmdd(CITIZENS[0].date_of_expiry)).unwrap();
    let err = read(&mut card, config(wrong, &pki)).unwrap_err();
    assert!(matches!(err, ChipError::AccessDenied { sw: 0x6300, .. }), "{err:?}");
}

#[test]
fn card_removed_mid_read_is_retryable_and_a_new_read_succeeds() {
    let pki = TestPki::default_test();
    let mut card = SoftwareCard::new(&CITIZENS[0], &pki, CardOptions::default());
    card.power_on();
    card.remove_after(20); // in the middle of the file reads
    let reader = Reader::new(config(can_key(&card), &pki), Box::new(OsRandom));
    let err = run(reader, |apdu| {
        let answer = card.process(apdu);
        if answer.is_empty() {
            Err(ChipError::CardRemoved)
        } else {
            Ok(answer)
        }
    })
    .unwrap_err();
    assert_eq!(err, ChipError::CardRemoved);
    assert!(err.is_retryable());
    assert_eq!(err.code(), "chip.card_removed");
    // An empty answer (no transport error) is the same condition.
    let mut reader = Reader::new(config(can_key(&card), &pki), Box::new(OsRandom));
    reader.start().unwrap();
    assert_eq!(reader.on_response(&[]).unwrap_err(), ChipError::CardRemoved);
    // Tap again: a clean restart reads everything.
    let out = {
        let cfg = config(can_key(&card), &pki);
        read(&mut card, cfg)
    }
    .unwrap();
    assert_full_verified_read(&card, &out);
}

#[test]
fn a_tampered_data_group_fails_its_hash() {
    let pki = TestPki::default_test();
    let mut card = SoftwareCard::new(&CITIZENS[0], &pki, CardOptions::default());
    let mut dg13 = card.file([0x01, 0x0D]).unwrap().to_vec();
    let pos = dg13.windows(5).position(|w| w == "Không".as_bytes().get(..5).unwrap()).unwrap();
    dg13[pos] = b'C'; // "Kh..." → "Ch...": still well-formed UTF-8
    card.set_file([0x01, 0x0D], dg13);
    let err = {
        let cfg = config(can_key(&card), &pki);
        read(&mut card, cfg)
    }
    .unwrap_err();
    assert_eq!(err, ChipError::HashMismatch { dg: 13 });
    assert_eq!(err.code(), "chip.hash_mismatch");
}

#[test]
fn an_untrusted_document_signer_is_refused() {
    let pki = TestPki::default_test();
    let other = TestPki::generate("another country", Curve::BrainpoolP256r1, VALID_FROM, VALID_TO);
    let mut card = SoftwareCard::new(&CITIZENS[0], &pki, CardOptions::default());
    let err = {
        let cfg = config(can_key(&card), &other);
        read(&mut card, cfg)
    }
    .unwrap_err();
    assert_eq!(err, ChipError::SignerUntrusted);
}

#[test]
fn an_expired_document_signer_is_refused() {
    let pki = TestPki::generate("VN expired DS", Curve::BrainpoolP256r1, VALID_FROM, VALID_FROM + 86_400);
    let mut card = SoftwareCard::new(&CITIZENS[0], &pki, CardOptions::default());
    let err = {
        let cfg = config(can_key(&card), &pki);
        read(&mut card, cfg)
    }
    .unwrap_err();
    assert_eq!(err, ChipError::SignerExpired);
    assert_eq!(err.code(), "chip.signer_expired");
}

#[test]
fn a_cloned_chip_fails_chip_authentication() {
    let pki = TestPki::default_test();
    let card = SoftwareCard::new(&CITIZENS[0], &pki, CardOptions::default());
    let mut clone = SoftwareCard::clone_without_keys(&card);
    assert_eq!(clone.file([0x01, 0x1D]), card.file([0x01, 0x1D]), "EF.SOD copied byte for byte");
    let err = {
        let cfg = config(can_key(&card), &pki);
        read(&mut clone, cfg)
    }
    .unwrap_err();
    assert!(matches!(err, ChipError::ChipNotGenuine(_)), "{err:?}");
    assert_eq!(err.code(), "chip.not_genuine");
}

#[test]
fn a_cloned_chip_without_chip_authentication_fails_active_authentication() {
    let pki = TestPki::default_test();
    let options = CardOptions { ca_curve: None, ..CardOptions::default() };
    let card = SoftwareCard::new(&CITIZENS[0], &pki, options);
    let mut original = SoftwareCard::new(&CITIZENS[0], &pki, CardOptions { ca_curve: None, ..CardOptions::default() });
    let out = {
        let cfg = config(can_key(&card), &pki);
        read(&mut original, cfg)
    }
    .unwrap();
    assert_eq!(out.chip_auth, ChipAuthStatus::NotAvailable);
    assert!(out.active_auth.is_some());
    let mut clone = SoftwareCard::clone_without_keys(&card);
    let err = {
        let cfg = config(can_key(&card), &pki);
        read(&mut clone, cfg)
    }
    .unwrap_err();
    assert_eq!(err, ChipError::ChipNotGenuine("active authentication signature does not verify"));
}

#[test]
fn a_tampered_secure_messaging_mac_ends_the_read() {
    let pki = TestPki::default_test();
    let mut card = SoftwareCard::new(&CITIZENS[0], &pki, CardOptions::default());
    card.power_on();
    let mut reader = Reader::new(config(can_key(&card), &pki), Box::new(OsRandom));
    let mut action = reader.start().unwrap();
    let mut sent = 0;
    let err = loop {
        match action {
            citizen_chip::reader::Action::Send(apdu) => {
                sent += 1;
                if sent == 10 {
                    card.corrupt_next_response_mac();
                }
                match reader.on_response(&card.process(&apdu)) {
                    Ok(a) => action = a,
                    Err(e) => break e,
                }
            }
            citizen_chip::reader::Action::Done(_) => panic!("the tampered read must fail"),
        }
    };
    assert_eq!(err, ChipError::SecureMessaging("response MAC does not verify"));
    assert_eq!(err.code(), "chip.secure_messaging");
}

#[test]
fn malformed_dg13_and_sod_are_typed_errors() {
    let pki = TestPki::default_test();
    let mut card = SoftwareCard::new(&CITIZENS[0], &pki, CardOptions::default());
    card.set_file([0x01, 0x0D], vec![0x6D, 0x05, 0x30, 0x03, 0x02, 0x01, 0x01]);
    let err = {
        let cfg = config(can_key(&card), &pki);
        read(&mut card, cfg)
    }
    .unwrap_err();
    assert_eq!(err.code(), "chip.malformed_dg13", "{err:?}");

    let mut card = SoftwareCard::new(&CITIZENS[0], &pki, CardOptions::default());
    card.set_file([0x01, 0x1D], vec![0x77, 0x04, 0x30, 0x02, 0x05, 0x00]);
    let err = {
        let cfg = config(can_key(&card), &pki);
        read(&mut card, cfg)
    }
    .unwrap_err();
    assert_eq!(err.code(), "chip.malformed_sod", "{err:?}");
}

#[test]
fn an_unknown_curve_in_card_access_is_unsupported() {
    let pki = TestPki::default_test();
    let mut card = SoftwareCard::new(&CITIZENS[0], &pki, CardOptions::default());
    // PACE-ECDH-GM-AES-128 on parameter 15 (NIST P-384): not supported by this reader.
    card.set_file([0x01, 0x1C], citizen_chip::unhex("31143012060A04007F0007020204020202010202010F").unwrap());
    let err = {
        let cfg = config(can_key(&card), &pki);
        read(&mut card, cfg)
    }
    .unwrap_err();
    assert_eq!(err.code(), "chip.unsupported_protocol", "{err:?}");
}

#[test]
fn progress_reports_steps_and_bytes() {
    let pki = TestPki::default_test();
    let mut card = SoftwareCard::new(&CITIZENS[0], &pki, CardOptions::default());
    card.power_on();
    let mut reader = Reader::new(config(can_key(&card), &pki), Box::new(OsRandom));
    let mut action = reader.start().unwrap();
    let mut steps = Vec::new();
    let mut last_bytes = 0;
    loop {
        match action {
            citizen_chip::reader::Action::Send(apdu) => {
                let p = reader.progress();
                assert!(p.bytes_read >= last_bytes, "bytes read never go down");
                last_bytes = p.bytes_read;
                if steps.last() != Some(&p.step) {
                    steps.push(p.step.clone());
                }
                action = reader.on_response(&card.process(&apdu)).unwrap();
            }
            citizen_chip::reader::Action::Done(out) => {
                assert_eq!(out.stats.file_bytes, out.files.values().map(Vec::len).sum::<usize>());
                break;
            }
        }
    }
    use citizen_chip::reader::Step;
    assert_eq!(steps[0], Step::CardAccess);
    assert_eq!(steps[1], Step::Pace);
    assert!(steps.contains(&Step::ChipAuthentication));
    assert!(steps.contains(&Step::ReadFile(File::Dg(13))));
    assert!(steps.contains(&Step::ActiveAuthentication));
}

#[test]
fn full_read_figures() {
    // The benchmark: one full read without DG2 (PACE + SM + EF.COM, SOD, DG1, DG13, DG14,
    // DG15 + CA + AA + PA) with short APDUs. Deterministic sizes, so the counts are exact.
    let pki = TestPki::default_test();
    let mut card = SoftwareCard::new(&CITIZENS[0], &pki, CardOptions::default());
    let mut cfg = config(can_key(&card), &pki);
    cfg.read_dg2 = false;
    let out = read(&mut card, cfg).unwrap();
    let s = out.stats;
    println!(
        "full read (short APDUs, no DG2): {} APDUs, {} bytes sent, {} bytes received, {} file bytes",
        s.apdus, s.bytes_sent, s.bytes_received, s.file_bytes
    );
    assert_eq!(s.apdus, 36);
    assert_eq!(s.file_bytes, 2432);
    assert_eq!(card.apdu_count(), 36, "the card answered every APDU the reader counted");
}

#[test]
fn a_forged_sod_signature_is_refused() {
    let pki = TestPki::default_test();
    let mut card = SoftwareCard::new(&CITIZENS[0], &pki, CardOptions::default());
    let mut sod = card.file([0x01, 0x1D]).unwrap().to_vec();
    let last = sod.len() - 1; // the last byte of the signature's s
    sod[last] ^= 0x01;
    card.set_file([0x01, 0x1D], sod);
    let err = {
        let cfg = config(can_key(&card), &pki);
        read(&mut card, cfg)
    }
    .unwrap_err();
    assert_eq!(err, ChipError::SodSignatureInvalid);
    assert_eq!(err.code(), "chip.sod_signature");
}

#[test]
fn the_card_guards_its_files_like_a_cccd() {
    use citizen_chip::apdu::Response;
    let pki = TestPki::default_test();
    let mut card = SoftwareCard::new(&CITIZENS[0], &pki, CardOptions::default());
    card.power_on();
    let sw = |card: &mut SoftwareCard, apdu: &str| {
        Response::parse(&card.process(&citizen_chip::unhex(apdu).unwrap())).unwrap().sw
    };
    // SELECT MF answers 6D00 on the CCCD (the iOS trap).
    assert_eq!(sw(&mut card, "00A4000C023F00"), 0x6D00);
    // EF.CardAccess is public.
    assert_eq!(sw(&mut card, "00B09C0000"), 0x9000);
    // Nothing else is readable before PACE/BAC.
    assert_eq!(sw(&mut card, "00A4040C07A0000002471001"), 0x9000);
    assert_eq!(sw(&mut card, "00A4020C02011E"), 0x9000);
    assert_eq!(sw(&mut card, "00B0000004"), 0x6982);
    assert_eq!(sw(&mut card, "00B0830004"), 0x6982, "DG3 by SFI");
    // A removed card answers nothing until it is powered on again.
    card.remove();
    assert!(card.process(&[0x00, 0xB0, 0x9C, 0x00, 0x00]).is_empty());
    card.power_on();
    assert_eq!(sw(&mut card, "00B09C0000"), 0x9000);
    assert_eq!(card.atr()[0], 0x3B);
}

#[test]
fn dg3_stays_unreadable_even_after_pace() {
    let pki = TestPki::default_test();
    let mut card = SoftwareCard::new(&CITIZENS[0], &pki, CardOptions::default());
    let out = {
        let cfg = config(can_key(&card), &pki);
        read(&mut card, cfg)
    }
    .unwrap();
    // EF.COM lists DG3 and EF.SOD hashes it, but the reader never asks for it.
    assert!(citizen_chip::lds::parse_com(&out.files[&File::Com]).unwrap().data_groups.contains(&3));
    assert!(!out.files.contains_key(&File::Dg(3)));
}

#[test]
fn without_ef_card_access_the_can_uses_the_known_cccd_parameters() {
    let pki = TestPki::default_test();
    let mut card = SoftwareCard::new(&CITIZENS[1], &pki, CardOptions::default());
    card.remove_file([0x01, 0x1C]);
    let out = {
        let cfg = config(can_key(&card), &pki);
        read(&mut card, cfg)
    }
    .unwrap();
    assert_eq!(out.access, AccessProtocol::Pace(Curve::BrainpoolP256r1));
    assert_eq!(out.card_access, citizen_chip::unhex(citizen_chip::pace::CCCD_CARD_ACCESS));
    assert_full_verified_read(&card, &out);
}

#[test]
fn a_face_image_beyond_32_kib_is_read_with_odd_ins() {
    let pki = TestPki::default_test();
    let options = CardOptions { face_bytes: 40_000, ..CardOptions::default() };
    let mut card = SoftwareCard::new(&CITIZENS[0], &pki, options);
    for max in [256, 65536] {
        let mut cfg = config(can_key(&card), &pki);
        cfg.max_response_len = max;
        let out = read(&mut card, cfg).unwrap();
        assert!(out.files[&File::Dg(2)].len() > 40_000);
        assert_full_verified_read(&card, &out);
    }
}
