package vn.citizen.android.app.platform

import android.app.Activity
import android.hardware.biometrics.BiometricManager
import android.hardware.biometrics.BiometricPrompt
import android.os.Build
import android.os.CancellationSignal
import android.os.Handler
import android.os.Looper
import vn.citizen.android.keystore.AuthenticationCancelledException
import vn.citizen.android.keystore.AuthenticationFailedException
import vn.citizen.android.keystore.Authenticator
import java.security.Signature
import java.util.concurrent.CompletableFuture
import java.util.concurrent.ExecutionException
import java.util.concurrent.TimeUnit

/**
 * [Authenticator] on the framework `android.hardware.biometrics.BiometricPrompt`: a strong
 * biometric or the device credential (PIN, pattern, password). Called by the key store adapter
 * on the core's key-store thread; shows the prompt on the main thread and blocks until the
 * citizen answers (or 2 minutes pass).
 *
 * Framework classes only (no R, no androidx), so android/jvm compiles it against android-all.
 *
 * @param currentActivity the activity in front (the prompt needs one), null when none is.
 * @param vietnamese whether to word the prompt in Vietnamese.
 */
class BiometricPromptAuthenticator(
    private val currentActivity: () -> Activity?,
    private val vietnamese: () -> Boolean,
) : Authenticator {
    private val main = Handler(Looper.getMainLooper())

    override fun authenticate(signature: Signature?, reason: String) {
        check(Looper.myLooper() != Looper.getMainLooper()) { "the key store must not be used on the main thread" }
        val activity = currentActivity() ?: throw AuthenticationFailedException("no activity to show the prompt")
        val result = CompletableFuture<Unit>()
        val cancel = CancellationSignal()
        main.post {
            val builder = BiometricPrompt.Builder(activity)
                .setTitle(activity.applicationInfo.loadLabel(activity.packageManager))
                .setSubtitle(if (vietnamese()) "Xác nhận danh tính để ký ($reason)" else "Confirm it is you to sign ($reason)")
            when {
                Build.VERSION.SDK_INT >= Build.VERSION_CODES.R -> builder.setAllowedAuthenticators(
                    BiometricManager.Authenticators.BIOMETRIC_STRONG or BiometricManager.Authenticators.DEVICE_CREDENTIAL,
                )
                Build.VERSION.SDK_INT == Build.VERSION_CODES.Q -> {
                    @Suppress("DEPRECATION")
                    builder.setDeviceCredentialAllowed(true)
                }
                else -> builder.setNegativeButton(if (vietnamese()) "Hủy" else "Cancel", activity.mainExecutor) { _, _ ->
                    result.completeExceptionally(AuthenticationCancelledException())
                }
            }
            val callback = object : BiometricPrompt.AuthenticationCallback() {
                override fun onAuthenticationSucceeded(r: BiometricPrompt.AuthenticationResult) {
                    result.complete(Unit)
                }
                override fun onAuthenticationError(errorCode: Int, errString: CharSequence) {
                    val cancelled = errorCode == BiometricPrompt.BIOMETRIC_ERROR_USER_CANCELED ||
                        errorCode == BiometricPrompt.BIOMETRIC_ERROR_CANCELED
                    result.completeExceptionally(
                        if (cancelled) AuthenticationCancelledException(errString.toString())
                        else AuthenticationFailedException("biometric error $errorCode: $errString"),
                    )
                }
                // onAuthenticationFailed (one unrecognised finger) keeps the prompt open.
            }
            val executor = activity.mainExecutor
            if (signature != null) {
                builder.build().authenticate(BiometricPrompt.CryptoObject(signature), cancel, executor, callback)
            } else {
                builder.build().authenticate(cancel, executor, callback)
            }
        }
        try {
            result.get(2, TimeUnit.MINUTES)
        } catch (e: ExecutionException) {
            throw e.cause ?: e
        } catch (e: java.util.concurrent.TimeoutException) {
            cancel.cancel()
            throw AuthenticationFailedException("prompt timed out")
        }
    }
}
