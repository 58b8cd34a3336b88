//! `citizen log list | verify | export | anchor`: the activity log.

use std::process::ExitCode;

use citizen_core::{ActivityLogReport, CitizenCore};

use super::{exit, finish, read, write_out};
use crate::LogOp;

/// Exit status of a log that does not verify.
const TAMPERED: u8 = 5;

/// Run a log operation.
pub(crate) async fn run(core: &CitizenCore, op: LogOp) -> ExitCode {
    match op {
        LogOp::List => finish(core.activity().list_entries().await, |entries| {
            for e in entries {
                println!(
                    "{:>4} {} {:?} {} counter={} {}…",
                    e.seq,
                    citizen_cli::unix(e.at),
                    e.kind,
                    e.summary,
                    e.counter,
                    &e.hash[..12]
                );
            }
        }),
        LogOp::Verify { file: Some(path), server_key } => {
            let Some(key_path) = server_key else {
                return exit::other(
                    "--server-key FILE is required with --file (the server key to trust, e.g. from /v1/keys)",
                );
            };
            let (json, key) = match (read(&path), read(&key_path)) {
                (Ok(j), Ok(k)) => (j, k),
                (Err(c), _) | (_, Err(c)) => return c,
            };
            verified(citizen_core::verify_activity_log_export(json, key))
        }
        LogOp::Verify { file: None, .. } => verified(core.activity().verify().await),
        LogOp::Export { out } => match core.activity().export().await {
            Ok(json) => write_out(out.as_deref(), &json),
            Err(e) => exit::fail(&e),
        },
        LogOp::Anchor => finish(core.activity().anchor().await, |a| match a {
            Some(a) => println!("anchored seq={} at={}", a.seq, citizen_cli::unix(a.anchored_at)),
            None => println!("nothing new to anchor"),
        }),
    }
}

/// Print a verification report; exit 0 intact, 5 tampered.
fn verified(r: Result<ActivityLogReport, citizen_core::CitizenError>) -> ExitCode {
    let r = match r {
        Ok(r) => r,
        Err(e) => return exit::fail(&e),
    };
    println!("entries={} anchors={} anchored_seq={} intact={}", r.entries, r.anchors, r.anchored_seq, r.intact);
    println!("device_id={} device_public_key={}", r.device_id, r.device_public_key);
    for p in &r.problems {
        println!("  problem: {p:?}");
    }
    if r.intact {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(TAMPERED)
    }
}
