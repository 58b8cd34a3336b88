//! `citizen identity-qr [verify TEXT --server-key FILE]`: the short identity QR (decision 35).
//! Showing one needs the passcode (CITIZEN_PASSCODE or stdin) and a device-key signature;
//! verifying one is offline, with the server key obtained independently (`/v1/keys`).

use std::path::PathBuf;
use std::process::ExitCode;

use citizen_core::protocol::idqr::verify_identity_qr;
use citizen_core::CitizenCore;

use super::{finish, passcode, read};

/// Exit status of a refused code.
const REFUSED: u8 = 5;

/// `identity-qr`: a fresh code (text, then its validity).
pub(crate) async fn show(core: &CitizenCore) -> ExitCode {
    let pass = passcode();
    finish(core.account().identity_qr(pass.to_string()).await, |c| {
        let secs = |t: std::time::SystemTime| t.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        println!("{}", c.text);
        println!("valid_for={}s expires_at={}", c.valid_for.as_secs(), secs(c.expires_at));
    })
}

/// `identity-qr verify TEXT --server-key FILE`: offline verification (exit 0 valid, 5 refused).
pub(crate) fn verify(server: &str, text: &str, server_key: &PathBuf) -> ExitCode {
    let keys = match read(server_key) {
        Ok(k) => k,
        Err(c) => return c,
    };
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&keys) else {
        return super::exit::other("--server-key: not JSON (a JWK or the JWKS of /v1/keys)");
    };
    let list = if v.get("keys").is_some() { v["keys"].clone() } else { serde_json::Value::Array(vec![v]) };
    let Ok(keys) = serde_json::from_value::<Vec<_>>(list) else {
        return super::exit::other("--server-key: not a JWK or JWKS");
    };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    match verify_identity_qr(text.trim(), &keys, server.trim_end_matches('/'), i64::try_from(now).unwrap_or(i64::MAX)) {
        Ok(v) => {
            let b = v.binding;
            println!(
                "valid full_name={} birthdate={} cccd={} level={}",
                b.full_name, b.birthdate, b.cccd_number, b.level
            );
            println!("signed_at={} (offline check: single use is checked online at /v1/identity/verify)", v.signed_at);
            ExitCode::SUCCESS
        }
        Err(e) => {
            let m = e.msg();
            eprintln!("lỗi [{}]: {}", m.code(), m.vi());
            eprintln!("error [{}]: {}", m.code(), m.en());
            ExitCode::from(REFUSED)
        }
    }
}
