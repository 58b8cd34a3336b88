//! QR login, server side: session creation checked against the registry, the animated frame
//! (MAC, staleness, expiry), scan binding, the verification code, approve/deny with a signed
//! consent receipt, the ID token, and the hosted demo portal.

use crate::common::*;
use citizen_protocol::crypto::{b64, random_array};
use citizen_protocol::protocol::rp::{
    self, ConsentReceipt, IdTokenClaims, LoginRequest, QrFrame, ReceiptCountersignClaims, ReceiptKind,
    SignedLoginRequest, QR_MAX_FRAME_AGE_STEPS, QR_STEP_SECS,
};
use citizen_protocol::protocol::{Purpose, SignedStatement};
use citizen_server::portal::{NewSessionResponse, PortalCitizen, PortalStatus, PORTAL_TITLE};
use citizen_server::registry::{DEMO_BANK_ID, DEMO_PORTAL_ID};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::DecodePrivateKey;
use serde_json::{json, Value};

const PORTAL_NAME_VI: &str = "Cổng Dịch vụ công (bản thử nghiệm)";

fn rp_key(h: &Harness, id: &str) -> SigningKey {
    let pem = std::fs::read_to_string(h.dir.path().join("rp-keys").join(format!("{id}.pem"))).unwrap();
    SigningKey::from_pkcs8_pem(&pem).unwrap()
}

fn login_request(h: &Harness, claims: &[&str], lifetime: i64) -> LoginRequest {
    LoginRequest {
        same_device: false,
        session_id: random_array(),
        nonce: random_array(),
        issued_at: h.now(),
        expires_at: h.now() + lifetime,
        rp_id: DEMO_PORTAL_ID.into(),
        origin: h.server.base_url.clone(),
        claims: claims.iter().map(|c| c.to_string()).collect(),
    }
}

fn sign_request(key: &SigningKey, request: LoginRequest) -> SignedLoginRequest {
    let sig: Signature = key.sign(&request.signing_input().unwrap());
    let mut rp_signature = [0u8; 64];
    rp_signature.copy_from_slice(&citizen_protocol::crypto::low_s(sig).to_bytes());
    SignedLoginRequest { request, rp_signature }
}

async fn create_raw(h: &Harness, signed: &SignedLoginRequest, redirect_uri: Option<&str>) -> (u16, Value) {
    h.post(
        rp::PATH_QR_SESSIONS,
        json!({"request": b64(&signed.to_bytes().unwrap()), "redirect_uri": redirect_uri}),
        None,
    )
    .await
}

/// A created session: the request as signed and the poll token.
struct Session {
    req: LoginRequest,
    poll_token: String,
}

impl Session {
    fn id(&self) -> String {
        self.req.session_id_b64()
    }
}

async fn create(h: &Harness, claims: &[&str], lifetime: i64) -> Session {
    let signed = sign_request(&rp_key(h, DEMO_PORTAL_ID), login_request(h, claims, lifetime));
    let (st, b) = create_raw(h, &signed, None).await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["session_id"], signed.request.session_id_b64());
    Session { req: signed.request, poll_token: b["poll_token"].as_str().unwrap().to_string() }
}

async fn poll(h: &Harness, s: &Session) -> Value {
    let (st, b) = h.get(&format!("{}{}?poll_token={}", rp::PATH_QR_SESSION_PREFIX, s.id(), s.poll_token), None).await;
    assert_eq!(st, 200, "{b}");
    b
}

async fn frame(h: &Harness, s: &Session) -> String {
    let b = poll(h, s).await;
    assert_eq!(b["state"], "pending", "{b}");
    b["frame"].as_str().unwrap().to_string()
}

/// An enrolled, logged-in device of citizen 1 with its access token.
struct Citizen {
    dev: Device,
    token: String,
}

async fn citizen(h: &Harness) -> Citizen {
    let mut dev = Device::new();
    h.enroll(C1, &mut dev).await;
    let t = h.login(&mut dev).await;
    Citizen { dev, token: t["access_token"].as_str().unwrap().to_string() }
}

async fn scan(h: &Harness, c: &Citizen, frame: &str) -> (u16, Value) {
    h.post(rp::PATH_QR_SCAN, json!({ "frame": frame }), Some(&c.token)).await
}

fn receipt(h: &Harness, c: &Citizen, s: &Session) -> ConsentReceipt {
    let mut claims = s.req.claims.clone();
    claims.sort();
    ConsentReceipt {
        receipt_id: uuid::Uuid::new_v4().to_string(),
        kind: ReceiptKind::QrLogin,
        rp_id: DEMO_PORTAL_ID.into(),
        rp_name: PORTAL_NAME_VI.into(),
        origin: h.server.base_url.clone(),
        purpose: "login".into(),
        claims,
        retention_days: 0,
        request_id: s.id(),
        nonce: s.req.nonce_b64(),
        device_id: c.dev.id.clone(),
        issued_at: h.now(),
        chain_seq: 0,
        prev_digest: String::new(),
    }
}

fn sign_receipt(h: &Harness, c: &mut Citizen, r: &ConsentReceipt) -> SignedStatement {
    c.dev.sign(h, Purpose::Consent, &r.nonce, &r.statement_subject())
}

async fn decide(h: &Harness, c: &Citizen, body: Value) -> (u16, Value) {
    h.post(rp::PATH_QR_DECISION, body, Some(&c.token)).await
}

fn approval(session_id: &str, code: &str, r: &ConsentReceipt, signed: &SignedStatement) -> Value {
    json!({"session_id": session_id, "decision": "approve", "verification_code": code, "receipt": r, "signed": signed})
}

/// Create, scan; returns the session, the real code and the choices.
async fn scanned(h: &Harness, c: &Citizen, claims: &[&str]) -> (Session, String, Vec<String>) {
    let s = create(h, claims, 120).await;
    let f = frame(h, &s).await;
    let (st, b) = scan(h, c, &f).await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["session_id"], s.id());
    let choices: Vec<String> = serde_json::from_value(b["code_choices"].clone()).unwrap();
    let p = poll(h, &s).await;
    assert_eq!(p["state"], "scanned");
    assert!(p["frame"].is_null(), "no frame once scanned");
    let code = p["verification_code"].as_str().unwrap().to_string();
    (s, code, choices)
}

/// Verify a JWS of kind `T` (its `typ`) with the server key from `GET /v1/keys` (and `aud`,
/// when given).
async fn decode<T: serde::de::DeserializeOwned + citizen_protocol::jwt::JwtKind>(
    h: &Harness,
    jws: &str,
    aud: Option<&str>,
) -> T {
    assert_eq!(jsonwebtoken::decode_header(jws).unwrap().typ.as_deref(), Some(T::TYP), "typ of the JWT");
    let (st, keys) = h.get(citizen_protocol::protocol::services::PATH_KEYS, None).await;
    assert_eq!(st, 200);
    let jwk = &keys["keys"][0];
    let key =
        jsonwebtoken::DecodingKey::from_ec_components(jwk["x"].as_str().unwrap(), jwk["y"].as_str().unwrap()).unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    v.validate_exp = false;
    v.required_spec_claims.clear();
    match aud {
        Some(a) => v.set_audience(&[a]),
        None => v.validate_aud = false,
    }
    jsonwebtoken::decode::<T>(jws, &key, &v).unwrap().claims
}

fn code_of(b: &Value) -> Option<&str> {
    b["code"].as_str()
}

#[tokio::test]
async fn qr_login_happy_path_releases_a_verifiable_id_token() {
    let h = start().await;
    let mut c = citizen(&h).await;
    let s = create(&h, &["full_name", "birthdate", "cccd_number"], 120).await;
    let p = poll(&h, &s).await;
    assert_eq!(p["state"], "pending");
    let valid_for = p["frame_valid_for"].as_i64().unwrap();
    assert!((1..=QR_STEP_SECS).contains(&valid_for), "{valid_for}");
    let f = p["frame"].as_str().unwrap();
    let parsed = QrFrame::parse(f).unwrap();
    assert_eq!(parsed.signed.request, s.req);
    // The code animates: a later step has another frame.
    h.clock.advance(QR_STEP_SECS);
    let f2 = frame(&h, &s).await;
    assert_ne!(f2, f);
    assert_eq!(QrFrame::parse(&f2).unwrap().step, parsed.step + 1);

    let (st, b) = scan(&h, &c, &f2).await;
    assert_eq!(st, 200, "{b}");
    let choices: Vec<String> = serde_json::from_value(b["code_choices"].clone()).unwrap();
    let p = poll(&h, &s).await;
    let code = p["verification_code"].as_str().unwrap().to_string();
    assert!(choices.contains(&code), "{choices:?} {code}");
    assert_eq!(h.server.qr_session_state(&s.id()).as_deref(), Some("scanned"));

    let r = receipt(&h, &c, &s);
    let signed = sign_receipt(&h, &mut c, &r);
    let (st, b) = decide(&h, &c, approval(&s.id(), &code, &r, &signed)).await;
    assert_eq!(st, 200, "{b}");
    assert!(b["redirect_url"].is_null());
    let cs: ReceiptCountersignClaims = decode(&h, b["countersignature"].as_str().unwrap(), None).await;
    assert_eq!(cs.receipt_id, r.receipt_id);
    assert_eq!(cs.receipt_digest, r.digest());
    assert_eq!(cs.device_signature, signed.signature);
    assert_eq!(cs.counter, signed.statement.counter);
    assert_eq!(h.server.consent_receipt_count(), 1);

    let p = poll(&h, &s).await;
    assert_eq!(p["state"], "approved");
    assert!(p["verification_code"].is_null());
    let id: IdTokenClaims = decode(&h, p["id_token"].as_str().unwrap(), Some(DEMO_PORTAL_ID)).await;
    assert_eq!(id.iss, h.server.audience);
    assert_eq!(id.aud, DEMO_PORTAL_ID);
    assert_eq!(id.nonce, s.req.nonce_b64());
    assert_eq!(id.sid, s.id());
    assert!(id.exp > h.now());
    assert_eq!(id.claims.len(), 3);
    assert_eq!(id.claims["full_name"], "Nguyễn Văn Mẫu");
    assert_eq!(id.claims["birthdate"], "1990-01-15");
    assert_eq!(id.claims["cccd_number"], "001090000001");
    // The same claims under their standard OpenID Connect names, top level (item 5.3).
    assert_eq!(id.standard["name"], "Nguyễn Văn Mẫu");
    assert_eq!(id.standard["family_name"], "Nguyễn");
    assert_eq!(id.standard["given_name"], "Mẫu");
    assert_eq!(id.standard["birthdate"], "1990-01-15");
    assert!(id.standard.get("cccd_number").is_none() && id.standard.get("phone_number").is_none());
    // A generic relying party: the key found through discovery verifies the token.
    id_token_verifies_through_discovery(&h, p["id_token"].as_str().unwrap()).await;
    let account = h.server.audit_events().iter().find_map(|e| e.account_id.clone()).unwrap();
    assert_ne!(id.sub, account, "the subject is pairwise, not the account id");
    assert!(h.server.audit_events().iter().any(|e| e.event == "qr_approve" && e.outcome == "ok"));

    // Replaying the same approval: the session is decided.
    let (st, b) = decide(&h, &c, approval(&s.id(), &code, &r, &signed)).await;
    assert_eq!((st, code_of(&b)), (409, Some(rp::codes::QR_ALREADY_DECIDED)));
    // Scanning again: already scanned.
    let (st, b) = scan(&h, &c, &f2).await;
    assert!(st == 409 || st == 410, "{st} {b}");
}

#[tokio::test]
async fn pairwise_subjects_differ_between_relying_parties_and_repeat_for_one() {
    let h = start().await;
    let mut c = citizen(&h).await;
    let mut subs = vec![];
    for rp_id in [DEMO_PORTAL_ID, DEMO_PORTAL_ID, DEMO_BANK_ID] {
        let mut req = login_request(&h, &["full_name"], 120);
        req.rp_id = rp_id.into();
        let signed = sign_request(&rp_key(&h, rp_id), req);
        let (st, b) = create_raw(&h, &signed, None).await;
        assert_eq!(st, 200, "{b}");
        let s = Session { req: signed.request, poll_token: b["poll_token"].as_str().unwrap().into() };
        let (st, _) = scan(&h, &c, &frame(&h, &s).await).await;
        assert_eq!(st, 200);
        let code = poll(&h, &s).await["verification_code"].as_str().unwrap().to_string();
        let mut r = receipt(&h, &c, &s);
        r.rp_id = rp_id.into();
        if rp_id == DEMO_BANK_ID {
            r.rp_name = "Ngân hàng TMCP Thử Nghiệm".into();
        }
        let signed = sign_receipt(&h, &mut c, &r);
        let (st, b) = decide(&h, &c, approval(&s.id(), &code, &r, &signed)).await;
        assert_eq!(st, 200, "{b}");
        let id: IdTokenClaims = decode(&h, poll(&h, &s).await["id_token"].as_str().unwrap(), Some(rp_id)).await;
        subs.push(id.sub);
    }
    assert_eq!(subs[0], subs[1]);
    assert_ne!(subs[0], subs[2]);
}

#[tokio::test]
async fn stale_frame_is_refused_but_a_recent_one_is_accepted() {
    let h = start().await;
    let c = citizen(&h).await;
    let s = create(&h, &["full_name"], 120).await;
    let old = frame(&h, &s).await;
    h.clock.advance((QR_MAX_FRAME_AGE_STEPS as i64 + 1) * QR_STEP_SECS + 1);
    let (st, b) = scan(&h, &c, &old).await;
    assert_eq!((st, code_of(&b)), (410, Some(rp::codes::QR_FRAME_STALE)), "{b}");
    // A frame exactly QR_MAX_FRAME_AGE_STEPS behind is still good.
    let recent = frame(&h, &s).await;
    h.clock.advance(QR_MAX_FRAME_AGE_STEPS as i64 * QR_STEP_SECS);
    let (st, b) = scan(&h, &c, &recent).await;
    assert_eq!(st, 200, "{b}");
}

#[tokio::test]
async fn forged_frame_mac_is_refused() {
    let h = start().await;
    let c = citizen(&h).await;
    let s = create(&h, &["full_name"], 120).await;
    let mut f = QrFrame::parse(&frame(&h, &s).await).unwrap();
    f.mac[0] ^= 1;
    let (st, b) = scan(&h, &c, &f.to_text().unwrap()).await;
    assert_eq!((st, code_of(&b)), (403, Some(rp::codes::QR_FRAME_FORGED)));
    // A frame made with another secret for the same request is forged too.
    let other = QrFrame::new(f.signed.clone(), f.step, b"guessed secret").unwrap();
    let (st, b) = scan(&h, &c, &other.to_text().unwrap()).await;
    assert_eq!((st, code_of(&b)), (403, Some(rp::codes::QR_FRAME_FORGED)));
    // An unknown session.
    let mut unknown = f.signed.clone();
    unknown.request.session_id = [0; 16];
    let (st, b) = scan(&h, &c, &QrFrame::new(unknown, 0, b"k").unwrap().to_text().unwrap()).await;
    assert_eq!((st, code_of(&b)), (404, Some(rp::codes::QR_UNKNOWN_SESSION)));
    assert_eq!(h.server.qr_session_state(&s.id()).as_deref(), Some("pending"));
}

#[tokio::test]
async fn expired_session_is_refused_and_cancelled() {
    let h = start().await;
    let c = citizen(&h).await;
    let s = create(&h, &["full_name"], 30).await;
    h.clock.advance(29);
    let f = frame(&h, &s).await;
    h.clock.advance(2);
    let (st, b) = scan(&h, &c, &f).await;
    assert_eq!((st, code_of(&b)), (410, Some(rp::codes::QR_EXPIRED)), "{b}");
    let p = poll(&h, &s).await;
    assert_eq!(p["state"], "cancelled");
    assert!(p["frame"].is_null());
}

#[tokio::test]
async fn decision_for_another_session_is_a_mismatch() {
    let h = start().await;
    let mut c = citizen(&h).await;
    let (a, code_a, _) = scanned(&h, &c, &["full_name"]).await;
    let (b_sess, _, _) = scanned(&h, &c, &["full_name"]).await;
    // Receipt and statement for B, posted as the decision of A.
    let r = receipt(&h, &c, &b_sess);
    let signed = sign_receipt(&h, &mut c, &r);
    let (st, b) = decide(&h, &c, approval(&a.id(), &code_a, &r, &signed)).await;
    assert_eq!((st, code_of(&b)), (409, Some(rp::codes::QR_SESSION_MISMATCH)), "{b}");
    // A receipt for A under a statement whose nonce is B's.
    let r = receipt(&h, &c, &a);
    let wrong_nonce = c.dev.sign(&h, Purpose::Consent, &b_sess.req.nonce_b64(), &r.statement_subject());
    let (st, b) = decide(&h, &c, approval(&a.id(), &code_a, &r, &wrong_nonce)).await;
    assert_eq!((st, code_of(&b)), (409, Some(rp::codes::QR_SESSION_MISMATCH)), "{b}");
    assert_eq!(h.server.qr_session_state(&a.id()).as_deref(), Some("scanned"));
}

#[tokio::test]
async fn changed_claims_are_refused() {
    let h = start().await;
    let mut c = citizen(&h).await;
    let (s, code, _) = scanned(&h, &c, &["full_name", "birthdate"]).await;
    for tamper in [
        (|r: &mut ConsentReceipt| r.claims = vec!["full_name".into()]) as fn(&mut ConsentReceipt),
        |r| r.claims = vec!["full_name".into(), "birthdate".into()], // not sorted
        |r| r.claims.push("phone".into()),
        |r| r.origin = "https://other.example".into(),
        |r| r.retention_days = 30,
    ] {
        let mut r = receipt(&h, &c, &s);
        tamper(&mut r);
        let signed = sign_receipt(&h, &mut c, &r);
        let (st, b) = decide(&h, &c, approval(&s.id(), &code, &r, &signed)).await;
        assert_eq!((st, code_of(&b)), (409, Some(rp::codes::CLAIMS_CHANGED)), "{b}");
    }
    // The untampered receipt still goes through.
    let r = receipt(&h, &c, &s);
    let signed = sign_receipt(&h, &mut c, &r);
    let (st, b) = decide(&h, &c, approval(&s.id(), &code, &r, &signed)).await;
    assert_eq!(st, 200, "{b}");
}

#[tokio::test]
async fn wrong_code_cancels_the_session() {
    let h = start().await;
    let mut c = citizen(&h).await;
    let (s, code, choices) = scanned(&h, &c, &["full_name"]).await;
    let wrong = choices.iter().find(|x| **x != code).unwrap().clone();
    let r = receipt(&h, &c, &s);
    let signed = sign_receipt(&h, &mut c, &r);
    let (st, b) = decide(&h, &c, approval(&s.id(), &wrong, &r, &signed)).await;
    assert_eq!((st, code_of(&b)), (403, Some(rp::codes::QR_WRONG_CODE)));
    assert_eq!(h.server.qr_session_state(&s.id()).as_deref(), Some("cancelled"));
    let p = poll(&h, &s).await;
    assert_eq!(p["state"], "cancelled");
    assert!(p["verification_code"].is_null() && p["id_token"].is_null());
    // The right code afterwards is too late.
    let (st, b) = decide(&h, &c, approval(&s.id(), &code, &r, &signed)).await;
    assert_eq!((st, code_of(&b)), (410, Some(rp::codes::QR_EXPIRED)));
    assert_eq!(h.server.consent_receipt_count(), 0);
}

#[tokio::test]
async fn deny_records_the_refusal_without_a_token() {
    let h = start().await;
    let mut c = citizen(&h).await;
    let (s, _, _) = scanned(&h, &c, &["full_name"]).await;
    // A deny statement with the wrong subject is not a deny of this session.
    let bad = c.dev.sign(&h, Purpose::Consent, &s.req.nonce_b64(), "deny:someone-else");
    let body = |signed: &SignedStatement| json!({"session_id": s.id(), "decision": "deny", "signed": signed});
    let (st, b) = decide(&h, &c, body(&bad)).await;
    assert_eq!((st, code_of(&b)), (401, Some("signature_invalid")));
    let signed = c.dev.sign(&h, Purpose::Consent, &s.req.nonce_b64(), &format!("deny:{}", s.id()));
    let (st, b) = decide(&h, &c, body(&signed)).await;
    assert_eq!(st, 200, "{b}");
    assert!(b["countersignature"].is_null());
    let p = poll(&h, &s).await;
    assert_eq!(p["state"], "denied");
    assert!(p["id_token"].is_null());
    assert_eq!(h.server.consent_receipt_count(), 0);
    let again = c.dev.sign(&h, Purpose::Consent, &s.req.nonce_b64(), &format!("deny:{}", s.id()));
    let (st, b) = decide(&h, &c, body(&again)).await;
    assert_eq!((st, code_of(&b)), (409, Some(rp::codes::QR_ALREADY_DECIDED)));
}

#[tokio::test]
async fn replayed_statement_counter_is_refused() {
    let h = start().await;
    let c = citizen(&h).await;
    let (s, code, _) = scanned(&h, &c, &["full_name"]).await;
    let r = receipt(&h, &c, &s);
    // A statement signed with an old counter (the login's) does not pass.
    let old = c.dev.sign_statement(citizen_protocol::protocol::Statement {
        purpose: Purpose::Consent,
        audience: h.server.audience.clone(),
        nonce: r.nonce.clone(),
        device_id: c.dev.id.clone(),
        counter: 1,
        issued_at: h.now(),
        subject: r.statement_subject(),
    });
    let (status, b) = decide(&h, &c, approval(&s.id(), &code, &r, &old)).await;
    assert_eq!((status, code_of(&b)), (401, Some("counter_replay")), "{b}");
    assert_eq!(h.server.qr_session_state(&s.id()).as_deref(), Some("scanned"));
}

#[tokio::test]
async fn session_creation_checks_the_registry() {
    let h = start().await;
    let key = rp_key(&h, DEMO_PORTAL_ID);
    // Signed by some other key.
    let stranger = SigningKey::from_slice(&random_array::<32>()).unwrap();
    let (st, b) = create_raw(&h, &sign_request(&stranger, login_request(&h, &["full_name"], 60)), None).await;
    assert_eq!((st, code_of(&b)), (401, Some(rp::codes::RP_SIGNATURE_INVALID)));
    // The bank's key does not sign for the portal.
    let (st, b) =
        create_raw(&h, &sign_request(&rp_key(&h, DEMO_BANK_ID), login_request(&h, &["full_name"], 60)), None).await;
    assert_eq!((st, code_of(&b)), (401, Some(rp::codes::RP_SIGNATURE_INVALID)));
    // Origin not registered.
    let mut r = login_request(&h, &["full_name"], 60);
    r.origin = "https://phishing.example".into();
    let (st, b) = create_raw(&h, &sign_request(&key, r), None).await;
    assert_eq!((st, code_of(&b)), (403, Some(rp::codes::ORIGIN_UNREGISTERED)));
    // Unknown RP.
    let mut r = login_request(&h, &["full_name"], 60);
    r.rp_id = "nobody".into();
    let (st, b) = create_raw(&h, &sign_request(&key, r), None).await;
    assert_eq!((st, code_of(&b)), (404, Some(rp::codes::RP_UNKNOWN)));
    // A claim the portal is not registered for.
    let (st, b) = create_raw(&h, &sign_request(&key, login_request(&h, &["permanent_address"], 60)), None).await;
    assert_eq!((st, code_of(&b)), (403, Some(rp::codes::CLAIM_NOT_ALLOWED)));
    // Issued far in the past (and so expired).
    let mut r = login_request(&h, &["full_name"], 60);
    r.issued_at -= 3600;
    r.expires_at -= 3600;
    let (st, b) = create_raw(&h, &sign_request(&key, r), None).await;
    assert_eq!((st, code_of(&b)), (400, Some("clock_skew")));
    // Same-device flow: the redirect URI must be registered.
    let mut r = login_request(&h, &["full_name"], 60);
    r.same_device = true;
    let signed = sign_request(&key, r);
    let (st, b) = create_raw(&h, &signed, Some("https://phishing.example/cb")).await;
    assert_eq!((st, code_of(&b)), (403, Some(rp::codes::ORIGIN_UNREGISTERED)));
    // Garbage and reuse.
    let (st, b) = h.post(rp::PATH_QR_SESSIONS, json!({"request": "!!"}), None).await;
    assert_eq!((st, code_of(&b)), (400, Some("invalid_request")));
    let good = sign_request(&key, login_request(&h, &["full_name"], 60));
    assert_eq!(create_raw(&h, &good, None).await.0, 200);
    let (st, b) = create_raw(&h, &good, None).await;
    assert_eq!((st, code_of(&b)), (409, Some("invalid_request")));
    // Polling with a wrong token reveals nothing.
    let (st, b) =
        h.get(&format!("{}{}?poll_token=wrong", rp::PATH_QR_SESSION_PREFIX, good.request.session_id_b64()), None).await;
    assert_eq!((st, code_of(&b)), (404, Some(rp::codes::QR_UNKNOWN_SESSION)));
}

#[tokio::test]
async fn scan_needs_a_bearer_token() {
    let h = start().await;
    let s = create(&h, &["full_name"], 60).await;
    let (st, b) = h.post(rp::PATH_QR_SCAN, json!({"frame": frame(&h, &s).await}), None).await;
    assert_eq!((st, code_of(&b)), (401, Some("token_invalid")));
    assert_eq!(h.server.qr_session_state(&s.id()).as_deref(), Some("pending"));
}

// ---------------------------------------------------------------------------------------------
// Demo portal
// ---------------------------------------------------------------------------------------------

async fn get_text(h: &Harness, path: &str) -> reqwest::Response {
    h.http.get(format!("{}{path}", h.server.base_url)).send().await.unwrap()
}

#[tokio::test]
async fn portal_page_is_self_contained_with_the_dom_contract() {
    let h = start().await;
    let resp = get_text(&h, "/portal").await;
    assert_eq!(resp.status(), 200);
    let headers = resp.headers().clone();
    assert!(headers["content-type"].to_str().unwrap().starts_with("text/html"));
    assert_eq!(headers["cache-control"], "no-store");
    let csp = headers["content-security-policy"].to_str().unwrap().to_string();
    assert!(csp.contains("script-src 'nonce-") && !csp.contains("unsafe-inline"), "{csp}");
    let body = resp.text().await.unwrap();
    assert!(body.contains(&format!("<title>{PORTAL_TITLE}</title>")));
    for id in ["id=\"qr\"", "id=\"code\"", "id=\"status\"", "id=\"who\"", "data-state=\"pending\"", "data-frame"] {
        assert!(body.contains(id), "missing {id}");
    }
    let nonce = csp.split("'nonce-").nth(1).unwrap().split('\'').next().unwrap();
    assert!(body.contains(&format!("<script nonce=\"{nonce}\">")));
    assert!(!body.contains("src=\"http") && !body.contains("href=\"http"), "no external assets");
    // A fresh nonce per response.
    let csp2 = get_text(&h, "/portal").await.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert_ne!(csp, csp2);
    let cb = get_text(&h, "/portal/callback").await;
    assert_eq!(cb.status(), 200);
    assert!(cb.text().await.unwrap().contains("id=\"who\""));
}

#[tokio::test]
async fn portal_login_end_to_end_shows_the_verified_citizen() {
    let h = start().await;
    let mut c = citizen(&h).await;
    let (st, b) = h.post("/portal/api/sessions", json!({}), None).await;
    assert_eq!(st, 200, "{b}");
    let created: NewSessionResponse = serde_json::from_value(b).unwrap();
    assert!(created.deep_link.is_none());
    let poll_portal = |handle: String| {
        let h = &h;
        async move {
            let (st, b) = h.get(&format!("/portal/api/sessions/{handle}"), None).await;
            assert_eq!(st, 200, "{b}");
            serde_json::from_value::<PortalStatus>(b).unwrap()
        }
    };
    let p = poll_portal(created.handle.clone()).await;
    let f = p.frame.clone().unwrap();
    let svg = p.svg.unwrap();
    assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"), "{svg}");
    let parsed = QrFrame::parse(&f).unwrap();
    assert_eq!(parsed.signed.request.rp_id, DEMO_PORTAL_ID);
    assert_eq!(parsed.signed.request.claims, vec!["full_name", "birthdate", "cccd_number"]);

    let (st, b) = scan(&h, &c, &f).await;
    assert_eq!(st, 200, "{b}");
    let p = poll_portal(created.handle.clone()).await;
    assert_eq!(p.state, rp::QrSessionState::Scanned);
    assert!(p.svg.is_none());
    let code = p.verification_code.unwrap();
    let s = Session { req: parsed.signed.request.clone(), poll_token: String::new() };
    let r = receipt(&h, &c, &s);
    let signed = sign_receipt(&h, &mut c, &r);
    let (st, b) = decide(&h, &c, approval(&s.id(), &code, &r, &signed)).await;
    assert_eq!(st, 200, "{b}");
    let p = poll_portal(created.handle.clone()).await;
    assert_eq!(p.state, rp::QrSessionState::Approved);
    let who = p.citizen.unwrap();
    assert_eq!(who.full_name, "Nguyễn Văn Mẫu");
    assert_eq!(who.birthdate, "1990-01-15");
    assert_eq!(who.cccd_masked, "*********001");
    let (st, b) = h.get("/portal/api/sessions/nope", None).await;
    assert_eq!((st, code_of(&b)), (404, Some(rp::codes::QR_UNKNOWN_SESSION)));
}

#[tokio::test]
async fn portal_same_device_flow_redirects_to_the_callback() {
    let h = start().await;
    let mut c = citizen(&h).await;
    let (st, b) = h.post("/portal/api/sessions", json!({"same_device": true}), None).await;
    assert_eq!(st, 200, "{b}");
    let created: NewSessionResponse = serde_json::from_value(b).unwrap();
    let link = created.deep_link.unwrap();
    let encoded = link.strip_prefix("citizenid://login?p=").unwrap();
    let f: String = url::form_urlencoded::parse(format!("p={encoded}").as_bytes()).next().unwrap().1.into_owned();
    let parsed = QrFrame::parse(&f).unwrap();
    assert!(parsed.signed.request.same_device);
    let (st, b) = scan(&h, &c, &f).await;
    assert_eq!(st, 200, "{b}");
    let (_, p) = h.get(&format!("/portal/api/sessions/{}", created.handle), None).await;
    let code = p["verification_code"].as_str().unwrap().to_string();
    let s = Session { req: parsed.signed.request.clone(), poll_token: String::new() };
    let r = receipt(&h, &c, &s);
    let signed = sign_receipt(&h, &mut c, &r);
    let (st, b) = decide(&h, &c, approval(&s.id(), &code, &r, &signed)).await;
    assert_eq!(st, 200, "{b}");
    let redirect = b["redirect_url"].as_str().unwrap();
    let prefix = format!("{}/portal/callback#id_token=", h.server.base_url);
    assert!(redirect.starts_with(&prefix), "{redirect}");
    let frag: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(redirect.split_once('#').unwrap().1.as_bytes()).into_owned().collect();
    assert_eq!(frag["session_id"], s.id());
    let (st, b) =
        h.post("/portal/api/callback", json!({"session_id": s.id(), "id_token": frag["id_token"]}), None).await;
    assert_eq!(st, 200, "{b}");
    let who: PortalCitizen = serde_json::from_value(b).unwrap();
    assert_eq!(who.full_name, "Nguyễn Văn Mẫu");
    // A tampered token does not verify.
    let tok = &frag["id_token"];
    let (head_payload, sig) = tok.rsplit_once('.').unwrap();
    let flipped = if sig.starts_with('A') { 'B' } else { 'A' };
    let bad = format!("{head_payload}.{flipped}{}", &sig[1..]);
    let (st, b) = h.post("/portal/api/callback", json!({"session_id": s.id(), "id_token": bad}), None).await;
    assert_eq!((st, code_of(&b)), (502, Some("token_invalid")));
    // The token is bound to its session.
    let (st, _) =
        h.post("/portal/api/callback", json!({"session_id": "other", "id_token": frag["id_token"]}), None).await;
    assert_eq!(st, 404);
}

#[tokio::test]
async fn portal_callback_accepts_an_id_token_once() {
    let h = start().await;
    let mut c = citizen(&h).await;
    let (st, b) = h.post("/portal/api/sessions", json!({"same_device": true}), None).await;
    assert_eq!(st, 200, "{b}");
    let created: NewSessionResponse = serde_json::from_value(b).unwrap();
    let encoded = created.deep_link.unwrap().strip_prefix("citizenid://login?p=").unwrap().to_string();
    let f: String = url::form_urlencoded::parse(format!("p={encoded}").as_bytes()).next().unwrap().1.into_owned();
    let parsed = QrFrame::parse(&f).unwrap();
    let (st, b) = scan(&h, &c, &f).await;
    assert_eq!(st, 200, "{b}");
    let (_, p) = h.get(&format!("/portal/api/sessions/{}", created.handle), None).await;
    let code = p["verification_code"].as_str().unwrap().to_string();
    let s = Session { req: parsed.signed.request.clone(), poll_token: String::new() };
    let r = receipt(&h, &c, &s);
    let signed = sign_receipt(&h, &mut c, &r);
    let (st, b) = decide(&h, &c, approval(&s.id(), &code, &r, &signed)).await;
    assert_eq!(st, 200, "{b}");
    let redirect = b["redirect_url"].as_str().unwrap();
    let frag: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(redirect.split_once('#').unwrap().1.as_bytes()).into_owned().collect();
    let body = json!({"session_id": s.id(), "id_token": frag["id_token"]});
    let (st, b) = h.post("/portal/api/callback", body.clone(), None).await;
    assert_eq!(st, 200, "{b}");
    // The same token again (a leaked URL, a replayed request): refused, whatever the order.
    for _ in 0..2 {
        let (st, b) = h.post("/portal/api/callback", body.clone(), None).await;
        assert_eq!((st, code_of(&b)), (409, Some(rp::codes::PRESENTATION_REPLAYED)), "{b}");
    }
}

/// Issue 11 (decision 26): consent (a QR login approval) signed by the registered bookkeeping
/// key is refused; the device key's approval of the same session goes through.
#[tokio::test(flavor = "multi_thread")]
async fn an_approval_signed_by_the_bookkeeping_key_is_refused() {
    let h = start().await;
    let mut c = citizen(&h).await;
    let bk = SigningKey::from_slice(&citizen_protocol::crypto::random_array::<32>()).unwrap();
    let nonce = h.nonce(&c.dev, Purpose::Login).await;
    let subject =
        citizen_protocol::protocol::bookkeeping_subject(bk.verifying_key().to_encoded_point(false).as_bytes());
    let (st, b) = h.login_signed(&c.dev.sign(&h, Purpose::Login, &nonce, &subject)).await;
    assert_eq!(st, 200, "{b}");
    let (s, code, _) = scanned(&h, &c, &["full_name"]).await;
    let r = receipt(&h, &c, &s);
    let device_key = std::mem::replace(&mut c.dev.key, bk);
    let signed = sign_receipt(&h, &mut c, &r);
    let (st, b) = decide(&h, &c, approval(&s.id(), &code, &r, &signed)).await;
    assert_eq!((st, b["code"].as_str()), (401, Some("signature_invalid")), "{b}");
    assert_eq!(h.server.consent_receipt_count(), 0);
    c.dev.key = device_key;
    let signed = sign_receipt(&h, &mut c, &r);
    let (st, b) = decide(&h, &c, approval(&s.id(), &code, &r, &signed)).await;
    assert_eq!(st, 200, "{b}");
}

/// What a generic OpenID Connect relying party does: read `/.well-known/openid-configuration`,
/// fetch its `jwks_uri`, pick the key by `kid`, check `alg` is advertised and verify. The JWT VC
/// issuer metadata carries the same keys.
async fn id_token_verifies_through_discovery(h: &Harness, id_token: &str) {
    use citizen_protocol::protocol::discovery::{PATH_JWT_VC_ISSUER, PATH_OPENID_CONFIGURATION};
    let (st, conf) = h.get(PATH_OPENID_CONFIGURATION, None).await;
    assert_eq!(st, 200, "{conf}");
    assert_eq!(conf["issuer"], h.server.audience);
    assert_eq!(conf["id_token_signing_alg_values_supported"], json!(["ES256"]));
    let jwks_uri = conf["jwks_uri"].as_str().unwrap();
    let path = jwks_uri.strip_prefix(h.server.audience.as_str()).expect("jwks_uri on the issuer's origin");
    let (st, jwks) = h.get(path, None).await;
    assert_eq!(st, 200);
    let (st, meta) = h.get(PATH_JWT_VC_ISSUER, None).await;
    assert_eq!(st, 200);
    assert_eq!(meta["issuer"], h.server.audience);
    assert_eq!(meta["jwks"], jwks, "one key set");
    let header = jsonwebtoken::decode_header(id_token).unwrap();
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(jwks).unwrap();
    let jwk = set.find(header.kid.as_deref().unwrap()).expect("kid in the published JWKS");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    v.validate_exp = false;
    v.set_issuer(&[conf["issuer"].as_str().unwrap()]);
    v.set_audience(&[DEMO_PORTAL_ID]);
    let c = jsonwebtoken::decode::<serde_json::Value>(id_token, &key, &v).unwrap().claims;
    assert_eq!(c["name"], "Nguyễn Văn Mẫu");
}
