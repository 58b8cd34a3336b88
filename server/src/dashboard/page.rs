//! The dashboard page: server-rendered HTML with inline SVG charts, Vietnamese labels, readable
//! without JavaScript (the page has none). Every figure cell carries `data-*` attributes naming
//! its procedure, province and figure, so a test can compare the page with the JSON API.

use std::fmt::Write as _;

use super::suppress::Reason;
use super::{procedure_name, province_label, Cell, Dashboard, Month};

/// Escape text for HTML.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

const FIGURES: &[(&str, &str)] = &[
    ("received", "Tiếp nhận"),
    ("approved", "Đã duyệt"),
    ("rejected", "Từ chối"),
    ("pending", "Đang xử lý"),
    ("overdue", "Quá hạn"),
    ("median_days", "Trung vị (ngày)"),
    ("p90_days", "P90 (ngày)"),
    ("supplements", "Yêu cầu bổ sung"),
    ("online", "Nộp trực tuyến"),
    ("counter", "Nộp tại quầy"),
];

fn value(c: &Cell, key: &str) -> String {
    let g = &c.figures;
    let n = |v: Option<u64>| v.map(|v| v.to_string());
    let f = |v: Option<f64>| v.map(|v| format!("{v:.2}"));
    match key {
        "received" => n(g.received),
        "approved" => n(g.approved),
        "rejected" => n(g.rejected),
        "pending" => n(g.pending),
        "overdue" => n(g.overdue),
        "median_days" => f(g.median_days),
        "p90_days" => f(g.p90_days),
        "supplements" => n(g.supplements),
        "online" => n(g.online),
        "counter" => n(g.counter),
        _ => None,
    }
    .unwrap_or_else(|| "—".into())
}

fn table(title: &str, cells: &[&Cell]) -> String {
    let mut h = format!("<h2>{}</h2><table><thead><tr><th>Thủ tục</th><th>Tỉnh/thành phố</th>", esc(title));
    for (_, label) in FIGURES {
        let _ = write!(h, "<th>{}</th>", esc(label));
    }
    h.push_str("<th>Tỷ lệ trực tuyến</th><th>Ghi chú</th></tr></thead><tbody>");
    for c in cells {
        let proc_vi =
            if c.procedure_id.is_empty() { "Tất cả".to_string() } else { procedure_name(&c.procedure_id) };
        let _ = write!(
            h,
            "<tr data-procedure=\"{}\" data-province=\"{}\" data-suppressed=\"{}\" data-suppressed-reason=\"{}\">\
             <td>{}</td><td>{}</td>",
            esc(&c.procedure_id),
            esc(&c.province_code),
            u8::from(c.suppressed),
            c.suppressed_reason.map(Reason::as_str).unwrap_or_default(),
            esc(&proc_vi),
            esc(&province_label(&c.province_code))
        );
        for (key, _) in FIGURES {
            let _ = write!(h, "<td class=\"num\" data-k=\"{key}\">{}</td>", value(c, key));
        }
        let share = match (c.figures.online, c.figures.received) {
            (Some(o), Some(r)) if r > 0 => format!("{:.0}%", o as f64 * 100.0 / r as f64),
            _ => "—".into(),
        };
        let note = c.suppressed_reason.map(Reason::label_vi).unwrap_or_default();
        let _ = write!(h, "<td class=\"num\">{share}</td><td class=\"note\">{}</td></tr>", esc(note));
    }
    h.push_str("</tbody></table>");
    h
}

/// A bar chart of `values` (one per month, `None` = suppressed), with a title and axis labels.
fn bars(title: &str, months: &[Month], values: &[Option<f64>], id: &str) -> String {
    let (w, h, left, bottom) = (720.0_f64, 220.0_f64, 48.0_f64, 28.0_f64);
    let max = values.iter().flatten().copied().fold(0.0_f64, f64::max).max(1.0);
    let n = values.len().max(1) as f64;
    let bw = (w - left - 8.0) / n;
    let mut s = format!(
        "<figure><figcaption>{}</figcaption><svg id=\"{id}\" role=\"img\" aria-label=\"{}\" viewBox=\"0 0 {w} {h}\" \
         width=\"{w}\" height=\"{h}\" xmlns=\"http://www.w3.org/2000/svg\"><title>{}</title>",
        esc(title),
        esc(title),
        esc(title)
    );
    let _ = write!(
        s,
        "<line x1=\"{left}\" y1=\"{}\" x2=\"{w}\" y2=\"{}\" stroke=\"#555\"/><text x=\"4\" y=\"14\" font-size=\"11\">{:.0}</text>",
        h - bottom,
        h - bottom,
        max
    );
    for (i, (m, v)) in months.iter().zip(values).enumerate() {
        let x = left + i as f64 * bw;
        let label = m.month.get(5..).unwrap_or(&m.month);
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\">T{label}</text>",
            x + bw / 2.0,
            h - 10.0
        );
        match v {
            Some(v) => {
                let bh = (h - bottom - 20.0) * v / max;
                let _ = write!(
                    s,
                    "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#b71c1c\"><title>{}: {}</title></rect>\
                     <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"9\" text-anchor=\"middle\">{}</text>",
                    x + 2.0,
                    h - bottom - bh,
                    (bw - 4.0).max(1.0),
                    bh,
                    esc(&m.month),
                    v,
                    x + bw / 2.0,
                    h - bottom - bh - 3.0,
                    if v.fract() == 0.0 { format!("{v:.0}") } else { format!("{v:.1}") }
                );
            }
            None => {
                let why = m.suppressed_reason.map_or("Không có số liệu", Reason::label_vi);
                let _ = write!(
                    s,
                    "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"9\" text-anchor=\"middle\"><title>{}: {}</title>—</text>",
                    x + bw / 2.0,
                    h - bottom - 4.0,
                    esc(&m.month),
                    esc(why)
                );
            }
        }
    }
    s.push_str("</svg></figure>");
    s
}

fn options(selected: Option<&str>, items: &[(String, String)]) -> String {
    let mut s = "<option value=\"\">Tất cả</option>".to_string();
    for (v, label) in items {
        let sel = if selected == Some(v.as_str()) { " selected" } else { "" };
        let _ = write!(s, "<option value=\"{}\"{sel}>{}</option>", esc(v), esc(label));
    }
    s
}

/// The dashboard page (`{NONCE}` is replaced by the caller's CSP nonce).
pub fn render(d: &Dashboard, official: &str) -> String {
    let procs: Vec<(String, String)> = crate::catalogue::catalogue()
        .procedures
        .iter()
        .map(|p| (p.id.clone(), p.name_vi.clone()))
        .collect::<std::collections::BTreeMap<_, _>>()
        .into_iter()
        .collect();
    let provs: Vec<(String, String)> =
        citizen_protocol::admin_units::provinces().iter().map(|p| (p.code.to_string(), p.name.to_string())).collect();
    let received: Vec<Option<f64>> = d.months.iter().map(|m| m.received.map(|v| v as f64)).collect();
    let decided: Vec<Option<f64>> = d.months.iter().map(|m| m.decided.map(|v| v as f64)).collect();
    let median: Vec<Option<f64>> = d.months.iter().map(|m| m.median_days).collect();
    let query = format!(
        "from={}&amp;to={}&amp;procedure={}&amp;province={}",
        esc(&d.from),
        esc(&d.to),
        esc(d.procedure.as_deref().unwrap_or("")),
        esc(d.province.as_deref().unwrap_or(""))
    );
    let mut body = format!(
        "<!doctype html><html lang=\"vi\"><head><meta charset=\"utf-8\"><title>Bảng điều hành dịch vụ công</title>\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><style nonce=\"{{NONCE}}\">{STYLE}</style></head><body>\
         <header><h1>Bảng điều hành dịch vụ công</h1><p>Cán bộ: {}. Kỳ báo cáo: <span id=\"period\">{} → {}</span>. \
         Số liệu tính ngày {}. Ô có dưới {} công dân được ẩn (—); để không ai suy ra được ô bị ẩn bằng cách \
         lấy tổng trừ các ô còn lại, một số ô khác cũng được ẩn bổ sung (cột Ghi chú).</p></header><main>\
         <form method=\"get\" action=\"{}\"><label>Từ ngày <input type=\"date\" name=\"from\" value=\"{}\"></label> \
         <label>Đến ngày <input type=\"date\" name=\"to\" value=\"{}\"></label> \
         <label>Thủ tục <select name=\"procedure\">{}</select></label> \
         <label>Tỉnh/thành phố <select name=\"province\">{}</select></label> <button type=\"submit\">Xem</button> \
         <a id=\"csv\" href=\"{}?{query}\">Tải CSV</a></form>",
        esc(official),
        esc(&d.from),
        esc(&d.to),
        esc(&d.today),
        d.threshold,
        super::http::PATH_PAGE,
        esc(&d.from),
        esc(&d.to),
        options(d.procedure.as_deref(), &procs),
        options(d.province.as_deref(), &provs),
        super::http::PATH_CSV,
    );
    body.push_str(&table("Tổng hợp", &[&d.total]));
    body.push_str(&bars("Hồ sơ tiếp nhận theo tháng", &d.months, &received, "chart-received"));
    body.push_str(&bars("Hồ sơ đã giải quyết theo tháng", &d.months, &decided, "chart-decided"));
    body.push_str(&bars("Thời gian xử lý trung vị theo tháng (ngày)", &d.months, &median, "chart-median"));
    body.push_str(&table("Theo thủ tục", &d.by_procedure.iter().collect::<Vec<_>>()));
    body.push_str(&table("Theo tỉnh/thành phố", &d.by_province.iter().collect::<Vec<_>>()));
    body.push_str(&table("Theo thủ tục và tỉnh/thành phố", &d.cells.iter().collect::<Vec<_>>()));
    body.push_str("</main></body></html>");
    body
}

/// The sign-in page (the token is posted once and kept in an HttpOnly cookie).
pub fn login(message: Option<&str>) -> String {
    format!(
        "<!doctype html><html lang=\"vi\"><head><meta charset=\"utf-8\"><title>Đăng nhập cán bộ</title>\
         <style nonce=\"{{NONCE}}\">{STYLE}</style></head><body><header><h1>Bảng điều hành dịch vụ công</h1></header><main>\
         <p id=\"message\">{}</p><form method=\"post\" action=\"{}\"><label>Mã truy cập cán bộ \
         <input type=\"password\" name=\"token\" id=\"token\" autocomplete=\"off\"></label> \
         <button type=\"submit\" id=\"signin\">Đăng nhập</button></form></main></body></html>",
        esc(message.unwrap_or("Nhập mã truy cập do quản trị viên cấp.")),
        super::http::PATH_LOGIN
    )
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;background:#f4f6f8;color:#1b1f24}\
header{background:#b71c1c;color:#fff;padding:12px 24px}header h1{margin:0;font-size:1.3rem}\
main{padding:16px 24px}table{border-collapse:collapse;background:#fff;margin:8px 0 24px;font-size:.85rem}\
th,td{border:1px solid #ccd;padding:4px 8px}td.num{text-align:right}td.note{color:#555;font-size:.8rem}figure{background:#fff;margin:8px 0;padding:8px;display:inline-block}\
figcaption{font-weight:600}form{margin:8px 0 16px}";
