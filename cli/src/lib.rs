//! `citizen`, the desktop/kiosk shell of citizen-core. The binary is a thin argument parser;
//! the demo lives here so tests can run it in-process and watch every step.
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_possible_wrap,
        clippy::cast_lossless
    )
)]

pub mod card_access;
pub mod chip_read;
pub mod demo;
pub mod mdoc_tcp;
pub mod pcsc_transport;
pub mod relying_party;
pub mod services;
pub mod verdict;

use citizen_core::{CitizenCore, CoreConfig, Language};

/// Fictitious citizen the demo enrolls (seeded in the reference server's register).
pub const DEMO_CITIZEN: (&str, &str, &str) = ("001090000001", "1990-01-15", "+84900000001");

/// A core configuration for a desktop shell talking to `base_url`.
pub fn desktop_config(base_url: &str, data_dir: &str, ca_pems: Vec<String>, pins: Vec<String>) -> CoreConfig {
    let mut c = citizen_core::default_core_config(base_url.to_string(), data_dir.to_string());
    c.trust_anchors_pem = ca_pems;
    c.spki_pins = pins;
    c.language = Language::Vi;
    c.platform = citizen_core::Platform::Desktop;
    c.device_label = "citizen CLI".into();
    c
}

/// Unix seconds of a point in time the core returns (the CLI prints times as Unix seconds, as
/// before the API took platform types).
pub fn unix(t: std::time::SystemTime) -> i64 {
    match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}

/// Open the desktop core (software key store under the data dir).
pub fn open_core(config: CoreConfig) -> Result<std::sync::Arc<CitizenCore>, citizen_core::CitizenError> {
    CitizenCore::new_desktop(config)
}

/// Mask all but the last three characters (for printing identifiers of personal data).
pub fn mask(s: &str) -> String {
    let n = s.chars().count();
    s.chars().enumerate().map(|(i, c)| if i + 3 < n { '•' } else { c }).collect()
}
