"""In-person presentation and the verifier mode through the Python bindings (issue 13 items
2-3): the holder (a citizen's core) and a `Verifier` (no account) in one process, joined by an
`MdocTransport` implemented here with asyncio queues carrying the ISO 18013-5 BLE frames. The
verifier caches the trust list and the status list, the server is stopped, and the driving
licence is presented with selective disclosure and verified offline. Attacks: a frame altered
in transit, a response replayed into another session, a declined request, a session used
twice."""

from __future__ import annotations

import asyncio

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

CITIZEN = ("001090000001", "1990-01-15", "+84900000001")
MDL = "org.iso.18013.5.1.mDL"
NS = "org.iso.18013.5.1"
FRAME = 182  # a typical BLE ATT MTU (185) minus 3


class QueueTransport(cc.MdocTransport):
    """One end of an in-process link: frames go to the peer's inbox. `tap` may see (and
    change) every frame this end sends; `sent` keeps them."""

    def __init__(self, inbox: asyncio.Queue, outbox: asyncio.Queue, tap=None):
        self.inbox, self.outbox, self.tap = inbox, outbox, tap
        self.sent: list[bytes] = []
        self.closed = False

    def max_frame_size(self) -> int:
        return FRAME

    async def send_frame(self, frame: bytes) -> None:
        assert len(frame) <= FRAME and frame[0] in (0, 1), "ISO 18013-5 BLE framing"
        frame = bytes(frame)
        if self.tap is not None:
            frame = self.tap(frame)
        self.sent.append(frame)
        self.outbox.put_nowait(frame)

    async def receive_frame(self) -> bytes:
        return await self.inbox.get()

    async def disconnect(self) -> None:
        self.closed = True


def link(tap=None) -> tuple[QueueTransport, QueueTransport]:
    """(holder end, verifier end); `tap` sees the holder's frames."""
    a, b = asyncio.Queue(), asyncio.Queue()
    return QueueTransport(a, b, tap), QueueTransport(b, a)


def sel(identifier: str) -> cc.ElementSelection:
    return cc.ElementSelection(doc_type=MDL, namespace=NS, identifier=identifier)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A citizen holding the four documents and a verifier with fresh lists; then the server
    is stopped: everything after runs with the network down."""
    data = tmp_path_factory.mktemp("presentation")
    srv = start_server(data / "server")
    try:
        (data / "phone").mkdir()
        ks = SoftwareDeviceKeyStore()
        core = run(cc.CitizenCore.open(core_config(srv, data / "phone"), ks, SoftwareDataKeyWrapper()))
        enroll(core, srv, CITIZEN)
        run(core.account().login(PASSCODE))
        assert len(run(core.documents().refresh())) == 4
        config = cc.default_verifier_config(srv.base_url, str(data / "verifier"))
        config.trust_anchors_pem = [srv.ca_pem]
        config.spki_pins = [srv.pin, srv.backup_pin]
        verifier = run(cc.Verifier.open(config))
        assert run(verifier.trust_status()).trust_list_fetched_at is None
        status = run(verifier.refresh_trust())
        assert status.trust_list_fetched_at is not None
        assert not status.trust_list_stale and not status.status_list_stale
    finally:
        stop_server(srv)
    yield core, ks, verifier


def test_driving_licence_presented_selectively_and_verified_offline(world):
    core, ks, verifier = world
    holder, reader = link()
    session = run(core.documents().start_presentation(holder))
    qr = session.engagement_qr()
    assert qr.startswith("mdoc:")
    vs = run(verifier.start_session(qr, cc.VerifierRequest.DRIVING_LICENCE_CHECK(), reader))

    request = run(session.await_request())
    assert not request.requester.authenticated
    labels = {e.identifier: (e.label_vi, e.label_en) for e in request.elements}
    assert labels["birth_date"] == ("Ngày sinh", "Date of birth")
    assert all(e.held and not e.intent_to_retain for e in request.elements)

    before = len(ks.requests)
    chosen = ["family_name", "given_name", "birth_date", "driving_privileges"]
    outcome = run(session.approve([sel(i) for i in chosen], PASSCODE))
    assert sorted(d.identifier for d in outcome.disclosed) == sorted(chosen)
    assert ks.requests[before][1].purpose == cc.SignPurpose.DOCUMENT_PRESENTATION
    assert ks.requests[before][1].user_initiated
    assert holder.closed

    verdict = run(vs.await_response())
    assert verdict.overall == cc.VerdictOverall.VALID()
    assert all(c.outcome == cc.CheckOutcome.PASSED() for c in verdict.checks)
    (doc,) = verdict.documents
    assert doc.document_type == cc.DocumentType.DRIVING_LICENCE
    assert sorted(e.identifier for e in doc.elements) == sorted(chosen)
    assert doc.portrait is None
    family = next(e for e in doc.elements if e.identifier == "family_name")
    assert (family.value, family.label_vi, family.label_en) == ("Nguyễn", "Họ", "Family name")

    receipts = run(core.consent().list_receipts())
    receipt = next(r for r in receipts if r.receipt_id == outcome.receipt_id)
    assert receipt.kind == cc.ConsentKind.IN_PERSON_PRESENTATION
    assert run(core.activity().list_entries())[-1].kind == cc.ActivityKind.DOCUMENT_PRESENTATION

    # Used once, on both sides.
    for call in (session.await_request(), session.decline(), vs.await_response()):
        with pytest.raises(cc.CitizenError.Refused) as e:
            run(call)
        assert_detail(e.value.detail, "mdoc.session_state")


def test_a_frame_altered_in_transit_is_invalid(world):
    core, _, verifier = world
    count = {"n": 0}

    def flip_one_bit(frame: bytes) -> bytes:
        count["n"] += 1
        if count["n"] == 1:  # the first frame of the response: a bit of its ciphertext
            return frame[:40] + bytes([frame[40] ^ 0x01]) + frame[41:]
        return frame

    holder, reader = link(flip_one_bit)
    session = run(core.documents().start_presentation(holder))
    vs = run(verifier.start_session(session.engagement_qr(), cc.VerifierRequest.AGE_OVER18(), reader))
    run(session.await_request())
    run(session.approve([sel("birth_date")], PASSCODE))
    verdict = run(vs.await_response())
    assert isinstance(verdict.overall, cc.VerdictOverall.INVALID)
    assert_detail(verdict.overall.failing, "mdoc.session_decrypt_failed")
    assert verdict.documents == []


def test_a_response_replayed_into_another_session_is_invalid(world):
    core, _, verifier = world
    holder, reader = link()
    session = run(core.documents().start_presentation(holder))
    vs = run(verifier.start_session(session.engagement_qr(), cc.VerifierRequest.AGE_OVER18(), reader))
    run(session.await_request())
    run(session.approve([sel("birth_date")], PASSCODE))
    assert run(vs.await_response()).overall == cc.VerdictOverall.VALID()
    recorded = list(holder.sent)

    # The attacker shows a fresh QR code of the citizen's phone, then plays the recorded frames.
    holder2, reader2 = link()
    fresh = run(core.documents().start_presentation(holder2))
    vs2 = run(verifier.start_session(fresh.engagement_qr(), cc.VerifierRequest.AGE_OVER18(), reader2))
    for frame in recorded:
        reader2.inbox.put_nowait(frame)
    verdict = run(vs2.await_response())
    assert isinstance(verdict.overall, cc.VerdictOverall.INVALID)
    assert_detail(verdict.overall.failing, "mdoc.session_decrypt_failed")
    run(fresh.decline())


def test_a_declined_request_is_an_invalid_verdict(world):
    core, _, verifier = world
    receipts = len(run(core.consent().list_receipts()))
    holder, reader = link()
    session = run(core.documents().start_presentation(holder))
    vs = run(verifier.start_session(session.engagement_qr(), cc.VerifierRequest.DRIVING_LICENCE_CHECK(), reader))
    run(session.await_request())
    run(session.decline())
    verdict = run(vs.await_response())
    assert isinstance(verdict.overall, cc.VerdictOverall.INVALID)
    assert_detail(verdict.overall.failing, "mdoc.session_ended")
    assert len(run(core.consent().list_receipts())) == receipts
