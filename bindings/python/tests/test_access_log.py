"""The citizen's access log through the Python bindings (issue 16, item 2): it lists exactly the
reads of the citizen's record made here (two officials' reads, each with agency and purpose),
filters by agency and period, and its server-signed export verifies — and fails once edited."""

from __future__ import annotations

import base64
import datetime as dt
import json
import ssl
import urllib.request

import citizen_core as cc
import pytest
from conftest import CITIZENS, PASSCODE, enroll, run, start_server, stop_server

CITIZEN = CITIZENS["enroll_flow"]  # on a server of its own


@pytest.fixture(scope="module")
def own_server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("access-log-server"))
    yield srv
    stop_server(srv)


def _call(server, path: str, body: dict | None = None, headers: dict | None = None):
    ctx = ssl.create_default_context(cadata=server.ca_pem)
    req = urllib.request.Request(
        server.base_url + path,
        data=json.dumps(body).encode() if body is not None else None,
        method="POST" if body is not None else "GET",
        headers={"content-type": "application/json", **(headers or {})},
    )
    with urllib.request.urlopen(req, context=ctx) as r:
        return json.loads(r.read())


def official_read(server, official: str, agency: str, purpose: str) -> None:
    token = (server.data_dir / "official-token").read_text().strip()
    body = {"cccd": CITIZEN[0], "official_id": official, "agency": agency, "purpose": purpose}
    profile = _call(server, "/v1/official/citizens/record", body, {"x-official-token": token})
    assert profile["cccd"] == CITIZEN[0]


def test_access_log_lists_filters_and_exports(own_server, tmp_path):
    from conftest import Device, SoftwareDataKeyWrapper, SoftwareDeviceKeyStore, core_config

    data_dir = tmp_path / "device"
    data_dir.mkdir()
    core = Device(data_dir, SoftwareDeviceKeyStore(), SoftwareDataKeyWrapper(), core_config(own_server, data_dir)).open()
    enroll(core, own_server, CITIZEN)
    run(core.account().login(PASSCODE))

    everything = cc.AccessLogFilter(agency=None, since=None, until=None)
    log = run(core.account().access_log(everything))
    assert (log.entries, log.total, log.intact) == ([], 0, True)

    official_read(own_server, "CB-0101", "Công an phường Hoàn Kiếm", "case_processing")
    official_read(own_server, "CB-0202", "Sở Tư pháp Hà Nội", "register_maintenance")

    log = run(core.account().access_log(everything))
    assert log.intact and log.total == 2
    assert [(e.seq, e.accessor, e.agency, e.official, e.purpose) for e in log.entries] == [
        (1, cc.AccessorKind.OFFICIAL, "Công an phường Hoàn Kiếm", "CB-0101", cc.AccessPurpose.CASE_PROCESSING),
        (2, cc.AccessorKind.OFFICIAL, "Sở Tư pháp Hà Nội", "CB-0202", cc.AccessPurpose.REGISTER_MAINTENANCE),
    ]
    assert all(isinstance(e.at, dt.datetime) for e in log.entries)

    only = run(core.account().access_log(cc.AccessLogFilter(agency="sở tư pháp hà nội", since=None, until=None)))
    assert [e.official for e in only.entries] == ["CB-0202"]
    future = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=365)
    assert run(core.account().access_log(cc.AccessLogFilter(agency=None, since=future, until=None))).entries == []

    signed = run(core.account().export_access_log())
    keys = json.dumps(_call(own_server, "/v1/keys"))
    report = cc.verify_access_log_export(signed, keys)
    assert report.signature_valid and report.intact and len(report.entries) == 2

    header, payload, sig = signed.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["entries"][0]["agency"] = "Không ai"
    edited = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    report = cc.verify_access_log_export(f"{header}.{edited}.{sig}", keys)
    assert not report.signature_valid and not report.intact
