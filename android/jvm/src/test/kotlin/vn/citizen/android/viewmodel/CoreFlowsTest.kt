package vn.citizen.android.viewmodel

import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.async
import kotlinx.coroutines.flow.onEach
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import vn.citizen.core.CoreStatus
import vn.citizen.core.EnrollmentState
import vn.citizen.core.OutboxItem
import vn.citizen.core.TestServer
import java.nio.file.Path

/**
 * The Flow adapters over the core's subscriptions: a new collector gets the current state first,
 * and the flow completes when the core is closed (no listener outlives its core). The timeouts
 * only turn a hang into a failure.
 */
class CoreFlowsTest {
    @Test
    fun `the outbox and status flows replay the state and complete when the core closes`(
        @TempDir serverDir: Path,
        @TempDir phoneDir: Path,
    ) = runBlocking {
        TestServer.start(serverDir).use { server ->
            val core = openCore(server, phoneDir)
            val services = core.services()
            val outboxReplayed = CompletableDeferred<Unit>()
            val statusReplayed = CompletableDeferred<Unit>()
            val outbox = async { services.outboxFlow().onEach { outboxReplayed.complete(Unit) }.toList() }
            val status = async { core.statusFlow().onEach { statusReplayed.complete(Unit) }.toList() }
            withTimeout(20_000) {
                outboxReplayed.await()
                statusReplayed.await()
            }
            // Closing the core ends both subscriptions: the flows complete with what they saw.
            core.close()
            assertEquals(listOf(emptyList<OutboxItem>()), withTimeout(20_000) { outbox.await() })
            val seen = withTimeout(20_000) { status.await() }
            assertEquals(
                listOf(CoreStatus(EnrollmentState.NotEnrolled, null, false, false, null)),
                seen,
            )
        }
    }
}
