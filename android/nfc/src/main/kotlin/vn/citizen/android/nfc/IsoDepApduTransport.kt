package vn.citizen.android.nfc

import android.nfc.Tag
import android.nfc.TagLostException
import android.nfc.tech.IsoDep
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.coroutineScope
import vn.citizen.core.ApduTransport
import vn.citizen.core.ApduTransportException
import java.io.IOException

/**
 * The calls of [IsoDep] the adapter makes. An interface so that the JVM tests (android/jvm) can
 * drive [IsoDepApduTransport] with a fake tag; [AndroidIsoDepTag] is the real one.
 */
interface IsoDepTag {
    /** `IsoDep.setTimeout`/`getTimeout`, milliseconds. */
    var timeout: Int

    /** `IsoDep.getMaxTransceiveLength`: the largest command the controller can send. */
    val maxTransceiveLength: Int

    /** `IsoDep.isExtendedLengthApduSupported`. */
    val isExtendedLengthApduSupported: Boolean

    /** `IsoDep.isConnected`. */
    val isConnected: Boolean

    /** `IsoDep.connect`. */
    fun connect()

    /** `IsoDep.transceive`: blocks until the card answers, the timeout passes or [close] is called. */
    fun transceive(data: ByteArray): ByteArray

    /** `IsoDep.close`: also aborts a [transceive] in progress (it then throws an IOException). */
    fun close()
}

/** The real tag: [IsoDep] of a discovered [Tag]. */
class AndroidIsoDepTag(private val isoDep: IsoDep) : IsoDepTag {
    override var timeout: Int
        get() = isoDep.timeout
        set(value) {
            isoDep.timeout = value
        }
    override val maxTransceiveLength: Int get() = isoDep.maxTransceiveLength
    override val isExtendedLengthApduSupported: Boolean get() = isoDep.isExtendedLengthApduSupported
    override val isConnected: Boolean get() = isoDep.isConnected
    override fun connect() = isoDep.connect()
    override fun transceive(data: ByteArray): ByteArray = isoDep.transceive(data)
    override fun close() = isoDep.close()
}

/**
 * The core's [ApduTransport] over an ISO 14443-4 tag (the CCCD's chip), for the chip reader of
 * issue 12 (ARCHITECTURE.md, decision 29).
 *
 * - **Blocking I/O off the main thread:** `IsoDep.transceive` blocks; it runs on [dispatcher]
 *   (`Dispatchers.IO`).
 * - **Timeout:** [timeoutMillis] goes to `IsoDep.setTimeout`. PACE's key agreement on
 *   brainpoolP256r1 takes the chip several hundred milliseconds; Android's default (~1 s on many
 *   devices) is too tight for some cards, hence 5 s.
 * - **Extended length:** reported from `isExtendedLengthApduSupported`, and the maximum APDU from
 *   `getMaxTransceiveLength`; the core chains short READ BINARY commands when the phone cannot.
 * - **Cancellation:** the core cancels by dropping the future, which UniFFI turns into cancelling
 *   this coroutine. `IsoDep.transceive` ignores thread interrupts, so the adapter closes the tag:
 *   the blocked call then returns with an IOException, and the coroutine ends with the
 *   cancellation. The card session is over after that; the core restarts from SELECT.
 * - **Errors:** `TagLostException` (card left the field) and `SecurityException` (stale tag
 *   after a removal) are [ApduTransportException.CardRemoved], retryable; an I/O error that
 *   says it timed out is [ApduTransportException.Timeout]; the rest are
 *   [ApduTransportException.Other]. Reasons never contain APDU bytes.
 */
class IsoDepApduTransport(
    private val tag: IsoDepTag,
    timeoutMillis: Int = DEFAULT_TIMEOUT_MILLIS,
    private val dispatcher: CoroutineDispatcher = Dispatchers.IO,
) : ApduTransport {

    init {
        tag.timeout = timeoutMillis
    }

    override suspend fun transceive(command: ByteArray): ByteArray = coroutineScope {
        // The child returns its failure as a value: after a cancellation the blocked call ends
        // with an IOException (the tag was closed), which must not replace the cancellation.
        val exchange = async(dispatcher) { runCatching { exchange(command) } }
        try {
            exchange.await().getOrThrow()
        } catch (e: CancellationException) {
            // Our caller was cancelled (await is cancellable): abort the blocked transceive.
            runCatching { tag.close() }
            throw e
        }
    }

    override fun maxApduLength(): Int = tag.maxTransceiveLength.coerceAtLeast(0)

    override fun supportsExtendedLength(): Boolean = tag.isExtendedLengthApduSupported

    private fun exchange(command: ByteArray): ByteArray {
        val max = tag.maxTransceiveLength
        if (command.size > max) {
            throw ApduTransportException.Other("command of ${command.size} bytes exceeds the tag's maximum of $max")
        }
        return try {
            if (!tag.isConnected) tag.connect()
            tag.transceive(command)
        } catch (e: TagLostException) {
            throw ApduTransportException.CardRemoved("tag lost: ${e.message}")
        } catch (e: SecurityException) {
            throw ApduTransportException.CardRemoved("tag out of date: ${e.message}")
        } catch (e: IOException) {
            throw if (e.message.orEmpty().contains("time", ignoreCase = true) &&
                e.message.orEmpty().contains("out", ignoreCase = true)
            ) {
                ApduTransportException.Timeout("${e.javaClass.simpleName}: ${e.message}")
            } else {
                ApduTransportException.Other("${e.javaClass.simpleName}: ${e.message}")
            }
        }
    }

    companion object {
        /** Milliseconds for `IsoDep.setTimeout` (see the class documentation). */
        const val DEFAULT_TIMEOUT_MILLIS = 5_000

        /** The transport for a discovered tag; `null` when the tag does not speak ISO-DEP. */
        fun of(tag: Tag, timeoutMillis: Int = DEFAULT_TIMEOUT_MILLIS): IsoDepApduTransport? =
            IsoDep.get(tag)?.let { IsoDepApduTransport(AndroidIsoDepTag(it), timeoutMillis) }
    }
}
