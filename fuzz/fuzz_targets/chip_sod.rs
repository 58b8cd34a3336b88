//! Fuzz target of EF.SOD and certificate parsing (`citizen_chip::pa`, CMS through the `cms`
//! crate, X.509 through `x509-cert`, explicit EC parameters through `citizen_chip::ec`).
//!
//! Nothing may panic, and with an empty trust list passive authentication never succeeds.
#![no_main]

use std::collections::BTreeMap;

use citizen_chip::{ec, pa};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(sod) = pa::parse_sod(data) {
        let dgs: BTreeMap<u8, Vec<u8>> = BTreeMap::new();
        assert!(pa::verify(&sod, &dgs, &pa::TrustList::default(), 1_800_000_000).is_err());
    }
    let _ = pa::parse_certificate(data);
    let _ = pa::parse_lds_security_object(data);
    let _ = ec::curve_from_parameters(data);
    let _ = ec::parse_ec_spki(data);
});
