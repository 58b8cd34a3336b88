"""Changing the passcode, and resetting a forgotten one with an OTP (which also lifts a lock)."""

import pytest

import citizen_core as cc
from conftest import CITIZENS, OTHER_PASSCODE, PASSCODE, WRONG_PASSCODE, assert_detail, enroll, run

CITIZEN = CITIZENS["passcode"]
RESET_PASSCODE = "802468"


def test_change_then_reset_forgotten_passcode(server, device):
    core = device.open()
    enroll(core, server, CITIZEN)

    # A weak new passcode is refused with a field error; the old one is checked first.
    with pytest.raises(cc.CitizenError.InvalidInput) as err:
        run(core.account().change_passcode(PASSCODE, "111111"))
    assert [(f.field, f.code) for f in err.value.fields] == [("passcode", "passcode.weak")]
    assert_detail(err.value.detail)
    with pytest.raises(cc.CitizenError.PasscodeRejected) as err:
        run(core.account().change_passcode(WRONG_PASSCODE, OTHER_PASSCODE))
    assert err.value.attempts_before_lockout == 4
    assert_detail(err.value.detail, "auth.passcode_incorrect")

    run(core.account().change_passcode(PASSCODE, OTHER_PASSCODE))
    assert run(core.account().passcode_status()).failed_attempts == 0
    run(core.account().verify_passcode(OTHER_PASSCODE))
    with pytest.raises(cc.CitizenError.PasscodeRejected):
        run(core.account().verify_passcode(PASSCODE))

    # Forgotten: reset with the OTP sent to the registered phone.
    ticket = run(core.account().start_passcode_reset())
    assert ticket.reset_id and ticket.masked_phone.endswith(CITIZEN[2][-3:])
    otp = server.otp_for(ticket.reset_id)
    with pytest.raises(cc.CitizenError.InvalidInput):
        run(core.account().complete_passcode_reset(otp, "123456"))  # weak, refused locally
    run(core.account().complete_passcode_reset(otp, RESET_PASSCODE))
    status = run(core.account().passcode_status())
    assert status.failed_attempts == 0 and status.locked_until is None

    session = run(core.account().login(RESET_PASSCODE))
    assert session.session_id
    assert run(core.status()).logged_in
    run(core.account().logout())
    assert not run(core.status()).logged_in
