package vn.citizen.core

import java.security.KeyPair
import java.security.KeyPairGenerator
import java.security.SecureRandom
import java.security.Signature
import java.security.spec.ECGenParameterSpec
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.CopyOnWriteArrayList
import javax.crypto.AEADBadTagException
import javax.crypto.Cipher
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec

/**
 * [DeviceKeyStore] on plain java.security, as a desktop JVM shell would write it: P-256 keys in
 * memory by alias, `SHA256withECDSA` signatures (DER). The public key is handed over as the X.509
 * SubjectPublicKeyInfo DER that `PublicKey.encoded` gives (the core accepts SPKI or SEC1).
 *
 * The Android shell does the same with the AndroidKeyStore provider, where the private key never
 * leaves the TEE/StrongBox.
 */
class JcaDeviceKeyStore : DeviceKeyStore {
    private val keys = ConcurrentHashMap<String, KeyPair>()
    val calls: MutableList<String> = CopyOnWriteArrayList()

    private fun key(alias: String): KeyPair =
        keys[alias] ?: throw DeviceKeyStoreException.KeyNotFound("no key under alias $alias")

    override fun createKey(alias: String, options: KeyOptions): ByteArray {
        calls += "createKey"
        val generator = KeyPairGenerator.getInstance("EC")
        generator.initialize(ECGenParameterSpec("secp256r1"), SecureRandom())
        val pair = generator.generateKeyPair()
        keys[alias] = pair
        return pair.public.encoded // SPKI DER
    }

    override fun sign(alias: String, message: ByteArray): DeviceSignature {
        calls += "sign"
        val signer = Signature.getInstance("SHA256withECDSA")
        signer.initSign(key(alias).private)
        signer.update(message)
        return DeviceSignature(bytes = signer.sign(), format = SignatureFormat.DER)
    }

    override fun publicKey(alias: String): ByteArray = key(alias).public.encoded

    override fun deleteKey(alias: String) {
        calls += "deleteKey"
        keys.remove(alias)
    }

    override fun isHardwareBacked(alias: String): Boolean {
        key(alias)
        return false
    }

    override fun attestationChain(alias: String): List<ByteArray> {
        key(alias)
        return emptyList()
    }

    fun aliases(): Set<String> = keys.keys.toSortedSet()
}

/**
 * [DataKeyWrapper] on javax.crypto: AES-256-GCM under random in-memory keys, blob = nonce || ct.
 * Keep the same instance to reopen a data directory (a new one is "another phone").
 */
class JcaDataKeyWrapper : DataKeyWrapper {
    private val keys = ConcurrentHashMap<String, SecretKey>()
    private val random = SecureRandom()

    private fun key(alias: String, create: Boolean): SecretKey =
        if (create) {
            keys.computeIfAbsent(alias) { KeyGenerator.getInstance("AES").apply { init(256, random) }.generateKey() }
        } else {
            keys[alias] ?: throw KeyWrapException.KeyUnavailable("no wrapping key $alias")
        }

    override fun wrap(keyAlias: String, dataKey: ByteArray): ByteArray {
        val nonce = ByteArray(NONCE_LEN).also(random::nextBytes)
        val cipher = Cipher.getInstance("AES/GCM/NoPadding")
        cipher.init(Cipher.ENCRYPT_MODE, key(keyAlias, create = true), GCMParameterSpec(TAG_BITS, nonce))
        cipher.updateAAD(keyAlias.toByteArray())
        return nonce + cipher.doFinal(dataKey)
    }

    override fun unwrap(keyAlias: String, wrapped: ByteArray): ByteArray {
        val key = key(keyAlias, create = false)
        if (wrapped.size < NONCE_LEN + TAG_BITS / 8) throw KeyWrapException.UnwrapFailed("blob too short")
        val cipher = Cipher.getInstance("AES/GCM/NoPadding")
        cipher.init(Cipher.DECRYPT_MODE, key, GCMParameterSpec(TAG_BITS, wrapped, 0, NONCE_LEN))
        cipher.updateAAD(keyAlias.toByteArray())
        return try {
            cipher.doFinal(wrapped, NONCE_LEN, wrapped.size - NONCE_LEN)
        } catch (e: AEADBadTagException) {
            throw KeyWrapException.UnwrapFailed("authentication tag mismatch")
        }
    }

    private companion object {
        const val NONCE_LEN = 12
        const val TAG_BITS = 128
    }
}
