//! The eForm engine: drafts auto-filled from the population register, locked register fields,
//! validation with field-level errors, and the canonical submission payload. Sans-I/O: no
//! database, no network, no clock (today's date is an argument).
//!
//! Values are strings addressed by path: `from_date`, `guests.0.cccd` (item 0 of group
//! `guests`). Hidden fields (their `visible_if` is false) are neither validated nor submitted.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::admin_units;
use crate::cccd::{self, Date};
use crate::error::{FieldError, Msg};
use crate::protocol::services::{
    AttachmentRef, AttachmentSpec, CitizenProfileDto, Condition, FieldKind, FieldSpec, ProcedureDto, SubmissionPayload,
};

/// An attachment held by a draft (its bytes live sealed in the store).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DraftAttachmentMeta {
    /// Attachment key of the procedure.
    pub key: String,
    /// File name (no directories).
    pub file_name: String,
    /// MIME type.
    pub mime_type: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256, lowercase hex.
    pub sha256: String,
}

/// The content of a draft (sealed at rest as one value).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DraftContent {
    /// Values by path.
    pub values: BTreeMap<String, String>,
    /// Paths filled from the register that cannot be changed.
    pub locked: BTreeSet<String>,
    /// Number of items of each group.
    pub group_items: BTreeMap<String, u32>,
    /// Attachments by key.
    pub attachments: BTreeMap<String, DraftAttachmentMeta>,
    /// The case this draft supplements, if any.
    pub supplements_case: Option<String>,
    /// Attachments an official asked for (required on a supplement draft).
    #[serde(default)]
    pub required_attachments: BTreeSet<String>,
    /// Filed by a guardian for a dependant under this mandate (decision 49); the draft was
    /// prefilled from the dependant's register record.
    #[serde(default)]
    pub on_behalf: Option<citizen_protocol::protocol::delegation::OnBehalf>,
}

/// Why an edit was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditError(pub FieldError);

fn field_err(path: &str, msg: Msg) -> EditError {
    EditError(FieldError::at(path.to_string(), msg))
}

/// A new draft: every field with an `autofill` path gets the register's value; `locked` ones
/// are recorded as locked. Groups start with `min_items` (at least one if required) items.
pub fn new_draft(procedure: &ProcedureDto, profile: &CitizenProfileDto) -> DraftContent {
    let mut d = DraftContent::default();
    fill(&procedure.fields, "", profile, &mut d);
    d
}

fn fill(fields: &[FieldSpec], prefix: &str, profile: &CitizenProfileDto, d: &mut DraftContent) {
    for f in fields {
        let path = format!("{prefix}{}", f.key);
        if f.kind == FieldKind::Group {
            let n = f.min_items.unwrap_or(if f.required { 1 } else { 0 });
            d.group_items.insert(path.clone(), n);
            for i in 0..n {
                fill(&f.fields, &format!("{path}.{i}."), profile, d);
            }
            continue;
        }
        if let Some(v) = f.autofill.as_deref().and_then(|a| profile.attribute(a)) {
            if !v.is_empty() {
                d.values.insert(path.clone(), v);
                if f.locked {
                    d.locked.insert(path);
                }
            }
        }
    }
}

/// Find the spec of a value path (`guests.0.cccd` → the `cccd` field of group `guests`).
pub fn spec_at<'a>(fields: &'a [FieldSpec], path: &str, group_items: &BTreeMap<String, u32>) -> Option<&'a FieldSpec> {
    let mut parts = path.splitn(3, '.');
    let head = parts.next()?;
    let spec = fields.iter().find(|f| f.key == head)?;
    match (parts.next(), parts.next()) {
        (None, _) => Some(spec),
        (Some(idx), Some(rest)) if spec.kind == FieldKind::Group => {
            let i: u32 = idx.parse().ok()?;
            if i >= *group_items.get(head).unwrap_or(&0) || rest.contains('.') {
                return None;
            }
            spec.fields.iter().find(|f| f.key == rest)
        }
        _ => None,
    }
}

/// Set one value. Refuses unknown paths, group containers and locked fields; an empty value
/// clears the field.
pub fn set_value(procedure: &ProcedureDto, d: &mut DraftContent, path: &str, value: &str) -> Result<(), EditError> {
    let spec = spec_at(&procedure.fields, path, &d.group_items).ok_or_else(|| field_err(path, Msg::FieldUnknown))?;
    if spec.kind == FieldKind::Group {
        return Err(field_err(path, Msg::FieldUnknown));
    }
    if d.locked.contains(path) {
        return Err(field_err(path, Msg::FieldLocked));
    }
    let v = value.trim();
    if v.is_empty() {
        d.values.remove(path);
    } else {
        d.values.insert(path.to_string(), v.to_string());
    }
    Ok(())
}

/// Append an item to a group; returns its index.
pub fn add_group_item(procedure: &ProcedureDto, d: &mut DraftContent, group: &str) -> Result<u32, EditError> {
    let spec = procedure
        .fields
        .iter()
        .find(|f| f.key == group && f.kind == FieldKind::Group)
        .ok_or_else(|| field_err(group, Msg::FieldUnknown))?;
    let n = d.group_items.get(group).copied().unwrap_or(0);
    if spec.max_items.is_some_and(|m| n >= m) {
        return Err(field_err(group, Msg::GroupTooMany));
    }
    d.group_items.insert(group.to_string(), n + 1);
    Ok(n)
}

/// Remove item `index` of a group, shifting later items down.
pub fn remove_group_item(
    procedure: &ProcedureDto,
    d: &mut DraftContent,
    group: &str,
    index: u32,
) -> Result<(), EditError> {
    let spec = procedure
        .fields
        .iter()
        .find(|f| f.key == group && f.kind == FieldKind::Group)
        .ok_or_else(|| field_err(group, Msg::FieldUnknown))?;
    let n = d.group_items.get(group).copied().unwrap_or(0);
    if index >= n {
        return Err(field_err(&format!("{group}.{index}"), Msg::FieldUnknown));
    }
    for i in index..n {
        for f in &spec.fields {
            let from = format!("{group}.{}.{}", i + 1, f.key);
            let to = format!("{group}.{i}.{}", f.key);
            match d.values.remove(&from) {
                Some(v) if i + 1 < n => {
                    d.values.insert(to, v);
                }
                _ => {
                    d.values.remove(&to);
                }
            }
        }
    }
    d.group_items.insert(group.to_string(), n - 1);
    Ok(())
}

/// Check an attachment against its spec before it is stored.
pub fn check_attachment(procedure: &ProcedureDto, meta: &DraftAttachmentMeta) -> Result<(), EditError> {
    let spec = procedure
        .attachments
        .iter()
        .find(|a| a.key == meta.key)
        .ok_or_else(|| field_err(&meta.key, Msg::AttachmentUnknown))?;
    attachment_problem(spec, meta).map_or(Ok(()), |m| Err(field_err(&meta.key, m)))
}

fn attachment_problem(spec: &AttachmentSpec, meta: &DraftAttachmentMeta) -> Option<Msg> {
    if meta.size > spec.max_bytes {
        Some(Msg::AttachmentTooLarge)
    } else if !spec.mime_types.iter().any(|m| m.eq_ignore_ascii_case(&meta.mime_type)) {
        Some(Msg::AttachmentType)
    } else {
        None
    }
}

fn visible(cond: &Option<Condition>, prefix: &str, values: &BTreeMap<String, String>) -> bool {
    match cond {
        None => true,
        Some(c) => values.get(&format!("{prefix}{}", c.field)).is_some_and(|v| c.any_of.iter().any(|a| a == v)),
    }
}

/// Validate the whole draft; every problem at once, in schema order.
pub fn validate(procedure: &ProcedureDto, d: &DraftContent, today: Date) -> Vec<FieldError> {
    let mut errors = vec![];
    validate_fields(&procedure.fields, "", d, today, &mut errors);
    for a in &procedure.attachments {
        if !visible(&a.visible_if, "", &d.values) && !d.required_attachments.contains(&a.key) {
            continue;
        }
        match d.attachments.get(&a.key) {
            None if a.required || d.required_attachments.contains(&a.key) => {
                errors.push(FieldError::at(a.key.clone(), Msg::AttachmentRequired))
            }
            None => {}
            Some(meta) => {
                if let Some(m) = attachment_problem(a, meta) {
                    errors.push(FieldError::at(a.key.clone(), m));
                }
            }
        }
    }
    errors
}

fn validate_fields(fields: &[FieldSpec], prefix: &str, d: &DraftContent, today: Date, errors: &mut Vec<FieldError>) {
    for f in fields {
        if !visible(&f.visible_if, prefix, &d.values) {
            continue;
        }
        let path = format!("{prefix}{}", f.key);
        if f.kind == FieldKind::Group {
            let n = d.group_items.get(&path).copied().unwrap_or(0);
            if n < f.min_items.unwrap_or(if f.required { 1 } else { 0 }) {
                errors.push(FieldError::at(path.clone(), Msg::GroupTooFew));
            }
            if f.max_items.is_some_and(|m| n > m) {
                errors.push(FieldError::at(path.clone(), Msg::GroupTooMany));
            }
            for i in 0..n {
                validate_fields(&f.fields, &format!("{path}.{i}."), d, today, errors);
            }
            continue;
        }
        let Some(value) = d.values.get(&path) else {
            if f.required {
                errors.push(FieldError::at(path, Msg::FieldRequired));
            }
            continue;
        };
        if let Some(m) = check_value(f, value, prefix, d, today) {
            errors.push(FieldError::at(path, m));
        }
    }
}

fn check_value(f: &FieldSpec, v: &str, prefix: &str, d: &DraftContent, today: Date) -> Option<Msg> {
    // Saturating: a value longer than u32::MAX characters is over any `max_length`.
    let chars = u32::try_from(v.chars().count()).unwrap_or(u32::MAX);
    if f.min_length.is_some_and(|m| chars < m) {
        return Some(Msg::TooShort);
    }
    if f.max_length.is_some_and(|m| chars > m) {
        return Some(Msg::TooLong);
    }
    match f.kind {
        FieldKind::Text | FieldKind::Multiline | FieldKind::Group => None,
        FieldKind::Date => {
            let Some(date) = Date::parse(v) else { return Some(Msg::DateInvalid) };
            let rule = f.date_rule.clone().unwrap_or_default();
            if rule.not_in_past && date < today {
                return Some(Msg::DateInPast);
            }
            if rule.not_in_future && date > today {
                return Some(Msg::DateInFuture);
            }
            if let Some(start) = rule.not_before_field.as_ref().and_then(|k| d.values.get(&format!("{prefix}{k}"))) {
                if let Some(start) = Date::parse(start) {
                    if date < start {
                        return Some(Msg::DateBeforeStart);
                    }
                    if rule
                        .max_days_after
                        .is_some_and(|max| date.days_since_epoch() - start.days_since_epoch() > i64::from(max))
                    {
                        return Some(Msg::DateRangeTooLong);
                    }
                }
            }
            None
        }
        FieldKind::Phone => cccd::normalize_phone(v).err().map(|_| Msg::PhoneFormat),
        FieldKind::Cccd => cccd::parse_cccd(v)
            .err()
            .map(|e| Msg::all().iter().copied().find(|m| m.code() == e.code).unwrap_or(Msg::CccdFormat)),
        FieldKind::Email => (!is_email(v)).then_some(Msg::EmailFormat),
        FieldKind::Select => (!f.options.iter().any(|o| o.value == v)).then_some(Msg::SelectInvalid),
        FieldKind::Province => admin_units::province(v).is_none().then_some(Msg::ProvinceUnknown),
        FieldKind::Commune => {
            if admin_units::commune(v).is_none() {
                return Some(Msg::CommuneUnknown);
            }
            let province = f.province_field.as_ref().and_then(|k| d.values.get(&format!("{prefix}{k}")));
            match province {
                Some(p) if !admin_units::commune_in_province(v, p) => Some(Msg::CommuneWrongProvince),
                _ => None,
            }
        }
        FieldKind::Number => {
            (v.is_empty() || v.len() > 18 || !v.bytes().all(|c| c.is_ascii_digit())).then_some(Msg::NumberInvalid)
        }
        FieldKind::Boolean => (!matches!(v, "true" | "false")).then_some(Msg::BooleanInvalid),
    }
}

fn is_email(v: &str) -> bool {
    let Some((local, domain)) = v.split_once('@') else { return false };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !v.chars().any(|c| c.is_whitespace() || c == ',')
        && !domain.contains('@')
        && v.len() <= 254
}

/// The visible values only (what is submitted).
pub fn visible_values(procedure: &ProcedureDto, d: &DraftContent) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    collect(&procedure.fields, "", d, &mut out);
    out
}

fn collect(fields: &[FieldSpec], prefix: &str, d: &DraftContent, out: &mut BTreeMap<String, String>) {
    for f in fields {
        if !visible(&f.visible_if, prefix, &d.values) {
            continue;
        }
        let path = format!("{prefix}{}", f.key);
        if f.kind == FieldKind::Group {
            for i in 0..d.group_items.get(&path).copied().unwrap_or(0) {
                collect(&f.fields, &format!("{path}.{i}."), d, out);
            }
        } else if let Some(v) = d.values.get(&path) {
            out.insert(path, v.clone());
        }
    }
}

/// The canonical payload of a validated draft.
pub fn payload(procedure: &ProcedureDto, d: &DraftContent, submission_id: &str) -> SubmissionPayload {
    let attachments = procedure
        .attachments
        .iter()
        .filter(|a| visible(&a.visible_if, "", &d.values))
        .filter_map(|a| d.attachments.get(&a.key))
        .map(|m| AttachmentRef {
            key: m.key.clone(),
            file_name: m.file_name.clone(),
            mime_type: m.mime_type.clone(),
            size: m.size,
            sha256: m.sha256.clone(),
        })
        .collect();
    SubmissionPayload {
        submission_id: submission_id.to_string(),
        procedure_id: procedure.id.clone(),
        procedure_version: procedure.version,
        values: visible_values(procedure, d),
        attachments,
        supplements_case: d.supplements_case.clone(),
        on_behalf: d.on_behalf.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::services::{AddressDto, DateRule, OptionSpec};

    fn field(key: &str, kind: FieldKind) -> FieldSpec {
        FieldSpec {
            key: key.into(),
            label_vi: key.into(),
            label_en: key.into(),
            kind,
            required: false,
            autofill: None,
            locked: false,
            min_length: None,
            max_length: None,
            options: vec![],
            visible_if: None,
            date_rule: None,
            province_field: None,
            fields: vec![],
            min_items: None,
            max_items: None,
        }
    }

    fn procedure() -> ProcedureDto {
        let opt = |v: &str| OptionSpec { value: v.into(), label_vi: v.into(), label_en: v.into() };
        ProcedureDto {
            id: "test".into(),
            version: 1,
            code: "T".into(),
            name_vi: "t".into(),
            name_en: "t".into(),
            agency_vi: "a".into(),
            agency_en: "a".into(),
            fee_vnd: 0,
            processing_days: 1,
            fields: vec![
                FieldSpec {
                    autofill: Some("full_name".into()),
                    locked: true,
                    required: true,
                    ..field("name", FieldKind::Text)
                },
                FieldSpec { autofill: Some("phone".into()), required: true, ..field("phone", FieldKind::Phone) },
                FieldSpec { min_length: Some(3), max_length: Some(10), ..field("note", FieldKind::Text) },
                field("owner_cccd", FieldKind::Cccd),
                field("email", FieldKind::Email),
                FieldSpec {
                    required: true,
                    date_rule: Some(DateRule { not_in_past: true, ..Default::default() }),
                    ..field("from", FieldKind::Date)
                },
                FieldSpec {
                    required: true,
                    date_rule: Some(DateRule {
                        not_before_field: Some("from".into()),
                        max_days_after: Some(30),
                        ..Default::default()
                    }),
                    ..field("to", FieldKind::Date)
                },
                FieldSpec {
                    date_rule: Some(DateRule { not_in_future: true, ..Default::default() }),
                    ..field("born", FieldKind::Date)
                },
                FieldSpec {
                    required: true,
                    options: vec![opt("a"), opt("other")],
                    ..field("reason", FieldKind::Select)
                },
                FieldSpec {
                    required: true,
                    visible_if: Some(Condition { field: "reason".into(), any_of: vec!["other".into()] }),
                    ..field("reason_other", FieldKind::Text)
                },
                field("province", FieldKind::Province),
                FieldSpec { province_field: Some("province".into()), ..field("commune", FieldKind::Commune) },
                field("count", FieldKind::Number),
                field("agree", FieldKind::Boolean),
                FieldSpec {
                    required: true,
                    min_items: Some(1),
                    max_items: Some(2),
                    fields: vec![
                        FieldSpec { required: true, ..field("name", FieldKind::Text) },
                        field("cccd", FieldKind::Cccd),
                    ],
                    ..field("guests", FieldKind::Group)
                },
            ],
            attachments: vec![AttachmentSpec {
                key: "proof".into(),
                label_vi: "p".into(),
                label_en: "p".into(),
                required: true,
                max_bytes: 100,
                mime_types: vec!["application/pdf".into()],
                visible_if: None,
            }],
        }
    }

    fn profile() -> CitizenProfileDto {
        CitizenProfileDto {
            full_name: "Nguyễn Văn Mẫu".into(),
            date_of_birth: "1990-01-15".into(),
            sex: "male".into(),
            cccd: "001090000001".into(),
            nationality: "Việt Nam".into(),
            ethnicity: "Kinh".into(),
            religion: "Không".into(),
            place_of_origin: "x".into(),
            permanent_residence: AddressDto::default(),
            current_residence: AddressDto::default(),
            household_head_name: "h".into(),
            relationship_to_head: "Chủ hộ".into(),
            phone: "+84900000001".into(),
            email: None,
            updated_at: 0,
            occupation: None,
            education: None,
            blood_group: None,
            contact_address: None,
        }
    }

    const TODAY: Date = Date { year: 2026, month: 11, day: 29 };

    fn valid_draft(p: &ProcedureDto) -> DraftContent {
        let mut d = new_draft(p, &profile());
        for (k, v) in [("from", "2026-12-01"), ("to", "2026-12-20"), ("reason", "a"), ("guests.0.name", "Khách Một")]
        {
            set_value(p, &mut d, k, v).unwrap();
        }
        d.attachments.insert(
            "proof".into(),
            DraftAttachmentMeta {
                key: "proof".into(),
                file_name: "a.pdf".into(),
                mime_type: "application/pdf".into(),
                size: 10,
                sha256: "00".into(),
            },
        );
        d
    }

    #[test]
    fn autofill_takes_register_values_and_locks_them() {
        let p = procedure();
        let mut d = new_draft(&p, &profile());
        assert_eq!(d.values["name"], "Nguyễn Văn Mẫu");
        assert_eq!(d.values["phone"], "+84900000001");
        assert!(d.locked.contains("name"));
        assert!(!d.locked.contains("phone"), "auto-filled but editable");
        assert_eq!(set_value(&p, &mut d, "name", "Kẻ Giả Mạo").unwrap_err().0.code, "field.locked");
        assert_eq!(d.values["name"], "Nguyễn Văn Mẫu");
        set_value(&p, &mut d, "phone", "0912345678").unwrap();
        assert_eq!(set_value(&p, &mut d, "nope", "x").unwrap_err().0.code, "field.unknown");
        assert_eq!(set_value(&p, &mut d, "guests", "x").unwrap_err().0.code, "field.unknown");
        assert_eq!(set_value(&p, &mut d, "guests.5.name", "x").unwrap_err().0.code, "field.unknown");
        assert_eq!(d.group_items["guests"], 1);
    }

    #[test]
    fn a_complete_draft_validates() {
        let p = procedure();
        assert_eq!(validate(&p, &valid_draft(&p), TODAY), vec![]);
    }

    #[test]
    fn every_rule_has_its_error_code() {
        let p = procedure();
        let table: &[(&str, &str, Option<&str>)] = &[
            ("phone", "0212345678", Some("phone.format")),
            ("phone", "+84 912 345 678", None),
            ("note", "ab", Some("text.too_short")),
            ("note", "abcdefghijk", Some("text.too_long")),
            ("note", "abcdefghij", None),
            ("owner_cccd", "00109000000", Some("cccd.format")),
            ("owner_cccd", "003090000001", Some("cccd.province")),
            ("owner_cccd", "001090000001", None),
            ("email", "a@b", Some("email.format")),
            ("email", "a b@c.vn", Some("email.format")),
            ("email", "mau@example.vn", None),
            ("from", "2026-13-01", Some("date.invalid")),
            ("from", "2026-11-28", Some("date.past")),
            ("from", "2026-11-29", None),
            ("to", "2026-11-30", Some("date.before_start")),
            ("to", "2027-01-01", Some("date.range_too_long")),
            ("to", "2026-12-31", None),
            ("born", "2026-11-30", Some("date.future")),
            ("born", "1990-01-15", None),
            ("reason", "b", Some("select.invalid")),
            ("province", "02", Some("province.unknown")),
            ("province", "01", None),
            ("commune", "99999", Some("commune.unknown")),
            ("commune", "26740", Some("commune.wrong_province")),
            ("commune", "00004", None),
            ("count", "-1", Some("number.invalid")),
            ("count", "12", None),
            ("agree", "yes", Some("boolean.invalid")),
            ("agree", "true", None),
            ("guests.0.cccd", "12", Some("cccd.format")),
        ];
        for (path, value, want) in table {
            let mut d = valid_draft(&p);
            set_value(&p, &mut d, "province", "01").unwrap();
            set_value(&p, &mut d, path, value).unwrap();
            let got: Vec<(String, String)> = validate(&p, &d, TODAY).into_iter().map(|e| (e.field, e.code)).collect();
            let want: Vec<(String, String)> = want.iter().map(|c| (path.to_string(), c.to_string())).collect();
            assert_eq!(got, want, "{path} = {value:?}");
        }
    }

    #[test]
    fn required_conditional_group_and_attachment_rules() {
        let p = procedure();
        let mut d = valid_draft(&p);
        set_value(&p, &mut d, "from", "").unwrap();
        set_value(&p, &mut d, "reason", "other").unwrap();
        set_value(&p, &mut d, "guests.0.name", "").unwrap();
        d.attachments.clear();
        let codes: Vec<(String, String)> = validate(&p, &d, TODAY).into_iter().map(|e| (e.field, e.code)).collect();
        assert_eq!(
            codes,
            [
                ("from", "field.required"),
                ("reason_other", "field.required"),
                ("guests.0.name", "field.required"),
                ("proof", "attachment.required"),
            ]
            .map(|(a, b)| (a.to_string(), b.to_string()))
        );
        // Hidden fields are neither validated nor submitted.
        set_value(&p, &mut d, "reason_other", "x").unwrap();
        set_value(&p, &mut d, "reason", "a").unwrap();
        assert!(!payload(&p, &d, "s").values.contains_key("reason_other"));
        // Groups: bounds, and removal shifts items down.
        assert_eq!(add_group_item(&p, &mut d, "guests").unwrap(), 1);
        set_value(&p, &mut d, "guests.1.name", "Khách Hai").unwrap();
        assert_eq!(add_group_item(&p, &mut d, "guests").unwrap_err().0.code, "group.too_many");
        remove_group_item(&p, &mut d, "guests", 0).unwrap();
        assert_eq!(d.values.get("guests.0.name").map(String::as_str), Some("Khách Hai"));
        assert!(!d.values.contains_key("guests.1.name"));
        remove_group_item(&p, &mut d, "guests", 0).unwrap();
        assert!(validate(&p, &d, TODAY).iter().any(|e| e.field == "guests" && e.code == "group.too_few"));
        // Attachment limits.
        let big = DraftAttachmentMeta {
            key: "proof".into(),
            file_name: "a".into(),
            mime_type: "application/pdf".into(),
            size: 101,
            sha256: "0".into(),
        };
        assert_eq!(check_attachment(&p, &big).unwrap_err().0.code, "attachment.too_large");
        let exe = DraftAttachmentMeta { mime_type: "application/x-msdownload".into(), size: 1, ..big.clone() };
        assert_eq!(check_attachment(&p, &exe).unwrap_err().0.code, "attachment.type");
        let unknown = DraftAttachmentMeta { key: "nope".into(), ..big };
        assert_eq!(check_attachment(&p, &unknown).unwrap_err().0.code, "attachment.unknown");
    }

    #[test]
    fn payload_binds_values_attachments_and_version() {
        let p = procedure();
        let d = valid_draft(&p);
        let a = payload(&p, &d, "sub-1");
        assert_eq!(a.procedure_version, 1);
        assert_eq!(a.values["name"], "Nguyễn Văn Mẫu");
        assert_eq!(a.attachments.len(), 1);
        let mut d2 = d.clone();
        d2.attachments.get_mut("proof").unwrap().sha256 = "11".into();
        assert_ne!(a.digest_hex(), payload(&p, &d2, "sub-1").digest_hex());
    }
}
