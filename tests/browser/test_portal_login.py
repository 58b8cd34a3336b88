"""End to end in a real browser: headless Chromium opens the demo portal, the test reads the QR
payload from the page, the core (through the Python bindings) scans it and approves with the code
the page shows, and the page shows the citizen logged in.

DOM contract of the portal page (server/src/portal.rs):
  #qr[data-frame]      the current frame text `CZQR1:…` (empty when none is shown)
  #code                the verification code once the code was scanned ("Mã xác nhận: NN")
  #status[data-state]  pending | scanned | approved | denied | cancelled
  #who                 who logged in, after the portal verified the ID token
"""

from __future__ import annotations

import base64
import re
import struct
import time
import warnings

import pytest
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from conftest import helpers

cc = helpers.cc
run = helpers.run
PASSCODE = helpers.PASSCODE

# Fictitious citizen of server/src/register.rs reserved for this test (no other suite uses it).
CITIZEN = ("079088000009", "1988-04-04", "+84900000009")
FULL_NAME = "Trịnh Văn Trình Duyệt"

PAGE_TIMEOUT_S = 20
QR_STEP_SECS = 2  # crates/citizen-protocol/src/protocol/rp/mod.rs QR_STEP_SECS
QR_MAX_FRAME_AGE_STEPS = 2  # crates/citizen-protocol/src/protocol/rp/mod.rs QR_MAX_FRAME_AGE_STEPS


def frame_timing(frame: str) -> tuple[int, int]:
    """(issued_at, step) of a frame, from the binary layout documented in
    crates/citizen-protocol/src/protocol/rp/mod.rs."""
    body = frame.removeprefix("CZQR1:")
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    issued_at = struct.unpack(">q", raw[36:44])[0]  # after magic, version, flags, session id, nonce
    step = struct.unpack(">I", raw[-20:-16])[0]  # before the 16-byte MAC
    return issued_at, step


def stale_from(frame: str) -> float:
    """Unix time from which the server refuses `frame` as stale (its step is too far behind)."""
    issued_at, step = frame_timing(frame)
    return issued_at + QR_STEP_SECS * (step + QR_MAX_FRAME_AGE_STEPS + 1)


def wait_for(driver, what: str, condition):
    try:
        return WebDriverWait(driver, PAGE_TIMEOUT_S, poll_frequency=0.1).until(lambda d: condition(d))
    except TimeoutException:
        status = driver.find_elements(By.ID, "status")
        seen = (status[0].get_attribute("data-state"), status[0].text) if status else "no #status"
        raise AssertionError(f"portal: timed out waiting for {what}; status {seen}") from None


def shown_frame(driver) -> str | None:
    frame = driver.find_element(By.ID, "qr").get_attribute("data-frame")
    return frame or None


def expect_consent_error(call, code: str):
    with pytest.raises(cc.CitizenError) as e:
        run(call)
    helpers.assert_detail(e.value.detail, code)


@pytest.fixture
def citizen(server, device):
    core = device.open()
    helpers.enroll(core, server, CITIZEN)
    run(core.account().login(PASSCODE))
    return core


def test_portal_login_by_scanning_the_qr_code(server, citizen, browser_factory):
    core = citizen
    assert run(core.consent().refresh_relying_parties()) >= 1

    driver = browser_factory(server)
    driver.get(server.base_url + "/portal")
    frame = wait_for(driver, "#qr[data-frame]", shown_frame)
    assert frame.startswith("CZQR1:"), frame
    assert driver.find_element(By.ID, "status").get_attribute("data-state") == "pending"
    assert driver.find_element(By.CSS_SELECTOR, "#qr svg"), "no QR code drawn"

    # The phone scans what the browser shows.
    request = run(core.consent().scan_login_code(frame))
    assert request.relying_party_id == "dvc-demo"
    assert request.origin == server.base_url
    assert request.same_device is False
    assert "full_name" in {c.name for c in request.claims}
    assert len(request.code_choices) == 3 and len(set(request.code_choices)) == 3

    # The portal now shows the verification code; the citizen picks the same one on the phone.
    code_text = wait_for(driver, "#code", lambda d: d.find_element(By.ID, "code").text.strip())
    shown = re.findall(r"\b\d{2}\b", code_text)
    assert len(shown) == 1, code_text
    assert shown[0] in request.code_choices, (code_text, request.code_choices)
    assert driver.find_element(By.ID, "status").get_attribute("data-state") == "scanned"
    assert not shown_frame(driver), "the QR code stays on screen after the scan"

    approval = run(core.consent().approve_login(request.session_id, shown[0], PASSCODE))
    assert approval.receipt.kind == cc.ConsentKind.QR_LOGIN
    assert approval.receipt.relying_party_id == "dvc-demo"
    assert approval.redirect_url is None

    # Replays, each refused with its own code. Same frame again while it is still fresh: the
    # session was already scanned (and approved).
    margin = stale_from(frame) - time.time()
    if margin > 1.0:
        expect_consent_error(core.consent().scan_login_code(frame), "consent.already_scanned")
    else:  # a slow machine: only the stale case below is checked
        warnings.warn(f"approval took until {margin:.1f} s before the frame went stale; replay-while-fresh not checked")
    # The approval itself cannot be sent twice: the app dropped the answered request.
    expect_consent_error(core.consent().approve_login(request.session_id, shown[0], PASSCODE), "consent.unknown_session")

    # The page shows who logged in, from the ID token the portal verified.
    wait_for(driver, '#status[data-state="approved"]',
             lambda d: d.find_element(By.ID, "status").get_attribute("data-state") == "approved")
    who = wait_for(driver, "#who", lambda d: d.find_element(By.ID, "who").text.strip())
    assert FULL_NAME in who, who

    # A photo of the frame scanned later is stale, whoever scans it.
    pause = stale_from(frame) + 1.0 - time.time()
    if pause > 0:
        time.sleep(pause)
    expect_consent_error(core.consent().scan_login_code(frame), "consent.frame_stale")


def test_portal_is_untrusted_without_the_pin(server, browser_factory):
    """Without the server's SPKI pins Chromium refuses the development CA: the flag is what makes
    the portal load, not a blanket `--ignore-certificate-errors`."""
    driver = browser_factory(server, pinned=False)
    driver.get(server.base_url + "/portal")
    assert not driver.find_elements(By.ID, "qr"), "the portal loaded without trusting its certificate"
    assert "ERR_CERT_AUTHORITY_INVALID" in driver.page_source, driver.page_source[:2000]
