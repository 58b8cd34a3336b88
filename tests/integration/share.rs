//! Consent-based data sharing end to end against the reference server and its demo bank:
//! selective disclosure (an undisclosed claim is nowhere in the presentation), the bank's
//! verifier refusing a presentation for another audience, a replayed presentation and a tampered
//! disclosure, the countersigned receipt, and the device-side refusals of bad share requests.

use std::sync::Arc;

use citizen_core::activity::ActivityKind;
use citizen_core::crypto::{b64, unb64};
use citizen_core::error::PublicError;
use citizen_core::platform::software::MemoryKeyStore;
use citizen_core::protocol::rp::{
    ConsentReceipt, PresentationSubmission, ReceiptCountersignClaims, ReceiptCountersignRequest, ReceiptKind,
    ShareRequestClaims, PATH_RECEIPTS, SHARE_REQUEST_TYP,
};
use citizen_core::protocol::{Purpose, SignedStatement, Statement};
use citizen_core::sdjwt::{self, PresentationCheck, PresentationError};
use citizen_core::DeviceKeyStore;
use citizen_core::{CitizenCore, CitizenError, ConsentKind};
use serde_json::{json, Map, Value};

use crate::env::{Device, Env, PASS};

/// The register's sharing test citizen (fictitious).
const WHO: (&str, &str, &str) = ("048199000010", "1999-05-05", "+84900000010");
const FULL_NAME: &str = "Đặng Thị Chia Sẻ";
/// Values of claims the tests never disclose.
const HIDDEN: &[&str] = &["Số 10 Đường Chia Sẻ", "Thành phố Đà Nẵng", "female", "Việt Nam"];

/// The shared environment and an HTTPS client of the demo bank.
struct Share {
    env: Env,
    http: reqwest::Client,
}

impl std::ops::Deref for Share {
    type Target = Env;
    fn deref(&self) -> &Env {
        &self.env
    }
}

impl Share {
    async fn new() -> Share {
        let env = Env::new().await;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(
                citizen_core::net::tls::client_config(std::slice::from_ref(&env.server().ca_cert_pem), &[]).unwrap(),
            )
            .build()
            .unwrap();
        Share { env, http }
    }

    async fn core(&self) -> Arc<CitizenCore> {
        self.core_with_keys().await.0
    }

    /// An enrolled, logged-in core, its key store and its device id.
    async fn core_with_keys(&self) -> (Arc<CitizenCore>, Arc<MemoryKeyStore>, String) {
        let Device { core, keys, .. } = self.device("dev");
        let out = citizen_server::testing::enroll_and_login(&core, &self.otp, WHO, PASS).await;
        (core, keys, out.device_id)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server().base_url)
    }

    /// A fresh request from the demo bank: (JWS, claims, deep link).
    async fn bank_request(&self) -> (String, ShareRequestClaims, String) {
        let v: Value = self.http.post(self.url("/rp/bank-demo/requests")).send().await.unwrap().json().await.unwrap();
        let jws = v["request"].as_str().unwrap().to_string();
        (jws.clone(), request_claims(&jws), v["link"].as_str().unwrap().to_string())
    }

    /// POST a presentation to the bank: (HTTP status, body).
    async fn submit(&self, request_id: &str, presentation: &str) -> (u16, Value) {
        let body = PresentationSubmission { request_id: request_id.into(), presentation: presentation.into() };
        let r = self.http.post(self.url("/rp/bank-demo/presentations")).json(&body).send().await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }

    /// The server key as the bank's verifier sees it (`GET /v1/keys`).
    async fn issuer_key(&self) -> jsonwebtoken::DecodingKey {
        let v: Value = self.http.get(self.url("/v1/keys")).send().await.unwrap().json().await.unwrap();
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(v["keys"][0].clone()).unwrap();
        jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap()
    }
}

fn request_claims(jws: &str) -> ShareRequestClaims {
    serde_json::from_slice(&unb64(jws.split('.').nth(1).unwrap()).unwrap()).unwrap()
}

fn sign_request(key: p256::ecdsa::SigningKey, kid: &str, claims: &ShareRequestClaims) -> String {
    let mut h = Map::new();
    h.insert("typ".into(), SHARE_REQUEST_TYP.into());
    let Value::Object(p) = serde_json::to_value(claims).unwrap() else { unreachable!() };
    sdjwt::P256JwsSigner::new(key, Some(kid.into())).sign_compact(&h, &p)
}

/// Every part of a presentation decoded (JWT headers and payloads, disclosures, signatures as
/// lossy text): what anyone holding it can read.
fn decoded(p: &str) -> String {
    p.split(['~', '.'])
        .map(|part| String::from_utf8_lossy(&unb64(part).unwrap_or_default()).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

fn code(e: &CitizenError) -> String {
    e.detail().code.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selective_share_reveals_only_chosen_claims_and_cannot_be_replayed() {
    let env = Share::new().await;
    let core = env.core().await;
    let (_jws, req, link) = env.bank_request().await;

    let info = core.consent().open_share_request(link).await.unwrap();
    assert_eq!(info.relying_party_id, "bank-demo");
    assert_eq!(info.relying_party_name_vi, "Ngân hàng TMCP Thử Nghiệm");
    assert_eq!((info.purpose.as_str(), info.retention_days), ("account_opening", 1825));
    let names = |v: &[citizen_core::ClaimRequest]| v.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&info.required), ["full_name", "birthdate", "cccd_number"]);
    assert_eq!(names(&info.optional), ["permanent_address", "phone", "place_of_origin"]);
    assert!(info.required.iter().all(|c| c.required) && info.optional.iter().all(|c| !c.required));
    assert_eq!(info.required[0].label_vi, "Họ, chữ đệm và tên");

    let out = core.consent().share_data(info.request_id.clone(), vec!["phone".into()], PASS.into()).await.unwrap();
    assert!(out.relying_party_accepted);
    assert_eq!(out.disclosed_claims, ["birthdate", "cccd_number", "full_name", "phone"]);
    assert_eq!(out.receipt.kind, ConsentKind::DataShare);
    assert_eq!(out.receipt.claims, out.disclosed_claims);
    assert_eq!((out.receipt.retention_days, out.receipt.purpose.as_str()), (1825, "account_opening"));
    assert_eq!(out.receipt.origin, env.server().base_url);

    // Undisclosed values are nowhere in the presentation, raw or decoded.
    let p = core.test_last_presentation().expect("the presentation sent");
    let text = decoded(&p);
    assert!(text.contains(FULL_NAME) && text.contains("+84900000010"), "disclosed values are there");
    for hidden in HIDDEN {
        assert!(!p.contains(hidden) && !text.contains(hidden), "{hidden} leaked");
    }
    assert!(!text.contains("permanent_address") && !text.contains("place_of_origin"));

    // The bank's view: exactly the disclosed claims.
    let key = env.issuer_key().await;
    let nonce = req.nonce.clone();
    let check = |aud: &'static str| PresentationCheck {
        issuer_key: &key,
        issuer: &env.server().audience,
        audience: aud,
        nonce: &nonce,
        now: citizen_core::clock::Clock::now(env.clock.as_ref()),
        max_age_secs: 300,
    };
    let v = sdjwt::verify_presentation(&p, &check("bank-demo")).unwrap();
    assert_eq!(v.claims.keys().collect::<Vec<_>>(), ["birthdate", "cccd_number", "full_name", "phone"]);
    assert_eq!(v.claims["full_name"], FULL_NAME);
    assert!(!v.claims.contains_key("permanent_address"));

    // Another relying party cannot use it.
    let e = sdjwt::verify_presentation(&p, &check("dvc-demo")).unwrap_err();
    assert_eq!((e, e.code()), (PresentationError::WrongAudience, "presentation_wrong_audience"));

    // Replayed to the bank: for the answered request, and for a fresh one.
    let (status, body) = env.submit(&req.request_id, &p).await;
    assert_eq!((status, body["code"].as_str()), (409, Some("presentation_replayed")));
    let (_, fresh, _) = env.bank_request().await;
    let (status, body) = env.submit(&fresh.request_id, &p).await;
    assert_eq!((status, body["code"].as_str()), (409, Some("presentation_replayed")));

    // A tampered disclosure (another name, re-encoded) is refused.
    let parts: Vec<&str> = p.split('~').collect();
    let i =
        parts.iter().position(|d| String::from_utf8_lossy(&unb64(d).unwrap_or_default()).contains(FULL_NAME)).unwrap();
    let d: Value = serde_json::from_slice(&unb64(parts[i]).unwrap()).unwrap();
    let forged = b64(json!([d[0], d[1], "Kẻ Mạo Danh"]).to_string().as_bytes());
    let mut t = parts.clone();
    t[i] = &forged;
    let e = sdjwt::verify_presentation(&t.join("~"), &check("bank-demo")).unwrap_err();
    assert_eq!((e, e.code()), (PresentationError::BadDisclosure, "presentation_invalid"));

    // The receipt: countersigned by the server, listed, exportable; the share is in the log.
    assert_eq!(env.server().consent_receipt_count(), 1);
    let receipts = core.consent().list_receipts().await.unwrap();
    assert_eq!(receipts.len(), 1);
    assert_eq!(receipts[0], out.receipt);
    assert_eq!(citizen_core::verify_receipt_export(core.consent().export_receipts().await.unwrap(), None).unwrap(), 1);
    let log = core.activity().list_entries().await.unwrap();
    assert!(log.iter().any(|e| e.kind == ActivityKind::DataShare && e.summary.contains(&out.receipt.receipt_id)));

    // The bank's page shows what it received (labels only).
    let page = env.http.get(env.url("/rp/bank-demo")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Số điện thoại") && !page.contains(FULL_NAME));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_share_requests_are_refused_on_the_device_each_with_its_code() {
    let env = Share::new().await;
    let core = env.core().await;
    let (_jws, req, _link) = env.bank_request().await;
    let bank = env.rp_key("bank-demo");
    let open = |jws: String| {
        let core = core.clone();
        async move { core.consent().open_share_request(jws).await.map(|_| ()).map_err(|e| code(&e)) }
    };

    let mut evil = req.clone();
    evil.response_uri = "https://evil.example/collect".into();
    assert_eq!(open(sign_request(bank.clone(), "bank-demo", &evil)).await, Err("consent.origin_unregistered".into()));
    // Signed with the portal's key but claiming to be the bank.
    assert_eq!(
        open(sign_request(env.rp_key("dvc-demo"), "bank-demo", &req)).await,
        Err("consent.rp_signature_invalid".into())
    );
    let mut greedy = req.clone();
    greedy.optional.push("sex".into());
    greedy.purpose = "marketing".into();
    assert_eq!(
        open(sign_request(bank.clone(), "bank-demo", &greedy)).await,
        Err("consent.purpose_not_registered".into())
    );
    let mut unknown = req.clone();
    unknown.iss = "shady-lender".into();
    assert_eq!(open(sign_request(bank.clone(), "shady-lender", &unknown)).await, Err("consent.rp_unknown".into()));
    assert_eq!(open("not a request".into()).await, Err("consent.share_request_invalid".into()));

    // A genuine request: a claim it did not offer, a wrong passcode, then expiry.
    let (_, req, link) = env.bank_request().await;
    let info = core.consent().open_share_request(link).await.unwrap();
    let e = core.consent().share_data(info.request_id.clone(), vec!["sex".into()], PASS.into()).await.unwrap_err();
    assert_eq!(code(&e), "consent.claim_not_offered");
    let e = core.consent().share_data(info.request_id.clone(), vec![], "000000".into()).await.unwrap_err();
    assert!(matches!(e, CitizenError::PasscodeRejected { .. }), "{e:?}");
    let e = core.consent().share_data("another".into(), vec![], PASS.into()).await.unwrap_err();
    assert!(matches!(e, CitizenError::NotFound { .. }), "{e:?}");
    assert_eq!(code(&e), "consent.unknown_share_request");
    env.clock.advance(req.exp - req.iat);
    let e = core.consent().share_data(info.request_id, vec![], PASS.into()).await.unwrap_err();
    assert_eq!(code(&e), "consent.request_expired");
    assert_eq!(env.server().consent_receipt_count(), 0, "nothing was shared");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_countersigns_only_receipts_that_match_the_signed_request() {
    let env = Share::new().await;
    let (core, keys, device_id) = env.core_with_keys().await;
    let token = core.access_token().await.unwrap().to_string();
    let (jws, req, _) = env.bank_request().await;
    let now = citizen_core::clock::Clock::now(env.clock.as_ref());
    let receipt = ConsentReceipt {
        receipt_id: uuid::Uuid::new_v4().to_string(),
        kind: ReceiptKind::DataShare,
        rp_id: "bank-demo".into(),
        rp_name: "Ngân hàng TMCP Thử Nghiệm".into(),
        origin: env.server().base_url.clone(),
        purpose: "account_opening".into(),
        claims: vec!["birthdate".into(), "cccd_number".into(), "full_name".into()],
        retention_days: 1825,
        request_id: req.request_id.clone(),
        nonce: req.nonce.clone(),
        device_id: device_id.clone(),
        issued_at: now,
        chain_seq: 0,
        prev_digest: String::new(),
    };
    let counter = std::sync::atomic::AtomicU64::new(1000);
    // Sign `r` with the device key (as the core would) and ask for the countersignature.
    let post = |r: ConsentReceipt, share_request: String| {
        let statement = Statement {
            purpose: Purpose::Consent,
            audience: env.server().audience.clone(),
            nonce: r.nonce.clone(),
            device_id: device_id.clone(),
            counter: counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst),
            issued_at: now,
            subject: r.statement_subject(),
        };
        let sig = crate::env::ready(keys.sign(
            format!("citizen-core.device.{device_id}"),
            statement.canonical_bytes(),
            crate::env::user_request(citizen_core::platform::SignPurpose::Consent),
        ))
        .unwrap();
        let signature = b64(&citizen_core::crypto::normalize_signature(&sig).unwrap().to_bytes());
        let body =
            ReceiptCountersignRequest { receipt: r, signed: SignedStatement { statement, signature }, share_request };
        let (http, url, token) = (env.http.clone(), env.url(PATH_RECEIPTS), token.clone());
        async move {
            let resp = http.post(url).bearer_auth(token).json(&body).send().await.unwrap();
            let status = resp.status().as_u16();
            let v: Value = resp.json().await.unwrap();
            (status, v["code"].as_str().map(String::from), v)
        }
    };
    let with = |f: &dyn Fn(&mut ConsentReceipt)| {
        let mut r = receipt.clone();
        f(&mut r);
        r
    };
    let refused = |(status, code, _): (u16, Option<String>, Value)| (status, code.unwrap_or_default());

    let drop_required = with(&|r| r.claims = vec!["birthdate".into(), "full_name".into()]);
    assert_eq!(refused(post(drop_required, jws.clone()).await), (409, "claims_changed".into()));
    let extra = with(&|r| r.claims.push("sex".into()));
    assert_eq!(refused(post(extra, jws.clone()).await), (409, "claims_changed".into()));
    let longer = with(&|r| r.retention_days = 3650);
    assert_eq!(refused(post(longer, jws.clone()).await), (409, "claims_changed".into()));
    let other = with(&|r| r.request_id = "another-request".into());
    assert_eq!(refused(post(other, jws.clone()).await), (409, "qr_session_mismatch".into()));
    let forged = sign_request(env.rp_key("dvc-demo"), "bank-demo", &req);
    assert_eq!(refused(post(receipt.clone(), forged).await), (403, "rp_signature_invalid".into()));
    assert_eq!(env.server().consent_receipt_count(), 0);

    let (status, _, v) = post(receipt.clone(), jws.clone()).await;
    assert_eq!(status, 200, "{v}");
    let cs = v["countersignature"].as_str().unwrap();
    let claims: ReceiptCountersignClaims =
        serde_json::from_slice(&unb64(cs.split('.').nth(1).unwrap()).unwrap()).unwrap();
    assert_eq!((claims.receipt_id, claims.receipt_digest), (receipt.receipt_id.clone(), receipt.digest()));
    assert_eq!(env.server().consent_receipt_count(), 1);
    // A credential is issued only for the key the statement names.
    let ch: Value = env
        .http
        .post(env.url(citizen_core::protocol::PATH_CHALLENGE))
        .json(&json!({"device_id": device_id, "purpose": "credential"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let statement = Statement {
        purpose: Purpose::Credential,
        audience: env.server().audience.clone(),
        nonce: ch["nonce"].as_str().unwrap().into(),
        device_id: device_id.clone(),
        counter: 5000,
        issued_at: now,
        subject: format!("pid:{}", "0".repeat(64)),
    };
    let sig = crate::env::ready(keys.sign(
        format!("citizen-core.device.{device_id}"),
        statement.canonical_bytes(),
        crate::env::user_request(citizen_core::platform::SignPurpose::Credential),
    ))
    .unwrap();
    let signature = b64(&citizen_core::crypto::normalize_signature(&sig).unwrap().to_bytes());
    let body = citizen_core::protocol::rp::CredentialRequest { signed: SignedStatement { statement, signature } };
    let resp = env
        .http
        .post(env.url(citizen_core::protocol::rp::PATH_CREDENTIAL))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    assert_eq!(resp.json::<Value>().await.unwrap()["code"], "signature_invalid");
    // The same receipt again (even freshly signed) gets no second countersignature.
    assert_eq!(refused(post(receipt, jws).await).0, 409);
    assert_eq!(env.server().consent_receipt_count(), 1);
}

impl Share {
    /// The server's published key (JWK JSON), as a verifier obtains it independently.
    async fn server_jwk(&self) -> String {
        let v: Value = self.http.get(self.url("/v1/keys")).send().await.unwrap().json().await.unwrap();
        v["keys"][0].to_string()
    }

    /// A second connection to the device database (the attacker with file access).
    fn db(&self) -> rusqlite::Connection {
        self.env.db("dev")
    }

    /// One complete share with the demo bank.
    async fn share_once(&self, core: &CitizenCore) -> citizen_core::ShareOutcome {
        let (_, _, link) = self.bank_request().await;
        let info = core.consent().open_share_request(link).await.unwrap();
        core.consent().share_data(info.request_id, vec![], PASS.into()).await.unwrap()
    }
}

fn export_code(json: String, pinned: &str) -> String {
    match citizen_core::verify_receipt_export(json, Some(pinned.to_string())) {
        Ok(n) => format!("ok:{n}"),
        Err(e) => code(&e),
    }
}

/// Issue 9 item 10: receipts used to bind no count, order or chain — removing, reordering or
/// cutting off receipts in an export still verified, and deleting a row on the device went
/// unnoticed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_are_chained_so_removal_reordering_and_truncation_are_detected() {
    let env = Share::new().await;
    let core = env.core().await;
    for _ in 0..3 {
        let out = env.share_once(&core).await;
        assert_eq!(out.receipt.delivery, citizen_core::ShareDelivery::Delivered);
    }
    let pinned = env.server_jwk().await;
    let json = core.consent().export_receipts().await.unwrap();
    assert_eq!(export_code(json.clone(), &pinned), "ok:3");
    let seqs: Vec<i64> = core.consent().list_receipts().await.unwrap().iter().map(|r| r.sequence).collect();
    assert_eq!(seqs, [3, 2, 1], "newest first");

    let tamper = |f: &dyn Fn(&mut Value)| {
        let mut v: Value = serde_json::from_str(&json).unwrap();
        f(&mut v);
        export_code(v.to_string(), &pinned)
    };
    let receipts = |v: &mut Value| v["receipts"].as_array_mut().unwrap().clone();
    assert_eq!(
        tamper(&|v| {
            v["receipts"].as_array_mut().unwrap().remove(1);
        }),
        "consent.receipt_chain_broken"
    );
    assert_eq!(tamper(&|v| v["receipts"].as_array_mut().unwrap().swap(0, 1)), "consent.receipt_chain_broken");
    assert_eq!(
        tamper(&|v| {
            v["receipts"].as_array_mut().unwrap().remove(0);
        }),
        "consent.receipt_chain_broken"
    );
    assert_eq!(
        tamper(&|v| {
            v["receipts"].as_array_mut().unwrap().truncate(2);
        }),
        "consent.receipts_truncated"
    );
    assert_eq!(
        tamper(&|v| {
            v.as_object_mut().unwrap().remove("head");
        }),
        "consent.receipts_truncated"
    );
    // Cut and the head of a shorter chain put back: a head from elsewhere does not fit either.
    assert_eq!(
        tamper(&|v| {
            let r = receipts(v);
            v["receipts"] = json!([r[0]]);
        }),
        "consent.receipts_truncated"
    );

    // On the device: the newest row deleted. The list shows it missing; the export no longer
    // verifies.
    env.db().execute("DELETE FROM consent_receipts WHERE chain_seq = 3", []).unwrap();
    let list = core.consent().list_receipts().await.unwrap();
    assert_eq!(list.len(), 3, "{list:?}");
    let missing: Vec<(i64, String)> =
        list.iter().filter_map(|r| r.damage.as_ref().map(|d| (r.sequence, d.code.clone()))).collect();
    assert_eq!(missing, [(3, "consent.receipt_missing".to_string())]);
    assert_eq!(export_code(core.consent().export_receipts().await.unwrap(), &pinned), "consent.receipts_truncated");
    // A middle row deleted as well.
    env.db().execute("DELETE FROM consent_receipts WHERE chain_seq = 2", []).unwrap();
    let missing: Vec<i64> = core
        .consent()
        .list_receipts()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.damage.is_some())
        .map(|r| r.sequence)
        .collect();
    assert_eq!(missing, [3, 2]);
    // The next receipt continues the chain after the missing ones, and the gap stays visible.
    env.share_once(&core).await;
    assert_eq!(export_code(core.consent().export_receipts().await.unwrap(), &pinned), "consent.receipt_chain_broken");
}

/// Issue 9 item 11: one corrupt sealed receipt row used to make `list_receipts` and
/// `export_receipts` fail with `internal`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_receipt_row_is_reported_and_the_others_stay_readable() {
    let env = Share::new().await;
    let core = env.core().await;
    let first = env.share_once(&core).await;
    let second = env.share_once(&core).await;
    env.db()
        .execute("UPDATE consent_receipts SET receipt = X'00112233' WHERE receipt_id = ?1", [&first.receipt.receipt_id])
        .unwrap();
    let list = core.consent().list_receipts().await.unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0], second.receipt);
    let damaged = &list[1];
    assert_eq!(damaged.damage.as_ref().map(|d| d.code.as_str()), Some("consent.receipt_damaged"));
    assert_eq!(
        (damaged.receipt_id.as_str(), damaged.kind, damaged.sequence),
        (first.receipt.receipt_id.as_str(), ConsentKind::DataShare, 1)
    );
    let json = core.consent().export_receipts().await.unwrap();
    let v: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["receipts"].as_array().unwrap().len(), 1, "the readable receipt is exported");
    assert_eq!(export_code(json, &env.server_jwk().await), "consent.receipt_chain_broken");
}

/// Issue 9 item 16: a share whose presentation the relying party refuses used to leave a
/// countersigned receipt saying the data was shared, and nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_share_the_relying_party_refuses_leaves_a_receipt_that_says_so() {
    let env = Share::new().await;
    let core = env.core().await;
    // A request the bank signed but does not hold: its verifier refuses the presentation.
    let (_, mut req, _) = env.bank_request().await;
    req.request_id = "the-bank-does-not-know-this".into();
    let info =
        core.consent().open_share_request(sign_request(env.rp_key("bank-demo"), "bank-demo", &req)).await.unwrap();
    let e = core.consent().share_data(info.request_id, vec![], PASS.into()).await.unwrap_err();
    assert!(matches!(e, CitizenError::Refused { .. }), "{e:?}");
    let list = core.consent().list_receipts().await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].delivery, citizen_core::ShareDelivery::Refused);
    let log = core.activity().list_entries().await.unwrap();
    let entry = log.iter().find(|e| e.kind == ActivityKind::DataShare).expect("the share is logged");
    assert!(entry.summary.ends_with("delivery=refused"), "{}", entry.summary);
    // The outcome is signed by the device: it verifies, and changing it does not.
    let pinned = env.server_jwk().await;
    let json = core.consent().export_receipts().await.unwrap();
    assert_eq!(export_code(json.clone(), &pinned), "ok:1");
    let mut v: Value = serde_json::from_str(&json).unwrap();
    v["receipts"][0]["delivery"]["status"] = "delivered".into();
    assert_eq!(export_code(v.to_string(), &pinned), "consent.delivery_invalid");
}
