//! `citizen` — desktop/kiosk shell of citizen-core.
//!
//! `citizen demo` runs the whole story against an in-process server. The other subcommands
//! drive a running `citizen-server`; passcodes and OTP-protected values are read from the
//! environment (`CITIZEN_PASSCODE`, `CITIZEN_NEW_PASSCODE`) or from standard input, never from
//! the command line (which other users can see in the process list).

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use citizen_core::error::PublicError;
use citizen_core::{
    AuthError, CitizenCore, EnrollmentError, EnrollmentInput, EnrollmentState, KeyOptions, PasscodeError,
};
use clap::{Parser, Subcommand};
use zeroize::Zeroizing;

#[derive(Parser)]
#[command(name = "citizen", version, about = "Desktop/kiosk shell of citizen-core")]
struct Cli {
    /// Server base URL.
    #[arg(long, env = "CITIZEN_SERVER", default_value = "https://127.0.0.1:8443", global = true)]
    server: String,
    /// PEM file of a trust anchor (repeatable); without it, the platform roots.
    #[arg(long = "ca", env = "CITIZEN_CA", global = true)]
    ca: Vec<PathBuf>,
    /// SPKI pin (repeatable; give at least two: primary and backup).
    #[arg(long = "pin", env = "CITIZEN_PINS", value_delimiter = ',', global = true)]
    pins: Vec<String>,
    /// Data directory of the core.
    #[arg(long, env = "CITIZEN_DATA_DIR", default_value = "citizen-data", global = true)]
    data_dir: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole story against an in-process server (enroll → passcode → login → refresh →
    /// devices → logout), printing each step and its duration.
    Demo {
        /// Where the demo keeps its server and core data (default: a new temporary directory).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Show this device's state.
    Status,
    /// Enroll this device (level-1 account).
    Enroll {
        #[command(subcommand)]
        step: EnrollStep,
    },
    /// Log in (passcode + device-key signature).
    Login,
    /// Rotate the session's refresh token.
    Refresh,
    /// End the session.
    Logout,
    /// List the account's devices.
    Devices,
    /// Revoke one of the account's devices.
    RevokeDevice { device_id: String },
    /// On the old device: approve the transfer to a new device (its enrollment id).
    ApproveTransfer { enrollment_id: String },
    /// Ask the server whether this device is still active.
    DeviceStatus,
    /// Passcode operations.
    Passcode {
        #[command(subcommand)]
        op: PasscodeOp,
    },
    /// Erase the account from this device.
    ResetDevice,
}

#[derive(Subcommand)]
enum EnrollStep {
    /// Validate the input and ask the register for an OTP.
    Start {
        #[arg(long)]
        cccd: String,
        /// Date of birth, YYYY-MM-DD.
        #[arg(long)]
        dob: String,
        #[arg(long)]
        phone: String,
    },
    /// Finish with the OTP; the new passcode comes from CITIZEN_NEW_PASSCODE or stdin.
    Complete {
        #[arg(long)]
        otp: String,
    },
}

#[derive(Subcommand)]
enum PasscodeOp {
    /// Check the passcode locally (exit 0 correct, 2 wrong, 3 locked, 4 erased).
    Verify,
    /// Failures and lock.
    Status,
    /// Change the passcode (CITIZEN_PASSCODE, then CITIZEN_NEW_PASSCODE).
    Change,
    /// Forgotten passcode: request an OTP.
    ResetStart,
    /// Forgotten passcode: set a new one with the OTP.
    ResetComplete {
        #[arg(long)]
        otp: String,
    },
}

fn secret(var: &str, prompt: &str) -> Zeroizing<String> {
    if let Ok(v) = std::env::var(var) {
        return Zeroizing::new(v);
    }
    eprint!("{prompt}: ");
    let _ = std::io::stderr().flush();
    let mut line = Zeroizing::new(String::new());
    let _ = std::io::stdin().lock().read_line(&mut line);
    Zeroizing::new(line.trim().to_string())
}

/// Print a public error with its code and both messages; return the exit code.
fn report(e: &dyn PublicError) -> ExitCode {
    let d = e.detail();
    eprintln!("lỗi [{}]: {}\nerror [{}]: {}", d.code, d.message_vi, d.code, d.message_en);
    ExitCode::from(1)
}

fn passcode_exit(e: &PasscodeError) -> ExitCode {
    report(e);
    match e {
        PasscodeError::Incorrect { .. } => ExitCode::from(2),
        PasscodeError::LockedOut { .. } => ExitCode::from(3),
        PasscodeError::Wiped { .. } => ExitCode::from(4),
        _ => ExitCode::from(1),
    }
}

fn auth_exit(e: &AuthError) -> ExitCode {
    report(e);
    match e {
        AuthError::PasscodeIncorrect { .. } => ExitCode::from(2),
        AuthError::LockedOut { .. } => ExitCode::from(3),
        AuthError::Wiped { .. } => ExitCode::from(4),
        _ => ExitCode::from(1),
    }
}

fn enroll_exit(e: &EnrollmentError) -> ExitCode {
    report(e);
    if let EnrollmentError::InvalidInput { fields, .. } = e {
        for f in fields {
            eprintln!("  {} [{}]: {} / {}", f.field, f.code, f.message_vi, f.message_en);
        }
    }
    ExitCode::from(1)
}

async fn run(cli: Cli) -> ExitCode {
    if let Command::Demo { data_dir } = &cli.command {
        let dir = data_dir.clone().unwrap_or_else(|| {
            std::env::temp_dir().join(format!(
                "citizen-demo-{}-{}",
                std::process::id(),
                citizen_core::crypto::random_b64url(4)
            ))
        });
        let mut out = std::io::stdout();
        return match citizen_cli::demo::run(&dir, &mut out, &mut |_, _| {}).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("demo: {e}");
                ExitCode::from(1)
            }
        };
    }

    let mut pems = vec![];
    for p in &cli.ca {
        match std::fs::read_to_string(p) {
            Ok(s) => pems.push(s),
            Err(e) => {
                eprintln!("cannot read {}: {e}", p.display());
                return ExitCode::from(1);
            }
        }
    }
    let config = citizen_cli::desktop_config(&cli.server, &cli.data_dir.to_string_lossy(), pems, cli.pins.clone());
    let core: std::sync::Arc<CitizenCore> = match citizen_cli::open_core(config) {
        Ok(c) => c,
        Err(e) => return report(&e),
    };

    match cli.command {
        Command::Demo { .. } => unreachable!("handled above"),
        Command::Status => match core.status() {
            Ok(s) => {
                let state = match &s.enrollment {
                    EnrollmentState::NotEnrolled => "not_enrolled".to_string(),
                    EnrollmentState::AwaitingOtp => "awaiting_otp".to_string(),
                    EnrollmentState::Enrolled => "enrolled".to_string(),
                    EnrollmentState::Deactivated { status } => format!("deactivated:{status:?}").to_lowercase(),
                };
                println!(
                    "enrollment={state} device={} hardware_backed={} logged_in={}",
                    s.device_id.unwrap_or_default(),
                    s.hardware_backed,
                    s.logged_in
                );
                ExitCode::SUCCESS
            }
            Err(e) => auth_exit(&e),
        },
        Command::Enroll { step: EnrollStep::Start { cccd, dob, phone } } => {
            match core.start_enrollment(EnrollmentInput { cccd, date_of_birth: dob, phone }).await {
                Ok(t) => {
                    println!(
                        "enrollment_id={} otp_sent_to={} expires_at={}",
                        t.enrollment_id, t.masked_phone, t.otp_expires_at
                    );
                    if t.has_active_device {
                        println!("note: the account has an active device; it will be replaced unless it approves the transfer");
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => enroll_exit(&e),
            }
        }
        Command::Enroll { step: EnrollStep::Complete { otp } } => {
            let pass = secret("CITIZEN_NEW_PASSCODE", "Mã bảo vệ mới (6 chữ số) / new passcode");
            let opts =
                KeyOptions { require_user_authentication: true, prefer_strongbox: true, attestation_challenge: vec![] };
            match core.complete_enrollment(otp, pass.to_string(), opts).await {
                Ok(o) => {
                    println!("device_id={} hardware_backed={}", o.device_id, o.hardware_backed);
                    if let Some(old) = o.replaced_device_id {
                        println!("deactivated_device={old} transfer_approved={}", o.transfer_approved);
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => enroll_exit(&e),
            }
        }
        Command::Login => {
            let pass = secret("CITIZEN_PASSCODE", "Mã bảo vệ / passcode");
            match core.login(pass.to_string()).await {
                Ok(s) => {
                    println!("logged_in session_expires_at={}", s.absolute_expires_at);
                    ExitCode::SUCCESS
                }
                Err(e) => auth_exit(&e),
            }
        }
        Command::Refresh => match core.refresh_session().await {
            Ok(s) => {
                println!("refreshed access_expires_at={}", s.access_expires_at);
                ExitCode::SUCCESS
            }
            Err(e) => auth_exit(&e),
        },
        Command::Logout => match core.logout().await {
            Ok(()) => {
                println!("logged_out");
                ExitCode::SUCCESS
            }
            Err(e) => auth_exit(&e),
        },
        Command::Devices => match core.list_devices().await {
            Ok(ds) => {
                for d in ds {
                    println!(
                        "{} {} {} status={:?} hardware_backed={}{}",
                        d.device_id,
                        d.platform,
                        d.label,
                        d.status,
                        d.hardware_backed,
                        if d.is_this_device { " (this device)" } else { "" }
                    );
                }
                ExitCode::SUCCESS
            }
            Err(e) => auth_exit(&e),
        },
        Command::RevokeDevice { device_id } => {
            let pass = secret("CITIZEN_PASSCODE", "Mã bảo vệ / passcode");
            match core.revoke_device(device_id, pass.to_string()).await {
                Ok(()) => {
                    println!("revoked");
                    ExitCode::SUCCESS
                }
                Err(e) => auth_exit(&e),
            }
        }
        Command::ApproveTransfer { enrollment_id } => {
            let pass = secret("CITIZEN_PASSCODE", "Mã bảo vệ / passcode");
            match core.approve_device_transfer(enrollment_id, pass.to_string()).await {
                Ok(()) => {
                    println!("transfer_approved");
                    ExitCode::SUCCESS
                }
                Err(e) => auth_exit(&e),
            }
        }
        Command::DeviceStatus => match core.check_device_status().await {
            Ok(s) => {
                println!("status={:?} changed_at={}", s.status, s.changed_at);
                ExitCode::SUCCESS
            }
            Err(e) => auth_exit(&e),
        },
        Command::Passcode { op } => match op {
            PasscodeOp::Verify => {
                let pass = secret("CITIZEN_PASSCODE", "Mã bảo vệ / passcode");
                match core.verify_passcode(pass.to_string()).await {
                    Ok(()) => {
                        println!("passcode_ok");
                        ExitCode::SUCCESS
                    }
                    Err(e) => passcode_exit(&e),
                }
            }
            PasscodeOp::Status => match core.passcode_status() {
                Ok(s) => {
                    println!(
                        "failed_attempts={} attempts_before_lockout={} attempts_before_wipe={} locked_until={}",
                        s.failed_attempts,
                        s.attempts_before_lockout,
                        s.attempts_before_wipe,
                        s.locked_until.map(|v| v.to_string()).unwrap_or_else(|| "-".into())
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => passcode_exit(&e),
            },
            PasscodeOp::Change => {
                let old = secret("CITIZEN_PASSCODE", "Mã bảo vệ hiện tại / current passcode");
                let new = secret("CITIZEN_NEW_PASSCODE", "Mã bảo vệ mới / new passcode");
                match core.change_passcode(old.to_string(), new.to_string()).await {
                    Ok(()) => {
                        println!("passcode_changed");
                        ExitCode::SUCCESS
                    }
                    Err(e) => passcode_exit(&e),
                }
            }
            PasscodeOp::ResetStart => match core.start_passcode_reset().await {
                Ok(t) => {
                    println!("reset_id={} otp_sent_to={}", t.reset_id, t.masked_phone);
                    ExitCode::SUCCESS
                }
                Err(e) => passcode_exit(&e),
            },
            PasscodeOp::ResetComplete { otp } => {
                let new = secret("CITIZEN_NEW_PASSCODE", "Mã bảo vệ mới / new passcode");
                match core.complete_passcode_reset(otp, new.to_string()).await {
                    Ok(()) => {
                        println!("passcode_reset");
                        ExitCode::SUCCESS
                    }
                    Err(e) => passcode_exit(&e),
                }
            }
        },
        Command::ResetDevice => match core.reset_device().await {
            Ok(()) => {
                println!("device_reset");
                ExitCode::SUCCESS
            }
            Err(e) => auth_exit(&e),
        },
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("CITIZEN_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    rt.block_on(run(cli))
}
