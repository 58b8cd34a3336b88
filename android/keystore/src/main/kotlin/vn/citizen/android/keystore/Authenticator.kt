package vn.citizen.android.keystore

import vn.citizen.core.SignRequest
import java.security.Signature

/**
 * Shows the user-verification prompt (biometric or device credential) for a key that requires
 * user authentication. Implemented by the app with `BiometricPrompt` (see the app module's
 * `BiometricPromptAuthenticator`). It suspends until the citizen answers; **cancelling the
 * calling coroutine must dismiss the prompt** (the core cancels it when the operation that asked
 * for the signature is dropped: `BiometricPrompt` takes a `CancellationSignal` for that).
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
     * @param request why the core signs (the prompt's wording follows `request.purpose`). Only
     *   user-initiated requests reach the authenticator: bookkeeping never prompts.
     * @throws AuthenticationCancelledException the citizen dismissed the prompt.
     * @throws AuthenticationFailedException the prompt ended without a verified user.
     * @throws kotlinx.coroutines.CancellationException the caller was cancelled (prompt dismissed).
     */
    suspend fun authenticate(signature: Signature?, request: SignRequest)
}
