#![cfg_attr(test, allow(clippy::unwrap_used))]

fn main() {
    uniffi::uniffi_bindgen_main()
}
