package vn.citizen.core

import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.fail
import org.junit.jupiter.api.io.TempDir
import java.nio.file.Path
import java.time.LocalDate
import java.time.ZoneOffset
import java.time.format.DateTimeFormatter
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit

/**
 * Issue 11, item 4: a subscription replays the current state, then ends with `shutdown()` (which
 * also stops the background delivery a submit started); after that its listener hears nothing,
 * even when the outbox of the same data directory changes (delivered by a new core, whose own
 * subscriber sees it). Runs its own
 * server (own register: the fictitious citizen 8 may repeat across classes).
 */
class SubscriptionTest {
    private class Recorder : OutboxListener {
        val calls: MutableList<List<OutboxItem>> = CopyOnWriteArrayList()
        val ended = CountDownLatch(1)
        override fun onOutbox(items: List<OutboxItem>) {
            calls += items
        }
        override fun onEnd() = ended.countDown()

        fun awaitCalls(n: Int) {
            repeat(4000) { if (calls.size >= n) return; Thread.sleep(5) }
            fail("only ${calls.size} notifications, expected $n")
        }

        fun awaitState(state: OutboxState) {
            repeat(4000) { if (calls.any { c -> c.any { it.state == state } }) return; Thread.sleep(5) }
            fail("never saw $state: $calls")
        }
    }

    @Test
    fun `after shutdown no outbox notification arrives even when the outbox changes`(
        @TempDir serverDir: Path,
        @TempDir phoneDir: Path,
    ) = runBlocking<Unit> {
        TestServer.start(serverDir).use { server ->
            val keyStore = JcaDeviceKeyStore()
            val keyWrapper = JcaDataKeyWrapper()
            val old = Recorder()
            CitizenCore.open(server.config(phoneDir), keyStore, keyWrapper).use { core ->
                val ticket = core.account().startEnrollment(EnrollmentInput(CCCD, DOB, PHONE))
                core.account().completeEnrollment(
                    server.otpFor(ticket.enrollmentId), PASSCODE,
                    KeyOptions(requireUserAuthentication = false, preferStrongbox = false, attestationChallenge = byteArrayOf()),
                )
                core.account().login(PASSCODE)
                core.services().refreshCatalogue()
                core.services().refreshProfile()
                val draftId = core.services().createDraft("residence-notification").draftId
                val today = LocalDate.now(ZoneOffset.ofHours(7))
                core.services().updateDraft(
                    draftId,
                    mapOf(
                        "guests.0.full_name" to "Khách Thử Nghiệm",
                        "guests.0.cccd" to "079195000002",
                        "guests.0.relationship" to "ban_be",
                        "reason" to "du_lich",
                        "from_date" to today.plusDays(1).format(DateTimeFormatter.ISO_LOCAL_DATE),
                        "to_date" to today.plusDays(5).format(DateTimeFormatter.ISO_LOCAL_DATE),
                    ),
                )
                core.services().observeOutbox(old)
                old.awaitCalls(1)
                assertEquals(listOf(emptyList<OutboxItem>()), old.calls.toList(), "the replay of the empty outbox")
                core.services().submitDraft(draftId, PASSCODE) // delivery starts in the background
                old.awaitState(OutboxState.QUEUED)
                core.shutdown() // stops that delivery too
                assertTrue(old.ended.await(20, TimeUnit.SECONDS), "shutdown did not end the subscription")
            }
            // onEnd came after the last notification: nothing more may arrive.
            val heard = old.calls.toList()

            CitizenCore.open(server.config(phoneDir), keyStore, keyWrapper).use { core ->
                val new = Recorder()
                core.services().observeOutbox(new)
                new.awaitCalls(1)
                core.services().syncOutbox()
                new.awaitState(OutboxState.DELIVERED)
                assertEquals(listOf(OutboxState.DELIVERED), core.services().listOutbox().map { it.state })
                assertEquals(heard, old.calls.toList(), "a listener heard from a core that was shut down")
                core.shutdown()
            }
        }
    }

    private companion object {
        // Fictitious citizen 8 of the reference register (this class has its own server).
        const val CCCD = "001190000008"
        const val DOB = "1990-03-03"
        const val PHONE = "+84900000008"
        const val PASSCODE = "246810"
    }
}
