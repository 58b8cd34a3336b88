//! Link options of the core's shared library (issue 14, size; ARCHITECTURE.md, dependencies).
//!
//! On glibc Linux the shared library is linked with packed relative relocations (`DT_RELR`,
//! `-z pack-relative-relocs`, GNU ld ≥ 2.38 and lld; loaded by glibc ≥ 2.36): its ~27,000
//! relative relocations (vtables, string and slice pointers of a position-independent library)
//! take ~10 KB instead of ~650 KB of `.rela.dyn`. Android's NDK already packs them (clang passes
//! `--pack-dyn-relocs` to lld for the API levels we support), so this brings the desktop library
//! to what phones get. Only the `cdylib` link sees the flag; binaries and tests are unchanged.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let target = std::env::var("TARGET").unwrap_or_default();
    let glibc = target.ends_with("-unknown-linux-gnu");
    let arch = target.starts_with("x86_64-") || target.starts_with("aarch64-");
    if glibc && arch {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-z,pack-relative-relocs");
    }
}
