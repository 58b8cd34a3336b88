//! The activity log end to end: real flows append signed entries; the head is anchored at the
//! server; the local log and its export verify; every kind of tampering of an export is caught.

use std::sync::Arc;

use citizen_core::activity::{self, ActivityAnchor, ActivityKind, AnchorClaims};
use citizen_core::protocol::services::{KeysResponse, PATH_KEYS};
use citizen_core::LogProblem;
use citizen_core::{verify_activity_log_export, CitizenCore, CitizenError};
use citizen_server::testing::{enroll_and_login, CITIZEN_1};
use p256::ecdsa::signature::Signer;

use crate::env::{Env, PASS};

/// The server's published key (JWK JSON), fetched over the pinned connection: what a verifier
/// trusts independently of the file it checks.
async fn server_jwk(env: &Env) -> String {
    let keys: KeysResponse = env.net().get(PATH_KEYS, None).await.unwrap();
    keys.keys[0].to_string()
}

/// The shared environment with one enrolled, logged-in device.
struct Activity {
    env: Env,
    core: Arc<CitizenCore>,
}

impl std::ops::Deref for Activity {
    type Target = Env;
    fn deref(&self) -> &Env {
        &self.env
    }
}

impl std::ops::DerefMut for Activity {
    fn deref_mut(&mut self) -> &mut Env {
        &mut self.env
    }
}

async fn env() -> Activity {
    let env = Env::new().await;
    let core = env.enrolled("core", CITIZEN_1).await.core;
    Activity { env, core }
}

impl Activity {
    /// A second connection to the device database (the attacker with file access).
    fn db(&self) -> rusqlite::Connection {
        self.env.db("core")
    }

    /// A few more entries (a passcode change and back).
    async fn more_entries(&self) {
        self.core.account().change_passcode(PASS.into(), "739201".into()).await.unwrap();
        self.core.account().change_passcode("739201".into(), PASS.into()).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn flows_are_logged_anchored_and_tampering_is_detected() {
    let mut env = env().await;
    let (core, clock) = (env.core.clone(), env.clock.clone());
    core.account().change_passcode(PASS.into(), "739201".into()).await.unwrap();
    for _ in 0..5 {
        let _ = core.account().verify_passcode("111112".into()).await;
    }
    let kinds: Vec<ActivityKind> = core.activity().list_entries().await.unwrap().iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [ActivityKind::Enrollment, ActivityKind::Login, ActivityKind::PasscodeChange, ActivityKind::Lockout]
    );
    let log = core.activity().list_entries().await.unwrap();
    assert!(log.windows(2).all(|w| w[1].prev_hash == w[0].hash && w[1].counter > w[0].counter));
    assert!(log.iter().all(|e| !e.summary.contains(CITIZEN_1.0) && !e.summary.contains(CITIZEN_1.2)));

    // Anchor (also done by sync_cases): the server countersigns the head.
    let anchor = core.activity().anchor().await.unwrap().expect("anchored");
    assert_eq!(anchor.seq, 4);
    assert!(core.activity().anchor().await.unwrap().is_none(), "nothing new to anchor");
    let r = core.activity().verify().await.unwrap();
    assert!(r.intact, "{:?}", r.problems);
    assert_eq!((r.entries, r.anchors), (4, 1));

    // The export verifies on its own.
    let json = core.activity().export().await.unwrap();
    let pinned = server_jwk(&env).await;
    let r = verify_activity_log_export(json.clone(), pinned.clone()).unwrap();
    assert!(r.intact && r.entries == 4 && r.anchors == 1 && r.anchored_seq == 4, "{r:?}");

    let tamper = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
        f(&mut v);
        verify_activity_log_export(v.to_string(), pinned.clone()).unwrap().problems
    };
    // Changed.
    let p = tamper(&|v| v["entries"][1]["summary"] = "something else".into());
    assert!(p.contains(&LogProblem::ChangedEntry { seq: 2 }), "{p:?}");
    // Removed.
    let p = tamper(&|v| {
        v["entries"].as_array_mut().unwrap().remove(1);
    });
    assert!(
        p.iter().any(|x| matches!(x, LogProblem::Gap { .. })) && p.contains(&LogProblem::BrokenLink { seq: 3 }),
        "{p:?}"
    );
    // Reordered.
    let p = tamper(&|v| v["entries"].as_array_mut().unwrap().swap(1, 2));
    assert!(p.contains(&LogProblem::BrokenLink { seq: 3 }), "{p:?}");
    // Truncated below the anchor.
    let p = tamper(&|v| {
        v["entries"].as_array_mut().unwrap().truncate(2);
    });
    assert_eq!(p, vec![LogProblem::Truncated { anchored_seq: 4, last_seq: 2 }]);
    // A forged anchor.
    let p = tamper(&|v| v["anchors"][0]["hash"] = v["entries"][0]["hash"].clone());
    assert_eq!(p, vec![LogProblem::BadAnchor { seq: 4 }]);
    // Another device's key.
    let p = tamper(&|v| v["device_public_key"] = "BAAA".into());
    assert_eq!(p.iter().filter(|x| matches!(x, LogProblem::BadSignature { .. })).count(), 4);
    // Not JSON; no usable pinned key.
    assert!(verify_activity_log_export("{".into(), pinned.clone()).is_err());
    assert!(verify_activity_log_export(json.clone(), "{}".into()).is_err());

    // More activity after the anchor is appended and anchored again.
    clock.advance(3_600);
    core.account().login("739201".into()).await.ok(); // locked for a while: still logged as nothing new
    clock.advance(3_600);
    core.account().login("739201".into()).await.unwrap();
    core.services().sync_cases().await.unwrap();
    let r = core.activity().verify().await.unwrap();
    assert!(r.intact && r.anchors == 2, "{r:?}");
    env.stop().await;
}

/// Issue 9 item 8: after the lockout wipe the log of the deleted key is gone, and the next
/// enrollment's log verifies intact (it used to report ten problems forever).
#[tokio::test(flavor = "multi_thread")]
async fn a_lockout_wipe_erases_the_log_and_the_next_enrollment_starts_an_intact_one() {
    let mut env = env().await;
    env.more_entries().await;
    env.core.activity().anchor().await.unwrap().expect("anchored");
    assert!(env.core.activity().list_entries().await.unwrap().len() >= 4);
    let mut wiped = false;
    for _ in 0..40 {
        match env.core.account().verify_passcode("111112".into()).await {
            Err(CitizenError::NeedsEnrollment { .. }) => {
                wiped = true;
                break;
            }
            Err(CitizenError::LockedOut { retry_after, .. }) => env.clock.advance(retry_after.as_secs() as i64 + 1),
            _ => {}
        }
    }
    assert!(wiped, "the wipe happened");
    assert_eq!(env.core.activity().list_entries().await.unwrap(), vec![], "the old key's log is erased with it");
    let remaining: i64 = env
        .db()
        .query_row("SELECT (SELECT count(*) FROM activity_log) + (SELECT count(*) FROM activity_anchors)", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(remaining, 0);

    enroll_and_login(&env.core, &env.otp, CITIZEN_1, PASS).await;
    let kinds: Vec<ActivityKind> = env.core.activity().list_entries().await.unwrap().iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [ActivityKind::Enrollment, ActivityKind::Login]);
    let r = env.core.activity().verify().await.unwrap();
    assert!(r.intact && r.entries == 2, "{r:?}");
    env.core.activity().anchor().await.unwrap().expect("the new device anchors from 2");
    let r = env.core.activity().verify().await.unwrap();
    assert!(r.intact && r.anchored_seq == 2, "{r:?}");
    env.stop().await;
}

/// Sign `claims` as an ES256 JWS with `key` under `kid`.
fn es256(key: &p256::SecretKey, kid: &str, claims: &AnchorClaims) -> String {
    use p256::pkcs8::EncodePrivateKey;
    let pem = key.to_pkcs8_pem(p256::pkcs8::LineEnding::LF).unwrap();
    let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    h.kid = Some(kid.into());
    h.typ = Some(<AnchorClaims as citizen_core::jwt::JwtKind>::TYP.into());
    jsonwebtoken::encode(&h, claims, &jsonwebtoken::EncodingKey::from_ec_pem(pem.as_bytes()).unwrap()).unwrap()
}

/// Issue 9 item 9: an export forged with its own keys — an entry removed, the rest re-chained and
/// re-signed with another P-256 key, anchored with another ES256 key placed in `server_keys` —
/// used to verify intact. Checked against the pinned server key, its anchor is refused, and the
/// report names the (forged) device key it checked the entries with.
#[tokio::test(flavor = "multi_thread")]
async fn a_forged_export_with_its_own_keys_is_refused_with_the_pinned_server_key() {
    let mut env = env().await;
    env.more_entries().await;
    env.core.activity().anchor().await.unwrap().expect("anchored");
    let json = env.core.activity().export().await.unwrap();
    let pinned = server_jwk(&env).await;
    let genuine = verify_activity_log_export(json.clone(), pinned.clone()).unwrap();
    assert!(genuine.intact && genuine.anchored_seq == 4, "{genuine:?}");

    let mut x: serde_json::Value = serde_json::from_str(&json).unwrap();
    let (aud, dev) = (x["audience"].as_str().unwrap().to_string(), x["device_id"].as_str().unwrap().to_string());
    let mut entries: Vec<activity::ActivityEntry> = serde_json::from_value(x["entries"].clone()).unwrap();
    entries.remove(2); // the first passcode change disappears
    let device = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
    let mut prev = activity::GENESIS.to_string();
    for (i, e) in entries.iter_mut().enumerate() {
        e.seq = i as u64 + 1;
        e.prev_hash = prev.clone();
        e.hash = activity::entry_hash(e.seq, e.at, e.kind, &e.summary, &e.prev_hash, e.counter);
        let sig: p256::ecdsa::Signature = device.sign(&activity::entry_statement(&aud, &dev, e).canonical_bytes());
        // Low-S, as every honest signer emits (a high-S twin is refused on its own, decision 18).
        let sig = sig.normalize_s().unwrap_or(sig);
        e.signature = citizen_core::crypto::b64(&sig.to_bytes());
        prev = e.hash.clone();
    }
    let server = p256::SecretKey::from_slice(&[9u8; 32]).unwrap();
    let point = server.public_key().to_sec1_bytes();
    let last = entries.last().unwrap();
    let claims = AnchorClaims {
        iss: aud.clone(),
        device_id: dev.clone(),
        seq: last.seq,
        hash: last.hash.clone(),
        anchored_at: 1,
    };
    let anchor = ActivityAnchor {
        seq: last.seq,
        hash: last.hash.clone(),
        anchored_at: 1,
        countersignature: es256(&server, "forged", &claims),
    };
    x["entries"] = serde_json::to_value(&entries).unwrap();
    x["anchors"] = serde_json::to_value(vec![anchor]).unwrap();
    x["device_public_key"] = citizen_core::crypto::b64(&point_of(&device)).into();
    x["server_keys"] = serde_json::json!([{
        "kty": "EC", "crv": "P-256", "kid": "forged", "alg": "ES256", "use": "sig",
        "x": citizen_core::crypto::b64(&point[1..33]), "y": citizen_core::crypto::b64(&point[33..65]),
    }]);
    let r = verify_activity_log_export(x.to_string(), pinned.clone()).unwrap();
    assert!(!r.intact, "{r:?}");
    assert_eq!(r.problems, vec![LogProblem::BadAnchor { seq: 3 }]);
    assert_eq!(r.anchored_seq, 0, "nothing in the forged file is vouched for by the server");
    assert_ne!(r.device_public_key, genuine.device_public_key, "the report names the key it used");
    // Without its anchor the forgery is consistent, but vouched for by nobody and under
    // another key than the device's: the report says both.
    x["anchors"] = serde_json::json!([]);
    let r = verify_activity_log_export(x.to_string(), pinned).unwrap();
    assert_eq!((r.anchored_seq, r.device_public_key == genuine.device_public_key), (0, false));
    env.stop().await;
}

fn point_of(k: &p256::ecdsa::SigningKey) -> Vec<u8> {
    citizen_core::crypto::sec1_uncompressed(&p256::ecdsa::VerifyingKey::from(k))
}

/// Issue 9 item 9: deleting the anchor rows on the device and truncating the log below them
/// used to verify intact.
#[tokio::test(flavor = "multi_thread")]
async fn deleted_anchor_rows_and_a_truncated_log_are_detected_on_the_device() {
    let mut env = env().await;
    env.more_entries().await;
    env.core.activity().anchor().await.unwrap().expect("anchored at 4");
    let db = env.db();
    db.execute("DELETE FROM activity_anchors", []).unwrap();
    let r = env.core.activity().verify().await.unwrap();
    assert_eq!(r.problems, vec![LogProblem::AnchorRemoved { anchored_seq: 4 }]);
    db.execute("DELETE FROM activity_log WHERE seq > 2", []).unwrap();
    let r = env.core.activity().verify().await.unwrap();
    assert!(!r.intact, "{r:?}");
    assert!(
        r.problems.contains(&LogProblem::AnchorRemoved { anchored_seq: 4 })
            && r.problems.contains(&LogProblem::Truncated { anchored_seq: 4, last_seq: 2 }),
        "{:?}",
        r.problems
    );
    // Removing the sealed record of the anchors is seen too.
    db.execute("UPDATE account SET integrity = NULL", []).unwrap();
    assert!(env.core.activity().verify().await.unwrap().problems.contains(&LogProblem::AnchorRecordDamaged));
    env.stop().await;
}

/// Issue 9 item 9: a log cut back below the server's latest anchor together with everything
/// local that named it (as restoring an old copy of the database does) is detected as soon as
/// the device is online: it fetches the server's latest anchor.
#[tokio::test(flavor = "multi_thread")]
async fn truncation_below_the_servers_latest_anchor_is_detected_online() {
    let mut env = env().await;
    let db = env.db();
    let marks_before: Vec<u8> = db.query_row("SELECT integrity FROM account", [], |r| r.get(0)).unwrap();
    env.more_entries().await;
    env.core.activity().anchor().await.unwrap().expect("anchored at 4");
    db.execute("DELETE FROM activity_anchors", []).unwrap();
    db.execute("DELETE FROM activity_log WHERE seq > 2", []).unwrap();
    db.execute("UPDATE account SET integrity = ?1", [marks_before]).unwrap();
    // The server answers its latest anchor only to the device's own session.
    let anonymous = env.net().get::<activity::LatestAnchorResponse>(activity::PATH_ANCHOR, None).await;
    assert!(anonymous.is_err(), "{anonymous:?}");
    let token = env.core.access_token().await.unwrap();
    let latest: activity::LatestAnchorResponse =
        env.net().get(activity::PATH_ANCHOR, Some(token.as_str())).await.unwrap();
    assert_eq!(latest.anchor.map(|a| a.seq), Some(4));
    // Offline, nothing on the device tells (the documented limit of a restored copy).
    assert!(env.core.activity().verify().await.unwrap().intact);
    // Online: the server's anchor comes back and the truncation shows.
    assert_eq!(env.core.activity().anchor().await.unwrap(), None, "nothing is anchored below the server's anchor");
    let r = env.core.activity().verify().await.unwrap();
    assert!(r.problems.contains(&LogProblem::Truncated { anchored_seq: 4, last_seq: 2 }), "{:?}", r.problems);
    env.stop().await;
}
