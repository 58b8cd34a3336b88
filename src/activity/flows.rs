//! The activity log on the device: appending signed entries as things happen, anchoring the head
//! at the server, verifying, exporting.

use jsonwebtoken::{Algorithm, DecodingKey};
use serde::{Deserialize, Serialize};

use crate::account::Account;
use crate::activity::{self, ActivityAnchor, ActivityEntry, ActivityKind, AnchorClaims, AnchorRequest, LogProblem};
use crate::error::{Error, Msg, Result};
use crate::protocol::{Purpose, Statement};
use crate::store::rows::{ActivityHead, ActivityRow, AnchorRow};
use crate::store::PendingActivity;

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
    /// The bookkeeping keys that sign entries since decision 26 (oldest first; more than one
    /// when a lost key was replaced), each with the statement by which the device key registered
    /// it; empty in exports of devices without one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bookkeeping_keys: Vec<ExportedBookkeepingKey>,
}

/// A bookkeeping key in an export: a verifier accepts it only if `endorsement` verifies with the
/// export's `device_public_key` and names this key.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ExportedBookkeepingKey {
    /// SEC1, base64url.
    pub public_key: String,
    /// The enrollment proof or login statement, signed by the device key, that registered it.
    pub endorsement: crate::protocol::SignedStatement,
}

/// Check an anchor's countersignature against a key set.
pub fn anchor_verifies(a: &ActivityAnchor, keys: &[jsonwebtoken::jwk::Jwk], audience: &str, device_id: &str) -> bool {
    let Ok(header) = jsonwebtoken::decode_header(&a.countersignature) else { return false };
    if header.alg != Algorithm::ES256 {
        return false;
    }
    let Some(jwk) = keys.iter().find(|k| k.common.key_id.is_some() && k.common.key_id == header.kid) else {
        return false;
    };
    // ES256 with low-S (issue 9), verified with p256 (`crypto::decode_es256`).
    match crate::crypto::decode_es256::<AnchorClaims>(&a.countersignature, jwk) {
        Some(c) => {
            c.iss == audience
                && c.device_id == device_id
                && c.seq == a.seq
                && c.hash == a.hash
                && c.anchored_at == a.anchored_at
        }
        None => false,
    }
}

/// What verifying a log found, and with which keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogCheck {
    /// Entries checked.
    pub entries: usize,
    /// Anchors checked.
    pub anchors: usize,
    /// Highest anchor whose countersignature verified (0 = none).
    pub anchored_seq: u64,
    /// The device the entries claim.
    pub device_id: String,
    /// The device key the entry signatures were checked with (SEC1, base64url).
    pub device_public_key: String,
    /// Every problem found.
    pub problems: Vec<LogProblem>,
}

/// The trusted server keys from a JWK or a JWKS (`{"keys": [...]}`) given by the verifier.
pub fn pinned_keys(json: &str) -> Result<Vec<jsonwebtoken::jwk::Jwk>> {
    let bad = || Error::Domain(Msg::ActivityServerKeyInvalid);
    let v: serde_json::Value = serde_json::from_str(json).map_err(|_| bad())?;
    let keys: Vec<jsonwebtoken::jwk::Jwk> = match v.get("keys") {
        Some(list) => serde_json::from_value(list.clone()).map_err(|_| bad())?,
        None => vec![serde_json::from_value(v).map_err(|_| bad())?],
    };
    if keys.is_empty() || keys.iter().any(|k| k.common.key_id.is_none() || DecodingKey::from_jwk(k).is_err()) {
        return Err(bad());
    }
    Ok(keys)
}

/// Verify an export on its own (no device, no network) against the server key(s) the verifier
/// trusts (`pinned_server_jwk`, a JWK or JWKS obtained independently, e.g. from `/v1/keys` over
/// a pinned connection). The keys the file carries are **not** trusted: a forger can put any key
/// there. The entries are checked with the device key the file carries, and the result names
/// that key, so the caller compares it with the device it expects.
pub fn verify_export(json: &str, pinned_server_jwk: &str) -> Result<LogCheck> {
    let keys = pinned_keys(pinned_server_jwk)?;
    let x: ActivityExport = serde_json::from_str(json).map_err(|e| {
        Error::Fields(vec![crate::error::FieldError::at(format!("export: {}", e.classify() as u8), Msg::InvalidInput)])
    })?;
    Ok(verify_parsed(&x, &keys))
}

/// Verify a parsed export with the given server keys.
fn verify_parsed(x: &ActivityExport, keys: &[jsonwebtoken::jwk::Jwk]) -> LogCheck {
    let pk = crate::crypto::unb64(&x.device_public_key).unwrap_or_default();
    let ok = |a: &ActivityAnchor| anchor_verifies(a, keys, &x.audience, &x.device_id);
    // A bookkeeping key counts only if the device key vouched for it, and it is the key named.
    let bookkeeping: Vec<Vec<u8>> = x
        .bookkeeping_keys
        .iter()
        .filter_map(|b| {
            activity::endorsed_bookkeeping_key(&pk, &x.audience, &x.device_id, &b.endorsement)
                .filter(|k| crate::crypto::b64(k) == b.public_key)
        })
        .collect();
    let mut entry_keys: Vec<&[u8]> = vec![&pk];
    entry_keys.extend(bookkeeping.iter().map(Vec::as_slice));
    let problems = activity::verify_with_keys(&x.entries, &x.anchors, &x.audience, &x.device_id, &entry_keys, &ok);
    LogCheck {
        entries: x.entries.len(),
        anchors: x.anchors.len(),
        anchored_seq: x.anchors.iter().filter(|a| ok(a)).map(|a| a.seq).max().unwrap_or(0),
        device_id: x.device_id.clone(),
        device_public_key: x.device_public_key.clone(),
        problems,
    }
}

impl Account {
    /// Record an entry. The operation it records has already happened, so nothing is returned:
    /// the entry is committed to the waiting queue first (sealed), then signed with the
    /// bookkeeping key and appended to the log — no prompt, ever (decision 26). When it cannot
    /// be signed yet (no registered bookkeeping key: an account enrolled before v7 until its
    /// next login; or the key store failed) it stays queued and is signed by the next
    /// [`Account::flush_activity`] (the next entry, the next anchor or case sync), never dropped.
    pub(crate) async fn log_activity(&self, kind: ActivityKind, summary: String) {
        match self.store.account() {
            Ok(Some(_)) => {}
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, ?kind, "activity entry not recorded");
                return;
            }
        }
        if let Err(e) = self.store.queue_activity(&self.activity_now(kind, summary)) {
            tracing::warn!(error = %e, ?kind, "activity entry not recorded");
            return;
        }
        self.flush_logged(kind).await;
    }

    /// The waiting entry for `kind` now, for a write that queues it in its own transaction
    /// (`Store::queue_activity_in`: login, enqueue, delivery); [`Account::flush_logged`] signs
    /// it after the commit.
    pub(crate) fn activity_now(&self, kind: ActivityKind, summary: String) -> PendingActivity {
        PendingActivity { kind, summary, at: self.now() }
    }

    /// Sign and append what is waiting, after `kind` was queued (errors are logged: the entries
    /// keep waiting).
    pub(crate) async fn flush_logged(&self, kind: ActivityKind) {
        if let Err(e) = self.flush_activity().await {
            tracing::info!(error = %e, ?kind, "activity entries kept waiting for their signature");
        }
    }

    /// Sign and append the waiting entries, in order, with the bookkeeping key. Returns how many
    /// were appended; stops at the first failure (the rest keep waiting). Nothing happens until
    /// the bookkeeping key is registered at the server.
    pub(crate) async fn flush_activity(&self) -> Result<usize> {
        let Some(acc) = self.store.account()? else { return Ok(0) };
        let Some(key) = self.store.bookkeeping_key()?.filter(|k| k.registered()) else { return Ok(0) };
        let _serial = self.services.activity_lock.lock().await;
        let mut appended = 0;
        for (id, pending) in self.store.pending_activity()? {
            let Some(p) = pending else {
                tracing::warn!(id, "a waiting activity entry does not open (edited at rest); dropped");
                self.store.drop_pending_activity(id)?;
                continue;
            };
            let (last_seq, prev_hash) =
                self.store.activity_head()?.map(|h| (h.seq, h.hash)).unwrap_or((0, activity::GENESIS.to_string()));
            let seq = last_seq + 1;
            // Not fsync'd on its own: the entry below is the only carrier of this signature and
            // commits with `synchronous=FULL`, which makes this reservation durable with it (WAL
            // order); a power loss before that loses both, and nothing signed left the phone.
            let counter = self.store.next_counter_unsynced()?;
            let hash = activity::entry_hash(seq, p.at, p.kind, &p.summary, &prev_hash, counter);
            let mut entry = ActivityEntry {
                seq,
                at: p.at,
                kind: p.kind,
                summary: p.summary,
                prev_hash,
                counter,
                hash,
                signature: String::new(),
            };
            let st = activity::entry_statement(self.net.audience(), &acc.device_id, &entry);
            entry.signature = self.sign_bookkeeping(&key, st).await?.signature;
            self.store.commit_pending_activity(id, &entry)?;
            appended += 1;
        }
        Ok(appended)
    }

    /// Check a countersignature from the server, fetching its keys once if the kid is new.
    async fn anchor_checks(&self, anchor: &ActivityAnchor, device_id: &str) -> bool {
        let kid = jsonwebtoken::decode_header(&anchor.countersignature).ok().and_then(|h| h.kid).unwrap_or_default();
        if anchor_verifies(anchor, &self.cached_server_keys(), self.net.audience(), device_id) {
            return true;
        }
        let _ = self.server_key_refresh(&kid).await;
        anchor_verifies(anchor, &self.cached_server_keys(), self.net.audience(), device_id)
    }

    /// Fetch the server's latest anchor of this device (needs a session) and keep it when the
    /// device does not hold it: a log truncated below it, even with the local anchor rows
    /// deleted, then reads as truncated. Returns it.
    async fn sync_server_anchor(&self, device_id: &str) -> Result<Option<ActivityAnchor>> {
        let token = self.access_token().await?;
        let r: activity::LatestAnchorResponse = self.net.get(activity::PATH_ANCHOR, Some(&token)).await?;
        let Some(anchor) = r.anchor else { return Ok(None) };
        if !self.anchor_checks(&anchor, device_id).await {
            return Err(Error::BadReceipt("latest anchor countersignature does not verify".into()));
        }
        let held = self.store.anchors()?.iter().any(|a| a.seq == anchor.seq && a.hash == anchor.hash);
        if !held {
            tracing::warn!(seq = anchor.seq, "the server holds an anchor this device did not have");
            self.store.save_anchor(&anchor)?;
        }
        Ok(Some(anchor))
    }

    /// Ask the server to countersign the head (no-op when it already did). First, when logged
    /// in, the server's latest anchor is fetched and kept (see [`Account::sync_server_anchor`]);
    /// a head at or below it is not sent (the server refuses to rewrite anchored history, and
    /// verification already reports the problem).
    ///
    /// Anchors are bookkeeping: signed with the bookkeeping key, never with a prompt. Waiting
    /// entries are appended first; without a registered bookkeeping key nothing is anchored
    /// (the next login registers one).
    pub(crate) async fn anchor_activity(&self) -> Result<Option<ActivityAnchor>> {
        let acc = self.active_account()?;
        self.flush_activity().await?;
        let Some(key) = self.store.bookkeeping_key()?.filter(|k| k.registered()) else {
            tracing::info!("activity log not anchored: no registered bookkeeping key yet");
            return Ok(None);
        };
        let server_latest = match self.sync_server_anchor(&acc.device_id).await {
            Ok(a) => a,
            Err(Error::Domain(Msg::NotLoggedIn | Msg::SessionExpired | Msg::SessionRevoked)) => None,
            Err(e) => return Err(e),
        };
        let Some(ActivityHead { seq, hash }) = self.store.activity_head()? else { return Ok(None) };
        if self.store.anchors()?.iter().any(|a| a.seq == seq) {
            return Ok(None);
        }
        if server_latest.is_some_and(|a| a.seq >= seq) {
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
        let signed = self.sign_bookkeeping(&key, st).await?;
        let anchor: ActivityAnchor =
            self.net.post(activity::PATH_ANCHOR, &AnchorRequest { seq, hash: hash.clone(), signed }, None).await?;
        if anchor.seq != seq || anchor.hash != hash {
            return Err(crate::services::outbox::bad_answer("anchor for another head"));
        }
        // Verify the countersignature before keeping it (fetching the server keys if needed).
        if !self.anchor_checks(&anchor, &acc.device_id).await {
            return Err(Error::BadReceipt("anchor countersignature does not verify".into()));
        }
        self.store.save_anchor(&anchor)?;
        Ok(Some(anchor))
    }

    /// Entries; `None` where a stored entry does not open (tampered at rest).
    pub(crate) fn activity_entries(&self) -> Result<Vec<ActivityRow>> {
        self.store.activity()
    }

    /// The export of the log.
    pub(crate) fn export_activity(&self) -> Result<ActivityExport> {
        Ok(self.export_from(self.store.activity()?)?.0)
    }

    /// Build the export from stored rows; also returns the sequence numbers that did not open.
    fn export_from(&self, raw: Vec<ActivityRow>) -> Result<(ActivityExport, Vec<u64>)> {
        let acc = self.store.account()?.ok_or(Error::Domain(Msg::NotEnrolled))?;
        let unreadable = raw.iter().filter(|r| r.entry.is_none()).map(|r| r.seq).collect();
        let bookkeeping = self.store.bookkeeping_key()?;
        let export = ActivityExport {
            version: 1,
            audience: self.net.audience().to_string(),
            device_id: acc.device_id,
            device_public_key: crate::crypto::b64(&acc.public_key),
            server_keys: self.store.server_keys()?,
            entries: raw.into_iter().filter_map(|r| r.entry).collect(),
            anchors: self.store.anchors()?,
            bookkeeping_keys: bookkeeping
                .map(|k| k.endorsed_keys())
                .unwrap_or_default()
                .into_iter()
                .map(|k| ExportedBookkeepingKey {
                    public_key: crate::crypto::b64(&k.public_key),
                    endorsement: k.endorsement,
                })
                .collect(),
        };
        Ok((export, unreadable))
    }

    /// Verify the local log with the server keys the device fetched over its pinned connection:
    /// entries that do not open count as changed, anchor rows that do not open as bad anchors,
    /// and the sealed marks must still find the highest anchor the device stored (deleted anchor
    /// rows) and the log must reach it (truncation).
    pub(crate) fn verify_activity(&self) -> Result<LogCheck> {
        let (export, unreadable) = self.export_from(self.store.activity()?)?;
        let keys: Vec<jsonwebtoken::jwk::Jwk> =
            export.server_keys.iter().filter_map(|v| serde_json::from_value(v.clone()).ok()).collect();
        let mut check = verify_parsed(&export, &keys);
        let mut problems: Vec<LogProblem> = unreadable.iter().map(|&seq| LogProblem::ChangedEntry { seq }).collect();
        problems.append(&mut check.problems);
        for AnchorRow { seq, anchor } in self.store.anchor_rows()? {
            if anchor.is_none() {
                problems.push(LogProblem::BadAnchor { seq });
            }
        }
        let marks = self.store.integrity_marks()?.unwrap_or_default();
        if marks.damaged {
            problems.push(LogProblem::AnchorRecordDamaged);
        } else if marks.anchor_seq > 0 {
            let held = export.anchors.iter().any(|a| a.seq == marks.anchor_seq && a.hash == marks.anchor_hash);
            if !held {
                problems.push(LogProblem::AnchorRemoved { anchored_seq: marks.anchor_seq });
            }
            let last_seq =
                export.entries.last().map(|e| e.seq).unwrap_or(0).max(unreadable.iter().copied().max().unwrap_or(0));
            let truncated = LogProblem::Truncated { anchored_seq: marks.anchor_seq, last_seq };
            if marks.anchor_seq > last_seq && !problems.contains(&truncated) {
                problems.push(truncated);
            }
        }
        check.entries += unreadable.len();
        check.problems = problems;
        Ok(check)
    }
}
