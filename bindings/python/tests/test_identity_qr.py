"""The short identity QR through the Python bindings (issue 13, item 4): the code the core makes
verifies once at the server, then is refused as a replay; a wrong passcode makes none."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request

import citizen_core as cc
import pytest
from conftest import PASSCODE, WRONG_PASSCODE, enroll, run

# Fictitious register citizen used by no other Python test.
CITIZEN = ("001190000008", "1990-03-03", "+84900000008")


def verify(server, qr: str) -> tuple[int, dict]:
    ctx = ssl.create_default_context(cadata=server.ca_pem)
    req = urllib.request.Request(
        server.base_url + "/v1/identity/verify",
        data=json.dumps({"qr": qr}).encode(),
        method="POST",
        headers={"content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, context=ctx) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_identity_qr_verifies_once_online(server, device):
    core = device.open()
    enroll(core, server, CITIZEN)
    run(core.account().login(PASSCODE))
    with pytest.raises(cc.CitizenError):
        run(core.account().identity_qr(WRONG_PASSCODE))
    code = run(core.account().identity_qr(PASSCODE))
    assert code.text.startswith("CZID1:")
    assert code.valid_for.total_seconds() == 60
    status, body = verify(server, code.text)
    assert status == 200, body
    assert (body["full_name"], body["birthdate"], body["level"]) == ("Bùi Thị Mô Phỏng", "1990-03-03", 1)
    status, body = verify(server, code.text)
    assert (status, body["code"]) == (409, "idqr.replayed")
