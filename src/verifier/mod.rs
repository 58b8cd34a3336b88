//! The verifier mode (issue 13 item 3; ARCHITECTURE.md, decision on the verifier): a police,
//! hospital or bank device that checks documents presented in person, **offline**, without an
//! enrolled account.
//!
//! * `refresh_trust` (online): the server's key set (`/v1/keys`), the signed trust list
//!   (`trustlist+jwt`: IACA and reader roots) and the token status list (`statuslist+jwt`), each
//!   verified with the server key over the pinned connection, then cached together in one small
//!   file (`verifier-cache.json`, written atomically: a failed refresh keeps the previous cache
//!   whole). They are public data, so the file is not sealed; it is verified again (signatures,
//!   `typ`) every time it is read, so an edited file is a missing list, never a trusted one.
//! * `start_session` / `await_response` (offline): the reader side of ISO 18013-5 over an
//!   [`MdocTransport`], every check of `citizen_mdoc` against the cached IACA roots and this
//!   session's transcript, then revocation against the cached status list.
//!
//! **Reader authentication** (decision 45): `enrol_reader` (online, an operator with the
//! officials' token) generates the reader's P-256 key *here*, sends only its public half to
//! `POST /v1/official/documents/readers` for a role (traffic police, hospital, bank counter), checks
//! the certificate it gets back (it holds this key, chains to a reader root of the cached trust
//! list, has the reader-auth usage and is valid) and keeps key and certificate in
//! `reader-auth.json` (0600, atomic). From then on every request is signed (ReaderAuth, ISO
//! 18013-5 §9.1.4); without an enrolment requests stay anonymous.
//!
//! **Stale.** The trust list is stale past its `next_update` (7 days): issuers are still checked
//! against it, and the verdict says the list is old (`verifier.trust_list_stale`, partly
//! unchecked). The status list is stale past its `exp` (24 h), or earlier when the operator sets
//! a maximum age: revocation is then reported as **not checked** (`mdoc.status_list_stale`),
//! never as valid. A missing list, or a document naming a list this verifier does not hold, is
//! `mdoc.status_unchecked`.

pub(crate) mod on_behalf;

use std::path::PathBuf;
use std::sync::Arc;

use citizen_mdoc::{
    DocumentRequest, MdocError, ReaderSession, TrustAnchor, Unchecked, VerifiedDocument, MAX_RESPONSE_MESSAGE_BYTES,
};
use jsonwebtoken::jwk::Jwk;
use serde::{Deserialize, Serialize};

use crate::clock::SharedClock;
use crate::error::{Error, Msg, Result};
use crate::net::Net;
use crate::platform::{receive_message, send_message, MdocTransport};
use crate::protocol::documents::{
    ReaderEnrolRequest, ReaderEnrolResponse, ReaderRole, StatusBits, StatusListClaims, TrustListClaims,
    PATH_OFFICIAL_READER_ENROL, PATH_STATUS_LIST_PREFIX, PATH_TRUST_LIST,
};
use crate::protocol::services::{KeysResponse, PATH_KEYS};

/// The cache file in the verifier's data directory.
pub(crate) const CACHE_FILE: &str = "verifier-cache.json";
/// The reader key and certificate file in the verifier's data directory (0600).
pub(crate) const READER_FILE: &str = "reader-auth.json";
/// The header of the officials' API.
const OFFICIAL_TOKEN_HEADER: &str = "x-official-token";

/// What `reader-auth.json` holds. No `Debug`: it carries the private scalar (zeroized on drop).
#[derive(Serialize, Deserialize)]
struct ReaderFile {
    role: ReaderRole,
    /// base64url of the P-256 private scalar.
    key: String,
    /// The chain, leaf first, base64 DER.
    x5chain: Vec<String>,
    not_after: i64,
    /// The certificate's subject and common name, as checked at enrolment.
    subject: String,
    common_name: Option<String>,
}

impl Drop for ReaderFile {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.key);
    }
}

/// The verifier's enrolled reader identity (no key material).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ReaderEnrolment {
    /// The role certified.
    pub role: ReaderRole,
    /// The certificate's subject.
    pub subject: String,
    /// Its common name (`vi / en`).
    pub common_name: Option<String>,
    /// End of validity (Unix seconds).
    pub not_after: i64,
}

/// The status list this server publishes (one list, decision 32).
const STATUS_LIST_ID: &str = "1";

/// What is cached on disk, as fetched (verified again when read).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct CacheFile {
    server_keys: Vec<serde_json::Value>,
    trust_list: Option<String>,
    trust_list_fetched_at: i64,
    status_list: Option<String>,
    status_list_fetched_at: i64,
}

/// The cache, verified.
#[derive(Clone, Debug)]
pub(crate) struct TrustCache {
    /// The trust list and when it was fetched.
    pub trust: Option<(TrustListClaims, i64)>,
    /// The status list, its bits, and when it was fetched.
    pub status: Option<(StatusListClaims, StatusBits, i64)>,
    /// The server's keys (for the identity QR offline).
    pub keys: Vec<Jwk>,
}

/// How old the cached lists are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TrustState {
    /// When the trust list was fetched (`None`: never).
    pub trust_list_fetched_at: Option<i64>,
    /// When a fresher trust list is due.
    pub trust_list_next_update: Option<i64>,
    /// When the status list was fetched.
    pub status_list_fetched_at: Option<i64>,
    /// When the status list expires.
    pub status_list_expires_at: Option<i64>,
    /// Seconds since the trust list was fetched (0 when none).
    pub age_secs: i64,
    /// The trust list is missing or past its `next_update`.
    pub trust_list_stale: bool,
    /// The status list is missing, expired or older than the configured maximum age.
    pub status_list_stale: bool,
}

/// The verifier engine of one data directory.
pub(crate) struct VerifierEngine {
    net: Net,
    dir: PathBuf,
    clock: SharedClock,
    status_max_age: Option<i64>,
    refresh_lock: tokio::sync::Mutex<()>,
}

fn decode<T: serde::de::DeserializeOwned + crate::jwt::JwtKind>(jws: &str, keys: &[Jwk]) -> Option<T> {
    let kid = crate::consent::jws_kid(jws)?;
    let key = keys.iter().find(|k| k.common.key_id.as_deref() == Some(&kid))?;
    crate::crypto::decode_es256(jws, key)
}

fn invalid(why: &str) -> Error {
    tracing::warn!(why, "verifier list refused");
    Error::Domain(Msg::VerifierListInvalid)
}

impl VerifierEngine {
    /// A verifier over `net` caching in `dir`.
    pub(crate) fn new(net: Net, dir: PathBuf, clock: SharedClock, status_max_age: Option<i64>) -> Result<Self> {
        std::fs::create_dir_all(&dir).map_err(|e| Error::Io { context: "verifier data dir", source: e })?;
        Ok(VerifierEngine { net, dir, clock, status_max_age, refresh_lock: tokio::sync::Mutex::new(()) })
    }

    pub(crate) fn now(&self) -> i64 {
        self.clock.now()
    }

    fn path(&self) -> PathBuf {
        self.dir.join(CACHE_FILE)
    }

    fn read_file(&self) -> CacheFile {
        std::fs::read(self.path()).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
    }

    fn write_file(&self, c: &CacheFile) -> Result<()> {
        let tmp = self.dir.join(format!("{CACHE_FILE}.tmp"));
        let json = serde_json::to_vec(c).map_err(|e| Error::Storage(e.to_string()))?;
        let io = |e| Error::Io { context: "verifier cache", source: e };
        {
            use std::io::Write as _;
            let mut f = std::fs::File::create(&tmp).map_err(io)?;
            f.write_all(&json).map_err(io)?;
            f.sync_all().map_err(io)?;
        }
        std::fs::rename(&tmp, self.path()).map_err(io)
    }

    fn status_uri(&self) -> String {
        format!("{}{PATH_STATUS_LIST_PREFIX}{STATUS_LIST_ID}", self.net.audience())
    }

    /// The cache, each list verified again with the cached keys (a list that does not verify is
    /// treated as missing).
    pub(crate) fn cache(&self) -> TrustCache {
        let f = self.read_file();
        let keys: Vec<Jwk> = f.server_keys.iter().filter_map(|v| serde_json::from_value(v.clone()).ok()).collect();
        let trust = f
            .trust_list
            .as_deref()
            .and_then(|j| decode::<TrustListClaims>(j, &keys))
            .filter(|c| c.iss == self.net.audience())
            .map(|c| (c, f.trust_list_fetched_at));
        let status = f
            .status_list
            .as_deref()
            .and_then(|j| decode::<StatusListClaims>(j, &keys))
            .filter(|c| c.sub == self.status_uri() && c.status_list.bits == 1)
            .and_then(|c| StatusBits::decode(&c.status_list.lst).map(|b| (c, b, f.status_list_fetched_at)));
        TrustCache { trust, status, keys }
    }

    /// Fetch and verify the key set, the trust list and the status list; cache them together.
    /// Nothing is cached unless all three verify.
    pub(crate) async fn refresh(&self) -> Result<TrustState> {
        let _guard = self.refresh_lock.lock().await;
        let keys: KeysResponse = self.net.get(PATH_KEYS, None).await?;
        let jwks: Vec<Jwk> = keys.keys.iter().filter_map(|v| serde_json::from_value(v.clone()).ok()).collect();
        let trust_jwt = self.net.get_text(PATH_TRUST_LIST).await?;
        let status_jwt = self.net.get_text(&format!("{PATH_STATUS_LIST_PREFIX}{STATUS_LIST_ID}")).await?;
        let now = self.now();
        let trust: TrustListClaims = decode(trust_jwt.trim(), &jwks).ok_or_else(|| invalid("trust list signature"))?;
        if trust.iss != self.net.audience() || trust.iaca.is_empty() || trust.next_update <= now {
            return Err(invalid("trust list issuer, content or freshness"));
        }
        let status: StatusListClaims =
            decode(status_jwt.trim(), &jwks).ok_or_else(|| invalid("status list signature"))?;
        if status.sub != self.status_uri()
            || status.exp <= now
            || status.status_list.bits != 1
            || StatusBits::decode(&status.status_list.lst).is_none()
        {
            return Err(invalid("status list subject, expiry or encoding"));
        }
        self.write_file(&CacheFile {
            server_keys: keys.keys,
            trust_list: Some(trust_jwt.trim().to_string()),
            trust_list_fetched_at: now,
            status_list: Some(status_jwt.trim().to_string()),
            status_list_fetched_at: now,
        })?;
        Ok(self.state(&self.cache()))
    }

    fn status_stale(&self, claims: &StatusListClaims, now: i64) -> bool {
        now >= claims.exp || self.status_max_age.is_some_and(|max| now >= claims.iat.saturating_add(max))
    }

    /// How old the cached lists are.
    pub(crate) fn state(&self, cache: &TrustCache) -> TrustState {
        let now = self.now();
        let trust_at = cache.trust.as_ref().map(|(_, at)| *at);
        TrustState {
            trust_list_fetched_at: trust_at,
            trust_list_next_update: cache.trust.as_ref().map(|(c, _)| c.next_update),
            status_list_fetched_at: cache.status.as_ref().map(|(_, _, at)| *at),
            status_list_expires_at: cache.status.as_ref().map(|(c, _, _)| c.exp),
            age_secs: trust_at.map_or(0, |at| (now - at).max(0)),
            trust_list_stale: cache.trust.as_ref().is_none_or(|(c, _)| now > c.next_update),
            status_list_stale: cache.status.as_ref().is_none_or(|(c, _, _)| self.status_stale(c, now)),
        }
    }

    fn reader_path(&self) -> PathBuf {
        self.dir.join(READER_FILE)
    }

    fn read_reader_file(&self) -> Option<ReaderFile> {
        let bytes = zeroize::Zeroizing::new(std::fs::read(self.reader_path()).ok()?);
        serde_json::from_slice(&bytes).ok()
    }

    fn chain_der(x5chain: &[String]) -> Option<Vec<Vec<u8>>> {
        use base64::Engine as _;
        let std = base64::engine::general_purpose::STANDARD;
        x5chain.iter().map(|c| std.decode(c).ok()).collect()
    }

    /// The enrolled reader key, if any and readable (a file that does not parse or whose
    /// certificate does not hold its key is treated as absent: requests go out anonymous).
    fn reader_key(&self) -> Option<citizen_mdoc::ReaderAuthKey> {
        let f = self.read_reader_file()?;
        let scalar = zeroize::Zeroizing::new(crate::crypto::unb64(&f.key)?);
        let key = p256::ecdsa::SigningKey::from_slice(&scalar).ok()?;
        citizen_mdoc::ReaderAuthKey::new(key, &Self::chain_der(&f.x5chain)?).ok()
    }

    /// The enrolled reader as the holder will see it; `None` when not enrolled.
    pub(crate) fn reader(&self) -> Option<ReaderEnrolment> {
        let f = self.read_reader_file()?;
        Some(ReaderEnrolment {
            role: f.role,
            subject: f.subject.clone(),
            common_name: f.common_name.clone(),
            not_after: f.not_after,
        })
    }

    /// Enrol this verifier as a reader of `role` (online; an operator's `official_token`): a new
    /// P-256 key generated here, its public half certified by the server, the certificate
    /// checked (it holds this key, chains to a reader root of the cached trust list, reader-auth
    /// usage, valid now: `verifier.reader_certificate_invalid`), then key and certificate
    /// written together (0600, atomic). A failure keeps any previous enrolment.
    pub(crate) async fn enrol_reader(&self, official_token: &str, role: ReaderRole) -> Result<ReaderEnrolment> {
        let cache = self.cache();
        let Some((trust, _)) = cache.trust.as_ref() else {
            return Err(Error::Domain(Msg::VerifierNoTrustList));
        };
        let key = p256::ecdsa::SigningKey::random(&mut rand_core::OsRng);
        let public = crate::crypto::sec1_uncompressed(key.verifying_key());
        let request = ReaderEnrolRequest { role, public_key: crate::crypto::b64(&public) };
        let answer: ReaderEnrolResponse = self
            .net
            .post_with_headers(PATH_OFFICIAL_READER_ENROL, &request, &[(OFFICIAL_TOKEN_HEADER, official_token)])
            .await?;
        let refused = |why: &str| {
            tracing::warn!(why, "reader certificate refused");
            Error::Domain(Msg::VerifierReaderCertificateInvalid)
        };
        if answer.role != role {
            return Err(refused("another role"));
        }
        let chain = Self::chain_der(&answer.x5chain).ok_or_else(|| refused("encoding"))?;
        let anchors = crate::documents::present::reader_anchors(trust);
        let reader =
            citizen_mdoc::check_reader_certificate(&chain, &anchors, self.now()).map_err(|e| refused(e.code()))?;
        citizen_mdoc::ReaderAuthKey::new(key.clone(), &chain).map_err(|_| refused("not this verifier's key"))?;
        let file = ReaderFile {
            role,
            key: crate::crypto::b64(&key.to_bytes()),
            x5chain: answer.x5chain.clone(),
            not_after: answer.not_after,
            subject: reader.subject,
            common_name: reader.common_name,
        };
        let json = zeroize::Zeroizing::new(serde_json::to_vec(&file).map_err(|e| Error::Storage(e.to_string()))?);
        let tmp = self.dir.join(format!("{READER_FILE}.tmp"));
        let io = |e| Error::Io { context: "verifier reader key", source: e };
        {
            use std::io::Write as _;
            let _ = std::fs::remove_file(&tmp);
            let mut f = crate::datadir::open_private_file(&tmp).map_err(io)?;
            f.write_all(&json).map_err(io)?;
            f.sync_all().map_err(io)?;
        }
        std::fs::rename(&tmp, self.reader_path()).map_err(io)?;
        self.reader().ok_or_else(|| refused("unreadable after writing"))
    }

    /// Verify a dependant's document presented by a guardian (decision 52) offline with the
    /// cached server keys and trust list, for this verifier's `audience` and the `nonce` it
    /// asked with ([`on_behalf::check_on_behalf`]), then the document's status in the cached
    /// status list (`mdoc.revoked`). Also returns whether the status could be checked.
    pub(crate) fn verify_on_behalf(
        &self,
        presentation: &str,
        audience: &str,
        nonce: &str,
    ) -> Result<(on_behalf::OnBehalfVerdict, bool)> {
        let cache = self.cache();
        let Some((trust, _)) = cache.trust.as_ref() else {
            return Err(Error::Domain(Msg::VerifierNoTrustList));
        };
        let anchors = crate::documents::anchors_of(trust)?;
        let now = self.now();
        let v =
            on_behalf::check_on_behalf(presentation, &cache.keys, &anchors, self.net.audience(), audience, nonce, now)?;
        // The document's status, from the cached list when it is this server's and fresh.
        let revoked = match (&v.status, &cache.status) {
            (Some((idx, uri)), Some((claims, bits, _)))
                if *uri == self.status_uri() && !self.status_stale(claims, now) =>
            {
                bits.get(*idx)
            }
            _ => None,
        };
        if revoked == Some(true) {
            tracing::info!("on-behalf presentation refused: document revoked");
            return Err(Error::Domain(Msg::MdocRevoked));
        }
        Ok((v, revoked.is_some()))
    }

    /// Verify a short identity QR code (decision 35) offline with the cached server keys: the
    /// server's binding and the device's 60 s signature. Single use is the online check's.
    pub(crate) fn verify_identity_qr(&self, text: &str) -> Result<crate::protocol::idqr::VerifiedIdentity> {
        let cache = self.cache();
        if cache.keys.is_empty() {
            return Err(Error::Domain(Msg::VerifierNoTrustList));
        }
        crate::protocol::idqr::verify_identity_qr(text.trim(), &cache.keys, self.net.audience(), self.now())
            .map_err(|e| Error::Domain(e.msg()))
    }

    /// Start a session with the holder whose QR code is `qr`: the request is sent at once.
    /// Needs a cached trust list (`verifier.no_trust_list`); the QR code must be an mdoc
    /// engagement (`mdoc.engagement_invalid`).
    pub(crate) async fn start_session(
        self: &Arc<Self>,
        qr: &str,
        requests: &[DocumentRequest],
        transport: Arc<dyn MdocTransport>,
    ) -> Result<VerifierSession> {
        let cache = self.cache();
        if cache.trust.is_none() {
            return Err(Error::Domain(Msg::VerifierNoTrustList));
        }
        let reader_key = self.reader_key();
        let (session, establishment) =
            ReaderSession::start(qr, requests, reader_key.as_ref()).map_err(|e| Error::Domain(e.msg()))?;
        if let Err(e) = send_message(&transport, &establishment).await {
            transport.disconnect().await;
            return Err(e);
        }
        Ok(VerifierSession { engine: self.clone(), transport, cache, session: tokio::sync::Mutex::new(Some(session)) })
    }
}

/// A check of the verdict, in the order they run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CheckKind {
    /// The session: decryption, message structure, the holder did not decline.
    Session,
    /// The trust list is current.
    TrustList,
    /// The issuer certificate chains to an IACA of the trust list and is a document signer.
    IssuerChain,
    /// The issuer's signature over the MSO (and its docType).
    MsoSignature,
    /// Each disclosed element against its digest in the MSO.
    ElementDigests,
    /// The MSO's validity window and the certificates' validity.
    Validity,
    /// Device authentication over this session's transcript (possession, no replay).
    DeviceAuthentication,
    /// Revocation, against the cached token status list.
    Revocation,
}

/// The outcome of one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CheckState {
    /// It holds.
    Passed,
    /// It failed: the document is not trustworthy (the code says why).
    Failed(Msg),
    /// It could not be done (the code says why): never read as valid.
    Unchecked(Msg),
    /// An earlier check failed, so this one did not run.
    NotReached,
}

/// The whole answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Overall {
    /// Every check held.
    Valid,
    /// A check failed.
    Invalid(Msg),
    /// No check failed but some could not be done.
    PartlyUnchecked,
}

/// The verdict of one session.
#[derive(Clone, Debug)]
pub(crate) struct Verification {
    pub overall: Overall,
    pub checks: Vec<(CheckKind, CheckState)>,
    pub documents: Vec<VerifiedDocument>,
    pub trust: TrustState,
}

const ORDER: [CheckKind; 7] = [
    CheckKind::Session,
    CheckKind::IssuerChain,
    CheckKind::MsoSignature,
    CheckKind::ElementDigests,
    CheckKind::Validity,
    CheckKind::DeviceAuthentication,
    CheckKind::Revocation,
];

/// Which check an mdoc refusal belongs to.
fn check_of(e: &MdocError) -> CheckKind {
    match e {
        MdocError::IssuerUntrusted | MdocError::NotDocumentSigner => CheckKind::IssuerChain,
        MdocError::IssuerSignature | MdocError::DocTypeMismatch { .. } => CheckKind::MsoSignature,
        MdocError::DigestMismatch { .. } | MdocError::ElementNotSigned { .. } => CheckKind::ElementDigests,
        MdocError::NotYetValid | MdocError::Expired | MdocError::CertificateExpired => CheckKind::Validity,
        MdocError::DeviceAuth => CheckKind::DeviceAuthentication,
        _ => CheckKind::Session,
    }
}

/// The verdict from the crate's verdict, the cached lists and the clock.
pub(crate) fn judge(
    verdict: &citizen_mdoc::Verdict,
    cache: &TrustCache,
    trust: TrustState,
    stale: impl Fn(&StatusListClaims) -> bool,
) -> Verification {
    let trust_check =
        if trust.trust_list_stale { CheckState::Unchecked(Msg::VerifierTrustListStale) } else { CheckState::Passed };
    if let Err(e) = &verdict.result {
        let failing = check_of(e);
        let mut reached = true;
        let mut checks = vec![(CheckKind::TrustList, trust_check)];
        for kind in ORDER {
            let state = if kind == failing {
                reached = false;
                CheckState::Failed(e.msg())
            } else if reached {
                CheckState::Passed
            } else {
                CheckState::NotReached
            };
            checks.push((kind, state));
        }
        return Verification { overall: Overall::Invalid(e.msg()), checks, documents: Vec::new(), trust };
    }
    let device = if verdict.unchecked.iter().any(|u| matches!(u, Unchecked::DeviceMac { .. })) {
        CheckState::Unchecked(Msg::MdocDeviceMacUnchecked)
    } else {
        CheckState::Passed
    };
    // Revocation of every document: one revoked is invalid; otherwise the first reason one
    // could not be checked.
    let mut revocation = CheckState::Passed;
    for doc in &verdict.documents {
        let state = match (&doc.status, &cache.status) {
            (None, _) | (_, None) => CheckState::Unchecked(Msg::MdocStatusUnchecked),
            (Some(r), Some((claims, bits, _))) if r.uri == claims.sub => {
                if stale(claims) {
                    CheckState::Unchecked(Msg::MdocStatusListStale)
                } else {
                    match bits.get(r.idx) {
                        Some(true) => CheckState::Failed(Msg::MdocRevoked),
                        Some(false) => CheckState::Passed,
                        None => CheckState::Unchecked(Msg::MdocStatusUnchecked),
                    }
                }
            }
            (Some(_), Some(_)) => CheckState::Unchecked(Msg::MdocStatusUnchecked),
        };
        revocation = match (revocation, state) {
            (CheckState::Failed(m), _) | (_, CheckState::Failed(m)) => CheckState::Failed(m),
            (CheckState::Unchecked(m), _) | (_, CheckState::Unchecked(m)) => CheckState::Unchecked(m),
            _ => CheckState::Passed,
        };
    }
    let mut checks = vec![(CheckKind::TrustList, trust_check)];
    for kind in ORDER {
        checks.push((
            kind,
            match kind {
                CheckKind::DeviceAuthentication => device,
                CheckKind::Revocation => revocation,
                _ => CheckState::Passed,
            },
        ));
    }
    let overall = if let CheckState::Failed(m) = revocation {
        Overall::Invalid(m)
    } else if checks.iter().any(|(_, s)| matches!(s, CheckState::Unchecked(_))) {
        Overall::PartlyUnchecked
    } else {
        Overall::Valid
    };
    let documents = if matches!(overall, Overall::Invalid(_)) { Vec::new() } else { verdict.documents.clone() };
    Verification { overall, checks, documents, trust }
}

/// One session on the verifier's side.
pub(crate) struct VerifierSession {
    engine: Arc<VerifierEngine>,
    transport: Arc<dyn MdocTransport>,
    cache: TrustCache,
    session: tokio::sync::Mutex<Option<ReaderSession>>,
}

impl VerifierSession {
    /// Wait for the holder's response and verify it. Used once (`mdoc.session_state` after).
    /// A transport failure is an error (`mdoc.transport_failed`); everything the holder sent is
    /// a verdict (declined: invalid `mdoc.session_ended`).
    pub(crate) async fn await_response(&self) -> Result<Verification> {
        let mut slot = self.session.lock().await;
        let Some(mut session) = slot.take() else {
            return Err(Error::Domain(Msg::MdocSessionState));
        };
        let received = receive_message(&self.transport, MAX_RESPONSE_MESSAGE_BYTES).await;
        let verdict = match received {
            Ok(message) => {
                let anchors: Vec<TrustAnchor> = self
                    .cache
                    .trust
                    .as_ref()
                    .map(|(c, _)| crate::documents::anchors_of(c).unwrap_or_default())
                    .unwrap_or_default();
                let v = session.handle_response(&message, &anchors, self.engine.now());
                if let Err(e) = send_message(&self.transport, &session.end_session()).await {
                    tracing::info!(error = %e, "session end not sent");
                }
                v
            }
            Err(Error::Domain(m @ (Msg::MdocTooLarge | Msg::MdocFrameInvalid))) => {
                tracing::info!(code = m.code(), "response refused before decoding");
                citizen_mdoc::Verdict {
                    result: Err(if m == Msg::MdocTooLarge {
                        MdocError::TooLarge { size: MAX_RESPONSE_MESSAGE_BYTES + 1, max: MAX_RESPONSE_MESSAGE_BYTES }
                    } else {
                        MdocError::FrameInvalid("response frame")
                    }),
                    documents: Vec::new(),
                    unchecked: Vec::new(),
                }
            }
            Err(e) => {
                self.transport.disconnect().await;
                return Err(e);
            }
        };
        self.transport.disconnect().await;
        let now = self.engine.now();
        let trust = self.engine.state(&self.cache);
        Ok(judge(&verdict, &self.cache, trust, |c| self.engine.status_stale(c, now)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(stale: bool) -> TrustState {
        TrustState {
            trust_list_fetched_at: Some(1),
            trust_list_next_update: Some(2),
            status_list_fetched_at: Some(1),
            status_list_expires_at: Some(2),
            age_secs: 0,
            trust_list_stale: stale,
            status_list_stale: false,
        }
    }

    fn empty_cache() -> TrustCache {
        TrustCache { trust: None, status: None, keys: Vec::new() }
    }

    #[test]
    fn the_first_failing_check_is_named_and_the_later_ones_not_reached() {
        let verdict = citizen_mdoc::Verdict {
            result: Err(MdocError::DigestMismatch { namespace: "n".into(), element: "e".into() }),
            documents: Vec::new(),
            unchecked: Vec::new(),
        };
        let v = judge(&verdict, &empty_cache(), state(false), |_| false);
        assert_eq!(v.overall, Overall::Invalid(Msg::MdocDigestMismatch));
        let of = |k| v.checks.iter().find(|(c, _)| *c == k).map(|(_, s)| *s);
        assert_eq!(of(CheckKind::IssuerChain), Some(CheckState::Passed));
        assert_eq!(of(CheckKind::ElementDigests), Some(CheckState::Failed(Msg::MdocDigestMismatch)));
        assert_eq!(of(CheckKind::Validity), Some(CheckState::NotReached));
        assert_eq!(of(CheckKind::Revocation), Some(CheckState::NotReached));
        assert_eq!(v.checks.len(), 8);
    }

    #[test]
    fn without_a_status_list_and_with_an_old_trust_list_nothing_is_valid() {
        let doc = VerifiedDocument {
            doc_type: "org.iso.18013.5.1.mDL".into(),
            issuer: "CN=x".into(),
            elements: Default::default(),
            valid_until_unix: 0,
            device_auth: citizen_mdoc::DeviceAuthResult::Signature,
            status: Some(citizen_mdoc::StatusRef { idx: 3, uri: "https://x/v1/documents/status/1".into() }),
        };
        let verdict = citizen_mdoc::Verdict { result: Ok(()), documents: vec![doc], unchecked: Vec::new() };
        let v = judge(&verdict, &empty_cache(), state(true), |_| false);
        assert_eq!(v.overall, Overall::PartlyUnchecked);
        assert!(v.checks.contains(&(CheckKind::Revocation, CheckState::Unchecked(Msg::MdocStatusUnchecked))));
        assert!(v.checks.contains(&(CheckKind::TrustList, CheckState::Unchecked(Msg::VerifierTrustListStale))));
        assert_eq!(v.documents.len(), 1, "shown, but not as valid");
    }
}
