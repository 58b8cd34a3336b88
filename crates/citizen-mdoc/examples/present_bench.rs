//! Benchmark of the in-person presentation (issue 13, closing note), without criterion:
//!
//!     cargo run -p citizen-mdoc --release --example present_bench [iterations]
//!
//! Prints, for 6 and for 20 disclosed elements of a fictitious driving licence (20 elements,
//! portrait = 2 000 fictitious bytes, among the 20 only), the median over the iterations of
//! (present: the sum of its parts' medians, printed below it):
//! - present: the holder's side from engagement to response (ephemeral key and QR, accepting the
//!   reader-authenticated SessionEstablishment, preparing the response, the device signature by a
//!   software P-256 key standing in for the key store, encryption);
//! - reader start: the reader's ephemeral key, session keys and signed, encrypted request;
//! - verify: the reader decrypting and verifying the response (chain, MSO, digests, validity,
//!   device signature over the transcript);
//!
//! and the sizes of the DeviceResponse (plaintext CBOR) and of the SessionData that carries it;
//! then the SD-JWT VC presentation of the same elements (present = disclosures + KB-JWT signed
//! by the same software key; verify = the protocol crate's `verify_presentation`), and both side
//! by side.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use citizen_mdoc::{
    AuthorisedElements, DocumentRequest, HolderDocument, HolderEngagement, ReaderSession, SelectedElement,
};
use common::*;

struct Run {
    /// The parts of `present`: engagement (ephemeral key, QR), accept (keys, decryption, reader
    /// authentication), prepare, key-store signature, finish (signature check, encryption).
    parts: [Duration; 5],
    reader_start: Duration,
    verify: Duration,
    response: usize,
    message: usize,
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v[v.len() / 2]
}

fn main() {
    let iterations: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(200);
    let issuer = TestIssuer::new("Cục Đường bộ");
    let device_key = new_key();
    let elements = mdl_elements_mau();
    let licence = issuer.issue(MDL, NS, elements.clone(), device_key.verifying_key(), FROM, UNTIL);
    let mut authorised = AuthorisedElements::new();
    authorised.entry(MDL.into()).or_default().insert(NS.into(), elements.keys().cloned().collect());
    let reader = TestReader::new("Benchmark reader (test)", Some(&authorised), 2030);
    let reader_key = reader.auth_key();
    let iaca = [issuer.iaca.anchor()];
    let reader_trust = [reader.ca.anchor()];
    let all: Vec<&str> = elements.keys().map(String::as_str).collect();

    println!("citizen-mdoc presentation benchmark: {iterations} iterations per row, medians, software P-256 key");
    println!(
        "{:>9} {:>12} {:>13} {:>11} {:>16} {:>18}",
        "elements", "present", "reader start", "verify", "DeviceResponse", "SessionData (enc)"
    );
    let mut mdoc_rows = Vec::new();
    for disclosed in [&SIX[..], &all[..]] {
        let request = disclosed.iter().fold(DocumentRequest::new(MDL), |r, e| r.element(NS, e, false));
        let selection: Vec<SelectedElement> = disclosed
            .iter()
            .map(|e| SelectedElement { doc_type: MDL.into(), namespace: NS.into(), identifier: (*e).into() })
            .collect();
        let runs: Vec<Run> = (0..iterations)
            .map(|_| {
                let documents = vec![HolderDocument::from_issuer_signed(&licence).unwrap()];
                let t0 = Instant::now();
                let engagement = HolderEngagement::new(Some([7; 16])).unwrap();
                let qr = engagement.qr_code().to_owned();
                let holder_engage = t0.elapsed();

                let t1 = Instant::now();
                let (mut session, establishment) =
                    ReaderSession::start(&qr, std::slice::from_ref(&request), Some(&reader_key)).unwrap();
                let reader_start = t1.elapsed();

                let t2 = Instant::now();
                let (mut holder, _req) = engagement.accept(&establishment, documents, &reader_trust, NOW).unwrap();
                let accept = t2.elapsed();
                let t = Instant::now();
                let to_sign = holder.prepare_response(&selection).unwrap();
                let prepare = t.elapsed();
                let t = Instant::now();
                let sigs: Vec<Vec<u8>> = to_sign.iter().map(|r| key_store_sign_der(&device_key, &r.message)).collect();
                let sign = t.elapsed();
                let t = Instant::now();
                let message = holder.finish(&sigs).unwrap();
                let finish = t.elapsed();
                let parts = [holder_engage, accept, prepare, sign, finish];

                let t3 = Instant::now();
                let device_response = session.decrypt_response(&message).unwrap();
                let verdict = session.verify(&device_response, &iaca, NOW);
                let verify = t3.elapsed();
                assert!(verdict.is_valid(), "{:?}", verdict.result);
                assert_eq!(verdict.documents[0].elements[NS].len(), disclosed.len());
                let response = device_response.len();
                Run { parts, reader_start, verify, response, message: message.len() }
            })
            .collect();
        // The sum of the parts' medians, not the median of the sums: on a loaded machine one
        // preemption (a few ms) lands in most whole-present windows and none in most parts.
        let present: Duration = (0..5).map(|i| median(runs.iter().map(|r| r.parts[i]).collect())).sum();
        println!(
            "{:>9} {:>12} {:>13} {:>11} {:>14} B {:>16} B",
            disclosed.len(),
            ms(present),
            ms(median(runs.iter().map(|r| r.reader_start).collect())),
            ms(median(runs.iter().map(|r| r.verify).collect())),
            runs[0].response,
            runs[0].message,
        );
        mdoc_rows.push((disclosed.len(), present, median(runs.iter().map(|r| r.verify).collect()), runs[0].response));
        let part = |i: usize| ms(median(runs.iter().map(|r| r.parts[i]).collect()));
        println!(
            "{:>9} present = engagement {} + accept {} + prepare {} + key-store sign {} + finish {}",
            "",
            part(0),
            part(1),
            part(2),
            part(3),
            part(4)
        );
    }
    println!();
    println!(
        "SD-JWT VC presentation of the same elements (citizen_protocol::sdjwt, the core's code: issuer JWT + \
         disclosures + KB-JWT, ES256, the same software P-256 keys):"
    );
    println!("{:>9} {:>12} {:>11} {:>16}", "elements", "present", "verify", "presentation");
    let mut sd_rows = Vec::new();
    for disclosed in [&SIX[..], &all[..]] {
        let f = sd_jwt::measure(&elements, disclosed, &issuer.ds_key, &device_key, iterations);
        println!("{:>9} {:>12} {:>11} {:>14} B", disclosed.len(), ms(f.present), ms(f.verify), f.size);
        sd_rows.push(f);
    }
    println!();
    println!("side by side (medians; sizes of what crosses the link / is handed to the verifier):");
    println!(
        "{:>9} {:>14} {:>14} {:>13} {:>13} {:>16} {:>15}",
        "elements", "mdoc present", "SD-JWT present", "mdoc verify", "SD-JWT verify", "DeviceResponse", "SD-JWT pres."
    );
    for (m, sd) in mdoc_rows.iter().zip(&sd_rows) {
        println!(
            "{:>9} {:>14} {:>14} {:>13} {:>13} {:>14} B {:>13} B",
            m.0,
            ms(m.1),
            ms(sd.present),
            ms(m.2),
            ms(sd.verify),
            m.3,
            sd.size
        );
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// The SD-JWT VC of the same twenty elements, every one selectively disclosable, issued,
/// presented and verified by the protocol crate's PID code (`issue_pid`, `present`,
/// `verify_presentation`: the core's and the reference server's), so its `vct` is the PID's.
mod sd_jwt {
    use std::collections::BTreeMap;
    use std::time::{Duration, Instant};

    use base64::Engine;
    use citizen_mdoc::CborValue;
    use citizen_protocol::sdjwt::{self, P256JwsSigner, PresentationCheck};
    use p256::ecdsa::SigningKey;
    use serde_json::{json, Value};

    const ISSUER: &str = "https://issuer.example.vn";
    const AUDIENCE: &str = "https://verifier.example.vn";
    const NONCE: &str = "n-0S6_WzA2Mj";

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The element as JSON: full-dates as their text, byte strings base64url.
    fn json_of(v: &CborValue) -> Value {
        match v {
            CborValue::Text(t) => json!(t),
            CborValue::Bool(b) => json!(b),
            CborValue::Integer(i) => json!(i64::try_from(i128::from(*i)).unwrap_or_default()),
            CborValue::Bytes(b) => json!(b64(b)),
            CborValue::Tag(_, inner) => json_of(inner),
            CborValue::Array(a) => Value::Array(a.iter().map(json_of).collect()),
            CborValue::Map(m) => {
                Value::Object(m.iter().map(|(k, v)| (k.as_text().unwrap_or_default().to_owned(), json_of(v))).collect())
            }
            _ => Value::Null,
        }
    }

    /// Drive a future that never waits (the signers are synchronous).
    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        let mut f = std::pin::pin!(f);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        loop {
            if let std::task::Poll::Ready(out) = f.as_mut().poll(&mut cx) {
                return out;
            }
        }
    }

    pub(super) struct Figures {
        pub present: Duration,
        pub verify: Duration,
        pub size: usize,
    }

    pub(super) fn measure(
        elements: &BTreeMap<String, CborValue>,
        disclosed: &[&str],
        issuer_key: &SigningKey,
        device_key: &SigningKey,
        iterations: usize,
    ) -> Figures {
        let device_public = device_key.verifying_key().to_encoded_point(false);
        let jwk = sdjwt::jwk_from_public_key(device_public.as_bytes()).unwrap();
        let claims: serde_json::Map<String, Value> = elements.iter().map(|(k, v)| (k.clone(), json_of(v))).collect();
        let issuer = P256JwsSigner::new(issuer_key.clone(), None);
        let holder = P256JwsSigner::new(device_key.clone(), None);
        let credential =
            block_on(sdjwt::issue_pid(&claims, &jwk, ISSUER, super::FROM, super::UNTIL, 1, &issuer)).unwrap();
        let point = issuer_key.verifying_key().to_encoded_point(false);
        let issuer_decoding =
            jsonwebtoken::DecodingKey::from_ec_components(&b64(point.x().unwrap()), &b64(point.y().unwrap())).unwrap();
        let check = PresentationCheck {
            issuer_key: &issuer_decoding,
            issuer: ISSUER,
            audience: AUDIENCE,
            nonce: NONCE,
            now: super::NOW + 1,
            max_age_secs: 300,
        };
        let (mut presents, mut verifies, mut size) = (Vec::new(), Vec::new(), 0);
        for i in 0..iterations {
            let t = Instant::now();
            let presentation =
                block_on(sdjwt::present(&credential, disclosed, AUDIENCE, NONCE, super::NOW, i as u64, &holder))
                    .unwrap();
            presents.push(t.elapsed());
            let t = Instant::now();
            let verified = sdjwt::verify_presentation(&presentation, &check).unwrap();
            verifies.push(t.elapsed());
            assert!(disclosed.iter().all(|name| verified.claims.contains_key(*name)));
            size = presentation.len();
        }
        Figures { present: super::median(presents), verify: super::median(verifies), size }
    }
}
