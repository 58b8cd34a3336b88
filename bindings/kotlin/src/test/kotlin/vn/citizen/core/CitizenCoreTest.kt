package vn.citizen.core

import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotEquals
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir
import java.nio.file.Path

/**
 * The Kotlin bindings on the JVM, against the reference server: the same flows as the Python
 * suite, with the platform traits implemented in Kotlin (java.security / javax.crypto).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class CitizenCoreTest {
    private lateinit var server: TestServer

    /** A phone: data directory plus its key stores (reused to reopen the same data). */
    private inner class Device(val dataDir: Path) {
        val keyStore = JcaDeviceKeyStore()
        val keyWrapper = JcaDataKeyWrapper()
        val config = server.config(dataDir)
        suspend fun open() = CitizenCore.open(config, keyStore, keyWrapper)
    }

    @BeforeAll
    fun startServer() {
        server = TestServer.start()
    }

    @AfterAll
    fun stopServer() {
        if (::server.isInitialized) server.close()
    }

    private suspend fun CitizenCore.enroll(citizen: Citizen, passcode: String = PASSCODE): Pair<EnrollmentTicket, EnrollmentOutcome> {
        val ticket = account().startEnrollment(EnrollmentInput(cccd = citizen.cccd, dateOfBirth = citizen.dob, phone = citizen.phone))
        val otp = server.otpFor(ticket.enrollmentId)
        val outcome = account().completeEnrollment(
            otp, passcode,
            KeyOptions(requireUserAuthentication = false, preferStrongbox = false, attestationChallenge = byteArrayOf()),
        )
        return ticket to outcome
    }

    private fun assertDetail(detail: ErrorDetail, code: String) {
        assertEquals(code, detail.code)
        assertTrue(detail.messageVi.isNotBlank() && detail.messageEn.isNotBlank(), detail.toString())
        assertNotEquals(detail.messageVi, detail.messageEn)
    }

    @Test
    fun `enroll, login, list devices, logout`(@TempDir dir: Path) = runBlocking {
        val device = Device(dir)
        device.open().use { core ->
            val (ticket, outcome) = core.enroll(CITIZEN_5)
            assertTrue(ticket.enrollmentId.isNotEmpty())
            assertFalse(ticket.hasActiveDevice)
            assertTrue(ticket.maskedPhone.endsWith(CITIZEN_5.phone.takeLast(3)), ticket.maskedPhone)
            assertFalse(outcome.hardwareBacked)
            assertNull(outcome.replacedDeviceId)
            assertTrue(device.keyStore.aliases().isNotEmpty(), "the core made no key through the Kotlin key store")
            assertTrue("sign" in device.keyStore.calls)

            assertNotNull(core.account().login(PASSCODE))
            val devices = core.account().listDevices()
            assertEquals(listOf(outcome.deviceId), devices.map { it.deviceId })

            core.account().logout()
            val e = assertThrows<CitizenException.NeedsLogin> { runBlocking { core.account().listDevices() } }
            assertDetail(e.detail, "auth.not_logged_in")
            // Every error class exports `detail()`: the shell needs no per-variant mapping.
            val any: CitizenException = e
            assertEquals(e.detail, any.detail())
        }
    }

    @Test
    fun `invalid CCCD is refused before any network call`(@TempDir dir: Path) = runBlocking {
        val config = server.config(dir, baseUrl = "https://127.0.0.1:9")
        CitizenCore.open(config, JcaDeviceKeyStore(), JcaDataKeyWrapper()).use { core ->
            val e = assertThrows<CitizenException.InvalidInput> {
                runBlocking { core.account().startEnrollment(EnrollmentInput(cccd = "12345", dateOfBirth = "1990-01-15", phone = "+84900000005")) }
            }
            assertDetail(e.detail, "input.invalid")
            assertEquals(e.detail, (e as CitizenException).detail())
            assertEquals(listOf("cccd" to "cccd.format"), e.fields.map { it.field to it.code })
            assertEquals(emptyList<FieldError>(), core.account().validateEnrollment(EnrollmentInput(CITIZEN_5.cccd, CITIZEN_5.dob, CITIZEN_5.phone)))
        }
    }

    @Test
    fun `wrong passcode counts down, locks out, and the lock survives a restart`(@TempDir dir: Path) = runBlocking {
        val device = Device(dir)
        device.open().use { core ->
            core.enroll(CITIZEN_6)
            assertEquals(FREE_ATTEMPTS, core.account().passcodeStatus().attemptsBeforeLockout)

            val left = (1..FREE_ATTEMPTS.toInt()).map { attempt ->
                val e = assertThrows<CitizenException.PasscodeRejected> { runBlocking { core.account().login(WRONG_PASSCODE) } }
                assertDetail(e.detail, "auth.passcode_incorrect")
                assertEquals(WIPE_AFTER - attempt, e.attemptsBeforeWipe)
                e.attemptsBeforeLockout
            }
            assertEquals(listOf(4, 3, 2, 1, 0), left)

            val locked = assertThrows<CitizenException.LockedOut> { runBlocking { core.account().login(PASSCODE) } }
            assertTrue(locked.retryAfter > java.time.Duration.ZERO)
            assertDetail(locked.detail, "auth.locked_out")
            assertNotNull(core.account().passcodeStatus().lockedUntil)
        }
        // The app restarts on the same data: still locked, the right passcode is still refused.
        device.open().use { core ->
            val locked = assertThrows<CitizenException.LockedOut> { runBlocking { core.account().login(PASSCODE) } }
            assertTrue(locked.retryAfter > java.time.Duration.ZERO)
            assertEquals(FREE_ATTEMPTS, core.account().passcodeStatus().failedAttempts)
        }
    }

    data class Citizen(val cccd: String, val dob: String, val phone: String)

    companion object {
        // Fictitious citizens seeded in the reference server; the Python suite uses 1-4.
        val CITIZEN_5 = Citizen("092301000005", "2001-07-20", "+84900000005")
        val CITIZEN_6 = Citizen("036076000006", "1976-11-11", "+84900000006")
        const val PASSCODE = "246810"
        const val WRONG_PASSCODE = "975310"
        const val FREE_ATTEMPTS = 5
        const val WIPE_AFTER = 10
    }
}
