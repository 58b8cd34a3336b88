#!/usr/bin/env bash
# The browser end-to-end test of the project's test command (tests/browser, pytest + Selenium):
# headless Chromium opens the demo portal of the reference server and the core approves the login.
#
# Needs what bindings/test.sh leaves: the reference server built and the library copied next to the
# Python bindings. Installs Debian's chromium and chromium-driver when missing (apt-get as root,
# else through `sudo -n`), and the Python packages of tests/browser/requirements.txt.
# Environment: CITIZEN_SERVER_BIN (default: <cargo target dir>/debug/citizen-server), PYTHON.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
python="${PYTHON:-python3}"
cd "$root"

missing=()
[[ -x /usr/bin/chromium ]] || missing+=(chromium)
[[ -x /usr/bin/chromedriver ]] || missing+=(chromium-driver)
if (( ${#missing[@]} )); then
    if [[ "$(id -u)" == 0 ]]; then
        as_root=()
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        as_root=(sudo -n)
    else
        echo "browser: ${missing[*]} missing and neither root nor password-less sudo to install them" >&2
        exit 1
    fi
    echo "browser: installing ${missing[*]} from Debian"
    start=$SECONDS
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
    echo "browser: installed in $((SECONDS - start)) s"
fi
echo "browser: $(/usr/bin/chromium --version 2>/dev/null); $(/usr/bin/chromedriver --version | cut -d' ' -f1-2)"

"$python" -m pip install -q --disable-pip-version-check --root-user-action=ignore -r "$here/requirements.txt"

if [[ -z "${CITIZEN_SERVER_BIN:-}" ]]; then
    target_dir="$(cargo metadata --format-version 1 --no-deps \
        | "$python" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
    export CITIZEN_SERVER_BIN="$target_dir/debug/citizen-server"
fi
cd "$here"
exec "$python" -m pytest -q -p no:cacheprovider
