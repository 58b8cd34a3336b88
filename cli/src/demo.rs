//! `citizen demo`: the whole story against an in-process reference server on loopback with a
//! fresh certificate: enroll → set passcode → login → refresh → list devices → a public-service
//! request submitted offline and approved → the chip of the card read and verified (in-process
//! software CCCD) → QR login to the portal → a selective share with a
//! bank → consent receipts → the activity log verified → logout. Each step is printed with its duration; any failure stops the demo with an error.
//!
//! Nothing personal is printed: the CCCD number and phone appear masked, tokens never.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use citizen_core::clock::{Clock, SystemClock};
use citizen_core::protocol::services::CaseStatusDto;
use citizen_core::{CitizenCore, EnrollmentInput, KeyOptions};
use citizen_server::{MemoryOtpOutbox, ServerConfig};

use crate::{desktop_config, mask, open_core, DEMO_CITIZEN};

/// One chip read of the demo citizen's software CCCD, in process (no reader needed), trusting
/// only the software card's test CSCA.
fn demo_chip_read() -> Result<crate::chip_read::ChipRead, citizen_chip::ChipError> {
    use citizen_chip::kdf::AccessKey;
    use citizen_chip::pa::TrustList;
    use citizen_chip::reader::ReaderConfig;
    let pki = software_cccd::TestPki::default_test();
    let citizen = software_cccd::CITIZENS
        .iter()
        .find(|c| c.id_number == DEMO_CITIZEN.0)
        .ok_or(citizen_chip::ChipError::Protocol("no software card for the demo citizen"))?;
    let mut card = software_cccd::SoftwareCard::new(citizen, &pki, software_cccd::CardOptions::default());
    card.power_on();
    let config = ReaderConfig {
        access_key: AccessKey::can(citizen.can())?,
        max_response_len: 256,
        read_dg2: false,
        trust: TrustList::new(vec![pki.csca])?,
        now: u64::try_from(SystemClock.now()).unwrap_or(0),
        aa_challenge: Some(crate::chip_read::random_challenge()),
    };
    crate::chip_read::read(config, |apdu| {
        let answer = card.process(apdu);
        if answer.is_empty() {
            Err(citizen_chip::ChipError::CardRemoved)
        } else {
            Ok(answer)
        }
    })
}

/// The demo citizen's software CCCD as the shell's [`citizen_core::platform::ApduTransport`]
/// (in process: what a phone's NFC adapter does, without the radio).
struct DemoCard(std::sync::Mutex<software_cccd::SoftwareCard>);

#[async_trait::async_trait]
impl citizen_core::platform::ApduTransport for DemoCard {
    async fn transceive(&self, command: Vec<u8>) -> Result<Vec<u8>, citizen_core::platform::ApduTransportError> {
        let answer = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).process(&command);
        if answer.is_empty() {
            return Err(citizen_core::platform::ApduTransportError::CardRemoved {
                reason: "card left the field".into(),
            });
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

/// The demo citizen's card on the "phone", and its CAN.
fn demo_card() -> Option<(Arc<DemoCard>, &'static str)> {
    let pki = software_cccd::TestPki::default_test();
    let citizen = software_cccd::CITIZENS.iter().find(|c| c.id_number == DEMO_CITIZEN.0)?;
    let mut card = software_cccd::SoftwareCard::new(citizen, &pki, software_cccd::CardOptions::default());
    card.power_on();
    Some((Arc::new(DemoCard(std::sync::Mutex::new(card))), citizen.can()))
}

/// A failed demo step.
#[derive(Debug)]
pub struct DemoError {
    /// Which step.
    pub step: &'static str,
    /// What went wrong (public error codes only).
    pub reason: String,
}

impl std::fmt::Display for DemoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "step '{}' failed: {}", self.step, self.reason)
    }
}

/// The demo passcode (fictitious, not a weak pattern).
pub const DEMO_PASSCODE: &str = "482916";

/// Run the demo. `data_dir` gets `server/` and `core/`. `observe` is called after every step
/// with the step's name and the core (tests use it to collect what must not leak).
pub async fn run(
    data_dir: &Path,
    out: &mut dyn Write,
    observe: &mut dyn FnMut(&str, &CitizenCore),
) -> Result<(), DemoError> {
    let fail = |step: &'static str| move |e: &dyn std::fmt::Display| DemoError { step, reason: e.to_string() };
    macro_rules! step {
        ($name:literal, $body:expr) => {{
            let t = Instant::now();
            let r = $body;
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            match r {
                Ok(v) => {
                    let _ = writeln!(out, "  ✓ {:<26} {:>8.1} ms", $name, ms);
                    v
                }
                Err(e) => {
                    let _ = writeln!(out, "  ✗ {:<26} {:>8.1} ms  {}", $name, ms, e);
                    return Err(fail($name)(&e));
                }
            }
        }};
    }

    let _ = writeln!(out, "citizen-core demo — dữ liệu: {}", data_dir.display());
    let outbox = Arc::new(MemoryOtpOutbox::new());
    // The server's CSCA trust list for level 2 (decision 30): the software card's test CSCA only.
    let csca_dir = data_dir.join("server").join("chip-csca");
    step!("server.chip_trust", std::fs::create_dir_all(&csca_dir));
    step!(
        "server.chip_trust",
        std::fs::write(csca_dir.join("software-cccd-test.der"), software_cccd::TestPki::default_test().csca)
    );
    let server = step!(
        "server.start",
        citizen_server::start(ServerConfig::loopback_dev(
            data_dir.join("server"),
            outbox.clone(),
            Arc::new(SystemClock)
        ))
        .await
    );
    let _ = writeln!(
        out,
        "    máy chủ {} (pin {}, pin dự phòng {})",
        server.base_url, server.spki_pin, server.backup_spki_pin
    );

    let config = desktop_config(
        &server.base_url,
        &data_dir.join("core").to_string_lossy(),
        vec![server.ca_cert_pem.clone()],
        vec![server.spki_pin.clone(), server.backup_spki_pin.clone()],
    );
    let core = step!("core.open", open_core(config));
    observe("core.open", &core);
    // A demo always starts from a clean device.
    step!("core.reset_device", core.account().reset_device().await);

    let (cccd, dob, phone) = DEMO_CITIZEN;
    let _ = writeln!(out, "    công dân (hư cấu): CCCD {}, sinh {}", mask(cccd), &dob[..4]);
    let ticket = step!(
        "enroll.start",
        core.account()
            .start_enrollment(EnrollmentInput { cccd: cccd.into(), date_of_birth: dob.into(), phone: phone.into() })
            .await
    );
    let _ = writeln!(out, "    OTP đã gửi tới {}", ticket.masked_phone);
    observe("enroll.start", &core);
    let otp = step!("enroll.read_otp", outbox.last_otp(&ticket.enrollment_id).ok_or("no OTP in the dev outbox"));
    let outcome = step!(
        "enroll.complete+passcode",
        core.account()
            .complete_enrollment(
                otp,
                DEMO_PASSCODE.into(),
                KeyOptions { require_user_authentication: true, prefer_strongbox: true, attestation_challenge: vec![] },
            )
            .await
    );
    let _ = writeln!(
        out,
        "    thiết bị {} (khoá phần cứng: {})",
        outcome.device_id,
        if outcome.hardware_backed { "có" } else { "không — khoá phần mềm trên máy tính" }
    );
    observe("enroll.complete", &core);
    let session = step!("login", core.account().login(DEMO_PASSCODE.into()).await);
    observe("login", &core);
    let _ = writeln!(
        out,
        "    phiên {} hết hạn tuyệt đối lúc {}",
        mask(&session.session_id),
        crate::unix(session.absolute_expires_at)
    );
    step!("refresh", core.account().refresh_session().await);
    observe("refresh", &core);
    let devices = step!("devices.list", core.account().list_devices().await);
    for d in &devices {
        let _ = writeln!(
            out,
            "    • {} {:?} [{:?}]{}",
            d.label,
            d.platform,
            d.status,
            if d.is_this_device { " (thiết bị này)" } else { "" }
        );
    }
    observe("devices.list", &core);

    // The chip of the card (issue 12): the in-process software CCCD of the same fictitious
    // citizen, read with the CAN and verified (passive, chip and active authentication) by the
    // reader `citizen chip read` runs over PC/SC. Nothing of the record is printed or stored.
    let chip = step!("chip.read (PACE-CAN, software CCCD)", demo_chip_read());
    let chip_number = chip.readout.dg13.as_ref().and_then(|d| d.get(citizen_chip::lds::dg13_field::ID_NUMBER));
    if chip_number != Some(DEMO_CITIZEN.0) {
        return Err(DemoError { step: "chip.read", reason: "the chip holds another citizen's number".into() });
    }
    let dgs: Vec<String> = chip.readout.passive_auth.verified_data_groups.iter().map(|n| format!("DG{n}")).collect();
    let _ = writeln!(
        out,
        "    {} · số định danh {} · PA ✓ ({}) · CA {} · AA {}",
        crate::chip_read::access_name(chip.readout.access),
        mask(DEMO_CITIZEN.0),
        dgs.join(", "),
        if chip.readout.chip_auth == citizen_chip::reader::ChipAuthStatus::Verified { "✓" } else { "–" },
        if chip.readout.active_auth.is_some() { "✓" } else { "–" },
    );
    let _ = writeln!(
        out,
        "    {} APDU, {} B gửi, {} B nhận; thời gian lõi {:.1} ms",
        chip.readout.stats.apdus,
        chip.readout.stats.bytes_sent,
        chip.readout.stats.bytes_received,
        chip.core.as_secs_f64() * 1000.0
    );
    drop(chip);
    observe("chip.read", &core);

    // Level 2 (issue 12): the same card, read again by the core itself through the shell's
    // transport, with active authentication over the server's nonce; the server verifies it
    // against its CSCA list and the register and raises the account to level 2.
    let (card, can) = match demo_card() {
        Some(c) => c,
        None => return Err(DemoError { step: "chip.level2", reason: "no software card for the demo citizen".into() }),
    };
    let before = step!("chip.level (before)", core.chip().identity_level().await);
    let up = step!(
        "chip.level2 (server-verified)",
        core.chip().upgrade_level_with_chip(card, citizen_core::ChipAccessKey::Can { can: can.into() }, None).await
    );
    let _ = writeln!(
        out,
        "    mức định danh / identity level {before} → {} · {} APDU · chứng thư cập nhật / credential refreshed: {}",
        up.level, up.apdus, up.credential_refreshed
    );
    if up.level != 2 {
        return Err(DemoError { step: "chip.level2", reason: format!("level {} after the upgrade", up.level) });
    }
    observe("chip.level2", &core);

    // Public services: the catalogue and the citizen's record, a residence notification filled
    // from the register, submitted while the network is down, delivered when it is back.
    step!("services.catalogue", core.services().refresh_catalogue().await);
    let profile = step!("services.profile", core.services().refresh_profile().await);
    let _ = writeln!(
        out,
        "    hồ sơ công dân: {} trường, lưu mã hoá trên thiết bị",
        [&profile.full_name, &profile.place_of_origin, &profile.permanent_residence.detail].len() + 11
    );
    let draft =
        step!("services.draft (auto-fill)", core.services().create_draft("residence-notification".into()).await);
    let _ = writeln!(
        out,
        "    {} trường lấy từ CSDL dân cư, {} trường bị khoá",
        draft.values.len(),
        draft.locked_fields.len()
    );
    step!(
        "services.fill",
        crate::services::fill_residence_notification(&core, &draft.draft_id, SystemClock.now()).await
    );
    observe("services.fill", &core);
    let addr = server.addr;
    let official_token = server.official_token.clone();
    let t = Instant::now();
    server.shutdown().await;
    let _ = writeln!(out, "  ✓ {:<26} {:>8.1} ms  (mất mạng)", "network.down", t.elapsed().as_secs_f64() * 1000.0);
    let item = step!(
        "services.submit (offline)",
        core.clone().services().submit_draft(draft.draft_id.clone(), DEMO_PASSCODE.into()).await
    );
    let _ = writeln!(out, "    biên nhận tạm: {:?}, mã băm {}…", item.state, &item.payload_sha256[..16]);
    let report = step!("services.sync (offline)", core.services().sync_outbox().await);
    let _ = writeln!(
        out,
        "    còn chờ gửi: {} ({})",
        report.remaining,
        report.last_error.map(|e| e.message_vi).unwrap_or_default()
    );
    let mut cfg = ServerConfig::loopback_dev(data_dir.join("server"), outbox.clone(), Arc::new(SystemClock));
    cfg.listen = addr;
    let server = step!("network.up (server restart)", citizen_server::start(cfg).await);
    let report = step!("services.sync (online)", core.services().sync_outbox().await);
    let delivered = core
        .services()
        .list_outbox()
        .await
        .ok()
        .and_then(|o| o.into_iter().find(|i| i.submission_id == item.submission_id));
    let case_number = step!(
        "services.receipt",
        delivered
            .filter(|i| report.delivered == 1 && i.receipt.is_some())
            .and_then(|i| i.case_number)
            .ok_or("the submission was not delivered")
    );
    let _ = writeln!(out, "    mã hồ sơ {case_number}; biên nhận có chữ ký máy chủ đã được kiểm tra");
    for to in [CaseStatusDto::Processing, CaseStatusDto::Approved] {
        step!(
            "official.transition",
            crate::services::official_transition(
                &server.base_url,
                &server.ca_cert_pem,
                &official_token,
                &case_number,
                to
            )
            .await
        );
    }
    step!("services.sync_cases", core.services().sync_cases().await);
    let case = step!(
        "services.case_status",
        core.services()
            .list_cases()
            .await
            .map_err(|e| e.to_string())
            .and_then(|cs| cs.into_iter().find(|c| c.case_number == case_number).ok_or_else(|| "case missing".into()))
    );
    let _ = writeln!(out, "    trạng thái hồ sơ {}: {:?}", case.case_number, case.status);
    if case.status != citizen_core::CaseStatus::Approved {
        return Err(DemoError { step: "services.case_status", reason: format!("{:?}", case.status) });
    }
    observe("services.case", &core);

    // QR login to the public-service portal: the portal shows an animated code, the citizen
    // scans it, picks the verification code the portal shows, and approves with the passcode.
    let (base, ca) = (server.base_url.clone(), server.ca_cert_pem.clone());
    let portal = step!("portal.open (QR)", crate::relying_party::portal_open(&base, &ca).await);
    let view = step!("portal.show_frame", crate::relying_party::portal_view(&base, &ca, &portal).await);
    let frame = step!("portal.frame", view.frame.ok_or("the portal shows no QR code"));
    let _ = writeln!(out, "    mã QR ({} ký tự, đổi mỗi 2 giây): {}…", frame.len(), &frame[..24.min(frame.len())]);
    let request = step!("qr.scan", core.consent().scan_login_code(frame).await);
    let _ = writeln!(
        out,
        "    {} ({}) xin: {}",
        request.relying_party_name_vi,
        request.origin,
        request.claims.iter().map(|c| c.label_vi.as_str()).collect::<Vec<_>>().join(", ")
    );
    let shown = step!("portal.shows_code", crate::relying_party::portal_view(&base, &ca, &portal).await);
    let code = step!(
        "qr.pick_code",
        shown.verification_code.filter(|c| request.code_choices.contains(c)).ok_or("the portal's code is not offered")
    );
    let _ = writeln!(out, "    mã xác nhận trên cổng: {code}; điện thoại đưa ra {:?}", request.code_choices);
    let approval =
        step!("qr.approve", core.consent().approve_login(request.session_id.clone(), code, DEMO_PASSCODE.into()).await);
    observe("qr.approve", &core);
    let logged_in = step!("portal.poll", crate::relying_party::portal_view(&base, &ca, &portal).await);
    let name = step!(
        "portal.logged_in",
        logged_in.citizen_name.filter(|_| logged_in.state == "approved").ok_or("the portal did not log the citizen in")
    );
    let _ = writeln!(
        out,
        "    cổng đã kiểm tra mã thông báo định danh và đăng nhập: {} (biên nhận {})",
        mask(&name),
        approval.receipt.receipt_id
    );

    // eKYC: the bank asks for required and optional data; the citizen adds only the phone.
    let jws = step!("bank.request", crate::relying_party::bank_request(&base, &ca).await);
    let share = step!("share.open", core.consent().open_share_request(jws).await);
    let _ = writeln!(
        out,
        "    {} — mục đích: {} — lưu {} ngày\n    bắt buộc: {}\n    tuỳ chọn: {}",
        share.relying_party_name_vi,
        share.purpose_vi,
        share.retention_days,
        share.required.iter().map(|c| c.label_vi.as_str()).collect::<Vec<_>>().join(", "),
        share.optional.iter().map(|c| c.label_vi.as_str()).collect::<Vec<_>>().join(", ")
    );
    let outcome = step!(
        "share.selective (SD-JWT)",
        core.consent().share_data(share.request_id.clone(), vec!["phone".into()], DEMO_PASSCODE.into()).await
    );
    observe("share", &core);
    if !outcome.relying_party_accepted {
        return Err(DemoError { step: "share.selective (SD-JWT)", reason: "the bank refused".into() });
    }
    let _ = writeln!(
        out,
        "    đã chia sẻ {} trường, ngân hàng kiểm tra được; không chia sẻ: {}",
        outcome.disclosed_claims.len(),
        share
            .optional
            .iter()
            .filter(|c| !outcome.disclosed_claims.contains(&c.name))
            .map(|c| c.label_vi.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let receipts = step!("receipts.list", core.consent().list_receipts().await);
    for r in &receipts {
        let _ = writeln!(
            out,
            "    • #{} {} — {} — {} — {} trường — lưu {} ngày{}",
            r.sequence,
            match r.kind {
                citizen_core::ConsentKind::QrLogin => "Đăng nhập bằng mã QR",
                citizen_core::ConsentKind::DataShare => "Chia sẻ dữ liệu",
                citizen_core::ConsentKind::InPersonPresentation => "Trình giấy tờ trực tiếp",
                citizen_core::ConsentKind::Unknown => "Biên nhận không đọc được",
            },
            r.relying_party_name,
            r.purpose,
            r.claims.len(),
            r.retention_days,
            match r.delivery {
                citizen_core::ShareDelivery::Delivered => " — đã gửi đến đơn vị nhận",
                citizen_core::ShareDelivery::Refused => " — đơn vị nhận từ chối",
                citizen_core::ShareDelivery::NotDelivered => " — chưa gửi được",
                citizen_core::ShareDelivery::Unknown => " — không rõ đã đến đơn vị nhận chưa",
                citizen_core::ShareDelivery::NotApplicable => "",
            }
        );
    }
    let export = step!("receipts.export", core.consent().export_receipts().await);
    let verified = step!("receipts.verify", citizen_core::verify_receipt_export(export, None));
    let _ = writeln!(out, "    {verified} biên nhận đồng ý: chữ ký thiết bị và chữ ký đối ứng của máy chủ hợp lệ");
    if verified < 2 {
        return Err(DemoError { step: "receipts.verify", reason: format!("{verified} receipts") });
    }

    step!("log.anchor", core.activity().anchor().await);
    let log = step!("log.verify", core.activity().verify().await);
    let _ = writeln!(
        out,
        "    nhật ký hoạt động: {} mục, {} mốc máy chủ ký xác nhận, toàn vẹn: {}",
        log.entries,
        log.anchors,
        if log.intact { "có" } else { "KHÔNG" }
    );
    if !log.intact || log.anchors == 0 {
        return Err(DemoError { step: "log.verify", reason: format!("{:?}", log.problems) });
    }
    // Who read the citizen's record (issue 16): the back office checked the form against the
    // register, the bank received data through the share, the portal through the QR login.
    let access = step!("access.log", core.account().access_log(citizen_core::AccessLogFilter::default()).await);
    for e in &access.entries {
        let _ = writeln!(
            out,
            "    • #{} {} — {} — {}",
            e.seq,
            match e.accessor {
                citizen_core::AccessorKind::Official => "Cán bộ",
                citizen_core::AccessorKind::RelyingParty => "Đơn vị nhận dữ liệu",
                citizen_core::AccessorKind::BackOffice => "Hệ thống dịch vụ công",
            },
            e.agency,
            match e.purpose {
                citizen_core::AccessPurpose::FormPrefill => "đối chiếu biểu mẫu với CSDL dân cư",
                citizen_core::AccessPurpose::CaseDecision => "giải quyết hồ sơ",
                citizen_core::AccessPurpose::DataShare => "chia sẻ dữ liệu (có biên nhận)",
                _ => "tra cứu theo nghiệp vụ",
            }
        );
    }
    let _ = writeln!(
        out,
        "    nhật ký truy cập (máy chủ ký, chuỗi băm): {} lượt đọc hồ sơ, toàn vẹn: {}",
        access.total,
        if access.intact { "có" } else { "KHÔNG" }
    );
    if !access.intact || access.total == 0 {
        return Err(DemoError { step: "access.log", reason: format!("{:?}", access.problems) });
    }
    // The documents wallet and the verifier mode (issue 13): the documents are issued, a traffic
    // police verifier caches the trust list and the status list, then — the network down — the
    // citizen presents the driving licence in person and the verifier checks it offline.
    let docs = step!("documents.refresh", core.documents().refresh().await);
    let _ = writeln!(out, "    {} giấy tờ đã kiểm tra và lưu (mã hoá)", docs.len());
    let mut vcfg = citizen_core::default_verifier_config(
        server.base_url.clone(),
        data_dir.join("verifier").to_string_lossy().into_owned(),
    );
    vcfg.trust_anchors_pem = vec![server.ca_cert_pem.clone()];
    vcfg.spki_pins = vec![server.spki_pin.clone(), server.backup_spki_pin.clone()];
    let verifier = step!("verifier.open", citizen_core::Verifier::open(vcfg).await);
    step!("verifier.refresh_trust", verifier.refresh_trust().await);
    step!("logout", core.account().logout().await);
    observe("logout", &core);
    let addr = server.addr;
    let t = Instant::now();
    server.shutdown().await;
    let _ = writeln!(out, "  ✓ {:<26} {:>8.1} ms", "server.stop", t.elapsed().as_secs_f64() * 1000.0);
    let _ = writeln!(out, "    (mất mạng: trình giấy tờ trực tiếp, kiểm tra ngoại tuyến)");
    let (holder_end, verifier_end) = citizen_core::platform::LoopbackMdocTransport::pair(182);
    let presentation = step!("present.engage (offline)", core.documents().start_presentation(holder_end).await);
    let reader = step!(
        "verify.start (driving licence)",
        verifier
            .start_session(
                presentation.engagement_qr(),
                citizen_core::VerifierRequest::DrivingLicenceCheck,
                verifier_end
            )
            .await
    );
    let request = step!("present.request", presentation.await_request().await);
    let _ = writeln!(
        out,
        "    bên kiểm tra hỏi {} thông tin; công dân chọn 5 (không ảnh, không số GPLX)",
        request.elements.len()
    );
    let chosen = ["family_name", "given_name", "birth_date", "driving_privileges", "expiry_date"];
    let selection = request
        .elements
        .iter()
        .filter(|e| chosen.contains(&e.identifier.as_str()))
        .map(|e| citizen_core::ElementSelection {
            doc_type: e.doc_type.clone(),
            namespace: e.namespace.clone(),
            identifier: e.identifier.clone(),
        })
        .collect();
    let presented = step!("present.approve", presentation.approve(selection, DEMO_PASSCODE.into()).await);
    let _ = writeln!(out, "    biên nhận trình giấy tờ {}", presented.receipt_id);
    let verdict = step!("verify.verdict (offline)", reader.await_response().await);
    for line in crate::verdict::lines(&verdict, false) {
        let _ = writeln!(out, "    {line}");
    }
    if verdict.overall != citizen_core::VerdictOverall::Valid {
        return Err(DemoError { step: "verify.verdict", reason: crate::verdict::overall_line(&verdict) });
    }

    // The officials' dashboard over a synthetic year (issue 16, items 3-4): citizens enrolled
    // and cases submitted through the real path, on the demo's server data.
    let year = citizen_core::cccd::Date::from_unix_vn(SystemClock.now()).year;
    let opts = citizen_server::seed_cases::SeedOptions { year, count: 400, citizens: 170, seed: 2026, until: None };
    let seeded = step!("dashboard.seed_year", citizen_server::seed_cases::run(data_dir.join("server"), opts).await);
    let db = step!("dashboard.figures", citizen_server::db::open(&data_dir.join("server").join("citizen-server.db")));
    let today = citizen_core::cccd::Date::from_unix_vn(SystemClock.now());
    let q = citizen_server::dashboard::Query::parse(&Default::default(), today)
        .ok_or_else(|| DemoError { step: "dashboard.figures", reason: "query".into() })?;
    let d = step!("dashboard.figures", citizen_server::dashboard::compute(&db, &q, SystemClock.now()));
    let t = &d.total.figures;
    let n = |v: Option<u64>| v.map_or_else(|| "—".to_string(), |v| v.to_string());
    let _ = writeln!(
        out,
        "    năm {year}: {} công dân, {} hồ sơ ({} nộp tại quầy); tiếp nhận {}, đã duyệt {}, từ chối {}, quá hạn {}, trung vị {} ngày",
        seeded.citizens,
        seeded.cases,
        seeded.counter,
        n(t.received),
        n(t.approved),
        n(t.rejected),
        n(t.overdue),
        t.median_days.map_or_else(|| "—".to_string(), |v| format!("{v:.2}"))
    );
    let hidden = |r: citizen_server::dashboard::suppress::Reason| {
        d.cells.iter().chain(&d.by_province).chain(&d.by_procedure).filter(|c| c.suppressed_reason == Some(r)).count()
    };
    let _ = writeln!(
        out,
        "    {} ô hiển thị; ẩn {} ô dưới {} công dân và {} ô bổ sung (để không suy ra được ô nhỏ từ tổng)",
        d.cells.iter().chain(&d.by_province).chain(&d.by_procedure).filter(|c| !c.suppressed).count(),
        hidden(citizen_server::dashboard::suppress::Reason::Small),
        d.threshold,
        hidden(citizen_server::dashboard::suppress::Reason::Complementary),
    );
    let _ = writeln!(
        out,
        "    xem bảng điều hành: citizen-server --data-dir {0} add-official --id LD-0001 --agency \"Văn phòng\" --roles dashboard; \
         citizen-server --data-dir {0}; mở https://127.0.0.1:8443/official/dashboard",
        data_dir.join("server").display()
    );

    // The citizen corrects their own record (issue 16 item 1, decision 50): a misspelt place of
    // origin, proposed from the app with evidence, decided by a named official with the
    // `register` role; the profile refreshes, the old identity credential is revoked and a new
    // one carries the corrected value; the access log shows who read the record.
    let mut cfg = ServerConfig::loopback_dev(data_dir.join("server"), outbox.clone(), Arc::new(SystemClock));
    cfg.listen = addr;
    let server = step!("network.up (server restart)", citizen_server::start(cfg).await);
    step!("login", core.account().login(DEMO_PASSCODE.into()).await);
    let before = step!("correction.profile", core.services().refresh_profile().await);
    let old_pid = step!("correction.credential", core.consent().credential_info(false).await)
        .ok_or_else(|| DemoError { step: "correction.credential", reason: "no credential held".into() })?;
    let corrected = "Xã Thư Lâm, Thành phố Hà Nội";
    let item =
        step!("correction.propose", crate::services::propose_origin_correction(&core, corrected, DEMO_PASSCODE).await);
    let _ =
        writeln!(out, "    đề nghị sửa quê quán: «{}» → «{corrected}» (kèm giấy khai sinh)", before.place_of_origin);
    step!("correction.sync", core.services().sync_outbox().await);
    let case_number = step!(
        "correction.receipt",
        core.services().list_outbox().await.map_err(|e| e.to_string()).and_then(|o| {
            o.into_iter()
                .find(|i| i.submission_id == item.submission_id)
                .and_then(|i| i.case_number)
                .ok_or_else(|| "the correction was not delivered".to_string())
        })
    );
    let registrar = step!(
        "official.add (register)",
        server
            .add_official("CB-DEMO-01", "Công an xã Thư Lâm (giả định)", &[citizen_server::officials::Role::Register])
            .ok_or("could not add the official")
    );
    let body = serde_json::json!({ "case_number": case_number });
    let seen = step!(
        "official.view",
        crate::services::official_correction(
            &server.base_url,
            &server.ca_cert_pem,
            &registrar,
            citizen_core::protocol::corrections::PATH_OFFICIAL_CORRECTION_VIEW,
            body
        )
        .await
    );
    let decided = step!(
        "official.approve",
        crate::services::official_correction(
            &server.base_url,
            &server.ca_cert_pem,
            &registrar,
            citizen_core::protocol::corrections::PATH_OFFICIAL_CORRECTION_DECIDE,
            serde_json::json!({ "case_number": case_number, "decision": "approve" })
        )
        .await
    );
    let _ = writeln!(
        out,
        "    cán bộ CB-DEMO-01 xem hồ sơ {case_number} ({} bằng chứng) và phê duyệt: {:?}",
        seen.evidence.len(),
        decided.state
    );
    step!("services.sync_cases", core.services().sync_cases().await);
    let after = step!("correction.profile", core.services().get_profile().await);
    let revoked = step!("correction.old_credential", core.consent().credential_info(true).await)
        .and_then(|c| c.revoked)
        .unwrap_or(false);
    step!("credential.fetch", core.consent().fetch_credential().await);
    let new_pid = step!("credential.info", core.consent().credential_info(true).await)
        .ok_or_else(|| DemoError { step: "credential.info", reason: "no credential held".into() })?;
    let _ = writeln!(
        out,
        "    hồ sơ cá nhân: quê quán «{}»; thẻ định danh cũ (#{}) bị thu hồi: {}; thẻ mới (#{}): «{}»",
        after.place_of_origin,
        old_pid.status_index.unwrap_or_default(),
        if revoked { "có" } else { "KHÔNG" },
        new_pid.status_index.unwrap_or_default(),
        new_pid.claims.get("place_of_origin").cloned().unwrap_or_default()
    );
    if after.place_of_origin != corrected
        || !revoked
        || new_pid.claims.get("place_of_origin").map(String::as_str) != Some(corrected)
    {
        return Err(DemoError { step: "correction.outcome", reason: "profile or credential unchanged".into() });
    }
    let access = step!("access.log", core.account().access_log(citizen_core::AccessLogFilter::default()).await);
    for e in access.entries.iter().filter(|e| e.accessor == citizen_core::AccessorKind::Official) {
        let _ = writeln!(
            out,
            "    • #{} Cán bộ {} — {} — {:?} — hồ sơ {}",
            e.seq,
            e.official.as_deref().unwrap_or("?"),
            e.agency,
            e.purpose,
            e.reference.as_deref().unwrap_or("—")
        );
    }
    let _ = writeln!(
        out,
        "    nhật ký truy cập: {} lượt đọc hồ sơ, toàn vẹn: {}",
        access.total,
        if access.intact { "có" } else { "KHÔNG" }
    );
    if !access.intact {
        return Err(DemoError { step: "access.log", reason: format!("{:?}", access.problems) });
    }
    step!("logout", core.account().logout().await);
    server.shutdown().await;
    let _ = writeln!(out, "Hoàn tất: mọi bước thành công.");
    Ok(())
}
