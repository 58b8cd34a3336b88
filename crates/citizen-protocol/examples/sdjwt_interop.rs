//! The SD-JWT PID code of this crate as a command, for the cross-checks with the reference
//! implementations (`sd-jwt` on PyPI, `@sd-jwt/sd-jwt-vc` on npm) in the test command
//! (bindings/python/tests/test_interop.py):
//!
//! * `issue-present`: a fresh issuer key and device key, a PID credential over fictitious data
//!   issued with [`issue_pid`] (as the server issues it: `typ` `dc+sd-jwt`, every claim
//!   concealed, decoys, `cnf.jwk`) and presented with [`present`] (as the device presents it:
//!   `full_name` and `birthdate` only, KB-JWT `typ` `kb+jwt` with `aud`, `nonce`, `sd_hash`).
//!   Prints JSON `{presentation, issuer, issuer_jwk, audience, nonce, disclosed, hidden}`.
//! * `verify`: reads JSON `{presentation, issuer, issuer_jwk, audience, nonce, now?}` on stdin
//!   and runs [`verify_presentation`] (a presentation another implementation made). Prints
//!   `{"ok": true, "claims": {…}}` or `{"ok": false, "error": "<reason>"}`; exit status 0 both ways.
#![allow(clippy::unwrap_used)]

use std::io::Read;

use citizen_protocol::crypto::{random_array, sec1_uncompressed};
use citizen_protocol::sdjwt::{
    issue_pid, jwk_from_public_key, present, verify_presentation, P256JwsSigner, PresentationCheck,
};
use jsonwebtoken::DecodingKey;
use p256::ecdsa::{SigningKey, VerifyingKey};
use serde_json::{json, Value};

const ISSUER: &str = "https://id.example.gov.vn";

fn now() -> i64 {
    i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()).unwrap()
}

fn key() -> SigningKey {
    loop {
        if let Ok(k) = SigningKey::from_slice(&random_array::<32>()) {
            return k;
        }
    }
}

fn issue_and_present() -> Value {
    let (issuer, device) = (key(), key());
    let issuer_jwk = jwk_from_public_key(&sec1_uncompressed(&VerifyingKey::from(&issuer))).unwrap();
    let device_jwk = jwk_from_public_key(&sec1_uncompressed(&VerifyingKey::from(&device))).unwrap();
    // Fictitious register data (the server's test citizen).
    let claims = json!({
        "full_name": "Nguyễn Văn Mẫu",
        "birthdate": "1990-01-15",
        "cccd_number": "001090000001",
        "permanent_address": "Số 1 Đường Thử Nghiệm, Phường Hoàn Kiếm, Hà Nội (địa chỉ giả định)",
        "phone": "+84900000001",
    });
    let t = now();
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let signer = P256JwsSigner::new(issuer, Some("issuer-1".into()));
    let cred =
        rt.block_on(issue_pid(claims.as_object().unwrap(), &device_jwk, ISSUER, t - 5, t + 86400, 1, &signer)).unwrap();
    let holder = P256JwsSigner::new(device, None);
    let nonce = citizen_protocol::crypto::random_b64url(16);
    let p = rt.block_on(present(&cred, &["full_name", "birthdate"], "bank-demo", &nonce, t, 7, &holder)).unwrap();
    json!({
        "presentation": p, "issuer": ISSUER, "issuer_jwk": issuer_jwk, "audience": "bank-demo", "nonce": nonce,
        "disclosed": {"full_name": "Nguyễn Văn Mẫu", "birthdate": "1990-01-15"},
        "hidden": ["cccd_number", "permanent_address", "phone"],
    })
}

fn verify(input: &Value) -> Value {
    let s = |k: &str| input[k].as_str().unwrap_or_default().to_string();
    let jwk = &input["issuer_jwk"];
    let Ok(key) = DecodingKey::from_ec_components(jwk["x"].as_str().unwrap_or(""), jwk["y"].as_str().unwrap_or(""))
    else {
        return json!({"ok": false, "error": "issuer key"});
    };
    let (issuer, audience, nonce) = (s("issuer"), s("audience"), s("nonce"));
    let check = PresentationCheck {
        issuer_key: &key,
        issuer: &issuer,
        audience: &audience,
        nonce: &nonce,
        now: input["now"].as_i64().unwrap_or_else(now),
        max_age_secs: 300,
    };
    match verify_presentation(&s("presentation"), &check) {
        Ok(v) => json!({"ok": true, "claims": v.claims}),
        Err(e) => json!({"ok": false, "error": e.to_string()}),
    }
}

fn main() {
    let out = match std::env::args().nth(1).as_deref() {
        Some("issue-present") => issue_and_present(),
        Some("verify") => {
            let mut buf = String::new();
            std::io::stdin().read_to_string(&mut buf).unwrap();
            verify(&serde_json::from_str(&buf).unwrap())
        }
        _ => {
            eprintln!("usage: sdjwt_interop issue-present | verify < input.json");
            std::process::exit(2);
        }
    };
    println!("{out}");
}
