"""Input validation happens in the core, before any network call."""

import pytest

import citizen_core as cc
from conftest import assert_detail, core_config, run

# A port nothing listens on: a network call would fail with CitizenError.Network.
UNREACHABLE = "https://127.0.0.1:9"


@pytest.fixture
def offline_core(server, tmp_path, device):
    config = core_config(server, tmp_path, base_url=UNREACHABLE)
    return run(cc.CitizenCore.open(config, device.key_store, device.key_wrapper))


def test_invalid_cccd_is_rejected_before_any_network_call(offline_core):
    with pytest.raises(cc.CitizenError.InvalidInput) as err:
        run(offline_core.account().start_enrollment(cc.EnrollmentInput(cccd="12345", date_of_birth="1990-01-15", phone="+84900000001")))
    e = err.value
    assert_detail(e.detail, "input.invalid")
    assert [f.field for f in e.fields] == ["cccd"], e.fields
    assert e.fields[0].code == "cccd.format"
    assert e.fields[0].message_vi and e.fields[0].message_en


def test_every_invalid_field_is_reported(offline_core):
    # Province 999 does not exist, the date is impossible, the phone is not Vietnamese mobile.
    with pytest.raises(cc.CitizenError.InvalidInput) as err:
        run(offline_core.account().start_enrollment(cc.EnrollmentInput(cccd="999090000001", date_of_birth="1990-02-30", phone="12")))
    fields = {f.field for f in err.value.fields}
    assert fields == {"cccd", "date_of_birth", "phone"}, err.value.fields
    for f in err.value.fields:
        assert "." in f.code and f.message_vi and f.message_en


def test_validate_enrollment_is_synchronous_and_pure(offline_core):
    ok = cc.EnrollmentInput(cccd="001090000001", date_of_birth="1990-01-15", phone="0900000001")
    assert offline_core.account().validate_enrollment(ok) == []
    bad = cc.EnrollmentInput(cccd="001090000001", date_of_birth="1995-01-15", phone="+84900000001")
    errors = offline_core.account().validate_enrollment(bad)
    assert [(f.field, f.code) for f in errors] == [("cccd", "cccd.birth_year")]
    # The same check as a free function, usable before any core exists.
    assert cc.validate_enrollment_input(bad) == errors


def test_network_failure_is_classified(offline_core):
    with pytest.raises(cc.CitizenError.Network) as err:
        run(offline_core.account().start_enrollment(cc.EnrollmentInput(cccd="001090000001", date_of_birth="1990-01-15", phone="+84900000001")))
    assert err.value.kind == cc.NetworkErrorKind.OFFLINE
    assert_detail(err.value.detail, "network.offline")
