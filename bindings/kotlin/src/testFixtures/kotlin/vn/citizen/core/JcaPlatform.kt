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
 * `createKey` and `sign` are `suspend` (async foreign methods). Like a phone, the store counts a
 * **prompt** ([prompts]) for every signature with a key created with `requireUserAuthentication`
 * and records every [SignRequest] ([requests]); [failSigning] simulates a busy key store and
 * [invalidate] a key the platform invalidated.
 *
 * The Android shell does the same with the AndroidKeyStore provider, where the private key never
 * leaves the TEE/StrongBox.
 */
open class JcaDeviceKeyStore : DeviceKeyStore {
    private val keys = ConcurrentHashMap<String, KeyPair>()
    private val userAuth = ConcurrentHashMap.newKeySet<String>()
    private val failing = ConcurrentHashMap.newKeySet<String>()
    private val invalidated = ConcurrentHashMap.newKeySet<String>()
    val calls: MutableList<String> = CopyOnWriteArrayList()
    /** Every signature request, with its alias, in order. */
    val requests: MutableList<Pair<String, SignRequest>> = CopyOnWriteArrayList()
    private val promptCount = java.util.concurrent.atomic.AtomicInteger()

    /** Signatures made with a user-authentication key: each is a biometric prompt on a phone. */
    val prompts: Int get() = promptCount.get()

    /** Make signatures with [alias] fail with `Unavailable` (or work again). */
    fun failSigning(alias: String, fail: Boolean = true) {
        if (fail) failing += alias else failing -= alias
    }

    /**
     * Simulate the platform invalidating [alias] (Android `KeyPermanentlyInvalidatedException`
     * after a biometric change, iOS biometry change): every later signature with it fails with
     * `KeyInvalidated`. A key created later under another alias is not affected.
     */
    fun invalidate(alias: String) {
        invalidated += alias
    }

    private fun key(alias: String): KeyPair =
        keys[alias] ?: throw DeviceKeyStoreException.KeyNotFound("no key under alias $alias")

    override suspend fun createKey(alias: String, options: KeyOptions): ByteArray {
        calls += "createKey"
        val generator = KeyPairGenerator.getInstance("EC")
        generator.initialize(ECGenParameterSpec("secp256r1"), SecureRandom())
        val pair = generator.generateKeyPair()
        keys[alias] = pair
        if (options.requireUserAuthentication) userAuth += alias else userAuth -= alias
        return pair.public.encoded // SPKI DER
    }

    override suspend fun sign(alias: String, message: ByteArray, request: SignRequest): DeviceSignature {
        calls += "sign"
        requests += alias to request
        val pair = key(alias)
        if (alias in userAuth) promptCount.incrementAndGet()
        if (alias in invalidated) throw DeviceKeyStoreException.KeyInvalidated("simulated: biometrics changed")
        if (alias in failing) throw DeviceKeyStoreException.Unavailable("simulated busy key store")
        val signer = Signature.getInstance("SHA256withECDSA")
        signer.initSign(pair.private)
        signer.update(message)
        return DeviceSignature(bytes = signer.sign(), format = SignatureFormat.DER)
    }

    override fun publicKey(alias: String): ByteArray = key(alias).public.encoded

    override fun deleteKey(alias: String) {
        calls += "deleteKey"
        keys.remove(alias)
        userAuth -= alias
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

    /** Simulate a locked device: unwrapping fails with `TemporarilyUnavailable`. */
    @Volatile var locked = false

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

    /** Every [deleteKey] call, in order (tests of `eraseLocalData`). */
    val deletedKeys: MutableList<String> = java.util.concurrent.CopyOnWriteArrayList()

    /** The aliases that currently have a wrapping key. */
    fun aliases(): Set<String> = keys.keys.toSet()

    override fun deleteKey(keyAlias: String) {
        deletedKeys += keyAlias
        keys.remove(keyAlias)
    }

    override fun unwrap(keyAlias: String, wrapped: ByteArray): ByteArray {
        if (locked) throw KeyWrapException.TemporarilyUnavailable("simulated locked device")
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
