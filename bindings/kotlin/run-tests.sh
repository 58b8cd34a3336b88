#!/usr/bin/env bash
# Run the Kotlin/JVM binding tests with Maven.
#
#   bindings/kotlin/run-tests.sh              prefetch (online, a no-op when cached), then
#                                             `mvn -o -q -B test` (offline)
#   bindings/kotlin/run-tests.sh --prefetch   only download what the build and tests need
#
# Needs bindings/generate.sh to have copied libcitizen_core.so to bindings/native/ and the
# reference server binary to be built (cargo build -p citizen-server); bindings/test.sh does both.
# Environment: CITIZEN_SERVER_BIN (default <repo>/target/debug/citizen-server), MVN (default mvn),
# CITIZEN_MVN_OFFLINE=1 to skip the prefetch (fully offline machine with a warm ~/.m2).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mvn="${MVN:-mvn}"
cd "$here"

prefetch() {
    # 1. go-offline: plugins and the project's dependencies.
    # 2. One real test class that needs no native library: surefire resolves its JUnit Platform
    #    provider only when it runs tests, which go-offline does not fetch.
    # Output is shown only on failure.
    local log
    log="$(mktemp)"
    if ! { "$mvn" -B -Dstyle.color=never org.apache.maven.plugins:maven-dependency-plugin:3.8.1:go-offline \
           && "$mvn" -B -Dstyle.color=never test -Dtest=JcaPlatformTest; } >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        echo "run-tests.sh: Maven prefetch failed" >&2
        return 1
    fi
    rm -f "$log"
}

if [[ "${1:-}" == "--prefetch" ]]; then
    prefetch
    exit 0
fi

if [[ "${CITIZEN_MVN_OFFLINE:-0}" != 1 ]]; then
    prefetch
fi

args=(-o -q -B -Dstyle.color=never test)
if [[ -n "${CITIZEN_SERVER_BIN:-}" ]]; then
    args+=("-Dcitizen.server.bin=$CITIZEN_SERVER_BIN")
fi
if [[ ! -f "$here/../native/libcitizen_core.so" ]]; then
    echo "run-tests.sh: bindings/native/libcitizen_core.so is missing: run bindings/generate.sh first" >&2
    exit 1
fi
rm -rf "$here/target/surefire-reports"
status=0
# (Maven 3.8 prints stray ANSI resets with -q even in batch mode; strip them.)
"$mvn" "${args[@]}" 2>&1 | sed -u 's/\x1b\[0m//g' || status=$?

# `mvn -q` prints nothing on success: summarise the surefire reports so a log shows what ran.
python3 - "$here/target/surefire-reports" <<'PY' || true
import glob, sys, xml.etree.ElementTree as ET
total = failures = errors = skipped = 0
for path in glob.glob(sys.argv[1] + "/TEST-*.xml"):
    suite = ET.parse(path).getroot()
    total += int(suite.get("tests", 0))
    failures += int(suite.get("failures", 0))
    errors += int(suite.get("errors", 0))
    skipped += int(suite.get("skipped", 0))
failed = failures + errors
print(f"Tests run: {total}, Failures: {failures}, Errors: {errors}, Skipped: {skipped}")
print(f"kotlin: {total - failed - skipped} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
PY
exit "$status"
