"""Fixtures for the Python binding tests.

The reference server is started once per test session as a subprocess. Build it first
(`cargo build -p citizen-server`; bindings/test.sh does). Its path comes from
$CITIZEN_SERVER_BIN, else <repo>/target/debug/citizen-server.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import queue
import shlex
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
sys.path.insert(0, str(HERE))  # platform_impl

import citizen_core as cc  # noqa: E402
import citizen_core.citizen_core as _generated  # noqa: E402  (uniffi_set_event_loop is not in __all__)
from platform_impl import SoftwareDataKeyWrapper, SoftwareDeviceKeyStore  # noqa: E402

READY_PREFIX = "CITIZEN_SERVER_READY "
READY_TIMEOUT_S = float(os.environ.get("CITIZEN_SERVER_READY_TIMEOUT", "60"))

# Fictitious citizens seeded in the reference server: (cccd, date of birth, phone).
# One active device per account, so each test module takes its own.
CITIZENS = {
    "enroll_flow": ("001090000001", "1990-01-15", "+84900000001"),
    "lockout": ("079195000002", "1995-06-30", "+84900000002"),
    "passcode": ("048200000003", "2000-12-01", "+84900000003"),
    "spare_4": ("031187000004", "1987-09-09", "+84900000004"),
    "services": ("001090000007", "1990-02-02", "+84900000007"),
    # 5, 6 and 8 are used by the Kotlin suite.
}

PASSCODE = "246810"
OTHER_PASSCODE = "135792"
WRONG_PASSCODE = "975310"


# One event loop, on its own thread, for the whole session. The key store's `sign` and
# `create_key` are async foreign methods: the core may call them from its own worker threads (a
# background delivery logs an entry), where Python has no running loop, so UniFFI is told which
# loop runs them; the core's own futures must then be awaited on that same loop too.
_LOOP = asyncio.new_event_loop()
threading.Thread(target=_LOOP.run_forever, name="uniffi-loop", daemon=True).start()
_generated.uniffi_set_event_loop(_LOOP)


def run(coro):
    """Run one of the core's async methods to completion (on the shared loop; thread-safe)."""
    return asyncio.run_coroutine_threadsafe(coro, _LOOP).result()


def submit(coro):
    """Start one of the core's async methods on the shared loop; returns a concurrent Future."""
    return asyncio.run_coroutine_threadsafe(coro, _LOOP)


@dataclasses.dataclass
class Server:
    base_url: str
    audience: str
    ca_pem: str
    pin: str
    backup_pin: str
    otp_file: Path
    data_dir: Path
    process: subprocess.Popen

    def otp_for(self, reference: str, timeout: float = 10.0, after: int = 0) -> str:
        """The newest OTP the server sent for `reference` (an enrollment or reset id).

        `after`: skip the first `after` OTPs for that reference (to wait for a resent one).
        """
        deadline = time.monotonic() + timeout
        while True:
            found = []
            if self.otp_file.exists():
                for line in self.otp_file.read_text(encoding="utf-8").splitlines():
                    line = line.strip()
                    if not line:
                        continue
                    try:
                        entry = json.loads(line)
                    except json.JSONDecodeError:
                        continue  # a line being written
                    if entry.get("reference") == reference:
                        found.append(entry["otp"])
            if len(found) > after:
                return found[-1]
            if time.monotonic() > deadline:
                raise AssertionError(f"no OTP for {reference!r} in {self.otp_file} after {timeout} s")
            time.sleep(0.05)


def _parse_ready(line: str) -> dict[str, str]:
    fields = {}
    for token in shlex.split(line[len(READY_PREFIX):]):
        key, sep, value = token.partition("=")
        if sep:
            fields[key] = value
    missing = {"base_url", "audience", "ca", "pin", "backup_pin"} - fields.keys()
    if missing:
        raise AssertionError(f"READY line lacks {sorted(missing)}: {line!r}")
    return fields


def start_server(data_dir: Path, listen: str = "127.0.0.1:0", extra_args: list[str] | None = None) -> Server:
    """Start the reference server on `listen` with its state in `data_dir` (and `extra_args`,
    e.g. `--public-url`); wait for READY."""
    binary = Path(os.environ.get("CITIZEN_SERVER_BIN", REPO / "target" / "debug" / "citizen-server"))
    if not binary.is_file():
        pytest.fail(f"{binary} not found: run `cargo build -p citizen-server` first (bindings/test.sh does)")
    data_dir.mkdir(parents=True, exist_ok=True)
    otp_file = data_dir / "otp.jsonl"
    log_path = data_dir / "server.log"
    log = open(log_path, "a", encoding="utf-8")
    proc = subprocess.Popen(
        [str(binary), "--listen", listen, "--data-dir", str(data_dir), "--dev-otp-file", str(otp_file)]
        + list(extra_args or []),
        stdout=subprocess.PIPE,
        stderr=log,
        stdin=subprocess.DEVNULL,
        text=True,
        bufsize=1,
    )
    lines: queue.Queue = queue.Queue()

    def pump():  # keep draining stdout so the server never blocks on a full pipe
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, name="citizen-server-stdout", daemon=True).start()

    ready = None
    deadline = time.monotonic() + READY_TIMEOUT_S
    seen = []
    while ready is None:
        remaining = deadline - time.monotonic()
        try:
            line = lines.get(timeout=max(remaining, 0.01))
        except queue.Empty:
            line = ""
        if line is None or remaining <= 0:
            proc.kill()
            proc.wait()
            log.close()
            pytest.fail(
                f"citizen-server did not print {READY_PREFIX.strip()} "
                f"(exit code {proc.returncode}); stdout: {seen[-20:]}; stderr:\n{log_path.read_text()[-4000:]}"
            )
        if line.startswith(READY_PREFIX):
            ready = _parse_ready(line)
        elif line:
            seen.append(line)
    log.close()
    return Server(
        base_url=ready["base_url"],
        audience=ready["audience"],
        ca_pem=Path(ready["ca"]).read_text(encoding="ascii"),
        pin=ready["pin"],
        backup_pin=ready["backup_pin"],
        otp_file=otp_file,
        data_dir=data_dir,
        process=proc,
    )


def stop_server(srv: Server) -> None:
    """Stop a server started by `start_server` (SIGTERM, then SIGKILL)."""
    srv.process.terminate()
    try:
        srv.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        srv.process.kill()
        srv.process.wait()


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> Server:
    srv = start_server(tmp_path_factory.mktemp("server-data"))
    yield srv
    stop_server(srv)


def core_config(server: Server, data_dir: Path, base_url: str | None = None) -> cc.CoreConfig:
    config = cc.default_core_config(base_url or server.base_url, str(data_dir))
    config.trust_anchors_pem = [server.ca_pem]
    config.spki_pins = [server.pin, server.backup_pin]
    config.device_label = "pytest"
    return config


@dataclasses.dataclass
class Device:
    """One phone: a data directory plus the platform key stores that go with it."""

    data_dir: Path
    key_store: SoftwareDeviceKeyStore
    key_wrapper: SoftwareDataKeyWrapper
    config: cc.CoreConfig

    def open(self) -> cc.CitizenCore:
        """(Re)create the core on this device, as the app does at each start."""
        return run(cc.CitizenCore.open(self.config, self.key_store, self.key_wrapper))


@pytest.fixture
def device(server, tmp_path) -> Device:
    data_dir = tmp_path / "device"
    data_dir.mkdir()
    return Device(data_dir, SoftwareDeviceKeyStore(), SoftwareDataKeyWrapper(), core_config(server, data_dir))


def enroll(core: cc.CitizenCore, server: Server, citizen: tuple[str, str, str], passcode: str = PASSCODE):
    """Enroll `citizen` on `core` end to end; returns (ticket, outcome)."""
    cccd, dob, phone = citizen
    ticket = run(core.account().start_enrollment(cc.EnrollmentInput(cccd=cccd, date_of_birth=dob, phone=phone)))
    otp = server.otp_for(ticket.enrollment_id)
    outcome = run(
        core.account().complete_enrollment(
            otp,
            passcode,
            cc.KeyOptions(require_user_authentication=False, prefer_strongbox=False, attestation_challenge=b""),
        )
    )
    return ticket, outcome


def assert_detail(detail, code: str | None = None):
    """Every error carries a stable code and a message in Vietnamese and English."""
    assert isinstance(detail, cc.ErrorDetail), detail
    assert detail.code and "." in detail.code, detail
    assert detail.message_vi.strip(), detail
    assert detail.message_en.strip(), detail
    assert detail.message_vi != detail.message_en, detail
    if code is not None:
        assert detail.code == code, detail
