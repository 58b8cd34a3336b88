//! The one environment of the CLI tests: the reference server in-process on loopback (system
//! clock, in-memory OTP outbox), a data directory for the `citizen` binary, the dev CA in a file
//! and the two SPKI pins, and the demo citizen enrolled through the library.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use citizen_cli::{desktop_config, open_core, DEMO_CITIZEN};
use citizen_core::clock::SystemClock;
use citizen_core::{CitizenCore, EnrollmentInput, KeyOptions};
use citizen_server::{MemoryOtpOutbox, RunningServer, ServerConfig};

/// The demo citizen's passcode in these tests.
pub const PASS: &str = "482916";

pub struct Env {
    pub server: RunningServer,
    /// The core's data directory (the binary's `--data-dir`).
    pub data: String,
    /// The server's dev CA, as a file for `--ca`.
    pub ca_file: PathBuf,
    pub pins: Vec<String>,
    pub dir: tempfile::TempDir,
}

impl Env {
    /// Start the server and enroll the demo citizen (logged in when `login`).
    pub async fn enrolled(login: bool) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Arc::new(MemoryOtpOutbox::new());
        let server = citizen_server::start(ServerConfig::loopback_dev(
            dir.path().join("server"),
            outbox.clone(),
            Arc::new(SystemClock),
        ))
        .await
        .unwrap();
        let data = dir.path().join("core").to_string_lossy().into_owned();
        let pins = vec![server.spki_pin.clone(), server.backup_spki_pin.clone()];
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, &server.ca_cert_pem).unwrap();
        let env = Env { server, data, ca_file, pins, dir };
        let core = env.core();
        let (cccd, dob, phone) = DEMO_CITIZEN;
        let t = core
            .account()
            .start_enrollment(EnrollmentInput { cccd: cccd.into(), date_of_birth: dob.into(), phone: phone.into() })
            .await
            .unwrap();
        let otp = outbox.last_otp(&t.enrollment_id).unwrap();
        let opts =
            KeyOptions { require_user_authentication: false, prefer_strongbox: false, attestation_challenge: vec![] };
        core.account().complete_enrollment(otp, PASS.into(), opts).await.unwrap();
        if login {
            core.account().login(PASS.into()).await.unwrap();
        }
        // Released before the test runs the binary on the same directory (drop would release it
        // without waiting; see `CitizenCore::shutdown`).
        core.shutdown().await;
        env
    }

    /// The desktop core on the binary's data directory (only one may be open at a time: call
    /// `shutdown().await` on it before running the binary on the same directory).
    pub fn core(&self) -> Arc<CitizenCore> {
        open_core(desktop_config(
            &self.server.base_url,
            &self.data,
            vec![self.server.ca_cert_pem.clone()],
            self.pins.clone(),
        ))
        .unwrap()
    }

    /// The `citizen` binary with the global options pointing at this server and data directory.
    pub fn citizen(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_citizen"));
        c.args(["--server", &self.server.base_url, "--data-dir", &self.data, "--ca"]).arg(&self.ca_file).args([
            "--pin",
            &self.pins[0],
            "--pin",
            &self.pins[1],
        ]);
        c
    }
}
