//! Consent receipts: signing (device), countersignature checks (server), storage, export, and
//! the pure verification of an export that anyone can run with the two public keys.
//!
//! A receipt verifies when (1) the device statement names exactly it — subject
//! `receipt:<digest of the receipt>`, purpose `consent`, the receipt's nonce and device — (2)
//! the device signature over that statement verifies with the embedded device key, and (3) the
//! server's ES256 countersignature verifies with the server key and names the same receipt id,
//! digest, device, device signature and counter. Changing any field of the receipt breaks (1);
//! changing the statement breaks (2); swapping in another key and signature breaks (3).
//!
//! Receipts are chained (issue 9): each carries its sequence number and the previous receipt's
//! digest, both inside the digest, so the device signature and the server countersignature
//! cover them. A verifier therefore sees a removed or reordered receipt (a gap or a broken
//! link). The end of the chain is covered by the device's signed head (`receipts:<seq>:<digest>`,
//! signed with each new receipt and kept in the sealed integrity marks), so cutting receipts off
//! the end of an export is seen too. On the device, the marks name the last receipt: a deleted
//! row shows up as a missing receipt in `list_receipts`.

use crate::account::Account;
use crate::crypto;
use crate::error::{Error, Msg, Result};
use crate::protocol::rp::{
    delivery_subject, receipt_head_subject, receipt_sync_subject, ConsentReceipt, InPersonCountersignRequest,
    ReceiptCountersignClaims, ReceiptCountersignResponse, ReceiptExport, ReceiptKind, SignedReceipt,
    PATH_RECEIPTS_IN_PERSON, RECEIPT_CHAIN_GENESIS,
};
use crate::protocol::{Purpose, SignedStatement, Statement};
use crate::store::AccountRow;

/// Export format version.
pub const EXPORT_FORMAT: u32 = 1;

/// Whether a countersignature's claims name exactly this receipt and device signature.
pub fn countersignature_matches(c: &ReceiptCountersignClaims, receipt: &ConsentReceipt, st: &SignedStatement) -> bool {
    c.iss == st.statement.audience
        && c.receipt_id == receipt.receipt_id
        && c.receipt_digest == receipt.digest()
        && c.device_id == receipt.device_id
        && c.device_signature == st.signature
        && c.counter == st.statement.counter
}

/// Verify one stored or exported receipt with the server key (pure). `pending`: the export
/// lists it as awaiting its countersignature, which only an in-person receipt with an empty
/// countersignature may be.
pub fn verify_signed_receipt(r: &SignedReceipt, server_key: &jsonwebtoken::jwk::Jwk, pending: bool) -> Result<()> {
    let st = &r.device_statement.statement;
    if st.subject != r.receipt.statement_subject()
        || st.purpose != Purpose::Consent
        || st.nonce != r.receipt.nonce
        || st.device_id != r.receipt.device_id
    {
        return Err(Error::Domain(Msg::ConsentReceiptTampered));
    }
    let pk = crypto::unb64(&r.device_public_key).ok_or(Error::Domain(Msg::ConsentReceiptSignatureInvalid))?;
    crypto::verify_wire_signature(&pk, &st.canonical_bytes(), &r.device_statement.signature)
        .map_err(|_| Error::Domain(Msg::ConsentReceiptSignatureInvalid))?;
    // An in-person presentation happens offline: its receipt is device-signed at once and
    // carries no countersignature until the phone is online again (decision 45). The export
    // names such receipts; any other receipt without a countersignature is refused.
    let awaiting = pending && r.receipt.kind == ReceiptKind::InPerson && r.countersignature.is_empty();
    if pending && !awaiting {
        return Err(Error::Domain(Msg::ConsentCountersignatureInvalid));
    }
    if !awaiting {
        let c: ReceiptCountersignClaims = super::decode_es256(&r.countersignature, server_key)
            .ok_or(Error::Domain(Msg::ConsentCountersignatureInvalid))?;
        if !countersignature_matches(&c, &r.receipt, &r.device_statement) {
            return Err(Error::Domain(Msg::ConsentCountersignatureInvalid));
        }
    }
    if let Some(d) = &r.delivery {
        let s = &d.signed.statement;
        if s.subject != delivery_subject(&r.receipt, d.status)
            || s.purpose != Purpose::Consent
            || s.nonce != r.receipt.nonce
            || s.device_id != r.receipt.device_id
            || crypto::verify_wire_signature(&pk, &s.canonical_bytes(), &d.signed.signature).is_err()
        {
            return Err(Error::Domain(Msg::ConsentDeliveryInvalid));
        }
    }
    Ok(())
}

/// Check the order of receipts and the head (pure): unchained receipts (made before chaining)
/// first, then the chain 1, 2, 3, … each linking to the previous digest, and a head signed by
/// the device of the last receipt naming exactly the last sequence and digest.
pub fn verify_chain(receipts: &[SignedReceipt], head: Option<&SignedStatement>) -> Result<()> {
    let broken = || Error::Domain(Msg::ConsentReceiptChainBroken);
    let chained: Vec<&SignedReceipt> = receipts.iter().skip_while(|r| r.receipt.chain_seq == 0).collect();
    let mut prev = RECEIPT_CHAIN_GENESIS.to_string();
    for (i, r) in chained.iter().enumerate() {
        if r.receipt.chain_seq != i as u64 + 1 || r.receipt.prev_digest != prev {
            return Err(broken());
        }
        prev = r.receipt.digest();
    }
    let Some(last) = chained.last() else {
        // No chained receipt: a head would claim receipts that are not there.
        return match head {
            None => Ok(()),
            Some(_) => Err(Error::Domain(Msg::ConsentReceiptsTruncated)),
        };
    };
    let head = head.ok_or(Error::Domain(Msg::ConsentReceiptsTruncated))?;
    let st = &head.statement;
    let pk = crypto::unb64(&last.device_public_key).ok_or(Error::Domain(Msg::ConsentReceiptSignatureInvalid))?;
    if st.purpose != Purpose::Consent
        || st.device_id != last.receipt.device_id
        || crypto::verify_wire_signature(&pk, &st.canonical_bytes(), &head.signature).is_err()
    {
        return Err(Error::Domain(Msg::ConsentReceiptsTruncated));
    }
    if st.subject != receipt_head_subject(last.receipt.chain_seq, &prev) || st.nonce != prev {
        // A valid head naming another end: receipts were cut off (or the head is from another
        // export).
        return Err(Error::Domain(Msg::ConsentReceiptsTruncated));
    }
    Ok(())
}

/// Verify an export (pure): format, optional pinned server key, every receipt. Returns how many
/// receipts verified.
pub fn verify_export(json: &str, pinned_server_jwk: Option<&str>) -> Result<u32> {
    let invalid = || Error::Domain(Msg::ConsentExportInvalid);
    let x: ReceiptExport = serde_json::from_str(json).map_err(|_| invalid())?;
    if x.format != EXPORT_FORMAT {
        return Err(invalid());
    }
    if x.receipts.is_empty() && x.server_key.is_null() && pinned_server_jwk.is_none() {
        verify_chain(&[], x.head.as_ref())?;
        return Ok(0);
    }
    let key: jsonwebtoken::jwk::Jwk = serde_json::from_value(x.server_key.clone()).map_err(|_| invalid())?;
    if let Some(p) = pinned_server_jwk {
        let pinned: jsonwebtoken::jwk::Jwk = serde_json::from_str(p).map_err(|_| invalid())?;
        if pinned.algorithm != key.algorithm {
            return Err(Error::Domain(Msg::ConsentServerKeyMismatch));
        }
    }
    for r in &x.receipts {
        verify_signed_receipt(r, &key, x.pending_countersignature.contains(&r.receipt.receipt_id))?;
    }
    verify_chain(&x.receipts, x.head.as_ref())?;
    u32::try_from(x.receipts.len()).map_err(|_| invalid())
}

/// One line of the receipt list: a stored receipt, or a marker for a receipt that is damaged
/// (its row does not open) or missing from the chain.
pub(crate) enum ReceiptEntry {
    /// A receipt that opened.
    Stored(Box<SignedReceipt>),
    /// A damaged or missing receipt; what is known of it.
    Marker {
        /// Its id (empty when missing).
        receipt_id: String,
        /// Its kind, when the row says.
        kind: Option<ReceiptKind>,
        /// Unix seconds (0 when missing).
        issued_at: i64,
        /// Its chain sequence (0 when unknown).
        sequence: u64,
        /// `consent.receipt_damaged` or `consent.receipt_missing`.
        damage: Msg,
    },
}

impl ReceiptEntry {
    /// Sort key, newest first when reversed: (sequence, issued at).
    fn order(&self) -> (u64, i64) {
        match self {
            ReceiptEntry::Stored(r) => (r.receipt.chain_seq, r.receipt.issued_at),
            ReceiptEntry::Marker { sequence, issued_at, .. } => (*sequence, *issued_at),
        }
    }
}

impl Account {
    /// Sign a consent statement (purpose `consent`) with the device key and the next counter.
    /// Used for QR approvals and denials and for data-share receipts.
    pub(crate) async fn sign_consent(
        &self,
        acc: &AccountRow,
        nonce: &str,
        subject: String,
        issued_at: i64,
    ) -> Result<SignedStatement> {
        let counter = self.store.next_counter()?;
        let st = Statement {
            purpose: Purpose::Consent,
            audience: self.net.audience().to_string(),
            nonce: nonce.to_string(),
            device_id: acc.device_id.clone(),
            counter,
            issued_at,
            subject,
        };
        self.sign_statement(&acc.key_alias, &acc.public_key, st).await
    }

    /// Check the server's countersignature of `receipt` (JWS with a key of `/v1/keys`, our
    /// audience as issuer, this receipt, digest, device signature and counter). A failure is
    /// [`Error::BadReceipt`] (`consent.countersignature_invalid`).
    pub(crate) async fn check_countersignature(
        &self,
        receipt: &ConsentReceipt,
        signed: &SignedStatement,
        countersignature: &str,
    ) -> Result<()> {
        let c: ReceiptCountersignClaims = self
            .decode_server_jws(countersignature)
            .await
            .ok_or_else(|| Error::BadReceipt("countersignature does not verify".into()))?;
        if c.iss != self.net.audience() || !countersignature_matches(&c, receipt, signed) {
            return Err(Error::BadReceipt("countersignature for something else".into()));
        }
        Ok(())
    }

    /// The chain position of the next receipt: take the returned guard first and hold it until
    /// the receipt is stored (two receipts in flight would claim the same sequence).
    pub(crate) async fn receipt_chain(&self) -> Result<(tokio::sync::MutexGuard<'_, ()>, u64, String)> {
        let guard = self.services.receipt_lock.lock().await;
        let (seq, prev) = self.store.next_receipt_link()?;
        Ok((guard, seq, prev))
    }

    /// Sign the head of the chain as it will be once `receipt` is stored. Signed before the
    /// receipt is sent for countersigning, so a key-store failure cannot leave a countersigned
    /// receipt unstored; an unused head is simply dropped.
    pub(crate) async fn sign_receipt_head(
        &self,
        acc: &AccountRow,
        receipt: &ConsentReceipt,
    ) -> Result<SignedStatement> {
        let digest = receipt.digest();
        let subject = receipt_head_subject(receipt.chain_seq, &digest);
        self.sign_consent(acc, &digest, subject, receipt.issued_at).await
    }

    /// Send the receipts of in-person presentations that still await the server's
    /// countersignature (made offline; decision 45), oldest first, and store each checked
    /// countersignature. Each request carries a fresh statement of the **bookkeeping** key
    /// (purpose `activity`, nonce = the receipt's digest, subject `receipt_sync:<id>`, the next
    /// counter): no prompt, as the sync runs in the background. Without a registered bookkeeping
    /// key nothing is sent (the next login registers one). Stops at the first failure (the rest
    /// wait for the next sync). Returns how many were countersigned now.
    pub(crate) async fn sync_in_person_receipts(&self) -> Result<u32> {
        let acc = self.active_account()?;
        let _one_at_a_time = self.services.receipt_sync_lock.lock().await;
        let pending: Vec<SignedReceipt> = self
            .store
            .receipts()?
            .into_iter()
            .filter(|r| r.receipt.kind == ReceiptKind::InPerson && r.countersignature.is_empty())
            .collect();
        if pending.is_empty() {
            return Ok(0);
        }
        let Some(key) = self.store.bookkeeping_key()?.filter(|k| k.registered()) else {
            tracing::info!("in-person receipts not synced: no registered bookkeeping key yet");
            return Ok(0);
        };
        let mut done = 0;
        for mut r in pending {
            let sync = Statement {
                purpose: Purpose::Activity,
                audience: self.net.audience().to_string(),
                nonce: r.receipt.digest(),
                device_id: acc.device_id.clone(),
                counter: self.store.next_counter()?,
                issued_at: self.now(),
                subject: receipt_sync_subject(&r.receipt.receipt_id),
            };
            let sync = self.sign_bookkeeping(&key, sync).await?;
            let request =
                InPersonCountersignRequest { receipt: r.receipt.clone(), signed: r.device_statement.clone(), sync };
            let answer: ReceiptCountersignResponse = self.net.post(PATH_RECEIPTS_IN_PERSON, &request, None).await?;
            self.check_countersignature(&r.receipt, &r.device_statement, &answer.countersignature).await?;
            r.countersignature = answer.countersignature;
            self.store.update_receipt(&r)?;
            done += 1;
        }
        Ok(done)
    }

    /// Store a receipt whose countersignature was checked, with its chain head.
    pub(crate) fn store_receipt(&self, r: &SignedReceipt, head: &SignedStatement) -> Result<()> {
        self.store.save_receipt(r, Some(head))
    }

    /// The receipts for the citizen, newest first, with markers for damaged rows and for
    /// receipts of the chain that are no longer stored (gaps, or the end named by the marks).
    pub(crate) fn receipt_list(&self) -> Result<Vec<ReceiptEntry>> {
        let rows = self.store.receipt_rows()?;
        let marks = self.store.integrity_marks()?.unwrap_or_default();
        let marker = |receipt_id: String, kind: Option<ReceiptKind>, issued_at: i64, sequence: u64, m: Msg| {
            ReceiptEntry::Marker { receipt_id, kind, issued_at, sequence, damage: m }
        };
        let mut out = vec![];
        let mut present = std::collections::BTreeSet::new();
        for row in rows {
            present.extend(row.chain_seq);
            match &row.receipt {
                Some(r) => out.push(ReceiptEntry::Stored(Box::new(r.clone()))),
                None => {
                    let kind = row.kind;
                    out.push(marker(
                        row.receipt_id,
                        kind,
                        row.issued_at,
                        row.chain_seq.unwrap_or(0),
                        Msg::ConsentReceiptDamaged,
                    ));
                }
            }
        }
        let last = present.last().copied().unwrap_or(0).max(marks.receipt_seq);
        for seq in (1..=last).filter(|s| !present.contains(s)) {
            out.push(marker(String::new(), None, 0, seq, Msg::ConsentReceiptMissing));
        }
        if marks.damaged {
            // The marks themselves were removed or changed: what was deleted cannot be told.
            out.push(marker(String::new(), None, 0, 0, Msg::ConsentReceiptMissing));
        }
        out.sort_by_key(|r| std::cmp::Reverse(r.order()));
        Ok(out)
    }

    /// The export: receipts oldest first, with the server key that countersigned the newest and
    /// the device's signed head of the chain. Rows that do not open are left out (the chain then
    /// shows the gap: `list_receipts` reports them).
    pub(crate) fn export_receipts(&self) -> Result<ReceiptExport> {
        let receipts = self.store.receipts()?;
        let head = self.store.integrity_marks()?.and_then(|m| m.receipt_head);
        let kid = receipts.iter().rev().find_map(|r| super::jws_kid(&r.countersignature));
        let key = match kid {
            Some(kid) => self.server_jwk(&kid),
            None => self.cached_server_keys().into_iter().next(),
        };
        let server_key = key.map(|k| serde_json::to_value(k).unwrap_or_default()).unwrap_or_default();
        let pending_countersignature = receipts
            .iter()
            .filter(|r| r.receipt.kind == ReceiptKind::InPerson && r.countersignature.is_empty())
            .map(|r| r.receipt.receipt_id.clone())
            .collect();
        Ok(ReceiptExport { format: EXPORT_FORMAT, server_key, receipts, head, pending_countersignature })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::rp::ReceiptKind;
    use p256::ecdsa::signature::Signer;
    use p256::ecdsa::{Signature, SigningKey, VerifyingKey};

    const AUD: &str = "https://id.example";

    /// A server key as JWK plus a signer of ES256 JWS with it.
    fn server() -> (jsonwebtoken::jwk::Jwk, jsonwebtoken::EncodingKey) {
        use p256::pkcs8::EncodePrivateKey;
        let sk = p256::SecretKey::from_slice(&[8u8; 32]).unwrap();
        let pem = sk.to_pkcs8_pem(p256::pkcs8::LineEnding::LF).unwrap();
        let enc = jsonwebtoken::EncodingKey::from_ec_pem(pem.as_bytes()).unwrap();
        let point = sk.public_key().to_sec1_bytes();
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(serde_json::json!({
            "kty": "EC", "crv": "P-256", "kid": "k1", "alg": "ES256", "use": "sig",
            "x": crypto::b64(&point[1..33]), "y": crypto::b64(&point[33..65]),
        }))
        .unwrap();
        (jwk, enc)
    }

    fn signed_receipt() -> (SignedReceipt, jsonwebtoken::jwk::Jwk) {
        let device = SigningKey::from_slice(&[4u8; 32]).unwrap();
        let receipt = ConsentReceipt {
            receipt_id: "r-1".into(),
            kind: ReceiptKind::QrLogin,
            rp_id: "dvc-demo".into(),
            rp_name: "Cổng".into(),
            origin: "https://id.example".into(),
            purpose: "login".into(),
            claims: vec!["birthdate".into(), "full_name".into()],
            retention_days: 0,
            request_id: "sess".into(),
            nonce: "nonce".into(),
            device_id: "dev-1".into(),
            issued_at: 1_780_000_000,
            chain_seq: 0,
            prev_digest: String::new(),
        };
        let statement = Statement {
            purpose: Purpose::Consent,
            audience: AUD.into(),
            nonce: receipt.nonce.clone(),
            device_id: receipt.device_id.clone(),
            counter: 7,
            issued_at: receipt.issued_at,
            subject: receipt.statement_subject(),
        };
        let sig: Signature = device.sign(&statement.canonical_bytes());
        let st = SignedStatement { statement, signature: crypto::b64(&crypto::low_s(sig).to_bytes()) };
        let (jwk, enc) = server();
        let claims = ReceiptCountersignClaims {
            iss: AUD.into(),
            receipt_id: receipt.receipt_id.clone(),
            receipt_digest: receipt.digest(),
            device_id: receipt.device_id.clone(),
            device_signature: st.signature.clone(),
            counter: 7,
            countersigned_at: receipt.issued_at,
        };
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = Some("k1".into());
        header.typ = Some(<ReceiptCountersignClaims as crate::jwt::JwtKind>::TYP.into());
        let cs = crypto::low_s_jws(&jsonwebtoken::encode(&header, &claims, &enc).unwrap());
        let r = SignedReceipt {
            receipt,
            device_statement: st,
            device_public_key: crypto::b64(&crypto::sec1_uncompressed(&VerifyingKey::from(&device))),
            countersignature: cs,
            delivery: None,
        };
        (r, jwk)
    }

    fn export_json(r: &SignedReceipt, jwk: &jsonwebtoken::jwk::Jwk) -> String {
        serde_json::to_string(&ReceiptExport {
            head: None,
            pending_countersignature: vec![],
            format: 1,
            server_key: serde_json::to_value(jwk).unwrap(),
            receipts: vec![r.clone()],
        })
        .unwrap()
    }

    fn code(r: Result<u32>) -> String {
        match r {
            Ok(n) => format!("ok:{n}"),
            Err(Error::Domain(m)) => m.code().to_string(),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn only_listed_in_person_receipts_may_await_their_countersignature() {
        let (r, jwk) = signed_receipt();
        let listed = |r: &SignedReceipt| {
            let mut v: serde_json::Value = serde_json::from_str(&export_json(r, &jwk)).unwrap();
            v["pending_countersignature"] = serde_json::json!([r.receipt.receipt_id]);
            code(verify_export(&v.to_string(), None))
        };
        // A data share is never pending, with or without its countersignature.
        assert_eq!(listed(&r), "consent.countersignature_invalid");
        let mut bare = r.clone();
        bare.countersignature.clear();
        assert_eq!(listed(&bare), "consent.countersignature_invalid");
        assert_eq!(code(verify_export(&export_json(&bare, &jwk), None)), "consent.countersignature_invalid");
        assert_eq!(code(verify_export(&export_json(&r, &jwk), None)), "ok:1");
    }

    #[test]
    fn a_clean_export_verifies_and_each_tampering_has_its_code() {
        let (r, jwk) = signed_receipt();
        let json = export_json(&r, &jwk);
        let pinned = serde_json::to_string(&jwk).unwrap();
        assert_eq!(code(verify_export(&json, None)), "ok:1");
        assert_eq!(code(verify_export(&json, Some(&pinned))), "ok:1");

        let tamper = |f: &dyn Fn(&mut serde_json::Value)| {
            let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
            f(&mut v);
            code(verify_export(&v.to_string(), Some(&pinned)))
        };
        // A claim added to the receipt.
        assert_eq!(
            tamper(&|v| v["receipts"][0]["receipt"]["claims"].as_array_mut().unwrap().push("phone".into())),
            "consent.receipt_tampered"
        );
        assert_eq!(
            tamper(&|v| v["receipts"][0]["receipt"]["retention_days"] = 3650.into()),
            "consent.receipt_tampered"
        );
        // Receipt changed and the statement's subject with it: the device signature breaks.
        let mut forged = r.clone();
        forged.receipt.claims.push("phone".into());
        forged.device_statement.statement.subject = forged.receipt.statement_subject();
        assert_eq!(code(verify_export(&export_json(&forged, &jwk), None)), "consent.receipt_signature_invalid");
        // Re-signed with another device key: the countersignature names the old signature.
        let other = SigningKey::from_slice(&[9u8; 32]).unwrap();
        let sig: Signature = other.sign(&forged.device_statement.statement.canonical_bytes());
        forged.device_statement.signature = crypto::b64(&crypto::low_s(sig).to_bytes());
        forged.device_public_key = crypto::b64(&crypto::sec1_uncompressed(&VerifyingKey::from(&other)));
        assert_eq!(code(verify_export(&export_json(&forged, &jwk), None)), "consent.countersignature_invalid");
        // A broken countersignature.
        assert_eq!(
            tamper(&|v| v["receipts"][0]["countersignature"] = "eyJhbGciOiJFUzI1NiJ9.e30.AAAA".into()),
            "consent.countersignature_invalid"
        );
        // Another server key embedded than the pinned one.
        let mut other_key = jwk.clone();
        if let jsonwebtoken::jwk::AlgorithmParameters::EllipticCurve(p) = &mut other_key.algorithm {
            p.x = crypto::b64(&[1u8; 32]);
        }
        assert_eq!(
            code(verify_export(&json, Some(&serde_json::to_string(&other_key).unwrap()))),
            "consent.server_key_mismatch"
        );
        assert_eq!(code(verify_export("{", None)), "consent.export_invalid");
        assert_eq!(tamper(&|v| v["format"] = 2.into()), "consent.export_invalid");
    }

    /// Substitution (RFC 8725 §3.11): the same countersignature claims signed by the same server
    /// key as another kind of JWT (before explicit typing every kind was `typ` JWT) verified as a
    /// countersignature; now only `citizen-consent-receipt+jwt` does.
    #[test]
    fn a_countersignature_typed_as_another_kind_is_refused() {
        let (r, jwk) = signed_receipt();
        let (_, enc) = server();
        let claims: serde_json::Value =
            serde_json::from_slice(&crypto::unb64(r.countersignature.split('.').nth(1).unwrap()).unwrap()).unwrap();
        for typ in crate::jwt::typ::ALL
            .iter()
            .filter(|t| !t.contains("consent-receipt"))
            .map(|t| Some(t.to_string()))
            .chain([None])
        {
            let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
            header.kid = Some("k1".into());
            header.typ = typ.clone();
            let mut forged = r.clone();
            forged.countersignature = crypto::low_s_jws(&jsonwebtoken::encode(&header, &claims, &enc).unwrap());
            assert_eq!(
                code(verify_export(&export_json(&forged, &jwk), None)),
                "consent.countersignature_invalid",
                "typ {typ:?}"
            );
        }
    }
}
