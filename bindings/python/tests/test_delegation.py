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


VERIFIER_ID = "verifier:benh-vien-mau"


def _with_mandate(presentation: str, mandate: str) -> str:
    v = json.loads(presentation)
    v["mandate"] = mandate
    return json.dumps(v)


@pytest.fixture
def fresh_server(tmp_path_factory):
    """A server of its own: the test above revokes the younger child's mandate."""
    srv = start_server(tmp_path_factory.mktemp("delegation-documents-server"))
    yield srv
    stop_server(srv)


def test_a_parent_presents_the_childs_health_insurance_card_to_a_verifier(fresh_server, tmp_path):
    """Decision 52: the child's card is issued bound to the parent's device key, presented with
    the mandate beside the SD-JWT + KB-JWT, and the verifier (offline) names both; each attack
    is refused with its own code."""
    from conftest import Device, SoftwareDataKeyWrapper, SoftwareDeviceKeyStore, core_config

    own_server = fresh_server

    data_dir = tmp_path / "device"
    data_dir.mkdir()
    core = Device(data_dir, SoftwareDeviceKeyStore(), SoftwareDataKeyWrapper(), core_config(own_server, data_dir)).open()
    enroll(core, own_server, PARENT)
    run(core.account().login(PASSCODE))
    docs = core.documents()

    card = run(docs.fetch_for_dependant(CHILD, cc.DocumentType.HEALTH_INSURANCE_CARD))
    assert (card.dependant_cccd, card.dependant_name) == (CHILD, "Nguyễn Minh Con Mẫu")
    assert {f.identifier: f.value for f in card.fields}["full_name"] == "Nguyễn Minh Con Mẫu"
    assert [d.id for d in run(docs.list_for_dependants())] == [card.id]
    assert run(docs.list()) == []  # the parent's own wallet is untouched

    # Refused by the server: outside the scope, not a dependant.
    with pytest.raises(cc.CitizenError.Refused) as e:
        run(docs.fetch_for_dependant(CHILD, cc.DocumentType.DRIVING_LICENCE))
    assert_detail(e.value.detail, "delegation.out_of_scope")
    with pytest.raises(cc.CitizenError.Refused) as e:
        run(docs.fetch_for_dependant(WARD, cc.DocumentType.HEALTH_INSURANCE_CARD))
    assert_detail(e.value.detail, "delegation.not_dependant")

    verifier_dir = tmp_path / "verifier"
    config = cc.default_verifier_config(own_server.base_url, str(verifier_dir))
    config.trust_anchors_pem = [own_server.ca_pem]
    verifier = run(cc.Verifier.open(config))
    run(verifier.refresh_trust())

    fields = ["full_name", "insurance_number", "valid_until"]
    share = run(docs.present_for_dependant(card.id, fields, VERIFIER_ID, "nonce-1", PASSCODE))
    ok = run(verifier.verify_on_behalf(share.presentation, VERIFIER_ID, "nonce-1"))
    assert (ok.guardian_name, ok.dependant_name) == ("Nguyễn Văn Mẫu", "Nguyễn Minh Con Mẫu")
    assert ok.relation == cc.GuardianRelation.PARENT
    assert ok.document_type == cc.DocumentType.HEALTH_INSURANCE_CARD
    assert ok.summary_en == "Health insurance card of child Nguyễn Minh Con Mẫu presented by parent Nguyễn Văn Mẫu"
    assert "do cha/mẹ Nguyễn Văn Mẫu trình" in ok.summary_vi
    assert sorted(f.identifier for f in ok.fields) == sorted(fields)
    assert ok.revocation_checked
    entries = run(core.activity().list_entries())
    entry = next(e for e in entries if f"receipt={share.receipt_id}" in e.summary)
    assert f"on_behalf=mandate:{card.mandate_id}" in entry.summary and CHILD not in entry.summary

    # Replayed under another nonce.
    with pytest.raises(cc.CitizenError.Refused) as e:
        run(verifier.verify_on_behalf(share.presentation, VERIFIER_ID, "nonce-2"))
    assert_detail(e.value.detail, "consent.presentation_replayed")
    # The younger child's mandate beside this child's card.
    younger = next(d for d in run(core.account().dependants()) if d.profile.cccd == YOUNGER).mandate
    with pytest.raises(cc.CitizenError.Refused) as e:
        run(verifier.verify_on_behalf(_with_mandate(share.presentation, younger.signed), VERIFIER_ID, "nonce-1"))
    assert_detail(e.value.detail, "delegation.not_dependant")
    # A forged mandate.
    claims = _claims(younger.signed)
    claims["document_types"] = ["health_insurance", "cccd", "driving_licence"]
    h, _, s = younger.signed.split(".")
    forged = f"{h}.{_b64(json.dumps(claims).encode())}.{s}"
    with pytest.raises(cc.CitizenError.Refused) as e:
        run(verifier.verify_on_behalf(_with_mandate(share.presentation, forged), VERIFIER_ID, "nonce-1"))
    assert_detail(e.value.detail, "delegation.mandate_invalid")

    # Revoked before issuance: the server refuses the younger child's card.
    run(core.account().revoke_mandate(younger.mandate_id))
    with pytest.raises(cc.CitizenError.Refused) as e:
        run(docs.fetch_for_dependant(YOUNGER, cc.DocumentType.HEALTH_INSURANCE_CARD))
    assert_detail(e.value.detail, "delegation.revoked")

    # Another citizen's own key under this mandate: the other parent presents the younger
    # child's card (bound to their key) with the first parent's mandate.
    other_dir = tmp_path / "other-parent"
    other_dir.mkdir()
    other = Device(
        other_dir, SoftwareDeviceKeyStore(), SoftwareDataKeyWrapper(), core_config(own_server, other_dir)
    ).open()
    enroll(other, own_server, ("031187000004", "1987-09-09", "+84900000004"))
    run(other.account().login(PASSCODE))
    theirs = run(other.documents().fetch_for_dependant(YOUNGER, cc.DocumentType.HEALTH_INSURANCE_CARD))
    their_share = run(other.documents().present_for_dependant(theirs.id, fields, VERIFIER_ID, "nonce-3", PASSCODE))
    assert run(verifier.verify_on_behalf(their_share.presentation, VERIFIER_ID, "nonce-3")).guardian_name == (
        "Phạm Thị Giả Định"
    )
    ours = json.loads(share.presentation)["mandate"]
    with pytest.raises(cc.CitizenError.Refused) as e:
        run(verifier.verify_on_behalf(_with_mandate(their_share.presentation, ours), VERIFIER_ID, "nonce-3"))
    assert_detail(e.value.detail, "delegation.wrong_holder")

    run(docs.delete_for_dependant(card.id))
    assert run(docs.list_for_dependants()) == []
