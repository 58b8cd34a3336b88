package vn.citizen.core

import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import java.security.KeyFactory
import java.security.Signature
import java.security.spec.X509EncodedKeySpec

/**
 * The Kotlin platform implementations on their own. Touches only the binding's plain data types
 * (records, enums, errors), not the native library, so run-tests.sh also uses this class to
 * prefetch what surefire needs (`-Dtest=JcaPlatformTest`).
 */
class JcaPlatformTest {
    private val options = KeyOptions(requireUserAuthentication = false, preferStrongbox = false, attestationChallenge = byteArrayOf())

    @Test
    fun `key store signs with DER ECDSA P-256 and exports SPKI`() = kotlinx.coroutines.runBlocking<Unit> {
        val store = JcaDeviceKeyStore()
        val request = SignRequest(purpose = SignPurpose.LOGIN, userInitiated = true)
        val spki = store.createKey("device", options)
        assertArrayEquals(spki, store.publicKey("device"))
        val publicKey = KeyFactory.getInstance("EC").generatePublic(X509EncodedKeySpec(spki))
        val message = "challenge".toByteArray()
        val signature = store.sign("device", message, request)
        assertEquals(SignatureFormat.DER, signature.format)
        assertEquals(0x30, signature.bytes[0].toInt())
        val verifier = Signature.getInstance("SHA256withECDSA").apply { initVerify(publicKey); update(message) }
        assertTrue(verifier.verify(signature.bytes))
        assertFalse(store.isHardwareBacked("device"))
        assertEquals(emptyList<ByteArray>(), store.attestationChain("device"))

        store.deleteKey("device")
        store.deleteKey("device") // deleting a missing key is not an error
        try {
            store.sign("device", message, request)
            throw AssertionError("signed with a deleted key")
        } catch (e: DeviceKeyStoreException.KeyNotFound) {
            // expected
        }
        assertEquals(0, store.prompts, "a key without user authentication never prompts")
    }

    @Test
    fun `data key wrapper round-trips and detects tampering`() {
        val wrapper = JcaDataKeyWrapper()
        val dataKey = ByteArray(32) { it.toByte() }
        val wrapped = wrapper.wrap("data", dataKey)
        assertEquals(12 + 32 + 16, wrapped.size)
        assertArrayEquals(dataKey, wrapper.unwrap("data", wrapped))
        wrapped[wrapped.size - 1] = (wrapped.last().toInt() xor 1).toByte()
        assertThrows<KeyWrapException.UnwrapFailed> { wrapper.unwrap("data", wrapped) }
        assertThrows<KeyWrapException.KeyUnavailable> { JcaDataKeyWrapper().unwrap("data", wrapped) }
    }
}
