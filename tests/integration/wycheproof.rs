//! Wycheproof ECDSA P-256/SHA-256 vectors through the exact path every device signature takes:
//! `crypto::verify_device_signature` (public key parsing, DER or raw normalisation, verification).
//!
//! "acceptable" vectors may go either way; every "valid" must verify and every "invalid" must be
//! refused.

use citizen_core::crypto::verify_device_signature;
use citizen_core::{DeviceSignature, SignatureFormat};
use wycheproof::ecdsa::{TestName, TestSet};
use wycheproof::TestResult;

fn run(name: TestName, format: SignatureFormat) -> (usize, usize) {
    let set = TestSet::load(name).expect("vectors");
    let (mut total, mut mismatches) = (0, vec![]);
    for group in &set.test_groups {
        let key = group.key.key.as_ref();
        for t in &group.tests {
            total += 1;
            let sig = DeviceSignature { bytes: t.sig.to_vec(), format };
            let ok = verify_device_signature(key, &t.msg, &sig).is_ok();
            let expected = match t.result {
                TestResult::Valid => Some(true),
                TestResult::Invalid => Some(false),
                TestResult::Acceptable => None,
            };
            if expected.is_some_and(|e| e != ok) {
                mismatches.push((t.tc_id, t.comment.clone(), ok));
            }
        }
    }
    assert!(mismatches.is_empty(), "{name:?}: {} of {total} differ: {mismatches:?}", mismatches.len());
    (total, mismatches.len())
}

#[test]
fn der_vectors_match_expected_results() {
    let (total, bad) = run(TestName::EcdsaSecp256r1Sha256, SignatureFormat::Der);
    assert!(total >= 480, "only {total} DER vectors");
    assert_eq!(bad, 0);
}

#[test]
fn p1363_vectors_match_expected_results() {
    let (total, bad) = run(TestName::EcdsaSecp256r1Sha256P1363, SignatureFormat::Raw);
    assert!(total >= 240, "only {total} P1363 vectors");
    assert_eq!(bad, 0);
}
