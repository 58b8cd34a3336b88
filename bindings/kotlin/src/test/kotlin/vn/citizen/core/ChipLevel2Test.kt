package vn.citizen.core

import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir
import java.nio.file.Path

/**
 * Level 2 from the chip through the Kotlin bindings (decision 30): the Rust software CCCD runs
 * as a subprocess (`examples/software_card_stdio`, one hex APDU per line) behind a Kotlin
 * `ApduTransport` ([SoftwareCardTransport]); a dedicated server trusts its test CSCA. Refusals
 * first, then the upgrade.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ChipLevel2Test {
    private lateinit var server: TestServer

    private class Steps : ChipReadObserver {
        val steps = mutableListOf<ChipReadStep>()
        override fun onProgress(step: ChipReadStep, bytesRead: Long, apdus: Int) {
            synchronized(steps) { steps.add(step) }
        }
    }

    @BeforeAll
    fun startServer() {
        server = TestServer.start(SoftwareCard.serverDataDir())
    }

    @AfterAll
    fun stopServer() {
        if (::server.isInitialized) server.close()
    }

    private suspend fun CitizenCore.upgrade(can: String = HOLDER_CAN, vararg card: String, observer: ChipReadObserver? = null) =
        SoftwareCardTransport(*card).use { chip().upgradeLevelWithChip(it, ChipAccessKey.Can(can), observer) }

    @Test
    fun `refusals are typed, then the holders card raises the account to level 2`(@TempDir dir: Path) = runBlocking {
        CitizenCore.open(server.config(dir), JcaDeviceKeyStore(), JcaDataKeyWrapper()).use { core ->
            val ticket = core.account().startEnrollment(EnrollmentInput(cccd = HOLDER, dateOfBirth = "1990-01-15", phone = "+84900000001"))
            core.account().completeEnrollment(
                server.otpFor(ticket.enrollmentId), PASSCODE,
                KeyOptions(requireUserAuthentication = false, preferStrongbox = false, attestationChallenge = byteArrayOf()),
            )
            core.account().login(PASSCODE)
            assertEquals(1, core.chip().identityLevel())

            val clone = assertThrows<CitizenException.Card> { runBlocking { core.upgrade(HOLDER_CAN, "--clone") } }
            assertEquals("chip.not_genuine", clone.detail.code)
            val other = assertThrows<CitizenException.Refused> { runBlocking { core.upgrade("000002", "--citizen", "1") } }
            assertEquals("chip.other_citizen", other.detail.code)
            assertTrue(other.detail.messageVi.isNotBlank() && other.detail.messageEn.isNotBlank())
            assertEquals(1, core.chip().identityLevel())

            val steps = Steps()
            val outcome = core.upgrade(observer = steps)
            assertEquals(2, outcome.level)
            assertEquals(2, core.chip().identityLevel())
            assertTrue(ChipReadStep.ActiveAuthentication in steps.steps, steps.steps.toString())
            assertTrue(ChipReadStep.ReadFile("DG13") in steps.steps, steps.steps.toString())
            assertEquals(ActivityKind.LEVEL_UPGRADE, core.activity().listEntries().last().kind)
        }
    }

    private companion object {
        const val HOLDER = "001090000001"
        const val HOLDER_CAN = "000001"
        const val PASSCODE = "246810"
    }
}
