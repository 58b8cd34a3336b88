//! Delegation through the core (issue 15 item 5, decision 49): a parent lists the children the
//! register gives them, files a residence notification for one (prefilled from the child's
//! record, signed by the parent's device key, the mandate id in the signed payload), and sees the
//! case under the child; the receipt and the device's activity log record the on-behalf filing;
//! the mandate verifies offline and a forged one does not; refusals have their codes.

use citizen_core::{CitizenError, GuardianRelation, MandateState, PublicError};

use crate::env::{fill_residence, Env, PASS};

const PARENT: (&str, &str, &str) = ("001090000001", "1990-01-15", "+84900000001");
const CHILD: &str = "001216000012";
const YOUNGER: &str = "001319000013";
const WARD: &str = "079058000014";

fn code(e: &CitizenError) -> String {
    e.detail().code.clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_parent_files_for_a_child_and_sees_the_case() {
    let env = Env::new().await;
    let dev = env.enrolled("parent", PARENT).await;
    let core = &dev.core;
    core.services().refresh_catalogue().await.unwrap();

    let list = core.account().dependants().await.unwrap();
    assert_eq!(list.len(), 2);
    let child = list.iter().find(|d| d.profile.cccd == CHILD).unwrap();
    assert_eq!((child.relation, child.mandate.state), (GuardianRelation::Parent, MandateState::Active));
    assert!(child.mandate.procedures.contains(&"residence-notification".to_string()));
    let signed = child.mandate.signed.clone().expect("an active mandate is signed");

    // Offline check of the mandate with the published keys; a forged one is refused.
    let keys = reqwest_keys(&env).await;
    let v = citizen_core::verify_mandate(signed.clone(), keys.clone(), env.server().audience.clone()).unwrap();
    assert_eq!((v.guardian_name.as_str(), v.dependant_name.as_str()), ("Nguyễn Văn Mẫu", "Nguyễn Minh Con Mẫu"));
    let mut parts: Vec<&str> = signed.split('.').collect();
    let other = citizen_core::crypto::b64(br#"{"forged":true}"#);
    parts[1] = &other;
    let e = citizen_core::verify_mandate(parts.join("."), keys, env.server().audience.clone()).unwrap_err();
    assert_eq!(code(&e), "delegation.mandate_invalid");

    // Refused before any form is filled: a procedure outside the scope, someone not a dependant.
    let e = core.services().create_draft_for("id-card-reissue".into(), CHILD.into()).await.unwrap_err();
    assert_eq!(code(&e), "delegation.out_of_scope");
    let e = core.services().create_draft_for("residence-notification".into(), WARD.into()).await.unwrap_err();
    assert_eq!(code(&e), "delegation.not_dependant");

    // The draft is the child's: prefilled and locked from the child's record.
    let d = core.services().create_draft_for("residence-notification".into(), CHILD.into()).await.unwrap();
    assert_eq!(d.values["host_cccd"], CHILD);
    assert_eq!(d.values["host_full_name"], "Nguyễn Minh Con Mẫu");
    assert!(d.locked_fields.contains(&"host_cccd".to_string()));
    assert_eq!(d.on_behalf_of.as_deref(), Some(CHILD));
    fill_residence(core, &d.draft_id, env.clock.as_ref()).await;
    core.clone().services().submit_draft(d.draft_id.clone(), PASS.into()).await.unwrap();
    core.services().sync_outbox().await.unwrap();
    let item = core.services().list_outbox().await.unwrap().into_iter().next().unwrap();
    let case = item.case_number.clone().expect("delivered");

    // The receipt names the mandate and the child (checked by the core against the payload).
    let receipt = item.receipt.unwrap();
    let claims: serde_json::Value =
        serde_json::from_slice(&citizen_core::crypto::unb64(receipt.split('.').nth(1).unwrap()).unwrap()).unwrap();
    assert_eq!(claims["on_behalf"]["dependant_cccd"], CHILD);
    assert_eq!(claims["on_behalf"]["mandate_id"].as_str(), Some(child.mandate.mandate_id.as_str()));
    // The device's activity log records it, naming the mandate and not the child.
    let entries = core.activity().list_entries().await.unwrap();
    let on_behalf: Vec<_> = entries.iter().filter(|e| e.summary.contains("on_behalf=mandate:")).collect();
    assert_eq!(on_behalf.len(), 1, "{entries:?}");
    assert!(!on_behalf[0].summary.contains(CHILD));
    // The case is listed under the child, filed by the parent.
    let list = core.account().dependants().await.unwrap();
    let child = list.iter().find(|d| d.profile.cccd == CHILD).unwrap();
    assert_eq!(child.cases.len(), 1);
    assert_eq!((child.cases[0].case_number.as_str(), child.cases[0].filed_by.as_str()), (case.as_str(), PARENT.0));

    // Revoked: listed as such, no longer usable; a second revocation is refused.
    let younger = list.iter().find(|d| d.profile.cccd == YOUNGER).unwrap().mandate.mandate_id.clone();
    core.account().revoke_mandate(younger.clone()).await.unwrap();
    let e = core.account().revoke_mandate(younger).await.unwrap_err();
    assert_eq!(code(&e), "delegation.revoked");
    let e = core.services().create_draft_for("residence-notification".into(), YOUNGER.into()).await.unwrap_err();
    assert_eq!(code(&e), "delegation.revoked");
    let list = core.account().dependants().await.unwrap();
    let m = &list.iter().find(|d| d.profile.cccd == YOUNGER).unwrap().mandate;
    assert_eq!((m.state, m.signed.is_none(), m.revoked_by.as_deref()), (MandateState::Revoked, true, Some("guardian")));
}

fn reqwest_client(env: &Env) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_backend_preconfigured(
            citizen_core::net::tls::client_config(std::slice::from_ref(&env.server().ca_cert_pem), &[]).unwrap(),
        )
        .build()
        .unwrap()
}

async fn reqwest_keys(env: &Env) -> String {
    let http = reqwest_client(env);
    http.get(format!("{}/v1/keys", env.server().base_url)).send().await.unwrap().text().await.unwrap()
}

const OTHER_PARENT: (&str, &str, &str) = ("031187000004", "1987-09-09", "+84900000004");
const VERIFIER_ID: &str = "verifier:benh-vien-mau";

fn verifier(env: &Env, name: &str) -> std::sync::Arc<citizen_core::Verifier> {
    let mut c = citizen_core::default_verifier_config(
        env.server().base_url.clone(),
        env.dir.path().join(name).display().to_string(),
    );
    c.trust_anchors_pem = vec![env.server().ca_cert_pem.clone()];
    citizen_core::Verifier::with_clock(c, env.clock.clone()).unwrap()
}

/// The presentation with its mandate replaced by `mandate`.
fn with_mandate(presentation: &str, mandate: &str) -> String {
    let mut v: serde_json::Value = serde_json::from_str(presentation).unwrap();
    v["mandate"] = mandate.into();
    v.to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_parent_presents_a_childs_health_insurance_card_and_the_verifier_names_both() {
    use citizen_core::DocumentType;
    let env = Env::new().await;
    let dev = env.enrolled("parent", PARENT).await;
    let core = &dev.core;
    let docs = core.documents();
    // The parent's own four documents and the child's card live side by side.
    assert_eq!(docs.refresh().await.unwrap().len(), 4);
    let card = docs.fetch_for_dependant(CHILD.into(), DocumentType::HealthInsuranceCard).await.unwrap();
    assert_eq!((card.dependant_cccd.as_str(), card.dependant_name.as_str()), (CHILD, "Nguyễn Minh Con Mẫu"));
    assert_eq!(card.fields.iter().find(|f| f.identifier == "full_name").unwrap().value, "Nguyễn Minh Con Mẫu");
    assert_eq!(docs.list().await.unwrap().len(), 4);
    assert_eq!(docs.refresh().await.unwrap().len(), 4);
    assert_eq!(docs.list_for_dependants().await.unwrap(), vec![card.clone()]);

    // Refused by the server, each with its code; nothing stored.
    let e = docs.fetch_for_dependant(CHILD.into(), DocumentType::DrivingLicence).await.unwrap_err();
    assert_eq!(code(&e), "delegation.out_of_scope");
    let e = docs.fetch_for_dependant(WARD.into(), DocumentType::HealthInsuranceCard).await.unwrap_err();
    assert_eq!(code(&e), "delegation.not_dependant");
    let list = core.account().dependants().await.unwrap();
    let younger = list.iter().find(|d| d.profile.cccd == YOUNGER).unwrap().mandate.clone();
    core.account().revoke_mandate(younger.mandate_id.clone()).await.unwrap();
    let e = docs.fetch_for_dependant(YOUNGER.into(), DocumentType::HealthInsuranceCard).await.unwrap_err();
    assert_eq!(code(&e), "delegation.revoked");
    assert_eq!(docs.list_for_dependants().await.unwrap().len(), 1);

    // Presented: the verifier (offline, cached trust) sees the child's data and who presents it.
    let v = verifier(&env, "hospital");
    v.refresh_trust().await.unwrap();
    let fields = vec!["full_name".to_string(), "insurance_number".into(), "valid_until".into()];
    let e = docs
        .present_for_dependant(card.id.clone(), fields.clone(), VERIFIER_ID.into(), "n-1".into(), "000000".into())
        .await
        .unwrap_err();
    assert!(matches!(e, CitizenError::PasscodeRejected { .. }), "{e:?}");
    let share = docs
        .present_for_dependant(card.id.clone(), fields.clone(), VERIFIER_ID.into(), "n-1".into(), PASS.into())
        .await
        .unwrap();
    let ok = v.verify_on_behalf(share.presentation.clone(), VERIFIER_ID.into(), "n-1".into()).await.unwrap();
    assert_eq!((ok.guardian_name.as_str(), ok.dependant_name.as_str()), ("Nguyễn Văn Mẫu", "Nguyễn Minh Con Mẫu"));
    assert_eq!((ok.relation, ok.document_type), (GuardianRelation::Parent, DocumentType::HealthInsuranceCard));
    assert_eq!(ok.summary_en, "Health insurance card of child Nguyễn Minh Con Mẫu presented by parent Nguyễn Văn Mẫu");
    assert!(ok.summary_vi.contains("do cha/mẹ Nguyễn Văn Mẫu trình"), "{}", ok.summary_vi);
    let mut shown: Vec<&str> = ok.fields.iter().map(|f| f.identifier.as_str()).collect();
    shown.sort();
    assert_eq!(shown, ["full_name", "insurance_number", "valid_until"]);
    assert!(!share.presentation.contains("registered_hospital") && ok.fields.iter().all(|f| f.identifier != "sex"));
    // The device records it: naming the mandate, never the child.
    let entries = core.activity().list_entries().await.unwrap();
    let e = entries.iter().find(|e| e.summary.contains(&format!("receipt={}", share.receipt_id))).unwrap();
    assert!(e.summary.contains(&format!("on_behalf=mandate:{}", card.mandate_id)) && !e.summary.contains(CHILD));

    // Replayed to the verifier under another nonce, or meant for another verifier.
    let e = v.verify_on_behalf(share.presentation.clone(), VERIFIER_ID.into(), "n-2".into()).await.unwrap_err();
    assert_eq!(code(&e), "consent.presentation_replayed");
    let e = v.verify_on_behalf(share.presentation.clone(), "verifier:other".into(), "n-1".into()).await.unwrap_err();
    assert_eq!(code(&e), "consent.presentation_wrong_audience");
    // The other child's mandate beside this child's card.
    let younger_signed = younger.signed.clone().expect("listed while active");
    let e = v
        .verify_on_behalf(with_mandate(&share.presentation, &younger_signed), VERIFIER_ID.into(), "n-1".into())
        .await
        .unwrap_err();
    assert_eq!(code(&e), "delegation.not_dependant");
    // A forged mandate.
    let mut forged = younger_signed.clone();
    forged.replace_range(forged.len() - 4.., "AAAA");
    let e = v
        .verify_on_behalf(with_mandate(&share.presentation, &forged), VERIFIER_ID.into(), "n-1".into())
        .await
        .unwrap_err();
    assert_eq!(code(&e), "delegation.mandate_invalid");

    assert!(ok.revocation_checked);
    // The receipt is device-signed now and countersigned by the server like an in-person one.
    assert_eq!(core.consent().sync_receipts().await.unwrap(), 1);
    let r = core.consent().list_receipts().await.unwrap();
    let r = r.iter().find(|r| r.receipt_id == share.receipt_id).unwrap();
    assert!(!r.awaiting_countersignature && r.damage.is_none(), "{r:?}");
    assert_eq!((r.purpose.as_str(), r.relying_party_id.as_str()), ("on_behalf", VERIFIER_ID));
    // An official revokes the card: once the verifier's lists are refreshed, it is refused.
    let resp = reqwest_client(&env)
        .post(format!("{}/v1/official/documents/revoke", env.server().base_url))
        .header("x-official-token", &env.server().official_token)
        .json(&serde_json::json!({"document_id": card.id}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let stale = v.verify_on_behalf(share.presentation.clone(), VERIFIER_ID.into(), "n-1".into()).await.unwrap();
    assert!(stale.revocation_checked, "the cached list predates the revocation");
    v.refresh_trust().await.unwrap();
    let e = v.verify_on_behalf(share.presentation.clone(), VERIFIER_ID.into(), "n-1".into()).await.unwrap_err();
    assert_eq!(code(&e), "mdoc.revoked");

    // The other parent presents the younger child's card (bound to their own key) with this
    // parent's mandate: the key-binding JWT is not from the key the mandate names.
    let other_parent = env.enrolled("other-parent", OTHER_PARENT).await;
    let theirs = other_parent
        .core
        .documents()
        .fetch_for_dependant(YOUNGER.into(), DocumentType::HealthInsuranceCard)
        .await
        .unwrap();
    let their_share = other_parent
        .core
        .documents()
        .present_for_dependant(theirs.id, fields.clone(), VERIFIER_ID.into(), "n-3".into(), PASS.into())
        .await
        .unwrap();
    v.verify_on_behalf(their_share.presentation.clone(), VERIFIER_ID.into(), "n-3".into()).await.unwrap();
    let ours: serde_json::Value = serde_json::from_str(&share.presentation).unwrap();
    let e = v
        .verify_on_behalf(
            with_mandate(&their_share.presentation, ours["mandate"].as_str().unwrap()),
            VERIFIER_ID.into(),
            "n-3".into(),
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e), "delegation.wrong_holder");

    // A week later the mandate JWS has lapsed: the verifier refuses it, the phone too, until the
    // card (and its mandate) is fetched again.
    env.clock.advance(8 * 24 * 3600);
    let e = v.verify_on_behalf(share.presentation.clone(), VERIFIER_ID.into(), "n-1".into()).await.unwrap_err();
    assert_eq!(code(&e), "delegation.expired");
    let e = docs
        .present_for_dependant(card.id.clone(), fields, VERIFIER_ID.into(), "n-4".into(), PASS.into())
        .await
        .unwrap_err();
    assert_eq!(code(&e), "delegation.expired");
    docs.delete_for_dependant(card.id.clone()).await.unwrap();
    let e = docs.delete_for_dependant(card.id).await.unwrap_err();
    assert_eq!(code(&e), "documents.unknown");
}
