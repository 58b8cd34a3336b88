//! Writes the seeds of the mdoc presentation fuzz targets (fuzz/seeds/mdoc_engagement,
//! fuzz/seeds/mdoc_device_request) and their fixture (a session transcript and the reader CA the
//! seed request's reader authentication chains to, in crates/citizen-mdoc/tests/data).
//!
//!     cargo run -p citizen-mdoc --example mdoc_fuzz_seeds
#![allow(clippy::unwrap_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::PathBuf;

use citizen_mdoc::{
    device_request_for_transcript, AuthorisedElements, DocumentRequest, HolderEngagement, ReaderSession,
};
use common::*;

fn main() {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let root = crate_dir.join("../..");
    let write = |path: PathBuf, bytes: &[u8]| {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        println!("wrote {} ({} bytes)", path.display(), bytes.len());
    };

    let mut authorised = AuthorisedElements::new();
    authorised.entry(MDL.into()).or_default().insert(NS.into(), SIX.iter().map(|s| s.to_string()).collect());
    let reader = TestReader::new("Fuzz seed reader (test)", Some(&authorised), 2030);
    let request = SIX.iter().fold(DocumentRequest::new(MDL), |r, e| r.element(NS, e, false));

    let engagement = HolderEngagement::new(Some([7; 16])).unwrap();
    let (session, establishment) =
        ReaderSession::start(engagement.qr_code(), std::slice::from_ref(&request), Some(&reader.auth_key())).unwrap();
    let transcript = session.session_transcript_bytes().to_vec();
    let signed =
        device_request_for_transcript(&transcript, std::slice::from_ref(&request), Some(&reader.auth_key())).unwrap();
    let anonymous = device_request_for_transcript(&transcript, &[request], None).unwrap();

    let engagements = root.join("fuzz/seeds/mdoc_engagement");
    write(engagements.join("engagement.cbor"), engagement.engagement_bytes());
    let plain = HolderEngagement::new(None).unwrap();
    write(engagements.join("engagement_no_ble.cbor"), plain.engagement_bytes());

    // Leading byte 0: a SessionEstablishment for the holder; 1: a DeviceRequest plaintext.
    let requests = root.join("fuzz/seeds/mdoc_device_request");
    write(requests.join("establishment.bin"), &[&[0u8][..], &establishment].concat());
    write(requests.join("request_reader_auth.bin"), &[&[1u8][..], &signed].concat());
    write(requests.join("request_anonymous.bin"), &[&[1u8][..], &anonymous].concat());

    let data = crate_dir.join("tests/data");
    write(data.join("fuzz_session_transcript.cbor"), &transcript);
    write(data.join("fuzz_reader_ca.der"), &reader.ca.der);
}
