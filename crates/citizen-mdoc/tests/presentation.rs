//! The in-person presentation, holder ↔ reader, over an in-process loopback that carries the
//! BLE framing (chunks of one characteristic write, `0x01`/`0x00` leading byte): selective
//! disclosure, and the attacks of issue 13, each refused with its own code.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use citizen_mdoc::transport::{split_frames, Reassembler};
use citizen_mdoc::{
    session_termination, AuthorisedElements, CborValue as Value, DeviceAuthResult, DocumentRequest, HolderDocument,
    HolderEngagement, HolderEvent, MdocError, PresentationRequest, ReaderIdentity, ReaderSession, SelectedElement,
    TrustAnchor, Verdict, MAX_REQUEST_MESSAGE_BYTES, MAX_RESPONSE_MESSAGE_BYTES,
};
use common::*;
use p256::ecdsa::SigningKey;

/// BLE ATT MTU 185 (a common negotiated value) minus the 3-byte ATT header.
const CHUNK: usize = 182;

/// Move one message across the loopback "link" in BLE chunks.
fn carry(message: &[u8], max: usize) -> Result<Vec<u8>, MdocError> {
    let mut r = Reassembler::new(max);
    let mut out = None;
    for frame in split_frames(message, CHUNK) {
        out = r.push(&frame)?;
    }
    Ok(out.unwrap())
}

fn code(v: &Verdict) -> &'static str {
    v.result.as_ref().err().map(MdocError::code).unwrap_or("valid")
}

/// The world of one test: an issuer, a wallet with the citizen's licence and its device key, a
/// reader authorised for eight elements.
struct World {
    issuer: TestIssuer,
    device_key: SigningKey,
    licence: Vec<u8>,
    reader: TestReader,
}

fn authorised_eight() -> AuthorisedElements {
    let mut a = AuthorisedElements::new();
    let ids = SIX.iter().chain(&["portrait", "age_over_18"]).map(|s| s.to_string()).collect();
    a.entry(MDL.into()).or_default().insert(NS.into(), ids);
    a
}

fn world() -> World {
    let issuer = TestIssuer::new("Cục Đường bộ");
    let device_key = new_key();
    let licence = issuer.issue(MDL, NS, mdl_elements_mau(), device_key.verifying_key(), FROM, UNTIL);
    let reader = TestReader::new("Cảnh sát giao thông - Trạm 01 (test)", Some(&authorised_eight()), 2030);
    World { issuer, device_key, licence, reader }
}

fn request(elements: &[&str]) -> DocumentRequest {
    elements.iter().fold(DocumentRequest::new(MDL), |r, e| r.element(NS, e, false))
}

fn select(req: &PresentationRequest, ids: &[&str]) -> Vec<SelectedElement> {
    req.documents[0]
        .elements
        .iter()
        .filter(|e| ids.contains(&e.identifier.as_str()))
        .map(|e| SelectedElement {
            doc_type: MDL.into(),
            namespace: e.namespace.clone(),
            identifier: e.identifier.clone(),
        })
        .collect()
}

/// A whole session: engagement → establishment → (citizen selects `disclose`) → signatures by
/// the "key store" → response → reader's verdict. `licence` is what the holder presents.
fn present(w: &World, licence: &[u8], asked: &[&str], disclose: &[&str], anchors: &[TrustAnchor], now: i64) -> Verdict {
    let engagement = HolderEngagement::new(Some([7; 16])).unwrap();
    let (mut reader, establishment) =
        ReaderSession::start(engagement.qr_code(), &[request(asked)], Some(&w.reader.auth_key())).unwrap();
    let establishment = carry(&establishment, MAX_REQUEST_MESSAGE_BYTES).unwrap();
    let docs = vec![HolderDocument::from_issuer_signed(licence).unwrap()];
    let (mut holder, req) = engagement.accept(&establishment, docs, &[w.reader.ca.anchor()], now).unwrap();
    let to_sign = holder.prepare_response(&select(&req, disclose)).unwrap();
    let sigs: Vec<Vec<u8>> = to_sign.iter().map(|r| key_store_sign_der(&w.device_key, &r.message)).collect();
    let response = holder.finish(&sigs).unwrap();
    let response = carry(&response, MAX_RESPONSE_MESSAGE_BYTES).unwrap();
    reader.handle_response(&response, anchors, now)
}

#[test]
fn full_session_discloses_exactly_the_six_selected_of_twenty() {
    let w = world();
    let engagement = HolderEngagement::new(Some([7; 16])).unwrap();
    assert!(engagement.qr_code().starts_with("mdoc:"));
    let asked = [
        "family_name",
        "given_name",
        "birth_date",
        "document_number",
        "expiry_date",
        "driving_privileges",
        "portrait",
        "age_over_18",
    ];
    let (mut reader, establishment) =
        ReaderSession::start(engagement.qr_code(), &[request(&asked)], Some(&w.reader.auth_key())).unwrap();
    let establishment = carry(&establishment, MAX_REQUEST_MESSAGE_BYTES).unwrap();
    let docs = vec![HolderDocument::from_issuer_signed(&w.licence).unwrap()];
    assert_eq!(docs[0].elements().len(), 20);
    let (mut holder, req) = engagement.accept(&establishment, docs, &[w.reader.ca.anchor()], NOW).unwrap();

    // Who asks: the reader's certificate, trusted, with its authorisation.
    let ReaderIdentity::Authenticated(r) = &req.reader else { panic!("{:?}", req.reader) };
    assert_eq!(r.common_name.as_deref(), Some("Cảnh sát giao thông - Trạm 01 (test)"));
    assert!(r.trust_anchor.contains("Reader CA"));
    assert_eq!(r.authorised.as_ref(), Some(&authorised_eight()));
    // Which elements: eight, all held.
    assert_eq!(req.documents.len(), 1);
    assert!(req.documents[0].held);
    assert_eq!(req.documents[0].elements.len(), 8);
    assert!(req.documents[0].elements.iter().all(|e| e.held && !e.intent_to_retain));

    // The citizen discloses six; the key store signs outside the crate.
    let to_sign = holder.prepare_response(&select(&req, &SIX)).unwrap();
    assert_eq!(to_sign.len(), 1);
    assert_eq!(to_sign[0].doc_type, MDL);
    let sig = key_store_sign_der(&w.device_key, &to_sign[0].message);
    let response = holder.finish(&[sig]).unwrap();
    let response = carry(&response, MAX_RESPONSE_MESSAGE_BYTES).unwrap();

    let v = reader.handle_response(&response, &[w.issuer.iaca.anchor()], NOW);
    assert_eq!(code(&v), "valid", "{:?}", v.result);
    let doc = &v.documents[0];
    assert_eq!(doc.device_auth, DeviceAuthResult::Signature);
    let got: Vec<&str> = doc.elements[NS].keys().map(String::as_str).collect();
    let mut want = SIX.to_vec();
    want.sort_unstable();
    assert_eq!(got, want);
    assert_eq!(doc.elements[NS]["family_name"], Value::Text("Nguyễn".into()));
    assert!(!doc.elements[NS].contains_key("portrait"));

    // The reader ends the session; the holder sees it.
    let end = carry(&reader.end_session(), MAX_REQUEST_MESSAGE_BYTES).unwrap();
    assert_eq!(holder.handle_message(&end).unwrap(), HolderEvent::Ended);
}

#[test]
fn raw_signatures_are_accepted_and_a_wrong_key_is_refused_before_sending() {
    use p256::ecdsa::{signature::Signer, Signature};
    let w = world();
    let engagement = HolderEngagement::new(None).unwrap();
    let (mut reader, establishment) = ReaderSession::start(engagement.qr_code(), &[request(&SIX)], None).unwrap();
    let docs = vec![HolderDocument::from_issuer_signed(&w.licence).unwrap()];
    assert_eq!(docs[0].device_public_key(), w.device_key.verifying_key().to_encoded_point(false).as_bytes());
    let (mut holder, req) = engagement.accept(&establishment, docs, &[], NOW).unwrap();
    assert_eq!(req.reader, ReaderIdentity::Anonymous);
    assert_eq!(holder.finish(&[vec![0; 64]]).unwrap_err().code(), "mdoc.session_state");
    let to_sign = holder.prepare_response(&select(&req, &SIX)).unwrap();

    // Another key (wrong alias) signs: refused, nothing produced; the session can retry.
    let other: Signature = new_key().sign(&to_sign[0].message);
    assert_eq!(holder.finish(&[other.to_bytes().to_vec()]).unwrap_err().code(), "mdoc.device_signature_invalid");
    assert_eq!(holder.finish(&[]).unwrap_err().code(), "mdoc.session_state");

    // Raw r || s from the right key.
    let sig: Signature = w.device_key.sign(&to_sign[0].message);
    let response = holder.finish(&[sig.to_bytes().to_vec()]).unwrap();
    let v = reader.handle_response(&response, &[w.issuer.iaca.anchor()], NOW);
    assert_eq!(code(&v), "valid", "{:?}", v.result);
    // Once responded, no second response.
    assert_eq!(holder.prepare_response(&select(&req, &SIX)).unwrap_err().code(), "mdoc.session_state");
}

#[test]
fn selection_outside_the_request_is_refused() {
    let w = world();
    let engagement = HolderEngagement::new(None).unwrap();
    let (_reader, establishment) = ReaderSession::start(engagement.qr_code(), &[request(&SIX)], None).unwrap();
    let docs = vec![HolderDocument::from_issuer_signed(&w.licence).unwrap()];
    let (mut holder, _) = engagement.accept(&establishment, docs, &[], NOW).unwrap();
    let not_requested =
        SelectedElement { doc_type: MDL.into(), namespace: NS.into(), identifier: "resident_address".into() };
    let err = holder.prepare_response(&[not_requested]).unwrap_err();
    assert_eq!(err.code(), "mdoc.selection_invalid");
    assert_eq!(holder.prepare_response(&[]).unwrap_err().code(), "mdoc.session_state");
}

#[test]
fn citizen_declines_and_the_reader_is_told() {
    let w = world();
    let engagement = HolderEngagement::new(None).unwrap();
    let (mut reader, establishment) = ReaderSession::start(engagement.qr_code(), &[request(&SIX)], None).unwrap();
    let docs = vec![HolderDocument::from_issuer_signed(&w.licence).unwrap()];
    let (mut holder, _) = engagement.accept(&establishment, docs, &[], NOW).unwrap();
    let v = reader.handle_response(&holder.decline(), &[w.issuer.iaca.anchor()], NOW);
    assert_eq!(code(&v), "mdoc.session_ended");
}

// --- Attacks, each refused with its own code ----------------------------------------------

/// Re-encode the IssuerSigned with `f` applied to the IssuerSignedItem named `element`.
fn edit_item(issuer_signed: &[u8], element: &str, f: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut v: Value = ciborium::from_reader(issuer_signed).unwrap();
    let Value::Map(top) = &mut v else { panic!() };
    let (_, Value::Map(namespaces)) = top.iter_mut().find(|(k, _)| k.as_text() == Some("nameSpaces")).unwrap() else {
        panic!()
    };
    let Value::Array(items) = &mut namespaces[0].1 else { panic!() };
    let mut f = Some(f);
    for item in items.iter_mut() {
        let Value::Tag(24, inner) = item else { panic!() };
        let Value::Bytes(bytes) = inner.as_ref() else { panic!() };
        let mut decoded: Value = ciborium::from_reader(bytes.as_slice()).unwrap();
        let Value::Map(fields) = &decoded else { panic!() };
        let id = fields.iter().find(|(k, _)| k.as_text() == Some("elementIdentifier")).unwrap().1.clone();
        if id.as_text() == Some(element) {
            (f.take().unwrap())(&mut decoded);
            let mut out = Vec::new();
            ciborium::into_writer(&decoded, &mut out).unwrap();
            *item = Value::Tag(24, Box::new(Value::Bytes(out)));
        }
    }
    assert!(f.is_none(), "{element} not found");
    let mut out = Vec::new();
    ciborium::into_writer(&v, &mut out).unwrap();
    out
}

fn set(map: &mut Value, key: &str, value: Value) {
    let Value::Map(fields) = map else { panic!() };
    fields.iter_mut().find(|(k, _)| k.as_text() == Some(key)).unwrap().1 = value;
}

fn get(map: &Value, key: &str) -> Value {
    let Value::Map(fields) = map else { panic!() };
    fields.iter().find(|(k, _)| k.as_text() == Some(key)).unwrap().1.clone()
}

#[test]
fn tampered_element_is_a_digest_mismatch() {
    let w = world();
    // A wallet that altered its stored licence: a later birth date.
    let tampered = edit_item(&w.licence, "birth_date", |item| {
        set(item, "elementValue", Value::Tag(1004, Box::new(Value::Text("2009-01-15".into()))))
    });
    let v = present(&w, &tampered, &SIX, &SIX, &[w.issuer.iaca.anchor()], NOW);
    assert_eq!(code(&v), "mdoc.digest_mismatch");
    assert!(v.documents.is_empty());
}

#[test]
fn element_from_another_document_is_not_signed() {
    let w = world();
    // Another citizen's licence from the same issuer: its family_name item (its own random and
    // digest ID) spliced into this licence.
    let other = w.issuer.issue(MDL, NS, mdl_elements_nghiem(), new_key().verifying_key(), FROM, UNTIL);
    let mut foreign = None;
    edit_item(&other, "family_name", |item| foreign = Some(item.clone()));
    let foreign = foreign.unwrap();
    let spliced = edit_item(&w.licence, "family_name", |item| *item = foreign.clone());
    assert_eq!(get(&foreign, "elementValue"), Value::Text("Trần".into()));
    let v = present(&w, &spliced, &SIX, &SIX, &[w.issuer.iaca.anchor()], NOW);
    assert_eq!(code(&v), "mdoc.element_not_signed");
}

#[test]
fn expired_mso_is_refused() {
    let w = world();
    let expired = w.issuer.issue(
        MDL,
        NS,
        mdl_elements_mau(),
        w.device_key.verifying_key(),
        FROM - 400 * 86_400,
        FROM - 35 * 86_400,
    );
    let v = present(&w, &expired, &SIX, &SIX, &[w.issuer.iaca.anchor()], NOW);
    assert_eq!(code(&v), "mdoc.expired");
}

#[test]
fn issuer_not_in_the_trust_list_is_refused() {
    let w = world();
    let rogue = TestIssuer::new("Rogue");
    let forged = rogue.issue(MDL, NS, mdl_elements_mau(), w.device_key.verifying_key(), FROM, UNTIL);
    assert_eq!(code(&present(&w, &forged, &SIX, &SIX, &[w.issuer.iaca.anchor()], NOW)), "mdoc.issuer_untrusted");
    // And the genuine licence at a verifier that trusts only the reader CA.
    assert_eq!(code(&present(&w, &w.licence, &SIX, &SIX, &[w.reader.ca.anchor()], NOW)), "mdoc.issuer_untrusted");
}

#[test]
fn response_replayed_in_another_session_is_refused() {
    let w = world();
    // Session 1: a genuine presentation; the (dishonest) reader keeps the decrypted response
    // and the encrypted message.
    let engagement = HolderEngagement::new(None).unwrap();
    let (mut reader1, establishment) = ReaderSession::start(engagement.qr_code(), &[request(&SIX)], None).unwrap();
    let docs = vec![HolderDocument::from_issuer_signed(&w.licence).unwrap()];
    let (mut holder, req) = engagement.accept(&establishment, docs, &[], NOW).unwrap();
    let to_sign = holder.prepare_response(&select(&req, &SIX)).unwrap();
    let message1 = holder.finish(&[key_store_sign_der(&w.device_key, &to_sign[0].message)]).unwrap();
    let response1 = reader1.decrypt_response(&message1).unwrap();
    assert!(reader1.verify(&response1, &[w.issuer.iaca.anchor()], NOW).is_valid());

    // Session 2: an impostor's phone shows its own QR code and replays session 1.
    let impostor = HolderEngagement::new(None).unwrap();
    let (mut reader2, _) = ReaderSession::start(impostor.qr_code(), &[request(&SIX)], None).unwrap();
    // The recorded DeviceResponse, re-encrypted by the impostor (who holds session 2's keys):
    // device authentication is bound to session 1's transcript.
    let v = reader2.verify(&response1, &[w.issuer.iaca.anchor()], NOW);
    assert_eq!(code(&v), "mdoc.device_auth_failed");
    // The recorded encrypted message as is: it does not even decrypt under session 2's keys.
    let v = reader2.handle_response(&message1, &[w.issuer.iaca.anchor()], NOW);
    assert_eq!(code(&v), "mdoc.session_decrypt_failed");
}

#[test]
fn reader_asking_for_an_element_it_is_not_authorised_for_is_refused() {
    let w = world();
    let engagement = HolderEngagement::new(None).unwrap();
    let mut asked = SIX.to_vec();
    asked.push("resident_address");
    let (_, establishment) =
        ReaderSession::start(engagement.qr_code(), &[request(&asked)], Some(&w.reader.auth_key())).unwrap();
    let docs = vec![HolderDocument::from_issuer_signed(&w.licence).unwrap()];
    let err = engagement.accept(&establishment, docs, &[w.reader.ca.anchor()], NOW).unwrap_err();
    assert_eq!(
        err,
        MdocError::ReaderNotAuthorised {
            doc_type: MDL.into(),
            namespace: NS.into(),
            element: "resident_address".into()
        }
    );
    assert_eq!(err.code(), "mdoc.reader_not_authorised");
}

#[test]
fn reader_authentication_is_checked_against_the_reader_trust_list() {
    let w = world();
    let attempt = |reader: &TestReader, trust: &[TrustAnchor], now: i64| {
        let engagement = HolderEngagement::new(None).unwrap();
        let (_, establishment) =
            ReaderSession::start(engagement.qr_code(), &[request(&SIX)], Some(&reader.auth_key())).unwrap();
        let docs = vec![HolderDocument::from_issuer_signed(&w.licence).unwrap()];
        engagement.accept(&establishment, docs, trust, now).map(|(_, req)| req.reader)
    };
    // Not in the reader trust list (only the IACA is).
    assert_eq!(attempt(&w.reader, &[w.issuer.iaca.anchor()], NOW).unwrap_err().code(), "mdoc.reader_untrusted");
    // Expired reader certificate.
    let old = TestReader::new("Old terminal (test)", Some(&authorised_eight()), 2026);
    assert_eq!(attempt(&old, &[old.ca.anchor()], NOW).unwrap_err().code(), "mdoc.reader_certificate_expired");
    // A certificate without the authorisation extension states nothing (shown as such).
    let plain = TestReader::new("Bank counter (test)", None, 2030);
    let ReaderIdentity::Authenticated(r) = attempt(&plain, &[plain.ca.anchor()], NOW).unwrap() else { panic!() };
    assert_eq!(r.authorised, None);
    // A certificate of the reader CA that is not a reader-authentication certificate.
    let signer = TestReader::with_document_signer_usage("Not a reader (test)");
    assert_eq!(attempt(&signer, &[signer.ca.anchor()], NOW).unwrap_err().code(), "mdoc.reader_auth_invalid");
    // A reader-auth certificate whose key is not the signing key cannot be built.
    assert!(citizen_mdoc::ReaderAuthKey::new(new_key(), std::slice::from_ref(&w.reader.cert)).is_err());
}

#[test]
fn malformed_cbor_is_refused_everywhere() {
    let w = world();
    // The QR code.
    for qr in ["", "mdoc:", "mdoc:!!!", "https://example.vn", "mdoc:oQBjMS4w"] {
        assert_eq!(citizen_mdoc::validate_engagement_qr(qr).unwrap_err().code(), "mdoc.engagement_invalid", "{qr}");
        assert_eq!(ReaderSession::start(qr, &[request(&SIX)], None).unwrap_err().code(), "mdoc.engagement_invalid");
    }
    // The SessionEstablishment.
    for junk in [&b""[..], &[0xff, 0x00], &[0xa1, 0x61, 0x78, 0x01]] {
        let engagement = HolderEngagement::new(None).unwrap();
        let docs = vec![HolderDocument::from_issuer_signed(&w.licence).unwrap()];
        assert_eq!(engagement.accept(junk, docs, &[], NOW).unwrap_err().code(), "mdoc.malformed");
    }
    // A DeviceRequest that is not CBOR, inside a correctly encrypted establishment.
    let engagement = HolderEngagement::new(None).unwrap();
    let (_, establishment) = ReaderSession::start_with_request_bytes(engagement.qr_code(), &[0x9f, 0x01]).unwrap();
    let docs = vec![HolderDocument::from_issuer_signed(&w.licence).unwrap()];
    assert_eq!(engagement.accept(&establishment, docs, &[], NOW).unwrap_err().code(), "mdoc.malformed");
    // The response.
    let engagement = HolderEngagement::new(None).unwrap();
    let (mut reader, _) = ReaderSession::start(engagement.qr_code(), &[request(&SIX)], None).unwrap();
    assert_eq!(code(&reader.handle_response(&[0xa0], &[], NOW)), "mdoc.malformed");
    assert_eq!(code(&reader.handle_response(&[0x5f, 0xff], &[], NOW)), "mdoc.malformed");
    // A stored document that is not an IssuerSigned.
    assert_eq!(HolderDocument::from_issuer_signed(&[0x80]).unwrap_err().code(), "mdoc.malformed");
}

/// isomdl 0.2.0's key agreement panics on a coordinate that is not 32 bytes long; the holder
/// checks the EReaderKey first. Seen failing (a panic in `GenericArray::from_slice`) before
/// `SessionKeys::derive` validated the key.
#[test]
fn short_reader_key_coordinate_is_malformed_not_a_panic() {
    let engagement = HolderEngagement::new(None).unwrap();
    let cose_key = Value::Map(vec![
        (Value::Integer(1.into()), Value::Integer(2.into())),
        (Value::Integer((-1).into()), Value::Integer(1.into())),
        (Value::Integer((-2).into()), Value::Bytes(vec![1; 31])),
        (Value::Integer((-3).into()), Value::Bytes(vec![2; 32])),
    ]);
    let mut key_bytes = Vec::new();
    ciborium::into_writer(&cose_key, &mut key_bytes).unwrap();
    let establishment = Value::Map(vec![
        (Value::Text("eReaderKey".into()), Value::Tag(24, Box::new(Value::Bytes(key_bytes)))),
        (Value::Text("data".into()), Value::Bytes(vec![0; 40])),
    ]);
    let mut bytes = Vec::new();
    ciborium::into_writer(&establishment, &mut bytes).unwrap();
    let err = engagement.accept(&bytes, vec![], &[], NOW).unwrap_err();
    assert_eq!(err.code(), "mdoc.malformed");
}

#[test]
fn oversized_messages_are_refused() {
    let w = world();
    // An establishment over the bound: refused by the transport as soon as the bound is passed,
    // and by the holder before decoding.
    let big = vec![0u8; MAX_REQUEST_MESSAGE_BYTES + 1];
    assert_eq!(carry(&big, MAX_REQUEST_MESSAGE_BYTES).unwrap_err().code(), "mdoc.too_large");
    let engagement = HolderEngagement::new(None).unwrap();
    let docs = vec![HolderDocument::from_issuer_signed(&w.licence).unwrap()];
    assert_eq!(engagement.accept(&big, docs, &[], NOW).unwrap_err().code(), "mdoc.too_large");
    // A response over the bound.
    let engagement = HolderEngagement::new(None).unwrap();
    let (mut reader, _) = ReaderSession::start(engagement.qr_code(), &[request(&SIX)], None).unwrap();
    let big = vec![0u8; MAX_RESPONSE_MESSAGE_BYTES + 1];
    assert_eq!(carry(&big, MAX_RESPONSE_MESSAGE_BYTES).unwrap_err().code(), "mdoc.too_large");
    assert_eq!(code(&reader.handle_response(&big, &[], NOW)), "mdoc.too_large");
    // A QR code over the bound.
    let qr = format!("mdoc:{}", "A".repeat(4096));
    assert_eq!(ReaderSession::start(&qr, &[request(&SIX)], None).unwrap_err().code(), "mdoc.too_large");
}

#[test]
fn altered_ciphertext_does_not_decrypt() {
    let w = world();
    let engagement = HolderEngagement::new(None).unwrap();
    let (mut reader, establishment) = ReaderSession::start(engagement.qr_code(), &[request(&SIX)], None).unwrap();
    // The request altered in transit.
    let mut altered = establishment.clone();
    let last = altered.len() - 1;
    altered[last] ^= 1;
    let docs = vec![HolderDocument::from_issuer_signed(&w.licence).unwrap()];
    assert_eq!(
        HolderEngagement::new(None).unwrap().accept(&establishment, docs.clone(), &[], NOW).unwrap_err().code(),
        "mdoc.session_decrypt_failed",
        "an establishment for another engagement"
    );
    assert_eq!(engagement.accept(&altered, docs, &[], NOW).unwrap_err().code(), "mdoc.session_decrypt_failed");
    // A termination status the reader did not expect mid-session is "ended", not "valid".
    assert_eq!(code(&reader.handle_response(&session_termination(), &[], NOW)), "mdoc.session_ended");
}

#[test]
fn two_documents_of_one_doctype_must_be_narrowed_down() {
    let w = world();
    let engagement = HolderEngagement::new(None).unwrap();
    let (_, establishment) = ReaderSession::start(engagement.qr_code(), &[request(&SIX)], None).unwrap();
    let doc = HolderDocument::from_issuer_signed(&w.licence).unwrap();
    assert_eq!(
        engagement.accept(&establishment, vec![doc.clone(), doc], &[], NOW).unwrap_err().code(),
        "mdoc.session_state"
    );
}

#[test]
fn unheld_documents_and_elements_are_reported_not_offered() {
    let w = world();
    let engagement = HolderEngagement::new(None).unwrap();
    let reqs = [
        request(&["family_name", "no_such_element"]),
        DocumentRequest::new("org.iso.23220.photoid.1").element("org.iso.23220.1", "family_name", true),
    ];
    let (_, establishment) = ReaderSession::start(engagement.qr_code(), &reqs, None).unwrap();
    let docs = vec![HolderDocument::from_issuer_signed(&w.licence).unwrap()];
    let (_, req) = engagement.accept(&establishment, docs, &[], NOW).unwrap();
    let held: BTreeMap<&str, bool> =
        req.documents[0].elements.iter().map(|e| (e.identifier.as_str(), e.held)).collect();
    assert_eq!(held, BTreeMap::from([("family_name", true), ("no_such_element", false)]));
    assert!(!req.documents[1].held);
    assert!(req.documents[1].elements[0].intent_to_retain);
}

#[test]
fn every_new_code_is_in_the_catalogue_and_distinct() {
    let codes = [
        MdocError::EngagementInvalid(String::new()).code(),
        MdocError::SessionDecrypt.code(),
        MdocError::SessionEnded(20).code(),
        MdocError::SessionState("").code(),
        MdocError::ReaderUntrusted.code(),
        MdocError::ReaderAuthInvalid(String::new()).code(),
        MdocError::ReaderCertificateExpired.code(),
        MdocError::ReaderNotAuthorised { doc_type: String::new(), namespace: String::new(), element: String::new() }
            .code(),
        MdocError::SelectionInvalid { doc_type: String::new(), namespace: String::new(), element: String::new() }
            .code(),
        MdocError::DeviceSignatureInvalid.code(),
        MdocError::FrameInvalid("").code(),
        // The attack codes of the loopback tests above.
        MdocError::DigestMismatch { namespace: String::new(), element: String::new() }.code(),
        MdocError::ElementNotSigned { namespace: String::new(), element: String::new() }.code(),
        MdocError::Expired.code(),
        MdocError::IssuerUntrusted.code(),
        MdocError::DeviceAuth.code(),
        MdocError::Malformed(String::new()).code(),
        MdocError::TooLarge { size: 0, max: 0 }.code(),
    ];
    let unique: std::collections::BTreeSet<_> = codes.iter().collect();
    assert_eq!(unique.len(), codes.len());
    for c in codes {
        let msg = citizen_protocol::messages::Msg::all().iter().find(|m| m.code() == c).unwrap();
        assert!(!msg.vi().is_empty() && !msg.en().is_empty());
    }
}

/// The fuzz fixture (written by `examples/mdoc_fuzz_seeds.rs`): its signed request is
/// authenticated against its reader CA, untrusted without it, and its reader signature does not
/// hold for another session (`mdoc.reader_auth_invalid`: a request replayed from elsewhere).
#[test]
fn fuzz_fixture_request_and_reader_signature_bound_to_its_session() {
    let read = |path: &str| std::fs::read(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let seed = read("../../fuzz/seeds/mdoc_device_request/request_reader_auth.bin");
    let transcript = read("tests/data/fuzz_session_transcript.cbor");
    let ca = TrustAnchor::from_der(&read("tests/data/fuzz_reader_ca.der")).unwrap();
    let reader = citizen_mdoc::check_device_request(&seed[1..], &transcript, std::slice::from_ref(&ca), NOW).unwrap();
    assert!(matches!(reader, ReaderIdentity::Authenticated(_)));
    let err = citizen_mdoc::check_device_request(&seed[1..], &transcript, &[], NOW).unwrap_err();
    assert_eq!(err.code(), "mdoc.reader_untrusted");
    let engagement = HolderEngagement::new(None).unwrap();
    let (other, _) = ReaderSession::start(engagement.qr_code(), &[request(&SIX)], None).unwrap();
    let err = citizen_mdoc::check_device_request(&seed[1..], other.session_transcript_bytes(), &[ca], NOW).unwrap_err();
    assert_eq!(err.code(), "mdoc.reader_auth_invalid");
    let anonymous = read("../../fuzz/seeds/mdoc_device_request/request_anonymous.bin");
    assert_eq!(
        citizen_mdoc::check_device_request(&anonymous[1..], &transcript, &[], NOW).unwrap(),
        ReaderIdentity::Anonymous
    );
}
