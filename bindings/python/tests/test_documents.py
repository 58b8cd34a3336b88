"""The documents wallet through the Python bindings (issue 13 item 1): the four documents are
issued, checked and stored; listed, shown with Vietnamese and English labels and the portrait,
deleted. A tampered issuance — one byte of an element changed in transit by a proxy in front of
the server — is refused with its code and nothing is stored. The status list the documents point
to is a zlib stream Python's own `zlib` inflates."""

from __future__ import annotations

import base64
import http.server
import json
import socket
import ssl
import threading
import urllib.request
import zlib

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

CITIZEN = ("001090000007", "1990-02-02", "+84900000007")
FULL_NAME = "Vũ Văn Dữ Liệu"


def b64url_decode(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def b64url_encode(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


class TamperingProxy:
    """HTTPS in front of the server with the server's own development certificate (so the
    core's trust anchor and pins hold); rewrites the answer of `POST /v1/documents` while
    `tamper` is set, and keeps the last such answer as received from the server
    (`last_documents_answer`, read by test_mdoc_interop.py)."""

    def __init__(self, upstream: str, ca_pem: str, pki_dir, port: int):
        self.tamper = False
        self.last_documents_answer: bytes | None = None
        upstream_ctx = ssl.create_default_context(cadata=ca_pem)
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def forward(self):
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection", "content-length")}
                req = urllib.request.Request(upstream + self.path, data=body, method=self.command, headers=headers)
                try:
                    with urllib.request.urlopen(req, context=upstream_ctx) as r:
                        status, rbody, ctype = r.status, r.read(), r.headers.get("content-type", "application/json")
                except urllib.error.HTTPError as e:
                    status, rbody, ctype = e.code, e.read(), e.headers.get("content-type", "application/json")
                if self.command == "POST" and self.path == "/v1/documents" and status == 200:
                    proxy.last_documents_answer = rbody
                    if proxy.tamper:
                        rbody = tamper_documents(rbody)
                self.send_response(status)
                self.send_header("content-type", ctype)
                self.send_header("content-length", str(len(rbody)))
                self.end_headers()
                self.wfile.write(rbody)

            do_GET = do_POST = forward

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(pki_dir / "leaf.pem", pki_dir / "leaf-key.pem")
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


def tamper_documents(body: bytes) -> bytes:
    """Change the family name inside the driving licence's mdoc (same length: the CBOR stays
    well-formed, only the element's digest no longer matches)."""
    answer = json.loads(body)
    doc = next(d for d in answer["documents"] if d["kind"] == "driving_licence")
    raw = b64url_decode(doc["mdoc"])
    family = FULL_NAME.split(" ")[0].encode()
    assert family in raw
    doc["mdoc"] = b64url_encode(raw.replace(family, b"X" * len(family), 1))
    return json.dumps(answer).encode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def proxied(tmp_path_factory):
    """A server whose public URL is the tampering proxy's origin (the audience the device
    signs for is the one it talks to)."""
    port = free_port()
    origin = f"https://127.0.0.1:{port}"
    data = tmp_path_factory.mktemp("documents-server")
    srv = start_server(data, extra_args=["--public-url", origin])
    proxy = TamperingProxy(srv.base_url, srv.ca_pem, data / "pki", port)
    yield srv, proxy, origin
    proxy.close()
    stop_server(srv)


@pytest.fixture
def core(proxied, tmp_path):
    srv, proxy, origin = proxied
    proxy.tamper = False
    data_dir = tmp_path / "device"
    data_dir.mkdir()
    c = run(cc.CitizenCore.open(core_config(srv, data_dir, origin), SoftwareDeviceKeyStore(), SoftwareDataKeyWrapper()))
    enroll(c, srv, CITIZEN)
    run(c.account().login(PASSCODE))
    return c


def test_issue_list_show_delete(core, proxied):
    srv, _, origin = proxied
    docs = core.documents()
    assert run(docs.list()) == []
    listed = run(docs.refresh())
    assert [d.document_type for d in listed] == [
        cc.DocumentType.CITIZEN_ID_CARD,
        cc.DocumentType.DRIVING_LICENCE,
        cc.DocumentType.HEALTH_INSURANCE_CARD,
        cc.DocumentType.VEHICLE_REGISTRATION,
    ]
    assert listed[1].doc_type == "org.iso.18013.5.1.mDL"
    assert all(d.valid_until > d.signed_at for d in listed)
    assert run(docs.trust_list_fetched_at()) is not None

    mdl = run(docs.get(listed[1].id))
    fields = {f.identifier: f for f in mdl.fields}
    assert fields["birth_date"].value == "1990-02-02"
    assert (fields["birth_date"].label_vi, fields["birth_date"].label_en) == ("Ngày sinh", "Date of birth")
    assert fields["driving_privileges"].value.startswith("A1: ")
    assert mdl.portrait is not None and mdl.portrait[:2] == b"\xff\xd8"
    car = run(docs.get(listed[3].id))
    assert {f.identifier: f.value for f in car.fields}["owner_name"] == FULL_NAME

    # The status list token: signed JWT whose `lst` is a zlib stream with this document's bit clear.
    ctx = ssl.create_default_context(cadata=srv.ca_pem)
    with urllib.request.urlopen(srv.base_url + "/v1/documents/status/1", context=ctx) as r:
        assert r.headers["content-type"] == "application/statuslist+jwt"
        header, payload, _ = r.read().decode().split(".")
    assert json.loads(b64url_decode(header))["typ"] == "statuslist+jwt"
    claims = json.loads(b64url_decode(payload))
    bits = zlib.decompress(b64url_decode(claims["status_list"]["lst"]))
    idx = listed[1].status_index
    assert claims["status_list"]["bits"] == 1 and (bits[idx // 8] >> (idx % 8)) & 1 == 0

    run(docs.delete(listed[3].id))
    assert len(run(docs.list())) == 3
    with pytest.raises(cc.CitizenError.NotFound) as e:
        run(docs.get(listed[3].id))
    assert_detail(e.value.detail, "documents.unknown")


def test_tampered_issuance_is_refused_and_nothing_stored(core, proxied):
    _, proxy, _ = proxied
    docs = core.documents()
    proxy.tamper = True
    with pytest.raises(cc.CitizenError.Refused) as e:
        run(docs.refresh())
    assert_detail(e.value.detail, "mdoc.digest_mismatch")
    assert run(docs.list()) == []
    assert run(docs.trust_list_fetched_at()) is None
    proxy.tamper = False
    assert len(run(docs.refresh())) == 4
