package vn.citizen.core

import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.fail
import org.junit.jupiter.api.io.TempDir
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.nio.file.Path
import java.security.KeyStore
import java.security.cert.CertificateFactory
import java.time.Duration
import java.time.LocalDate
import java.time.ZoneOffset
import java.time.format.DateTimeFormatter
import java.util.concurrent.CopyOnWriteArrayList
import javax.net.ssl.SSLContext
import javax.net.ssl.TrustManagerFactory

/**
 * Public-service requests through the Kotlin bindings: a residence notification filled from the
 * register, submitted while the server is down (offline), delivered once it is back on the same
 * address (online), approved by an official, and seen approved by the citizen.
 *
 * Runs its own server (own data directory), since it stops and restarts it.
 */
class ServicesTest {

    /**
     * An [OutboxListener] in Kotlin (the core calls it from a core thread, one call at a time):
     * the items of every notification, in order.
     */
    private class Recorder : OutboxListener {
        val items: MutableList<OutboxItem> = CopyOnWriteArrayList()
        val states: List<OutboxState> get() = items.map { it.state }
        override fun onOutbox(items: List<OutboxItem>) {
            this.items += items
        }
        override fun onEnd() = Unit

        /** Notifications arrive after the change, in order: wait until [state] was shown. */
        fun awaitState(state: OutboxState) {
            repeat(2000) { if (state in states) return; Thread.sleep(5) }
            fail("never saw $state: $states")
        }
    }

    @Test
    fun `offline submission is delivered when the server is back, then approved`(
        @TempDir serverDir: Path,
        @TempDir phoneDir: Path,
    ) = runBlocking {
        var server = TestServer.start(serverDir)
        try {
            val keyStore = JcaDeviceKeyStore()
            val keyWrapper = JcaDataKeyWrapper()
            CitizenCore.open(server.config(phoneDir), keyStore, keyWrapper).use { core ->
                // 1. Enroll, log in, fetch the catalogue and the register record.
                val ticket = core.account().startEnrollment(EnrollmentInput(CITIZEN_8.cccd, CITIZEN_8.dob, CITIZEN_8.phone))
                core.account().completeEnrollment(
                    server.otpFor(ticket.enrollmentId), PASSCODE,
                    KeyOptions(requireUserAuthentication = false, preferStrongbox = false, attestationChallenge = byteArrayOf()),
                )
                assertNotNull(core.account().login(PASSCODE))
                assertTrue(core.services().refreshCatalogue(), "first catalogue download reports a change")
                assertTrue(core.services().listProcedures().any { it.id == PROCEDURE }, "catalogue lacks $PROCEDURE")
                val profile = core.services().refreshProfile()
                assertEquals(CITIZEN_8.cccd, profile.cccd)
                assertEquals(profile, core.services().getProfile())

                // 2. A draft auto-filled from the register; the host fields are locked.
                val draft = core.services().createDraft(PROCEDURE)
                assertEquals(DraftStatus.EDITING, draft.status)
                assertEquals(profile.fullName, draft.values["host_full_name"])
                assertEquals(profile.cccd, draft.values["host_cccd"])
                assertEquals(profile.phone, draft.values["host_phone"])
                assertTrue(draft.lockedFields.containsAll(listOf("host_full_name", "host_cccd", "host_phone")), draft.lockedFields.toString())
                val locked = assertThrows<CitizenException.InvalidInput> {
                    runBlocking { core.services().updateDraft(draft.draftId, mapOf("host_full_name" to "Người Khác")) }
                }
                assertEquals(listOf("host_full_name" to "field.locked"), locked.fields.map { it.field to it.code })
                assertEquals("input.invalid", locked.detail.code)
                assertEquals(profile.fullName, core.services().getDraft(draft.draftId).values["host_full_name"])

                // 3. Fill the rest; the form is valid.
                val today = LocalDate.now(VIETNAM)
                core.services().updateDraft(
                    draft.draftId,
                    mapOf(
                        "guests.0.full_name" to "Khách Thử Nghiệm",
                        "guests.0.cccd" to "079195000002",
                        "guests.0.relationship" to "ban_be",
                        "reason" to "du_lich",
                        "from_date" to today.plusDays(1).format(DateTimeFormatter.ISO_LOCAL_DATE),
                        "to_date" to today.plusDays(5).format(DateTimeFormatter.ISO_LOCAL_DATE),
                    ),
                )
                assertEquals(emptyList<FieldError>(), core.services().validateDraft(draft.draftId))

                // 4. The network goes away; the citizen submits anyway.
                server.close()
                assertFalse(server.isRunning)
                val recorder = Recorder()
                val subscription = core.services().observeOutbox(recorder)
                val item = core.services().submitDraft(draft.draftId, PASSCODE)
                assertEquals(OutboxState.QUEUED, item.state)
                assertEquals(draft.draftId, item.draftId)
                assertEquals(PROCEDURE, item.procedureId)
                val offline = core.services().syncOutbox()
                assertEquals(0, offline.delivered)
                assertEquals(1, offline.remaining)
                assertEquals("network.offline", offline.lastError?.code, offline.toString())
                val queued = core.services().listOutbox().single()
                assertEquals(item.submissionId, queued.submissionId)
                assertEquals(OutboxState.QUEUED, queued.state)
                assertEquals("network.offline", queued.lastError?.code)
                assertTrue(queued.attempts >= 1, queued.toString())

                // 5. The server is back on the same address and data: delivered.
                server = server.restart()
                val seenBefore = recorder.items.size
                val online = core.services().syncOutbox()
                assertEquals(1, online.delivered, online.toString())
                assertEquals(0, online.remaining, online.toString())
                val delivered = core.services().listOutbox().single()
                assertEquals(item.submissionId, delivered.submissionId)
                assertEquals(OutboxState.DELIVERED, delivered.state)
                val caseNumber = delivered.caseNumber ?: fail("delivered without a case number: $delivered")
                assertTrue(caseNumber.isNotBlank())
                val receipt = delivered.receipt ?: fail("delivered without a receipt: $delivered")
                assertEquals(3, receipt.split('.').size, receipt)
                recorder.awaitState(OutboxState.DELIVERED)
                val afterRestart = recorder.states.drop(seenBefore)
                assertTrue(OutboxState.SENDING in afterRestart && OutboxState.DELIVERED in afterRestart, recorder.states.toString())
                assertEquals(OutboxState.DELIVERED, recorder.items.last().state)
                assertEquals(caseNumber, recorder.items.last().caseNumber)
                subscription.cancel()
                assertEquals(DraftStatus.SUBMITTED, core.services().getDraft(draft.draftId).status)

                // 6. An official takes the case and approves it.
                val token = server.officialToken()
                assertEquals(200, official(server, token, caseNumber, "processing"))
                assertEquals(200, official(server, token, caseNumber, "approved"))

                // 7. The citizen sees it.
                val events = core.services().syncCases()
                assertTrue(events.any { it.caseNumber == caseNumber && it.status == CaseStatus.APPROVED }, events.toString())
                val case = core.services().listCases().single { it.caseNumber == caseNumber }
                assertEquals(CaseStatus.APPROVED, case.status)
                assertEquals(item.submissionId, case.submissionId)
                assertEquals(PROCEDURE, case.procedureId)
            }
        } finally {
            server.close()
        }
    }

    /** `POST /v1/official/cases/transition` with java.net.http, trusting only the server's CA. */
    private fun official(server: TestServer, token: String, caseNumber: String, to: String): Int {
        val body = """{"case_number":"$caseNumber","to":"$to"}"""
        val request = HttpRequest.newBuilder(URI.create("${server.baseUrl}/v1/official/cases/transition"))
            .timeout(Duration.ofSeconds(10))
            .header("Content-Type", "application/json")
            .header("X-Official-Token", token)
            .POST(HttpRequest.BodyPublishers.ofString(body))
            .build()
        val client = HttpClient.newBuilder().sslContext(sslContextTrusting(server.caPem))
            .connectTimeout(Duration.ofSeconds(10)).build()
        val response = client.send(request, HttpResponse.BodyHandlers.ofString())
        assertEquals(200, response.statusCode(), "transition to $to: ${response.body()}")
        return response.statusCode()
    }

    private fun sslContextTrusting(caPem: String): SSLContext {
        val certs = CertificateFactory.getInstance("X.509").generateCertificates(caPem.byteInputStream())
        val anchors = KeyStore.getInstance(KeyStore.getDefaultType()).apply {
            load(null, null)
            certs.forEachIndexed { i, cert -> setCertificateEntry("citizen-ca-$i", cert) }
        }
        val tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm()).apply { init(anchors) }
        return SSLContext.getInstance("TLS").apply { init(null, tmf.trustManagers, null) }
    }

    private data class Citizen(val cccd: String, val dob: String, val phone: String)

    private companion object {
        // Fictitious citizen seeded in the reference server (the Python services test uses 7).
        val CITIZEN_8 = Citizen("001190000008", "1990-03-03", "+84900000008")
        const val PROCEDURE = "residence-notification"
        const val PASSCODE = "246810"
        val VIETNAM: ZoneOffset = ZoneOffset.ofHours(7)
    }
}
