//! The activity log on the device: appending signed entries as things happen, anchoring the head
//! at the server, verifying, exporting.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};

use crate::account::Account;
use crate::activity::{self, ActivityAnchor, ActivityEntry, ActivityKind, AnchorClaims, AnchorRequest, LogProblem};
use crate::error::{Error, Msg, Result};
use crate::protocol::{Purpose, Statement};

/// A self-contained export anyone can verify with the device's and the server's public keys.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ActivityExport {
    /// Format version.
    pub version: u32,
    /// Server audience the entries were signed for.
    pub audience: String,
    /// The device.
    pub device_id: String,
    /// Device public key (SEC1, base64url).
    pub device_public_key: String,
    /// Server public keys (JWKS entries) that countersigned the anchors.
    pub server_keys: Vec<serde_json::Value>,
    /// Entries in order.
    pub entries: Vec<ActivityEntry>,
    /// Anchors.
    pub anchors: Vec<ActivityAnchor>,
}

/// Check an anchor's countersignature against a key set.
pub fn anchor_verifies(a: &ActivityAnchor, keys: &[jsonwebtoken::jwk::Jwk], audience: &str, device_id: &str) -> bool {
    let Ok(header) = jsonwebtoken::decode_header(&a.countersignature) else { return false };
    // Low-S (issue 9): jsonwebtoken accepts both ECDSA twins.
    if header.alg != Algorithm::ES256 || !crate::crypto::jws_signature_is_low_s(&a.countersignature) {
        return false;
    }
    let Some(jwk) = keys.iter().find(|k| k.common.key_id.is_some() && k.common.key_id == header.kid) else {
        return false;
    };
    let Ok(key) = DecodingKey::from_jwk(jwk) else { return false };
    let mut v = Validation::new(Algorithm::ES256);
    v.required_spec_claims.clear();
    v.validate_exp = false;
    v.validate_aud = false;
    match jsonwebtoken::decode::<AnchorClaims>(&a.countersignature, &key, &v) {
        Ok(d) => {
            let c = d.claims;
            c.iss == audience
                && c.device_id == device_id
                && c.seq == a.seq
                && c.hash == a.hash
                && c.anchored_at == a.anchored_at
        }
        Err(_) => false,
    }
}

/// Verify an export on its own (no device, no network).
pub fn verify_export(json: &str) -> Result<(usize, usize, Vec<LogProblem>)> {
    let x: ActivityExport = serde_json::from_str(json).map_err(|e| {
        Error::Fields(vec![crate::error::FieldError::at(format!("export: {}", e.classify() as u8), Msg::InvalidInput)])
    })?;
    Ok(verify_parsed(&x))
}

/// Verify a parsed export with the keys it carries.
fn verify_parsed(x: &ActivityExport) -> (usize, usize, Vec<LogProblem>) {
    let pk = crate::crypto::unb64(&x.device_public_key).unwrap_or_default();
    let keys: Vec<jsonwebtoken::jwk::Jwk> =
        x.server_keys.iter().filter_map(|v| serde_json::from_value(v.clone()).ok()).collect();
    let problems = activity::verify(&x.entries, &x.anchors, &x.audience, &x.device_id, &pk, &|a| {
        anchor_verifies(a, &keys, &x.audience, &x.device_id)
    });
    (x.entries.len(), x.anchors.len(), problems)
}

impl Account {
    /// Append an entry, signed with the device key. Best effort: the operation it records has
    /// already happened, so a failure here is logged, never returned.
    pub async fn log_activity(&self, kind: ActivityKind, summary: String) {
        if let Err(e) = self.try_log_activity(kind, summary).await {
            tracing::warn!(error = %e, ?kind, "activity entry not recorded");
        }
    }

    async fn try_log_activity(&self, kind: ActivityKind, summary: String) -> Result<ActivityEntry> {
        let acc = self.store.account()?.ok_or(Error::Domain(Msg::NotEnrolled))?;
        let _serial = self.services.activity_lock.lock().await;
        let (last_seq, prev_hash) = self.store.activity_head()?.unwrap_or((0, activity::GENESIS.to_string()));
        let seq = last_seq + 1;
        let counter = self.store.next_counter()?;
        let at = self.now();
        let hash = activity::entry_hash(seq, at, kind, &summary, &prev_hash, counter);
        let mut entry = ActivityEntry { seq, at, kind, summary, prev_hash, counter, hash, signature: String::new() };
        let st = activity::entry_statement(self.net.audience(), &acc.device_id, &entry);
        entry.signature = self.sign_statement(&acc.key_alias, &acc.public_key, st).await?.signature;
        self.store.append_activity(&entry)?;
        Ok(entry)
    }

    /// Ask the server to countersign the head (no-op when it already did).
    pub async fn anchor_activity(&self) -> Result<Option<ActivityAnchor>> {
        let acc = self.active_account()?;
        let Some((seq, hash)) = self.store.activity_head()? else { return Ok(None) };
        if self.store.anchors()?.iter().any(|a| a.seq == seq) {
            return Ok(None);
        }
        let counter = self.store.next_counter()?;
        let st = Statement {
            purpose: Purpose::Activity,
            audience: self.net.audience().to_string(),
            nonce: hash.clone(),
            device_id: acc.device_id.clone(),
            counter,
            issued_at: self.now(),
            subject: format!("anchor:{seq}"),
        };
        let signed = self.sign_statement(&acc.key_alias, &acc.public_key, st).await?;
        let anchor: ActivityAnchor =
            self.net.post(activity::PATH_ANCHOR, &AnchorRequest { seq, hash: hash.clone(), signed }, None).await?;
        if anchor.seq != seq || anchor.hash != hash {
            return Err(crate::services::outbox::bad_answer("anchor for another head"));
        }
        // Verify the countersignature before keeping it (fetching the server keys if needed).
        let kid = jsonwebtoken::decode_header(&anchor.countersignature).ok().and_then(|h| h.kid).unwrap_or_default();
        let mut ok = anchor_verifies(&anchor, &self.cached_server_keys(), self.net.audience(), &acc.device_id);
        if !ok {
            let _ = self.server_key_refresh(&kid).await;
            ok = anchor_verifies(&anchor, &self.cached_server_keys(), self.net.audience(), &acc.device_id);
        }
        if !ok {
            return Err(Error::BadReceipt("anchor countersignature does not verify".into()));
        }
        self.store.save_anchor(&anchor)?;
        Ok(Some(anchor))
    }

    /// Entries; `None` where a stored entry does not open (tampered at rest).
    pub fn activity_entries(&self) -> Result<Vec<(u64, Option<ActivityEntry>)>> {
        self.store.activity()
    }

    /// The export of the log.
    pub fn export_activity(&self) -> Result<ActivityExport> {
        Ok(self.export_from(self.store.activity()?)?.0)
    }

    /// Build the export from stored rows; also returns the sequence numbers that did not open.
    fn export_from(&self, raw: Vec<(u64, Option<ActivityEntry>)>) -> Result<(ActivityExport, Vec<u64>)> {
        let acc = self.store.account()?.ok_or(Error::Domain(Msg::NotEnrolled))?;
        let unreadable = raw.iter().filter(|(_, e)| e.is_none()).map(|(seq, _)| *seq).collect();
        let export = ActivityExport {
            version: 1,
            audience: self.net.audience().to_string(),
            device_id: acc.device_id,
            device_public_key: crate::crypto::b64(&acc.public_key),
            server_keys: self.store.server_keys()?,
            entries: raw.into_iter().filter_map(|(_, e)| e).collect(),
            anchors: self.store.anchors()?,
        };
        Ok((export, unreadable))
    }

    /// Verify the local log (entries that do not open count as changed).
    pub fn verify_activity(&self) -> Result<(usize, usize, Vec<LogProblem>)> {
        let (export, unreadable) = self.export_from(self.store.activity()?)?;
        let (n, a, found) = verify_parsed(&export);
        let mut problems: Vec<LogProblem> = unreadable.iter().map(|&seq| LogProblem::ChangedEntry { seq }).collect();
        problems.extend(found);
        Ok((n + unreadable.len(), a, problems))
    }
}
