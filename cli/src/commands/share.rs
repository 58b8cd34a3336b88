//! `citizen share REQUEST [--with …]`: share identity data with a relying party (eKYC).

use std::process::ExitCode;

use citizen_core::CitizenCore;

use super::receipts::print_receipt;
use super::{exit, finish, passcode};

/// Open the signed request, show who asks, why and what, then share the required claims plus
/// the optional ones in `with`.
pub(crate) async fn run(core: &CitizenCore, request: String, with: Vec<String>) -> ExitCode {
    let info = match core.consent().open_share_request(request).await {
        Ok(i) => i,
        Err(e) => return exit::fail(&e),
    };
    println!("request_id={}", info.request_id);
    println!("relying_party={} {} / {}", info.relying_party_id, info.relying_party_name_vi, info.relying_party_name_en);
    println!("purpose={} — {} / {}", info.purpose, info.purpose_vi, info.purpose_en);
    println!("retention_days={} expires_at={}", info.retention_days, citizen_cli::unix(info.expires_at));
    for c in &info.required {
        println!("required {} — {} / {}", c.name, c.label_vi, c.label_en);
    }
    for c in &info.optional {
        let chosen = if with.contains(&c.name) { " [chọn / chosen]" } else { "" };
        println!("optional {} — {} / {}{chosen}", c.name, c.label_vi, c.label_en);
    }
    let pass = passcode();
    finish(core.consent().share_data(info.request_id, with, pass.to_string()).await, |o| {
        println!("shared={} accepted={}", o.disclosed_claims.join(","), o.relying_party_accepted);
        print_receipt(&o.receipt);
    })
}
