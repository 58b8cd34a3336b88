"""Issue 11 items 3 and 8 through the Python bindings.

* The key store is async and knows why it signs: a submit and a background sync (delivery, case
  sync, anchoring) cause exactly ONE prompt — the submit's; activity entries and anchors are
  signed with the bookkeeping key (no user authentication, `user_initiated = False`).
* A bookkeeping signature that fails is retried later, never dropped.
* A data key that is temporarily locked is reported as `storage.data_key_locked` (retry, never
  erase) and the data opens once the device is unlocked.
"""

from __future__ import annotations

import datetime as dt
import gc

import citizen_core as cc
import pytest
from conftest import CITIZENS, PASSCODE, Device, assert_detail, core_config, run, start_server, stop_server
from platform_impl import SoftwareDataKeyWrapper, SoftwareDeviceKeyStore

CITIZEN = CITIZENS["services"]  # on a server of its own (own_server)
BOOKKEEPING = {cc.SignPurpose.ACTIVITY_ENTRY, cc.SignPurpose.ACTIVITY_ANCHOR}


@pytest.fixture
def own_server(tmp_path):
    srv = start_server(tmp_path / "server")
    yield srv
    if srv.process.poll() is None:
        stop_server(srv)


def vn_day(days: int) -> str:
    now = dt.datetime.now(dt.timezone(dt.timedelta(hours=7)))
    return (now + dt.timedelta(days=days)).strftime("%Y-%m-%d")


def enroll_phone(core, server):
    """Enroll with a device key that needs the citizen for every use, as a phone would."""
    cccd, dob, phone = CITIZEN
    ticket = run(core.account().start_enrollment(cc.EnrollmentInput(cccd=cccd, date_of_birth=dob, phone=phone)))
    otp = server.otp_for(ticket.enrollment_id)
    options = cc.KeyOptions(require_user_authentication=True, prefer_strongbox=True, attestation_challenge=b"")
    run(core.account().complete_enrollment(otp, PASSCODE, options))
    run(core.account().login(PASSCODE))


def submit_residence(core) -> cc.OutboxItem:
    draft = run(core.services().create_draft("residence-notification"))
    values = {
        "guests.0.full_name": "Khách Thử Nghiệm",
        "guests.0.cccd": "079195000002",
        "guests.0.relationship": "ban_be",
        "reason": "du_lich",
        "from_date": vn_day(1),
        "to_date": vn_day(5),
    }
    run(core.services().update_draft(draft.draft_id, values))
    return run(core.services().submit_draft(draft.draft_id, PASSCODE))


def test_a_submit_and_a_background_sync_prompt_exactly_once(own_server, tmp_path):
    ks = SoftwareDeviceKeyStore()
    core = run(cc.CitizenCore.open(core_config(own_server, tmp_path / "phone"), ks, SoftwareDataKeyWrapper()))
    enroll_phone(core, own_server)
    assert ks.prompts == 2  # the enrollment proof and the login; their log entries are silent
    assert run(core.services().refresh_catalogue()) in (True, False)
    run(core.services().refresh_profile())

    before = ks.prompts
    submit_residence(core)
    report = run(core.services().sync_outbox())
    assert report.remaining == 0, report
    run(core.services().sync_cases())
    assert ks.prompts - before == 1, ks.requests

    kinds = [e.kind for e in run(core.activity().list_entries())]
    assert kinds == [
        cc.ActivityKind.ENROLLMENT,
        cc.ActivityKind.LOGIN,
        cc.ActivityKind.SUBMISSION,
        cc.ActivityKind.SUBMISSION_DELIVERED,
    ]
    for alias, request in ks.requests:
        bookkeeping = request.purpose in BOOKKEEPING
        assert alias.endswith(".bookkeeping") == bookkeeping, (alias, request)
        assert request.user_initiated is not bookkeeping, (alias, request)
    assert [r.purpose for _, r in ks.requests].count(cc.SignPurpose.SUBMIT) == 1
    assert [r.purpose for _, r in ks.requests].count(cc.SignPurpose.ACTIVITY_ANCHOR) == 1
    report = run(core.activity().verify())
    assert report.intact and report.anchors == 1, report


def test_a_failed_bookkeeping_signature_is_retried_not_dropped(own_server, tmp_path):
    ks = SoftwareDeviceKeyStore()
    core = run(cc.CitizenCore.open(core_config(own_server, tmp_path / "phone"), ks, SoftwareDataKeyWrapper()))
    enroll_phone(core, own_server)
    bookkeeping = next(a for a in ks.aliases() if a.endswith(".bookkeeping"))
    ks.fail_signing(bookkeeping)
    run(core.account().change_passcode(PASSCODE, "135792"))
    assert [e.kind for e in run(core.activity().list_entries())] == [cc.ActivityKind.ENROLLMENT, cc.ActivityKind.LOGIN]
    ks.fail_signing(bookkeeping, False)
    anchor = run(core.activity().anchor())
    assert anchor is not None and anchor.seq == 3
    assert [e.kind for e in run(core.activity().list_entries())][2:] == [cc.ActivityKind.PASSCODE_CHANGE]
    assert run(core.activity().verify()).intact


def test_a_locked_data_key_is_not_a_lost_one(own_server, tmp_path):
    device = Device(tmp_path / "phone", SoftwareDeviceKeyStore(), SoftwareDataKeyWrapper(), core_config(own_server, tmp_path / "phone"))
    core = device.open()
    enroll_phone(core, own_server)
    entries = len(run(core.activity().list_entries()))
    del core
    gc.collect()
    files = {p.name: p.read_bytes() for p in device.data_dir.iterdir() if p.is_file() and not p.name.endswith(".lock")}

    device.key_wrapper.locked = True
    for _ in range(2):
        with pytest.raises(cc.CitizenError.DataKeyLocked) as err:
            device.open()
        assert_detail(err.value.detail, "storage.data_key_locked")
        del err
        gc.collect()
    after = {p.name: p.read_bytes() for p in device.data_dir.iterdir() if p.is_file() and not p.name.endswith(".lock")}
    assert after == files, "a locked data key changed the data directory"

    device.key_wrapper.locked = False
    core = device.open()
    assert run(core.status()).logged_in
    assert len(run(core.activity().list_entries())) == entries
