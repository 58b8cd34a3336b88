//! `POST /v1/activity/anchor`: a device asks the server to countersign the head of its activity
//! log. The server verifies the device's statement (purpose `activity`, nonce = head hash,
//! subject = `anchor:<seq>`, counter increasing), keeps the anchor, and answers an ES256
//! countersignature. Anchors only move forward: a lower or equal sequence with another hash is
//! refused (a device cannot rewrite anchored history).
//!
//! `GET /v1/activity/anchor` (bearer token) answers the latest anchor of the token's device,
//! countersigned again with its original time, so a device whose log and local anchors were cut
//! back (a restored backup, rows deleted at rest) learns what the server holds and reports the
//! truncation.

use crate::sql::{params, Connection, OptionalExtension};
use axum::http::StatusCode;
use citizen_protocol::activity::{ActivityAnchor, AnchorClaims, AnchorRequest, LatestAnchorResponse};
use citizen_protocol::protocol::Purpose;

use crate::api::{ApiError, ApiResult, AppState};
use crate::db::audit;
use crate::verify::{verify_signed, NonceRule};

/// Verify, store and countersign a head.
pub fn anchor(s: &AppState, conn: &mut Connection, req: &AnchorRequest) -> ApiResult<ActivityAnchor> {
    let st = &req.signed.statement;
    if st.subject != format!("anchor:{}", req.seq) || req.hash.len() != 64 || req.seq == 0 {
        return Err(ApiError::invalid("anchor subject, hash or sequence malformed"));
    }
    let tx = conn.savepoint()?;
    // A failed verification is committed (audit row naming the device, failure throttle): rolled
    // back with the transaction, forged anchors were neither counted nor attributed (issue 9).
    let dev = match verify_signed(s, &tx, &req.signed, Purpose::Activity, NonceRule::Fixed(&req.hash)) {
        Ok(d) => d,
        Err(e) => {
            tx.commit()?;
            return Err(e);
        }
    };
    let seq = i64::try_from(req.seq).map_err(|_| ApiError::invalid("sequence out of range"))?;
    let latest: Option<(i64, String)> = tx
        .query_row(
            "SELECT seq, hash FROM activity_anchors WHERE device_id = ?1 ORDER BY seq DESC LIMIT 1",
            params![dev.device_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    if let Some((last_seq, last_hash)) = latest {
        if seq < last_seq || (seq == last_seq && last_hash != req.hash) {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "anchor_conflict",
                "the log would rewrite anchored history",
            ));
        }
    }
    let now = s.now();
    tx.execute(
        "INSERT INTO activity_anchors (device_id, seq, hash, anchored_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (device_id, seq) DO NOTHING",
        params![dev.device_id, seq, req.hash, now],
    )?;
    audit(&tx, now, "activity_anchor", "ok", Some(&dev.account_id), Some(&dev.device_id));
    tx.commit()?;
    let claims = AnchorClaims {
        iss: s.audience.clone(),
        device_id: dev.device_id,
        seq: req.seq,
        hash: req.hash.clone(),
        anchored_at: now,
    };
    Ok(ActivityAnchor {
        seq: req.seq,
        hash: req.hash.clone(),
        anchored_at: now,
        countersignature: s.tokens.sign(&claims),
    })
}

/// `GET /v1/activity/anchor`: the latest anchor of the bearer's device (a read; nothing is
/// counted or changed).
pub fn latest(s: &AppState, conn: &mut Connection, token: Option<&str>) -> ApiResult<LatestAnchorResponse> {
    let b = crate::handlers::auth::authenticate(s, conn, token)?;
    let row: Option<(u64, String, i64)> = conn
        .query_row(
            "SELECT seq, hash, anchored_at FROM activity_anchors WHERE device_id = ?1 ORDER BY seq DESC LIMIT 1",
            params![b.device_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let anchor = row.map(|(seq, hash, anchored_at)| {
        let claims = AnchorClaims { iss: s.audience.clone(), device_id: b.device_id.clone(), seq, hash, anchored_at };
        ActivityAnchor {
            seq: claims.seq,
            hash: claims.hash.clone(),
            anchored_at,
            countersignature: s.tokens.sign(&claims),
        }
    });
    Ok(LatestAnchorResponse { anchor })
}
