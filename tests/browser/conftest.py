"""Fixtures of the browser end-to-end test: the reference server, a phone (the core through the
Python bindings) and headless Chromium from Debian.

The server and device helpers are the Python binding tests' own (bindings/python/tests/conftest.py,
loaded under another module name), so the server is started exactly as there: a subprocess that
prints `CITIZEN_SERVER_READY base_url=… ca=… pin=… backup_pin=…`.

TLS: the server's certificate is issued by a per-data-directory development CA that Chromium does
not know. Rather than `--ignore-certificate-errors` (which would accept *any* certificate, so the
test could not tell the portal from an impostor), Chromium gets
`--ignore-certificate-errors-spki-list=<pin>,<backup pin>`: certificate errors are ignored only
for a chain carrying exactly the server's key (the same SHA-256 SPKI pins the core is configured
with). `test_portal_is_untrusted_without_the_pin` checks that without the pin the page does not load.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
BINDINGS = REPO / "bindings" / "python"
sys.path[:0] = [str(BINDINGS), str(BINDINGS / "tests")]


def _load_binding_helpers():
    spec = importlib.util.spec_from_file_location("citizen_binding_helpers", BINDINGS / "tests" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


helpers = _load_binding_helpers()

CHROMIUM = os.environ.get("CITIZEN_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CITIZEN_CHROMEDRIVER", "/usr/bin/chromedriver")


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    srv = helpers.start_server(tmp_path_factory.mktemp("server-data"))
    yield srv
    helpers.stop_server(srv)


@pytest.fixture
def device(server, tmp_path):
    data_dir = tmp_path / "device"
    data_dir.mkdir()
    return helpers.Device(
        data_dir,
        helpers.SoftwareDeviceKeyStore(),
        helpers.SoftwareDataKeyWrapper(),
        helpers.core_config(server, data_dir),
    )


def chromium_options(user_data_dir: Path, spki_pins: list[str] | None):
    """Headless Chromium, fresh profile, no background traffic; trusts only the pinned keys."""
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root, where Chromium's sandbox cannot start
        "--disable-gpu",
        "--disable-dev-shm-usage",  # small /dev/shm in containers
        "--disable-quic",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--no-proxy-server",
        "--window-size=1024,900",
        f"--user-data-dir={user_data_dir}",
    ):
        options.add_argument(flag)
    if spki_pins:
        options.add_argument("--ignore-certificate-errors-spki-list=" + ",".join(spki_pins))
    return options


@pytest.fixture
def browser_factory(tmp_path):
    """Start headless Chromium (`pinned=False`: without the server's SPKI pins)."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (Path(path).is_file() and os.access(path, os.X_OK)):
            pytest.fail(f"{path} not found: apt-get install chromium chromium-driver (test.sh does)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    drivers = []

    def start(server, pinned: bool = True):
        profile = tmp_path / f"chromium-profile-{len(drivers)}"
        profile.mkdir()
        pins = [server.pin, server.backup_pin] if pinned else None
        driver = webdriver.Chrome(
            options=chromium_options(profile, pins),
            service=Service(CHROMEDRIVER, log_output=str(tmp_path / f"chromedriver-{len(drivers)}.log")),
        )
        driver.set_page_load_timeout(30)
        drivers.append(driver)
        return driver

    yield start
    for driver in drivers:
        driver.quit()
