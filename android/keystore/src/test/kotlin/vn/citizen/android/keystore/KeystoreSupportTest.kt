package vn.citizen.android.keystore

import android.security.keystore.KeyPermanentlyInvalidatedException
import android.security.keystore.StrongBoxUnavailableException
import android.security.keystore.UserNotAuthenticatedException
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertSame
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import vn.citizen.core.DeviceKeyStoreException
import vn.citizen.core.KeyWrapException
import vn.citizen.core.SignatureFormat
import java.security.InvalidKeyException
import java.security.KeyPairGenerator
import java.security.ProviderException
import java.security.Signature
import java.security.UnrecoverableKeyException
import java.security.spec.ECGenParameterSpec
import javax.crypto.AEADBadTagException

/**
 * The off-device half of the Android Keystore adapters: DER ↔ raw ECDSA signatures and the
 * mapping of platform exceptions onto the core's errors. The Android exception classes are the
 * framework's own (android-all on the JVM, or the mockable android.jar in a Gradle unit test);
 * the "vendor" and wrapping cases are fakes shaped like what devices throw.
 */
class KeystoreSupportTest {

    // ---- DER → raw -------------------------------------------------------------------------

    @Test
    fun `real P-256 signatures convert to 64-byte raw and back, and verify in P1363 form`() {
        val pair = KeyPairGenerator.getInstance("EC").apply { initialize(ECGenParameterSpec("secp256r1")) }.generateKeyPair()
        var sawShortScalar = false
        repeat(300) { i ->
            val message = "message $i".toByteArray()
            val der = Signature.getInstance("SHA256withECDSA").run { initSign(pair.private); update(message); sign() }
            val raw = KeystoreSupport.derToRaw(der)
            assertEquals(64, raw.size)
            assertArrayEquals(der, KeystoreSupport.rawToDer(raw))
            assertTrue(KeystoreSupport.isStrictDer(der))
            val p1363 = Signature.getInstance("SHA256withECDSAinP1363Format").run { initVerify(pair.public); update(message); this }
            assertTrue(p1363.verify(raw), "raw form of signature $i does not verify")
            if (raw[0] == 0.toByte() || raw[32] == 0.toByte()) sawShortScalar = true
            val signature = KeystoreSupport.derSignature(der)
            assertEquals(SignatureFormat.DER, signature.format)
            assertArrayEquals(der, signature.bytes)
        }
        // Not asserted (chance): whether a scalar with a leading zero byte came up naturally;
        // the hand-made vectors below cover it deterministically.
        println("KeystoreSupportTest: short scalar seen in random signatures: $sawShortScalar")
    }

    @Test
    fun `leading-zero and short scalars are padded to 32 bytes`() {
        val highBitR = ByteArray(32) { 0xff.toByte() } // needs a 0x00 in DER
        val shortS = ByteArray(31) { 0x11 } // 31 bytes: a leading zero byte in raw form
        val der = derSeq(derInt(byteArrayOf(0) + highBitR), derInt(shortS))
        val raw = KeystoreSupport.derToRaw(der)
        assertArrayEquals(highBitR, raw.copyOfRange(0, 32))
        assertEquals(0, raw[32].toInt())
        assertArrayEquals(shortS, raw.copyOfRange(33, 64))
        assertArrayEquals(der, KeystoreSupport.rawToDer(raw))

        val tiny = KeystoreSupport.derToRaw(derSeq(derInt(byteArrayOf(1)), derInt(byteArrayOf(0x7f))))
        assertArrayEquals(ByteArray(31) + byteArrayOf(1) + ByteArray(31) + byteArrayOf(0x7f), tiny)

        // s with the high bit set after a short r: 0x00 prefix in DER, 32 bytes raw.
        val s = ByteArray(32) { if (it == 0) 0x80.toByte() else 0x01 }
        val der2 = derSeq(derInt(byteArrayOf(0x05)), derInt(byteArrayOf(0) + s))
        assertArrayEquals(s, KeystoreSupport.derToRaw(der2).copyOfRange(32, 64))
        assertArrayEquals(der2, KeystoreSupport.rawToDer(KeystoreSupport.derToRaw(der2)))
    }

    @Test
    fun `malformed DER is refused, and reported to the core as a key store failure`() {
        val r = ByteArray(32) { 0x22 }
        val s = ByteArray(32) { 0x33 }
        val good = derSeq(derInt(r), derInt(s))
        val malformed = mapOf(
            "empty" to byteArrayOf(),
            "not a SEQUENCE" to byteArrayOf(0x31) + good.copyOfRange(1, good.size),
            "SEQUENCE length too long" to byteArrayOf(0x30, (good[1] + 1).toByte()) + good.copyOfRange(2, good.size),
            "truncated" to good.copyOfRange(0, good.size - 1),
            "trailing byte" to byteArrayOf(0x30, (good[1] + 1).toByte()) + good.copyOfRange(2, good.size) + byteArrayOf(0),
            "negative r" to derSeq(derInt(byteArrayOf(0x80.toByte()) + ByteArray(31) { 1 }), derInt(s)),
            "redundant leading zero" to derSeq(derInt(byteArrayOf(0, 0x01) + ByteArray(30) { 1 }), derInt(s)),
            "r wider than 32 bytes" to derSeq(derInt(ByteArray(33) { 0x01 }), derInt(s)),
            "zero s" to derSeq(derInt(r), derInt(byteArrayOf(0))),
            "empty INTEGER" to derSeq(byteArrayOf(0x02, 0x00), derInt(s)),
            "long-form length for a short SEQUENCE" to byteArrayOf(0x30, 0x81.toByte(), good[1]) + good.copyOfRange(2, good.size),
            "BIT STRING instead of INTEGER" to derSeq(byteArrayOf(0x03, 0x01, 0x01), derInt(s)),
            "one INTEGER only" to derSeq(derInt(r)),
        )
        for ((name, der) in malformed) {
            assertThrows<IllegalArgumentException>(name) { KeystoreSupport.derToRaw(der) }
            assertFalse(KeystoreSupport.isStrictDer(der), name)
            val e = assertThrows<DeviceKeyStoreException.Failure>(name) { KeystoreSupport.derSignature(der) }
            assertTrue(e.reason.contains("malformed signature"), e.reason)
        }
        assertTrue(KeystoreSupport.isStrictDer(good))
        assertThrows<IllegalArgumentException> { KeystoreSupport.rawToDer(ByteArray(63)) }
        assertThrows<IllegalArgumentException> { KeystoreSupport.rawToDer(ByteArray(64)) } // r = s = 0
    }

    // ---- exception mapping ----------------------------------------------------------------

    /** A vendor's own subclass, as some keystores throw. */
    private class VendorInvalidatedException : KeyPermanentlyInvalidatedException()

    @Test
    fun `an invalidated key maps to KeyInvalidated, distinct from authentication errors`() {
        val cases: List<Throwable> = listOf(
            KeyPermanentlyInvalidatedException(),
            // Signature.initSign / Cipher.init wrap it.
            InvalidKeyException("Keystore operation failed", KeyPermanentlyInvalidatedException()),
            ProviderException("wrapped twice", InvalidKeyException(KeyPermanentlyInvalidatedException())),
            VendorInvalidatedException(),
            // Some devices report a key lost with the lock screen this way.
            UnrecoverableKeyException("Failed to obtain information about key"),
        )
        for (error in cases) {
            val mapped = KeystoreSupport.toDeviceKeyStoreException(error, "sign")
            val invalidated = mapped as? DeviceKeyStoreException.KeyInvalidated ?: throw AssertionError("$error -> $mapped")
            assertTrue(invalidated.reason.startsWith("sign: "), invalidated.reason)
        }
        val viaHelper = assertThrows<DeviceKeyStoreException.KeyInvalidated> {
            KeystoreSupport.deviceKeyStore("sign") { throw InvalidKeyException(KeyPermanentlyInvalidatedException()) }
        }
        assertTrue(viaHelper.reason.contains("KeyPermanentlyInvalidatedException"), viaHelper.reason)
    }

    @Test
    fun `prompt and availability errors map to their own variants`() {
        fun map(t: Throwable) = KeystoreSupport.toDeviceKeyStoreException(t, "op")
        assertTrue(map(UserNotAuthenticatedException()) is DeviceKeyStoreException.AuthenticationFailed)
        assertTrue(map(InvalidKeyException(UserNotAuthenticatedException())) is DeviceKeyStoreException.AuthenticationFailed)
        assertTrue(map(AuthenticationFailedException("too many attempts")) is DeviceKeyStoreException.AuthenticationFailed)
        assertTrue(map(AuthenticationCancelledException()) is DeviceKeyStoreException.UserCancelled)
        assertTrue(map(StrongBoxUnavailableException()) is DeviceKeyStoreException.Unavailable)
        assertTrue(map(KeyNotFoundException("device")) is DeviceKeyStoreException.KeyNotFound)
        assertTrue(map(IllegalStateException("boom")) is DeviceKeyStoreException.Failure)
        val already = DeviceKeyStoreException.UserCancelled("as is")
        assertSame(already, map(already))
        // Cancelling wins over the not-authenticated error the retried operation would raise.
        assertTrue(map(AuthenticationCancelledException().apply { initCause(UserNotAuthenticatedException()) }) is DeviceKeyStoreException.UserCancelled)
        // A cause cycle does not hang.
        val a = RuntimeException("a")
        val b = RuntimeException("b", a)
        a.initCause(b)
        assertTrue(map(a) is DeviceKeyStoreException.Failure)
    }

    @Test
    fun `data key wrapper errors`() {
        fun map(t: Throwable) = KeystoreSupport.toKeyWrapException(t, "unwrap")
        assertTrue(map(KeyPermanentlyInvalidatedException()) is KeyWrapException.KeyUnavailable)
        assertTrue(map(KeyNotFoundException("data")) is KeyWrapException.KeyUnavailable)
        assertTrue(map(AEADBadTagException("mac check in GCM failed")) is KeyWrapException.UnwrapFailed)
        assertTrue(map(javax.crypto.BadPaddingException().apply { initCause(AEADBadTagException()) }) is KeyWrapException.UnwrapFailed)
        assertTrue(map(MalformedBlobException("short")) is KeyWrapException.UnwrapFailed)
        assertTrue(map(ProviderException("keystore down")) is KeyWrapException.Failure)
        assertThrows<KeyWrapException.KeyUnavailable> { KeystoreSupport.keyWrapper("unwrap") { throw KeyNotFoundException("data") } }
        // Locked, not lost (issue 11): a key bound to a recent unlock, or a busy keystore.
        assertTrue(map(UserNotAuthenticatedException()) is KeyWrapException.TemporarilyUnavailable)
        assertTrue(map(InvalidKeyException(UserNotAuthenticatedException())) is KeyWrapException.TemporarilyUnavailable)
    }

    @Test
    fun `cancellation passes through the key store mapping`() {
        assertThrows<kotlinx.coroutines.CancellationException> {
            KeystoreSupport.deviceKeyStore("sign") { throw kotlinx.coroutines.CancellationException("dropped") }
        }
    }

    @Test
    fun `key aliases are namespaced`() {
        val alias = KeystoreSupport.keystoreAlias("device-key-v1")
        assertEquals("vn.citizen.core/device-key-v1", alias)
        assertEquals("device-key-v1", KeystoreSupport.coreAlias(alias))
        assertNull(KeystoreSupport.coreAlias("someone-else"))
        assertNull(KeystoreSupport.coreAlias(KeystoreSupport.ALIAS_PREFIX))
        assertThrows<IllegalArgumentException> { KeystoreSupport.keystoreAlias("") }
    }

    private fun derInt(value: ByteArray): ByteArray = byteArrayOf(0x02, value.size.toByte()) + value

    private fun derSeq(vararg parts: ByteArray): ByteArray {
        val body = parts.fold(byteArrayOf()) { acc, p -> acc + p }
        return byteArrayOf(0x30, body.size.toByte()) + body
    }
}
