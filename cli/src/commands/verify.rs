//! `citizen verify`: the verifier mode (issue 13 item 3) — a police, hospital or bank device
//! with no account. `refresh` caches the signed trust list and status list (online); `status`
//! says how old they are; `--connect ADDR --qr TEXT` checks a presentation offline over TCP
//! (`citizen documents present --listen` on the citizen's side); `enrol-reader --as ROLE`
//! certifies this verifier's reader key so its requests are signed (decision 45). Exit 0 valid, 5 invalid, 10
//! partly unchecked (never valid).

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use citizen_cli::mdoc_tcp::TcpMdocTransport;
use citizen_cli::verdict;
use citizen_core::{TrustStatus, VerdictOverall, Verifier, VerifierConfig, VerifierRequest, VerifierRole};

use super::exit;

/// Exit status of an invalid verdict.
pub(crate) const INVALID: u8 = 5;
/// Exit status of a partly unchecked verdict.
pub(crate) const PARTLY_UNCHECKED: u8 = 10;

/// The verifier's configuration: its cache under `<data-dir>/verifier`.
pub(crate) fn config(server: &str, data_dir: &Path, pems: Vec<String>, pins: Vec<String>) -> VerifierConfig {
    let mut c = citizen_core::default_verifier_config(
        server.to_string(),
        data_dir.join("verifier").to_string_lossy().into_owned(),
    );
    c.trust_anchors_pem = pems;
    c.spki_pins = pins;
    c
}

fn print_status(t: &TrustStatus) {
    let at = |x: Option<std::time::SystemTime>| x.map_or("-".to_string(), |t| citizen_cli::unix(t).to_string());
    println!(
        "trust_list_fetched_at={} next_update={} status_list_fetched_at={} status_list_expires_at={} age={}s",
        at(t.trust_list_fetched_at),
        at(t.trust_list_next_update),
        at(t.status_list_fetched_at),
        at(t.status_list_expires_at),
        t.age.as_secs()
    );
    println!(
        "Danh sách tin cậy / Trust list: {}; danh sách thu hồi / revocation list: {}",
        if t.trust_list_stale { "cũ hoặc chưa có / stale or missing" } else { "còn hạn / current" },
        if t.status_list_stale { "cũ hoặc chưa có / stale or missing" } else { "còn hạn / current" }
    );
}

/// The preset named on the command line.
pub(crate) fn preset(name: &str) -> Option<VerifierRequest> {
    match name {
        "driving-licence" => Some(VerifierRequest::DrivingLicenceCheck),
        "age-over-18" => Some(VerifierRequest::AgeOver18),
        _ => None,
    }
}

/// `citizen verify refresh`.
pub(crate) async fn refresh(v: &Arc<Verifier>) -> ExitCode {
    match v.refresh_trust().await {
        Ok(t) => {
            println!("trust list and status list verified and cached");
            print_status(&t);
            ExitCode::SUCCESS
        }
        Err(e) => exit::fail(&e),
    }
}

/// The role named on the command line.
pub(crate) fn role(name: &str) -> Option<VerifierRole> {
    match name {
        "police" | "traffic-police" => Some(VerifierRole::TrafficPolice),
        "hospital" => Some(VerifierRole::Hospital),
        "bank" | "bank-counter" => Some(VerifierRole::BankCounter),
        _ => None,
    }
}

/// `citizen verify enrol-reader --as ROLE --official-token-file FILE`.
pub(crate) async fn enrol_reader(v: &Arc<Verifier>, role_name: &str, token_file: &Path) -> ExitCode {
    let Some(role) = role(role_name) else {
        return exit::other(format!("--as: police, hospital or bank, not {role_name}"));
    };
    let token = match std::fs::read_to_string(token_file) {
        Ok(t) => zeroize::Zeroizing::new(t.trim().to_string()),
        Err(e) => return exit::other(format!("cannot read {}: {e}", token_file.display())),
    };
    match v.enrol_reader(token.to_string(), role).await {
        Ok(r) => {
            println!("Đã đăng ký thiết bị kiểm tra / reader enrolled: {} / {}", r.name_vi, r.name_en);
            println!("subject={} valid_until={}", r.subject, citizen_cli::unix(r.not_after));
            ExitCode::SUCCESS
        }
        Err(e) => exit::fail(&e),
    }
}

/// `citizen verify status`.
pub(crate) async fn status(v: &Arc<Verifier>) -> ExitCode {
    match v.trust_status().await {
        Ok(t) => {
            print_status(&t);
            match v.enrolled_reader().await {
                Ok(Some(r)) => println!(
                    "Thiết bị kiểm tra / reader: {} / {} (valid until {})",
                    r.name_vi,
                    r.name_en,
                    citizen_cli::unix(r.not_after)
                ),
                _ => println!("Thiết bị kiểm tra / reader: ẩn danh / anonymous"),
            }
            ExitCode::SUCCESS
        }
        Err(e) => exit::fail(&e),
    }
}

/// `citizen verify --connect ADDR --qr TEXT --preset NAME`.
pub(crate) async fn session(v: &Arc<Verifier>, connect: &str, qr: &str, preset_name: &str) -> ExitCode {
    let Some(request) = preset(preset_name) else {
        return exit::other(format!("--preset: driving-licence or age-over-18, not {preset_name}"));
    };
    let transport = match TcpMdocTransport::connect(connect).await {
        Ok(t) => t,
        Err(e) => return exit::other(format!("cannot connect to {connect}: {e}")),
    };
    let session = match v.start_session(qr.trim().to_string(), request, transport).await {
        Ok(s) => s,
        Err(e) => return exit::fail(&e),
    };
    match session.await_response().await {
        Ok(verdict) => {
            verdict::lines(&verdict, true).iter().for_each(|l| println!("{l}"));
            match verdict.overall {
                VerdictOverall::Valid => ExitCode::SUCCESS,
                VerdictOverall::Invalid { .. } => ExitCode::from(INVALID),
                VerdictOverall::PartlyUnchecked => ExitCode::from(PARTLY_UNCHECKED),
            }
        }
        Err(e) => exit::fail(&e),
    }
}
