//! A synthetic year of public-service cases (issue 16, item 4; `citizen-server seed-cases`), so
//! that the officials' dashboard has something to show in the demo.
//!
//! Nothing is written around the server's own logic: fictitious citizens are added to the
//! register (clearly synthetic names, "Công Dân Tổng Hợp …"), then each one **enrolls** a
//! software device key (enrollment start → OTP → complete with a signed proof), and every case
//! is a **signed submission** (purpose `submit`, the device's counter, nonce = submission id,
//! subject = payload digest) through the same unit of work as `POST /v1/submissions`
//! ([`crate::handlers::services::submit`], signature pre-checked by
//! [`crate::verify::PreVerified`]); officials' decisions go through
//! [`crate::handlers::services::transition`], supplements through signed supplement submissions.
//! Only HTTP and TLS are skipped (the units are called in process). Time is the server's clock,
//! moved forward event by event, so every timestamp is what the server itself recorded.
//!
//! The shape of the year: arrivals on working hours of weekdays (Saturdays a quarter, Sundays
//! almost none), fewer around Tết, more in summer; the procedures mixed (stay notifications
//! most); processing times log-normal around 60 % of each procedure's legal time, so about one
//! case in ten is late; 8 % rejected, supplements requested on 10 % of the cases that have
//! attachments; 30 % filed at a counter. Cases whose decision would fall after the end of the
//! simulation stay pending. The forms are filled from the register (locked fields) and by
//! field kind, and checked with the server's own validator before they are signed.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::sql::params;
use citizen_protocol::cccd::Date;
use citizen_protocol::clock::{Clock, ManualClock};
use citizen_protocol::protocol::services::{
    AttachmentRef, CaseStatusDto, CitizenProfileDto, FieldKind, FieldSpec, ProcedureDto, SubmissionPayload,
    SubmissionRequest, TransitionRequest,
};
use citizen_protocol::protocol::{
    sha256_hex, DeviceRegistration, EnrollCompleteRequest, EnrollStartRequest, Purpose, SignedStatement, Statement,
};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};

use crate::api::{blocking, AppState};
use crate::dashboard::{vn_midnight, Channel};
use crate::handlers::services;
use crate::{MemoryOtpOutbox, RunningServer};

/// What to generate.
#[derive(Clone, Debug)]
pub struct SeedOptions {
    /// The calendar year.
    pub year: i32,
    /// Cases to submit.
    pub count: usize,
    /// Fictitious citizens (spread over the 34 provinces).
    pub citizens: usize,
    /// Random seed (the same seed gives the same year).
    pub seed: u64,
    /// End of the simulation (Unix seconds); decisions later than this stay pending. Default:
    /// the end of the year, or now when the year is the current one.
    pub until: Option<i64>,
}

/// What was generated.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SeedReport {
    /// Citizens enrolled.
    pub citizens: usize,
    /// Cases opened.
    pub cases: usize,
    /// Cases filed at a counter.
    pub counter: usize,
    /// Decisions (approved or rejected).
    pub decided: usize,
    /// Supplements requested (and supplied).
    pub supplements: usize,
    /// Submissions the server refused (should be 0).
    pub refused: usize,
}

/// SplitMix64: small, seedable, good enough for synthetic data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    #[allow(clippy::cast_precision_loss)]
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    #[allow(clippy::cast_possible_truncation)]
    fn below(&mut self, n: usize) -> usize {
        (self.next() % (n.max(1) as u64)) as usize
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.unit().max(1e-12), self.unit());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

/// A synthetic citizen with an enrolled software device.
struct Person {
    key: SigningKey,
    device_id: String,
    submit_counter: u64,
    profile: CitizenProfileDto,
}

fn b64(b: &[u8]) -> String {
    citizen_protocol::crypto::b64(b)
}

fn sign(key: &SigningKey, st: Statement) -> SignedStatement {
    let sig: Signature = key.sign(&st.canonical_bytes());
    SignedStatement { statement: st, signature: b64(&citizen_protocol::crypto::low_s(sig).to_bytes()) }
}

fn fmt(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)
}

fn add_days(d: Date, n: i64) -> Date {
    Date::from_unix_vn(vn_midnight(d) + n * 86_400 + 12 * 3600)
}

/// Register synthetic citizens (idempotent by CCCD) and return their (cccd, dob, phone).
fn register_citizens(conn: &crate::sql::Connection, n: usize, rng: &mut Rng) -> crate::sql::Result<Vec<[String; 3]>> {
    // Birth-province codes of the CCCD (the old 63-province codes): Hà Nội, TP HCM, Đà Nẵng,
    // Hải Phòng, Cần Thơ, Nam Định.
    const BIRTH: &[&str] = &["001", "079", "048", "031", "092", "036"];
    const FAMILY: &[&str] = &["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi"];
    let provinces = citizen_protocol::admin_units::provinces();
    let mut out = vec![];
    for i in 0..n {
        let p = &provinces[i % provinces.len()];
        let communes = citizen_protocol::admin_units::communes_of(p.code);
        let commune = &communes[rng.below(communes.len())];
        let year = 1950 + i32::try_from(rng.below(55)).unwrap_or(0);
        let female = rng.below(2) == 1;
        let g = if year >= 2000 { 2 } else { 0 } + u8::from(female);
        let cccd = format!("{}{}{:02}{:06}", BIRTH[i % BIRTH.len()], g, year % 100, 900_000 + i);
        let dob = format!("{year:04}-{:02}-{:02}", 1 + rng.below(12), 1 + rng.below(28));
        let phone = format!("+8498{:07}", 1_000_000 + i);
        let address = serde_json::json!({
            "detail": format!("Số {} Đường Tổng Hợp", 1 + i),
            "commune_code": commune.code, "commune_name": commune.name,
            "province_code": p.code, "province_name": p.name,
        })
        .to_string();
        conn.execute(
            "INSERT INTO citizens (cccd, full_name, date_of_birth, sex, phone, nationality, ethnicity, permanent_address,
                                   place_of_origin, permanent_residence, current_residence, household_head_name,
                                   relationship_to_head, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, 'Việt Nam', 'Kinh', ?6, ?7, ?8, ?8, ?2, 'Chủ hộ', 1)
             ON CONFLICT (cccd) DO NOTHING",
            params![
                cccd,
                format!("{} Công Dân Tổng Hợp {:05}", FAMILY[i % FAMILY.len()], i + 1),
                dob,
                if female { "female" } else { "male" },
                phone,
                format!("Số {} Đường Tổng Hợp, {}, {}", 1 + i, commune.name, p.name),
                format!("{}, {}", commune.name, p.name),
                address,
            ],
        )?;
        out.push([cccd, dob, phone]);
    }
    Ok(out)
}

/// Fill a procedure's form for `who` on `today` (locked fields from the register, the others by
/// kind); `None` when the server's validator does not accept the result.
fn fill_form(
    proc_: &ProcedureDto,
    who: &CitizenProfileDto,
    today: Date,
    rng: &mut Rng,
) -> Option<BTreeMap<String, String>> {
    fn fill(
        fields: &[FieldSpec],
        prefix: &str,
        values: &mut BTreeMap<String, String>,
        who: &CitizenProfileDto,
        today: Date,
        rng: &mut Rng,
    ) {
        for f in fields {
            let key = format!("{prefix}{}", f.key);
            if let Some(c) = &f.visible_if {
                if !values.get(&format!("{prefix}{}", c.field)).is_some_and(|v| c.any_of.contains(v)) {
                    continue;
                }
            }
            if f.kind == FieldKind::Group {
                let n = f.min_items.unwrap_or(u32::from(f.required)).max(u32::from(f.required));
                for i in 0..n {
                    fill(&f.fields, &format!("{key}.{i}."), values, who, today, rng);
                }
                continue;
            }
            if let Some(a) = &f.autofill {
                if let Some(v) = who.attribute(a).filter(|v| !v.is_empty()) {
                    values.insert(key, v);
                    continue;
                }
            }
            if !f.required {
                continue;
            }
            let text = |min: Option<u32>, max: Option<u32>| {
                let mut t = "Dữ liệu tổng hợp".to_string();
                while min.is_some_and(|m| u32::try_from(t.chars().count()).unwrap_or(0) < m) {
                    t.push_str(" thử nghiệm");
                }
                match max {
                    Some(m) => t.chars().take(m as usize).collect(),
                    None => t,
                }
            };
            let v = match f.kind {
                FieldKind::Text | FieldKind::Multiline => text(f.min_length, f.max_length),
                FieldKind::Date => {
                    let r = f.date_rule.clone().unwrap_or_default();
                    let base = r.not_before_field.as_ref().and_then(|o| values.get(&format!("{prefix}{o}")));
                    match base.and_then(|b| Date::parse(b)) {
                        Some(b) => {
                            let span = i64::from(r.max_days_after.unwrap_or(30).clamp(1, 30));
                            fmt(add_days(
                                b,
                                1 + i64::try_from(rng.below(usize::try_from(span).unwrap_or(1))).unwrap_or(0),
                            ))
                        }
                        None if r.not_in_future => fmt(add_days(today, -(365 * 20))),
                        None if r.not_in_past => fmt(add_days(today, 1)),
                        None => fmt(today),
                    }
                }
                FieldKind::Phone => who.phone.clone(),
                FieldKind::Cccd => who.cccd.clone(),
                FieldKind::Email => "tong.hop@example.vn".into(),
                FieldKind::Select => {
                    f.options.get(rng.below(f.options.len())).map(|o| o.value.clone()).unwrap_or_default()
                }
                FieldKind::Province => who.current_residence.province_code.clone(),
                FieldKind::Commune => {
                    let p = f
                        .province_field
                        .as_ref()
                        .and_then(|pf| values.get(&format!("{prefix}{pf}")))
                        .cloned()
                        .unwrap_or_else(|| who.current_residence.province_code.clone());
                    let c = citizen_protocol::admin_units::communes_of(&p);
                    c.get(rng.below(c.len())).map(|c| c.code.to_string()).unwrap_or_default()
                }
                FieldKind::Number => "1".into(),
                FieldKind::Boolean => "false".into(),
                FieldKind::Group => continue,
            };
            values.insert(key, v);
        }
    }
    let mut values = BTreeMap::new();
    fill(&proc_.fields, "", &mut values, who, today, rng);
    services::validate_form(proc_, &values, who, today).is_empty().then_some(values)
}

/// Attachments a form needs (required and visible), as small synthetic files.
fn attachments(
    proc_: &ProcedureDto,
    values: &BTreeMap<String, String>,
    keys: Option<&[String]>,
) -> Vec<(AttachmentRef, String)> {
    proc_
        .attachments
        .iter()
        .filter(|a| match keys {
            Some(k) => k.contains(&a.key),
            None => {
                a.required
                    && a.visible_if.as_ref().is_none_or(|c| values.get(&c.field).is_some_and(|v| c.any_of.contains(v)))
            }
        })
        .map(|a| {
            let data = format!("%PDF-1.4\n% tệp tổng hợp {}\n", a.key).into_bytes();
            let mime = a.mime_types.first().cloned().unwrap_or_else(|| "application/pdf".into());
            let r = AttachmentRef {
                key: a.key.clone(),
                file_name: format!("{}.pdf", a.key),
                mime_type: mime,
                size: data.len() as u64,
                sha256: sha256_hex(&data),
            };
            (r, b64(&data))
        })
        .collect()
}

/// One thing to do at a time.
enum Step {
    Submit { case: usize, person: usize, procedure: usize, channel: Channel },
    Move { case: usize, to: CaseStatusDto },
    Supply { case: usize },
}

/// Relative arrival weight of a day.
fn day_weight(d: Date, weekday: i64) -> f64 {
    let week = match weekday {
        5 => 0.25, // Saturday
        6 => 0.05, // Sunday
        _ => 1.0,
    };
    let season = match (d.month, d.day) {
        (2, 10..=22) => 0.2, // Tết Bính Ngọ (17 Feb 2026) and the week around it
        (1, _) | (2, _) => 1.25,
        (6..=8, _) => 1.15,
        _ => 1.0,
    };
    week * season
}

/// Generate the year on a running server whose clock is `clock` and whose OTPs go to `outbox`.
pub async fn seed(
    server: &RunningServer,
    clock: &ManualClock,
    outbox: &MemoryOtpOutbox,
    opts: &SeedOptions,
) -> Result<SeedReport, String> {
    let state: Arc<AppState> = server.state.clone();
    let err = |e: crate::api::ApiError| format!("{}: {}", e.code(), e.body.message);
    let mut rng = Rng(opts.seed);
    let start = vn_midnight(Date { year: opts.year, month: 1, day: 1 });
    let year_end = vn_midnight(Date { year: opts.year + 1, month: 1, day: 1 });
    let end = opts.until.unwrap_or_else(|| year_end.min(citizen_protocol::clock::SystemClock.now())).min(year_end);
    if end <= start + 86_400 {
        return Err("the period to simulate is empty".into());
    }
    // Time starts just before the year (enrollments), and only moves forward.
    clock.advance(start - 3 * 86_400 - clock.now());

    let n = opts.citizens.max(1);
    let mut report = SeedReport::default();
    let ids = blocking(&state, {
        let mut r = Rng(opts.seed ^ 0xC17);
        move |_, c| register_citizens(c, n, &mut r).map_err(crate::api::ApiError::from)
    })
    .await
    .map_err(err)?;
    let mut people = vec![];
    for [cccd, dob, phone] in ids {
        let cccd_for_start = cccd;
        let key = SigningKey::from_slice(&citizen_protocol::crypto::random_array::<32>()).map_err(|e| e.to_string())?;
        let device_id = uuid::Uuid::new_v4().to_string();
        let start_req = EnrollStartRequest { cccd: cccd_for_start, date_of_birth: dob, phone };
        let started =
            blocking(&state, move |s, c| crate::handlers::enrollment::start(s, c, &start_req)).await.map_err(err)?;
        let otp = outbox.last_otp(&started.enrollment_id).ok_or("no OTP sent")?;
        let st = Statement {
            purpose: Purpose::Enroll,
            audience: state.audience.clone(),
            nonce: started.enrollment_id.clone(),
            device_id: device_id.clone(),
            counter: 1,
            issued_at: clock.now(),
            subject: String::new(),
        };
        let complete = EnrollCompleteRequest {
            enrollment_id: started.enrollment_id,
            otp,
            device: DeviceRegistration {
                device_id: device_id.clone(),
                public_key: b64(key.verifying_key().to_encoded_point(false).as_bytes()),
                hardware_backed: false,
                attestation_chain: vec![],
                platform: "desktop".into(),
                label: "Thiết bị tổng hợp".into(),
            },
            proof: sign(&key, st),
            transfer_secret: None,
        };
        let done =
            blocking(&state, move |s, c| crate::handlers::enrollment::complete(s, c, &complete)).await.map_err(err)?;
        let account = done.account_id.clone();
        let profile = blocking(&state, move |_, c| Ok(crate::register::profile_of_account(c, &account)?))
            .await
            .map_err(err)?
            .ok_or("enrolled citizen without a record")?;
        people.push(Person { key, device_id, submit_counter: 0, profile });
    }
    report.citizens = people.len();

    // The schedule: arrivals by weighted day and working hour, then each case's path.
    // Corrections are left out: a synthetic one would change a fictitious record, and only a
    // named official with the `register` role decides them (decision 50).
    let procs: Vec<&'static ProcedureDto> =
        crate::catalogue::catalogue().procedures.iter().filter(|p| !crate::corrections::is_correction(&p.id)).collect();
    let mix: Vec<f64> = procs
        .iter()
        .map(|p| match p.id.as_str() {
            "residence-notification" => 0.40,
            "temporary-residence" => 0.25,
            "temporary-absence" => 0.15,
            _ => 0.20,
        })
        .collect();
    let days: Vec<(i64, f64)> = (0..)
        .map(|i| start + i * 86_400)
        .take_while(|t| *t < end)
        .map(|t| {
            let d = Date::from_unix_vn(t + 12 * 3600);
            // 1970-01-01 was a Thursday (weekday 3 with Monday = 0).
            let weekday = ((t + 12 * 3600 + 7 * 3600).div_euclid(86_400) + 3).rem_euclid(7);
            (t, day_weight(d, weekday))
        })
        .collect();
    let total_w: f64 = days.iter().map(|d| d.1).sum();
    let pick = |rng: &mut Rng, weights: &[f64]| {
        let total: f64 = weights.iter().sum();
        let mut x = rng.unit() * total;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    };
    let mut plan: Vec<(i64, usize, Step)> = vec![];
    for k in 0..opts.count {
        let mut x = rng.unit() * total_w;
        let mut day = days[days.len() - 1].0;
        for (t, w) in &days {
            if x < *w {
                day = *t;
                break;
            }
            x -= w;
        }
        let at = day + 8 * 3600 + i64::try_from(rng.below(9 * 3600)).unwrap_or(0);
        let procedure = pick(&mut rng, &mix);
        let channel = if rng.unit() < 0.3 { Channel::Counter } else { Channel::Online };
        plan.push((at, k, Step::Submit { case: k, person: rng.below(people.len()), procedure, channel }));
        // Processing: log-normal around 60 % of the legal time; 8 % rejected; supplements on
        // 10 % of the cases with attachments.
        let legal = f64::from(procs[procedure].processing_days.max(1)) * 86_400.0;
        #[allow(clippy::cast_possible_truncation)]
        let took = (legal * 0.6 * (0.45 * rng.normal()).exp()) as i64 + 3600;
        plan.push((at + took / 10 + 600, k, Step::Move { case: k, to: CaseStatusDto::Processing }));
        let mut decided_at = at + took;
        if !procs[procedure].attachments.is_empty() && rng.unit() < 0.10 {
            plan.push((at + took / 5 + 1200, k, Step::Move { case: k, to: CaseStatusDto::NeedsSupplement }));
            plan.push((at + took / 3 + 1800, k, Step::Supply { case: k }));
            decided_at += took / 3;
        }
        let to = if rng.unit() < 0.08 { CaseStatusDto::Rejected } else { CaseStatusDto::Approved };
        plan.push((decided_at, k, Step::Move { case: k, to }));
    }
    plan.sort_by_key(|(t, k, _)| (*t, *k));

    let mut cases: Vec<Option<(String, usize, usize)>> = vec![None; opts.count];
    for (at, _, step) in plan {
        if at >= end {
            continue; // after the end of the simulation: stays as it is (pending)
        }
        let now = clock.now();
        if at > now {
            clock.advance(at - now);
        }
        let today = Date::from_unix_vn(clock.now());
        match step {
            Step::Submit { case: k, person, procedure, channel } => {
                let proc_ = procs[procedure];
                let p = &mut people[person];
                let Some(values) = fill_form(proc_, &p.profile, today, &mut rng) else {
                    report.refused += 1;
                    continue;
                };
                let files = attachments(proc_, &values, None);
                let payload = SubmissionPayload {
                    submission_id: uuid::Uuid::new_v4().to_string(),
                    procedure_id: proc_.id.clone(),
                    procedure_version: proc_.version,
                    values,
                    attachments: files.iter().map(|f| f.0.clone()).collect(),
                    supplements_case: None,
                    on_behalf: None,
                };
                match submit(&state, clock, p, payload, &files, channel).await {
                    Some(case) => {
                        cases[k] = Some((case, person, procedure));
                        report.cases += 1;
                        report.counter += usize::from(channel == Channel::Counter);
                    }
                    None => report.refused += 1,
                }
            }
            Step::Move { case, to } => {
                let Some((number, _, procedure)) = cases.get(case).cloned().flatten() else { continue };
                let requested = if to == CaseStatusDto::NeedsSupplement {
                    procs[procedure].attachments.iter().take(1).map(|a| a.key.clone()).collect()
                } else {
                    vec![]
                };
                let req = TransitionRequest {
                    case_number: number,
                    to,
                    note_vi: Some("Xử lý tổng hợp".into()),
                    note_en: Some("Synthetic processing".into()),
                    requested_attachments: requested,
                };
                if blocking(&state, move |s, c| services::transition(s, c, &req)).await.is_ok() {
                    report.decided += usize::from(matches!(to, CaseStatusDto::Approved | CaseStatusDto::Rejected));
                    report.supplements += usize::from(to == CaseStatusDto::NeedsSupplement);
                }
            }
            Step::Supply { case } => {
                let Some((number, person, procedure)) = cases.get(case).cloned().flatten() else { continue };
                let proc_ = procs[procedure];
                let keys: Vec<String> = proc_.attachments.iter().take(1).map(|a| a.key.clone()).collect();
                let files = attachments(proc_, &BTreeMap::new(), Some(&keys));
                let payload = SubmissionPayload {
                    submission_id: uuid::Uuid::new_v4().to_string(),
                    procedure_id: proc_.id.clone(),
                    procedure_version: proc_.version,
                    values: BTreeMap::new(),
                    attachments: files.iter().map(|f| f.0.clone()).collect(),
                    supplements_case: Some(number),
                    on_behalf: None,
                };
                let p = &mut people[person];
                let _ = submit(&state, clock, p, payload, &files, Channel::Online).await;
            }
        }
    }
    Ok(report)
}

/// Sign and submit one payload as `p`; the case number when the server opened (or supplemented)
/// a case.
async fn submit(
    state: &Arc<AppState>,
    clock: &ManualClock,
    p: &mut Person,
    payload: SubmissionPayload,
    files: &[(AttachmentRef, String)],
    channel: Channel,
) -> Option<String> {
    p.submit_counter += 1;
    let st = Statement {
        purpose: Purpose::Submit,
        audience: state.audience.clone(),
        nonce: payload.submission_id.clone(),
        device_id: p.device_id.clone(),
        counter: p.submit_counter,
        issued_at: clock.now(),
        subject: payload.digest_hex(),
    };
    let req = SubmissionRequest {
        signed: sign(&p.key, st),
        attachment_data: files.iter().map(|(r, d)| (r.key.clone(), d.clone())).collect(),
        payload,
    };
    let pre = crate::verify::PreVerified::before(state, &req.signed).await;
    let key = req.payload.submission_id.clone();
    match blocking(state, move |s, c| services::submit(s, c, Some(&key), &req, &pre, channel)).await {
        Ok((_, body)) => serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["case_number"].as_str().map(str::to_string)),
        Err(e) => {
            tracing::warn!(code = e.code(), message = %e.body.message, "synthetic submission refused");
            None
        }
    }
}

/// Start a server on `data_dir` with a clock and an OTP outbox of its own, generate, stop.
pub async fn run(data_dir: std::path::PathBuf, opts: SeedOptions) -> Result<SeedReport, String> {
    let clock = ManualClock::new();
    let outbox = Arc::new(MemoryOtpOutbox::new());
    let server = crate::start(crate::ServerConfig {
        listen: "127.0.0.1:0".parse().map_err(|_| "address")?,
        data_dir,
        public_url: None,
        tls: crate::TlsSource::Generate { hostnames: vec![] },
        otp_sender: outbox.clone(),
        clock: clock.clone(),
        limits: crate::Limits::default(),
        database: None,
    })
    .await
    .map_err(|e| e.to_string())?;
    let r = seed(&server, &clock, &outbox, &opts).await;
    server.shutdown().await;
    r
}
