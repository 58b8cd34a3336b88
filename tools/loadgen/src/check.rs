//! `--check`: the scale-out correctness scenario (issue 14, item 3). Every request travels on a
//! new connection, so behind the round-robin proxy consecutive requests of one client — and the
//! three copies of a raced request — land on different instances.
//!
//! Each client: a login; a submission sent three times at once with one Idempotency-Key (one
//! 201, two 200, one case number); the refresh token of its session presented three times at
//! once (one rotation, two reuses detected, and the session revoked so the rotated token is
//! refused too). The first eight clients also race one signed login statement three times
//! (exactly one accepted: the nonce is consumed once) and present a fresh nonce with an already
//! accepted counter (refused). Eight, because every refusal counts towards the per-address
//! failure throttle and all clients share 127.0.0.1.
//!
//! Last, a storm of failed logins from the one address (2 × its throttle limit at once): at
//! most the limit are refused as failures, the rest throttled (429).
//!
//! Then, beside what the answers say: no (device, counter) and no nonce accepted twice, and in
//! the database exactly one case per submission, one `refresh_reuse` audit record per
//! detected reuse, and no throttle key holding more failures than its limit.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use super::{
    http_client_pooled, now, p, post, ps, sign, Ctx, Device, Ordering, Purpose, Server, SignedStatement, Statement,
};
use serde_json::{json, Value};

/// Clients that also race logins and replay counters (refusals count towards the per-address
/// failure throttle: 8 × 3 refusals stays under its default 50 per minute).
const REPLAYING_CLIENTS: usize = 8;

#[derive(Default)]
struct Tally {
    /// (device, counter) of every accepted login.
    accepted_counters: Vec<(String, u64)>,
    /// Nonce of every accepted login.
    accepted_nonces: Vec<String>,
    /// Submissions stored (ids).
    submissions: BTreeSet<String>,
    /// Refresh reuses the server reported.
    reuses_detected: u64,
    /// Everything that went wrong.
    problems: Vec<String>,
    logins: u64,
}

async fn challenge(ctx: &Ctx, http: &reqwest::Client, dev: &Device) -> Option<String> {
    let (st, b) = post(
        http,
        format!("{}{}", ctx.base, p::PATH_CHALLENGE),
        &json!({"device_id": dev.id, "purpose": Purpose::Login}),
        &[],
    )
    .await;
    (st == 200).then(|| b["nonce"].as_str().map(str::to_string)).flatten()
}

fn login_statement(ctx: &Ctx, dev: &Device, nonce: &str, counter: u64) -> SignedStatement {
    sign(
        &dev.key,
        &ctx.rng,
        Statement {
            purpose: Purpose::Login,
            audience: ctx.audience.clone(),
            nonce: nonce.to_string(),
            device_id: dev.id.clone(),
            counter,
            issued_at: now(),
            subject: String::new(),
        },
    )
}

/// Send `body` to `path` three times at once (three new connections).
async fn race(
    ctx: &Ctx,
    http: &reqwest::Client,
    path: &str,
    body: &Value,
    headers: &[(&str, &str)],
) -> Vec<(u16, Value)> {
    let url = format!("{}{path}", ctx.base);
    let (a, b, c) = tokio::join!(
        post(http, url.clone(), body, headers),
        post(http, url.clone(), body, headers),
        post(http, url.clone(), body, headers)
    );
    vec![a, b, c]
}

async fn client(ctx: Arc<Ctx>, i: usize, tally: Arc<Mutex<Tally>>) {
    let http = http_client_pooled(&ctx.http_ca, 0);
    let dev = &ctx.devices[i % ctx.devices.len()];
    let problem = |m: String| tally.lock().unwrap().problems.push(format!("client {i}: {m}"));

    // 1. A login.
    let Some(nonce) = challenge(&ctx, &http, dev).await else { return problem("challenge refused".into()) };
    let counter = dev.login_counter.fetch_add(1, Ordering::Relaxed) + 1;
    let signed = login_statement(&ctx, dev, &nonce, counter);
    let (st, tokens) = post(&http, format!("{}{}", ctx.base, p::PATH_LOGIN), &json!({ "signed": signed }), &[]).await;
    if st != 200 {
        return problem(format!("login refused: {st} {tokens}"));
    }
    {
        let mut t = tally.lock().unwrap();
        t.accepted_counters.push((dev.id.clone(), counter));
        t.accepted_nonces.push(nonce);
        t.logins += 1;
    }

    // 2. One submission, three copies at once.
    let pl = super::payload(dev);
    let signed = sign(
        &dev.key,
        &ctx.rng,
        Statement {
            purpose: Purpose::Submit,
            audience: ctx.audience.clone(),
            nonce: pl.submission_id.clone(),
            device_id: dev.id.clone(),
            counter: dev.submit_counter.fetch_add(1, Ordering::Relaxed) + 1,
            issued_at: now(),
            subject: pl.digest_hex(),
        },
    );
    let body = json!({ "payload": pl, "signed": signed, "attachment_data": {} });
    let answers =
        race(&ctx, &http, ps::PATH_SUBMISSIONS, &body, &[("Idempotency-Key", pl.submission_id.as_str())]).await;
    let created = answers.iter().filter(|(s, _)| *s == 201).count();
    let replayed = answers.iter().filter(|(s, _)| *s == 200).count();
    let cases: BTreeSet<&str> = answers.iter().filter_map(|(_, b)| b["case_number"].as_str()).collect();
    if created != 1 || replayed != 2 || cases.len() != 1 {
        problem(format!("submission answered {:?}", answers.iter().map(|a| a.0).collect::<Vec<_>>()));
    } else {
        tally.lock().unwrap().submissions.insert(pl.submission_id.clone());
    }

    // 3. The refresh token presented three times at once: one rotation, two reuses.
    let rt = tokens["refresh_token"].as_str().unwrap_or_default().to_string();
    let answers = race(&ctx, &http, p::PATH_REFRESH, &json!({ "refresh_token": rt }), &[]).await;
    let rotated: Vec<&Value> = answers.iter().filter(|(s, _)| *s == 200).map(|(_, b)| b).collect();
    let reused = answers
        .iter()
        .filter(|(s, b)| *s == 401 && b["code"] == citizen_protocol::protocol::codes::REFRESH_REUSED)
        .count();
    if rotated.len() != 1 || reused != 2 {
        problem(format!(
            "refresh race answered {:?}",
            answers.iter().map(|a| (a.0, a.1["code"].clone())).collect::<Vec<_>>()
        ));
    } else {
        tally.lock().unwrap().reuses_detected += 2;
        // The family is revoked: the rotated token is refused too.
        let next = rotated[0]["refresh_token"].as_str().unwrap_or_default();
        let (st, b) =
            post(&http, format!("{}{}", ctx.base, p::PATH_REFRESH), &json!({ "refresh_token": next }), &[]).await;
        if st == 200 {
            problem(format!("rotated token of a revoked session accepted: {b}"));
        }
    }

    if i >= REPLAYING_CLIENTS {
        return;
    }
    // 4. One signed login statement, three copies at once: exactly one accepted.
    let Some(nonce) = challenge(&ctx, &http, dev).await else { return problem("challenge refused".into()) };
    let counter = dev.login_counter.fetch_add(1, Ordering::Relaxed) + 1;
    let signed = login_statement(&ctx, dev, &nonce, counter);
    let answers = race(&ctx, &http, p::PATH_LOGIN, &json!({ "signed": signed }), &[]).await;
    let ok = answers.iter().filter(|(s, _)| *s == 200).count();
    if ok != 1 {
        problem(format!("raced login accepted {ok} times"));
    }
    {
        let mut t = tally.lock().unwrap();
        for _ in 0..ok {
            t.accepted_counters.push((dev.id.clone(), counter));
            t.accepted_nonces.push(nonce.clone());
            t.logins += 1;
        }
    }
    // 5. A fresh nonce with that accepted counter: refused.
    let Some(nonce) = challenge(&ctx, &http, dev).await else { return problem("challenge refused".into()) };
    let signed = login_statement(&ctx, dev, &nonce, counter);
    let (st, b) = post(&http, format!("{}{}", ctx.base, p::PATH_LOGIN), &json!({ "signed": signed }), &[]).await;
    if st == 200 {
        tally.lock().unwrap().accepted_counters.push((dev.id.clone(), counter));
        problem(format!("a used counter was accepted again: {b}"));
    }
}

/// Answers of the failure storm.
struct Storm {
    /// Refused for the statement itself (`nonce_invalid`): each counts as a failure.
    failed: u64,
    /// Refused by the failure throttle (429 `rate_limited`).
    throttled: u64,
    /// Anything else.
    other: u64,
}

/// Last (it leaves 127.0.0.1 throttled): 2 × the per-address limit of logins on never-issued
/// nonces, all at once, spread over the devices so that no device reaches its own limit. The
/// per-address throttle must let through at most its limit of failures, whichever instances
/// they reached and however they overlapped (decision 47: each failure is counted under the
/// throttle key's lock), and refuse the rest with 429.
async fn failure_storm(ctx: &Arc<Ctx>) -> Storm {
    let limit = citizen_server::config::Limits::default().failures_per_address as usize;
    let tasks: Vec<_> = (0..2 * limit)
        .map(|i| {
            let ctx = ctx.clone();
            tokio::spawn(async move {
                let http = http_client_pooled(&ctx.http_ca, 0);
                let dev = &ctx.devices[i % ctx.devices.len()];
                let nonce = format!("never-issued-{i}");
                let signed = login_statement(&ctx, dev, &nonce, 1);
                post(&http, format!("{}{}", ctx.base, p::PATH_LOGIN), &json!({ "signed": signed }), &[]).await
            })
        })
        .collect();
    let mut storm = Storm { failed: 0, throttled: 0, other: 0 };
    for t in tasks {
        match t.await {
            Ok((401, b)) if b["code"] == citizen_protocol::protocol::codes::NONCE_INVALID => storm.failed += 1,
            Ok((429, b)) if b["code"] == citizen_protocol::protocol::codes::RATE_LIMITED => storm.throttled += 1,
            _ => storm.other += 1,
        }
    }
    storm
}

/// Run the scenario with `clients` concurrent clients; print the findings; `true` when clean.
pub(crate) async fn run(ctx: &Arc<Ctx>, server: &Server, clients: usize) -> bool {
    let tally = Arc::new(Mutex::new(Tally::default()));
    let tasks: Vec<_> = (0..clients).map(|i| tokio::spawn(client(ctx.clone(), i, tally.clone()))).collect();
    for t in tasks {
        if let Err(e) = t.await {
            tally.lock().unwrap().problems.push(format!("client task failed: {e}"));
        }
    }
    let mut t = std::mem::take(&mut *tally.lock().unwrap());
    let storm = failure_storm(ctx).await;
    let limit = citizen_server::config::Limits::default().failures_per_address;
    if storm.failed > u64::from(limit) || storm.throttled == 0 || storm.other != 0 {
        t.problems.push(format!(
            "failure storm: {} refused as failures, {} throttled, {} other answers (limit {limit} per address)",
            storm.failed, storm.throttled, storm.other
        ));
    }
    let mut seen = BTreeMap::new();
    for c in &t.accepted_counters {
        *seen.entry(c.clone()).or_insert(0) += 1;
    }
    for (c, n) in &seen {
        if *n > 1 {
            t.problems.push(format!("counter {} of device {} accepted {n} times", c.1, c.0));
        }
    }
    let nonces: BTreeSet<&String> = t.accepted_nonces.iter().collect();
    if nonces.len() != t.accepted_nonces.len() {
        t.problems.push(format!("{} nonces accepted more than once", t.accepted_nonces.len() - nonces.len()));
    }
    if let Some(url) = &server.pg_url {
        let url = url.clone();
        let (subs, reuses) = (t.submissions.clone(), t.reuses_detected);
        // The synchronous driver: on a blocking thread, not on the runtime.
        let found = tokio::task::spawn_blocking(move || database_findings(&url, &subs, reuses)).await.unwrap();
        match found {
            Ok(mut p) => t.problems.append(&mut p),
            Err(e) => t.problems.push(format!("database check: {e}")),
        }
    }
    let hits: Vec<u64> = server.proxy_hits.iter().map(|h| h.load(Ordering::Relaxed)).collect();
    if server.children.len() > 1 && hits.contains(&0) {
        t.problems.push(format!("an instance got no connection: {hits:?}"));
    }
    println!(
        "scale-out check: {} instance(s), {clients} clients, {} logins, {} submissions, {} refresh reuses detected, connections per instance {hits:?}",
        server.children.len(),
        t.logins,
        t.submissions.len(),
        t.reuses_detected
    );
    for p in &t.problems {
        println!("PROBLEM {p}");
    }
    let passed = usize::from(t.problems.is_empty());
    println!("scale-out: {passed} passed, {} failed", 1 - passed);
    t.problems.is_empty()
}

/// What the database says: one case per submission, one audit record per reuse.
fn database_findings(
    url: &str,
    submissions: &BTreeSet<String>,
    reuses_detected: u64,
) -> Result<Vec<String>, postgres::Error> {
    let mut db = postgres::Client::connect(url, postgres::NoTls)?;
    let mut problems = Vec::new();
    let ids: Vec<String> = submissions.iter().cloned().collect();
    let rows = db.query(
        "SELECT submission_id, COUNT(*) FROM cases WHERE submission_id = ANY($1) GROUP BY submission_id",
        &[&ids],
    )?;
    let stored: BTreeMap<String, i64> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    for id in &ids {
        match stored.get(id) {
            Some(1) => {}
            n => problems.push(format!("submission {id} stored {} times", n.copied().unwrap_or(0))),
        }
    }
    // No failure-throttle key holds more failures than the per-address limit (the largest);
    // the storm filled the address's window exactly.
    let limit = i64::from(citizen_server::config::Limits::default().failures_per_address);
    let most: Option<i64> =
        db.query_one("SELECT MAX(n) FROM (SELECT COUNT(*) AS n FROM rate_events GROUP BY key) k", &[])?.get(0);
    if most != Some(limit) {
        problems.push(format!("the fullest failure-throttle key holds {most:?} failures, limit {limit}"));
    }
    let reuses: i64 = db.query_one("SELECT COUNT(*) FROM audit_log WHERE event = 'refresh_reuse'", &[])?.get(0);
    if u64::try_from(reuses).unwrap_or(0) != reuses_detected {
        problems.push(format!("{reuses} refresh_reuse audit records for {reuses_detected} detected reuses"));
    }
    Ok(problems)
}
