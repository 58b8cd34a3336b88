//! Consent-based data sharing (eKYC) on the device.
//!
//! 1. **Credential.** Once, the device fetches its PID credential: a `credential` challenge, then
//!    `POST /v1/credentials/pid` with a statement whose subject names the device key
//!    (`pid:<sha256 hex of the SEC1 public key>`). The answer is checked (issuer signature with
//!    the server key, `cnf.jwk` = this device's key, not expired) and stored sealed.
//! 2. **Request.** A relying party's share request (a JWS by its registered key, or the deep link
//!    `citizenid://share?request=<jws>`) is verified offline against the signed registry:
//!    registered RP, its signature, `typ`, a registered purpose, every claim known and allowed,
//!    the response URI on a registered origin, not expired. Then it is kept (sealed) until the
//!    citizen decides.
//! 3. **Share.** With the passcode, the core builds an SD-JWT presentation that reveals only the
//!    required and the chosen optional claims, with a key-binding JWT (audience = RP id, the
//!    request nonce, time, device counter) signed inside the platform key store — the private key
//!    never leaves it. A `data_share` consent receipt is signed, countersigned by the server
//!    (which checks it against the RP's signed request), verified and stored; then the
//!    presentation goes to the RP's response URI. What became of it — delivered, refused by the
//!    RP, not delivered (no connection), unknown (sent, no answer) — is then signed by the device
//!    onto the receipt and written to the activity log. The countersignature attests the
//!    citizen's consent and what was released to whom; it is not a claim that the RP received
//!    it (the server cannot know). A receipt without an outcome reads as unknown.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::account::Account;
use crate::activity::ActivityKind;
use crate::crypto;
use crate::error::{Error, Msg, NetError, NetworkErrorKind, Result};
use crate::platform::{DeviceKeyStore, DeviceKeyStoreError};
use crate::protocol::rp::{
    claim_info, delivery_subject, ConsentReceipt, CredentialRequest, CredentialResponse, DeliveryRecord,
    DeliveryStatus, PresentationResult, PresentationSubmission, ReceiptCountersignRequest, ReceiptCountersignResponse,
    ReceiptKind, RelyingPartyEntry, ShareRequestClaims, SignedReceipt, PATH_CREDENTIAL, PATH_RECEIPTS,
    SHARE_REQUEST_TYP,
};
use crate::protocol::{sha256_hex, Purpose};
use crate::sdjwt::{self, SdJwtError};
use crate::store::rows::{CredentialKind, CredentialRow, PendingKind, PendingRow};
use crate::store::AccountRow;

/// Kind under which the PID credential is stored.
const CREDENTIAL_PID: CredentialKind = CredentialKind::Pid;
/// Pending-operation kind of the share request the citizen is looking at.
const PENDING_SHARE: PendingKind = PendingKind::ShareRequest;
/// Scheme and host of the same-device deep link.
pub(crate) const SHARE_LINK_PREFIX: &str = "citizenid://share";
/// Longest share request (JWS or link) accepted, checked before any decoding.
pub(crate) const MAX_REQUEST_LEN: usize = 8 * 1024;
/// Longest lifetime a share request may claim.
pub(crate) const MAX_REQUEST_LIFETIME_SECS: i64 = 24 * 3600;
/// A credential this close to expiry is fetched again before sharing.
const CREDENTIAL_RENEW_MARGIN_SECS: i64 = 24 * 3600;

/// A verified share request, kept until the citizen decides.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct PendingShare {
    /// The JWS as received (the server checks the receipt against it).
    pub jws: String,
    /// Its claims.
    pub claims: ShareRequestClaims,
    /// The relying party as the signed registry lists it.
    pub rp: RelyingPartyEntry,
    /// Origin of the response URI.
    pub response_origin: String,
}

/// What sharing produced (the façade turns it into `ShareOutcome`).
pub(crate) struct Shared {
    pub receipt: SignedReceipt,
    pub disclosed: Vec<String>,
    pub accepted: bool,
}

fn invalid() -> Error {
    Error::Domain(Msg::ConsentShareRequestInvalid)
}

/// The JWS carried by `input`: the JWS itself or a `citizenid://share?request=<jws>` link.
pub(crate) fn request_from_input(input: &str) -> Result<String> {
    let input = input.trim();
    if input.len() > MAX_REQUEST_LEN {
        return Err(invalid());
    }
    if !input.starts_with("citizenid:") {
        return Ok(input.to_string());
    }
    let url = url::Url::parse(input).map_err(|_| invalid())?;
    if !input.starts_with(SHARE_LINK_PREFIX)
        || url.scheme() != "citizenid"
        || url.host_str() != Some("share")
        || !matches!(url.path(), "" | "/")
    {
        return Err(invalid());
    }
    let mut found = url.query_pairs().filter(|(k, _)| k == "request").map(|(_, v)| v.into_owned());
    match (found.next(), found.next()) {
        (Some(r), None) => Ok(r),
        _ => Err(invalid()),
    }
}

/// The offline checks of a share request against its registry entry (pure), in order: RP
/// signature and `typ`, issuer = registered id, registered purpose, claims known, distinct and
/// allowed, response URI on a registered origin, lifetime, expiry by the core's clock. Returns
/// the claims and the response origin.
pub(crate) fn check_share_request(jws: &str, rp: &RelyingPartyEntry, now: i64) -> Result<(ShareRequestClaims, String)> {
    let key = crypto::unb64(&rp.public_key)
        .and_then(|k| crypto::parse_public_key(&k).ok())
        .ok_or(Error::Domain(Msg::ConsentRegistryInvalid))?;
    let v = sdjwt::verify_es256_jws(jws, &key).ok_or(Error::Domain(Msg::ConsentRpSignatureInvalid))?;
    if v.header.get("typ").and_then(Value::as_str) != Some(SHARE_REQUEST_TYP) {
        return Err(invalid());
    }
    let c: ShareRequestClaims = serde_json::from_slice(&v.payload).map_err(|_| invalid())?;
    if c.iss != rp.id {
        return Err(Error::Domain(Msg::ConsentRpSignatureInvalid));
    }
    if !rp.purposes.contains(&c.purpose) {
        return Err(Error::Domain(Msg::ConsentPurposeNotRegistered));
    }
    let all: Vec<&String> = c.required.iter().chain(&c.optional).collect();
    if all.is_empty() {
        return Err(invalid());
    }
    for (i, name) in all.iter().enumerate() {
        if claim_info(name).is_none() || !rp.claims.contains(name) || all[..i].contains(name) {
            return Err(Error::Domain(Msg::ConsentClaimNotAllowed));
        }
    }
    let uri = url::Url::parse(&c.response_uri).map_err(|_| invalid())?;
    let origin = uri.origin().ascii_serialization();
    if !crate::protocol::rp::valid_origin(&origin) || !rp.origins.contains(&origin) || uri.fragment().is_some() {
        return Err(Error::Domain(Msg::ConsentOriginUnregistered));
    }
    if c.exp.checked_sub(c.iat).is_none_or(|l| l <= 0 || l > MAX_REQUEST_LIFETIME_SECS)
        || c.request_id.is_empty()
        || c.nonce.is_empty()
    {
        return Err(invalid());
    }
    if now >= c.exp {
        return Err(Error::Domain(Msg::ConsentRequestExpired));
    }
    Ok((c, origin))
}

/// The claims to disclose: every required one plus the chosen optional ones, sorted. A choice
/// the request did not offer is refused (`consent.claim_not_offered`).
pub(crate) fn disclosure_set(req: &ShareRequestClaims, chosen: &[String]) -> Result<Vec<String>> {
    let mut out = req.required.clone();
    for c in chosen {
        if !req.optional.contains(c) {
            return Err(Error::Domain(Msg::ConsentClaimNotOffered));
        }
        if !out.contains(c) {
            out.push(c.clone());
        }
    }
    out.sort();
    Ok(out)
}

/// A JWS signer over the platform key store: the signing input goes to the key store and the
/// signature comes back (DER or raw), is normalised to raw `r‖s` and verified against the known
/// public key. The private key never leaves the key store. Blocking key-store calls (a biometric
/// prompt) run off the async executor. The first key-store error is kept so the caller can report
/// it as such (cancelled, invalidated key) rather than as a generic signing failure.
pub(crate) struct DeviceJwsSigner {
    keys: Arc<dyn DeviceKeyStore>,
    alias: String,
    public_key: Vec<u8>,
    purpose: crate::platform::SignPurpose,
    error: Mutex<Option<DeviceKeyStoreError>>,
}

impl DeviceJwsSigner {
    /// A signer of the key-binding JWT of a data share (purpose `Consent`).
    pub(crate) fn new(keys: Arc<dyn DeviceKeyStore>, alias: String, public_key: Vec<u8>) -> Self {
        let purpose = crate::platform::SignPurpose::Consent;
        DeviceJwsSigner { keys, alias, public_key, purpose, error: Mutex::new(None) }
    }

    /// The same signer for another (user-initiated) purpose, e.g. a document presentation.
    pub(crate) fn with_purpose(mut self, purpose: crate::platform::SignPurpose) -> Self {
        self.purpose = purpose;
        self
    }

    /// The key-store error behind a failed signature, if that was the cause.
    pub(crate) fn take_error(&self) -> Option<DeviceKeyStoreError> {
        self.error.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    fn fail(&self, e: DeviceKeyStoreError) -> SdJwtError {
        let reason = e.to_string();
        *self.error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
        SdJwtError::Signer(reason)
    }
}

#[async_trait]
impl sd_jwt_payload::JwsSigner for DeviceJwsSigner {
    type Error = SdJwtError;
    async fn sign(
        &self,
        header: &Map<String, Value>,
        payload: &Map<String, Value>,
    ) -> std::result::Result<Vec<u8>, SdJwtError> {
        if header.get("alg").and_then(Value::as_str) != Some(sdjwt::ALG) {
            return Err(SdJwtError::Signer("only ES256 is supported".into()));
        }
        let input = sdjwt::jws_signing_input(header, payload);
        // The key-binding JWT of a share or presentation the citizen approved.
        let request = crate::platform::SignRequest { purpose: self.purpose, user_initiated: true };
        let sig =
            self.keys.sign(self.alias.clone(), input.clone().into_bytes(), request).await.map_err(|e| self.fail(e))?;
        let sig = crypto::verify_device_signature(&self.public_key, input.as_bytes(), &sig).map_err(|e| {
            self.fail(DeviceKeyStoreError::Failure { reason: format!("key store signature refused: {e}") })
        })?;
        Ok(format!("{input}.{}", crypto::b64(&sig.to_bytes())).into_bytes())
    }
}

/// The last presentation of each device, by device id. One entry per device, not one slot for
/// the process: the integration tests share a process and run at once, and a single slot let
/// another test's share overwrite the one a test was about to replay (a flaky failure).
#[cfg(feature = "test-support")]
static LAST_PRESENTATION: Mutex<std::collections::BTreeMap<String, String>> =
    Mutex::new(std::collections::BTreeMap::new());

/// The last presentation sent by the device `device_id` in this process (test support only: the
/// tests replay it and search it for undisclosed values).
#[cfg(feature = "test-support")]
pub(crate) fn last_presentation(device_id: &str) -> Option<String> {
    LAST_PRESENTATION.lock().unwrap_or_else(|p| p.into_inner()).get(device_id).cloned()
}

/// A server answer that breaks the protocol (a network error of kind `Protocol`).
pub(crate) fn bad_answer(detail: &str) -> Error {
    Error::Net(NetError { kind: NetworkErrorKind::Protocol, detail: detail.into(), retry_after: None })
}

impl Account {
    /// Fetch the PID credential, check it and store it sealed.
    pub(crate) async fn fetch_credential(&self) -> Result<()> {
        let acc = self.active_account()?;
        let token = self.access_token().await?;
        let nonce = self.challenge(&acc, Purpose::Credential).await?;
        let signed =
            self.sign_for(&acc, Purpose::Credential, nonce, format!("pid:{}", sha256_hex(&acc.public_key))).await?;
        let r: CredentialResponse = self.net.post(PATH_CREDENTIAL, &CredentialRequest { signed }, Some(&token)).await?;
        // The issuer signature, with the server's key set (same keys as receipts).
        let jwt = r.sd_jwt.split('~').next().unwrap_or_default();
        let payload: Option<sdjwt::PidIssuerPayload> = self.decode_server_jws(jwt).await;
        let payload = payload.ok_or_else(|| Error::BadReceipt("credential signature does not verify".into()))?.0;
        let info = sdjwt::inspect(&r.sd_jwt).map_err(|_| bad_answer("credential malformed"))?;
        let (cnf, exp) = (info.holder_jwk, info.expires_at);
        let ours = sdjwt::jwk_from_public_key(&acc.public_key).ok_or_else(|| bad_answer("device key"))?;
        if cnf != ours
            || exp != r.expires_at
            || exp <= self.now()
            || payload.get("iss").and_then(Value::as_str) != Some(self.net.audience())
            || payload.get("vct").and_then(Value::as_str) != Some(crate::protocol::rp::PID_VCT)
        {
            return Err(bad_answer("credential is not for this device"));
        }
        self.store.save_credential(CREDENTIAL_PID, &r.sd_jwt, exp)?;
        Ok(())
    }

    /// The held PID credential as its holder reads it (claim values, status entry), and — when
    /// `check_status` — whether the issuer has revoked it (the server's status list, verified
    /// with its keys). `None` when none is held. Decision 50: an approved correction of a claim
    /// the credential carries revokes it.
    pub(crate) async fn held_credential(
        &self,
        check_status: bool,
    ) -> Result<Option<(sdjwt::CredentialInfo, Option<bool>)>> {
        self.active_account()?;
        let Some(row) = self.store.credential::<String>(CREDENTIAL_PID)? else { return Ok(None) };
        let info = sdjwt::inspect(&row.credential).map_err(|_| Error::Storage("stored credential malformed".into()))?;
        let revoked = match (&info.status, check_status) {
            (Some((idx, uri)), true) => Some(self.credential_revoked(*idx, uri).await?),
            _ => None,
        };
        Ok(Some((info, revoked)))
    }

    async fn credential_revoked(&self, idx: u64, uri: &str) -> Result<bool> {
        use crate::protocol::documents::{StatusBits, StatusListClaims, PATH_STATUS_LIST_PREFIX};
        let path = uri.strip_prefix(self.net.audience()).filter(|p| p.starts_with(PATH_STATUS_LIST_PREFIX));
        let path = path.ok_or_else(|| bad_answer("credential status list is not this server's"))?;
        let jwt = self.net.get_text(path).await?;
        let claims: StatusListClaims =
            self.decode_server_jws(jwt.trim()).await.ok_or_else(|| bad_answer("status list signature"))?;
        if claims.sub != uri || claims.status_list.bits != 1 || claims.exp <= self.now() {
            return Err(bad_answer("status list subject, encoding or expiry"));
        }
        let bits = StatusBits::decode(&claims.status_list.lst).ok_or_else(|| bad_answer("status list encoding"))?;
        bits.get(idx).ok_or_else(|| bad_answer("status index outside the list"))
    }

    /// The stored credential, fetched first when missing or about to expire.
    async fn pid_credential(&self) -> Result<String> {
        // A credential issued before the register last changed (an approved correction,
        // decision 50) may carry an old value, and the server revoked it if it did: fetch anew.
        let changed_at = self.store.profile().ok().flatten().map_or(0, |p| p.value.updated_at);
        let fresh = |c: Option<CredentialRow<String>>, now: i64| {
            c.filter(|c| c.expires_at.saturating_sub(CREDENTIAL_RENEW_MARGIN_SECS) > now)
                .filter(|c| sdjwt::inspect(&c.credential).is_ok_and(|i| i.issued_at >= changed_at))
                .map(|c| c.credential)
        };
        if let Some(c) = fresh(self.store.credential::<String>(CREDENTIAL_PID)?, self.now()) {
            return Ok(c);
        }
        self.fetch_credential().await?;
        fresh(self.store.credential::<String>(CREDENTIAL_PID)?, self.now())
            .ok_or(Error::Domain(Msg::ConsentNoCredential))
    }

    /// Verify a share request (JWS or link) against the signed registry and keep it.
    pub(crate) async fn open_share_request(&self, input: &str) -> Result<PendingShare> {
        self.active_account()?;
        let jws = request_from_input(input)?;
        let kid = jsonwebtoken::decode_header(&jws).ok().and_then(|h| h.kid).ok_or_else(invalid)?;
        if !crate::protocol::rp::valid_rp_id(&kid) {
            return Err(invalid());
        }
        let rp = self.relying_party(&kid).await?;
        let (claims, response_origin) = check_share_request(&jws, &rp, self.now())?;
        let p = PendingShare { jws, claims, rp, response_origin };
        self.store.put_pending(PENDING_SHARE, &p.claims.request_id, p.claims.exp, &p)?;
        Ok(p)
    }

    /// Share: passcode, presentation, countersigned receipt, activity entry, submission.
    pub(crate) async fn share_data(&self, request_id: &str, optional: &[String], passcode_in: &str) -> Result<Shared> {
        let acc = self.active_account()?;
        let PendingRow::<PendingShare> { reference, payload: p, .. } =
            self.store.pending(PENDING_SHARE)?.ok_or(Error::Domain(Msg::ConsentUnknownShareRequest))?;
        if reference != request_id {
            return Err(Error::Domain(Msg::ConsentUnknownShareRequest));
        }
        if self.now() >= p.claims.exp {
            self.store.delete_pending(PENDING_SHARE)?;
            return Err(Error::Domain(Msg::ConsentRequestExpired));
        }
        let disclosed = disclosure_set(&p.claims, optional)?;
        let token = self.access_token().await?;
        self.verify_passcode(passcode_in).await?;
        let credential = Zeroizing::new(self.pid_credential().await?);

        // The presentation, key-bound by the device key.
        let signer = DeviceJwsSigner::new(self.keys.clone(), acc.key_alias.clone(), acc.public_key.clone());
        let names: Vec<&str> = disclosed.iter().map(String::as_str).collect();
        let counter = self.store.next_counter()?;
        let presentation =
            sdjwt::present(&credential, &names, &p.claims.iss, &p.claims.nonce, self.now(), counter, &signer)
                .await
                .map_err(|e| match signer.take_error() {
                    Some(k) => Error::KeyStore(k),
                    None if matches!(e, SdJwtError::UnknownClaim(_)) => Error::Domain(Msg::ConsentNoCredential),
                    None => Error::Storage(format!("presentation: {e}")),
                })?;
        let presentation = Zeroizing::new(presentation);

        // The receipt, signed and countersigned.
        let (chain_guard, chain_seq, prev_digest) = self.receipt_chain().await?;
        let receipt = ConsentReceipt {
            receipt_id: uuid::Uuid::new_v4().to_string(),
            kind: ReceiptKind::DataShare,
            rp_id: p.rp.id.clone(),
            rp_name: p.rp.name_vi.clone(),
            origin: p.response_origin.clone(),
            purpose: p.claims.purpose.clone(),
            claims: disclosed.clone(),
            retention_days: p.claims.retention_days,
            request_id: p.claims.request_id.clone(),
            nonce: p.claims.nonce.clone(),
            device_id: acc.device_id.clone(),
            issued_at: self.now(),
            chain_seq,
            prev_digest,
        };
        let signed = self.sign_consent(&acc, &receipt.nonce, receipt.statement_subject(), receipt.issued_at).await?;
        let head = self.sign_receipt_head(&acc, &receipt).await?;
        let req = ReceiptCountersignRequest {
            receipt: receipt.clone(),
            signed: signed.clone(),
            share_request: p.jws.clone(),
        };
        let resp: ReceiptCountersignResponse = self.net.post(PATH_RECEIPTS, &req, Some(&token)).await?;
        self.check_countersignature(&receipt, &signed, &resp.countersignature).await?;
        let mut stored = SignedReceipt {
            receipt,
            device_statement: signed,
            device_public_key: crypto::b64(&acc.public_key),
            countersignature: resp.countersignature,
            delivery: None,
        };
        self.store_receipt(&stored, &head)?;
        drop(chain_guard);
        self.store.delete_pending(PENDING_SHARE)?;

        #[cfg(feature = "test-support")]
        {
            LAST_PRESENTATION
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(acc.device_id.clone(), presentation.to_string());
        }
        let submission =
            PresentationSubmission { request_id: p.claims.request_id.clone(), presentation: presentation.to_string() };
        let result = self.submit_presentation(&p.claims.response_uri, &submission).await;
        drop(Zeroizing::new(submission.presentation));

        // Record what became of it: on the receipt (signed by the device) and in the log. Until
        // this point the stored receipt has no outcome, which reads as "unknown" (a kill while
        // sending leaves exactly that, and it is the truth).
        let status = delivery_status(&result);
        stored.delivery = self.sign_delivery(&acc, &stored.receipt, status).await;
        if let Err(e) = self.store.update_receipt(&stored) {
            tracing::warn!(error = %e, "delivery outcome not recorded on the receipt");
        }
        self.log_activity(
            ActivityKind::DataShare,
            format!(
                "rp={} receipt={} claims={} delivery={}",
                stored.receipt.rp_id,
                stored.receipt.receipt_id,
                disclosed.join(","),
                status.as_str()
            ),
        )
        .await;
        let result = result?;
        Ok(Shared { receipt: stored, disclosed, accepted: result.verified })
    }

    /// The device's signed record of a delivery outcome; `None` (read as unknown) when the key
    /// store fails.
    async fn sign_delivery(
        &self,
        acc: &AccountRow,
        receipt: &ConsentReceipt,
        status: DeliveryStatus,
    ) -> Option<DeliveryRecord> {
        match self.sign_consent(acc, &receipt.nonce, delivery_subject(receipt, status), self.now()).await {
            Ok(signed) => Some(DeliveryRecord { status, signed }),
            Err(e) => {
                tracing::warn!(error = %e, "delivery outcome not signed");
                None
            }
        }
    }

    /// POST the presentation to the relying party's response URI.
    ///
    /// The URI is on an origin registered for the RP (checked when the request was opened). When
    /// it lies under the identity server's own base URL — the demo relying parties the reference
    /// server hosts, and the tests — the pinned client of the identity server is used: it is the
    /// same TLS endpoint, and the development CA is only trusted there. Any other origin is a
    /// third party: the core must not extend the identity server's pins or private trust anchors
    /// to it, so a separate client with the platform's normal WebPKI verification is used.
    async fn submit_presentation(&self, uri: &str, body: &PresentationSubmission) -> Result<PresentationResult> {
        let base = self.net.base_url();
        let prefix = format!("{}{}", base.origin().ascii_serialization(), base.path().trim_end_matches('/'));
        if let Some(rest) = uri.strip_prefix(&prefix).filter(|r| r.starts_with('/')) {
            return self.net.post(rest, body, None).await;
        }
        third_party_post(uri, body).await
    }
}

/// POST JSON to a third-party HTTPS origin with the platform's certificate verification, no
/// redirects, bounded answer.
async fn third_party_post(uri: &str, body: &PresentationSubmission) -> Result<PresentationResult> {
    let url = reqwest::Url::parse(uri).map_err(|_| invalid())?;
    crate::net::check_url(&url, false)?;
    let tls = crate::net::tls::client_config(&[], &[])?;
    let client = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .https_only(true)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(std::time::Duration::from_secs(10))
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(|e| Error::Config(format!("http client: {e}")))?;
    // The same classification as the core's own client: a TLS failure is `Tls`, not `Offline`.
    let net_err = |e: reqwest::Error| {
        let kind = crate::net::classify(&e);
        Error::Net(NetError { kind, detail: format!("relying party: {}", e.without_url()), retry_after: None })
    };
    let resp = client.post(url).json(body).send().await.map_err(net_err)?;
    let status = resp.status();
    if resp.content_length().is_some_and(crate::net::over_response_limit) {
        return Err(bad_answer("relying party answer too large"));
    }
    let bytes = resp.bytes().await.map_err(net_err)?;
    if bytes.len() > crate::net::MAX_RESPONSE_BYTES {
        return Err(bad_answer("relying party answer too large"));
    }
    if !status.is_success() {
        return Err(crate::net::server_error(status, &bytes, None));
    }
    serde_json::from_slice(&bytes).map_err(|_| bad_answer("relying party answer malformed"))
}

/// What an attempt to deliver a presentation tells about the data reaching the relying party:
/// a success with `verified` is delivered; any answer of the relying party (a refusal, a 4xx or
/// 5xx, `verified: false`) means it received the data and refused it; a failure to connect
/// (offline, TLS, refused, a URL not allowed) means nothing left the device; a timeout or a
/// malformed answer means it was sent and may have arrived.
pub(crate) fn delivery_status(r: &Result<PresentationResult>) -> DeliveryStatus {
    match r {
        Ok(p) if p.verified => DeliveryStatus::Delivered,
        Ok(_) => DeliveryStatus::Refused,
        Err(Error::Net(n)) => match n.kind {
            NetworkErrorKind::Offline | NetworkErrorKind::Tls | NetworkErrorKind::InsecureUrl => {
                DeliveryStatus::NotDelivered
            }
            NetworkErrorKind::Server => DeliveryStatus::Refused,
            NetworkErrorKind::Timeout | NetworkErrorKind::Protocol => DeliveryStatus::Unknown,
        },
        // The relying party answered with an error body (presentation refused, replayed, …).
        Err(Error::Domain(_)) | Err(Error::Server { .. }) => DeliveryStatus::Refused,
        // Refused locally before sending (bad URI, client configuration).
        Err(Error::Config(_)) | Err(Error::Fields(_)) => DeliveryStatus::NotDelivered,
        Err(_) => DeliveryStatus::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::SigningKey;

    const NOW: i64 = 1_780_000_000;

    fn rp(key: &SigningKey) -> RelyingPartyEntry {
        RelyingPartyEntry {
            id: "bank-demo".into(),
            name_vi: "Ngân hàng".into(),
            name_en: "Bank".into(),
            origins: vec!["https://bank.example".into()],
            redirect_uris: vec![],
            public_key: crypto::b64(&crypto::sec1_uncompressed(&p256::ecdsa::VerifyingKey::from(key))),
            claims: vec!["full_name".into(), "birthdate".into(), "permanent_address".into(), "phone".into()],
            purposes: vec!["account_opening".into()],
            min_level: 1,
        }
    }

    fn claims() -> ShareRequestClaims {
        ShareRequestClaims {
            iss: "bank-demo".into(),
            request_id: "r1".into(),
            nonce: "n1".into(),
            purpose: "account_opening".into(),
            purpose_vi: "Mở tài khoản".into(),
            purpose_en: "Account opening".into(),
            retention_days: 1825,
            required: vec!["full_name".into(), "birthdate".into()],
            optional: vec!["permanent_address".into(), "phone".into()],
            response_uri: "https://bank.example/rp/presentations".into(),
            iat: NOW,
            exp: NOW + 600,
        }
    }

    fn sign(key: &SigningKey, c: &ShareRequestClaims, typ: &str) -> String {
        let mut h = Map::new();
        h.insert("typ".into(), typ.into());
        let Value::Object(p) = serde_json::to_value(c).unwrap() else { unreachable!() };
        sdjwt::P256JwsSigner::new(key.clone(), Some(c.iss.clone())).sign_compact(&h, &p)
    }

    fn code(r: Result<(ShareRequestClaims, String)>) -> &'static str {
        match r {
            Ok(_) => "ok",
            Err(Error::Domain(m)) => m.code(),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn share_requests_are_checked_against_the_registry() {
        let key = SigningKey::from_slice(&[5u8; 32]).unwrap();
        let entry = rp(&key);
        let ok = sign(&key, &claims(), SHARE_REQUEST_TYP);
        let (c, origin) = check_share_request(&ok, &entry, NOW).unwrap();
        assert_eq!((c, origin.as_str()), (claims(), "https://bank.example"));

        let other = SigningKey::from_slice(&[6u8; 32]).unwrap();
        assert_eq!(
            code(check_share_request(&sign(&other, &claims(), SHARE_REQUEST_TYP), &entry, NOW)),
            "consent.rp_signature_invalid"
        );
        assert_eq!(
            code(check_share_request(&sign(&key, &claims(), "JWT"), &entry, NOW)),
            "consent.share_request_invalid"
        );
        let with = |f: fn(&mut ShareRequestClaims)| {
            let mut c = claims();
            f(&mut c);
            code(check_share_request(&sign(&key, &c, SHARE_REQUEST_TYP), &entry, NOW))
        };
        assert_eq!(with(|c| c.purpose = "marketing".into()), "consent.purpose_not_registered");
        assert_eq!(with(|c| c.optional.push("cccd_number".into())), "consent.claim_not_allowed");
        assert_eq!(with(|c| c.optional.push("full_name".into())), "consent.claim_not_allowed");
        assert_eq!(with(|c| c.optional.push("password".into())), "consent.claim_not_allowed");
        assert_eq!(with(|c| c.response_uri = "https://evil.example/collect".into()), "consent.origin_unregistered");
        assert_eq!(with(|c| c.response_uri = "http://bank.example/x".into()), "consent.origin_unregistered");
        assert_eq!(with(|c| c.iss = "dvc-demo".into()), "consent.rp_signature_invalid");
        assert_eq!(with(|c| c.exp = c.iat + MAX_REQUEST_LIFETIME_SECS + 1), "consent.share_request_invalid");
        // Far apart enough that `exp - iat` overflows: refused, no panic.
        assert_eq!(
            with(|c| {
                c.iat = i64::MIN + 1;
                c.exp = i64::MAX;
            }),
            "consent.share_request_invalid"
        );
        assert_eq!(code(check_share_request(&ok, &entry, NOW + 600)), "consent.request_expired");
        let mut tampered = ok.clone();
        tampered.insert(ok.find('.').unwrap() + 3, 'A');
        assert_ne!(code(check_share_request(&tampered, &entry, NOW)), "ok");
    }

    #[test]
    fn only_offered_claims_can_be_added() {
        let c = claims();
        assert_eq!(disclosure_set(&c, &[]).unwrap(), ["birthdate", "full_name"]);
        assert_eq!(disclosure_set(&c, &["phone".into(), "phone".into()]).unwrap(), ["birthdate", "full_name", "phone"]);
        assert!(matches!(disclosure_set(&c, &["cccd_number".into()]), Err(Error::Domain(Msg::ConsentClaimNotOffered))));
    }

    /// Issue 9 item 16: what each way a delivery can fail says about the data reaching the RP.
    #[test]
    fn delivery_outcomes_tell_not_sent_from_refused_from_unknown() {
        let net = |kind| Err(Error::Net(NetError { kind, detail: String::new(), retry_after: None }));
        let ok = |verified| Ok(PresentationResult { verified, claims: Map::new() });
        assert_eq!(delivery_status(&ok(true)), DeliveryStatus::Delivered);
        assert_eq!(delivery_status(&ok(false)), DeliveryStatus::Refused);
        for kind in [NetworkErrorKind::Offline, NetworkErrorKind::Tls, NetworkErrorKind::InsecureUrl] {
            assert_eq!(delivery_status(&net(kind)), DeliveryStatus::NotDelivered, "{kind:?}");
        }
        assert_eq!(delivery_status(&net(NetworkErrorKind::Timeout)), DeliveryStatus::Unknown);
        assert_eq!(delivery_status(&net(NetworkErrorKind::Protocol)), DeliveryStatus::Unknown);
        assert_eq!(delivery_status(&net(NetworkErrorKind::Server)), DeliveryStatus::Refused);
        assert_eq!(delivery_status(&Err(Error::Domain(Msg::ConsentPresentationRejected))), DeliveryStatus::Refused);
    }

    #[test]
    fn links_carry_exactly_one_request() {
        assert_eq!(request_from_input(" a.b.c ").unwrap(), "a.b.c");
        assert_eq!(request_from_input("citizenid://share?request=a.b.c").unwrap(), "a.b.c");
        for bad in ["citizenid://login?request=a", "citizenid://share?request=a&request=b", "citizenid://share"] {
            assert!(matches!(request_from_input(bad), Err(Error::Domain(Msg::ConsentShareRequestInvalid))), "{bad}");
        }
        assert!(request_from_input(&"a".repeat(MAX_REQUEST_LEN + 1)).is_err());
    }
}

/// Issue 9, item 17: the post to a relying party reports TLS, refused/offline and timeout
/// failures as the core's own client does (kept apart from the share-flow tests above).
#[cfg(test)]
mod third_party_post_errors {
    use super::*;
    use std::sync::Arc;

    fn body() -> PresentationSubmission {
        PresentationSubmission { request_id: "r1".into(), presentation: "x~y~".into() }
    }

    fn kind(r: Result<PresentationResult>) -> NetworkErrorKind {
        match r {
            Err(Error::Net(n)) => n.kind,
            other => panic!("{:?}", other.map(|_| ())),
        }
    }

    /// A TLS server whose self-signed certificate no platform trusts.
    async fn untrusted_tls_server() -> std::net::SocketAddr {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let der =
            rustls_pki_types::PrivateKeyDer::Pkcs8(rustls_pki_types::PrivatePkcs8KeyDer::from(key.serialize_der()));
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.der().clone()], der)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let _ = acceptor.accept(tcp).await;
                });
            }
        });
        addr
    }

    #[tokio::test]
    async fn an_untrusted_certificate_is_tls_not_offline() {
        let addr = untrusted_tls_server().await;
        let r = third_party_post(&format!("https://localhost:{}/rp/presentations", addr.port()), &body()).await;
        assert_eq!(kind(r), NetworkErrorKind::Tls);
    }

    #[tokio::test]
    async fn a_closed_port_is_offline() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let r = third_party_post(&format!("https://localhost:{port}/rp/presentations"), &body()).await;
        assert_eq!(kind(r), NetworkErrorKind::Offline);
    }
}
