package vn.citizen.core

import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotEquals
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.nio.file.Path
import java.security.KeyStore
import java.security.cert.CertificateFactory
import java.time.Duration
import javax.net.ssl.SSLContext
import javax.net.ssl.TrustManagerFactory

/**
 * A correction of the register through the Kotlin bindings (issue 16 item 1, decision 50): the
 * citizen proposes a correction of their place of origin with evidence, a named official with the
 * `register` role approves it, the profile and the identity credential change (the old one
 * revoked), and the access log lists the official's reads.
 */
class CorrectionsTest {

    @Test
    fun `propose a correction, see it approved, see profile credential and access log change`(
        @TempDir serverDir: Path,
        @TempDir phoneDir: Path,
    ) = runBlocking {
        TestServer.start(serverDir).use { server ->
            val registrar = server.addOfficial("CB-0400", "Công an phường Hoàn Kiếm", "register")
            CitizenCore.open(server.config(phoneDir), JcaDeviceKeyStore(), JcaDataKeyWrapper()).use { core ->
                val ticket = core.account().startEnrollment(EnrollmentInput(CITIZEN.cccd, CITIZEN.dob, CITIZEN.phone))
                core.account().completeEnrollment(
                    server.otpFor(ticket.enrollmentId), PASSCODE,
                    KeyOptions(requireUserAuthentication = false, preferStrongbox = false, attestationChallenge = byteArrayOf()),
                )
                core.account().login(PASSCODE)
                core.services().refreshCatalogue()
                val before = core.services().refreshProfile()
                assertEquals(ORIGIN_BEFORE, before.placeOfOrigin)
                assertNull(before.occupation)
                core.consent().fetchCredential()
                val old = core.consent().credentialInfo(true)!!
                assertEquals(ORIGIN_BEFORE, old.claims["place_of_origin"])
                assertEquals(false, old.revoked)

                val draft = core.services().createDraft("register-correction")
                core.services().updateDraft(
                    draft.draftId,
                    mapOf("field" to "place_of_origin", "new_value" to ORIGIN_AFTER, "reason" to "Sai chính tả tên phường"),
                )
                core.services().attachBytes(draft.draftId, "evidence", "giay-khai-sinh.pdf", "application/pdf", "%PDF-1.4 fictitious".toByteArray())
                assertEquals(emptyList<FieldError>(), core.services().validateDraft(draft.draftId))
                val item = core.services().submitDraft(draft.draftId, PASSCODE)
                core.services().syncOutbox()
                val case = core.services().listOutbox().single { it.submissionId == item.submissionId }.caseNumber
                assertNotNull(case)

                val seen = http(server, "/v1/official/corrections/view", """{"case_number":"$case"}""", registrar)
                assertTrue(seen.contains(ORIGIN_AFTER), seen)
                val decided = http(server, "/v1/official/corrections/decide", """{"case_number":"$case","decision":"approve"}""", registrar)
                assertTrue(decided.contains("\"state\":\"approved\""), decided)

                core.services().syncCases()
                assertEquals(ORIGIN_AFTER, core.services().getProfile().placeOfOrigin)
                assertEquals(true, core.consent().credentialInfo(true)?.revoked)
                core.consent().fetchCredential()
                val renewed = core.consent().credentialInfo(true)!!
                assertEquals(ORIGIN_AFTER, renewed.claims["place_of_origin"])
                assertFalse(renewed.revoked!!)
                assertNotEquals(old.statusIndex, renewed.statusIndex)

                val log = core.account().accessLog(AccessLogFilter(agency = null, since = null, until = null))
                assertTrue(log.intact, log.problems.toString())
                assertEquals(
                    List(2) { Triple("CB-0400", AccessPurpose.REGISTER_MAINTENANCE, case) },
                    log.entries.filter { it.accessor == AccessorKind.OFFICIAL }.map { Triple(it.official, it.purpose, it.reference) },
                )
            }
        }
    }

    private fun http(server: TestServer, path: String, body: String, token: String): String {
        val request = HttpRequest.newBuilder(URI.create("${server.baseUrl}$path"))
            .timeout(Duration.ofSeconds(10))
            .header("Content-Type", "application/json")
            .header("X-Official-Token", token)
            .POST(HttpRequest.BodyPublishers.ofString(body))
            .build()
        val client = HttpClient.newBuilder().sslContext(sslContextTrusting(server.caPem)).connectTimeout(Duration.ofSeconds(10)).build()
        val response = client.send(request, HttpResponse.BodyHandlers.ofString())
        assertEquals(200, response.statusCode(), "$path: ${response.body()}")
        return response.body()
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
        // Fictitious register citizen (Lê Minh Kiểm Thử); the test runs on a server of its own.
        val CITIZEN = Citizen("048200000003", "2000-12-01", "+84900000003")
        const val ORIGIN_BEFORE = "Phường Hải Châu, Thành phố Đà Nẵng"
        const val ORIGIN_AFTER = "Phường Hải Châu Một, Thành phố Đà Nẵng"
        const val PASSCODE = "246810"
    }
}
