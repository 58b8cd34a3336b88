#!/usr/bin/env bash
# The bindings part of the project's test command:
#   1. build the library and check that the committed bindings match it (drift fails),
#      copying the library where the tests load it;
#   2. build the reference server;
#   3. run the Python tests (pytest) and the Kotlin/JVM tests (Maven).
#
# Needs: pip install -r bindings/requirements.txt; JDK 17 and Maven (Maven Central reachable, or a
# warm ~/.m2 and CITIZEN_MVN_OFFLINE=1). Environment: CITIZEN_BINDINGS_PROFILE (see generate.sh),
# CITIZEN_SKIP_KOTLIN=1 / CITIZEN_SKIP_PYTHON=1 to run one suite only.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
cargo="${CARGO:-cargo}"
python="${PYTHON:-python3}"
cd "$root"

step() { echo "== bindings: $* ($(date +%T))" >&2; }

step "generate --check"
"$here/generate.sh" --check

step "build citizen-server and the examples"
# The reference server; the software CCCD on stdin/stdout for the chip level-2 test
# (test_chip_level2.py, example software_card_stdio); the mdoc fixtures and our own verdicts for
# the pymdoccbor cross-check (test_mdoc_interop.py, example mdoc_fixture). One workspace build,
# the same the test command's `cargo test --workspace` made (a no-op after it): `-p` builds
# resolve features per package and recompiled 50 to 160 dependencies each.
"$cargo" build -q --workspace --lib --bins --examples
target_dir="$("$cargo" metadata --format-version 1 --no-deps \
    | "$python" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
export CITIZEN_SERVER_BIN="${CITIZEN_SERVER_BIN:-$target_dir/debug/citizen-server}"

status=0
if [[ "${CITIZEN_SKIP_PYTHON:-0}" != 1 ]]; then
    step "python (pytest)"
    (cd "$here/python" && "$python" -m pytest -q -p no:cacheprovider) || status=1
fi
if [[ "${CITIZEN_SKIP_KOTLIN:-0}" != 1 ]]; then
    step "kotlin (maven)"
    "$here/kotlin/run-tests.sh" || status=1
fi
if (( status )); then
    echo "bindings: FAILED" >&2
fi
exit "$status"
