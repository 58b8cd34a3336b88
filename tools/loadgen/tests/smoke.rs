//! The load generator still works end to end (a few seconds, tiny numbers): it starts the
//! server binary, enrolls the seed citizens through the API, logs in and submits with 1 and 4
//! clients, and exits non-zero if any operation was refused. No figure is asserted.
#![allow(clippy::unwrap_used)]

use std::process::Command;

#[test]
fn smoke_run_enrolls_logs_in_and_submits_without_failures() {
    // The server binary of the same profile, next to the load generator: already there inside
    // `cargo test --workspace` (the server's tests build it); built here when this test runs on
    // its own. Not rebuilt when present: a plain `cargo build` would relink it without the
    // `fault` feature the server's own tests enable, and each would undo the other.
    let exe = std::path::PathBuf::from(env!("CARGO_BIN_EXE_citizen-loadgen"));
    let server = exe.with_file_name(format!("citizen-server{}", std::env::consts::EXE_SUFFIX));
    if !server.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status =
            Command::new(cargo).args(["build", "-q", "-p", "citizen-server", "--bin", "citizen-server"]).status();
        assert!(status.unwrap().success(), "cargo build -p citizen-server");
    }
    assert!(server.exists(), "{} missing", server.display());
    let out = Command::new(&exe).arg("--smoke").arg("--server-bin").arg(&server).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    // Header, separator and one row per client count (1 and 4).
    assert!(stdout.contains("| clients |"), "{stdout}");
    assert_eq!(stdout.lines().filter(|l| l.starts_with("| 1 |") || l.starts_with("| 4 |")).count(), 2, "{stdout}");
}
