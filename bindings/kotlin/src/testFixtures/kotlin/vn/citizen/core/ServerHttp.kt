package vn.citizen.core

import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.security.KeyStore
import java.security.cert.CertificateFactory
import java.time.Duration
import javax.net.ssl.SSLContext
import javax.net.ssl.TrustManagerFactory

/** An HTTP answer of the reference server: status and body. */
data class HttpAnswer(val status: Int, val body: String)

/**
 * POST [json] to [path] of this server over its dev TLS (trusting only its CA), with the
 * officials' token when [official] is set — what a counter's terminal or the portal's page
 * sends, without the core.
 */
fun TestServer.postJson(path: String, json: String, official: Boolean = false): HttpAnswer {
    val builder = HttpRequest.newBuilder(URI.create("$baseUrl$path"))
        .timeout(Duration.ofSeconds(10))
        .header("Content-Type", "application/json")
    if (official) builder.header("X-Official-Token", officialToken())
    val certs = CertificateFactory.getInstance("X.509").generateCertificates(caPem.byteInputStream())
    val anchors = KeyStore.getInstance(KeyStore.getDefaultType()).apply {
        load(null, null)
        certs.forEachIndexed { i, cert -> setCertificateEntry("citizen-ca-$i", cert) }
    }
    val tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm()).apply { init(anchors) }
    val ssl = SSLContext.getInstance("TLS").apply { init(null, tmf.trustManagers, null) }
    val client = HttpClient.newBuilder().sslContext(ssl).connectTimeout(Duration.ofSeconds(10)).build()
    val response = client.send(builder.POST(HttpRequest.BodyPublishers.ofString(json)).build(), HttpResponse.BodyHandlers.ofString())
    return HttpAnswer(response.statusCode(), response.body())
}
