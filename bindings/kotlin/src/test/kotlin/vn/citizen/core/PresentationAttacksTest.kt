package vn.citizen.core

import kotlinx.coroutines.async
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import org.junit.jupiter.api.assertThrows
import java.nio.file.Files
import java.nio.file.Path
import java.time.Duration
import java.time.Instant

/**
 * The attacks of issue 13 on an in-person presentation through the Kotlin bindings, each refused
 * with its own code, the wallet keeping its four documents: an element tampered with and an
 * element taken from another document (presented by a dishonest holder, [MdocForger]), an expired
 * and a not yet valid MSO (a verifier whose clock is pinned, `VerifierConfig.pinnedClock`), an
 * issuer outside the verifier's trust list, a revoked document, malformed CBOR and oversized
 * messages in both directions. A frame altered in transit, a replayed response and a reader
 * beyond its role are in the Android shell's `PresentationFlowTest`. One server for the class.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PresentationAttacksTest {
    private val root: Path = Files.createTempDirectory("presentation-attacks-")
    private lateinit var server: TestServer
    private lateinit var core: CitizenCore
    private val store = JcaDeviceKeyStore()
    private lateinit var stranger: Verifier

    @BeforeAll
    fun world() = runBlocking {
        server = TestServer.start(root.resolve("server"))
        core = CitizenCore.open(server.config(root.resolve("phone")), store, JcaDataKeyWrapper())
        server.enrolAndLogin(core, CCCD, DOB, PHONE, PASSCODE)
        assertEquals(4, core.documents().refresh().size)
        // A verifier whose trust list is another authority's.
        TestServer.start(root.resolve("foreign")).use { foreign -> stranger = verifierOf(foreign, "stranger") }
    }

    @AfterAll
    fun close() {
        core.close()
        server.close()
        root.toFile().deleteRecursively()
    }

    private suspend fun verifierOf(s: TestServer, name: String, pinnedClock: Instant? = null, refresh: Boolean = true): Verifier {
        val config = defaultVerifierConfig(s.baseUrl, root.resolve(name).toString()).copy(
            trustAnchorsPem = listOf(s.caPem),
            spkiPins = listOf(s.pin, s.backupPin),
            pinnedClock = pinnedClock,
        )
        return Verifier.open(config).also { if (refresh) it.refreshTrust() }
    }

    private fun assertInvalid(verdict: VerificationVerdict, code: String, check: VerificationCheckKind) {
        val overall = verdict.overall
        assertTrue(overall is VerdictOverall.Invalid, verdict.toString())
        assertEquals(code, (overall as VerdictOverall.Invalid).failing.code)
        assertTrue(overall.failing.messageVi.isNotBlank() && overall.failing.messageEn.isNotBlank())
        assertTrue(verdict.documents.isEmpty(), "nothing shown of an invalid document")
        assertTrue(verdict.checks.single { it.check == check }.outcome is CheckOutcome.Failed, verdict.checks.toString())
    }

    private suspend fun assertWalletIntact() = assertEquals(4, core.documents().list().size)

    /** The citizen shows [request]'s elements (all held ones) to [verifier]; its verdict. */
    private suspend fun present(verifier: Verifier, request: VerifierRequest = VerifierRequest.AgeOver18): VerificationVerdict =
        coroutineScope {
            val (holderEnd, verifierEnd) = ChannelTransport.pair()
            val session = core.documents().startPresentation(holderEnd)
            val verdict = async { verifier.startSession(session.engagementQr(), request, verifierEnd).awaitResponse() }
            val asked = session.awaitRequest()
            session.approve(asked.elements.filter { it.held }.map { ElementSelection(it.docType, it.namespace, it.identifier) }, PASSCODE)
            verdict.await()
        }

    @Test
    fun `a tampered element and an element from another document are invalid`() = runBlocking {
        val verifier = verifierOf(server, "forged")
        val documents = core.documents()
        val (licence, alias) = MdocForger.readPhone(documents, store, PASSCODE, MDL, NS, listOf("family_name", "birth_date"))
        val (card, _) = MdocForger.readPhone(documents, store, PASSCODE, BHYT, BHYT, listOf("birth_date"))
        fun copy() = Cbor.decode(Cbor.encode(licence)) as MutableMap<Any?, Any?>
        fun namespaces(response: Map<*, *>) =
            (((response["documents"] as List<*>)[0] as Map<*, *>)["issuerSigned"] as Map<*, *>)["nameSpaces"] as MutableMap<Any?, Any?>
        fun identifier(item: Any?) = (Cbor.decode((item as Tag).value as ByteArray) as Map<*, *>)["elementIdentifier"]

        // Unedited, signed again by the forger: valid (the forger is faithful).
        val faithful = MdocForger.presentAsHolder(verifier, VerifierRequest.AgeOver18, copy(), store, alias)
        assertEquals(VerdictOverall.Valid, faithful.overall, faithful.toString())
        assertEquals(setOf("family_name", "birth_date"), faithful.documents.single().elements.map { it.identifier }.toSet())

        // The birth date changed: its digest no longer matches the MSO's.
        val tampered = copy()
        @Suppress("UNCHECKED_CAST")
        val items = namespaces(tampered)[NS] as MutableList<Any?>
        val at = items.indexOfFirst { identifier(it) == "birth_date" }
        @Suppress("UNCHECKED_CAST")
        val item = Cbor.decode(((items[at] as Tag).value as ByteArray)) as MutableMap<Any?, Any?>
        item["elementValue"] = Tag(1004, "2001-01-01")
        items[at] = Tag(24, Cbor.encode(item))
        assertInvalid(
            MdocForger.presentAsHolder(verifier, VerifierRequest.AgeOver18, tampered, store, alias),
            "mdoc.digest_mismatch", VerificationCheckKind.ELEMENT_DIGESTS,
        )

        // The health card's signed birth date spliced into the licence: not signed by its MSO.
        val spliced = copy()
        val ns = namespaces(spliced)
        ns[NS] = (ns[NS] as List<*>).filter { identifier(it) != "birth_date" }.toMutableList()
        ns[BHYT] = namespaces(card)[BHYT]
        assertEquals(listOf("birth_date"), (ns[BHYT] as List<*>).map { identifier(it) })
        assertInvalid(
            MdocForger.presentAsHolder(verifier, VerifierRequest.AgeOver18, spliced, store, alias),
            "mdoc.element_not_signed", VerificationCheckKind.ELEMENT_DIGESTS,
        )
        assertWalletIntact()
    }

    @Test
    fun `an expired or not yet valid MSO is invalid`() = runBlocking {
        assertEquals(VerdictOverall.Valid, present(verifierOf(server, "clock")).overall)
        // The same cached lists, judged two years on (the licence is valid one year) and a day before.
        val later = verifierOf(server, "clock", Instant.now().plus(Duration.ofDays(730)), refresh = false)
        assertInvalid(present(later), "mdoc.expired", VerificationCheckKind.VALIDITY)
        val earlier = verifierOf(server, "clock", Instant.now().minus(Duration.ofDays(1)), refresh = false)
        assertInvalid(present(earlier), "mdoc.not_yet_valid", VerificationCheckKind.VALIDITY)
        assertWalletIntact()
    }

    @Test
    fun `a document from an issuer outside the trust list is invalid`() = runBlocking {
        assertInvalid(present(stranger), "mdoc.issuer_untrusted", VerificationCheckKind.ISSUER_CHAIN)
        assertWalletIntact()
    }

    @Test
    fun `a revoked document is invalid once the verifier has the new list`() = runBlocking {
        // The vehicle registration, so that the licence stays good for the other tests.
        val request = VerifierRequest.Custom(VEHICLE, listOf(RequestedElementSpec(VEHICLE, "plate_number", false)))
        val verifier = verifierOf(server, "revocation")
        assertEquals(VerdictOverall.Valid, present(verifier, request).overall)
        val car = core.documents().list().single { it.docType == VEHICLE }
        val answer = server.postJson("/v1/official/documents/revoke", """{"document_id":"${car.id}"}""", official = true)
        assertEquals(200, answer.status, answer.body)
        verifier.refreshTrust()
        assertInvalid(present(verifier, request), "mdoc.revoked", VerificationCheckKind.REVOCATION)
        assertWalletIntact()
    }

    /** A verifier session fed [payload] as the holder's answer; the phone's session is declined. */
    private suspend fun verifierReceiving(verifier: Verifier, payload: ByteArray): VerificationVerdict {
        val (holderEnd, verifierEnd) = ChannelTransport.pair()
        val session = core.documents().startPresentation(holderEnd)
        val vs = verifier.startSession(session.engagementQr(), VerifierRequest.AgeOver18, verifierEnd)
        verifierEnd.deliver(payload)
        return vs.awaitResponse().also { session.decline() }
    }

    /** The phone's `awaitRequest` fed [payload] as the verifier's first message: the refusal's code. */
    private suspend fun holderReceiving(payload: ByteArray): String {
        val (holderEnd, _) = ChannelTransport.pair()
        val session = core.documents().startPresentation(holderEnd)
        holderEnd.deliver(payload)
        val e = assertThrows<CitizenException.Refused> { runBlocking { session.awaitRequest() } }
        return e.detail.code
    }

    @Test
    fun `malformed CBOR is refused by the verifier and by the phone`() = runBlocking {
        val verifier = verifierOf(server, "malformed")
        val truncated = byteArrayOf(0xa2.toByte(), 0x64) + "data".toByteArray() + byteArrayOf(0xff.toByte(), 0xff.toByte())
        assertInvalid(verifierReceiving(verifier, truncated), "mdoc.malformed", VerificationCheckKind.SESSION)
        val broken = byteArrayOf(0xa1.toByte(), 0x6a) + "eReaderKey".toByteArray() + byteArrayOf(0x9f.toByte())
        assertEquals("mdoc.malformed", holderReceiving(broken))
        assertWalletIntact()
    }

    @Test
    fun `oversized messages are refused before decoding`() = runBlocking {
        val verifier = verifierOf(server, "oversized")
        assertInvalid(verifierReceiving(verifier, ByteArray(RESPONSE_LIMIT + 1)), "mdoc.too_large", VerificationCheckKind.SESSION)
        assertEquals("mdoc.too_large", holderReceiving(ByteArray(REQUEST_LIMIT + 1)))
        assertWalletIntact()
    }

    private companion object {
        // A fictitious citizen of the reference server's register.
        const val CCCD = "079195000002"
        const val DOB = "1995-06-30"
        const val PHONE = "+84900000002"
        const val PASSCODE = "135790"
        const val MDL = "org.iso.18013.5.1.mDL"
        const val NS = "org.iso.18013.5.1"
        const val BHYT = "vn.gov.bhxh.bhyt.1"
        const val VEHICLE = "vn.gov.bca.vehicle_registration.1"
        const val REQUEST_LIMIT = 64 * 1024
        const val RESPONSE_LIMIT = 256 * 1024 + 1024
    }
}
