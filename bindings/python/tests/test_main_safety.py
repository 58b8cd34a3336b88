"""Main-safety by construction (issue 11, item 1), through the Python bindings: a call made from a
single-threaded event loop (the session's one loop thread, standing in for a phone's main
thread) neither runs the core's work on that thread nor blocks it. No timing is measured: the
data-key wrapper records the thread the core calls it on (the open's SQLite migration and key
unwrap run next to it), and before answering it waits for a callback queued on the same loop —
which can only run if the open suspended instead of blocking the loop."""

import asyncio
import threading

import citizen_core as cc
from conftest import run
from platform_impl import SoftwareDataKeyWrapper, SoftwareDeviceKeyStore

UNREACHABLE = "https://127.0.0.1:9"  # opening and reading make no network call


class GatedWrapper(cc.DataKeyWrapper):
    def __init__(self, inner: SoftwareDataKeyWrapper):
        self.inner = inner
        self.release = threading.Event()
        self.threads: list[int] = []

    def _gate(self):
        self.threads.append(threading.get_ident())
        # Bounded only so that a regression fails instead of hanging the suite.
        if not self.release.wait(30):
            raise cc.KeyWrapError.Failure(reason="the loop thread was blocked: the releasing callback never ran")

    def wrap(self, key_alias, data_key):
        self._gate()
        return self.inner.wrap(key_alias, data_key)

    def unwrap(self, key_alias, wrapped):
        self._gate()
        return self.inner.unwrap(key_alias, wrapped)

    def delete_key(self, key_alias):
        self.inner.delete_key(key_alias)


async def open_from_the_loop(config, key_store, wrapper):
    """On the loop thread: queue the release, then open (and read) with the core."""
    loop_thread = threading.get_ident()
    asyncio.get_running_loop().call_soon(wrapper.release.set)  # runs only when the open suspends
    core = await cc.CitizenCore.open(config, key_store, wrapper)
    status = await core.status()
    drafts = await core.services().list_drafts()
    await core.shutdown()
    return loop_thread, status, drafts


def test_open_from_the_single_loop_thread_neither_runs_nor_blocks_on_it(tmp_path):
    config = cc.default_core_config(UNREACHABLE, str(tmp_path / "phone"))
    key_store, platform = SoftwareDeviceKeyStore(), SoftwareDataKeyWrapper()

    # First open: a new data key is made and wrapped (and the database created and migrated).
    creating = GatedWrapper(platform)
    loop_thread, status, drafts = run(open_from_the_loop(config, key_store, creating))
    assert status.enrollment == cc.EnrollmentState.NOT_ENROLLED()
    assert drafts == []
    assert creating.threads, "the core never called the wrapper"
    assert loop_thread not in creating.threads, "wrap ran on the loop's thread"

    # Second open of the same directory: the stored key is unwrapped (the launch path).
    reopening = GatedWrapper(platform)
    loop_thread, status, _ = run(open_from_the_loop(config, key_store, reopening))
    assert reopening.threads, "the core never called unwrap"
    assert loop_thread not in reopening.threads, "unwrap ran on the loop's thread"
