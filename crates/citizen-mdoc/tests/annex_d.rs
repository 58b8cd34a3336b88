//! The verifier against the ISO/IEC 18013-5 Annex D test vectors (data we did not write; see
//! tests/data/README.md), and the refusals of issue 13, each with its own code.
#![allow(clippy::unwrap_used)]

use citizen_mdoc::{
    verify_device_response, CborValue as Value, DeviceAuthResult, MdocError, TrustAnchor, Unchecked, Verdict,
    VerifyRequest, MAX_DEVICE_RESPONSE_BYTES,
};
use p256::ecdsa::{signature::Signer, Signature, SigningKey};

/// 2021-06-01T00:00:00Z: inside both the MSO's and the document signer's validity.
const NOW: i64 = 1_622_505_600;
const NS: &str = "org.iso.18013.5.1";

fn hex_file(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    let text: String = std::fs::read_to_string(path).unwrap().split_whitespace().collect();
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
}

fn key_line(n: usize) -> Vec<u8> {
    let path = format!("{}/tests/data/annex_d_keys.txt", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).unwrap();
    let line = text.lines().filter(|l| !l.starts_with('#')).nth(n).unwrap();
    (0..line.len()).step_by(2).map(|i| u8::from_str_radix(&line[i..i + 2], 16).unwrap()).collect()
}

fn response() -> Vec<u8> {
    hex_file("annex_d_device_response.hex")
}
fn transcript() -> Vec<u8> {
    hex_file("annex_d_session_transcript_bytes.hex")
}
fn iaca() -> Vec<TrustAnchor> {
    vec![TrustAnchor::from_der(&hex_file("annex_d_iaca_root.hex")).unwrap()]
}
fn reader_key() -> p256::SecretKey {
    p256::SecretKey::from_slice(&key_line(0)).unwrap()
}

fn verify_with(resp: &[u8], st: &[u8], anchors: &[TrustAnchor], now: i64, rk: Option<&p256::SecretKey>) -> Verdict {
    verify_device_response(&VerifyRequest {
        device_response: resp,
        session_transcript: st,
        trust_anchors: anchors,
        now_unix: now,
        reader_ephemeral_key: rk,
    })
}

fn verify(resp: &[u8]) -> Verdict {
    verify_with(resp, &transcript(), &iaca(), NOW, Some(&reader_key()))
}

fn code(v: &Verdict) -> &'static str {
    v.result.as_ref().err().map(MdocError::code).unwrap_or("valid")
}

// --- CBOR surgery on the Annex D response (tests only) -------------------------------------

fn decode(bytes: &[u8]) -> Value {
    ciborium::from_reader(bytes).unwrap()
}
fn encode(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(v, &mut out).unwrap();
    out
}
fn get<'a>(map: &'a mut Value, key: &str) -> &'a mut Value {
    let Value::Map(entries) = map else { panic!("not a map") };
    &mut entries.iter_mut().find(|(k, _)| k.as_text() == Some(key)).unwrap().1
}
fn document(resp: &mut Value) -> &mut Value {
    let Value::Array(docs) = get(resp, "documents") else { panic!() };
    &mut docs[0]
}
fn issuer_items(resp: &mut Value) -> &mut Vec<Value> {
    let ns = get(get(document(resp), "issuerSigned"), "nameSpaces");
    let Value::Array(items) = get(ns, NS) else { panic!() };
    items
}
/// Decode the tag-24 IssuerSignedItem at `index`, change it, put it back re-encoded.
fn edit_item(resp: &mut Value, index: usize, f: impl FnOnce(&mut Value)) {
    let items = issuer_items(resp);
    let Value::Tag(24, inner) = &items[index] else { panic!() };
    let Value::Bytes(bytes) = inner.as_ref() else { panic!() };
    let mut item = decode(bytes);
    f(&mut item);
    items[index] = Value::Tag(24, Box::new(Value::Bytes(encode(&item))));
}

/// Replace the Annex D DeviceMac with a DeviceSignature by the static device key (its private
/// key is part of Annex D) over the DeviceAuthentication of `session_transcript_bytes`.
fn with_device_signature(session_transcript_bytes: &[u8]) -> Vec<u8> {
    let mut resp = decode(&response());
    let doc_type = get(document(&mut resp), "docType").as_text().unwrap().to_owned();
    let device_ns = get(get(document(&mut resp), "deviceSigned"), "nameSpaces").clone();
    let Value::Tag(24, st) = decode(session_transcript_bytes) else { panic!() };
    let Value::Bytes(st) = *st else { panic!() };
    let device_authentication =
        Value::Array(vec![Value::Text("DeviceAuthentication".into()), decode(&st), Value::Text(doc_type), device_ns]);
    let dab = encode(&Value::Tag(24, Box::new(Value::Bytes(encode(&device_authentication)))));
    let protected = encode(&Value::Map(vec![(Value::Integer(1.into()), Value::Integer((-7).into()))]));
    let tbs = encode(&Value::Array(vec![
        Value::Text("Signature1".into()),
        Value::Bytes(protected.clone()),
        Value::Bytes(vec![]),
        Value::Bytes(dab),
    ]));
    let device_key = SigningKey::from_slice(&key_line(1)).unwrap();
    let sig: Signature = device_key.sign(&tbs);
    let sign1 = Value::Array(vec![
        Value::Bytes(protected),
        Value::Map(vec![]),
        Value::Null,
        Value::Bytes(sig.to_bytes().to_vec()),
    ]);
    *get(get(document(&mut resp), "deviceSigned"), "deviceAuth") =
        Value::Map(vec![(Value::Text("deviceSignature".into()), sign1)]);
    encode(&resp)
}

/// Another session: the Annex D transcript with a different reader key (EReaderKeyBytes).
fn other_transcript() -> Vec<u8> {
    let Value::Tag(24, st) = decode(&transcript()) else { panic!() };
    let Value::Bytes(st) = *st else { panic!() };
    let mut st = decode(&st);
    let Value::Array(parts) = &mut st else { panic!() };
    let other_reader = p256::SecretKey::from_slice(&[7u8; 32]).unwrap().public_key();
    let point = p256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(&other_reader, false);
    let cose_key = Value::Map(vec![
        (Value::Integer(1.into()), Value::Integer(2.into())),
        (Value::Integer((-1).into()), Value::Integer(1.into())),
        (Value::Integer((-2).into()), Value::Bytes(point.x().unwrap().to_vec())),
        (Value::Integer((-3).into()), Value::Bytes(point.y().unwrap().to_vec())),
    ]);
    parts[1] = Value::Tag(24, Box::new(Value::Bytes(encode(&cose_key))));
    encode(&Value::Tag(24, Box::new(Value::Bytes(encode(&st)))))
}

// --- Annex D verifies -------------------------------------------------------------------------

#[test]
fn annex_d_device_response_verifies_with_device_mac() {
    let v = verify(&response());
    assert_eq!(code(&v), "valid", "{:?}", v.result);
    assert_eq!(v.documents.len(), 1);
    let doc = &v.documents[0];
    assert_eq!(doc.doc_type, "org.iso.18013.5.1.mDL");
    assert_eq!(doc.device_auth, DeviceAuthResult::Mac);
    assert!(doc.issuer.contains("utopia ds"), "{}", doc.issuer);
    let elements = &doc.elements[NS];
    assert_eq!(elements.len(), 6);
    assert_eq!(elements["family_name"], Value::Text("Doe".into()));
    assert_eq!(elements["document_number"], Value::Text("123456789".into()));
    assert_eq!(doc.valid_until_unix, 1_633_095_002); // 2021-10-01T13:30:02Z
                                                     // Revocation is not checked by this increment and says so.
    assert_eq!(v.unchecked, vec![Unchecked::Status { doc_type: doc.doc_type.clone() }]);
}

#[test]
fn annex_d_without_reader_key_reports_device_mac_unchecked() {
    let v = verify_with(&response(), &transcript(), &iaca(), NOW, None);
    assert!(v.is_valid());
    assert_eq!(v.documents[0].device_auth, DeviceAuthResult::MacUnchecked);
    assert!(v.unchecked.iter().any(|u| u.code() == "mdoc.device_mac_unchecked"));
}

#[test]
fn bare_session_transcript_is_accepted_too() {
    let Value::Tag(24, st) = decode(&transcript()) else { panic!() };
    let Value::Bytes(st) = *st else { panic!() };
    let v = verify_with(&response(), &st, &iaca(), NOW, Some(&reader_key()));
    assert_eq!(code(&v), "valid");
    assert_eq!(v.documents[0].device_auth, DeviceAuthResult::Mac);
}

#[test]
fn device_signature_over_this_session_verifies() {
    let v = verify(&with_device_signature(&transcript()));
    assert_eq!(code(&v), "valid", "{:?}", v.result);
    assert_eq!(v.documents[0].device_auth, DeviceAuthResult::Signature);
}

// --- Refusals, each with its own code -------------------------------------------------------

#[test]
fn device_signature_from_another_session_is_a_replay() {
    let replayed = with_device_signature(&other_transcript());
    assert_eq!(code(&verify(&replayed)), "mdoc.device_auth_failed");
    // And the genuine Annex D response presented in another session (DeviceMac).
    let v = verify_with(&response(), &other_transcript(), &iaca(), NOW, Some(&reader_key()));
    assert_eq!(code(&v), "mdoc.device_auth_failed");
}

#[test]
fn tampered_element_value_is_a_digest_mismatch() {
    let mut resp = decode(&response());
    edit_item(&mut resp, 0, |item| *get(item, "elementValue") = Value::Text("Roe".into()));
    let v = verify(&encode(&resp));
    assert_eq!(v.result, Err(MdocError::DigestMismatch { namespace: NS.into(), element: "family_name".into() }));
    assert_eq!(code(&v), "mdoc.digest_mismatch");
    assert!(v.documents.is_empty());
}

#[test]
fn element_from_another_document_is_not_signed() {
    // An element as another document would carry it: its own random and a digest ID this MSO
    // does not sign (the Annex D MSO signs IDs 0..=12 in this namespace).
    let mut resp = decode(&response());
    edit_item(&mut resp, 3, |item| {
        *get(item, "digestID") = Value::Integer(40.into());
        *get(item, "random") = Value::Bytes(vec![0x42; 32]);
        *get(item, "elementValue") = Value::Text("987654321".into());
    });
    assert_eq!(code(&verify(&encode(&resp))), "mdoc.element_not_signed");
}

#[test]
fn expired_mso_is_refused() {
    let after = 1_633_132_800; // 2021-10-02T00:00:00Z, after validUntil
    let v = verify_with(&response(), &transcript(), &iaca(), after, Some(&reader_key()));
    assert_eq!(code(&v), "mdoc.expired");
}

#[test]
fn mso_not_yet_valid_is_refused() {
    let before = 1_598_918_400; // 2020-09-01
    let v = verify_with(&response(), &transcript(), &iaca(), before, Some(&reader_key()));
    assert_eq!(code(&v), "mdoc.not_yet_valid");
}

#[test]
fn expired_document_signer_certificate_is_refused() {
    // 2021-10-01T06:00:00Z: the MSO is still valid (until 13:30:02), the DS certificate is not.
    let v = verify_with(&response(), &transcript(), &iaca(), 1_633_068_000, Some(&reader_key()));
    assert_eq!(code(&v), "mdoc.certificate_expired");
}

#[test]
fn issuer_not_in_the_trust_list_is_refused() {
    let other_ca = vec![TrustAnchor::from_der(&hex_file("annex_d_reader_root.hex")).unwrap()];
    let v = verify_with(&response(), &transcript(), &other_ca, NOW, Some(&reader_key()));
    assert_eq!(code(&v), "mdoc.issuer_untrusted");
    let v = verify_with(&response(), &transcript(), &[], NOW, Some(&reader_key()));
    assert_eq!(code(&v), "mdoc.issuer_untrusted");
}

#[test]
fn mso_signed_by_a_certificate_that_is_not_a_document_signer_is_refused() {
    // The IACA root itself as the x5chain: trusted, but not a document signer (no mdlDS EKU).
    let mut resp = decode(&response());
    let auth = get(get(document(&mut resp), "issuerSigned"), "issuerAuth");
    let Value::Array(parts) = auth else { panic!() };
    let Value::Map(unprotected) = &mut parts[1] else { panic!() };
    unprotected[0].1 = Value::Bytes(hex_file("annex_d_iaca_root.hex"));
    assert_eq!(code(&verify(&encode(&resp))), "mdoc.not_document_signer");
}

#[test]
fn forged_issuer_signature_is_refused() {
    let mut resp = decode(&response());
    let auth = get(get(document(&mut resp), "issuerSigned"), "issuerAuth");
    let Value::Array(parts) = auth else { panic!() };
    let Value::Bytes(sig) = &mut parts[3] else { panic!() };
    sig[10] ^= 1;
    assert_eq!(code(&verify(&encode(&resp))), "mdoc.issuer_signature");
}

#[test]
fn doc_type_other_than_the_signed_one_is_refused() {
    let mut resp = decode(&response());
    *get(document(&mut resp), "docType") = Value::Text("org.iso.23220.photoid.1".into());
    assert_eq!(code(&verify(&encode(&resp))), "mdoc.doctype_mismatch");
}

#[test]
fn malformed_cbor_is_refused() {
    let full = response();
    assert_eq!(code(&verify(&full[..full.len() / 2])), "mdoc.malformed");
    assert_eq!(code(&verify(&[0xff, 0x00, 0x13])), "mdoc.malformed");
    assert_eq!(code(&verify(&[])), "mdoc.malformed");
    // Well-formed CBOR that is not a DeviceResponse.
    assert_eq!(code(&verify(&encode(&Value::Array(vec![Value::Null])))), "mdoc.malformed");
}

#[test]
fn oversized_message_is_refused_before_decoding() {
    // A valid response padded past the bound: refused on size alone.
    let mut big = response();
    big.resize(MAX_DEVICE_RESPONSE_BYTES + 1, 0);
    let v = verify(&big);
    assert_eq!(
        v.result,
        Err(MdocError::TooLarge { size: MAX_DEVICE_RESPONSE_BYTES + 1, max: MAX_DEVICE_RESPONSE_BYTES })
    );
    assert_eq!(code(&v), "mdoc.too_large");
}

#[test]
fn response_without_documents_is_refused() {
    let resp = Value::Map(vec![
        (Value::Text("version".into()), Value::Text("1.0".into())),
        (Value::Text("status".into()), Value::Integer(10.into())),
    ]);
    assert_eq!(code(&verify(&encode(&resp))), "mdoc.no_documents");
}

#[test]
fn every_code_is_in_the_catalogue_with_both_languages() {
    for msg in citizen_protocol::messages::Msg::all() {
        if msg.code().starts_with("mdoc.") {
            assert!(!msg.vi().is_empty() && !msg.en().is_empty(), "{}", msg.code());
        }
    }
    let codes = [
        MdocError::TooLarge { size: 0, max: 0 }.code(),
        MdocError::Malformed(String::new()).code(),
        MdocError::NoDocuments.code(),
        MdocError::Unsupported(String::new()).code(),
        MdocError::IssuerUntrusted.code(),
        MdocError::NotDocumentSigner.code(),
        MdocError::CertificateExpired.code(),
        MdocError::IssuerSignature.code(),
        MdocError::DocTypeMismatch { document: String::new(), mso: String::new() }.code(),
        MdocError::DigestMismatch { namespace: String::new(), element: String::new() }.code(),
        MdocError::ElementNotSigned { namespace: String::new(), element: String::new() }.code(),
        MdocError::NotYetValid.code(),
        MdocError::Expired.code(),
        MdocError::DeviceAuth.code(),
    ];
    let unique: std::collections::BTreeSet<_> = codes.iter().collect();
    assert_eq!(unique.len(), codes.len());
    assert!(codes.iter().all(|c| c.starts_with("mdoc.")));
}
