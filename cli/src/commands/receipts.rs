//! `citizen receipts [list] | export | verify`: consent receipts of QR logins and data shares.

use std::process::ExitCode;

use citizen_core::{CitizenCore, ReceiptInfo};

use super::{exit, finish, read, write_out};
use crate::ReceiptsOp;

/// Exit status of an export that does not verify.
const NOT_VALID: u8 = 5;

/// Run a receipts operation.
pub(crate) async fn run(core: &CitizenCore, op: ReceiptsOp) -> ExitCode {
    match op {
        ReceiptsOp::List => finish(core.consent().list_receipts().await, |rs| {
            for r in &rs {
                print_receipt(r);
            }
        }),
        ReceiptsOp::Export { out } => match core.consent().export_receipts().await {
            Ok(json) => write_out(out.as_deref(), &json),
            Err(e) => exit::fail(&e),
        },
        ReceiptsOp::Verify { file, server_key } => {
            let json = match read(&file) {
                Ok(j) => j,
                Err(c) => return c,
            };
            let key = match server_key.as_ref().map(read).transpose() {
                Ok(k) => k,
                Err(c) => return c,
            };
            match citizen_core::verify_receipt_export(json, key) {
                Ok(n) => super::done(format!("receipts={n} valid=true")),
                Err(e) => {
                    exit::print(&e);
                    println!("valid=false");
                    ExitCode::from(NOT_VALID)
                }
            }
        }
    }
}

/// One receipt on one line (or what is damaged about it).
pub(crate) fn print_receipt(r: &ReceiptInfo) {
    if let Some(d) = &r.damage {
        println!(
            "#{} {} {} {:?} DAMAGED {} — {}",
            r.sequence,
            citizen_cli::unix(r.issued_at),
            r.receipt_id,
            r.kind,
            d.code,
            d.message_en
        );
        return;
    }
    println!(
        "#{} {} {} {:?} rp={} \"{}\" origin={} purpose={} claims={} retention_days={} delivery={:?}",
        r.sequence,
        citizen_cli::unix(r.issued_at),
        r.receipt_id,
        r.kind,
        r.relying_party_id,
        r.relying_party_name,
        r.origin,
        r.purpose,
        r.claims.join(","),
        r.retention_days,
        r.delivery
    );
}
