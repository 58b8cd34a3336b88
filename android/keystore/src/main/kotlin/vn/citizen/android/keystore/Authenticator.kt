package vn.citizen.android.keystore

import java.security.Signature

/**
 * Shows the user-verification prompt (biometric or device credential) for a key that requires
 * user authentication. Implemented by the app with `BiometricPrompt` (see the app module's
 * `BiometricPromptAuthenticator`); the key store adapter calls it from the core's blocking
 * key-store thread, never from the main thread, and it blocks until the citizen answers.
 *
 * Kept free of Android types so the adapter's contract is visible (and fakeable) off-device:
 * the app wraps [signature] in a `BiometricPrompt.CryptoObject` (framework or androidx).
 */
fun interface Authenticator {
    /**
     * Verify the user.
     *
     * @param signature the initialised `Signature` to unlock for exactly one operation (a key
     *   with a zero validity window: pass it to the prompt as its `CryptoObject`), or `null` for
     *   a key with a validity window (any successful prompt unlocks it for that window).
     * @param reason why the key is being used (the prompt's subtitle), e.g. "sign".
     * @throws AuthenticationCancelledException the citizen dismissed the prompt.
     * @throws AuthenticationFailedException the prompt ended without a verified user.
     */
    fun authenticate(signature: Signature?, reason: String)
}
