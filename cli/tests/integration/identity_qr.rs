//! `citizen identity-qr` shows a code (passcode from the environment) that
//! `citizen identity-qr verify --server-key` accepts offline; a damaged one exits 5 with its code.

use crate::env::{Env, PASS};

#[tokio::test(flavor = "multi_thread")]
async fn identity_qr_is_shown_and_verified_offline_by_the_cli() {
    let env = Env::enrolled(true).await;
    let out = env.citizen().arg("identity-qr").env("CITIZEN_PASSCODE", PASS).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = stdout.lines().next().unwrap().to_string();
    assert!(text.starts_with("CZID1:"), "{stdout}");
    assert!(stdout.contains("valid_for=60s"), "{stdout}");

    // The server keys the device fetched (in a real check: GET /v1/keys, obtained independently).
    let export: serde_json::Value = {
        let core = env.core();
        let export = serde_json::from_str(&core.activity().export().await.unwrap()).unwrap();
        core.shutdown().await;
        export
    };
    let keys = env.dir.path().join("keys.json");
    std::fs::write(&keys, serde_json::json!({ "keys": export["server_keys"] }).to_string()).unwrap();

    let out = env.citizen().args(["identity-qr", "verify", &text, "--server-key"]).arg(&keys).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("valid full_name=") && stdout.contains("level=1"), "{stdout}");

    let damaged = format!("{}x", &text[..text.len() - 1]);
    let out = env.citizen().args(["identity-qr", "verify", &damaged, "--server-key"]).arg(&keys).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert!(stderr.contains("error [idqr."), "{stderr}");
    env.server.shutdown().await;
}
