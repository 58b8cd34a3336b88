#!/usr/bin/env bash
# Build the shipped library profile (release: opt-level z, fat LTO, 1 codegen unit, stripped,
# panic=unwind) and report the size of each artifact, next to the unstripped profile the
# bindings are generated from.
#
#   scripts/size.sh            host target
#   scripts/size.sh --target aarch64-linux-android   (needs that target and its linker)
set -euo pipefail
cd "$(dirname "$0")/.."
target_args=()
if [[ "${1:-}" == "--target" ]]; then target_args=(--target "$2"); fi
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
sub="${2:+$2/}"
cargo build -q -p citizen-core --release "${target_args[@]}"
cargo build -q -p citizen-core --profile release-unstripped "${target_args[@]}"
size_of() { stat -c %s "$1"; }
printf '%-44s %12s\n' artifact bytes
for p in release release-unstripped; do
    for f in libcitizen_core.so libcitizen_core.a; do
        path="$target_dir/$sub$p/$f"
        [[ -f "$path" ]] && printf '%-44s %12d\n' "$p/$f" "$(size_of "$path")"
    done
done
# Test doubles (MemoryKeyStore, MemoryKeyWrapper, store fixtures) exist only with the
# `test-support` feature: the shipped library must not contain them.
a="$target_dir/${sub}release-unstripped/libcitizen_core.a"
if command -v nm >/dev/null && [[ -f "$a" ]] \
    && nm -C "$a" 2>/dev/null | grep -Eq 'MemoryKey(Store|Wrapper)|store::fixtures'; then
    echo "size.sh: test doubles in the shipped library ($a)" >&2
    exit 1
fi
so="$target_dir/${sub}release/libcitizen_core.so"
if command -v gzip >/dev/null; then
    printf '%-44s %12d\n' "release/libcitizen_core.so (gzip -9)" "$(gzip -9 -c "$so" | wc -c)"
fi
# Where the bytes are (code, unwind tables, read-only data, relocations); per symbol and crate
# see README (size): an unstripped build of the same profile and `nm -S --size-sort -C`.
if command -v size >/dev/null; then
    size -A "$so" | awk 'NR > 2 && $2 >= 16384 { printf "  %-42s %12d\n", $1, $2 }'
fi
