//! HTTPS to the e-government backend: one reqwest client over rustls (ring), JSON bodies.
//!
//! * Only `https://` URLs; plain `http://` only to a loopback host and only when the
//!   configuration allows it (development). The check runs before any socket is opened.
//! * No redirects (a redirect could leave the pinned host), bounded response size, explicit
//!   connect and request timeouts.
//! * Retries only for idempotent calls (GET), only for failures before any answer (offline,
//!   timeout), at most twice with growing backoff.
//! * Failures are classified ([`NetworkErrorKind`]) so the citizen is told "offline" vs "server
//!   problem" vs "insecure connection", and server refusals become domain errors by their code.

pub(crate) mod server_keys;
pub mod tls;

use std::time::Duration;

use reqwest::{Method, StatusCode, Url};
use serde::{de::DeserializeOwned, Serialize};

use crate::error::{Error, Msg, NetError, NetworkErrorKind, Result};
use crate::protocol::rp::codes as rp;
use crate::protocol::{codes, ErrorBody};

/// Largest response body the core accepts.
pub const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// Whether a declared body length (`Content-Length`) is over [`MAX_RESPONSE_BYTES`]; a length
/// that does not even fit in `usize` is.
pub(crate) fn over_response_limit(declared: u64) -> bool {
    usize::try_from(declared).map_or(true, |n| n > MAX_RESPONSE_BYTES)
}

/// Network settings.
#[derive(Clone, Debug)]
pub struct NetConfig {
    /// Base URL of the server.
    pub base_url: String,
    /// PEM trust anchors (empty: platform roots).
    pub trust_anchors_pem: Vec<String>,
    /// SPKI pins (empty: no pinning; else ≥ 2).
    pub spki_pins: Vec<String>,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Whole-request timeout.
    pub request_timeout: Duration,
    /// Allow `http://` to loopback hosts (development only).
    pub allow_insecure_loopback: bool,
    /// `vi` or `en`, sent as Accept-Language.
    pub language: &'static str,
}

fn net(kind: NetworkErrorKind, detail: impl Into<String>) -> Error {
    Error::Net(NetError { kind, detail: detail.into(), retry_after: None })
}

/// Refuse anything but HTTPS (or loopback HTTP when allowed).
pub fn check_url(url: &Url, allow_insecure_loopback: bool) -> Result<()> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if allow_insecure_loopback && is_loopback(url) => Ok(()),
        _ => Err(net(NetworkErrorKind::InsecureUrl, format!("scheme {} refused", url.scheme()))),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Classify a transport error by walking its source chain: TLS (any rustls error, however
/// deeply wrapped), timeout, malformed answer, else offline (no route, DNS, refused). Used for
/// the core's own server and for posts to relying parties alike.
pub(crate) fn classify(e: &reqwest::Error) -> NetworkErrorKind {
    let mut src: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = src {
        if s.downcast_ref::<rustls::Error>().is_some() {
            return NetworkErrorKind::Tls;
        }
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::TimedOut {
                return NetworkErrorKind::Timeout;
            }
            // hyper-rustls nests the rustls error inside custom io::Errors, whose `source()`
            // skips the wrapped error itself.
            if let Some(inner) = io.get_ref() {
                src = Some(inner as &(dyn std::error::Error + 'static));
                continue;
            }
        }
        src = s.source();
    }
    if e.is_timeout() {
        NetworkErrorKind::Timeout
    } else if e.is_decode() || e.is_body() {
        NetworkErrorKind::Protocol
    } else {
        NetworkErrorKind::Offline
    }
}

/// Turn a server refusal into the core's error. `retry_after` is the `Retry-After` header
/// (seconds), which wins over the body's field.
pub fn server_error(status: StatusCode, body: &[u8], retry_after: Option<u64>) -> Error {
    if !status.is_client_error() && !status.is_server_error() {
        // A redirect (never followed) or any other unexpected status is not a refusal: the
        // request may even have been processed. Transient, so nothing queued is dropped.
        return net(NetworkErrorKind::Protocol, format!("unexpected HTTP {status}"));
    }
    let parsed = serde_json::from_slice::<ErrorBody>(body).ok();
    let retry_after = retry_after.or(parsed.as_ref().and_then(|b| b.retry_after));
    let Some(b) = parsed else {
        return if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            Error::Net(NetError { kind: NetworkErrorKind::Server, detail: format!("HTTP {status}"), retry_after })
        } else {
            net(NetworkErrorKind::Protocol, format!("HTTP {status} without an error body"))
        };
    };
    match b.code.as_str() {
        codes::NO_MATCH => Error::Domain(Msg::NoMatch),
        codes::UNKNOWN_ENROLLMENT => Error::Domain(Msg::NoPendingEnrollment),
        codes::OTP_INVALID => Error::Otp { msg: Msg::OtpInvalid, attempts_left: b.attempts_left.unwrap_or(0) },
        codes::OTP_EXPIRED => Error::Domain(Msg::OtpExpired),
        codes::OTP_ATTEMPTS_EXCEEDED => Error::Domain(Msg::OtpAttemptsExceeded),
        codes::DEVICE_INACTIVE => Error::DeviceInactive(b.device_status.unwrap_or_else(|| "inactive".into())),
        codes::UNKNOWN_DEVICE => Error::DeviceInactive("unknown".into()),
        codes::DEVICE_LOCKED => Error::DeviceInactive("locked".into()),
        codes::ACCOUNT_LOCKED => Error::Domain(Msg::AccountLocked),
        codes::TOKEN_INVALID | codes::SESSION_EXPIRED => Error::Domain(Msg::SessionExpired),
        codes::REFRESH_REUSED => Error::Domain(Msg::SessionRevoked),
        codes::RATE_LIMITED => Error::Domain(Msg::RateLimited),
        rp::QR_UNKNOWN_SESSION => Error::Domain(Msg::ConsentUnknownSession),
        rp::QR_FRAME_STALE => Error::Domain(Msg::ConsentFrameStale),
        rp::QR_FRAME_FORGED => Error::Domain(Msg::ConsentFrameForged),
        rp::QR_EXPIRED => Error::Domain(Msg::ConsentRequestExpired),
        rp::QR_ALREADY_SCANNED => Error::Domain(Msg::ConsentAlreadyScanned),
        rp::QR_ALREADY_DECIDED => Error::Domain(Msg::ConsentAlreadyDecided),
        rp::QR_SESSION_MISMATCH => Error::Domain(Msg::ConsentSessionMismatch),
        rp::CLAIMS_CHANGED => Error::Domain(Msg::ConsentClaimsChanged),
        rp::QR_WRONG_CODE => Error::Domain(Msg::ConsentWrongCode),
        rp::RP_SIGNATURE_INVALID => Error::Domain(Msg::ConsentRpSignatureInvalid),
        rp::RP_UNKNOWN => Error::Domain(Msg::ConsentRpUnknown),
        rp::ORIGIN_UNREGISTERED => Error::Domain(Msg::ConsentOriginUnregistered),
        rp::CLAIM_NOT_ALLOWED => Error::Domain(Msg::ConsentClaimNotAllowed),
        rp::PRESENTATION_INVALID => Error::Domain(Msg::ConsentPresentationRejected),
        rp::PRESENTATION_REPLAYED => Error::Domain(Msg::ConsentPresentationReplayed),
        rp::PRESENTATION_WRONG_AUDIENCE => Error::Domain(Msg::ConsentPresentationWrongAudience),
        // Refusals of a chip upgrade and of a relying party's level requirement carry catalogue
        // codes themselves (decision 30).
        code if code.starts_with("chip.")
            || code.starts_with("recovery.")
            || code.starts_with("rebind.")
            || code.starts_with("lock.")
            || code == Msg::LevelRequired.code() =>
        {
            match Msg::all().iter().find(|m| m.code() == code) {
                Some(m) => Error::Domain(*m),
                None => Error::Server { status: status.as_u16(), code: code.to_string() },
            }
        }
        _ if status.is_server_error() => Error::Net(NetError {
            kind: NetworkErrorKind::Server,
            detail: format!("HTTP {status} {}", b.code),
            retry_after,
        }),
        code => Error::Server { status: status.as_u16(), code: code.to_string() },
    }
}

/// The HTTP client of the core.
pub struct Net {
    client: reqwest::Client,
    base: Url,
    audience: String,
    allow_insecure_loopback: bool,
    language: &'static str,
}

impl Net {
    /// Build the client; fails on an invalid URL, PEM or pin set.
    pub fn new(cfg: &NetConfig) -> Result<Net> {
        let base = Url::parse(cfg.base_url.trim_end_matches('/'))
            .map_err(|_| Error::Config("server_base_url is not a URL".into()))?;
        if base.cannot_be_a_base() || base.host().is_none() {
            return Err(Error::Config("server_base_url has no host".into()));
        }
        let tls = tls::client_config(&cfg.trust_anchors_pem, &cfg.spki_pins)?;
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .https_only(!cfg.allow_insecure_loopback)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(cfg.connect_timeout)
            .timeout(cfg.request_timeout)
            .user_agent(concat!("citizen-core/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Config(format!("http client: {e}")))?;
        let audience = base.origin().ascii_serialization();
        Ok(Net { client, base, audience, allow_insecure_loopback: cfg.allow_insecure_loopback, language: cfg.language })
    }

    /// The audience the device signs for: the origin of the base URL.
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// The configured base URL. The share flow reaches a relying party through this pinned
    /// client only when its response URI lies under this URL (the hosted demo relying parties).
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    fn url(&self, path: &str) -> Result<Url> {
        let mut u = self.base.clone();
        let (path, query) = match path.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path, None),
        };
        let joined = format!("{}{}", self.base.path().trim_end_matches('/'), path);
        u.set_path(&joined);
        u.set_query(query);
        check_url(&u, self.allow_insecure_loopback)?;
        Ok(u)
    }

    async fn once(
        &self,
        method: Method,
        url: Url,
        body: Option<&[u8]>,
        bearer: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Result<Vec<u8>> {
        let mut req = self
            .client
            .request(method, url)
            .header("accept", "application/json")
            .header("accept-language", self.language);
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b.to_vec());
        }
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let mut resp = req.send().await.map_err(|e| {
            let kind = classify(&e);
            net(kind, format!("{kind:?}: {}", e.without_url()))
        })?;
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if resp.content_length().is_some_and(over_response_limit) {
            return Err(net(NetworkErrorKind::Protocol, "response too large"));
        }
        let mut buf = Vec::new();
        while let Some(chunk) =
            resp.chunk().await.map_err(|e| net(classify(&e), format!("reading body: {}", e.without_url())))?
        {
            if buf.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(net(NetworkErrorKind::Protocol, "response too large"));
            }
            buf.extend_from_slice(&chunk);
        }
        if status.is_success() {
            Ok(buf)
        } else {
            Err(server_error(status, &buf, retry_after))
        }
    }

    async fn call<Resp: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        bearer: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Result<Resp> {
        let url = self.url(path)?;
        let idempotent = method == Method::GET;
        let mut attempt = 0;
        let bytes = loop {
            match self.once(method.clone(), url.clone(), body.as_deref(), bearer, headers).await {
                Err(Error::Net(NetError { kind: NetworkErrorKind::Offline | NetworkErrorKind::Timeout, .. }))
                    if idempotent && attempt < 2 =>
                {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(200 * 3u64.pow(attempt - 1))).await;
                }
                r => break r?,
            }
        };
        serde_json::from_slice(&bytes).map_err(|e| net(NetworkErrorKind::Protocol, format!("{path}: {e}")))
    }

    /// POST a JSON body (never retried).
    pub async fn post<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        path: &str,
        body: &Req,
        bearer: Option<&str>,
    ) -> Result<Resp> {
        let body = zeroize::Zeroizing::new(serde_json::to_vec(body).map_err(|e| Error::Config(e.to_string()))?);
        self.call(Method::POST, path, Some(body.to_vec()), bearer, &[]).await
    }

    /// POST a JSON body with extra headers (the officials' token of an enrolment; never retried).
    pub async fn post_with_headers<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        path: &str,
        body: &Req,
        headers: &[(&str, &str)],
    ) -> Result<Resp> {
        let body = zeroize::Zeroizing::new(serde_json::to_vec(body).map_err(|e| Error::Config(e.to_string()))?);
        self.call(Method::POST, path, Some(body.to_vec()), None, headers).await
    }

    /// POST with an `Idempotency-Key` (the server deduplicates on it; the caller may resend).
    pub async fn post_idempotent<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        path: &str,
        body: &Req,
        idempotency_key: &str,
    ) -> Result<Resp> {
        let body = zeroize::Zeroizing::new(serde_json::to_vec(body).map_err(|e| Error::Config(e.to_string()))?);
        self.call(Method::POST, path, Some(body.to_vec()), None, &[("idempotency-key", idempotency_key)]).await
    }

    /// Conditional GET: `Ok(None)` when the server answers 304 to `If-None-Match: etag`.
    /// Returns the body and the new ETag.
    pub async fn get_if_changed<Resp: DeserializeOwned>(
        &self,
        path: &str,
        etag: Option<&str>,
    ) -> Result<Option<(Resp, Option<String>)>> {
        let url = self.url(path)?;
        let mut req =
            self.client.get(url).header("accept", "application/json").header("accept-language", self.language);
        if let Some(e) = etag {
            req = req.header(reqwest::header::IF_NONE_MATCH, e);
        }
        let mut resp = req.send().await.map_err(|e| {
            let kind = classify(&e);
            net(kind, format!("{kind:?}: {}", e.without_url()))
        })?;
        if resp.status() == StatusCode::NOT_MODIFIED {
            return Ok(None);
        }
        let status = resp.status();
        let new_etag = resp.headers().get(reqwest::header::ETAG).and_then(|v| v.to_str().ok()).map(str::to_string);
        let mut buf = Vec::new();
        while let Some(chunk) =
            resp.chunk().await.map_err(|e| net(classify(&e), format!("reading body: {}", e.without_url())))?
        {
            if buf.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(net(NetworkErrorKind::Protocol, "response too large"));
            }
            buf.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            return Err(server_error(status, &buf, None));
        }
        let body = serde_json::from_slice(&buf).map_err(|e| net(NetworkErrorKind::Protocol, format!("{path}: {e}")))?;
        Ok(Some((body, new_etag)))
    }

    /// GET (idempotent: retried on transport failures).
    pub async fn get<Resp: DeserializeOwned>(&self, path: &str, bearer: Option<&str>) -> Result<Resp> {
        self.call(Method::GET, path, None, bearer, &[]).await
    }

    /// GET a body that is not JSON (a compact JWS served as `application/jwt`), bounded like
    /// every answer; retried on offline/timeout like [`Net::get`].
    pub async fn get_text(&self, path: &str) -> Result<String> {
        let url = self.url(path)?;
        let mut attempt = 0;
        let bytes = loop {
            match self.once(Method::GET, url.clone(), None, None, &[]).await {
                Err(Error::Net(NetError { kind: NetworkErrorKind::Offline | NetworkErrorKind::Timeout, .. }))
                    if attempt < 2 =>
                {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(200 * 3u64.pow(attempt - 1))).await;
                }
                r => break r?,
            }
        };
        String::from_utf8(bytes).map_err(|_| net(NetworkErrorKind::Protocol, format!("{path}: not text")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_allowed_loopback_http() {
        let u = |s: &str| Url::parse(s).unwrap();
        assert!(check_url(&u("https://id.example.gov.vn/x"), false).is_ok());
        for (url, allow) in [
            ("http://id.example.gov.vn/", true),
            ("http://127.0.0.1:8080/", false),
            ("http://10.0.0.1/", true),
            ("ftp://127.0.0.1/", true),
        ] {
            assert!(
                matches!(
                    check_url(&u(url), allow),
                    Err(Error::Net(NetError { kind: NetworkErrorKind::InsecureUrl, .. }))
                ),
                "{url}"
            );
        }
        assert!(check_url(&u("http://127.0.0.1:8080/"), true).is_ok());
        assert!(check_url(&u("http://localhost/"), true).is_ok());
        assert!(check_url(&u("http://[::1]/"), true).is_ok());
    }

    /// Host names are ASCII only (decision 46: `idna_adapter` 1.0 in Cargo.lock, no Unicode
    /// tables in the library): a non-ASCII server URL is refused as a configuration error,
    /// ASCII and already-encoded (`xn--`) names still parse.
    #[test]
    fn a_non_ascii_host_is_refused() {
        let cfg = |base_url: &str| NetConfig {
            base_url: base_url.into(),
            trust_anchors_pem: vec![],
            spki_pins: vec![],
            connect_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(1),
            allow_insecure_loopback: false,
            language: "vi",
        };
        assert!(matches!(Net::new(&cfg("https://dịchvụcông.example.vn")), Err(Error::Config(_))));
        assert!(Url::parse("https://bücher.example/").is_err());
        assert_eq!(Url::parse("https://ID.Example.GOV.vn/x").unwrap().host_str(), Some("id.example.gov.vn"));
        assert!(Url::parse("https://xn--bcher-kva.example/").is_ok());
    }

    #[test]
    fn server_codes_become_domain_errors() {
        let body = |code: &str| {
            serde_json::to_vec(
                &serde_json::json!({"code": code, "message": "m", "attempts_left": 2, "device_status": "replaced"}),
            )
            .unwrap()
        };
        assert!(matches!(server_error(StatusCode::NOT_FOUND, &body("no_match"), None), Error::Domain(Msg::NoMatch)));
        assert!(matches!(
            server_error(StatusCode::UNAUTHORIZED, &body("otp_invalid"), None),
            Error::Otp { msg: Msg::OtpInvalid, attempts_left: 2 }
        ));
        assert!(
            matches!(server_error(StatusCode::FORBIDDEN, &body("device_inactive"), None), Error::DeviceInactive(s) if s == "replaced")
        );
        assert!(matches!(
            server_error(StatusCode::UNAUTHORIZED, &body("refresh_reused"), None),
            Error::Domain(Msg::SessionRevoked)
        ));
        assert!(matches!(
            server_error(StatusCode::UNAUTHORIZED, &body("counter_replay"), None),
            Error::Server { status: 401, .. }
        ));
        assert!(matches!(
            server_error(StatusCode::CONFLICT, &body("qr_already_decided"), None),
            Error::Domain(Msg::ConsentAlreadyDecided)
        ));
        assert!(matches!(
            server_error(StatusCode::GONE, &body("qr_expired"), None),
            Error::Domain(Msg::ConsentRequestExpired)
        ));
        assert!(matches!(
            server_error(StatusCode::BAD_REQUEST, &body("presentation_invalid"), None),
            Error::Domain(Msg::ConsentPresentationRejected)
        ));
        assert!(matches!(
            server_error(StatusCode::BAD_GATEWAY, b"<html>", Some(7)),
            Error::Net(NetError { kind: NetworkErrorKind::Server, retry_after: Some(7), .. })
        ));
        // A throttled request (issue 9: 429 rate_limited with Retry-After) is transient and
        // never destructive: not a device status, the outbox keeps the item.
        let throttled = server_error(StatusCode::TOO_MANY_REQUESTS, &body("rate_limited"), Some(30));
        assert!(matches!(throttled, Error::Domain(Msg::RateLimited)));
        assert!(matches!(
            crate::services::outbox::classify(&throttled),
            crate::services::outbox::Disposition::Retry { .. }
        ));
        // Its public form (`CitizenError::Refused` with `network.rate_limited`) is tested in `ffi::errors`.
        let moved = serde_json::to_vec(&serde_json::json!({"code": "form_invalid", "message": "moved"})).unwrap();
        assert!(matches!(
            server_error(StatusCode::TEMPORARY_REDIRECT, &moved, None),
            Error::Net(NetError { kind: NetworkErrorKind::Protocol, .. })
        ));
        assert!(matches!(
            server_error(StatusCode::BAD_REQUEST, b"<html>", None),
            Error::Net(NetError { kind: NetworkErrorKind::Protocol, .. })
        ));
    }
}
