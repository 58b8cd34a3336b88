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
//! and the sizes of the DeviceResponse (plaintext CBOR) and of the SessionData that carries it.
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
        let ms = |d: Duration| format!("{:.2} ms", d.as_secs_f64() * 1000.0);
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
        "SD-JWT VC presentation of the same elements (issuer JWT + disclosures + KB-JWT, ES256, sd-jwt-payload 0.5.1):"
    );
    for disclosed in [&SIX[..], &all[..]] {
        let size = sd_jwt::presentation_size(&elements, disclosed, &issuer.ds_key, &device_key);
        println!("{:>9} elements: {size} B (compact serialisation)", disclosed.len());
    }
}

/// The SD-JWT VC (`dc+sd-jwt`) of the same twenty elements, every one selectively disclosable,
/// and its presentation with `disclosed` and a key-binding JWT; only its size is reported.
mod sd_jwt {
    use std::collections::BTreeMap;

    use base64::Engine;
    use citizen_mdoc::CborValue;
    use p256::ecdsa::{signature::Signer, Signature, SigningKey};
    use sd_jwt_payload::{
        Hasher, JsonObject, JwsSigner, KeyBindingJwt, RequiredKeyBinding, SdJwtBuilder, SdJwtPresentationBuilder,
    };
    use serde_json::{json, Value};

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    struct Sha256;
    impl Hasher for Sha256 {
        fn digest(&self, input: &[u8]) -> Vec<u8> {
            use sha2::Digest;
            sha2::Sha256::digest(input).to_vec()
        }
        fn alg_name(&self) -> &str {
            "sha-256"
        }
    }

    struct Es256<'a>(&'a SigningKey);
    #[async_trait::async_trait]
    impl JwsSigner for Es256<'_> {
        type Error = String;
        async fn sign(&self, header: &JsonObject, payload: &JsonObject) -> Result<Vec<u8>, String> {
            let input = format!(
                "{}.{}",
                b64(&serde_json::to_vec(header).map_err(|e| e.to_string())?),
                b64(&serde_json::to_vec(payload).map_err(|e| e.to_string())?)
            );
            let sig: Signature = self.0.sign(input.as_bytes());
            Ok(format!("{input}.{}", b64(&sig.to_bytes())).into_bytes())
        }
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

    /// Drive a future that never waits (the signers above are synchronous).
    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        let mut f = std::pin::pin!(f);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        loop {
            if let std::task::Poll::Ready(out) = f.as_mut().poll(&mut cx) {
                return out;
            }
        }
    }

    pub(super) fn presentation_size(
        elements: &BTreeMap<String, CborValue>,
        disclosed: &[&str],
        issuer_key: &SigningKey,
        device_key: &SigningKey,
    ) -> usize {
        let point = device_key.verifying_key().to_encoded_point(false);
        let jwk = json!({"kty": "EC", "crv": "P-256", "x": b64(point.x().unwrap()), "y": b64(point.y().unwrap())});
        let mut claims: serde_json::Map<String, Value> =
            elements.iter().map(|(k, v)| (k.clone(), json_of(v))).collect();
        claims.insert("iss".into(), json!("https://issuer.example.vn"));
        claims.insert("vct".into(), json!("urn:eudi:mdl:1"));
        claims.insert("iat".into(), json!(super::FROM));
        claims.insert("exp".into(), json!(super::UNTIL));
        let mut builder = SdJwtBuilder::new_with_hasher(Value::Object(claims), Sha256)
            .unwrap()
            .header("typ", "dc+sd-jwt")
            .require_key_binding(RequiredKeyBinding::Jwk(jwk.as_object().unwrap().clone()));
        for name in elements.keys() {
            builder = builder.make_concealable(&format!("/{name}")).unwrap();
        }
        let sd_jwt = block_on(builder.finish(&Es256(issuer_key), "ES256")).unwrap();
        let mut presentation = SdJwtPresentationBuilder::new(sd_jwt, &Sha256).unwrap().conceal_all();
        for name in disclosed {
            presentation = presentation.disclose(&format!("/{name}")).unwrap();
        }
        let (mut sd_jwt, _) = presentation.finish();
        let kb = block_on(
            KeyBindingJwt::builder().iat(super::NOW).aud("https://verifier.example.vn").nonce("n-0S6_WzA2Mj").finish(
                &sd_jwt,
                &Sha256,
                "ES256",
                &Es256(device_key),
            ),
        )
        .unwrap();
        sd_jwt.attach_key_binding_jwt(kb);
        sd_jwt.presentation().len()
    }
}
