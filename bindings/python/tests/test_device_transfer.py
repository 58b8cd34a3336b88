"""One active device per account: a new phone takes over, approved by the old one."""

import pytest

import citizen_core as cc
from conftest import CITIZENS, PASSCODE, Device, assert_detail, core_config, enroll, run
from platform_impl import SoftwareDataKeyWrapper, SoftwareDeviceKeyStore

CITIZEN = CITIZENS["spare_4"]


def test_old_device_approves_transfer_to_new_device(server, device, tmp_path):
    old = device.open()
    _, old_outcome = enroll(old, server, CITIZEN)
    run(old.account().login(PASSCODE))

    new_dir = tmp_path / "new-phone"
    new_dir.mkdir()
    new_device = Device(new_dir, SoftwareDeviceKeyStore(), SoftwareDataKeyWrapper(), core_config(server, new_dir))
    new = new_device.open()

    cccd, dob, phone = CITIZEN
    ticket = run(new.account().start_enrollment(cc.EnrollmentInput(cccd=cccd, date_of_birth=dob, phone=phone)))
    assert ticket.has_active_device
    # Enums with data are classes per variant in Python: compare with an instance, or use is_*().
    assert run(new.status()).enrollment == cc.EnrollmentState.AWAITING_OTP()
    assert run(new.status()).enrollment.is_awaiting_otp()

    # The citizen reads the enrollment id on the new phone and approves on the old one.
    run(old.account().approve_device_transfer(ticket.enrollment_id, PASSCODE))

    outcome = run(
        new.account().complete_enrollment(
            server.otp_for(ticket.enrollment_id),
            PASSCODE,
            cc.KeyOptions(require_user_authentication=False, prefer_strongbox=False, attestation_challenge=b""),
        )
    )
    assert outcome.transfer_approved
    assert outcome.replaced_device_id == old_outcome.device_id
    assert run(new.status()).enrollment == cc.EnrollmentState.ENROLLED()

    # The old phone learns it was transferred and can no longer log in.
    assert run(old.account().check_device_status()).status == cc.DeviceStatus.TRANSFERRED
    assert run(old.status()).enrollment == cc.EnrollmentState.DEACTIVATED(status=cc.DeviceStatus.TRANSFERRED)
    with pytest.raises(cc.CitizenError.NeedsEnrollment) as err:
        run(old.account().login(PASSCODE))
    assert err.value.reason == cc.EnrollmentReason.DEVICE_DEACTIVATED(status=cc.DeviceStatus.TRANSFERRED)
    assert_detail(err.value.detail, "auth.device_inactive")

    run(new.account().login(PASSCODE))
    devices = {d.device_id: d for d in run(new.account().list_devices())}
    assert devices[outcome.device_id].is_this_device
    assert devices[outcome.device_id].status == cc.DeviceStatus.ACTIVE
    if old_outcome.device_id in devices:
        assert devices[old_outcome.device_id].status == cc.DeviceStatus.TRANSFERRED
