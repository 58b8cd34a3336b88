//! `citizen status | login | refresh | logout | reset-device`: this device's account and session.

use std::process::ExitCode;

use citizen_core::{CitizenCore, EnrollmentState};

use super::{finish, passcode};

/// `status`: enrollment state, device, key kind, session.
pub(crate) async fn status(core: &CitizenCore) -> ExitCode {
    finish(core.status().await, |s| {
        let state = match &s.enrollment {
            EnrollmentState::NotEnrolled => "not_enrolled".to_string(),
            EnrollmentState::AwaitingOtp => "awaiting_otp".to_string(),
            EnrollmentState::Enrolled => "enrolled".to_string(),
            EnrollmentState::Deactivated { status } => format!("deactivated:{status:?}").to_lowercase(),
        };
        println!(
            "enrollment={state} device={} hardware_backed={} logged_in={}",
            s.device_id.unwrap_or_default(),
            s.hardware_backed,
            s.logged_in
        );
    })
}

/// `login`: passcode + device-key signature.
pub(crate) async fn login(core: &CitizenCore) -> ExitCode {
    let pass = passcode();
    finish(core.account().login(pass.to_string()).await, |s| {
        println!("logged_in session_expires_at={}", citizen_cli::unix(s.absolute_expires_at))
    })
}

/// `refresh`: rotate the refresh token.
pub(crate) async fn refresh(core: &CitizenCore) -> ExitCode {
    finish(core.account().refresh_session().await, |s| {
        println!("refreshed access_expires_at={}", citizen_cli::unix(s.access_expires_at))
    })
}

/// `logout`: end the session.
pub(crate) async fn logout(core: &CitizenCore) -> ExitCode {
    finish(core.account().logout().await, |()| println!("logged_out"))
}

/// `reset-device`: erase the account from this device.
pub(crate) async fn reset_device(core: &CitizenCore) -> ExitCode {
    finish(core.account().reset_device().await, |()| println!("device_reset"))
}
