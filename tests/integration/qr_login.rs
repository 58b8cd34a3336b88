//! QR login end to end against the in-process reference server over pinned TLS: a relying
//! party (the test, holding the demo portal's registered key) opens login sessions, the core
//! scans, approves or denies, and the RP's poll sees the outcome. Every refusal asserts its own
//! stable `consent.*` code. Server and core share one `ManualClock`, so stale frames and
//! expiry are tested by moving time.

use std::sync::Arc;

use citizen_core::activity::ActivityKind;
use citizen_core::clock::Clock;
use citizen_core::crypto::{b64, random_array};
use citizen_core::error::PublicError;
use citizen_core::net::Net;
use citizen_core::protocol::rp::{
    ConsentReceipt, Decision, LoginRequest, QrDecisionRequest, QrDecisionResponse, QrFrame, QrSessionCreate,
    QrSessionCreated, QrSessionState, QrSessionStatus, ReceiptKind, SignedLoginRequest, PATH_QR_DECISION,
    PATH_QR_SESSIONS, PATH_QR_SESSION_PREFIX, QR_PREFIX,
};
use citizen_core::protocol::services::{KeysResponse, PATH_KEYS};
use citizen_core::{verify_receipt_export, CitizenCore, CitizenError, ConsentKind};
use citizen_server::testing::CITIZEN_1;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};

use crate::env::{Env, PASS};

const PORTAL: &str = "dvc-demo";

/// The shared environment with one enrolled, logged-in device and the portal backend.
struct QrLogin {
    env: Env,
    core: Arc<CitizenCore>,
    /// The test's own client, standing in for the portal backend.
    rp: Net,
    rp_key: SigningKey,
}

impl std::ops::Deref for QrLogin {
    type Target = Env;
    fn deref(&self) -> &Env {
        &self.env
    }
}

impl std::ops::DerefMut for QrLogin {
    fn deref_mut(&mut self) -> &mut Env {
        &mut self.env
    }
}

/// A login session the "portal" opened.
struct Session {
    request: LoginRequest,
    created: QrSessionCreated,
}

async fn env() -> QrLogin {
    let env = Env::new().await;
    let core = env.enrolled("core", CITIZEN_1).await.core;
    let (rp, rp_key) = (env.net(), env.rp_key(PORTAL));
    QrLogin { env, core, rp, rp_key }
}

fn sign(request: LoginRequest, key: &SigningKey) -> SignedLoginRequest {
    let sig: Signature = key.sign(&request.signing_input().unwrap());
    SignedLoginRequest { request, rp_signature: citizen_core::crypto::low_s(sig).to_bytes().into() }
}

fn code(e: &CitizenError) -> &str {
    &e.detail().code
}

impl QrLogin {
    fn request(&self, same_device: bool) -> LoginRequest {
        let now = self.clock.now();
        LoginRequest {
            same_device,
            session_id: random_array(),
            nonce: random_array(),
            issued_at: now,
            expires_at: now + 120,
            rp_id: PORTAL.into(),
            origin: self.server().base_url.clone(),
            claims: vec!["full_name".into(), "birthdate".into()],
        }
    }

    fn callback(&self) -> String {
        format!("{}/portal/callback", self.server().base_url)
    }

    async fn open(&self, same_device: bool) -> Session {
        let request = self.request(same_device);
        let body = QrSessionCreate {
            request: b64(&sign(request.clone(), &self.rp_key).to_bytes().unwrap()),
            redirect_uri: same_device.then(|| self.callback()),
        };
        let created: QrSessionCreated = self.rp.post(PATH_QR_SESSIONS, &body, None).await.unwrap();
        Session { request, created }
    }

    async fn poll(&self, s: &Session) -> QrSessionStatus {
        let path = format!("{PATH_QR_SESSION_PREFIX}{}?poll_token={}", s.created.session_id, s.created.poll_token);
        self.rp.get(&path, None).await.unwrap()
    }

    async fn frame(&self, s: &Session) -> String {
        self.poll(s).await.frame.expect("pending sessions show a frame")
    }

    /// A decision built by hand (as a hostile or replaying client would), signed by the device.
    async fn post_decision(
        &self,
        session_id: &str,
        receipt: &ConsentReceipt,
        code: &str,
    ) -> Result<QrDecisionResponse, CitizenError> {
        let signed = self
            .core
            .sign_consent_for_test(receipt.nonce.clone(), receipt.statement_subject(), receipt.issued_at)
            .await?;
        let req = QrDecisionRequest {
            session_id: session_id.to_string(),
            decision: Decision::Approve,
            verification_code: Some(code.to_string()),
            receipt: Some(receipt.clone()),
            signed,
        };
        self.post_raw(&req).await
    }

    async fn post_raw(&self, req: &QrDecisionRequest) -> Result<QrDecisionResponse, CitizenError> {
        let token = self.core.access_token().await.unwrap();
        self.rp.post(PATH_QR_DECISION, req, Some(&token)).await.map_err(CitizenError::from)
    }

    async fn receipt(&self, s: &Session) -> ConsentReceipt {
        let mut claims = s.request.claims.clone();
        claims.sort();
        ConsentReceipt {
            receipt_id: uuid::Uuid::new_v4().to_string(),
            kind: ReceiptKind::QrLogin,
            rp_id: PORTAL.into(),
            rp_name: "Cổng Dịch vụ công (bản thử nghiệm)".into(),
            origin: self.server().base_url.clone(),
            purpose: "login".into(),
            claims,
            retention_days: 0,
            request_id: s.created.session_id.clone(),
            nonce: s.request.nonce_b64(),
            device_id: self.core.status().await.unwrap().device_id.unwrap(),
            issued_at: self.clock.now(),
            chain_seq: 0,
            prev_digest: String::new(),
        }
    }

    async fn server_jwk(&self) -> String {
        let keys: KeysResponse = self.rp.get(PATH_KEYS, None).await.unwrap();
        keys.keys[0].to_string()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn scan_approve_receipt_and_id_token() {
    let mut env = env().await;
    // The demo portal, the demo bank and the level-2 demo RP (decision 30).
    assert_eq!(env.core.consent().refresh_relying_parties().await.unwrap(), 3);
    let s = env.open(false).await;
    let info = env.core.consent().scan_login_code(env.frame(&s).await).await.unwrap();
    assert_eq!(info.session_id, s.created.session_id);
    assert_eq!(info.relying_party_id, PORTAL);
    assert_eq!(info.relying_party_name_vi, "Cổng Dịch vụ công (bản thử nghiệm)");
    assert_eq!(info.origin, env.server().base_url);
    assert_eq!(info.claims.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["full_name", "birthdate"]);
    assert_eq!(info.claims[1].label_vi, "Ngày sinh");
    assert!(!info.same_device);
    assert_eq!(info.code_choices.len(), 3);

    let status = env.poll(&s).await;
    assert_eq!(status.state, QrSessionState::Scanned);
    let shown = status.verification_code.expect("the portal shows the code");
    assert!(info.code_choices.contains(&shown));

    // A wrong passcode is refused before anything is signed or sent.
    let e = env
        .core
        .consent()
        .approve_login(s.created.session_id.clone(), shown.clone(), "111112".into())
        .await
        .unwrap_err();
    assert_eq!(code(&e), "auth.passcode_incorrect");
    let approval = env.core.consent().approve_login(s.created.session_id.clone(), shown, PASS.into()).await.unwrap();
    assert_eq!(approval.redirect_url, None);
    assert_eq!(approval.receipt.kind, ConsentKind::QrLogin);
    assert_eq!(approval.receipt.claims, ["birthdate", "full_name"]);

    let status = env.poll(&s).await;
    assert_eq!(status.state, QrSessionState::Approved);
    let id_token = status.id_token.expect("the portal gets the ID token");
    let payload: serde_json::Value =
        serde_json::from_slice(&citizen_core::crypto::unb64(id_token.split('.').nth(1).unwrap()).unwrap()).unwrap();
    assert_eq!(payload["aud"], PORTAL);
    assert_eq!(payload["nonce"], s.request.nonce_b64());

    let receipts = env.core.consent().list_receipts().await.unwrap();
    assert_eq!(receipts, vec![approval.receipt.clone()]);
    let kinds: Vec<ActivityKind> = env.core.activity().list_entries().await.unwrap().iter().map(|e| e.kind).collect();
    assert_eq!(kinds.last(), Some(&ActivityKind::QrApproval));

    // The export verifies with the server's published key; a changed claim does not.
    let json = env.core.consent().export_receipts().await.unwrap();
    let pinned = env.server_jwk().await;
    assert_eq!(verify_receipt_export(json.clone(), Some(pinned.clone())).unwrap(), 1);
    let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
    v["receipts"][0]["receipt"]["claims"] = serde_json::json!(["birthdate", "cccd_number", "full_name"]);
    let e = verify_receipt_export(v.to_string(), Some(pinned.clone())).unwrap_err();
    assert_eq!(code(&e), "consent.receipt_tampered");
    let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
    v["receipts"][0]["countersignature"] = v["receipts"][0]["device_statement"]["signature"].clone();
    let e = verify_receipt_export(v.to_string(), Some(pinned)).unwrap_err();
    assert_eq!(code(&e), "consent.countersignature_invalid");

    // The same approval again: the session is decided, and the core no longer holds it.
    let e = env.core.consent().approve_login(s.created.session_id.clone(), "00".into(), PASS.into()).await.unwrap_err();
    assert_eq!(code(&e), "consent.unknown_session");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn replayed_other_session_and_changed_claims_are_refused_by_the_server() {
    let mut env = env().await;
    // Replay: the exact same decision posted twice.
    let a = env.open(false).await;
    env.core.consent().scan_login_code(env.frame(&a).await).await.unwrap();
    let shown = env.poll(&a).await.verification_code.unwrap();
    let receipt = env.receipt(&a).await;
    let signed = env
        .core
        .sign_consent_for_test(receipt.nonce.clone(), receipt.statement_subject(), receipt.issued_at)
        .await
        .unwrap();
    let req = QrDecisionRequest {
        session_id: a.created.session_id.clone(),
        decision: Decision::Approve,
        verification_code: Some(shown.clone()),
        receipt: Some(receipt),
        signed,
    };
    assert!(env.post_raw(&req).await.unwrap().countersignature.is_some());
    assert_eq!(code(&env.post_raw(&req).await.unwrap_err()), "consent.already_decided");
    // The core's own approval of the decided session gets the same code, and forgets it.
    let e = env.core.consent().approve_login(a.created.session_id.clone(), shown, PASS.into()).await.unwrap_err();
    assert_eq!(code(&e), "consent.already_decided");
    let e = env.core.consent().deny_login(a.created.session_id.clone()).await.unwrap_err();
    assert_eq!(code(&e), "consent.unknown_session");

    // An approval bound to session B posted for session C.
    let b = env.open(false).await;
    let c = env.open(false).await;
    env.core.consent().scan_login_code(env.frame(&b).await).await.unwrap();
    env.core.consent().scan_login_code(env.frame(&c).await).await.unwrap();
    let shown_c = env.poll(&c).await.verification_code.unwrap();
    let e = env.post_decision(&c.created.session_id, &env.receipt(&b).await, &shown_c).await.unwrap_err();
    assert_eq!(code(&e), "consent.session_mismatch");

    // Claims changed after consent: the receipt releases fewer claims than were asked.
    let mut changed = env.receipt(&c).await;
    changed.claims = vec!["full_name".into()];
    let e = env.post_decision(&c.created.session_id, &changed, &shown_c).await.unwrap_err();
    assert_eq!(code(&e), "consent.claims_changed");
    let mut more = env.receipt(&c).await;
    more.claims.push("phone".into());
    more.claims.sort();
    let e = env.post_decision(&c.created.session_id, &more, &shown_c).await.unwrap_err();
    assert_eq!(code(&e), "consent.claims_changed");
    // Nothing of that was approved: the real approval still works.
    env.core.consent().approve_login(c.created.session_id.clone(), shown_c, PASS.into()).await.unwrap();

    // A wrong verification code cancels the session.
    let d = env.open(false).await;
    let info = env.core.consent().scan_login_code(env.frame(&d).await).await.unwrap();
    let shown = env.poll(&d).await.verification_code.unwrap();
    let wrong = info.code_choices.iter().find(|c| **c != shown).unwrap().clone();
    let e = env.core.consent().approve_login(d.created.session_id.clone(), "7".into(), PASS.into()).await.unwrap_err();
    assert_eq!(code(&e), "consent.wrong_code", "a code that was not offered is refused locally");
    let e = env.core.consent().approve_login(d.created.session_id.clone(), wrong, PASS.into()).await.unwrap_err();
    assert_eq!(code(&e), "consent.wrong_code");
    assert_eq!(env.poll(&d).await.state, QrSessionState::Cancelled);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn fake_stale_and_malformed_codes_are_refused_before_approval() {
    let mut env = env().await;
    let scan = |t: String| async { env.core.consent().scan_login_code(t).await.unwrap_err() };

    // Overlong payload and random bytes: refused by the parser.
    assert_eq!(code(&scan(format!("{QR_PREFIX}{}", "A".repeat(2000))).await), "consent.qr_too_long");
    let noise: Vec<u8> = (0..300).map(|i| (i * 37 + 11) as u8).collect();
    assert_eq!(code(&scan(format!("{QR_PREFIX}{}", b64(&noise))).await), "consent.qr_not_login_code");
    assert_eq!(code(&scan(b64(&random_array::<200>())).await), "consent.qr_not_login_code");
    let bytes = QrFrame::parse(&env.frame(&env.open(false).await).await).unwrap().to_bytes().unwrap();
    let truncated = format!("{QR_PREFIX}{}", b64(&bytes[..bytes.len() - 1]));
    assert_eq!(code(&scan(truncated).await), "consent.qr_malformed");

    // A frame signed by a key that is not the portal's (a fake portal).
    let fake = SigningKey::from_slice(&random_array::<32>()).unwrap();
    let frame = QrFrame::new(sign(env.request(false), &fake), 0, b"secret").unwrap().to_text().unwrap();
    assert_eq!(code(&scan(frame).await), "consent.rp_signature_invalid");
    // The portal's key, but shown on an origin not registered for it.
    let mut r = env.request(false);
    r.origin = "https://dichvucong-gov.example".into();
    let frame = QrFrame::new(sign(r, &env.rp_key), 0, b"secret").unwrap().to_text().unwrap();
    assert_eq!(code(&scan(frame).await), "consent.origin_unregistered");
    // A claim the portal is not registered for.
    let mut r = env.request(false);
    r.claims.push("permanent_address".into());
    let frame = QrFrame::new(sign(r, &env.rp_key), 0, b"secret").unwrap().to_text().unwrap();
    assert_eq!(code(&scan(frame).await), "consent.claim_not_allowed");
    // An RP that is not in the registry.
    let mut r = env.request(false);
    r.rp_id = "nobody".into();
    let frame = QrFrame::new(sign(r, &env.rp_key), 0, b"secret").unwrap().to_text().unwrap();
    assert_eq!(code(&scan(frame).await), "consent.rp_unknown");
    // A genuine request with a MAC the server did not make.
    let s = env.open(false).await;
    let frame = QrFrame::new(sign(s.request.clone(), &env.rp_key), 0, b"guessed").unwrap().to_text().unwrap();
    assert_eq!(code(&scan(frame).await), "consent.frame_forged");

    // A photo of the code forwarded to someone else: stale by the time it is scanned.
    let s = env.open(false).await;
    let photo = env.frame(&s).await;
    env.clock.advance(8);
    assert_eq!(code(&scan(photo).await), "consent.frame_stale");
    // A fresh frame of the same session still works…
    let fresh = env.frame(&s).await;
    env.core.consent().scan_login_code(fresh.clone()).await.unwrap();
    // …once: the session is bound to this device now.
    assert_eq!(code(&scan(fresh).await), "consent.already_scanned");
    // Expired by the core's own clock: refused offline.
    let s = env.open(false).await;
    let frame = env.frame(&s).await;
    env.clock.advance(121);
    assert_eq!(code(&scan(frame).await), "consent.request_expired");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn deny_and_same_device_link() {
    let mut env = env().await;
    let s = env.open(false).await;
    env.core.consent().scan_login_code(env.frame(&s).await).await.unwrap();
    env.core.consent().deny_login(s.created.session_id.clone()).await.unwrap();
    let status = env.poll(&s).await;
    assert_eq!(status.state, QrSessionState::Denied);
    assert!(status.id_token.is_none());
    assert!(env.core.consent().list_receipts().await.unwrap().is_empty(), "a denial yields no receipt");
    let kinds: Vec<ActivityKind> = env.core.activity().list_entries().await.unwrap().iter().map(|e| e.kind).collect();
    assert_eq!(kinds.last(), Some(&ActivityKind::QrDenial));
    let e = env.core.consent().approve_login(s.created.session_id.clone(), "00".into(), PASS.into()).await.unwrap_err();
    assert_eq!(code(&e), "consent.unknown_session");

    // Same device: the RP's app opens a deep link and gets the ID token back in the redirect.
    let s = env.open(true).await;
    let frame = env.frame(&s).await;
    let link =
        format!("citizenid://login?p={}", url::form_urlencoded::byte_serialize(frame.as_bytes()).collect::<String>());
    let info = env.core.consent().open_login_link(link).await.unwrap();
    assert!(info.same_device);
    let shown = env.poll(&s).await.verification_code.unwrap();
    let approval = env.core.consent().approve_login(info.session_id, shown, PASS.into()).await.unwrap();
    let url = approval.redirect_url.expect("same-device approval redirects");
    assert!(url.starts_with(&format!("{}#id_token=", env.callback())), "{url}");
    let e = env.core.consent().open_login_link("citizenid://share?p=x".into()).await.unwrap_err();
    assert_eq!(code(&e), "consent.qr_not_login_code");
    assert_eq!(env.core.consent().list_receipts().await.unwrap().len(), 1);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rotated_portal_key_is_picked_up_by_one_registry_recheck() {
    let mut env = env().await;
    env.core.consent().refresh_relying_parties().await.unwrap();
    // The portal rotates its key: the registry the server signs now carries the new one.
    env.stop().await;
    std::fs::remove_file(env.dir.path().join("server/rp-keys").join(format!("{PORTAL}.pem"))).unwrap();
    env.restart().await;
    let rp_key = env.env.rp_key(PORTAL);
    assert_ne!(rp_key.verifying_key(), env.rp_key.verifying_key());
    env.rp_key = rp_key;

    // Just fetched: the cached registry is trusted and the new signature refused (no fetch
    // storm from hostile codes).
    let frame = env.frame(&env.open(false).await).await;
    assert_eq!(code(&env.core.consent().scan_login_code(frame).await.unwrap_err()), "consent.rp_signature_invalid");

    // Once the cache is older than the recheck floor, one fetch picks up the new key.
    env.clock.advance(citizen_core::consent::qr::REGISTRY_RECHECK_AFTER_SECS + 1);
    let frame = env.frame(&env.open(false).await).await;
    let info = env.core.consent().scan_login_code(frame).await.unwrap();
    assert_eq!(info.relying_party_id, PORTAL);

    // A key that is in no registry stays refused after the recheck too.
    env.clock.advance(citizen_core::consent::qr::REGISTRY_RECHECK_AFTER_SECS + 1);
    let fake = SigningKey::from_slice(&random_array::<32>()).unwrap();
    let frame = QrFrame::new(sign(env.request(false), &fake), 0, b"secret").unwrap().to_text().unwrap();
    assert_eq!(code(&env.core.consent().scan_login_code(frame).await.unwrap_err()), "consent.rp_signature_invalid");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scanned_login_survives_an_app_restart() {
    let env = env().await;
    let s = env.open(false).await;
    let info = env.core.consent().scan_login_code(env.frame(&s).await).await.unwrap();
    let shown = env.poll(&s).await.verification_code.unwrap();
    // The app is killed after the scan and opened again.
    let QrLogin { env, core, rp, rp_key } = env;
    drop(core);
    let core = env.device("core").core;
    let mut env = QrLogin { env, core, rp, rp_key };
    let approval = env.core.consent().approve_login(info.session_id.clone(), shown, PASS.into()).await.unwrap();
    assert_eq!(approval.receipt.relying_party_id, PORTAL);
    assert_eq!(env.poll(&s).await.state, QrSessionState::Approved);
    assert_eq!(env.core.consent().list_receipts().await.unwrap().len(), 1);
    // Answered: the pending request is gone.
    let e = env.core.consent().deny_login(info.session_id).await.unwrap_err();
    assert_eq!(code(&e), "consent.unknown_session");
    env.stop().await;
}
