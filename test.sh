#!/usr/bin/env bash
# The full test command of citizen-core: installs what it needs, then runs
#   1. the Rust workspace tests (core unit tests, Wycheproof, TLS, end-to-end against the
#      reference server, server tests, CLI demo leak scan and kill -9 lockout test),
#   2. the bindings: drift check of the committed Kotlin/Swift/Python bindings, pytest and the
#      Kotlin/JVM suite through Maven, each against a reference server they start; pytest includes
#      the interoperability cross-checks (test_interop.py: the reference `sd-jwt` package,
#      `@sd-jwt/sd-jwt-vc` and `jose` from tests/interop via `npm ci`, `joserfc`; and
#      test_mdoc_interop.py: our issued mdocs and DeviceResponses checked by `pymdoccbor`);
#   3. the Android shell's JVM part: view models and keystore-adapter logic tested with JUnit
#      against the host library and the reference server, the keystore adapters compiled against
#      Robolectric's android-all (android/jvm); the iOS shell's static checks (ios/check.sh);
#   3b. the JMRTD cross-check (issue 12): JMRTD reads the software card through javax.smartcardio on
#      the running pcscd + vpcd (PACE-CAN and BAC) and agrees with `citizen chip probe`/`chip read` on
#      the bytes read and the passive-authentication verdict (tools/jmrtd-check; pcscd is
#      started by .ci/run, skipped and said so when it is not running outside CI);
#   4. the browser end-to-end test: headless Chromium (Debian's, installed when missing) logs in
#      to the demo portal by QR code, approved through the Python bindings (tests/browser);
#   5. cargo-fuzz when a nightly toolchain is available (skipped, and said so, when it is not;
#      fuzz/run.sh): one build of every target, then 20 s on the QR frame parser and 10 s on each
#      chip parser and each mdoc parser (DeviceResponse, DeviceEngagement, DeviceRequest).
# Exit status 0 only if everything passed.
set -euo pipefail
cd "$(dirname "$0")"

say() { echo "== $* ($(date +%T))"; }

say "install: Python test packages"
python3 -m pip install -q --disable-pip-version-check -r bindings/requirements.txt -r tests/browser/requirements.txt

if cargo fmt --version >/dev/null 2>&1 && cargo clippy --version >/dev/null 2>&1; then
    say "rust: fmt + clippy"
    cargo fmt --all -- --check
    cargo clippy -q --workspace --all-targets -- -D warnings
else
    say "rust: rustfmt/clippy not installed on this machine; skipped"
fi

say "rust: tests"
cargo test -q --workspace 2>&1 | tee /tmp/citizen-cargo-test.log
rust_passed=$(grep -Eo '[0-9]+ passed' /tmp/citizen-cargo-test.log | awk '{s+=$1} END {print s+0}')
rust_failed=$(grep -Eo '[0-9]+ failed' /tmp/citizen-cargo-test.log | awk '{s+=$1} END {print s+0}')

say "bindings: drift check, pytest, Kotlin/JVM"
# Bindings come from the unstripped debug build here (same UniFFI metadata as release-unstripped,
# checked by generate.sh); the shipped profile is measured by scripts/size.sh.
CITIZEN_BINDINGS_PROFILE="${CITIZEN_BINDINGS_PROFILE:-debug}" bindings/test.sh

say "android: view models + KeystoreSupport (JUnit), keystore adapters compiled against android-all"
android/jvm/run-tests.sh

say "jmrtd: JMRTD (javax.smartcardio) reads the software CCCD through pcscd (PACE-CAN, BAC) and agrees with citizen chip probe/read on bytes and passive authentication"
tools/jmrtd-check/run.sh

say "browser: headless Chromium logs in to the demo portal by QR code"
tests/browser/run.sh

say "ios: static checks of the Swift shell (no Swift toolchain here: call signatures vs the generated bindings, strings, scripts)"
if ! command -v shellcheck >/dev/null 2>&1 && [[ "$(id -u)" == 0 ]]; then
    (export DEBIAN_FRONTEND=noninteractive
     apt-get install -y -qq shellcheck >/dev/null 2>&1 \
         || { apt-get update -qq && apt-get install -y -qq shellcheck >/dev/null; }) \
        || echo "shellcheck could not be installed; ios/check.sh runs bash -n only"
fi
ios/check.sh

say "fuzz: QR frame, chip and mdoc parsers (cargo-fuzz, ${CITIZEN_FUZZ_SECONDS:-20} s + 10 s per chip/mdoc target)"
fuzz/run.sh | tee /tmp/citizen-fuzz.log
fuzz_summary=$(grep -E '^fuzz: ([0-9]+ targets|SKIPPED)' /tmp/citizen-fuzz.log | tail -n 1)

say "done: rust ${rust_passed} passed, ${rust_failed} failed; bindings, android/jvm, jmrtd, ios checks and browser passed; ${fuzz_summary}"
