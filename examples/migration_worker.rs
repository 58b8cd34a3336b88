//! Worker process of the interrupted-migration test (`tests/integration/migration_kill.rs`).
//!
//! Opens a fixture database (written by `citizen_core::store::fixtures::write`) with the current
//! code, which migrates it, and reads every record back. With `CITIZEN_TEST_PAUSE_IN_MIGRATION=<v>`
//! (feature `test-support`) the migration to version `v` stops inside its transaction, prints
//! `PAUSED <v>` and waits: the parent kills it there with SIGKILL.
//!
//! Usage: `migration_worker <data_dir> <fixture_version>`
//!
//! Output lines: `PAUSED <v>`, or `OPENED <version>` when it ran through, or `ERR <what>` (exit 3).
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
use std::path::Path;

use citizen_core::store::fixtures;

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(dir), Some(version)) = (args.get(1), args.get(2).and_then(|v| v.parse::<usize>().ok())) else {
        say("ERR usage: migration_worker <data_dir> <fixture_version>");
        std::process::exit(3)
    };
    match fixtures::verify(Path::new(dir), version) {
        Ok(v) => say(&format!("OPENED {v}")),
        Err(e) => {
            say(&format!("ERR {e}"));
            std::process::exit(3)
        }
    }
}
