//! `citizen devices | revoke-device | approve-transfer | device-status`: the account's devices.

use std::process::ExitCode;

use citizen_core::CitizenCore;

use super::{finish, passcode};

/// `devices`: list the account's devices.
pub(crate) async fn list(core: &CitizenCore) -> ExitCode {
    finish(core.account().list_devices().await, |ds| {
        for d in ds {
            println!(
                "{} {} {} status={:?} hardware_backed={}{}",
                d.device_id,
                d.platform.wire(),
                d.label,
                d.status,
                d.hardware_backed,
                if d.is_this_device { " (this device)" } else { "" }
            );
        }
    })
}

/// `revoke-device ID`: revoke one of the account's devices (passcode).
pub(crate) async fn revoke(core: &CitizenCore, device_id: String) -> ExitCode {
    let pass = passcode();
    finish(core.account().revoke_device(device_id, pass.to_string()).await, |()| println!("revoked"))
}

/// `approve-transfer ID`: on the old device, approve the transfer to a new one (passcode).
pub(crate) async fn approve_transfer(core: &CitizenCore, enrollment_id: String) -> ExitCode {
    let pass = passcode();
    finish(core.account().approve_device_transfer(enrollment_id, pass.to_string()).await, |()| {
        println!("transfer_approved")
    })
}

/// `device-status`: ask the server whether this device is still active.
pub(crate) async fn status(core: &CitizenCore) -> ExitCode {
    finish(core.account().check_device_status().await, |s| {
        println!("status={:?} changed_at={}", s.status, citizen_cli::unix(s.changed_at))
    })
}
