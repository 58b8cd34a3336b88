package vn.citizen.core

import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
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
import java.time.Instant
import javax.net.ssl.SSLContext
import javax.net.ssl.TrustManagerFactory

/**
 * The citizen's access log through the Kotlin bindings (issue 16, item 2): two officials read the
 * record; the log lists exactly those reads with agency and purpose, filters by agency and
 * period, and its server-signed export verifies with the published keys.
 */
class AccessLogTest {

    @Test
    fun `list who read the record, filter it and verify the export`(
        @TempDir serverDir: Path,
        @TempDir phoneDir: Path,
    ) = runBlocking {
        TestServer.start(serverDir).use { server ->
            CitizenCore.open(server.config(phoneDir), JcaDeviceKeyStore(), JcaDataKeyWrapper()).use { core ->
                server.enrolAndLogin(core, CITIZEN.cccd, CITIZEN.dob, CITIZEN.phone, PASSCODE)
                val all = AccessLogFilter(agency = null, since = null, until = null)
                assertTrue(core.account().accessLog(all).entries.isEmpty())

                read(server, "CB-0301", "Công an phường Hoàn Kiếm", "identity_verification")
                read(server, "CB-0302", "Sở Tư pháp Hà Nội", "register_maintenance")

                val log = core.account().accessLog(all)
                assertTrue(log.intact, log.problems.toString())
                assertEquals(
                    listOf(
                        Triple("CB-0301", "Công an phường Hoàn Kiếm", AccessPurpose.IDENTITY_VERIFICATION),
                        Triple("CB-0302", "Sở Tư pháp Hà Nội", AccessPurpose.REGISTER_MAINTENANCE),
                    ),
                    log.entries.map { Triple(it.official, it.agency, it.purpose) },
                )
                assertTrue(log.entries.all { it.accessor == AccessorKind.OFFICIAL })
                val byAgency = core.account().accessLog(AccessLogFilter(agency = "sở tư pháp hà nội", since = null, until = null))
                assertEquals(listOf("CB-0302"), byAgency.entries.map { it.official })
                val future = core.account().accessLog(AccessLogFilter(agency = null, since = Instant.now().plusSeconds(86_400), until = null))
                assertTrue(future.entries.isEmpty())

                val signed = core.account().exportAccessLog()
                val keys = http(server, "/v1/keys")
                val report = verifyAccessLogExport(signed, keys)
                assertTrue(report.signatureValid && report.intact)
                assertEquals(2, report.entries.size)
                val parts = signed.split(".")
                val forged = verifyAccessLogExport(parts[0] + "." + parts[1] + "." + parts[2].reversed(), keys)
                assertFalse(forged.signatureValid || forged.intact)
            }
        }
    }

    private fun read(server: TestServer, official: String, agency: String, purpose: String) {
        val body = """{"cccd":"${CITIZEN.cccd}","official_id":"$official","agency":"$agency","purpose":"$purpose"}"""
        http(server, "/v1/official/citizens/record", body, server.officialToken())
    }

    private fun http(server: TestServer, path: String, body: String? = null, token: String? = null): String {
        val builder = HttpRequest.newBuilder(URI.create("${server.baseUrl}$path"))
            .timeout(Duration.ofSeconds(10))
            .header("Content-Type", "application/json")
        token?.let { builder.header("X-Official-Token", it) }
        val request = if (body == null) builder.GET().build() else builder.POST(HttpRequest.BodyPublishers.ofString(body)).build()
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
        // Fictitious register citizen; the test runs on a server of its own.
        val CITIZEN = Citizen("001090000001", "1990-01-15", "+84900000001")
        const val PASSCODE = "246810"
    }
}
