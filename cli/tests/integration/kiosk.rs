//! `citizen kiosk chip-form` through the real PC/SC stack: the citizen's software CCCD on the
//! vpcd reader, the logged-in host's core on the in-process server. The chip fills the form
//! only with consent, the submission goes through the outbox, and afterwards nothing of the
//! chip's record is readable in the kiosk's data directory (database, WAL, SHM, key files).

use std::io::Write;
use std::path::Path;
use std::process::{Output, Stdio};

use crate::env::{Env, PASS};
use crate::vpcd::{self, OnReader, READER};

/// The guest's card: the register's second fictitious citizen.
fn guest_card() -> software_cccd::SoftwareCard {
    virtual_card::cccd::cccd_card(&virtual_card::cccd::CccdOptions { citizen: 1, ..Default::default() }).unwrap()
}

/// What of the guest's record must not remain at the kiosk.
fn needles() -> Vec<String> {
    let c = &software_cccd::CITIZENS[1];
    vec![
        c.full_name.to_string(),
        c.id_number.to_string(),
        c.date_of_birth.to_string(),
        "30/06/1995".to_string(),
        c.residence.to_string(),
        c.parents.0.to_string(),
        c.mrz_name.to_string(),
    ]
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = vec![];
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            stack.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        } else if let Ok(b) = std::fs::read(&p) {
            out.push((p.display().to_string(), b));
        }
    }
    out
}

fn assert_nothing_left(data: &Path) {
    let files = files(data);
    assert!(files.iter().any(|(p, _)| p.ends_with("citizen-core.db")), "the scan sees the database");
    for (path, bytes) in &files {
        for n in needles() {
            assert!(!bytes.windows(n.len()).any(|w| w == n.as_bytes()), "{n:?} of the chip's record remains in {path}");
        }
    }
}

fn kiosk(env: &Env, csca: &Path, stdin: Option<&str>, extra: &[&str]) -> Output {
    let mut c = env.citizen();
    c.args(["kiosk", "chip-form", "--reader", READER, "--can", software_cccd::CITIZENS[1].can(), "--csca"])
        .arg(csca)
        .args(extra)
        .env("CITIZEN_PASSCODE", PASS)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    if let Some(s) = stdin {
        child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    } else {
        drop(child.stdin.take());
    }
    child.wait_with_output().unwrap()
}

fn status(env: &Env) -> String {
    let out = env.citizen().args(["services", "status"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn kiosk_fills_a_form_from_the_chip_with_consent_submits_it_and_leaves_nothing_behind() {
    // The server and the enrolled host first: no lock is held across an await.
    let env = Env::enrolled(true).await;
    let Some(_slot) =
        vpcd::reader_or_skip("kiosk_fills_a_form_from_the_chip_with_consent_submits_it_and_leaves_nothing_behind")
    else {
        return;
    };
    let csca = env.dir.path().join("csca.der");
    std::fs::write(&csca, virtual_card::cccd::test_csca()).unwrap();
    let _card = OnReader::place(guest_card, None);

    // The citizen says no: nothing is filled or sent, exit 9.
    let out = kiosk(&env, &csca, Some("k\n"), &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(9), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        stdout.contains("số định danh / ID number: •••••••••002"),
        "the consent screen shows masked values: {stdout}"
    );
    assert!(stdout.contains("No consent: nothing filled or sent"), "{stdout}");
    assert!(!status(&env).contains("residence-notification"), "nothing was queued without consent");
    assert_nothing_left(Path::new(&env.data));

    // The citizen says yes: the form is filled from the chip and delivered.
    let out = kiosk(&env, &csca, Some("có\n"), &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        stdout.contains("passive authentication ✓ · chip authentication verified · active authentication ✓"),
        "{stdout}"
    );
    // Delivered by the submission itself or by the sync right after it: nothing is left queued.
    assert!(stdout.contains(" remaining=0"), "{stdout}");
    assert!(stdout.contains("Session ended: chip data wiped."), "{stdout}");
    for n in needles() {
        assert!(!stdout.contains(&n), "{n:?} printed by the kiosk");
    }
    let st = status(&env);
    assert!(st.contains("case ") && st.contains("residence-notification"), "the server has the case: {st}");
    assert_nothing_left(Path::new(&env.data));
    // Positive control: the scanner finds the number where it legitimately is (the server's
    // population register and the delivered case), so the clean result above means something.
    let number = software_cccd::CITIZENS[1].id_number.as_bytes();
    assert!(files(&env.dir.path().join("server")).iter().any(|(_, b)| b.windows(number.len()).any(|w| w == number)));
}

#[tokio::test(flavor = "multi_thread")]
async fn kiosk_refuses_an_untrusted_card_and_fills_nothing() {
    let env = Env::enrolled(true).await;
    let Some(_slot) = vpcd::reader_or_skip("kiosk_refuses_an_untrusted_card_and_fills_nothing") else {
        return;
    };
    let other = env.dir.path().join("other.der");
    let pki = software_cccd::TestPki::generate(
        "another country",
        citizen_chip::ec::Curve::BrainpoolP256r1,
        software_cccd::pki::VALID_FROM,
        software_cccd::pki::VALID_TO,
    );
    std::fs::write(&other, pki.csca).unwrap();
    let _card = OnReader::place(guest_card, None);
    let out = kiosk(&env, &other, None, &["--yes"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(8), "{stderr}");
    assert!(stderr.contains("error [chip.signer_untrusted]"), "{stderr}");
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("Ki-ốt sẽ dùng"),
        "no consent screen for an unverified chip"
    );
    assert!(!status(&env).contains("residence-notification"));
    assert_nothing_left(Path::new(&env.data));
}
