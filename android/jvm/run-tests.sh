#!/usr/bin/env bash
# Build and test the parts of the Android shell that need no Android SDK (see android/README.md):
#   - the view models (android/viewmodel) and KeystoreSupport, compiled with the generated
#     bindings and tested with JUnit 5 against the host library (bindings/native/libcitizen_core.so)
#     and the reference server;
#   - AndroidKeystoreDeviceKeyStore / AndroidKeystoreDataKeyWrapper, compiled against
#     Robolectric's android-all jar (provided scope, from Maven Central).
#
#   android/jvm/run-tests.sh              prefetch (online, a no-op when cached), then `mvn -o test`
#   android/jvm/run-tests.sh --prefetch   only download what the build and tests need
#
# Needs bindings/generate.sh to have copied libcitizen_core.so to bindings/native/ and the server
# to be built (cargo build -p citizen-server); bindings/test.sh (run before this by ./test.sh)
# does both. Environment: CITIZEN_SERVER_BIN, MVN, CITIZEN_MVN_OFFLINE=1 (as bindings/kotlin).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
android="$(cd "$here/.." && pwd)"
root="$(cd "$android/.." && pwd)"
mvn="${MVN:-mvn}"
cd "$here"

# The view models are a pure Kotlin/JVM module in the Gradle build too: no Android imports.
if grep -rnE '^import (android|androidx)\.' "$android/viewmodel/src" ; then
    echo "android/jvm: android/viewmodel must not use Android APIs (see above)" >&2
    exit 1
fi

prefetch() {
    # go-offline fetches plugins and dependencies (android-all is ~130 MB, once); one run of
    # KeystoreSupportTest (no native library, no server) fetches surefire's JUnit provider.
    local log
    log="$(mktemp)"
    if ! { "$mvn" -B -Dstyle.color=never org.apache.maven.plugins:maven-dependency-plugin:3.8.1:go-offline \
           && "$mvn" -B -Dstyle.color=never test -Dtest=KeystoreSupportTest; } >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        echo "android/jvm/run-tests.sh: Maven prefetch failed" >&2
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

if [[ ! -f "$root/bindings/native/libcitizen_core.so" ]]; then
    echo "android/jvm/run-tests.sh: bindings/native/libcitizen_core.so is missing: run bindings/generate.sh first" >&2
    exit 1
fi
# `clean`: the Kotlin plugin's staleness check recompiles only changed files, so a changed
# signature (e.g. a default parameter) left callers compiled against the old one (NoSuchMethodError).
args=(-o -q -B -Dstyle.color=never clean test)
if [[ -n "${CITIZEN_SERVER_BIN:-}" ]]; then
    args+=("-Dcitizen.server.bin=$CITIZEN_SERVER_BIN")
fi
rm -rf "$here/target/surefire-reports"
status=0
"$mvn" "${args[@]}" 2>&1 | sed -u 's/\x1b\[0m//g' || status=$?

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
print(f"android-jvm: {total - failed - skipped} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
PY
exit "$status"
