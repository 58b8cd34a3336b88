package vn.citizen.android.keystore

import vn.citizen.core.DeviceKeyStoreException
import vn.citizen.core.DeviceSignature
import vn.citizen.core.KeyWrapException
import vn.citizen.core.SignatureFormat

/**
 * The part of the Android Keystore adapters that does not need Android: signature encoding,
 * mapping platform exceptions onto the core's error enums, key alias naming. Pure Kotlin on
 * purpose (it names Android exception classes by their class name, it does not import them), so
 * it compiles and is tested on the plain JVM (android/jvm). Mirrored by the Swift
 * `KeystoreSupport` enum of the iOS shell (DER handling, OSStatus mapping, alias naming).
 */
object KeystoreSupport {
    /** P-256 scalar width: `r` and `s` are 32 bytes each in the raw (IEEE P1363) form. */
    const val P256_SCALAR_BYTES = 32

    /** Prefix of every AndroidKeyStore alias this app creates (the core's aliases follow it). */
    const val ALIAS_PREFIX = "vn.citizen.core/"

    /** AndroidKeyStore alias for the core's key alias (device keys and the data-key wrapper). */
    fun keystoreAlias(coreAlias: String): String {
        require(coreAlias.isNotEmpty()) { "empty key alias" }
        return ALIAS_PREFIX + coreAlias
    }

    /** The core's alias back from a keystore alias, or null if this app did not make it. */
    fun coreAlias(keystoreAlias: String): String? =
        keystoreAlias.takeIf { it.startsWith(ALIAS_PREFIX) && it.length > ALIAS_PREFIX.length }
            ?.removePrefix(ALIAS_PREFIX)

    // ---------------------------------------------------------------------------------------
    // ECDSA signature encodings

    /**
     * `SHA256withECDSA` output (ASN.1 DER `SEQUENCE { r INTEGER, s INTEGER }`) as the core's
     * [DeviceSignature], after checking it is strict DER of a P-256 signature. The core
     * normalises and verifies it; a malformed one is reported here as a key store failure, not
     * passed on.
     */
    fun derSignature(der: ByteArray): DeviceSignature {
        try {
            derToRaw(der)
        } catch (e: IllegalArgumentException) {
            throw DeviceKeyStoreException.Failure("key store returned a malformed signature: ${e.message}")
        }
        return DeviceSignature(bytes = der, format = SignatureFormat.DER)
    }

    /**
     * Strict DER ECDSA signature → fixed-width `r || s` (64 bytes for P-256). Rejects BER
     * (long-form short lengths, non-minimal integers), negative or zero integers, integers wider
     * than [width] bytes, and trailing bytes.
     *
     * @throws IllegalArgumentException when [der] is not such a signature.
     */
    fun derToRaw(der: ByteArray, width: Int = P256_SCALAR_BYTES): ByteArray {
        val reader = DerReader(der)
        reader.expect(0x30, "SEQUENCE")
        val seqLen = reader.length()
        require(seqLen == der.size - reader.pos) { "SEQUENCE length $seqLen does not match ${der.size - reader.pos} remaining bytes" }
        val r = reader.positiveInteger("r", width)
        val s = reader.positiveInteger("s", width)
        require(reader.pos == der.size) { "trailing bytes after s" }
        return ByteArray(2 * width).also {
            r.copyInto(it, width - r.size)
            s.copyInto(it, 2 * width - s.size)
        }
    }

    /** Fixed-width `r || s` → strict DER (the reverse of [derToRaw]). */
    fun rawToDer(raw: ByteArray): ByteArray {
        require(raw.isNotEmpty() && raw.size % 2 == 0) { "raw signature must be r || s of equal width" }
        val width = raw.size / 2
        fun integer(value: ByteArray): ByteArray {
            var start = 0
            while (start < value.size - 1 && value[start] == 0.toByte()) start++
            val minimal = value.copyOfRange(start, value.size)
            require(!minimal.all { it == 0.toByte() }) { "zero integer" }
            val body = if (minimal[0].toInt() and 0x80 != 0) byteArrayOf(0) + minimal else minimal
            return byteArrayOf(0x02, body.size.toByte()) + body
        }
        val content = integer(raw.copyOfRange(0, width)) + integer(raw.copyOfRange(width, raw.size))
        require(content.size < 0x80) { "signature too long for short-form DER" }
        return byteArrayOf(0x30, content.size.toByte()) + content
    }

    /** Whether [der] is exactly the strict DER encoding of its own `r || s` (round trip). */
    fun isStrictDer(der: ByteArray, width: Int = P256_SCALAR_BYTES): Boolean =
        try {
            rawToDer(derToRaw(der, width)).contentEquals(der)
        } catch (e: IllegalArgumentException) {
            false
        }

    private class DerReader(private val bytes: ByteArray) {
        var pos = 0

        private fun next(what: String): Int {
            require(pos < bytes.size) { "truncated before $what" }
            return bytes[pos++].toInt() and 0xff
        }

        fun expect(tag: Int, what: String) {
            val got = next(what)
            require(got == tag) { "expected $what (0x${tag.toString(16)}), got 0x${got.toString(16)}" }
        }

        fun length(): Int {
            val first = next("length")
            if (first < 0x80) return first
            require(first == 0x81) { "unsupported length form 0x${first.toString(16)}" }
            val len = next("length")
            require(len >= 0x80) { "non-minimal long-form length $len" }
            return len
        }

        fun positiveInteger(name: String, width: Int): ByteArray {
            expect(0x02, "INTEGER $name")
            val len = length()
            require(len >= 1) { "empty INTEGER $name" }
            require(pos + len <= bytes.size) { "INTEGER $name truncated" }
            val value = bytes.copyOfRange(pos, pos + len)
            pos += len
            require(value[0].toInt() and 0x80 == 0) { "negative INTEGER $name" }
            if (value.size > 1 && value[0] == 0.toByte()) {
                require(value[1].toInt() and 0x80 != 0) { "non-minimal INTEGER $name (redundant leading zero)" }
            }
            val magnitude = if (value[0] == 0.toByte() && value.size > 1) value.copyOfRange(1, value.size) else value
            require(magnitude.size <= width) { "INTEGER $name wider than $width bytes" }
            require(!magnitude.all { it == 0.toByte() }) { "zero INTEGER $name" }
            return magnitude
        }
    }

    // ---------------------------------------------------------------------------------------
    // Exception mapping

    /** Android classes named here (not imported: this file stays free of Android). */
    object AndroidExceptions {
        const val KEY_PERMANENTLY_INVALIDATED = "android.security.keystore.KeyPermanentlyInvalidatedException"
        const val USER_NOT_AUTHENTICATED = "android.security.keystore.UserNotAuthenticatedException"
        const val STRONGBOX_UNAVAILABLE = "android.security.keystore.StrongBoxUnavailableException"
        const val KEYSTORE_EXCEPTION = "android.security.KeyStoreException"
        const val BACKEND_BUSY = "android.security.keystore.BackendBusyException"
        const val UNRECOVERABLE_KEY = "java.security.UnrecoverableKeyException"
        const val AEAD_BAD_TAG = "javax.crypto.AEADBadTagException"
    }

    /**
     * A platform exception (anything the Keystore, the key generator, `Signature` or the
     * [Authenticator] threw) as the core's [DeviceKeyStoreException]. The whole cause chain is
     * searched, since the Keystore wraps (`InvalidKeyException` ← `KeyPermanentlyInvalidatedException`,
     * `ProviderException` ← `KeyStoreException`), and each class's superclasses count, since
     * vendors subclass.
     *
     * - key permanently invalidated (biometrics enrolled/removed, lock screen removed) or
     *   unrecoverable → [DeviceKeyStoreException.KeyInvalidated]: the core starts re-binding;
     * - the citizen dismissed the prompt → [DeviceKeyStoreException.UserCancelled];
     * - not authenticated / authentication failed → [DeviceKeyStoreException.AuthenticationFailed];
     * - StrongBox missing, keystore busy → [DeviceKeyStoreException.Unavailable];
     * - anything else → [DeviceKeyStoreException.Failure].
     */
    fun toDeviceKeyStoreException(error: Throwable, operation: String): DeviceKeyStoreException {
        if (error is DeviceKeyStoreException) return error
        val chain = causes(error)
        val reason = "$operation: ${describe(chain)}"
        return when {
            chain.any { it is AuthenticationCancelledException } -> DeviceKeyStoreException.UserCancelled(reason)
            chain.any { it.isA(AndroidExceptions.KEY_PERMANENTLY_INVALIDATED) || it.isA(AndroidExceptions.UNRECOVERABLE_KEY) } ->
                DeviceKeyStoreException.KeyInvalidated(reason)
            chain.any { it is AuthenticationFailedException || it.isA(AndroidExceptions.USER_NOT_AUTHENTICATED) } ->
                DeviceKeyStoreException.AuthenticationFailed(reason)
            chain.any { it.isA(AndroidExceptions.STRONGBOX_UNAVAILABLE) || it.isA(AndroidExceptions.BACKEND_BUSY) } ->
                DeviceKeyStoreException.Unavailable(reason)
            chain.any { it is KeyNotFoundException } -> DeviceKeyStoreException.KeyNotFound(reason)
            else -> DeviceKeyStoreException.Failure(reason)
        }
    }

    /**
     * A platform exception as the core's [KeyWrapException]: the wrapping key gone or invalidated
     * → [KeyWrapException.KeyUnavailable] (the core reports `storage.data_key_lost` and the
     * citizen re-enrolls); a blob that does not authenticate → [KeyWrapException.UnwrapFailed];
     * the key usable but not right now — `UserNotAuthenticatedException` (a key bound to a recent
     * unlock), keystore busy → [KeyWrapException.TemporarilyUnavailable] (`storage.data_key_locked`:
     * retry, never erase); anything else → [KeyWrapException.Failure] (also treated as locked).
     */
    fun toKeyWrapException(error: Throwable, operation: String): KeyWrapException {
        if (error is KeyWrapException) return error
        val chain = causes(error)
        val reason = "$operation: ${describe(chain)}"
        return when {
            chain.any {
                it is KeyNotFoundException || it.isA(AndroidExceptions.KEY_PERMANENTLY_INVALIDATED) ||
                    it.isA(AndroidExceptions.UNRECOVERABLE_KEY)
            } -> KeyWrapException.KeyUnavailable(reason)
            chain.any { it.isA(AndroidExceptions.AEAD_BAD_TAG) || it is MalformedBlobException } -> KeyWrapException.UnwrapFailed(reason)
            chain.any {
                it.isA(AndroidExceptions.USER_NOT_AUTHENTICATED) || it.isA(AndroidExceptions.BACKEND_BUSY)
            } -> KeyWrapException.TemporarilyUnavailable(reason)
            else -> KeyWrapException.Failure(reason)
        }
    }

    /**
     * Run [block], mapping whatever it throws with [toDeviceKeyStoreException] — except a
     * coroutine's `CancellationException`, which passes through so that cancellation stays
     * cancellation (the core dropped the call).
     */
    inline fun <T> deviceKeyStore(operation: String, block: () -> T): T =
        try {
            block()
        } catch (e: kotlinx.coroutines.CancellationException) {
            throw e
        } catch (e: Exception) {
            throw toDeviceKeyStoreException(e, operation)
        }

    /** Run [block], mapping whatever it throws with [toKeyWrapException]. */
    inline fun <T> keyWrapper(operation: String, block: () -> T): T =
        try {
            block()
        } catch (e: Exception) {
            throw toKeyWrapException(e, operation)
        }

    private fun causes(error: Throwable): List<Throwable> {
        val seen = ArrayList<Throwable>()
        var current: Throwable? = error
        while (current != null && seen.none { it === current } && seen.size < 16) {
            seen += current
            current = current.cause
        }
        return seen
    }

    private fun Throwable.isA(className: String): Boolean {
        var cls: Class<*>? = javaClass
        while (cls != null) {
            if (cls.name == className) return true
            cls = cls.superclass
        }
        return false
    }

    // Class names and messages only: never key material, and short enough for a log line.
    private fun describe(chain: List<Throwable>): String =
        chain.joinToString(" <- ") { t -> t.javaClass.simpleName + (t.message?.let { ": ${it.take(120)}" } ?: "") }
}

/** The citizen dismissed the biometric / device-credential prompt ([Authenticator]). */
class AuthenticationCancelledException(message: String = "authentication cancelled") : Exception(message)

/** The prompt ended without a verified user (too many attempts, no credential enrolled, error). */
class AuthenticationFailedException(message: String, cause: Throwable? = null) : Exception(message, cause)

/** No key under the alias (the adapters throw it; mapped to KeyNotFound / KeyUnavailable). */
class KeyNotFoundException(alias: String) : Exception("no key under alias $alias")

/** A wrapped data-key blob too short or otherwise not produced by the wrapper. */
class MalformedBlobException(message: String) : Exception(message)
