package vn.citizen.core

import kotlinx.coroutines.delay
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir
import java.nio.file.Path
import java.time.LocalDate
import java.time.ZoneOffset
import java.time.format.DateTimeFormatter

/**
 * Losing and re-binding the phone through the Kotlin bindings (issue 15, decision 42), as the
 * Python suite does it (`test_recovery.py`):
 *
 * * lose the phone → the citizen locks it from the new phone (decision 48: OTP to the registered
 *   phone) → recovery on the new phone with the chip (the Rust
 *   software CCCD behind a Kotlin `ApduTransport`) and the OTP, held for a waiting period of 2 s:
 *   cancelled once at the counter (the locked phone cannot sign), then completed once;
 * * the device key is invalidated (the Kotlin key store simulates a biometric change) →
 *   re-binding with passcode + OTP → the queued request is kept, held, and re-signed and
 *   delivered only after the citizen confirms;
 * * decision 48: the key is invalidated and the session has ended → the OTP alone no longer
 *   re-binds; the chip + the OTP do, on the same phone.
 */
class RecoveryTest {
    private val keys = KeyOptions(requireUserAuthentication = false, preferStrongbox = false, attestationChallenge = byteArrayOf())

    private suspend fun CitizenCore.enroll(server: TestServer, cccd: String, dob: String, phone: String) {
        val ticket = account().startEnrollment(EnrollmentInput(cccd, dob, phone))
        account().completeEnrollment(server.otpFor(ticket.enrollmentId), PASSCODE, keys)
        account().login(PASSCODE)
    }

    private suspend fun CitizenCore.summaries() = activity().listEntries().map { it.summary }

    private suspend fun CitizenCore.recoverWithChip(server: TestServer): RecoveryTicket {
        val ticket = account().startEnrollment(EnrollmentInput(HOLDER, HOLDER_DOB, HOLDER_PHONE))
        assertTrue(ticket.hasActiveDevice)
        return SoftwareCardTransport().use {
            chip().startRecoveryWithChip(server.otpFor(ticket.enrollmentId), PASSCODE, keys, it, ChipAccessKey.Can(HOLDER_CAN), null)
        }
    }

    /** Complete once the waiting period is over (the server answers `recovery.waiting` before). */
    private suspend fun CitizenCore.completeAfterTheWait(): EnrollmentOutcome {
        val deadline = System.currentTimeMillis() + 30_000
        while (true) {
            try {
                return account().completeRecovery()
            } catch (e: CitizenException.Refused) {
                if (e.detail.code != "recovery.waiting" || System.currentTimeMillis() > deadline) throw e
                delay(200)
            }
        }
    }

    private fun TestServer.official(path: String, json: String) =
        assertEquals(200, postJson(path, json, official = true).status, path)

    @Test
    fun `a lost phone is locked, then recovered with the chip - cancelled once and completed once`(
        @TempDir oldDir: Path,
        @TempDir newDir: Path,
    ) = runBlocking<Unit> {
        TestServer.start(SoftwareCard.serverDataDir(), extraArgs = listOf("--recovery-wait-secs", "2")).use { server ->
            CitizenCore.open(server.config(oldDir), JcaDeviceKeyStore(), JcaDataKeyWrapper()).use { old ->
                old.enroll(server, HOLDER, HOLDER_DOB, HOLDER_PHONE)
                SoftwareCardTransport().use { assertEquals(2, old.chip().upgradeLevelWithChip(it, ChipAccessKey.Can(HOLDER_CAN), null).level) }
                val oldId = old.status().deviceId

                CitizenCore.open(server.config(newDir), JcaDeviceKeyStore(), JcaDataKeyWrapper()).use { new ->
                    // Lost: the citizen locks it from the new phone (decision 48): the OTP to the
                    // registered phone, not the identifiers alone.
                    val lock = new.account().startRemoteLock(EnrollmentInput(HOLDER, HOLDER_DOB, HOLDER_PHONE))
                    val lockOtp = server.otpFor(lock.lockId)
                    assertThrows<CitizenException.OtpRejected> {
                        runBlocking { new.account().completeRemoteLock(lock.lockId, if (lockOtp == "000000") "111111" else "000000") }
                    }
                    assertEquals(DeviceStatus.ACTIVE, old.account().checkDeviceStatus().status)
                    assertEquals(oldId, new.account().completeRemoteLock(lock.lockId, lockOtp).deviceId)
                    val replayed = assertThrows<CitizenException.Refused> {
                        runBlocking { new.account().completeRemoteLock(lock.lockId, lockOtp) }
                    }
                    assertEquals("lock.replayed", replayed.detail.code)
                    assertEquals(DeviceStatus.LOCKED, old.account().checkDeviceStatus().status)
                    val locked = assertThrows<CitizenException.NeedsEnrollment> { runBlocking { old.account().login(PASSCODE) } }
                    assertEquals("auth.device_locked", locked.detail.code)
                    assertEquals(EnrollmentReason.DeviceDeactivated(DeviceStatus.LOCKED), locked.reason)

                    // The OTP alone does not replace a level-2 account's phone.
                    val t = new.account().startEnrollment(EnrollmentInput(HOLDER, HOLDER_DOB, HOLDER_PHONE))
                    val otpOnly = assertThrows<CitizenException.Refused> {
                        runBlocking { new.account().completeEnrollment(server.otpFor(t.enrollmentId), PASSCODE, keys) }
                    }
                    assertEquals("recovery.chip_required", otpOnly.detail.code)

                    // Chip + OTP start a recovery; the citizen cancels it at a counter.
                    var ticket = new.recoverWithChip(server)
                    assertEquals(RecoveryMethod.CHIP, ticket.method)
                    assertEquals(oldId, ticket.oldDeviceId)
                    assertNotNull(new.account().pendingRecovery())
                    server.official("/v1/official/recovery/cancel", """{"cccd":"$HOLDER","official_id":"CA-HN-0007"}""")
                    val cancelled = assertThrows<CitizenException.Refused> { runBlocking { new.completeAfterTheWait() } }
                    assertEquals("recovery.cancelled", cancelled.detail.code)
                    assertNull(new.account().pendingRecovery())

                    // Again: completed once the waiting period is over, and only once.
                    ticket = new.recoverWithChip(server)
                    val early = assertThrows<CitizenException.Refused> { runBlocking { new.account().completeRecovery() } }
                    assertEquals("recovery.waiting", early.detail.code)
                    val outcome = new.completeAfterTheWait()
                    assertEquals(oldId, outcome.replacedDeviceId)
                    new.account().login(PASSCODE)
                    val log = new.summaries()
                    assertTrue(log.any { it.startsWith("recovery_started=${ticket.recoveryId}") }, log.toString())
                    assertTrue(log.any { "recovered_from=$oldId" in it }, log.toString())
                }

                // The old phone learns why; its own log has the lock.
                assertEquals(DeviceStatus.RECOVERED, old.account().checkDeviceStatus().status)
                assertTrue("locked_remotely" in old.summaries(), old.summaries().toString())
            }
        }
    }

    @Test
    fun `an invalidated key is re-bound on the same phone with the outbox intact`(
        @TempDir serverDir: Path,
        @TempDir phoneDir: Path,
    ) = runBlocking<Unit> {
        var server = TestServer.start(serverDir)
        try {
            val keyStore = JcaDeviceKeyStore()
            CitizenCore.open(server.config(phoneDir), keyStore, JcaDataKeyWrapper()).use { core ->
                core.enroll(server, OTHER, OTHER_DOB, OTHER_PHONE)
                core.services().refreshCatalogue()
                core.services().refreshProfile()
                val draft = core.services().createDraft("residence-notification")
                val today = LocalDate.now(ZoneOffset.ofHours(7))
                core.services().updateDraft(draft.draftId, mapOf(
                    "guests.0.full_name" to "Khách Thử Nghiệm",
                    "guests.0.cccd" to "079195000002",
                    "guests.0.relationship" to "ban_be",
                    "reason" to "du_lich",
                    "from_date" to today.plusDays(1).format(DateTimeFormatter.ISO_LOCAL_DATE),
                    "to_date" to today.plusDays(5).format(DateTimeFormatter.ISO_LOCAL_DATE),
                ))
                // Queued while the server is away.
                server.close()
                val item = core.services().submitDraft(draft.draftId, PASSCODE)
                val offline = core.services().syncOutbox()
                assertEquals(0 to 1, offline.delivered to offline.remaining)
                server = server.restart()

                // Biometrics changed: the platform invalidated the device key.
                val deviceId = core.status().deviceId
                keyStore.invalidate("citizen-core.device.$deviceId")
                val invalidated = assertThrows<CitizenException.KeyStore> { runBlocking { core.account().login(PASSCODE) } }
                assertEquals("keystore.key_invalidated", invalidated.detail.code)
                assertEquals(KeyStoreProblem.INVALIDATED, invalidated.problem)

                // Guided re-binding: passcode + OTP; a new key on the same device and account.
                val rebind = core.account().startRebinding()
                assertEquals(1, core.account().completeRebinding(server.otpFor(rebind.rebindId), PASSCODE, keys))
                assertEquals(deviceId, core.status().deviceId)
                assertEquals(OutboxHoldReason.KEY_ROTATED, core.services().outboxHold())
                val held = core.services().syncOutbox()
                assertEquals(0 to 1, held.delivered to held.remaining)
                assertEquals(listOf(item.submissionId), core.services().listOutbox().map { it.submissionId })

                // The citizen confirms: re-signed with the new key and delivered.
                assertEquals(1, core.services().releaseHeldOutbox(true, PASSCODE))
                core.services().syncOutbox()
                val delivered = core.services().listOutbox().single()
                assertEquals(OutboxState.DELIVERED, delivered.state)
                assertNotNull(delivered.caseNumber)
                core.account().login(PASSCODE)
                val log = core.summaries()
                assertTrue("key_rotated held_requests=1" in log && "outbox_released=1 after=key_rotated" in log, log.toString())
            }
        } finally {
            server.close()
        }
    }

    @Test
    fun `without a session an invalidated key is re-bound with the chip`(@TempDir phoneDir: Path) = runBlocking<Unit> {
        TestServer.start(SoftwareCard.serverDataDir()).use { server ->
            val keyStore = JcaDeviceKeyStore()
            CitizenCore.open(server.config(phoneDir), keyStore, JcaDataKeyWrapper()).use { core ->
                core.enroll(server, HOLDER, HOLDER_DOB, HOLDER_PHONE)
                val deviceId = core.status().deviceId
                keyStore.invalidate("citizen-core.device.$deviceId")
                core.account().logout()

                val rebind = core.account().startRebinding()
                val otp = server.otpFor(rebind.rebindId)
                assertThrows<CitizenException.NeedsLogin> { runBlocking { core.account().completeRebinding(otp, PASSCODE, keys) } }
                val held = SoftwareCardTransport().use {
                    core.chip().completeRebindingWithChip(otp, PASSCODE, keys, it, ChipAccessKey.Can(HOLDER_CAN), null)
                }
                assertEquals(0, held)
                assertEquals(deviceId, core.status().deviceId)
                core.account().login(PASSCODE)
                assertTrue("key_rotated held_requests=0" in core.summaries(), core.summaries().toString())
            }
        }
    }

    private companion object {
        const val PASSCODE = "246810"
        // The software card's holder (the register's first citizen) and its CAN.
        const val HOLDER = "001090000001"
        const val HOLDER_DOB = "1990-01-15"
        const val HOLDER_PHONE = "+84900000001"
        const val HOLDER_CAN = "000001"
        // The register's ninth citizen (its own server: no clash with other classes).
        const val OTHER = "079088000009"
        const val OTHER_DOB = "1988-04-04"
        const val OTHER_PHONE = "+84900000009"
    }
}
