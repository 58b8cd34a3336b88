package vn.citizen.core

import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
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
 * QR login to the demo portal (scan → pick the code shown on the portal → approve) and a
 * selective share with the demo bank (required claims plus one chosen optional claim), through
 * the Kotlin bindings; both leave countersigned receipts whose export verifies.
 */
class ConsentTest {

    @Test
    fun `scan a portal QR code, approve it, then share selected data with the bank`(
        @TempDir serverDir: Path,
        @TempDir phoneDir: Path,
    ) = runBlocking {
        TestServer.start(serverDir).use { server ->
            CitizenCore.open(server.config(phoneDir), JcaDeviceKeyStore(), JcaDataKeyWrapper()).use { core ->
                server.enrolAndLogin(core, CITIZEN.cccd, CITIZEN.dob, CITIZEN.phone, PASSCODE)

                // QR login.
                val handle = field(http(server, "POST", "/portal/api/sessions", "{}"), "handle")
                val frame = field(http(server, "GET", "/portal/api/sessions/$handle"), "frame")
                assertTrue(frame.startsWith("CZQR1:"), frame)
                val request = core.consent().scanLoginCode(frame)
                assertEquals("dvc-demo", request.relyingPartyId)
                assertEquals(server.baseUrl, request.origin)
                assertEquals(setOf("full_name", "birthdate", "cccd_number"), request.claims.map { it.name }.toSet())
                assertEquals(3, request.codeChoices.toSet().size)
                val shown = field(http(server, "GET", "/portal/api/sessions/$handle"), "verification_code")
                assertTrue(shown in request.codeChoices, "$shown not in ${request.codeChoices}")
                val approval = core.consent().approveLogin(request.sessionId, shown, PASSCODE)
                assertEquals(ConsentKind.QR_LOGIN, approval.receipt.kind)
                assertNull(approval.redirectUrl)
                val done = http(server, "GET", "/portal/api/sessions/$handle")
                assertEquals("approved", field(done, "state"))
                assertTrue(done.contains("Ngô Thị Đồng Ý"), done)

                // Garbage in the scanner: a typed error with a stable code.
                val garbage = assertThrows<CitizenException.InvalidInput> { runBlocking { core.consent().scanLoginCode("not a code") } }
                assertEquals("consent.qr_not_login_code", garbage.detail.code)

                // Selective share: required claims plus the phone, not the address.
                val jws = field(http(server, "POST", "/rp/bank-demo/requests", "{}"), "request")
                val share = core.consent().openShareRequest(jws)
                assertEquals("bank-demo", share.relyingPartyId)
                val required = share.required.map { it.name }.toSet()
                assertTrue("phone" in share.optional.map { it.name } && "permanent_address" in share.optional.map { it.name })
                val outcome = core.consent().shareData(share.requestId, listOf("phone"), PASSCODE)
                assertTrue(outcome.relyingPartyAccepted)
                assertEquals(required + "phone", outcome.disclosedClaims.toSet())
                assertFalse("permanent_address" in outcome.disclosedClaims)

                // Receipts: both uses, export verifies with the two public keys.
                val receipts = core.consent().listReceipts()
                assertEquals(setOf(ConsentKind.QR_LOGIN, ConsentKind.DATA_SHARE), receipts.map { it.kind }.toSet())
                // Chained (newest first), none damaged; the share says it reached the bank.
                assertEquals(listOf(2L, 1L), receipts.map { it.sequence })
                assertTrue(receipts.all { it.damage == null })
                assertEquals(ShareDelivery.DELIVERED, outcome.receipt.delivery)
                assertEquals(receipts.size, verifyReceiptExport(core.consent().exportReceipts(), null))
            }
        }
    }

    private fun http(server: TestServer, method: String, path: String, body: String? = null): String {
        val builder = HttpRequest.newBuilder(URI.create("${server.baseUrl}$path"))
            .timeout(Duration.ofSeconds(10))
            .header("Content-Type", "application/json")
        val request = if (body == null) builder.GET().build() else builder.method(method, HttpRequest.BodyPublishers.ofString(body)).build()
        val client = HttpClient.newBuilder().sslContext(sslContextTrusting(server.caPem)).connectTimeout(Duration.ofSeconds(10)).build()
        val response = client.send(request, HttpResponse.BodyHandlers.ofString())
        assertEquals(200, response.statusCode(), "$method $path: ${response.body()}")
        return response.body()
    }

    /** A top-level string field of a flat JSON answer (the values used here contain no quotes). */
    private fun field(json: String, name: String): String =
        Regex(""""${Regex.escape(name)}"\s*:\s*"([^"]*)"""").find(json)?.groupValues?.get(1)
            ?: throw AssertionError("no \"$name\" in $json")

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
        // Fictitious citizen seeded in the reference server for this suite only.
        val CITIZEN = Citizen("001305000011", "2005-10-10", "+84900000011")
        const val PASSCODE = "246810"
    }
}
