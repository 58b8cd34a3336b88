"""Reader authentication by the verifier mode and the countersigning of in-person receipts,
through the Python bindings (issue 13; ARCHITECTURE.md decision 45). A verifier enrols as the
traffic police (its reader key generated here, the certificate issued by the server under the
trust list's reader root with the officials' token) and the citizen's phone shows it by name;
a hospital reader asking for the licence's categories is refused; a reader certified by another
authority is refused, not shown. The receipts of those presentations are countersigned when the
phone syncs."""

from __future__ import annotations

import json

import citizen_core as cc
import pytest
from conftest import (
    PASSCODE,
    SoftwareDataKeyWrapper,
    SoftwareDeviceKeyStore,
    assert_detail,
    core_config,
    enroll,
    run,
    start_server,
    stop_server,
)
from test_presentation import link, sel

CITIZEN = ("001090000001", "1990-01-15", "+84900000001")


def verifier_of(srv, directory, role=None):
    config = cc.default_verifier_config(srv.base_url, str(directory))
    config.trust_anchors_pem = [srv.ca_pem]
    config.spki_pins = [srv.pin, srv.backup_pin]
    v = run(cc.Verifier.open(config))
    run(v.refresh_trust())
    if role is not None:
        token = (srv.data_dir / "official-token").read_text().strip()
        run(v.enrol_reader(token, role))
    return v


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    data = tmp_path_factory.mktemp("reader_auth")
    srv = start_server(data / "server")
    foreign = start_server(data / "foreign")
    try:
        (data / "phone").mkdir()
        core = run(cc.CitizenCore.open(core_config(srv, data / "phone"), SoftwareDeviceKeyStore(), SoftwareDataKeyWrapper()))
        enroll(core, srv, CITIZEN)
        run(core.account().login(PASSCODE))
        assert len(run(core.documents().refresh())) == 4
        police = verifier_of(srv, data / "police")
        assert run(police.enrolled_reader()) is None
        with pytest.raises(cc.CitizenError):
            run(police.enrol_reader("not-the-token", cc.VerifierRole.TRAFFIC_POLICE))
        token = (srv.data_dir / "official-token").read_text().strip()
        enrolled = run(police.enrol_reader(token, cc.VerifierRole.TRAFFIC_POLICE))
        assert (enrolled.name_vi, enrolled.name_en) == ("Cảnh sát giao thông", "Traffic police")
        hospital = verifier_of(srv, data / "hospital", cc.VerifierRole.HOSPITAL)
        stranger = verifier_of(foreign, data / "stranger", cc.VerifierRole.TRAFFIC_POLICE)
    finally:
        stop_server(foreign)
    yield core, srv, police, hospital, stranger
    stop_server(srv)


def ask(core, verifier, request):
    holder, reader = link()
    session = run(core.documents().start_presentation(holder))
    vs = run(verifier.start_session(session.engagement_qr(), request, reader))
    return session, vs


def test_an_enrolled_police_reader_is_shown_by_name(world):
    core, _, police, _, _ = world
    session, vs = ask(core, police, cc.VerifierRequest.DRIVING_LICENCE_CHECK())
    request = run(session.await_request())
    assert request.requester.authenticated and request.requester.states_authorisation
    assert request.requester.common_name == "Cảnh sát giao thông / Traffic police (demo reader)"
    run(session.approve([sel("family_name"), sel("driving_privileges")], PASSCODE))
    assert run(vs.await_response()).overall == cc.VerdictOverall.VALID()


def test_a_reader_asking_beyond_its_authorisation_is_refused(world):
    core, _, _, hospital, _ = world
    session, vs = ask(core, hospital, cc.VerifierRequest.DRIVING_LICENCE_CHECK())
    with pytest.raises(cc.CitizenError.Refused) as e:
        run(session.await_request())
    assert_detail(e.value.detail, "mdoc.reader_not_authorised")
    assert isinstance(run(vs.await_response()).overall, cc.VerdictOverall.INVALID)
    # Within its authorisation (birth date and portrait of the licence): shown and answered.
    session, vs = ask(core, hospital, cc.VerifierRequest.AGE_OVER18())
    assert run(session.await_request()).requester.common_name.endswith("Hospital reception (demo reader)")
    run(session.approve([sel("birth_date")], PASSCODE))
    assert run(vs.await_response()).overall == cc.VerdictOverall.VALID()


def test_a_reader_certified_by_another_authority_is_refused(world):
    core, _, _, _, stranger = world
    session, vs = ask(core, stranger, cc.VerifierRequest.AGE_OVER18())
    with pytest.raises(cc.CitizenError.Refused) as e:
        run(session.await_request())
    assert_detail(e.value.detail, "mdoc.reader_untrusted")
    assert isinstance(run(vs.await_response()).overall, cc.VerdictOverall.INVALID)


def test_in_person_receipts_are_countersigned_when_the_phone_syncs(world):
    core, _, _, _, _ = world
    waiting = [r for r in run(core.consent().list_receipts()) if r.awaiting_countersignature]
    assert waiting and all(r.kind == cc.ConsentKind.IN_PERSON_PRESENTATION for r in waiting)
    export = json.loads(run(core.consent().export_receipts()))
    assert sorted(export["pending_countersignature"]) == sorted(r.receipt_id for r in waiting)
    assert run(core.consent().sync_receipts()) == len(waiting)
    assert not any(r.awaiting_countersignature for r in run(core.consent().list_receipts()))
    export = run(core.consent().export_receipts())
    assert "pending_countersignature" not in json.loads(export)
    assert cc.verify_receipt_export(export, None) == len(json.loads(export)["receipts"])
