//! The citizen's access log through the core (issue 16, item 2; decision 43): it lists exactly
//! the reads of the citizen's record made in the test — an official's, a relying party's share
//! (linked to its consent receipt), the back office's — filters by agency and period, exports a
//! server-signed log that verifies offline and fails when edited, and reports an entry removed
//! at the server.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use citizen_core::clock::Clock;
use citizen_core::{AccessLogFilter, AccessPurpose, AccessorKind, CitizenCore};
use serde_json::{json, Value};

use crate::env::{Env, PASS};

/// The register's sharing test citizen (fictitious).
const WHO: (&str, &str, &str) = ("048199000010", "1999-05-05", "+84900000010");
const AGENCY: &str = "Công an thành phố Đà Nẵng";

fn http(env: &Env) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_backend_preconfigured(
            citizen_core::net::tls::client_config(std::slice::from_ref(&env.server().ca_cert_pem), &[]).unwrap(),
        )
        .build()
        .unwrap()
}

async fn official_read(env: &Env, http: &reqwest::Client, official: &str, agency: &str) {
    let r = http
        .post(format!("{}{}", env.server().base_url, citizen_protocol::access::PATH_OFFICIAL_RECORD))
        .header("x-official-token", &env.server().official_token)
        .json(&json!({"cccd": WHO.0, "official_id": official, "agency": agency, "purpose": "identity_verification"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

async fn share_with_the_bank(env: &Env, http: &reqwest::Client, core: &Arc<CitizenCore>) -> String {
    let v: Value = http
        .post(format!("{}/rp/bank-demo/requests", env.server().base_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let info = core.consent().open_share_request(v["link"].as_str().unwrap().to_string()).await.unwrap();
    let out = core.consent().share_data(info.request_id, vec![], PASS.into()).await.unwrap();
    out.receipt.receipt_id
}

#[tokio::test(flavor = "multi_thread")]
async fn the_access_log_lists_the_reads_filters_exports_and_shows_removal() {
    let env = Env::new().await;
    let dev = env.device("dev");
    citizen_server::testing::enroll_and_login(&dev.core, &env.otp, WHO, PASS).await;
    let http = http(&env);
    let all = || AccessLogFilter::default();

    let log = dev.core.account().access_log(all()).await.unwrap();
    assert!(log.entries.is_empty() && log.intact && log.total == 0, "nobody has read the record yet");

    official_read(&env, &http, "CB-0001", AGENCY).await;
    env.clock.advance(86_400 * 2);
    dev.core.account().login(PASS.into()).await.unwrap();
    let receipt_id = share_with_the_bank(&env, &http, &dev.core).await;
    let second_day = env.clock.now();
    official_read(&env, &http, "CB-0002", "Sở Tư pháp").await;

    let log = dev.core.account().access_log(all()).await.unwrap();
    assert!(log.intact, "{:?}", log.problems);
    let seen: Vec<_> = log
        .entries
        .iter()
        .map(|e| (e.seq, e.accessor, e.agency.clone(), e.official.clone(), e.purpose, e.reference.clone()))
        .collect();
    assert_eq!(
        seen,
        vec![
            (
                1,
                AccessorKind::Official,
                AGENCY.to_string(),
                Some("CB-0001".to_string()),
                AccessPurpose::IdentityVerification,
                None
            ),
            (2, AccessorKind::RelyingParty, "bank-demo".into(), None, AccessPurpose::DataShare, Some(receipt_id)),
            (
                3,
                AccessorKind::Official,
                "Sở Tư pháp".into(),
                Some("CB-0002".into()),
                AccessPurpose::IdentityVerification,
                None
            ),
        ]
    );

    // Filters: by agency (case-insensitive), by period.
    let by_agency = AccessLogFilter { agency: Some(AGENCY.to_lowercase()), ..all() };
    let l = dev.core.account().access_log(by_agency).await.unwrap();
    assert_eq!((l.entries.len(), l.total), (1, 3));
    let from = UNIX_EPOCH + Duration::from_secs(u64::try_from(second_day).unwrap());
    let l = dev.core.account().access_log(AccessLogFilter { since: Some(from), ..all() }).await.unwrap();
    assert_eq!(l.entries.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![2, 3]);
    let l = dev
        .core
        .account()
        .access_log(AccessLogFilter { until: Some(from - Duration::from_secs(1)), ..all() })
        .await
        .unwrap();
    assert_eq!(l.entries.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1]);

    // The export verifies offline with the published key, and not once edited.
    let signed = dev.core.account().export_access_log().await.unwrap();
    let keys: Value =
        http.get(format!("{}/v1/keys", env.server().base_url)).send().await.unwrap().json().await.unwrap();
    let jwks = keys.to_string();
    let r = citizen_core::verify_access_log_export(signed.clone(), jwks.clone()).unwrap();
    assert!(r.signature_valid && r.intact && r.entries.len() == 3);
    let mut parts: Vec<String> = signed.split('.').map(str::to_string).collect();
    let mut claims: Value = serde_json::from_slice(&citizen_core::crypto::unb64(&parts[1]).unwrap()).unwrap();
    claims["entries"].as_array_mut().unwrap().remove(1);
    parts[1] = citizen_core::crypto::b64(&serde_json::to_vec(&claims).unwrap());
    let r = citizen_core::verify_access_log_export(parts.join("."), jwks).unwrap();
    assert!(!r.signature_valid && !r.intact);
    assert!(!r.problems.is_empty(), "the edited chain also shows the gap");

    // An entry removed at the server (guard dropped) is reported by the device.
    let db = rusqlite::Connection::open(env.server().database_path()).unwrap();
    db.execute_batch("DROP TRIGGER access_log_no_delete").unwrap();
    db.execute("DELETE FROM access_log WHERE seq = 3", []).unwrap();
    let l = dev.core.account().access_log(all()).await.unwrap();
    assert!(!l.intact, "the head seen before is gone");
    assert_eq!(l.problems, vec![citizen_core::LogProblem::Truncated { anchored_seq: 3, last_seq: 2 }]);
}
