//! Level 2 from the chip (issue 12, ARCHITECTURE.md decision 30).
//!
//! * `POST /v1/chip/challenge` (Bearer): a single-use nonce with purpose `chip`, bound to the
//!   bearer's device (the shared `nonces` table), and the CSCA list this server trusts.
//! * `POST /v1/chip/upgrade` (Bearer + statement, purpose `chip`, nonce from that challenge,
//!   subject `chip:<digest of the evidence>`): the server re-runs **passive authentication** on
//!   EF.SOD and the uploaded data groups against its own CSCA list, checks **active
//!   authentication** — the chip's signature, with DG15's key (which EF.SOD vouches for), over
//!   the challenge derived from the nonce it issued — so a clone holding copied files but no
//!   private key fails, and matches DG13 (and DG1's number) against the register entry of the
//!   account. Then the account is raised to level 2, in the same transaction as the record of
//!   the proof. Chip authentication is not used here: it proves the chip to the reader that ran
//!   it (the phone), and leaves nothing a third party can verify.
//!
//! Refusals carry the catalogue's `chip.*` codes: untrusted or expired signer, altered data
//! group, clone, card of another citizen, data that differ from the register, replayed proof.
//! The server keeps only fingerprints (SHA-256 of the document signer certificate and of DG15)
//! and the time: none of the chip's personal data.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use crate::sql::{params, Connection, OptionalExtension};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use citizen_chip::lds::{self, dg13_field};
use citizen_chip::pa::{self, TrustList};
use citizen_chip::ChipError;
use citizen_protocol::crypto::{b64, random_b64url, unb64};
use citizen_protocol::messages::Msg;
use citizen_protocol::protocol::chip::{
    aa_challenge, upload_subject, ChipChallengeRequest, ChipChallengeResponse, ChipEvidence, ChipTrustResponse,
    ChipUpgradeRequest, ChipUpgradeResponse, LEVEL_CHIP, PATH_CHIP_CHALLENGE, PATH_CHIP_CSCA, PATH_CHIP_UPGRADE,
};
use citizen_protocol::protocol::{codes, sha256_hex, Purpose};

use super::auth::authenticate;
use super::{audited, bearer};
use crate::api::{blocking, ApiError, ApiJson, ApiResult, AppState};
use crate::config::ServerError;
use crate::db::audit;
use crate::verify::{verify_signed_ext, CounterKind, NonceRule};

/// Directory under the data directory holding the trusted CSCA certificates (`*.der`).
pub const CSCA_DIR: &str = "chip-csca";

/// Load the CSCA trust list: every `*.der` file of `<data_dir>/chip-csca` (absent = empty: no
/// chip is trusted and every upgrade is refused with `chip.signer_untrusted`). Each must parse
/// as a certificate, or the server does not start.
pub fn load_trust(data_dir: &Path) -> Result<Vec<Vec<u8>>, ServerError> {
    let dir = data_dir.join(CSCA_DIR);
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e.into()),
    };
    let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths.into_iter().filter(|p| p.extension().is_some_and(|x| x == "der")) {
        let der = std::fs::read(&p)?;
        pa::parse_certificate(&der)
            .map_err(|e| ServerError::Config(format!("CSCA certificate {}: {e}", p.display())))?;
        out.push(der);
    }
    if !out.is_empty() {
        tracing::info!(count = out.len(), "chip CSCA trust list loaded");
    }
    Ok(out)
}

/// An account's identity level (1 or 2).
pub fn account_level(conn: &Connection, account_id: &str) -> ApiResult<u8> {
    let level: i64 = conn.query_row("SELECT level FROM accounts WHERE account_id = ?1", [account_id], |r| r.get(0))?;
    u8::try_from(level).map_err(|_| ApiError::internal())
}

/// Refuse with 403 `level.required` when the account is below `min_level` (a relying party's
/// requirement).
pub fn require_level(conn: &Connection, account_id: &str, min_level: u8) -> ApiResult<()> {
    if account_level(conn, account_id)? < min_level {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            Msg::LevelRequired.code(),
            "this relying party requires a level-2 account",
        ));
    }
    Ok(())
}

fn refuse(status: StatusCode, msg: Msg, detail: &str) -> ApiError {
    ApiError::new(status, msg.code(), detail)
}

fn chip_refusal(e: &ChipError) -> ApiError {
    // The Display text names the step, never personal data.
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.code(), e.to_string())
}

/// `POST /v1/chip/challenge`.
pub fn challenge(
    s: &AppState,
    conn: &mut Connection,
    token: Option<&str>,
    req: &ChipChallengeRequest,
) -> ApiResult<ChipChallengeResponse> {
    let b = authenticate(s, conn, token)?;
    if req.device_id != b.device_id {
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, codes::NONCE_INVALID, "challenge for another device"));
    }
    let now = s.now();
    conn.execute("DELETE FROM nonces WHERE expires_at < ?1", [now - 86_400])?;
    let nonce = random_b64url(32);
    let expires_at = now + s.limits.nonce_ttl_secs;
    conn.execute(
        "INSERT INTO nonces (nonce, device_id, purpose, expires_at) VALUES (?1, ?2, ?3, ?4)",
        params![nonce, b.device_id, Purpose::Chip.as_str(), expires_at],
    )?;
    Ok(ChipChallengeResponse {
        nonce,
        audience: s.audience.clone(),
        expires_at,
        csca: s.chip_trust.iter().map(|c| b64(c)).collect(),
    })
}

/// The evidence, decoded.
pub(crate) struct Files {
    sod: Vec<u8>,
    dgs: BTreeMap<u8, Vec<u8>>,
    aa_signature: Vec<u8>,
}

pub(crate) fn decode(e: &ChipEvidence) -> ApiResult<Files> {
    let bad = || refuse(StatusCode::BAD_REQUEST, Msg::ChipMalformedDataGroup, "evidence is not base64url");
    let d = |v: &str| unb64(v).ok_or_else(bad);
    let mut dgs = BTreeMap::from([(1, d(&e.dg1)?), (13, d(&e.dg13)?), (15, d(&e.dg15)?)]);
    if let Some(dg14) = &e.dg14 {
        dgs.insert(14, d(dg14)?);
    }
    Ok(Files { sod: d(&e.sod)?, dgs, aa_signature: d(&e.aa_signature)? })
}

/// The register entry the card must match.
pub(crate) struct RegisterEntry {
    cccd: String,
    full_name: String,
    date_of_birth: String,
    sex: String,
    ethnicity: String,
    place_of_origin: String,
}

pub(crate) fn register_entry(conn: &Connection, account_id: &str) -> ApiResult<RegisterEntry> {
    conn.query_row(
        "SELECT c.cccd, c.full_name, c.date_of_birth, c.sex, c.ethnicity, c.place_of_origin
           FROM citizens c JOIN accounts a ON a.citizen_id = c.id WHERE a.account_id = ?1",
        [account_id],
        |r| {
            Ok(RegisterEntry {
                cccd: r.get(0)?,
                full_name: r.get(1)?,
                date_of_birth: r.get(2)?,
                sex: r.get(3)?,
                ethnicity: r.get(4)?,
                place_of_origin: r.get(5)?,
            })
        },
    )
    .optional()?
    .ok_or_else(ApiError::internal)
}

/// `DD/MM/YYYY` (as on the chip) to `YYYY-MM-DD` (the register).
fn iso_date(dmy: &str) -> Option<String> {
    let mut it = dmy.split('/');
    let (d, m, y) = (it.next()?, it.next()?, it.next()?);
    let ok = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    (it.next().is_none() && ok(d, 2) && ok(m, 2) && ok(y, 4)).then(|| format!("{y}-{m}-{d}"))
}

/// DG13 (and DG1's number) against the register: the number decides whose card it is; the
/// identity attributes that do not change over a card's life — name, date of birth, sex,
/// ethnicity, place of origin — must then be equal. The place of residence is not compared: a
/// card issued before a move keeps the old address, and the register is authoritative for it.
pub(crate) fn match_register(files: &Files, reg: &RegisterEntry) -> ApiResult<()> {
    let dg13 = lds::parse_dg13(&files.dgs[&13]).map_err(|e| chip_refusal(&e))?;
    let mrz = lds::parse_dg1(&files.dgs[&1]).map_err(|e| chip_refusal(&e))?;
    let number = dg13.get(dg13_field::ID_NUMBER).unwrap_or_default();
    if number != reg.cccd || mrz.optional_data() != reg.cccd {
        return Err(refuse(StatusCode::FORBIDDEN, Msg::ChipOtherCitizen, "the card belongs to another citizen"));
    }
    let sex = match dg13.get(dg13_field::SEX) {
        Some("Nam") => Some("male"),
        Some("Nữ") => Some("female"),
        _ => None,
    };
    let same = dg13.get(dg13_field::FULL_NAME) == Some(reg.full_name.as_str())
        && dg13.get(dg13_field::DATE_OF_BIRTH).and_then(iso_date).as_deref() == Some(reg.date_of_birth.as_str())
        && sex == Some(reg.sex.as_str())
        && dg13.get(dg13_field::ETHNICITY) == Some(reg.ethnicity.as_str())
        && dg13.get(dg13_field::PLACE_OF_ORIGIN) == Some(reg.place_of_origin.as_str());
    if !same {
        return Err(refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            Msg::ChipRecordMismatch,
            "chip data differ from the register",
        ));
    }
    Ok(())
}

/// Passive and active authentication of the evidence for `nonce`. Returns the fingerprints kept.
pub(crate) fn verify_chip(s: &AppState, files: &Files, nonce: &str) -> ApiResult<(String, String)> {
    let sod = pa::parse_sod(&files.sod).map_err(|e| chip_refusal(&e))?;
    let trust = TrustList::new(s.chip_trust.clone()).map_err(|_| ApiError::internal())?;
    let now = u64::try_from(s.now()).map_err(|_| ApiError::internal())?;
    let report = pa::verify(&sod, &files.dgs, &trust, now).map_err(|e| chip_refusal(&e))?;
    if report.verified_data_groups.len() != files.dgs.len() {
        return Err(chip_refusal(&ChipError::HashMismatch { dg: 0 }));
    }
    let key = lds::parse_dg15(&files.dgs[&15]).map_err(|e| chip_refusal(&e))?;
    let aa_alg = match files.dgs.get(&14) {
        Some(dg14) => lds::parse_dg14(dg14).map_err(|e| chip_refusal(&e))?.aa_algorithm,
        None => None,
    };
    let hash = citizen_chip::aa::hash_for(aa_alg.as_ref()).map_err(|e| chip_refusal(&e))?;
    citizen_chip::aa::verify(&key, hash, &aa_challenge(nonce), &files.aa_signature).map_err(|e| chip_refusal(&e))?;
    Ok((sha256_hex(&report.signer_certificate), sha256_hex(&files.dgs[&15])))
}

/// The chip proves the citizen of `account_id` for `nonce` (issue 15: a recovery, a
/// re-binding without a session, a remote lock): passive and active authentication over
/// `aa_challenge(nonce)`, then DG13 against the register.
pub(crate) fn prove_citizen(
    s: &AppState,
    conn: &Connection,
    evidence: &ChipEvidence,
    nonce: &str,
    account_id: &str,
) -> ApiResult<()> {
    let files = decode(evidence)?;
    verify_chip(s, &files, nonce)?;
    match_register(&files, &register_entry(conn, account_id)?)
}

/// `POST /v1/chip/upgrade`.
pub fn upgrade(
    s: &AppState,
    conn: &mut Connection,
    token: Option<&str>,
    req: &ChipUpgradeRequest,
) -> ApiResult<ChipUpgradeResponse> {
    let b = authenticate(s, conn, token)?;
    let st = &req.signed.statement;
    if st.device_id != b.device_id {
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, codes::SIGNATURE_INVALID, "statement from another device"));
    }
    // A proof already accepted is named as such (its nonce was consumed by that acceptance).
    let used: Option<i64> =
        conn.query_row("SELECT 1 FROM chip_verifications WHERE nonce = ?1", [&st.nonce], |r| r.get(0)).optional()?;
    if used.is_some() {
        return Err(refuse(StatusCode::CONFLICT, Msg::ChipProofReplayed, "this chip proof was already used"));
    }
    let files = decode(&req.evidence)?;
    let tx = conn.savepoint()?;
    // The statement binds the evidence (subject), the nonce (single-use, this device, purpose
    // chip), audience and counter. The nonce is consumed whatever the outcome.
    let dev = match verify_signed_ext(
        s,
        &tx,
        &req.signed,
        Purpose::Chip,
        NonceRule::Challenge,
        Some(&upload_subject(&req.evidence)),
        CounterKind::Login,
    ) {
        Ok(d) => d,
        Err(e) => {
            tx.commit()?;
            return Err(if e.code() == codes::NONCE_INVALID || e.code() == codes::NONCE_EXPIRED {
                refuse(StatusCode::UNAUTHORIZED, Msg::ChipProofInvalid, "unknown, used or expired chip nonce")
            } else {
                e
            });
        }
    };
    let now = s.now();
    let checked = verify_chip(s, &files, &st.nonce).and_then(|fp| {
        match_register(&files, &register_entry(&tx, &dev.account_id)?)?;
        Ok(fp)
    });
    let (signer_sha256, dg15_sha256) = match checked {
        Ok(fp) => fp,
        Err(e) => {
            audit(&tx, now, "chip_upgrade", e.code(), Some(&dev.account_id), Some(&dev.device_id));
            tx.commit()?;
            return Err(e);
        }
    };
    tx.execute(
        "UPDATE accounts SET level = ?2, level_upgraded_at = ?3 WHERE account_id = ?1",
        params![dev.account_id, LEVEL_CHIP, now],
    )?;
    tx.execute(
        "INSERT INTO chip_verifications (nonce, account_id, device_id, signer_sha256, dg15_sha256, verified_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![st.nonce, dev.account_id, dev.device_id, signer_sha256, dg15_sha256, now],
    )?;
    audit(&tx, now, "chip_upgrade", "ok", Some(&dev.account_id), Some(&dev.device_id));
    tx.commit()?;
    Ok(ChipUpgradeResponse { level: LEVEL_CHIP, upgraded_at: now })
}

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

type S = State<Arc<AppState>>;

/// The chip routes (merged into [`super::router`]).
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(PATH_CHIP_CHALLENGE, post(http_challenge))
        .route(PATH_CHIP_UPGRADE, post(http_upgrade))
        .route(PATH_CHIP_CSCA, axum::routing::get(http_csca))
}

/// `GET /v1/chip/csca`: the public CSCA list (issue 15: a recovering phone has no session).
async fn http_csca(State(s): S) -> Json<ChipTrustResponse> {
    Json(ChipTrustResponse { csca: s.chip_trust.iter().map(|c| b64(c)).collect() })
}

async fn http_challenge(
    State(s): S,
    headers: HeaderMap,
    ApiJson(req): ApiJson<ChipChallengeRequest>,
) -> ApiResult<Json<ChipChallengeResponse>> {
    let token = bearer(&headers);
    blocking(&s, move |s, c| audited(s, c, "chip_challenge", |s, c| challenge(s, c, token.as_deref(), &req)))
        .await
        .map(Json)
}

async fn http_upgrade(
    State(s): S,
    headers: HeaderMap,
    ApiJson(req): ApiJson<ChipUpgradeRequest>,
) -> ApiResult<Json<ChipUpgradeResponse>> {
    let token = bearer(&headers);
    blocking(&s, move |s, c| audited(s, c, "chip_upgrade", |s, c| upgrade(s, c, token.as_deref(), &req)))
        .await
        .map(Json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chip_dates_convert_strictly() {
        assert_eq!(iso_date("15/01/1990").as_deref(), Some("1990-01-15"));
        for bad in ["1990-01-15", "15/1/1990", "15/01/1990/1", "aa/01/1990", ""] {
            assert_eq!(iso_date(bad), None, "{bad}");
        }
    }
}
