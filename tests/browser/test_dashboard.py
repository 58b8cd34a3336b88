"""The officials' dashboard (issue 16, items 3 and 4) over a synthetic year generated through the
real enrollment and signed-submission path (`citizen-server seed-cases`):

* `test_dashboard_figures_match_an_independent_computation`: pandas recomputes every figure of
  the CSV export from the server's own tables (read-only SQLite, its own queries), with the
  dashboard's documented definitions (server/src/dashboard/mod.rs), small-cell suppression
  included: primary (fewer than 5 citizens) and complementary, re-implemented here from the rule
  in server/src/dashboard/suppress.rs (numpy's rank for the audit), so that no hidden figure can
  be derived from a total; the CSV equals the JSON API, and the difference attack is tried on the
  published figures and fails.
* `test_dashboard_renders_in_chromium`: headless Chromium signs in with a named official's token
  (the form, no script), renders the page with its server-side SVG charts, saves a screenshot (the
  path is printed; set CITIZEN_TEST_ARTIFACTS to keep it elsewhere), and every figure on the page
  equals the API's.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import os
import sqlite3
import ssl
import subprocess
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from selenium.webdriver.common.by import By

from conftest import helpers

THRESHOLD = 5
FIGURES = ["received", "approved", "rejected", "pending", "overdue", "median_days", "p90_days", "supplements",
           "online", "counter"]
VN = dt.timedelta(hours=7)


def _bin() -> str:
    return os.environ.get("CITIZEN_SERVER_BIN", str(helpers.REPO / "target" / "debug" / "citizen-server"))


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """A server over a synthetic year (small: the test's N), and a dashboard official's token."""
    data = tmp_path_factory.mktemp("dashboard-data")
    year = dt.date.today().year
    out = subprocess.run(
        [_bin(), "--data-dir", str(data), "seed-cases", "--year", str(year), "--count", "600", "--citizens", "170"],
        check=True, capture_output=True, text=True, timeout=600,
    )
    print("seed-cases:", out.stdout.strip())
    token = subprocess.run(
        [_bin(), "--data-dir", str(data), "add-official", "--id", "LD-0001", "--agency", "Văn phòng Chính phủ",
         "--roles", "dashboard"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    srv = helpers.start_server(data)
    yield srv, token, data / "citizen-server.db"
    helpers.stop_server(srv)


def _get(srv, path: str, token: str | None) -> tuple[int, str]:
    ctx = ssl.create_default_context(cadata=srv.ca_pem)
    req = urllib.request.Request(srv.base_url + path, headers={"x-official-token": token} if token else {})
    try:
        with urllib.request.urlopen(req, context=ctx) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def _independent(db: Path, start: dt.date, end: dt.date, today: dt.date) -> dict[tuple[str, str, str], dict]:
    """Every cell of the CSV, recomputed with pandas from the case tables."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    cases = pd.read_sql_query(
        "SELECT case_number, account_id, procedure_id, province_code, status, received_at, due_date, channel FROM cases",
        con)
    events = pd.read_sql_query("SELECT case_number, status, at FROM case_events", con)
    con.close()
    lo = dt.datetime.combine(start, dt.time(), dt.timezone.utc) - VN
    hi = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), dt.timezone.utc) - VN
    cases = cases[(cases.received_at >= lo.timestamp()) & (cases.received_at < hi.timestamp())].copy()
    decided = events[events.status.isin(["approved", "rejected"])].groupby("case_number").at.min()
    supplements = events[events.status == "needs_supplement"].groupby("case_number").size()
    cases["decided_at"] = cases.case_number.map(decided)
    cases["supplements"] = cases.case_number.map(supplements).fillna(0).astype(int)
    cases["province_code"] = cases.province_code.fillna("unknown")
    cases["days"] = (cases.decided_at - cases.received_at) / 86400.0
    vn_date = lambda s: (pd.to_datetime(s, unit="s") + VN).dt.date  # noqa: E731
    due = pd.to_datetime(cases.due_date).dt.date
    pending = cases.status.isin(["received", "processing", "needs_supplement"])
    decided_day = vn_date(cases.decided_at.fillna(0))
    cases["overdue"] = (cases.decided_at.notna() & (decided_day > due)) | (cases.decided_at.isna() & pending & (due < today))
    cases["pending"] = pending

    def figures(g: pd.DataFrame, reason: str | None) -> dict:
        if reason:
            return {"suppressed": True, "suppressed_reason": reason}
        days = g.days.dropna()
        q = lambda p: round(float(days.quantile(p, interpolation="lower")), 2) if len(days) else None  # noqa: E731
        return {
            "suppressed": False, "suppressed_reason": None, "received": len(g),
            "approved": int(g.status.isin(["approved", "completed"]).sum()),
            "rejected": int((g.status == "rejected").sum()), "pending": int(g.pending.sum()),
            "overdue": int(g.overdue.sum()), "median_days": q(0.5), "p90_days": q(0.9),
            "supplements": int(g.supplements.sum()), "online": int((g.channel == "online").sum()),
            "counter": int((g.channel == "counter").sum()),
        }

    # The published members, in the server's order: total, procedures, provinces, cells, months.
    received_month = (pd.to_datetime(cases.received_at, unit="s") + VN).dt.strftime("%Y-%m")
    months = pd.period_range(start, end, freq="M").strftime("%Y-%m").tolist()
    members: list[tuple[tuple[str, str, str], pd.DataFrame]] = [(("total", "", ""), cases)]
    members += [(("procedure", p, ""), g) for p, g in cases.groupby("procedure_id")]
    members += [(("province", "", v), g) for v, g in cases.groupby("province_code")]
    members += [(("cell", p, v), g) for (p, v), g in cases.groupby(["procedure_id", "province_code"])]
    members += [(("month", m, ""), cases[received_month == m]) for m in months]
    index = {key: i for i, (key, _) in enumerate(members)}
    groups = [
        (0, [i for (k, *_), i in index.items() if k == "procedure"]),
        (0, [i for (k, *_), i in index.items() if k == "province"]),
        (0, [i for (k, *_), i in index.items() if k == "month"]),
    ]
    groups += [(index[key], [i for (k, p, _), i in index.items() if k == "cell" and p == key[1]])
               for key in index if key[0] == "procedure"]
    groups += [(index[key], [i for (k, _, v), i in index.items() if k == "cell" and v == key[2]])
               for key in index if key[0] == "province"]
    reasons = _protect([(len(g), frozenset(g.account_id)) for _, g in members], groups)
    out = {key: figures(g, reasons[index[key]]) for key, g in members if key[0] != "month"}
    for key, g in members:
        if key[0] == "month":
            reason = reasons[index[key]]
            out[key] = {"suppressed": reason is not None, "suppressed_reason": reason,
                        "received": None if reason else len(g)}
    return out


def _protect(members: list[tuple[int, frozenset]], groups: list[tuple[int, list[int]]]) -> list[str | None]:
    """Small-cell protection, written from the rule in server/src/dashboard/suppress.rs: primary
    (fewer than THRESHOLD citizens), then complementary to a fixed point — the first margin where
    a published parent has exactly one hidden part, or hidden parts together from fewer than
    THRESHOLD citizens, or a hidden parent has no hidden part, gets its smallest published part
    (cases, citizens, order) hidden, else its parent — then an audit: a hidden member whose value
    the margins and the published members determine gets the smallest published member of its
    margins hidden (of all members if none); repeat."""
    state = ["small" if len(c) < THRESHOLD else None for _, c in members]

    def smallest(candidates):
        shown = [i for i in candidates if state[i] is None]
        return min(shown, key=lambda i: (members[i][0], len(members[i][1]), i)) if shown else None

    def broken(parent: int, children: list[int]) -> bool:
        hidden = [c for c in children if state[c]]
        if state[parent]:
            return bool(children) and not hidden
        if not hidden:
            return False
        return len(hidden) == 1 or len(frozenset().union(*(members[c][1] for c in hidden))) < THRESHOLD

    while True:
        while (g := next((g for g in groups if broken(*g)), None)) is not None:
            pick = smallest(g[1])
            state[g[0] if pick is None else pick] = "complementary"
        exposed = _first_recoverable(len(members), groups, state)
        if exposed is None:
            return state
        around = [m for parent, children in groups if exposed == parent or exposed in children
                  for m in [parent, *children]]
        pick = smallest(around)
        state[smallest(range(len(members))) if pick is None else pick] = "complementary"


def _first_recoverable(n: int, groups: list[tuple[int, list[int]]], state: list[str | None]) -> int | None:
    """The first hidden member whose value is determined: its unit vector is in the row space of
    the margins' equations over the hidden members (rank unchanged when it is added)."""
    unknown = [i for i in range(n) if state[i]]
    if not unknown:
        return None
    col = {m: k for k, m in enumerate(unknown)}
    a = np.zeros((len(groups), len(unknown)))
    for r, (parent, children) in enumerate(groups):
        if parent in col:
            a[r, col[parent]] += 1
        for c in children:
            if c in col:
                a[r, col[c]] -= 1
    rank = np.linalg.matrix_rank(a)
    for m in unknown:
        e = np.zeros((1, len(unknown)))
        e[0, col[m]] = 1
        if np.linalg.matrix_rank(np.vstack([a, e])) == rank:
            return m
    return None


def _csv_cells(text: str) -> dict[tuple[str, str, str], dict]:
    cells = {}
    for row in csv.DictReader(io.StringIO(text)):
        key = (row["scope"], row["procedure_id"], row["province_code"])
        if row["suppressed"] == "1":
            assert all(row[f] == "" for f in FIGURES), f"a suppressed cell shows a figure: {row}"
            assert row["suppressed_reason"] in ("small", "complementary"), row
            cells[key] = {"suppressed": True, "suppressed_reason": row["suppressed_reason"]}
            continue
        assert row["suppressed_reason"] == "", row
        cell = {"suppressed": False, "suppressed_reason": None}
        for f in FIGURES:
            v = row[f]
            cell[f] = None if v == "" else (float(v) if f.endswith("_days") else int(v))
        cells[key] = cell
    return cells


def _api_cells(d: dict) -> dict[tuple[str, str, str], dict]:
    cells = {}
    for scope, items in (("total", [d["total"]]), ("procedure", d["by_procedure"]), ("province", d["by_province"]),
                         ("cell", d["cells"])):
        for c in items:
            key = (scope, c["procedure_id"], c["province_code"])
            reason = {"suppressed": c["suppressed"], "suppressed_reason": c["suppressed_reason"]}
            cells[key] = reason if c["suppressed"] else {**reason, **{f: c[f] for f in FIGURES}}
    return cells


def _api_months(d: dict) -> dict[tuple[str, str, str], dict]:
    return {("month", m["month"], ""): {"suppressed": m["suppressed"], "suppressed_reason": m["suppressed_reason"],
                                        "received": m["received"]} for m in d["months"]}


def _close(a: dict, b: dict) -> bool:
    if a.keys() != b.keys():
        return False
    for k in a:
        x, y = a[k], b[k]
        if isinstance(x, float) or isinstance(y, float):
            if x is None or y is None or not math.isclose(x, y, abs_tol=0.011):
                return False
        elif x != y:
            return False
    return True


def test_dashboard_figures_match_an_independent_computation(seeded):
    srv, token, db = seeded
    assert _get(srv, "/v1/official/dashboard", None)[0] == 401
    status, body = _get(srv, "/v1/official/dashboard", token)
    assert status == 200, body
    api = json.loads(body)
    status, text = _get(srv, "/official/dashboard.csv", token)
    assert status == 200
    exported = _csv_cells(text)
    assert exported.keys() == _api_cells(api).keys()
    for key, cell in _api_cells(api).items():
        assert _close(cell, exported[key]), (key, cell, exported[key])

    mine = _independent(db, dt.date.fromisoformat(api["from"]), dt.date.fromisoformat(api["to"]),
                        dt.date.fromisoformat(api["today"]))
    published = {**exported, **_api_months(api)}
    assert mine.keys() == published.keys()
    for key, cell in mine.items():
        assert _close(cell, published[key]), (key, cell, published[key])
    total = exported[("total", "", "")]
    assert not total["suppressed"] and total["received"] > 500 and total["counter"] > 0 and total["overdue"] > 0
    shown = [k for k, c in exported.items() if k[0] == "province" and not c["suppressed"]]
    assert len(shown) >= 10, "provinces with enough citizens are shown"
    assert any(c["suppressed_reason"] == "small" for c in exported.values()), "small cells are suppressed"
    assert any(c["suppressed_reason"] == "complementary" for c in exported.values()), "and protected"
    _difference_attack_fails(exported)
    print(f"dashboard: {len(exported)} cells, {sum(not c['suppressed'] for c in exported.values())} shown")


def _difference_attack_fails(cells: dict[tuple[str, str, str], dict]) -> None:
    """Subtract the shown parts from every shown total of the CSV: what is left is never one
    hidden cell's figure but the sum of several, from at least THRESHOLD citizens (so at least
    THRESHOLD cases); and a hidden total is never the sum of shown parts."""
    procs = sorted(k[1] for k in cells if k[0] == "procedure")
    provs = sorted(k[2] for k in cells if k[0] == "province")
    margins = [(("total", "", ""), [("procedure", p, "") for p in procs]),
               (("total", "", ""), [("province", "", v) for v in provs])]
    margins += [(("procedure", p, ""), [k for k in cells if k[0] == "cell" and k[1] == p]) for p in procs]
    margins += [(("province", "", v), [k for k in cells if k[0] == "cell" and k[2] == v]) for v in provs]
    attacked = 0
    for parent, children in margins:
        if cells[parent]["suppressed"]:
            assert any(cells[c]["suppressed"] for c in children), f"{parent} is the sum of its shown parts"
            continue
        hidden = [c for c in children if cells[c]["suppressed"]]
        left = cells[parent]["received"] - sum(cells[c]["received"] for c in children if not cells[c]["suppressed"])
        assert len(hidden) != 1, f"{parent} minus its shown parts gives {hidden[0]} = {left}"
        assert not hidden or left >= THRESHOLD, (parent, hidden, left)
        attacked += bool(hidden)
    assert attacked > 0, "the attack was tried on margins with hidden parts"


def test_dashboard_renders_in_chromium(seeded, browser_factory):
    srv, token, _ = seeded
    status, body = _get(srv, "/v1/official/dashboard", token)
    assert status == 200
    api = _api_cells(json.loads(body))
    driver = browser_factory(srv)
    driver.get(srv.base_url + "/official/dashboard")
    driver.find_element(By.ID, "token").send_keys(token)
    driver.find_element(By.ID, "signin").click()
    assert "Bảng điều hành dịch vụ công" in driver.title
    charts = driver.find_elements(By.CSS_SELECTOR, "svg[role=img]")
    assert len(charts) == 3 and all(c.size["width"] > 100 for c in charts)
    assert not driver.find_elements(By.TAG_NAME, "script")

    artifacts = Path(os.environ.get("CITIZEN_TEST_ARTIFACTS", helpers.REPO / "target" / "test-artifacts"))
    artifacts.mkdir(parents=True, exist_ok=True)
    shot = artifacts / "dashboard.png"
    driver.set_window_size(1400, 3000)
    assert driver.save_screenshot(str(shot))
    print(f"dashboard screenshot: {shot}")

    seen = 0
    tables = {"Tổng hợp": "total", "Theo thủ tục": "procedure", "Theo tỉnh/thành phố": "province",
              "Theo thủ tục và tỉnh/thành phố": "cell"}
    for h2 in driver.find_elements(By.TAG_NAME, "h2"):
        scope = tables[h2.text]
        table = h2.find_element(By.XPATH, "following-sibling::table[1]")
        for tr in table.find_elements(By.CSS_SELECTOR, "tbody tr"):
            key = (scope, tr.get_attribute("data-procedure"), tr.get_attribute("data-province"))
            expected = api[key]
            assert tr.get_attribute("data-suppressed-reason") == (expected["suppressed_reason"] or ""), key
            note = tr.find_element(By.CSS_SELECTOR, "td.note").text
            assert note == {None: "", "small": "Ẩn: dưới ngưỡng công dân",
                            "complementary": "Ẩn bổ sung: tránh suy ra ô nhỏ từ tổng"}[expected["suppressed_reason"]]
            for td in tr.find_elements(By.CSS_SELECTOR, "td[data-k]"):
                want = None if expected["suppressed"] else expected[td.get_attribute("data-k")]
                text = td.text.strip()
                if want is None:
                    assert text == "—", (key, td.get_attribute("data-k"), text)
                elif isinstance(want, float):
                    assert math.isclose(float(text), want, abs_tol=0.006), (key, text, want)
                else:
                    assert int(text) == want, (key, td.get_attribute("data-k"), text, want)
                seen += 1
    assert seen == len(api) * len(FIGURES), "every cell of the API is on the page"
