//! The citizen's access log (issue 16, item 2): every read of their register record — by an
//! official (who, which agency, which purpose), by a relying party through a share, or by the
//! services back office — recorded by the server, append-only and hash-chained per citizen in
//! the same link format as the device's activity log ([`crate::activity::chain_hash`], its own
//! domain). The citizen fetches the whole chain as one JWS the server signs (`typ`
//! [`crate::jwt::typ::ACCESS_LOG`]); the same text is the export anyone can verify. Sans-I/O:
//! wire types, hashing, chain verification and filtering.

use serde::{Deserialize, Serialize};

use crate::activity::{chain_hash, LogProblem, GENESIS};

/// `GET` (bearer token): the citizen's access log, signed ([`AccessLogResponse`]).
pub const PATH_ACCESS_LOG: &str = "/v1/citizen/access-log";
/// `POST` (officials' API, `X-Official-Token`): an official reads a citizen's register record
/// for a stated purpose ([`OfficialRecordRequest`]); answers the record
/// (`services::CitizenProfileDto`) and logs the read in the citizen's access log.
pub const PATH_OFFICIAL_RECORD: &str = "/v1/official/citizens/record";
/// Domain of the access log's links (the activity log's is `CITIZEN-CORE/ACTIVITY/V1`).
pub const DOMAIN: &[u8] = b"CITIZEN-CORE/ACCESS/V1";
/// Error codes of the access-log and officials' endpoints (server side; in addition to
/// `protocol::codes`).
pub mod codes {
    /// No citizen in the register has this CCCD number (HTTP 404).
    pub const UNKNOWN_CITIZEN: &str = "unknown_citizen";
    /// The official is authenticated but lacks the role this endpoint needs (HTTP 403).
    pub const OFFICIAL_FORBIDDEN: &str = "official_forbidden";
}

/// Longest official id, agency name or reference accepted.
pub const MAX_LABEL: usize = 128;

/// Who read the record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Accessor {
    /// An official, through the officials' API.
    Official,
    /// A relying party the citizen shared data with (the share's consent receipt is the
    /// reference).
    RelyingParty,
    /// The public-services back office (prefilling an eForm from the register, deciding a case).
    BackOffice,
}

/// Why the record was read (purpose code).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessPurpose {
    /// Processing a public-service case.
    CaseProcessing,
    /// Checking a person's identity (at a counter, at a checkpoint).
    IdentityVerification,
    /// Maintaining the population register (corrections, updates).
    RegisterMaintenance,
    /// An investigation under the law.
    Investigation,
    /// A data share the citizen consented to.
    DataShare,
    /// Prefilling (and checking) an eForm's fields from the register.
    FormPrefill,
    /// Deciding a case (approval, rejection, supplement request).
    CaseDecision,
}

impl AccessPurpose {
    /// The purposes an official may state (the others are recorded by the server itself).
    pub const OFFICIAL: &'static [AccessPurpose] = &[
        AccessPurpose::CaseProcessing,
        AccessPurpose::IdentityVerification,
        AccessPurpose::RegisterMaintenance,
        AccessPurpose::Investigation,
    ];

    /// Wire name (`case_processing`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            AccessPurpose::CaseProcessing => "case_processing",
            AccessPurpose::IdentityVerification => "identity_verification",
            AccessPurpose::RegisterMaintenance => "register_maintenance",
            AccessPurpose::Investigation => "investigation",
            AccessPurpose::DataShare => "data_share",
            AccessPurpose::FormPrefill => "form_prefill",
            AccessPurpose::CaseDecision => "case_decision",
        }
    }

    /// Parse a wire name.
    pub fn parse(s: &str) -> Option<AccessPurpose> {
        serde_json::from_value(serde_json::Value::String(s.into())).ok()
    }
}

impl Accessor {
    /// Wire name (`official`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Accessor::Official => "official",
            Accessor::RelyingParty => "relying_party",
            Accessor::BackOffice => "back_office",
        }
    }

    /// Parse a wire name.
    pub fn parse(s: &str) -> Option<Accessor> {
        serde_json::from_value(serde_json::Value::String(s.into())).ok()
    }
}

/// One read of the citizen's record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessEntry {
    /// 1, 2, 3, … per citizen, without gaps.
    pub seq: u64,
    /// Unix seconds.
    pub at: i64,
    /// Who read.
    pub accessor: Accessor,
    /// The agency (an official's agency, the relying party's id, or the back office's name).
    pub agency: String,
    /// The official's staff id (officials only).
    pub official: Option<String>,
    /// Why.
    pub purpose: AccessPurpose,
    /// What the read was for: a case number, a consent receipt id.
    pub reference: Option<String>,
    /// Hash of the previous entry (hex), [`GENESIS`] for the first.
    pub prev_hash: String,
    /// Hash of this entry ([`entry_hash`]).
    pub hash: String,
}

/// Canonical hash of an entry's content (everything but `hash`).
#[allow(clippy::too_many_arguments)]
pub fn entry_hash(
    seq: u64,
    at: i64,
    accessor: Accessor,
    agency: &str,
    official: Option<&str>,
    purpose: AccessPurpose,
    reference: Option<&str>,
    prev_hash: &str,
) -> String {
    // An absent value hashes differently from an empty one.
    let opt = |v: Option<&str>| v.map_or_else(|| b"\x00".to_vec(), |s| [b"\x01".as_slice(), s.as_bytes()].concat());
    let (official, reference) = (opt(official), opt(reference));
    chain_hash(
        DOMAIN,
        &[
            &seq.to_be_bytes(),
            &at.to_be_bytes(),
            accessor.as_str().as_bytes(),
            agency.as_bytes(),
            &official,
            purpose.as_str().as_bytes(),
            &reference,
            prev_hash.as_bytes(),
        ],
    )
}

impl AccessEntry {
    /// The hash this entry's content should have.
    pub fn computed_hash(&self) -> String {
        entry_hash(
            self.seq,
            self.at,
            self.accessor,
            &self.agency,
            self.official.as_deref(),
            self.purpose,
            self.reference.as_deref(),
            &self.prev_hash,
        )
    }
}

/// Claims of the signed access log (`typ` [`crate::jwt::typ::ACCESS_LOG`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessLogClaims {
    /// The server (audience).
    pub iss: String,
    /// The citizen's opaque account id.
    pub sub: String,
    /// Unix seconds.
    pub iat: i64,
    /// The whole chain, oldest first.
    pub entries: Vec<AccessEntry>,
}

impl crate::jwt::JwtKind for AccessLogClaims {
    const TYP: &'static str = crate::jwt::typ::ACCESS_LOG;
}

/// Answer of `GET` [`PATH_ACCESS_LOG`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AccessLogResponse {
    /// Compact JWS (ES256, the server's token key) over [`AccessLogClaims`].
    pub log: String,
}

/// Body of `POST` [`PATH_OFFICIAL_RECORD`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OfficialRecordRequest {
    /// The citizen's CCCD number.
    pub cccd: String,
    /// The official's staff id. Required with the shared officials' token; a named official's
    /// own id (from their token) is recorded instead.
    #[serde(default)]
    pub official_id: Option<String>,
    /// The official's agency (same rule as `official_id`).
    #[serde(default)]
    pub agency: Option<String>,
    /// Why (one of [`AccessPurpose::OFFICIAL`]).
    pub purpose: AccessPurpose,
    /// The case or file the read is for, if any.
    pub reference: Option<String>,
}

/// Whether a label (official id, agency, reference) is acceptable: 1..=[`MAX_LABEL`]
/// characters, no control character.
pub fn label_ok(s: &str) -> bool {
    !s.trim().is_empty() && s.chars().count() <= MAX_LABEL && !s.chars().any(char::is_control)
}

/// Verify a chain: sequence, hashes, links; and, when the verifier kept an earlier head
/// (`previous`: seq and hash of the last entry of an earlier signed log), that this log still
/// holds it unchanged (an entry removed or rewritten and the chain recomputed is caught there).
/// Every problem found, in order; empty = intact.
pub fn verify_chain(entries: &[AccessEntry], previous: Option<(u64, &str)>) -> Vec<LogProblem> {
    let mut problems = vec![];
    let mut prev_hash = GENESIS.to_string();
    for (i, e) in entries.iter().enumerate() {
        let expected = i as u64 + 1;
        if e.seq != expected {
            problems.push(LogProblem::Gap { expected_seq: expected, found_seq: e.seq });
        }
        if e.computed_hash() != e.hash {
            problems.push(LogProblem::ChangedEntry { seq: e.seq });
        }
        if e.prev_hash != prev_hash {
            problems.push(LogProblem::BrokenLink { seq: e.seq });
        }
        prev_hash = e.hash.clone();
    }
    if let Some((seq, hash)) = previous.filter(|(seq, _)| *seq > 0) {
        let last_seq = entries.last().map_or(0, |e| e.seq);
        if seq > last_seq {
            problems.push(LogProblem::Truncated { anchored_seq: seq, last_seq });
        } else if entries.iter().find(|e| e.seq == seq).is_none_or(|e| e.hash != hash) {
            problems.push(LogProblem::AnchorMismatch { seq });
        }
    }
    problems
}

/// A filter over the log (all optional, all must hold).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccessFilter {
    /// Agency, compared case-insensitively.
    pub agency: Option<String>,
    /// From (Unix seconds, inclusive).
    pub from: Option<i64>,
    /// To (Unix seconds, inclusive).
    pub to: Option<i64>,
}

impl AccessFilter {
    /// Whether `e` passes.
    pub fn matches(&self, e: &AccessEntry) -> bool {
        self.agency.as_ref().is_none_or(|a| a.to_lowercase() == e.agency.to_lowercase())
            && self.from.is_none_or(|f| e.at >= f)
            && self.to.is_none_or(|t| e.at <= t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: u64) -> Vec<AccessEntry> {
        let mut prev = GENESIS.to_string();
        (1..=n)
            .map(|seq| {
                let at = 1_800_000_000 + seq as i64;
                let (agency, official) = ("Công an xã Đông Anh".to_string(), Some(format!("CB-{seq}")));
                let hash = entry_hash(
                    seq,
                    at,
                    Accessor::Official,
                    &agency,
                    official.as_deref(),
                    AccessPurpose::CaseProcessing,
                    None,
                    &prev,
                );
                let e = AccessEntry {
                    seq,
                    at,
                    accessor: Accessor::Official,
                    agency,
                    official,
                    purpose: AccessPurpose::CaseProcessing,
                    reference: None,
                    prev_hash: prev.clone(),
                    hash,
                };
                prev = e.hash.clone();
                e
            })
            .collect()
    }

    #[test]
    fn an_intact_chain_verifies() {
        let c = chain(4);
        assert!(verify_chain(&c, None).is_empty());
        assert!(verify_chain(&c, Some((3, &c[2].hash))).is_empty());
        assert!(verify_chain(&[], None).is_empty());
    }

    #[test]
    fn removing_or_changing_an_entry_is_detected() {
        let mut c = chain(4);
        c.remove(1);
        let p = verify_chain(&c, None);
        assert!(p.contains(&LogProblem::Gap { expected_seq: 2, found_seq: 3 }), "{p:?}");
        assert!(p.contains(&LogProblem::BrokenLink { seq: 3 }), "{p:?}");

        let mut c = chain(3);
        c[1].agency = "Another agency".into();
        assert_eq!(verify_chain(&c, None), vec![LogProblem::ChangedEntry { seq: 2 }]);

        // Rewritten consistently (entry 2 removed, the rest renumbered and rehashed): only the
        // head kept from an earlier export shows it.
        let old = chain(3);
        let mut c = chain(3);
        c.remove(1);
        let mut prev = GENESIS.to_string();
        for (i, e) in c.iter_mut().enumerate() {
            e.seq = i as u64 + 1;
            e.prev_hash = prev.clone();
            e.hash = e.computed_hash();
            prev = e.hash.clone();
        }
        assert!(verify_chain(&c, None).is_empty());
        assert_eq!(
            verify_chain(&c, Some((3, &old[2].hash))),
            vec![LogProblem::Truncated { anchored_seq: 3, last_seq: 2 }]
        );
        assert_eq!(verify_chain(&c, Some((2, &old[1].hash))), vec![LogProblem::AnchorMismatch { seq: 2 }]);
    }

    #[test]
    fn absent_and_empty_values_hash_differently() {
        let a = entry_hash(1, 0, Accessor::BackOffice, "x", None, AccessPurpose::FormPrefill, None, GENESIS);
        let b = entry_hash(1, 0, Accessor::BackOffice, "x", Some(""), AccessPurpose::FormPrefill, None, GENESIS);
        assert_ne!(a, b);
    }

    #[test]
    fn wire_names_round_trip() {
        for p in [
            AccessPurpose::CaseProcessing,
            AccessPurpose::IdentityVerification,
            AccessPurpose::RegisterMaintenance,
            AccessPurpose::Investigation,
            AccessPurpose::DataShare,
            AccessPurpose::FormPrefill,
            AccessPurpose::CaseDecision,
        ] {
            assert_eq!(AccessPurpose::parse(p.as_str()), Some(p));
        }
        for a in [Accessor::Official, Accessor::RelyingParty, Accessor::BackOffice] {
            assert_eq!(Accessor::parse(a.as_str()), Some(a));
        }
    }

    #[test]
    fn filter_by_agency_and_period() {
        let c = chain(3);
        let f = AccessFilter { agency: Some("công an xã đông anh".into()), from: Some(c[1].at), to: None };
        assert_eq!(c.iter().filter(|e| f.matches(e)).count(), 2);
        let f = AccessFilter { agency: Some("other".into()), ..Default::default() };
        assert_eq!(c.iter().filter(|e| f.matches(e)).count(), 0);
    }
}
