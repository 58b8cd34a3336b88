//! The error policy through the public `CitizenCore` API: a device key the platform invalidated
//! (biometrics changed) surfaces as `keystore.key_invalidated` from every flow that signs —
//! submission, activity anchoring, QR approval and data sharing — so the shell can start
//! re-enrollment whichever screen the citizen is on; and a deactivated device says which status
//! it has from every domain, passcode included.

use std::sync::Arc;
use std::time::Duration;

use citizen_core::cccd::Date;
use citizen_core::clock::{Clock, ManualClock};
use citizen_core::crypto::{b64, random_array};
use citizen_core::error::PublicError;
use citizen_core::net::{Net, NetConfig};
use citizen_core::platform::software::{MemoryKeyStore, MemoryKeyWrapper};
use citizen_core::protocol::rp::{
    LoginRequest, QrSessionCreate, QrSessionCreated, QrSessionStatus, SignedLoginRequest, PATH_QR_SESSIONS,
    PATH_QR_SESSION_PREFIX,
};
use citizen_core::{default_core_config, CitizenCore, CitizenError, DeviceStatus, EnrollmentReason};
use citizen_server::{MemoryOtpOutbox, RunningServer, ServerConfig};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::DecodePrivateKey;

const PASS: &str = "482916";
/// Fictitious register citizens (see the server's register).
const CITIZEN: (&str, &str, &str) = ("001090000001", "1990-01-15", "+84900000001");
const SHARER: (&str, &str, &str) = ("048199000010", "1999-05-05", "+84900000010");
const INVALIDATED: &str = "keystore.key_invalidated";

struct Env {
    server: RunningServer,
    outbox: Arc<MemoryOtpOutbox>,
    clock: Arc<ManualClock>,
    dir: tempfile::TempDir,
    /// The test's own client, standing in for relying parties.
    rp: Net,
}

/// An enrolled, logged-in device.
struct Device {
    core: Arc<CitizenCore>,
    keys: Arc<MemoryKeyStore>,
    device_id: String,
}

impl Device {
    /// The platform invalidates the device key, as Android does when the biometric set changes.
    fn invalidate_key(&self) {
        self.keys.invalidate(&format!("citizen-core.device.{}", self.device_id));
    }
}

impl Env {
    async fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Arc::new(MemoryOtpOutbox::new());
        let clock = ManualClock::new();
        let server =
            citizen_server::start(ServerConfig::loopback_dev(dir.path().join("server"), outbox.clone(), clock.clone()))
                .await
                .unwrap();
        let rp = Net::new(&NetConfig {
            base_url: server.base_url.clone(),
            trust_anchors_pem: vec![server.ca_cert_pem.clone()],
            spki_pins: vec![],
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            allow_insecure_loopback: false,
            language: "vi",
        })
        .unwrap();
        Env { server, outbox, clock, dir, rp }
    }

    fn core(&self, name: &str, keys: Arc<MemoryKeyStore>) -> Arc<CitizenCore> {
        let mut c =
            default_core_config(self.server.base_url.clone(), self.dir.path().join(name).to_string_lossy().into());
        c.trust_anchors_pem = vec![self.server.ca_cert_pem.clone()];
        c.spki_pins = vec![self.server.spki_pin.clone(), self.server.backup_spki_pin.clone()];
        CitizenCore::with_clock(c, keys, Arc::new(MemoryKeyWrapper::new()), self.clock.clone()).unwrap()
    }

    async fn device(&self, name: &str, who: (&str, &str, &str)) -> Device {
        let keys = Arc::new(MemoryKeyStore::new());
        let core = self.core(name, keys.clone());
        let out = citizen_server::testing::enroll_and_login(&core, &self.outbox, who, PASS).await;
        Device { core, keys, device_id: out.device_id }
    }

    fn day(&self, offset: i64) -> String {
        let d = Date::from_unix_vn(self.clock.now() + offset * 86_400);
        format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalidated_key_at_submission_says_key_invalidated_and_queues_nothing() {
    let env = Env::new().await;
    let d = env.device("a", CITIZEN).await;
    assert!(d.core.services().refresh_catalogue().await.unwrap());
    d.core.services().refresh_profile().await.unwrap();
    let draft = d.core.services().create_draft("residence-notification".into()).await.unwrap();
    let id = draft.draft_id.clone();
    for (path, value) in [
        ("guests.0.full_name", "Khách Thử Nghiệm".to_string()),
        ("guests.0.cccd", "079195000002".into()),
        ("guests.0.relationship", "ban_be".into()),
        ("reason", "du_lich".into()),
        ("from_date", env.day(1)),
        ("to_date", env.day(5)),
    ] {
        d.core
            .services()
            .update_draft(id.clone(), std::collections::HashMap::from([(path.into(), value)]))
            .await
            .unwrap();
    }
    assert_eq!(d.core.services().validate_draft(id.clone()).await.unwrap(), vec![]);

    d.invalidate_key();
    let e = d.core.clone().services().submit_draft(id, PASS.into()).await.unwrap_err();
    assert!(matches!(e, CitizenError::KeyStore { .. }), "{e:?}");
    assert_eq!(e.detail().code, INVALIDATED);
    assert!(d.core.services().list_outbox().await.unwrap().is_empty(), "nothing is queued unsigned");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalidated_key_at_activity_anchoring_says_key_invalidated() {
    let env = Env::new().await;
    let d = env.device("a", CITIZEN).await;
    assert!(!d.core.activity().list_entries().await.unwrap().is_empty(), "enrollment and login were logged");
    // Anchors are signed with the bookkeeping key (decision 26): the device key's invalidation
    // (a changed biometric set) does not stop them; the bookkeeping key's own does.
    d.invalidate_key();
    assert!(d.core.activity().anchor().await.unwrap().is_some());
    d.core.account().change_passcode(PASS.into(), "739201".into()).await.unwrap();
    d.keys.invalidate(&format!("citizen-core.device.{}.bookkeeping", d.device_id));
    let e = d.core.activity().anchor().await.unwrap_err();
    assert!(matches!(e, CitizenError::KeyStore { .. }), "{e:?}");
    assert_eq!(e.detail().code, INVALIDATED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalidated_key_at_qr_approval_says_key_invalidated() {
    let env = Env::new().await;
    let d = env.device("a", CITIZEN).await;
    // The demo portal opens a login session, as its backend would.
    let pem = std::fs::read_to_string(env.dir.path().join("server/rp-keys/dvc-demo.pem")).unwrap();
    let rp_key = SigningKey::from_pkcs8_pem(&pem).unwrap();
    let now = env.clock.now();
    let request = LoginRequest {
        same_device: false,
        session_id: random_array(),
        nonce: random_array(),
        issued_at: now,
        expires_at: now + 120,
        rp_id: "dvc-demo".into(),
        origin: env.server.base_url.clone(),
        claims: vec!["full_name".into()],
    };
    let sig: Signature = rp_key.sign(&request.signing_input().unwrap());
    let signed = SignedLoginRequest { request, rp_signature: citizen_core::crypto::low_s(sig).to_bytes().into() };
    let body = QrSessionCreate { request: b64(&signed.to_bytes().unwrap()), redirect_uri: None };
    let created: QrSessionCreated = env.rp.post(PATH_QR_SESSIONS, &body, None).await.unwrap();
    let poll = format!("{PATH_QR_SESSION_PREFIX}{}?poll_token={}", created.session_id, created.poll_token);
    let status: QrSessionStatus = env.rp.get(&poll, None).await.unwrap();

    d.core.consent().scan_login_code(status.frame.unwrap()).await.unwrap();
    let status: QrSessionStatus = env.rp.get(&poll, None).await.unwrap();
    let shown = status.verification_code.unwrap();
    d.invalidate_key();
    let e = d.core.consent().approve_login(created.session_id, shown, PASS.into()).await.unwrap_err();
    assert!(matches!(e, CitizenError::KeyStore { .. }), "{e:?}");
    assert_eq!(e.detail().code, INVALIDATED);
    assert!(d.core.consent().list_receipts().await.unwrap().is_empty(), "no receipt for an unsigned approval");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalidated_key_at_share_says_key_invalidated() {
    let env = Env::new().await;
    let d = env.device("a", SHARER).await;
    d.core.consent().fetch_credential().await.unwrap();
    let http = reqwest::Client::builder()
        .tls_backend_preconfigured(
            citizen_core::net::tls::client_config(std::slice::from_ref(&env.server.ca_cert_pem), &[]).unwrap(),
        )
        .build()
        .unwrap();
    let v: serde_json::Value =
        http.post(format!("{}/rp/bank-demo/requests", env.server.base_url)).send().await.unwrap().json().await.unwrap();
    let info = d.core.consent().open_share_request(v["link"].as_str().unwrap().into()).await.unwrap();
    d.invalidate_key();
    let e = d.core.consent().share_data(info.request_id, vec![], PASS.into()).await.unwrap_err();
    assert!(matches!(e, CitizenError::KeyStore { .. }), "{e:?}");
    assert_eq!(e.detail().code, INVALIDATED);
    assert!(d.core.consent().list_receipts().await.unwrap().is_empty(), "no receipt for an unsigned share");
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_device_says_replaced_from_the_passcode_domain_too() {
    let env = Env::new().await;
    let old = env.device("old", CITIZEN).await;
    // A new device enrolls the same citizen without the old one's approval.
    let new = env.device("new", CITIZEN).await;
    assert_ne!(new.device_id, old.device_id);
    let e = old.core.account().start_passcode_reset().await.unwrap_err();
    assert!(
        matches!(
            e,
            CitizenError::NeedsEnrollment {
                reason: EnrollmentReason::DeviceDeactivated { status: DeviceStatus::Replaced },
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(e.detail().code, "auth.device_inactive");
}
