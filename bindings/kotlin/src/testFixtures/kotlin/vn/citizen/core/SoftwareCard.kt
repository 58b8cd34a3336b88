package vn.citizen.core

import java.io.BufferedReader
import java.io.File
import java.nio.file.Files
import java.nio.file.Path

/**
 * The Rust software CCCD (`examples/software_card_stdio`, one hex APDU per line) as a subprocess,
 * next to the reference server binary (`bindings/test.sh` builds it).
 */
object SoftwareCard {
    /** The example's binary; fails with a hint when it was not built. */
    val binary: File by lazy {
        val server = File(System.getProperty("citizen.server.bin") ?: error("citizen.server.bin is not set"))
        server.parentFile.resolve("examples/software_card_stdio").also {
            check(it.canExecute()) { "$it not found: run `cargo build --example software_card_stdio` (bindings/test.sh does)" }
        }
    }

    /** A server data directory whose `chip-csca/` trusts the software card's test CSCA. */
    fun serverDataDir(prefix: String = "citizen-chip-server-"): Path {
        val dataDir = Files.createTempDirectory(prefix)
        Files.createDirectories(dataDir.resolve("chip-csca"))
        val p = ProcessBuilder(binary.path, "--write-csca", dataDir.resolve("chip-csca/vn-test.der").toString()).start()
        check(p.waitFor() == 0) { "software_card_stdio --write-csca failed" }
        return dataDir
    }
}

/** The subprocess card as the shell's transport; an empty answer is a removal. */
class SoftwareCardTransport(vararg args: String) : ApduTransport, AutoCloseable {
    private val process = ProcessBuilder(listOf(SoftwareCard.binary.path) + args).start()
    private val reader: BufferedReader = process.inputStream.bufferedReader()

    override suspend fun transceive(command: ByteArray): ByteArray {
        process.outputStream.write((command.joinToString("") { "%02x".format(it) } + "\n").toByteArray())
        process.outputStream.flush()
        val answer = reader.readLine()?.trim().orEmpty()
        if (answer.isEmpty()) throw ApduTransportException.CardRemoved("the card left the field")
        return answer.chunked(2).map { it.toInt(16).toByte() }.toByteArray()
    }

    override fun maxApduLength(): Int = 261
    override fun supportsExtendedLength(): Boolean = false
    override fun close() {
        process.outputStream.close()
        process.waitFor()
    }
}
