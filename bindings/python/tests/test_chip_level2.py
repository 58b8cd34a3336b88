"""Level 2 from the chip through the Python bindings (ARCHITECTURE.md decision 30).

The card is the Rust software CCCD run as a subprocess (`examples/software_card_stdio`, one hex
APDU per line), wrapped by a Python `ApduTransport`, so the Python side exercises the foreign
async transport trait, the progress observer and the typed errors. A dedicated server trusts the
software card's test CSCA (the session's shared server trusts none), so the register's citizen 1
can be enrolled here without disturbing the other modules.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import citizen_core as cc
import pytest
from conftest import PASSCODE, REPO, Device, core_config, enroll, run, start_server, stop_server
from platform_impl import SoftwareDataKeyWrapper, SoftwareDeviceKeyStore

HOLDER = ("001090000001", "1990-01-15", "+84900000001")
CAN = HOLDER[0][6:]


def card_binary() -> Path:
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    binary = target / "debug" / "examples" / "software_card_stdio"
    if not binary.is_file():
        pytest.fail(f"{binary} not found: run `cargo build --example software_card_stdio` (bindings/test.sh does)")
    return binary


class SoftwareCardTransport(cc.ApduTransport):
    """The subprocess card as the shell's transport; an empty answer is a removal."""

    def __init__(self, *args: str):
        self.proc = subprocess.Popen(
            [str(card_binary()), *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
        )

    async def transceive(self, command: bytes) -> bytes:
        self.proc.stdin.write(command.hex() + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().strip()
        if not answer:
            raise cc.ApduTransportError.CardRemoved("the card left the field")
        return bytes.fromhex(answer)

    def max_apdu_length(self) -> int:
        return 261

    def supports_extended_length(self) -> bool:
        return False

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


class Progress(cc.ChipReadObserver):
    def __init__(self):
        self.steps = []

    def on_progress(self, step, bytes_read, apdus):
        self.steps.append((step, bytes_read, apdus))


@pytest.fixture(scope="module")
def chip_server(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("chip-server")
    (data_dir / "chip-csca").mkdir()
    subprocess.run([str(card_binary()), "--write-csca", str(data_dir / "chip-csca" / "vn-test.der")], check=True)
    srv = start_server(data_dir)
    yield srv
    stop_server(srv)


@pytest.fixture(scope="module")
def holder(chip_server, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("chip-device")
    device = Device(data_dir, SoftwareDeviceKeyStore(), SoftwareDataKeyWrapper(), core_config(chip_server, data_dir))
    core = device.open()
    enroll(core, chip_server, HOLDER)
    run(core.account().login(PASSCODE))
    return core


def upgrade(core, *card_args: str, can: str = CAN, observer=None):
    transport = SoftwareCardTransport(*card_args)
    try:
        return run(core.chip().upgrade_level_with_chip(transport, cc.ChipAccessKey.CAN(can=can), observer))
    finally:
        transport.close()


def test_refusals_are_typed_and_leave_level_1(holder):
    core = holder
    assert run(core.chip().identity_level()) == 1
    with pytest.raises(cc.CitizenError.Card) as wrong:
        upgrade(core, can="000000")
    assert wrong.value.detail.code == "chip.access_denied"
    assert wrong.value.detail.message_vi and wrong.value.detail.message_en
    with pytest.raises(cc.CitizenError.Card) as clone:
        upgrade(core, "--clone")
    assert clone.value.detail.code == "chip.not_genuine"
    with pytest.raises(cc.CitizenError.Refused) as other:
        upgrade(core, "--citizen", "1", can="000002")
    assert other.value.detail.code == "chip.other_citizen"
    assert run(core.chip().identity_level()) == 1


def test_the_holders_card_raises_the_account_to_level_2(holder):
    core = holder
    progress = Progress()
    outcome = upgrade(core, observer=progress)
    assert outcome.level == 2 and outcome.credential_refreshed
    assert outcome.apdus > 10 and outcome.bytes_read > 1000
    assert run(core.chip().identity_level()) == 2
    steps = [s for s, _, _ in progress.steps]
    assert cc.ChipReadStep.PACE() in steps and cc.ChipReadStep.ACTIVE_AUTHENTICATION() in steps
    assert cc.ChipReadStep.READ_FILE(name="DG13") in steps
    assert run(core.activity().list_entries())[-1].kind == cc.ActivityKind.LEVEL_UPGRADE
