//! The one environment of the core's integration tests: the reference server in-process on
//! loopback TLS (dev CA, two SPKI pins), an in-memory OTP outbox, one [`ManualClock`] shared by
//! the server and every core (lockouts, timeouts and expiry are tested by moving time, never by
//! sleeping), and devices — cores with in-memory key stores — in one temporary directory.
//!
//! Per-test specifics stay in the test modules as small extensions (a struct holding an `Env`
//! and what that test adds: a relay, a proxy, a relying-party key, …).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use citizen_core::cccd::Date;
use citizen_core::clock::{Clock, ManualClock};
use citizen_core::net::{Net, NetConfig};
use citizen_core::platform::software::{MemoryKeyStore, MemoryKeyWrapper};
use citizen_core::{default_core_config, CitizenCore, CoreConfig, OutboxItem};
use citizen_server::{MemoryOtpOutbox, RunningServer, ServerConfig};

/// The passcode every test device is enrolled with.
pub const PASS: &str = "482916";

/// One "phone": its core, its platform key store and wrapper, and its configuration.
pub struct Device {
    pub core: Arc<CitizenCore>,
    pub keys: Arc<MemoryKeyStore>,
    pub wrapper: Arc<MemoryKeyWrapper>,
    name: String,
    /// The configuration it was opened with (an app restart opens it again with the same).
    pub config: CoreConfig,
}

/// A phone's platform key store and data-key wrapper.
type Platform = (Arc<MemoryKeyStore>, Arc<MemoryKeyWrapper>);

pub struct Env {
    server: Option<RunningServer>,
    addr: std::net::SocketAddr,
    /// What devices trust, kept while the server is stopped (a restart keeps its CA and keys).
    base_url: String,
    ca_pem: String,
    pins: Vec<String>,
    pub otp: Arc<MemoryOtpOutbox>,
    pub clock: Arc<ManualClock>,
    pub dir: tempfile::TempDir,
    /// Key store and wrapper per device name: the same name is the same phone.
    platforms: Mutex<HashMap<String, Platform>>,
}

impl Env {
    /// Start the server (data under `<dir>/server`).
    pub async fn new() -> Env {
        Self::with_server(|_| {}).await
    }

    /// Start the server with its configuration adjusted by `tweak` (e.g. a public URL in front
    /// of it).
    pub async fn with_server(tweak: impl FnOnce(&mut ServerConfig)) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let otp = Arc::new(MemoryOtpOutbox::new());
        let clock = ManualClock::new();
        let mut cfg = ServerConfig::loopback_dev(dir.path().join("server"), otp.clone(), clock.clone());
        tweak(&mut cfg);
        let server = citizen_server::start(cfg).await.unwrap();
        Env {
            addr: server.addr,
            base_url: server.base_url.clone(),
            ca_pem: server.ca_cert_pem.clone(),
            pins: vec![server.spki_pin.clone(), server.backup_spki_pin.clone()],
            server: Some(server),
            otp,
            clock,
            dir,
            platforms: Default::default(),
        }
    }

    /// The running server.
    pub fn server(&self) -> &RunningServer {
        self.server.as_ref().expect("server running")
    }

    /// Stop the server (the network goes away for the devices).
    pub async fn stop(&mut self) {
        self.server.take().unwrap().shutdown().await;
    }

    /// Start the server again on the same address with the same data.
    pub async fn restart(&mut self) {
        let mut cfg = ServerConfig::loopback_dev(self.dir.path().join("server"), self.otp.clone(), self.clock.clone());
        cfg.listen = self.addr;
        self.server = Some(citizen_server::start(cfg).await.unwrap());
    }

    /// The core configuration of device `name`: data under `<dir>/<name>`, trusting the dev CA
    /// with both pins, platform `Desktop`.
    pub fn config(&self, name: &str) -> CoreConfig {
        let mut c =
            default_core_config(self.base_url.clone(), self.dir.path().join(name).to_string_lossy().into_owned());
        c.trust_anchors_pem = vec![self.ca_pem.clone()];
        c.spki_pins = self.pins.clone();
        c.platform = citizen_core::Platform::Desktop;
        c.device_label = "test device".into();
        c
    }

    /// Device `name` with its default configuration ([`Env::config`]).
    pub fn device(&self, name: &str) -> Device {
        self.device_with(name, self.config(name))
    }

    /// Device `name` opened with `config`. The same name gets the same key store and wrapper,
    /// so opening it again (after dropping its core) is an app restart.
    pub fn device_with(&self, name: &str, config: CoreConfig) -> Device {
        let (keys, wrapper) = self
            .platforms
            .lock()
            .unwrap()
            .entry(name.to_string())
            .or_insert_with(|| (Arc::new(MemoryKeyStore::new()), Arc::new(MemoryKeyWrapper::new())))
            .clone();
        let core = CitizenCore::with_clock(config.clone(), keys.clone(), wrapper.clone(), self.clock.clone()).unwrap();
        Device { core, keys, wrapper, name: name.to_string(), config }
    }

    /// The same device after an app restart (same key store, wrapper and data directory): the
    /// old core is closed first, as only one core may hold a data directory.
    pub fn reopen(&self, d: Device) -> Device {
        let Device { core, name, config, .. } = d;
        drop(core);
        self.device_with(&name, config)
    }

    /// Enroll device `d` as `who` with [`PASS`] (not logged in).
    pub async fn enroll(&self, d: &Device, who: (&str, &str, &str)) -> citizen_core::EnrollmentOutcome {
        citizen_server::testing::enroll(&d.core, &self.otp, who, PASS).await
    }

    /// Device `name`, enrolled as `who` with [`PASS`] and logged in.
    pub async fn enrolled(&self, name: &str, who: (&str, &str, &str)) -> Device {
        let d = self.device(name);
        citizen_server::testing::enroll_and_login(&d.core, &self.otp, who, PASS).await;
        d
    }

    /// A plain client of the server (no device): a portal backend, a verifier.
    pub fn net(&self) -> Net {
        Net::new(&NetConfig {
            base_url: self.base_url.clone(),
            trust_anchors_pem: vec![self.ca_pem.clone()],
            spki_pins: vec![],
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            allow_insecure_loopback: false,
            language: "vi",
        })
        .unwrap()
    }

    /// A second connection to device `name`'s database (the attacker with file access).
    pub fn db(&self, name: &str) -> rusqlite::Connection {
        rusqlite::Connection::open(self.dir.path().join(name).join(citizen_core::store::DB_FILE)).unwrap()
    }

    /// A hosted relying party's private key (from the server's dev key directory).
    pub fn rp_key(&self, id: &str) -> p256::ecdsa::SigningKey {
        use p256::pkcs8::DecodePrivateKey;
        let pem = std::fs::read_to_string(self.dir.path().join("server/rp-keys").join(format!("{id}.pem"))).unwrap();
        p256::ecdsa::SigningKey::from_pkcs8_pem(&pem).unwrap()
    }
}

/// `YYYY-MM-DD`, `offset` days from `clock`'s today (Vietnam time).
pub fn day(clock: &dyn Clock, offset: i64) -> String {
    let d = Date::from_unix_vn(clock.now() + offset * 86_400);
    format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)
}

/// Fill the editable fields of a residence notification draft in one write: one guest, the
/// reason, a stay from tomorrow to five days from now.
pub async fn fill_residence(core: &CitizenCore, draft_id: &str, clock: &dyn Clock) {
    let values = [
        ("guests.0.full_name", "Khách Thử Nghiệm".to_string()),
        ("guests.0.cccd", "079195000002".to_string()),
        ("guests.0.relationship", "ban_be".to_string()),
        ("reason", "du_lich".to_string()),
        ("from_date", day(clock, 1)),
        ("to_date", day(clock, 5)),
    ]
    .into_iter()
    .map(|(path, value)| (path.to_string(), value))
    .collect();
    core.services().update_draft(draft_id.into(), values).await.unwrap();
}

/// Create, fill and submit a residence notification with [`PASS`]; the queued item.
pub async fn submit_residence(core: &Arc<CitizenCore>, clock: &dyn Clock) -> OutboxItem {
    let id = core.services().create_draft("residence-notification".into()).await.unwrap().draft_id;
    fill_residence(core, &id, clock).await;
    core.clone().services().submit_draft(id, PASS.into()).await.unwrap()
}

/// splitmix64: a small seeded generator for randomised fault and kill schedules (a failing seed
/// is printed and can be replayed).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform enough in `0..n` for test schedules.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// The value of a future that completes without waiting (the in-memory key store's calls), from
/// synchronous test code.
pub fn ready<T>(f: impl std::future::Future<Output = T>) -> T {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut std::task::Context::from_waker(std::task::Waker::noop())) {
        std::task::Poll::Ready(v) => v,
        std::task::Poll::Pending => panic!("the future waits"),
    }
}

/// A signature request for test code signing with a device's key directly.
pub fn user_request(purpose: citizen_core::platform::SignPurpose) -> citizen_core::platform::SignRequest {
    citizen_core::platform::SignRequest { purpose, user_initiated: true }
}

/// Unix seconds of an exported point in time (the tests' clocks count in seconds).
pub fn secs(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}
