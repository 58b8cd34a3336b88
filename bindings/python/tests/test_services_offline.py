"""Public-service requests through the Python bindings: a residence notification filled from
the register, submitted while the server is down, delivered once it is back, approved by an
official, and seen approved by the citizen."""

from __future__ import annotations

import datetime as dt
import gc
import json
import ssl
import tempfile
import threading
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import citizen_core as cc
import pytest
from conftest import CITIZENS, PASSCODE, Device, assert_detail, core_config, enroll, run, start_server, stop_server
from platform_impl import SoftwareDataKeyWrapper, SoftwareDeviceKeyStore


class Recorder(cc.OutboxListener):
    """An outbox listener implemented in Python: every state any item was shown in, in order."""

    def __init__(self):
        self.states = []
        self.calls = 0
        self.ended = threading.Event()
        self.changed = threading.Condition()

    def on_outbox(self, items):
        with self.changed:
            self.calls += 1
            self.states.extend(i.state for i in items)
            self.changed.notify_all()

    def wait_for_calls(self, n, timeout=20.0):
        with self.changed:
            assert self.changed.wait_for(lambda: self.calls >= n, timeout), self.calls

    def on_end(self):
        self.ended.set()

    def wait_for(self, state, timeout=20.0):
        """Notifications arrive after the change, in order: wait for `state` to be shown."""
        with self.changed:
            assert self.changed.wait_for(lambda: state in self.states, timeout), self.states


def official(server, token: str, case_number: str, to: str) -> int:
    ctx = ssl.create_default_context(cadata=server.ca_pem)
    body = json.dumps({"case_number": case_number, "to": to, "note_vi": "Đã duyệt", "note_en": "Approved"}).encode()
    req = urllib.request.Request(
        server.base_url + "/v1/official/cases/transition",
        data=body,
        method="POST",
        headers={"content-type": "application/json", "x-official-token": token},
    )
    with urllib.request.urlopen(req, context=ctx) as r:
        return r.status


def server_keys(server) -> str:
    """The server's published key set (`/v1/keys`), fetched over TLS with the dev CA: the key a
    verifier trusts independently of the file it checks."""
    ctx = ssl.create_default_context(cadata=server.ca_pem)
    with urllib.request.urlopen(server.base_url + "/v1/keys", context=ctx) as r:
        return r.read().decode()


def vn_day(days: int) -> str:
    now = dt.datetime.now(dt.timezone(dt.timedelta(hours=7)))
    return (now + dt.timedelta(days=days)).strftime("%Y-%m-%d")


@pytest.fixture
def own_server(tmp_path):
    srv = start_server(tmp_path / "server")
    yield srv
    if srv.process.poll() is None:
        stop_server(srv)


def test_offline_submission_is_delivered_and_approved(own_server, tmp_path):
    srv = own_server
    device = Device(tmp_path / "phone", SoftwareDeviceKeyStore(), SoftwareDataKeyWrapper(), core_config(srv, tmp_path / "phone"))
    core = device.open()
    enroll(core, srv, CITIZENS["services"])
    run(core.account().login(PASSCODE))
    assert run(core.services().refresh_catalogue()) is True
    assert run(core.services().refresh_catalogue()) is False  # 304: unchanged
    profile = run(core.services().refresh_profile())
    assert profile.cccd == CITIZENS["services"][0]

    draft = run(core.services().create_draft("residence-notification"))
    assert draft.values["host_full_name"] == profile.full_name
    assert draft.values["host_cccd"] == profile.cccd
    assert "host_cccd" in draft.locked_fields
    with pytest.raises(cc.CitizenError.InvalidInput) as locked:
        run(core.services().update_draft(draft.draft_id, {"host_cccd": "001090000001"}))
    assert locked.value.fields[0].code == "field.locked"
    assert_detail(locked.value.detail, "input.invalid")

    # The edits of a screen, saved in one write.
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
    assert run(core.services().validate_draft(draft.draft_id)) == []

    # The network goes away; the citizen submits anyway.
    port = urlparse(srv.base_url).port
    stop_server(srv)
    recorder = Recorder()
    subscription = core.services().observe_outbox(recorder)
    item = run(core.services().submit_draft(draft.draft_id, PASSCODE))
    assert item.state == cc.OutboxState.QUEUED
    report = run(core.services().sync_outbox())
    assert (report.delivered, report.remaining) == (0, 1)
    assert_detail(report.last_error, "network.offline")

    # App restart while offline: the queued request is still there. Only one core may hold the
    # data directory: every reference to the old one goes first (`locked` holds a traceback).
    del core, locked
    gc.collect()
    # Closing the core ended the subscription.
    assert recorder.ended.wait(20), "the subscription outlived its core"
    subscription.cancel()  # harmless after the end
    core = device.open()
    recorder = Recorder()
    subscription = core.services().observe_outbox(recorder)
    recorder.wait_for(cc.OutboxState.QUEUED)  # the replay of the stored item
    assert [i.submission_id for i in run(core.services().list_outbox())] == [item.submission_id]

    # The server is back on the same address.
    srv2 = start_server(srv.data_dir, listen=f"127.0.0.1:{port}")
    try:
        report = run(core.services().sync_outbox())
        assert (report.delivered, report.remaining) == (1, 0), report
        delivered = run(core.services().list_outbox())[0]
        assert delivered.state == cc.OutboxState.DELIVERED
        assert delivered.receipt.count(".") == 2
        recorder.wait_for(cc.OutboxState.DELIVERED)
        assert cc.OutboxState.SENDING in recorder.states

        token = (srv.data_dir / "official-token").read_text().strip()
        assert official(srv2, token, delivered.case_number, "processing") == 200
        assert official(srv2, token, delivered.case_number, "approved") == 200
        events = run(core.services().sync_cases())
        assert any(e.status == cc.CaseStatus.APPROVED for e in events)
        case = next(c for c in run(core.services().list_cases()) if c.case_number == delivered.case_number)
        assert case.status == cc.CaseStatus.APPROVED

        # Every use of the identity is in the citizen's own signed, anchored log.
        kinds = [e.kind for e in run(core.activity().list_entries())]
        assert kinds[:2] == [cc.ActivityKind.ENROLLMENT, cc.ActivityKind.LOGIN]
        assert cc.ActivityKind.SUBMISSION in kinds and cc.ActivityKind.SUBMISSION_DELIVERED in kinds
        report = run(core.activity().verify())
        assert report.intact and report.anchors >= 1, report
        exported = json.loads(run(core.activity().export()))
        pinned = server_keys(srv2)
        assert cc.verify_activity_log_export(json.dumps(exported), pinned).intact
        exported["entries"][0]["summary"] = "tampered"
        tampered = cc.verify_activity_log_export(json.dumps(exported), pinned)
        assert not tampered.intact
        assert any(isinstance(p, cc.LogProblem.CHANGED_ENTRY) for p in tampered.problems)
    finally:
        stop_server(srv2)


def test_after_shutdown_no_outbox_notification_arrives_even_when_the_outbox_changes(own_server, tmp_path):
    """A subscription replays the current outbox, then ends with `shutdown()` — which also stops
    the background delivery the submit started; afterwards its listener hears nothing, even when
    the outbox of the same data directory changes (delivered by a new core, whose own subscriber
    sees it)."""
    srv = own_server
    device = Device(tmp_path / "phone", SoftwareDeviceKeyStore(), SoftwareDataKeyWrapper(), core_config(srv, tmp_path / "phone"))
    core = device.open()
    enroll(core, srv, CITIZENS["services"])
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

    old = Recorder()
    core.services().observe_outbox(old)
    old.wait_for_calls(1)  # the replay: the (empty) outbox
    assert (old.calls, old.states) == (1, [])
    run(core.services().submit_draft(draft.draft_id, PASSCODE))  # delivery starts in the background
    old.wait_for(cc.OutboxState.QUEUED)
    run(core.shutdown())
    assert old.ended.wait(20), "shutdown did not end the subscription"
    heard = old.calls  # on_end came after the last notification: nothing more may arrive
    del core
    gc.collect()

    core = device.open()
    new = Recorder()
    core.services().observe_outbox(new)
    new.wait_for_calls(1)
    run(core.services().sync_outbox())
    new.wait_for(cc.OutboxState.DELIVERED)
    assert [i.state for i in run(core.services().list_outbox())] == [cc.OutboxState.DELIVERED]
    assert old.calls == heard, "a listener heard from a core that was shut down"
    run(core.shutdown())


def test_admin_units_are_bundled():
    provinces = cc.provinces()
    assert len(provinces) == 34
    assert any(p.code == "01" for p in provinces)
    assert any(c.code == "00004" for c in cc.communes("01"))
    assert cc.communes("02") == []
