"""Wrong passcodes: the countdown, the lockout, and that the lockout outlives the process."""

import gc

import pytest

import citizen_core as cc
from conftest import CITIZENS, PASSCODE, WRONG_PASSCODE, assert_detail, enroll, run

CITIZEN = CITIZENS["lockout"]
FREE_ATTEMPTS = 5
WIPE_AFTER = 10


def test_wrong_passcode_counts_down_then_locks_out_across_restarts(server, device):
    core = device.open()
    enroll(core, server, CITIZEN)
    status = run(core.account().passcode_status())
    assert status.failed_attempts == 0
    assert status.attempts_before_lockout == FREE_ATTEMPTS
    assert status.locked_until is None

    # Five wrong passcodes: PasscodeIncorrect, counting down to the lockout.
    left = []
    for attempt in range(1, FREE_ATTEMPTS + 1):
        with pytest.raises(cc.CitizenError.PasscodeRejected) as err:
            run(core.account().login(WRONG_PASSCODE))
        e = err.value
        assert_detail(e.detail, "auth.passcode_incorrect")
        assert e.attempts_before_wipe == WIPE_AFTER - attempt
        left.append(e.attempts_before_lockout)
    assert left == [4, 3, 2, 1, 0]

    # Now locked: even the right passcode is refused, and not counted as a failure.
    with pytest.raises(cc.CitizenError.LockedOut) as err:
        run(core.account().login(WRONG_PASSCODE))
    assert err.value.retry_after.total_seconds() > 0
    assert_detail(err.value.detail, "auth.locked_out")
    with pytest.raises(cc.CitizenError.LockedOut) as err:
        run(core.account().login(PASSCODE))
    assert 0 < err.value.retry_after.total_seconds() <= 60

    status = run(core.account().passcode_status())
    assert status.failed_attempts == FREE_ATTEMPTS
    assert status.attempts_before_lockout == 0
    assert status.attempts_before_wipe == WIPE_AFTER - FREE_ATTEMPTS
    assert status.locked_until is not None

    # The app is killed and started again: the lockout is on disk, not in memory. Only one core
    # may hold the data directory, so every reference to the old one goes first (the caught
    # exceptions' tracebacks hold one too).
    del core, err, e
    gc.collect()
    core = device.open()
    with pytest.raises(cc.CitizenError.LockedOut) as err:
        run(core.account().login(PASSCODE))
    assert err.value.retry_after.total_seconds() > 0
    assert run(core.account().passcode_status()).failed_attempts == FREE_ATTEMPTS

    # change_passcode (sync) is behind the same lock.
    with pytest.raises(cc.CitizenError.LockedOut) as perr:
        run(core.account().change_passcode(PASSCODE, "135792"))
    assert perr.value.retry_after.total_seconds() > 0
    assert_detail(perr.value.detail, "auth.locked_out")


def test_data_dir_needs_the_same_wrapping_key(server, device, tmp_path):
    """A copy of the data directory opened with another key wrapper (another phone) fails."""
    from platform_impl import SoftwareDataKeyWrapper

    core = device.open()
    run(core.status())
    del core
    with pytest.raises(cc.CitizenError.DataKeyLost) as err:
        run(cc.CitizenCore.open(device.config, device.key_store, SoftwareDataKeyWrapper()))
    assert_detail(err.value.detail, "storage.data_key_lost")
