//! `citizen access` lists who read the citizen's record (filtered by agency and period), writes
//! the server-signed export, and `citizen access verify --server-key` accepts it offline; an
//! edited export exits 5.

use crate::env::Env;
use citizen_cli::DEMO_CITIZEN;

#[tokio::test(flavor = "multi_thread")]
async fn access_lists_filters_exports_and_verifies() {
    let env = Env::enrolled(true).await;
    let http = reqwest::Client::builder()
        .tls_backend_preconfigured(
            citizen_core::net::tls::client_config(std::slice::from_ref(&env.server.ca_cert_pem), &[]).unwrap(),
        )
        .build()
        .unwrap();
    for (official, agency) in [("CB-0401", "Công an phường Hoàn Kiếm"), ("CB-0402", "Sở Tư pháp")] {
        let r = http
            .post(format!("{}/v1/official/citizens/record", env.server.base_url))
            .header("x-official-token", &env.server.official_token)
            .json(&serde_json::json!({"cccd": DEMO_CITIZEN.0, "official_id": official, "agency": agency,
                                      "purpose": "case_processing"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
    }

    let export = env.dir.path().join("access.jws");
    let out = env.citizen().args(["access", "--export"]).arg(&export).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("official=CB-0401") && stdout.contains("official=CB-0402"), "{stdout}");
    assert!(stdout.contains("shown=2 total=2 intact=true"), "{stdout}");

    let out = env.citizen().args(["access", "--agency", "sở tư pháp"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("shown=1 total=2") && stdout.contains("CB-0402"), "{stdout}");
    let out = env.citizen().args(["access", "--from", "2099-01-01"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("shown=0 total=2"));

    let keys: serde_json::Value =
        http.get(format!("{}/v1/keys", env.server.base_url)).send().await.unwrap().json().await.unwrap();
    let key_file = env.dir.path().join("keys.json");
    std::fs::write(&key_file, keys.to_string()).unwrap();
    let out =
        env.citizen().args(["access", "verify"]).arg(&export).arg("--server-key").arg(&key_file).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("entries=2 signature_valid=true intact=true"), "{stdout}");

    let text = std::fs::read_to_string(&export).unwrap();
    let (head, sig) = text.rsplit_once('.').unwrap();
    let edited = env.dir.path().join("edited.jws");
    std::fs::write(&edited, format!("{head}.{}", sig.chars().rev().collect::<String>())).unwrap();
    let out =
        env.citizen().args(["access", "verify"]).arg(&edited).arg("--server-key").arg(&key_file).output().unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", String::from_utf8_lossy(&out.stdout));
    env.server.shutdown().await;
}
