package vn.citizen.core

import com.sun.net.httpserver.HttpsConfigurator
import com.sun.net.httpserver.HttpsServer
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir
import java.net.InetSocketAddress
import java.net.ServerSocket
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.nio.file.Files
import java.nio.file.Path
import java.security.KeyFactory
import java.security.KeyStore
import java.security.cert.CertificateFactory
import java.security.cert.X509Certificate
import java.security.spec.PKCS8EncodedKeySpec
import java.time.Duration
import java.util.Base64
import javax.net.ssl.KeyManagerFactory
import javax.net.ssl.SSLContext
import javax.net.ssl.TrustManagerFactory

/**
 * The documents wallet through the Kotlin bindings (issue 13 item 1): the four documents are
 * issued, checked and stored; listed, shown with labels and the portrait, deleted. A tampered
 * issuance (one element changed in transit by a proxy in front of the server, which presents the
 * server's own development certificate) is refused with its code and nothing is stored.
 */
class DocumentsTest {

    @Test
    fun `issue all four documents, show and delete one, refuse a tampered issuance`(
        @TempDir serverDir: Path,
        @TempDir phoneDir: Path,
    ) = runBlocking {
        val port = ServerSocket(0).use { it.localPort }
        val origin = "https://127.0.0.1:$port"
        TestServer.start(serverDir, extraArgs = listOf("--public-url", origin)).use { server ->
            val proxy = TamperingProxy(server, port)
            try {
                CitizenCore.open(server.config(phoneDir, origin), JcaDeviceKeyStore(), JcaDataKeyWrapper()).use { core ->
                    val ticket = core.account().startEnrollment(EnrollmentInput(CITIZEN.cccd, CITIZEN.dob, CITIZEN.phone))
                    core.account().completeEnrollment(
                        server.otpFor(ticket.enrollmentId), PASSCODE,
                        KeyOptions(requireUserAuthentication = false, preferStrongbox = false, attestationChallenge = byteArrayOf()),
                    )
                    core.account().login(PASSCODE)
                    val docs = core.documents()

                    // Tampered in transit: refused with its code, nothing stored.
                    proxy.tamper = true
                    val refused = assertThrows<CitizenException.Refused> { runBlocking { docs.refresh() } }
                    assertEquals("mdoc.digest_mismatch", refused.detail.code)
                    assertTrue(docs.list().isEmpty())
                    assertNull(docs.trustListFetchedAt())
                    proxy.tamper = false

                    val listed = docs.refresh()
                    assertEquals(
                        listOf(
                            DocumentType.CITIZEN_ID_CARD, DocumentType.DRIVING_LICENCE,
                            DocumentType.HEALTH_INSURANCE_CARD, DocumentType.VEHICLE_REGISTRATION,
                        ),
                        listed.map { it.documentType },
                    )
                    assertEquals("org.iso.18013.5.1.mDL", listed[1].docType)
                    assertNotNull(docs.trustListFetchedAt())

                    val mdl = docs.get(listed[1].id)
                    val fields = mdl.fields.associateBy { it.identifier }
                    assertEquals(CITIZEN.dob, fields.getValue("birth_date").value)
                    assertEquals("Date of birth", fields.getValue("birth_date").labelEn)
                    assertEquals("Ngày sinh", fields.getValue("birth_date").labelVi)
                    assertEquals(0xff.toByte(), mdl.portrait!![0])
                    val car = docs.get(listed[3].id)
                    assertEquals(FULL_NAME, car.fields.first { it.identifier == "owner_name" }.value)

                    docs.delete(listed[3].id)
                    assertEquals(3, docs.list().size)
                    val gone = assertThrows<CitizenException.NotFound> { runBlocking { docs.get(listed[3].id) } }
                    assertEquals("documents.unknown", gone.detail.code)
                }
            } finally {
                proxy.close()
            }
        }
    }

    /** HTTPS on [port] with the server's development leaf certificate, forwarding to [server]. */
    private class TamperingProxy(server: TestServer, port: Int) : AutoCloseable {
        @Volatile var tamper = false
        private val https: HttpsServer
        private val upstream = HttpClient.newBuilder().sslContext(trusting(server.caPem)).connectTimeout(Duration.ofSeconds(10)).build()

        init {
            val pki = server.dataDir.resolve("pki")
            val cf = CertificateFactory.getInstance("X.509")
            val leaf = cf.generateCertificate(Files.newInputStream(pki.resolve("leaf.pem"))) as X509Certificate
            val ca = cf.generateCertificate(server.caPem.byteInputStream()) as X509Certificate
            val pem = Files.readString(pki.resolve("leaf-key.pem"))
                .replace(Regex("-----[A-Z ]+-----"), "").replace(Regex("\\s"), "")
            val key = KeyFactory.getInstance("EC").generatePrivate(PKCS8EncodedKeySpec(Base64.getDecoder().decode(pem)))
            val ks = KeyStore.getInstance("PKCS12").apply {
                load(null, null)
                setKeyEntry("leaf", key, CharArray(0), arrayOf(leaf, ca))
            }
            val kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm()).apply { init(ks, CharArray(0)) }
            val ssl = SSLContext.getInstance("TLS").apply { init(kmf.keyManagers, null, null) }
            https = HttpsServer.create(InetSocketAddress("127.0.0.1", port), 0)
            https.httpsConfigurator = HttpsConfigurator(ssl)
            https.createContext("/") { ex ->
                val body = ex.requestBody.readAllBytes()
                val builder = HttpRequest.newBuilder(URI.create(server.baseUrl + ex.requestURI.toString())).timeout(Duration.ofSeconds(10))
                ex.requestHeaders.forEach { (k, vs) ->
                    if (k.lowercase() !in setOf("host", "connection", "content-length", "expect", "upgrade")) vs.forEach { builder.header(k, it) }
                }
                builder.method(ex.requestMethod, if (body.isEmpty()) HttpRequest.BodyPublishers.noBody() else HttpRequest.BodyPublishers.ofByteArray(body))
                val r = upstream.send(builder.build(), HttpResponse.BodyHandlers.ofByteArray())
                var answer = r.body()
                if (tamper && ex.requestMethod == "POST" && ex.requestURI.path == "/v1/documents" && r.statusCode() == 200) {
                    answer = tamperDrivingLicence(answer)
                }
                ex.responseHeaders.add("content-type", r.headers().firstValue("content-type").orElse("application/json"))
                ex.sendResponseHeaders(r.statusCode(), answer.size.toLong())
                ex.responseBody.use { it.write(answer) }
            }
            https.start()
        }

        override fun close() = https.stop(0)
    }

    private companion object {
        data class Citizen(val cccd: String, val dob: String, val phone: String)

        // Fictitious citizen of the reference server's register.
        val CITIZEN = Citizen("048200000003", "2000-12-01", "+84900000003")
        const val FULL_NAME = "Lê Minh Kiểm Thử"
        const val PASSCODE = "135790"

        /** Replace the family name inside the driving licence's mdoc with as many bytes of 'X'. */
        fun tamperDrivingLicence(body: ByteArray): ByteArray {
            val json = String(body, Charsets.UTF_8)
            val m = Regex(""""kind":"driving_licence","mdoc":"([^"]+)"""").find(json)
                ?: throw AssertionError("no driving licence in $json")
            val raw = Base64.getUrlDecoder().decode(m.groupValues[1])
            val family = "Lê".toByteArray(Charsets.UTF_8)
            val at = (0..raw.size - family.size).first { i -> family.indices.all { raw[i + it] == family[it] } }
            for (i in family.indices) raw[at + i] = 'X'.code.toByte()
            val tampered = Base64.getUrlEncoder().withoutPadding().encodeToString(raw)
            return json.replace(m.groupValues[1], tampered).toByteArray(Charsets.UTF_8)
        }

        fun trusting(caPem: String): SSLContext {
            val certs = CertificateFactory.getInstance("X.509").generateCertificates(caPem.byteInputStream())
            val anchors = KeyStore.getInstance(KeyStore.getDefaultType()).apply {
                load(null, null)
                certs.forEachIndexed { i, cert -> setCertificateEntry("citizen-ca-$i", cert) }
            }
            val tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm()).apply { init(anchors) }
            return SSLContext.getInstance("TLS").apply { init(null, tmf.trustManagers, null) }
        }
    }
}
