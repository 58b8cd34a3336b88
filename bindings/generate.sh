#!/usr/bin/env bash
# Generate the Kotlin, Swift and Python bindings of citizen-core with UniFFI (library mode).
#
#   bindings/generate.sh            build the library, regenerate the committed bindings
#   bindings/generate.sh --check    build the library, generate into a temp dir and fail if the
#                                   committed bindings differ (drift check for CI)
#
# Either way the built library is copied where the tests load it:
#   bindings/native/libcitizen_core.so               (Kotlin/JVM: -Djna.library.path)
#   bindings/python/citizen_core/libcitizen_core.so  (Python: loaded next to citizen_core.py)
# Both copies are git-ignored (bindings/.gitignore).
#
# Environment:
#   CITIZEN_BINDINGS_PROFILE   cargo profile of the library: release-unstripped (default) or debug.
#                              The bindings are identical for both (they come from the same
#                              UniFFI metadata), so the check does not depend on it; debug is
#                              just faster to build while iterating.
#   CARGO                      cargo binary (default: cargo)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
cargo="${CARGO:-cargo}"

check=0
for arg in "$@"; do
    case "$arg" in
        --check) check=1 ;;
        -h|--help) sed -n '2,20p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) echo "generate.sh: unknown argument: $arg" >&2; exit 2 ;;
    esac
done

profile="${CITIZEN_BINDINGS_PROFILE:-release-unstripped}"
case "$profile" in
    debug|dev) profile_args=(); profile_dir=debug ;;
    release-unstripped) profile_args=(--profile release-unstripped); profile_dir=release-unstripped ;;
    *) echo "generate.sh: CITIZEN_BINDINGS_PROFILE must be release-unstripped or debug (got '$profile');" \
            "a stripped profile such as release has no UniFFI metadata" >&2; exit 2 ;;
esac

cd "$root"

target_dir="$("$cargo" metadata --format-version 1 --no-deps \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"

echo "generate.sh: building citizen-core (profile $profile_dir)" >&2
if [[ "$profile_dir" == debug ]]; then
    # The workspace's own debug build, the one `cargo test --workspace` makes (a no-op after it,
    # as in the test command). A `-p citizen-core` build resolves features for that package
    # alone and recompiles ~100 dependencies and the crate. The library then has the
    # `test-support` feature (Rust-only test helpers, no UniFFI export), so its UniFFI
    # metadata, and with it the bindings, are those of the shipped library: a difference would
    # fail the drift check below. The uniffi-bindgen binary comes from the same build.
    "$cargo" build -q --workspace --lib --bins --examples
else
    "$cargo" build -q -p citizen-core "${profile_args[@]}"
    # Build the bindgen up front so its compiler output does not interleave with the generation.
    "$cargo" build -q -p uniffi-bindgen
fi
bindgen="$target_dir/debug/uniffi-bindgen"
lib="$target_dir/$profile_dir/libcitizen_core.so"
if [[ ! -f "$lib" ]]; then
    echo "generate.sh: $lib was not built" >&2
    exit 1
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/citizen-bindings.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

# Generated locations, relative to bindings/. Each is owned entirely by the generator except the
# Python directory, where only citizen_core.py is generated (__init__.py and the library are not).
kotlin_dir="kotlin/src/main/kotlin"
swift_dir="swift/Sources"
python_dir="python/citizen_core"
python_file="citizen_core.py"

gen() { # language out-dir
    # --no-format: ktlint/swiftformat, when installed, would otherwise reformat the output and
    # make it depend on the machine.
    "$bindgen" generate --no-format \
        --library "$lib" --language "$1" --out-dir "$2" >/dev/null
}

gen kotlin "$tmp/$kotlin_dir"
gen swift "$tmp/$swift_dir"
gen python "$tmp/$python_dir"

for f in "$tmp/$kotlin_dir/vn/citizen/core/citizen_core.kt" "$tmp/$swift_dir/CitizenCore.swift" \
         "$tmp/$swift_dir/citizen_coreFFI.h" "$tmp/$python_dir/$python_file"; do
    if [[ ! -s "$f" ]]; then
        echo "generate.sh: expected generated file ${f#"$tmp/"} is missing (uniffi.toml changed?)" >&2
        exit 1
    fi
done

if (( check )); then
    drift=0
    diff -ruN "$here/$kotlin_dir" "$tmp/$kotlin_dir" > "$tmp/kotlin.diff" || drift=1
    diff -ruN "$here/$swift_dir" "$tmp/$swift_dir" > "$tmp/swift.diff" || drift=1
    diff -uN "$here/$python_dir/$python_file" "$tmp/$python_dir/$python_file" > "$tmp/python.diff" || drift=1
    if (( drift )); then
        echo "generate.sh --check: the committed bindings do not match the library's UniFFI interface." >&2
        for l in kotlin swift python; do
            if [[ -s "$tmp/$l.diff" ]]; then
                echo "--- $l: $(grep -c '^[-+][^-+]' "$tmp/$l.diff" || true) changed lines; first lines of the diff:" >&2
                head -n 40 "$tmp/$l.diff" >&2
            fi
        done
        echo "generate.sh --check: FAILED. Run bindings/generate.sh and commit the result." >&2
        exit 1
    fi
    echo "generate.sh --check: bindings are up to date" >&2
else
    rm -rf "${here:?}/$kotlin_dir" "${here:?}/$swift_dir"
    mkdir -p "$here/$kotlin_dir" "$here/$swift_dir" "$here/$python_dir"
    cp -R "$tmp/$kotlin_dir/." "$here/$kotlin_dir/"
    cp -R "$tmp/$swift_dir/." "$here/$swift_dir/"
    cp "$tmp/$python_dir/$python_file" "$here/$python_dir/$python_file"
    echo "generate.sh: wrote bindings/$kotlin_dir, bindings/$swift_dir, bindings/$python_dir/$python_file" >&2
fi

# The library the tests load (never committed: see bindings/.gitignore).
mkdir -p "$here/native" "$here/$python_dir"
install -m 0755 "$lib" "$here/native/libcitizen_core.so"
install -m 0755 "$lib" "$here/$python_dir/libcitizen_core.so"
echo "generate.sh: copied $lib to bindings/native/ and bindings/$python_dir/" >&2
