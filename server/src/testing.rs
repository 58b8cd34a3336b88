//! Helpers for tests, benchmarks and demos that drive a core against this server: enrolling a
//! fictitious citizen with the OTP from a [`MemoryOtpOutbox`] and logging in. Kept here (the
//! server is every such harness's dependency) so the flow is written once.

use citizen_core::{CitizenCore, EnrollmentInput, EnrollmentOutcome, KeyOptions};

use crate::MemoryOtpOutbox;

/// The demo citizen of the register (fictitious): CCCD number, date of birth, phone.
pub const CITIZEN_1: (&str, &str, &str) = ("001090000001", "1990-01-15", "+84900000001");

/// Key options without user verification (software and memory key stores ignore them anyway).
pub fn plain_key_options() -> KeyOptions {
    KeyOptions { require_user_authentication: false, prefer_strongbox: false, attestation_challenge: vec![] }
}

/// Enroll `who` on `core`, reading the OTP from `otp`, with `passcode`.
pub async fn enroll(
    core: &CitizenCore,
    otp: &MemoryOtpOutbox,
    who: (&str, &str, &str),
    passcode: &str,
) -> EnrollmentOutcome {
    let ticket = core
        .account()
        .start_enrollment(EnrollmentInput { cccd: who.0.into(), date_of_birth: who.1.into(), phone: who.2.into() })
        .await
        .expect("enrollment starts");
    let code = otp.last_otp(&ticket.enrollment_id).expect("an OTP was sent");
    core.account().complete_enrollment(code, passcode.into(), plain_key_options()).await.expect("enrollment completes")
}

/// Enroll and log in.
pub async fn enroll_and_login(
    core: &CitizenCore,
    otp: &MemoryOtpOutbox,
    who: (&str, &str, &str),
    passcode: &str,
) -> EnrollmentOutcome {
    let outcome = enroll(core, otp, who, passcode).await;
    core.account().login(passcode.into()).await.expect("login");
    outcome
}
