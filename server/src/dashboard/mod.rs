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
//!   shows no figure at all (`suppressed`, `suppressed_reason: small`), so no individual can be
//!   singled out; and so that no such cell can be derived by difference from a published total,
//!   further cells are hidden as `complementary` ([`suppress`] gives the exact rule: every margin
//!   — the total over procedures, provinces and months, each procedure over its provinces, each
//!   province over its procedures — hides none or at least two of its parts, together from at
//!   least [`SMALL_CELL`] citizens, and no hidden figure is determined by the published ones).

pub mod http;
pub mod page;
pub mod suppress;

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
    /// No figure shown (see `suppressed_reason`).
    pub suppressed: bool,
    /// Why: `small` (fewer than [`SMALL_CELL`] citizens) or `complementary` (hidden so that a
    /// small cell cannot be derived from a total); `null` when shown.
    pub suppressed_reason: Option<suppress::Reason>,
    /// The figures.
    #[serde(flatten)]
    pub figures: Figures,
}

/// One month of the trend.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Month {
    /// `YYYY-MM`.
    pub month: String,
    /// No figure shown that month (see `suppressed_reason`).
    pub suppressed: bool,
    /// `small`, `complementary`, or `null` when shown.
    pub suppressed_reason: Option<suppress::Reason>,
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

fn figures(rows: &[&CaseRow], today: Date) -> Figures {
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
    Figures {
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
    }
}

fn cell(procedure: &str, province: &str, rows: &[&CaseRow], today: Date, reason: Option<suppress::Reason>) -> Cell {
    Cell {
        procedure_id: procedure.into(),
        province_code: province.into(),
        suppressed: reason.is_some(),
        suppressed_reason: reason,
        figures: if reason.is_some() { Figures::default() } else { figures(rows, today) },
    }
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
    Ok(assemble(&rows, q, today))
}

/// Group, protect and publish the period's cases.
fn assemble(rows: &[CaseRow], q: &Query, today: Date) -> Dashboard {
    let all: Vec<&CaseRow> = rows.iter().collect();
    let group = |key: &dyn Fn(&CaseRow) -> (String, String)| {
        let mut m: BTreeMap<(String, String), Vec<&CaseRow>> = BTreeMap::new();
        for r in rows {
            m.entry(key(r)).or_default().push(r);
        }
        m.into_iter().collect::<Vec<_>>()
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
        let decided = rows.iter().filter(|r| r.decided_at.is_some_and(in_month)).count() as u64;
        months.push((format!("{y:04}-{m:02}"), received, decided));
        (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    }

    // Small-cell protection over every published figure: members in the order total,
    // procedures, provinces, cells, months; margins in the order of `suppress`'s rule.
    let mut ids: BTreeMap<&str, usize> = BTreeMap::new();
    for r in rows {
        let next = ids.len();
        ids.entry(r.account.as_str()).or_insert(next);
    }
    let member = |rs: &[&CaseRow]| suppress::Member {
        cases: rs.len(),
        citizens: rs.iter().map(|r| ids[r.account.as_str()]).collect(),
    };
    let members: Vec<suppress::Member> = std::iter::once(member(&all))
        .chain(by_procedure.iter().map(|(_, rs)| member(rs)))
        .chain(by_province.iter().map(|(_, rs)| member(rs)))
        .chain(cells.iter().map(|(_, rs)| member(rs)))
        .chain(months.iter().map(|(_, rs, _)| member(rs)))
        .collect();
    let (p0, v0) = (1, 1 + by_procedure.len());
    let (c0, m0) = (v0 + by_province.len(), v0 + by_province.len() + cells.len());
    let mut margins = vec![
        suppress::Group { parent: 0, children: (p0..v0).collect() },
        suppress::Group { parent: 0, children: (v0..c0).collect() },
        suppress::Group { parent: 0, children: (m0..m0 + months.len()).collect() },
    ];
    for (i, ((p, _), _)) in by_procedure.iter().enumerate() {
        let children = cells.iter().enumerate().filter(|(_, ((cp, _), _))| cp == p).map(|(j, _)| c0 + j);
        margins.push(suppress::Group { parent: p0 + i, children: children.collect() });
    }
    for (i, ((_, v), _)) in by_province.iter().enumerate() {
        let children = cells.iter().enumerate().filter(|(_, ((_, cv), _))| cv == v).map(|(j, _)| c0 + j);
        margins.push(suppress::Group { parent: v0 + i, children: children.collect() });
    }
    let hidden = suppress::protect(&members, &margins, SMALL_CELL);

    let publish = |first: usize, list: &[((String, String), Vec<&CaseRow>)]| {
        list.iter().enumerate().map(|(i, ((p, v), rs))| cell(p, v, rs, today, hidden[first + i])).collect::<Vec<_>>()
    };
    let (by_procedure, by_province, cells) =
        (publish(p0, &by_procedure), publish(v0, &by_province), publish(c0, &cells));
    let months = months
        .into_iter()
        .enumerate()
        .map(|(i, (month, received, decided))| {
            let reason = hidden[m0 + i];
            let shown = reason.is_none();
            let mut times: Vec<f64> =
                received.iter().filter_map(|r| r.decided_at.map(|d| days_between(r.received_at, d))).collect();
            times.sort_by(f64::total_cmp);
            Month {
                month,
                suppressed: !shown,
                suppressed_reason: reason,
                received: shown.then_some(received.len() as u64),
                decided: shown.then_some(decided),
                median_days: if shown { lower_quantile(&times, 0.5).map(round2) } else { None },
            }
        })
        .collect();

    Dashboard {
        from: fmt_date(q.from),
        to: fmt_date(q.to),
        today: fmt_date(today),
        procedure: q.procedure.clone(),
        province: q.province.clone(),
        threshold: SMALL_CELL,
        total: cell("", "", &all, today, hidden[0]),
        by_procedure,
        by_province,
        cells,
        months,
    }
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
/// suppressed figures left empty and `suppressed_reason` `small` or `complementary` (empty when
/// shown).
pub fn csv(d: &Dashboard) -> String {
    let mut out = String::from(
        "scope,procedure_id,procedure_vi,province_code,province_vi,suppressed,suppressed_reason,received,approved,rejected,pending,\
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
            "{scope},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
            q(&c.procedure_id),
            q(&proc_vi),
            q(&c.province_code),
            q(&province_label(&c.province_code)),
            u8::from(c.suppressed),
            c.suppressed_reason.map(suppress::Reason::as_str).unwrap_or_default(),
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

    /// `n` fictitious citizens (ids `prefix-0..n`), one case each, in `procedure` × `province`,
    /// received on `day` of 2026-`month`.
    fn cases(procedure: &str, province: &str, prefix: &str, n: usize, month: u32) -> Vec<CaseRow> {
        (0..n)
            .map(|i| CaseRow {
                procedure: procedure.into(),
                province: province.into(),
                status: "approved".into(),
                received_at: vn_midnight(Date { year: 2026, month, day: 10 }) + 3600,
                due: Some(Date { year: 2026, month, day: 20 }),
                channel: "online".into(),
                account: format!("{prefix}-{i}"),
                decided_at: Some(vn_midnight(Date { year: 2026, month, day: 12 })),
                supplements: 0,
            })
            .collect()
    }

    fn january() -> Query {
        let d = |day| Date { year: 2026, month: 1, day };
        Query { from: d(1), to: d(31), procedure: None, province: None }
    }

    fn find<'a>(d: &'a Dashboard, p: &str, v: &str) -> &'a Cell {
        d.by_procedure
            .iter()
            .chain(&d.by_province)
            .chain(&d.cells)
            .chain(std::iter::once(&d.total))
            .find(|c| c.procedure_id == p && c.province_code == v)
            .unwrap()
    }

    /// The additive margins of a published dashboard, recomputed from its cells: (parent, children).
    fn margins(d: &Dashboard) -> Vec<(&Cell, Vec<&Cell>)> {
        let mut out = vec![(&d.total, d.by_procedure.iter().collect()), (&d.total, d.by_province.iter().collect())];
        for p in &d.by_procedure {
            out.push((p, d.cells.iter().filter(|c| c.procedure_id == p.procedure_id).collect()));
        }
        for v in &d.by_province {
            out.push((v, d.cells.iter().filter(|c| c.province_code == v.province_code).collect()));
        }
        out
    }

    #[test]
    fn a_small_cell_can_no_longer_be_derived_from_its_total() {
        use suppress::Reason::{Complementary, Small};
        // Procedure A: 10 citizens in Hà Nội (01), 2 in Hải Phòng (31), 6 in TP HCM (79);
        // procedure B: 20, 8 and 30.
        let sizes = [("A", "01", 10), ("A", "31", 2), ("A", "79", 6), ("B", "01", 20), ("B", "31", 8), ("B", "79", 30)];
        let rows: Vec<CaseRow> = sizes.iter().flat_map(|&(p, v, n)| cases(p, v, &format!("{p}{v}"), n, 1)).collect();
        let today = Date { year: 2026, month: 6, day: 1 };

        // With primary suppression only, A's total minus its shown cells would give A×31 exactly.
        let a_total = 10 + 2 + 6;
        assert_eq!(a_total - 10 - 6, 2, "the difference attack decision 44 left open");

        let d = assemble(&rows, &january(), today);
        assert_eq!(find(&d, "A", "31").suppressed_reason, Some(Small));
        // The smallest other cell of A's row, and of the two columns, hidden in turn.
        assert_eq!(find(&d, "A", "79").suppressed_reason, Some(Complementary));
        assert_eq!(find(&d, "B", "31").suppressed_reason, Some(Complementary));
        assert_eq!(find(&d, "B", "79").suppressed_reason, Some(Complementary));
        for c in [&d.cells[..], &d.by_procedure, &d.by_province].concat() {
            assert_eq!(c.suppressed, c.suppressed_reason.is_some());
            assert_eq!(c.suppressed, c.figures.received.is_none(), "hidden means no figure: {c:?}");
        }

        // Recompute every difference from the published figures: each margin hides no cell or
        // at least two, so what a difference gives is a sum of several, never the small cell.
        for (parent, children) in margins(&d) {
            let Some(total) = parent.figures.received else { continue };
            let hidden: Vec<&&Cell> = children.iter().filter(|c| c.suppressed).collect();
            let shown: u64 = children.iter().filter_map(|c| c.figures.received).sum();
            assert!(hidden.is_empty() || hidden.len() >= 2, "{parent:?}");
            if hidden.len() >= 2 {
                assert!(total - shown >= SMALL_CELL as u64, "the hidden ones together are no small group");
            }
        }
        // And the small cell is not determined: moving one case around the cycle of hidden cells
        // (A×31 +1, A×79 −1, B×79 +1, B×31 −1) leaves every published figure as it is.
        let mut moved = rows;
        let take = |rows: &mut Vec<CaseRow>, p: &str, v: &str| {
            let i = rows.iter().position(|r| r.procedure == p && r.province == v).unwrap();
            rows.remove(i)
        };
        let mut x = take(&mut moved, "A", "79");
        x.province = "31".into();
        moved.push(x);
        let mut y = take(&mut moved, "B", "31");
        y.province = "79".into();
        moved.push(y);
        let e = assemble(&moved, &january(), today);
        assert_eq!(find(&e, "A", "31").suppressed_reason, Some(Small), "still small: 3 citizens");
        let published = |d: &Dashboard| {
            [&[d.total.clone()][..], &d.by_procedure, &d.by_province, &d.cells]
                .concat()
                .into_iter()
                .filter(|c| !c.suppressed)
                .map(|c| (c.procedure_id, c.province_code, c.figures.received))
                .collect::<Vec<_>>()
        };
        assert_eq!(published(&d), published(&e), "two different A×31 (2 and 3) publish the same figures");
    }

    #[test]
    fn cells_not_needed_for_protection_stay_shown() {
        use suppress::Reason::{Complementary, Small};
        let today = Date { year: 2026, month: 6, day: 1 };
        // Everything large: nothing hidden.
        let rows: Vec<CaseRow> = [("A", "01", 6), ("A", "79", 7), ("B", "01", 8), ("B", "79", 5)]
            .iter()
            .flat_map(|&(p, v, n)| cases(p, v, &format!("{p}{v}"), n, 1))
            .collect();
        let d = assemble(&rows, &january(), today);
        assert!([&[d.total.clone()][..], &d.by_procedure, &d.by_province, &d.cells]
            .concat()
            .iter()
            .all(|c| !c.suppressed));
        assert!(d.months.iter().all(|m| !m.suppressed));

        // Two small cells of the same row and the same two columns protect each other: the
        // large cells stay shown.
        let rows: Vec<CaseRow> =
            [("A", "01", 9), ("A", "31", 2), ("A", "79", 3), ("B", "01", 9), ("B", "31", 3), ("B", "79", 2)]
                .iter()
                .flat_map(|&(p, v, n)| cases(p, v, &format!("{p}{v}"), n, 1))
                .collect();
        let d = assemble(&rows, &january(), today);
        let reasons: Vec<_> =
            d.cells.iter().map(|c| (c.procedure_id.as_str(), c.province_code.as_str(), c.suppressed_reason)).collect();
        assert_eq!(
            reasons,
            [
                ("A", "01", None),
                ("A", "31", Some(Small)),
                ("A", "79", Some(Small)),
                ("B", "01", None),
                ("B", "31", Some(Small)),
                ("B", "79", Some(Small)),
            ]
        );
        // … but a margin's hidden cells must together come from enough citizens (above: 5 in
        // each row and column). When A's two small cells have only 4 (1 + 3), A's next-smallest
        // cell is hidden too, and then, alone in Hà Nội's column, B's.
        let rows: Vec<CaseRow> =
            [("A", "01", 9), ("A", "31", 1), ("A", "79", 3), ("B", "01", 12), ("B", "31", 4), ("B", "79", 2)]
                .iter()
                .flat_map(|&(p, v, n)| cases(p, v, &format!("{p}{v}"), n, 1))
                .collect();
        let d = assemble(&rows, &january(), today);
        assert_eq!(find(&d, "A", "01").suppressed_reason, Some(Complementary));
        assert_eq!(find(&d, "B", "01").suppressed_reason, Some(Complementary), "then Hà Nội's column");
        assert!(!d.total.suppressed && d.by_procedure.iter().chain(&d.by_province).all(|c| !c.suppressed));
    }

    #[test]
    fn a_small_month_is_not_the_total_minus_the_others() {
        use suppress::Reason::{Complementary, Small};
        let rows: Vec<CaseRow> =
            [(1, 20), (2, 3), (3, 10)].iter().flat_map(|&(m, n)| cases("A", "01", &format!("m{m}"), n, m)).collect();
        let q = Query {
            from: Date { year: 2026, month: 1, day: 1 },
            to: Date { year: 2026, month: 3, day: 31 },
            procedure: None,
            province: None,
        };
        let d = assemble(&rows, &q, Date { year: 2026, month: 6, day: 1 });
        let reasons: Vec<_> = d.months.iter().map(|m| m.suppressed_reason).collect();
        assert_eq!(reasons, [None, Some(Small), Some(Complementary)]);
        assert_eq!(d.months[0].received, Some(20));
        assert_eq!(d.months[2].received, None);
        assert_eq!(d.total.figures.received, Some(33));
    }
}
