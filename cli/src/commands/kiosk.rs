//! `citizen kiosk chip-form`: the one-stop counter (issue 12, item 6). A citizen taps the chip
//! ID card on the counter's reader and types the CAN; the kiosk reads and verifies the chip
//! (passive, chip and active authentication against the configured CSCA), shows which of the
//! chip's fields it will copy into the eForm and asks for the citizen's consent on screen, fills
//! the form (a residence notification: the card holder as the guest of the logged-in host),
//! submits it through the outbox as `services submit` does, and wipes the chip data when the
//! session ends — also when the citizen refuses or a step fails (the draft is deleted then).
//!
//! Nothing of the record is written by the kiosk itself: the form goes into the core's draft and
//! outbox tables, which seal their payloads at rest (ARCHITECTURE.md), and the read is zeroized.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use citizen_chip::lds::dg13_field;
use citizen_chip::reader::ReaderConfig;
use citizen_chip::ChipError;
use citizen_cli::chip_read::{self, ChipRead};
use citizen_cli::pcsc_transport::PcscTransport;
use citizen_core::clock::{Clock, SystemClock};
use citizen_core::error::PublicError;
use citizen_core::CitizenCore;
use zeroize::Zeroizing;

use super::chip::{access_key, fail_chip};
use super::{exit, passcode};

/// Exit status when the citizen does not consent (nothing was filled or sent).
const CONSENT_REFUSED: u8 = 9;

/// `citizen kiosk chip-form`'s options.
pub(crate) struct ChipFormArgs {
    pub(crate) can: String,
    pub(crate) csca: Vec<PathBuf>,
    pub(crate) reader: Option<String>,
    pub(crate) wait: Duration,
    pub(crate) yes: bool,
    pub(crate) relationship: String,
    pub(crate) reason: String,
    pub(crate) nights: u32,
}

/// The eForm fields the chip fills, with the DG13 field each comes from.
fn form_values(read: &ChipRead) -> Result<Vec<(&'static str, Zeroizing<String>)>, &'static str> {
    let dg13 = read.readout.dg13.as_ref().ok_or("the chip has no DG13")?;
    let name = dg13.get(dg13_field::FULL_NAME).ok_or("DG13 has no name")?;
    let number = dg13.get(dg13_field::ID_NUMBER).ok_or("DG13 has no ID number")?;
    let dob = dg13.get(dg13_field::DATE_OF_BIRTH).ok_or("DG13 has no date of birth")?;
    let dob = chip_read::iso_date(dob).ok_or("DG13's date of birth is not DD/MM/YYYY")?;
    Ok(vec![
        ("guests.0.full_name", Zeroizing::new(name.to_string())),
        ("guests.0.cccd", Zeroizing::new(number.to_string())),
        ("guests.0.date_of_birth", Zeroizing::new(dob)),
    ])
}

/// Show what will be copied (masked) and ask; `--yes` is the operator's record that the citizen
/// agreed on the counter's screen.
fn consent(values: &[(&'static str, Zeroizing<String>)], yes: bool) -> bool {
    println!("Ki-ốt sẽ dùng các thông tin sau từ chip thẻ căn cước để điền tờ khai tạm trú:");
    println!("The kiosk will copy these fields from the ID card's chip into the residence notification:");
    for (path, v) in values {
        let label = match *path {
            "guests.0.full_name" => "họ và tên / full name",
            "guests.0.cccd" => "số định danh / ID number",
            _ => "ngày sinh / date of birth",
        };
        println!("  {label}: {}", citizen_cli::mask(v));
    }
    println!("Dữ liệu chip được xoá khỏi ki-ốt khi kết thúc phiên. / The chip data is wiped when the session ends.");
    if yes {
        println!("Đồng ý (--yes) / consent given (--yes)");
        return true;
    }
    print!("Công dân đồng ý? / Does the citizen consent? [c/y = có/yes, khác/other = không/no]: ");
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    matches!(line.trim().to_lowercase().as_str(), "c" | "co" | "có" | "y" | "yes")
}

/// Read the card through PC/SC.
fn read_card(args: &ChipFormArgs) -> Result<ChipRead, ExitCode> {
    let key = access_key(Some(&args.can), None).map_err(fail_chip)?;
    let trust = chip_read::load_trust_list(&args.csca).map_err(exit::other)?;
    let transport = PcscTransport::connect(args.reader.as_deref(), args.wait, None).map_err(|e| exit::fail(&e))?;
    let config = ReaderConfig {
        access_key: key,
        max_response_len: 256,
        read_dg2: false,
        trust,
        now: u64::try_from(SystemClock.now()).unwrap_or(0),
        aa_challenge: Some(chip_read::random_challenge()),
    };
    chip_read::read(config, |apdu| transport.transmit(apdu).map_err(|_| ChipError::CardRemoved)).map_err(fail_chip)
}

/// `citizen kiosk chip-form`.
pub(crate) async fn chip_form(core: Arc<CitizenCore>, args: ChipFormArgs) -> ExitCode {
    // The form and the host's record (auto-filled parts); offline, the saved copies serve.
    if let Err(e) = core.services().refresh_catalogue().await {
        eprintln!("(offline: {}; using the saved catalogue)", e.detail().message_en);
    }
    if let Err(e) = core.services().refresh_profile().await {
        eprintln!("(offline: {}; using the saved record)", e.detail().message_en);
    }
    let read = match read_card(&args) {
        Ok(r) => r,
        Err(code) => return code,
    };
    println!(
        "chip: {} · passive authentication ✓ · chip authentication {} · active authentication {}",
        chip_read::access_name(read.readout.access),
        chip_read::chip_auth_name(read.readout.chip_auth),
        if read.readout.active_auth.is_some() { "✓" } else { "–" }
    );
    let values = match form_values(&read) {
        Ok(v) => v,
        Err(why) => {
            chip_read::wipe(read);
            return exit::other(why);
        }
    };
    // The session's chip data ends here: only the three values the form needs live on.
    chip_read::wipe(read);
    if !consent(&values, args.yes) {
        drop(values);
        println!("Không đồng ý: không điền, không gửi; dữ liệu chip đã xoá. / No consent: nothing filled or sent; chip data wiped.");
        return ExitCode::from(CONSENT_REFUSED);
    }
    let draft = match core.services().create_draft("residence-notification".into()).await {
        Ok(d) => d,
        Err(e) => return exit::fail(&e),
    };
    let now = SystemClock.now();
    let from = citizen_cli::services::day(now, 1);
    let to = citizen_cli::services::day(now, 1 + i64::from(args.nights.max(1)));
    let mut fields: Vec<(&str, String)> = values.iter().map(|(p, v)| (*p, v.to_string())).collect();
    fields.extend([
        ("guests.0.relationship", args.relationship.clone()),
        ("reason", args.reason.clone()),
        ("from_date", from),
        ("to_date", to),
    ]);
    drop(values);
    // One write for the whole form (all or nothing).
    let values: std::collections::HashMap<String, String> =
        fields.into_iter().map(|(p, v)| (p.to_string(), v)).collect();
    if let Err(e) = core.services().update_draft(draft.draft_id.clone(), values).await {
        let _ = core.services().delete_draft(draft.draft_id.clone()).await;
        return exit::fail(&e);
    }
    let pass = passcode();
    match core.services().submit_draft(draft.draft_id.clone(), pass.to_string()).await {
        Ok(item) => {
            println!("đã xếp hàng gửi / queued submission_id={}", item.submission_id);
            match core.services().sync_outbox().await {
                Ok(r) => println!("delivered={} remaining={}", r.delivered, r.remaining),
                Err(e) => eprintln!("sync: {}", e.detail().message_en),
            }
            println!("Phiên kết thúc: dữ liệu chip đã xoá. / Session ended: chip data wiped.");
            ExitCode::SUCCESS
        }
        Err(e) => {
            let _ = core.services().delete_draft(draft.draft_id).await;
            exit::fail(&e)
        }
    }
}
