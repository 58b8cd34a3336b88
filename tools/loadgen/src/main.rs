//! `citizen-loadgen`: a load benchmark of the reference server (issue 14).
//!
//! Starts the server binary (a separate process, so its CPU time can be read from
//! `/proc/<pid>/stat`) on a fresh data directory, enrolls the fictitious seed citizens through
//! the real API (OTP from the development OTP file, proof of possession signed by a software
//! key), then measures for each client count:
//!
//! - logins/s: `POST /v1/auth/challenge` + `POST /v1/auth/login` (a fresh signature per login);
//! - submissions/s: `POST /v1/submissions` of an ID-card reissue form (no attachments);
//! - the server's CPU time per operation (user + system);
//! - the crypto-only bound of a login, measured in the same run: one ring P-256 verify (the
//!   device statement) plus one ring P-256 sign (the access token) per login, per core.
//!
//! A benchmark, not a test: it prints a table and fails only when an operation is refused.
//! `--smoke` runs a few seconds with tiny numbers (checks that the tool still works).
//!
//! Backends and scale-out (issue 14, decision 41): `--database postgres` starts a private
//! PostgreSQL cluster for the run (or `--database postgres://…` uses one), and `--instances 3`
//! starts three server processes sharing it and one data directory, behind a round-robin TCP
//! proxy on loopback (each new connection goes to the next instance). Server CPU is summed over
//! the instances; PostgreSQL's own CPU (the postmaster and its backends) is reported beside it.
//!
//! `--check` runs the scale-out correctness scenario instead of the benchmark: 64 concurrent
//! clients, each request on a new connection (so consecutive requests land on different
//! instances), doing logins, idempotent submissions sent to three instances at once, refresh
//! races and (eight of them) nonce and counter replays; it fails unless no nonce and no counter
//! was accepted twice, every submission was stored exactly once with one answer, and every
//! refresh-token reuse was detected.
#![forbid(unsafe_code)]
#![allow(
    clippy::unwrap_used,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

mod check;
mod cluster;

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use citizen_protocol::crypto::{b64, low_s};
use citizen_protocol::protocol::services::{self as ps, CitizenProfileDto, SubmissionPayload};
use citizen_protocol::protocol::{self as p, Purpose, SignedStatement, Statement};
use clap::Parser;
use ring::rand::SystemRandom;
use ring::signature::{self as rs, EcdsaKeyPair, KeyPair};
use serde_json::{json, Value};

/// Load benchmark of the reference server.
#[derive(Parser, Debug)]
#[command(name = "citizen-loadgen")]
struct Args {
    /// Client counts to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
    clients: Vec<usize>,
    /// Seconds per measurement (each client count, logins and submissions separately).
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// The server binary (default: `citizen-server` next to this executable).
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// Data directory for the server (default: a fresh directory under the system temp dir,
    /// removed at the end). Put it on the disk you want to measure.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Measure only logins (`login`) or only submissions (`submit`); default both.
    #[arg(long)]
    only: Option<String>,
    /// A few seconds with small numbers: checks that the tool works (for the test command).
    #[arg(long)]
    smoke: bool,
    /// `sqlite` (default), `postgres` (a private cluster started for this run) or a
    /// `postgres://…` URL.
    #[arg(long, default_value = "sqlite")]
    database: String,
    /// Server instances (more than one needs PostgreSQL); they share the data directory and sit
    /// behind a round-robin proxy.
    #[arg(long, default_value_t = 1)]
    instances: usize,
    /// Run the scale-out correctness check instead of the benchmark.
    #[arg(long)]
    check: bool,
    /// Concurrent clients of `--check`.
    #[arg(long, default_value_t = 64)]
    check_clients: usize,
    /// Print the PostgreSQL binaries' directory and exit 0, or exit 2 if there are none.
    #[arg(long)]
    probe_postgres: bool,
}

/// A device: a seed citizen's enrolled software key and its two counters.
struct Device {
    id: String,
    key: EcdsaKeyPair,
    login_counter: AtomicU64,
    submit_counter: AtomicU64,
    /// Form values from the citizen's profile (auto-filled fields of the ID-card form).
    values: BTreeMap<String, String>,
}

struct Ctx {
    base: String,
    audience: String,
    http_ca: String,
    devices: Vec<Device>,
    rng: SystemRandom,
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

fn sign(key: &EcdsaKeyPair, rng: &SystemRandom, st: Statement) -> SignedStatement {
    let sig = key.sign(rng, &st.canonical_bytes()).unwrap();
    // ring does not normalise; the server accepts low-S only.
    let sig = low_s(p256::ecdsa::Signature::from_slice(sig.as_ref()).unwrap());
    SignedStatement { statement: st, signature: b64(&sig.to_bytes()) }
}

fn http_client(ca_pem: &str) -> reqwest::Client {
    http_client_pooled(ca_pem, 1)
}

/// `idle` 0: every request on a new connection (a new instance behind the proxy).
fn http_client_pooled(ca_pem: &str, idle: usize) -> reqwest::Client {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pki_types::CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest::Client::builder().tls_backend_preconfigured(cfg).pool_max_idle_per_host(idle).build().unwrap()
}

async fn post(http: &reqwest::Client, url: String, body: &Value, headers: &[(&str, &str)]) -> (u16, Value) {
    let mut rb = http.post(url).json(body);
    for (k, v) in headers {
        rb = rb.header(*k, *v);
    }
    match rb.send().await {
        Ok(r) => {
            let st = r.status().as_u16();
            (st, r.json().await.unwrap_or(Value::Null))
        }
        Err(e) => (0, json!({ "error": e.to_string() })),
    }
}

/// The server processes, what they printed when ready, and the proxy and database behind them.
struct Server {
    children: Vec<Child>,
    /// Where clients connect: the single instance, or the proxy.
    base: String,
    audience: String,
    ca_pem: String,
    otp_file: PathBuf,
    /// Connections the proxy handed to each instance.
    proxy_hits: Arc<Vec<AtomicU64>>,
    /// The PostgreSQL URL, if any.
    pg_url: Option<String>,
    /// The private cluster, stopped after the servers (declared after `children`).
    cluster: Option<cluster::Cluster>,
}

impl Drop for Server {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.cluster.take();
    }
}

/// The ready line's fields of one instance.
fn start_instance(
    bin: &Path,
    data_dir: &Path,
    otp_file: &Path,
    database: Option<&str>,
    public_url: Option<&str>,
) -> (Child, BTreeMap<String, String>) {
    let mut cmd = Command::new(bin);
    cmd.args(["--listen", "127.0.0.1:0", "--data-dir"]).arg(data_dir).arg("--dev-otp-file").arg(otp_file);
    if let Some(db) = database {
        cmd.args(["--database", db]);
    }
    if let Some(u) = public_url {
        cmd.args(["--public-url", u]);
    }
    let mut child = cmd
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    std::io::BufReader::new(stdout).read_line(&mut line).unwrap();
    let fields: BTreeMap<String, String> = line
        .split_whitespace()
        .filter_map(|w| w.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
        .collect();
    assert!(fields.contains_key("base_url"), "server did not start: {line}");
    (child, fields)
}

/// Round-robin TCP proxy: each accepted connection goes, bytes untouched (TLS passes through),
/// to the next backend.
async fn proxy(listener: std::net::TcpListener, backends: Vec<std::net::SocketAddr>, hits: Arc<Vec<AtomicU64>>) {
    listener.set_nonblocking(true).unwrap();
    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
    let mut next = 0usize;
    loop {
        let Ok((mut inbound, _)) = listener.accept().await else { continue };
        let i = next % backends.len();
        next += 1;
        hits[i].fetch_add(1, Ordering::Relaxed);
        let backend = backends[i];
        tokio::spawn(async move {
            if let Ok(mut out) = tokio::net::TcpStream::connect(backend).await {
                let _ = inbound.set_nodelay(true);
                let _ = out.set_nodelay(true);
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
            }
        });
    }
}

fn start_server(bin: &Path, data_dir: &Path, database: &str, instances: usize) -> Server {
    let otp_file = data_dir.join("otp.jsonl");
    let (cluster, pg_url) = match database {
        "sqlite" => (None, None),
        "postgres" => {
            let pg_bin = cluster::find_bin().expect("PostgreSQL binaries (initdb, pg_ctl, postgres) not found");
            let c = cluster::Cluster::start(&pg_bin, 200).unwrap_or_else(|e| panic!("private PostgreSQL: {e}"));
            let url = c.url.clone();
            (Some(c), Some(url))
        }
        url => (None, Some(url.to_string())),
    };
    assert!(instances == 1 || pg_url.is_some(), "more than one instance needs PostgreSQL (--database postgres)");
    let mut children = Vec::new();
    let hits: Arc<Vec<AtomicU64>> = Arc::new((0..instances).map(|_| AtomicU64::new(0)).collect());
    let (base, fields) = if instances == 1 {
        let (child, fields) = start_instance(bin, data_dir, &otp_file, pg_url.as_deref(), None);
        children.push(child);
        (fields["base_url"].clone(), fields)
    } else {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let public = format!("https://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let mut backends = Vec::new();
        let mut first = None;
        // One after the other: the first creates the keys and PKI in the shared data directory
        // and migrates the database; the others find them.
        for _ in 0..instances {
            let (child, fields) = start_instance(bin, data_dir, &otp_file, pg_url.as_deref(), Some(&public));
            children.push(child);
            let addr = fields["base_url"].trim_start_matches("https://").parse().unwrap();
            backends.push(addr);
            first.get_or_insert(fields);
        }
        tokio::spawn(proxy(listener, backends, hits.clone()));
        (public, first.unwrap())
    };
    Server {
        children,
        base,
        audience: fields["audience"].clone(),
        ca_pem: std::fs::read_to_string(&fields["ca"]).unwrap(),
        otp_file,
        proxy_hits: hits,
        pg_url,
        cluster,
    }
}

/// CPU seconds of the PostgreSQL cluster (postmaster and every backend), if private.
fn pg_cpu_secs(server: &Server) -> f64 {
    let Some(pid) = server.cluster.as_ref().and_then(cluster::Cluster::postmaster_pid) else { return f64::NAN };
    let mut total = cpu_secs(pid);
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(child) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
        let ppid = stat.rsplit_once(')').and_then(|(_, r)| r.split_whitespace().nth(1)?.parse::<u32>().ok());
        if ppid == Some(pid) {
            total += cpu_secs(child);
        }
    }
    total
}

fn servers_cpu_secs(server: &Server) -> f64 {
    server.children.iter().map(|c| cpu_secs(c.id())).sum()
}

/// User + system CPU seconds of a process (`/proc/<pid>/stat`, fields 14 and 15, in clock ticks
/// of 1/100 s, the value of `CLK_TCK` on Linux).
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name (field 2) may hold spaces: count from the closing parenthesis.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // After ')': field 3 is index 0, so utime (14) is index 11 and stime (15) index 12.
    (ticks(11) + ticks(12)) as f64 / 100.0
}

async fn enroll(ctx_base: &str, audience: &str, http: &reqwest::Client, server: &Server) -> Vec<Device> {
    let rng = SystemRandom::new();
    let mut devices = Vec::new();
    for c in citizen_server::register::SEED {
        let (st, b) = post(
            http,
            format!("{ctx_base}{}", p::PATH_ENROLL_START),
            &json!({"cccd": c.cccd, "date_of_birth": c.date_of_birth, "phone": c.phone}),
            &[],
        )
        .await;
        assert_eq!(st, 200, "enroll start: {b}");
        let eid = b["enrollment_id"].as_str().unwrap().to_string();
        let otp = std::fs::read_to_string(&server.otp_file)
            .unwrap()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["reference"] == eid.as_str())
            .filter_map(|v| v["otp"].as_str().map(str::to_string))
            .next_back()
            .expect("OTP in the dev OTP file");
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&rs::ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let key = EcdsaKeyPair::from_pkcs8(&rs::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
        let id = uuid::Uuid::new_v4().to_string();
        let proof = sign(
            &key,
            &rng,
            Statement {
                purpose: Purpose::Enroll,
                audience: audience.into(),
                nonce: eid.clone(),
                device_id: id.clone(),
                counter: 1,
                issued_at: now(),
                subject: String::new(),
            },
        );
        let reg = p::DeviceRegistration {
            device_id: id.clone(),
            public_key: b64(key.public_key().as_ref()),
            hardware_backed: false,
            attestation_chain: vec![],
            platform: "desktop".into(),
            label: "loadgen".into(),
        };
        let (st, b) = post(
            http,
            format!("{ctx_base}{}", p::PATH_ENROLL_COMPLETE),
            &json!({"enrollment_id": eid, "otp": otp, "device": reg, "proof": proof}),
            &[],
        )
        .await;
        assert_eq!(st, 200, "enroll complete: {b}");
        devices.push(Device {
            id,
            key,
            login_counter: AtomicU64::new(1),
            submit_counter: AtomicU64::new(0),
            values: BTreeMap::new(),
        });
    }
    devices
}

/// One login: challenge, sign, login. `true` when the server issued tokens.
async fn login(ctx: &Ctx, http: &reqwest::Client, dev: &Device) -> Option<Value> {
    let (st, b) = post(
        http,
        format!("{}{}", ctx.base, p::PATH_CHALLENGE),
        &json!({"device_id": dev.id, "purpose": Purpose::Login}),
        &[],
    )
    .await;
    if st != 200 {
        eprintln!("challenge: {st} {b}");
        return None;
    }
    let signed = sign(
        &dev.key,
        &ctx.rng,
        Statement {
            purpose: Purpose::Login,
            audience: ctx.audience.clone(),
            nonce: b["nonce"].as_str()?.to_string(),
            device_id: dev.id.clone(),
            counter: dev.login_counter.fetch_add(1, Ordering::Relaxed) + 1,
            issued_at: now(),
            subject: String::new(),
        },
    );
    let (st, b) = post(http, format!("{}{}", ctx.base, p::PATH_LOGIN), &json!({ "signed": signed }), &[]).await;
    if st != 200 {
        eprintln!("login: {st} {b}");
        return None;
    }
    Some(b)
}

/// The ID-card reissue form of this device's citizen.
fn payload(dev: &Device) -> SubmissionPayload {
    let mut values = dev.values.clone();
    values.insert("reason".into(), "thay_doi_thong_tin".into());
    values.insert("changed_info".into(), "Thay đổi nơi thường trú (dữ liệu thử nghiệm)".into());
    values.insert("delivery".into(), "nhan_tai_co_quan".into());
    SubmissionPayload {
        submission_id: uuid::Uuid::new_v4().to_string(),
        procedure_id: "id-card-reissue".into(),
        procedure_version: 1,
        values,
        attachments: vec![],
        supplements_case: None,
        on_behalf: None,
    }
}

async fn submit(ctx: &Ctx, http: &reqwest::Client, dev: &Device) -> bool {
    let pl = payload(dev);
    let signed = sign(
        &dev.key,
        &ctx.rng,
        Statement {
            purpose: Purpose::Submit,
            audience: ctx.audience.clone(),
            nonce: pl.submission_id.clone(),
            device_id: dev.id.clone(),
            counter: dev.submit_counter.fetch_add(1, Ordering::Relaxed) + 1,
            issued_at: now(),
            subject: pl.digest_hex(),
        },
    );
    let body = json!({ "payload": pl, "signed": signed, "attachment_data": {} });
    let (st, b) = post(
        http,
        format!("{}{}", ctx.base, ps::PATH_SUBMISSIONS),
        &body,
        &[("Idempotency-Key", pl.submission_id.as_str())],
    )
    .await;
    if st != 201 {
        eprintln!("submission: {st} {b}");
    }
    st == 201
}

/// Fill each device's form values from its citizen's profile (one login each).
async fn load_profiles(ctx: &mut Ctx, http: &reqwest::Client) {
    let fields = [
        ("full_name", "full_name"),
        ("date_of_birth", "date_of_birth"),
        ("sex", "sex"),
        ("cccd", "cccd"),
        ("permanent_province", "permanent_residence.province_code"),
        ("permanent_commune", "permanent_residence.commune_code"),
        ("permanent_detail", "permanent_residence.detail"),
        ("phone", "phone"),
    ];
    let mut filled = Vec::new();
    for dev in &ctx.devices {
        let tokens = login(ctx, http, dev).await.expect("first login");
        let resp = http
            .get(format!("{}{}", ctx.base, ps::PATH_PROFILE))
            .bearer_auth(tokens["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        let profile: CitizenProfileDto = resp.json().await.unwrap();
        filled.push(
            fields
                .iter()
                .filter_map(|(k, path)| profile.attribute(path).map(|v| (k.to_string(), v)))
                .collect::<BTreeMap<_, _>>(),
        );
    }
    for (dev, v) in ctx.devices.iter_mut().zip(filled) {
        dev.values = v;
    }
}

#[derive(Clone, Copy)]
enum Op {
    Login,
    Submit,
}

/// Run `clients` concurrent loops of `op` for `secs`; returns (ops done, failures, wall secs).
async fn run(ctx: &Arc<Ctx>, op: Op, clients: usize, secs: f64) -> (u64, u64, f64) {
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    // Connections first, so the measurement excludes TLS handshakes.
    let mut https = Vec::new();
    for _ in 0..clients {
        let http = http_client(&ctx.http_ca);
        let _ = http.get(format!("{}{}", ctx.base, p::PATH_HEALTH)).send().await;
        https.push(http);
    }
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (i, http) in https.into_iter().enumerate() {
        let (ctx, stop, done, failed) = (ctx.clone(), stop.clone(), done.clone(), failed.clone());
        tasks.push(tokio::spawn(async move {
            let dev = &ctx.devices[i % ctx.devices.len()];
            while !stop.load(Ordering::Relaxed) {
                let ok = match op {
                    Op::Login => login(&ctx, &http, dev).await.is_some(),
                    Op::Submit => submit(&ctx, &http, dev).await,
                };
                if ok { &done } else { &failed }.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let counted = done.load(Ordering::Relaxed);
    let wall = start.elapsed().as_secs_f64();
    for t in tasks {
        t.await.unwrap();
    }
    // Operations that completed after the window closed are not counted (nor their CPU: the
    // caller reads it after this returns, a slight overestimate of CPU per operation).
    (counted, failed.load(Ordering::Relaxed), wall)
}

/// CPU time of the calling thread, in seconds (`/proc/thread-self/schedstat`, nanoseconds):
/// crypto timings in CPU time stay meaningful on a machine busy with other work.
fn thread_cpu() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse::<u64>().ok()))
        .map_or(f64::NAN, |ns| ns as f64 / 1e9)
}

/// Crypto-only bound of a login on one core: ring verify (device statement) + ring sign
/// (access token), microseconds each.
fn crypto_bound() -> (f64, f64) {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&rs::ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let key = EcdsaKeyPair::from_pkcs8(&rs::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    let msg = [7u8; 200];
    let sig = key.sign(&rng, &msg).unwrap();
    let pk = rs::UnparsedPublicKey::new(&rs::ECDSA_P256_SHA256_FIXED, key.public_key().as_ref().to_vec());
    let n = 2000;
    let t = thread_cpu();
    for _ in 0..n {
        pk.verify(&msg, sig.as_ref()).unwrap();
    }
    let verify_us = (thread_cpu() - t) * 1e6 / f64::from(n);
    let t = thread_cpu();
    for _ in 0..n {
        std::hint::black_box(key.sign(&rng, &msg).unwrap());
    }
    let sign_us = (thread_cpu() - t) * 1e6 / f64::from(n);
    (verify_us, sign_us)
}

/// The same two operations with `p256` as this build compiles it (the release profile's
/// opt-level for the RustCrypto crates), microseconds each.
fn p256_timings() -> (f64, f64) {
    use p256::ecdsa::signature::{Signer, Verifier};
    let sk = p256::ecdsa::SigningKey::from_slice(&[0x42; 32]).unwrap();
    let vk = *sk.verifying_key();
    let msg = [7u8; 200];
    let sig: p256::ecdsa::Signature = sk.sign(&msg);
    let n = 300;
    let t = thread_cpu();
    for _ in 0..n {
        vk.verify(&msg, &sig).unwrap();
    }
    let verify_us = (thread_cpu() - t) * 1e6 / f64::from(n);
    let t = thread_cpu();
    for _ in 0..n {
        let s: p256::ecdsa::Signature = sk.sign(std::hint::black_box(&msg));
        std::hint::black_box(s);
    }
    let sign_us = (thread_cpu() - t) * 1e6 / f64::from(n);
    (verify_us, sign_us)
}

#[tokio::main]
async fn main() {
    let mut args = Args::parse();
    if args.probe_postgres {
        match cluster::find_bin() {
            Some(d) => {
                println!("{}", d.display());
                return;
            }
            None => std::process::exit(2),
        }
    }
    if args.smoke {
        args.clients = vec![1, 4];
        args.seconds = 0.5;
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let bin = args.server_bin.clone().unwrap_or_else(|| {
        std::env::current_exe().unwrap().with_file_name(format!("citizen-server{}", std::env::consts::EXE_SUFFIX))
    });
    let (data_dir, remove) = match &args.data_dir {
        Some(d) => (d.clone(), false),
        None => (std::env::temp_dir().join(format!("citizen-loadgen-{}", uuid::Uuid::new_v4())), true),
    };
    std::fs::create_dir_all(&data_dir).unwrap();
    let server = start_server(&bin, &data_dir, &args.database, args.instances.max(1));
    let http = http_client(&server.ca_pem);
    let devices = enroll(&server.base, &server.audience, &http, &server).await;
    let mut ctx = Ctx {
        base: server.base.clone(),
        audience: server.audience.clone(),
        http_ca: server.ca_pem.clone(),
        devices,
        rng: SystemRandom::new(),
    };
    load_profiles(&mut ctx, &http).await;
    let ctx = Arc::new(ctx);

    if args.check {
        let ok = check::run(&ctx, &server, args.check_clients).await;
        drop(server);
        if remove {
            let _ = std::fs::remove_dir_all(&data_dir);
        }
        std::process::exit(i32::from(!ok));
    }

    let (verify_us, sign_us) = crypto_bound();
    let bound = 1e6 / (verify_us + sign_us);
    let cores = std::thread::available_parallelism().map(std::num::NonZero::get).unwrap_or(1);
    println!(
        "server {} | {} instance(s) | database {} | {} cores | data dir {} | {} devices | {:.1} s per measurement",
        bin.display(),
        server.children.len(),
        if server.pg_url.is_some() { "PostgreSQL" } else { "SQLite" },
        cores,
        data_dir.display(),
        ctx.devices.len(),
        args.seconds
    );
    println!(
        "crypto-only bound (ring, CPU time): verify {verify_us:.1} µs + sign {sign_us:.1} µs = {bound:.0} logins/s per core"
    );
    let (pv, ps_) = p256_timings();
    println!("p256 as compiled in this build (CPU time): verify {pv:.1} µs, sign {ps_:.1} µs");
    println!("load average at start: {}", std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim());
    println!("| clients | logins/s | server CPU ms/login | % of bound (×{cores} cores) | submissions/s | server CPU ms/submission | logins, submissions counted | failures | PostgreSQL CPU ms/login, ms/submission |");
    println!("|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
    let mut failures = 0;
    for &c in &args.clients {
        let (cpu0, pg0) = (servers_cpu_secs(&server), pg_cpu_secs(&server));
        let skip = |name: &str| args.only.as_deref().is_some_and(|o| o != name);
        let (logins, f1, wall) = if skip("login") { (0, 0, 1.0) } else { run(&ctx, Op::Login, c, args.seconds).await };
        let (cpu1, pg1) = (servers_cpu_secs(&server), pg_cpu_secs(&server));
        let (subs, f2, wall2) = if skip("submit") { (0, 0, 1.0) } else { run(&ctx, Op::Submit, c, args.seconds).await };
        let (cpu2, pg2) = (servers_cpu_secs(&server), pg_cpu_secs(&server));
        failures += f1 + f2;
        let lps = logins as f64 / wall;
        let sps = subs as f64 / wall2;
        let per = |cpu: f64, n: u64| if n == 0 { f64::NAN } else { cpu * 1000.0 / n as f64 };
        println!(
            "| {c} | {lps:.0} | {:.3} | {:.1} % | {sps:.0} | {:.3} | {logins}, {subs} | {} | {:.3}, {:.3} |",
            per(cpu1 - cpu0, logins),
            100.0 * lps / (bound * cores as f64),
            per(cpu2 - cpu1, subs),
            f1 + f2,
            per(pg1 - pg0, logins),
            per(pg2 - pg1, subs),
        );
    }
    if server.children.len() > 1 {
        let hits: Vec<u64> = server.proxy_hits.iter().map(|h| h.load(Ordering::Relaxed)).collect();
        println!("connections per instance (proxy): {hits:?}");
    }
    drop(server);
    if remove {
        let _ = std::fs::remove_dir_all(&data_dir);
    }
    if failures > 0 {
        eprintln!("{failures} operations failed");
        std::process::exit(1);
    }
}
