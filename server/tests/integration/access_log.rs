//! The citizen's access log (issue 16, item 2) and the officials' roles: the log lists exactly
//! the reads of the citizen's record made here, is signed by the server under its own `typ`,
//! and an entry removed or changed in the database is detected; an official without the role
//! gets 403, and the dashboard's views are audited.

use std::collections::BTreeMap;

use citizen_protocol::access::{self as acc, AccessLogClaims, AccessPurpose, Accessor};
use citizen_protocol::activity::LogProblem;
use citizen_server::officials::Role;
use serde_json::{json, Value};

use crate::common::*;
use crate::services::{citizen, residence_payload, submit_body, transition};

const OFFICIAL: &str = "x-official-token";

async fn read_record(h: &Harness, token: Option<&str>, body: Value) -> (u16, Value) {
    let mut rb = h.http.post(format!("{}{}", h.server.base_url, acc::PATH_OFFICIAL_RECORD)).json(&body);
    if let Some(t) = token {
        rb = rb.header(OFFICIAL, t);
    }
    let resp = rb.send().await.unwrap();
    let st = resp.status().as_u16();
    (st, resp.json().await.unwrap_or(Value::Null))
}

/// The signed log of a citizen, verified with the server's published key and kind.
async fn signed_log(h: &Harness, access: &str) -> (String, AccessLogClaims) {
    let (st, b) = h.get(acc::PATH_ACCESS_LOG, Some(access)).await;
    assert_eq!(st, 200, "{b}");
    let jws = b["log"].as_str().unwrap().to_string();
    (jws.clone(), decode(h, &jws).await.expect("the server's signature verifies"))
}

async fn decode(h: &Harness, jws: &str) -> Option<AccessLogClaims> {
    let (_, keys) = h.get(citizen_protocol::protocol::services::PATH_KEYS, None).await;
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(keys["keys"][0].clone()).unwrap();
    citizen_protocol::crypto::decode_es256::<AccessLogClaims>(jws, &jwk)
}

/// (who, agency, official, purpose, reference) of each entry.
type Seen = (Accessor, String, Option<String>, AccessPurpose, Option<String>);

fn summary(c: &AccessLogClaims) -> Vec<Seen> {
    c.entries
        .iter()
        .map(|e| (e.accessor, e.agency.clone(), e.official.clone(), e.purpose, e.reference.clone()))
        .collect()
}

#[tokio::test]
async fn the_log_lists_exactly_the_reads_made_and_shows_tampering() {
    let h = start().await;
    let mut c1 = citizen(&h, C1).await;
    let c2 = citizen(&h, C2).await;
    let shared = h.server.official_token.clone();
    let clerk = h.server.add_official("CB-0042", "Công an phường Hoàn Kiếm", &[Role::Records]).unwrap();
    let leader = h.server.add_official("LD-0001", "Văn phòng UBND", &[Role::Dashboard]).unwrap();

    let (_, empty) = signed_log(&h, &c1.access).await;
    assert!(empty.entries.is_empty());
    assert_eq!((empty.iss.as_str(), empty.sub.as_str()), (h.server.audience.as_str(), c1.account.as_str()));

    // Reads by officials: the shared token says who reads; a named official is who the token is.
    let (st, p) = read_record(
        &h,
        Some(&shared),
        json!({"cccd": C1.0, "official_id": "CB-0007", "agency": "Công an xã Đông Anh", "purpose": "case_processing",
               "reference": "HS-TEST-1"}),
    )
    .await;
    assert_eq!((st, p["cccd"].as_str()), (200, Some(C1.0)), "{p}");
    let (st, _) = read_record(
        &h,
        Some(&clerk),
        json!({"cccd": C1.0, "official_id": "someone-else", "purpose": "identity_verification"}),
    )
    .await;
    assert_eq!(st, 200);
    let (st, _) = read_record(&h, Some(&clerk), json!({"cccd": C2.0, "purpose": "investigation"})).await;
    assert_eq!(st, 200);

    // Refused reads leave no entry: no token, a wrong one, an official without the role, a
    // purpose only the server records, no identity with the shared token, an unknown citizen.
    let ok_body = json!({"cccd": C1.0, "purpose": "case_processing"});
    assert_eq!(read_record(&h, None, ok_body.clone()).await.0, 401);
    assert_eq!(read_record(&h, Some("not-a-token"), ok_body.clone()).await.0, 401);
    let (st, b) = read_record(&h, Some(&leader), ok_body.clone()).await;
    assert_eq!((st, b["code"].as_str()), (403, Some(acc::codes::OFFICIAL_FORBIDDEN)));
    assert_eq!(read_record(&h, Some(&clerk), json!({"cccd": C1.0, "purpose": "data_share"})).await.0, 400);
    assert_eq!(read_record(&h, Some(&shared), ok_body.clone()).await.0, 400, "shared token: who reads?");
    let (st, b) = read_record(&h, Some(&clerk), json!({"cccd": "001099999999", "purpose": "investigation"})).await;
    assert_eq!((st, b["code"].as_str()), (404, Some(acc::codes::UNKNOWN_CITIZEN)));

    // The back office: the new case's form checked against the register, then a decision
    // (moving to processing is not one).
    let p = residence_payload(&h);
    let body = c1.request(&h, &p, &BTreeMap::new());
    let (st, b) = submit_body(&h, &body).await;
    assert_eq!(st, 201, "{b}");
    let case = b["case_number"].as_str().unwrap().to_string();
    assert_eq!(transition(&h, &shared, &case, "processing", json!({})).await.0, 200);
    h.clock.advance(60);
    assert_eq!(transition(&h, &shared, &case, "approved", json!({})).await.0, 200);

    let (jws, log) = signed_log(&h, &c1.access).await;
    let back = citizen_server::access_log::BACK_OFFICE.to_string();
    assert_eq!(
        summary(&log),
        vec![
            (
                Accessor::Official,
                "Công an xã Đông Anh".into(),
                Some("CB-0007".into()),
                AccessPurpose::CaseProcessing,
                Some("HS-TEST-1".into())
            ),
            (
                Accessor::Official,
                "Công an phường Hoàn Kiếm".into(),
                Some("CB-0042".into()),
                AccessPurpose::IdentityVerification,
                None
            ),
            (Accessor::BackOffice, back.clone(), None, AccessPurpose::FormPrefill, Some(case.clone())),
            (Accessor::BackOffice, back, None, AccessPurpose::CaseDecision, Some(case.clone())),
        ]
    );
    assert_eq!(log.entries.last().unwrap().at, h.now());
    assert!(acc::verify_chain(&log.entries, None).is_empty());
    let (_, log2) = signed_log(&h, &c2.access).await;
    assert_eq!(log2.entries.len(), 1, "C2's log has only the read of C2's record");
    assert_eq!(log2.entries[0].purpose, AccessPurpose::Investigation);

    // The export is typed: the same text with another typ, or a changed payload, is refused.
    let mut parts: Vec<String> = jws.split('.').map(str::to_string).collect();
    let mut claims: Value = serde_json::from_slice(&citizen_protocol::crypto::unb64(&parts[1]).unwrap()).unwrap();
    claims["entries"].as_array_mut().unwrap().remove(0);
    parts[1] = citizen_protocol::crypto::b64(&serde_json::to_vec(&claims).unwrap());
    assert!(decode(&h, &parts.join(".")).await.is_none(), "an edited export fails verification");
    let head = log.entries.last().unwrap().clone();

    // The database refuses to change the log ...
    let db = rusqlite::Connection::open(h.server.database_path()).unwrap();
    assert!(db.execute("DELETE FROM access_log WHERE seq = 2", []).is_err());
    assert!(db.execute("UPDATE access_log SET agency = 'x' WHERE seq = 2", []).is_err());
    // ... and whoever removes the guard and an entry is seen by the chain.
    db.execute_batch("DROP TRIGGER access_log_no_delete; DROP TRIGGER access_log_no_update;").unwrap();
    db.execute(
        "DELETE FROM access_log WHERE seq = 2 AND citizen_id = (SELECT id FROM citizens WHERE cccd = ?1)",
        [C1.0],
    )
    .unwrap();
    let (_, cut) = signed_log(&h, &c1.access).await;
    let problems = acc::verify_chain(&cut.entries, Some((head.seq, &head.hash)));
    assert!(problems.contains(&LogProblem::Gap { expected_seq: 2, found_seq: 3 }), "{problems:?}");
    assert!(problems.contains(&LogProblem::BrokenLink { seq: 3 }), "{problems:?}");
    // Rewritten consistently (renumbered, rehashed): only the head kept from the earlier export
    // shows it.
    db.execute("UPDATE access_log SET agency = 'Không ai' WHERE seq = 1", []).unwrap();
    let (_, changed) = signed_log(&h, &c1.access).await;
    assert!(acc::verify_chain(&changed.entries, None).contains(&LogProblem::ChangedEntry { seq: 1 }));
    let mut rewritten = changed.entries.clone();
    let mut prev = citizen_protocol::activity::GENESIS.to_string();
    for (i, e) in rewritten.iter_mut().enumerate() {
        e.seq = i as u64 + 1;
        e.prev_hash = prev.clone();
        e.hash = e.computed_hash();
        prev = e.hash.clone();
    }
    assert!(acc::verify_chain(&rewritten, None).is_empty());
    assert_eq!(
        acc::verify_chain(&rewritten, Some((head.seq, &head.hash))),
        vec![LogProblem::Truncated { anchored_seq: 4, last_seq: 3 }]
    );
}

#[tokio::test]
async fn dashboard_needs_its_role_and_every_view_is_audited() {
    let h = start().await;
    let leader = h.server.add_official("LD-0001", "Văn phòng UBND tỉnh", &[Role::Dashboard]).unwrap();
    let clerk = h.server.add_official("CB-0042", "Công an phường", &[Role::Records]).unwrap();
    let get = |token: Option<String>, path: &'static str| {
        let h = &h;
        async move {
            let mut rb = h.http.get(format!("{}{}", h.server.base_url, path));
            if let Some(t) = token {
                rb = rb.header(OFFICIAL, t);
            }
            let r = rb.send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    use citizen_server::dashboard::http::{PATH_API, PATH_CSV, PATH_PAGE};
    assert_eq!(get(None, PATH_API).await.0, 401);
    assert_eq!(get(Some(clerk.clone()), PATH_API).await.0, 403, "records role only");
    assert_eq!(get(Some(h.server.official_token.clone()), PATH_API).await.0, 403, "the shared token has no dashboard");
    assert_eq!(get(Some(clerk), PATH_CSV).await.0, 403);
    let (st, page) = get(None, PATH_PAGE).await;
    assert_eq!(st, 401);
    assert!(page.contains("Mã truy cập cán bộ"), "the sign-in form");
    let (st, body) = get(Some(leader.clone()), PATH_API).await;
    assert_eq!(st, 200, "{body}");
    let d: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(d["threshold"], 5);
    assert_eq!(d["total"]["suppressed"], true, "no case yet: nothing to show");
    assert_eq!(d["total"]["suppressed_reason"], "small");
    assert!(d["months"].as_array().unwrap().iter().all(|m| m["suppressed_reason"] == "small"));
    let (st, page) = get(Some(leader.clone()), PATH_PAGE).await;
    assert_eq!(st, 200);
    assert!(page.contains("Bảng điều hành dịch vụ công") && page.contains("<svg") && !page.contains("<script"));
    let (st, csv) = get(Some(leader), PATH_CSV).await;
    assert_eq!(st, 200);
    assert!(csv.starts_with("scope,procedure_id,procedure_vi,province_code,province_vi,suppressed,suppressed_reason,"));
    assert!(csv.lines().nth(1).unwrap().starts_with("total,\"\",\"Tất cả\",\"\",\"Tất cả\",1,small,,"), "{csv}");
    let events: Vec<(String, String, Option<String>)> = h
        .server
        .audit_events()
        .into_iter()
        .filter(|e| e.event.starts_with("dashboard_"))
        .map(|e| (e.event, e.outcome, e.account_id))
        .collect();
    let leader_id = Some("official:LD-0001".to_string());
    let forbidden = acc::codes::OFFICIAL_FORBIDDEN.to_string();
    assert_eq!(
        events,
        vec![
            ("dashboard_api".into(), "official_unauthorized".into(), None),
            ("dashboard_api".into(), forbidden.clone(), Some("official:CB-0042".into())),
            ("dashboard_api".into(), forbidden.clone(), None),
            ("dashboard_csv".into(), forbidden, Some("official:CB-0042".into())),
            ("dashboard_view".into(), "official_unauthorized".into(), None),
            ("dashboard_api".into(), "ok".into(), leader_id.clone()),
            ("dashboard_view".into(), "ok".into(), leader_id.clone()),
            ("dashboard_csv".into(), "ok".into(), leader_id),
        ]
    );
}

/// Reads at once each get their own link: none lost, none forked, the chain intact.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_reads_each_get_one_entry() {
    let h = start().await;
    let c1 = citizen(&h, C1).await;
    let clerk = h.server.add_official("CB-0042", "Công an phường Hoàn Kiếm", &[Role::Records]).unwrap();
    let url = format!("{}{}", h.server.base_url, acc::PATH_OFFICIAL_RECORD);
    let tasks: Vec<_> = (0..24)
        .map(|i| {
            let (http, url, clerk) = (h.http.clone(), url.clone(), clerk.clone());
            tokio::spawn(async move {
                let body = json!({"cccd": C1.0, "purpose": "case_processing", "reference": format!("R-{i}")});
                http.post(url).header(OFFICIAL, clerk).json(&body).send().await.unwrap().status().as_u16()
            })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    let (_, log) = signed_log(&h, &c1.access).await;
    assert_eq!(log.entries.len(), 24);
    assert!(acc::verify_chain(&log.entries, None).is_empty());
    let mut refs: Vec<String> = log.entries.iter().filter_map(|e| e.reference.clone()).collect();
    refs.sort();
    refs.dedup();
    assert_eq!(refs.len(), 24, "every read is there once");
}
