package vn.citizen.android.viewmodel

import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import org.junit.jupiter.api.io.TempDir
import vn.citizen.core.EnrollmentInput
import vn.citizen.core.Language
import vn.citizen.core.TestServer
import java.nio.file.Path
import java.time.Instant

/** Enrollment, login/logout, devices and the passcode lockout, through the view models. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class AccountFlowTest {
    private lateinit var server: TestServer

    @BeforeAll
    fun startServer() {
        server = TestServer.start()
    }

    @AfterAll
    fun stopServer() {
        if (::server.isInitialized) server.close()
    }

    @Test
    fun `enroll, login, list devices, logout`(@TempDir dir: Path) = runBlocking {
        val keyStore = RecordingDeviceKeyStore()
        openCore(server, dir, keyStore = keyStore).use { core ->
            // Invalid details are refused offline, with per-field errors in the UI locale.
            val enrollment = EnrollmentViewModel(core.account(), TEST_KEY_OPTIONS, Language.EN)
            assertFalse(enrollment.start(EnrollmentInput(cccd = "12345", dateOfBirth = "1990-01-15", phone = "+84900000001")))
            val invalid = enrollment.state.value.error ?: error("no error for an invalid CCCD")
            assertEquals(listOf("cccd"), invalid.fields.map { it.field })
            assertEquals(EnrollmentViewModel.Step.DETAILS, enrollment.state.value.step)

            // A wrong OTP sends the citizen back to the OTP step with the core's error.
            assertTrue(enrollment.start(Citizens.C1.input))
            val ticket = enrollment.state.value.ticket ?: error("no ticket")
            assertTrue(ticket.maskedPhone.endsWith("001"), ticket.maskedPhone)
            assertFalse(ticket.hasActiveDevice)
            val otp = server.otpFor(ticket.enrollmentId)
            assertFalse(enrollment.enterOtp("12345"))
            assertEquals("otp.format", enrollment.state.value.error?.code)
            assertEquals(EnrollmentViewModel.Step.OTP, enrollment.state.value.step)
            assertTrue(enrollment.enterOtp(if (otp == "000000") "111111" else "000000"))
            assertFalse(enrollment.complete(PASSCODE, PASSCODE))
            assertEquals(EnrollmentViewModel.Step.OTP, enrollment.state.value.step)
            val otpError = enrollment.state.value.error ?: error("no OTP error")
            assertEquals("otp.invalid", otpError.code)
            assertTrue(enrollment.enterOtp(otp))
            assertFalse(enrollment.complete(PASSCODE, "135790"))
            assertEquals("passcode.mismatch", enrollment.state.value.error?.code)
            assertTrue(enrollment.complete(PASSCODE, PASSCODE), enrollment.state.value.error.toString())
            val outcome = enrollment.state.value.outcome ?: error("no outcome")
            assertEquals(EnrollmentViewModel.Step.DONE, enrollment.state.value.step)

            // The device key's attestation is bound to this enrollment: the challenge is the
            // enrollment id (UTF-8), the rest of the options as given.
            val expected = enrollment.keyOptionsFor(ticket)
            assertArrayEquals(ticket.enrollmentId.toByteArray(Charsets.UTF_8), expected.attestationChallenge)
            assertEquals(TEST_KEY_OPTIONS.requireUserAuthentication, expected.requireUserAuthentication)
            assertEquals(TEST_KEY_OPTIONS.preferStrongbox, expected.preferStrongbox)
            // The device key (the first key made; the second is the bookkeeping key, decision 26).
            val used = keyStore.created.first()
            assertArrayEquals(expected.attestationChallenge, used.attestationChallenge)
            assertEquals(expected.requireUserAuthentication, used.requireUserAuthentication)
            assertEquals(expected.preferStrongbox, used.preferStrongbox)
            assertTrue(keyStore.created.all { it.attestationChallenge.contentEquals(expected.attestationChallenge) })
            assertFalse(outcome.hardwareBacked)

            val login = LoginViewModel(core, Language.EN)
            login.refresh()
            assertFalse(login.state.value.loggedIn)
            assertEquals(5, login.state.value.attemptsBeforeLockout)
            assertTrue(login.login(PASSCODE), login.state.value.error.toString())
            assertTrue(login.state.value.loggedIn)
            assertNotNull(login.state.value.session)

            val devices = DevicesViewModel(core.account(), Language.EN)
            assertTrue(devices.refresh(), devices.state.value.error.toString())
            val mine = devices.state.value.devices.single()
            assertEquals(outcome.deviceId, mine.deviceId)
            assertTrue(mine.isThisDevice)

            assertTrue(login.logout())
            assertFalse(login.state.value.loggedIn)
            assertNull(login.state.value.session)
            // Logged out: the devices screen shows the core's error, in English here.
            assertFalse(devices.refresh())
            val notLoggedIn = devices.state.value.error ?: error("no error after logout")
            assertEquals("auth.not_logged_in", notLoggedIn.code)
            assertTrue(notLoggedIn.message.isNotBlank())
        }
    }

    @Test
    fun `wrong passcodes count down, then lock out with a retry-after`(@TempDir dir: Path) = runBlocking {
        openCore(server, dir).use { core ->
            enrollThroughViewModel(server, core, Citizens.C2)
            val vi = LoginViewModel(core, Language.VI)
            val en = LoginViewModel(core, Language.EN)
            vi.refresh()
            val left = (1..5).map {
                assertFalse(vi.login(WRONG_PASSCODE))
                val s = vi.state.value
                assertEquals("auth.passcode_incorrect", s.error?.code)
                assertFalse(s.loggedIn)
                s.attemptsBeforeLockout
            }
            assertEquals(listOf(4, 3, 2, 1, 0), left)
            assertTrue(vi.state.value.lockedOut, vi.state.value.toString())

            // Even the right passcode is refused while locked; the message follows the locale.
            assertFalse(en.login(PASSCODE))
            val locked = en.state.value
            assertEquals("auth.locked_out", locked.error?.code)
            assertTrue((locked.retryAfter ?: java.time.Duration.ZERO) > java.time.Duration.ZERO, locked.toString())
            val until = locked.lockedUntil ?: error("no lockedUntil")
            assertTrue(until > Instant.now(), "lockedUntil $until is not in the future")
            assertFalse(locked.loggedIn)

            assertFalse(vi.login(PASSCODE))
            val viMessage = vi.state.value.error?.message
            assertTrue(viMessage != null && viMessage != locked.error?.message, "VI and EN messages should differ: $viMessage")

            // A fresh view model (app restart) reads the lock back from the core.
            val restarted = LoginViewModel(core, Language.VI)
            restarted.refresh()
            assertTrue(restarted.state.value.lockedOut)
            assertEquals(0, restarted.state.value.attemptsBeforeLockout)
        }
    }
}
