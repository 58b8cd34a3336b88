//! `citizen-server` command line: run the reference backend.
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

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use citizen_server::{FileOtpOutbox, Limits, LogOtpSender, OtpSender, ServerConfig, TlsSource};
use clap::Parser;

/// Reference e-government backend of citizen-core (fictitious population register).
#[derive(Parser, Debug)]
#[command(name = "citizen-server", version)]
struct Args {
    /// Address to listen on (port 0 = any free port).
    #[arg(long, default_value = "127.0.0.1:8443")]
    listen: SocketAddr,
    /// Directory for the database, keys and dev PKI.
    #[arg(long, default_value = "citizen-server-data")]
    data_dir: PathBuf,
    /// Public origin (https://host[:port]) behind a proxy: what devices sign for and the base of
    /// every URL the server shows (default: https://{listen-ip}:{port}).
    #[arg(long)]
    public_url: Option<String>,
    /// Certificate chain PEM (leaf first); without it a development PKI is generated.
    #[arg(long, requires = "key")]
    cert: Option<PathBuf>,
    /// Private key PEM for --cert.
    #[arg(long, requires = "cert")]
    key: Option<PathBuf>,
    /// Extra host name for the generated development certificate (repeatable).
    #[arg(long = "hostname")]
    hostnames: Vec<String>,
    /// DEVELOPMENT ONLY: append every OTP (in clear) to this JSON-lines file.
    #[arg(long)]
    dev_otp_file: Option<PathBuf>,
    /// Instead of serving: a maintenance task on --data-dir (the server must not be running).
    #[command(subcommand)]
    task: Option<Task>,
    /// Waiting period of a recovery without the old phone, in seconds (default 24 h).
    #[arg(long, default_value_t = citizen_protocol::protocol::recovery::DEFAULT_WAIT_SECS)]
    recovery_wait_secs: i64,
    /// Database: `postgres://user@host:port/db` for PostgreSQL, which several instances can
    /// share behind a load balancer (they must also share --data-dir: keys and PKI live there).
    /// Default: SQLite in --data-dir.
    #[arg(long)]
    database: Option<String>,
}

#[derive(clap::Subcommand, Debug)]
enum Task {
    /// Fill the register with fictitious citizens and a synthetic year of cases through the real
    /// enrollment and signed-submission path (for the officials' dashboard demo).
    SeedCases {
        /// Calendar year.
        #[arg(long)]
        year: i32,
        /// Number of cases.
        #[arg(long, default_value_t = 2000)]
        count: usize,
        /// Number of fictitious citizens (spread over the 34 provinces).
        #[arg(long, default_value_t = 340)]
        citizens: usize,
        /// Random seed.
        #[arg(long, default_value_t = 2026)]
        seed: u64,
        /// End of the simulation, YYYY-MM-DD (default: end of the year, or today).
        #[arg(long)]
        until: Option<String>,
    },
    /// Create a named official with roles (records, dashboard, counter, register); prints the token once.
    AddOfficial {
        /// Staff id.
        #[arg(long)]
        id: String,
        /// Agency.
        #[arg(long)]
        agency: String,
        /// Roles, comma-separated.
        #[arg(long, default_value = "dashboard")]
        roles: String,
    },
}

fn run_task(data_dir: PathBuf, task: Task) -> std::process::ExitCode {
    use citizen_server::officials::Role;
    match task {
        Task::SeedCases { year, count, citizens, seed, until } => {
            let until = match until.as_deref().map(citizen_protocol::cccd::Date::parse) {
                Some(None) => {
                    eprintln!("citizen-server: --until must be YYYY-MM-DD");
                    return std::process::ExitCode::FAILURE;
                }
                Some(Some(d)) => Some(citizen_server::dashboard::vn_midnight(d) + 86_400),
                None => None,
            };
            let opts = citizen_server::seed_cases::SeedOptions { year, count, citizens, seed, until };
            let rt = tokio::runtime::Runtime::new().expect("runtime");
            match rt.block_on(citizen_server::seed_cases::run(data_dir, opts)) {
                Ok(r) => {
                    println!(
                        "citizens={} cases={} counter={} decided={} supplements={} refused={}",
                        r.citizens, r.cases, r.counter, r.decided, r.supplements, r.refused
                    );
                    std::process::ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("citizen-server seed-cases: {e}");
                    std::process::ExitCode::FAILURE
                }
            }
        }
        Task::AddOfficial { id, agency, roles } => {
            let roles: Option<Vec<Role>> = roles.split(',').map(Role::parse).collect();
            let Some(roles) = roles.filter(|r| !r.is_empty()) else {
                eprintln!("citizen-server: --roles is a comma-separated list of records, dashboard, counter, register");
                return std::process::ExitCode::FAILURE;
            };
            let r = citizen_server::db::open(&data_dir.join("citizen-server.db")).map_err(|e| e.to_string()).and_then(
                |c| {
                    let now = citizen_protocol::clock::Clock::now(&citizen_protocol::clock::SystemClock);
                    citizen_server::officials::add(&c, &id, &agency, &roles, now).map_err(|e| e.to_string())
                },
            );
            match r {
                Ok(token) => {
                    println!("{token}");
                    std::process::ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("citizen-server add-official: {e}");
                    std::process::ExitCode::FAILURE
                }
            }
        }
    }
}

fn main() -> std::process::ExitCode {
    let mut args = Args::parse();
    let level = if args.task.is_some() { "warn" } else { "info" };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| level.into()))
        .init();
    if let Some(task) = args.task.take() {
        return run_task(args.data_dir, task);
    }
    tokio::runtime::Runtime::new().expect("runtime").block_on(serve(args))
}

async fn serve(args: Args) -> std::process::ExitCode {
    let otp_sender: Arc<dyn OtpSender> = match &args.dev_otp_file {
        Some(p) => {
            eprintln!(
                "WARNING: --dev-otp-file writes one-time passwords in clear to {}. Development and tests only.",
                p.display()
            );
            Arc::new(FileOtpOutbox::new(p))
        }
        None => Arc::new(LogOtpSender),
    };
    let tls = match (args.cert, args.key) {
        (Some(cert_pem), Some(key_pem)) => TlsSource::Files { cert_pem, key_pem },
        _ => TlsSource::Generate { hostnames: args.hostnames },
    };
    let config = ServerConfig {
        listen: args.listen,
        data_dir: args.data_dir,
        public_url: args.public_url,
        tls,
        otp_sender,
        clock: Arc::new(citizen_protocol::clock::SystemClock),
        limits: Limits { recovery_wait_secs: args.recovery_wait_secs.max(0), ..Limits::default() },
        database: args.database,
    };
    let server = match citizen_server::start(config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("citizen-server: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let ca_path = std::fs::canonicalize(&server.ca_cert_path).unwrap_or(server.ca_cert_path.clone());
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "CITIZEN_SERVER_READY base_url={} audience={} ca={} pin={} backup_pin={}",
            server.base_url,
            server.audience,
            ca_path.display(),
            server.spki_pin,
            server.backup_spki_pin
        );
        let _ = out.flush();
    }
    eprintln!("citizen-server listening on {} (audience {})", server.base_url, server.audience);
    eprintln!("trust anchor: {}", ca_path.display());
    eprintln!("officials' API token: {}", server.official_token_path.display());
    eprintln!("SPKI pins: primary {} backup {}", server.spki_pin, server.backup_spki_pin);

    shutdown_signal().await;
    eprintln!("citizen-server: shutting down");
    server.shutdown().await;
    std::process::ExitCode::SUCCESS
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
