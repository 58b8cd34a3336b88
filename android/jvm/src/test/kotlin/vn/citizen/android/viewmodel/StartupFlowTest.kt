package vn.citizen.android.viewmodel

import kotlinx.coroutines.asCoroutineDispatcher
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir
import vn.citizen.core.CitizenCore
import vn.citizen.core.DataKeyWrapper
import vn.citizen.core.JcaDataKeyWrapper
import vn.citizen.core.JcaDeviceKeyStore
import vn.citizen.core.Language
import vn.citizen.core.Platform
import vn.citizen.core.defaultCoreConfig
import vn.citizen.core.eraseLocalData
import java.nio.file.Files
import java.nio.file.Path
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.CountDownLatch
import java.util.concurrent.Executors
import java.util.concurrent.TimeUnit

/**
 * Issue 11, item 8 ("a temporarily locked data key never leads to erasure"): the launch view
 * model offers only a retry for a locked data key — the data stays byte for byte and opens once
 * the key is usable — and offers re-enrollment (an erase through `eraseLocalData(dir, wrapper)`)
 * only for a lost one. No server: opening makes no network call.
 */
class StartupFlowTest {
    private fun startup(dir: Path, wrapper: JcaDataKeyWrapper) = StartupViewModel(
        openCore = {
            val config = defaultCoreConfig(UNREACHABLE, dir.toString()).copy(platform = Platform.ANDROID)
            CitizenCore.open(config, JcaDeviceKeyStore(), wrapper)
        },
        erase = { eraseLocalData(dir.toString(), wrapper) },
        locale = Language.EN,
    )

    private fun files(dir: Path): Map<String, List<Byte>> =
        Files.list(dir).use { s ->
            s.filter { Files.isRegularFile(it) && !it.fileName.toString().endsWith(".lock") }
                .toList()
                .associate { it.fileName.toString() to Files.readAllBytes(it).toList() }
        }

    @Test
    fun `a locked data key offers retry and never erase, and once unlocked the data opens`(@TempDir dir: Path) = runBlocking {
        val wrapper = JcaDataKeyWrapper()
        val first = startup(dir, wrapper)
        first.open()
        (first.state.value as StartupViewModel.State.Ready).core.close()
        val before = files(dir)
        assertTrue(before.isNotEmpty(), "the first open stored the database")

        wrapper.locked = true
        val vm = startup(dir, wrapper)
        vm.open()
        val locked = vm.state.value
        assertTrue(locked is StartupViewModel.State.Locked, locked.toString())
        assertEquals("storage.data_key_locked", (locked as StartupViewModel.State.Locked).error.code)
        assertTrue(vm.offersRetry)
        assertFalse(vm.offersReEnroll, "a locked data key must not offer an erase")
        assertThrows<IllegalStateException> { runBlocking { vm.reEnroll() } }
        vm.retry() // still locked: still only a retry
        assertTrue(vm.state.value is StartupViewModel.State.Locked)
        assertEquals(emptyList<String>(), wrapper.deletedKeys, "no wrapping key was deleted")
        assertEquals(before, files(dir), "a locked data key changed the data directory")

        wrapper.locked = false
        vm.retry()
        val ready = vm.state.value
        assertTrue(ready is StartupViewModel.State.Ready, ready.toString())
        (ready as StartupViewModel.State.Ready).core.close()
    }

    @Test
    fun `a lost data key offers re-enroll, which erases through the wrapper`(@TempDir dir: Path) = runBlocking {
        val original = JcaDataKeyWrapper()
        startup(dir, original).also { it.open() }.let { (it.state.value as StartupViewModel.State.Ready).core.close() }

        // Restored onto another phone: its wrapper has no key for this data.
        val other = JcaDataKeyWrapper()
        val vm = startup(dir, other)
        vm.open()
        val lost = vm.state.value
        assertTrue(lost is StartupViewModel.State.Lost, lost.toString())
        assertEquals("storage.data_key_lost", (lost as StartupViewModel.State.Lost).error.code)
        assertTrue(vm.offersReEnroll)
        assertFalse(vm.offersRetry)

        vm.reEnroll()
        assertEquals(listOf("citizen-core.data-key.v1"), other.deletedKeys, "the core named its own alias")
        val ready = vm.state.value
        assertTrue(ready is StartupViewModel.State.Ready, ready.toString())
        assertFalse((ready as StartupViewModel.State.Ready).enrolled, "a fresh core starts at enrollment")
        ready.core.close()
    }

    /**
     * Main-safety of the launch (issue 11, item 1): the view model opened from a one-thread
     * dispatcher (Android's main thread) — the wrapper the core calls during the open (next to the
     * SQLite migration) runs on another thread, and it waits for a coroutine queued on the
     * caller's thread, which can only run if the open suspended instead of blocking it.
     */
    @Test
    fun `opening from a single-threaded dispatcher neither runs nor blocks on that thread`(@TempDir dir: Path) {
        val inner = JcaDataKeyWrapper()
        val release = CountDownLatch(1)
        val threads = CopyOnWriteArrayList<Thread>()
        val gated = object : DataKeyWrapper by inner {
            private fun gate() {
                threads += Thread.currentThread()
                check(release.await(30, TimeUnit.SECONDS)) { "the caller's thread was blocked" }
            }
            override fun wrap(keyAlias: String, dataKey: ByteArray): ByteArray = gate().let { inner.wrap(keyAlias, dataKey) }
            override fun unwrap(keyAlias: String, wrapped: ByteArray): ByteArray = gate().let { inner.unwrap(keyAlias, wrapped) }
        }
        val executor = Executors.newSingleThreadExecutor { r -> Thread(r, "single-ui-thread") }
        val dispatcher = executor.asCoroutineDispatcher()
        try {
            val ui = runBlocking(dispatcher) {
                launch { release.countDown() } // runs on this thread only when the open suspends
                val vm = StartupViewModel(
                    openCore = { CitizenCore.open(defaultCoreConfig(UNREACHABLE, dir.toString()), JcaDeviceKeyStore(), gated) },
                    erase = { error("no erase") },
                    locale = Language.VI,
                )
                vm.open()
                val ready = vm.state.value
                assertTrue(ready is StartupViewModel.State.Ready, ready.toString())
                (ready as StartupViewModel.State.Ready).core.close()
                Thread.currentThread()
            }
            assertTrue(threads.isNotEmpty(), "the core never called the wrapper")
            assertTrue(threads.none { it === ui }, "the data key was wrapped on the caller's thread: $threads")
        } finally {
            dispatcher.close()
            executor.shutdown()
        }
    }

    private companion object {
        const val UNREACHABLE = "https://127.0.0.1:9"
    }
}
