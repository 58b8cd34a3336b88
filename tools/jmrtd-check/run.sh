#!/usr/bin/env bash
# The JMRTD cross-check (issue 12, item 4): JMRTD reads the software cards through
# javax.smartcardio on the running pcscd (vpcd reader "Virtual PCD 00 00") and must agree with
# `citizen chip probe` (EF.CardAccess) and `citizen chip read` (PACE-CAN and BAC: the bytes of
# EF.COM, EF.SOD, DG1, DG13, DG14, DG15 and the passive-authentication verdict, also for a card
# with a tampered DG13). The JUnit tests place the cards themselves (target/debug/virtual-card).
# The side-by-side figures of one full read land in target/chip-read-figures.txt
# (-Dfigures.repetitions=N through MVN_ARGS; default 3).
#
#   tools/jmrtd-check/run.sh
#
# Needs pcscd with vsmartcard-vpcd running (.ci/run starts it; by hand: .ci/pcsc.sh install &&
# .ci/pcsc.sh start). Without pcscd it prints SKIPPED and exits 0, unless CITIZEN_REQUIRE_PCSCD=1
# (CI), where that is a failure. Environment: MVN (default mvn), CITIZEN_MVN_OFFLINE=1 (warm ~/.m2,
# no network), CARGO_TARGET_DIR.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
mvn="${MVN:-mvn}"

if ! "$root/.ci/pcsc.sh" status; then
    if [[ "${CITIZEN_REQUIRE_PCSCD:-0}" == 1 ]]; then
        echo "jmrtd-check: pcscd is not running, and CITIZEN_REQUIRE_PCSCD=1" >&2
        exit 1
    fi
    echo "jmrtd-check: SKIPPED: pcscd is not running (start it with .ci/pcsc.sh install && .ci/pcsc.sh start)"
    exit 0
fi

# The two binaries the test runs (virtual-card, citizen), from the workspace build the test
# command made (a no-op after it; a `-p` build would resolve features per package and rebuild).
(cd "$root" && cargo build -q --workspace --lib --bins --examples)
target="${CARGO_TARGET_DIR:-$root/target}"
library="$(/sbin/ldconfig -p | awk '/libpcsclite\.so\.1 .*x86-64|libpcsclite\.so\.1 / {print $NF; exit}')"
if [[ -z "$library" ]]; then
    echo "jmrtd-check: libpcsclite.so.1 not found (Debian package libpcsclite1)" >&2
    exit 1
fi

args=(-q -B -Dstyle.color=never test ${MVN_ARGS:-}
      "-Dvirtual.card.bin=$target/debug/virtual-card"
      "-Dcitizen.cli.bin=$target/debug/citizen"
      "-Dpcsclite.library=$library")
if [[ "${CITIZEN_MVN_OFFLINE:-0}" == 1 ]]; then
    args=(-o "${args[@]}")
fi
cd "$here"
rm -rf "$here/target/surefire-reports"
status=0
start=$SECONDS
"$mvn" "${args[@]}" 2>&1 | sed -u 's/\x1b\[0m//g' || status=$?

python3 - "$here/target/surefire-reports" "$((SECONDS - start))" <<'PY' || true
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
print(f"jmrtd-check: {total - failed - skipped} passed, {failed} failed" + (f", {skipped} skipped" if skipped else "")
      + f" (Maven incl. resolution and compile: {sys.argv[2]} s)")
PY
exit "$status"
