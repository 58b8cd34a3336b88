package vn.citizen.android.ble

import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.yield
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import java.util.UUID

/**
 * [MdocBleLink], the platform-free half of the BLE adapters, driven as the framework callbacks
 * would drive it: the State values of ISO/IEC 18013-5 (start 0x01, end 0x02), MTU → frame size,
 * frames queued in order across a slow reader, one frame in flight, End and disconnect, the
 * timeouts, a flooding or out-of-order peer.
 */
class MdocBleLinkTest {

    private fun openLink(receiveMs: Long = 2_000, sendMs: Long = 2_000, maxBytes: Int = 1 shl 20) =
        MdocBleLink(receiveMs, sendMs, maxBytes).apply { onState(byteArrayOf(0x01)) }

    @Test
    fun `the ISO 18013-5 UUIDs and State values`() {
        assertEquals(UUID.fromString("00000001-A123-48CE-896B-4C76973373E6"), MdocBle.STATE)
        assertEquals(UUID.fromString("00000002-A123-48CE-896B-4C76973373E6"), MdocBle.CLIENT_TO_SERVER)
        assertEquals(UUID.fromString("00000003-A123-48CE-896B-4C76973373E6"), MdocBle.SERVER_TO_CLIENT)
        assertEquals(0x01.toByte(), MdocBle.STATE_START)
        assertEquals(0x02.toByte(), MdocBle.STATE_END)
    }

    @Test
    fun `max frame size is the negotiated MTU minus 3, within the attribute bounds`() {
        val link = MdocBleLink()
        assertEquals(20, link.maxFrameSize())
        link.onMtu(185)
        assertEquals(182, link.maxFrameSize())
        link.onMtu(517)
        assertEquals(512, link.maxFrameSize())
        link.onMtu(5) // nonsense from a stack: never below the default
        assertEquals(20, link.maxFrameSize())
    }

    @Test
    fun `State start opens the session and frames come out in order`() = runBlocking<Unit> {
        val link = MdocBleLink()
        assertEquals(MdocBleLink.State.WAITING, link.current)
        link.onState(byteArrayOf(MdocBle.STATE_START))
        assertEquals(MdocBleLink.State.OPEN, link.current)
        link.awaitOpen(100)
        val frames = (0 until 50).map { byteArrayOf(if (it == 49) 0x00 else 0x01, it.toByte()) }
        frames.forEach(link::onFrame)
        frames.forEach { assertArrayEquals(it, link.receive()) }
    }

    @Test
    fun `a receiver waiting before the frame arrives gets it`() = runBlocking<Unit> {
        val link = openLink()
        val waiting = async(Dispatchers.Default, start = CoroutineStart.UNDISPATCHED) { link.receive() }
        yield()
        link.onFrame(byteArrayOf(0x00, 0x42))
        assertArrayEquals(byteArrayOf(0x00, 0x42), waiting.await())
    }

    @Test
    fun `the received frame is a copy of the stack's buffer`() = runBlocking<Unit> {
        val link = openLink()
        val buffer = byteArrayOf(0x00, 1, 2)
        link.onFrame(buffer)
        buffer[1] = 9
        assertArrayEquals(byteArrayOf(0x00, 1, 2), link.receive())
    }

    @Test
    fun `State end from the peer ends the session after the frames already received`() = runBlocking<Unit> {
        val link = openLink()
        link.onFrame(byteArrayOf(0x00, 7))
        link.onState(byteArrayOf(MdocBle.STATE_END))
        assertEquals(MdocBleLink.State.ENDED, link.current)
        assertArrayEquals(byteArrayOf(0x00, 7), link.receive())
        val e = assertThrows<BleLinkException.Disconnected> { link.receive() }
        assertTrue(e.reason.contains("ended"))
        assertThrows<BleLinkException.Disconnected> { link.send(byteArrayOf(0x00, 1)) { true } }
        assertFalse(link.close(), "no State=end back to a peer that ended the session")
    }

    @Test
    fun `a disconnect wakes a waiting receiver with Disconnected`() = runBlocking<Unit> {
        val link = openLink(receiveMs = 10_000)
        val waiting = async(Dispatchers.Default) { runCatching { link.receive() } }
        yield()
        link.onDisconnected("the reader disconnected (status 8)")
        val e = waiting.await().exceptionOrNull()
        assertTrue(e is BleLinkException.Disconnected && e.reason.contains("status 8"), "$e")
    }

    @Test
    fun `nothing received within the timeout is Timeout`() = runBlocking<Unit> {
        val link = openLink(receiveMs = 50)
        assertThrows<BleLinkException.Timeout> { link.receive() }
        // The session itself is still open: a later frame is delivered.
        link.onFrame(byteArrayOf(0x00, 1))
        assertArrayEquals(byteArrayOf(0x00, 1), link.receive())
    }

    @Test
    fun `waiting for a reader that never starts is Timeout`() = runBlocking<Unit> {
        val link = MdocBleLink()
        assertThrows<BleLinkException.Timeout> { link.awaitOpen(50) }
    }

    @Test
    fun `a frame before State start or an unknown State value ends the session`() = runBlocking<Unit> {
        val early = MdocBleLink()
        early.onFrame(byteArrayOf(0x00, 1))
        assertEquals(MdocBleLink.State.ENDED, early.current)
        assertThrows<BleLinkException.Other> { early.receive() }

        val odd = openLink()
        odd.onState(byteArrayOf(0x07))
        assertThrows<BleLinkException.Other> { odd.receive() }
    }

    @Test
    fun `a flooding peer is cut off at the byte bound`() = runBlocking<Unit> {
        val link = openLink(maxBytes = 100)
        repeat(5) { link.onFrame(ByteArray(20) { 1 }) } // exactly 100 bytes: kept
        assertEquals(MdocBleLink.State.OPEN, link.current)
        link.onFrame(byteArrayOf(0x00)) // one more byte: cut off
        assertEquals(MdocBleLink.State.ENDED, link.current)
        repeat(5) { assertEquals(20, link.receive().size) }
        val e = assertThrows<BleLinkException.Other> { link.receive() }
        assertTrue(e.reason.contains("flooding"))
    }

    @Test
    fun `reading frees the bound`() = runBlocking<Unit> {
        val link = openLink(maxBytes = 40)
        repeat(10) {
            link.onFrame(ByteArray(20))
            link.onFrame(ByteArray(20))
            link.receive()
            link.receive()
        }
        assertEquals(MdocBleLink.State.OPEN, link.current)
    }

    @Test
    fun `send hands one frame at a time to the stack and completes when it is sent`() = runBlocking<Unit> {
        val link = openLink()
        // Both senders run on other threads; the list is shared with them.
        val transmitted = java.util.concurrent.CopyOnWriteArrayList<ByteArray>()
        val first = launch(Dispatchers.Default) { link.send(byteArrayOf(0x01, 1)) { transmitted += it; true } }
        // The second send starts only once the first frame is with the stack: launching both at once
        // let either take the link first, and the order below then failed now and then.
        while (transmitted.isEmpty()) yield()
        val second = launch(Dispatchers.Default) { link.send(byteArrayOf(0x00, 2)) { transmitted += it; true } }
        Thread.sleep(50)
        assertEquals(1, transmitted.size, "the second frame waits for the first one's onSent")
        link.onSent(true)
        while (transmitted.size < 2) yield()
        link.onSent(true)
        first.join()
        second.join()
        assertEquals(listOf(1, 2), transmitted.map { it[1].toInt() })
    }

    @Test
    fun `send refuses what does not fit, before the start, and a refusing stack`() = runBlocking<Unit> {
        val waiting = MdocBleLink()
        assertThrows<BleLinkException.Other> { waiting.send(byteArrayOf(0x00, 1)) { true } }
        val link = openLink()
        link.onMtu(23)
        assertThrows<BleLinkException.Other> { link.send(ByteArray(21)) { true } }
        assertThrows<BleLinkException.Other> { link.send(ByteArray(0)) { true } }
        assertThrows<BleLinkException.Other> { link.send(ByteArray(20)) { false } }
        val failed = async(Dispatchers.Default) { runCatching { link.send(ByteArray(20)) { true } } }
        while (!failed.isCompleted) {
            link.onSent(false)
            yield()
        }
        assertTrue(failed.await().exceptionOrNull() is BleLinkException.Other)
    }

    @Test
    fun `a frame the stack never reports sent is Timeout`() = runBlocking<Unit> {
        val link = openLink(sendMs = 50)
        assertThrows<BleLinkException.Timeout> { link.send(byteArrayOf(0x00, 1)) { true } }
    }

    @Test
    fun `a disconnect during a send fails it with Disconnected`() = runBlocking<Unit> {
        val link = openLink(sendMs = 10_000)
        val sending = async(Dispatchers.Default) { runCatching { link.send(byteArrayOf(0x00, 1)) { true } } }
        Thread.sleep(50)
        link.onDisconnected("link lost")
        assertTrue(sending.await().exceptionOrNull() is BleLinkException.Disconnected)
    }

    @Test
    fun `close tells an open session's peer once and ends it`() = runBlocking<Unit> {
        val link = openLink()
        assertTrue(link.close())
        assertFalse(link.close())
        assertThrows<BleLinkException.Disconnected> { link.receive() }
        assertFalse(MdocBleLink().close(), "nothing to tell before the session started")
    }

    @Test
    fun `permissions by API level`() {
        assertEquals(
            listOf("android.permission.BLUETOOTH_ADVERTISE", "android.permission.BLUETOOTH_CONNECT"),
            MdocBlePermissions.holder(34),
        )
        assertEquals(
            listOf("android.permission.BLUETOOTH_SCAN", "android.permission.BLUETOOTH_CONNECT"),
            MdocBlePermissions.reader(31),
        )
        assertTrue("android.permission.ACCESS_FINE_LOCATION" in MdocBlePermissions.reader(30))
        assertFalse("android.permission.ACCESS_FINE_LOCATION" in MdocBlePermissions.holder(30))
    }
}
