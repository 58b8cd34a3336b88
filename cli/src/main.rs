//! `citizen` — desktop/kiosk shell of citizen-core.
//!
//! `citizen demo` runs the whole story against an in-process server. The other subcommands
//! drive a running `citizen-server`; passcodes and OTP-protected values are read from the
//! environment (`CITIZEN_PASSCODE`, `CITIZEN_NEW_PASSCODE`) or from standard input, never from
//! the command line (which other users can see in the process list).
//!
//! This file holds the argument definitions and the dispatch; each command group lives in
//! `commands/`, and every error leaves through the one mapping in `commands/exit.rs`.
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_possible_wrap,
        clippy::cast_lossless
    )
)]

mod commands;

use std::path::PathBuf;
use std::process::ExitCode;

use citizen_core::EnrollmentInput;
use clap::{Parser, Subcommand};

use commands::exit;

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
    /// The children under 14 and wards the register names this citizen as parent or guardian
    /// of, with their mandates and the cases filed on their behalf; `--revoke MANDATE_ID`
    /// revokes one.
    Dependants {
        /// Revoke this mandate.
        #[arg(long)]
        revoke: Option<String>,
    },
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
    /// Show a short identity QR (valid 60 s, device-signed; passcode), or verify one offline.
    IdentityQr {
        #[command(subcommand)]
        op: Option<IdentityQrOp>,
    },
    /// Who read the citizen's register record (officials, relying parties, the back office),
    /// filtered by agency and period; `--export FILE` writes the server-signed log; `access
    /// verify FILE --server-key KEY` checks an export offline (exit 5 when it does not verify).
    Access {
        #[command(subcommand)]
        op: Option<AccessOp>,
        /// Only this agency.
        #[arg(long)]
        agency: Option<String>,
        /// From this day (YYYY-MM-DD, Vietnam time).
        #[arg(long)]
        from: Option<String>,
        /// Up to this day, inclusive.
        #[arg(long)]
        to: Option<String>,
        /// Write the server-signed log (a JWS) to this file.
        #[arg(long)]
        export: Option<PathBuf>,
    },
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
    /// The documents wallet: CCCD, driving licence, health insurance, vehicle registration
    /// (ISO 18013-5 mdocs and SD-JWT VCs bound to this device's key).
    Documents {
        #[command(subcommand)]
        op: DocumentsOp,
    },
    /// Verifier mode (police, hospital, bank; no account): `refresh` / `status` of the cached
    /// trust list and status list, or check a presentation offline with `--connect --qr`
    /// (exit 0 valid, 5 invalid, 10 partly unchecked). Cached under `<data-dir>/verifier`.
    Verify {
        #[command(subcommand)]
        op: Option<VerifyOp>,
        /// The citizen's `citizen documents present` address, e.g. 127.0.0.1:7000.
        #[arg(long, requires = "qr")]
        connect: Option<String>,
        /// The engagement QR text (`mdoc:…`).
        #[arg(long)]
        qr: Option<String>,
        /// What to ask: driving-licence or age-over-18.
        #[arg(long, default_value = "driving-licence")]
        preset: String,
    },
    /// Public-service requests.
    Services {
        #[command(subcommand)]
        op: ServicesOp,
    },
    /// The chip of the ID card through a PC/SC reader (kiosk).
    Chip {
        #[command(subcommand)]
        op: ChipOp,
    },
    /// The one-stop counter: forms filled from the citizen's chip ID card.
    Kiosk {
        #[command(subcommand)]
        op: KioskOp,
    },
}

#[derive(Subcommand)]
enum AccessOp {
    /// Verify an exported access log offline against the server key obtained independently
    /// (a JWK or the JWKS of `/v1/keys`).
    Verify {
        /// The export (`citizen access --export FILE`).
        file: PathBuf,
        #[arg(long)]
        server_key: PathBuf,
    },
}

#[derive(Subcommand)]
enum IdentityQrOp {
    /// Verify a code offline (exit 0 valid, 5 refused) against the server key obtained
    /// independently (a JWK or the JWKS of `/v1/keys`); the audience is --server.
    Verify {
        /// The scanned text (`CZID1:…`).
        text: String,
        #[arg(long)]
        server_key: PathBuf,
    },
}

#[derive(Subcommand)]
enum KioskOp {
    /// Read and verify the card on the counter's reader, show the fields it will copy and ask
    /// for the citizen's consent, fill a residence notification (the card holder as the guest
    /// of the logged-in host), submit it through the outbox (passcode: CITIZEN_PASSCODE or
    /// stdin), and wipe the chip data. Exit 9 when the citizen does not consent.
    ChipForm {
        /// The 6 digits printed on the card (CAN), typed by the citizen.
        #[arg(long)]
        can: String,
        /// CSCA certificate(s) to trust (DER or PEM; repeatable).
        #[arg(long = "csca", required = true)]
        csca: Vec<PathBuf>,
        /// The reader's PC/SC name (default: the first reader holding a card).
        #[arg(long)]
        reader: Option<String>,
        /// Seconds to wait for the card.
        #[arg(long, default_value_t = 10)]
        wait: u64,
        /// The citizen consented on the counter's screen (otherwise asked on stdin).
        #[arg(long)]
        yes: bool,
        /// The guest's relationship to the host (form code).
        #[arg(long, default_value = "ban_be")]
        relationship: String,
        /// The reason of the stay (form code).
        #[arg(long, default_value = "du_lich")]
        reason: String,
        /// Nights of the stay, from tomorrow.
        #[arg(long, default_value_t = 4)]
        nights: u32,
    },
}

#[derive(Subcommand)]
enum ChipOp {
    /// List the PC/SC readers and whether each holds a card.
    Readers,
    /// Read what the chip announces before access control (EF.CardAccess: the PACE protocol and
    /// its domain parameters) and select the eMRTD application. Needs no CAN.
    Probe {
        /// The reader's PC/SC name (default: the first reader holding a card).
        #[arg(long)]
        reader: Option<String>,
        /// Seconds to wait for a card to be placed on the reader.
        #[arg(long, default_value_t = 10)]
        wait: u64,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Use extended-length APDUs even though the reader does not report support for them
        /// (PC/SC `SCARD_ATTR_MAXINPUT`; vpcd and some contactless readers report nothing).
        #[arg(long)]
        extended_length: bool,
    },
    /// Read and verify the chip: PACE with the CAN (or PACE/BAC with the MRZ data), secure
    /// messaging, EF.COM, EF.SOD, DG1, DG13, DG14 + chip authentication, DG15 + active
    /// authentication, passive authentication against the CSCA trust list. Prints the verified
    /// record (the ID number masked unless --show), the results and each step's duration.
    Read {
        /// The 6 digits printed on the card (CAN).
        #[arg(long, required_unless_present = "mrz", conflicts_with = "mrz")]
        can: Option<String>,
        /// MRZ data instead of the CAN: `NUMBER,YYMMDD,YYMMDD` (document number or the 12-digit
        /// ID number, date of birth, date of expiry). PACE with the MRZ, or BAC when the card has
        /// no PACE.
        #[arg(long, visible_alias = "bac")]
        mrz: Option<String>,
        /// CSCA certificate(s) to trust (DER or PEM; repeatable). The software card's test CSCA:
        /// `virtual-card export-csca FILE`.
        #[arg(long = "csca", required = true)]
        csca: Vec<PathBuf>,
        /// The reader's PC/SC name (default: the first reader holding a card).
        #[arg(long)]
        reader: Option<String>,
        /// Seconds to wait for a card to be placed on the reader.
        #[arg(long, default_value_t = 10)]
        wait: u64,
        /// Show the ID numbers in full.
        #[arg(long)]
        show: bool,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Also read DG2 (the face image, the largest file).
        #[arg(long)]
        face: bool,
        /// Write every file as read to this directory (`DG1.bin`, `EF.SOD.bin`, …), to compare
        /// with another reader. Personal data: for test cards.
        #[arg(long)]
        dump: Option<PathBuf>,
        /// Use extended-length APDUs even though the reader does not report support for them.
        #[arg(long)]
        extended_length: bool,
    },
}

#[derive(Subcommand)]
enum DocumentsOp {
    /// List the held documents.
    List,
    /// Show one document's fields (Vietnamese and English labels).
    Show {
        /// The document id (from `list`).
        id: String,
        /// Save the portrait (JPEG) to this file.
        #[arg(long)]
        portrait: Option<PathBuf>,
    },
    /// Fetch the documents from the server, check each one and store them (replaces the set).
    Refresh,
    /// Delete a document from this device.
    Delete {
        /// The document id.
        id: String,
    },
    /// Present documents in person to a verifier over TCP (ISO 18013-5 framing): print the
    /// engagement QR text, wait for `citizen verify --connect`, show who asks and what, then
    /// disclose (passcode: CITIZEN_PASSCODE or stdin).
    Present {
        /// Where to listen, e.g. 127.0.0.1:7000 (port 0: any).
        #[arg(long)]
        listen: String,
        /// Disclose only these requested elements (comma-separated identifiers).
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        /// Decline instead of disclosing.
        #[arg(long)]
        decline: bool,
    },
}

#[derive(Subcommand)]
enum VerifyOp {
    /// Fetch, verify and cache the signed trust list and the token status list (online).
    Refresh,
    /// How old the cached lists are.
    Status,
    /// Enrol this verifier as an authenticated reader (online, once per terminal): a reader key
    /// is generated here and certified by the server for a role; from then on the citizen's
    /// phone shows the reader's name and refuses what the role may not ask for. The operator's
    /// officials' token is read from a file (never from the command line, where `ps` shows it).
    EnrolReader {
        /// police, hospital or bank.
        #[arg(long = "as")]
        role: String,
        /// File holding the officials' token (e.g. `<server data dir>/official-token`).
        #[arg(long)]
        official_token_file: std::path::PathBuf,
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
        /// File on behalf of this dependant (CCCD number; see `citizen dependants`): the form is
        /// prefilled from their record and the submission names the mandate.
        #[arg(long = "for")]
        for_dependant: Option<String>,
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

/// Open the core from the global options and run the command.
async fn run(cli: Cli) -> ExitCode {
    if let Command::Demo { data_dir } = cli.command {
        return commands::demo::run(data_dir).await;
    }
    // The card reader needs no core (no data directory, no server).
    if let Command::Chip { op } = cli.command {
        return match op {
            ChipOp::Readers => commands::chip::readers(),
            ChipOp::Probe { reader, wait, json, extended_length } => {
                let extended = extended_length.then_some(true);
                commands::chip::probe(reader, std::time::Duration::from_secs(wait), extended, json)
            }
            ChipOp::Read { can, mrz, csca, reader, wait, show, json, face, dump, extended_length } => {
                commands::chip::read(commands::chip::ReadArgs {
                    can,
                    mrz,
                    csca,
                    reader,
                    wait: std::time::Duration::from_secs(wait),
                    show,
                    json,
                    face,
                    dump,
                    extended_length: extended_length.then_some(true),
                })
            }
        };
    }
    let mut pems = vec![];
    for p in &cli.ca {
        match commands::read(p) {
            Ok(s) => pems.push(s),
            Err(c) => return c,
        }
    }
    // The verifier mode needs no account (its own cache under the data directory).
    if let Command::Verify { op, connect, qr, preset } = &cli.command {
        let config = commands::verify::config(&cli.server, &cli.data_dir, pems, cli.pins.clone());
        let verifier = match citizen_core::Verifier::open(config).await {
            Ok(v) => v,
            Err(e) => return exit::fail(&e),
        };
        return match (op, connect, qr) {
            (Some(VerifyOp::Refresh), _, _) => commands::verify::refresh(&verifier).await,
            (Some(VerifyOp::Status), _, _) => commands::verify::status(&verifier).await,
            (Some(VerifyOp::EnrolReader { role, official_token_file }), _, _) => {
                commands::verify::enrol_reader(&verifier, role, official_token_file).await
            }
            (None, Some(connect), Some(qr)) => commands::verify::session(&verifier, connect, qr, preset).await,
            (None, _, _) => exit::other("citizen verify: refresh, status, enrol-reader, or --connect ADDR --qr TEXT"),
        };
    }
    let config = citizen_cli::desktop_config(&cli.server, &cli.data_dir.to_string_lossy(), pems, cli.pins.clone());
    let core = match citizen_cli::open_core(config) {
        Ok(c) => c,
        Err(e) => return exit::fail(&e),
    };

    use commands::{account, devices, enroll};
    match cli.command {
        Command::Demo { .. } | Command::Chip { .. } | Command::Verify { .. } => unreachable!("handled above"),
        Command::Status => account::status(&core).await,
        Command::Enroll { step: EnrollStep::Start { cccd, dob, phone } } => {
            enroll::start(&core, EnrollmentInput { cccd, date_of_birth: dob, phone }).await
        }
        Command::Enroll { step: EnrollStep::Complete { otp } } => enroll::complete(&core, otp).await,
        Command::Login => account::login(&core).await,
        Command::Refresh => account::refresh(&core).await,
        Command::Logout => account::logout(&core).await,
        Command::Devices => devices::list(&core).await,
        Command::RevokeDevice { device_id } => devices::revoke(&core, device_id).await,
        Command::ApproveTransfer { enrollment_id } => devices::approve_transfer(&core, enrollment_id).await,
        Command::DeviceStatus => devices::status(&core).await,
        Command::Passcode { op } => commands::passcode::run(&core, op).await,
        Command::Services { op } => commands::services::run(core, op).await,
        Command::Kiosk { op: KioskOp::ChipForm { can, csca, reader, wait, yes, relationship, reason, nights } } => {
            let args = commands::kiosk::ChipFormArgs {
                can,
                csca,
                reader,
                wait: std::time::Duration::from_secs(wait),
                yes,
                relationship,
                reason,
                nights,
            };
            commands::kiosk::chip_form(core, args).await
        }
        Command::Log { op } => commands::log::run(&core, op).await,
        Command::Access { op: None, agency, from, to, export } => {
            commands::access::list(&core, agency, from, to, export).await
        }
        Command::Access { op: Some(AccessOp::Verify { file, server_key }), .. } => {
            commands::access::verify(&file, &server_key)
        }
        Command::Dependants { revoke } => commands::dependants::run(&core, revoke).await,
        Command::Documents { op } => commands::documents::run(&core, op).await,
        Command::Qr { op } => commands::qr::run(&core, op).await,
        Command::Receipts { op } => commands::receipts::run(&core, op.unwrap_or(ReceiptsOp::List)).await,
        Command::Share { request, with } => commands::share::run(&core, request, with).await,
        Command::ResetDevice => account::reset_device(&core).await,
        Command::IdentityQr { op: None } => commands::identity::show(&core).await,
        Command::IdentityQr { op: Some(IdentityQrOp::Verify { text, server_key }) } => {
            commands::identity::verify(&cli.server, &text, &server_key)
        }
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
