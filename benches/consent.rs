//! Benchmarks of QR login and consent-based data sharing (criterion). Figures compare within one
//! run on one machine; the interesting outputs are ratios, printed at the end of the run (QR
//! login and a share against a challenge–response login, parsing against the whole QR login,
//! verifying a presentation against making it).
//!
//! The networked benchmarks run against the in-process reference server over loopback TLS, with
//! the real clock on both sides (QR frames change every 2 s and go stale, sessions expire), the
//! in-memory key store (`MemoryKeyStore`, P-256) and the fictitious `CITIZEN_1`. The relying
//! parties are played as in `cli/src/relying_party.rs`, but with one HTTPS client kept open (a
//! portal page keeps its connection).
//!
//! * `qr/parse`: `QrFrame::parse` of a real frame text from the demo portal (size check, prefix,
//!   base64url, every field; no signature, MAC or time check).
//! * `qr/scan+approve`: one whole QR login. Not measured (setup): the portal opens a session
//!   (`POST /portal/api/sessions`) and the frame is read (`GET /portal/api/sessions/{handle}`).
//!   Measured: `scan_login_code` (strict parse, offline checks against the cached signed registry
//!   incl. the relying party's signature, `POST /v1/qr/scan`, pending request stored), the
//!   portal's read of the verification code (`GET`, warm connection), and `approve_login`
//!   (passcode check with its committed counter writes, consent receipt signed by the key store,
//!   the server's verification, decision and countersignature, its verification, the receipt
//!   stored and the activity-log entry).
//! * `login`: the baseline, a challenge–response login (passcode + challenge + sign + login).
//! * `share/open+share`: not measured (setup): the demo bank's share request (`POST
//!   /rp/bank-demo/requests`). Measured: `open_share_request` (registry check, the bank's JWS
//!   signature, purpose, claims, origin, expiry) and `share_data` with the optional `phone`
//!   (passcode, SD-JWT presentation of four claims with a KB-JWT signed in the key store, receipt
//!   signed and countersigned by the server, delivery to the bank and the bank's verification).
//! * `sdjwt/present` and `sdjwt/verify_presentation`: pure, on a credential issued locally
//!   (`issue_pid`, random issuer and holder keys, the nine PID claims, `P256JwsSigner`): present
//!   four of them with a KB-JWT; verify that presentation as a relying party does.
//!
//! Run: `cargo bench -p citizen-core --bench consent` (add `-- --measurement-time 3
//! --warm-up-time 1` for a quick run).
// Test code: may unwrap, cast freely, and share helpers across modules with plain `pub`.
#![allow(
    unreachable_pub,
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap,
    clippy::cast_lossless
)]

use std::path::PathBuf;
use std::sync::Arc;

use citizen_core::clock::{Clock, SystemClock};
use citizen_core::platform::software::{MemoryKeyStore, MemoryKeyWrapper};
use citizen_core::protocol::rp::{QrFrame, CLAIMS};
use citizen_core::sdjwt::{self, P256JwsSigner, PresentationCheck};
use citizen_core::{default_core_config, CitizenCore, LoginApproval};
use citizen_server::{MemoryOtpOutbox, RunningServer, ServerConfig};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use p256::ecdsa::SigningKey;
use serde_json::{Map, Value};

const PASS: &str = "482916";
/// Claims the bank's request requires, plus the optional one the citizen adds.
const SHARED: &[&str] = &["full_name", "birthdate", "cccd_number", "phone"];

struct Env {
    rt: tokio::runtime::Runtime,
    server: RunningServer,
    core: Arc<CitizenCore>,
    /// The relying parties' HTTPS client (trusts the dev CA), kept open.
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

fn env() -> Env {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let otp = Arc::new(MemoryOtpOutbox::new());
    let mut server_cfg = ServerConfig::loopback_dev(dir.path().join("server"), otp.clone(), Arc::new(SystemClock));
    // Every iteration opens a portal session or a bank request from one address: lift the
    // per-client quotas that would otherwise (rightly) refuse this as a flood.
    let shed = &mut server_cfg.limits.shed;
    shed.portal_sessions_per_client = 1_000_000;
    shed.portal_sessions_total = 1_000_000;
    shed.bank_requests_per_client = 1_000_000;
    shed.bank_requests_total = 1_000_000;
    let server = rt.block_on(citizen_server::start(server_cfg)).unwrap();
    let mut cfg = default_core_config(server.base_url.clone(), dir.path().join("core").to_string_lossy().into_owned());
    cfg.trust_anchors_pem = vec![server.ca_cert_pem.clone()];
    cfg.spki_pins = vec![server.spki_pin.clone(), server.backup_spki_pin.clone()];
    let core = CitizenCore::with_clock(
        cfg,
        Arc::new(MemoryKeyStore::new()),
        Arc::new(MemoryKeyWrapper::new()),
        Arc::new(SystemClock),
    )
    .unwrap();
    let tls = citizen_core::net::tls::client_config(std::slice::from_ref(&server.ca_cert_pem), &[]).unwrap();
    let http = reqwest::Client::builder().tls_backend_preconfigured(tls).build().unwrap();
    rt.block_on(async {
        citizen_server::testing::enroll_and_login(&core, &otp, citizen_server::testing::CITIZEN_1, PASS).await;
        core.consent().refresh_relying_parties().await.unwrap();
    });
    Env { rt, server, core, http, _dir: dir }
}

impl Env {
    async fn call(&self, method: reqwest::Method, path: &str) -> Value {
        let mut req = self.http.request(method.clone(), format!("{}{path}", self.server.base_url));
        if method == reqwest::Method::POST {
            req = req.header("content-type", "application/json").body("{}");
        }
        let r = req.send().await.unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.json().await.unwrap()
    }

    /// The portal opens a QR login session: (handle, current frame text).
    async fn portal_open(&self) -> (String, String) {
        let v = self.call(reqwest::Method::POST, "/portal/api/sessions").await;
        let handle = v["handle"].as_str().expect("a portal handle").to_string();
        let view = self.portal_view(&handle).await;
        (handle, view["frame"].as_str().expect("a frame while pending").to_string())
    }

    async fn portal_view(&self, handle: &str) -> Value {
        self.call(reqwest::Method::GET, &format!("/portal/api/sessions/{handle}")).await
    }

    /// One QR login after the portal showed `frame`: scan, read the code the portal shows, approve.
    async fn scan_and_approve(&self, handle: &str, frame: String) -> LoginApproval {
        let info = self.core.consent().scan_login_code(frame).await.unwrap();
        let view = self.portal_view(handle).await;
        assert_eq!(view["state"], "scanned");
        let code = view["verification_code"].as_str().expect("the portal shows a code").to_string();
        assert!(info.code_choices.contains(&code), "the portal's code is offered");
        self.core.consent().approve_login(info.session_id, code, PASS.into()).await.unwrap()
    }

    /// The demo bank's share request (a JWS).
    async fn bank_request(&self) -> String {
        let v = self.call(reqwest::Method::POST, "/rp/bank-demo/requests").await;
        v["request"].as_str().expect("a share request").to_string()
    }

    /// Open the request and share the required claims and the phone.
    async fn open_and_share(&self, jws: String) {
        let info = self.core.consent().open_share_request(jws).await.unwrap();
        let out = self.core.consent().share_data(info.request_id, vec!["phone".into()], PASS.into()).await.unwrap();
        assert!(out.relying_party_accepted, "the bank verified the presentation");
        assert_eq!(out.disclosed_claims.len(), SHARED.len());
    }
}

/// A locally issued PID credential, its issuer's verification key, the issuer id and the holder
/// signer.
fn local_credential(rt: &tokio::runtime::Runtime) -> (String, jsonwebtoken::DecodingKey, String, P256JwsSigner) {
    let issuer_key = SigningKey::random(&mut rand_core::OsRng);
    let holder_key = SigningKey::random(&mut rand_core::OsRng);
    let point = |k: &SigningKey| k.verifying_key().to_encoded_point(false).as_bytes().to_vec();
    let holder_jwk = sdjwt::jwk_from_public_key(&point(&holder_key)).unwrap();
    let issuer_jwk = sdjwt::jwk_from_public_key(&point(&issuer_key)).unwrap();
    let decoding = jsonwebtoken::DecodingKey::from_ec_components(
        issuer_jwk["x"].as_str().unwrap(),
        issuer_jwk["y"].as_str().unwrap(),
    )
    .unwrap();
    // Fictitious values, shaped like the register's.
    let mut claims = Map::new();
    for c in CLAIMS {
        let v: Value = match c.name {
            "full_name" => "Nguyễn Văn Thử".into(),
            "birthdate" => "1990-01-15".into(),
            "sex" => "male".into(),
            "cccd_number" => "001090000001".into(),
            "nationality" => "Việt Nam".into(),
            "place_of_origin" => "Thành phố Hà Nội".into(),
            "permanent_address" => "Số 1 Đường Thử Nghiệm, Phường Ba Đình, Thành phố Hà Nội".into(),
            "phone" => "+84900000001".into(),
            "age_over_18" => true.into(),
            other => panic!("no bench value for {other}"),
        };
        claims.insert(c.name.into(), v);
    }
    let issuer = "https://127.0.0.1:8443".to_string();
    let now = SystemClock.now();
    let signer = P256JwsSigner::new(issuer_key, Some("bench-issuer".into()));
    let sd_jwt = rt.block_on(sdjwt::issue_pid(&claims, &holder_jwk, &issuer, now, now + 86_400, 1, &signer)).unwrap();
    (sd_jwt, decoding, issuer, P256JwsSigner::new(holder_key, None))
}

fn consent(c: &mut Criterion) {
    let e = env();

    // One of each flow before measuring: proves it works end to end (the portal verified the ID
    // token and shows the citizen) and fetches the credential, so no iteration pays for it.
    let (handle, frame) = e.rt.block_on(e.portal_open());
    e.rt.block_on(e.scan_and_approve(&handle, frame.clone()));
    let view = e.rt.block_on(e.portal_view(&handle));
    assert_eq!(view["state"], "approved");
    assert!(view["citizen"]["full_name"].is_string(), "the portal logged the citizen in");
    e.rt.block_on(async { e.open_and_share(e.bank_request().await).await });

    // Networked benchmarks take 20 samples (the configured default), pure ones 100.
    let mut g = c.benchmark_group("qr");
    g.sample_size(100);
    g.bench_function("parse", |b| b.iter(|| QrFrame::parse(std::hint::black_box(&frame)).unwrap()));
    g.sample_size(20);
    g.bench_function("scan+approve", |b| {
        b.iter_batched(
            || e.rt.block_on(e.portal_open()),
            |(handle, frame)| e.rt.block_on(e.scan_and_approve(&handle, frame)),
            BatchSize::PerIteration,
        )
    });
    g.finish();

    c.bench_function("login", |b| b.iter(|| e.rt.block_on(e.core.account().login(PASS.into())).unwrap()));

    let mut g = c.benchmark_group("share");
    g.bench_function("open+share", |b| {
        b.iter_batched(
            || e.rt.block_on(e.bank_request()),
            |jws| e.rt.block_on(e.open_and_share(jws)),
            BatchSize::PerIteration,
        )
    });
    g.finish();

    let (sd_jwt, issuer_key, issuer, holder) = local_credential(&e.rt);
    let present = || async {
        sdjwt::present(&sd_jwt, SHARED, "bank-demo", "bench-nonce", SystemClock.now(), 7, &holder).await.unwrap()
    };
    let presentation = e.rt.block_on(present());
    let mut g = c.benchmark_group("sdjwt");
    g.sample_size(100);
    g.bench_function("present", |b| b.to_async(&e.rt).iter(present));
    g.bench_function("verify_presentation", |b| {
        b.iter(|| {
            let check = PresentationCheck {
                issuer_key: &issuer_key,
                issuer: &issuer,
                audience: "bank-demo",
                nonce: "bench-nonce",
                now: SystemClock.now(),
                max_age_secs: 300,
            };
            let v = sdjwt::verify_presentation(std::hint::black_box(&presentation), &check).unwrap();
            assert_eq!(v.claims.len(), SHARED.len());
        })
    });
    g.finish();

    e.rt.block_on(e.server.shutdown());
    print_ratios();
}

/// Where criterion writes its results: `$CRITERION_HOME`, else `<target>/criterion` (this
/// executable is `<target>/<profile>/deps/consent-<hash>`).
fn criterion_dir() -> Option<PathBuf> {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return Some(home.into());
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return Some(PathBuf::from(target).join("criterion"));
    }
    let exe = std::env::current_exe().ok()?;
    Some(exe.parent()?.parent()?.parent()?.join("criterion"))
}

/// This run's median (ns) of benchmark `id` (`group/function`), from criterion's estimates.
fn median_ns(id: &str) -> Option<f64> {
    let path = criterion_dir()?.join(id).join("new").join("estimates.json");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    v["median"]["point_estimate"].as_f64()
}

fn print_ratios() {
    let ids =
        ["qr/parse", "qr/scan+approve", "login", "share/open+share", "sdjwt/present", "sdjwt/verify_presentation"];
    let medians: Vec<Option<f64>> = ids.iter().map(|id| median_ns(id)).collect();
    println!("consent medians (this run):");
    for (id, m) in ids.iter().zip(&medians) {
        match m {
            Some(ns) if *ns >= 1e6 => println!("  {id:<28} {:>10.3} ms", ns / 1e6),
            Some(ns) => println!("  {id:<28} {:>10.3} µs", ns / 1e3),
            None => println!("  {id:<28} (not run)"),
        }
    }
    println!("consent ratios (of the medians):");
    let ratio = |a: usize, b: usize| {
        if let (Some(x), Some(y)) = (medians[a], medians[b]) {
            let what = format!("{} / {}", ids[a], ids[b]);
            let r = x / y;
            if r >= 0.01 {
                println!("  {what:<48} {r:>10.3}");
            } else {
                println!("  {what:<48} {r:>10.2e} (1 : {:.0})", 1.0 / r);
            }
        }
    };
    ratio(1, 2);
    ratio(3, 2);
    ratio(0, 1);
    ratio(5, 4);
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = consent
}
criterion_main!(benches);
