//! Scale-out on PostgreSQL (issue 14, item 3): a private PostgreSQL cluster, three
//! `citizen-server` instances sharing it (and one data directory) behind a round-robin proxy on
//! loopback, and 64 concurrent clients whose every request opens a new connection, so that
//! consecutive and raced requests land on different instances (`citizen-loadgen --check`, see
//! tools/loadgen/src/check.rs). It fails unless no nonce and no counter was accepted twice,
//! every submission was stored exactly once whichever instances its three copies reached, and
//! every refresh-token reuse was detected.
//!
//! Needs PostgreSQL's binaries (`initdb`, `pg_ctl`, `postgres`; Debian's `postgresql` package,
//! which .ci/run installs). Without them it is skipped, and says so, except in CI (`CI=true`) or
//! with `CITIZEN_REQUIRE_POSTGRES=1`, where it fails.
#![allow(clippy::unwrap_used)]

use std::process::Command;

fn required() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true") || std::env::var("CITIZEN_REQUIRE_POSTGRES").is_ok_and(|v| v == "1")
}

#[test]
fn three_instances_on_one_postgresql_accept_each_nonce_counter_submission_and_refresh_once() {
    let exe = std::path::PathBuf::from(env!("CARGO_BIN_EXE_citizen-loadgen"));
    let probe = Command::new(&exe).arg("--probe-postgres").output().unwrap();
    if !probe.status.success() {
        assert!(!required(), "PostgreSQL binaries not found (install Debian's postgresql package)");
        eprintln!("SKIPPED scale-out test: PostgreSQL binaries not found (initdb/pg_ctl/postgres)");
        return;
    }
    // The server binary of the same profile, next to the load generator (see smoke.rs).
    let server = exe.with_file_name(format!("citizen-server{}", std::env::consts::EXE_SUFFIX));
    if !server.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status =
            Command::new(cargo).args(["build", "-q", "-p", "citizen-server", "--bin", "citizen-server"]).status();
        assert!(status.unwrap().success(), "cargo build -p citizen-server");
    }
    let out = Command::new(&exe)
        .args(["--check", "--database", "postgres", "--instances", "3", "--check-clients", "64", "--server-bin"])
        .arg(&server)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("scale-out: 1 passed, 0 failed"), "{stdout}");
    assert!(stdout.contains("3 instance(s), 64 clients"), "{stdout}");
}
