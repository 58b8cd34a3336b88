//! Consent receipts: canonical encoding, digest, countersignature, delivery records, export.

use serde::{Deserialize, Serialize};

use super::*;
use crate::protocol::{sha256_hex, SignedStatement};

/// What a receipt records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptKind {
    /// Login to a portal by QR code or deep link.
    QrLogin,
    /// Selective disclosure of PID claims.
    DataShare,
    /// A document presented in person (ISO 18013-5) to a verifier, offline: device-signed at
    /// once, countersigned by the server later (ARCHITECTURE.md, in-person presentation).
    InPerson,
}

impl ReceiptKind {
    /// Stable wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReceiptKind::QrLogin => "qr_login",
            ReceiptKind::DataShare => "data_share",
            ReceiptKind::InPerson => "in_person",
        }
    }
}

/// A consent receipt: every field is bound by the device's signature through
/// [`ConsentReceipt::digest`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentReceipt {
    /// UUID v4 chosen by the device.
    pub receipt_id: String,
    /// Login or data share.
    pub kind: ReceiptKind,
    /// The relying party.
    pub rp_id: String,
    /// Its registered Vietnamese name at the time.
    pub rp_name: String,
    /// The origin (login) or response origin (share).
    pub origin: String,
    /// `login` or the RP's stated purpose code.
    pub purpose: String,
    /// Exactly the released claims, sorted.
    pub claims: Vec<String>,
    /// Days the RP may keep the data (0: only for the session).
    pub retention_days: u32,
    /// Login session id or share request id.
    pub request_id: String,
    /// The RP's nonce.
    pub nonce: String,
    /// The signing device.
    pub device_id: String,
    /// Unix seconds of consent.
    pub issued_at: i64,
    /// Position in the device's receipt chain: 1, 2, 3, … without gaps (0 = a receipt made
    /// before receipts were chained). Bound by the digest, hence by the device signature and the
    /// server's countersignature.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub chain_seq: u64,
    /// Digest of the previous receipt in the chain ([`RECEIPT_CHAIN_GENESIS`] for the first).
    /// Empty for unchained (older) receipts.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub prev_digest: String,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// `prev_digest` of the first receipt of a chain.
pub const RECEIPT_CHAIN_GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

fn put_field(out: &mut Vec<u8>, f: &[u8]) {
    out.extend_from_slice(&crate::crypto::len_prefix(f.len()));
    out.extend_from_slice(f);
}

impl ConsentReceipt {
    /// Injective encoding: tag and every field length-prefixed, claims counted. A chained
    /// receipt (`chain_seq` > 0) uses the V2 tag and appends its sequence and the previous
    /// digest; an unchained one encodes exactly as before, so older receipts keep their digest.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        put_field(&mut out, if self.chain_seq > 0 { RECEIPT_TAG_V2 } else { RECEIPT_TAG });
        put_field(&mut out, self.receipt_id.as_bytes());
        put_field(&mut out, self.kind.as_str().as_bytes());
        put_field(&mut out, self.rp_id.as_bytes());
        put_field(&mut out, self.rp_name.as_bytes());
        put_field(&mut out, self.origin.as_bytes());
        put_field(&mut out, self.purpose.as_bytes());
        out.extend_from_slice(&crate::crypto::len_prefix(self.claims.len()));
        for c in &self.claims {
            put_field(&mut out, c.as_bytes());
        }
        put_field(&mut out, &self.retention_days.to_be_bytes());
        put_field(&mut out, self.request_id.as_bytes());
        put_field(&mut out, self.nonce.as_bytes());
        put_field(&mut out, self.device_id.as_bytes());
        put_field(&mut out, &self.issued_at.to_be_bytes());
        if self.chain_seq > 0 {
            put_field(&mut out, &self.chain_seq.to_be_bytes());
            put_field(&mut out, self.prev_digest.as_bytes());
        }
        out
    }

    /// SHA-256 hex of the canonical bytes.
    pub fn digest(&self) -> String {
        sha256_hex(&self.canonical_bytes())
    }

    /// The subject of the device statement that signs this receipt.
    pub fn statement_subject(&self) -> String {
        format!("receipt:{}", self.digest())
    }
}

/// Claims of the server's countersignature (ES256 JWS).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptCountersignClaims {
    /// The server audience.
    pub iss: String,
    /// The receipt.
    pub receipt_id: String,
    /// Its digest (hex).
    pub receipt_digest: String,
    /// The device whose signature is countersigned.
    pub device_id: String,
    /// The device statement's signature (base64url), so the countersignature names exactly one
    /// device signature.
    pub device_signature: String,
    /// The device counter of that statement.
    pub counter: u64,
    /// Unix seconds.
    pub countersigned_at: i64,
}

impl crate::jwt::JwtKind for ReceiptCountersignClaims {
    const TYP: &'static str = crate::jwt::typ::CONSENT_RECEIPT;
}

/// Body of `POST /v1/consent/receipts` (data shares; QR logins are countersigned by the decision).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReceiptCountersignRequest {
    /// The receipt.
    pub receipt: ConsentReceipt,
    /// Purpose `consent`, nonce = receipt nonce, subject `receipt:<digest>`.
    pub signed: SignedStatement,
    /// The RP's share request JWS, so the server can check the receipt matches what the RP
    /// asked (registered RP, purpose, claims within required ∪ optional).
    pub share_request: String,
}

/// Subject of the bookkeeping statement that asks for the countersignature of an in-person
/// presentation's receipt (never an activity anchor's `anchor:<seq>`).
pub fn receipt_sync_subject(receipt_id: &str) -> String {
    format!("receipt_sync:{receipt_id}")
}

/// Body of `POST /v1/consent/receipts/in-person`: an in-person presentation's receipt, signed by
/// the device key when it was made (offline), sent when the phone is online again.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InPersonCountersignRequest {
    /// The receipt (kind `in_person`).
    pub receipt: ConsentReceipt,
    /// The device-key statement made with the receipt: purpose `consent`, nonce = the receipt's
    /// nonce (the session transcript hash), subject `receipt:<digest>`. Checked for its
    /// signature and content, not for freshness: it was signed offline, possibly days ago.
    pub signed: SignedStatement,
    /// A fresh statement by the device's bookkeeping key (no prompt): purpose `activity`,
    /// audience this server, nonce = the receipt's digest, subject
    /// [`receipt_sync_subject`], the next counter. Binds the request to now and to this receipt.
    pub sync: SignedStatement,
}

/// Answer of `POST /v1/consent/receipts`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReceiptCountersignResponse {
    /// JWS over [`ReceiptCountersignClaims`].
    pub countersignature: String,
}

/// A receipt with both signatures, as stored and exported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedReceipt {
    /// The receipt.
    pub receipt: ConsentReceipt,
    /// The device's statement over it.
    pub device_statement: SignedStatement,
    /// The device public key (SEC1 uncompressed, base64url).
    pub device_public_key: String,
    /// The server's countersignature (JWS).
    pub countersignature: String,
    /// Data shares: what became of the presentation, signed by the device once known. Absent
    /// while unknown (e.g. the app was killed while sending) and for logins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<DeliveryRecord>,
}

/// What became of a data share's presentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// The relying party received and accepted the presentation.
    Delivered,
    /// The relying party received the presentation and refused it (it did see the data).
    Refused,
    /// No connection to the relying party: the presentation never left the device.
    NotDelivered,
    /// Sent, but no answer (timeout, connection lost): it may have reached the relying party.
    Unknown,
}

impl DeliveryStatus {
    /// Stable wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Refused => "refused",
            DeliveryStatus::NotDelivered => "not_delivered",
            DeliveryStatus::Unknown => "unknown",
        }
    }
}

/// The device's signed record of a delivery outcome: a consent statement (nonce = the receipt's
/// nonce) whose subject is [`delivery_subject`], so it names exactly one receipt and one status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    /// The outcome.
    pub status: DeliveryStatus,
    /// The device statement (its `issued_at` is the time of the outcome).
    pub signed: SignedStatement,
}

/// Subject of the statement recording a delivery outcome.
pub fn delivery_subject(receipt: &ConsentReceipt, status: DeliveryStatus) -> String {
    format!("delivery:{}:{}", status.as_str(), receipt.digest())
}

/// Subject of the device's signed head of the receipt chain.
pub fn receipt_head_subject(seq: u64, digest: &str) -> String {
    format!("receipts:{seq}:{digest}")
}

/// Export format of receipts.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReceiptExport {
    /// Format version (1).
    pub format: u32,
    /// The server's signing key (JWK) that countersigned.
    pub server_key: serde_json::Value,
    /// The receipts, oldest first.
    pub receipts: Vec<SignedReceipt>,
    /// The device's signed head of the chain (`receipts:<last seq>:<last digest>`): removing
    /// receipts from the end of an export breaks it. Absent when no receipt is chained.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head: Option<SignedStatement>,
    /// Ids of the in-person receipts still awaiting the server's countersignature (presented
    /// offline, not yet synced). Only these may carry an empty countersignature.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending_countersignature: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipt_digest_binds_every_field() {
        let r = ConsentReceipt {
            receipt_id: "r".into(),
            kind: ReceiptKind::DataShare,
            rp_id: "bank".into(),
            rp_name: "Ngân hàng".into(),
            origin: "https://bank.example".into(),
            purpose: "account_opening".into(),
            claims: vec!["birthdate".into(), "full_name".into()],
            retention_days: 365,
            request_id: "q".into(),
            nonce: "n".into(),
            device_id: "d".into(),
            issued_at: 1,
            chain_seq: 0,
            prev_digest: String::new(),
        };
        let d = r.digest();
        let mut c = r.clone();
        c.claims = vec!["birthdate".into(), "full_namex".into()];
        assert_ne!(c.digest(), d);
        let mut c = r.clone();
        c.retention_days = 366;
        assert_ne!(c.digest(), d);
        let mut c = r.clone();
        c.kind = ReceiptKind::QrLogin;
        assert_ne!(c.digest(), d);
        // Moving bytes between adjacent fields changes the digest (length prefixes).
        let mut c = r.clone();
        c.claims = vec!["birthdatefull_name".into()];
        assert_ne!(c.digest(), d);
        assert_eq!(r.statement_subject(), format!("receipt:{d}"));
        // Chained: the sequence and the previous digest are bound too (and the tag changes).
        let mut c1 = r.clone();
        c1.chain_seq = 1;
        c1.prev_digest = RECEIPT_CHAIN_GENESIS.into();
        assert_ne!(c1.digest(), d);
        let mut c2 = c1.clone();
        c2.chain_seq = 2;
        assert_ne!(c2.digest(), c1.digest());
        let mut c3 = c1.clone();
        c3.prev_digest = d.clone();
        assert_ne!(c3.digest(), c1.digest());
        // An unchained receipt serialises without the chain fields (older digests stay valid).
        let json = serde_json::to_value(&r).unwrap();
        assert!(json.get("chain_seq").is_none() && json.get("prev_digest").is_none());
    }
}
