//! The officials' dashboard (issue 16, item 3; decision 44): how public services perform, per
//! procedure, per province (the 34 provinces) and period — cases received, approved, rejected,
//! pending, overdue against the due date, processing-time median and 90th percentile,
//! supplements requested, share filed online vs at a counter — with monthly trends.
//!
//! Every figure is computed at view time by SQL over the case tables themselves (`cases`,
//! `case_events`), never from counters kept on the side: one query reads the period's cases
//! with their decision time and supplement count (correlated subqueries, portable SQL), and the
//! grouping, percentiles and date arithmetic (Vietnam time) are done here, so SQLite and
//! PostgreSQL answer the same.
//!
//! Definitions (the Python test recomputes them independently from the database):
//! * a case belongs to the period by its `received_at` (Vietnam dates `from..=to`);
//! * approved = status `approved` or `completed`; rejected = `rejected`; pending = `received`,
//!   `processing` or `needs_supplement`;
//! * decided at = the first `approved` or `rejected` event; processing time = decided at −
//!   received at, in days; median and p90 by the "lower" rule: sorted value at index
//!   ⌊p·(n−1)⌋ (no interpolation);
//! * overdue = decided on a Vietnam date after the due date, or still pending on a date after it;
//! * supplements = number of `needs_supplement` events; online / counter = the filing channel;
//! * **small cells**: a cell whose cases come from fewer than [`SMALL_CELL`] distinct citizens
//!   shows no figure at all (`suppressed`), so no individual can be singled out. Totals are
//!   shown when they pass the threshold themselves (see decision 44 on what that leaves open).

pub mod http;
pub mod page;

use std::collections::BTreeMap;

use crate::sql::{params, Connection};
use citizen_protocol::cccd::Date;
use citizen_protocol::protocol::services::{CitizenProfileDto, FieldKind, ProcedureDto};
use serde::Serialize;

/// Cells with fewer distinct citizens than this are suppressed.
pub const SMALL_CELL: usize = 5;

/// How a case was filed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    /// From the citizen's app.
    Online,
    /// At a counter (bộ phận một cửa): the citizen's signed submission forwarded by an official's
    /// terminal (`X-Filing-Channel: counter` with the officials' token).
    Counter,
}

impl Channel {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Online => "online",
            Channel::Counter => "counter",
        }
    }
}

/// The province a new case is counted under: the form's first province field when it has one
/// (where the residence, stay or absence is), else the citizen's current residence, else the
/// permanent one; `None` when none is a known province.
pub fn case_province(
    proc_: &ProcedureDto,
    values: &BTreeMap<String, String>,
    profile: &CitizenProfileDto,
) -> Option<String> {
    let from_form = proc_
        .fields
        .iter()
        .filter(|f| f.kind == FieldKind::Province)
        .find_map(|f| values.get(&f.key).filter(|v| crate::admin::province_name(v).is_some()).cloned());
    from_form.or_else(|| {
        [&profile.current_residence.province_code, &profile.permanent_residence.province_code]
            .into_iter()
            .find(|c| crate::admin::province_name(c).is_some())
            .cloned()
    })
}

/// What the dashboard shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    /// First day (Vietnam time), inclusive.
    pub from: Date,
    /// Last day, inclusive.
    pub to: Date,
    /// Only this procedure.
    pub procedure: Option<String>,
    /// Only this province.
    pub province: Option<String>,
}

impl Query {
    /// Parse `from`, `to` (`YYYY-MM-DD`), `procedure`, `province`; the default period is the
    /// calendar year of `today`. `None` when a value is malformed or `from > to`.
    pub fn parse(params: &BTreeMap<String, String>, today: Date) -> Option<Query> {
        let date = |k: &str, d: Date| match params.get(k).filter(|v| !v.is_empty()) {
            Some(v) => Date::parse(v),
            None => Some(d),
        };
        let from = date("from", Date { year: today.year, month: 1, day: 1 })?;
        let to = date("to", Date { year: today.year, month: 12, day: 31 })?;
        let opt = |k: &str| params.get(k).filter(|v| !v.is_empty()).cloned();
        let (procedure, province) = (opt("procedure"), opt("province"));
        if from > to
            || procedure.as_ref().is_some_and(|p| crate::catalogue::catalogue().procedures.iter().all(|x| &x.id != p))
            || province.as_ref().is_some_and(|p| crate::admin::province_name(p).is_none())
        {
            return None;
        }
        Some(Query { from, to, procedure, province })
    }
}

/// Unix time of 00:00 Vietnam time on `d`.
pub fn vn_midnight(d: Date) -> i64 {
    crate::handlers::services::days_from_civil(d) * 86_400 - 7 * 3600
}

fn fmt_date(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)
}

/// One case as the dashboard reads it.
struct CaseRow {
    procedure: String,
    province: String,
    status: String,
    received_at: i64,
    due: Option<Date>,
    channel: String,
    account: String,
    decided_at: Option<i64>,
    supplements: u64,
}

/// The figures of one cell (`None` everywhere when suppressed).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Figures {
    /// Cases received in the period.
    pub received: Option<u64>,
    /// Approved (or completed).
    pub approved: Option<u64>,
    /// Rejected.
    pub rejected: Option<u64>,
    /// Not decided yet.
    pub pending: Option<u64>,
    /// Decided after, or still pending after, the due date.
    pub overdue: Option<u64>,
    /// Median processing time of the decided cases, days (2 decimals).
    pub median_days: Option<f64>,
    /// 90th percentile, days.
    pub p90_days: Option<f64>,
    /// Supplement requests.
    pub supplements: Option<u64>,
    /// Filed online.
    pub online: Option<u64>,
    /// Filed at a counter.
    pub counter: Option<u64>,
}

/// A cell: a procedure (or all, `""`) × a province (or all, `""`; `"unknown"` for cases filed
/// before provinces were recorded).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Cell {
    /// Procedure id, `""` = all.
    pub procedure_id: String,
    /// Province code, `""` = all.
    pub province_code: String,
    /// Fewer than [`SMALL_CELL`] citizens: no figure shown.
    pub suppressed: bool,
    /// The figures.
    #[serde(flatten)]
    pub figures: Figures,
}

/// One month of the trend.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Month {
    /// `YYYY-MM`.
    pub month: String,
    /// Fewer than [`SMALL_CELL`] citizens that month.
    pub suppressed: bool,
    /// Cases received that month.
    pub received: Option<u64>,
    /// Cases (received in the period) decided that month.
    pub decided: Option<u64>,
    /// Median processing time of the cases received that month and decided, days.
    pub median_days: Option<f64>,
}

/// The whole dashboard (also its JSON API).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Dashboard {
    /// First day.
    pub from: String,
    /// Last day.
    pub to: String,
    /// The day the figures were computed on (overdue is judged against it).
    pub today: String,
    /// Procedure filter.
    pub procedure: Option<String>,
    /// Province filter.
    pub province: Option<String>,
    /// The small-cell threshold.
    pub threshold: usize,
    /// Everything in the filter.
    pub total: Cell,
    /// Per procedure.
    pub by_procedure: Vec<Cell>,
    /// Per province.
    pub by_province: Vec<Cell>,
    /// Per procedure × province (only combinations that have cases).
    pub cells: Vec<Cell>,
    /// Monthly trend.
    pub months: Vec<Month>,
}

/// Value at the "lower" rank of `p` in `sorted` (index ⌊p·(n−1)⌋).
fn lower_quantile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
    let i = (p * (sorted.len() - 1) as f64).floor() as usize;
    sorted.get(i).copied()
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

#[allow(clippy::cast_precision_loss)]
fn days_between(a: i64, b: i64) -> f64 {
    (b - a) as f64 / 86_400.0
}

fn cell(procedure: &str, province: &str, rows: &[&CaseRow], today: Date) -> Cell {
    let citizens: std::collections::BTreeSet<&str> = rows.iter().map(|r| r.account.as_str()).collect();
    let suppressed = citizens.len() < SMALL_CELL;
    let mut figures = Figures::default();
    if !suppressed {
        let count = |f: &dyn Fn(&CaseRow) -> bool| Some(rows.iter().filter(|r| f(r)).count() as u64);
        let pending = |r: &CaseRow| matches!(r.status.as_str(), "received" | "processing" | "needs_supplement");
        let overdue = |r: &CaseRow| match (r.due, r.decided_at) {
            (Some(due), Some(at)) => Date::from_unix_vn(at) > due,
            (Some(due), None) => pending(r) && today > due,
            (None, _) => false,
        };
        let mut times: Vec<f64> =
            rows.iter().filter_map(|r| r.decided_at.map(|d| days_between(r.received_at, d))).collect();
        times.sort_by(f64::total_cmp);
        figures = Figures {
            received: Some(rows.len() as u64),
            approved: count(&|r| matches!(r.status.as_str(), "approved" | "completed")),
            rejected: count(&|r| r.status == "rejected"),
            pending: count(&pending),
            overdue: count(&overdue),
            median_days: lower_quantile(&times, 0.5).map(round2),
            p90_days: lower_quantile(&times, 0.9).map(round2),
            supplements: Some(rows.iter().map(|r| r.supplements).sum()),
            online: count(&|r| r.channel == "online"),
            counter: count(&|r| r.channel == "counter"),
        };
    }
    Cell { procedure_id: procedure.into(), province_code: province.into(), suppressed, figures }
}

/// Compute the dashboard for `q`, as of `now`.
pub fn compute(conn: &Connection, q: &Query, now: i64) -> crate::sql::Result<Dashboard> {
    let today = Date::from_unix_vn(now);
    let (start, end) = (vn_midnight(q.from), vn_midnight(q.to) + 86_400);
    let mut st = conn.prepare(
        "SELECT c.procedure_id, c.province_code, c.status, c.received_at, c.due_date, c.channel, c.account_id,
                (SELECT MIN(e.at) FROM case_events e
                  WHERE e.case_number = c.case_number AND e.status IN ('approved', 'rejected')),
                (SELECT COUNT(*) FROM case_events e
                  WHERE e.case_number = c.case_number AND e.status = 'needs_supplement')
           FROM cases c
          WHERE c.received_at >= ?1 AND c.received_at < ?2
            AND (CAST(?3 AS TEXT) IS NULL OR c.procedure_id = ?3)
            AND (CAST(?4 AS TEXT) IS NULL OR c.province_code = ?4)",
    )?;
    let rows = st
        .query_map(params![start, end, q.procedure, q.province], |r| {
            let due: String = r.get(4)?;
            let province: Option<String> = r.get(1)?;
            Ok(CaseRow {
                procedure: r.get(0)?,
                province: province.unwrap_or_else(|| "unknown".into()),
                status: r.get(2)?,
                received_at: r.get(3)?,
                due: Date::parse(&due),
                channel: r.get(5)?,
                account: r.get(6)?,
                decided_at: r.get(7)?,
                supplements: u64::try_from(r.get::<_, i64>(8)?).unwrap_or(0),
            })
        })?
        .collect::<crate::sql::Result<Vec<_>>>()?;
    let all: Vec<&CaseRow> = rows.iter().collect();
    let group = |key: &dyn Fn(&CaseRow) -> (String, String)| {
        let mut m: BTreeMap<(String, String), Vec<&CaseRow>> = BTreeMap::new();
        for r in &rows {
            m.entry(key(r)).or_default().push(r);
        }
        m.into_iter().map(|((p, v), rs)| cell(&p, &v, &rs, today)).collect::<Vec<_>>()
    };
    let by_procedure = group(&|r| (r.procedure.clone(), String::new()));
    let by_province = group(&|r| (String::new(), r.province.clone()));
    let cells = group(&|r| (r.procedure.clone(), r.province.clone()));

    let mut months = vec![];
    let (mut y, mut m) = (q.from.year, q.from.month);
    while (y, m) <= (q.to.year, q.to.month) {
        let in_month = |t: i64| {
            let d = Date::from_unix_vn(t);
            (d.year, d.month) == (y, m)
        };
        let received: Vec<&CaseRow> = rows.iter().filter(|r| in_month(r.received_at)).collect();
        let citizens: std::collections::BTreeSet<&str> = received.iter().map(|r| r.account.as_str()).collect();
        let suppressed = citizens.len() < SMALL_CELL;
        let mut times: Vec<f64> =
            received.iter().filter_map(|r| r.decided_at.map(|d| days_between(r.received_at, d))).collect();
        times.sort_by(f64::total_cmp);
        let decided = rows.iter().filter(|r| r.decided_at.is_some_and(in_month)).count() as u64;
        months.push(Month {
            month: format!("{y:04}-{m:02}"),
            suppressed,
            received: (!suppressed).then_some(received.len() as u64),
            decided: (!suppressed).then_some(decided),
            median_days: if suppressed { None } else { lower_quantile(&times, 0.5).map(round2) },
        });
        (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    }

    Ok(Dashboard {
        from: fmt_date(q.from),
        to: fmt_date(q.to),
        today: fmt_date(today),
        procedure: q.procedure.clone(),
        province: q.province.clone(),
        threshold: SMALL_CELL,
        total: cell("", "", &all, today),
        by_procedure,
        by_province,
        cells,
        months,
    })
}

/// Vietnamese name of a procedure id (the id itself when unknown).
pub fn procedure_name(id: &str) -> String {
    crate::catalogue::catalogue()
        .procedures
        .iter()
        .find(|p| p.id == id)
        .map_or_else(|| id.to_string(), |p| p.name_vi.clone())
}

/// Vietnamese name of a province code (`unknown` → "Không xác định").
pub fn province_label(code: &str) -> String {
    match code {
        "" => "Tất cả".into(),
        "unknown" => "Không xác định".into(),
        c => crate::admin::province_name(c).unwrap_or(c).to_string(),
    }
}

/// The CSV export: one line per cell (scope `total`, `procedure`, `province`, `cell`),
/// suppressed figures left empty.
pub fn csv(d: &Dashboard) -> String {
    let mut out = String::from(
        "scope,procedure_id,procedure_vi,province_code,province_vi,suppressed,received,approved,rejected,pending,\
         overdue,median_days,p90_days,supplements,online,counter\n",
    );
    let q = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let n = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
    let f = |v: Option<f64>| v.map(|v| format!("{v:.2}")).unwrap_or_default();
    let scoped = std::iter::once(("total", &d.total))
        .chain(d.by_procedure.iter().map(|c| ("procedure", c)))
        .chain(d.by_province.iter().map(|c| ("province", c)))
        .chain(d.cells.iter().map(|c| ("cell", c)));
    for (scope, c) in scoped {
        let g = &c.figures;
        let proc_vi =
            if c.procedure_id.is_empty() { "Tất cả".to_string() } else { procedure_name(&c.procedure_id) };
        out.push_str(&format!(
            "{scope},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
            q(&c.procedure_id),
            q(&proc_vi),
            q(&c.province_code),
            q(&province_label(&c.province_code)),
            u8::from(c.suppressed),
            n(g.received),
            n(g.approved),
            n(g.rejected),
            n(g.pending),
            n(g.overdue),
            f(g.median_days),
            f(g.p90_days),
            n(g.supplements),
            n(g.online),
            n(g.counter),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_quantile_takes_the_lower_rank() {
        assert_eq!(lower_quantile(&[], 0.5), None);
        assert_eq!(lower_quantile(&[1.0], 0.9), Some(1.0));
        assert_eq!(lower_quantile(&[1.0, 2.0, 3.0, 4.0], 0.5), Some(2.0));
        let ten: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(lower_quantile(&ten, 0.9), Some(9.0));
        assert_eq!(lower_quantile(&ten[..7], 0.9), Some(6.0));
    }

    #[test]
    fn query_defaults_to_the_year_and_refuses_bad_values() {
        let today = Date { year: 2026, month: 5, day: 3 };
        let q = Query::parse(&BTreeMap::new(), today).unwrap();
        assert_eq!((q.from, q.to), (Date { year: 2026, month: 1, day: 1 }, Date { year: 2026, month: 12, day: 31 }));
        let p = |k: &str, v: &str| BTreeMap::from([(k.to_string(), v.to_string())]);
        assert!(Query::parse(&p("from", "2027-01-01"), today).is_none(), "from after to");
        assert!(Query::parse(&p("province", "99"), today).is_none());
        assert!(Query::parse(&p("procedure", "nope"), today).is_none());
        assert!(Query::parse(&p("from", "2026-13-01"), today).is_none());
        assert_eq!(Query::parse(&p("province", "01"), today).unwrap().province.as_deref(), Some("01"));
        assert_eq!(vn_midnight(Date { year: 1970, month: 1, day: 2 }), 86_400 - 7 * 3600);
    }
}
