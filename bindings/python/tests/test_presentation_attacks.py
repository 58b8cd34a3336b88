"""The attacks of issue 13 on an in-person presentation that reach the bindings, each refused
with its own code through Python (the verifier's verdict or the holder's error): a revoked
document, an issuer outside the verifier's trust list, malformed CBOR and oversized messages in
both directions, crafted here and put on the link frame by frame (ISO 18013-5 BLE framing). A
frame altered in transit and a response replayed into another session are in
test_presentation.py, readers beyond their authorisation or under another root in
test_reader_auth.py; a tampered element, an element from another document and an expired MSO
need a holder that re-encrypts its own forged response, which the Rust suites do
(crates/citizen-mdoc/tests/presentation.rs)."""

from __future__ import annotations

import json
import ssl
import urllib.request

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
from test_presentation import MDL, link, sel

CITIZEN = ("079195000002", "1995-06-30", "+84900000002")
REQUEST_LIMIT = 64 * 1024
RESPONSE_LIMIT = 256 * 1024 + 1024


def verifier_of(srv, directory):
    config = cc.default_verifier_config(srv.base_url, str(directory))
    config.trust_anchors_pem = [srv.ca_pem]
    config.spki_pins = [srv.pin, srv.backup_pin]
    v = run(cc.Verifier.open(config))
    run(v.refresh_trust())
    return v


def revoke(srv, document_id: str) -> None:
    token = (srv.data_dir / "official-token").read_text().strip()
    req = urllib.request.Request(
        srv.base_url + "/v1/official/documents/revoke",
        data=json.dumps({"document_id": document_id}).encode(),
        method="POST",
        headers={"content-type": "application/json", "x-official-token": token},
    )
    with urllib.request.urlopen(req, context=ssl.create_default_context(cadata=srv.ca_pem)) as r:
        assert r.status == 200


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    data = tmp_path_factory.mktemp("attacks")
    srv = start_server(data / "server")
    foreign = start_server(data / "foreign")
    try:
        (data / "phone").mkdir()
        core = run(cc.CitizenCore.open(core_config(srv, data / "phone"), SoftwareDeviceKeyStore(), SoftwareDataKeyWrapper()))
        enroll(core, srv, CITIZEN)
        run(core.account().login(PASSCODE))
        assert len(run(core.documents().refresh())) == 4
        stranger = verifier_of(foreign, data / "stranger")
    finally:
        stop_server(foreign)
    yield core, srv, stranger, data
    stop_server(srv)


def present(core, verifier, chosen=("birth_date",)):
    holder, reader = link()
    session = run(core.documents().start_presentation(holder))
    vs = run(verifier.start_session(session.engagement_qr(), cc.VerifierRequest.AGE_OVER18(), reader))
    run(session.await_request())
    run(session.approve([sel(c) for c in chosen], PASSCODE))
    return run(vs.await_response())


def invalid(verdict, code: str) -> None:
    assert isinstance(verdict.overall, cc.VerdictOverall.INVALID), verdict
    assert_detail(verdict.overall.failing, code)
    assert verdict.documents == [], "nothing shown of an invalid document"


def test_a_document_from_an_issuer_outside_the_trust_list_is_invalid(world):
    core, _, stranger, _ = world
    verdict = present(core, stranger)
    invalid(verdict, "mdoc.issuer_untrusted")
    failed = [c for c in verdict.checks if isinstance(c.outcome, cc.CheckOutcome.FAILED)]
    assert [c.check for c in failed] == [cc.VerificationCheckKind.ISSUER_CHAIN]


def frames(payload: bytes, size: int = 182) -> list[bytes]:
    """`payload` cut into BLE frames: 0x01 before every chunk but the last, 0x00 before it."""
    chunks = [payload[i : i + size - 1] for i in range(0, len(payload), size - 1)] or [b""]
    return [bytes([1]) + c for c in chunks[:-1]] + [bytes([0]) + chunks[-1]]


def verifier_receiving(core, verifier, payload: bytes):
    """A verifier session fed `payload` as the holder's answer (the phone's session is left
    waiting, then declined)."""
    holder, reader = link()
    session = run(core.documents().start_presentation(holder))
    vs = run(verifier.start_session(session.engagement_qr(), cc.VerifierRequest.AGE_OVER18(), reader))
    for f in frames(payload):
        reader.inbox.put_nowait(f)
    verdict = run(vs.await_response())
    run(session.decline())
    return verdict


def holder_receiving(core, payload: bytes):
    """The phone's `await_request` fed `payload` as the verifier's first message."""
    holder, _ = link()
    session = run(core.documents().start_presentation(holder))
    for f in frames(payload):
        holder.inbox.put_nowait(f)
    with pytest.raises(cc.CitizenError.Refused) as e:
        run(session.await_request())
    return e.value.detail


def test_malformed_cbor_is_refused_by_the_verifier_and_by_the_phone(world, tmp_path):
    core, srv, _, _ = world
    verifier = verifier_of(srv, tmp_path / "v")
    invalid(verifier_receiving(core, verifier, b"\xa2\x64data\xff\xff"), "mdoc.malformed")
    assert_detail(holder_receiving(core, b"\xa1\x6aeReaderKey\x9f"), "mdoc.malformed")


def test_oversized_messages_are_refused_before_decoding(world, tmp_path):
    core, srv, _, _ = world
    verifier = verifier_of(srv, tmp_path / "v")
    invalid(verifier_receiving(core, verifier, b"\x00" * (RESPONSE_LIMIT + 1)), "mdoc.too_large")
    assert_detail(holder_receiving(core, b"\x00" * (REQUEST_LIMIT + 1)), "mdoc.too_large")


def test_a_revoked_document_is_invalid_once_the_verifier_has_the_new_list(world, tmp_path):
    core, srv, _, _ = world
    verifier = verifier_of(srv, tmp_path / "v")
    assert present(core, verifier).overall == cc.VerdictOverall.VALID()
    licence = next(d for d in run(core.documents().list()) if d.doc_type == MDL)
    revoke(srv, licence.id)
    run(verifier.refresh_trust())
    verdict = present(core, verifier)
    invalid(verdict, "mdoc.revoked")
    revocation = next(c for c in verdict.checks if c.check == cc.VerificationCheckKind.REVOCATION)
    assert isinstance(revocation.outcome, cc.CheckOutcome.FAILED)
