#!/usr/bin/env bash
# The fuzz step of the project's test command: run the QR frame parser's cargo-fuzz target, the
# chip reader's (TLV/DG13, SM unwrap, EF.SOD) and the mdoc parsers' (DeviceResponse verifier,
# DeviceEngagement from the QR code, SessionEstablishment/DeviceRequest) for a few seconds each
# when a nightly toolchain is available, and say so plainly when it is not.
#
#   fuzz/run.sh              CITIZEN_FUZZ_SECONDS (default 20) of fuzzing qr_frame after the build,
#                            CITIZEN_CHIP_FUZZ_SECONDS (default 10) for each chip target,
#                            CITIZEN_MDOC_FUZZ_SECONDS (default 10) for mdoc_device_response,
#                            mdoc_engagement and mdoc_device_request (issue 13: the test command
#                            fuzzes the DeviceResponse and DeviceEngagement parsers);
#                            CITIZEN_FUZZ_MDOC=0 leaves the mdoc targets out (their build adds
#                            isomdl's dependency tree; see ARCHITECTURE.md, decision 38);
#                            CITIZEN_FUZZ_TOOLCHAIN (default nightly) names the toolchain
#
# - No `cargo +nightly`: prints "fuzz: SKIPPED (...)" and exits 0 (not a failure).
# - cargo-fuzz missing: installs the pinned version with `cargo install --locked`; if that fails
#   (no registry), prints "fuzz: SKIPPED (...)" and exits 0.
# - Otherwise one `cargo fuzz build` of every target (a single build shares the dependencies),
#   then `cargo +nightly fuzz run` of each; a crash, a failed assertion or a build error fails
#   the step. New corpus entries go to a temporary directory (the checked-in seeds in
#   fuzz/seeds/<target> are only read); a crash reproducer is left in fuzz/artifacts/<target>/
#   (git-ignored). The last line is the summary the test command prints:
#   "fuzz: N targets, E executions without a crash (qr_frame …; mdoc_device_response …; …)".
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here/.."

CARGO_FUZZ_VERSION=0.13.2
seconds="${CITIZEN_FUZZ_SECONDS:-20}"
chip_seconds="${CITIZEN_CHIP_FUZZ_SECONDS:-10}"
mdoc_seconds="${CITIZEN_MDOC_FUZZ_SECONDS:-10}"
toolchain="${CITIZEN_FUZZ_TOOLCHAIN:-nightly}"

skip() {
    echo "fuzz: SKIPPED ($*); the QR frame, chip and mdoc parsers were not fuzzed in this run (not a failure)"
    exit 0
}

# RUSTUP_AUTO_INSTALL=0: probing must not start a toolchain download.
if ! nightly="$(RUSTUP_AUTO_INSTALL=0 cargo "+$toolchain" --version 2>/dev/null)"; then
    skip "no nightly Rust toolchain: 'cargo +$toolchain --version' failed; install one with 'rustup toolchain install nightly'"
fi
echo "fuzz: using $nightly"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz $CARGO_FUZZ_VERSION"
    start=$SECONDS
    if ! cargo install -q cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked; then
        skip "cargo-fuzz is not installed and 'cargo install cargo-fuzz --version $CARGO_FUZZ_VERSION --locked' failed"
    fi
    echo "fuzz: installed cargo-fuzz in $((SECONDS - start)) s"
fi
echo "fuzz: using $(cargo fuzz --version)"

# The mdoc targets (issue 13) by default; CITIZEN_FUZZ_MDOC=0 leaves them (and isomdl's tree) out.
mdoc_features=(--features mdoc)
if [[ "${CITIZEN_FUZZ_MDOC:-1}" == 0 ]]; then
    mdoc_features=()
fi

# One build of every target: `cargo fuzz run` below finds them built and does not rebuild.
start=$SECONDS
cargo "+$toolchain" fuzz build --debug-assertions "${mdoc_features[@]}"
echo "fuzz: built the targets in $((SECONDS - start)) s"

summary=()
total_runs=0

# run_target NAME SECONDS: fuzz one target from its checked-in seeds; fail the step on a crash.
run_target() {
    local target="$1" secs="$2"
    local corpus log status=0
    corpus="$(mktemp -d "${TMPDIR:-/tmp}/citizen-fuzz-corpus.XXXXXX")"
    log="$corpus.log"
    cargo "+$toolchain" fuzz run --debug-assertions "${mdoc_features[@]}" "$target" "$corpus" "fuzz/seeds/$target" -- \
        -max_total_time="$secs" -print_final_stats=1 >"$log" 2>&1 || status=$?
    if (( status )); then
        tail -n 80 "$log"
        rm -rf "$corpus" "$log"
        echo "fuzz: FAILED: $target found a crash or a failed assertion (exit $status); reproducer in fuzz/artifacts/$target/"
        exit 1
    fi
    local runs cov
    runs="$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1 executions in \2 s/p' "$log" | tail -n 1)"
    cov="$(grep -Eo 'cov: [0-9]+' "$log" | tail -n 1 || true)"
    echo "fuzz: $target: ${runs:-? executions} without a crash (${cov:-cov: ?}, $(ls "$corpus" | wc -l) new corpus entries)"
    summary+=("$target ${runs/ executions/}")
    total_runs=$((total_runs + $(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -n 1 | grep . || echo 0)))
    rm -rf "$corpus" "$log"
}

for target in chip_tlv_dg13 chip_sm_unwrap chip_sod; do
    run_target "$target" "$chip_seconds"
done
mdoc_note=""
if (( ${#mdoc_features[@]} )); then
    for target in mdoc_device_response mdoc_engagement mdoc_device_request; do
        run_target "$target" "$mdoc_seconds"
    done
else
    mdoc_note="; mdoc targets left out (CITIZEN_FUZZ_MDOC=0)"
    echo "fuzz: mdoc_device_response, mdoc_engagement, mdoc_device_request not run (CITIZEN_FUZZ_MDOC=0)"
fi
run_target qr_frame "$seconds"

# The summary line the test command prints (test.sh reads the last "fuzz: N targets" line).
joined="$(printf '%s; ' "${summary[@]}")"
echo "fuzz: ${#summary[@]} targets, $total_runs executions without a crash (${joined%; })$mdoc_note"
