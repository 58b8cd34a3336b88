//! The relying-party side of the demo: the portal's QR login session and the bank's share
//! request, reached over HTTPS exactly as a browser or a bank's backend would (only the demo and
//! tests use this; a citizen's shell never plays the relying party).

use serde_json::Value;

fn client(ca_pem: &str) -> Result<reqwest::Client, String> {
    let tls = citizen_core::net::tls::client_config(&[ca_pem.to_string()], &[]).map_err(|e| e.to_string())?;
    reqwest::Client::builder().tls_backend_preconfigured(tls).build().map_err(|e| e.to_string())
}

async fn call(ca_pem: &str, method: reqwest::Method, url: String) -> Result<Value, String> {
    let c = client(ca_pem)?;
    let mut req = c.request(method.clone(), url);
    if method == reqwest::Method::POST {
        req = req.header("content-type", "application/json").body("{}");
    }
    let r = req.send().await.map_err(|e| e.without_url().to_string())?;
    let status = r.status();
    let body: Value = r.json().await.map_err(|e| e.without_url().to_string())?;
    if status.is_success() {
        Ok(body)
    } else {
        Err(format!("{status}: {}", body.get("code").and_then(Value::as_str).unwrap_or("?")))
    }
}

fn text(v: &Value, field: &str) -> Result<String, String> {
    v.get(field).and_then(Value::as_str).map(str::to_string).ok_or_else(|| format!("no `{field}` in the answer"))
}

/// A login session opened by the demo portal (what the portal page does in a browser).
#[derive(Debug, Clone)]
pub struct PortalSession {
    /// The portal's handle of the session.
    pub handle: String,
}

/// What the portal shows at a moment.
#[derive(Debug, Clone)]
pub struct PortalView {
    /// `pending`, `scanned`, `approved`, `denied`, `cancelled`.
    pub state: String,
    /// Current QR frame text while pending.
    pub frame: Option<String>,
    /// The verification code once scanned.
    pub verification_code: Option<String>,
    /// The logged-in citizen's full name once approved (the portal verified the ID token).
    pub citizen_name: Option<String>,
}

/// Open a QR login session at the demo portal.
pub async fn portal_open(base_url: &str, ca_pem: &str) -> Result<PortalSession, String> {
    let v = call(ca_pem, reqwest::Method::POST, format!("{base_url}/portal/api/sessions")).await?;
    Ok(PortalSession { handle: text(&v, "handle")? })
}

/// Poll the demo portal once.
pub async fn portal_view(base_url: &str, ca_pem: &str, s: &PortalSession) -> Result<PortalView, String> {
    let v = call(ca_pem, reqwest::Method::GET, format!("{base_url}/portal/api/sessions/{}", s.handle)).await?;
    let opt = |f: &str| v.get(f).and_then(Value::as_str).map(str::to_string);
    Ok(PortalView {
        state: text(&v, "state")?,
        frame: opt("frame"),
        verification_code: opt("verification_code"),
        citizen_name: v.get("citizen").and_then(|c| c.get("full_name")).and_then(Value::as_str).map(str::to_string),
    })
}

/// Ask the demo bank for a share request (a JWS signed by the bank's registered key).
pub async fn bank_request(base_url: &str, ca_pem: &str) -> Result<String, String> {
    let v = call(ca_pem, reqwest::Method::POST, format!("{base_url}/rp/bank-demo/requests")).await?;
    text(&v, "request")
}
