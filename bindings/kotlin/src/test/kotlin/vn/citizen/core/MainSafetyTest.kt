package vn.citizen.core

import kotlinx.coroutines.asCoroutineDispatcher
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import java.nio.file.Path
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.CountDownLatch
import java.util.concurrent.Executors
import java.util.concurrent.TimeUnit

/**
 * Main-safety by construction: a call made from a single-threaded dispatcher (standing in for
 * Android's main thread) never runs the core's work on that thread and never blocks it. No
 * timing is measured: the platform callbacks record the thread they run on, and a callback that
 * waits for another coroutine of the same single thread can only finish if the call suspended
 * instead of blocking (otherwise the latch is never released and the open fails).
 */
class MainSafetyTest {

    /**
     * A data-key wrapper that records the threads the core calls it on and, before answering,
     * waits for [release] (counted down by a coroutine on the caller's dispatcher). The wait is
     * bounded only so that a regression fails instead of hanging the build.
     */
    private class GatedWrapper(private val inner: DataKeyWrapper, private val release: CountDownLatch) : DataKeyWrapper {
        val threads: MutableList<Thread> = CopyOnWriteArrayList()

        private fun gate() {
            threads += Thread.currentThread()
            check(release.await(30, TimeUnit.SECONDS)) { "the caller's thread was blocked: the releasing coroutine never ran" }
        }

        override fun wrap(keyAlias: String, dataKey: ByteArray): ByteArray {
            gate()
            return inner.wrap(keyAlias, dataKey)
        }

        override fun unwrap(keyAlias: String, wrapped: ByteArray): ByteArray {
            gate()
            return inner.unwrap(keyAlias, wrapped)
        }

        override fun deleteKey(keyAlias: String) = inner.deleteKey(keyAlias)
    }

    /** Open (and on the second run reopen) the core from a one-thread dispatcher. */
    private fun openFromOneThread(dir: Path, wrapper: GatedWrapper, release: CountDownLatch): Thread {
        val executor = Executors.newSingleThreadExecutor { r -> Thread(r, "single-ui-thread") }
        val dispatcher = executor.asCoroutineDispatcher()
        try {
            return runBlocking(dispatcher) {
                val uiThread = Thread.currentThread()
                // Queued on the same (only) thread: it runs only when the open below suspends.
                launch { release.countDown() }
                val config = defaultCoreConfig(UNREACHABLE, dir.toString())
                CitizenCore.open(config, JcaDeviceKeyStore(), wrapper).use { core ->
                    // Later calls that read the database are suspend calls too and complete here.
                    assertEquals(EnrollmentState.NotEnrolled, core.status().enrollment)
                    assertEquals(emptyList<Draft>(), core.services().listDrafts())
                    assertEquals(0, core.consent().listReceipts().size)
                }
                uiThread
            }
        } finally {
            dispatcher.close()
            executor.shutdown()
        }
    }

    @Test
    fun `opening the core from a single-threaded dispatcher neither runs nor blocks on that thread`(@TempDir dir: Path) {
        // The phone's key store: the same across both opens (an app restart).
        val platform = JcaDataKeyWrapper()
        // First open: a new data key is made and wrapped.
        val first = CountDownLatch(1)
        val creating = GatedWrapper(platform, first)
        val uiThread = openFromOneThread(dir, creating, first)
        assertTrue(creating.threads.isNotEmpty(), "the core never called the wrapper")
        assertTrue(creating.threads.none { it === uiThread }, "wrap ran on the caller's thread: ${creating.threads}")

        // Second open of the same directory: the stored key is unwrapped (the launch migration path).
        val second = CountDownLatch(1)
        val reopening = GatedWrapper(platform, second)
        val uiThreadAgain = openFromOneThread(dir, reopening, second)
        assertTrue(reopening.threads.isNotEmpty(), "the core never called unwrap")
        assertTrue(reopening.threads.none { it === uiThreadAgain }, "unwrap ran on the caller's thread: ${reopening.threads}")
    }

    private companion object {
        /** No network call is made by these operations; nothing listens here anyway. */
        const val UNREACHABLE = "https://127.0.0.1:9"
    }
}
