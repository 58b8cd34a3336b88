package vn.citizen.android.viewmodel

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import vn.citizen.core.CitizenCore
import vn.citizen.core.DeviceKeyStore
import vn.citizen.core.EnrollmentInput
import vn.citizen.core.JcaDataKeyWrapper
import vn.citizen.core.JcaDeviceKeyStore
import vn.citizen.core.KeyOptions
import vn.citizen.core.Language
import vn.citizen.core.TestServer
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
 * Test helpers: a "phone" (data directory + the java.security platform implementations the
 * bindings suite uses, standing in for AndroidKeystoreDeviceKeyStore / DataKeyWrapper) and an
 * HTTP client for the server's portal, relying-party and officials' endpoints.
 *
 * Each test class starts its own server (own data directory), so the fictitious citizens of
 * server/src/register.rs may repeat across classes (and across the bindings suite).
 */
data class Citizen(val cccd: String, val dob: String, val phone: String) {
    val input get() = EnrollmentInput(cccd = cccd, dateOfBirth = dob, phone = phone)
}

object Citizens {
    val C1 = Citizen("001090000001", "1990-01-15", "+84900000001")
    val C2 = Citizen("079195000002", "1995-06-30", "+84900000002")
    val C7 = Citizen("001090000007", "1990-02-02", "+84900000007")
    val C11 = Citizen("001305000011", "2005-10-10", "+84900000011")
}

const val PASSCODE = "246810"
const val WRONG_PASSCODE = "975310"

/** Software keys, no prompt: what the JVM can do; the Android keystore is not available here. */
val TEST_KEY_OPTIONS = KeyOptions(requireUserAuthentication = false, preferStrongbox = false, attestationChallenge = byteArrayOf())

suspend fun openCore(
    server: TestServer,
    dir: Path,
    locale: Language = Language.VI,
    keyStore: DeviceKeyStore = JcaDeviceKeyStore(),
): CitizenCore = CitizenCore.open(server.config(dir).copy(language = locale), keyStore, JcaDataKeyWrapper())

/** The fixture key store, remembering the [KeyOptions] of every `createKey` the core made. */
class RecordingDeviceKeyStore(private val inner: DeviceKeyStore = JcaDeviceKeyStore()) : DeviceKeyStore by inner {
    val created = java.util.Collections.synchronizedList(mutableListOf<KeyOptions>())

    override suspend fun createKey(alias: String, options: KeyOptions): ByteArray {
        created += options
        return inner.createKey(alias, options)
    }
}

/** Enroll [citizen] through [EnrollmentViewModel] (details → OTP → passcode twice). */
suspend fun enrollThroughViewModel(
    server: TestServer,
    core: CitizenCore,
    citizen: Citizen,
    locale: Language = Language.VI,
    keyOptions: KeyOptions = TEST_KEY_OPTIONS,
) {
    val vm = EnrollmentViewModel(core.account(), keyOptions, locale)
    assertTrue(vm.start(citizen.input), vm.state.value.error.toString())
    assertEquals(EnrollmentViewModel.Step.OTP, vm.state.value.step)
    val ticket = vm.state.value.ticket ?: error("no ticket")
    assertTrue(vm.enterOtp(server.otpFor(ticket.enrollmentId)))
    assertEquals(EnrollmentViewModel.Step.PASSCODE, vm.state.value.step)
    assertTrue(vm.complete(PASSCODE, PASSCODE), vm.state.value.error.toString())
    assertEquals(EnrollmentViewModel.Step.DONE, vm.state.value.step)
    assertNull(vm.state.value.error)
}

/** HTTPS to the test server, trusting only its CA. */
class ServerHttp(private val server: TestServer) {
    private val client: HttpClient = HttpClient.newBuilder()
        .sslContext(sslContextTrusting(server.caPem))
        .connectTimeout(Duration.ofSeconds(10))
        .build()

    fun call(method: String, path: String, body: String? = null, headers: Map<String, String> = emptyMap()): String {
        val builder = HttpRequest.newBuilder(URI.create("${server.baseUrl}$path"))
            .timeout(Duration.ofSeconds(10))
            .header("Content-Type", "application/json")
        headers.forEach { (k, v) -> builder.header(k, v) }
        val request = if (body == null) builder.GET().build() else builder.method(method, HttpRequest.BodyPublishers.ofString(body)).build()
        val response = client.send(request, HttpResponse.BodyHandlers.ofString())
        assertEquals(200, response.statusCode(), "$method $path: ${response.body()}")
        return response.body()
    }

    /** `POST /v1/official/cases/transition` as an official. */
    fun transitionCase(caseNumber: String, to: String) {
        call(
            "POST", "/v1/official/cases/transition", """{"case_number":"$caseNumber","to":"$to"}""",
            mapOf("X-Official-Token" to server.officialToken()),
        )
    }

    companion object {
        /** A top-level string field of a flat JSON answer (the values used here contain no quotes). */
        fun field(json: String, name: String): String =
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
    }
}
