"""QR login to the demo portal and a selective share with the demo bank, through the Python
bindings: scan → verification code → approve; the bank asks for required and optional claims,
the citizen adds one optional claim; both uses leave countersigned receipts that verify."""

from __future__ import annotations

import json
import ssl
import urllib.request

import citizen_core as cc
import pytest
from conftest import CITIZENS, PASSCODE, WRONG_PASSCODE, assert_detail, enroll, run

CITIZEN = ("048199000010", "1999-05-05", "+84900000010")


def call(server, method: str, path: str, body: dict | None = None) -> dict:
    ctx = ssl.create_default_context(cadata=server.ca_pem)
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(server.base_url + path, data=data, method=method, headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, context=ctx) as r:
        return json.loads(r.read())


@pytest.fixture
def citizen(server, device):
    assert CITIZEN not in CITIZENS.values()
    core = device.open()
    enroll(core, server, CITIZEN)
    run(core.account().login(PASSCODE))
    return core


def test_qr_login_scan_pick_code_approve(server, citizen):
    core = citizen
    portal = call(server, "POST", "/portal/api/sessions", {})
    status = call(server, "GET", f"/portal/api/sessions/{portal['handle']}")
    assert status["state"] == "pending" and status["frame"].startswith("CZQR1:")

    request = run(core.consent().scan_login_code(status["frame"]))
    assert request.relying_party_id == "dvc-demo"
    assert request.origin == server.base_url
    assert "Cổng Dịch vụ công" in request.relying_party_name_vi
    assert {c.name for c in request.claims} == {"full_name", "birthdate", "cccd_number"}
    assert all(c.label_vi and c.label_en for c in request.claims)
    assert len(request.code_choices) == 3 and len(set(request.code_choices)) == 3

    shown = call(server, "GET", f"/portal/api/sessions/{portal['handle']}")
    assert shown["state"] == "scanned"
    code = shown["verification_code"]
    assert code in request.code_choices

    # A wrong passcode neither approves nor loses the pending request.
    with pytest.raises(cc.CitizenError.PasscodeRejected) as wrong:
        run(core.consent().approve_login(request.session_id, code, WRONG_PASSCODE))
    assert_detail(wrong.value.detail, "auth.passcode_incorrect")

    approval = run(core.consent().approve_login(request.session_id, code, PASSCODE))
    assert approval.receipt.kind == cc.ConsentKind.QR_LOGIN
    assert approval.receipt.relying_party_id == "dvc-demo"
    assert sorted(approval.receipt.claims) == ["birthdate", "cccd_number", "full_name"]
    assert approval.redirect_url is None

    done = call(server, "GET", f"/portal/api/sessions/{portal['handle']}")
    assert done["state"] == "approved"
    assert done["citizen"]["full_name"] == "Đặng Thị Chia Sẻ"

    # The same frame cannot log anyone in again.
    with pytest.raises(cc.CitizenError) as again:
        run(core.consent().scan_login_code(status["frame"]))
    assert again.value.detail.code in ("consent.frame_stale", "consent.already_scanned", "consent.request_expired")

    kinds = [e.kind for e in run(core.activity().list_entries())]
    assert cc.ActivityKind.QR_APPROVAL in kinds


def test_scanner_refuses_garbage_with_stable_codes(citizen):
    core = citizen
    cases = {
        "consent.qr_not_login_code": "https://example.com/login",
        "consent.qr_too_long": "CZQR1:" + "A" * 2000,
        "consent.qr_malformed": "CZQR1:Q1oB",  # magic and version, then nothing
    }
    for code, text in cases.items():
        with pytest.raises(cc.CitizenError.InvalidInput) as e:
            run(core.consent().scan_login_code(text))
        assert_detail(e.value.detail, code)


def test_selective_share_with_the_bank(server, citizen):
    core = citizen
    jws = call(server, "POST", "/rp/bank-demo/requests", {})["request"]
    request = run(core.consent().open_share_request(jws))
    assert request.relying_party_id == "bank-demo"
    assert request.purpose == "account_opening"
    assert request.retention_days > 0
    required = {c.name for c in request.required}
    optional = {c.name for c in request.optional}
    assert {"full_name", "birthdate", "cccd_number"} <= required
    assert "phone" in optional and "permanent_address" in optional

    outcome = run(core.consent().share_data(request.request_id, ["phone"], PASSCODE))
    assert outcome.relying_party_accepted
    assert set(outcome.disclosed_claims) == required | {"phone"}
    assert "permanent_address" not in outcome.disclosed_claims
    assert outcome.receipt.kind == cc.ConsentKind.DATA_SHARE
    assert outcome.receipt.retention_days == request.retention_days

    # The same request cannot be answered twice.
    with pytest.raises(cc.CitizenError):
        run(core.consent().share_data(request.request_id, ["phone"], PASSCODE))

    receipts = run(core.consent().list_receipts())
    assert outcome.receipt.receipt_id in [r.receipt_id for r in receipts]
    exported = run(core.consent().export_receipts())
    assert cc.verify_receipt_export(exported, None) == len(receipts)
    tampered = json.loads(exported)
    tampered["receipts"][-1]["receipt"]["claims"].append("permanent_address")
    with pytest.raises(cc.CitizenError) as e:
        cc.verify_receipt_export(json.dumps(tampered), None)
    assert e.value.detail.code.startswith("consent.")


def server_jwk(server) -> str:
    """The server's published key (JWK), the one a verifier trusts."""
    return json.dumps(call(server, "GET", "/v1/keys")["keys"][0])


def share_once(server, core):
    request = run(core.consent().open_share_request(call(server, "POST", "/rp/bank-demo/requests")["request"]))
    return run(core.consent().share_data(request.request_id, [], PASSCODE))


def test_activity_export_forged_with_its_own_keys_is_refused_with_a_pinned_key(server, citizen):
    """Issue 9: an export verifies against the key the verifier trusts, never the keys inside it."""
    core = citizen
    assert run(core.activity().anchor()) is not None
    exported = json.loads(run(core.activity().export()))
    pinned = server_jwk(server)
    genuine = cc.verify_activity_log_export(json.dumps(exported), pinned)
    assert genuine.intact and genuine.anchored_seq == len(exported["entries"])
    assert genuine.device_public_key == exported["device_public_key"]
    # The anchor re-signed by a key of the forger's, placed in the file's server_keys.
    from cryptography.hazmat.primitives.asymmetric import ec
    import base64

    forged_key = ec.generate_private_key(ec.SECP256R1())
    numbers = forged_key.public_key().public_numbers()
    b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
    exported["server_keys"] = [{
        "kty": "EC", "crv": "P-256", "kid": "forged", "alg": "ES256", "use": "sig",
        "x": b64(numbers.x.to_bytes(32, "big")), "y": b64(numbers.y.to_bytes(32, "big")),
    }]
    header, payload, _ = exported["anchors"][0]["countersignature"].split(".")
    header = b64(json.dumps({"alg": "ES256", "kid": "forged"}).encode())
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    der = forged_key.sign(f"{header}.{payload}".encode(), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    exported["anchors"][0]["countersignature"] = f"{header}.{payload}.{b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"
    report = cc.verify_activity_log_export(json.dumps(exported), pinned)
    assert not report.intact and report.anchored_seq == 0
    assert any(isinstance(p, cc.LogProblem.BAD_ANCHOR) for p in report.problems)
    with pytest.raises(cc.CitizenError) as e:
        cc.verify_activity_log_export(json.dumps(exported), "not a key")
    assert_detail(e.value.detail, "activity.server_key_invalid")


def test_damaged_receipt_row_is_listed_as_damaged_and_receipt_chain_is_checked(server, citizen, device):
    """Issue 9: a corrupt receipt row is reported, not an internal error; receipts are chained."""
    import sqlite3

    core = citizen
    first = share_once(server, core)
    second = share_once(server, core)
    assert (first.receipt.sequence, second.receipt.sequence) == (1, 2)
    assert first.receipt.delivery == cc.ShareDelivery.DELIVERED and first.receipt.damage is None
    exported = run(core.consent().export_receipts())
    pinned = server_jwk(server)
    assert cc.verify_receipt_export(exported, pinned) == 2
    cut = json.loads(exported)
    cut["receipts"].pop()
    with pytest.raises(cc.CitizenError.Refused) as e:
        cc.verify_receipt_export(json.dumps(cut), pinned)
    assert_detail(e.value.detail, "consent.receipts_truncated")

    db = sqlite3.connect(device.data_dir / "citizen-core.db")
    db.execute("UPDATE consent_receipts SET receipt = x'00' WHERE receipt_id = ?", (first.receipt.receipt_id,))
    db.commit()
    db.close()
    listed = run(core.consent().list_receipts())
    assert [r.receipt_id for r in listed] == [second.receipt.receipt_id, first.receipt.receipt_id]
    assert listed[0] == second.receipt
    assert_detail(listed[1].damage, "consent.receipt_damaged")
    with pytest.raises(cc.CitizenError.Refused) as e:
        cc.verify_receipt_export(run(core.consent().export_receipts()), pinned)
    assert_detail(e.value.detail, "consent.receipt_chain_broken")
