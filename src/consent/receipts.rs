//! Consent receipts: signing (device), countersignature checks (server), storage, export, and
//! the pure verification of an export that anyone can run with the two public keys.
//!
//! A receipt verifies when (1) the device statement names exactly it — subject
//! `receipt:<digest of the receipt>`, purpose `consent`, the receipt's nonce and device — (2)
//! the device signature over that statement verifies with the embedded device key, and (3) the
//! server's ES256 countersignature verifies with the server key and names the same receipt id,
//! digest, device, device signature and counter. Changing any field of the receipt breaks (1);
//! changing the statement breaks (2); swapping in another key and signature breaks (3).

use crate::account::Account;
use crate::crypto;
use crate::error::{Error, Msg, Result};
use crate::protocol::rp::{ConsentReceipt, ReceiptCountersignClaims, ReceiptExport, SignedReceipt};
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

/// Verify one stored or exported receipt with the server key (pure).
pub fn verify_signed_receipt(r: &SignedReceipt, server_key: &jsonwebtoken::jwk::Jwk) -> Result<()> {
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
    let c: ReceiptCountersignClaims = super::decode_es256(&r.countersignature, server_key)
        .ok_or(Error::Domain(Msg::ConsentCountersignatureInvalid))?;
    if !countersignature_matches(&c, &r.receipt, &r.device_statement) {
        return Err(Error::Domain(Msg::ConsentCountersignatureInvalid));
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
        verify_signed_receipt(r, &key)?;
    }
    Ok(x.receipts.len() as u32)
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

    /// Store a receipt whose countersignature was checked (QR logins here; data shares in the
    /// share flow).
    pub(crate) fn store_receipt(&self, r: &SignedReceipt) -> Result<()> {
        self.store.save_receipt(r)
    }

    /// The export: receipts oldest first, with the server key that countersigned the newest.
    pub fn export_receipts(&self) -> Result<ReceiptExport> {
        let receipts = self.store.receipts()?;
        let kid = receipts.last().and_then(|r| super::jws_kid(&r.countersignature));
        let key = match kid {
            Some(kid) => self.server_jwk(&kid),
            None => self.cached_server_keys().into_iter().next(),
        };
        let server_key = key.map(|k| serde_json::to_value(k).unwrap_or_default()).unwrap_or_default();
        Ok(ReceiptExport { format: EXPORT_FORMAT, server_key, receipts })
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
        let cs = crypto::low_s_jws(&jsonwebtoken::encode(&header, &claims, &enc).unwrap());
        let r = SignedReceipt {
            receipt,
            device_statement: st,
            device_public_key: crypto::b64(&crypto::sec1_uncompressed(&VerifyingKey::from(&device))),
            countersignature: cs,
        };
        (r, jwk)
    }

    fn export_json(r: &SignedReceipt, jwk: &jsonwebtoken::jwk::Jwk) -> String {
        serde_json::to_string(&ReceiptExport {
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
}
