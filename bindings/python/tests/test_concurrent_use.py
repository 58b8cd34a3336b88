"""Concurrent use through the bindings (issue 9, items 6 and 14).

* Simultaneous passcode attempts (threads released together by a barrier) are each counted once:
  every `incorrect` answer is a failure on disk, the lockout stops the burst at the free attempts,
  and simultaneous *correct* attempts never lock the citizen out.
* One `CitizenCore` per data directory: a second open is refused with `storage.already_open`
  while the first is alive, and works once the first is gone.
"""

import gc
import threading

import pytest

import citizen_core as cc
from conftest import CITIZENS, PASSCODE, WRONG_PASSCODE, assert_detail, enroll, run

CITIZEN = CITIZENS["spare_4"]
FREE_ATTEMPTS = 5
WIPE_AFTER = 10
PARALLEL = 8


def burst(core, passcode):
    """PARALLEL threads call verify_passcode at once; returns each outcome (None = accepted)."""
    barrier = threading.Barrier(PARALLEL)
    results = [None] * PARALLEL

    def attempt(i):
        barrier.wait()
        try:
            run(core.account().verify_passcode(passcode))
            results[i] = None
        except cc.CitizenError as e:  # noqa: PERF203
            results[i] = e

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(PARALLEL)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@pytest.fixture(scope="module")
def enrolled(server, tmp_path_factory):
    """One enrollment shared by the module's first two tests: (core, config, key store, wrapper)."""
    from conftest import core_config
    from platform_impl import SoftwareDataKeyWrapper, SoftwareDeviceKeyStore

    data_dir = tmp_path_factory.mktemp("concurrent-device")
    ks, kw = SoftwareDeviceKeyStore(), SoftwareDataKeyWrapper()
    config = core_config(server, data_dir)
    core = run(cc.CitizenCore.open(config, ks, kw))
    enroll(core, server, CITIZEN)
    return core, config, ks, kw


def test_simultaneous_wrong_passcodes_are_each_counted_once(enrolled):
    core = enrolled[0]
    assert run(core.account().passcode_status()).failed_attempts == 0
    results = burst(core, WRONG_PASSCODE)
    incorrect = [r for r in results if isinstance(r, cc.CitizenError.PasscodeRejected)]
    locked = [r for r in results if isinstance(r, cc.CitizenError.LockedOut)]
    assert len(incorrect) + len(locked) == PARALLEL, results
    stored = run(core.account().passcode_status()).failed_attempts
    assert stored == len(incorrect), f"{len(incorrect)} answered incorrect but {stored} stored"
    assert stored == FREE_ATTEMPTS
    assert sorted(r.attempts_before_wipe for r in incorrect) == list(range(WIPE_AFTER - FREE_ATTEMPTS, WIPE_AFTER))
    for r in locked:
        assert_detail(r.detail, "auth.locked_out")


def test_a_second_core_on_the_same_directory_is_refused_until_the_first_is_gone(enrolled):
    core, config, ks, kw = enrolled
    with pytest.raises(cc.CitizenError.Internal) as err:
        run(cc.CitizenCore.open(config, ks, kw))
    assert_detail(err.value.detail, "storage.already_open")
    with pytest.raises(cc.CitizenError.Internal):
        run(cc.CitizenCore.open_desktop(config))
    # The first core is unaffected by the refused opens.
    assert run(core.status()).enrollment == cc.EnrollmentState.ENROLLED()
    del err


def test_after_the_first_is_dropped_a_new_open_works(server, device):
    core = device.open()
    with pytest.raises(cc.CitizenError.Internal):
        device.open()
    del core
    gc.collect()
    again = device.open()
    assert run(again.status()).enrollment == cc.EnrollmentState.NOT_ENROLLED()


def test_simultaneous_correct_passcodes_never_lock_out(server, device):
    core = device.open()
    enroll(core, server, CITIZEN)
    for round_ in range(20):
        results = burst(core, PASSCODE)
        assert results == [None] * PARALLEL, f"round {round_}: {[r.detail.code for r in results if r]}"
        assert run(core.account().passcode_status()).failed_attempts == 0
