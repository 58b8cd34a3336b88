//! TLS refusals: unknown CA, wrong host name, pin mismatch and `http://` are refused — and the
//! server receives no request bytes (the handshake fails before any application data, and the
//! insecure URL is refused before any socket is opened). Positive controls prove the test
//! server really answers when the client's configuration is right.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use citizen_core::error::{Error, NetError, NetworkErrorKind};
use citizen_core::net::{Net, NetConfig};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, PublicKeyData};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Pki {
    ca_pem: String,
    ca_der: CertificateDer<'static>,
    ca_pin: String,
    issuer: Issuer<'static, KeyPair>,
}

fn ca() -> Pki {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let cert = params.self_signed(&key).unwrap();
    let ca_pin = citizen_core::protocol::spki_pin(&key.subject_public_key_info());
    Pki { ca_pem: cert.pem(), ca_der: cert.der().clone(), ca_pin, issuer: Issuer::new(params, key) }
}

/// A leaf for `names` signed by `pki`: (chain, key, leaf pin).
fn leaf(pki: &Pki, names: &[&str]) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>, String) {
    let key = KeyPair::generate().unwrap();
    let params = CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    let cert = params.signed_by(&key, &pki.issuer).unwrap();
    let pin = citizen_core::protocol::spki_pin(&key.subject_public_key_info());
    let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    (vec![cert.der().clone(), pki.ca_der.clone()], der, pin)
}

/// A TLS server that counts the application bytes it receives and answers one JSON body.
async fn tls_server(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> (SocketAddr, Arc<AtomicUsize>) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let received = Arc::new(AtomicUsize::new(0));
    let counter = received.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else { return };
            let acceptor = acceptor.clone();
            let counter = counter.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                let mut buf = [0u8; 4096];
                let mut req = Vec::new();
                while let Ok(n) = tls.read(&mut buf).await {
                    if n == 0 {
                        return;
                    }
                    counter.fetch_add(n, Ordering::SeqCst);
                    req.extend_from_slice(&buf[..n]);
                    if req.windows(4).any(|w| w == b"\r\n\r\n") {
                        let body = br#"{"ok":true}"#;
                        let head = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                            body.len()
                        );
                        let _ = tls.write_all(head.as_bytes()).await;
                        let _ = tls.write_all(body).await;
                        let _ = tls.shutdown().await;
                        return;
                    }
                }
            });
        }
    });
    (addr, received)
}

fn net(base: String, anchors: Vec<String>, pins: Vec<String>) -> Net {
    Net::new(&NetConfig {
        base_url: base,
        trust_anchors_pem: anchors,
        spki_pins: pins,
        connect_timeout: std::time::Duration::from_secs(5),
        request_timeout: std::time::Duration::from_secs(10),
        allow_insecure_loopback: false,
        language: "vi",
    })
    .unwrap()
}

async fn health(n: &Net) -> Result<serde_json::Value, Error> {
    n.get("/v1/health", None).await
}

fn assert_kind(r: Result<serde_json::Value, Error>, want: NetworkErrorKind) {
    match r {
        Err(Error::Net(NetError { kind, .. })) if kind == want => {}
        other => panic!("expected {want:?}, got {other:?}"),
    }
}

fn random_pin() -> String {
    citizen_core::protocol::spki_pin(&citizen_core::crypto::random_array::<32>())
}

#[tokio::test]
async fn trusted_and_pinned_connection_works_with_primary_or_backup_pin() {
    let pki = ca();
    let (chain, key, leaf_pin) = leaf(&pki, &["localhost", "127.0.0.1"]);
    let (addr, received) = tls_server(chain, key).await;
    let base = format!("https://127.0.0.1:{}", addr.port());
    // No pins.
    assert_eq!(health(&net(base.clone(), vec![pki.ca_pem.clone()], vec![])).await.unwrap()["ok"], true);
    // Leaf pin as the backup.
    health(&net(base.clone(), vec![pki.ca_pem.clone()], vec![random_pin(), leaf_pin.clone()])).await.unwrap();
    // Pin on the CA (intermediate) key.
    health(&net(base.clone(), vec![pki.ca_pem.clone()], vec![format!("sha256/{}", pki.ca_pin), random_pin()]))
        .await
        .unwrap();
    assert!(received.load(Ordering::SeqCst) > 0);
}

#[tokio::test]
async fn unknown_ca_is_refused_before_any_request_byte() {
    let pki = ca();
    let other = ca();
    let (chain, key, _) = leaf(&pki, &["localhost", "127.0.0.1"]);
    let (addr, received) = tls_server(chain, key).await;
    let n = net(format!("https://127.0.0.1:{}", addr.port()), vec![other.ca_pem.clone()], vec![]);
    assert_kind(health(&n).await, NetworkErrorKind::Tls);
    assert_eq!(received.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn wrong_host_name_is_refused_before_any_request_byte() {
    let pki = ca();
    let (chain, key, leaf_pin) = leaf(&pki, &["portal.example.invalid"]);
    let (addr, received) = tls_server(chain, key).await;
    // Even with the right pin: the host name check is not bypassed by pinning.
    let n = net(format!("https://127.0.0.1:{}", addr.port()), vec![pki.ca_pem.clone()], vec![leaf_pin, random_pin()]);
    assert_kind(health(&n).await, NetworkErrorKind::Tls);
    assert_eq!(received.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn pin_mismatch_is_refused_before_any_request_byte() {
    let pki = ca();
    let (chain, key, _) = leaf(&pki, &["localhost", "127.0.0.1"]);
    let (addr, received) = tls_server(chain, key).await;
    let n =
        net(format!("https://127.0.0.1:{}", addr.port()), vec![pki.ca_pem.clone()], vec![random_pin(), random_pin()]);
    assert_kind(health(&n).await, NetworkErrorKind::Tls);
    assert_eq!(received.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn plain_http_is_refused_without_opening_a_connection() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let a = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            a.fetch_add(1, Ordering::SeqCst);
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\n{\"ok\":true}").await;
        }
    });
    let pki = ca();
    let n = net(format!("http://127.0.0.1:{}", addr.port()), vec![pki.ca_pem.clone()], vec![]);
    assert_kind(health(&n).await, NetworkErrorKind::InsecureUrl);
    // A non-loopback http URL is refused even when loopback http is allowed.
    let lax = Net::new(&NetConfig {
        base_url: "http://portal.example.invalid".into(),
        trust_anchors_pem: vec![pki.ca_pem.clone()],
        spki_pins: vec![],
        connect_timeout: std::time::Duration::from_secs(1),
        request_timeout: std::time::Duration::from_secs(1),
        allow_insecure_loopback: true,
        language: "en",
    })
    .unwrap();
    assert_kind(health(&lax).await, NetworkErrorKind::InsecureUrl);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(accepted.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn closed_port_is_offline_not_tls() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let pki = ca();
    let n = net(format!("https://127.0.0.1:{port}"), vec![pki.ca_pem.clone()], vec![]);
    assert_kind(health(&n).await, NetworkErrorKind::Offline);
}
