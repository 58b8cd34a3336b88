//! The citizen's activity log: a record of every use of their identity that they hold
//! themselves and can check. Sans-I/O: entry encoding, hashing, and verification.
//!
//! Each entry carries a sequence number, a time, a kind, a short summary without personal data,
//! the hash of the previous entry and a value of the device's monotonic counter. Its hash binds
//! all of that; the device key signs the hash (statement purpose `activity`, nonce = entry hash).
//! Heads are anchored at the server, which countersigns them (ES256), so truncating the log
//! below an anchor is detected too.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::crypto;
use crate::protocol::{Purpose, Statement};

/// Hash of the (virtual) entry before the first one.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivityKind {
    /// This device was enrolled.
    Enrollment,
    /// Logged in.
    Login,
    /// Logged out.
    Logout,
    /// A public-service request was submitted (queued).
    Submission,
    /// A submission was delivered and a case opened.
    SubmissionDelivered,
    /// A device of the account was revoked, or a transfer approved.
    DeviceChange,
    /// The passcode was changed or reset.
    PasscodeChange,
    /// Too many wrong passcodes: locked.
    Lockout,
    /// A QR login was approved (issue 4, QR login).
    QrApproval,
    /// A QR login was denied.
    QrDenial,
    /// Identity data was shared with a relying party.
    DataShare,
    /// The account was raised to identity level 2 from the card's chip (decision 30).
    LevelUpgrade,
    /// A document was presented in person (ISO 18013-5) to a verifier.
    DocumentPresentation,
}

/// One entry of the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityEntry {
    /// 1, 2, 3, … without gaps.
    pub seq: u64,
    /// Unix seconds.
    pub at: i64,
    /// What happened.
    pub kind: ActivityKind,
    /// Short, non-personal summary (procedure id, case number, device id).
    pub summary: String,
    /// Hash of the previous entry (hex), [`GENESIS`] for the first.
    pub prev_hash: String,
    /// The device counter value used to sign it.
    pub counter: u64,
    /// Hash of this entry (hex).
    pub hash: String,
    /// Device signature (base64url raw r||s) over the statement binding `hash`.
    pub signature: String,
}

/// A server countersignature of a head.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityAnchor {
    /// Anchored sequence number.
    pub seq: u64,
    /// Anchored hash.
    pub hash: String,
    /// Unix seconds.
    pub anchored_at: i64,
    /// Compact JWS (ES256) by the server over `{iss, device_id, seq, hash, anchored_at}`.
    pub countersignature: String,
}

/// Claims of an anchor countersignature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnchorClaims {
    /// Server audience.
    pub iss: String,
    /// Device.
    pub device_id: String,
    /// Sequence.
    pub seq: u64,
    /// Hash.
    pub hash: String,
    /// Unix seconds.
    pub anchored_at: i64,
}

impl crate::jwt::JwtKind for AnchorClaims {
    const TYP: &'static str = crate::jwt::typ::ACTIVITY_ANCHOR;
}

/// `POST /v1/activity/anchor` body: the head, signed by the device (purpose `activity`,
/// nonce = head hash, subject = `anchor:<seq>`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AnchorRequest {
    /// Head sequence.
    pub seq: u64,
    /// Head hash.
    pub hash: String,
    /// Signed statement.
    pub signed: crate::protocol::SignedStatement,
}

/// Path of the anchor endpoint: `POST` anchors a head; `GET` (bearer token) answers the
/// server's latest anchor of the token's device, so the device can see a log truncated below
/// it even when its own anchor rows were deleted.
pub const PATH_ANCHOR: &str = "/v1/activity/anchor";

/// Answer of `GET /v1/activity/anchor`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LatestAnchorResponse {
    /// The highest anchor the server holds for the device, countersigned again; `None` when it
    /// holds none.
    pub anchor: Option<ActivityAnchor>,
}

/// Canonical hash of an entry's content (everything but `hash` and `signature`).
pub fn entry_hash(seq: u64, at: i64, kind: ActivityKind, summary: &str, prev_hash: &str, counter: u64) -> String {
    let kind = serde_json::to_value(kind).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    chain_hash(
        b"CITIZEN-CORE/ACTIVITY/V1",
        &[
            &seq.to_be_bytes(),
            &at.to_be_bytes(),
            kind.as_bytes(),
            summary.as_bytes(),
            prev_hash.as_bytes(),
            &counter.to_be_bytes(),
        ],
    )
}

/// The hash of one link of a hash chain (hex SHA-256): the domain, then every part, each
/// length-prefixed ([`crate::crypto::len_prefix`]). The activity log ([`entry_hash`]) and the
/// server's access log ([`crate::access::entry_hash`]) are chains of this one format; the
/// domain keeps a link of one chain from ever being a link of the other.
pub fn chain_hash(domain: &[u8], parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for part in std::iter::once(domain).chain(parts.iter().copied()) {
        h.update(crate::crypto::len_prefix(part.len()));
        h.update(part);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The statement a device signs for an entry.
pub fn entry_statement(audience: &str, device_id: &str, e: &ActivityEntry) -> Statement {
    Statement {
        purpose: Purpose::Activity,
        audience: audience.to_string(),
        nonce: e.hash.clone(),
        device_id: device_id.to_string(),
        counter: e.counter,
        issued_at: e.at,
        subject: format!("entry:{}", e.seq),
    }
}

/// Ways a log can be broken.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LogProblem {
    /// An entry's content does not match its hash (changed).
    ChangedEntry {
        /// The changed entry.
        seq: u64,
    },
    /// An entry's signature does not verify.
    BadSignature {
        /// The entry whose signature fails.
        seq: u64,
    },
    /// A sequence number is missing or out of place (removed or reordered).
    Gap {
        /// The sequence number due at this place.
        expected_seq: u64,
        /// The one found there.
        found_seq: u64,
    },
    /// An entry does not link to the previous one (removed, inserted or reordered).
    BrokenLink {
        /// The entry whose `prev_hash` does not match.
        seq: u64,
    },
    /// Counters must increase along the log.
    CounterNotIncreasing {
        /// The entry whose counter is not above the previous one.
        seq: u64,
    },
    /// The log ends before an anchored entry (truncated).
    Truncated {
        /// The anchored sequence number.
        anchored_seq: u64,
        /// The last sequence number of the log.
        last_seq: u64,
    },
    /// An anchored entry's hash differs from the anchor (rewritten history).
    AnchorMismatch {
        /// The anchored entry.
        seq: u64,
    },
    /// An anchor's countersignature does not verify.
    BadAnchor {
        /// The anchor's sequence number.
        seq: u64,
    },
    /// The device stored an anchor up to `anchored_seq` that is no longer there (anchor rows
    /// deleted).
    AnchorRemoved {
        /// The highest anchored sequence number the device recorded.
        anchored_seq: u64,
    },
    /// The device's sealed record of its anchors is missing or does not open (edited at rest).
    AnchorRecordDamaged,
}

/// Verify a log: hashes, links, sequence, counters, signatures (with `public_key`, SEC1) and
/// anchors (`anchor_ok` checks a countersignature). Returns every problem found, in order.
pub fn verify(
    entries: &[ActivityEntry],
    anchors: &[ActivityAnchor],
    audience: &str,
    device_id: &str,
    public_key: &[u8],
    anchor_ok: &dyn Fn(&ActivityAnchor) -> bool,
) -> Vec<LogProblem> {
    verify_with_keys(entries, anchors, audience, device_id, &[public_key], anchor_ok)
}

/// The device key signed a statement registering a bookkeeping key for `device_id` and
/// `audience` (the enrollment proof or a login, see
/// [`crate::protocol::BOOKKEEPING_SUBJECT_PREFIX`]): the bookkeeping key it names (SEC1), which
/// may then sign the log's entries. `None` when the endorsement does not verify.
pub fn endorsed_bookkeeping_key(
    device_public_key: &[u8],
    audience: &str,
    device_id: &str,
    endorsement: &crate::protocol::SignedStatement,
) -> Option<Vec<u8>> {
    let st = &endorsement.statement;
    if st.audience != audience
        || st.device_id != device_id
        || !matches!(st.purpose, Purpose::Enroll | Purpose::Login | Purpose::Recovery)
        || crypto::verify_wire_signature(device_public_key, &st.canonical_bytes(), &endorsement.signature).is_err()
    {
        return None;
    }
    // A recovered device registered its bookkeeping key in its recovery proof (issue 15).
    if st.purpose == Purpose::Recovery {
        return crate::protocol::recovery::parse_start_subject(&st.subject).map(|(_, k)| k);
    }
    crate::protocol::bookkeeping_key_from_subject(&st.subject)
}

/// [`verify`] where an entry's signature may come from any of `public_keys` (the device key and
/// the bookkeeping key it endorsed, decision 26).
pub fn verify_with_keys(
    entries: &[ActivityEntry],
    anchors: &[ActivityAnchor],
    audience: &str,
    device_id: &str,
    public_keys: &[&[u8]],
    anchor_ok: &dyn Fn(&ActivityAnchor) -> bool,
) -> Vec<LogProblem> {
    let mut problems = vec![];
    let mut prev_hash = GENESIS.to_string();
    let mut prev_counter = 0u64;
    for (i, e) in entries.iter().enumerate() {
        let expected = i as u64 + 1;
        if e.seq != expected {
            problems.push(LogProblem::Gap { expected_seq: expected, found_seq: e.seq });
        }
        if entry_hash(e.seq, e.at, e.kind, &e.summary, &e.prev_hash, e.counter) != e.hash {
            problems.push(LogProblem::ChangedEntry { seq: e.seq });
        }
        if e.prev_hash != prev_hash {
            problems.push(LogProblem::BrokenLink { seq: e.seq });
        }
        if e.counter <= prev_counter {
            problems.push(LogProblem::CounterNotIncreasing { seq: e.seq });
        }
        let st = entry_statement(audience, device_id, e);
        let bytes = st.canonical_bytes();
        if !public_keys.iter().any(|k| crypto::verify_wire_signature(k, &bytes, &e.signature).is_ok()) {
            problems.push(LogProblem::BadSignature { seq: e.seq });
        }
        prev_hash = e.hash.clone();
        prev_counter = e.counter;
    }
    let last_seq = entries.last().map(|e| e.seq).unwrap_or(0);
    for a in anchors {
        if !anchor_ok(a) {
            problems.push(LogProblem::BadAnchor { seq: a.seq });
            continue;
        }
        if a.seq > last_seq {
            problems.push(LogProblem::Truncated { anchored_seq: a.seq, last_seq });
        } else if entries.iter().find(|e| e.seq == a.seq).is_none_or(|e| e.hash != a.hash) {
            problems.push(LogProblem::AnchorMismatch { seq: a.seq });
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::Signer;
    use p256::ecdsa::{Signature, SigningKey, VerifyingKey};

    const AUD: &str = "https://id.example";
    const DEV: &str = "dev-1";

    fn log(n: u64) -> (Vec<ActivityEntry>, Vec<u8>) {
        let sk = SigningKey::from_slice(&[3u8; 32]).unwrap();
        let pk = crypto::sec1_uncompressed(&VerifyingKey::from(&sk));
        let mut prev = GENESIS.to_string();
        let mut out = vec![];
        for seq in 1..=n {
            let (at, kind, summary, counter) =
                (1_700_000_000 + seq as i64, ActivityKind::Login, format!("#{seq}"), seq * 2);
            let hash = entry_hash(seq, at, kind, &summary, &prev, counter);
            let mut e = ActivityEntry {
                seq,
                at,
                kind,
                summary,
                prev_hash: prev.clone(),
                counter,
                hash,
                signature: String::new(),
            };
            let sig: Signature = sk.sign(&entry_statement(AUD, DEV, &e).canonical_bytes());
            e.signature = crypto::b64(&crypto::low_s(sig).to_bytes());
            prev = e.hash.clone();
            out.push(e);
        }
        (out, pk)
    }

    fn anchor(e: &ActivityEntry) -> ActivityAnchor {
        ActivityAnchor { seq: e.seq, hash: e.hash.clone(), anchored_at: 0, countersignature: "ok".into() }
    }

    fn check(entries: &[ActivityEntry], anchors: &[ActivityAnchor], pk: &[u8]) -> Vec<LogProblem> {
        verify(entries, anchors, AUD, DEV, pk, &|a| a.countersignature == "ok")
    }

    #[test]
    fn a_clean_log_verifies() {
        let (l, pk) = log(5);
        assert_eq!(check(&l, &[anchor(&l[2])], &pk), vec![]);
        assert_eq!(check(&[], &[], &pk), vec![]);
    }

    #[test]
    fn every_kind_of_tampering_is_detected() {
        let (l, pk) = log(5);
        // Changed.
        let mut t = l.clone();
        t[1].summary = "#x".into();
        assert!(check(&t, &[], &pk).contains(&LogProblem::ChangedEntry { seq: 2 }));
        // Changed and re-hashed: the signature no longer matches.
        t[1].hash = entry_hash(2, t[1].at, t[1].kind, &t[1].summary, &t[1].prev_hash, t[1].counter);
        let p = check(&t, &[], &pk);
        assert!(
            p.contains(&LogProblem::BadSignature { seq: 2 }) && p.contains(&LogProblem::BrokenLink { seq: 3 }),
            "{p:?}"
        );
        // Removed.
        let mut t = l.clone();
        t.remove(2);
        let p = check(&t, &[], &pk);
        assert!(
            p.contains(&LogProblem::Gap { expected_seq: 3, found_seq: 4 })
                && p.contains(&LogProblem::BrokenLink { seq: 4 }),
            "{p:?}"
        );
        // Reordered.
        let mut t = l.clone();
        t.swap(1, 2);
        let p = check(&t, &[], &pk);
        assert!(
            p.contains(&LogProblem::BrokenLink { seq: 3 }) && p.iter().any(|x| matches!(x, LogProblem::Gap { .. })),
            "{p:?}"
        );
        // Truncated below the last anchor.
        let t = l[..3].to_vec();
        assert_eq!(check(&t, &[anchor(&l[4])], &pk), vec![LogProblem::Truncated { anchored_seq: 5, last_seq: 3 }]);
        // Truncated above the last anchor is not detectable by design (say so in the API docs).
        assert_eq!(check(&t, &[anchor(&l[1])], &pk), vec![]);
        // History rewritten under an anchor, a forged anchor.
        let mut a = anchor(&l[1]);
        a.hash = l[0].hash.clone();
        assert_eq!(check(&l, &[a], &pk), vec![LogProblem::AnchorMismatch { seq: 2 }]);
        let mut a = anchor(&l[1]);
        a.countersignature = "forged".into();
        assert_eq!(check(&l, &[a], &pk), vec![LogProblem::BadAnchor { seq: 2 }]);
        // Another device's key.
        let other = crypto::sec1_uncompressed(&VerifyingKey::from(&SigningKey::from_slice(&[4u8; 32]).unwrap()));
        assert_eq!(check(&l, &[], &other).len(), 5);
    }

    /// Entries signed by a bookkeeping key verify once the device key endorsed it, and only then.
    #[test]
    fn a_bookkeeping_key_counts_only_when_the_device_key_endorsed_it() {
        use crate::protocol::{bookkeeping_subject, SignedStatement};
        let (l, bk_pk) = log(3); // signed by the key [3; 32]: here the bookkeeping key
        let device = SigningKey::from_slice(&[5u8; 32]).unwrap();
        let device_pk = crypto::sec1_uncompressed(&VerifyingKey::from(&device));
        let endorse = |signer: &SigningKey, purpose: Purpose, device_id: &str| {
            let st = Statement {
                purpose,
                audience: AUD.into(),
                nonce: "n".into(),
                device_id: device_id.into(),
                counter: 1,
                issued_at: 0,
                subject: bookkeeping_subject(&bk_pk),
            };
            let sig: Signature = signer.sign(&st.canonical_bytes());
            SignedStatement { statement: st, signature: crypto::b64(&crypto::low_s(sig).to_bytes()) }
        };
        let good = endorse(&device, Purpose::Login, DEV);
        assert_eq!(endorsed_bookkeeping_key(&device_pk, AUD, DEV, &good), Some(bk_pk.clone()));
        let keys: [&[u8]; 2] = [&device_pk, &bk_pk];
        assert_eq!(verify_with_keys(&l, &[], AUD, DEV, &keys, &|_| true), vec![]);
        // Without the bookkeeping key every entry is refused.
        assert_eq!(verify_with_keys(&l, &[], AUD, DEV, &[&device_pk], &|_| true).len(), 3);
        // Endorsed by another key, for another device, or with a purpose that cannot endorse.
        let stranger = SigningKey::from_slice(&[6u8; 32]).unwrap();
        assert_eq!(endorsed_bookkeeping_key(&device_pk, AUD, DEV, &endorse(&stranger, Purpose::Login, DEV)), None);
        assert_eq!(endorsed_bookkeeping_key(&device_pk, AUD, DEV, &endorse(&device, Purpose::Login, "dev-2")), None);
        assert_eq!(endorsed_bookkeeping_key(&device_pk, AUD, DEV, &endorse(&device, Purpose::Activity, DEV)), None);
        assert_eq!(endorsed_bookkeeping_key(&device_pk, "https://other", DEV, &good), None);
    }
}
