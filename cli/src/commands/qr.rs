//! `citizen qr scan | approve | deny`: log in to a web portal by its QR code.

use std::process::ExitCode;

use citizen_core::CitizenCore;

use super::receipts::print_receipt;
use super::{finish, passcode};
use crate::QrOp;

/// Run a QR login operation.
pub(crate) async fn run(core: &CitizenCore, op: QrOp) -> ExitCode {
    match op {
        QrOp::Scan { frame } => {
            let r = if frame.trim_start().starts_with("citizenid:") {
                core.consent().open_login_link(frame).await
            } else {
                core.consent().scan_login_code(frame).await
            };
            finish(r, |i| {
                println!("session_id={}", i.session_id);
                println!(
                    "relying_party={} {} / {}",
                    i.relying_party_id, i.relying_party_name_vi, i.relying_party_name_en
                );
                println!("origin={}", i.origin);
                for c in &i.claims {
                    println!("claim {} — {} / {}", c.name, c.label_vi, c.label_en);
                }
                println!("code_choices={}", i.code_choices.join(" "));
                println!("expires_at={} same_device={}", citizen_cli::unix(i.expires_at), i.same_device);
                println!("Chọn mã đang hiển thị trên trang web / pick the code the website shows: citizen qr approve {} --code NN", i.session_id);
            })
        }
        QrOp::Approve { session_id, code } => {
            let pass = passcode();
            finish(core.consent().approve_login(session_id, code, pass.to_string()).await, |a| {
                println!("approved");
                print_receipt(&a.receipt);
                if let Some(u) = a.redirect_url {
                    println!("redirect_url={u}");
                }
            })
        }
        QrOp::Deny { session_id } => finish(core.consent().deny_login(session_id).await, |()| println!("denied")),
    }
}
