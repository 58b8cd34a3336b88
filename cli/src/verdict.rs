//! The verifier's verdict as the desktop shell prints it, in Vietnamese and English (`citizen
//! verify`, `citizen demo`).

use citizen_core::{CheckOutcome, VerdictOverall, VerificationCheckKind, VerificationVerdict};

fn check_name(k: VerificationCheckKind) -> &'static str {
    match k {
        VerificationCheckKind::TrustList => "Danh sách tin cậy còn hạn / Trust list current",
        VerificationCheckKind::Session => "Phiên trình giấy tờ / Session",
        VerificationCheckKind::IssuerChain => "Cơ quan cấp trong danh sách tin cậy / Issuer in the trust list",
        VerificationCheckKind::MsoSignature => "Chữ ký của cơ quan cấp / Issuer signature",
        VerificationCheckKind::ElementDigests => "Từng thông tin không bị sửa / Each element unaltered",
        VerificationCheckKind::Validity => "Còn hiệu lực / Within validity",
        VerificationCheckKind::DeviceAuthentication => "Đúng thiết bị, đúng phiên / Device and session",
        VerificationCheckKind::Revocation => "Chưa bị thu hồi / Not revoked",
    }
}

/// The overall line: `HỢP LỆ / VALID`, `KHÔNG HỢP LỆ / INVALID …`, `CHƯA KIỂM TRA ĐỦ / PARTLY
/// UNCHECKED`.
pub fn overall_line(v: &VerificationVerdict) -> String {
    match &v.overall {
        VerdictOverall::Valid => "Kết quả / Result: HỢP LỆ / VALID".into(),
        VerdictOverall::Invalid { failing } => format!(
            "Kết quả / Result: KHÔNG HỢP LỆ / INVALID [{}] {} / {}",
            failing.code, failing.message_vi, failing.message_en
        ),
        VerdictOverall::PartlyUnchecked => {
            "Kết quả / Result: CHƯA KIỂM TRA ĐỦ / PARTLY UNCHECKED (không phải hợp lệ / not valid)".into()
        }
    }
}

/// Every line of the verdict: the overall result, each check, the disclosed elements (their
/// values only with `show_values`: the demo prints no personal data), the age of the trust list.
pub fn lines(v: &VerificationVerdict, show_values: bool) -> Vec<String> {
    let mut out = vec![overall_line(v)];
    for c in &v.checks {
        let name = check_name(c.check);
        out.push(match &c.outcome {
            CheckOutcome::Passed => format!("  ✓ {name}"),
            CheckOutcome::Failed { detail } => {
                format!("  ✗ {name}: [{}] {} / {}", detail.code, detail.message_vi, detail.message_en)
            }
            CheckOutcome::NotChecked { detail } => {
                format!("  ? {name}: [{}] {} / {}", detail.code, detail.message_vi, detail.message_en)
            }
            CheckOutcome::NotReached => format!("  – {name}: chưa kiểm tra / not reached"),
        });
    }
    for d in &v.documents {
        out.push(format!("Giấy tờ / Document: {} — {}", d.doc_type, d.issuer));
        for e in &d.elements {
            let value = if show_values { e.value.as_str() } else { "✓ (đã kiểm tra / checked)" };
            out.push(format!("  {} / {}: {}", e.label_vi, e.label_en, value));
        }
        if let Some(p) = &d.portrait {
            out.push(format!("  Ảnh chân dung / Portrait: {} bytes", p.len()));
        }
    }
    out.push(format!(
        "Danh sách tin cậy tải cách đây / Trust list age: {} s{}",
        v.trust.age.as_secs(),
        if v.trust.status_list_stale { " — danh sách thu hồi đã cũ / revocation list stale" } else { "" }
    ));
    out
}
