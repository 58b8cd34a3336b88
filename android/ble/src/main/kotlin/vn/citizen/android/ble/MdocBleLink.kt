package vn.citizen.android.ble

import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.TimeoutCancellationException
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.sync.Mutex
import kotlinx.coroutines.sync.withLock
import kotlinx.coroutines.withTimeout
import java.util.UUID
import vn.citizen.core.MdocTransportException

/**
 * The constants of ISO/IEC 18013-5 §8.3.3.1.1, mdoc **peripheral server** mode: the holder's
 * phone is the GATT server and advertises the service UUID of its device engagement; the reader
 * (verifier) is the GATT central. Shared by both adapters (ARCHITECTURE.md, decision 38).
 */
object MdocBle {
    /** State: the reader writes [STATE_START] to begin, either side [STATE_END] to finish (write without response, notify). */
    val STATE: UUID = UUID.fromString("00000001-a123-48ce-896b-4c76973373e6")

    /** Client2Server: the reader's frames to the holder (write without response). */
    val CLIENT_TO_SERVER: UUID = UUID.fromString("00000002-a123-48ce-896b-4c76973373e6")

    /** Server2Client: the holder's frames to the reader (notify). */
    val SERVER_TO_CLIENT: UUID = UUID.fromString("00000003-a123-48ce-896b-4c76973373e6")

    /** Client Characteristic Configuration descriptor (Bluetooth Core, GATT): enables notifications. */
    val CLIENT_CONFIG: UUID = UUID.fromString("00002902-0000-1000-8000-00805f9b34fb")

    /** State value: start of the session. */
    const val STATE_START: Byte = 0x01

    /** State value: end of the session. */
    const val STATE_END: Byte = 0x02

    /** ATT MTU before any exchange (Bluetooth Core): 23. */
    const val DEFAULT_ATT_MTU = 23

    /** The MTU the reader asks for (Android's maximum is 517; 515 is what 18013-5 readers commonly request). */
    const val REQUESTED_ATT_MTU = 515

    /** Largest attribute value (Bluetooth Core): a frame never exceeds it, whatever the MTU. */
    const val MAX_ATTRIBUTE_VALUE = 512

    /** The largest frame a notification or a write without response carries: ATT MTU − 3, within [20, 512]. */
    fun maxFrameSize(attMtu: Int): Int = (attMtu - 3).coerceIn(DEFAULT_ATT_MTU - 3, MAX_ATTRIBUTE_VALUE)
}

/**
 * Why a BLE link failed; the adapters' methods throw these. They map one to one onto the core's
 * `MdocTransportException` (Disconnected / Timeout / Other) in [toTransportError], the one place
 * that names the core's error type. Reasons never contain
 * frame bytes.
 */
sealed class BleLinkException(val reason: String) : Exception(reason) {
    /** The peer ended the session (State = end), the link dropped, or the adapter was closed. */
    class Disconnected(reason: String) : BleLinkException(reason)

    /** Nothing arrived, or a frame was not acknowledged, within the adapter's timeout. */
    class Timeout(reason: String) : BleLinkException(reason)

    /** Anything else: a refused write, a protocol violation by the peer, Bluetooth off. */
    class Other(reason: String) : BleLinkException(reason)
}

/** The core's error for a link failure: one to one onto `MdocTransportException`. */
fun toTransportError(e: BleLinkException): MdocTransportException = when (e) {
    is BleLinkException.Disconnected -> MdocTransportException.Disconnected(e.reason)
    is BleLinkException.Timeout -> MdocTransportException.Timeout(e.reason)
    is BleLinkException.Other -> MdocTransportException.Other(e.reason)
}

/**
 * The platform-free half of both BLE adapters: the session state machine, the MTU → frame size,
 * the queue of received frames, one frame in flight at a time, End and disconnect, timeouts.
 * The adapters feed it from their Bluetooth callbacks ([onConnected], [onMtu], [onState],
 * [onFrame], [onSent], [onDisconnected]) and call [receive], [send] and [close] from the core's
 * `MdocTransport` methods. Framing (the 0x01/0x00 lead byte, reassembly) is the core's: frames
 * pass through untouched. Tested with JUnit in android/jvm (MdocBleLinkTest).
 *
 * States: WAITING (advertising / connecting) → OPEN (the reader wrote State = start; for the
 * reader: after it did) → ENDED (State = end from the peer, a disconnect, a protocol error, or
 * [close]). Once ENDED, frames already received can still be read; then [receive] fails with
 * the reason it ended.
 */
class MdocBleLink(
    /** How long [receive] waits for a frame (the citizen may still be showing the QR code). */
    private val receiveTimeoutMillis: Long = DEFAULT_RECEIVE_TIMEOUT_MILLIS,
    /** How long [send] waits for the stack to take one frame (notification sent / write done). */
    private val sendTimeoutMillis: Long = DEFAULT_SEND_TIMEOUT_MILLIS,
    /** Bytes of unread frames held for the core before the peer is cut off (a flooding peer cannot fill memory). */
    private val maxQueuedBytes: Int = DEFAULT_MAX_QUEUED_BYTES,
) {
    /** Session state. */
    enum class State { WAITING, OPEN, ENDED }

    private val lock = Any()
    private var state = State.WAITING
    private var ending: BleLinkException? = null
    private var attMtu = MdocBle.DEFAULT_ATT_MTU
    private var queued = 0
    private val frames = Channel<ByteArray>(Channel.UNLIMITED)
    private val opened = CompletableDeferred<Unit>()
    private val sendLock = Mutex()
    @Volatile private var inFlight: CompletableDeferred<Boolean>? = null

    /** The current state. */
    val current: State get() = synchronized(lock) { state }

    /** The core's `maxFrameSize()`: negotiated ATT MTU − 3. */
    fun maxFrameSize(): Int = synchronized(lock) { MdocBle.maxFrameSize(attMtu) }

    /** The ATT MTU was negotiated (`onMtuChanged`). */
    fun onMtu(mtu: Int) = synchronized(lock) { attMtu = mtu.coerceAtLeast(MdocBle.DEFAULT_ATT_MTU) }

    /** Reader side: the State characteristic was written with start; the session is open. */
    fun onConnected() = open()

    /** A State value from the peer: start opens the session (holder side), end closes it. */
    fun onState(value: ByteArray) {
        when {
            value.size == 1 && value[0] == MdocBle.STATE_START -> open()
            value.size == 1 && value[0] == MdocBle.STATE_END -> end(BleLinkException.Disconnected("the other device ended the session"))
            else -> end(BleLinkException.Other("unknown State value (${value.size} bytes)"))
        }
    }

    /** A frame from the peer (Client2Server write on the holder, Server2Client notification on the reader). */
    fun onFrame(frame: ByteArray) {
        synchronized(lock) {
            when (state) {
                State.WAITING -> {
                    endLocked(BleLinkException.Other("a frame arrived before the session started"))
                    return
                }
                State.ENDED -> return
                State.OPEN -> Unit
            }
            if (queued + frame.size > maxQueuedBytes) {
                endLocked(BleLinkException.Other("more than $maxQueuedBytes bytes unread: the other device is flooding the link"))
                return
            }
            queued += frame.size
            frames.trySend(frame.copyOf())
        }
    }

    /** The stack took the frame in flight (`onNotificationSent` / `onCharacteristicWrite`). */
    fun onSent(success: Boolean) {
        inFlight?.complete(success)
    }

    /** The link dropped (`onConnectionStateChange` to disconnected, Bluetooth turned off). */
    fun onDisconnected(reason: String) = end(BleLinkException.Disconnected(reason))

    /** Wait until the session is open (the reader wrote State = start), at most [timeoutMillis]. */
    suspend fun awaitOpen(timeoutMillis: Long = receiveTimeoutMillis) {
        try {
            withTimeout(timeoutMillis) { opened.await() }
        } catch (e: TimeoutCancellationException) {
            throw BleLinkException.Timeout("no reader started the session within $timeoutMillis ms")
        }
    }

    /** The core's `receiveFrame()`: the next frame, in order. */
    suspend fun receive(): ByteArray {
        frames.tryReceive().getOrNull()?.let { return taken(it) }
        synchronized(lock) { ending }?.let { throw it }
        val frame = try {
            withTimeout(receiveTimeoutMillis) { frames.receiveCatching() }
        } catch (e: TimeoutCancellationException) {
            throw BleLinkException.Timeout("no frame from the other device within $receiveTimeoutMillis ms")
        }
        frame.getOrNull()?.let { return taken(it) }
        throw synchronized(lock) { ending } ?: BleLinkException.Disconnected("link closed")
    }

    private fun taken(frame: ByteArray): ByteArray {
        synchronized(lock) { queued -= frame.size }
        return frame
    }

    /**
     * The core's `sendFrame()`: one frame in flight at a time. [transmit] hands the frame to the
     * stack (`notifyCharacteristicChanged` / `writeCharacteristic`) and says whether it took it;
     * the send completes at [onSent].
     */
    suspend fun send(frame: ByteArray, transmit: (ByteArray) -> Boolean) {
        sendLock.withLock {
            synchronized(lock) {
                when (state) {
                    State.WAITING -> throw BleLinkException.Other("the session has not started")
                    State.ENDED -> throw ending ?: BleLinkException.Disconnected("link closed")
                    State.OPEN -> Unit
                }
                val max = MdocBle.maxFrameSize(attMtu)
                if (frame.size > max || frame.isEmpty()) {
                    throw BleLinkException.Other("frame of ${frame.size} bytes does not fit the link (1..$max)")
                }
            }
            val sent = CompletableDeferred<Boolean>()
            inFlight = sent
            try {
                if (!transmit(frame)) throw BleLinkException.Other("the Bluetooth stack refused the frame")
                val ok = try {
                    withTimeout(sendTimeoutMillis) { sent.await() }
                } catch (e: TimeoutCancellationException) {
                    throw BleLinkException.Timeout("the frame was not sent within $sendTimeoutMillis ms")
                }
                if (!ok) {
                    synchronized(lock) { ending }?.let { throw it }
                    throw BleLinkException.Other("the Bluetooth stack failed to send the frame")
                }
            } finally {
                inFlight = null
            }
        }
    }

    /**
     * The core's `close()`: ends the session. Returns true when the peer should be told (State =
     * end), i.e. the session was not already ended by the peer or the link.
     */
    fun close(): Boolean = synchronized(lock) {
        val tell = state == State.OPEN
        endLocked(BleLinkException.Disconnected("the session was closed on this device"))
        tell
    }

    private fun open() = synchronized(lock) {
        if (state == State.WAITING) {
            state = State.OPEN
            opened.complete(Unit)
        }
    }

    private fun end(e: BleLinkException) = synchronized(lock) { endLocked(e) }

    private fun endLocked(e: BleLinkException) {
        if (state == State.ENDED) return
        state = State.ENDED
        ending = e
        frames.close()
        opened.completeExceptionally(e)
        inFlight?.complete(false)
    }

    companion object {
        /** 60 s: the reader may still be scanning the QR code when the holder starts waiting. */
        const val DEFAULT_RECEIVE_TIMEOUT_MILLIS = 60_000L

        /** 5 s for the stack to take one frame. */
        const val DEFAULT_SEND_TIMEOUT_MILLIS = 5_000L

        /** 2 MiB: above the core's largest message bound, so a well-behaved peer never reaches it. */
        const val DEFAULT_MAX_QUEUED_BYTES = 2 * 1024 * 1024
    }
}
