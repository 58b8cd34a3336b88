"""Corrections of the register through the Python bindings (issue 16 item 1, decision 50): the
citizen proposes a correction of their place of origin with evidence (an ordinary draft through
the outbox), a named official with the `register` role approves it, the profile and the identity
credential change (the old credential revoked in the status list), and the access log lists the
official's reads. A proposal the server refuses ends in the outbox with its own code."""

from __future__ import annotations

import json
import ssl
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import citizen_core as cc
import pytest
from conftest import CITIZENS, PASSCODE, REPO, enroll, run, start_server, stop_server

CITIZEN = CITIZENS["spare_4"]  # on a server of its own
ORIGIN_BEFORE = "Xã Thử Nghiệm, Tỉnh Lạng Sơn"
ORIGIN_AFTER = "Xã Thử Nghiệm Mới, Tỉnh Lạng Sơn"


def _server_bin() -> str:
    import os

    return os.environ.get("CITIZEN_SERVER_BIN", str(REPO / "target" / "debug" / "citizen-server"))


def add_official(data_dir: Path, official_id: str, agency: str, roles: str) -> str:
    """`citizen-server add-official` on the server's data directory; the token is printed once."""
    out = subprocess.run(
        [_server_bin(), "--data-dir", str(data_dir), "add-official", "--id", official_id, "--agency", agency,
         "--roles", roles],
        check=True, capture_output=True, text=True,
    )
    return out.stdout.strip()


@pytest.fixture(scope="module")
def own_server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("corrections-server"))
    yield srv
    stop_server(srv)


def _official(server, token: str, path: str, body: dict | None = None):
    ctx = ssl.create_default_context(cadata=server.ca_pem)
    req = urllib.request.Request(
        server.base_url + path,
        data=json.dumps(body).encode() if body is not None else None,
        method="POST" if body is not None else "GET",
        headers={"content-type": "application/json", "x-official-token": token},
    )
    try:
        with urllib.request.urlopen(req, context=ctx) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def _propose(services, field: str, key: str, value: str, evidence: bool):
    draft = run(services.create_draft("register-correction"))
    run(services.update_draft(draft.draft_id, {"field": field, key: value,
                                               "reason": "Thông tin bị ghi sai khi nhập (dữ liệu giả định)"}))
    if evidence:
        run(services.attach_bytes(draft.draft_id, "evidence", "giay-khai-sinh.pdf", "application/pdf",
                                  b"%PDF-1.4 fictitious birth certificate"))
    return run(services.submit_draft(draft.draft_id, PASSCODE))


def test_a_correction_approved_changes_profile_and_credential(own_server, tmp_path):
    from conftest import Device, SoftwareDataKeyWrapper, SoftwareDeviceKeyStore, core_config

    registrar = add_official(own_server.data_dir, "CB-0300", "Công an xã Thử Nghiệm", "register")
    clerk = add_official(own_server.data_dir, "CB-0301", "Công an xã Thử Nghiệm", "records")
    data_dir = tmp_path / "device"
    data_dir.mkdir()
    core = Device(data_dir, SoftwareDeviceKeyStore(), SoftwareDataKeyWrapper(), core_config(own_server, data_dir)).open()
    enroll(core, own_server, CITIZEN)
    run(core.account().login(PASSCODE))
    services = core.services()
    run(services.refresh_catalogue())
    profile = run(services.refresh_profile())
    assert profile.place_of_origin == ORIGIN_BEFORE
    assert (profile.occupation, profile.education, profile.blood_group, profile.contact_address) == (None,) * 4

    assert run(core.consent().credential_info(False)) is None
    run(core.consent().fetch_credential())
    old = run(core.consent().credential_info(True))
    assert old.claims["place_of_origin"] == ORIGIN_BEFORE and old.revoked is False and old.status_index is not None

    # The draft validates on the device: evidence is required for a place of origin.
    draft = run(services.create_draft("register-correction"))
    run(services.update_draft(draft.draft_id, {"field": "place_of_origin", "new_value": ORIGIN_AFTER,
                                               "reason": "Sai chính tả"}))
    assert "evidence" in [e.field for e in run(services.validate_draft(draft.draft_id))]
    run(services.delete_draft(draft.draft_id))

    # A proposal the server refuses (the register already holds it) ends with its own code.
    same = _propose(services, "place_of_origin", "new_value", ORIGIN_BEFORE, True)
    run(services.sync_outbox())
    refused = next(i for i in run(services.list_outbox()) if i.submission_id == same.submission_id)
    assert refused.state == cc.OutboxState.REJECTED
    assert refused.last_error.code == "correction.unchanged" and "trùng" in refused.last_error.message_vi

    item = _propose(services, "place_of_origin", "new_value", ORIGIN_AFTER, True)
    run(services.sync_outbox())
    case = next(i for i in run(services.list_outbox()) if i.submission_id == item.submission_id).case_number
    assert case

    status, body = _official(own_server, clerk, "/v1/official/corrections/decide",
                             {"case_number": case, "decision": "approve"})
    assert (status, body["code"]) == (403, "official_forbidden")
    status, seen = _official(own_server, registrar, "/v1/official/corrections/view", {"case_number": case})
    assert status == 200 and (seen["current_value"], seen["proposed_value"]) == (ORIGIN_BEFORE, ORIGIN_AFTER)
    status, decided = _official(own_server, registrar, "/v1/official/corrections/decide",
                                {"case_number": case, "decision": "approve"})
    assert status == 200 and decided["state"] == "approved"

    # The case event refreshes the profile; the old credential is revoked, a new one is fetched.
    run(services.sync_cases())
    assert next(c for c in run(services.list_cases()) if c.case_number == case).status == cc.CaseStatus.APPROVED
    assert run(services.get_profile()).place_of_origin == ORIGIN_AFTER
    assert run(core.consent().credential_info(True)).revoked is True
    run(core.consent().fetch_credential())
    new = run(core.consent().credential_info(True))
    assert new.claims["place_of_origin"] == ORIGIN_AFTER and new.revoked is False
    assert new.status_index != old.status_index

    # Who read the record: the form's check, then the official's view and decision, by name.
    log = run(core.account().access_log(cc.AccessLogFilter(agency=None, since=None, until=None)))
    assert log.intact
    officials = [(e.official, e.agency, e.purpose, e.reference) for e in log.entries
                 if e.accessor == cc.AccessorKind.OFFICIAL]
    assert officials == [("CB-0300", "Công an xã Thử Nghiệm", cc.AccessPurpose.REGISTER_MAINTENANCE, case)] * 2
    run(core.shutdown())
