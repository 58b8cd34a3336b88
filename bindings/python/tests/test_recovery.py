"""Losing, changing and re-binding the phone through the Python bindings (issue 15).

* Lose the phone → an official locks it remotely → recovery on a new phone with the chip and
  the OTP, held for a waiting period: cancelled once (at the counter: the locked phone cannot
  sign), then completed once; the old phone learns why.
* The device key is invalidated (biometrics changed) → re-binding with passcode + OTP on the
  same device → the request queued before is kept and re-signed only after the citizen confirms.
* Decision 48: the citizen locks the lost phone from the portal (any browser) with the OTP —
  the identifiers alone never lock; and re-binds with the chip when the session has ended.

Each test runs its own server: the recovery one trusts the software card's test CSCA and waits
2 s instead of 24 h (`--recovery-wait-secs`); the Rust tests cover the 24 h with a manual clock.
"""

from __future__ import annotations

import datetime as dt
import json
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from urllib.parse import urlparse

import citizen_core as cc
import pytest
from conftest import PASSCODE, Device, core_config, enroll, run, start_server, stop_server
from platform_impl import SoftwareDataKeyWrapper, SoftwareDeviceKeyStore
from test_chip_level2 import HOLDER, CAN, SoftwareCardTransport, card_binary

# The register's ninth citizen (this module runs servers of its own: no clash with others).
OTHER = ("079088000009", "1988-04-04", "+84900000009")
KEYS = cc.KeyOptions(require_user_authentication=False, prefer_strongbox=False, attestation_challenge=b"")


def official(server, path: str, body: dict) -> int:
    ctx = ssl.create_default_context(cadata=server.ca_pem)
    token = (server.data_dir / "official-token").read_text().strip()
    req = urllib.request.Request(
        server.base_url + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"content-type": "application/json", "x-official-token": token},
    )
    with urllib.request.urlopen(req, context=ctx) as r:
        return r.status


def post(server, path: str, body: dict) -> tuple[int, dict]:
    """A plain JSON POST, as the portal's page sends it (no core, no token): (status, body)."""
    ctx = ssl.create_default_context(cadata=server.ca_pem)
    req = urllib.request.Request(
        server.base_url + path, data=json.dumps(body).encode(), method="POST", headers={"content-type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, context=ctx) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def phone(server, tmp_path, name: str) -> tuple[Device, cc.CitizenCore]:
    d = Device(tmp_path / name, SoftwareDeviceKeyStore(), SoftwareDataKeyWrapper(), core_config(server, tmp_path / name))
    return d, d.open()


def summaries(core) -> list[str]:
    return [e.summary for e in run(core.activity().list_entries())]


@pytest.fixture
def chip_server(tmp_path):
    data_dir = tmp_path / "server"
    (data_dir / "chip-csca").mkdir(parents=True)
    subprocess.run([str(card_binary()), "--write-csca", str(data_dir / "chip-csca" / "vn-test.der")], check=True)
    srv = start_server(data_dir, extra_args=["--recovery-wait-secs", "2"])
    yield srv
    stop_server(srv)


def recover_with_chip(core, server) -> cc.RecoveryTicket:
    cccd, dob, tel = HOLDER
    ticket = run(core.account().start_enrollment(cc.EnrollmentInput(cccd=cccd, date_of_birth=dob, phone=tel)))
    assert ticket.has_active_device
    otp = server.otp_for(ticket.enrollment_id)
    transport = SoftwareCardTransport()
    try:
        return run(core.chip().start_recovery_with_chip(otp, PASSCODE, KEYS, transport, cc.ChipAccessKey.CAN(can=CAN), None))
    finally:
        transport.close()


def complete_after_the_wait(core, ticket: cc.RecoveryTicket, timeout: float = 30.0):
    """Complete once the waiting period is over (the server refuses with recovery.waiting before)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return run(core.account().complete_recovery())
        except cc.CitizenError.Refused as e:
            if e.detail.code != "recovery.waiting" or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_lost_phone_locked_then_recovered_cancelled_once_and_completed_once(chip_server, tmp_path):
    srv = chip_server
    _, old = phone(srv, tmp_path, "old-phone")
    enroll(old, srv, HOLDER)
    run(old.account().login(PASSCODE))
    transport = SoftwareCardTransport()
    try:
        assert run(old.chip().upgrade_level_with_chip(transport, cc.ChipAccessKey.CAN(can=CAN), None)).level == 2
    finally:
        transport.close()
    old_id = run(old.status()).device_id

    # Lost: locked at the counter at the citizen's request (the official's identity recorded).
    assert official(srv, "/v1/official/devices/lock", {"cccd": HOLDER[0], "locked": True, "official_id": "CA-HN-0042", "reason": "lost"}) == 200
    assert run(old.account().check_device_status()).status == cc.DeviceStatus.LOCKED
    with pytest.raises(cc.CitizenError.NeedsEnrollment) as locked:
        run(old.account().login(PASSCODE))
    assert locked.value.detail.code == "auth.device_locked"
    assert locked.value.reason == cc.EnrollmentReason.DEVICE_DEACTIVATED(status=cc.DeviceStatus.LOCKED)

    # A new phone: the OTP alone is refused for this level-2 account.
    _, new = phone(srv, tmp_path, "new-phone")
    cccd, dob, tel = HOLDER
    t = run(new.account().start_enrollment(cc.EnrollmentInput(cccd=cccd, date_of_birth=dob, phone=tel)))
    with pytest.raises(cc.CitizenError.Refused) as otp_only:
        run(new.account().complete_enrollment(srv.otp_for(t.enrollment_id), PASSCODE, KEYS))
    assert otp_only.value.detail.code == "recovery.chip_required"

    # The chip + the OTP start a recovery; cancelled at the counter (the locked phone cannot).
    ticket = recover_with_chip(new, srv)
    assert ticket.method == cc.RecoveryMethod.CHIP and ticket.old_device_id == old_id
    assert official(srv, "/v1/official/recovery/cancel", {"cccd": HOLDER[0], "official_id": "CA-HN-0007"}) == 200
    with pytest.raises(cc.CitizenError.Refused) as cancelled:
        complete_after_the_wait(new, ticket)
    assert cancelled.value.detail.code == "recovery.cancelled"
    assert run(new.account().pending_recovery()) is None

    # Again: completed once the waiting period is over.
    ticket = recover_with_chip(new, srv)
    outcome = complete_after_the_wait(new, ticket)
    assert outcome.replaced_device_id == old_id
    run(new.account().login(PASSCODE))
    assert run(new.status()).enrollment == cc.EnrollmentState.ENROLLED()
    log = summaries(new)
    assert any(s.startswith(f"recovery_started={ticket.recovery_id}") for s in log), log
    assert any(f"recovered_from={old_id}" in s for s in log), log

    # The old phone learns why; its own log has the lock.
    assert run(old.account().check_device_status()).status == cc.DeviceStatus.RECOVERED
    assert "locked_remotely" in summaries(old)


@pytest.fixture
def own_server(tmp_path):
    srv = start_server(tmp_path / "server")
    yield srv
    if srv.process.poll() is None:
        stop_server(srv)


def vn_day(days: int) -> str:
    now = dt.datetime.now(dt.timezone(dt.timedelta(hours=7)))
    return (now + dt.timedelta(days=days)).strftime("%Y-%m-%d")


def test_key_invalidation_is_re_bound_with_the_outbox_intact(own_server, tmp_path):
    srv = own_server
    device, core = phone(srv, tmp_path, "phone")
    enroll(core, srv, OTHER)
    run(core.account().login(PASSCODE))
    run(core.services().refresh_catalogue())
    run(core.services().refresh_profile())
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
    # Queued while the server is away.
    port = urlparse(srv.base_url).port
    stop_server(srv)
    item = run(core.services().submit_draft(draft.draft_id, PASSCODE))
    report = run(core.services().sync_outbox())  # fails offline; nothing is sent before the backoff
    assert (report.delivered, report.remaining) == (0, 1), report
    srv = start_server(srv.data_dir, listen=f"127.0.0.1:{port}")
    try:
        # Biometrics changed: the platform invalidated the device key.
        device_id = run(core.status()).device_id
        device.key_store.invalidate(f"citizen-core.device.{device_id}")
        with pytest.raises(cc.CitizenError.KeyStore) as invalidated:
            run(core.account().login(PASSCODE))
        assert invalidated.value.detail.code == "keystore.key_invalidated"
        assert invalidated.value.problem == cc.KeyStoreProblem.INVALIDATED

        # Guided re-binding: passcode + OTP; a new key on the same device and account.
        t = run(core.account().start_rebinding())
        held = run(core.account().complete_rebinding(srv.otp_for(t.rebind_id), PASSCODE, KEYS))
        assert held == 1
        assert run(core.status()).device_id == device_id
        assert run(core.services().outbox_hold()) == cc.OutboxHoldReason.KEY_ROTATED
        report = run(core.services().sync_outbox())
        assert (report.delivered, report.remaining) == (0, 1), report
        assert [i.submission_id for i in run(core.services().list_outbox())] == [item.submission_id]

        # The citizen confirms: re-signed with the new key and delivered.
        assert run(core.services().release_held_outbox(True, PASSCODE)) == 1
        run(core.services().sync_outbox())
        delivered = run(core.services().list_outbox())[0]
        assert delivered.state == cc.OutboxState.DELIVERED and delivered.case_number
        run(core.account().login(PASSCODE))
        log = summaries(core)
        assert "key_rotated held_requests=1" in log and "outbox_released=1 after=key_rotated" in log, log
    finally:
        stop_server(srv)


def test_the_citizen_locks_the_lost_phone_from_the_portal_and_identifiers_alone_never_lock(own_server, tmp_path):
    srv = own_server
    _, core = phone(srv, tmp_path, "lost-phone")
    enroll(core, srv, OTHER)
    run(core.account().login(PASSCODE))
    cccd, dob, tel = OTHER
    st, b = post(srv, "/v1/lock/start", {"cccd": cccd, "date_of_birth": dob, "phone": tel})
    assert st == 200, b
    lock_id = b["lock_id"]
    # Abuse: the identifiers alone (no OTP, no chip), or a guessed OTP, do not lock.
    st, b = post(srv, "/v1/lock/complete", {"lock_id": lock_id})
    assert (st, b["code"]) == (403, "lock.proof_required"), b
    otp = srv.otp_for(lock_id)
    st, b = post(srv, "/v1/lock/complete", {"lock_id": lock_id, "otp": "000000" if otp != "000000" else "111111"})
    assert (st, b["code"]) == (401, "otp_invalid"), b
    assert run(core.account().check_device_status()).status == cc.DeviceStatus.ACTIVE
    # From another phone (a relative's, not enrolled) through the core: the OTP locks it.
    _, relative = phone(srv, tmp_path, "relatives-phone")
    t = run(relative.account().start_remote_lock(cc.EnrollmentInput(cccd=cccd, date_of_birth=dob, phone=tel)))
    otp = srv.otp_for(t.lock_id)
    with pytest.raises(cc.CitizenError.OtpRejected):
        run(relative.account().complete_remote_lock(t.lock_id, "000000" if otp != "000000" else "111111"))
    outcome = run(relative.account().complete_remote_lock(t.lock_id, otp))
    assert outcome.device_id == run(core.status()).device_id
    # The lost phone learns it at its next contact; its data is kept.
    assert run(core.account().check_device_status()).status == cc.DeviceStatus.LOCKED
    with pytest.raises(cc.CitizenError.NeedsEnrollment) as locked:
        run(core.account().login(PASSCODE))
    assert locked.value.detail.code == "auth.device_locked"
    # Replayed (by the page or the core): refused with its own code.
    st, b = post(srv, "/v1/lock/complete", {"lock_id": t.lock_id, "otp": otp})
    assert (st, b["code"]) == (409, "lock.replayed"), b
    with pytest.raises(cc.CitizenError.Refused) as replayed:
        run(relative.account().complete_remote_lock(t.lock_id, otp))
    assert replayed.value.detail.code == "lock.replayed"


def test_without_a_session_an_invalidated_key_is_re_bound_with_the_chip(chip_server, tmp_path):
    srv = chip_server
    device, core = phone(srv, tmp_path, "phone")
    enroll(core, srv, HOLDER)
    run(core.account().login(PASSCODE))
    device_id = run(core.status()).device_id
    device.key_store.invalidate(f"citizen-core.device.{device_id}")
    run(core.account().logout())  # the session has ended too

    t = run(core.account().start_rebinding())
    otp = srv.otp_for(t.rebind_id)
    with pytest.raises(cc.CitizenError.NeedsLogin):
        run(core.account().complete_rebinding(otp, PASSCODE, KEYS))
    transport = SoftwareCardTransport()
    try:
        held = run(core.chip().complete_rebinding_with_chip(otp, PASSCODE, KEYS, transport, cc.ChipAccessKey.CAN(can=CAN), None))
    finally:
        transport.close()
    assert held == 0
    assert run(core.status()).device_id == device_id
    run(core.account().login(PASSCODE))
    assert "key_rotated held_requests=0" in summaries(core)
