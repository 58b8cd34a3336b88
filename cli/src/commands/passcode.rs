//! `citizen passcode verify | status | change | reset-start | reset-complete`.

use std::process::ExitCode;

use citizen_core::CitizenCore;

use super::{finish, passcode, secret, NEW_PASSCODE_VAR, PASSCODE_VAR};
use crate::PasscodeOp;

/// Run a passcode operation.
pub(crate) async fn run(core: &CitizenCore, op: PasscodeOp) -> ExitCode {
    match op {
        PasscodeOp::Verify => {
            let pass = passcode();
            finish(core.account().verify_passcode(pass.to_string()).await, |()| println!("passcode_ok"))
        }
        PasscodeOp::Status => finish(core.account().passcode_status().await, |s| {
            println!(
                "failed_attempts={} attempts_before_lockout={} attempts_before_wipe={} locked_until={}",
                s.failed_attempts,
                s.attempts_before_lockout,
                s.attempts_before_wipe,
                s.locked_until.map(|v| citizen_cli::unix(v).to_string()).unwrap_or_else(|| "-".into())
            )
        }),
        PasscodeOp::Change => {
            let old = secret(PASSCODE_VAR, "Mã bảo vệ hiện tại / current passcode");
            let new = secret(NEW_PASSCODE_VAR, "Mã bảo vệ mới / new passcode");
            finish(core.account().change_passcode(old.to_string(), new.to_string()).await, |()| {
                println!("passcode_changed")
            })
        }
        PasscodeOp::ResetStart => finish(core.account().start_passcode_reset().await, |t| {
            println!("reset_id={} otp_sent_to={}", t.reset_id, t.masked_phone)
        }),
        PasscodeOp::ResetComplete { otp } => {
            let new = secret(NEW_PASSCODE_VAR, "Mã bảo vệ mới / new passcode");
            finish(core.account().complete_passcode_reset(otp, new.to_string()).await, |()| println!("passcode_reset"))
        }
    }
}
