//! Load shedding: per-client quotas of anonymous state (demo portal sessions, demo-bank share
//! requests), connection timeouts, admission of large bodies. The flooder sends from
//! 127.0.0.2, the honest client from 127.0.0.1 (both loopback on Linux).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::common::*;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const FLOODER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

/// An HTTPS client trusting the dev CA that connects from `local`.
fn client_from(ca_pem: &str, local: IpAddr) -> reqwest::Client {
    client_bound(ca_pem, Some(local))
}

fn tls_connector(ca_pem: &str) -> tokio_rustls::TlsConnector {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pki_types::CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let mut cfg = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    tokio_rustls::TlsConnector::from(Arc::new(cfg))
}

async fn tcp_from(local: IpAddr, to: SocketAddr) -> tokio::net::TcpStream {
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.bind(SocketAddr::new(local, 0)).unwrap();
    sock.connect(to).await.unwrap()
}

/// A TLS connection from `local` with the handshake done.
async fn tls_from(h: &Harness, local: IpAddr) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let tcp = tcp_from(local, h.server.addr).await;
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap().to_owned();
    tls_connector(&h.server.ca_cert_pem).connect(name, tcp).await.unwrap()
}

/// Read until the server closes (EOF or reset), at most `bound`; returns whether it closed and
/// what it sent.
async fn closed_within<S: tokio::io::AsyncRead + Unpin>(s: &mut S, bound: Duration) -> (bool, String) {
    let mut got = Vec::new();
    let r = tokio::time::timeout(bound, async {
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    (r.is_ok(), String::from_utf8_lossy(&got).into_owned())
}

/// POST from many tasks until the first answer that is not 200, at most `max` requests in all;
/// returns (number of 200s, the first refusal's status, Retry-After and body).
async fn flood(
    http: &reqwest::Client,
    url: &str,
    body: Value,
    max: usize,
) -> (usize, Option<(u16, Option<String>, Value)>) {
    let ok = Arc::new(AtomicUsize::new(0));
    let sent = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let refusal = Arc::new(std::sync::Mutex::new(None));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (http, url, body) = (http.clone(), url.to_string(), body.clone());
        let (ok, sent, stop, refusal) = (ok.clone(), sent.clone(), stop.clone(), refusal.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) && sent.fetch_add(1, Ordering::SeqCst) < max {
                let r = http.post(&url).json(&body).send().await.unwrap();
                let st = r.status().as_u16();
                if st == 200 {
                    ok.fetch_add(1, Ordering::SeqCst);
                    continue;
                }
                let ra = r.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
                let b: Value = r.json().await.unwrap_or(Value::Null);
                stop.store(true, Ordering::SeqCst);
                refusal.lock().unwrap().get_or_insert((st, ra, b));
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let r = refusal.lock().unwrap().take();
    (ok.load(Ordering::SeqCst), r)
}

#[tokio::test]
async fn portal_flood_from_one_address_leaves_sessions_for_the_others() {
    let h = start().await;
    let flooder = client_from(&h.server.ca_cert_pem, FLOODER);
    let url = format!("{}/portal/api/sessions", h.server.base_url);
    let (ok, refusal) = flood(&flooder, &url, json!({}), 10_001).await;
    let (st, retry_after, body) = refusal.expect("the flood is refused by the 10,001st session");
    assert_eq!(st, 429, "the flooder, not everyone, is refused: {body} after {ok} sessions");
    assert_eq!(body["code"], "rate_limited");
    let secs: u64 = retry_after.expect("Retry-After").parse().unwrap();
    assert!((1..=480).contains(&secs), "{secs}");
    assert_eq!(ok, h.server.limits().shed.portal_sessions_per_client);
    // An honest visitor from another address still gets a session; the flooder still does not.
    let (st, b) = h.post("/portal/api/sessions", json!({}), None).await;
    assert_eq!(st, 200, "{b}");
    let r = flooder.post(&url).json(&json!({})).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 429);
    // Once its sessions are over (and their tokens could no longer be presented), the flooder's
    // share is free again.
    h.clock.advance(180 + 300 + 1);
    let r = flooder.post(&url).json(&json!({})).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

fn unanswered_bank_requests(h: &Harness) -> i64 {
    let c = rusqlite::Connection::open(h.dir.path().join("citizen-server.db")).unwrap();
    c.query_row("SELECT COUNT(*) FROM rp_share_requests WHERE answered_at IS NULL", [], |r| r.get(0)).unwrap()
}

#[tokio::test]
async fn bank_requests_are_capped_per_address_and_expire() {
    let h = start().await;
    let flooder = client_from(&h.server.ca_cert_pem, FLOODER);
    let url = format!("{}/rp/bank-demo/requests", h.server.base_url);
    let (ok, refusal) = flood(&flooder, &url, json!({}), 2_000).await;
    let (st, retry_after, body) = refusal.expect("the flood is refused before 2,000 requests");
    assert_eq!(st, 429, "{body} after {ok} requests");
    assert_eq!(body["code"], "rate_limited");
    assert!(retry_after.expect("Retry-After").parse::<u64>().unwrap() <= 600);
    assert_eq!(ok, h.server.limits().shed.bank_requests_per_client);
    let (st, b) = h.post("/rp/bank-demo/requests", json!({}), None).await;
    assert_eq!(st, 200, "another customer is served: {b}");
    assert_eq!(unanswered_bank_requests(&h), ok as i64 + 1);
    // Expired requests are deleted, and the flooder's share is free again.
    h.clock.advance(601);
    let r = flooder.post(&url).json(&json!({})).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(unanswered_bank_requests(&h), 1, "expired unanswered requests are gone");
}

#[tokio::test]
async fn idle_and_half_sent_connections_are_closed_by_the_server() {
    let h = start().await;
    // Default limits: 10 s to finish the TLS handshake, 10 s to send a request's headers (also
    // the idle time allowed between requests). Waits are bounded at 40 s.
    let bound = Duration::from_secs(40);
    // TLS done, nothing sent.
    let mut idle = tls_from(&h, FLOODER).await;
    // Half a request line and headers.
    let mut half = tls_from(&h, FLOODER).await;
    half.write_all(b"POST /portal/api/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty").await.unwrap();
    half.flush().await.unwrap();
    // A kept-alive connection after one complete request.
    let mut kept = tls_from(&h, FLOODER).await;
    kept.write_all(b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await.unwrap();
    kept.flush().await.unwrap();
    let mut buf = [0u8; 512];
    let n = kept.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    // TCP only, no TLS handshake.
    let mut raw = tcp_from(FLOODER, h.server.addr).await;

    let (closed, _) = closed_within(&mut idle, bound).await;
    assert!(closed, "an idle TLS connection is closed");
    let (closed, _) = closed_within(&mut half, bound).await;
    assert!(closed, "a connection that never finishes its headers is closed");
    let (closed, _) = closed_within(&mut kept, bound).await;
    assert!(closed, "an idle kept-alive connection is closed");
    let (closed, _) = closed_within(&mut raw, bound).await;
    assert!(closed, "a connection that never starts TLS is closed");
    // The server still serves.
    let (st, _) = h.get("/v1/health", None).await;
    assert_eq!(st, 200);
}

/// Start an anonymous submission upload: headers announcing `len` bytes and the first 64 KiB.
async fn start_upload(
    h: &Harness,
    local: IpAddr,
    len: usize,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let mut s = tls_from(h, local).await;
    let head = format!(
        "POST /v1/submissions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Idempotency-Key: x\r\nContent-Length: {len}\r\n\r\n{{\"attachment_data\":{{\"a\":\""
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&vec![b'A'; 64 * 1024]).await.unwrap();
    s.flush().await.unwrap();
    s
}

#[tokio::test]
async fn one_address_gets_only_a_few_large_uploads_at_a_time() {
    let h = start().await;
    let per_client = h.server.limits().shed.submissions_per_client;
    let len = 11 * 1024 * 1024;
    let mut held = Vec::new();
    for _ in 0..per_client {
        held.push(start_upload(&h, FLOODER, len).await);
    }
    // Let the server take those two in (they hold their slots while their bodies trickle).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut extra = start_upload(&h, FLOODER, len).await;
    let (closed, text) = closed_within(&mut extra, Duration::from_secs(20)).await;
    assert!(text.starts_with("HTTP/1.1 429"), "closed={closed}: {text}");
    assert!(text.to_ascii_lowercase().contains("retry-after:"), "{text}");
    // Another address is not affected: its (malformed) submission is read and answered.
    let body = json!({ "attachment_data": { "a": "A".repeat(100 * 1024) } });
    let r = h.http.post(format!("{}/v1/submissions", h.server.base_url)).json(&body).send().await.unwrap();
    let st = r.status().as_u16();
    assert!((400..500).contains(&st) && st != 429, "{st}");
    drop(held);
}

#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_is_answered_408() {
    let limits = citizen_server::Limits {
        shed: citizen_server::ShedLimits { request_timeout_secs: 2, ..Default::default() },
        ..Default::default()
    };
    let h = start_with(limits).await;
    let mut s = start_upload(&h, FLOODER, 1024 * 1024).await;
    let (closed, text) = closed_within(&mut s, Duration::from_secs(20)).await;
    assert!(text.starts_with("HTTP/1.1 408"), "closed={closed}: {text}");
    assert!(text.contains("\"code\""), "a JSON error body: {text}");
}

#[tokio::test]
async fn beyond_the_in_flight_cap_requests_are_shed_at_once() {
    let limits = citizen_server::Limits {
        shed: citizen_server::ShedLimits { max_in_flight: 2, ..Default::default() },
        ..Default::default()
    };
    let h = start_with(limits).await;
    // Two uploads whose bodies never finish hold both slots.
    let _a = start_upload(&h, FLOODER, 1024 * 1024).await;
    let _b = start_upload(&h, IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3)), 1024 * 1024).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = h.http.get(format!("{}/v1/health", h.server.base_url)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 503);
    assert_eq!(r.headers()["retry-after"], "1");
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["code"], "rate_limited");
    // Once they are gone, requests are served again.
    drop((_a, _b));
    let mut st = 0;
    for _ in 0..50 {
        st = h.http.get(format!("{}/v1/health", h.server.base_url)).send().await.unwrap().status().as_u16();
        if st == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(st, 200);
}

#[tokio::test]
async fn zero_load_shedding_limits_are_refused_at_start() {
    use citizen_server::{Limits, ShedLimits};
    let zeroed: [fn(&mut ShedLimits); 3] =
        [|s| s.header_read_timeout_secs = 0, |s| s.max_in_flight = 0, |s| s.portal_sessions_per_client = 0];
    for zero in zeroed {
        let mut shed = ShedLimits::default();
        zero(&mut shed);
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = citizen_server::ServerConfig::loopback_dev(
            dir.path().to_path_buf(),
            Arc::new(citizen_server::MemoryOtpOutbox::new()),
            citizen_protocol::clock::ManualClock::new(),
        );
        cfg.limits = Limits { shed, ..Limits::default() };
        assert!(matches!(citizen_server::start(cfg).await, Err(citizen_server::ServerError::Config(_))));
    }
}

#[tokio::test]
async fn an_oversized_request_head_is_refused() {
    let h = start().await;
    let mut s = tls_from(&h, FLOODER).await;
    let filler = "a".repeat(h.server.limits().shed.max_header_bytes + 1024);
    s.write_all(format!("GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Filler: {filler}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    s.flush().await.unwrap();
    let (closed, text) = closed_within(&mut s, Duration::from_secs(20)).await;
    assert!(closed && text.starts_with("HTTP/1.1 431"), "closed={closed}: {text}");
    // A normal request still passes.
    let (st, _) = h.get("/v1/health", None).await;
    assert_eq!(st, 200);
}
