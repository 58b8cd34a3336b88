package vn.citizen.core

import java.io.File
import java.nio.file.Files
import java.nio.file.Path
import java.util.concurrent.LinkedBlockingQueue
import java.util.concurrent.TimeUnit

/**
 * The reference server as a subprocess (built beforehand with `cargo build -p citizen-server`;
 * its path comes from the `citizen.server.bin` system property that the POM sets).
 */
class TestServer private constructor(
    private val process: Process,
    val baseUrl: String,
    val audience: String,
    val caPem: String,
    val pin: String,
    val backupPin: String,
    private val otpFile: Path,
) : AutoCloseable {

    /** The newest OTP the server sent for [reference] (an enrollment or reset id). */
    fun otpFor(reference: String, timeoutMs: Long = 10_000): String {
        val deadline = System.currentTimeMillis() + timeoutMs
        while (true) {
            if (Files.exists(otpFile)) {
                // One flat JSON object per line: {"reference": ..., "to": ..., "otp": ...}.
                val found = Files.readAllLines(otpFile).filter { jsonField(it, "reference") == reference }
                    .mapNotNull { jsonField(it, "otp") }
                if (found.isNotEmpty()) return found.last()
            }
            check(System.currentTimeMillis() < deadline) { "no OTP for $reference in $otpFile" }
            Thread.sleep(50)
        }
    }

    private fun jsonField(line: String, name: String): String? =
        Regex(""""${Regex.escape(name)}"\s*:\s*"?([^",}]*)"?""").find(line)?.groupValues?.get(1)

    fun config(dataDir: Path, baseUrl: String = this.baseUrl): CoreConfig =
        defaultCoreConfig(baseUrl, dataDir.toString()).copy(
            trustAnchorsPem = listOf(caPem),
            spkiPins = listOf(pin, backupPin),
            deviceLabel = "junit",
        )

    override fun close() {
        process.destroy()
        if (!process.waitFor(10, TimeUnit.SECONDS)) process.destroyForcibly().waitFor()
    }

    companion object {
        private const val READY = "CITIZEN_SERVER_READY "

        fun start(): TestServer {
            val binary = File(System.getProperty("citizen.server.bin") ?: error("citizen.server.bin is not set"))
            check(binary.canExecute()) { "$binary not found: run `cargo build -p citizen-server` first (bindings/test.sh does)" }
            val dataDir = Files.createTempDirectory("citizen-server-")
            val otpFile = dataDir.resolve("otp.jsonl")
            val process = ProcessBuilder(
                binary.path, "--listen", "127.0.0.1:0", "--data-dir", dataDir.toString(),
                "--dev-otp-file", otpFile.toString(),
            ).redirectError(dataDir.resolve("server.log").toFile()).start()
            process.outputStream.close()

            val lines = LinkedBlockingQueue<String>()
            Thread({
                process.inputStream.bufferedReader().useLines { seq -> seq.forEach { lines.put(it) } }
                lines.put(EOF)
            }, "citizen-server-stdout").apply { isDaemon = true }.start()

            val deadline = System.currentTimeMillis() + 60_000
            while (true) {
                val line = lines.poll(deadline - System.currentTimeMillis(), TimeUnit.MILLISECONDS)
                if (line == null || line === EOF) {
                    process.destroyForcibly()
                    val log = runCatching { Files.readString(dataDir.resolve("server.log")) }.getOrDefault("")
                    error("citizen-server did not get ready:\n${log.takeLast(4000)}")
                }
                if (!line.startsWith(READY)) continue
                val fields = line.removePrefix(READY).trim().split(Regex("\\s+")).associate {
                    val (k, v) = it.split("=", limit = 2).let { p -> p[0] to p.getOrElse(1) { "" } }
                    k to v
                }
                fun field(name: String) = fields[name] ?: error("READY line lacks $name: $line")
                return TestServer(
                    process = process,
                    baseUrl = field("base_url"),
                    audience = field("audience"),
                    caPem = Files.readString(Path.of(field("ca"))),
                    pin = field("pin"),
                    backupPin = field("backup_pin"),
                    otpFile = otpFile,
                )
            }
        }

        private val EOF = String(charArrayOf('\u0000'))
    }
}
