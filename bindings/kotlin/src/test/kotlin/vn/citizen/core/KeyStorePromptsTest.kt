package vn.citizen.core

import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.awaitCancellation
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir
import java.nio.file.Path
import java.time.LocalDate
import java.time.ZoneOffset
import java.time.format.DateTimeFormatter

/**
 * Issue 11 items 3 and 8 through the Kotlin bindings: the key store is `suspend`, knows why it
 * signs, and bookkeeping never prompts; dropping the core's call cancels a pending signature;
 * a temporarily locked data key is not a lost one. Each test runs its own server.
 */
class KeyStorePromptsTest {
    private data class Citizen(val cccd: String, val dob: String, val phone: String)

    /** A key store whose login signature suspends until its coroutine is cancelled. */
    private class HangingKeyStore : JcaDeviceKeyStore() {
        @Volatile var hang = false
        val started = CompletableDeferred<Unit>()
        val cancelled = CompletableDeferred<Throwable>()

        override suspend fun sign(alias: String, message: ByteArray, request: SignRequest): DeviceSignature {
            if (hang && request.purpose == SignPurpose.LOGIN) {
                started.complete(Unit)
                try {
                    awaitCancellation() // a biometric prompt nobody answers
                } catch (e: CancellationException) {
                    cancelled.complete(e) // where BiometricPrompt would be cancelled
                    throw e
                }
            }
            return super.sign(alias, message, request)
        }
    }

    private suspend fun CitizenCore.enrollPhone(server: TestServer) {
        val ticket = account().startEnrollment(EnrollmentInput(CITIZEN.cccd, CITIZEN.dob, CITIZEN.phone))
        account().completeEnrollment(
            server.otpFor(ticket.enrollmentId), PASSCODE,
            // As a phone creates it: every use of the device key needs the citizen.
            KeyOptions(requireUserAuthentication = true, preferStrongbox = true, attestationChallenge = byteArrayOf()),
        )
        account().login(PASSCODE)
    }

    @Test
    fun `a submit and a background sync prompt exactly once`(@TempDir serverDir: Path, @TempDir phoneDir: Path) = runBlocking<Unit> {
        TestServer.start(serverDir).use { server ->
            val keyStore = JcaDeviceKeyStore()
            CitizenCore.open(server.config(phoneDir), keyStore, JcaDataKeyWrapper()).use { core ->
                core.enrollPhone(server)
                assertEquals(2, keyStore.prompts, "the enrollment proof and the login only: their log entries are silent")
                core.services().refreshCatalogue()
                core.services().refreshProfile()

                val before = keyStore.prompts
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
                core.services().submitDraft(draft.draftId, PASSCODE)
                assertEquals(0, core.services().syncOutbox().remaining)
                core.services().syncCases()
                assertEquals(1, keyStore.prompts - before, "the submit's prompt only: ${keyStore.requests}")

                assertEquals(
                    listOf(ActivityKind.ENROLLMENT, ActivityKind.LOGIN, ActivityKind.SUBMISSION, ActivityKind.SUBMISSION_DELIVERED),
                    core.activity().listEntries().map { it.kind },
                )
                val bookkeeping = setOf(SignPurpose.ACTIVITY_ENTRY, SignPurpose.ACTIVITY_ANCHOR)
                for ((alias, request) in keyStore.requests) {
                    val isBookkeeping = request.purpose in bookkeeping
                    assertEquals(isBookkeeping, alias.endsWith(".bookkeeping"), "$alias signed $request")
                    assertEquals(!isBookkeeping, request.userInitiated, "$alias signed $request")
                }
                assertEquals(1, keyStore.requests.count { it.second.purpose == SignPurpose.ACTIVITY_ANCHOR })
                assertTrue(core.activity().verify().intact)
            }
        }
    }

    @Test
    fun `cancelling the caller cancels a pending signature`(@TempDir serverDir: Path, @TempDir phoneDir: Path) = runBlocking<Unit> {
        TestServer.start(serverDir).use { server ->
            val keyStore = HangingKeyStore()
            CitizenCore.open(server.config(phoneDir), keyStore, JcaDataKeyWrapper()).use { core ->
                core.enrollPhone(server)
                keyStore.hang = true
                val login = launch(Dispatchers.Default) { core.account().login(PASSCODE) }
                // Safety nets only (a broken cancellation would hang the suite): nothing is timed.
                withTimeout(60_000) { keyStore.started.await() }
                login.cancel()
                val seen = withTimeout(60_000) { keyStore.cancelled.await() }
                assertTrue(seen is CancellationException, "$seen")
                login.join()
                assertTrue(login.isCancelled)

                // The core is not stuck: the next login signs normally.
                keyStore.hang = false
                core.account().login(PASSCODE)
            }
        }
    }

    @Test
    fun `a locked data key is reported as locked and the data opens later`(@TempDir serverDir: Path, @TempDir phoneDir: Path) = runBlocking<Unit> {
        TestServer.start(serverDir).use { server ->
            val keyStore = JcaDeviceKeyStore()
            val wrapper = JcaDataKeyWrapper()
            val config = server.config(phoneDir)
            CitizenCore.open(config, keyStore, wrapper).use { core -> core.enrollPhone(server) }

            wrapper.locked = true
            val e = assertThrows<CitizenException.DataKeyLocked> { runBlocking { CitizenCore.open(config, keyStore, wrapper) } }
            assertEquals("storage.data_key_locked", e.detail.code)
            wrapper.locked = false
            CitizenCore.open(config, keyStore, wrapper).use { core ->
                assertTrue(core.status().loggedIn, "the data is intact: still logged in")
                assertEquals(listOf(ActivityKind.ENROLLMENT, ActivityKind.LOGIN), core.activity().listEntries().map { it.kind })
            }
        }
    }

    private companion object {
        // Fictitious citizen seeded in the reference server; each test has a server of its own.
        val CITIZEN = Citizen("001190000008", "1990-03-03", "+84900000008")
        const val PASSCODE = "246810"
    }
}
