//! `citizen qr` and `citizen receipts` against a running server: the demo portal opens a login
//! session, the CLI scans its frame, approves with the code the portal shows, the portal sees
//! the citizen logged in; the receipt is listed, exported, verified, and a tampered export is
//! reported (exit 5) with its code.

use std::process::Output;
use std::time::Duration;

use citizen_core::net::{Net, NetConfig};
use serde_json::{json, Value};

use crate::env::{Env, PASS};

fn run(env: &Env, args: &[&str]) -> Output {
    env.citizen().args(args).env("CITIZEN_PASSCODE", PASS).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn scan_approve_list_export_verify() {
    let env = Env::enrolled(true).await;
    let (server, dir) = (&env.server, &env.dir);
    let cli = |args: &[&str]| run(&env, args);

    // The demo portal (the relying party's page backend) opens a session.
    let portal = Net::new(&NetConfig {
        base_url: server.base_url.clone(),
        trust_anchors_pem: vec![server.ca_cert_pem.clone()],
        spki_pins: vec![],
        connect_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(10),
        allow_insecure_loopback: false,
        language: "vi",
    })
    .unwrap();
    let created: Value = portal.post("/portal/api/sessions", &json!({"same_device": false}), None).await.unwrap();
    let poll_path = format!("/portal/api/sessions/{}", created["handle"].as_str().unwrap());
    let status: Value = portal.get(&poll_path, None).await.unwrap();
    let frame = status["frame"].as_str().unwrap().to_string();

    let bad = cli(&["qr", "scan", "CZQR1:AAAA"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("consent.qr_not_login_code"));

    let scanned = cli(&["qr", "scan", &frame]);
    assert!(scanned.status.success(), "{}", String::from_utf8_lossy(&scanned.stderr));
    let out = stdout(&scanned);
    assert!(out.contains("Cổng Dịch vụ công (bản thử nghiệm)"), "{out}");
    assert!(out.contains(&format!("origin={}", server.base_url)), "{out}");
    assert!(out.contains("claim full_name — Họ, chữ đệm và tên / Full name"), "{out}");
    let session_id = out.lines().find_map(|l| l.strip_prefix("session_id=")).unwrap().to_string();
    let choices: Vec<String> =
        out.lines().find_map(|l| l.strip_prefix("code_choices=")).unwrap().split(' ').map(str::to_string).collect();
    assert_eq!(choices.len(), 3);

    let status: Value = portal.get(&poll_path, None).await.unwrap();
    let shown = status["verification_code"].as_str().unwrap().to_string();
    assert!(choices.contains(&shown));
    let approved = cli(&["qr", "approve", &session_id, "--code", &shown]);
    assert!(approved.status.success(), "{}", String::from_utf8_lossy(&approved.stderr));
    assert!(stdout(&approved).starts_with("approved"));

    // The portal verified the ID token and shows who logged in.
    let status: Value = portal.get(&poll_path, None).await.unwrap();
    assert_eq!(status["state"], "approved");
    assert!(status["citizen"]["full_name"].as_str().is_some_and(|n| !n.is_empty()), "{status}");

    let listed = stdout(&cli(&["receipts"]));
    assert_eq!(listed.lines().count(), 1, "{listed}");
    assert!(listed.contains("rp=dvc-demo") && listed.contains("purpose=login"), "{listed}");

    let export = dir.path().join("receipts.json");
    assert!(cli(&["receipts", "export", "--out", export.to_str().unwrap()]).status.success());
    let verified = cli(&["receipts", "verify", "--file", export.to_str().unwrap()]);
    assert!(verified.status.success());
    assert!(stdout(&verified).contains("receipts=1 valid=true"));

    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&export).unwrap()).unwrap();
    v["receipts"][0]["receipt"]["rp_name"] = "Ngân hàng khác".into();
    std::fs::write(&export, v.to_string()).unwrap();
    let tampered = cli(&["receipts", "verify", "--file", export.to_str().unwrap()]);
    assert_eq!(tampered.status.code(), Some(5));
    assert!(String::from_utf8_lossy(&tampered.stderr).contains("consent.receipt_tampered"));

    // The activity log export verifies only against a server key given separately.
    let log = dir.path().join("log.json");
    assert!(cli(&["log", "export", "--out", log.to_str().unwrap()]).status.success());
    let keys = dir.path().join("keys.json");
    let published: Value = portal.get("/v1/keys", None).await.unwrap();
    std::fs::write(&keys, published.to_string()).unwrap();
    let without_key = cli(&["log", "verify", "--file", log.to_str().unwrap()]);
    assert_eq!(without_key.status.code(), Some(1), "--server-key is required with --file");
    let checked = cli(&["log", "verify", "--file", log.to_str().unwrap(), "--server-key", keys.to_str().unwrap()]);
    assert!(checked.status.success(), "{}", stdout(&checked));
    assert!(stdout(&checked).contains("intact=true") && stdout(&checked).contains("device_public_key="));

    let denied = cli(&["qr", "deny", &session_id]);
    assert!(String::from_utf8_lossy(&denied.stderr).contains("consent.unknown_session"));
    env.server.shutdown().await;
}
