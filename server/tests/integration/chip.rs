//! Level 2 from the chip (decision 30), server side: the software CCCD is read in process with
//! active authentication over the challenge derived from a server nonce, and the evidence is
//! uploaded by a test device. Success raises the account to level 2 (and the PID credential says
//! so); each refusal has its code: untrusted signer, clone (copied files, an old signature),
//! another citizen's card, a replayed proof, a tampered data group, a register mismatch.

use citizen_chip::ec::Curve;
use citizen_chip::kdf::AccessKey;
use citizen_chip::lds::File;
use citizen_chip::pa::TrustList;
use citizen_chip::reader::{run, ChipReadout, Reader, ReaderConfig};
use citizen_chip::{ChipError, OsRandom};
use citizen_protocol::crypto::b64;
use citizen_protocol::protocol::chip::{
    aa_challenge, upload_subject, ChipEvidence, PATH_CHIP_CHALLENGE, PATH_CHIP_UPGRADE,
};
use citizen_protocol::protocol::rp::PATH_CREDENTIAL;
use citizen_protocol::protocol::Purpose;
use serde_json::{json, Value};
use software_cccd::pki::{VALID_FROM, VALID_TO};
use software_cccd::{CardOptions, Citizen, SoftwareCard, TestPki, CITIZENS};

use crate::common::{start_in, Device, Harness, C1};

pub struct Chip {
    pub h: Harness,
    pub dev: Device,
    pub token: String,
    pub pki: TestPki,
}

/// A server trusting the software card's test CSCA, and citizen C1 enrolled and logged in.
pub async fn setup() -> Chip {
    let pki = TestPki::default_test();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("chip-csca")).unwrap();
    std::fs::write(dir.path().join("chip-csca/vn-test.der"), &pki.csca).unwrap();
    let h = start_in(dir, Default::default()).await;
    let mut dev = Device::new();
    h.enroll(C1, &mut dev).await;
    let token = h.login(&mut dev).await["access_token"].as_str().unwrap().to_string();
    Chip { h, dev, token, pki }
}

pub fn read(card: &mut SoftwareCard, pki: &TestPki, challenge: [u8; 8], now: i64) -> ChipReadout {
    card.power_on();
    let config = ReaderConfig {
        access_key: AccessKey::can(card.citizen().can()).unwrap(),
        max_response_len: 256,
        read_dg2: false,
        trust: TrustList::new(vec![pki.csca.clone()]).unwrap(),
        now: now as u64,
        aa_challenge: Some(challenge),
    };
    run(Reader::new(config, Box::new(OsRandom)), |apdu| {
        let a = card.process(apdu);
        if a.is_empty() {
            Err(ChipError::CardRemoved)
        } else {
            Ok(a)
        }
    })
    .unwrap()
}

pub fn evidence(out: &ChipReadout) -> ChipEvidence {
    let f = |n: u8| b64(&out.files[&File::Dg(n)]);
    ChipEvidence {
        sod: b64(&out.files[&File::Sod]),
        dg1: f(1),
        dg13: f(13),
        dg14: out.files.get(&File::Dg(14)).map(|b| b64(b)),
        dg15: f(15),
        aa_signature: b64(&out.active_auth.as_ref().unwrap().signature),
    }
}

impl Chip {
    pub async fn nonce(&self) -> String {
        let (st, b) = self.h.post(PATH_CHIP_CHALLENGE, json!({"device_id": self.dev.id}), Some(&self.token)).await;
        assert_eq!(st, 200, "{b}");
        assert_eq!(b["csca"].as_array().unwrap().len(), 1, "the server publishes its CSCA list");
        b["nonce"].as_str().unwrap().to_string()
    }

    /// Read `card` for a fresh nonce: (nonce, evidence).
    pub async fn read_for_upgrade(&self, card: &mut SoftwareCard, pki: &TestPki) -> (String, ChipEvidence) {
        let nonce = self.nonce().await;
        let out = read(card, pki, aa_challenge(&nonce), self.h.now());
        (nonce, evidence(&out))
    }

    pub async fn upload(&mut self, nonce: &str, ev: &ChipEvidence) -> (u16, Value) {
        let signed = self.dev.sign(&self.h, Purpose::Chip, nonce, &upload_subject(ev));
        self.upload_signed(&signed, ev).await
    }

    async fn upload_signed(
        &self,
        signed: &citizen_protocol::protocol::SignedStatement,
        ev: &ChipEvidence,
    ) -> (u16, Value) {
        self.h.post(PATH_CHIP_UPGRADE, json!({"signed": signed, "evidence": ev}), Some(&self.token)).await
    }

    /// The level the PID credential states.
    async fn credential_level(&mut self) -> u8 {
        let nonce = self.h.nonce(&self.dev, Purpose::Credential).await;
        let key = self.dev.key.verifying_key().to_encoded_point(false);
        let subject = format!("pid:{}", citizen_protocol::protocol::sha256_hex(key.as_bytes()));
        let signed = self.dev.sign(&self.h, Purpose::Credential, &nonce, &subject);
        let (st, b) = self.h.post(PATH_CREDENTIAL, json!({ "signed": signed }), Some(&self.token)).await;
        assert_eq!(st, 200, "{b}");
        citizen_protocol::sdjwt::inspect(b["sd_jwt"].as_str().unwrap()).unwrap().level
    }

    pub fn card(&self, who: &Citizen) -> SoftwareCard {
        SoftwareCard::new(who, &self.pki, CardOptions::default())
    }

    fn upgrades(&self, result: &str) -> usize {
        self.h.server.audit_events().iter().filter(|e| e.event == "chip_upgrade" && e.outcome == result).count()
    }
}

fn code(b: &Value) -> &str {
    b["code"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn a_genuine_card_of_the_account_holder_raises_the_account_to_level_2_once() {
    let mut c = setup().await;
    assert_eq!(c.credential_level().await, 1, "an enrolled account starts at level 1");
    let mut card = c.card(&CITIZENS[0]);
    let (nonce, ev) = c.read_for_upgrade(&mut card, &c.pki.clone()).await;
    let (st, b) = c.upload(&nonce, &ev).await;
    assert_eq!((st, b["level"].as_u64()), (200, Some(2)), "{b}");
    assert_eq!(c.upgrades("ok"), 1);
    assert_eq!(c.credential_level().await, 2, "the PID credential states level 2");

    // The same proof again (same nonce, even freshly signed): refused as replayed.
    let (st, b) = c.upload(&nonce, &ev).await;
    assert_eq!((st, code(&b)), (409, "chip.proof_replayed"), "{b}");
    assert_eq!(c.upgrades("ok"), 1);
}

#[tokio::test]
async fn a_card_whose_document_signer_is_not_trusted_is_refused() {
    let mut c = setup().await;
    let other = TestPki::generate("Elsewhere", Curve::BrainpoolP256r1, VALID_FROM, VALID_TO);
    let mut card = SoftwareCard::new(&CITIZENS[0], &other, CardOptions::default());
    let (nonce, ev) = c.read_for_upgrade(&mut card, &other).await;
    let (st, b) = c.upload(&nonce, &ev).await;
    assert_eq!((st, code(&b)), (422, "chip.signer_untrusted"), "{b}");
    assert_eq!(c.credential_level().await, 1);
}

#[tokio::test]
async fn a_clone_with_copied_files_but_no_chip_key_is_refused() {
    let mut c = setup().await;
    let mut card = c.card(&CITIZENS[0]);
    // The genuine card answered an earlier nonce (e.g. a read the attacker observed) ...
    let (_old_nonce, copied) = c.read_for_upgrade(&mut card, &c.pki.clone()).await;
    // ... the clone holds EF.SOD and the data groups, but cannot sign the new challenge.
    let nonce = c.nonce().await;
    let (st, b) = c.upload(&nonce, &copied).await;
    assert_eq!((st, code(&b)), (422, "chip.not_genuine"), "{b}");
    let mut forged = copied.clone();
    forged.aa_signature = b64(&[7u8; 64]);
    let nonce = c.nonce().await;
    let (st, b) = c.upload(&nonce, &forged).await;
    assert_eq!((st, code(&b)), (422, "chip.not_genuine"), "{b}");
    assert_eq!(c.credential_level().await, 1);
}

#[tokio::test]
async fn a_card_of_another_citizen_is_refused() {
    let mut c = setup().await;
    let mut card = c.card(&CITIZENS[1]);
    let (nonce, ev) = c.read_for_upgrade(&mut card, &c.pki.clone()).await;
    let (st, b) = c.upload(&nonce, &ev).await;
    assert_eq!((st, code(&b)), (403, "chip.other_citizen"), "{b}");
    assert_eq!(c.credential_level().await, 1);
}

#[tokio::test]
async fn a_tampered_data_group_is_refused() {
    let mut c = setup().await;
    let mut card = c.card(&CITIZENS[0]);
    let (nonce, mut ev) = c.read_for_upgrade(&mut card, &c.pki.clone()).await;
    let mut dg13 = citizen_protocol::crypto::unb64(&ev.dg13).unwrap();
    let last = dg13.len() - 1;
    dg13[last] ^= 1;
    ev.dg13 = b64(&dg13);
    let (st, b) = c.upload(&nonce, &ev).await;
    assert_eq!((st, code(&b)), (422, "chip.hash_mismatch"), "{b}");
    assert_eq!(c.credential_level().await, 1);
}

#[tokio::test]
async fn evidence_not_covered_by_the_statement_is_refused_and_burns_the_nonce() {
    let mut c = setup().await;
    let mut card = c.card(&CITIZENS[0]);
    let (nonce, ev) = c.read_for_upgrade(&mut card, &c.pki.clone()).await;
    // Signed for other evidence: the device did not sign these files.
    let mut other = ev.clone();
    other.dg14 = None;
    let signed = c.dev.sign(&c.h, Purpose::Chip, &nonce, &upload_subject(&other));
    let (st, b) = c.upload_signed(&signed, &ev).await;
    assert_eq!((st, code(&b)), (401, "signature_invalid"), "{b}");
    // The nonce is spent: the right statement now fails as an invalid proof.
    let (st, b) = c.upload(&nonce, &ev).await;
    assert_eq!((st, code(&b)), (401, "chip.proof_invalid"), "{b}");
}

#[tokio::test]
async fn a_challenge_needs_the_bearers_device() {
    let c = setup().await;
    let (st, _) = c.h.post(PATH_CHIP_CHALLENGE, json!({"device_id": c.dev.id}), None).await;
    assert_eq!(st, 401);
    let (st, b) = c.h.post(PATH_CHIP_CHALLENGE, json!({"device_id": "other"}), Some(&c.token)).await;
    assert_eq!((st, code(&b)), (401, "nonce_invalid"), "{b}");
}

#[tokio::test]
async fn a_genuine_card_whose_record_differs_from_the_register_is_refused() {
    let mut c = setup().await;
    // A validly signed card with the account holder's number but another date of birth.
    let who = Citizen { date_of_birth: "1990-01-16", ..CITIZENS[0].clone() };
    let mut card = c.card(&who);
    let (nonce, ev) = c.read_for_upgrade(&mut card, &c.pki.clone()).await;
    let (st, b) = c.upload(&nonce, &ev).await;
    assert_eq!((st, code(&b)), (422, "chip.record_mismatch"), "{b}");
    assert_eq!(c.credential_level().await, 1);
}
