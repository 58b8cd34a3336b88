package vn.citizen.android.viewmodel

import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import vn.citizen.core.ActivityKind
import vn.citizen.core.ConsentKind
import vn.citizen.core.ShareDelivery
import vn.citizen.core.Language
import vn.citizen.core.TestServer
import vn.citizen.core.verifyReceiptExport
import java.nio.file.Path

/**
 * QR login to the demo portal through [QrLoginViewModel] (portal session opened with
 * `POST /portal/api/sessions`, frame and verification code read with
 * `GET /portal/api/sessions/{handle}`), a selective share with the demo bank through
 * [ShareViewModel], then both receipts and the activity log through [ActivityViewModel].
 */
class ConsentFlowTest {

    @Test
    fun `QR approval with the portal's code, a selective share, receipts and the activity log`(
        @TempDir serverDir: Path,
        @TempDir phoneDir: Path,
    ) = runBlocking {
        TestServer.start(serverDir).use { server ->
            openCore(server, phoneDir).use { core ->
                enrollThroughViewModel(server, core, Citizens.C11)
                assertTrue(LoginViewModel(core).login(PASSCODE))
                val http = ServerHttp(server)

                // Garbage in the scanner: the core's error, nothing under review.
                val qr = QrLoginViewModel(core.consent(), Language.EN)
                assertFalse(qr.scan("not a code"))
                assertEquals("consent.qr_not_login_code", qr.state.value.error?.code)
                assertEquals(QrLoginViewModel.Stage.SCANNING, qr.state.value.stage)

                // The portal shows a QR code; the phone scans it.
                val handle = ServerHttp.field(http.call("POST", "/portal/api/sessions", "{}"), "handle")
                val frame = ServerHttp.field(http.call("GET", "/portal/api/sessions/$handle"), "frame")
                assertTrue(qr.scan(frame), qr.state.value.error.toString())
                val review = qr.state.value
                assertEquals(QrLoginViewModel.Stage.REVIEW, review.stage)
                assertNull(review.error)
                val request = review.request ?: error("no request")
                assertEquals("dvc-demo", request.relyingPartyId)
                assertEquals(server.baseUrl, request.origin)
                assertNotNull(review.relyingPartyName(Language.EN))
                assertEquals(3, request.codeChoices.toSet().size)
                // Later frames of the animated code are ignored while the citizen reviews.
                assertFalse(qr.scan(frame))

                // The citizen picks the code the portal shows, and approves.
                val shown = ServerHttp.field(http.call("GET", "/portal/api/sessions/$handle"), "verification_code")
                assertTrue(shown in request.codeChoices, "$shown not in ${request.codeChoices}")
                qr.chooseCode(shown)
                assertTrue(qr.approve(PASSCODE), qr.state.value.error.toString())
                assertEquals(QrLoginViewModel.Stage.APPROVED, qr.state.value.stage)
                assertEquals(ConsentKind.QR_LOGIN, qr.state.value.approval?.receipt?.kind)
                val portal = http.call("GET", "/portal/api/sessions/$handle")
                assertEquals("approved", ServerHttp.field(portal, "state"))
                assertTrue(portal.contains("Ngô Thị Đồng Ý"), portal)
                qr.reset()
                assertEquals(QrLoginViewModel.Stage.SCANNING, qr.state.value.stage)

                // The bank asks; the citizen adds the phone, not the address.
                val share = ShareViewModel(core.consent(), Language.VI)
                val jws = ServerHttp.field(http.call("POST", "/rp/bank-demo/requests", "{}"), "request")
                assertTrue(share.open(jws), share.state.value.error.toString())
                val shareRequest = share.state.value.request ?: error("no share request")
                assertEquals("bank-demo", shareRequest.relyingPartyId)
                share.toggleOptional("phone")
                share.toggleOptional("permanent_address")
                share.toggleOptional("permanent_address")
                share.toggleOptional("not-offered") // ignored
                assertEquals(setOf("phone"), share.state.value.selectedOptional)
                assertTrue(share.share(PASSCODE), share.state.value.error.toString())
                val outcome = share.state.value.outcome ?: error("no outcome")
                assertTrue(outcome.relyingPartyAccepted)
                assertEquals(shareRequest.required.map { it.name }.toSet() + "phone", outcome.disclosedClaims.toSet())

                // Receipts and the activity log.
                val activity = ActivityViewModel(core.activity(), core.consent(), Language.VI)
                assertTrue(activity.refresh(), activity.state.value.error.toString())
                val s = activity.state.value
                assertEquals(setOf(ConsentKind.QR_LOGIN, ConsentKind.DATA_SHARE), s.receipts.map { it.kind }.toSet())
                assertEquals(ShareDelivery.DELIVERED, s.receipts.single { it.kind == ConsentKind.DATA_SHARE }.delivery)
                val kinds = s.entries.map { it.kind }.toSet()
                assertTrue(kinds.containsAll(listOf(ActivityKind.ENROLLMENT, ActivityKind.LOGIN, ActivityKind.QR_APPROVAL, ActivityKind.DATA_SHARE)), kinds.toString())
                assertEquals(s.entries.sortedByDescending { it.seq }, s.entries)
                assertTrue(activity.anchor(), activity.state.value.error.toString())
                assertTrue(activity.verify(), activity.state.value.report.toString())
                assertEquals(s.entries.size, activity.state.value.report?.entries)
                val export = activity.exportReceipts() ?: error("no export")
                assertEquals(s.receipts.size, verifyReceiptExport(export, null))
            }
        }
    }

    /**
     * Same-device login: the portal page asks for a same-device session and opens the app with
     * `citizenid://login?p=<frame>` (`deep_link` of `POST /portal/api/sessions`); the app routes
     * it ([DeepLink]) to [QrLoginViewModel.openLink], the citizen picks the portal's code and
     * approves, and the app sends the browser to the portal's registered callback with the ID
     * token in the fragment. Then the demo bank's `citizenid://share?request=<jws>` link.
     */
    @Test
    fun `same-device login and share links`(@TempDir serverDir: Path, @TempDir phoneDir: Path) = runBlocking {
        TestServer.start(serverDir).use { server ->
            openCore(server, phoneDir).use { core ->
                enrollThroughViewModel(server, core, Citizens.C11)
                assertTrue(LoginViewModel(core).login(PASSCODE))
                val http = ServerHttp(server)

                val created = http.call("POST", "/portal/api/sessions", """{"same_device": true}""")
                val handle = ServerHttp.field(created, "handle")
                val link = ServerHttp.field(created, "deep_link")
                assertTrue(link.startsWith("citizenid://login?p="), link)
                val target = DeepLink.parse(link)
                assertEquals(DeepLink.Login(link), target)

                val qr = QrLoginViewModel(core.consent(), Language.EN)
                assertTrue(qr.openLink(target!!.url), qr.state.value.error.toString())
                val review = qr.state.value
                assertEquals(QrLoginViewModel.Stage.REVIEW, review.stage)
                val request = review.request ?: error("no request")
                assertEquals("dvc-demo", request.relyingPartyId)
                assertEquals(server.baseUrl, request.origin)
                assertNull(review.redirectToOpen(allowLoopbackHttp = false))

                val shown = ServerHttp.field(http.call("GET", "/portal/api/sessions/$handle"), "verification_code")
                assertTrue(shown in request.codeChoices, "$shown not in ${request.codeChoices}")
                qr.chooseCode(shown)
                assertTrue(qr.approve(PASSCODE), qr.state.value.error.toString())
                val approved = qr.state.value
                assertEquals(QrLoginViewModel.Stage.APPROVED, approved.stage)
                assertEquals(ConsentKind.QR_LOGIN, approved.approval?.receipt?.kind)
                val redirect = approved.approval?.redirectUrl ?: error("no redirect for a same-device login")
                val callback = "${server.baseUrl}/portal/callback#"
                assertTrue(redirect.startsWith(callback), "$redirect does not start with $callback")
                assertTrue(redirect.contains("id_token="), redirect)
                // The test server is https: opened in release builds too.
                assertTrue(server.baseUrl.startsWith("https://"), server.baseUrl)
                assertEquals(redirect, approved.redirectToOpen(allowLoopbackHttp = false))

                // A garbled link: the core's error, nothing under review.
                val broken = QrLoginViewModel(core.consent(), Language.EN)
                assertFalse(broken.openLink("citizenid://login?p=not-a-frame"))
                assertEquals(QrLoginViewModel.Stage.SCANNING, broken.state.value.stage)
                assertNotNull(broken.state.value.error)

                // The bank's same-device share link opens like the bare request.
                val shareLink = ServerHttp.field(http.call("POST", "/rp/bank-demo/requests", "{}"), "link")
                val shareTarget = DeepLink.parse(shareLink)
                assertEquals(DeepLink.Share(shareLink), shareTarget)
                val share = ShareViewModel(core.consent(), Language.VI)
                assertTrue(share.open(shareTarget!!.url), share.state.value.error.toString())
                assertEquals("bank-demo", share.state.value.request?.relyingPartyId)
                assertTrue(share.share(PASSCODE), share.state.value.error.toString())
                assertTrue(share.state.value.outcome?.relyingPartyAccepted == true)
            }
        }
    }

    @Test
    fun `deep links are routed by scheme and host, only https or debug loopback http redirects open`() {
        assertEquals(DeepLink.Login("citizenid://login?p=abc"), DeepLink.parse("citizenid://login?p=abc"))
        assertEquals(DeepLink.Share("CITIZENID://share?request=a.b.c"), DeepLink.parse("CITIZENID://share?request=a.b.c"))
        for (bad in listOf("citizenid://other?p=1", "https://login?p=1", "citizenid:login?p=1", "citizenid://login?p=%zz x", "", "login")) {
            assertNull(DeepLink.parse(bad), bad)
        }

        val https = "https://dichvucong.example.gov.vn/portal/callback#id_token=x&session_id=y"
        assertEquals(https, DeepLink.browserRedirect(https, allowLoopbackHttp = false))
        for (loopback in listOf("http://127.0.0.1:8443/portal/callback#x", "http://localhost/cb", "http://[::1]:8080/cb")) {
            assertEquals(loopback, DeepLink.browserRedirect(loopback, allowLoopbackHttp = true), loopback)
            assertNull(DeepLink.browserRedirect(loopback, allowLoopbackHttp = false), loopback)
        }
        for (bad in listOf(
            null, "", "http://example.com/cb", "http://10.0.2.2:8443/cb", "javascript:alert(1)", "citizenid://login?p=1",
            "file:///etc/passwd", "intent://x#Intent;end", "https:///nohost", "/portal/callback", "data:text/html,x",
        )) {
            assertNull(DeepLink.browserRedirect(bad, allowLoopbackHttp = true), bad.toString())
        }
    }
}
