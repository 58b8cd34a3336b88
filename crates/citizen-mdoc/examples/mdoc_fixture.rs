//! Writes the artefacts of the PyPI cross-check (issue 13, "proof against things we did not
//! write"; bindings/python/tests/test_mdoc_interop.py checks them with `pymdoccbor`):
//!
//!     cargo run -p citizen-mdoc --example mdoc_fixture -- write OUT_DIR
//!     cargo run -p citizen-mdoc --example mdoc_fixture -- check OUT_DIR FILE DOC_TYPE  # our wallet's check
//!     cargo run -p citizen-mdoc --example mdoc_fixture -- verify OUT_DIR FILE          # our verifier
//!
//! `check` and `verify` print `{"valid": true}` or `{"valid": false, "code": "mdoc.…"}` for a
//! (possibly altered) file, so the test puts our verdict next to pymdoccbor's on the same bytes.
//! `write` writes into `OUT_DIR`:
//! - `iaca.der`: the issuing authority's root (test PKI of `tests/common`, rcgen, P-256);
//! - `cccd.mdoc`, `mdl.mdoc`, `bhyt.mdoc`, `vehicle_registration.mdoc`: one `IssuerSigned` (CBOR)
//!   of each document type, built and signed by [`citizen_mdoc::issue_issuer_signed`], the
//!   function the reference server issues with (MSO with value digests, validity, device key,
//!   token-status-list reference; COSE_Sign1 ES256 with the document signer in `x5chain`);
//! - `device_response.cbor`: the plaintext `DeviceResponse` of an in-person presentation of the
//!   driving licence with 6 of its 20 elements disclosed (QR engagement, reader-authenticated
//!   request, device signature over the session transcript), produced by the crate's
//!   holder and reader and accepted by our own verifier before it is written;
//! - `session_transcript.cbor`: that session's transcript; `device_key.sec1`: the device public key;
//! - `mdl_expired.mdoc`: a licence whose MSO validity ended yesterday (validly signed);
//! - `manifest.json`: for each file its docType, namespace and elements (text values as text),
//!   the disclosed elements of the response, the MSO validity.
//!
//! The clock is the real one: `pymdoccbor` checks the document signer certificate's validity
//! against the current time, so the fixtures are written fresh by each run of the test.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use citizen_mdoc::{
    issue_issuer_signed, AuthorisedElements, CborValue as Value, DocumentRequest, HolderDocument, HolderEngagement,
    IssueRequest, ReaderSession, SelectedElement, StatusRef, TrustAnchor, VerifyRequest,
};
use citizen_protocol::protocol::documents::DocumentKind;
use common::*;
use p256::ecdsa::{signature::Signer, Signature};
use serde_json::json;

fn text(s: &str) -> Value {
    Value::Text(s.into())
}

fn date(s: &str) -> Value {
    Value::Tag(1004, Box::new(text(s)))
}

/// Fictitious elements of each document type (the register's citizen Nguyễn Văn Mẫu).
fn elements(kind: DocumentKind) -> BTreeMap<String, Value> {
    let pairs: Vec<(&str, Value)> = match kind {
        DocumentKind::DrivingLicence => return mdl_elements_mau(),
        DocumentKind::Cccd => vec![
            ("document_number", text("001090000001")),
            ("family_name", text("Nguyễn")),
            ("given_name", text("Văn Mẫu")),
            ("birth_date", date("1990-01-15")),
            ("sex", Value::Integer(1.into())),
            ("nationality", text("VN")),
            ("place_of_origin", text("Hà Nội")),
            ("place_of_residence", text("Số 1 Phố Thử Nghiệm, Hà Nội (địa chỉ giả định)")),
            ("issue_date", date("2025-03-01")),
            ("expiry_date", date("2040-01-15")),
            ("identity_level", Value::Integer(2.into())),
            ("portrait", Value::Bytes(vec![0xa5; 512])),
        ],
        DocumentKind::HealthInsurance => vec![
            ("insurance_number", text("DN4010900000001")),
            ("family_name", text("Nguyễn")),
            ("given_name", text("Văn Mẫu")),
            ("birth_date", date("1990-01-15")),
            ("registered_hospital", text("Bệnh viện Thử Nghiệm (giả định)")),
            ("valid_from", date("2026-01-01")),
            ("valid_until", date("2026-12-31")),
        ],
        DocumentKind::VehicleRegistration => vec![
            ("plate_number", text("29A-000.01")),
            ("chassis_number", text("RLHTEST0000000001")),
            ("engine_number", text("TEST000001")),
            ("owner_name", text("Nguyễn Văn Mẫu")),
            ("brand", text("VinFast")),
            ("model", text("VF 3")),
            ("registration_date", date("2025-05-20")),
        ],
    };
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

fn file_name(kind: DocumentKind) -> &'static str {
    match kind {
        DocumentKind::Cccd => "cccd.mdoc",
        DocumentKind::DrivingLicence => "mdl.mdoc",
        DocumentKind::HealthInsurance => "bhyt.mdoc",
        DocumentKind::VehicleRegistration => "vehicle_registration.mdoc",
    }
}

/// Text and integer values as JSON (what the Python test compares); other values by kind.
fn json_of(v: &Value) -> serde_json::Value {
    match v {
        Value::Text(t) => json!(t),
        Value::Integer(i) => json!(i64::try_from(i128::from(*i)).unwrap()),
        Value::Bool(b) => json!(b),
        Value::Tag(1004, inner) => json_of(inner),
        Value::Bytes(b) => json!({ "bytes": b.len() }),
        _ => json!({ "structure": true }),
    }
}

fn now_unix() -> i64 {
    i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()).unwrap()
}

const USAGE: &str = "usage: mdoc_fixture write OUT_DIR | check OUT_DIR FILE DOC_TYPE | verify OUT_DIR FILE";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["write", out] => write_fixtures(&PathBuf::from(out)),
        ["check", dir, file, doc_type] => check(&PathBuf::from(dir), file, doc_type),
        ["verify", dir, file] => verify(&PathBuf::from(dir), file),
        _ => panic!("{USAGE}"),
    }
}

fn read(dir: &std::path::Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{}: {e}", dir.join(name).display()))
}

fn print_result(result: Result<(), citizen_mdoc::MdocError>) {
    let answer = match result {
        Ok(()) => json!({ "valid": true }),
        Err(e) => json!({ "valid": false, "code": e.code(), "reason": e.to_string() }),
    };
    println!("{answer}");
}

/// The wallet's check before storing ([`citizen_mdoc::check_issued`]) of `file` in `dir`.
fn check(dir: &std::path::Path, file: &str, doc_type: &str) {
    let anchor = TrustAnchor::from_der(&read(dir, "iaca.der")).unwrap();
    let result =
        citizen_mdoc::check_issued(&read(dir, file), doc_type, &[anchor], &read(dir, "device_key.sec1"), now_unix());
    print_result(result.map(|_| ()));
}

/// The verifier ([`citizen_mdoc::verify_device_response`]) on the DeviceResponse `file` in `dir`,
/// bound to the fixture's session transcript.
fn verify(dir: &std::path::Path, file: &str) {
    let anchor = TrustAnchor::from_der(&read(dir, "iaca.der")).unwrap();
    let (response, transcript) = (read(dir, file), read(dir, "session_transcript.cbor"));
    let verdict = citizen_mdoc::verify_device_response(&VerifyRequest {
        device_response: &response,
        session_transcript: &transcript,
        trust_anchors: &[anchor],
        now_unix: now_unix(),
        reader_ephemeral_key: None,
    });
    print_result(verdict.result);
}

fn write_fixtures(out: &std::path::Path) {
    std::fs::create_dir_all(out).unwrap();
    let write = |name: &str, bytes: &[u8]| {
        std::fs::write(out.join(name), bytes).unwrap();
        println!("wrote {name} ({} bytes)", bytes.len());
    };
    let now = now_unix();
    let (from, until) = (now - 300, now + 365 * 24 * 3600);

    let issuer = TestIssuer::new("Cơ quan cấp (thử nghiệm)");
    let device_key = new_key();
    let device_public = device_key.verifying_key().to_encoded_point(false).as_bytes().to_vec();
    write("iaca.der", &issuer.iaca.der);
    write("device_key.sec1", &device_public);
    let chain = [issuer.ds_der.clone()];
    let sign = |tbs: &[u8]| -> Result<Vec<u8>, String> {
        let sig: Signature = issuer.ds_key.sign(tbs);
        Ok(sig.to_bytes().to_vec())
    };

    let mut manifest = serde_json::Map::new();
    let mut licence = Vec::new();
    for (i, kind) in DocumentKind::ALL.into_iter().enumerate() {
        let elements = elements(kind);
        let namespaces = BTreeMap::from([(kind.namespace().to_string(), elements.clone())]);
        let issuer_signed = issue_issuer_signed(
            &IssueRequest {
                doc_type: kind.doc_type(),
                namespaces: &namespaces,
                device_public_key: &device_public,
                signed_unix: from,
                valid_from_unix: from,
                valid_until_unix: until,
                x5chain: &chain,
                status: Some(StatusRef {
                    idx: 4242 + i as u64,
                    uri: "https://issuer.example.vn/v1/documents/status/1".into(),
                }),
            },
            sign,
        )
        .unwrap();
        // Our own wallet's check first: the fixture is what the holder would store.
        citizen_mdoc::check_issued(&issuer_signed, kind.doc_type(), &[issuer.iaca.anchor()], &device_public, now)
            .unwrap();
        write(file_name(kind), &issuer_signed);
        manifest.insert(
            file_name(kind).into(),
            json!({
                "doc_type": kind.doc_type(),
                "namespace": kind.namespace(),
                "elements": elements.iter().map(|(k, v)| (k.clone(), json_of(v))).collect::<serde_json::Map<_, _>>(),
            }),
        );
        if kind == DocumentKind::DrivingLicence {
            licence = issuer_signed;
        }
    }

    // A licence whose MSO validity ended a day ago, validly signed by the same issuer.
    let namespaces = BTreeMap::from([(NS.to_string(), mdl_elements_mau())]);
    let expired = issue_issuer_signed(
        &IssueRequest {
            doc_type: MDL,
            namespaces: &namespaces,
            device_public_key: &device_public,
            signed_unix: now - 366 * 24 * 3600,
            valid_from_unix: now - 366 * 24 * 3600,
            valid_until_unix: now - 24 * 3600,
            x5chain: &chain,
            status: None,
        },
        sign,
    )
    .unwrap();
    let refused = citizen_mdoc::check_issued(&expired, MDL, &[issuer.iaca.anchor()], &device_public, now);
    assert_eq!(refused, Err(citizen_mdoc::MdocError::Expired));
    write("mdl_expired.mdoc", &expired);

    // The in-person presentation of 6 licence elements to an authenticated, authorised reader.
    let all = mdl_elements_mau();
    let mut authorised = AuthorisedElements::new();
    authorised.entry(MDL.into()).or_default().insert(NS.into(), all.keys().cloned().collect());
    let reader = TestReader::new("Cảnh sát giao thông (thử nghiệm)", Some(&authorised), 2030);
    let request = SIX.iter().fold(DocumentRequest::new(MDL), |r, e| r.element(NS, e, false));
    let engagement = HolderEngagement::new(Some(*b"citizen-fixture!")).unwrap();
    let (mut session, establishment) =
        ReaderSession::start(engagement.qr_code(), std::slice::from_ref(&request), Some(&reader.auth_key())).unwrap();
    let documents = vec![HolderDocument::from_issuer_signed(&licence).unwrap()];
    let (mut holder, _asked) = engagement.accept(&establishment, documents, &[reader.ca.anchor()], now).unwrap();
    let selection: Vec<SelectedElement> = SIX
        .iter()
        .map(|e| SelectedElement { doc_type: MDL.into(), namespace: NS.into(), identifier: (*e).into() })
        .collect();
    let to_sign = holder.prepare_response(&selection).unwrap();
    let signatures: Vec<Vec<u8>> = to_sign.iter().map(|r| key_store_sign_der(&device_key, &r.message)).collect();
    let message = holder.finish(&signatures).unwrap();
    let device_response = session.decrypt_response(&message).unwrap();
    let verdict = session.verify(&device_response, &[issuer.iaca.anchor()], now);
    assert!(verdict.is_valid(), "our verifier refuses the fixture: {:?}", verdict.result);
    write("device_response.cbor", &device_response);
    write("session_transcript.cbor", session.session_transcript_bytes());
    manifest.insert(
        "device_response.cbor".into(),
        json!({
            "doc_type": MDL,
            "namespace": NS,
            "disclosed": SIX,
            "elements": SIX.iter().map(|e| (e.to_string(), json_of(&all[*e]))).collect::<serde_json::Map<_, _>>(),
        }),
    );
    manifest.insert("valid_from".into(), json!(from));
    manifest.insert("valid_until".into(), json!(until));
    write("manifest.json", serde_json::to_string_pretty(&manifest).unwrap().as_bytes());
}
