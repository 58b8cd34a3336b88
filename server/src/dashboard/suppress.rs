//! Small-cell protection of the dashboard's tables (issue 16; decision 44): primary suppression of
//! every figure computed over fewer than [`super::SMALL_CELL`] distinct citizens, then
//! **complementary** (secondary) suppression so that no suppressed figure can be recovered by
//! subtracting the published ones from a published total.
//!
//! The published figures are *members*; a *margin* (group) says that a parent member is the sum
//! of its children (the total over the procedures, over the provinces and over the months; each
//! procedure over its provinces; each province over its procedures). The rule, in this order:
//!
//! 1. **Primary**: a member with fewer distinct citizens than the threshold is suppressed
//!    ([`Reason::Small`]).
//! 2. **Margins** (to a fixed point): take the first group, in the order given, that breaks one of
//!    * the parent is published and exactly one child is suppressed (the difference would give it);
//!    * the parent is published and the suppressed children together come from fewer citizens than
//!      the threshold (the difference would give their sum, a small group);
//!    * the parent is suppressed and every child is published (the sum would give it);
//!
//!    and suppress the *smallest* published child of that group (fewest cases, then fewest
//!    citizens, then first in member order) — or, when it has none left, its parent — as
//!    [`Reason::Complementary`]; start again from the first group.
//! 3. **Audit**: treating the suppressed members as unknowns of the linear system the published
//!    members and the margins give, a suppressed member is *recoverable* when its unit vector lies
//!    in the row space of the system (exact elimination over the rationals). If one is, take the
//!    first such member, suppress the smallest published member of the groups it belongs to (of
//!    all members when none is left), and go back to 2.
//!
//! Suppression only ever grows, so this ends (at worst with everything suppressed, where every
//! equation is homogeneous and nothing is recoverable). It is deterministic: the result depends
//! only on the members' order, sizes and citizens. `tests/browser/test_dashboard.py` implements
//! the same rule independently (with numpy's rank for the audit) and must agree.

use std::collections::BTreeSet;

use serde::Serialize;

/// Why a figure is not shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Fewer than the threshold of distinct citizens.
    Small,
    /// Large enough itself, hidden so that a small one cannot be derived from a total.
    Complementary,
}

impl Reason {
    /// Stored / exported name (`small`, `complementary`).
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Small => "small",
            Reason::Complementary => "complementary",
        }
    }

    /// Vietnamese label shown on the page.
    pub fn label_vi(self) -> &'static str {
        match self {
            Reason::Small => "Ẩn: dưới ngưỡng công dân",
            Reason::Complementary => "Ẩn bổ sung: tránh suy ra ô nhỏ từ tổng",
        }
    }
}

/// One published figure set, as the protection sees it.
#[derive(Clone, Debug, Default)]
pub struct Member {
    /// Number of cases (the "size" used to choose complementary suppressions).
    pub cases: usize,
    /// Distinct citizens, as small integers (only their identity matters).
    pub citizens: BTreeSet<usize>,
}

/// A margin: `parent` is the sum of `children` (indices into the members).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    /// The total.
    pub parent: usize,
    /// What it adds up.
    pub children: Vec<usize>,
}

/// Decide, for every member, whether and why it is suppressed.
pub fn protect(members: &[Member], groups: &[Group], threshold: usize) -> Vec<Option<Reason>> {
    let mut state: Vec<Option<Reason>> =
        members.iter().map(|m| (m.citizens.len() < threshold).then_some(Reason::Small)).collect();
    let smallest = |state: &[Option<Reason>], candidates: &mut dyn Iterator<Item = usize>| {
        candidates.filter(|&i| state[i].is_none()).min_by_key(|&i| (members[i].cases, members[i].citizens.len(), i))
    };
    loop {
        // 2. Margins, to a fixed point.
        while let Some(g) = groups.iter().find(|g| breaks(g, members, &state, threshold)) {
            let pick = smallest(&state, &mut g.children.iter().copied()).unwrap_or(g.parent);
            state[pick] = Some(Reason::Complementary);
        }
        // 3. Audit.
        let Some(exposed) = first_recoverable(members.len(), groups, &state) else {
            return state;
        };
        let around = groups
            .iter()
            .filter(|g| g.parent == exposed || g.children.contains(&exposed))
            .flat_map(|g| std::iter::once(g.parent).chain(g.children.iter().copied()));
        let pick = smallest(&state, &mut around.collect::<Vec<_>>().into_iter())
            .or_else(|| smallest(&state, &mut (0..members.len())));
        match pick {
            Some(i) => state[i] = Some(Reason::Complementary),
            // Unreachable: with nothing published nothing is recoverable.
            None => return state,
        }
    }
}

fn breaks(g: &Group, members: &[Member], state: &[Option<Reason>], threshold: usize) -> bool {
    let hidden: Vec<usize> = g.children.iter().copied().filter(|&c| state[c].is_some()).collect();
    if state[g.parent].is_some() {
        return !g.children.is_empty() && hidden.is_empty();
    }
    if hidden.is_empty() {
        return false;
    }
    let union: BTreeSet<usize> = hidden.iter().flat_map(|&c| members[c].citizens.iter().copied()).collect();
    hidden.len() == 1 || union.len() < threshold
}

/// A tiny exact rational (the system's coefficients stay small: margins are ±1 sums).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Q(i128, i128);

impl Q {
    const ZERO: Q = Q(0, 1);
    const ONE: Q = Q(1, 1);
    /// `None` on overflow (the caller then treats the system as exposing something).
    fn new(n: i128, d: i128) -> Option<Q> {
        let g = gcd(n.checked_abs()?, d.checked_abs()?).max(1);
        let s = if d < 0 { -1 } else { 1 };
        Some(Q(s * (n / g), s * (d / g)))
    }
    fn is_zero(self) -> bool {
        self.0 == 0
    }
    fn sub(self, o: Q) -> Option<Q> {
        Q::new(self.0.checked_mul(o.1)?.checked_sub(o.0.checked_mul(self.1)?)?, self.1.checked_mul(o.1)?)
    }
    fn mul(self, o: Q) -> Option<Q> {
        Q::new(self.0.checked_mul(o.0)?, self.1.checked_mul(o.1)?)
    }
    fn div(self, o: Q) -> Option<Q> {
        Q::new(self.0.checked_mul(o.1)?, self.1.checked_mul(o.0)?)
    }
}

fn gcd(a: i128, b: i128) -> i128 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// The first suppressed member (in member order) whose value the published members and the
/// margins determine, if any. Should the exact arithmetic overflow (it cannot with margins of
/// this shape, but it is not assumed), the first suppressed member is reported: the caller then
/// hides more, which errs on the safe side.
pub fn first_recoverable(n: usize, groups: &[Group], state: &[Option<Reason>]) -> Option<usize> {
    let unknown: Vec<usize> = (0..n).filter(|&i| state[i].is_some()).collect();
    match determined_columns(&unknown, groups) {
        Some(cols) => cols.into_iter().map(|c| unknown[c]).min(),
        None => unknown.first().copied(),
    }
}

/// The columns (indices into `unknown`) the system determines; `None` on overflow.
fn determined_columns(unknown: &[usize], groups: &[Group]) -> Option<Vec<usize>> {
    let col = |m: usize| unknown.binary_search(&m).ok();
    // One row per margin: parent − Σ children = 0, restricted to the unknowns.
    let mut rows: Vec<Vec<Q>> = vec![];
    for g in groups {
        let mut r = vec![Q::ZERO; unknown.len()];
        if let Some(c) = col(g.parent) {
            r[c] = Q::ONE;
        }
        for &ch in &g.children {
            if let Some(c) = col(ch) {
                r[c] = r[c].sub(Q::ONE)?;
            }
        }
        rows.push(r);
    }
    // Reduced row echelon form.
    let mut pivots: Vec<(usize, usize)> = vec![]; // (row, column)
    let mut next = 0;
    for c in 0..unknown.len() {
        let Some(p) = (next..rows.len()).find(|&r| !rows[r][c].is_zero()) else { continue };
        rows.swap(next, p);
        let lead = rows[next][c];
        for v in &mut rows[next] {
            *v = v.div(lead)?;
        }
        let pivot_row = rows[next].clone();
        for (r, row) in rows.iter_mut().enumerate() {
            if r != next && !row[c].is_zero() {
                let f = row[c];
                for (v, p) in row.iter_mut().zip(&pivot_row) {
                    *v = v.sub(f.mul(*p)?)?;
                }
            }
        }
        pivots.push((next, c));
        next += 1;
    }
    let pivot_cols: BTreeSet<usize> = pivots.iter().map(|&(_, c)| c).collect();
    // A pivot column is determined when its row has nothing in the free columns.
    Some(
        pivots
            .iter()
            .filter(|&&(r, _)| rows[r].iter().enumerate().all(|(c, v)| pivot_cols.contains(&c) || v.is_zero()))
            .map(|&(_, c)| c)
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(cases: usize, citizens: std::ops::Range<usize>) -> Member {
        Member { cases, citizens: citizens.collect() }
    }

    #[test]
    fn a_lone_hidden_child_of_a_published_total_is_recoverable_and_two_are_not() {
        let g = [Group { parent: 0, children: vec![1, 2, 3] }];
        let s = |v: [bool; 4]| v.map(|h| h.then_some(Reason::Small)).to_vec();
        assert_eq!(first_recoverable(4, &g, &s([false, true, false, false])), Some(1));
        assert_eq!(first_recoverable(4, &g, &s([false, true, true, false])), None);
        assert_eq!(first_recoverable(4, &g, &s([true, false, false, false])), Some(0), "a hidden total of shown parts");
        assert_eq!(first_recoverable(4, &g, &s([true, true, true, true])), None, "all hidden: homogeneous");
    }

    #[test]
    fn the_audit_sees_through_the_margins_of_a_two_way_table() {
        // A 3×3 table with its margins. Members: 0 total, 1..=3 rows, 4..=6 columns, 7.. the cells
        // (row r, column c) at 7 + 3r + c.
        let cell = |r: usize, c: usize| 7 + r * 3 + c;
        let mut groups =
            vec![Group { parent: 0, children: vec![1, 2, 3] }, Group { parent: 0, children: vec![4, 5, 6] }];
        for r in 0..3 {
            groups.push(Group { parent: 1 + r, children: (0..3).map(|c| cell(r, c)).collect() });
        }
        for c in 0..3 {
            groups.push(Group { parent: 4 + c, children: (0..3).map(|r| cell(r, c)).collect() });
        }
        let mut state = vec![None; 16];
        for (r, c) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
            state[cell(r, c)] = Some(Reason::Small);
        }
        assert_eq!(first_recoverable(16, &groups, &state), None, "a 2×2 cycle hides every cell");
        state[cell(2, 2)] = Some(Reason::Small);
        assert_eq!(first_recoverable(16, &groups, &state), Some(cell(2, 2)), "alone in its row and column");
    }

    #[test]
    fn a_margin_with_a_single_part_is_hidden_with_it() {
        use Reason::{Complementary, Small};
        // One procedure (1) in two provinces (4, 5), one cell each (2, 3): a province's total
        // *is* its one cell, so when the cell is hidden for the row, the province goes too.
        let members = [
            member(10, 0..10),
            member(10, 0..10),
            member(8, 0..8),
            member(2, 8..10),
            member(8, 0..8),
            member(2, 8..10),
        ];
        let groups = [
            Group { parent: 0, children: vec![1] },
            Group { parent: 0, children: vec![4, 5] },
            Group { parent: 1, children: vec![2, 3] },
            Group { parent: 4, children: vec![2] },
            Group { parent: 5, children: vec![3] },
        ];
        let state = protect(&members, &groups, 5);
        assert_eq!(state, [None, None, Some(Complementary), Some(Small), Some(Complementary), Some(Small)]);
        assert_eq!(first_recoverable(members.len(), &groups, &state), None);
    }

    #[test]
    fn a_national_table_ends_with_nothing_recoverable_and_large_cells_mostly_shown() {
        // 12 procedures × 35 provinces (+ 12 months), sizes from a fixed pseudo-random sequence,
        // many under the threshold: the shape of a real year, built without a database.
        let (procs, provs) = (12, 35);
        let mut seed = 0x2026_u64;
        let mut next = || {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            usize::try_from(seed >> 59).unwrap_or(0) // 0..32
        };
        let mut citizen = 0;
        let mut cells = vec![];
        for _ in 0..procs * provs {
            let n = next() / 2; // 0..16 citizens, one case each
            cells.push(member(n, citizen..citizen + n));
            citizen += n;
        }
        let union = |ms: &[&Member]| Member {
            cases: ms.iter().map(|m| m.cases).sum(),
            citizens: ms.iter().flat_map(|m| m.citizens.iter().copied()).collect(),
        };
        let row = |p: usize| union(&(0..provs).map(|v| &cells[p * provs + v]).collect::<Vec<_>>());
        let column = |v: usize| union(&(0..procs).map(|p| &cells[p * provs + v]).collect::<Vec<_>>());
        let total = union(&cells.iter().collect::<Vec<_>>());
        // Months: the citizens dealt round-robin.
        let months: Vec<Member> = (0..12)
            .map(|m| {
                let c: BTreeSet<usize> = (m..citizen).step_by(12).collect();
                Member { cases: c.len(), citizens: c }
            })
            .collect();
        let mut members = vec![total];
        members.extend((0..procs).map(row));
        members.extend((0..provs).map(column));
        let (p0, v0, c0) = (1, 1 + procs, 1 + procs + provs);
        members.extend(cells.iter().cloned());
        let m0 = members.len();
        members.extend(months);
        let mut groups = vec![
            Group { parent: 0, children: (p0..v0).collect() },
            Group { parent: 0, children: (v0..c0).collect() },
            Group { parent: 0, children: (m0..m0 + 12).collect() },
        ];
        groups.extend(
            (0..procs).map(|p| Group { parent: p0 + p, children: (0..provs).map(|v| c0 + p * provs + v).collect() }),
        );
        groups.extend(
            (0..provs).map(|v| Group { parent: v0 + v, children: (0..procs).map(|p| c0 + p * provs + v).collect() }),
        );

        let started = std::time::Instant::now();
        let state = protect(&members, &groups, 5);
        let took = started.elapsed();
        assert_eq!(first_recoverable(members.len(), &groups, &state), None);
        for g in &groups {
            assert!(!breaks(g, &members, &state, 5), "{g:?}");
        }
        let small = state.iter().filter(|s| **s == Some(Reason::Small)).count();
        let complementary = state.iter().filter(|s| **s == Some(Reason::Complementary)).count();
        assert!(small > 50 && complementary > 0, "{small} {complementary}");
        assert!(complementary < small, "complementary hiding stays the lesser part: {small} {complementary}");
        assert!(state[0].is_none() && (p0..c0).all(|i| state[i].is_none()), "the margins stay shown");
        assert!(took < std::time::Duration::from_secs(5), "{took:?}");
        eprintln!("{} members: {small} small, {complementary} complementary, {took:?}", members.len());
    }
}
