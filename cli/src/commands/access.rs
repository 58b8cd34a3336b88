//! `citizen access [--agency X] [--from D] [--to D] [--export FILE]` and
//! `citizen access verify FILE --server-key KEY`: who read the citizen's register record
//! (issue 16, item 2). Dates are Vietnam calendar days (`YYYY-MM-DD`, `--to` inclusive).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use citizen_core::cccd::Date;
use citizen_core::{AccessLogEntry, AccessLogFilter, CitizenCore};

use super::{exit, read, write_out};

/// Exit status of a log that does not verify.
const TAMPERED: u8 = 5;

/// 00:00 Vietnam time of a `YYYY-MM-DD` day, plus `days`.
fn vn_day(s: &str, days: i64) -> Option<SystemTime> {
    let d = Date::parse(s)?;
    // Days since the epoch of the civil date (Howard Hinnant's algorithm).
    let y = i64::from(d.year) - i64::from(d.month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(d.month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d.day) - 1;
    let days_since = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468 + days;
    let secs = u64::try_from(days_since * 86_400 - 7 * 3600).ok()?;
    Some(UNIX_EPOCH + Duration::from_secs(secs))
}

fn print_entry(e: &AccessLogEntry) {
    println!(
        "{:>4} {} {:?} agency=\"{}\" official={} purpose={:?} reference={}",
        e.seq,
        citizen_cli::unix(e.at),
        e.accessor,
        e.agency,
        e.official.as_deref().unwrap_or("-"),
        e.purpose,
        e.reference.as_deref().unwrap_or("-")
    );
}

/// `access`: list (filtered), and optionally write the signed export.
pub(crate) async fn list(
    core: &CitizenCore,
    agency: Option<String>,
    from: Option<String>,
    to: Option<String>,
    export: Option<PathBuf>,
) -> ExitCode {
    let from = match from.as_deref().map(|f| vn_day(f, 0)) {
        Some(None) => return exit::other("--from must be YYYY-MM-DD"),
        Some(t) => t,
        None => None,
    };
    // Inclusive: up to the last second of that day.
    let to = match to.as_deref().map(|t| vn_day(t, 1)) {
        Some(None) => return exit::other("--to must be YYYY-MM-DD"),
        Some(t) => t.map(|t| t - Duration::from_secs(1)),
        None => None,
    };
    let log = match core.account().access_log(AccessLogFilter { agency, since: from, until: to }).await {
        Ok(l) => l,
        Err(e) => return exit::fail(&e),
    };
    for e in &log.entries {
        print_entry(e);
    }
    println!("shown={} total={} intact={}", log.entries.len(), log.total, log.intact);
    for p in &log.problems {
        println!("  problem: {p:?}");
    }
    if let Some(path) = export {
        match core.account().export_access_log().await {
            Ok(signed) => {
                let code = write_out(Some(path.as_path()), &signed);
                if code != ExitCode::SUCCESS {
                    return code;
                }
            }
            Err(e) => return exit::fail(&e),
        }
    }
    if log.intact {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(TAMPERED)
    }
}

/// `access verify FILE --server-key KEY`: offline check of an export (exit 0 intact, 5 not).
pub(crate) fn verify(file: &PathBuf, server_key: &PathBuf) -> ExitCode {
    let (signed, key) = match (read(file), read(server_key)) {
        (Ok(s), Ok(k)) => (s, k),
        (Err(c), _) | (_, Err(c)) => return c,
    };
    let r = match citizen_core::verify_access_log_export(signed, key) {
        Ok(r) => r,
        Err(e) => return exit::fail(&e),
    };
    for e in &r.entries {
        print_entry(e);
    }
    println!(
        "entries={} signature_valid={} intact={} issuer={} signed_at={}",
        r.entries.len(),
        r.signature_valid,
        r.intact,
        r.issuer,
        citizen_cli::unix(r.signed_at)
    );
    for p in &r.problems {
        println!("  problem: {p:?}");
    }
    if r.intact {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(TAMPERED)
    }
}
