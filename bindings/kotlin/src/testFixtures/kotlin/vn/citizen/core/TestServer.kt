package vn.citizen.core

import java.io.File
import java.nio.file.Files
import java.nio.file.Path
import java.util.concurrent.LinkedBlockingQueue
import java.util.concurrent.TimeUnit

/**
 * The reference server as a subprocess (built beforehand with `cargo build -p citizen-server`;
 * its path comes from the `citizen.server.bin` system property that the POM sets).
 *
 * [close] stops it; [restart] starts a new one on the same address and data directory (same
 * database, PKI and officials' token), to play "the network went away and came back".
 */
class TestServer private constructor(
    private val process: Process,
    val baseUrl: String,
    val audience: String,
    val caPem: String,
    val pin: String,
    val backupPin: String,
    private val otpFile: Path,
    /** The server's data directory (database, dev PKI, `official-token`, log). */
    val dataDir: Path,
) : AutoCloseable {

    /** The port it listens on (from [baseUrl]). */
    val port: Int get() = java.net.URI(baseUrl).port

    /** The officials' API secret (header `X-Official-Token`), written at first start. */
    fun officialToken(): String = Files.readString(dataDir.resolve("official-token")).trim()

    /**
     * A named official with [roles] (comma-separated: `records`, `dashboard`, `counter`,
     * `register`), created by `citizen-server add-official` on this data directory; returns
     * their token (header `X-Official-Token`).
     */
    fun addOfficial(id: String, agency: String, roles: String): String {
        val binary = System.getProperty("citizen.server.bin") ?: error("citizen.server.bin is not set")
        val p = ProcessBuilder(
            binary, "--data-dir", dataDir.toString(), "add-official", "--id", id, "--agency", agency, "--roles", roles,
        ).redirectErrorStream(false).start()
        p.outputStream.close()
        val token = p.inputStream.bufferedReader().readText().trim()
        check(p.waitFor() == 0 && token.isNotEmpty()) { "add-official failed: ${p.errorStream.bufferedReader().readText()}" }
        return token
    }

    /** Whether the process is still running. */
    val isRunning: Boolean get() = process.isAlive

    /** A new server on the same address and data directory; stop this one ([close]) first. */
    fun restart(): TestServer {
        check(!process.isAlive) { "close() the running server before restarting it" }
        return start(dataDir, listen = "127.0.0.1:$port")
    }

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

    /**
     * Enrol the citizen on [core] through this server (the OTP read from its dev OTP file), with
     * a software device key that needs no user authentication, then log in with [passcode]: the
     * set-up most tests start from.
     */
    suspend fun enrolAndLogin(core: CitizenCore, cccd: String, dateOfBirth: String, phone: String, passcode: String) {
        val ticket = core.account().startEnrollment(EnrollmentInput(cccd, dateOfBirth, phone))
        core.account().completeEnrollment(
            otpFor(ticket.enrollmentId), passcode,
            KeyOptions(requireUserAuthentication = false, preferStrongbox = false, attestationChallenge = byteArrayOf()),
        )
        core.account().login(passcode)
    }

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

        /**
         * Start a server on [listen] (port 0 = any free port) with [dataDir] (a new temporary
         * directory by default; an existing one is reused: same database, PKI and token).
         */
        fun start(
            dataDir: Path = Files.createTempDirectory("citizen-server-"),
            listen: String = "127.0.0.1:0",
            extraArgs: List<String> = emptyList(),
        ): TestServer {
            val binary = File(System.getProperty("citizen.server.bin") ?: error("citizen.server.bin is not set"))
            check(binary.canExecute()) { "$binary not found: run `cargo build -p citizen-server` first (bindings/test.sh does)" }
            Files.createDirectories(dataDir)
            val otpFile = dataDir.resolve("otp.jsonl")
            val process = ProcessBuilder(
                listOf(
                    binary.path, "--listen", listen, "--data-dir", dataDir.toString(),
                    "--dev-otp-file", otpFile.toString(),
                ) + extraArgs,
            ).redirectError(ProcessBuilder.Redirect.appendTo(dataDir.resolve("server.log").toFile())).start()
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
                    dataDir = dataDir,
                )
            }
        }

        private val EOF = String(charArrayOf('\u0000'))
    }
}
