//! In-person presentation and the verifier mode end to end (issue 13 items 2–3): the reference
//! server issues the documents; the citizen's core presents the driving licence over an
//! in-process loopback with the BLE framing; a `Verifier` (no account) checks it offline with the
//! trust list and status list it cached. The refusals: revoked, stale status list, untrusted
//! issuer, reader asking an element it is not authorised for, decline, session reuse.

use std::sync::Arc;

use citizen_core::activity::ActivityKind;
use citizen_core::clock::Clock;
use citizen_core::error::PublicError;
use citizen_core::platform::{LoopbackMdocTransport, MdocTransport, SignPurpose};
use citizen_core::protocol::documents::PATH_OFFICIAL_DOCUMENT_REVOKE;
use citizen_core::{
    default_verifier_config, CheckOutcome, CitizenError, ConsentKind, ElementSelection, VerdictOverall,
    VerificationCheckKind, VerificationVerdict, Verifier, VerifierRequest, VerifierRole,
};
use citizen_mdoc::transport::{split_frames, Reassembler};

use crate::env::{Device, Env, PASS};

const WHO: (&str, &str, &str) = ("001090000001", "1990-01-15", "+84900000001");
const MDL: &str = "org.iso.18013.5.1.mDL";
const NS: &str = "org.iso.18013.5.1";
/// A typical BLE ATT MTU (185) minus 3.
const FRAME: i32 = 182;

/// An enrolled citizen holding the four documents.
async fn citizen(env: &Env) -> Device {
    let d = env.enrolled("citizen", WHO).await;
    assert_eq!(d.core.documents().refresh().await.unwrap().len(), 4);
    d
}

/// A verifier of `env`'s server with its own data directory, on the shared clock.
fn verifier(env: &Env, name: &str) -> Arc<Verifier> {
    let mut c = default_verifier_config(env.server().base_url.clone(), env.dir.path().join(name).display().to_string());
    c.trust_anchors_pem = vec![env.server().ca_cert_pem.clone()];
    Verifier::with_clock(c, env.clock.clone()).unwrap()
}

fn sel(id: &str) -> ElementSelection {
    ElementSelection { doc_type: MDL.into(), namespace: NS.into(), identifier: id.into() }
}

fn check(v: &VerificationVerdict, kind: VerificationCheckKind) -> CheckOutcome {
    v.checks.iter().find(|c| c.check == kind).unwrap().outcome.clone()
}

fn invalid_code(v: &VerificationVerdict) -> String {
    match &v.overall {
        VerdictOverall::Invalid { failing } => failing.code.clone(),
        o => panic!("expected invalid, got {o:?}"),
    }
}

/// Present the driving licence-check elements `chosen` from `d` to `v`; returns the verdict.
async fn present(d: &Device, v: &Verifier, chosen: &[&str]) -> VerificationVerdict {
    let (holder_end, verifier_end) = LoopbackMdocTransport::pair(FRAME);
    let session = d.core.documents().start_presentation(holder_end).await.unwrap();
    let vs =
        v.start_session(session.engagement_qr(), VerifierRequest::DrivingLicenceCheck, verifier_end).await.unwrap();
    session.await_request().await.unwrap();
    let selection: Vec<ElementSelection> = chosen.iter().map(|c| sel(c)).collect();
    session.approve(selection, PASS.into()).await.unwrap();
    vs.await_response().await.unwrap()
}

async fn revoke(env: &Env, document_id: &str) {
    let http = reqwest::Client::builder()
        .tls_backend_preconfigured(
            citizen_core::net::tls::client_config(std::slice::from_ref(&env.server().ca_cert_pem), &[]).unwrap(),
        )
        .build()
        .unwrap();
    let r = http
        .post(format!("{}{PATH_OFFICIAL_DOCUMENT_REVOKE}", env.server().base_url))
        .header("x-official-token", &env.server().official_token)
        .json(&serde_json::json!({ "document_id": document_id }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

#[tokio::test]
async fn the_driving_licence_is_presented_selectively_and_verified_with_the_network_down() {
    let mut env = Env::new().await;
    let d = citizen(&env).await;
    let v = verifier(&env, "police");
    assert!(v.trust_status().await.unwrap().trust_list_fetched_at.is_none());
    let t = v.refresh_trust().await.unwrap();
    assert!(t.trust_list_fetched_at.is_some() && !t.trust_list_stale && !t.status_list_stale, "{t:?}");
    let idqr = d.core.account().identity_qr(PASS.into()).await.unwrap();
    env.stop().await; // From here on, nobody reaches the server.

    // The short identity QR, offline with the keys the verifier cached.
    let who = v.verify_identity_qr(idqr.text.clone()).await.unwrap();
    assert_eq!((who.cccd_number.as_str(), who.birthdate.as_str(), who.level), (WHO.0, WHO.1, 1));
    let mut bad = idqr.text.clone();
    bad.pop();
    assert!(v.verify_identity_qr(bad).await.unwrap_err().detail().code.starts_with("idqr."));

    let (holder_end, verifier_end) = LoopbackMdocTransport::pair(FRAME);
    let session = d.core.documents().start_presentation(holder_end.clone()).await.unwrap();
    assert!(session.engagement_qr().starts_with("mdoc:"));
    assert_eq!(session.ble_service_uuid().len(), 36);
    let vs =
        v.start_session(session.engagement_qr(), VerifierRequest::DrivingLicenceCheck, verifier_end).await.unwrap();

    // Who asks (an anonymous verifier) and what, labelled.
    let req = session.await_request().await.unwrap();
    assert!(!req.requester.authenticated && req.requester.subject.is_empty());
    assert_eq!(req.elements.len(), 9);
    assert!(req.elements.iter().all(|e| e.held && !e.intent_to_retain && e.doc_type == MDL));
    let bd = req.elements.iter().find(|e| e.identifier == "birth_date").unwrap();
    assert_eq!((bd.label_vi.as_str(), bd.label_en.as_str()), ("Ngày sinh", "Date of birth"));
    assert_eq!(bd.document_type, Some(citizen_core::DocumentType::DrivingLicence));

    // A selection of something not asked for is refused; the session waits for another try.
    let e = session.approve(vec![sel("un_distinguishing_sign")], PASS.into()).await.unwrap_err();
    assert_eq!(e.detail().code, "mdoc.selection_invalid", "{e:?}");
    // A wrong passcode too.
    let e = session.approve(vec![sel("family_name")], "000000".into()).await.unwrap_err();
    assert!(matches!(e, CitizenError::PasscodeRejected { .. }), "{e:?}");

    // Five of the nine: no portrait, no licence number, no dates.
    let before = d.keys.sign_requests().len();
    let chosen = ["family_name", "given_name", "birth_date", "driving_privileges", "issuing_authority"];
    let out = session.approve(chosen.iter().map(|c| sel(c)).collect(), PASS.into()).await.unwrap();
    assert_eq!(out.disclosed.len(), 5);
    assert!(holder_end.is_closed());
    // The device authentication was signed in the key store, user-initiated, for a presentation.
    let purposes: Vec<SignPurpose> = d.keys.sign_requests()[before..].iter().map(|(_, r)| r.purpose).collect();
    assert_eq!(purposes.first(), Some(&SignPurpose::DocumentPresentation), "{purposes:?}");
    assert!(d.keys.sign_requests()[before..].iter().all(|(_, r)| r.user_initiated || r.purpose.is_bookkeeping()));

    let verdict = vs.await_response().await.unwrap();
    assert_eq!(verdict.overall, VerdictOverall::Valid, "{verdict:#?}");
    assert!(verdict.checks.iter().all(|c| c.outcome == CheckOutcome::Passed), "{verdict:#?}");
    assert_eq!(verdict.checks.len(), 8);
    let doc = &verdict.documents[0];
    assert_eq!(doc.document_type, Some(citizen_core::DocumentType::DrivingLicence));
    let mut got: Vec<&str> = doc.elements.iter().map(|e| e.identifier.as_str()).collect();
    got.sort();
    let mut want = chosen.to_vec();
    want.sort();
    assert_eq!(got, want, "exactly the chosen elements");
    assert_eq!(doc.portrait, None);
    let family = doc.elements.iter().find(|e| e.identifier == "family_name").unwrap();
    assert_eq!((family.value.as_str(), family.label_vi.as_str()), ("Nguyễn", "Họ"));
    assert!(verdict.trust.trust_list_fetched_at.is_some());

    // Used once, on both sides.
    for e in [
        session.approve(vec![sel("family_name")], PASS.into()).await.unwrap_err(),
        session.await_request().await.unwrap_err(),
        session.decline().await.unwrap_err(),
        vs.await_response().await.unwrap_err(),
    ] {
        assert_eq!(e.detail().code, "mdoc.session_state", "{e:?}");
    }

    // The citizen keeps a receipt (device-signed, awaiting countersignature) and a log entry.
    let receipts = d.core.consent().list_receipts().await.unwrap();
    let r = receipts.iter().find(|r| r.receipt_id == out.receipt_id).unwrap();
    assert_eq!(r.kind, ConsentKind::InPersonPresentation);
    assert_eq!(r.claims.len(), 5);
    assert!(r.claims.iter().all(|c| c.starts_with("org.iso.18013.5.1.mDL/org.iso.18013.5.1/")), "{:?}", r.claims);
    // It is in the chain: the export verifies (the in-person receipt has no countersignature yet).
    let export = d.core.consent().export_receipts().await.unwrap();
    assert_eq!(citizen_core::verify_receipt_export(export, None).unwrap(), 1);
    let log = d.core.activity().list_entries().await.unwrap();
    let last = log.last().unwrap();
    assert_eq!(last.kind, ActivityKind::DocumentPresentation);
    assert!(last.summary.contains(&out.receipt_id) && !last.summary.contains("Nguyễn"), "{}", last.summary);
}

#[tokio::test]
async fn a_revoked_licence_is_invalid_once_the_verifier_has_the_new_status_list() {
    let env = Env::new().await;
    let d = citizen(&env).await;
    let v = verifier(&env, "police");
    v.refresh_trust().await.unwrap();
    let licence = d.core.documents().list().await.unwrap().into_iter().find(|s| s.doc_type == MDL).unwrap();
    assert_eq!(present(&d, &v, &["family_name"]).await.overall, VerdictOverall::Valid);

    revoke(&env, &licence.id).await;
    // The cached list predates the revocation: still valid, as the verifier can only know the
    // list it holds (its age is in the verdict).
    assert_eq!(present(&d, &v, &["family_name"]).await.overall, VerdictOverall::Valid);
    v.refresh_trust().await.unwrap();
    let verdict = present(&d, &v, &["family_name"]).await;
    assert_eq!(invalid_code(&verdict), "mdoc.revoked");
    assert!(matches!(check(&verdict, VerificationCheckKind::Revocation), CheckOutcome::Failed { .. }));
    assert!(verdict.documents.is_empty(), "nothing shown of a revoked document");
}

#[tokio::test]
async fn a_stale_status_list_is_partly_unchecked_never_valid() {
    let env = Env::new().await;
    let d = citizen(&env).await;
    let v = verifier(&env, "police");
    v.refresh_trust().await.unwrap();
    // The status list expires after a day; the trust list and the documents are still valid.
    env.clock.advance(25 * 3600);
    let status = v.trust_status().await.unwrap();
    assert!(status.status_list_stale && !status.trust_list_stale, "{status:?}");
    let verdict = present(&d, &v, &["family_name", "birth_date"]).await;
    assert_eq!(verdict.overall, VerdictOverall::PartlyUnchecked, "{verdict:#?}");
    match check(&verdict, VerificationCheckKind::Revocation) {
        CheckOutcome::NotChecked { detail } => assert_eq!(detail.code, "mdoc.status_list_stale"),
        o => panic!("{o:?}"),
    }
    assert_eq!(check(&verdict, VerificationCheckKind::DeviceAuthentication), CheckOutcome::Passed);
    assert!(verdict.trust.age.as_secs() >= 25 * 3600);

    // A verifier whose operator allows no age at all: stale at once.
    let mut c =
        default_verifier_config(env.server().base_url.clone(), env.dir.path().join("strict").display().to_string());
    c.trust_anchors_pem = vec![env.server().ca_cert_pem.clone()];
    c.status_list_max_age = Some(std::time::Duration::ZERO);
    let strict = Verifier::with_clock(c, env.clock.clone()).unwrap();
    strict.refresh_trust().await.unwrap();
    assert_eq!(present(&d, &strict, &["family_name"]).await.overall, VerdictOverall::PartlyUnchecked);
}

#[tokio::test]
async fn a_document_from_an_issuer_outside_the_verifiers_trust_list_is_invalid() {
    let env = Env::new().await;
    let d = citizen(&env).await;
    // Another authority's server, with its own IACA: this verifier trusts only that one.
    let other = Env::new().await;
    let v = verifier(&other, "elsewhere");
    v.refresh_trust().await.unwrap();
    let verdict = present(&d, &v, &["family_name"]).await;
    assert_eq!(invalid_code(&verdict), "mdoc.issuer_untrusted");
    assert!(matches!(check(&verdict, VerificationCheckKind::IssuerChain), CheckOutcome::Failed { .. }));
    assert_eq!(check(&verdict, VerificationCheckKind::Session), CheckOutcome::Passed);
    assert_eq!(check(&verdict, VerificationCheckKind::DeviceAuthentication), CheckOutcome::NotReached);
    assert!(verdict.documents.is_empty());
}

#[tokio::test]
async fn a_declined_request_is_an_invalid_verdict_and_stores_no_receipt() {
    let env = Env::new().await;
    let d = citizen(&env).await;
    let v = verifier(&env, "bank");
    v.refresh_trust().await.unwrap();
    let receipts_before = d.core.consent().list_receipts().await.unwrap().len();
    let (holder_end, verifier_end) = LoopbackMdocTransport::pair(FRAME);
    let session = d.core.documents().start_presentation(holder_end).await.unwrap();
    let vs = v.start_session(session.engagement_qr(), VerifierRequest::AgeOver18, verifier_end).await.unwrap();
    let req = session.await_request().await.unwrap();
    assert_eq!(req.elements.len(), 2);
    session.decline().await.unwrap();
    let verdict = vs.await_response().await.unwrap();
    assert_eq!(invalid_code(&verdict), "mdoc.session_ended");
    assert_eq!(d.core.consent().list_receipts().await.unwrap().len(), receipts_before);
    assert_eq!(session.decline().await.unwrap_err().detail().code, "mdoc.session_state");
}

#[tokio::test]
async fn a_verifier_without_a_trust_list_and_a_bad_qr_code_are_refused() {
    let env = Env::new().await;
    let v = verifier(&env, "new");
    let (_, verifier_end) = LoopbackMdocTransport::pair(FRAME);
    let e = v.start_session("mdoc:AAAA".into(), VerifierRequest::AgeOver18, verifier_end.clone()).await.err().unwrap();
    assert_eq!(e.detail().code, "verifier.no_trust_list");
    v.refresh_trust().await.unwrap();
    let e = v.start_session("mdoc:AAAA".into(), VerifierRequest::AgeOver18, verifier_end).await.err().unwrap();
    assert_eq!(e.detail().code, "mdoc.engagement_invalid");
    // A wallet without documents has nothing to present.
    let empty = env.enrolled("empty", ("079195000002", "1995-06-30", "+84900000002")).await;
    let (holder_end, _) = LoopbackMdocTransport::pair(FRAME);
    let e = empty.core.documents().start_presentation(holder_end).await.err().unwrap();
    assert_eq!(e.detail().code, "presentation.no_documents");
}

/// A reader certificate issued under the server's reader root, authorised for `elements` of the
/// driving licence.
fn reader_key(env: &Env, elements: &[&str]) -> citizen_mdoc::ReaderAuthKey {
    reader_key_valid(env, elements, (2024, 1, 1), (2040, 1, 1))
}

/// [`reader_key`] valid from `from` to `until` (year, month, day).
fn reader_key_valid(
    env: &Env,
    elements: &[&str],
    from: (i32, u8, u8),
    until: (i32, u8, u8),
) -> citizen_mdoc::ReaderAuthKey {
    use p256::pkcs8::EncodePrivateKey;
    use rcgen::{
        BasicConstraints, CertificateParams, CustomExtension, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
        KeyUsagePurpose,
    };
    let dir = env.dir.path().join("server/documents");
    let root_key = KeyPair::from_pem(&std::fs::read_to_string(dir.join("reader-root-key.pem")).unwrap()).unwrap();
    // The root's parameters as the server builds them (the issuer name must match).
    let mut root = CertificateParams::new(Vec::<String>::new()).unwrap();
    root.distinguished_name.push(DnType::CountryName, "VN");
    root.distinguished_name.push(DnType::OrganizationName, "citizen-core demo issuers (not for production)");
    root.distinguished_name.push(DnType::CommonName, "citizen-core demo reader authentication root");
    root.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    root.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let issuer = Issuer::new(root, root_key);
    let key = p256::ecdsa::SigningKey::random(&mut p256::elliptic_curve::rand_core::OsRng);
    let leaf_key = KeyPair::try_from(key.to_pkcs8_der().unwrap().as_bytes()).unwrap();
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name.push(DnType::CommonName, "Cảnh sát giao thông (demo reader)");
    p.distinguished_name.push(DnType::OrganizationName, "Bộ Công an (demo)");
    p.not_before = rcgen::date_time_ymd(from.0, from.1, from.2);
    p.not_after = rcgen::date_time_ymd(until.0, until.1, until.2);
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::Other(vec![1, 0, 18013, 5, 1, 6])];
    let mut authorised = citizen_mdoc::AuthorisedElements::new();
    authorised.entry(MDL.into()).or_default().insert(NS.into(), elements.iter().map(|e| e.to_string()).collect());
    let arcs: Vec<u64> = citizen_mdoc::READER_AUTHORISATION_OID.split('.').map(|x| x.parse().unwrap()).collect();
    p.custom_extensions =
        vec![CustomExtension::from_oid_content(&arcs, citizen_mdoc::encode_reader_authorisation(&authorised))];
    let cert = p.signed_by(&leaf_key, &issuer).unwrap().der().to_vec();
    citizen_mdoc::ReaderAuthKey::new(key, &[cert]).unwrap()
}

async fn send(t: &Arc<LoopbackMdocTransport>, message: &[u8]) {
    for f in split_frames(message, usize::try_from(FRAME).unwrap()) {
        t.send_frame(f).await.unwrap();
    }
}

async fn receive(t: &Arc<LoopbackMdocTransport>) -> Vec<u8> {
    let mut r = Reassembler::new(1 << 20);
    loop {
        if let Some(m) = r.push(&t.receive_frame().await.unwrap()).unwrap() {
            return m;
        }
    }
}

#[tokio::test]
async fn an_authenticated_reader_is_shown_and_one_asking_beyond_its_authorisation_is_refused() {
    let env = Env::new().await;
    let d = citizen(&env).await;
    let now = env.clock.now();
    let request =
        citizen_mdoc::DocumentRequest::new(MDL).element(NS, "family_name", false).element(NS, "birth_date", true);

    // Authorised for both: shown with its organisation, intent to retain flagged.
    let (holder_end, reader_end) = LoopbackMdocTransport::pair(FRAME);
    let session = d.core.documents().start_presentation(holder_end).await.unwrap();
    let key = reader_key(&env, &["family_name", "birth_date"]);
    let (mut reader, establishment) =
        citizen_mdoc::ReaderSession::start(&session.engagement_qr(), std::slice::from_ref(&request), Some(&key))
            .unwrap();
    send(&reader_end, &establishment).await;
    let req = session.await_request().await.unwrap();
    assert!(req.requester.authenticated && req.requester.states_authorisation, "{req:?}");
    assert_eq!(req.requester.organisation.as_deref(), Some("Bộ Công an (demo)"));
    assert!(req.elements.iter().any(|e| e.identifier == "birth_date" && e.intent_to_retain));
    let out = session.approve(vec![sel("birth_date")], PASS.into()).await.unwrap();
    let response = receive(&reader_end).await;
    // Checked by the crate's reader directly against the server's IACA.
    let iaca = std::fs::read(env.dir.path().join("server/documents/iaca.der")).unwrap();
    let verdict = reader.handle_response(&response, &[citizen_mdoc::TrustAnchor::from_der(&iaca).unwrap()], now);
    assert!(verdict.is_valid(), "{verdict:?}");
    let receipts = d.core.consent().list_receipts().await.unwrap();
    let r = receipts.iter().find(|r| r.receipt_id == out.receipt_id).unwrap();
    assert!(r.relying_party_id.contains("Cảnh sát giao thông (demo reader)"), "{r:?}");
    assert_eq!(r.purpose, "in_person_retained");

    // Authorised for the name only, asking the birth date too: refused, the reader is told.
    let (holder_end, reader_end) = LoopbackMdocTransport::pair(FRAME);
    let session = d.core.documents().start_presentation(holder_end).await.unwrap();
    let key = reader_key(&env, &["family_name"]);
    let (_, establishment) =
        citizen_mdoc::ReaderSession::start(&session.engagement_qr(), std::slice::from_ref(&request), Some(&key))
            .unwrap();
    send(&reader_end, &establishment).await;
    let e = session.await_request().await.unwrap_err();
    assert_eq!(e.detail().code, "mdoc.reader_not_authorised", "{e:?}");
    assert_eq!(receive(&reader_end).await, citizen_mdoc::session_termination());
    assert_eq!(
        session.approve(vec![sel("family_name")], PASS.into()).await.unwrap_err().detail().code,
        "mdoc.session_state"
    );
}

/// A reader whose certificate, under the right root and authorised for what it asks, is expired
/// (or not valid yet) at the phone's clock is refused before anything is shown to the citizen,
/// and the reader is told; the phone keeps its documents.
#[tokio::test]
async fn a_reader_with_an_expired_or_not_yet_valid_certificate_is_refused_by_the_phone() {
    let env = Env::new().await;
    let d = citizen(&env).await;
    let request = citizen_mdoc::DocumentRequest::new(MDL).element(NS, "birth_date", false);
    for (from, until) in [((2020, 1, 1), (2021, 1, 1)), ((2090, 1, 1), (2091, 1, 1))] {
        let (holder_end, reader_end) = LoopbackMdocTransport::pair(FRAME);
        let session = d.core.documents().start_presentation(holder_end).await.unwrap();
        let key = reader_key_valid(&env, &["birth_date"], from, until);
        let (_, establishment) =
            citizen_mdoc::ReaderSession::start(&session.engagement_qr(), std::slice::from_ref(&request), Some(&key))
                .unwrap();
        send(&reader_end, &establishment).await;
        let e = session.await_request().await.unwrap_err();
        assert_eq!(e.detail().code, "mdoc.reader_certificate_expired", "{from:?}..{until:?}: {e:?}");
        assert_eq!(receive(&reader_end).await, citizen_mdoc::session_termination());
    }
    assert_eq!(d.core.documents().list().await.unwrap().len(), 4);
}

/// The holder's view of the verifier `v` asking `request`, and what the verifier concludes.
async fn ask(
    d: &Device,
    v: &Verifier,
    request: VerifierRequest,
) -> (
    Arc<citizen_core::PresentationSession>,
    Result<citizen_core::PresentationRequestInfo, CitizenError>,
    Arc<citizen_core::VerifierSession>,
) {
    let (holder_end, verifier_end) = LoopbackMdocTransport::pair(FRAME);
    let session = d.core.documents().start_presentation(holder_end).await.unwrap();
    let vs = v.start_session(session.engagement_qr(), request, verifier_end).await.unwrap();
    let req = session.await_request().await;
    (session, req, vs)
}

#[tokio::test]
async fn an_enrolled_police_verifier_is_shown_by_name_and_a_hospital_asking_for_licence_categories_is_refused() {
    let mut env = Env::new().await;
    let d = citizen(&env).await;
    let police = verifier(&env, "police");
    // Enrolment needs the trust list (to check the certificate it gets) and the officials' token.
    let e = police.enrol_reader(env.server().official_token.clone(), VerifierRole::TrafficPolice).await.unwrap_err();
    assert_eq!(e.detail().code, "verifier.no_trust_list");
    police.refresh_trust().await.unwrap();
    let e = police.enrol_reader("not-the-token".into(), VerifierRole::TrafficPolice).await.unwrap_err();
    assert!(format!("{e:?}").contains("official_unauthorized"), "{e:?}");
    assert_eq!(police.enrolled_reader().await.unwrap(), None);
    let enrolled = police.enrol_reader(env.server().official_token.clone(), VerifierRole::TrafficPolice).await.unwrap();
    assert_eq!((enrolled.name_vi.as_str(), enrolled.name_en.as_str()), ("Cảnh sát giao thông", "Traffic police"));
    assert_eq!(enrolled.common_name.as_deref(), Some("Cảnh sát giao thông / Traffic police (demo reader)"));
    assert_eq!(police.enrolled_reader().await.unwrap(), Some(enrolled.clone()));
    // The key stays in the verifier's directory, readable by its owner only.
    let file = env.dir.path().join("police").join("reader-auth.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let hospital = verifier(&env, "hospital");
    hospital.refresh_trust().await.unwrap();
    hospital.enrol_reader(env.server().official_token.clone(), VerifierRole::Hospital).await.unwrap();
    env.stop().await; // Presentations are offline.

    // The police: authenticated, named in Vietnamese and English, authorised for the check.
    let (session, req, vs) = ask(&d, &police, VerifierRequest::DrivingLicenceCheck).await;
    let req = req.unwrap();
    assert!(req.requester.authenticated && req.requester.states_authorisation, "{req:?}");
    assert_eq!(req.requester.common_name, enrolled.common_name);
    let out = session.approve(vec![sel("family_name"), sel("driving_privileges")], PASS.into()).await.unwrap();
    let verdict = vs.await_response().await.unwrap();
    assert_eq!(verdict.overall, VerdictOverall::Valid, "{verdict:#?}");
    let receipts = d.core.consent().list_receipts().await.unwrap();
    let r = receipts.iter().find(|r| r.receipt_id == out.receipt_id).unwrap();
    assert!(r.relying_party_id.contains("Traffic police"), "{r:?}");

    // The hospital may see identity elements of the licence, not its categories or number.
    let (_session, req, vs) = ask(&d, &hospital, VerifierRequest::DrivingLicenceCheck).await;
    assert_eq!(req.unwrap_err().detail().code, "mdoc.reader_not_authorised");
    assert!(matches!(vs.await_response().await.unwrap().overall, VerdictOverall::Invalid { .. }));
    let (session, req, vs) = ask(&d, &hospital, VerifierRequest::AgeOver18).await;
    let req = req.unwrap();
    assert!(req.requester.authenticated, "{req:?}");
    assert_eq!(
        req.requester.common_name.as_deref(),
        Some("Bệnh viện (quầy tiếp đón) / Hospital reception (demo reader)")
    );
    session.approve(vec![sel("birth_date")], PASS.into()).await.unwrap();
    assert_eq!(vs.await_response().await.unwrap().overall, VerdictOverall::Valid);
}

#[tokio::test]
async fn a_reader_certified_by_another_authority_is_refused_not_shown() {
    let env = Env::new().await;
    let d = citizen(&env).await;
    let other = Env::new().await;
    let v = verifier(&other, "foreign");
    v.refresh_trust().await.unwrap();
    v.enrol_reader(other.server().official_token.clone(), VerifierRole::TrafficPolice).await.unwrap();
    let (_session, req, vs) = ask(&d, &v, VerifierRequest::AgeOver18).await;
    assert_eq!(req.unwrap_err().detail().code, "mdoc.reader_untrusted");
    assert!(matches!(vs.await_response().await.unwrap().overall, VerdictOverall::Invalid { .. }));
}

/// POST `body` to the server of `env` without a token; the status and the JSON answer.
async fn post_json(env: &Env, path: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
    let http = reqwest::Client::builder()
        .tls_backend_preconfigured(
            citizen_core::net::tls::client_config(std::slice::from_ref(&env.server().ca_cert_pem), &[]).unwrap(),
        )
        .build()
        .unwrap();
    let r = http.post(format!("{}{path}", env.server().base_url)).json(body).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or_default())
}

#[tokio::test]
async fn an_offline_presentation_is_countersigned_when_online_and_a_forged_or_replayed_sync_is_refused() {
    use citizen_core::protocol::rp::{receipt_sync_subject, ConsentReceipt, PATH_RECEIPTS_IN_PERSON};
    use citizen_core::protocol::{Purpose, SignedStatement, Statement};
    use citizen_core::DeviceKeyStore as _;

    let mut env = Env::new().await;
    let d = citizen(&env).await;
    let v = verifier(&env, "police");
    v.refresh_trust().await.unwrap();
    env.stop().await;
    assert_eq!(present(&d, &v, &["family_name"]).await.overall, VerdictOverall::Valid);
    let receipts = d.core.consent().list_receipts().await.unwrap();
    let r = receipts.iter().find(|r| r.kind == ConsentKind::InPersonPresentation).unwrap().clone();
    assert!(r.awaiting_countersignature);
    // Offline: the sync fails, the receipt stays pending, the export says so and verifies.
    assert!(d.core.consent().sync_receipts().await.is_err());
    let export = d.core.consent().export_receipts().await.unwrap();
    let mut x: serde_json::Value = serde_json::from_str(&export).unwrap();
    assert_eq!(x["pending_countersignature"], serde_json::json!([r.receipt_id]));
    assert_eq!(citizen_core::verify_receipt_export(export.clone(), None).unwrap(), 1);
    // Not listed as pending, an empty countersignature is refused.
    x.as_object_mut().unwrap().remove("pending_countersignature");
    let e = citizen_core::verify_receipt_export(x.to_string(), None).unwrap_err();
    assert_eq!(e.detail().code, "consent.countersignature_invalid");

    // Online again: sent, countersigned, checked and stored; nothing left to send.
    env.restart().await;
    assert_eq!(d.core.consent().sync_receipts().await.unwrap(), 1);
    assert_eq!(d.core.consent().sync_receipts().await.unwrap(), 0);
    let receipts = d.core.consent().list_receipts().await.unwrap();
    assert!(!receipts.iter().find(|x| x.receipt_id == r.receipt_id).unwrap().awaiting_countersignature);
    let export = d.core.consent().export_receipts().await.unwrap();
    let x: serde_json::Value = serde_json::from_str(&export).unwrap();
    assert!(x.get("pending_countersignature").is_none(), "{x}");
    let stored = x["receipts"].as_array().unwrap().iter().find(|s| s["receipt"]["receipt_id"] == r.receipt_id).unwrap();
    assert!(!stored["countersignature"].as_str().unwrap().is_empty());
    assert_eq!(citizen_core::verify_receipt_export(export.clone(), None).unwrap(), 1);

    // Straight to the endpoint, with requests signed by the device key as the core's would be.
    let receipt: ConsentReceipt = serde_json::from_value(stored["receipt"].clone()).unwrap();
    let original: SignedStatement = serde_json::from_value(stored["device_statement"].clone()).unwrap();
    let device_id = receipt.device_id.clone();
    let sign = |nonce: String, subject: String, counter: u64| {
        let statement = Statement {
            purpose: Purpose::Activity,
            audience: env.server().audience.clone(),
            nonce,
            device_id: device_id.clone(),
            counter,
            issued_at: env.clock.now(),
            subject,
        };
        let sig = crate::env::ready(d.keys.sign(
            format!("citizen-core.device.{device_id}"),
            statement.canonical_bytes(),
            crate::env::user_request(SignPurpose::ActivityAnchor),
        ))
        .unwrap();
        let signature = citizen_core::crypto::b64(&citizen_core::crypto::normalize_signature(&sig).unwrap().to_bytes());
        SignedStatement { statement, signature }
    };
    let body = |receipt: &ConsentReceipt, signed: &SignedStatement, sync: &SignedStatement| serde_json::json!({ "receipt": receipt, "signed": signed, "sync": sync });
    let sync = sign(receipt.digest(), receipt_sync_subject(&receipt.receipt_id), 100_000);
    // Asked again (an answer lost on the way): the same receipt countersigned again.
    let (status, answer) = post_json(&env, PATH_RECEIPTS_IN_PERSON, &body(&receipt, &original, &sync)).await;
    assert_eq!(status, 200, "{answer}");
    // The very same request replayed: its counter was used.
    let (status, answer) = post_json(&env, PATH_RECEIPTS_IN_PERSON, &body(&receipt, &original, &sync)).await;
    assert_eq!((status, answer["code"].as_str()), (401, Some("counter_replay")), "{answer}");
    // A sync statement naming another receipt, or another digest.
    let other = sign(receipt.digest(), receipt_sync_subject("another"), 100_001);
    let (status, answer) = post_json(&env, PATH_RECEIPTS_IN_PERSON, &body(&receipt, &original, &other)).await;
    assert_eq!((status, answer["code"].as_str()), (401, Some("signature_invalid")), "{answer}");
    // A receipt altered after the fact (another reader): its own statement no longer names it.
    let mut altered = receipt.clone();
    altered.receipt_id = uuid::Uuid::new_v4().to_string();
    altered.rp_name = "Someone else".into();
    let sync = sign(altered.digest(), receipt_sync_subject(&altered.receipt_id), 100_002);
    let (status, answer) = post_json(&env, PATH_RECEIPTS_IN_PERSON, &body(&altered, &original, &sync)).await;
    assert_eq!((status, answer["code"].as_str()), (401, Some("signature_invalid")), "{answer}");
    // A forged receipt statement (signature of another message).
    let mut forged = original.clone();
    forged.signature = sign("x".into(), "y".into(), 1).signature;
    let mut fresh = receipt.clone();
    fresh.receipt_id = uuid::Uuid::new_v4().to_string();
    let sync = sign(fresh.digest(), receipt_sync_subject(&fresh.receipt_id), 100_003);
    let (status, answer) = post_json(&env, PATH_RECEIPTS_IN_PERSON, &body(&fresh, &forged, &sync)).await;
    assert_eq!((status, answer["code"].as_str()), (401, Some("signature_invalid")), "{answer}");
    // Another kind of receipt is not countersigned here.
    let mut share = receipt.clone();
    share.kind = citizen_core::protocol::rp::ReceiptKind::DataShare;
    let sync = sign(share.digest(), receipt_sync_subject(&share.receipt_id), 100_004);
    let (status, _) = post_json(&env, PATH_RECEIPTS_IN_PERSON, &body(&share, &original, &sync)).await;
    assert_eq!(status, 400);
}
