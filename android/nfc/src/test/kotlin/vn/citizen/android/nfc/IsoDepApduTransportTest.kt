package vn.citizen.android.nfc

import android.nfc.TagLostException
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import vn.citizen.core.ApduTransportException
import java.io.IOException
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit
import kotlin.coroutines.cancellation.CancellationException

/**
 * [IsoDepApduTransport] with a fake tag: bytes in and out, the platform exceptions mapped onto
 * the core's transport errors, the limits reported, and cancellation closing the tag so that a
 * blocked `transceive` returns. `TagLostException` is the framework's own class (android-all).
 */
class IsoDepApduTransportTest {

    private class FakeTag(
        override val maxTransceiveLength: Int = 261,
        override val isExtendedLengthApduSupported: Boolean = false,
        val answer: (ByteArray) -> ByteArray = { byteArrayOf(0x90.toByte(), 0x00) },
    ) : IsoDepTag {
        override var timeout: Int = 0
        override var isConnected: Boolean = false
        val sent = mutableListOf<ByteArray>()
        @Volatile var closed = false

        override fun connect() {
            isConnected = true
        }

        override fun transceive(data: ByteArray): ByteArray {
            check(isConnected) { "Call connect() first!" }
            sent += data
            return answer(data)
        }

        override fun close() {
            closed = true
            isConnected = false
        }
    }

    private val select = byteArrayOf(0x00, 0xA4.toByte(), 0x04, 0x0C, 0x07, 0xA0.toByte(), 0x00, 0x00, 0x02, 0x47, 0x10, 0x01)

    @Test
    fun `sends the command as is, connects first and sets the timeout`() = runBlocking {
        val tag = FakeTag(answer = { byteArrayOf(0x01, 0x02, 0x90.toByte(), 0x00) })
        val transport = IsoDepApduTransport(tag, timeoutMillis = 7_000)
        assertEquals(7_000, tag.timeout)
        assertArrayEquals(byteArrayOf(0x01, 0x02, 0x90.toByte(), 0x00), transport.transceive(select))
        assertArrayEquals(select, tag.sent.single())
        assertTrue(tag.isConnected)
        val defaults = FakeTag()
        IsoDepApduTransport(defaults)
        assertEquals(IsoDepApduTransport.DEFAULT_TIMEOUT_MILLIS, defaults.timeout)
    }

    @Test
    fun `reports the tag's maximum and extended-length support`() {
        assertEquals(261, IsoDepApduTransport(FakeTag()).maxApduLength())
        assertFalse(IsoDepApduTransport(FakeTag()).supportsExtendedLength())
        val extended = IsoDepApduTransport(FakeTag(maxTransceiveLength = 65_279, isExtendedLengthApduSupported = true))
        assertEquals(65_279, extended.maxApduLength())
        assertTrue(extended.supportsExtendedLength())
    }

    @Test
    fun `a command longer than the tag can carry is refused without touching the tag`() = runBlocking {
        val tag = FakeTag(maxTransceiveLength = 8)
        val e = assertThrows<ApduTransportException.Other> { runBlocking { IsoDepApduTransport(tag).transceive(select) } }
        assertTrue(e.reason.contains("12 bytes exceeds the tag's maximum of 8"), e.reason)
        assertTrue(tag.sent.isEmpty())
    }

    @Test
    fun `platform exceptions map onto the core's transport errors`() {
        fun failingWith(t: Throwable) = IsoDepApduTransport(FakeTag(answer = { throw t }))
        val lost = assertThrows<ApduTransportException.CardRemoved> {
            runBlocking { failingWith(TagLostException("Tag was lost.")).transceive(select) }
        }
        assertTrue(lost.reason.startsWith("tag lost"), lost.reason)
        assertThrows<ApduTransportException.CardRemoved> {
            runBlocking { failingWith(SecurityException("Tag ... is out of date")).transceive(select) }
        }
        assertThrows<ApduTransportException.Timeout> {
            runBlocking { failingWith(IOException("Transceive timed out")).transceive(select) }
        }
        val other = assertThrows<ApduTransportException.Other> {
            runBlocking { failingWith(IOException("Transceive failed")).transceive(select) }
        }
        assertEquals("IOException: Transceive failed", other.reason)
    }

    @Test
    fun `cancelling the caller closes the tag and ends the blocked exchange`() {
        val inside = CountDownLatch(1)
        val released = CountDownLatch(1)
        lateinit var tag: FakeTag
        tag = FakeTag(answer = {
            inside.countDown()
            // Like IsoDep.transceive: blocks until the card answers or the tag is closed.
            while (!tag.closed) {
                Thread.sleep(5)
            }
            released.countDown()
            throw IOException("closed")
        })
        val transport = IsoDepApduTransport(tag)
        runBlocking {
            val call = async(Dispatchers.Default, start = CoroutineStart.DEFAULT) { transport.transceive(select) }
            assertTrue(inside.await(30, TimeUnit.SECONDS), "the exchange never started")
            call.cancel()
            assertThrows<CancellationException> { runBlocking { call.await() } }
        }
        assertTrue(tag.closed, "cancellation must close the tag")
        assertTrue(released.await(30, TimeUnit.SECONDS), "the blocked transceive did not return")
    }
}
