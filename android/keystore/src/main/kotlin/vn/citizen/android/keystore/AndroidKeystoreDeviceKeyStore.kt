package vn.citizen.android.keystore

import android.content.Context
import android.content.pm.PackageManager
import android.os.Build
import android.security.keystore.KeyGenParameterSpec
import android.security.keystore.KeyInfo
import android.security.keystore.KeyProperties
import android.security.keystore.StrongBoxUnavailableException
import android.security.keystore.UserNotAuthenticatedException
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.withContext
import vn.citizen.core.DeviceKeyStore
import vn.citizen.core.DeviceKeyStoreException
import vn.citizen.core.DeviceSignature
import vn.citizen.core.KeyOptions
import vn.citizen.core.SignRequest
import java.security.KeyFactory
import java.security.KeyPairGenerator
import java.security.KeyStore
import java.security.PrivateKey
import java.security.Signature
import java.security.spec.ECGenParameterSpec

/**
 * The core's [DeviceKeyStore] on the Android Keystore: non-exportable EC P-256 signing keys,
 * in StrongBox when asked for and present, otherwise in the TEE.
 *
 * - **User authentication.** With `require_user_authentication` the key is usable only after
 *   the citizen passes a strong biometric or the device credential ([authenticator]). Keys get a
 *   validity window of [authValiditySeconds] (default 30 s) after each prompt;
 *   `authValiditySeconds = 0` makes every signature prompt (the `Signature` is then passed to
 *   the prompt as its CryptoObject). Activity-log entries and anchors are signed with the
 *   **bookkeeping key** (`<device alias>.bookkeeping`, created without user authentication,
 *   ARCHITECTURE.md decision 26): `SignRequest.userInitiated == false`, and this adapter never
 *   prompts for such a request — a key that would need a prompt fails with `AuthenticationFailed`.
 * - **Async and cancellable.** `createKey` and `sign` are `suspend` and run the Keystore work on
 *   `Dispatchers.IO`; when the core drops the call (the citizen left the screen, the operation
 *   was cancelled) the coroutine is cancelled and the [authenticator] dismisses its prompt.
 * - **Attestation.** A non-empty `attestation_challenge` is set on the key; the certificate
 *   chain (leaf first) is what [attestationChain] returns and the core sends to the server.
 * - **Invalidation.** When biometrics change or the lock screen is removed the Keystore throws
 *   `KeyPermanentlyInvalidatedException`; [KeystoreSupport] reports it as
 *   `DeviceKeyStoreException.KeyInvalidated`, so the core starts re-binding (re-enrollment).
 *
 * The synchronous methods are quick Keystore reads; the core calls them off its executor.
 */
class AndroidKeystoreDeviceKeyStore(
    context: Context,
    private val authenticator: Authenticator,
    private val authValiditySeconds: Int = DEFAULT_AUTH_VALIDITY_SECONDS,
) : DeviceKeyStore {
    private val packageManager: PackageManager = context.applicationContext.packageManager

    private fun keyStore(): KeyStore = KeyStore.getInstance(ANDROID_KEYSTORE).apply { load(null) }

    override suspend fun createKey(alias: String, options: KeyOptions): ByteArray = withContext(Dispatchers.IO) {
        KeystoreSupport.deviceKeyStore("createKey") { generateKey(alias, options) }
    }

    private fun generateKey(alias: String, options: KeyOptions): ByteArray {
        val ksAlias = KeystoreSupport.keystoreAlias(alias)
        val keyStore = keyStore()
        if (keyStore.containsAlias(ksAlias)) keyStore.deleteEntry(ksAlias)
        val wantStrongBox = options.preferStrongbox && hasStrongBox()
        val pair = try {
            generate(spec(ksAlias, options, strongBox = wantStrongBox))
        } catch (e: StrongBoxUnavailableException) {
            // Advertised but refused (busy, or the parameters are not supported there): TEE.
            generate(spec(ksAlias, options, strongBox = false))
        }
        return pair.public.encoded // X.509 SubjectPublicKeyInfo DER
    }

    override suspend fun sign(alias: String, message: ByteArray, request: SignRequest): DeviceSignature =
        withContext(Dispatchers.IO) {
            KeystoreSupport.deviceKeyStore("sign") {
                val key = privateKey(alias)
                val signature = Signature.getInstance(SIGNATURE_ALGORITHM)
                try {
                    signature.initSign(key)
                } catch (e: UserNotAuthenticatedException) {
                    // Time-bound key whose window has passed: one prompt, then retry once.
                    promptFor(request, null)
                    signature.initSign(key)
                }
                if (isPerUseAuthKey(key)) promptFor(request, signature)
                signature.update(message)
                KeystoreSupport.derSignature(signature.sign())
            }
        }

    /** Prompt for a user-initiated signature; background bookkeeping must never show one. */
    private suspend fun promptFor(request: SignRequest, signature: Signature?) {
        if (!request.userInitiated) {
            throw DeviceKeyStoreException.AuthenticationFailed("${request.purpose}: a background signature would need a prompt")
        }
        authenticator.authenticate(signature, request)
    }

    override fun publicKey(alias: String): ByteArray = KeystoreSupport.deviceKeyStore("publicKey") {
        val ksAlias = KeystoreSupport.keystoreAlias(alias)
        val certificate = keyStore().getCertificate(ksAlias) ?: throw KeyNotFoundException(alias)
        certificate.publicKey.encoded
    }

    override fun deleteKey(alias: String) = KeystoreSupport.deviceKeyStore("deleteKey") {
        val ksAlias = KeystoreSupport.keystoreAlias(alias)
        val keyStore = keyStore()
        if (keyStore.containsAlias(ksAlias)) keyStore.deleteEntry(ksAlias)
    }

    override fun isHardwareBacked(alias: String): Boolean = KeystoreSupport.deviceKeyStore("isHardwareBacked") {
        val info = keyInfo(privateKey(alias))
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.S) {
            info.securityLevel == KeyProperties.SECURITY_LEVEL_TRUSTED_ENVIRONMENT ||
                info.securityLevel == KeyProperties.SECURITY_LEVEL_STRONGBOX ||
                info.securityLevel == KeyProperties.SECURITY_LEVEL_UNKNOWN_SECURE
        } else {
            @Suppress("DEPRECATION")
            info.isInsideSecureHardware
        }
    }

    override fun attestationChain(alias: String): List<ByteArray> = KeystoreSupport.deviceKeyStore("attestationChain") {
        val ksAlias = KeystoreSupport.keystoreAlias(alias)
        val keyStore = keyStore()
        if (!keyStore.containsAlias(ksAlias)) throw KeyNotFoundException(alias)
        keyStore.getCertificateChain(ksAlias)?.map { it.encoded } ?: emptyList()
    }

    private fun hasStrongBox(): Boolean =
        Build.VERSION.SDK_INT >= Build.VERSION_CODES.P &&
            packageManager.hasSystemFeature(PackageManager.FEATURE_STRONGBOX_KEYSTORE)

    private fun spec(ksAlias: String, options: KeyOptions, strongBox: Boolean): KeyGenParameterSpec {
        val builder = KeyGenParameterSpec.Builder(ksAlias, KeyProperties.PURPOSE_SIGN)
            .setAlgorithmParameterSpec(ECGenParameterSpec(CURVE))
            .setDigests(KeyProperties.DIGEST_SHA256)
        if (strongBox && Build.VERSION.SDK_INT >= Build.VERSION_CODES.P) builder.setIsStrongBoxBacked(true)
        if (options.requireUserAuthentication) {
            builder.setUserAuthenticationRequired(true)
            // A new biometric enrollment invalidates the key (the default; stated for the reader).
            builder.setInvalidatedByBiometricEnrollment(true)
            if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.R) {
                builder.setUserAuthenticationParameters(
                    authValiditySeconds,
                    KeyProperties.AUTH_BIOMETRIC_STRONG or KeyProperties.AUTH_DEVICE_CREDENTIAL,
                )
            } else {
                // API 24-29: -1 means "every use" there, a positive value is the window.
                @Suppress("DEPRECATION")
                builder.setUserAuthenticationValidityDurationSeconds(if (authValiditySeconds > 0) authValiditySeconds else -1)
            }
        }
        if (options.attestationChallenge.isNotEmpty()) builder.setAttestationChallenge(options.attestationChallenge)
        return builder.build()
    }

    private fun generate(spec: KeyGenParameterSpec) =
        KeyPairGenerator.getInstance(KeyProperties.KEY_ALGORITHM_EC, ANDROID_KEYSTORE).run {
            initialize(spec)
            generateKeyPair()
        }

    private fun privateKey(alias: String): PrivateKey {
        val ksAlias = KeystoreSupport.keystoreAlias(alias)
        // UnrecoverableKeyException here (some devices, after the lock screen was removed) is
        // mapped to KeyInvalidated by KeystoreSupport.
        return keyStore().getKey(ksAlias, null) as? PrivateKey ?: throw KeyNotFoundException(alias)
    }

    private fun keyInfo(key: PrivateKey): KeyInfo =
        KeyFactory.getInstance(key.algorithm, ANDROID_KEYSTORE).getKeySpec(key, KeyInfo::class.java)

    private fun isPerUseAuthKey(key: PrivateKey): Boolean {
        val info = keyInfo(key)
        if (!info.isUserAuthenticationRequired) return false
        return if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.R) {
            info.userAuthenticationValidityDurationSeconds == 0
        } else {
            @Suppress("DEPRECATION")
            info.userAuthenticationValidityDurationSeconds <= 0
        }
    }

    companion object {
        const val ANDROID_KEYSTORE = "AndroidKeyStore"
        const val SIGNATURE_ALGORITHM = "SHA256withECDSA"
        const val CURVE = "secp256r1"

        /** Validity window after a prompt: long enough for one operation's several signatures. */
        const val DEFAULT_AUTH_VALIDITY_SECONDS = 30
    }
}
