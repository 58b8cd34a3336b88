//! `citizen enroll start | complete`: enroll this device (level-1 account).

use std::process::ExitCode;

use citizen_core::{CitizenCore, EnrollmentInput, KeyOptions};

use super::{finish, secret, NEW_PASSCODE_VAR};

/// `enroll start`: validate the input and ask the register for an OTP.
pub(crate) async fn start(core: &CitizenCore, input: EnrollmentInput) -> ExitCode {
    finish(core.account().start_enrollment(input).await, |t| {
        println!(
            "enrollment_id={} otp_sent_to={} expires_at={}",
            t.enrollment_id,
            t.masked_phone,
            citizen_cli::unix(t.otp_expires_at)
        );
        if t.has_active_device {
            println!("note: the account has an active device; it will be replaced unless it approves the transfer");
        }
    })
}

/// `enroll complete`: finish with the OTP and set the passcode (`CITIZEN_NEW_PASSCODE` or stdin).
pub(crate) async fn complete(core: &CitizenCore, otp: String) -> ExitCode {
    let pass = secret(NEW_PASSCODE_VAR, "Mã bảo vệ mới (6 chữ số) / new passcode");
    let opts = KeyOptions { require_user_authentication: true, prefer_strongbox: true, attestation_challenge: vec![] };
    finish(core.account().complete_enrollment(otp, pass.to_string(), opts).await, |o| {
        println!("device_id={} hardware_backed={}", o.device_id, o.hardware_backed);
        if let Some(old) = o.replaced_device_id {
            println!("deactivated_device={old} transfer_approved={}", o.transfer_approved);
        }
    })
}
