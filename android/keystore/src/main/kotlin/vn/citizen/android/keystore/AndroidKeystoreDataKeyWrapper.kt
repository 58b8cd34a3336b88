package vn.citizen.android.keystore

import android.security.keystore.KeyGenParameterSpec
import android.security.keystore.KeyProperties
import vn.citizen.core.DataKeyWrapper
import java.security.KeyStore
import javax.crypto.Cipher
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec

/**
 * The core's [DataKeyWrapper] on the Android Keystore: an AES-256-GCM key that never leaves the
 * TEE wraps the core's 32-byte data key. Blob = IV (12 bytes, chosen by the Keystore) ||
 * ciphertext+tag; the alias is bound as AAD.
 *
 * No user authentication on this key: the core needs the data key in the background (outbox
 * delivery, case sync) when no one is there to answer a prompt. The passcode and the
 * auth-bound device key gate the citizen's actions; this key only makes a copy of the database
 * useless off this phone. The key does not travel in a backup or device transfer, which is why
 * the app excludes the core's data directory from both (res/xml/backup_rules.xml,
 * data_extraction_rules.xml).
 */
class AndroidKeystoreDataKeyWrapper : DataKeyWrapper {

    private fun keyStore(): KeyStore = KeyStore.getInstance(ANDROID_KEYSTORE).apply { load(null) }

    private fun existingKey(ksAlias: String): SecretKey? = keyStore().getKey(ksAlias, null) as? SecretKey

    private fun createKey(ksAlias: String): SecretKey {
        val spec = KeyGenParameterSpec.Builder(ksAlias, KeyProperties.PURPOSE_ENCRYPT or KeyProperties.PURPOSE_DECRYPT)
            .setKeySize(256)
            .setBlockModes(KeyProperties.BLOCK_MODE_GCM)
            .setEncryptionPaddings(KeyProperties.ENCRYPTION_PADDING_NONE)
            .setRandomizedEncryptionRequired(true)
            .build()
        return KeyGenerator.getInstance(KeyProperties.KEY_ALGORITHM_AES, ANDROID_KEYSTORE).run {
            init(spec)
            generateKey()
        }
    }

    override fun wrap(keyAlias: String, dataKey: ByteArray): ByteArray = KeystoreSupport.keyWrapper("wrap") {
        val ksAlias = KeystoreSupport.keystoreAlias(keyAlias)
        val key = existingKey(ksAlias) ?: createKey(ksAlias)
        val cipher = Cipher.getInstance(TRANSFORMATION)
        cipher.init(Cipher.ENCRYPT_MODE, key) // the Keystore picks a fresh random IV
        cipher.updateAAD(keyAlias.toByteArray(Charsets.UTF_8))
        val ciphertext = cipher.doFinal(dataKey)
        val iv = cipher.iv
        check(iv.size == IV_BYTES) { "unexpected GCM IV length ${iv.size}" }
        iv + ciphertext
    }

    override fun unwrap(keyAlias: String, wrapped: ByteArray): ByteArray = KeystoreSupport.keyWrapper("unwrap") {
        val ksAlias = KeystoreSupport.keystoreAlias(keyAlias)
        val key = existingKey(ksAlias) ?: throw KeyNotFoundException(keyAlias)
        if (wrapped.size < IV_BYTES + TAG_BITS / 8) throw MalformedBlobException("wrapped data key too short")
        val cipher = Cipher.getInstance(TRANSFORMATION)
        cipher.init(Cipher.DECRYPT_MODE, key, GCMParameterSpec(TAG_BITS, wrapped, 0, IV_BYTES))
        cipher.updateAAD(keyAlias.toByteArray(Charsets.UTF_8))
        cipher.doFinal(wrapped, IV_BYTES, wrapped.size - IV_BYTES)
    }

    /**
     * Delete the wrapping key (`eraseLocalData` calls this): the wrapped data key can no longer be
     * opened. A missing key is not an error.
     */
    override fun deleteKey(keyAlias: String) = KeystoreSupport.keyWrapper("deleteKey") {
        val ksAlias = KeystoreSupport.keystoreAlias(keyAlias)
        val keyStore = keyStore()
        if (keyStore.containsAlias(ksAlias)) keyStore.deleteEntry(ksAlias)
    }

    companion object {
        const val ANDROID_KEYSTORE = "AndroidKeyStore"
        const val TRANSFORMATION = "AES/GCM/NoPadding"
        const val IV_BYTES = 12
        const val TAG_BITS = 128
    }
}
