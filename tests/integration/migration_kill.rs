//! kill -9 during a schema migration.
//!
//! A worker process (`examples/migration_worker.rs`) opens a populated database of an old
//! version (`citizen_core::store::fixtures`) with the current code. A test-support hook
//! (`CITIZEN_TEST_PAUSE_IN_MIGRATION`) stops the migration to a chosen version inside its
//! transaction — its SQL ran, `user_version` was raised, nothing committed — and the test kills
//! the worker there with SIGKILL. Then:
//!
//! * the database is still at the version before the interrupted one (every earlier migration
//!   committed, the interrupted one left no trace), and `PRAGMA integrity_check` says `ok`;
//! * opening it again migrates it to the current version with every record readable.
//!
//! Covered: the first plain migration (v1→v2), one in the middle (v3→v4), and the keyed v6
//! (sealing the clear anchors and setting the integrity marks) from v1 and from v4.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use citizen_core::store::{fixtures, CURRENT_VERSION, PAUSE_IN_MIGRATION_ENV};

fn worker_path() -> PathBuf {
    // target/<profile>/deps/migration_kill-<hash> → target/<profile>/examples/migration_worker
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|d| d.parent()).expect("test binary under target/<profile>/deps");
    let p = profile_dir.join("examples").join(format!("migration_worker{}", std::env::consts::EXE_SUFFIX));
    // As in `outbox_kill`: build the worker only when it is missing (`cargo test` builds
    // examples first). After changing it, run `cargo test --example migration_worker --test migration_kill`.
    if !p.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| env!("CARGO").to_string());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "--quiet", "-p", "citizen-core", "--example", "migration_worker"]);
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let status = cmd.current_dir(env!("CARGO_MANIFEST_DIR")).status().expect("run cargo");
        assert!(status.success(), "building the migration_worker example failed");
    }
    assert!(p.exists(), "{} is missing", p.display());
    p
}

/// Run the worker on `dir` with the pause at `pause_at`; kill it once it reports the pause.
fn kill_inside_migration(dir: &std::path::Path, fixture_version: usize, pause_at: usize) {
    let mut child = Command::new(worker_path())
        .arg(dir)
        .arg(fixture_version.to_string())
        .env(PAUSE_IN_MIGRATION_ENV, pause_at.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn worker");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().map(|l| l.unwrap());
    assert_eq!(first.as_deref(), Some(format!("PAUSED {pause_at}").as_str()), "worker did not pause");
    child.kill().expect("SIGKILL");
    let status = child.wait().unwrap();
    assert!(!status.success(), "the worker was killed, not finished: {status:?}");
}

#[test]
fn a_kill_during_a_migration_leaves_the_old_version_usable() {
    for (fixture_version, pause_at) in [(1, 2), (1, 4), (1, CURRENT_VERSION), (4, CURRENT_VERSION)] {
        let dir = tempfile::tempdir().unwrap();
        fixtures::write(dir.path(), fixture_version).unwrap();
        kill_inside_migration(dir.path(), fixture_version, pause_at);
        let (version, integrity) = fixtures::raw_state(dir.path()).unwrap();
        assert_eq!(
            (version, integrity.as_str()),
            (pause_at - 1, "ok"),
            "fixture v{fixture_version} killed inside the migration to v{pause_at}"
        );
        // The next open finishes the upgrade and every record reads back.
        assert_eq!(
            fixtures::verify(dir.path(), fixture_version),
            Ok(CURRENT_VERSION),
            "fixture v{fixture_version} after a kill inside v{pause_at}"
        );
    }
}

/// Without the pause the worker runs the whole upgrade (the hook stops only where it is told).
#[test]
fn the_worker_upgrades_when_not_paused() {
    let dir = tempfile::tempdir().unwrap();
    fixtures::write(dir.path(), 1).unwrap();
    let out = Command::new(worker_path()).arg(dir.path()).arg("1").output().expect("run worker");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("OPENED {CURRENT_VERSION}"));
    assert_eq!(fixtures::raw_state(dir.path()).unwrap(), (CURRENT_VERSION, "ok".to_string()));
}
