"""Lifecycle of a core (issue 11): shutdown before close, subscriptions that end with the core,
erasing the local data without hard-coded key aliases, the core's version."""

import threading

import pytest

import citizen_core as cc
from conftest import assert_detail, run


class StatusRecorder(cc.StatusListener):
    def __init__(self):
        self.statuses = []
        self.first = threading.Event()
        self.ended = threading.Event()

    def on_status(self, status):
        self.statuses.append(status)
        self.first.set()

    def on_end(self):
        self.ended.set()


def test_shutdown_ends_subscriptions_and_frees_the_directory_for_erasing(device):
    core = device.open()
    recorder = StatusRecorder()
    subscription = core.observe_status(recorder)
    assert recorder.first.wait(20), "no replay of the current status"
    assert recorder.statuses[0].enrollment == cc.EnrollmentState.NOT_ENROLLED()

    # Erasing is refused while a core holds the directory.
    with pytest.raises(cc.CitizenError.Internal) as err:
        run(cc.erase_local_data(str(device.data_dir), device.key_wrapper))
    assert_detail(err.value.detail, "storage.already_open")
    assert device.key_wrapper.deleted == [], "nothing deleted while a core holds the directory"

    run(core.shutdown())
    assert recorder.ended.wait(20), "the subscription outlived shutdown"
    subscription.cancel()  # harmless after the end
    with pytest.raises(cc.CitizenError.Internal) as err:
        run(core.status())
    assert_detail(err.value.detail, "core.closed")

    # The core deletes its wrapping key through the shell's wrapper: the shell names no alias.
    wrapped_before = device.key_wrapper.aliases()
    assert wrapped_before, "the core wrapped its data key"
    assert run(cc.erase_local_data(str(device.data_dir), device.key_wrapper)) is None
    assert device.key_wrapper.deleted == wrapped_before
    assert device.key_wrapper.aliases() == []
    assert [p.name for p in device.data_dir.iterdir()] == []
    # A fresh core opens on the erased directory.
    again = device.open()
    assert run(again.status()).enrollment == cc.EnrollmentState.NOT_ENROLLED()


def test_core_version():
    assert cc.core_version().count(".") == 2


def test_config_fields_default_like_default_core_config():
    """Record defaults: a caller passes only what it must (Swift and Kotlin get the same)."""
    config = cc.CoreConfig(
        server_base_url="https://dvc.example", data_dir="/data", language=cc.Language.VI, platform=cc.Platform.UNKNOWN
    )
    assert config == cc.default_core_config("https://dvc.example", "/data")
