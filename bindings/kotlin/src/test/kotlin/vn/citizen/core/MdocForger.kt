package vn.citizen.core

import kotlinx.coroutines.channels.Channel
import java.io.ByteArrayOutputStream
import java.math.BigInteger
import java.nio.ByteBuffer
import java.security.KeyFactory
import java.security.KeyPair
import java.security.KeyPairGenerator
import java.security.MessageDigest
import java.security.interfaces.ECPublicKey
import java.security.spec.ECGenParameterSpec
import java.security.spec.ECPoint
import java.security.spec.ECPublicKeySpec
import java.util.Base64
import javax.crypto.Cipher
import javax.crypto.KeyAgreement
import javax.crypto.Mac
import javax.crypto.spec.GCMParameterSpec
import javax.crypto.spec.SecretKeySpec

/**
 * One end of an in-process link carrying ISO 18013-5 BLE frames (as `PresentationFlowTest` of
 * the Android shell wires it); [sent] keeps what this end sent.
 */
class ChannelTransport(val inbox: Channel<ByteArray>, private val outbox: Channel<ByteArray>) : MdocTransport {
    val sent = mutableListOf<ByteArray>()
    override fun maxFrameSize(): Int = FRAME
    override suspend fun sendFrame(frame: ByteArray) {
        sent.add(frame)
        outbox.send(frame)
    }
    override suspend fun receiveFrame(): ByteArray = inbox.receive()
    override suspend fun disconnect() {}

    /** Put [message] on this end's inbox, cut into frames (as if the peer had sent it). */
    suspend fun deliver(message: ByteArray) = frames(message).forEach { inbox.send(it) }

    /** The next whole message in this end's inbox. */
    suspend fun receiveMessage(): ByteArray {
        val out = ByteArrayOutputStream()
        while (true) {
            val f = inbox.receive()
            out.write(f, 1, f.size - 1)
            if (f[0].toInt() == 0) return out.toByteArray()
        }
    }

    companion object {
        const val FRAME = 182

        /** (holder end, verifier end). */
        fun pair(): Pair<ChannelTransport, ChannelTransport> {
            val a = Channel<ByteArray>(Channel.UNLIMITED)
            val b = Channel<ByteArray>(Channel.UNLIMITED)
            return ChannelTransport(a, b) to ChannelTransport(b, a)
        }

        /** [payload] as BLE frames: 0x01 before every chunk but the last, 0x00 before it. */
        fun frames(payload: ByteArray): List<ByteArray> {
            val chunks = payload.toList().chunked(FRAME - 1).map { it.toByteArray() }.ifEmpty { listOf(ByteArray(0)) }
            return chunks.mapIndexed { i, c -> byteArrayOf(if (i == chunks.lastIndex) 0 else 1) + c }
        }
    }
}

/** A CBOR tag and its content. */
data class Tag(val tag: Long, val value: Any?)

/**
 * The little of CBOR (RFC 8949) the attacks need, definite lengths only: integers as [Long],
 * byte strings, text, arrays as mutable lists, maps as mutable insertion-ordered maps, tags,
 * booleans and null.
 */
object Cbor {
    fun encode(v: Any?): ByteArray = ByteArrayOutputStream().also { write(it, v) }.toByteArray()

    fun decode(b: ByteArray): Any? {
        val r = Reader(ByteBuffer.wrap(b))
        return r.item().also { check(!r.buf.hasRemaining()) { "trailing bytes" } }
    }

    private fun head(out: ByteArrayOutputStream, major: Int, n: Long) {
        val m = major shl 5
        when {
            n < 24 -> out.write(m or n.toInt())
            n < 0x100 -> { out.write(m or 24); out.write(n.toInt()) }
            n < 0x10000 -> { out.write(m or 25); out.write(ByteBuffer.allocate(2).putShort(n.toInt().toShort()).array()) }
            n < 0x100000000 -> { out.write(m or 26); out.write(ByteBuffer.allocate(4).putInt(n.toInt()).array()) }
            else -> { out.write(m or 27); out.write(ByteBuffer.allocate(8).putLong(n).array()) }
        }
    }

    private fun write(out: ByteArrayOutputStream, v: Any?) {
        when (v) {
            null -> out.write(0xf6)
            false -> out.write(0xf4)
            true -> out.write(0xf5)
            is Int -> write(out, v.toLong())
            is Long -> if (v >= 0) head(out, 0, v) else head(out, 1, -1 - v)
            is ByteArray -> { head(out, 2, v.size.toLong()); out.write(v) }
            is String -> v.toByteArray(Charsets.UTF_8).let { head(out, 3, it.size.toLong()); out.write(it) }
            is List<*> -> { head(out, 4, v.size.toLong()); v.forEach { write(out, it) } }
            is Map<*, *> -> { head(out, 5, v.size.toLong()); v.forEach { (k, x) -> write(out, k); write(out, x) } }
            is Tag -> { head(out, 6, v.tag); write(out, v.value) }
            else -> error("cannot encode ${v::class}")
        }
    }

    private class Reader(val buf: ByteBuffer) {
        fun length(ai: Int): Long = when (ai) {
            in 0..23 -> ai.toLong()
            24 -> (buf.get().toLong() and 0xff)
            25 -> (buf.short.toLong() and 0xffff)
            26 -> (buf.int.toLong() and 0xffffffffL)
            27 -> buf.long
            else -> error("indefinite or reserved length")
        }

        fun bytes(n: Long) = ByteArray(n.toInt()).also { buf.get(it) }

        fun item(): Any? {
            val b = buf.get().toInt() and 0xff
            val ai = b and 0x1f
            return when (b shr 5) {
                0 -> length(ai)
                1 -> -1 - length(ai)
                2 -> bytes(length(ai))
                3 -> String(bytes(length(ai)), Charsets.UTF_8)
                4 -> MutableList(length(ai).toInt()) { item() }
                5 -> LinkedHashMap<Any?, Any?>().also { m -> repeat(length(ai).toInt()) { m[item()] = item() } }
                6 -> Tag(length(ai), item())
                else -> when (ai) {
                    20 -> false
                    21 -> true
                    22 -> null
                    else -> error("unsupported simple value $ai")
                }
            }
        }
    }
}

/** Keys and counters of one side of an ISO 18013-5 session (§9.1.1). */
class MdocSession(own: KeyPair, peer: ECPublicKey, val transcript: ByteArray) {
    private val skDevice: ByteArray
    private val skReader: ByteArray
    private val counters = IntArray(2)

    init {
        val shared = KeyAgreement.getInstance("ECDH").run { init(own.private); doPhase(peer, true); generateSecret() }
        val salt = MessageDigest.getInstance("SHA-256").digest(Cbor.encode(Tag(24, transcript)))
        val prk = hmac(salt, shared)
        skDevice = hmac(prk, "SKDevice".toByteArray() + 1.toByte())
        skReader = hmac(prk, "SKReader".toByteArray() + 1.toByte())
    }

    private fun hmac(key: ByteArray, data: ByteArray): ByteArray =
        Mac.getInstance("HmacSHA256").run { init(SecretKeySpec(key, "HmacSHA256")); doFinal(data) }

    private fun cipher(mode: Int, reader: Boolean): Cipher {
        val i = if (reader) 0 else 1
        counters[i] += 1
        val nonce = ByteBuffer.allocate(12).put(7, (if (reader) 0 else 1).toByte()).putInt(8, counters[i]).array()
        return Cipher.getInstance("AES/GCM/NoPadding").apply {
            init(mode, SecretKeySpec(if (reader) skReader else skDevice, "AES"), GCMParameterSpec(128, nonce))
        }
    }

    fun seal(plaintext: ByteArray, reader: Boolean): ByteArray = cipher(Cipher.ENCRYPT_MODE, reader).doFinal(plaintext)
    fun open(ciphertext: ByteArray, reader: Boolean): ByteArray = cipher(Cipher.DECRYPT_MODE, reader).doFinal(ciphertext)
}

/**
 * A dishonest holder for the attacks that need one (issue 13): the citizen's phone is read as an
 * anonymous ISO 18013-5 reader would read it, and the answer is presented by this object, playing
 * the holder, to a verifier in a session of its own: edited, device authentication signed again
 * through the phone's own key store (a rooted phone's owner can ask it to sign anything), and
 * encrypted under that session's keys. An unedited answer is valid: the forger is faithful.
 */
object MdocForger {
    private fun ephemeral(): KeyPair =
        KeyPairGenerator.getInstance("EC").apply { initialize(ECGenParameterSpec("secp256r1")) }.generateKeyPair()

    private fun fixed32(n: BigInteger): ByteArray {
        val b = n.toByteArray().dropWhile { it.toInt() == 0 }.toByteArray()
        return ByteArray(32 - b.size) + b
    }

    private fun coseKey(k: ECPublicKey): ByteArray =
        Cbor.encode(linkedMapOf(1L to 2L, -1L to 1L, -2L to fixed32(k.w.affineX), -3L to fixed32(k.w.affineY)))

    private fun publicOf(cose: ByteArray, like: ECPublicKey): ECPublicKey {
        val m = Cbor.decode(cose) as Map<*, *>
        val point = ECPoint(BigInteger(1, m[-2L] as ByteArray), BigInteger(1, m[-3L] as ByteArray))
        return KeyFactory.getInstance("EC").generatePublic(ECPublicKeySpec(point, like.params)) as ECPublicKey
    }

    private fun transcript(engagement: ByteArray, readerKey: ByteArray): ByteArray =
        Cbor.encode(listOf(Tag(24, engagement), Tag(24, readerKey), null))

    /** A DER ECDSA signature as the 64-byte r ‖ s COSE wants. */
    private fun raw(der: ByteArray): ByteArray {
        var i = 2 + (if (der[1].toInt() and 0x80 != 0) der[1].toInt() and 0x7f else 0)
        fun int(): BigInteger {
            check(der[i].toInt() == 2); val n = der[i + 1].toInt(); val v = BigInteger(1, der.copyOfRange(i + 2, i + 2 + n)); i += 2 + n; return v
        }
        return fixed32(int()) + fixed32(int())
    }

    /** The phone's answer to an anonymous request for [elements] of [docType], decoded, and the key-store alias that signed it. */
    suspend fun readPhone(
        documents: DocumentsClient,
        store: JcaDeviceKeyStore,
        passcode: String,
        docType: String,
        namespace: String,
        elements: List<String>,
    ): Pair<MutableMap<Any?, Any?>, String> {
        val (holder, reader) = ChannelTransport.pair()
        val session = documents.startPresentation(holder)
        val engagement = Base64.getUrlDecoder().decode(session.engagementQr().removePrefix("mdoc:"))
        val deviceCose = (((Cbor.decode(engagement) as Map<*, *>)[1L] as List<*>)[1] as Tag).value as ByteArray
        val own = ephemeral()
        val readerKey = coseKey(own.public as ECPublicKey)
        val s = MdocSession(own, publicOf(deviceCose, own.public as ECPublicKey), transcript(engagement, readerKey))
        val items = Cbor.encode(linkedMapOf("docType" to docType, "nameSpaces" to mapOf(namespace to elements.associateWith { false })))
        val request = Cbor.encode(linkedMapOf("version" to "1.0", "docRequests" to listOf(mapOf("itemsRequest" to Tag(24, items)))))
        holder.deliver(Cbor.encode(linkedMapOf("eReaderKey" to Tag(24, readerKey), "data" to s.seal(request, reader = true))))
        session.awaitRequest()
        val before = store.requests.size
        session.approve(elements.map { ElementSelection(docType, namespace, it) }, passcode)
        val alias = store.requests[before].first
        val answer = Cbor.decode(reader.receiveMessage()) as Map<*, *>
        @Suppress("UNCHECKED_CAST")
        return (Cbor.decode(s.open(answer["data"] as ByteArray, reader = false)) as MutableMap<Any?, Any?>) to alias
    }

    /** Present [response] to [verifier] in a fresh session of our own, signed with [alias] of [store]; the verdict. */
    suspend fun presentAsHolder(
        verifier: Verifier,
        request: VerifierRequest,
        response: MutableMap<Any?, Any?>,
        store: JcaDeviceKeyStore,
        alias: String,
    ): VerificationVerdict {
        val own = ephemeral()
        val engagement = Cbor.encode(linkedMapOf(0L to "1.0", 1L to listOf(1L, Tag(24, coseKey(own.public as ECPublicKey)))))
        val qr = "mdoc:" + Base64.getUrlEncoder().withoutPadding().encodeToString(engagement)
        val (holder, reader) = ChannelTransport.pair()
        val vs = verifier.startSession(qr, request, reader)
        val establishment = Cbor.decode(holder.receiveMessage()) as Map<*, *>
        val readerKey = (establishment["eReaderKey"] as Tag).value as ByteArray
        val s = MdocSession(own, publicOf(readerKey, own.public as ECPublicKey), transcript(engagement, readerKey))
        Cbor.decode(s.open(establishment["data"] as ByteArray, reader = true)) // the DeviceRequest: in session
        val signRequest = SignRequest(SignPurpose.DOCUMENT_PRESENTATION, userInitiated = true)
        for (doc in response["documents"] as List<*>) {
            doc as Map<*, *>
            val deviceSigned = doc["deviceSigned"] as Map<*, *>
            val da = byteArrayOf(0x84.toByte()) + Cbor.encode("DeviceAuthentication") + s.transcript +
                Cbor.encode(doc["docType"]) + Cbor.encode(deviceSigned["nameSpaces"])
            val dab = Cbor.encode(Tag(24, da))
            var sign1 = (deviceSigned["deviceAuth"] as Map<*, *>)["deviceSignature"]
            if (sign1 is Tag) sign1 = sign1.value
            @Suppress("UNCHECKED_CAST")
            sign1 as MutableList<Any?>
            val tbs = Cbor.encode(listOf("Signature1", sign1[0], ByteArray(0), dab))
            sign1[3] = raw(store.sign(alias, tbs, signRequest).bytes)
        }
        reader.deliver(Cbor.encode(mapOf("data" to s.seal(Cbor.encode(response), reader = false))))
        return vs.awaitResponse()
    }
}
