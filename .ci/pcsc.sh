#!/usr/bin/env bash
# The real PC/SC stack for the chip tests (issue 12; ARCHITECTURE.md, decision 29): Debian's
# pcscd with the vsmartcard `vpcd` reader driver. vpcd adds two virtual readers ("Virtual PCD 00 00"
# and "Virtual PCD 00 01") whose card side is a TCP client on localhost:35963/35964: our
# `tools/virtual-card` connects there, and every PC/SC client (`citizen chip`, JMRTD through
# javax.smartcardio) sees a card exactly as in a USB reader.
#
# Sourced by .ci/run; also usable by hand:
#   .ci/pcsc.sh install   install pcscd, vsmartcard-vpcd, libpcsclite-dev (apt; sudo when not root)
#   .ci/pcsc.sh start     start `pcscd --foreground` in the background (no-op when one is running),
#                         its log in $CITIZEN_PCSCD_LOG (default target/pcscd.log)
#   .ci/pcsc.sh status    exit 0 when pcscd is running
# When sourced, `pcsc_start` registers `pcsc_stop` on EXIT for the pcscd it started (only that one).

pcsc_packages=(pcscd vsmartcard-vpcd libpcsclite-dev)

pcsc_sudo() {
    if [[ "$(id -u)" == 0 ]]; then "$@"; else sudo "$@"; fi
}

pcsc_installed() {
    local p
    for p in "${pcsc_packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || return 1
    done
}

pcsc_install() {
    if pcsc_installed; then
        echo "pcsc: ${pcsc_packages[*]} already installed"
        return 0
    fi
    local start=$SECONDS
    (export DEBIAN_FRONTEND=noninteractive
     pcsc_sudo apt-get install -y -qq --no-install-recommends "${pcsc_packages[@]}" >/dev/null 2>&1 \
         || { pcsc_sudo apt-get update -qq && pcsc_sudo apt-get install -y -qq --no-install-recommends "${pcsc_packages[@]}" >/dev/null; })
    echo "pcsc: installed ${pcsc_packages[*]} in $((SECONDS - start)) s"
}

pcsc_running() {
    # pcscd writes its pid next to its socket; a stale file (killed daemon) does not count.
    local pid
    [[ -S /run/pcscd/pcscd.comm ]] || return 1
    # (The file ends with a NUL byte: read it with tr, not $(cat).)
    pid="$(tr -dc '0-9' </run/pcscd/pcscd.pid 2>/dev/null)" || return 1
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null
}

pcsc_start() {
    if pcsc_running; then
        echo "pcsc: pcscd already running (pid $(tr -dc '0-9' </run/pcscd/pcscd.pid)); left as it is"
        return 0
    fi
    local log="${CITIZEN_PCSCD_LOG:-$PWD/target/pcscd.log}"
    mkdir -p "$(dirname "$log")"
    # A pcscd killed with -9 leaves its socket and pid file behind; the new one refuses to start
    # while they exist.
    pcsc_sudo rm -f /run/pcscd/pcscd.comm /run/pcscd/pcscd.pid
    if [[ "$(id -u)" == 0 ]]; then
        pcscd --foreground >"$log" 2>&1 &
    else
        # shellcheck disable=SC2024 # the log belongs to the user running CI, not root
        sudo pcscd --foreground >"$log" 2>&1 &
    fi
    local launcher=$!
    local _
    for _ in $(seq 1 50); do
        pcsc_running && break
        if ! kill -0 "$launcher" 2>/dev/null; then
            echo "pcsc: pcscd exited at start; its log ($log):" >&2
            cat "$log" >&2
            return 1
        fi
        sleep 0.1
    done
    if ! pcsc_running; then
        echo "pcsc: pcscd did not create /run/pcscd/pcscd.comm in 5 s; log in $log" >&2
        return 1
    fi
    # The daemon's own pid (under sudo, $! is sudo's).
    PCSC_STARTED_PID="$(tr -dc '0-9' </run/pcscd/pcscd.pid)"
    trap pcsc_stop EXIT
    echo "pcsc: pcscd started (pid $PCSC_STARTED_PID), log in $log"
}

pcsc_stop() {
    if [[ -n "${PCSC_STARTED_PID:-}" ]] && kill -0 "$PCSC_STARTED_PID" 2>/dev/null; then
        pcsc_sudo kill "$PCSC_STARTED_PID" 2>/dev/null || true
        local _
        for _ in $(seq 1 50); do
            kill -0 "$PCSC_STARTED_PID" 2>/dev/null || break
            sleep 0.1
        done
        echo "pcsc: pcscd (pid $PCSC_STARTED_PID) stopped"
    fi
    PCSC_STARTED_PID=
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    set -euo pipefail
    case "${1:-}" in
        install) pcsc_install ;;
        start) pcsc_start; trap - EXIT; echo "pcsc: left running (stop it with: kill $PCSC_STARTED_PID)" ;;
        status) pcsc_running ;;
        *) echo "usage: $0 install|start|status" >&2; exit 2 ;;
    esac
fi
