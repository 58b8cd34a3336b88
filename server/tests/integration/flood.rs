//! A bounded flood on loopback against the `citizen-server` binary (a process of its own, so its
//! memory is measured alone): 10,000 anonymous portal sessions, 200 idle TLS connections and 32
//! concurrent anonymous 11 MiB submission bodies, while an honest QR login at the demo portal
//! and an honest submission complete. Prints peak server memory and the honest latency with and
//! without the flood (one run); asserts only functional properties and a generous memory bound.
//!
//! The flood comes from other loopback addresses (127.0.0.2; the large bodies from 16 addresses
//! 127.0.0.10–25, two each, so that the global admission limit, not the per-client one, is what
//! bounds them); the citizen connects from 127.0.0.1.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::{self, Device, C1};
use citizen_protocol::protocol::rp::{self, ConsentReceipt, QrFrame, ReceiptKind};
use citizen_protocol::protocol::services::SubmissionPayload;
use citizen_protocol::protocol::{self as p, Purpose, SignedStatement, Statement};
use serde_json::{json, Value};
use tokio::io::AsyncReadExt;

const FLOODER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
const PORTAL_SESSIONS: usize = 10_000;
const IDLE_CONNECTIONS: usize = 200;
const BIG_BODIES: usize = 32;
const BIG_BODY_BYTES: usize = 11 * 1024 * 1024;

struct Server {
    child: Child,
    base: String,
    audience: String,
    ca: String,
    addr: SocketAddr,
    otp_file: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let otp_file = dir.path().join("otp.jsonl");
        let mut child = Command::new(env!("CARGO_BIN_EXE_citizen-server"))
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path().join("data"))
            .arg("--dev-otp-file")
            .arg(&otp_file)
            .env("RUST_LOG", "error")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let f: HashMap<&str, &str> = line.trim().split(' ').skip(1).filter_map(|kv| kv.split_once('=')).collect();
        let base = f["base_url"].to_string();
        let addr = base.strip_prefix("https://").unwrap().parse().unwrap();
        Server {
            audience: f["audience"].to_string(),
            ca: std::fs::read_to_string(f["ca"]).unwrap(),
            base,
            addr,
            otp_file,
            child,
            _dir: dir,
        }
    }

    /// (VmRSS, VmHWM) of the server process, in MiB.
    fn memory(&self) -> (f64, f64) {
        memory_of(self.child.id())
    }

    /// Sample the server's RSS every 10 ms until the returned flag is set; the thread returns
    /// the largest sample (VmHWM alone can lag: the kernel updates it lazily).
    fn sample_rss(&self) -> (Arc<AtomicBool>, std::thread::JoinHandle<f64>) {
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, pid) = (stop.clone(), self.child.id());
        let t = std::thread::spawn(move || {
            let mut max: f64 = 0.0;
            while !flag.load(Ordering::SeqCst) {
                max = max.max(memory_of(pid).0);
                std::thread::sleep(Duration::from_millis(10));
            }
            max
        });
        (stop, t)
    }
}

fn memory_of(pid: u32) -> (f64, f64) {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let mib = |key: &str| -> f64 {
        let l = s.lines().find(|l| l.starts_with(key)).unwrap();
        l.split_whitespace().nth(1).unwrap().parse::<f64>().unwrap() / 1024.0
    };
    (mib("VmRSS:"), mib("VmHWM:"))
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

fn client_from(ca_pem: &str, local: IpAddr) -> reqwest::Client {
    common::client_builder(ca_pem, Some(local)).timeout(Duration::from_secs(60)).build().unwrap()
}

/// The honest citizen: an enrolled device with its counters and access token.
struct Citizen {
    http: reqwest::Client,
    base: String,
    audience: String,
    dev: Device,
    submit_counter: u64,
    token: String,
}

async fn post(http: &reqwest::Client, url: String, body: &Value, bearer: Option<&str>) -> (u16, Value) {
    let mut rb = http.post(url).json(body);
    if let Some(t) = bearer {
        rb = rb.bearer_auth(t);
    }
    let r = rb.send().await.unwrap();
    let st = r.status().as_u16();
    (st, r.json().await.unwrap_or(Value::Null))
}

impl Citizen {
    fn statement(&mut self, purpose: Purpose, nonce: &str, subject: &str) -> SignedStatement {
        let counter = if purpose == Purpose::Submit {
            self.submit_counter += 1;
            self.submit_counter
        } else {
            self.dev.counter += 1;
            self.dev.counter
        };
        self.dev.sign_statement(Statement {
            purpose,
            audience: self.audience.clone(),
            nonce: nonce.into(),
            device_id: self.dev.id.clone(),
            counter,
            issued_at: now(),
            subject: subject.into(),
        })
    }

    async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        post(&self.http, format!("{}{path}", self.base), body, Some(&self.token)).await
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let r = self.http.get(format!("{}{path}", self.base)).send().await.unwrap();
        let st = r.status().as_u16();
        (st, r.json().await.unwrap_or(Value::Null))
    }

    async fn enroll_and_login(s: &Server) -> Citizen {
        let mut c = Citizen {
            http: client_from(&s.ca, IpAddr::V4(Ipv4Addr::LOCALHOST)),
            base: s.base.clone(),
            audience: s.audience.clone(),
            dev: Device::new(),
            submit_counter: 0,
            token: String::new(),
        };
        let (st, b) = c.post(p::PATH_ENROLL_START, &json!({"cccd": C1.0, "date_of_birth": C1.1, "phone": C1.2})).await;
        assert_eq!(st, 200, "{b}");
        let eid = b["enrollment_id"].as_str().unwrap().to_string();
        let otp = std::fs::read_to_string(&s.otp_file)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .find(|r| r["reference"] == eid.as_str())
            .unwrap()["otp"]
            .as_str()
            .unwrap()
            .to_string();
        let proof = c.statement(Purpose::Enroll, &eid, "");
        let body = json!({"enrollment_id": eid, "otp": otp, "device": c.dev.registration(), "proof": proof});
        let (st, b) = c.post(p::PATH_ENROLL_COMPLETE, &body).await;
        assert_eq!(st, 200, "{b}");
        let (st, b) = c.post(p::PATH_CHALLENGE, &json!({"device_id": c.dev.id, "purpose": Purpose::Login})).await;
        assert_eq!(st, 200, "{b}");
        let signed = c.statement(Purpose::Login, b["nonce"].as_str().unwrap(), "");
        let (st, b) = c.post(p::PATH_LOGIN, &json!({ "signed": signed })).await;
        assert_eq!(st, 200, "{b}");
        c.token = b["access_token"].as_str().unwrap().to_string();
        c
    }

    /// A QR login at the demo portal, as the page and the phone do it; returns once the portal
    /// shows the verified citizen.
    async fn qr_login(&mut self) {
        let (st, b) = self.post("/portal/api/sessions", &json!({})).await;
        assert_eq!(st, 200, "honest portal session: {b}");
        let handle = b["handle"].as_str().unwrap().to_string();
        let poll = format!("/portal/api/sessions/{handle}");
        let (st, b) = self.get(&poll).await;
        assert_eq!(st, 200, "{b}");
        let frame = b["frame"].as_str().unwrap().to_string();
        let req = QrFrame::parse(&frame).unwrap().signed.request;
        let (st, b) = self.post(rp::PATH_QR_SCAN, &json!({ "frame": frame })).await;
        assert_eq!(st, 200, "{b}");
        let (_, b) = self.get(&poll).await;
        let code = b["verification_code"].as_str().unwrap().to_string();
        let mut claims = req.claims.clone();
        claims.sort();
        let receipt = ConsentReceipt {
            receipt_id: uuid::Uuid::new_v4().to_string(),
            kind: ReceiptKind::QrLogin,
            rp_id: req.rp_id.clone(),
            rp_name: "Cổng Dịch vụ công (bản thử nghiệm)".into(),
            origin: req.origin.clone(),
            purpose: "login".into(),
            claims,
            retention_days: 0,
            request_id: req.session_id_b64(),
            nonce: req.nonce_b64(),
            device_id: self.dev.id.clone(),
            issued_at: now(),
            chain_seq: 0,
            prev_digest: String::new(),
        };
        let signed = self.statement(Purpose::Consent, &receipt.nonce, &receipt.statement_subject());
        let body = json!({"session_id": req.session_id_b64(), "decision": "approve", "verification_code": code,
            "receipt": receipt, "signed": signed});
        let (st, b) = self.post(rp::PATH_QR_DECISION, &body).await;
        assert_eq!(st, 200, "{b}");
        let (st, b) = self.get(&poll).await;
        assert_eq!(st, 200, "{b}");
        assert_eq!(b["state"], "approved", "{b}");
        assert_eq!(b["citizen"]["full_name"], "Nguyễn Văn Mẫu", "{b}");
    }

    /// An ID-card reissue request (no attachment); returns once the signed receipt is back.
    async fn submit(&mut self) {
        let values: BTreeMap<String, String> = [
            ("full_name", "Nguyễn Văn Mẫu"),
            ("date_of_birth", "1990-01-15"),
            ("sex", "male"),
            ("cccd", "001090000001"),
            ("permanent_province", "01"),
            ("permanent_commune", "00070"),
            ("permanent_detail", "Số 1 Đường Thử Nghiệm"),
            ("reason", "thay_doi_thong_tin"),
            ("changed_info", "Thay đổi nơi thường trú (dữ liệu thử nghiệm)"),
            ("delivery", "nhan_tai_co_quan"),
            ("phone", "+84900000001"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let payload = SubmissionPayload {
            submission_id: uuid::Uuid::new_v4().to_string(),
            procedure_id: "id-card-reissue".into(),
            procedure_version: 1,
            values,
            attachments: vec![],
            supplements_case: None,
            on_behalf: None,
        };
        let signed = self.statement(Purpose::Submit, &payload.submission_id, &payload.digest_hex());
        let r = self
            .http
            .post(format!("{}/v1/submissions", self.base))
            .header("Idempotency-Key", &payload.submission_id)
            .json(&json!({"payload": payload, "signed": signed, "attachment_data": {}}))
            .send()
            .await
            .unwrap();
        let st = r.status().as_u16();
        let b: Value = r.json().await.unwrap_or(Value::Null);
        assert_eq!(st, 201, "honest submission: {b}");
        assert!(b["receipt"].is_string(), "{b}");
    }

    /// One honest QR login and one honest submission; returns (login, submission) durations.
    async fn honest_round(&mut self) -> (Duration, Duration) {
        let t = Instant::now();
        self.qr_login().await;
        let login = t.elapsed();
        let t = Instant::now();
        self.submit().await;
        (login, t.elapsed())
    }
}

/// A garbage-signed, well-formed submission carrying an 11 MiB attachment (parsed in full by
/// the server before the signature check fails: the worst case for memory).
fn big_body() -> (String, Vec<u8>) {
    let payload = SubmissionPayload {
        submission_id: uuid::Uuid::new_v4().to_string(),
        procedure_id: "temporary-residence".into(),
        procedure_version: 1,
        values: BTreeMap::new(),
        attachments: vec![],
        supplements_case: None,
        on_behalf: None,
    };
    let head = serde_json::to_string(&json!({
        "payload": payload,
        "signed": {"statement": {"purpose": "submit", "audience": "x", "nonce": payload.submission_id,
            "device_id": "flood", "counter": 1, "issued_at": now(), "subject": ""}, "signature": "AA"},
    }))
    .unwrap();
    let mut body = head.as_bytes()[..head.len() - 1].to_vec();
    body.extend_from_slice(b",\"attachment_data\":{\"a\":\"");
    body.resize(BIG_BODY_BYTES - 3, b'A');
    body.extend_from_slice(b"\"}}");
    (payload.submission_id, body)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn honest_citizens_are_served_during_a_bounded_flood() {
    let server = Server::start();
    let mut citizen = Citizen::enroll_and_login(&server).await;
    // Baseline: three honest rounds without the flood (the first warms caches).
    let mut base_login = vec![];
    let mut base_submit = vec![];
    for _ in 0..3 {
        let (l, s) = citizen.honest_round().await;
        base_login.push(l);
        base_submit.push(s);
    }
    let (rss_before, _) = server.memory();
    let (stop_sampling, sampler) = server.sample_rss();

    // --- The flood -------------------------------------------------------------------------
    let started = Instant::now();
    // 200 idle TLS connections (handshake done, then nothing).
    let connector = {
        use rustls_pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        for c in rustls_pki_types::CertificateDer::pem_slice_iter(server.ca.as_bytes()) {
            roots.add(c.unwrap()).unwrap();
        }
        let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        tokio_rustls::TlsConnector::from(Arc::new(cfg))
    };
    let idle_closed = Arc::new(AtomicUsize::new(0));
    let mut idle = Vec::new();
    for _ in 0..IDLE_CONNECTIONS {
        let sock = tokio::net::TcpSocket::new_v4().unwrap();
        sock.bind(SocketAddr::new(FLOODER, 0)).unwrap();
        let tcp = sock.connect(server.addr).await.unwrap();
        let name = rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap().to_owned();
        let mut tls = connector.connect(name, tcp).await.unwrap();
        let closed = idle_closed.clone();
        idle.push(tokio::spawn(async move {
            let mut buf = [0u8; 64];
            // Wait for the server to close it (bounded).
            let r = tokio::time::timeout(Duration::from_secs(60), tls.read(&mut buf)).await;
            if matches!(r, Ok(Ok(0)) | Ok(Err(_))) {
                closed.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }
    // 10,000 anonymous portal sessions from one address, 8 at a time.
    let flooder = client_from(&server.ca, FLOODER);
    let portal_statuses = Arc::new(std::sync::Mutex::new(BTreeMap::<u16, usize>::new()));
    let next = Arc::new(AtomicUsize::new(0));
    let mut portal = Vec::new();
    for _ in 0..8 {
        let (http, url, next, statuses) =
            (flooder.clone(), format!("{}/portal/api/sessions", server.base), next.clone(), portal_statuses.clone());
        portal.push(tokio::spawn(async move {
            while next.fetch_add(1, Ordering::SeqCst) < PORTAL_SESSIONS {
                let st = match http.post(&url).json(&json!({})).send().await {
                    Ok(r) => r.status().as_u16(),
                    Err(_) => 0,
                };
                *statuses.lock().unwrap().entry(st).or_default() += 1;
            }
        }));
    }
    // 32 concurrent 11 MiB anonymous bodies, two from each of 16 addresses.
    let (key, body) = big_body();
    let big_statuses = Arc::new(std::sync::Mutex::new(BTreeMap::<u16, usize>::new()));
    let mut big = Vec::new();
    for i in 0..BIG_BODIES {
        let http = client_from(&server.ca, IpAddr::V4(Ipv4Addr::new(127, 0, 0, 10 + (i / 2) as u8)));
        let (url, body, statuses) = (format!("{}/v1/submissions", server.base), body.clone(), big_statuses.clone());
        let key = key.clone();
        big.push(tokio::spawn(async move {
            let st = match http
                .post(&url)
                .header("content-type", "application/json")
                .header("Idempotency-Key", key)
                .body(body)
                .send()
                .await
            {
                Ok(r) => r.status().as_u16(),
                Err(_) => 0,
            };
            *statuses.lock().unwrap().entry(st).or_default() += 1;
        }));
    }
    drop(body);
    // Let the flood get going, then the honest citizen acts in the middle of it.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (rss_during, _) = server.memory();
    let (flood_login, flood_submit) = citizen.honest_round().await;
    for t in big {
        t.await.unwrap();
    }
    for t in portal {
        t.await.unwrap();
    }
    let flood_secs = started.elapsed().as_secs_f64();
    for t in idle {
        t.await.unwrap();
    }
    let idle_secs = started.elapsed().as_secs_f64();
    stop_sampling.store(true, Ordering::SeqCst);
    let sampled_peak = sampler.join().unwrap();
    let (rss_after, hwm) = server.memory();
    let peak = hwm.max(sampled_peak);
    // After the flood the server still serves the citizen.
    let (after_login, after_submit) = citizen.honest_round().await;

    let portal_statuses = portal_statuses.lock().unwrap().clone();
    let big_statuses = big_statuses.lock().unwrap().clone();
    let (bl, bs) = (median(base_login), median(base_submit));
    println!("FLOOD portal sessions {PORTAL_SESSIONS}: statuses {portal_statuses:?}");
    println!("FLOOD {BIG_BODIES} x {BIG_BODY_BYTES} B anonymous bodies: statuses {big_statuses:?}");
    println!(
        "FLOOD {IDLE_CONNECTIONS} idle TLS connections: {} closed by the server (all closed {idle_secs:.1} s after the flood began)",
        idle_closed.load(Ordering::SeqCst)
    );
    println!(
        "FLOOD server memory: RSS before {rss_before:.1} MiB, 200 ms into the flood {rss_during:.1} MiB, after {rss_after:.1} MiB, peak {peak:.1} MiB (VmHWM {hwm:.1}, largest 10 ms sample {sampled_peak:.1})"
    );
    println!(
        "FLOOD honest QR login: {:.0} ms without the flood (median of 3), {:.0} ms during it (x{:.1}), {:.0} ms after",
        ms(bl),
        ms(flood_login),
        flood_login.as_secs_f64() / bl.as_secs_f64(),
        ms(after_login)
    );
    println!(
        "FLOOD honest submission: {:.0} ms without the flood (median of 3), {:.0} ms during it (x{:.1}), {:.0} ms after",
        ms(bs),
        ms(flood_submit),
        flood_submit.as_secs_f64() / bs.as_secs_f64(),
        ms(after_submit)
    );
    println!("FLOOD portal + body flood took {flood_secs:.1} s");

    // Functional properties only.
    let served: usize = portal_statuses.get(&200).copied().unwrap_or(0);
    assert!(served <= 20, "the flooder got only its share of portal sessions: {portal_statuses:?}");
    assert_eq!(portal_statuses.get(&429).copied().unwrap_or(0), PORTAL_SESSIONS - served, "{portal_statuses:?}");
    assert!(
        big_statuses.keys().all(|s| (400..500).contains(s) || *s == 503),
        "no anonymous large body is accepted: {big_statuses:?}"
    );
    assert_eq!(idle_closed.load(Ordering::SeqCst), IDLE_CONNECTIONS, "every idle connection is closed");
    assert!(peak < 200.0, "peak server memory {peak:.1} MiB");
}
