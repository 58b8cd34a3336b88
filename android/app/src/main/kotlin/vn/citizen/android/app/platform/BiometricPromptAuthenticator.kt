package vn.citizen.android.app.platform

import android.app.Activity
import android.hardware.biometrics.BiometricManager
import android.hardware.biometrics.BiometricPrompt
import android.os.Build
import android.os.CancellationSignal
import android.os.Handler
import android.os.Looper
import kotlinx.coroutines.suspendCancellableCoroutine
import kotlinx.coroutines.withTimeoutOrNull
import vn.citizen.android.keystore.AuthenticationCancelledException
import vn.citizen.android.keystore.AuthenticationFailedException
import vn.citizen.android.keystore.Authenticator
import vn.citizen.core.SignPurpose
import vn.citizen.core.SignRequest
import java.security.Signature
import kotlin.coroutines.resume
import kotlin.coroutines.resumeWithException

/**
 * [Authenticator] on the framework `android.hardware.biometrics.BiometricPrompt`: a strong
 * biometric or the device credential (PIN, pattern, password). Shows the prompt on the main
 * thread and suspends until the citizen answers (or 2 minutes pass). **Cancelling the calling
 * coroutine dismisses the prompt** through its `CancellationSignal`: the core cancels the
 * key store's `sign` when the operation that asked for it is dropped (issue 11).
 *
 * The prompt says why, from the core's `SignRequest.purpose` (log in, submit, share, …).
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

    override suspend fun authenticate(signature: Signature?, request: SignRequest) {
        val activity = currentActivity() ?: throw AuthenticationFailedException("no activity to show the prompt")
        val answered = withTimeoutOrNull(PROMPT_TIMEOUT_MS) { prompt(activity, signature, request) }
        if (answered == null) throw AuthenticationFailedException("prompt timed out")
    }

    private suspend fun prompt(activity: Activity, signature: Signature?, request: SignRequest): Unit =
        suspendCancellableCoroutine { cont ->
            val cancel = CancellationSignal()
            // Cancelled caller (or the timeout): dismiss the prompt.
            cont.invokeOnCancellation { main.post { cancel.cancel() } }
            main.post {
                if (!cont.isActive) return@post
                val builder = BiometricPrompt.Builder(activity)
                    .setTitle(activity.applicationInfo.loadLabel(activity.packageManager))
                    .setSubtitle(subtitle(request.purpose, vietnamese()))
                when {
                    Build.VERSION.SDK_INT >= Build.VERSION_CODES.R -> builder.setAllowedAuthenticators(
                        BiometricManager.Authenticators.BIOMETRIC_STRONG or BiometricManager.Authenticators.DEVICE_CREDENTIAL,
                    )
                    Build.VERSION.SDK_INT == Build.VERSION_CODES.Q -> {
                        @Suppress("DEPRECATION")
                        builder.setDeviceCredentialAllowed(true)
                    }
                    else -> builder.setNegativeButton(if (vietnamese()) "Hủy" else "Cancel", activity.mainExecutor) { _, _ ->
                        if (cont.isActive) cont.resumeWithException(AuthenticationCancelledException())
                    }
                }
                val callback = object : BiometricPrompt.AuthenticationCallback() {
                    override fun onAuthenticationSucceeded(r: BiometricPrompt.AuthenticationResult) {
                        if (cont.isActive) cont.resume(Unit)
                    }
                    override fun onAuthenticationError(errorCode: Int, errString: CharSequence) {
                        if (!cont.isActive) return // dismissed because the caller was cancelled
                        val cancelled = errorCode == BiometricPrompt.BIOMETRIC_ERROR_USER_CANCELED ||
                            errorCode == BiometricPrompt.BIOMETRIC_ERROR_CANCELED
                        cont.resumeWithException(
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
        }

    private companion object {
        const val PROMPT_TIMEOUT_MS = 120_000L

        /** Why the key is used, in the prompt's words. */
        fun subtitle(purpose: SignPurpose, vi: Boolean): String = when (purpose) {
            SignPurpose.ENROLL -> if (vi) "Xác nhận để đăng ký thiết bị" else "Confirm to enroll this device"
            SignPurpose.LOGIN -> if (vi) "Xác nhận để đăng nhập" else "Confirm to log in"
            SignPurpose.SUBMIT -> if (vi) "Xác nhận để nộp hồ sơ" else "Confirm to submit your request"
            SignPurpose.CONSENT -> if (vi) "Xác nhận để đồng ý chia sẻ" else "Confirm to give your consent"
            SignPurpose.CREDENTIAL -> if (vi) "Xác nhận để nhận giấy tờ điện tử" else "Confirm to receive your credential"
            SignPurpose.DEVICE_MANAGEMENT -> if (vi) "Xác nhận để quản lý thiết bị" else "Confirm to manage your devices"
            SignPurpose.PASSCODE_RESET -> if (vi) "Xác nhận để đặt lại mã bảo vệ" else "Confirm to reset your passcode"
            SignPurpose.CHIP -> if (vi) "Xác nhận để nâng mức định danh bằng thẻ căn cước" else "Confirm to raise your identity level with your ID card"
            SignPurpose.DOCUMENT_PRESENTATION -> if (vi) "Xác nhận để trình giấy tờ cho bên kiểm tra" else "Confirm to show your document to the verifier"
            SignPurpose.IDENTITY_QR -> if (vi) "Xác nhận để hiện mã QR định danh" else "Confirm to show your identity QR code"
            SignPurpose.RECOVERY -> if (vi) "Xác nhận để khôi phục tài khoản trên thiết bị này" else "Confirm to recover your account on this device"
            SignPurpose.RECOVERY_CANCEL -> if (vi) "Xác nhận để huỷ yêu cầu khôi phục tài khoản" else "Confirm to cancel the account recovery"
            SignPurpose.REBIND -> if (vi) "Xác nhận để liên kết lại khoá của thiết bị" else "Confirm to re-bind this device's key"
            // Bookkeeping uses a key without user authentication and never reaches a prompt.
            SignPurpose.ACTIVITY_ENTRY, SignPurpose.ACTIVITY_ANCHOR -> if (vi) "Xác nhận danh tính" else "Confirm it is you"
        }
    }
}
