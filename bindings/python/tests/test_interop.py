"""Interoperability with verifiers we did not write (issue 13, item 5), in the test command:

* our PID SD-JWT VC presentation (the protocol crate's issuer and holder code, through its
  `sdjwt_interop` example) verifies with the reference `sd-jwt` package (PyPI) and with
  `@sd-jwt/sd-jwt-vc` (npm), with the explicit `typ` values `dc+sd-jwt` and `kb+jwt`;
* presentations *they* make with RFC 9901 array-element disclosures verify with our verifier,
  and a foreign element disclosure is still refused;
* an ID token from a real QR login at the reference server verifies with generic JOSE/OpenID
  Connect libraries (`joserfc`, `jose`) from the key they find through
  `/.well-known/openid-configuration`; `/.well-known/jwt-vc-issuer` publishes the same keys.

Needs cargo (the example), node and npm (tests/interop; `npm ci` on first use).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
import urllib.parse
from pathlib import Path

import pytest
from conftest import PASSCODE, enroll, run
from test_consent import call

REPO = Path(__file__).resolve().parents[3]
INTEROP = REPO / "tests" / "interop"
PID_VCT = "urn:vn:citizen:pid:1"
# Fictitious register citizen used by no other Python test.
CITIZEN = ("036076000006", "1976-11-11", "+84900000006")


def ours(command: str, payload: dict | None = None) -> dict:
    """Run the protocol crate's SD-JWT code (`sdjwt_interop` example)."""
    out = subprocess.run(
        ["cargo", "run", "-q", "-p", "citizen-protocol", "--example", "sdjwt_interop", "--", command],
        input=None if payload is None else json.dumps(payload),
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def node():
    """`node sdjwt_js.mjs <command>` with the pinned npm packages installed."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.fail("node and npm are needed for the @sd-jwt/sd-jwt-vc and jose cross-checks")
    if not (INTEROP / "node_modules" / "@sd-jwt" / "sd-jwt-vc").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=INTEROP, check=True)

    def call_node(command: str, payload: dict, env: dict | None = None) -> dict:
        out = subprocess.run(
            ["node", "sdjwt_js.mjs", command],
            input=json.dumps(payload),
            capture_output=True,
            text=True,
            cwd=INTEROP,
            check=True,
            env={**os.environ, **(env or {})},
        )
        return json.loads(out.stdout)

    return call_node


def header(jwt: str) -> dict:
    h = jwt.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(h + "=" * (-len(h) % 4)))


def test_our_presentation_verifies_with_the_reference_implementations(node):
    from jwcrypto.jwk import JWK
    from sd_jwt.verifier import SDJWTVerifier

    made = ours("issue-present")
    p = made["presentation"]
    assert header(p.split("~")[0])["typ"] == "dc+sd-jwt"
    assert header(p.split("~")[-1])["typ"] == "kb+jwt"
    issuer_key = JWK.from_json(json.dumps(made["issuer_jwk"]))

    def key_of(iss, hdr):
        assert iss == made["issuer"] and hdr["alg"] == "ES256"
        return issuer_key

    # The reference implementation (checks the KB-JWT typ kb+jwt, aud, nonce, sd_hash itself).
    v = SDJWTVerifier(p, key_of, expected_aud=made["audience"], expected_nonce=made["nonce"])
    payload = v.get_verified_payload()
    assert payload["vct"] == PID_VCT
    for k, val in made["disclosed"].items():
        assert payload[k] == val
    assert not set(made["hidden"]) & set(payload)
    # Another audience or nonce is refused by it too.
    with pytest.raises(ValueError):
        SDJWTVerifier(p, key_of, expected_aud="someone-else", expected_nonce=made["nonce"])

    # @sd-jwt/sd-jwt-vc.
    r = node("verify", made)
    assert r["ok"], r
    assert (r["typ"], r["kb_typ"]) == ("dc+sd-jwt", "kb+jwt")
    assert r["payload"]["full_name"] == made["disclosed"]["full_name"]
    assert not set(made["hidden"]) & set(r["payload"])
    assert not node("verify", {**made, "nonce": "another"})["ok"]


def reference_array_presentation(issuer: str, audience: str, nonce: str, disclose_index: int = 0):
    """A PID-shaped SD-JWT VC made by the reference `sd-jwt` package: `full_name` and both
    elements of the always-visible `nationalities` array selectively disclosable (array-element
    disclosures), presented with `full_name` and one element."""
    from jwcrypto.jwk import JWK
    from sd_jwt.common import SDObj
    from sd_jwt.holder import SDJWTHolder
    from sd_jwt.issuer import SDJWTIssuer

    issuer_key = JWK.generate(kty="EC", crv="P-256")
    holder_key = JWK.generate(kty="EC", crv="P-256")
    now = int(time.time())
    claims = {
        "iss": issuer,
        "iat": now - 5,
        "exp": now + 3600,
        "vct": PID_VCT,
        SDObj("full_name"): "Nguyễn Văn Mẫu",
        "nationalities": [SDObj("VN"), SDObj("XX")],
    }
    issued = SDJWTIssuer(
        claims, issuer_key, holder_key, extra_header_parameters={"typ": "dc+sd-jwt"}
    ).sd_jwt_issuance
    holder = SDJWTHolder(issued)
    chosen = [i == disclose_index for i in range(2)]
    holder.create_presentation({"full_name": True, "nationalities": chosen}, nonce, audience, holder_key)
    return holder.sd_jwt_presentation, json.loads(issuer_key.export_public())


# Order of P-256. Our verifier accepts only low-S ECDSA signatures (ARCHITECTURE.md decision 18:
# one valid encoding per signed message); jwcrypto and WebCrypto sign with either `s`, so the
# presentations they make are drawn until both signatures (issuer JWT, KB-JWT) are low-S, and
# the high-S twin of one is checked to be refused.
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def signature_s(jws: str) -> int:
    sig = jws.split(".")[2]
    return int.from_bytes(base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4))[32:], "big")


def low_s_both(presentation: str) -> bool:
    parts = presentation.split("~")
    return all(signature_s(j) <= P256_N // 2 for j in (parts[0], parts[-1]))


def low_s_draw(make):
    for _ in range(64):  # each draw is low-S on both with probability 1/4
        made = make()
        if low_s_both(made[0] if isinstance(made, tuple) else made["presentation"]):
            return made
    pytest.fail("no low-S draw in 64")


def high_s_twin(jws: str) -> str:
    h, p, sig = jws.split(".")
    raw = base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4))
    s = P256_N - int.from_bytes(raw[32:], "big")
    return f"{h}.{p}." + base64.urlsafe_b64encode(raw[:32] + s.to_bytes(32, "big")).rstrip(b"=").decode()


def test_array_element_disclosures_from_the_reference_implementations_verify_with_ours(node):
    issuer, audience, nonce = "https://id.example.gov.vn", "bank-demo", "n-interop-1"
    presentation, issuer_jwk = low_s_draw(lambda: reference_array_presentation(issuer, audience, nonce))
    check = {"issuer": issuer, "issuer_jwk": issuer_jwk, "audience": audience, "nonce": nonce}
    r = ours("verify", {**check, "presentation": presentation})
    assert r == {"ok": True, "claims": {"full_name": "Nguyễn Văn Mẫu", "nationalities": ["VN"]}}, r
    parts = presentation.split("~")
    twin = "~".join([high_s_twin(parts[0]), *parts[1:]])
    assert ours("verify", {**check, "presentation": twin}) == {"ok": False, "error": "issuer signature invalid"}

    # The same from @sd-jwt/sd-jwt-vc.
    js = low_s_draw(
        lambda: node("issue-array", {"issuer": issuer, "audience": audience, "nonce": nonce, "vct": PID_VCT})
    )
    r = ours("verify", js)
    assert r == {"ok": True, "claims": {"full_name": "Nguyễn Văn Mẫu", "nationalities": ["VN"]}}, r

    # Really unbound: the same element's disclosure from another issuance, in place of ours, is
    # referenced by no digest of this credential (checked before the KB-JWT).
    other, _ = reference_array_presentation(issuer, audience, nonce)
    mine, theirs = presentation.split("~"), other.split("~")

    def element(parts):
        return next(d for d in parts[1:-1] if '"VN"' in base64.urlsafe_b64decode(d + "=" * (-len(d) % 4)).decode())

    swapped = "~".join(element(theirs) if d == element(mine) else d for d in mine)
    r = ours("verify", {**check, "presentation": swapped})
    assert r == {"ok": False, "error": "disclosure not bound to the credential"}, r


@pytest.fixture
def citizen(server, device):
    core = device.open()
    enroll(core, server, CITIZEN)
    run(core.account().login(PASSCODE))
    return core


def test_id_token_verifies_with_generic_oidc_libraries_through_discovery(server, citizen, node, tmp_path):
    from joserfc import jwt
    from joserfc.jwk import KeySet

    # A same-device QR login at the demo portal: the ID token comes back in the redirect.
    portal = call(server, "POST", "/portal/api/sessions", {"same_device": True})
    frame = call(server, "GET", f"/portal/api/sessions/{portal['handle']}")["frame"]
    request = run(citizen.consent().scan_login_code(frame))
    code = call(server, "GET", f"/portal/api/sessions/{portal['handle']}")["verification_code"]
    approval = run(citizen.consent().approve_login(request.session_id, code, PASSCODE))
    fragment = urllib.parse.parse_qs(urllib.parse.urlsplit(approval.redirect_url).fragment)
    id_token = fragment["id_token"][0]
    assert header(id_token)["typ"] == "JWT"

    # Discovery, as a generic relying party does it.
    conf = call(server, "GET", "/.well-known/openid-configuration")
    assert conf["issuer"] == server.base_url
    assert "ES256" in conf["id_token_signing_alg_values_supported"]
    assert {"name", "birthdate", "phone_number", "address"} <= set(conf["claims_supported"])
    jwks_path = urllib.parse.urlsplit(conf["jwks_uri"]).path
    jwks = call(server, "GET", jwks_path)
    meta = call(server, "GET", "/.well-known/jwt-vc-issuer")
    assert meta == {"issuer": server.base_url, "jwks": jwks}

    # joserfc: signature with the published key set, then the registered claims.
    token = jwt.decode(id_token, KeySet.import_key_set(jwks), algorithms=conf["id_token_signing_alg_values_supported"])
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": conf["issuer"]},
        aud={"essential": True, "value": "dvc-demo"},
        exp={"essential": True},
        sub={"essential": True},
    ).validate(token.claims)
    c = token.claims
    assert (c["name"], c["family_name"], c["middle_name"], c["given_name"]) == ("Đỗ Văn Minh Hoạ", "Đỗ", "Văn Minh", "Hoạ")
    assert c["birthdate"] == "1976-11-11"
    assert c["claims"]["full_name"] == "Đỗ Văn Minh Hoạ", "the wire names stay"

    # jose (Node): discovery → createRemoteJWKSet(jwks_uri) → jwtVerify.
    ca = tmp_path / "ca.pem"
    ca.write_text(server.ca_pem, encoding="ascii")
    r = node(
        "id-token",
        {"issuer": server.base_url, "audience": "dvc-demo", "id_token": id_token},
        env={"NODE_EXTRA_CA_CERTS": str(ca)},
    )
    assert r["ok"], r
    assert r["typ"] == "JWT" and r["claims"]["birthdate"] == "1976-11-11"
    # Another audience is refused by it.
    r = node(
        "id-token",
        {"issuer": server.base_url, "audience": "bank-demo", "id_token": id_token},
        env={"NODE_EXTRA_CA_CERTS": str(ca)},
    )
    assert not r["ok"]
