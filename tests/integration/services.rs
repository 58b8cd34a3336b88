//! Public-service requests end to end against the reference server: catalogue and profile
//! sync, auto-fill with locked register fields, offline submission through the durable outbox,
//! delivery with verified receipts, case lifecycle, supplements, idempotent replay after lost
//! answers, Retry-After, and definite rejections.

use std::sync::{Arc, Mutex};

use citizen_core::clock::Clock;
use citizen_core::protocol::services::{CaseStatusDto, TransitionRequest, PATH_OFFICIAL_TRANSITION};
use citizen_core::{
    CitizenCore, CitizenError, DraftStatus, NetworkErrorKind, ObserverError, OutboxItem, OutboxListener, OutboxState,
};
use citizen_server::Fault;

use crate::env::{day, fill_residence, Env, PASS};

const A: (&str, &str, &str) = ("001090000001", "1990-01-15", "+84900000001");

/// What the services tests add to the shared environment.
trait Services {
    /// The core of device `name` (5 s request timeout); the same name gets the same key store
    /// and wrapper, so calling it again is an app restart.
    fn core(&self, name: &str) -> Arc<CitizenCore>;
    /// Enroll, log in, fetch catalogue and profile.
    async fn ready_core(&self, name: &str, who: (&str, &str, &str)) -> Arc<CitizenCore>;
    /// An official moves a case (the officials' API); the HTTP status.
    async fn official(&self, case_number: &str, to: CaseStatusDto, requested: Vec<String>) -> u16;
}

impl Services for Env {
    fn core(&self, name: &str) -> Arc<CitizenCore> {
        let mut c = self.config(name);
        c.request_timeout = Some(std::time::Duration::from_secs(5));
        self.device_with(name, c).core
    }

    async fn ready_core(&self, name: &str, who: (&str, &str, &str)) -> Arc<CitizenCore> {
        let core = self.core(name);
        citizen_server::testing::enroll_and_login(&core, &self.otp, who, PASS).await;
        assert!(core.services().refresh_catalogue().await.unwrap());
        core.services().refresh_profile().await.unwrap();
        core
    }

    async fn official(&self, case_number: &str, to: CaseStatusDto, requested: Vec<String>) -> u16 {
        let server = self.server();
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(
                citizen_core::net::tls::client_config(std::slice::from_ref(&server.ca_cert_pem), &[]).unwrap(),
            )
            .build()
            .unwrap();
        let body = TransitionRequest {
            case_number: case_number.into(),
            to,
            note_vi: Some("Ghi chú của cán bộ".into()),
            note_en: Some("Official's note".into()),
            requested_attachments: requested,
        };
        client
            .post(format!("{}{PATH_OFFICIAL_TRANSITION}", server.base_url))
            .header("x-official-token", &server.official_token)
            .json(&body)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn catalogue_profile_and_autofill_with_locked_fields() {
    let env = Env::new().await;
    let core = env.ready_core("a", A).await;
    // Conditional request: unchanged catalogue → 304.
    assert!(!core.services().refresh_catalogue().await.unwrap());
    let procs = core.services().list_procedures().await.unwrap();
    let mut ids: Vec<_> = procs.iter().map(|p| p.id.as_str()).collect();
    ids.sort();
    assert_eq!(
        ids,
        [
            "id-card-reissue",
            "register-correction",
            "residence-notification",
            "temporary-absence",
            "temporary-residence"
        ]
    );
    let profile = core.services().get_profile().await.unwrap();
    assert_eq!(profile.cccd, A.0);
    assert_eq!(profile.phone, A.2);

    // Every auto-filled field of every procedure equals the register's value; locked ones
    // cannot be changed.
    for p in &procs {
        let d = core.services().create_draft(p.id.clone()).await.unwrap();
        for f in &p.fields {
            let Some(attr) = &f.autofill else { continue };
            let register = match attr.split_once('.') {
                Some(("permanent_residence", k)) => field_of(&profile.permanent_residence, k),
                Some(("current_residence", k)) => field_of(&profile.current_residence, k),
                _ => match attr.as_str() {
                    "full_name" => profile.full_name.clone(),
                    "date_of_birth" => profile.date_of_birth.clone(),
                    "sex" => match profile.sex {
                        citizen_core::Sex::Male => "male".to_string(),
                        citizen_core::Sex::Female => "female".to_string(),
                        citizen_core::Sex::Unknown => panic!("the register has a sex"),
                    },
                    "cccd" => profile.cccd.clone(),
                    "phone" => profile.phone.clone(),
                    "email" => profile.email.clone().unwrap_or_default(),
                    other => panic!("unexpected autofill {other}"),
                },
            };
            if register.is_empty() {
                continue;
            }
            assert_eq!(d.values.get(&f.key), Some(&register), "{}.{}", p.id, f.key);
            if f.locked {
                assert!(d.locked_fields.contains(&f.key));
                let e = core
                    .services()
                    .update_draft(
                        d.draft_id.clone(),
                        std::collections::HashMap::from([(f.key.clone(), "Giá trị khác".into())]),
                    )
                    .await
                    .unwrap_err();
                match e {
                    CitizenError::InvalidInput { fields, .. } => assert_eq!(fields[0].code, "field.locked"),
                    other => panic!("{other:?}"),
                }
                assert_eq!(
                    core.services().get_draft(d.draft_id.clone()).await.unwrap().values.get(&f.key),
                    Some(&register)
                );
            }
        }
    }
    // Offline: the catalogue and profile are still there after a restart without a server.
    drop(core);
    let again = env.core("a");
    assert_eq!(again.services().list_procedures().await.unwrap().len(), 5);
    assert_eq!(again.services().get_profile().await.unwrap().cccd, A.0);
}

fn field_of(a: &citizen_core::Address, k: &str) -> String {
    match k {
        "province_code" => a.province_code.clone(),
        "commune_code" => a.commune_code.clone(),
        "detail" => a.detail.clone(),
        "province_name" => a.province_name.clone(),
        "commune_name" => a.commune_name.clone(),
        _ => panic!("{k}"),
    }
}

/// Every (submission, state) the outbox subscription showed, in delivery order.
#[derive(Default)]
struct Recorder(Mutex<Vec<(String, OutboxState)>>);

impl OutboxListener for Recorder {
    fn on_outbox(&self, items: Vec<OutboxItem>) -> Result<(), ObserverError> {
        let mut seen = self.0.lock().unwrap();
        for item in items {
            if seen.iter().rev().find(|(id, _)| *id == item.submission_id).map(|(_, s)| *s) != Some(item.state) {
                seen.push((item.submission_id, item.state));
            }
        }
        Ok(())
    }
    fn on_end(&self) -> Result<(), ObserverError> {
        Ok(())
    }
}

impl Recorder {
    /// Wait until `id` was seen in `state` (notifications arrive after the change, in order).
    async fn wait_for(&self, id: &str, state: OutboxState) -> Vec<OutboxState> {
        for _ in 0..1000 {
            let states: Vec<OutboxState> =
                self.0.lock().unwrap().iter().filter(|(i, _)| i == id).map(|(_, s)| *s).collect();
            if states.contains(&state) {
                return states;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("{id} never reached {state:?}: {:?}", self.0.lock().unwrap());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn offline_submission_is_delivered_later_and_the_case_is_approved() {
    let mut env = Env::new().await;
    let core = env.ready_core("a", A).await;
    let recorder = Arc::new(Recorder::default());
    let _first = core.services().observe_outbox(recorder.clone()).unwrap();

    env.stop().await; // the network is gone
    let draft = core.services().create_draft("residence-notification".into()).await.unwrap();
    fill_residence(&core, &draft.draft_id, &*env.clock).await;
    assert_eq!(core.services().validate_draft(draft.draft_id.clone()).await.unwrap(), vec![]);
    let item = core.clone().services().submit_draft(draft.draft_id.clone(), PASS.into()).await.unwrap();
    assert_eq!(item.state, OutboxState::Queued);
    assert_eq!(core.services().get_draft(draft.draft_id.clone()).await.unwrap().status, DraftStatus::Submitted);
    let e = core
        .services()
        .update_draft(draft.draft_id.clone(), std::collections::HashMap::from([("reason".into(), "khac".into())]))
        .await
        .unwrap_err();
    assert!(matches!(e, CitizenError::Refused { .. }), "{e:?}");

    let r = core.services().sync_outbox().await.unwrap();
    assert_eq!((r.delivered, r.remaining), (0, 1));
    assert_eq!(r.last_error.unwrap().code, "network.offline");
    let queued = &core.services().list_outbox().await.unwrap()[0];
    assert_eq!(queued.state, OutboxState::Queued);
    assert_eq!(queued.last_error.as_ref().unwrap().code, "network.offline");

    // An app restart while offline loses nothing.
    drop(core);
    let core = env.core("a");
    assert_eq!(core.services().list_outbox().await.unwrap()[0].submission_id, item.submission_id);

    // The network is back: deliver, verify the receipt, open the case.
    env.restart().await;
    let _second = core.services().observe_outbox(recorder.clone()).unwrap();
    let r = core.services().sync_outbox().await.unwrap();
    assert_eq!((r.delivered, r.rejected, r.remaining), (1, 0, 0), "{:?}", r.last_error);
    let delivered = &core.services().list_outbox().await.unwrap()[0];
    assert_eq!(delivered.state, OutboxState::Delivered);
    let case_number = delivered.case_number.clone().unwrap();
    assert!(delivered.receipt.as_ref().unwrap().split('.').count() == 3, "a compact JWS");
    assert_eq!(env.server().cases_for_submission(&item.submission_id), 1);
    let states = recorder.wait_for(&item.submission_id, OutboxState::Delivered).await;
    assert!(states.contains(&OutboxState::Sending), "{states:?}");

    // Officials move the case; the citizen syncs and sees it approved.
    assert_eq!(
        env.official(&case_number, CaseStatusDto::Approved, vec![]).await,
        409,
        "received → approved is not allowed"
    );
    assert_eq!(env.official(&case_number, CaseStatusDto::Processing, vec![]).await, 200);
    assert_eq!(env.official(&case_number, CaseStatusDto::Approved, vec![]).await, 200);
    core.account().login(PASS.into()).await.unwrap();
    let events = core.services().sync_cases().await.unwrap();
    assert!(events.iter().any(|e| e.status == citizen_core::CaseStatus::Approved));
    assert!(core.services().sync_cases().await.unwrap().is_empty(), "the cursor moved on");
    let case = core.services().list_cases().await.unwrap().into_iter().find(|c| c.case_number == case_number).unwrap();
    assert_eq!(case.status, citizen_core::CaseStatus::Approved);
    assert_eq!(case.note_en.as_deref(), Some("Official's note"));

    // At rest (issue 9, item 15): the receipt (procedure, case number, due date) and the case
    // number are sealed, in the database and its WAL alike.
    let receipt = core.services().list_outbox().await.unwrap()[0].receipt.clone().unwrap();
    drop(core);
    let payload = receipt.split('.').nth(1).unwrap();
    for (what, needle) in [("case number", case_number.as_str()), ("receipt", payload)] {
        let dir = env.dir.path().join("a");
        let found = std::fs::read_dir(&dir).unwrap().any(|e| {
            let b = std::fs::read(e.unwrap().path()).unwrap_or_default();
            b.windows(needle.len()).any(|w| w == needle.as_bytes())
        });
        assert!(!found, "{what} found in clear under {}", dir.display());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_supplement_request_is_answered_through_the_outbox() {
    let env = Env::new().await;
    let core = env.ready_core("a", A).await;
    let d = core.services().create_draft("temporary-residence".into()).await.unwrap();
    let id = d.draft_id.clone();
    for (k, v) in [
        ("new_province", "01"),
        ("new_commune", "00004"),
        ("new_detail", "Số 2 Ngõ Thử Nghiệm"),
        ("housing_basis", "rent"),
    ] {
        core.services()
            .update_draft(id.clone(), std::collections::HashMap::from([(k.into(), v.into())]))
            .await
            .unwrap();
    }
    core.services()
        .update_draft(id.clone(), std::collections::HashMap::from([("from_date".into(), day(&*env.clock, 2))]))
        .await
        .unwrap();
    core.services()
        .update_draft(id.clone(), std::collections::HashMap::from([("to_date".into(), day(&*env.clock, 200))]))
        .await
        .unwrap();
    let missing: Vec<String> = core
        .services()
        .validate_draft(id.clone())
        .await
        .unwrap()
        .into_iter()
        .map(|e| format!("{}:{}", e.field, e.code))
        .collect();
    assert_eq!(missing, ["housing_proof:attachment.required"]);
    let e = core
        .services()
        .attach_bytes(
            id.clone(),
            "housing_proof".into(),
            "a.exe".into(),
            "application/x-msdownload".into(),
            vec![1; 10],
        )
        .await
        .unwrap_err();
    assert!(matches!(&e, CitizenError::InvalidInput { fields, .. } if fields[0].code == "attachment.type"), "{e:?}");
    core.services()
        .attach_bytes(
            id.clone(),
            "housing_proof".into(),
            "hop-dong.pdf".into(),
            "application/pdf".into(),
            b"%PDF-1.7 fictitious".to_vec(),
        )
        .await
        .unwrap();
    let item = core.clone().services().submit_draft(id.clone(), PASS.into()).await.unwrap();
    core.services().sync_outbox().await.unwrap();
    let case_number = core
        .services()
        .list_outbox()
        .await
        .unwrap()
        .into_iter()
        .find(|i| i.submission_id == item.submission_id)
        .unwrap()
        .case_number
        .unwrap();

    assert_eq!(env.official(&case_number, CaseStatusDto::Processing, vec![]).await, 200);
    assert_eq!(env.official(&case_number, CaseStatusDto::NeedsSupplement, vec!["housing_proof".into()]).await, 200);
    core.services().sync_cases().await.unwrap();
    let case = core.services().list_cases().await.unwrap().into_iter().find(|c| c.case_number == case_number).unwrap();
    assert_eq!(case.status, citizen_core::CaseStatus::NeedsSupplement);
    assert_eq!(case.requested_attachments, ["housing_proof"]);

    let s = core.services().create_supplement_draft(case_number.clone()).await.unwrap();
    assert_eq!(s.supplements_case.as_deref(), Some(case_number.as_str()));
    assert_eq!(s.values.get("new_detail").map(String::as_str), Some("Số 2 Ngõ Thử Nghiệm"));
    let missing: Vec<String> =
        core.services().validate_draft(s.draft_id.clone()).await.unwrap().into_iter().map(|e| e.code).collect();
    assert_eq!(missing, ["attachment.required"]);
    core.services()
        .attach_bytes(
            s.draft_id.clone(),
            "housing_proof".into(),
            "hop-dong-moi.pdf".into(),
            "application/pdf".into(),
            b"%PDF-1.7 new".to_vec(),
        )
        .await
        .unwrap();
    core.clone().services().submit_draft(s.draft_id.clone(), PASS.into()).await.unwrap();
    let r = core.services().sync_outbox().await.unwrap();
    assert_eq!(r.remaining, 0, "{:?}", r.last_error);
    assert_eq!(env.server().case_status(&case_number), Some(CaseStatusDto::Processing));
    // A case not waiting for a supplement refuses another one.
    core.services().sync_cases().await.unwrap();
    assert!(matches!(
        core.services().create_supplement_draft(case_number).await.unwrap_err(),
        CitizenError::Refused { .. }
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn lost_answers_are_replayed_idempotently_and_retry_after_is_honoured() {
    let env = Env::new().await;
    let core = env.ready_core("a", A).await;
    let clock = env.clock.clone();
    let submit = |core: Arc<CitizenCore>| {
        let clock = clock.clone();
        async move {
            let d = core.services().create_draft("residence-notification".into()).await.unwrap();
            fill_residence(&core, &d.draft_id, &*clock).await;
            d.draft_id
        }
    };
    // The server commits, then the answer is lost.
    env.server().set_faults(vec![Fault::FailAfterCommit, Fault::CommitThen500]);
    let id = submit(core.clone()).await;
    let item = core.clone().services().submit_draft(id, PASS.into()).await.unwrap();
    // The background delivery may have run into the first fault already; drive it explicitly.
    for _ in 0..3 {
        let r = core.services().sync_outbox().await.unwrap();
        if r.remaining == 0 {
            break;
        }
    }
    let done = core
        .services()
        .list_outbox()
        .await
        .unwrap()
        .into_iter()
        .find(|i| i.submission_id == item.submission_id)
        .unwrap();
    assert_eq!(done.state, OutboxState::Delivered);
    assert_eq!(env.server().cases_for_submission(&item.submission_id), 1, "no duplicate case");
    assert!(done.attempts >= 2);

    // 503 with Retry-After: the core waits at least that long, even when asked to sync.
    env.server().set_faults(vec![Fault::Status503RetryAfter(120)]);
    let id = submit(core.clone()).await;
    let item = core.clone().services().submit_draft(id, PASS.into()).await.unwrap();
    let mut waited = None;
    for _ in 0..3 {
        let _ = core.services().sync_outbox().await.unwrap();
        let it = core
            .services()
            .list_outbox()
            .await
            .unwrap()
            .into_iter()
            .find(|i| i.submission_id == item.submission_id)
            .unwrap();
        if it.state == OutboxState::Queued && it.attempts >= 1 {
            waited = Some(it);
            break;
        }
    }
    let it = waited.expect("the 503 was seen");
    assert!(crate::env::secs(it.next_attempt_at.unwrap()) >= env.clock.now() + 110, "Retry-After honoured");
    let r = core.services().sync_outbox().await.unwrap();
    assert_eq!((r.delivered, r.remaining), (0, 1), "nothing sent before Retry-After");
    env.clock.advance(121);
    let r = core.services().sync_outbox().await.unwrap();
    assert_eq!((r.delivered, r.remaining), (1, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_definite_rejection_ends_the_item_and_says_why() {
    let mut env = Env::new().await;
    let old = env.ready_core("old", A).await;
    env.stop().await;
    let d = old.services().create_draft("residence-notification".into()).await.unwrap();
    fill_residence(&old, &d.draft_id, &*env.clock).await;
    let item = old.clone().services().submit_draft(d.draft_id, PASS.into()).await.unwrap();
    // The delivery attempt made while offline has finished (the item waits in backoff).
    assert_eq!(old.services().sync_outbox().await.unwrap().remaining, 1);
    env.restart().await;
    // Meanwhile the citizen enrolled a new phone: the old device is replaced.
    let _new = env.ready_core("new", A).await;
    let r = old.services().sync_outbox().await.unwrap();
    assert_eq!((r.delivered, r.rejected, r.remaining), (0, 1, 0));
    let it = old
        .services()
        .list_outbox()
        .await
        .unwrap()
        .into_iter()
        .find(|i| i.submission_id == item.submission_id)
        .unwrap();
    assert_eq!(it.state, OutboxState::Rejected);
    let err = it.last_error.unwrap();
    assert!(err.code.contains("device_replaced"), "{err:?}");
    assert!(!err.message_vi.is_empty() && !err.message_en.is_empty());
    assert_eq!(env.server().cases_for_submission(&item.submission_id), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn submission_needs_the_passcode_and_a_valid_form() {
    let env = Env::new().await;
    let core = env.ready_core("a", A).await;
    let d = core.services().create_draft("residence-notification".into()).await.unwrap();
    match core.clone().services().submit_draft(d.draft_id.clone(), PASS.into()).await.unwrap_err() {
        CitizenError::InvalidInput { fields, .. } => {
            let codes: Vec<String> = fields.iter().map(|f| format!("{}:{}", f.field, f.code)).collect();
            assert!(codes.contains(&"from_date:field.required".to_string()), "{codes:?}");
        }
        other => panic!("{other:?}"),
    }
    fill_residence(&core, &d.draft_id, &*env.clock).await;
    assert!(matches!(
        core.clone().services().submit_draft(d.draft_id.clone(), "111112".into()).await.unwrap_err(),
        CitizenError::PasscodeRejected { .. }
    ));
    assert!(core.services().list_outbox().await.unwrap().is_empty(), "nothing queued without the passcode");
    let _ = NetworkErrorKind::Offline;
}
