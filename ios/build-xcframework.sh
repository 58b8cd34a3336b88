#!/usr/bin/env bash
# Build the Swift package's binary pieces on a Mac with Xcode:
#
#   ios/Frameworks/CitizenCoreFFI.xcframework     libcitizen_core.a (release profile) for
#       ios-arm64                                 aarch64-apple-ios
#       ios-arm64_x86_64-simulator                aarch64-apple-ios-sim + x86_64-apple-ios (lipo)
#     with Headers/citizen_coreFFI/{citizen_coreFFI.h,module.modulemap} (Clang module
#     `citizen_coreFFI`, imported by the generated Swift)
#   ios/Sources/CitizenCore/CitizenCore.swift     copy of bindings/swift/Sources/CitizenCore.swift
#
# The generated bindings in bindings/swift/Sources/ are the single source of truth: this script
# copies them, never edits them. Before building it checks that they still match the core (they
# are generated from an unstripped build, `release-unstripped` profile, because the stripped
# `release` library carries no UniFFI metadata); on drift, run bindings/generate.sh and commit.
#
#   ios/build-xcframework.sh [--skip-check]
#
# Environment:
#   CARGO                        cargo binary (default: cargo)
#   IPHONEOS_DEPLOYMENT_TARGET   minimum iOS version of the Rust code (default: 16.0, as Package.swift)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
cargo="${CARGO:-cargo}"

die() { echo "build-xcframework.sh: $*" >&2; exit 1; }

check=1
for arg in "$@"; do
    case "$arg" in
        --skip-check) check=0 ;;
        -h|--help) sed -n '2,24p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) die "unknown argument: $arg" ;;
    esac
done

# --- Preconditions: fail early and say what is missing. ---------------------------------------
[[ "$(uname -s)" == "Darwin" ]] \
    || die "needs macOS with Xcode (this is $(uname -s)). The iOS libraries, lipo and xcodebuild exist only there."
if ! command -v xcodebuild >/dev/null 2>&1 || ! xcodebuild -version >/dev/null 2>&1; then
    die "xcodebuild does not work: install Xcode and run 'sudo xcode-select -s /Applications/Xcode.app'."
fi
command -v lipo >/dev/null 2>&1 || die "lipo not found (Xcode command line tools)."
command -v "$cargo" >/dev/null 2>&1 || die "cargo not found: install Rust with rustup."

targets=(aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios)
if command -v rustup >/dev/null 2>&1; then
    installed="$(rustup target list --installed)"
    for t in "${targets[@]}"; do
        grep -qx "$t" <<<"$installed" || die "Rust target $t is missing: rustup target add ${targets[*]}"
    done
fi

export IPHONEOS_DEPLOYMENT_TARGET="${IPHONEOS_DEPLOYMENT_TARGET:-16.0}"

cd "$root"
target_dir="$("$cargo" metadata --format-version 1 --no-deps \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
bindings="$root/bindings/swift/Sources"
for f in CitizenCore.swift citizen_coreFFI.h citizen_coreFFI.modulemap; do
    [[ -s "$bindings/$f" ]] || die "bindings/swift/Sources/$f is missing: run bindings/generate.sh"
done

work="$here/build"
rm -rf "$work"
mkdir -p "$work"

# --- Drift check of the committed Swift bindings (host build, unstripped). --------------------
if (( check )); then
    echo "build-xcframework.sh: checking bindings/swift/Sources against the core" >&2
    "$cargo" build -q --locked -p citizen-core --profile release-unstripped
    "$cargo" build -q --locked -p uniffi-bindgen
    host_lib="$target_dir/release-unstripped/libcitizen_core.dylib"
    [[ -f "$host_lib" ]] || die "$host_lib was not built"
    "$cargo" run -q --locked -p uniffi-bindgen -- generate --no-format \
        --library "$host_lib" --language swift --out-dir "$work/swift-check" >/dev/null
    if ! diff -ru "$bindings" "$work/swift-check" >"$work/swift.diff"; then
        head -n 40 "$work/swift.diff" >&2
        die "bindings/swift/Sources does not match the core: run bindings/generate.sh and commit (or pass --skip-check)."
    fi
fi

# --- Static libraries (release profile: LTO, opt-level z, stripped). ---------------------------
for t in "${targets[@]}"; do
    echo "build-xcframework.sh: building libcitizen_core.a for $t" >&2
    # Only the staticlib crate type (the package also declares cdylib and lib).
    "$cargo" rustc -q --locked -p citizen-core --lib --release --target "$t" --crate-type staticlib
    lib="$target_dir/$t/release/libcitizen_core.a"
    [[ -f "$lib" ]] || die "$lib was not built"
done

mkdir -p "$work/ios-arm64" "$work/ios-simulator"
cp "$target_dir/aarch64-apple-ios/release/libcitizen_core.a" "$work/ios-arm64/libcitizen_core.a"
lipo -create \
    "$target_dir/aarch64-apple-ios-sim/release/libcitizen_core.a" \
    "$target_dir/x86_64-apple-ios/release/libcitizen_core.a" \
    -output "$work/ios-simulator/libcitizen_core.a"
# Debug info off the shipped archives (global symbols stay: the app links against them).
xcrun strip -S "$work/ios-arm64/libcitizen_core.a" "$work/ios-simulator/libcitizen_core.a"

# --- Headers: a subdirectory per module, so that several XCFrameworks' module maps never
# collide in the app's include directory. ---------------------------------------------------
headers="$work/headers"
mkdir -p "$headers/citizen_coreFFI"
cp "$bindings/citizen_coreFFI.h" "$headers/citizen_coreFFI/citizen_coreFFI.h"
cp "$bindings/citizen_coreFFI.modulemap" "$headers/citizen_coreFFI/module.modulemap"

# --- XCFramework ------------------------------------------------------------------------------
xcframework="$here/Frameworks/CitizenCoreFFI.xcframework"
rm -rf "$xcframework"
mkdir -p "$here/Frameworks"
xcodebuild -create-xcframework \
    -library "$work/ios-arm64/libcitizen_core.a" -headers "$headers" \
    -library "$work/ios-simulator/libcitizen_core.a" -headers "$headers" \
    -output "$xcframework" >/dev/null

# --- Generated Swift into the package (git-ignored copy). -------------------------------------
install -m 0644 "$bindings/CitizenCore.swift" "$here/Sources/CitizenCore/CitizenCore.swift"

echo "build-xcframework.sh: wrote ios/Frameworks/CitizenCoreFFI.xcframework and ios/Sources/CitizenCore/CitizenCore.swift" >&2
