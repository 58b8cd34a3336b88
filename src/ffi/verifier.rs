//! The verifier mode (`Verifier`, issue 13 item 3): a police, hospital or bank device checks a
//! document presented in person, offline, with the trust list and the token status list it
//! cached when online. No enrolled account is needed. Thin wrappers over [`crate::verifier`].

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use citizen_mdoc::DocumentRequest;

use super::documents::DocumentType;
use super::errors::CitizenError;
use super::runtime;
use super::types::{opt_time, time};
use crate::clock::{SharedClock, SystemClock};
use crate::documents::display_value;
use crate::error::ErrorDetail;
use crate::net::{Net, NetConfig};
use crate::platform::MdocTransport;
use crate::protocol::documents::{element_label, DocumentKind, ReaderRole};
use crate::verifier::{CheckKind, CheckState, Overall, ReaderEnrolment, TrustState, Verification, VerifierEngine};

/// Everything a verifier needs: where the server is, how to trust it, where to cache.
#[derive(Clone, Debug, uniffi::Record)]
pub struct VerifierConfig {
    /// Base URL of the identity server that publishes the trust list and the status list.
    pub server_base_url: String,
    /// Directory for the cached lists (public data; created if missing).
    pub data_dir: String,
    /// PEM certificates to trust instead of the platform roots; empty = platform roots.
    #[uniffi(default = [])]
    pub trust_anchors_pem: Vec<String>,
    /// SPKI pins (as `CoreConfig.spki_pins`).
    #[uniffi(default = [])]
    pub spki_pins: Vec<String>,
    /// Allow plain `http://` to loopback hosts (development only).
    #[uniffi(default = false)]
    pub allow_insecure_loopback: bool,
    /// Treat the cached status list as stale this long after it was issued, even before it
    /// expires (`None`: stale only when expired, 24 h). Revocation against a stale list is
    /// reported as not checked, never as valid.
    #[uniffi(default)]
    pub status_list_max_age: Option<Duration>,
    /// For tests only (an expired document, clock-pinned vectors): judge every validity window
    /// (MSO, certificates, list freshness, reader enrolment) as if the clock read this fixed
    /// instant. `None` (the default, and the only value a deployed verifier may use): the
    /// system clock. Honoured by `Verifier.open` (ARCHITECTURE.md decision 51).
    #[uniffi(default)]
    pub pinned_clock: Option<SystemTime>,
}

/// A verifier configuration with safe defaults (platform roots, no pins, HTTPS only). Pure:
/// main-safe, never throws.
#[uniffi::export]
pub fn default_verifier_config(server_base_url: String, data_dir: String) -> VerifierConfig {
    VerifierConfig {
        server_base_url,
        data_dir,
        trust_anchors_pem: vec![],
        spki_pins: vec![],
        allow_insecure_loopback: false,
        status_list_max_age: None,
        pinned_clock: None,
    }
}

/// How old the verifier's cached lists are.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct TrustStatus {
    /// When the trust list (issuer and reader roots) was fetched; `None`: never.
    pub trust_list_fetched_at: Option<SystemTime>,
    /// When the server publishes a fresher trust list; past it the list is stale.
    pub trust_list_next_update: Option<SystemTime>,
    /// When the token status list (revocations) was fetched.
    pub status_list_fetched_at: Option<SystemTime>,
    /// When the status list expires.
    pub status_list_expires_at: Option<SystemTime>,
    /// How long ago the trust list was fetched (zero when never).
    pub age: Duration,
    /// The trust list is missing or past its update date.
    pub trust_list_stale: bool,
    /// The status list is missing, expired or older than the configured maximum age:
    /// revocation will be reported as not checked.
    pub status_list_stale: bool,
}

impl From<&TrustState> for TrustStatus {
    fn from(t: &TrustState) -> Self {
        TrustStatus {
            trust_list_fetched_at: opt_time(t.trust_list_fetched_at),
            trust_list_next_update: opt_time(t.trust_list_next_update),
            status_list_fetched_at: opt_time(t.status_list_fetched_at),
            status_list_expires_at: opt_time(t.status_list_expires_at),
            age: Duration::from_secs(u64::try_from(t.age_secs).unwrap_or(0)),
            trust_list_stale: t.trust_list_stale,
            status_list_stale: t.status_list_stale,
        }
    }
}

/// One element a custom request asks for.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct RequestedElementSpec {
    /// Namespace (for the driving licence `org.iso.18013.5.1`).
    pub namespace: String,
    /// Element identifier.
    pub identifier: String,
    /// The verifier will keep the value after the session (shown to the citizen).
    pub intent_to_retain: bool,
}

/// What the verifier asks the citizen to show.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum VerifierRequest {
    /// A traffic check of the driving licence: name, birth date, portrait, categories, number,
    /// dates and issuing authority; nothing retained.
    DrivingLicenceCheck,
    /// An age check: the driving licence's birth date and portrait; nothing retained.
    AgeOver18,
    /// Any elements of one document.
    Custom {
        /// docType (`org.iso.18013.5.1.mDL`, `vn.gov.cccd.1`, …).
        doc_type: String,
        /// The elements.
        elements: Vec<RequestedElementSpec>,
    },
}

/// The elements of the driving-licence check.
pub(crate) const DRIVING_LICENCE_CHECK: [&str; 9] = [
    "family_name",
    "given_name",
    "birth_date",
    "portrait",
    "driving_privileges",
    "document_number",
    "issue_date",
    "expiry_date",
    "issuing_authority",
];

impl VerifierRequest {
    pub(crate) fn document_request(&self) -> DocumentRequest {
        let mdl = DocumentKind::DrivingLicence;
        let preset = |ids: &[&str]| {
            ids.iter().fold(DocumentRequest::new(mdl.doc_type()), |r, id| r.element(mdl.namespace(), id, false))
        };
        match self {
            VerifierRequest::DrivingLicenceCheck => preset(&DRIVING_LICENCE_CHECK),
            VerifierRequest::AgeOver18 => preset(&["birth_date", "portrait"]),
            VerifierRequest::Custom { doc_type, elements } => {
                elements.iter().fold(DocumentRequest::new(doc_type.clone()), |r, e| {
                    r.element(&e.namespace, &e.identifier, e.intent_to_retain)
                })
            }
        }
    }
}

/// The answer of a verification.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum VerdictOverall {
    /// Every check held: issuer, signature, each element, validity, device, revocation.
    Valid,
    /// A check failed: do not trust the document. `failing` says which and why (vi/en).
    Invalid {
        /// The failing check's code and message (`mdoc.revoked`, `mdoc.digest_mismatch`, …).
        failing: ErrorDetail,
    },
    /// No check failed but some could not be done (a stale status list, an old trust list):
    /// never to be read as valid; see the checks.
    PartlyUnchecked,
}

/// The checks of a verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum VerificationCheckKind {
    /// The trust list is current (not past its update date).
    TrustList,
    /// The session: decryption, message structure, the citizen did not decline.
    Session,
    /// The issuer's certificate chains to a root of the trust list and is a document signer.
    IssuerChain,
    /// The issuer's signature over the mobile security object.
    MsoSignature,
    /// Each disclosed element against the digest the issuer signed.
    ElementDigests,
    /// The document's validity window and the issuer certificates' validity.
    Validity,
    /// The presenting phone proved it holds the document's key, in this session.
    DeviceAuthentication,
    /// Not revoked, per the cached token status list.
    Revocation,
}

/// The outcome of one check.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum CheckOutcome {
    /// It holds.
    Passed,
    /// It failed.
    Failed {
        /// Why (code and vi/en message).
        detail: ErrorDetail,
    },
    /// It could not be done; never read as passed.
    NotChecked {
        /// Why (code and vi/en message).
        detail: ErrorDetail,
    },
    /// An earlier check failed, so this one did not run.
    NotReached,
}

/// One check and its outcome.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct VerificationCheck {
    /// Which check.
    pub check: VerificationCheckKind,
    /// Its outcome.
    pub outcome: CheckOutcome,
}

/// One disclosed element, labelled.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct DisclosedElement {
    /// Namespace.
    pub namespace: String,
    /// Element identifier.
    pub identifier: String,
    /// Label in Vietnamese.
    pub label_vi: String,
    /// Label in English.
    pub label_en: String,
    /// The value as text (dates `YYYY-MM-DD`; licence categories `B: from → to`).
    pub value: String,
}

/// A document as verified, with what the citizen disclosed.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct DisclosedDocument {
    /// docType.
    pub doc_type: String,
    /// The document, when it is one of the four this system issues.
    pub document_type: Option<DocumentType>,
    /// The document signer's certificate subject.
    pub issuer: String,
    /// End of the signed validity.
    pub valid_until: SystemTime,
    /// The disclosed elements except the portrait.
    pub elements: Vec<DisclosedElement>,
    /// The portrait (JPEG) when disclosed.
    pub portrait: Option<Vec<u8>>,
}

/// The verifier's structured answer, in Vietnamese and English.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct VerificationVerdict {
    /// Valid, invalid (with the failing check) or partly unchecked.
    pub overall: VerdictOverall,
    /// Every check in order.
    pub checks: Vec<VerificationCheck>,
    /// The verified documents (empty when invalid: nothing is shown half-verified).
    pub documents: Vec<DisclosedDocument>,
    /// How old the trust list and the status list were.
    pub trust: TrustStatus,
}

impl From<&Verification> for VerificationVerdict {
    fn from(v: &Verification) -> Self {
        let overall = match v.overall {
            Overall::Valid => VerdictOverall::Valid,
            Overall::Invalid(m) => VerdictOverall::Invalid { failing: m.detail() },
            Overall::PartlyUnchecked => VerdictOverall::PartlyUnchecked,
        };
        let checks = v
            .checks
            .iter()
            .map(|(k, s)| VerificationCheck {
                check: match k {
                    CheckKind::TrustList => VerificationCheckKind::TrustList,
                    CheckKind::Session => VerificationCheckKind::Session,
                    CheckKind::IssuerChain => VerificationCheckKind::IssuerChain,
                    CheckKind::MsoSignature => VerificationCheckKind::MsoSignature,
                    CheckKind::ElementDigests => VerificationCheckKind::ElementDigests,
                    CheckKind::Validity => VerificationCheckKind::Validity,
                    CheckKind::DeviceAuthentication => VerificationCheckKind::DeviceAuthentication,
                    CheckKind::Revocation => VerificationCheckKind::Revocation,
                },
                outcome: match s {
                    CheckState::Passed => CheckOutcome::Passed,
                    CheckState::Failed(m) => CheckOutcome::Failed { detail: m.detail() },
                    CheckState::Unchecked(m) => CheckOutcome::NotChecked { detail: m.detail() },
                    CheckState::NotReached => CheckOutcome::NotReached,
                },
            })
            .collect();
        let documents = v
            .documents
            .iter()
            .map(|d| {
                let mut portrait = None;
                let mut elements = Vec::new();
                for (ns, items) in &d.elements {
                    for (id, value) in items {
                        if id == "portrait" {
                            if let citizen_mdoc::CborValue::Bytes(b) = value {
                                portrait = Some(b.clone());
                                continue;
                            }
                        }
                        let (vi, en) = element_label(id);
                        let (label_vi, label_en) =
                            if vi.is_empty() { (id.clone(), id.clone()) } else { (vi.into(), en.into()) };
                        elements.push(DisclosedElement {
                            namespace: ns.clone(),
                            identifier: id.clone(),
                            label_vi,
                            label_en,
                            value: display_value(value),
                        });
                    }
                }
                DisclosedDocument {
                    doc_type: d.doc_type.clone(),
                    document_type: DocumentKind::from_doc_type(&d.doc_type).map(DocumentType::from),
                    issuer: d.issuer.clone(),
                    valid_until: time(d.valid_until_unix),
                    elements,
                    portrait,
                }
            })
            .collect();
        VerificationVerdict { overall, checks, documents, trust: TrustStatus::from(&v.trust) }
    }
}

/// The demo verifiers a reader certificate can be issued for (decision 45); each may ask for a
/// fixed set of documents and elements, written into its certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum VerifierRole {
    /// Traffic police: the driving licence, the vehicle registration, identity from the CCCD.
    TrafficPolice,
    /// A hospital's reception: the health-insurance card and identity elements.
    Hospital,
    /// A bank counter: the CCCD and the driving licence's identity elements.
    BankCounter,
}

impl From<VerifierRole> for ReaderRole {
    fn from(r: VerifierRole) -> Self {
        match r {
            VerifierRole::TrafficPolice => ReaderRole::TrafficPolice,
            VerifierRole::Hospital => ReaderRole::Hospital,
            VerifierRole::BankCounter => ReaderRole::BankCounter,
        }
    }
}

impl From<ReaderRole> for VerifierRole {
    fn from(r: ReaderRole) -> Self {
        match r {
            ReaderRole::TrafficPolice => VerifierRole::TrafficPolice,
            ReaderRole::Hospital => VerifierRole::Hospital,
            ReaderRole::BankCounter => VerifierRole::BankCounter,
        }
    }
}

/// The verifier's reader identity: what the citizen's phone shows before anything is chosen.
/// No key material (the reader key never leaves the verifier's data directory).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct EnrolledReader {
    /// The role certified.
    pub role: VerifierRole,
    /// The reader certificate's subject (`CN=…, O=…`).
    pub subject: String,
    /// Its common name as the citizen sees it (`Vietnamese / English`).
    pub common_name: Option<String>,
    /// The role's name in Vietnamese.
    pub name_vi: String,
    /// The role's name in English.
    pub name_en: String,
    /// End of the certificate's validity: enrol again before it.
    pub not_after: SystemTime,
}

impl From<ReaderEnrolment> for EnrolledReader {
    fn from(r: ReaderEnrolment) -> Self {
        let (vi, en) = r.role.names();
        EnrolledReader {
            role: r.role.into(),
            subject: r.subject,
            common_name: r.common_name,
            name_vi: vi.into(),
            name_en: en.into(),
            not_after: time(r.not_after),
        }
    }
}

/// A clock stopped at one instant (`VerifierConfig::pinned_clock`), Unix seconds.
struct PinnedClock(i64);

impl crate::clock::Clock for PinnedClock {
    fn now(&self) -> i64 {
        self.0
    }
}

/// The clock `Verifier.open` uses: the pinned instant if the configuration has one (tests),
/// otherwise the system clock.
fn clock_of(config: &VerifierConfig) -> SharedClock {
    match config.pinned_clock {
        Some(at) => Arc::new(PinnedClock(super::types::unix(at))),
        None => Arc::new(SystemClock),
    }
}

/// A verifier (police, hospital, bank counter, kiosk): no enrolled account. Refresh its trust
/// when online; verify in-person presentations offline.
#[derive(uniffi::Object)]
pub struct Verifier {
    engine: Arc<VerifierEngine>,
}

impl Verifier {
    /// Rust-only constructor with an injected clock (tests, CLI).
    pub fn with_clock(config: VerifierConfig, clock: SharedClock) -> Result<Arc<Self>, CitizenError> {
        let net = Net::new(&NetConfig {
            base_url: config.server_base_url.clone(),
            trust_anchors_pem: config.trust_anchors_pem.clone(),
            spki_pins: config.spki_pins.clone(),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            allow_insecure_loopback: config.allow_insecure_loopback,
            language: "vi",
        })?;
        if config.data_dir.trim().is_empty() {
            return Err(crate::error::Error::Config("data_dir is empty".into()).into());
        }
        let max_age = config.status_list_max_age.map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        Ok(Arc::new(Verifier {
            engine: Arc::new(VerifierEngine::new(net, PathBuf::from(&config.data_dir), clock, max_age)?),
        }))
    }
}

#[uniffi::export]
impl Verifier {
    /// Open a verifier on `config.data_dir` (its cached lists, if any). Main-safe; never
    /// prompts. Throws [`CitizenError`] (`Internal` `setup.invalid_config`, storage).
    #[uniffi::constructor]
    pub async fn open(config: VerifierConfig) -> Result<Arc<Self>, CitizenError> {
        runtime::run_blocking(move || {
            let clock = clock_of(&config);
            Self::with_clock(config, clock)
        })
        .await
    }

    /// Fetch the server's keys, the signed trust list and the token status list, verify each,
    /// and cache them (all or nothing: a failure keeps the previous cache). Online. Main-safe.
    /// Throws [`CitizenError`] (`Network`; `Refused` `verifier.list_invalid`).
    pub async fn refresh_trust(&self) -> Result<TrustStatus, CitizenError> {
        let engine = self.engine.clone();
        let state = runtime::run(async move { engine.refresh().await }).await?;
        Ok(TrustStatus::from(&state))
    }

    /// Enrol this verifier as an authenticated reader of `role` (online, once per terminal and
    /// every 90 days): a reader key is generated on this machine, its public half certified by
    /// the server under the reader root of the trust list (the operator's `official_token`
    /// authorises it), the certificate checked, and both kept in the data directory. From then
    /// on every request is signed and the citizen's phone shows this reader's name; the
    /// elements it may ask for are those of `role`. Needs a refreshed trust list. Replaces a
    /// previous enrolment only on success. Main-safe. Throws [`CitizenError`] (`Network`;
    /// `Refused` `verifier.no_trust_list`, `verifier.reader_certificate_invalid`; `Server`
    /// `official_unauthorized` for a wrong token).
    pub async fn enrol_reader(
        &self,
        official_token: String,
        role: VerifierRole,
    ) -> Result<EnrolledReader, CitizenError> {
        let engine = self.engine.clone();
        let token = zeroize::Zeroizing::new(official_token);
        let r = runtime::run(async move { engine.enrol_reader(&token, role.into()).await }).await?;
        Ok(r.into())
    }

    /// The reader identity this verifier signs its requests with; `None` when not enrolled
    /// (requests are then anonymous). Offline. Main-safe.
    pub async fn enrolled_reader(&self) -> Result<Option<EnrolledReader>, CitizenError> {
        let engine = self.engine.clone();
        Ok(runtime::run_blocking(move || engine.reader()).await.map(EnrolledReader::from))
    }

    /// How old the cached lists are (offline). Main-safe; never throws for a missing cache
    /// (all `None`, stale).
    pub async fn trust_status(&self) -> Result<TrustStatus, CitizenError> {
        let engine = self.engine.clone();
        let state = runtime::run_blocking(move || engine.state(&engine.cache())).await;
        Ok(TrustStatus::from(&state))
    }

    /// Verify a short identity QR code (`CZID1:…`) offline with the server keys cached by
    /// `refresh_trust`: the server's binding of the device key (name, birth date, number,
    /// level) and the device's signature of the last 60 s. Single use is checked only online
    /// (`/v1/identity/verify`). Main-safe. Throws [`CitizenError`] (`Refused` `idqr.*`,
    /// `verifier.no_trust_list`).
    pub async fn verify_identity_qr(&self, text: String) -> Result<VerifiedIdentityQr, CitizenError> {
        let engine = self.engine.clone();
        let v = runtime::run_blocking(move || engine.verify_identity_qr(&text)).await?;
        Ok(VerifiedIdentityQr {
            full_name: v.binding.full_name,
            birthdate: v.binding.birthdate,
            cccd_number: v.binding.cccd_number,
            level: i32::from(v.binding.level),
            signed_at: time(v.signed_at),
        })
    }

    /// Verify a dependant's document presented by a guardian (`OnBehalfShare.presentation`)
    /// offline with the cached server keys and trust list: the mandate (server key, type, not
    /// ended), the document (issuer chain, signature, disclosures), the key-binding JWT for
    /// `verifier_id` and the `nonce` this verifier asked with, the mandate naming the
    /// presenting key, covering the document kind, and naming the document's subject; then the
    /// document's status in the cached status list. Main-safe; never prompts. Throws
    /// [`CitizenError`] (`Refused` `verifier.no_trust_list`, `mdoc.revoked`,
    /// `delegation.mandate_invalid`, `delegation.expired`, `delegation.wrong_holder`,
    /// `delegation.out_of_scope`, `delegation.not_dependant`, `consent.presentation_replayed`,
    /// `consent.presentation_wrong_audience`, `documents.sd_jwt_invalid`).
    pub async fn verify_on_behalf(
        &self,
        presentation: String,
        verifier_id: String,
        nonce: String,
    ) -> Result<super::delegation::OnBehalfVerification, CitizenError> {
        let engine = self.engine.clone();
        let (v, checked) =
            runtime::run_blocking(move || engine.verify_on_behalf(&presentation, &verifier_id, &nonce)).await?;
        Ok(super::delegation::on_behalf_verification(v, checked))
    }

    /// Start a session with the citizen's phone whose QR code is `engagement_qr`, asking for
    /// `request`, over `transport`: the request is sent at once, signed with the reader key when
    /// this verifier is enrolled (`enrol_reader`), anonymous otherwise. Offline. Main-safe. Throws
    /// [`CitizenError`] (`Refused` `verifier.no_trust_list`, `mdoc.engagement_invalid`,
    /// `mdoc.transport_failed`).
    pub async fn start_session(
        &self,
        engagement_qr: String,
        request: VerifierRequest,
        transport: Arc<dyn MdocTransport>,
    ) -> Result<Arc<VerifierSession>, CitizenError> {
        let engine = self.engine.clone();
        let requests = vec![request.document_request()];
        let session =
            runtime::run(async move { engine.start_session(&engagement_qr, &requests, transport).await }).await?;
        Ok(Arc::new(VerifierSession { inner: Arc::new(session) }))
    }
}

/// A short identity QR code verified offline (`Verifier.verify_identity_qr`).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct VerifiedIdentityQr {
    /// Full name as the server bound it.
    pub full_name: String,
    /// Date of birth (`YYYY-MM-DD`).
    pub birthdate: String,
    /// The 12-digit personal identification number.
    pub cccd_number: String,
    /// Identity level (1 or 2).
    pub level: i32,
    /// When the phone signed the code (valid 60 s from then).
    pub signed_at: SystemTime,
}

/// One verification session: [`Self::await_response`] once.
#[derive(uniffi::Object)]
pub struct VerifierSession {
    inner: Arc<crate::verifier::VerifierSession>,
}

#[uniffi::export]
impl VerifierSession {
    /// Wait for the citizen's response and verify it offline: issuer chain against the cached
    /// trust list, MSO signature, every disclosed element's digest, validity, device
    /// authentication against this session, revocation against the cached status list (stale or
    /// missing: not checked, never valid). A refusal by the citizen is an invalid verdict
    /// (`mdoc.session_ended`). Main-safe. Throws [`CitizenError`] (`Refused`
    /// `mdoc.transport_failed`; `mdoc.session_state` when called twice).
    pub async fn await_response(&self) -> Result<VerificationVerdict, CitizenError> {
        let inner = self.inner.clone();
        let v = runtime::run(async move { inner.await_response().await }).await?;
        Ok(VerificationVerdict::from(&v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock as _;

    #[test]
    fn presets_ask_for_the_driving_licence_without_retention() {
        let r = VerifierRequest::DrivingLicenceCheck.document_request();
        assert_eq!(r.doc_type, "org.iso.18013.5.1.mDL");
        let ns = &r.namespaces["org.iso.18013.5.1"];
        assert_eq!(ns.len(), DRIVING_LICENCE_CHECK.len());
        assert!(ns.values().all(|retain| !retain));
        let age = VerifierRequest::AgeOver18.document_request();
        assert_eq!(age.namespaces["org.iso.18013.5.1"].keys().collect::<Vec<_>>(), ["birth_date", "portrait"]);
    }

    #[test]
    fn a_pinned_clock_reads_its_instant_and_the_default_is_the_system_clock() {
        let mut config = default_verifier_config("https://example.invalid".into(), "/tmp/v".into());
        assert!(config.pinned_clock.is_none());
        let system = clock_of(&config).now();
        assert!((SystemClock.now() - system).abs() <= 5);
        config.pinned_clock = Some(super::super::types::time(1_609_459_200)); // 2021-01-01, Annex D's year
        let pinned = clock_of(&config);
        assert_eq!(pinned.now(), 1_609_459_200);
        assert_eq!(pinned.now(), 1_609_459_200, "stopped, not running");
    }
}
