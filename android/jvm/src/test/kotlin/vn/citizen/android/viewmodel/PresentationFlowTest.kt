package vn.citizen.android.viewmodel

import kotlinx.coroutines.async
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import vn.citizen.core.Language
import vn.citizen.core.MdocTransport
import vn.citizen.core.TestServer
import vn.citizen.core.VerdictOverall
import vn.citizen.core.Verifier
import vn.citizen.core.VerifierRequest
import vn.citizen.core.VerifierRole
import vn.citizen.core.defaultVerifierConfig
import java.nio.file.Path

/**
 * One end of an in-process link carrying ISO 18013-5 BLE frames (what the BLE adapter moves).
 * `tap` may see (and change) every frame this end sends; [sent] keeps them.
 */
class ChannelTransport(
    val inbox: Channel<ByteArray>,
    private val outbox: Channel<ByteArray>,
    private val tap: ((ByteArray) -> ByteArray)? = null,
) : MdocTransport {
    val sent = mutableListOf<ByteArray>()
    override fun maxFrameSize(): Int = 182
    override suspend fun sendFrame(frame: ByteArray) {
        val f = tap?.invoke(frame) ?: frame
        sent.add(f)
        outbox.send(f)
    }
    override suspend fun receiveFrame(): ByteArray = inbox.receive()
    override suspend fun disconnect() {}

    companion object {
        /** (holder end, verifier end); `tap` sees the holder's frames. */
        fun pair(tap: ((ByteArray) -> ByteArray)? = null): Pair<ChannelTransport, ChannelTransport> {
            val a = Channel<ByteArray>(Channel.UNLIMITED)
            val b = Channel<ByteArray>(Channel.UNLIMITED)
            return ChannelTransport(a, b, tap) to ChannelTransport(b, a)
        }
    }
}

/**
 * In-person presentation through [PresentDocumentViewModel] and [VerifierViewModel] (issue 13):
 * the verifier caches its lists, the server stops, the citizen shows the driving licence with two
 * elements left out and the verifier shows "valid" with every check; a declined request is
 * shown as invalid.
 */
class PresentationFlowTest {

    @Test
    fun `the driving licence is presented and verified offline through the view models`(
        @TempDir serverDir: Path,
        @TempDir phoneDir: Path,
        @TempDir verifierDir: Path,
    ) = runBlocking {
        val server = TestServer.start(serverDir)
        val verifierConfig = defaultVerifierConfig(server.baseUrl, verifierDir.toString()).copy(
            trustAnchorsPem = listOf(server.caPem),
            spkiPins = listOf(server.pin, server.backupPin),
        )
        openCore(server, phoneDir).use { core ->
            server.use {
                enrollThroughViewModel(server, core, Citizens.C1)
                assertTrue(LoginViewModel(core).login(PASSCODE))
                assertEquals(4, core.documents().refresh().size)
                val verifier = VerifierViewModel(Verifier.open(verifierConfig), Language.EN)
                assertTrue(verifier.load())
                assertNull(verifier.state.value.trust?.trustListFetchedAt)
                assertTrue(verifier.refresh(), verifier.state.value.error.toString())
                assertNotNull(verifier.state.value.trust?.trustListFetchedAt)
            }
            // The server is stopped: both sides work offline.
            val verifier = VerifierViewModel(Verifier.open(verifierConfig), Language.EN)
            val (holderEnd, verifierEnd) = ChannelTransport.pair()
            val holder = PresentDocumentViewModel(core.documents(), Language.VI)
            assertTrue(holder.start(holderEnd), holder.state.value.error.toString())
            val qr = holder.state.value.qr ?: error("no QR code")
            val verdict = async { verifier.verify(qr, VerifierRequest.DrivingLicenceCheck, verifierEnd) }
            assertTrue(holder.awaitRequest(), holder.state.value.error.toString())
            val s = holder.state.value
            assertNull(s.requester, "an anonymous verifier")
            assertEquals(9, s.elements.size)
            assertEquals("Ngày sinh", s.elements.single { it.selection.identifier == "birth_date" }.label)
            // Leave out the portrait and the licence number.
            s.elements.filter { it.selection.identifier in setOf("portrait", "document_number") }
                .forEach { holder.toggle(it.selection) }
            assertTrue(holder.approve(PASSCODE), holder.state.value.error.toString())
            assertEquals(7, holder.state.value.outcome?.disclosed?.size)

            assertTrue(verdict.await(), verifier.state.value.error.toString())
            val v = verifier.state.value
            assertEquals(VerdictOverall.Valid, v.verdict?.overall)
            assertEquals("Valid", v.headline)
            assertTrue(v.checks.all { it.passed }, v.checks.toString())
            val shown = v.verdict!!.documents.single().elements.map { it.identifier }
            assertFalse("document_number" in shown)
            assertNull(v.verdict!!.documents.single().portrait)

            // Declined: invalid, said in the UI language.
            val (h2, v2) = ChannelTransport.pair()
            val holder2 = PresentDocumentViewModel(core.documents(), Language.VI)
            assertTrue(holder2.start(h2))
            val verdict2 = async { verifier.verify(holder2.state.value.qr!!, VerifierRequest.AgeOver18, v2) }
            assertTrue(holder2.awaitRequest())
            assertTrue(holder2.decline())
            assertTrue(verdict2.await())
            assertTrue(verifier.state.value.verdict?.overall is VerdictOverall.Invalid)
            assertTrue(verifier.state.value.headline!!.startsWith("Invalid: "))
        }
    }

    /**
     * What a shell meets (issue 13): a frame altered in transit and a recorded response replayed
     * into another session are invalid verdicts with their codes; a reader enrolled as a hospital
     * asking for the driving-licence check is refused on the phone (`mdoc.reader_not_authorised`),
     * while the traffic police reader is shown by name.
     */
    @Test
    fun `a tampered frame, a replayed response and a reader beyond its role are refused`(
        @TempDir serverDir: Path,
        @TempDir phoneDir: Path,
        @TempDir policeDir: Path,
        @TempDir hospitalDir: Path,
    ) = runBlocking {
        val server = TestServer.start(serverDir)
        fun config(dir: Path) = defaultVerifierConfig(server.baseUrl, dir.toString()).copy(
            trustAnchorsPem = listOf(server.caPem),
            spkiPins = listOf(server.pin, server.backupPin),
        )
        openCore(server, phoneDir).use { core ->
            val policeVerifier = Verifier.open(config(policeDir))
            val hospital = Verifier.open(config(hospitalDir))
            server.use {
                enrollThroughViewModel(server, core, Citizens.C1)
                assertTrue(LoginViewModel(core).login(PASSCODE))
                assertEquals(4, core.documents().refresh().size)
                policeVerifier.refreshTrust()
                policeVerifier.enrolReader(server.officialToken(), VerifierRole.TRAFFIC_POLICE)
                hospital.refreshTrust()
                hospital.enrolReader(server.officialToken(), VerifierRole.HOSPITAL)
            }
            val police = VerifierViewModel(policeVerifier, Language.EN)

            // A clean session, recorded: the police reader is shown by name.
            val (h1, v1) = ChannelTransport.pair()
            val holder1 = PresentDocumentViewModel(core.documents(), Language.VI)
            assertTrue(holder1.start(h1))
            val verdict1 = async { police.verify(holder1.state.value.qr!!, VerifierRequest.AgeOver18, v1) }
            assertTrue(holder1.awaitRequest(), holder1.state.value.error.toString())
            assertEquals(
                "Cảnh sát giao thông / Traffic police (demo reader)",
                holder1.state.value.request?.requester?.commonName,
            )
            assertTrue(holder1.approve(PASSCODE), holder1.state.value.error.toString())
            assertTrue(verdict1.await())
            assertEquals(VerdictOverall.Valid, police.state.value.verdict?.overall)

            // The recorded response replayed into a fresh session of the same phone.
            val (h2, v2) = ChannelTransport.pair()
            val holder2 = PresentDocumentViewModel(core.documents(), Language.VI)
            assertTrue(holder2.start(h2))
            h1.sent.forEach { v2.inbox.send(it) }
            assertTrue(police.verify(holder2.state.value.qr!!, VerifierRequest.AgeOver18, v2))
            val replayed = police.state.value.verdict?.overall as VerdictOverall.Invalid
            assertEquals("mdoc.session_decrypt_failed", replayed.failing.code)
            assertTrue(holder2.decline())

            // One bit of the response flipped in transit.
            var n = 0
            val (h3, v3) = ChannelTransport.pair { f ->
                n += 1
                if (n == 1) f.copyOf().also { it[40] = (it[40].toInt() xor 1).toByte() } else f
            }
            val holder3 = PresentDocumentViewModel(core.documents(), Language.VI)
            assertTrue(holder3.start(h3))
            val verdict3 = async { police.verify(holder3.state.value.qr!!, VerifierRequest.AgeOver18, v3) }
            assertTrue(holder3.awaitRequest())
            assertTrue(holder3.approve(PASSCODE))
            assertTrue(verdict3.await())
            val tampered = police.state.value.verdict?.overall as VerdictOverall.Invalid
            assertEquals("mdoc.session_decrypt_failed", tampered.failing.code)

            // The hospital may not ask for the licence's categories and number.
            val (h4, v4) = ChannelTransport.pair()
            val holder4 = PresentDocumentViewModel(core.documents(), Language.VI)
            assertTrue(holder4.start(h4))
            val hospitalSession = hospital.startSession(holder4.state.value.qr!!, VerifierRequest.DrivingLicenceCheck, v4)
            assertFalse(holder4.awaitRequest())
            assertEquals("mdoc.reader_not_authorised", holder4.state.value.error?.code)
            assertTrue(hospitalSession.awaitResponse().overall is VerdictOverall.Invalid)
        }
    }
}
