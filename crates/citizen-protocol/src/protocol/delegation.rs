//! Delegation (issue 15, item 5; ARCHITECTURE.md decision 49): a parent acting for a child
//! under 14, a guardian acting for a ward (Decree 59/2022 Art. 11).
//!
//! The register knows the relation; the server grants a **mandate** for it: a row with its
//! scope (procedure ids, document kinds), its end (the child's 14th birthday, or the ward's
//! guardianship end in the register) and its revocation, rendered to the guardian's device as a
//! JWS ([`MandateClaims`], `typ` [`MANDATE_TYP`], signed by the server's token key) that names
//! the guardian, the guardian's current device key, the dependant and the scope. The JWS lives
//! at most [`MANDATE_JWS_TTL_SECS`] (a verifier offline cannot learn of a revocation; the short
//! life bounds that, as the trust list's age bounds a revoked document).
//!
//! Acting on behalf:
//! * **a submission**: [`OnBehalf`] is part of the [`super::services::SubmissionPayload`], so its
//!   digest — the statement's subject, signed by the guardian's device key with purpose,
//!   audience, nonce (the submission id) and counter — binds the mandate id and the dependant.
//! * **a presentation**: the dependant's document is issued bound to the guardian's device key;
//!   the mandate JWS travels with it and the verifier checks it offline ([`verify_mandate`]).

use serde::{Deserialize, Serialize};

use crate::jwt::JwtKind;

/// `typ` of a mandate JWS (RFC 8725 §3.11: its own type).
pub const MANDATE_TYP: &str = "citizen-mandate+jwt";
/// `GET` (bearer): the account holder's dependants, with their mandates and cases.
pub const PATH_DEPENDANTS: &str = "/v1/dependants";
/// `POST` (bearer) `{mandate_id}`: the guardian revokes a mandate.
pub const PATH_MANDATE_REVOKE: &str = "/v1/mandates/revoke";
/// Officials' API (`X-Official-Token`) `{mandate_id, reason}`: an official revokes a mandate.
pub const PATH_OFFICIAL_MANDATE_REVOKE: &str = "/v1/official/mandates/revoke";
/// `POST` (bearer) [`DependantDocumentRequest`]: one of a dependant's documents, issued as an
/// SD-JWT VC bound to the guardian's device key, with a fresh mandate JWS (decision 52).
pub const PATH_DEPENDANT_DOCUMENT: &str = "/v1/dependants/documents";
/// Longest life of one mandate JWS (the grant itself may last years; the device refetches).
pub const MANDATE_JWS_TTL_SECS: i64 = 7 * 24 * 3600;
/// The age at which a parent's mandate ends (Decree 59/2022: under 14 registered under a parent).
pub const CHILD_MANDATE_AGE: i32 = 14;
/// The procedures a parent's mandate for a child under 14 covers.
pub const CHILD_PROCEDURES: &[&str] = &["residence-notification", "temporary-residence", "temporary-absence"];
/// The document kinds (wire names) a parent's mandate for a child under 14 covers.
pub const CHILD_DOCUMENTS: &[&str] = &["health_insurance", "cccd"];

/// How the guardian is related to the dependant in the register.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Relation {
    /// Cha/mẹ of a child under 14.
    Parent,
    /// Người giám hộ of a ward.
    Guardian,
}

impl Relation {
    /// Stable wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Relation::Parent => "parent",
            Relation::Guardian => "guardian",
        }
    }

    /// Parse a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "parent" => Some(Relation::Parent),
            "guardian" => Some(Relation::Guardian),
            _ => None,
        }
    }
}

/// The server-signed mandate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MandateClaims {
    /// The server audience.
    pub iss: String,
    /// The mandate id.
    pub jti: String,
    /// Relation in the register.
    pub relation: Relation,
    /// The guardian's CCCD number.
    pub guardian_cccd: String,
    /// The guardian's full name.
    pub guardian_name: String,
    /// The guardian's device public key (SEC1 uncompressed, base64url): the key that signs and
    /// presents on the dependant's behalf.
    pub guardian_device_key: String,
    /// The dependant's CCCD number.
    pub dependant_cccd: String,
    /// The dependant's full name.
    pub dependant_name: String,
    /// The dependant's date of birth, `YYYY-MM-DD`.
    pub dependant_birthdate: String,
    /// Procedure ids the guardian may file on behalf of the dependant.
    pub procedures: Vec<String>,
    /// Document kinds (wire names, e.g. `health_insurance`) the guardian may present.
    pub document_types: Vec<String>,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// The grant ends (14th birthday, the register's end of guardianship); Unix seconds.
    pub mandate_ends_at: i64,
    /// This JWS expires: `min(mandate_ends_at, iat + MANDATE_JWS_TTL_SECS)`.
    pub exp: i64,
}

impl JwtKind for MandateClaims {
    const TYP: &'static str = MANDATE_TYP;
}

/// Names the mandate a submission is made under; part of the signed payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnBehalf {
    /// The mandate id.
    pub mandate_id: String,
    /// The dependant's CCCD number.
    pub dependant_cccd: String,
}

/// The state of a mandate as the server holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MandateState {
    /// In force.
    Active,
    /// Past its end (the dependant reached 14, or the guardianship ended).
    Expired,
    /// Revoked by the guardian or an official.
    Revoked,
}

/// One mandate in [`DependantsResponse`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MandateDto {
    /// The mandate id.
    pub mandate_id: String,
    /// Its state now.
    pub state: MandateState,
    /// Procedure ids.
    pub procedures: Vec<String>,
    /// Document kinds.
    pub document_types: Vec<String>,
    /// When the grant ends (Unix seconds).
    pub ends_at: i64,
    /// When revoked, and by whom (`guardian` or the official's id).
    pub revoked_at: Option<i64>,
    /// Who revoked it.
    pub revoked_by: Option<String>,
    /// The signed mandate (only while `Active`).
    pub jws: Option<String>,
}

/// One case filed on behalf of a dependant.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DependantCaseDto {
    /// Case number.
    pub case_number: String,
    /// Procedure id.
    pub procedure_id: String,
    /// Status (wire name of the case status).
    pub status: String,
    /// Received at (Unix seconds).
    pub received_at: i64,
    /// The guardian who filed it (CCCD number).
    pub filed_by: String,
}

/// One dependant of the account holder.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DependantDto {
    /// The relation.
    pub relation: Relation,
    /// The dependant's register record (what the guardian's app prefills forms with).
    pub profile: super::services::CitizenProfileDto,
    /// The mandate of this relation.
    pub mandate: MandateDto,
    /// Cases filed on behalf of the dependant (by any guardian).
    pub cases: Vec<DependantCaseDto>,
}

/// Answer of [`PATH_DEPENDANTS`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DependantsResponse {
    /// The dependants, ordered by CCCD number.
    pub dependants: Vec<DependantDto>,
}

/// Body of [`PATH_MANDATE_REVOKE`] and [`PATH_OFFICIAL_MANDATE_REVOKE`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MandateRevokeRequest {
    /// Which mandate.
    pub mandate_id: String,
    /// Why (officials); free text, never shown to the verifier.
    #[serde(default)]
    pub reason: String,
}

/// Body of [`PATH_DEPENDANT_DOCUMENT`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DependantDocumentRequest {
    /// The mandate the guardian acts under.
    pub mandate_id: String,
    /// The dependant's CCCD number.
    pub dependant_cccd: String,
    /// Which document (must be in the mandate's `document_types`).
    pub document_type: super::documents::DocumentKind,
}

/// One dependant's document as issued to the guardian: SD-JWT VC only (decision 52), with
/// `sub` = the dependant's CCCD number always visible and `cnf.jwk` = the guardian's device key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DependantDocumentWire {
    /// The server's id of this issuance (what an official revokes).
    pub id: String,
    /// Which document.
    pub kind: super::documents::DocumentKind,
    /// The SD-JWT VC (`typ` `dc+sd-jwt`, `x5c` = the document signer's chain).
    pub sd_jwt: String,
    /// Index in the status list.
    pub status_idx: u64,
    /// URL of the status list token.
    pub status_uri: String,
}

/// Answer of [`PATH_DEPENDANT_DOCUMENT`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DependantDocumentResponse {
    /// The document.
    pub document: DependantDocumentWire,
    /// The mandate JWS, signed now for the presenting device.
    pub mandate: String,
    /// The signed trust list the document chains to.
    pub trust_list: String,
}

/// What a guardian hands a verifier for a dependant's document: the SD-JWT VC with its KB-JWT
/// and the mandate JWS beside it, as one JSON object (the presentation's wire form).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnBehalfPresentation {
    /// `<issuer-signed JWT>~<disclosures>~<KB-JWT>`.
    pub sd_jwt: String,
    /// The mandate JWS (`typ` [`MANDATE_TYP`]).
    pub mandate: String,
}

/// Why a mandate JWS is refused offline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MandateError {
    /// Not a mandate signed by a key of the server's set (forged, altered, another `typ`, another
    /// issuer).
    #[error("mandate not signed by the identity server")]
    Invalid,
    /// Past `exp` or `mandate_ends_at`.
    #[error("mandate expired")]
    Expired,
    /// The presenting key is not the guardian's key the mandate names.
    #[error("mandate names another guardian key")]
    WrongGuardian,
    /// The mandate does not cover this document kind or procedure.
    #[error("outside the mandate's scope")]
    OutOfScope,
}

impl MandateError {
    /// Its code and texts in the message catalogue.
    pub fn msg(self) -> crate::messages::Msg {
        use crate::messages::Msg;
        match self {
            MandateError::Invalid => Msg::DelegationMandateInvalid,
            MandateError::Expired => Msg::DelegationExpired,
            MandateError::WrongGuardian => Msg::DelegationWrongHolder,
            MandateError::OutOfScope => Msg::DelegationOutOfScope,
        }
    }
}

/// Verify a mandate JWS offline: signature by a key of the server's published set (by `kid`),
/// `typ` [`MANDATE_TYP`], `iss` = `issuer`, not expired at `now` (neither the JWS nor the grant).
pub fn verify_mandate(
    jws: &str,
    server_keys: &[jsonwebtoken::jwk::Jwk],
    issuer: &str,
    now: i64,
) -> Result<MandateClaims, MandateError> {
    let kid = crate::jwt::compact_header(jws)
        .and_then(|h| h.get("kid").and_then(|k| k.as_str().map(str::to_string)))
        .ok_or(MandateError::Invalid)?;
    let key = server_keys.iter().find(|k| k.common.key_id.as_deref() == Some(&kid)).ok_or(MandateError::Invalid)?;
    let claims: MandateClaims = crate::crypto::decode_es256(jws, key).ok_or(MandateError::Invalid)?;
    if claims.iss != issuer {
        return Err(MandateError::Invalid);
    }
    if now >= claims.exp || now >= claims.mandate_ends_at {
        return Err(MandateError::Expired);
    }
    Ok(claims)
}

/// The Unix time (00:00 Vietnam time, UTC+7) of the day a person born on `birthdate`
/// (`YYYY-MM-DD`) reaches `age`; 29 February births reach it on 1 March in common years.
pub fn birthday_at(birthdate: &str, age: i32) -> Option<i64> {
    let d = crate::cccd::Date::parse(birthdate)?;
    let year = d.year + age;
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let (month, day) = if d.month == 2 && d.day == 29 && !leap { (3, 1) } else { (d.month, d.day) };
    Some(days_from_civil(year, month, day) * 86_400 - 7 * 3600)
}

/// The Unix time of 00:00 Vietnam time on `date` (`YYYY-MM-DD`).
pub fn day_start_vn(date: &str) -> Option<i64> {
    let d = crate::cccd::Date::parse(date)?;
    Some(days_from_civil(d.year, d.month, d.day) * 86_400 - 7 * 3600)
}

// Howard Hinnant's days_from_civil.
fn days_from_civil(y: i32, m: u32, d: u32) -> i64 {
    let y = i64::from(if m <= 2 { y - 1 } else { y });
    let era = (if y >= 0 { y } else { y - 399 }) / 400;
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn birthdays_in_vietnam_time() {
        // 2016-05-10 00:00 +07:00 = 2016-05-09T17:00:00Z.
        assert_eq!(day_start_vn("2016-05-10"), Some(1_462_813_200));
        assert_eq!(birthday_at("2002-05-10", 14), day_start_vn("2016-05-10"));
        assert_eq!(birthday_at("2012-02-29", 14), day_start_vn("2026-03-01"));
        assert_eq!(birthday_at("2012-02-29", 16), day_start_vn("2028-02-29"));
        assert_eq!(birthday_at("not a date", 14), None);
    }

    #[test]
    fn relation_wire_names_round_trip() {
        for r in [Relation::Parent, Relation::Guardian] {
            assert_eq!(Relation::parse(r.as_str()), Some(r));
        }
        assert_eq!(Relation::parse("friend"), None);
    }
}
