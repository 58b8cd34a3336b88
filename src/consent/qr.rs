//! QR login on the device: scan (strict parse, offline checks against the signed registry, then
//! the server), approve (passcode, signed consent receipt, verified countersignature) and deny.

use serde::{Deserialize, Serialize};

use crate::account::Account;
use crate::activity::ActivityKind;
use crate::crypto;
use crate::error::{Error, Msg, Result};
use crate::protocol::rp::{
    ConsentReceipt, Decision, QrDecisionRequest, QrDecisionResponse, QrFrame, QrParseError, QrScanRequest,
    QrScanResponse, ReceiptKind, RelyingPartyEntry, SignedLoginRequest, SignedReceipt, PATH_QR_DECISION, PATH_QR_SCAN,
    QR_MAX_TEXT,
};

pub use super::registry::REGISTRY_RECHECK_AFTER_SECS;

/// Scheme and host of the same-device deep link `citizenid://login?p=<frame>`.
pub const LOGIN_LINK_PREFIX: &str = "citizenid://login";

/// The stable code of a parser refusal: each refusal class has its own.
pub fn parse_error_msg(e: &QrParseError) -> Msg {
    match e {
        QrParseError::TooLong => Msg::ConsentQrTooLong,
        QrParseError::NotLoginCode => Msg::ConsentQrNotLoginCode,
        QrParseError::UnsupportedVersion(_) => Msg::ConsentQrVersion,
        QrParseError::Truncated | QrParseError::TrailingBytes | QrParseError::InvalidField(_) => {
            Msg::ConsentQrMalformed
        }
    }
}

/// Strict parse of a scanned frame, mapped to the catalogue.
pub fn parse_frame(text: &str) -> Result<QrFrame> {
    QrFrame::parse(text).map_err(|e| Error::Domain(parse_error_msg(&e)))
}

/// The frame text carried by a same-device deep link (`citizenid://login?p=<percent-encoded>`).
pub fn frame_from_link(link: &str) -> Result<String> {
    // Percent-encoding at most triples the frame; anything longer is refused before parsing.
    if link.len() > 3 * QR_MAX_TEXT + 64 {
        return Err(Error::Domain(Msg::ConsentQrTooLong));
    }
    let not_ours = || Error::Domain(Msg::ConsentQrNotLoginCode);
    let url = url::Url::parse(link).map_err(|_| not_ours())?;
    if url.scheme() != "citizenid" || url.host_str() != Some("login") || !matches!(url.path(), "" | "/") {
        return Err(not_ours());
    }
    let mut frames = url.query_pairs().filter(|(k, _)| k == "p").map(|(_, v)| v.into_owned());
    match (frames.next(), frames.next()) {
        (Some(f), None) => Ok(f),
        _ => Err(not_ours()),
    }
}

/// The offline checks of a signed login request against its registry entry, in order: RP
/// signature, registered origin, allowed claims, not expired by the core's clock.
pub fn check_request(signed: &SignedLoginRequest, rp: &RelyingPartyEntry, now: i64) -> Result<()> {
    let req = &signed.request;
    let key = crypto::unb64(&rp.public_key).ok_or(Error::Domain(Msg::ConsentRegistryInvalid))?;
    signed.verify_rp_signature(&key).map_err(|_| Error::Domain(Msg::ConsentRpSignatureInvalid))?;
    if !rp.origins.iter().any(|o| o == &req.origin) {
        return Err(Error::Domain(Msg::ConsentOriginUnregistered));
    }
    if !req.claims.iter().all(|c| rp.claims.contains(c)) {
        return Err(Error::Domain(Msg::ConsentClaimNotAllowed));
    }
    if now >= req.expires_at {
        return Err(Error::Domain(Msg::ConsentRequestExpired));
    }
    Ok(())
}

/// Whether `url` goes to one of the RP's registered redirect URIs (exactly, or with a query or
/// fragment appended).
pub fn redirect_allowed(url: &str, rp: &RelyingPartyEntry) -> bool {
    rp.redirect_uris.iter().any(|u| {
        url.strip_prefix(u.as_str())
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('#') || rest.starts_with('?'))
    })
}

/// Whether the server's code choices are well formed: three distinct two-digit codes.
fn choices_ok(c: &[String]) -> bool {
    c.len() == 3
        && c.iter().all(|s| s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit()))
        && c[0] != c[1]
        && c[1] != c[2]
        && c[0] != c[2]
}

/// A scanned login waiting for the citizen (sealed in `qr_pending`).
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct PendingLogin {
    /// Session id (base64url).
    pub session_id: String,
    /// The RP's nonce (base64url).
    pub nonce: String,
    /// The registry entry the request was checked against.
    pub rp: RelyingPartyEntry,
    /// The origin the code was shown on.
    pub origin: String,
    /// Requested claims, as in the request.
    pub claims: Vec<String>,
    /// Deep link on this device.
    pub same_device: bool,
    /// The server's three codes.
    pub code_choices: Vec<String>,
    /// Unix seconds (the RP's expiry).
    pub expires_at: i64,
}

/// An approved login: the stored receipt and, for a same-device login, where to go next.
pub(crate) struct Approval {
    /// The receipt, signed, countersigned and stored.
    pub receipt: SignedReceipt,
    /// The portal's redirect (same-device logins, checked against the registry).
    pub redirect_url: Option<String>,
}

/// Server refusals after which the scanned request is dead (answered, cancelled, expired).
fn ends_request(e: &Error) -> bool {
    matches!(
        e,
        Error::Domain(
            Msg::ConsentUnknownSession
                | Msg::ConsentRequestExpired
                | Msg::ConsentAlreadyDecided
                | Msg::ConsentAlreadyScanned
                | Msg::ConsentSessionMismatch
                | Msg::ConsentClaimsChanged
                | Msg::ConsentWrongCode
        )
    )
}

impl Account {
    /// Scan a frame: every offline check first, then `POST /v1/qr/scan`.
    pub(crate) async fn scan_login(&self, text: &str) -> Result<PendingLogin> {
        let frame = parse_frame(text.trim())?;
        self.active_account()?;
        let req = &frame.signed.request;
        let rp = self.relying_party(&req.rp_id).await?;
        let rp = match check_request(&frame.signed, &rp, self.now()) {
            Ok(()) => rp,
            Err(e) => self.recheck_with_fresh_registry(&frame.signed, rp, e).await?,
        };

        let token = self.access_token().await?;
        let r: QrScanResponse =
            self.net.post(PATH_QR_SCAN, &QrScanRequest { frame: text.trim().to_string() }, Some(&token)).await?;
        if r.session_id != req.session_id_b64() || !choices_ok(&r.code_choices) {
            return Err(crate::services::outbox::bad_answer("scan answer for another session"));
        }
        let pending = PendingLogin {
            session_id: req.session_id_b64(),
            nonce: req.nonce_b64(),
            rp,
            origin: req.origin.clone(),
            claims: req.claims.clone(),
            same_device: req.same_device,
            code_choices: r.code_choices,
            expires_at: req.expires_at,
        };
        self.store.save_qr_pending(&pending.session_id, &pending, pending.expires_at, self.now())?;
        Ok(pending)
    }

    /// A registered RP may have rotated its key, or registered an origin or a claim, since the
    /// cached registry was fetched. When the cached copy is older than
    /// [`REGISTRY_RECHECK_AFTER_SECS`], fetch it once more and check again against the fresh
    /// entry; otherwise (or if the fetch fails, or nothing changed) the original refusal stands.
    /// The age floor keeps a stream of hostile codes from turning into a stream of fetches.
    async fn recheck_with_fresh_registry(
        &self,
        signed: &SignedLoginRequest,
        cached: RelyingPartyEntry,
        refusal: Error,
    ) -> Result<RelyingPartyEntry> {
        let retryable = matches!(
            refusal,
            Error::Domain(
                Msg::ConsentRpSignatureInvalid | Msg::ConsentOriginUnregistered | Msg::ConsentClaimNotAllowed
            )
        );
        if !retryable || !self.registry_old_enough_for_recheck()? {
            return Err(refusal);
        }
        let fresh = match self.refresh_registry().await {
            Ok(c) => c.relying_parties.into_iter().find(|r| r.id == cached.id),
            Err(e) => {
                tracing::info!(error = %e, "registry refresh after a refused login code failed");
                None
            }
        };
        match fresh {
            Some(rp) if rp != cached => {
                check_request(signed, &rp, self.now())?;
                Ok(rp)
            }
            _ => Err(refusal),
        }
    }

    fn pending_login(&self, session_id: &str) -> Result<PendingLogin> {
        self.store.qr_pending(session_id)?.ok_or(Error::Domain(Msg::ConsentUnknownSession))
    }

    /// Drop the pending request when the server says it is over; pass the error on.
    fn settle<T>(&self, session_id: &str, r: Result<T>) -> Result<T> {
        if let Err(e) = &r {
            if ends_request(e) {
                if let Err(d) = self.store.delete_qr_pending(session_id) {
                    tracing::warn!(error = %d, "could not drop a finished login request");
                }
            }
        }
        r
    }

    /// Approve: passcode, signed receipt, decision, verified countersignature, stored receipt.
    pub(crate) async fn approve_login(&self, session_id: &str, code: &str, passcode_in: &str) -> Result<Approval> {
        let p = self.pending_login(session_id)?;
        let acc = self.active_account()?;
        if !p.code_choices.iter().any(|c| c == code) {
            return Err(Error::Domain(Msg::ConsentWrongCode));
        }
        if self.now() >= p.expires_at {
            return self.settle(session_id, Err(Error::Domain(Msg::ConsentRequestExpired)));
        }
        let token = self.access_token().await?;
        self.verify_passcode(passcode_in).await?;

        let mut claims = p.claims.clone();
        claims.sort();
        let (_chain_guard, chain_seq, prev_digest) = self.receipt_chain().await?;
        let receipt = ConsentReceipt {
            receipt_id: uuid::Uuid::new_v4().to_string(),
            kind: ReceiptKind::QrLogin,
            rp_id: p.rp.id.clone(),
            rp_name: p.rp.name_vi.clone(),
            origin: p.origin.clone(),
            purpose: "login".into(),
            claims,
            retention_days: 0,
            request_id: p.session_id.clone(),
            nonce: p.nonce.clone(),
            device_id: acc.device_id.clone(),
            issued_at: self.now(),
            chain_seq,
            prev_digest,
        };
        let signed = self.sign_consent(&acc, &receipt.nonce, receipt.statement_subject(), receipt.issued_at).await?;
        let head = self.sign_receipt_head(&acc, &receipt).await?;
        let req = QrDecisionRequest {
            session_id: p.session_id.clone(),
            decision: Decision::Approve,
            verification_code: Some(code.to_string()),
            receipt: Some(receipt.clone()),
            signed: signed.clone(),
        };
        let r: Result<QrDecisionResponse> = self.net.post(PATH_QR_DECISION, &req, Some(&token)).await;
        let resp = self.settle(session_id, r)?;
        let cs =
            resp.countersignature.ok_or_else(|| Error::BadReceipt("approval without a countersignature".into()))?;
        self.check_countersignature(&receipt, &signed, &cs).await?;
        let stored = SignedReceipt {
            receipt,
            device_statement: signed,
            device_public_key: crypto::b64(&acc.public_key),
            countersignature: cs,
            delivery: None,
        };
        self.store_receipt(&stored, &head)?;
        self.store.delete_qr_pending(session_id)?;
        self.log_activity(
            ActivityKind::QrApproval,
            format!("rp={} receipt={}", stored.receipt.rp_id, stored.receipt.receipt_id),
        )
        .await;
        let redirect_url = match resp.redirect_url {
            Some(u) if p.same_device => {
                if !redirect_allowed(&u, &p.rp) {
                    return Err(Error::Domain(Msg::ConsentOriginUnregistered));
                }
                Some(u)
            }
            _ => None,
        };
        Ok(Approval { receipt: stored, redirect_url })
    }

    /// Deny: a signed `deny:<session id>` so the portal learns it at once.
    pub(crate) async fn deny_login(&self, session_id: &str) -> Result<()> {
        let p = self.pending_login(session_id)?;
        let acc = self.active_account()?;
        let token = self.access_token().await?;
        let signed = self.sign_consent(&acc, &p.nonce, format!("deny:{}", p.session_id), self.now()).await?;
        let req = QrDecisionRequest {
            session_id: p.session_id.clone(),
            decision: Decision::Deny,
            verification_code: None,
            receipt: None,
            signed,
        };
        let r: Result<QrDecisionResponse> = self.net.post(PATH_QR_DECISION, &req, Some(&token)).await;
        self.settle(session_id, r)?;
        self.store.delete_qr_pending(session_id)?;
        self.log_activity(ActivityKind::QrDenial, format!("rp={}", p.rp.id)).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::rp::{LoginRequest, QR_PREFIX};
    use p256::ecdsa::signature::Signer;
    use p256::ecdsa::{Signature, SigningKey, VerifyingKey};

    const NOW: i64 = 1_780_000_010;

    fn rp_key() -> SigningKey {
        SigningKey::from_slice(&[5u8; 32]).unwrap()
    }

    fn entry() -> RelyingPartyEntry {
        RelyingPartyEntry {
            id: "dvc-demo".into(),
            name_vi: "Cổng".into(),
            name_en: "Portal".into(),
            origins: vec!["https://dichvucong.example.gov.vn".into()],
            redirect_uris: vec!["https://dichvucong.example.gov.vn/portal/callback".into()],
            public_key: crypto::b64(&crypto::sec1_uncompressed(&VerifyingKey::from(&rp_key()))),
            claims: vec!["full_name".into(), "birthdate".into()],
            purposes: vec!["login".into()],
            min_level: 1,
        }
    }

    fn signed(f: impl FnOnce(&mut LoginRequest), key: &SigningKey) -> SignedLoginRequest {
        let mut request = LoginRequest {
            same_device: false,
            session_id: [1; 16],
            nonce: [2; 16],
            issued_at: 1_780_000_000,
            expires_at: 1_780_000_120,
            rp_id: "dvc-demo".into(),
            origin: "https://dichvucong.example.gov.vn".into(),
            claims: vec!["full_name".into()],
        };
        f(&mut request);
        let sig: Signature = key.sign(&request.signing_input().unwrap());
        SignedLoginRequest { request, rp_signature: crate::crypto::low_s(sig).to_bytes().into() }
    }

    fn code(r: Result<()>) -> &'static str {
        match r {
            Ok(()) => "ok",
            Err(Error::Domain(m)) => m.code(),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn offline_checks_each_have_their_code() {
        assert_eq!(code(check_request(&signed(|_| {}, &rp_key()), &entry(), NOW)), "ok");
        let other = SigningKey::from_slice(&[6u8; 32]).unwrap();
        assert_eq!(code(check_request(&signed(|_| {}, &other), &entry(), NOW)), "consent.rp_signature_invalid");
        let evil = signed(|r| r.origin = "https://dichvucong-gov.example".into(), &rp_key());
        assert_eq!(code(check_request(&evil, &entry(), NOW)), "consent.origin_unregistered");
        let greedy = signed(|r| r.claims.push("cccd_number".into()), &rp_key());
        assert_eq!(code(check_request(&greedy, &entry(), NOW)), "consent.claim_not_allowed");
        assert_eq!(code(check_request(&signed(|_| {}, &rp_key()), &entry(), 1_780_000_120)), "consent.request_expired");
        // A signature over other claims does not carry over (claims changed after signing).
        let mut changed = signed(|_| {}, &rp_key());
        changed.request.claims = vec!["birthdate".into()];
        assert_eq!(code(check_request(&changed, &entry(), NOW)), "consent.rp_signature_invalid");
    }

    #[test]
    fn parser_refusals_map_to_distinct_codes() {
        let c = |t: &str| match parse_frame(t) {
            Err(Error::Domain(m)) => m.code(),
            _ => "ok",
        };
        assert_eq!(c(&"A".repeat(QR_MAX_TEXT + 1)), "consent.qr_too_long");
        assert_eq!(c("https://example.com/login"), "consent.qr_not_login_code");
        assert_eq!(c(&format!("{QR_PREFIX}{}", crypto::b64(&[0x43, 0x5a, 9]))), "consent.qr_version");
        assert_eq!(c(&format!("{QR_PREFIX}{}", crypto::b64(&[0x43, 0x5a, 1, 0, 1]))), "consent.qr_malformed");
        let f = QrFrame::new(signed(|_| {}, &rp_key()), 0, b"k").unwrap();
        assert_eq!(c(&f.to_text().unwrap()), "ok");
    }

    #[test]
    fn deep_links_carry_exactly_one_frame() {
        let f = QrFrame::new(signed(|_| {}, &rp_key()), 0, b"k").unwrap().to_text().unwrap();
        let enc: String = url::form_urlencoded::byte_serialize(f.as_bytes()).collect();
        assert_eq!(frame_from_link(&format!("citizenid://login?p={enc}")).unwrap(), f);
        for bad in [
            format!("https://login?p={enc}"),
            format!("citizenid://share?p={enc}"),
            format!("citizenid://login?p={enc}&p={enc}"),
            "citizenid://login".to_string(),
        ] {
            assert!(matches!(frame_from_link(&bad), Err(Error::Domain(Msg::ConsentQrNotLoginCode))), "{bad}");
        }
        assert!(matches!(
            frame_from_link(&format!("citizenid://login?p={}", "A".repeat(4 * QR_MAX_TEXT))),
            Err(Error::Domain(Msg::ConsentQrTooLong))
        ));
    }

    #[test]
    fn redirects_must_be_registered() {
        let rp = entry();
        let base = "https://dichvucong.example.gov.vn/portal/callback";
        assert!(redirect_allowed(base, &rp));
        assert!(redirect_allowed(&format!("{base}#id_token=x&session_id=y"), &rp));
        assert!(!redirect_allowed(&format!("{base}.evil.example#id_token=x"), &rp));
        assert!(!redirect_allowed("https://evil.example/portal/callback#x", &rp));
    }

    #[test]
    fn code_choices_are_three_distinct_two_digit_codes() {
        let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(choices_ok(&v(&["12", "34", "56"])));
        assert!(!choices_ok(&v(&["12", "12", "56"])));
        assert!(!choices_ok(&v(&["12", "34"])));
        assert!(!choices_ok(&v(&["12", "34", "5x"])));
    }
}
