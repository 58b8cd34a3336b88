//! The `citizen-server` binary: READY line, dev OTP file, clean shutdown on SIGTERM.
use crate::common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[tokio::test]
async fn binary_prints_ready_line_and_serves() {
    let dir = tempfile::tempdir().unwrap();
    let otp_file = dir.path().join("otp.jsonl");
    let mut child = Command::new(env!("CARGO_BIN_EXE_citizen-server"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .arg("--dev-otp-file")
        .arg(&otp_file)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert!(line.starts_with("CITIZEN_SERVER_READY "), "{line}");
    let fields: std::collections::HashMap<&str, &str> =
        line.trim().split(' ').skip(1).filter_map(|kv| kv.split_once('=')).collect();
    let base = fields["base_url"];
    assert!(base.starts_with("https://127.0.0.1:"));
    assert_eq!(fields["audience"], base);
    assert_eq!(fields["pin"].len(), 44);
    assert_eq!(fields["backup_pin"].len(), 44);
    let ca = std::fs::read_to_string(fields["ca"]).unwrap();
    let http = common::client_for(&ca);
    let v: serde_json::Value = http.get(format!("{base}/v1/health")).send().await.unwrap().json().await.unwrap();
    assert_eq!(v["ok"], true);
    let r = http
        .post(format!("{base}/v1/enrollment/start"))
        .json(&serde_json::json!({"cccd": "001090000001", "date_of_birth": "1990-01-15", "phone": "+84900000001"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let b: serde_json::Value = r.json().await.unwrap();
    let text = std::fs::read_to_string(&otp_file).unwrap();
    let rec: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(rec["reference"], b["enrollment_id"]);
    assert_eq!(rec["to"], "+84 ••• ••• 001");
    assert_eq!(rec["otp"].as_str().unwrap().len(), 6);

    // SIGTERM → clean exit.
    let st = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(st.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}
