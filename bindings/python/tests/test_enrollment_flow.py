"""Enroll -> login -> list devices -> logout, through the Python bindings."""

import citizen_core as cc
from conftest import CITIZENS, PASSCODE, enroll, run

CITIZEN = CITIZENS["enroll_flow"]


def test_enroll_login_list_devices_logout(server, device):
    core = device.open()
    before = run(core.status())

    ticket, outcome = enroll(core, server, CITIZEN)
    assert ticket.enrollment_id
    assert ticket.masked_phone and ticket.masked_phone != CITIZEN[2]
    assert CITIZEN[2][-3:] in ticket.masked_phone or "*" in ticket.masked_phone
    assert ticket.has_active_device is False
    assert outcome.account_id and outcome.device_id
    assert outcome.hardware_backed is False  # the Python key store says so
    assert outcome.replaced_device_id is None

    # The device key was made by the Python key store and used to sign.
    assert device.key_store.aliases(), "the core created no key through the Python key store"
    assert any(call == "sign" for call, _ in device.key_store.calls)

    session = run(core.account().login(PASSCODE))
    assert session is not None

    devices = run(core.account().list_devices())
    assert len(devices) == 1
    assert devices[0].device_id == outcome.device_id

    run(core.account().logout())
    try:
        run(core.account().list_devices())
    except cc.CitizenError.NeedsLogin as e:
        assert e.detail.code == "auth.not_logged_in"
    else:
        raise AssertionError("list_devices after logout should fail with NotLoggedIn")
    assert before != run(core.status())
