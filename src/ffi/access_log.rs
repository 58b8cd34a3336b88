//! The citizen's access log through the FFI (issue 16, item 2): who read the register record
//! (`AccountClient::access_log`, `export_access_log`) and the exported verifier
//! (`verify_access_log_export`). Thin wrappers over [`crate::account::access_log`].

use std::time::{SystemTime, UNIX_EPOCH};

use citizen_protocol::access::{AccessEntry, AccessFilter, AccessPurpose as WirePurpose, Accessor as WireAccessor};

use super::account::AccountClient;
use super::errors::CitizenError;
use super::types::{int, long, time, LogProblem};

/// Who read the record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum AccessorKind {
    /// An official (cán bộ), through the officials' API.
    Official,
    /// A relying party the citizen shared data with (the consent receipt is the reference).
    RelyingParty,
    /// The public-services back office (checking an eForm against the register, deciding a case).
    BackOffice,
}

/// Why the record was read (the purpose code the reader stated or the server recorded).
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum AccessPurpose {
    /// Processing a public-service case.
    CaseProcessing,
    /// Checking the person's identity.
    IdentityVerification,
    /// Maintaining the population register.
    RegisterMaintenance,
    /// An investigation under the law.
    Investigation,
    /// A data share the citizen consented to.
    DataShare,
    /// Checking (prefilling) an eForm against the register.
    FormPrefill,
    /// Deciding a case.
    CaseDecision,
}

/// One read of the citizen's register record.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct AccessLogEntry {
    /// 1, 2, 3, … in the citizen's log.
    pub seq: i64,
    /// When.
    pub at: SystemTime,
    /// Who.
    pub accessor: AccessorKind,
    /// The agency (or the relying party's id).
    pub agency: String,
    /// The official's staff id (officials only).
    pub official: Option<String>,
    /// Why.
    pub purpose: AccessPurpose,
    /// The case number or consent receipt id the read was for.
    pub reference: Option<String>,
    /// The entry's hash in the chain (hex).
    pub hash: String,
}

/// Which entries to list (every field optional; all given must hold).
#[derive(Clone, Debug, Default, PartialEq, Eq, uniffi::Record)]
pub struct AccessLogFilter {
    /// Only this agency (case-insensitive).
    pub agency: Option<String>,
    /// From this time (inclusive).
    pub since: Option<SystemTime>,
    /// Up to this time (inclusive).
    pub until: Option<SystemTime>,
}

/// The verified access log.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct AccessLog {
    /// The entries the filter kept, oldest first.
    pub entries: Vec<AccessLogEntry>,
    /// Entries in the whole log.
    pub total: i32,
    /// No problem found in the chain, and the head seen last time is still there unchanged.
    pub intact: bool,
    /// Every problem found (an entry removed, changed, or history rewritten).
    pub problems: Vec<LogProblem>,
    /// When the server signed it.
    pub signed_at: SystemTime,
}

/// What verifying an exported access log found.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct AccessLogReport {
    /// The server's signature verified with the trusted key and the file is an access log.
    pub signature_valid: bool,
    /// Signature valid and chain intact.
    pub intact: bool,
    /// Chain problems.
    pub problems: Vec<LogProblem>,
    /// The entries (trust them only when `intact`).
    pub entries: Vec<AccessLogEntry>,
    /// The (opaque) account the log is for.
    pub account_id: String,
    /// The server that signed it.
    pub issuer: String,
    /// When it was signed.
    pub signed_at: SystemTime,
}

impl From<WireAccessor> for AccessorKind {
    fn from(a: WireAccessor) -> Self {
        match a {
            WireAccessor::Official => AccessorKind::Official,
            WireAccessor::RelyingParty => AccessorKind::RelyingParty,
            WireAccessor::BackOffice => AccessorKind::BackOffice,
        }
    }
}

impl From<WirePurpose> for AccessPurpose {
    fn from(p: WirePurpose) -> Self {
        match p {
            WirePurpose::CaseProcessing => AccessPurpose::CaseProcessing,
            WirePurpose::IdentityVerification => AccessPurpose::IdentityVerification,
            WirePurpose::RegisterMaintenance => AccessPurpose::RegisterMaintenance,
            WirePurpose::Investigation => AccessPurpose::Investigation,
            WirePurpose::DataShare => AccessPurpose::DataShare,
            WirePurpose::FormPrefill => AccessPurpose::FormPrefill,
            WirePurpose::CaseDecision => AccessPurpose::CaseDecision,
        }
    }
}

impl From<&AccessEntry> for AccessLogEntry {
    fn from(e: &AccessEntry) -> Self {
        AccessLogEntry {
            seq: long(e.seq),
            at: time(e.at),
            accessor: e.accessor.into(),
            agency: e.agency.clone(),
            official: e.official.clone(),
            purpose: e.purpose.into(),
            reference: e.reference.clone(),
            hash: e.hash.clone(),
        }
    }
}

fn unix(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => long(d.as_secs()),
        Err(e) => -long(e.duration().as_secs()),
    }
}

fn wire_filter(f: AccessLogFilter) -> AccessFilter {
    AccessFilter { agency: f.agency.filter(|a| !a.trim().is_empty()), from: f.since.map(unix), to: f.until.map(unix) }
}

#[uniffi::export]
impl AccountClient {
    /// Who read the citizen's register record — officials (with agency and purpose), relying
    /// parties through a share, the services back office — fetched from the server (logged
    /// in), its signature and hash chain checked, then filtered by agency and period. `intact`
    /// is false when an entry was removed or changed, or when history seen before was
    /// rewritten. Main-safe; never prompts. Throws [`CitizenError`] (`Network` when the server
    /// cannot be reached or its answer does not verify).
    pub async fn access_log(&self, filter: AccessLogFilter) -> Result<AccessLog, CitizenError> {
        let filter = wire_filter(filter);
        let v = self.0.run::<_, CitizenError, _>(|a| async move { a.access_log(&filter).await }).await?;
        Ok(AccessLog {
            entries: v.entries.iter().map(AccessLogEntry::from).collect(),
            total: int(v.total),
            intact: v.problems.is_empty(),
            problems: v.problems.into_iter().map(LogProblem::from).collect(),
            signed_at: time(v.signed_at),
        })
    }

    /// The whole access log as the server signed it (a compact JWS, `typ`
    /// `citizen-access-log+jwt`): a file anyone can check with `verify_access_log_export`.
    /// Fetched and verified first. Main-safe; never prompts. Throws [`CitizenError`].
    pub async fn export_access_log(&self) -> Result<String, CitizenError> {
        let v =
            self.0.run::<_, CitizenError, _>(|a| async move { a.access_log(&AccessFilter::default()).await }).await?;
        Ok(v.signed)
    }
}

/// Verify an exported access log (`export_access_log`) against the server key the verifier
/// trusts (`server_key_jwk`: a JWK or a JWKS obtained independently of the file): the server's
/// signature and kind, then the hash chain. A file whose signature does not verify is reported
/// with `signature_valid = false` (its content untrusted). Pure computation: main-safe, never
/// prompts. Throws [`CitizenError`] (`InvalidInput`: not an access log, or not a JWK).
#[uniffi::export]
pub fn verify_access_log_export(signed: String, server_key_jwk: String) -> Result<AccessLogReport, CitizenError> {
    let c = crate::account::access_log::verify_export(&signed, &server_key_jwk)?;
    Ok(AccessLogReport {
        signature_valid: c.signature_valid,
        intact: c.signature_valid && c.problems.is_empty(),
        problems: c.problems.into_iter().map(LogProblem::from).collect(),
        entries: c.entries.iter().map(AccessLogEntry::from).collect(),
        account_id: c.account_id,
        issuer: c.issuer,
        signed_at: time(c.signed_at),
    })
}
