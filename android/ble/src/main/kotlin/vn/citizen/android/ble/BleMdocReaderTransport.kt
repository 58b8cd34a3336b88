package vn.citizen.android.ble

import android.annotation.SuppressLint
import android.bluetooth.BluetoothDevice
import android.bluetooth.BluetoothGatt
import android.bluetooth.BluetoothGattCallback
import android.bluetooth.BluetoothGattCharacteristic
import android.bluetooth.BluetoothGattDescriptor
import android.bluetooth.BluetoothManager
import android.bluetooth.BluetoothProfile
import android.bluetooth.BluetoothStatusCodes
import android.bluetooth.le.ScanCallback
import android.bluetooth.le.ScanFilter
import android.bluetooth.le.ScanResult
import android.bluetooth.le.ScanSettings
import android.content.Context
import android.os.Build
import android.os.ParcelUuid
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.TimeoutCancellationException
import kotlinx.coroutines.withTimeout
import java.util.UUID
import vn.citizen.core.MdocTransport

/**
 * The verifier's side of the in-person presentation over BLE (ISO/IEC 18013-5 §8.3.3.1.1, mdoc
 * peripheral server mode; ARCHITECTURE.md, decision 38): the reader is the GATT central. [connect]
 * scans for the service UUID read from the holder's QR code, connects, asks for a large ATT MTU,
 * discovers the mdoc service, subscribes to State and Server2Client and writes State = start.
 * Frames then go out as writes without response to Client2Server (one at a time, the next after
 * `onCharacteristicWrite`) and come in as Server2Client notifications. Either side ends with
 * State = end.
 *
 * Frames only: the core cuts messages to [maxFrameSize] and reassembles them. The state
 * machine, the queue and the timeouts are [MdocBleLink] (JUnit-tested in android/jvm).
 *
 * Permissions (asked by the caller before [connect], see [MdocBlePermissions]): Android 12+
 * BLUETOOTH_SCAN (declared `neverForLocation`) and BLUETOOTH_CONNECT; Android 11 and below
 * BLUETOOTH, BLUETOOTH_ADMIN and ACCESS_FINE_LOCATION (scanning needs it there).
 */
@SuppressLint("MissingPermission") // checked by the caller through MdocBlePermissions before connect()
class BleMdocReaderTransport(
    private val context: Context,
    private val serviceUuid: UUID,
    private val link: MdocBleLink = MdocBleLink(),
    private val scanTimeoutMillis: Long = SCAN_TIMEOUT_MILLIS,
    private val setupTimeoutMillis: Long = SETUP_TIMEOUT_MILLIS,
) : MdocTransport {
    private val manager: BluetoothManager? = context.getSystemService(BluetoothManager::class.java)
    @Volatile private var gatt: BluetoothGatt? = null
    @Volatile private var state: BluetoothGattCharacteristic? = null
    @Volatile private var clientToServer: BluetoothGattCharacteristic? = null
    @Volatile private var pending: CompletableDeferred<Int>? = null

    private val callback = object : BluetoothGattCallback() {
        override fun onConnectionStateChange(gatt: BluetoothGatt, status: Int, newState: Int) {
            when (newState) {
                BluetoothProfile.STATE_CONNECTED -> pending?.complete(status)
                BluetoothProfile.STATE_DISCONNECTED -> {
                    pending?.complete(if (status == BluetoothGatt.GATT_SUCCESS) BluetoothGatt.GATT_FAILURE else status)
                    link.onDisconnected("the holder's phone disconnected (status $status)")
                }
            }
        }

        override fun onMtuChanged(gatt: BluetoothGatt, mtu: Int, status: Int) {
            if (status == BluetoothGatt.GATT_SUCCESS) link.onMtu(mtu)
            // A refused MTU request is not fatal: the link stays at 23 (frames of 20 bytes).
            pending?.complete(BluetoothGatt.GATT_SUCCESS)
        }

        override fun onServicesDiscovered(gatt: BluetoothGatt, status: Int) {
            pending?.complete(status)
        }

        override fun onDescriptorWrite(gatt: BluetoothGatt, descriptor: BluetoothGattDescriptor, status: Int) {
            pending?.complete(status)
        }

        override fun onCharacteristicWrite(gatt: BluetoothGatt, characteristic: BluetoothGattCharacteristic, status: Int) {
            if (characteristic.uuid == MdocBle.CLIENT_TO_SERVER) {
                link.onSent(status == BluetoothGatt.GATT_SUCCESS)
            } else {
                pending?.complete(status)
            }
        }

        override fun onCharacteristicChanged(gatt: BluetoothGatt, characteristic: BluetoothGattCharacteristic, value: ByteArray) {
            received(characteristic.uuid, value)
        }

        @Deprecated("Called by Android 12L and below only")
        override fun onCharacteristicChanged(gatt: BluetoothGatt, characteristic: BluetoothGattCharacteristic) {
            @Suppress("DEPRECATION")
            if (Build.VERSION.SDK_INT < Build.VERSION_CODES.TIRAMISU) received(characteristic.uuid, characteristic.value ?: ByteArray(0))
        }
    }

    private fun received(uuid: UUID, value: ByteArray) {
        when (uuid) {
            MdocBle.SERVER_TO_CLIENT -> link.onFrame(value)
            MdocBle.STATE -> link.onState(value)
        }
    }

    /**
     * Find the holder's phone advertising [serviceUuid], connect, set up the session and write
     * State = start. Returns when the session is open; the core then sends its first frame.
     */
    suspend fun connect() = mapped {
        val adapter = manager?.adapter
        if (adapter == null || !adapter.isEnabled) throw BleLinkException.Other("Bluetooth is off")
        val device = scan(adapter.bluetoothLeScanner ?: throw BleLinkException.Other("this phone cannot scan for Bluetooth LE"))
        step("connecting") {
            gatt = device.connectGatt(context, false, callback, BluetoothDevice.TRANSPORT_LE)
            gatt != null
        }
        val g = gatt ?: throw BleLinkException.Disconnected("not connected")
        step("negotiating the MTU") { g.requestMtu(MdocBle.REQUESTED_ATT_MTU) }
        step("discovering the mdoc service") { g.discoverServices() }
        val service = g.getService(serviceUuid)
            ?: throw BleLinkException.Other("the holder's phone does not offer the mdoc service of this QR code")
        val stateChar = service.getCharacteristic(MdocBle.STATE)
        val toServer = service.getCharacteristic(MdocBle.CLIENT_TO_SERVER)
        val toClient = service.getCharacteristic(MdocBle.SERVER_TO_CLIENT)
        if (stateChar == null || toServer == null || toClient == null) {
            throw BleLinkException.Other("the mdoc service lacks a characteristic of ISO/IEC 18013-5")
        }
        state = stateChar
        clientToServer = toServer
        for (c in listOf(stateChar, toClient)) {
            if (!g.setCharacteristicNotification(c, true)) throw BleLinkException.Other("notifications refused")
            val config = c.getDescriptor(MdocBle.CLIENT_CONFIG)
                ?: throw BleLinkException.Other("a notifying characteristic has no client configuration")
            step("subscribing") { writeDescriptor(g, config, BluetoothGattDescriptor.ENABLE_NOTIFICATION_VALUE) }
        }
        step("starting the session") { write(g, stateChar, byteArrayOf(MdocBle.STATE_START)) }
        link.onConnected()
    }

    /** Core trait: the largest frame, negotiated ATT MTU − 3. */
    override fun maxFrameSize(): Int = link.maxFrameSize()

    /** Core trait: write one frame to Client2Server; returns when the stack has taken it. */
    override suspend fun sendFrame(frame: ByteArray) = mapped {
        val g = gatt
        val c = clientToServer
        if (g == null || c == null) throw BleLinkException.Other("not connected: call connect() first")
        link.send(frame) { write(g, c, it) }
    }

    /** Core trait: the next Server2Client frame. */
    override suspend fun receiveFrame(): ByteArray = mapped { link.receive() }

    /** Core trait: State = end to the holder (if the session was open), then disconnect. */
    override suspend fun disconnect() {
        val tell = link.close()
        val g = gatt ?: return
        gatt = null
        val s = state
        if (tell && s != null) runCatching { write(g, s, byteArrayOf(MdocBle.STATE_END)) }
        runCatching { g.disconnect() }
        runCatching { g.close() }
    }

    private suspend fun scan(scanner: android.bluetooth.le.BluetoothLeScanner): BluetoothDevice {
        val found = CompletableDeferred<BluetoothDevice>()
        val scanCallback = object : ScanCallback() {
            override fun onScanResult(callbackType: Int, result: ScanResult) {
                found.complete(result.device)
            }

            override fun onScanFailed(errorCode: Int) {
                found.completeExceptionally(BleLinkException.Other("Bluetooth LE scan failed (error $errorCode)"))
            }
        }
        val filter = ScanFilter.Builder().setServiceUuid(ParcelUuid(serviceUuid)).build()
        val settings = ScanSettings.Builder().setScanMode(ScanSettings.SCAN_MODE_LOW_LATENCY).build()
        scanner.startScan(listOf(filter), settings, scanCallback)
        return try {
            withTimeout(scanTimeoutMillis) { found.await() }
        } catch (e: TimeoutCancellationException) {
            throw BleLinkException.Timeout("the holder's phone was not found within $scanTimeoutMillis ms")
        } finally {
            runCatching { scanner.stopScan(scanCallback) }
        }
    }

    private fun write(g: BluetoothGatt, c: BluetoothGattCharacteristic, value: ByteArray): Boolean =
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.TIRAMISU) {
            g.writeCharacteristic(c, value, BluetoothGattCharacteristic.WRITE_TYPE_NO_RESPONSE) == BluetoothStatusCodes.SUCCESS
        } else {
            writeBefore33(g, c, value)
        }

    @Suppress("DEPRECATION")
    private fun writeBefore33(g: BluetoothGatt, c: BluetoothGattCharacteristic, value: ByteArray): Boolean {
        c.writeType = BluetoothGattCharacteristic.WRITE_TYPE_NO_RESPONSE
        c.value = value
        return g.writeCharacteristic(c)
    }

    private fun writeDescriptor(g: BluetoothGatt, d: BluetoothGattDescriptor, value: ByteArray): Boolean =
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.TIRAMISU) {
            g.writeDescriptor(d, value) == BluetoothStatusCodes.SUCCESS
        } else {
            writeDescriptorBefore33(g, d, value)
        }

    @Suppress("DEPRECATION")
    private fun writeDescriptorBefore33(g: BluetoothGatt, d: BluetoothGattDescriptor, value: ByteArray): Boolean {
        d.value = value
        return g.writeDescriptor(d)
    }

    /** One GATT operation at a time: [begin] starts it, a callback completes it with a status. */
    private suspend fun step(what: String, begin: () -> Boolean) {
        val done = CompletableDeferred<Int>()
        pending = done
        try {
            if (!begin()) throw BleLinkException.Other("$what was refused by the Bluetooth stack")
            val status = try {
                withTimeout(setupTimeoutMillis) { done.await() }
            } catch (e: TimeoutCancellationException) {
                throw BleLinkException.Timeout("$what: no answer within $setupTimeoutMillis ms")
            }
            if (status != BluetoothGatt.GATT_SUCCESS) throw BleLinkException.Other("$what failed (status $status)")
        } finally {
            pending = null
        }
    }

    companion object {
        /** 30 s to find the holder's phone after the QR code was scanned. */
        const val SCAN_TIMEOUT_MILLIS = 30_000L

        /** 10 s for each GATT setup step. */
        const val SETUP_TIMEOUT_MILLIS = 10_000L
    }
}
