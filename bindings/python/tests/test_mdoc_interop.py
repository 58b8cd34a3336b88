"""Our ISO 18013-5 mdocs against an implementation we did not write (issue 13, "proof against
things we did not write"): `pymdoccbor` (PyPI, the EUDI wallet's pyMDOC-CBOR line; version pinned
in bindings/requirements.txt), next to test_interop.py which does the same for the SD-JWT VC.

Artefacts:
* the reference server's real issuance: the four documents of `POST /v1/documents`, recorded in
  transit by a proxy while the Python bindings refresh the documents wallet, checked against the
  IACA root of the server's signed trust list;
* `crates/citizen-mdoc/examples/mdoc_fixture.rs` (`write`): one `IssuerSigned` of each document
  type signed by `citizen_mdoc::issue_issuer_signed` (the server's function) under the test PKI,
  and the plaintext `DeviceResponse` of an in-person presentation of the driving licence with 6
  of its 20 elements (the crate's holder and reader, reader authentication, device signature).

What pymdoccbor 1.4.0 checks (`MobileDocument.verify`, `MdocCbor.verify`): the COSE_Sign1
signature over the MSO under the first `x5chain` certificate, that this certificate is signed
directly by one of the given roots and is within its validity at the *current* time, and that
every `IssuerSignedItemBytes` of a namespace the MSO lists hashes (SHA-256) to its `valueDigests`
entry. What it does not check, each shown below on bytes it accepts and our verifier refuses:
device authentication (`deviceSigned` is not read), the MSO `validityInfo`, the Document's
docType against the MSO's, elements of a namespace absent from `valueDigests` (logged as a
warning, then accepted), the document signer's mdlDS extended key usage and any intermediate
certificate (the chain is one signature deep).
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import subprocess
from pathlib import Path

import cbor2
import pytest
from conftest import run
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pymdoccbor.mdoc.verifier import MdocCbor, MobileDocument

REPO = Path(__file__).resolve().parents[3]
MDL = "org.iso.18013.5.1.mDL"
NS = "org.iso.18013.5.1"
SIX = ["family_name", "given_name", "birth_date", "document_number", "expiry_date", "driving_privileges"]
ISSUED = {
    "cccd.mdoc": "vn.gov.bca.cccd.1",
    "mdl.mdoc": MDL,
    "bhyt.mdoc": "vn.gov.bhxh.bhyt.1",
    "vehicle_registration.mdoc": "vn.gov.bca.vehicle_registration.1",
}


def ours(*args: str) -> dict:
    """Run the crate's example (`write`, or our own `check`/`verify` verdict as JSON); built by
    bindings/test.sh (`cargo build -p citizen-mdoc --example mdoc_fixture`)."""
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    binary = target / "debug" / "examples" / "mdoc_fixture"
    if not binary.is_file():
        pytest.fail(f"{binary} not found: run `cargo build -p citizen-mdoc --example mdoc_fixture` (bindings/test.sh does)")
    out = subprocess.run([str(binary), *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1]) if args[0] != "write" else {}


@pytest.fixture(scope="module")
def fixture(tmp_path_factory):
    out = tmp_path_factory.mktemp("mdoc-fixture")
    ours("write", str(out))
    manifest = json.loads((out / "manifest.json").read_text())
    iaca = x509.load_der_x509_certificate((out / "iaca.der").read_bytes())
    return out, manifest, iaca


def thaw(v):
    """cbor2 6 decodes to frozendict/tuple: mutable copies to alter before re-encoding."""
    if isinstance(v, cbor2.CBORTag):
        return cbor2.CBORTag(v.tag, thaw(v.value))
    if isinstance(v, dict) or (hasattr(v, "items") and not isinstance(v, (bytes, str))):
        return {thaw(k): thaw(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [thaw(x) for x in v]
    return v


def item(tagged: cbor2.CBORTag) -> dict:
    assert tagged.tag == 24
    return cbor2.loads(tagged.value)


def mso(issuer_signed: dict) -> dict:
    payload = cbor2.loads(issuer_signed["issuerAuth"][2])
    return cbor2.loads(payload.value)


def other_root() -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Not our IACA (test)")])
    now = datetime.datetime.now(datetime.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )


def pymdoc_document(doc_type: str, issuer_signed_bytes: bytes, root) -> MobileDocument:
    doc = MobileDocument(docType=doc_type, issuerSigned=cbor2.loads(issuer_signed_bytes))
    assert doc.verify(trusted_root_certs=[root]) is True
    return doc


def pymdoc_response(response: bytes, root) -> tuple[bool, MdocCbor]:
    mdoc = MdocCbor()
    mdoc.loads(response)
    return mdoc.verify(trusted_root_certs=[root]), mdoc


@pytest.mark.parametrize("name", list(ISSUED))
def test_issued_mdoc_verifies_with_pymdoccbor(fixture, name):
    out, manifest, iaca = fixture
    raw = (out / name).read_bytes()
    doc = pymdoc_document(ISSUED[name], raw, iaca)
    expected = manifest[name]["elements"]
    assert doc.hash_verification["total"] == doc.hash_verification["verified"] == len(expected)
    m = doc.issuersigned.issuer_auth.payload_as_dict
    assert m["docType"] == ISSUED[name] and m["digestAlgorithm"] == "SHA-256"
    assert m["status"]["status_list"]["uri"].endswith("/v1/documents/status/1")
    values = {item(t)["elementIdentifier"]: item(t)["elementValue"] for t in cbor2.loads(raw)["nameSpaces"][manifest[name]["namespace"]]}
    for element, value in expected.items():
        got = values[element]
        if isinstance(value, (str, int, bool)):
            got = got.value if isinstance(got, cbor2.CBORTag) else got
            # cbor2 reads a full-date (tag 1004) as a datetime.date.
            got = got.isoformat() if isinstance(got, datetime.date) else got
            assert got == value, element
    # Our own check of the same bytes agrees.
    assert ours("check", str(out), name, ISSUED[name]) == {"valid": True}


def test_device_response_with_six_elements_verifies_with_pymdoccbor(fixture):
    out, manifest, iaca = fixture
    response = (out / "device_response.cbor").read_bytes()
    ok, mdoc = pymdoc_response(response, iaca)
    assert ok is True and len(mdoc.documents) == 1 and mdoc.documents_invalid == []
    assert mdoc.status == 0 and mdoc.documents[0].doctype == MDL
    assert mdoc.documents[0].hash_verification["verified"] == 6
    disclosed = mdoc.disclosure_map[NS]
    assert sorted(disclosed) == sorted(SIX) == sorted(manifest["device_response.cbor"]["disclosed"])
    for element, value in manifest["device_response.cbor"]["elements"].items():
        if isinstance(value, str):
            got = disclosed[element]
            assert (got.isoformat() if isinstance(got, datetime.date) else got) == value, element
    assert disclosed["driving_privileges"][0]["vehicle_category_code"] == "B"
    assert ours("verify", str(out), "device_response.cbor") == {"valid": True}


def write_altered(out: Path, name: str, value) -> str:
    altered = f"altered-{name}"
    (out / altered).write_bytes(cbor2.dumps(value))
    return altered


def test_tampered_element_is_refused_by_both(fixture):
    out, _, iaca = fixture
    response = thaw(cbor2.loads((out / "device_response.cbor").read_bytes()))
    items = response["documents"][0]["issuerSigned"]["nameSpaces"][NS]
    for i, tagged in enumerate(items):
        content = item(tagged)
        if content["elementIdentifier"] == "family_name":
            content = thaw(content)
            content["elementValue"] = "Trần"
            items[i] = cbor2.CBORTag(24, cbor2.dumps(content))
    name = write_altered(out, "tampered.cbor", response)
    ok, mdoc = pymdoc_response((out / name).read_bytes(), iaca)
    assert ok is False and mdoc.documents == []
    failed = mdoc.documents_invalid[0].hash_verification["failed"]
    assert [(f["elementIdentifier"], f["reason"]) for f in failed] == [("family_name", "hash mismatch")]
    assert ours("verify", str(out), name)["code"] == "mdoc.digest_mismatch"


def test_issuer_outside_the_trust_list_is_refused_by_both(fixture):
    out, _, _ = fixture
    raw = (out / "mdl.mdoc").read_bytes()
    with pytest.raises(ValueError, match="not signed by any trusted root"):
        MobileDocument(docType=MDL, issuerSigned=cbor2.loads(raw)).verify(trusted_root_certs=[other_root()])
    ok, mdoc = pymdoc_response((out / "device_response.cbor").read_bytes(), other_root())
    assert ok is False and mdoc.documents == []


def test_altered_mso_fails_the_issuer_signature_for_both(fixture):
    out, _, iaca = fixture
    response = thaw(cbor2.loads((out / "device_response.cbor").read_bytes()))
    auth = response["documents"][0]["issuerSigned"]["issuerAuth"]
    payload = cbor2.loads(auth[2])
    m = thaw(cbor2.loads(payload.value))
    m["docType"] = "org.iso.18013.5.1.mDX"  # same length
    auth[2] = cbor2.dumps(cbor2.CBORTag(24, cbor2.dumps(m)))
    name = write_altered(out, "mso.cbor", response)
    ok, mdoc = pymdoc_response((out / name).read_bytes(), iaca)
    assert ok is False and mdoc.documents == []
    assert ours("verify", str(out), name)["code"] == "mdoc.issuer_signature"


# What pymdoccbor 1.4.0 does not check: each alteration below is accepted by it (so the test
# fails, and this list must be revised, if a pinned upgrade starts refusing it) and refused by
# our verifier with its own code.


def test_not_checked_by_pymdoccbor_device_authentication(fixture):
    out, _, iaca = fixture
    response = thaw(cbor2.loads((out / "device_response.cbor").read_bytes()))
    auth = response["documents"][0]["deviceSigned"]["deviceAuth"]["deviceSignature"]
    signature = bytearray(auth[3])
    signature[5] ^= 0x01
    auth[3] = bytes(signature)
    name = write_altered(out, "device-signature.cbor", response)
    ok, _ = pymdoc_response((out / name).read_bytes(), iaca)
    assert ok is True
    assert ours("verify", str(out), name)["code"] == "mdoc.device_auth_failed"


def test_not_checked_by_pymdoccbor_mso_validity(fixture):
    out, _, iaca = fixture
    raw = (out / "mdl_expired.mdoc").read_bytes()
    doc = pymdoc_document(MDL, raw, iaca)
    valid_until = doc.issuersigned.issuer_auth.payload_as_dict["validityInfo"]["validUntil"]
    until = valid_until.value if isinstance(valid_until, cbor2.CBORTag) else valid_until
    if isinstance(until, str):
        until = datetime.datetime.fromisoformat(until.replace("Z", "+00:00"))
    assert until < datetime.datetime.now(datetime.timezone.utc)
    assert ours("check", str(out), "mdl_expired.mdoc", MDL)["code"] == "mdoc.expired"


def test_not_checked_by_pymdoccbor_doc_type(fixture):
    out, _, iaca = fixture
    response = thaw(cbor2.loads((out / "device_response.cbor").read_bytes()))
    response["documents"][0]["docType"] = "vn.gov.bca.cccd.1"
    name = write_altered(out, "doc-type.cbor", response)
    ok, mdoc = pymdoc_response((out / name).read_bytes(), iaca)
    assert ok is True and mdoc.documents[0].doctype == "vn.gov.bca.cccd.1"
    assert ours("verify", str(out), name)["code"] == "mdoc.doctype_mismatch"


def test_not_checked_by_pymdoccbor_unsigned_namespace(fixture):
    out, _, iaca = fixture
    response = thaw(cbor2.loads((out / "device_response.cbor").read_bytes()))
    forged = {"digestID": 0, "random": b"\0" * 16, "elementIdentifier": "age_over_21", "elementValue": True}
    response["documents"][0]["issuerSigned"]["nameSpaces"]["org.example.forged"] = [
        cbor2.CBORTag(24, cbor2.dumps(forged))
    ]
    name = write_altered(out, "namespace.cbor", response)
    ok, mdoc = pymdoc_response((out / name).read_bytes(), iaca)
    assert ok is True and mdoc.disclosure_map["org.example.forged"] == {"age_over_21": True}
    assert ours("verify", str(out), name)["code"] == "mdoc.element_not_signed"


# The reference server's real issuance path, through the Python bindings.

# A fictitious register citizen; the test runs a server of its own.
CITIZEN = ("001090000007", "1990-02-02", "+84900000007")


def test_server_issued_documents_verify_with_pymdoccbor(tmp_path_factory, tmp_path):
    import citizen_core as cc
    from conftest import PASSCODE, SoftwareDataKeyWrapper, SoftwareDeviceKeyStore, core_config, enroll, start_server, stop_server
    from test_documents import TamperingProxy, free_port

    port = free_port()
    origin = f"https://127.0.0.1:{port}"
    data = tmp_path_factory.mktemp("mdoc-interop-server")
    srv = start_server(data, extra_args=["--public-url", origin])
    proxy = TamperingProxy(srv.base_url, srv.ca_pem, data / "pki", port)
    try:
        device = tmp_path / "device"
        device.mkdir()
        core = run(cc.CitizenCore.open(core_config(srv, device, origin), SoftwareDeviceKeyStore(), SoftwareDataKeyWrapper()))
        enroll(core, srv, CITIZEN)
        run(core.account().login(PASSCODE))
        assert len(run(core.documents().refresh())) == 4
        answer = json.loads(proxy.last_documents_answer)
    finally:
        proxy.close()
        stop_server(srv)

    iaca = x509.load_der_x509_certificate((data / "documents" / "iaca.der").read_bytes())
    kinds = {}
    for doc in answer["documents"]:
        raw = base64.urlsafe_b64decode(doc["mdoc"] + "=" * (-len(doc["mdoc"]) % 4))
        issuer_signed = cbor2.loads(raw)
        doc_type = mso(issuer_signed)["docType"]
        checked = pymdoc_document(doc_type, raw, iaca)
        assert checked.hash_verification["total"] == checked.hash_verification["verified"] > 0
        kinds[doc["kind"]] = doc_type
    assert sorted(kinds.values()) == sorted(ISSUED.values())
