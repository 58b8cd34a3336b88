"""The attacks of issue 13 on an in-person presentation that reach the bindings, each refused
with its own code through Python (the verifier's verdict or the holder's error): a revoked
document, an issuer outside the verifier's trust list, malformed CBOR and oversized messages in
both directions, crafted here and put on the link frame by frame (ISO 18013-5 BLE framing); a
tampered element and an element from another document, presented by a dishonest holder that
signs and encrypts its edited response itself (mdoc_forger.py); an expired (and a not yet
valid) MSO, judged by a verifier whose clock is pinned (`VerifierConfig.pinned_clock`, for
tests only); a reader certificate that is not valid when the verifier enrols. A frame altered
in transit and a response replayed into another session are in test_presentation.py, readers
beyond their authorisation or under another root in test_reader_auth.py."""

from __future__ import annotations

import datetime
import json
import ssl
import urllib.request

import cbor2
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
from mdoc_forger import present_as_holder, read_phone
from test_presentation import MDL, NS, link, sel

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
        ks = SoftwareDeviceKeyStore()
        core = run(cc.CitizenCore.open(core_config(srv, data / "phone"), ks, SoftwareDataKeyWrapper()))
        enroll(core, srv, CITIZEN)
        run(core.account().login(PASSCODE))
        assert len(run(core.documents().refresh())) == 4
        stranger = verifier_of(foreign, data / "stranger")
    finally:
        stop_server(foreign)
    yield core, srv, stranger, ks
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


BHYT = "vn.gov.bhxh.bhyt.1"  # the health-insurance card's docType and namespace


def documents_of(core) -> int:
    return len(run(core.documents().list()))


def items(document: dict, namespace: str) -> list:
    return document["issuerSigned"]["nameSpaces"][namespace]


def identifier(item) -> str:
    return cbor2.loads(item.value)["elementIdentifier"]


def test_a_tampered_element_or_one_from_another_document_is_invalid(world, tmp_path):
    """The citizen's licence read off the phone, then presented by a holder that signs device
    authentication itself: unedited it is valid (the forger is faithful); with its birth date
    changed it is a digest mismatch; with the health card's signed birth date spliced in, an
    element the licence's MSO does not sign. The wallet keeps its four documents."""
    core, srv, _, ks = world
    verifier = verifier_of(srv, tmp_path / "v")
    asked = cc.VerifierRequest.AGE_OVER18()
    licence, alias = read_phone(core, ks, link, MDL, NS, ["family_name", "birth_date"])
    card, _ = read_phone(core, ks, link, BHYT, BHYT, ["birth_date"])
    key = ks._key(alias)  # the document's device key: the attacker is the holder

    faithful = present_as_holder(verifier, asked, link, cbor2.loads(cbor2.dumps(licence)), key)
    assert faithful.overall == cc.VerdictOverall.VALID(), faithful
    assert sorted(e.identifier for e in faithful.documents[0].elements) == ["birth_date", "family_name"]

    tampered = cbor2.loads(cbor2.dumps(licence))
    doc = tampered["documents"][0]
    (i,) = [n for n, it in enumerate(items(doc, NS)) if identifier(it) == "birth_date"]
    item = cbor2.loads(items(doc, NS)[i].value)
    item["elementValue"] = cbor2.CBORTag(1004, "2001-01-01")
    items(doc, NS)[i] = cbor2.CBORTag(24, cbor2.dumps(item))
    verdict = present_as_holder(verifier, asked, link, tampered, key)
    invalid(verdict, "mdoc.digest_mismatch")
    digests = next(c for c in verdict.checks if c.check == cc.VerificationCheckKind.ELEMENT_DIGESTS)
    assert isinstance(digests.outcome, cc.CheckOutcome.FAILED)

    spliced = cbor2.loads(cbor2.dumps(licence))
    doc = spliced["documents"][0]
    doc["issuerSigned"]["nameSpaces"][NS] = [it for it in items(doc, NS) if identifier(it) != "birth_date"]
    doc["issuerSigned"]["nameSpaces"][BHYT] = items(card["documents"][0], BHYT)
    assert [identifier(it) for it in items(doc, BHYT)] == ["birth_date"]
    verdict = present_as_holder(verifier, asked, link, spliced, key)
    invalid(verdict, "mdoc.element_not_signed")
    assert documents_of(core) == 4


def pinned(srv, directory, at: datetime.datetime):
    """A verifier on `directory`'s cached lists whose clock reads `at`."""
    config = cc.default_verifier_config(srv.base_url, str(directory))
    config.trust_anchors_pem = [srv.ca_pem]
    config.spki_pins = [srv.pin, srv.backup_pin]
    config.pinned_clock = at
    return run(cc.Verifier.open(config))


def test_an_expired_or_not_yet_valid_mso_is_invalid(world, tmp_path):
    """The lists are cached today; the licence (valid one year) is then judged by the same
    verifier's cache with the clock two years ahead, and a day before it was issued."""
    core, srv, _, _ = world
    assert present(core, verifier_of(srv, tmp_path / "v")).overall == cc.VerdictOverall.VALID()
    now = datetime.datetime.now(datetime.timezone.utc)
    later = present(core, pinned(srv, tmp_path / "v", now + datetime.timedelta(days=730)))
    invalid(later, "mdoc.expired")
    validity = next(c for c in later.checks if c.check == cc.VerificationCheckKind.VALIDITY)
    assert isinstance(validity.outcome, cc.CheckOutcome.FAILED)
    earlier = present(core, pinned(srv, tmp_path / "v", now - datetime.timedelta(days=1)))
    invalid(earlier, "mdoc.not_yet_valid")
    assert documents_of(core) == 4


def test_a_reader_certificate_not_valid_at_enrolment_is_refused_and_not_kept(world, tmp_path):
    """The server certifies the reader from today; a verifier whose clock reads three years on
    finds the certificate expired, refuses it and keeps no enrolment."""
    _, srv, _, _ = world
    verifier_of(srv, tmp_path / "v")
    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=3 * 365)
    v = pinned(srv, tmp_path / "v", later)
    token = (srv.data_dir / "official-token").read_text().strip()
    with pytest.raises(cc.CitizenError.Refused) as e:
        run(v.enrol_reader(token, cc.VerifierRole.TRAFFIC_POLICE))
    assert_detail(e.value.detail, "verifier.reader_certificate_invalid")
    assert run(v.enrolled_reader()) is None


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
