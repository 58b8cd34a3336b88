//! Worker process of the kill -9 durability test (`tests/integration/outbox_kill.rs`).
//!
//! Opens an enrolled desktop core on an existing data directory and loops: create a
//! residence-notification draft → fill it → `submit_draft` → print `ACK <submission_id>` (flushed:
//! the core returned, so the request is durably queued) → `sync_outbox` → `login`. The parent kills it
//! with SIGKILL at a random moment and checks that every ACKed submission survived.
//!
//! Usage: `outbox_worker <data_dir> <base_url> <ca_pem_file> <pin,pin> <passcode> [max_loops]`
//!
//! Output lines: `READY` (core open), `ACK <id>`, `SYNC <delivered> <remaining>`, `LOGIN`, `DONE`, and
//! `ERR <what>` (then exit code 3) on anything unexpected.
// Test code: may unwrap, cast freely, and share helpers across modules with plain `pub`.
#![allow(
    unreachable_pub,
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap,
    clippy::cast_lossless
)]

use std::io::Write;

use citizen_core::cccd::Date;
use citizen_core::clock::{Clock, SystemClock};
use citizen_core::{default_core_config, CitizenCore, Language};

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn fail(what: impl std::fmt::Display) -> ! {
    say(&format!("ERR {what}"));
    std::process::exit(3)
}

fn day(offset: i64) -> String {
    let d = Date::from_unix_vn(SystemClock.now() + offset * 86_400);
    format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 6 {
        fail("usage: outbox_worker <data_dir> <base_url> <ca_pem_file> <pin,pin> <passcode> [max_loops]");
    }
    let (data_dir, base_url, ca_file, pins, passcode) = (&args[1], &args[2], &args[3], &args[4], &args[5]);
    let max_loops: u32 = args.get(6).and_then(|s| s.parse().ok()).unwrap_or(1_000);
    let ca = std::fs::read_to_string(ca_file).unwrap_or_else(|e| fail(format!("CA file: {e}")));

    // Same configuration as the CLI's `desktop_config`.
    let mut cfg = default_core_config(base_url.clone(), data_dir.clone());
    cfg.trust_anchors_pem = vec![ca];
    cfg.spki_pins = pins.split(',').map(str::to_string).collect();
    cfg.language = Language::Vi;
    cfg.platform = citizen_core::Platform::Desktop;
    cfg.device_label = "outbox worker".into();
    cfg.request_timeout = Some(std::time::Duration::from_secs(5));

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let core = CitizenCore::new_desktop(cfg).unwrap_or_else(|e| fail(format!("open: {e:?}")));
        say("READY");
        for _ in 0..max_loops {
            let d = core
                .services()
                .create_draft("residence-notification".into())
                .await
                .unwrap_or_else(|e| fail(format!("draft: {e:?}")));
            let id = d.draft_id;
            for (path, value) in [
                ("guests.0.full_name", "Khách Thử Nghiệm".to_string()),
                ("guests.0.cccd", "079195000002".to_string()),
                ("guests.0.relationship", "ban_be".to_string()),
                ("reason", "du_lich".to_string()),
                ("from_date", day(1)),
                ("to_date", day(5)),
            ] {
                core.services()
                    .update_draft(id.clone(), std::collections::HashMap::from([(path.into(), value)]))
                    .await
                    .unwrap_or_else(|e| fail(format!("set {path}: {e:?}")));
            }
            let item = core
                .services()
                .submit_draft(id, passcode.clone())
                .await
                .unwrap_or_else(|e| fail(format!("submit: {e:?}")));
            say(&format!("ACK {}", item.submission_id));
            match core.services().sync_outbox().await {
                Ok(r) => say(&format!("SYNC {} {}", r.delivered, r.remaining)),
                Err(e) => fail(format!("sync: {e:?}")),
            }
            // A login too (issue 14: its counter commits with the passcode's success, its
            // session with the activity entry that records it).
            match core.account().login(passcode.clone()).await {
                Ok(_) => say("LOGIN"),
                Err(e) => fail(format!("login: {e:?}")),
            }
        }
        say("DONE");
    });
}
