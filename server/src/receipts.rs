//! Consent receipts and released claims, shared by the QR login decision and the data-share
//! countersigning endpoint.
//!
//! The server countersigns a receipt the device has already signed: it records the receipt (id,
//! digest, device, counter — never the claim values) in `consent_receipts` and answers an ES256
//! JWS over [`ReceiptCountersignClaims`]. A receipt id is countersigned at most once, so a replayed
//! receipt cannot collect a second countersignature.
//!
//! [`claim_values`] reads the values of protocol claims (`full_name`, `birthdate`, …) from the
//! population register for an account, so an ID token or a credential carries exactly what the
//! register says.

use crate::sql::{params, Connection, OptionalExtension};
use axum::http::StatusCode;
use citizen_protocol::cccd::Date;
use citizen_protocol::protocol::rp::{ConsentReceipt, ReceiptCountersignClaims};
use citizen_protocol::protocol::{codes, SignedStatement};
use serde_json::{Map, Value};

use crate::api::{ApiError, ApiResult, AppState};
use crate::db::audit;

/// Record and countersign a receipt whose device statement the caller has **already verified**
/// (`verify_signed` with purpose `consent`, nonce = the receipt's nonce). Checks that the
/// statement names this receipt (subject `receipt:<digest>`, same device) and that the receipt id
/// is a UUID never countersigned before. Returns the countersignature JWS.
///
/// Runs on `conn` as given: call it inside the caller's transaction so the receipt row and the
/// caller's own state change commit together.
pub fn countersign_receipt(
    s: &AppState,
    conn: &Connection,
    account_id: &str,
    receipt: &ConsentReceipt,
    signed: &SignedStatement,
) -> ApiResult<String> {
    let st = &signed.statement;
    if st.subject != receipt.statement_subject() || st.device_id != receipt.device_id {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            codes::SIGNATURE_INVALID,
            "the statement does not sign this receipt",
        ));
    }
    if uuid::Uuid::parse_str(&receipt.receipt_id).is_err() {
        return Err(ApiError::invalid("receipt id must be a UUID"));
    }
    // An RP may require a level-2 account (verified from the chip): refused before anything is
    // recorded, so neither an ID token nor a countersigned share exists for a lower account.
    if let Some(rp) = s.registry.get(&receipt.rp_id) {
        crate::handlers::chip::require_level(conn, account_id, rp.entry.min_level)?;
    }
    let counter = i64::try_from(st.counter).map_err(|_| ApiError::invalid("counter out of range"))?;
    let now = s.now();
    let inserted = conn.execute(
        "INSERT INTO consent_receipts (receipt_id, account_id, device_id, kind, rp_id, digest, counter, countersigned_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (receipt_id) DO NOTHING",
        params![
            receipt.receipt_id,
            account_id,
            receipt.device_id,
            receipt.kind.as_str(),
            receipt.rp_id,
            receipt.digest(),
            counter,
            now
        ],
    )?;
    if inserted != 1 {
        return Err(ApiError::new(StatusCode::CONFLICT, codes::INVALID_REQUEST, "receipt already countersigned"));
    }
    audit(conn, now, &format!("receipt_{}", receipt.kind.as_str()), "ok", Some(account_id), Some(&receipt.device_id));
    // The relying party receives register data: logged in the citizen's access log, linked to
    // the receipt (issue 16). Not for an in-person presentation: the reader got the elements
    // from the phone, the server released nothing.
    if receipt.kind == citizen_protocol::protocol::rp::ReceiptKind::InPerson {
        return Ok(sign_countersignature(s, receipt, signed, now));
    }
    crate::access_log::record_for_account(
        conn,
        account_id,
        now,
        &crate::access_log::Read {
            accessor: citizen_protocol::access::Accessor::RelyingParty,
            agency: &receipt.rp_id,
            official: None,
            purpose: citizen_protocol::access::AccessPurpose::DataShare,
            reference: Some(&receipt.receipt_id),
        },
    )?;
    Ok(sign_countersignature(s, receipt, signed, now))
}

/// The countersignature JWS of `receipt` and its device statement, dated `at`.
pub fn sign_countersignature(s: &AppState, receipt: &ConsentReceipt, signed: &SignedStatement, now: i64) -> String {
    s.tokens.sign(&ReceiptCountersignClaims {
        iss: s.audience.clone(),
        receipt_id: receipt.receipt_id.clone(),
        receipt_digest: receipt.digest(),
        device_id: receipt.device_id.clone(),
        device_signature: signed.signature.clone(),
        counter: signed.statement.counter,
        countersigned_at: now,
    })
}

/// Whether someone born on `birthdate` (`YYYY-MM-DD`) is 18 or older on `today`.
fn adult_on(birthdate: &str, today: Date) -> Option<bool> {
    let b = Date::parse(birthdate)?;
    let eighteenth = (b.year + 18, b.month, b.day);
    Some((today.year, today.month, today.day) >= eighteenth)
}

/// The register's values of `claims` (protocol claim names) for the citizen of `account_id`, at
/// `now` (for `age_over_18`, Vietnam time). Unknown claim names are refused with
/// `claim_not_allowed`; every protocol claim has a value.
pub fn claim_values(conn: &Connection, account_id: &str, claims: &[String], now: i64) -> ApiResult<Map<String, Value>> {
    type Row = (String, String, String, String, String, String, String, String);
    let row: Option<Row> = conn
        .query_row(
            "SELECT c.full_name, c.date_of_birth, c.sex, c.cccd, c.nationality, c.place_of_origin,
                    c.permanent_address, c.phone
               FROM citizens c JOIN accounts a ON a.citizen_id = c.id WHERE a.account_id = ?1",
            [account_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?)),
        )
        .optional()?;
    let (full_name, dob, sex, cccd, nationality, origin, address, phone) = row.ok_or_else(ApiError::internal)?;
    let mut out = Map::new();
    for c in claims {
        let v = match c.as_str() {
            "full_name" => Value::from(full_name.clone()),
            "birthdate" => Value::from(dob.clone()),
            "sex" => Value::from(sex.clone()),
            "cccd_number" => Value::from(cccd.clone()),
            "nationality" => Value::from(nationality.clone()),
            "place_of_origin" => Value::from(origin.clone()),
            "permanent_address" => Value::from(address.clone()),
            "phone" => Value::from(phone.clone()),
            "age_over_18" => Value::from(adult_on(&dob, Date::from_unix_vn(now)).ok_or_else(ApiError::internal)?),
            _ => {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    citizen_protocol::protocol::rp::codes::CLAIM_NOT_ALLOWED,
                    "unknown claim",
                ))
            }
        };
        out.insert(c.clone(), v);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use citizen_protocol::protocol::rp::CLAIMS;

    #[test]
    fn adulthood_turns_on_the_eighteenth_birthday() {
        let d = |y, m, day| Date { year: y, month: m, day };
        assert_eq!(adult_on("2008-03-10", d(2026, 3, 9)), Some(false));
        assert_eq!(adult_on("2008-03-10", d(2026, 3, 10)), Some(true));
        assert_eq!(adult_on("1990-01-15", d(2026, 1, 1)), Some(true));
        assert_eq!(adult_on("not a date", d(2026, 1, 1)), None);
    }

    #[test]
    fn every_protocol_claim_has_a_register_value() {
        let dir = tempfile::tempdir().unwrap();
        let c = crate::db::open(&dir.path().join("t.db")).unwrap();
        c.execute("INSERT INTO accounts (account_id, citizen_id, created_at) VALUES ('acc', 1, 0)", []).unwrap();
        let all: Vec<String> = CLAIMS.iter().map(|c| c.name.to_string()).collect();
        let v = claim_values(&c, "acc", &all, 1_780_000_000).unwrap();
        assert_eq!(v.len(), CLAIMS.len());
        assert_eq!(v["full_name"], "Nguyễn Văn Mẫu");
        assert_eq!(v["birthdate"], "1990-01-15");
        assert_eq!(v["cccd_number"], "001090000001");
        assert_eq!(v["age_over_18"], true);
        let e = claim_values(&c, "acc", &["password".to_string()], 0).unwrap_err();
        assert_eq!(e.code(), "claim_not_allowed");
    }
}
