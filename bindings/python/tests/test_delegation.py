"""Delegation through the Python bindings (issue 15 item 5, decision 49): a parent lists the
children the register gives them, files a residence notification for one (prefilled from the
child's record; the receipt names the mandate), sees the case under the child, and the mandate
verifies offline; a procedure outside the mandate, someone who is not a dependant, a revoked
mandate and a forged one are each refused with their own code."""

from __future__ import annotations

import base64
import datetime as dt
import json
import ssl
import urllib.request

import citizen_core as cc
import pytest
from conftest import PASSCODE, assert_detail, enroll, run, start_server, stop_server

PARENT = ("001090000001", "1990-01-15", "+84900000001")  # on a server of its own
CHILD = "001216000012"
YOUNGER = "001319000013"
WARD = "079058000014"


@pytest.fixture(scope="module")
def own_server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("delegation-server"))
    yield srv
    stop_server(srv)


def _get(server, path: str) -> str:
    ctx = ssl.create_default_context(cadata=server.ca_pem)
    with urllib.request.urlopen(urllib.request.Request(server.base_url + path), context=ctx) as r:
        return r.read().decode()


def vn_day(offset: int) -> str:
    return (dt.datetime.now(dt.timezone(dt.timedelta(hours=7))).date() + dt.timedelta(days=offset)).isoformat()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(jws: str) -> dict:
    part = jws.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def test_a_parent_files_for_a_child_and_every_refusal_has_its_code(own_server, tmp_path):
    from conftest import Device, SoftwareDataKeyWrapper, SoftwareDeviceKeyStore, core_config

    data_dir = tmp_path / "device"
    data_dir.mkdir()
    core = Device(data_dir, SoftwareDeviceKeyStore(), SoftwareDataKeyWrapper(), core_config(own_server, data_dir)).open()
    enroll(core, own_server, PARENT)
    run(core.account().login(PASSCODE))
    run(core.services().refresh_catalogue())

    dependants = run(core.account().dependants())
    assert sorted(d.profile.cccd for d in dependants) == [CHILD, YOUNGER]
    child = next(d for d in dependants if d.profile.cccd == CHILD)
    assert child.relation == cc.GuardianRelation.PARENT
    assert child.mandate.state == cc.MandateState.ACTIVE
    assert "residence-notification" in child.mandate.procedures
    assert "health_insurance" in child.mandate.document_types

    # The mandate verifies offline against the published keys; a forged one does not.
    keys = _get(own_server, "/v1/keys")
    verified = cc.verify_mandate(child.mandate.signed, keys, own_server.audience)
    assert (verified.guardian_name, verified.dependant_name) == ("Nguyễn Văn Mẫu", "Nguyễn Minh Con Mẫu")
    header, payload, sig = child.mandate.signed.split(".")
    claims = _claims(child.mandate.signed)
    claims["dependant_cccd"] = WARD
    forged = f"{header}.{_b64(json.dumps(claims).encode())}.{sig}"
    with pytest.raises(cc.CitizenError.Refused) as e:
        cc.verify_mandate(forged, keys, own_server.audience)
    assert_detail(e.value.detail, "delegation.mandate_invalid")

    # Outside the scope; not a dependant.
    with pytest.raises(cc.CitizenError.Refused) as e:
        run(core.services().create_draft_for("id-card-reissue", CHILD))
    assert_detail(e.value.detail, "delegation.out_of_scope")
    with pytest.raises(cc.CitizenError.Refused) as e:
        run(core.services().create_draft_for("residence-notification", WARD))
    assert_detail(e.value.detail, "delegation.not_dependant")

    # The child's residence notification: prefilled and locked from the child's record.
    draft = run(core.services().create_draft_for("residence-notification", CHILD))
    assert draft.on_behalf_of == CHILD
    assert (draft.values["host_cccd"], draft.values["host_full_name"]) == (CHILD, "Nguyễn Minh Con Mẫu")
    assert "host_cccd" in draft.locked_fields
    run(
        core.services().update_draft(
            draft.draft_id,
            {
                "guests.0.full_name": "Khách Thử Nghiệm",
                "guests.0.cccd": "079195000002",
                "guests.0.relationship": "ban_be",
                "reason": "du_lich",
                "from_date": vn_day(1),
                "to_date": vn_day(5),
            },
        )
    )
    run(core.services().submit_draft(draft.draft_id, PASSCODE))
    run(core.services().sync_outbox())
    item = run(core.services().list_outbox())[0]
    assert item.state == cc.OutboxState.DELIVERED, item
    receipt = _claims(item.receipt)
    assert receipt["on_behalf"] == {"mandate_id": child.mandate.mandate_id, "dependant_cccd": CHILD}
    entries = run(core.activity().list_entries())
    assert any(f"on_behalf=mandate:{child.mandate.mandate_id}" in e.summary for e in entries)

    child = next(d for d in run(core.account().dependants()) if d.profile.cccd == CHILD)
    assert [(c.case_number, c.filed_by) for c in child.cases] == [(item.case_number, PARENT[0])]

    # Revoked by the parent: listed as revoked, unusable, and cannot be revoked twice.
    younger = next(d for d in dependants if d.profile.cccd == YOUNGER).mandate.mandate_id
    run(core.account().revoke_mandate(younger))
    with pytest.raises(cc.CitizenError.Refused) as e:
        run(core.account().revoke_mandate(younger))
    assert_detail(e.value.detail, "delegation.revoked")
    with pytest.raises(cc.CitizenError.Refused) as e:
        run(core.services().create_draft_for("residence-notification", YOUNGER))
    assert_detail(e.value.detail, "delegation.revoked")
    younger = next(d for d in run(core.account().dependants()) if d.profile.cccd == YOUNGER).mandate
    assert (younger.state, younger.signed, younger.revoked_by) == (cc.MandateState.REVOKED, None, "guardian")
