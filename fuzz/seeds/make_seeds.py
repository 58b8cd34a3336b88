#!/usr/bin/env python3
"""Write the seed corpus of the `qr_frame` fuzz target into seeds/qr_frame/ (checked in).

Fictitious frames in the layout documented in crates/citizen-protocol/src/protocol/rp/mod.rs: the
demo relying parties of the reference server, made-up session ids, nonces, signatures and MACs (the parser checks none of
them cryptographically). Each frame is written twice: as the scanned text `CZQR1:<base64url>` and
as the raw binary frame, since the target feeds its input to the parser both ways. A few
near-misses (trailing byte, truncated, unknown version, bad flags) give the fuzzer the edges.

Run: python3 fuzz/seeds/make_seeds.py   (deterministic: re-running changes nothing)

Files named regression_*.bin are not made here: they are inputs the fuzzer once crashed on, kept
so every run replays them (regression_lifetime_overflow.bin: `expires_at - issued_at` overflowed
in LoginRequest::validate).
"""

import base64
import hashlib
import struct
from pathlib import Path

OUT = Path(__file__).resolve().parent / "qr_frame"


def str8(s: str) -> bytes:
    b = s.encode("ascii")
    assert len(b) <= 255
    return bytes([len(b)]) + b


def filler(label: str, n: int) -> bytes:
    """Deterministic made-up bytes (not a real key, signature or MAC)."""
    out = b""
    i = 0
    while len(out) < n:
        out += hashlib.sha256(f"{label}/{i}".encode()).digest()
        i += 1
    return out[:n]


def frame(label, rp_id, origin, claims, same_device=False, issued_at=1_780_000_000, lifetime=120, step=0):
    request = (
        b"CZ"
        + bytes([1, 1 if same_device else 0])
        + filler(label + "/session", 16)
        + filler(label + "/nonce", 16)
        + struct.pack(">qq", issued_at, issued_at + lifetime)
        + str8(rp_id)
        + str8(origin)
        + bytes([len(claims)])
        + b"".join(str8(c) for c in claims)
    )
    signed = request + filler(label + "/signature", 64)
    return signed + struct.pack(">I", step) + filler(label + "/mac", 16)


def text(binary: bytes) -> bytes:
    return b"CZQR1:" + base64.urlsafe_b64encode(binary).rstrip(b"=")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    good = {
        "portal": frame("portal", "dvc-demo", "https://127.0.0.1:8443", ["full_name", "birthdate"], step=3),
        "bank": frame(
            "bank", "bank-demo", "https://bank.example.vn",
            ["full_name", "birthdate", "cccd_number", "phone"], lifetime=300,
        ),
        "same_device": frame("same", "dvc-demo", "http://localhost:8080", ["age_over_18"], same_device=True),
        "no_claims": frame("none", "dvc-demo", "https://dichvucong.example.gov.vn", [], step=70000),
    }
    seeds = {}
    for name, binary in good.items():
        seeds[f"{name}.bin"] = binary
        seeds[f"{name}.txt"] = text(binary)
    portal = good["portal"]
    seeds["trailing_byte.txt"] = text(portal + b"\0")
    seeds["truncated.txt"] = text(portal[:-1])
    seeds["version_2.txt"] = text(portal[:2] + b"\x02" + portal[3:])
    seeds["bad_flags.bin"] = portal[:3] + b"\x80" + portal[4:]
    seeds["not_a_code.txt"] = b"https://dichvucong.example.gov.vn/login"
    for name, data in seeds.items():
        (OUT / name).write_bytes(data)


if __name__ == "__main__":
    main()
