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
    # dependency:go-offline fetches the plugins, the project's dependencies and the plugins'
    # declared dependencies (the POM declares surefire's JUnit Platform provider for that reason).
    # Its output is only shown when it fails.
    local log
    log="$(mktemp)"
    if ! "$mvn" -B dependency:go-offline >"$log" 2>&1; then
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

args=(-o -q -B test)
if [[ -n "${CITIZEN_SERVER_BIN:-}" ]]; then
    args+=("-Dcitizen.server.bin=$CITIZEN_SERVER_BIN")
fi
if [[ ! -f "$here/../native/libcitizen_core.so" ]]; then
    echo "run-tests.sh: bindings/native/libcitizen_core.so is missing: run bindings/generate.sh first" >&2
    exit 1
fi
exec "$mvn" "${args[@]}"
