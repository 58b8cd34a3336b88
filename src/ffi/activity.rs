//! The activity sub-client: the citizen's tamper-evident activity log, and the exported
//! verifier of a log file. Thin wrappers over [`crate::activity::flows`]; every method
//! runs on the core's runtime.

use super::errors::CitizenError;
use super::facade::Engine;
use super::types::{int, long, ActivityAnchor, ActivityEntry, LogProblem};

/// The result of verifying an activity log.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct ActivityLogReport {
    /// Entries checked.
    pub entries: i32,
    /// Server anchors checked.
    pub anchors: i32,
    /// Every problem found (empty = intact).
    pub problems: Vec<LogProblem>,
    /// No problem found. Note: entries appended after the last anchor can be dropped without
    /// trace by whoever controls the device; anchoring often keeps that window small, and
    /// `anchored_seq` says how far the verified anchors reach.
    pub intact: bool,
    /// Highest sequence covered by an anchor whose countersignature verified with the trusted
    /// server key (0 = none: nothing in the log is vouched for by the server).
    pub anchored_seq: i64,
    /// The device the log claims to be from.
    pub device_id: String,
    /// The device key (SEC1, base64url) the entry signatures were checked with — the key the
    /// file carries. `intact` only says the log is consistent with this key: compare it with the
    /// key of the device you expect (e.g. from the server's device registry).
    pub device_public_key: String,
}

fn report(c: crate::activity::flows::LogCheck) -> ActivityLogReport {
    ActivityLogReport {
        entries: int(c.entries),
        anchors: int(c.anchors),
        intact: c.problems.is_empty(),
        problems: c.problems.into_iter().map(LogProblem::from).collect(),
        anchored_seq: long(c.anchored_seq),
        device_id: c.device_id,
        device_public_key: c.device_public_key,
    }
}

/// Verify an exported activity log (JSON from `export_activity_log`) against the server key the
/// verifier trusts: `server_key_jwk` is a JWK or a JWKS (`{"keys": [...]}`) obtained
/// independently of the file (e.g. the server's `/v1/keys` fetched over a pinned connection).
/// Server keys inside the file are ignored — a forger can put any key there. The entries are
/// checked with the device key the file carries; the report names it (`device_public_key`) so
/// the caller can compare it with the device it expects. Anyone can run this. Pure computation
/// (no storage, no network; verifying a long log takes a few milliseconds): main-safe, never
/// prompts. Throws [`CitizenError`] (`InvalidInput`: not an export, or not a JWK).
#[uniffi::export]
pub fn verify_activity_log_export(json: String, server_key_jwk: String) -> Result<ActivityLogReport, CitizenError> {
    Ok(report(crate::activity::flows::verify_export(&json, &server_key_jwk)?))
}

/// The tamper-evident activity log of one core (`CitizenCore.activity()`). Small enough to fake
/// in a test of a view model.
#[derive(uniffi::Object)]
pub struct ActivityClient(pub(crate) Engine);

#[uniffi::export]
impl ActivityClient {
    /// The activity log: every enrollment, login, submission, device and passcode change and
    /// lockout on this device, oldest first. Main-safe; never prompts. Throws [`CitizenError`].
    pub async fn list_entries(&self) -> Result<Vec<ActivityEntry>, CitizenError> {
        self.0
            .blocking(|a| {
                Ok(a.activity_entries()?.into_iter().filter_map(|r| r.entry).map(ActivityEntry::from).collect())
            })
            .await
    }

    /// Verify the log: hashes, links, order, counters, device signatures, server anchors (with
    /// the server keys fetched over the pinned connection), and that no anchor the device stored
    /// was deleted and the log reaches the highest one. Offline; `anchor` (and
    /// `ServicesClient.sync_cases`) also fetch the server's latest anchor of this device, so a
    /// log truncated below it is reported even when the local anchors were removed. Main-safe;
    /// never prompts. Throws [`CitizenError`].
    pub async fn verify(&self) -> Result<ActivityLogReport, CitizenError> {
        self.0.blocking(|a| Ok(report(a.verify_activity()?))).await
    }

    /// The log as JSON that anyone can verify (`verify_activity_log_export`). Main-safe; never
    /// prompts. Throws [`CitizenError`].
    pub async fn export(&self) -> Result<String, CitizenError> {
        self.0
            .blocking(|a| {
                let x = a.export_activity()?;
                Ok(serde_json::to_string_pretty(&x)?)
            })
            .await
    }

    /// Anchor the head of the log at the server now (also done on every `sync_cases`). When
    /// logged in, first fetches the server's latest anchor of this device and keeps it if the
    /// device did not hold it. Main-safe; never prompts. Throws [`CitizenError`].
    pub async fn anchor(&self) -> Result<Option<ActivityAnchor>, CitizenError> {
        self.0.run(|a| async move { Ok(a.anchor_activity().await?.map(ActivityAnchor::from)) }).await
    }
}
