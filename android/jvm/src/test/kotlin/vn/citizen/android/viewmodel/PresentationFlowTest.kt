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
import vn.citizen.core.defaultVerifierConfig
import java.nio.file.Path

/** One end of an in-process link carrying ISO 18013-5 BLE frames (what the BLE adapter moves). */
class ChannelTransport(private val inbox: Channel<ByteArray>, private val outbox: Channel<ByteArray>) : MdocTransport {
    override fun maxFrameSize(): Int = 182
    override suspend fun sendFrame(frame: ByteArray) = outbox.send(frame)
    override suspend fun receiveFrame(): ByteArray = inbox.receive()
    override suspend fun disconnect() {}

    companion object {
        /** (holder end, verifier end). */
        fun pair(): Pair<ChannelTransport, ChannelTransport> {
            val a = Channel<ByteArray>(Channel.UNLIMITED)
            val b = Channel<ByteArray>(Channel.UNLIMITED)
            return ChannelTransport(a, b) to ChannelTransport(b, a)
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
}
