package vn.citizen.android.viewmodel

import java.net.URI
import java.net.URISyntaxException

/**
 * The same-device links the app is opened with (Android: the `citizenid` intent filter of
 * `MainActivity`; iOS: `.onOpenURL`, `AppModel.open`):
 *
 * - `citizenid://login?p=<frame>` → [QrLoginViewModel.openLink] (the core's `openLoginLink`);
 * - `citizenid://share?request=<jws>` → [ShareViewModel.open] (the core's `openShareRequest`).
 *
 * Only the scheme and host are looked at here, to pick the screen; the core parses the rest
 * strictly and checks the relying party's signature against the signed registry before anything
 * is shown. A custom scheme can be claimed by any app, so a link proves nothing by itself.
 */
sealed interface DeepLink {
    /** The link as received, handed to the core unchanged. */
    val url: String

    data class Login(override val url: String) : DeepLink

    data class Share(override val url: String) : DeepLink

    companion object {
        const val SCHEME = "citizenid"

        /** The screen for [url], or null for anything that is not a `citizenid` login/share link. */
        fun parse(url: String): DeepLink? {
            val uri = parseUri(url) ?: return null
            if (!SCHEME.equals(uri.scheme, ignoreCase = true)) return null
            return when (uri.host?.lowercase()) {
                "login" -> Login(url)
                "share" -> Share(url)
                else -> null
            }
        }

        /**
         * Whether a same-device login's redirect ([vn.citizen.core.LoginApproval.redirectUrl]: a
         * redirect URI the relying party registered, already checked by the core) may be opened
         * in the browser: `https` with a host, or — only when [allowLoopbackHttp] (debug builds,
         * the reference server on the development machine) — `http` to 127.0.0.1, ::1 or
         * localhost. Anything else (another scheme, `http` elsewhere, no host) is not opened.
         */
        fun browserRedirect(url: String?, allowLoopbackHttp: Boolean): String? {
            val uri = url?.let(::parseUri) ?: return null
            val host = uri.host?.lowercase()?.removePrefix("[")?.removeSuffix("]")
            if (host.isNullOrEmpty() || !uri.isAbsolute || uri.isOpaque) return null
            return when (uri.scheme.lowercase()) {
                "https" -> url
                "http" -> url.takeIf { allowLoopbackHttp && host in LOOPBACK_HOSTS }
                else -> null
            }
        }

        private val LOOPBACK_HOSTS = setOf("127.0.0.1", "::1", "0:0:0:0:0:0:0:1", "localhost")

        private fun parseUri(url: String): URI? = try {
            URI(url)
        } catch (e: URISyntaxException) {
            null
        }
    }
}
