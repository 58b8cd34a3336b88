//! Test harness: an in-process server on 127.0.0.1:0 with a manual clock and an in-memory OTP
//! outbox, an HTTPS client trusting only the server's dev CA, and a software device key.
#![allow(dead_code)]

use std::sync::Arc;

use citizen_protocol::clock::{Clock, ManualClock};
use citizen_protocol::crypto::b64;
use citizen_protocol::protocol::{self as p, Purpose, SignedStatement, Statement};
use citizen_server::{Limits, MemoryOtpOutbox, RunningServer, ServerConfig, TlsSource};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::{json, Value};

/// Fictitious citizens from the seed register: (cccd, dob, phone).
pub const C1: (&str, &str, &str) = ("001090000001", "1990-01-15", "+84900000001");
pub const C2: (&str, &str, &str) = ("079195000002", "1995-06-30", "+84900000002");
pub const C3: (&str, &str, &str) = ("048200000003", "2000-12-01", "+84900000003");
pub const C4: (&str, &str, &str) = ("031187000004", "1987-09-09", "+84900000004");
pub const C8: (&str, &str, &str) = ("001190000008", "1990-03-03", "+84900000008");

pub struct Harness {
    pub server: RunningServer,
    pub clock: Arc<ManualClock>,
    pub outbox: Arc<MemoryOtpOutbox>,
    pub http: reqwest::Client,
    pub dir: tempfile::TempDir,
}

pub fn client_for(ca_pem: &str) -> reqwest::Client {
    client_bound(ca_pem, None)
}

/// A client whose connections leave from `local` (e.g. 127.0.0.2: another client address on
/// loopback).
pub fn client_bound(ca_pem: &str, local: Option<std::net::IpAddr>) -> reqwest::Client {
    client_builder(ca_pem, local).build().unwrap()
}

/// The builder of [`client_bound`], for a test that adds its own settings (e.g. a timeout).
pub fn client_builder(ca_pem: &str, local: Option<std::net::IpAddr>) -> reqwest::ClientBuilder {
    use rustls_pki_types::pem::PemObject;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pki_types::CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest::Client::builder().tls_backend_preconfigured(cfg).local_address(local)
}

pub async fn start() -> Harness {
    start_with(Limits::default()).await
}

pub async fn start_with(limits: Limits) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    start_in(dir, limits).await
}

/// With `CITIZEN_TEST_POSTGRES_URL` (a PostgreSQL URL whose user may create databases) every
/// harness gets a fresh database there and the server runs on PostgreSQL (decision 41); by
/// default SQLite. `CITIZEN_TEST_POSTGRES_URL=postgres://… cargo test -p citizen-server --test
/// integration` runs the backend-agnostic tests against PostgreSQL.
pub fn test_database() -> Option<String> {
    let admin = std::env::var("CITIZEN_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty())?;
    let name = format!("citizen_test_{}", uuid::Uuid::new_v4().simple());
    // The synchronous driver runs its own runtime: on a plain thread, not the test's.
    let (url, create) = (admin.clone(), format!("CREATE DATABASE {name}"));
    std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&url, postgres::NoTls).expect("CITIZEN_TEST_POSTGRES_URL reachable");
        c.batch_execute(&create).expect("CREATE DATABASE");
    })
    .join()
    .unwrap();
    let base = admin.split('?').next().unwrap_or(&admin);
    let (server, _) = base.rsplit_once('/').expect("URL with a database name");
    Some(format!("{server}/{name}"))
}

pub async fn start_in(dir: tempfile::TempDir, limits: Limits) -> Harness {
    let clock = ManualClock::new();
    let outbox = Arc::new(MemoryOtpOutbox::new());
    let server = citizen_server::start(ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_path_buf(),
        public_url: None,
        tls: TlsSource::Generate { hostnames: vec![] },
        otp_sender: outbox.clone(),
        clock: clock.clone(),
        limits,
        database: test_database(),
    })
    .await
    .unwrap();
    let http = client_for(&server.ca_cert_pem);
    Harness { server, clock, outbox, http, dir }
}

impl Harness {
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    pub async fn post(&self, path: &str, body: Value, bearer: Option<&str>) -> (u16, Value) {
        let mut rb = self.http.post(format!("{}{}", self.server.base_url, path)).json(&body);
        if let Some(t) = bearer {
            rb = rb.bearer_auth(t);
        }
        let resp = rb.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or_else(|_| panic!("non-JSON body {status}: {text}")))
    }

    /// POST returning the headers too (for `Retry-After`).
    pub async fn post_full(
        &self,
        path: &str,
        body: Value,
        bearer: Option<&str>,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let mut rb = self.http.post(format!("{}{}", self.server.base_url, path)).json(&body);
        if let Some(t) = bearer {
            rb = rb.bearer_auth(t);
        }
        if let Some(id) = body["payload"]["submission_id"].as_str() {
            rb = rb.header("Idempotency-Key", id);
        }
        let resp = rb.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        (status, headers, serde_json::from_str(&text).unwrap_or_else(|_| panic!("non-JSON body {status}: {text}")))
    }

    pub async fn get(&self, path: &str, bearer: Option<&str>) -> (u16, Value) {
        let mut rb = self.http.get(format!("{}{}", self.server.base_url, path));
        if let Some(t) = bearer {
            rb = rb.bearer_auth(t);
        }
        let resp = rb.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or_else(|_| panic!("non-JSON body {status}: {text}")))
    }

    /// enrollment/start for a citizen; returns (status, body).
    pub async fn enroll_start(&self, c: (&str, &str, &str)) -> (u16, Value) {
        self.post(p::PATH_ENROLL_START, json!({"cccd": c.0, "date_of_birth": c.1, "phone": c.2}), None).await
    }

    /// enrollment/complete with the given OTP and a proof signed by `dev`.
    pub async fn enroll_complete(&self, enrollment_id: &str, otp: &str, dev: &mut Device) -> (u16, Value) {
        let proof = dev.sign(self, Purpose::Enroll, enrollment_id, "");
        self.enroll_complete_with(enrollment_id, otp, dev, proof).await
    }

    pub async fn enroll_complete_with(
        &self,
        enrollment_id: &str,
        otp: &str,
        dev: &Device,
        proof: SignedStatement,
    ) -> (u16, Value) {
        self.post(
            p::PATH_ENROLL_COMPLETE,
            json!({"enrollment_id": enrollment_id, "otp": otp, "device": dev.registration(), "proof": proof}),
            None,
        )
        .await
    }

    /// Full enrollment; returns the account id.
    pub async fn enroll(&self, c: (&str, &str, &str), dev: &mut Device) -> String {
        let (st, b) = self.enroll_start(c).await;
        assert_eq!(st, 200, "{b}");
        let eid = b["enrollment_id"].as_str().unwrap().to_string();
        let otp = self.outbox.last_otp(&eid).unwrap();
        let (st, b) = self.enroll_complete(&eid, &otp, dev).await;
        assert_eq!(st, 200, "{b}");
        b["account_id"].as_str().unwrap().to_string()
    }

    pub async fn challenge(&self, dev: &Device, purpose: Purpose) -> (u16, Value) {
        self.post(p::PATH_CHALLENGE, json!({"device_id": dev.id, "purpose": purpose}), None).await
    }

    pub async fn nonce(&self, dev: &Device, purpose: Purpose) -> String {
        let (st, b) = self.challenge(dev, purpose).await;
        assert_eq!(st, 200, "{b}");
        assert_eq!(b["audience"], self.server.audience);
        b["nonce"].as_str().unwrap().to_string()
    }

    pub async fn login_signed(&self, signed: &SignedStatement) -> (u16, Value) {
        self.post(p::PATH_LOGIN, json!({ "signed": signed }), None).await
    }

    /// Challenge + login; returns the token response.
    pub async fn login(&self, dev: &mut Device) -> Value {
        let nonce = self.nonce(dev, Purpose::Login).await;
        let signed = dev.sign(self, Purpose::Login, &nonce, "");
        let (st, b) = self.login_signed(&signed).await;
        assert_eq!(st, 200, "{b}");
        b
    }

    pub async fn refresh(&self, token: &str) -> (u16, Value) {
        self.post(p::PATH_REFRESH, json!({ "refresh_token": token }), None).await
    }
}

pub struct Device {
    pub id: String,
    pub key: SigningKey,
    pub counter: u64,
}

impl Device {
    pub fn new() -> Self {
        Device {
            id: uuid::Uuid::new_v4().to_string(),
            key: SigningKey::from_slice(&citizen_protocol::crypto::random_array::<32>()).unwrap(),
            counter: 0,
        }
    }

    pub fn registration(&self) -> p::DeviceRegistration {
        p::DeviceRegistration {
            device_id: self.id.clone(),
            public_key: b64(self.key.verifying_key().to_encoded_point(false).as_bytes()),
            hardware_backed: false,
            attestation_chain: vec![],
            platform: "desktop".into(),
            label: "Test device".into(),
        }
    }

    /// Sign the next statement (counter + 1, issued now, for the harness's audience).
    pub fn sign(&mut self, h: &Harness, purpose: Purpose, nonce: &str, subject: &str) -> SignedStatement {
        self.counter += 1;
        let st = Statement {
            purpose,
            audience: h.server.audience.clone(),
            nonce: nonce.into(),
            device_id: self.id.clone(),
            counter: self.counter,
            issued_at: h.now(),
            subject: subject.into(),
        };
        self.sign_statement(st)
    }

    pub fn sign_statement(&self, st: Statement) -> SignedStatement {
        let sig: Signature = self.key.sign(&st.canonical_bytes());
        SignedStatement { statement: st, signature: b64(&citizen_protocol::crypto::low_s(sig).to_bytes()) }
    }
}
