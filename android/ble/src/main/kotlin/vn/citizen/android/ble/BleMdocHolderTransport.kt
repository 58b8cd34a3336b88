package vn.citizen.android.ble

import android.annotation.SuppressLint
import android.bluetooth.BluetoothDevice
import android.bluetooth.BluetoothGatt
import android.bluetooth.BluetoothGattCharacteristic
import android.bluetooth.BluetoothGattDescriptor
import android.bluetooth.BluetoothGattServer
import android.bluetooth.BluetoothGattServerCallback
import android.bluetooth.BluetoothGattService
import android.bluetooth.BluetoothManager
import android.bluetooth.BluetoothProfile
import android.bluetooth.BluetoothStatusCodes
import android.bluetooth.le.AdvertiseCallback
import android.bluetooth.le.AdvertiseData
import android.bluetooth.le.AdvertiseSettings
import android.content.Context
import android.os.Build
import android.os.ParcelUuid
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.TimeoutCancellationException
import kotlinx.coroutines.withTimeout
import java.util.UUID
import vn.citizen.core.MdocTransport

/**
 * The holder's side of the in-person presentation over BLE (ISO/IEC 18013-5 §8.3.3.1.1, mdoc
 * peripheral server mode; ARCHITECTURE.md, decision 38): the phone runs a GATT server with the
 * mdoc service ([serviceUuid], the UUID the core put in the QR code's device engagement) and its
 * State, Client2Server and Server2Client characteristics, and advertises the service UUID. The
 * reader connects, subscribes, writes State = start, then writes its frames to Client2Server;
 * the holder's frames go out as Server2Client notifications, one at a time (the next after
 * `onNotificationSent`). Either side ends with State = end.
 *
 * Frames only: the core cuts messages to [maxFrameSize] and reassembles them (the 0x01/0x00
 * lead byte). One reader per session: a second central that connects is disconnected.
 * The state machine, the queue and the timeouts are [MdocBleLink] (JUnit-tested in android/jvm);
 * this class only wires the framework callbacks to it.
 *
 * Permissions (the caller asks for them before [start], see [MdocBlePermissions]): Android 12+
 * BLUETOOTH_ADVERTISE and BLUETOOTH_CONNECT; Android 11 and below BLUETOOTH and BLUETOOTH_ADMIN.
 */
@SuppressLint("MissingPermission") // checked by the caller through MdocBlePermissions before start()
class BleMdocHolderTransport(
    private val context: Context,
    private val serviceUuid: UUID,
    private val link: MdocBleLink = MdocBleLink(),
    private val setupTimeoutMillis: Long = SETUP_TIMEOUT_MILLIS,
) : MdocTransport {
    private val manager: BluetoothManager? = context.getSystemService(BluetoothManager::class.java)
    private val lock = Any()
    private var server: BluetoothGattServer? = null
    private var advertiser: AdvertiseCallback? = null
    @Volatile private var reader: BluetoothDevice? = null
    private val stateCharacteristic = BluetoothGattCharacteristic(
        MdocBle.STATE,
        BluetoothGattCharacteristic.PROPERTY_NOTIFY or BluetoothGattCharacteristic.PROPERTY_WRITE_NO_RESPONSE,
        BluetoothGattCharacteristic.PERMISSION_WRITE,
    ).withClientConfig()
    private val clientToServer = BluetoothGattCharacteristic(
        MdocBle.CLIENT_TO_SERVER,
        BluetoothGattCharacteristic.PROPERTY_WRITE_NO_RESPONSE,
        BluetoothGattCharacteristic.PERMISSION_WRITE,
    )
    private val serverToClient = BluetoothGattCharacteristic(
        MdocBle.SERVER_TO_CLIENT,
        BluetoothGattCharacteristic.PROPERTY_NOTIFY,
        0, // notify only: its value is never read or written by the reader
    ).withClientConfig()
    private var serviceAdded: CompletableDeferred<Int>? = null
    private var advertisingStarted: CompletableDeferred<Int>? = null

    private val callback = object : BluetoothGattServerCallback() {
        override fun onServiceAdded(status: Int, service: BluetoothGattService?) {
            serviceAdded?.complete(status)
        }

        override fun onConnectionStateChange(device: BluetoothDevice, status: Int, newState: Int) {
            when (newState) {
                BluetoothProfile.STATE_CONNECTED -> synchronized(lock) {
                    if (reader == null) reader = device else if (reader != device) server?.cancelConnection(device)
                }
                BluetoothProfile.STATE_DISCONNECTED -> if (device == reader) {
                    link.onDisconnected("the reader disconnected (status $status)")
                }
            }
        }

        override fun onMtuChanged(device: BluetoothDevice, mtu: Int) {
            if (device == reader) link.onMtu(mtu)
        }

        override fun onCharacteristicWriteRequest(
            device: BluetoothDevice,
            requestId: Int,
            characteristic: BluetoothGattCharacteristic,
            preparedWrite: Boolean,
            responseNeeded: Boolean,
            offset: Int,
            value: ByteArray?,
        ) {
            val accepted = device == reader && !preparedWrite && offset == 0 && value != null &&
                when (characteristic.uuid) {
                    MdocBle.STATE -> true.also { link.onState(value) }
                    MdocBle.CLIENT_TO_SERVER -> true.also { link.onFrame(value) }
                    else -> false
                }
            if (responseNeeded) {
                val status = if (accepted) BluetoothGatt.GATT_SUCCESS else BluetoothGatt.GATT_WRITE_NOT_PERMITTED
                server?.sendResponse(device, requestId, status, 0, null)
            }
        }

        override fun onDescriptorWriteRequest(
            device: BluetoothDevice,
            requestId: Int,
            descriptor: BluetoothGattDescriptor,
            preparedWrite: Boolean,
            responseNeeded: Boolean,
            offset: Int,
            value: ByteArray?,
        ) {
            // Subscriptions (CCCD) of the reader; notifications go to the one connected reader.
            val accepted = device == reader && descriptor.uuid == MdocBle.CLIENT_CONFIG
            if (responseNeeded) {
                val status = if (accepted) BluetoothGatt.GATT_SUCCESS else BluetoothGatt.GATT_WRITE_NOT_PERMITTED
                server?.sendResponse(device, requestId, status, 0, null)
            }
        }

        override fun onNotificationSent(device: BluetoothDevice, status: Int) {
            if (device == reader) link.onSent(status == BluetoothGatt.GATT_SUCCESS)
        }
    }

    /**
     * Open the GATT server with the mdoc service and advertise [serviceUuid]; returns when
     * advertising has started (the reader can now find the phone). Called by the shell right
     * after showing the QR code; [receiveFrame] calls it if the shell did not.
     */
    suspend fun start() {
        if (synchronized(lock) { server != null }) return
        val adapter = manager?.adapter
        if (adapter == null || !adapter.isEnabled) throw toTransportError(BleLinkException.Other("Bluetooth is off"))
        val gattServer = manager.openGattServer(context, callback)
            ?: throw toTransportError(BleLinkException.Other("the GATT server could not be opened"))
        synchronized(lock) { server = gattServer }
        val service = BluetoothGattService(serviceUuid, BluetoothGattService.SERVICE_TYPE_PRIMARY)
        service.addCharacteristic(stateCharacteristic)
        service.addCharacteristic(clientToServer)
        service.addCharacteristic(serverToClient)
        step("adding the mdoc service", { serviceAdded = it }) { gattServer.addService(service) }

        val le = adapter.bluetoothLeAdvertiser
            ?: throw toTransportError(BleLinkException.Other("this phone cannot advertise over Bluetooth LE"))
        val settings = AdvertiseSettings.Builder()
            .setAdvertiseMode(AdvertiseSettings.ADVERTISE_MODE_LOW_LATENCY)
            .setTxPowerLevel(AdvertiseSettings.ADVERTISE_TX_POWER_MEDIUM)
            .setConnectable(true)
            .setTimeout(0)
            .build()
        // The 128-bit service UUID only (21 bytes with the flags): no device name on the air.
        val data = AdvertiseData.Builder().setIncludeDeviceName(false).addServiceUuid(ParcelUuid(serviceUuid)).build()
        val advertising = object : AdvertiseCallback() {
            override fun onStartSuccess(settingsInEffect: AdvertiseSettings?) {
                advertisingStarted?.complete(BluetoothGatt.GATT_SUCCESS)
            }

            override fun onStartFailure(errorCode: Int) {
                advertisingStarted?.complete(errorCode)
            }
        }
        synchronized(lock) { advertiser = advertising }
        step("starting to advertise", { advertisingStarted = it }) { le.startAdvertising(settings, data, advertising); true }
    }

    /** Core trait: the largest frame, negotiated ATT MTU − 3 (20 until the reader exchanges the MTU). */
    override fun maxFrameSize(): Int = link.maxFrameSize()

    /** Core trait: notify one frame on Server2Client; returns when the stack has sent it. */
    override suspend fun sendFrame(frame: ByteArray) = mapped { link.send(frame) { notify(serverToClient, it) } }

    /** Core trait: the next frame the reader wrote to Client2Server. */
    override suspend fun receiveFrame(): ByteArray {
        start()
        return mapped { link.receive() }
    }

    /** Core trait: State = end to the reader (if the session was open), stop advertising, close the server. */
    override suspend fun disconnect() {
        val tell = link.close()
        val (gattServer, advertising, device) = synchronized(lock) {
            Triple(server, advertiser, reader).also {
                server = null
                advertiser = null
            }
        }
        if (tell) runCatching { notify(stateCharacteristic, byteArrayOf(MdocBle.STATE_END)) }
        runCatching { advertising?.let { manager?.adapter?.bluetoothLeAdvertiser?.stopAdvertising(it) } }
        runCatching { device?.let { gattServer?.cancelConnection(it) } }
        runCatching { gattServer?.close() }
    }

    private fun notify(characteristic: BluetoothGattCharacteristic, value: ByteArray): Boolean {
        val gattServer = synchronized(lock) { server } ?: return false
        val device = reader ?: return false
        return if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.TIRAMISU) {
            gattServer.notifyCharacteristicChanged(device, characteristic, false, value) == BluetoothStatusCodes.SUCCESS
        } else {
            notifyBefore33(gattServer, device, characteristic, value)
        }
    }

    @Suppress("DEPRECATION")
    private fun notifyBefore33(
        gattServer: BluetoothGattServer,
        device: BluetoothDevice,
        characteristic: BluetoothGattCharacteristic,
        value: ByteArray,
    ): Boolean {
        characteristic.value = value
        return gattServer.notifyCharacteristicChanged(device, characteristic, false)
    }

    /** One asynchronous framework step: [begin] starts it, a callback completes the deferred with a status. */
    private suspend fun step(what: String, install: (CompletableDeferred<Int>?) -> Unit, begin: () -> Boolean) {
        val done = CompletableDeferred<Int>()
        install(done)
        try {
            if (!begin()) throw toTransportError(BleLinkException.Other("$what was refused"))
            val status = try {
                withTimeout(setupTimeoutMillis) { done.await() }
            } catch (e: TimeoutCancellationException) {
                throw toTransportError(BleLinkException.Timeout("$what: no answer within $setupTimeoutMillis ms"))
            }
            if (status != BluetoothGatt.GATT_SUCCESS) {
                throw toTransportError(BleLinkException.Other("$what failed (status $status)"))
            }
        } finally {
            install(null)
        }
    }

    companion object {
        /** 10 s for each setup step (service added, advertising started). */
        const val SETUP_TIMEOUT_MILLIS = 10_000L
    }
}

/** Add the Client Characteristic Configuration descriptor a notifying characteristic needs. */
internal fun BluetoothGattCharacteristic.withClientConfig(): BluetoothGattCharacteristic = apply {
    addDescriptor(
        BluetoothGattDescriptor(
            MdocBle.CLIENT_CONFIG,
            BluetoothGattDescriptor.PERMISSION_READ or BluetoothGattDescriptor.PERMISSION_WRITE,
        ),
    )
}

/** Run a link operation and give the core its error type for a failure. */
internal inline fun <T> mapped(block: () -> T): T = try {
    block()
} catch (e: BleLinkException) {
    throw toTransportError(e)
}
