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
    /// The activity log: every use of the citizen's identity on this device.
    Log {
        #[command(subcommand)]
        op: LogOp,
    },
    /// Log in to a web portal by its QR code (or a `citizenid://login?p=…` link).
    Qr {
        #[command(subcommand)]
        op: QrOp,
    },
    /// Consent receipts of QR logins and data shares (default: list).
    Receipts {
        #[command(subcommand)]
        op: Option<ReceiptsOp>,
    },
    /// Share identity data with a relying party (eKYC): open its signed request (the JWS or a
    /// `citizenid://share?request=…` link), show who asks, why and what, then share the required
    /// claims plus the optional ones named with `--with`.
    Share {
        /// The share request (JWS) or deep link.
        request: String,
        /// Optional claims to add, comma-separated (e.g. `phone,permanent_address`).
        #[arg(long = "with", value_delimiter = ',')]
        with: Vec<String>,
    },
    /// Public-service requests.
    Services {
        #[command(subcommand)]
        op: ServicesOp,
    },
}

#[derive(Subcommand)]
enum LogOp {
    /// List the entries.
    List,
    /// Verify this device's log, or an exported file (exit 0 intact, 5 tampered).
    Verify {
        /// An exported log to verify instead of the local one.
        #[arg(long)]
        file: Option<PathBuf>,
        /// With --file (required): the server key to trust, a JWK or the JWKS of `/v1/keys`
        /// obtained independently of the file. Keys inside the file are never trusted.
        #[arg(long)]
        server_key: Option<PathBuf>,
    },
    /// Export the log as JSON (stdout, or --out FILE).
    Export {
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Anchor the head at the server now.
    Anchor,
}

#[derive(Subcommand)]
enum QrOp {
    /// Check a scanned code (offline against the signed registry, then at the server) and show
    /// who asks, on which site, for what, and the three codes to pick from.
    Scan {
        /// The frame text (`CZQR1:…`) or a `citizenid://login?p=…` link.
        frame: String,
    },
    /// Approve with the code the site shows (passcode from CITIZEN_PASSCODE or stdin).
    Approve {
        session_id: String,
        /// The two-digit code shown on the site.
        #[arg(long)]
        code: String,
    },
    /// Decline.
    Deny { session_id: String },
}

#[derive(Subcommand)]
enum ReceiptsOp {
    /// List the receipts, newest first.
    List,
    /// Export the receipts as JSON (stdout, or --out FILE).
    Export {
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Verify an exported file (exit 0 valid, 5 not valid).
    Verify {
        #[arg(long)]
        file: PathBuf,
        /// A JWK file of the server key to trust (e.g. from `/v1/keys`); without it the file
        /// is only checked against the key it carries.
        #[arg(long)]
        server_key: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ServicesOp {
    /// List the procedures (refreshing the catalogue when online).
    List,
    /// Show a procedure's form.
    Show { procedure: String },
    /// Create a draft auto-filled from the register, set values and attach files.
    Fill {
        procedure: String,
        /// `path=value` (repeatable), e.g. `guests.0.full_name=Khách` or `from_date=2026-12-01`.
        #[arg(long = "set")]
        set: Vec<String>,
        /// `key=file:mime` (repeatable), e.g. `housing_proof=hop-dong.pdf:application/pdf`.
        #[arg(long = "attach")]
        attach: Vec<String>,
        /// Add this many extra items to a group first: `guests=2`.
        #[arg(long = "items")]
        items: Vec<String>,
    },
    /// Submit a draft (passcode from CITIZEN_PASSCODE or stdin); it is queued and sent.
    Submit { draft_id: String },
    /// The outbox and the cases.
    Status,
    /// Deliver queued submissions and fetch case updates.
    Sync,
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
        Command::Services { op } => services(core, op).await,
        Command::Log { op } => log(core, op).await,
        Command::Qr { op } => qr(core, op).await,
        Command::Receipts { op } => receipts(core, op.unwrap_or(ReceiptsOp::List)),
        Command::Share { request, with } => share(core, request, with).await,
        Command::ResetDevice => match core.reset_device().await {
            Ok(()) => {
                println!("device_reset");
                ExitCode::SUCCESS
            }
            Err(e) => auth_exit(&e),
        },
    }
}

fn print_report(r: &citizen_core::ActivityLogReport) -> ExitCode {
    println!("entries={} anchors={} anchored_seq={} intact={}", r.entries, r.anchors, r.anchored_seq, r.intact);
    println!("device_id={} device_public_key={}", r.device_id, r.device_public_key);
    for p in &r.problems {
        println!("  problem: {p:?}");
    }
    if r.intact {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(5)
    }
}

async fn log(core: std::sync::Arc<CitizenCore>, op: LogOp) -> ExitCode {
    match op {
        LogOp::List => match core.activity_log() {
            Ok(entries) => {
                for e in entries {
                    println!(
                        "{:>4} {} {:?} {} counter={} {}…",
                        e.seq,
                        e.at,
                        e.kind,
                        e.summary,
                        e.counter,
                        &e.hash[..12]
                    );
                }
                ExitCode::SUCCESS
            }
            Err(e) => report(&e),
        },
        LogOp::Verify { file: Some(path), server_key } => {
            let Some(key_path) = server_key else {
                eprintln!("--server-key FILE is required with --file (the server key to trust, e.g. from /v1/keys)");
                return ExitCode::from(1);
            };
            let read = |p: &PathBuf| {
                std::fs::read_to_string(p).map_err(|e| {
                    eprintln!("cannot read {}: {e}", p.display());
                    ExitCode::from(1)
                })
            };
            let (json, key) = match (read(&path), read(&key_path)) {
                (Ok(j), Ok(k)) => (j, k),
                (Err(c), _) | (_, Err(c)) => return c,
            };
            match citizen_core::verify_activity_log_export(json, key) {
                Ok(r) => print_report(&r),
                Err(e) => report(&e),
            }
        }
        LogOp::Verify { file: None, .. } => match core.verify_activity_log() {
            Ok(r) => print_report(&r),
            Err(e) => report(&e),
        },
        LogOp::Export { out } => match core.export_activity_log() {
            Ok(json) => write_out(out.as_deref(), &json),
            Err(e) => report(&e),
        },
        LogOp::Anchor => match core.anchor_activity_log().await {
            Ok(Some(a)) => {
                println!("anchored seq={} at={}", a.seq, a.anchored_at);
                ExitCode::SUCCESS
            }
            Ok(None) => {
                println!("nothing new to anchor");
                ExitCode::SUCCESS
            }
            Err(e) => report(&e),
        },
    }
}

async fn services(core: std::sync::Arc<CitizenCore>, op: ServicesOp) -> ExitCode {
    match op {
        ServicesOp::List => {
            if let Err(e) = core.refresh_catalogue().await {
                eprintln!("(offline: {}; showing the saved catalogue)", e.detail().message_en);
            }
            match core.procedures() {
                Ok(ps) => {
                    for p in ps {
                        println!(
                            "{:<24} v{} {} — {} VND, {} ngày — {}",
                            p.id, p.version, p.name_vi, p.fee_vnd, p.processing_days, p.agency_vi
                        );
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => report(&e),
            }
        }
        ServicesOp::Show { procedure } => {
            let _ = core.refresh_catalogue().await;
            let Some(p) = core.procedures().ok().and_then(|ps| ps.into_iter().find(|p| p.id == procedure)) else {
                eprintln!("unknown procedure {procedure}");
                return ExitCode::from(1);
            };
            println!("{} / {} (v{})", p.name_vi, p.name_en, p.version);
            for f in &p.fields {
                println!(
                    "  {:<22} {:<10} {}{}{}",
                    f.key,
                    format!("{:?}", f.kind).to_lowercase(),
                    f.label_vi,
                    if f.required { " *" } else { "" },
                    if f.locked {
                        " [CSDL dân cư, khoá]"
                    } else if f.autofill.is_some() {
                        " [tự điền]"
                    } else {
                        ""
                    }
                );
                for i in &f.item_fields {
                    println!(
                        "    {}.<n>.{:<14} {:<10} {}{}",
                        f.key,
                        i.key,
                        format!("{:?}", i.kind).to_lowercase(),
                        i.label_vi,
                        if i.required { " *" } else { "" }
                    );
                }
            }
            for a in &p.attachments {
                println!(
                    "  📎 {:<19} {} ({}; ≤ {} bytes){}",
                    a.key,
                    a.label_vi,
                    a.mime_types.join(", "),
                    a.max_bytes,
                    if a.required { " *" } else { "" }
                );
            }
            ExitCode::SUCCESS
        }
        ServicesOp::Fill { procedure, set, attach, items } => {
            if core.status().map(|s| s.logged_in).unwrap_or(false) {
                let _ = core.refresh_profile().await;
            }
            let _ = core.refresh_catalogue().await;
            let d = match core.create_draft(procedure) {
                Ok(d) => d,
                Err(e) => return report(&e),
            };
            for spec in items {
                let (group, n) = spec.split_once('=').unwrap_or((&spec, "1"));
                for _ in 0..n.parse::<u32>().unwrap_or(1) {
                    if let Err(e) = core.add_group_item(d.draft_id.clone(), group.into()) {
                        return report(&e);
                    }
                }
            }
            for kv in set {
                let Some((k, v)) = kv.split_once('=') else {
                    eprintln!("--set expects path=value");
                    return ExitCode::from(2);
                };
                if let Err(e) = core.set_field(d.draft_id.clone(), k.into(), v.into()) {
                    return service_exit(&e);
                }
            }
            for a in attach {
                let Some((k, rest)) = a.split_once('=') else {
                    eprintln!("--attach expects key=file:mime");
                    return ExitCode::from(2);
                };
                let (file, mime) = rest.rsplit_once(':').unwrap_or((rest, "application/pdf"));
                if let Err(e) = core.attach_file(d.draft_id.clone(), k.into(), file.into(), mime.into()) {
                    return service_exit(&e);
                }
            }
            println!("draft_id={}", d.draft_id);
            match core.validate_draft(d.draft_id) {
                Ok(errors) if errors.is_empty() => {
                    println!("valid");
                    ExitCode::SUCCESS
                }
                Ok(errors) => {
                    for f in errors {
                        println!("  {} [{}]: {} / {}", f.field, f.code, f.message_vi, f.message_en);
                    }
                    ExitCode::from(3)
                }
                Err(e) => report(&e),
            }
        }
        ServicesOp::Submit { draft_id } => {
            let pass = secret("CITIZEN_PASSCODE", "Mã bảo vệ / passcode");
            match core.clone().submit_draft(draft_id, pass.to_string()).await {
                Ok(item) => {
                    println!("queued submission_id={} sha256={}", item.submission_id, item.payload_sha256);
                    match core.sync_outbox().await {
                        Ok(r) => println!("delivered={} remaining={}", r.delivered, r.remaining),
                        Err(e) => eprintln!("sync: {}", e.detail().message_en),
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => service_exit(&e),
            }
        }
        ServicesOp::Status => {
            let _ = core.sync_cases().await;
            match (core.outbox(), core.cases()) {
                (Ok(items), Ok(cases)) => {
                    for i in items {
                        println!(
                            "outbox {} {} {:?} attempts={} case={}{}",
                            i.submission_id,
                            i.procedure_id,
                            i.state,
                            i.attempts,
                            i.case_number.unwrap_or_else(|| "-".into()),
                            i.last_error.map(|e| format!(" ({})", e.code)).unwrap_or_default()
                        );
                    }
                    for c in cases {
                        println!(
                            "case {} {} {:?}{}",
                            c.case_number,
                            c.procedure_id,
                            c.status,
                            c.note_vi.map(|n| format!(" — {n}")).unwrap_or_default()
                        );
                    }
                    ExitCode::SUCCESS
                }
                (Err(e), _) | (_, Err(e)) => report(&e),
            }
        }
        ServicesOp::Sync => {
            let r = match core.sync_outbox().await {
                Ok(r) => r,
                Err(e) => return report(&e),
            };
            println!("delivered={} rejected={} remaining={}", r.delivered, r.rejected, r.remaining);
            if let Some(e) = r.last_error {
                println!("stopped: [{}] {}", e.code, e.message_en);
            }
            match core.sync_cases().await {
                Ok(events) => {
                    for e in events {
                        println!("case {} → {:?}", e.case_number, e.status);
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => report(&e),
            }
        }
    }
}

fn consent_exit(e: &citizen_core::ConsentError) -> ExitCode {
    use citizen_core::ConsentError as C;
    report(e);
    match e {
        C::PasscodeIncorrect { .. } => ExitCode::from(2),
        C::LockedOut { .. } => ExitCode::from(3),
        C::Wiped { .. } => ExitCode::from(4),
        _ => ExitCode::from(1),
    }
}

fn print_receipt(r: &citizen_core::ReceiptInfo) {
    if let Some(d) = &r.damage {
        println!("#{} {} {} {:?} DAMAGED {} — {}", r.sequence, r.issued_at, r.receipt_id, r.kind, d.code, d.message_en);
        return;
    }
    println!(
        "#{} {} {} {:?} rp={} \"{}\" origin={} purpose={} claims={} retention_days={} delivery={:?}",
        r.sequence,
        r.issued_at,
        r.receipt_id,
        r.kind,
        r.relying_party_id,
        r.relying_party_name,
        r.origin,
        r.purpose,
        r.claims.join(","),
        r.retention_days,
        r.delivery
    );
}

async fn qr(core: std::sync::Arc<CitizenCore>, op: QrOp) -> ExitCode {
    match op {
        QrOp::Scan { frame } => {
            let r = if frame.trim_start().starts_with("citizenid:") {
                core.open_login_link(frame).await
            } else {
                core.scan_login_code(frame).await
            };
            match r {
                Ok(i) => {
                    println!("session_id={}", i.session_id);
                    println!(
                        "relying_party={} {} / {}",
                        i.relying_party_id, i.relying_party_name_vi, i.relying_party_name_en
                    );
                    println!("origin={}", i.origin);
                    for c in &i.claims {
                        println!("claim {} — {} / {}", c.name, c.label_vi, c.label_en);
                    }
                    println!("code_choices={}", i.code_choices.join(" "));
                    println!("expires_at={} same_device={}", i.expires_at, i.same_device);
                    println!("Chọn mã đang hiển thị trên trang web / pick the code the website shows: citizen qr approve {} --code NN", i.session_id);
                    ExitCode::SUCCESS
                }
                Err(e) => consent_exit(&e),
            }
        }
        QrOp::Approve { session_id, code } => {
            let pass = secret("CITIZEN_PASSCODE", "Mã bảo vệ / passcode");
            match core.approve_login(session_id, code, pass.to_string()).await {
                Ok(a) => {
                    println!("approved");
                    print_receipt(&a.receipt);
                    if let Some(u) = a.redirect_url {
                        println!("redirect_url={u}");
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => consent_exit(&e),
            }
        }
        QrOp::Deny { session_id } => match core.deny_login(session_id).await {
            Ok(()) => {
                println!("denied");
                ExitCode::SUCCESS
            }
            Err(e) => consent_exit(&e),
        },
    }
}

fn receipts(core: std::sync::Arc<CitizenCore>, op: ReceiptsOp) -> ExitCode {
    match op {
        ReceiptsOp::List => match core.list_receipts() {
            Ok(rs) => {
                for r in &rs {
                    print_receipt(r);
                }
                ExitCode::SUCCESS
            }
            Err(e) => consent_exit(&e),
        },
        ReceiptsOp::Export { out } => match core.export_receipts() {
            Ok(json) => write_out(out.as_deref(), &json),
            Err(e) => consent_exit(&e),
        },
        ReceiptsOp::Verify { file, server_key } => {
            let read = |p: &PathBuf| {
                std::fs::read_to_string(p).map_err(|e| {
                    eprintln!("cannot read {}: {e}", p.display());
                    ExitCode::from(1)
                })
            };
            let json = match read(&file) {
                Ok(j) => j,
                Err(c) => return c,
            };
            let key = match server_key.as_ref().map(read).transpose() {
                Ok(k) => k,
                Err(c) => return c,
            };
            match citizen_core::verify_receipt_export(json, key) {
                Ok(n) => {
                    println!("receipts={n} valid=true");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    report(&e);
                    println!("valid=false");
                    ExitCode::from(5)
                }
            }
        }
    }
}

async fn share(core: std::sync::Arc<CitizenCore>, request: String, with: Vec<String>) -> ExitCode {
    let info = match core.open_share_request(request).await {
        Ok(i) => i,
        Err(e) => return consent_exit(&e),
    };
    println!("request_id={}", info.request_id);
    println!("relying_party={} {} / {}", info.relying_party_id, info.relying_party_name_vi, info.relying_party_name_en);
    println!("purpose={} — {} / {}", info.purpose, info.purpose_vi, info.purpose_en);
    println!("retention_days={} expires_at={}", info.retention_days, info.expires_at);
    for c in &info.required {
        println!("required {} — {} / {}", c.name, c.label_vi, c.label_en);
    }
    for c in &info.optional {
        let chosen = if with.contains(&c.name) { " [chọn / chosen]" } else { "" };
        println!("optional {} — {} / {}{chosen}", c.name, c.label_vi, c.label_en);
    }
    let pass = secret("CITIZEN_PASSCODE", "Mã bảo vệ / passcode");
    match core.share_data(info.request_id, with, pass.to_string()).await {
        Ok(o) => {
            println!("shared={} accepted={}", o.disclosed_claims.join(","), o.relying_party_accepted);
            print_receipt(&o.receipt);
            ExitCode::SUCCESS
        }
        Err(e) => consent_exit(&e),
    }
}

fn service_exit(e: &citizen_core::ServiceError) -> ExitCode {
    report(e);
    if let citizen_core::ServiceError::InvalidForm { fields, .. } = e {
        for f in fields {
            eprintln!("  {} [{}]: {} / {}", f.field, f.code, f.message_vi, f.message_en);
        }
    }
    ExitCode::from(1)
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

/// Write an export to `out`, or to stdout when no file is given.
fn write_out(out: Option<&std::path::Path>, json: &str) -> ExitCode {
    match out {
        Some(p) => match std::fs::write(p, json) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("cannot write {}: {e}", p.display());
                ExitCode::from(1)
            }
        },
        None => {
            println!("{json}");
            ExitCode::SUCCESS
        }
    }
}
