"""A dishonest holder for the presentation attacks that need one (issue 13): the citizen's own
phone is read as an ISO 18013-5 reader would read it, and what it answered is then presented
by this module, playing the holder, to a verifier in a session of its own: the response edited,
device authentication signed again with the document's device key (the test's software key
store holds it, as a rooted phone's owner would) and encrypted under that session's keys. An
edited response therefore reaches the verifier's element checks intact, and an unedited one is
valid (the control that shows the forger itself is faithful).

ISO/IEC 18013-5 §9.1.1 (session encryption: ECDH, HKDF-SHA-256 salted with
SHA-256(SessionTranscriptBytes), AES-256-GCM with identifier ‖ counter nonces), §9.1.3
(DeviceAuthentication), §8.3.3.1.1.4 (QR engagement: the Handover is null). Only `cbor2` and
`cryptography`."""

from __future__ import annotations

import base64
import hashlib

import cbor2
import citizen_core as cc
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from conftest import PASSCODE, run

FRAME = 182


def frames(payload: bytes, size: int = FRAME) -> list[bytes]:
    """`payload` cut into BLE frames: 0x01 before every chunk but the last, 0x00 before it."""
    chunks = [payload[i : i + size - 1] for i in range(0, len(payload), size - 1)] or [b""]
    return [bytes([1]) + c for c in chunks[:-1]] + [bytes([0]) + chunks[-1]]


def receive(queue) -> bytes:
    """One message from an end's queue of frames (on the shared loop)."""
    message = b""
    while True:
        frame = run(queue.get())
        message += frame[1:]
        if frame[0] == 0:
            return message


def cose_key(public: ec.EllipticCurvePublicKey) -> bytes:
    n = public.public_numbers()
    return cbor2.dumps({1: 2, -1: 1, -2: n.x.to_bytes(32, "big"), -3: n.y.to_bytes(32, "big")})


def public_of(cose: bytes) -> ec.EllipticCurvePublicKey:
    k = cbor2.loads(cose)
    x, y = int.from_bytes(k[-2], "big"), int.from_bytes(k[-3], "big")
    return ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()


class Session:
    """Session keys and counters of one side of an ISO 18013-5 session."""

    def __init__(self, own: ec.EllipticCurvePrivateKey, peer: ec.EllipticCurvePublicKey, transcript: bytes):
        shared = own.exchange(ec.ECDH(), peer)
        salt = hashlib.sha256(cbor2.dumps(cbor2.CBORTag(24, transcript))).digest()
        self.sk_device = HKDF(hashes.SHA256(), 32, salt, b"SKDevice").derive(shared)
        self.sk_reader = HKDF(hashes.SHA256(), 32, salt, b"SKReader").derive(shared)
        self.transcript = transcript  # the SessionTranscript array's encoding
        self.counters = {True: 0, False: 0}

    def _nonce(self, reader: bool) -> bytes:
        self.counters[reader] += 1
        return (bytes(8) if reader else bytes(7) + b"\x01") + self.counters[reader].to_bytes(4, "big")

    def seal(self, plaintext: bytes, reader: bool) -> bytes:
        key = self.sk_reader if reader else self.sk_device
        return AESGCM(key).encrypt(self._nonce(reader), plaintext, None)

    def open(self, ciphertext: bytes, reader: bool) -> bytes:
        key = self.sk_reader if reader else self.sk_device
        return AESGCM(key).decrypt(self._nonce(reader), ciphertext, None)


def transcript_of(engagement: bytes, reader_key: bytes) -> bytes:
    """SessionTranscript = [DeviceEngagementBytes, EReaderKeyBytes, null] (QR handover)."""
    return cbor2.dumps([cbor2.CBORTag(24, engagement), cbor2.CBORTag(24, reader_key), None])


def engagement_of(qr: str) -> bytes:
    body = qr.removeprefix("mdoc:")
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))


def read_phone(core, keystore, link, doc_type: str, namespace: str, elements: list[str]):
    """Read `elements` of the citizen's `doc_type` as an anonymous reader would: the phone's
    (decoded) DeviceResponse and the key-store alias that signed it."""
    holder, reader = link()
    session = run(core.documents().start_presentation(holder))
    engagement = engagement_of(session.engagement_qr())
    device_key = public_of(cbor2.loads(engagement)[1][1].value)
    own = ec.generate_private_key(ec.SECP256R1())
    reader_key = cose_key(own.public_key())
    s = Session(own, device_key, transcript_of(engagement, reader_key))
    items = cbor2.dumps({"docType": doc_type, "nameSpaces": {namespace: {e: False for e in elements}}})
    request = cbor2.dumps({"version": "1.0", "docRequests": [{"itemsRequest": cbor2.CBORTag(24, items)}]})
    establishment = cbor2.dumps({"eReaderKey": cbor2.CBORTag(24, reader_key), "data": s.seal(request, reader=True)})
    for f in frames(establishment):
        holder.inbox.put_nowait(f)
    run(session.await_request())
    before = len(keystore.requests)
    chosen = [cc.ElementSelection(doc_type=doc_type, namespace=namespace, identifier=e) for e in elements]
    run(session.approve(chosen, PASSCODE))
    alias = keystore.requests[before][0]
    answer = cbor2.loads(receive(reader.inbox))
    return cbor2.loads(s.open(answer["data"], reader=False)), alias


def sign_device_auth(document: dict, transcript: bytes, key: ec.EllipticCurvePrivateKey) -> None:
    """Replace `document`'s DeviceSignature by one over this session's DeviceAuthentication."""
    device_signed = document["deviceSigned"]
    namespaces = device_signed["nameSpaces"]
    da = (
        b"\x84"
        + cbor2.dumps("DeviceAuthentication")
        + transcript
        + cbor2.dumps(document["docType"])
        + cbor2.dumps(namespaces)
    )
    dab = cbor2.dumps(cbor2.CBORTag(24, da))
    sign1 = device_signed["deviceAuth"]["deviceSignature"]
    if isinstance(sign1, cbor2.CBORTag):  # COSE_Sign1_Tagged
        sign1 = sign1.value
    protected = sign1[0]
    tbs = cbor2.dumps(["Signature1", protected, b"", dab])
    r, s = decode_dss_signature(key.sign(tbs, ec.ECDSA(hashes.SHA256())))
    sign1[3] = r.to_bytes(32, "big") + s.to_bytes(32, "big")


def present_as_holder(verifier, request, link, response: dict, key: ec.EllipticCurvePrivateKey):
    """Present `response` to `verifier` in a fresh session of our own engagement, device
    authentication signed again with `key`; the verdict."""
    own = ec.generate_private_key(ec.SECP256R1())
    engagement = cbor2.dumps({0: "1.0", 1: [1, cbor2.CBORTag(24, cose_key(own.public_key()))]})
    qr = "mdoc:" + base64.urlsafe_b64encode(engagement).rstrip(b"=").decode()
    holder, reader = link()
    vs = run(verifier.start_session(qr, request, reader))
    establishment = cbor2.loads(receive(holder.inbox))
    reader_key = establishment["eReaderKey"].value
    s = Session(own, public_of(reader_key), transcript_of(engagement, reader_key))
    cbor2.loads(s.open(establishment["data"], reader=True))  # the DeviceRequest: we are in session
    for document in response["documents"]:
        sign_device_auth(document, s.transcript, key)
    message = cbor2.dumps({"data": s.seal(cbor2.dumps(response), reader=False)})
    for f in frames(message):
        reader.inbox.put_nowait(f)
    return run(vs.await_response())
