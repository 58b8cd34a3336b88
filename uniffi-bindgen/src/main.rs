#![cfg_attr(
    test,
    allow(clippy::unwrap_used, clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_possible_wrap)
)]

fn main() {
    uniffi::uniffi_bindgen_main()
}
