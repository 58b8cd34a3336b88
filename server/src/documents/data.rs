//! The register's documents, fictitious like the rest of it: what the population register lacks
//! (driving licence, health insurance, vehicle) is derived deterministically from the seed
//! citizen's CCCD number, so every fictitious citizen holds all four documents and tests can
//! predict them. The portrait is a 16×16 placeholder image (no person), the same for everyone.

use std::collections::BTreeMap;

use ciborium::Value;
use citizen_protocol::protocol::documents::DocumentKind;

/// The placeholder portrait (a 16×16 JPEG of a logo from CPython's test data: no person).
pub const SAMPLE_PORTRAIT: &[u8] = include_bytes!("portrait-sample.jpg");

/// The citizen's register record the documents are built from.
pub struct CitizenRecord {
    /// 12-digit CCCD.
    pub cccd: String,
    /// Full name.
    pub full_name: String,
    /// `YYYY-MM-DD`.
    pub date_of_birth: String,
    /// `male` / `female`.
    pub sex: String,
    /// Nationality as the register writes it.
    pub nationality: String,
    /// Permanent address.
    pub permanent_address: String,
    /// Identity level of the account (1, or 2 after a chip read).
    pub level: u8,
}

const HOSPITALS: &[&str] = &[
    "Bệnh viện Mẫu Trung ương (giả định)",
    "Bệnh viện Đa khoa Thử Nghiệm (giả định)",
    "Trạm Y tế Phường Mẫu (giả định)",
    "Bệnh viện Quận Ví Dụ (giả định)",
];
const VEHICLES: &[(&str, &str, &str)] =
    &[("Honda", "Vision (mẫu)", "Đỏ"), ("Yamaha", "Janus (mẫu)", "Trắng"), ("VinFast", "Evo (mẫu)", "Xanh")];

fn date(s: &str) -> Value {
    // ISO 18013-5 full-date: tag 1004 around the `YYYY-MM-DD` text.
    Value::Tag(1004, Box::new(Value::Text(s.to_string())))
}

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

/// The last `n` digits of the CCCD number.
fn tail(cccd: &str, n: usize) -> &str {
    cccd.get(cccd.len().saturating_sub(n)..).unwrap_or_default()
}

/// A small number picked from the CCCD, to vary the derived data between citizens.
fn pick(cccd: &str, len: usize) -> usize {
    tail(cccd, 3).parse::<usize>().unwrap_or(0) % len.max(1)
}

/// The elements of one document (its single namespace) and its expiry (`YYYY-MM-DD`).
pub fn elements(kind: DocumentKind, c: &CitizenRecord) -> BTreeMap<String, Value> {
    let sex = if c.sex == "female" { "Nữ" } else { "Nam" };
    let (family, given) = c.full_name.split_once(' ').unwrap_or((c.full_name.as_str(), ""));
    let mut m: BTreeMap<String, Value> = BTreeMap::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_string(), v);
    };
    match kind {
        DocumentKind::Cccd => {
            put("document_number", text(&c.cccd));
            put("full_name", text(&c.full_name));
            put("birth_date", date(&c.date_of_birth));
            put("sex", text(sex));
            put("nationality", text(&c.nationality));
            put("place_of_residence", text(&c.permanent_address));
            put("issue_date", date("2021-07-01"));
            put("expiry_date", date("2036-07-01"));
            put("issuing_authority", text("Cục Cảnh sát QLHC về TTXH"));
            put("identity_level", Value::Integer(c.level.into()));
        }
        DocumentKind::DrivingLicence => {
            put("family_name", text(family));
            put("given_name", text(given));
            put("birth_date", date(&c.date_of_birth));
            put("issue_date", date("2022-03-15"));
            put("expiry_date", date("2032-03-15"));
            put("issuing_country", text("VN"));
            put("issuing_authority", text("Sở Giao thông vận tải (giả định)"));
            put("document_number", text(&format!("79{}", tail(&c.cccd, 10))));
            put("portrait", Value::Bytes(SAMPLE_PORTRAIT.to_vec()));
            put("un_distinguishing_sign", text("VN"));
            let privilege = |cat: &str, expiry: Option<&str>| {
                let mut p = vec![(text("vehicle_category_code"), text(cat)), (text("issue_date"), date("2022-03-15"))];
                if let Some(e) = expiry {
                    p.push((text("expiry_date"), date(e)));
                }
                Value::Map(p)
            };
            put("driving_privileges", Value::Array(vec![privilege("A1", None), privilege("B", Some("2032-03-15"))]));
        }
        DocumentKind::HealthInsurance => {
            put("insurance_number", text(&format!("DN40{}{}", c.cccd.get(..1).unwrap_or("0"), tail(&c.cccd, 10))));
            put("full_name", text(&c.full_name));
            put("birth_date", date(&c.date_of_birth));
            put("sex", text(sex));
            put("registered_hospital", text(HOSPITALS[pick(&c.cccd, HOSPITALS.len())]));
            put("valid_from", date("2026-01-01"));
            put("valid_until", date("2026-12-31"));
        }
        DocumentKind::VehicleRegistration => {
            let (make, model, color) = VEHICLES[pick(&c.cccd, VEHICLES.len())];
            let n = tail(&c.cccd, 5);
            put(
                "plate_number",
                text(&format!(
                    "{}A-{}.{}",
                    c.cccd.get(1..3).unwrap_or("00"),
                    n.get(..3).unwrap_or("000"),
                    n.get(3..).unwrap_or("00")
                )),
            );
            put("chassis_number", text(&format!("RLHDEMO{}", tail(&c.cccd, 10))));
            put("engine_number", text(&format!("JF{}", tail(&c.cccd, 8))));
            put("make", text(make));
            put("model", text(model));
            put("color", text(color));
            put("owner_name", text(&c.full_name));
            put("registration_date", date("2023-05-20"));
        }
    }
    m
}

/// CBOR → JSON for the SD-JWT VC form: dates as their text, bytes as base64url.
pub fn to_json(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Text(s) => J::from(s.as_str()),
        Value::Integer(i) => i64::try_from(*i).map(J::from).unwrap_or(J::Null),
        Value::Bool(b) => J::from(*b),
        Value::Bytes(b) => J::from(citizen_protocol::crypto::b64(b)),
        Value::Tag(_, inner) => to_json(inner),
        Value::Array(items) => J::Array(items.iter().map(to_json).collect()),
        Value::Map(entries) => {
            J::Object(entries.iter().filter_map(|(k, v)| k.as_text().map(|k| (k.to_string(), to_json(v)))).collect())
        }
        _ => J::Null,
    }
}
