//! Helpers of the `services` subcommands and the demo.

use citizen_core::cccd::Date;
use citizen_core::protocol::services::{CaseStatusDto, TransitionRequest, PATH_OFFICIAL_TRANSITION};
use citizen_core::{CitizenCore, CitizenError};

/// `YYYY-MM-DD`, `days` after the Vietnam date of `now`.
pub fn day(now: i64, days: i64) -> String {
    let d = Date::from_unix_vn(now + days * 86_400);
    format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)
}

/// Fill the editable fields of a residence notification with a fictitious guest staying from
/// tomorrow for four nights (the host and the address come from the register), in one write.
pub async fn fill_residence_notification(core: &CitizenCore, draft_id: &str, now: i64) -> Result<(), CitizenError> {
    let values = [
        ("guests.0.full_name", "Khách Thử Nghiệm".to_string()),
        ("guests.0.cccd", "079195000002".to_string()),
        ("guests.0.date_of_birth", "1995-06-30".to_string()),
        ("guests.0.relationship", "ban_be".to_string()),
        ("reason", "du_lich".to_string()),
        ("from_date", day(now, 1)),
        ("to_date", day(now, 5)),
    ]
    .into_iter()
    .map(|(path, value)| (path.to_string(), value))
    .collect();
    core.services().update_draft(draft_id.into(), values).await?;
    Ok(())
}

/// Move a case through the officials' API of the reference server (demo and tests only).
pub async fn official_transition(
    base_url: &str,
    ca_pem: &str,
    token: &str,
    case_number: &str,
    to: CaseStatusDto,
) -> Result<(), String> {
    let tls = citizen_core::net::tls::client_config(&[ca_pem.to_string()], &[]).map_err(|e| e.to_string())?;
    let client = reqwest::Client::builder().tls_backend_preconfigured(tls).build().map_err(|e| e.to_string())?;
    let body = TransitionRequest {
        case_number: case_number.into(),
        to,
        note_vi: Some("Cán bộ tiếp nhận đã xử lý (demo)".into()),
        note_en: Some("Processed by the official (demo)".into()),
        requested_attachments: vec![],
    };
    let r = client
        .post(format!("{base_url}{PATH_OFFICIAL_TRANSITION}"))
        .header("x-official-token", token)
        .json(&body)
        .send()
        .await
        .map_err(|e| e.without_url().to_string())?;
    if r.status().is_success() {
        Ok(())
    } else {
        Err(format!("officials' API answered {}", r.status()))
    }
}

/// An official's call to the corrections API (decision 50): `path` with `body`, answering the
/// correction as the server shows it.
pub async fn official_correction(
    base_url: &str,
    ca_pem: &str,
    token: &str,
    path: &str,
    body: serde_json::Value,
) -> Result<citizen_core::protocol::corrections::CorrectionDto, String> {
    let tls = citizen_core::net::tls::client_config(&[ca_pem.to_string()], &[]).map_err(|e| e.to_string())?;
    let client = reqwest::Client::builder().tls_backend_preconfigured(tls).build().map_err(|e| e.to_string())?;
    let r = client
        .post(format!("{base_url}{path}"))
        .header("x-official-token", token)
        .json(&body)
        .send()
        .await
        .map_err(|e| e.without_url().to_string())?;
    if !r.status().is_success() {
        return Err(format!("officials' API answered {}", r.status()));
    }
    r.json().await.map_err(|e| e.without_url().to_string())
}

/// Propose a correction of the place of origin from a draft of `register-correction`, with a
/// fictitious piece of evidence attached, and submit it (queued in the outbox).
pub async fn propose_origin_correction(
    core: &CitizenCore,
    new_value: &str,
    passcode: &str,
) -> Result<citizen_core::OutboxItem, CitizenError> {
    let services = core.services();
    let draft = services.create_draft(citizen_core::protocol::corrections::PROCEDURE_ID.into()).await?;
    let values = [
        ("field", "place_of_origin"),
        ("new_value", new_value),
        ("reason", "Quê quán bị ghi sai tên xã khi nhập dữ liệu (dữ liệu giả định)"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    services.update_draft(draft.draft_id.clone(), values).await?;
    services
        .attach_bytes(
            draft.draft_id.clone(),
            "evidence".into(),
            "giay-khai-sinh-gia-dinh.pdf".into(),
            "application/pdf".into(),
            b"%PDF-1.4 fictitious birth certificate (demo)".to_vec(),
        )
        .await?;
    core.services().submit_draft(draft.draft_id, passcode.into()).await
}
