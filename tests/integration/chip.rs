//! Level 2 from the chip through the core (decision 30): the software CCCD behind an
//! in-process `ApduTransport`, the reference server trusting its test CSCA. Success raises the
//! account to level 2 (credential, activity log, a level-2 relying party now accepts the
//! citizen); each refusal is typed and leaves the account at level 1.

use std::sync::{Arc, Mutex};

use citizen_core::activity::ActivityKind;
use citizen_core::platform::{ApduTransport, ApduTransportError};
use citizen_core::protocol::rp::{ShareRequestClaims, SHARE_REQUEST_TYP};
use citizen_core::sdjwt;
use citizen_core::{ChipAccessKey, ChipReadObserver, ChipReadStep, CitizenCore, CitizenError, PublicError};
use serde_json::{Map, Value};
use software_cccd::pki::{VALID_FROM, VALID_TO};
use software_cccd::{CardOptions, Citizen, SoftwareCard, TestPki, CITIZENS};

use crate::env::{Device, Env, PASS};

/// The register's first citizen (the software card's `CITIZENS[0]`).
const WHO: (&str, &str, &str) = ("001090000001", "1990-01-15", "+84900000001");
/// A level-2 relying party of the demo registry.
const LEVEL2_RP: &str = "securities-demo";

/// The software card as the shell's transport (in process; an empty answer is a removal).
pub struct CardTransport(Mutex<SoftwareCard>);

#[async_trait::async_trait]
impl ApduTransport for CardTransport {
    async fn transceive(&self, command: Vec<u8>) -> Result<Vec<u8>, ApduTransportError> {
        let answer = self.0.lock().unwrap().process(&command);
        if answer.is_empty() {
            return Err(ApduTransportError::CardRemoved { reason: "card left the field".into() });
        }
        Ok(answer)
    }
    fn max_apdu_length(&self) -> i32 {
        261
    }
    fn supports_extended_length(&self) -> bool {
        false
    }
}

pub fn transport(mut card: SoftwareCard) -> Arc<CardTransport> {
    card.power_on();
    Arc::new(CardTransport(Mutex::new(card)))
}

#[derive(Default)]
struct Steps(Mutex<Vec<(ChipReadStep, i64, i32)>>);

impl ChipReadObserver for Steps {
    fn on_progress(&self, step: ChipReadStep, bytes_read: i64, apdus: i32) {
        self.0.lock().unwrap().push((step, bytes_read, apdus));
    }
}

pub struct Chip {
    pub env: Env,
    pub pki: TestPki,
}

impl Chip {
    /// A server trusting the software card's test CSCA.
    pub async fn new() -> Chip {
        let pki = TestPki::default_test();
        let csca = pki.csca.clone();
        let env = Env::with_server(move |cfg| {
            let dir = cfg.data_dir.join("chip-csca");
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("vn-test.der"), csca).unwrap();
        })
        .await;
        Chip { env, pki }
    }

    /// An enrolled, logged-in core for WHO.
    pub async fn core(&self) -> Arc<CitizenCore> {
        let Device { core, .. } = self.env.device("phone");
        citizen_server::testing::enroll_and_login(&core, &self.env.otp, WHO, PASS).await;
        core
    }

    pub fn card(&self, who: &Citizen) -> SoftwareCard {
        SoftwareCard::new(who, &self.pki, CardOptions::default())
    }

    /// Open and answer a share request of the level-2 relying party.
    async fn share_with_level2_rp(&self, core: &CitizenCore) -> Result<(), CitizenError> {
        let now = citizen_core::clock::Clock::now(self.env.clock.as_ref());
        let origin = self.env.server().base_url.clone();
        let claims = ShareRequestClaims {
            iss: LEVEL2_RP.into(),
            request_id: citizen_core::crypto::random_b64url(16),
            nonce: citizen_core::crypto::random_b64url(16),
            purpose: "account_opening".into(),
            purpose_vi: "Mở tài khoản chứng khoán".into(),
            purpose_en: "Open a securities account".into(),
            retention_days: 30,
            required: vec!["full_name".into()],
            optional: vec![],
            response_uri: format!("{origin}/rp/{LEVEL2_RP}/presentations"),
            iat: now,
            exp: now + 600,
        };
        let mut h = Map::new();
        h.insert("typ".into(), SHARE_REQUEST_TYP.into());
        let Value::Object(p) = serde_json::to_value(&claims).unwrap() else { unreachable!() };
        let jws = sdjwt::P256JwsSigner::new(self.env.rp_key(LEVEL2_RP), Some(LEVEL2_RP.into())).sign_compact(&h, &p);
        let info = core.consent().open_share_request(jws).await?;
        core.consent().share_data(info.request_id, vec![], PASS.into()).await.map(|_| ())
    }
}

pub fn can(card: &SoftwareCard) -> ChipAccessKey {
    ChipAccessKey::Can { can: card.citizen().can().into() }
}

fn code(e: &CitizenError) -> String {
    e.detail().code.clone()
}

/// Every file under `dir`, concatenated (to search for what must not be kept).
fn all_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(all_bytes(&p));
        } else {
            out.extend(std::fs::read(&p).unwrap_or_default());
        }
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_the_holders_card_raises_the_account_to_level_2() {
    let c = Chip::new().await;
    let core = c.core().await;
    assert_eq!(core.chip().identity_level().await.unwrap(), 1);
    // A level-2 relying party refuses a level-1 account, with its own code.
    let e = c.share_with_level2_rp(&core).await.unwrap_err();
    assert_eq!(e.detail().code, "level.required", "{e:?}");

    let card = c.card(&CITIZENS[0]);
    let dg13 = card.file([0x01, 0x0D]).unwrap().to_vec();
    let steps = Arc::new(Steps::default());
    let out =
        core.chip().upgrade_level_with_chip(transport(card), can(&c.card(&CITIZENS[0])), Some(steps.clone())).await;
    let out = out.unwrap();
    assert_eq!(out.level, 2);
    assert!(out.credential_refreshed);
    assert!(out.apdus > 10 && out.bytes_read > 1000, "{out:?}");
    assert_eq!(core.chip().identity_level().await.unwrap(), 2, "the stored PID credential states level 2");

    let steps = steps.0.lock().unwrap().clone();
    assert!(steps.iter().any(|s| s.0 == ChipReadStep::Pace));
    assert!(steps.iter().any(|s| s.0 == ChipReadStep::ActiveAuthentication));
    assert!(steps.iter().any(|s| s.0 == ChipReadStep::ReadFile { name: "DG13".into() }));
    assert!(!steps.iter().any(|s| s.0 == ChipReadStep::ReadFile { name: "DG2".into() }), "the face is not read");
    assert!(steps.windows(2).all(|w| w[0].1 <= w[1].1 && w[0].2 <= w[1].2), "progress only grows");

    let log = core.activity().list_entries().await.unwrap();
    let last = log.last().unwrap();
    assert_eq!((last.kind, last.summary.as_str()), (ActivityKind::LevelUpgrade, "level=2"));

    // Nothing of the chip is kept: no DG13 bytes, no value only the chip holds (the parents'
    // names), in any file of the data directory.
    drop(core);
    let bytes = all_bytes(&c.env.dir.path().join("phone"));
    assert!(!contains(&bytes, &dg13));
    assert!(!contains(&bytes, CITIZENS[0].parents.0.as_bytes()));

    // The level-2 relying party now accepts the citizen (the consent is countersigned; its
    // response URI is not served by the demo, so the RP's answer itself is not checked here).
    let core = c.env.device("phone").core;
    match c.share_with_level2_rp(&core).await {
        Ok(()) => {}
        Err(e) => assert_ne!(e.detail().code, "level.required", "{e:?}"),
    }
    assert!(
        core.consent().list_receipts().await.unwrap().iter().any(|r| r.relying_party_id == LEVEL2_RP),
        "the share with the level-2 RP was countersigned"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_signed_by_an_untrusted_issuer_is_refused() {
    let c = Chip::new().await;
    let core = c.core().await;
    let other = TestPki::generate("Elsewhere", citizen_chip::ec::Curve::BrainpoolP256r1, VALID_FROM, VALID_TO);
    let card = SoftwareCard::new(&CITIZENS[0], &other, CardOptions::default());
    let key = can(&card);
    let e = core.chip().upgrade_level_with_chip(transport(card), key, None).await.unwrap_err();
    assert_eq!(code(&e), "chip.signer_untrusted", "{e:?}");
    assert!(matches!(e, CitizenError::Card { retryable: false, .. }));
    assert_eq!(core.chip().identity_level().await.unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cloned_card_is_refused() {
    let c = Chip::new().await;
    let core = c.core().await;
    let clone = SoftwareCard::clone_without_keys(&c.card(&CITIZENS[0]));
    let key = can(&clone);
    let e = core.chip().upgrade_level_with_chip(transport(clone), key, None).await.unwrap_err();
    assert_eq!(code(&e), "chip.not_genuine", "{e:?}");
    assert_eq!(core.chip().identity_level().await.unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_citizens_card_is_refused_by_the_server() {
    let c = Chip::new().await;
    let core = c.core().await;
    let card = c.card(&CITIZENS[1]);
    let key = can(&card);
    let e = core.chip().upgrade_level_with_chip(transport(card), key, None).await.unwrap_err();
    assert_eq!(code(&e), "chip.other_citizen", "{e:?}");
    assert!(matches!(e, CitizenError::Refused { .. }));
    assert_eq!(core.chip().identity_level().await.unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_data_group_is_refused() {
    let c = Chip::new().await;
    let core = c.core().await;
    let mut card = c.card(&CITIZENS[0]);
    let mut dg13 = card.file([0x01, 0x0D]).unwrap().to_vec();
    let last = dg13.len() - 1;
    dg13[last] ^= 1;
    card.set_file([0x01, 0x0D], dg13);
    let key = can(&card);
    let e = core.chip().upgrade_level_with_chip(transport(card), key, None).await.unwrap_err();
    assert_eq!(code(&e), "chip.hash_mismatch", "{e:?}");
    assert_eq!(core.chip().identity_level().await.unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_can_or_a_removed_card_leaves_level_1_and_a_retry_succeeds() {
    let c = Chip::new().await;
    let core = c.core().await;
    let e = core
        .chip()
        .upgrade_level_with_chip(transport(c.card(&CITIZENS[0])), ChipAccessKey::Can { can: "000000".into() }, None)
        .await
        .unwrap_err();
    assert_eq!(code(&e), "chip.access_denied", "{e:?}");
    let card = c.card(&CITIZENS[0]);
    let key = can(&card);
    let t = transport(card);
    t.0.lock().unwrap().remove_after(20);
    let e = core.chip().upgrade_level_with_chip(t, key, None).await.unwrap_err();
    assert_eq!(code(&e), "chip.card_removed", "{e:?}");
    assert!(matches!(e, CitizenError::Card { retryable: true, .. }));
    assert_eq!(core.chip().identity_level().await.unwrap(), 1);
    let card = c.card(&CITIZENS[0]);
    let key = can(&card);
    assert_eq!(core.chip().upgrade_level_with_chip(transport(card), key, None).await.unwrap().level, 2);
}

#[test]
fn the_access_key_is_never_printed() {
    let k = ChipAccessKey::Can { can: "123456".into() };
    assert!(!format!("{k:?}").contains("123456"));
}
