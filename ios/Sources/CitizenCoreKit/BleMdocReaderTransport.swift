import CoreBluetooth
import Foundation

/// The verifier's side of the in-person presentation over BLE (ISO/IEC 18013-5 §8.3.3.1.1, mdoc
/// peripheral server mode; ARCHITECTURE.md, decision 38), over `CBCentralManager`: `connect()`
/// scans for the service UUID read from the holder's QR code, connects, discovers the mdoc
/// service and its three characteristics, subscribes to State and Server2Client and writes
/// State = start. Frames go out as writes without response to Client2Server (flow control:
/// `canSendWriteWithoutResponse` / `peripheralIsReady(toSendWriteWithoutResponse:)`) and come in
/// as Server2Client notifications. Either side ends with State = end.
///
/// Frames only: the core cuts messages to `maxFrameSize()`
/// (`maximumWriteValueLength(for: .withoutResponse)`) and reassembles them. Not compiled on the
/// Linux CI (ios/check.sh checks the method signatures against the trait).
public final class BleMdocReaderTransport: NSObject, MdocTransport, CBCentralManagerDelegate, CBPeripheralDelegate, @unchecked Sendable {
    private let serviceUUID: CBUUID
    private let link: MdocBleLink
    private let queue = DispatchQueue(label: "vn.citizen.ble.mdoc-reader")
    private lazy var steps = BleSteps(queue: queue)
    private let scanTimeout: TimeInterval
    private let setupTimeout: TimeInterval
    private let sendTimeout: TimeInterval
    private var manager: CBCentralManager?
    private var peripheral: CBPeripheral?
    private var state: CBCharacteristic?
    private var clientToServer: CBCharacteristic?
    private var serverToClient: CBCharacteristic?

    /// - Parameters:
    ///   - serviceUUID: the BLE service UUID from the holder's device engagement (QR code).
    public init(serviceUUID: UUID, scanTimeout: TimeInterval = 30, setupTimeout: TimeInterval = 10,
                sendTimeout: TimeInterval = 5, receiveTimeout: TimeInterval = 30) {
        self.serviceUUID = CBUUID(nsuuid: serviceUUID)
        self.link = MdocBleLink(receiveTimeout: receiveTimeout)
        self.scanTimeout = scanTimeout
        self.setupTimeout = setupTimeout
        self.sendTimeout = sendTimeout
        super.init()
    }

    /// Find the holder's phone, connect, subscribe and write State = start; returns when the
    /// session is open.
    public func connect() async throws {
        try await steps.run("turning Bluetooth on", timeout: setupTimeout) {
            self.manager = CBCentralManager(delegate: self, queue: self.queue)
        }
        try await steps.run("finding the holder's phone", timeout: scanTimeout) {
            self.manager?.scanForPeripherals(withServices: [self.serviceUUID])
        }
        try await steps.run("connecting", timeout: setupTimeout) {
            guard let peripheral = self.peripheral else { return }
            self.manager?.connect(peripheral)
        }
        try await steps.run("discovering the mdoc service", timeout: setupTimeout) {
            self.peripheral?.discoverServices([self.serviceUUID])
        }
        for characteristic in [\BleMdocReaderTransport.state, \BleMdocReaderTransport.serverToClient] {
            try await steps.run("subscribing", timeout: setupTimeout) {
                guard let c = self[keyPath: characteristic] else {
                    return self.steps.finish(.other("the mdoc service lacks a characteristic of ISO/IEC 18013-5"))
                }
                self.peripheral?.setNotifyValue(true, for: c)
            }
        }
        try queue.sync {
            guard let peripheral, let state else { throw transportError(.disconnected("not connected")) }
            link.onMtu(peripheral.maximumWriteValueLength(for: .withoutResponse) + 3)
            peripheral.writeValue(Data([MdocBle.stateStart]), for: state, type: .withoutResponse)
        }
        link.onConnected()
    }

    /// Core trait: the largest frame (`maximumWriteValueLength(for: .withoutResponse)`).
    public func maxFrameSize() -> Int32 {
        Int32(link.maxFrameSize)
    }

    /// Core trait: write one frame to Client2Server, waiting for flow control when needed.
    public func sendFrame(frame: Data) async throws {
        do {
            try link.checkSend(frame)
        } catch let e as MdocBleLinkError {
            throw transportError(e)
        }
        let sent = Flag()
        while !sent.value {
            try await steps.run("sending a frame", timeout: sendTimeout) {
                guard let peripheral = self.peripheral, let c = self.clientToServer else {
                    return self.steps.finish(.disconnected("not connected"))
                }
                if peripheral.canSendWriteWithoutResponse {
                    peripheral.writeValue(frame, for: c, type: .withoutResponse)
                    sent.value = true
                    self.steps.finish()
                }
            }
        }
    }

    /// Core trait: the next Server2Client frame.
    public func receiveFrame() async throws -> Data {
        do {
            return try await link.receive()
        } catch let e as MdocBleLinkError {
            throw transportError(e)
        }
    }

    /// Core trait: State = end to the holder (if the session was open), then disconnect.
    public func disconnect() async {
        let tell = link.close()
        queue.sync {
            if let peripheral {
                if tell, let state {
                    peripheral.writeValue(Data([MdocBle.stateEnd]), for: state, type: .withoutResponse)
                }
                manager?.cancelPeripheralConnection(peripheral)
            }
            manager?.stopScan()
            manager?.delegate = nil
            manager = nil
            peripheral = nil
        }
    }

    // MARK: CBCentralManagerDelegate, CBPeripheralDelegate (on `queue`)

    public func centralManagerDidUpdateState(_ central: CBCentralManager) {
        switch central.state {
        case .poweredOn:
            steps.finish()
        case .unauthorized:
            steps.finish(.other("Bluetooth is not allowed for this app"))
            link.onDisconnected("Bluetooth permission withdrawn")
        case .poweredOff, .unsupported, .resetting:
            steps.finish(.other("Bluetooth is off or unavailable"))
            link.onDisconnected("Bluetooth turned off")
        default:
            break
        }
    }

    public func centralManager(_ central: CBCentralManager, didDiscover peripheral: CBPeripheral,
                               advertisementData: [String: Any], rssi RSSI: NSNumber) {
        guard self.peripheral == nil else { return }
        central.stopScan()
        self.peripheral = peripheral
        peripheral.delegate = self
        steps.finish()
    }

    public func centralManager(_ central: CBCentralManager, didConnect peripheral: CBPeripheral) {
        steps.finish()
    }

    public func centralManager(_ central: CBCentralManager, didFailToConnect peripheral: CBPeripheral, error: Error?) {
        steps.finish(.disconnected("could not connect: \(error?.localizedDescription ?? "unknown")"))
    }

    public func centralManager(_ central: CBCentralManager, didDisconnectPeripheral peripheral: CBPeripheral, error: Error?) {
        steps.finish(.disconnected("the holder's phone disconnected"))
        link.onDisconnected("the holder's phone disconnected: \(error?.localizedDescription ?? "no error")")
    }

    public func peripheral(_ peripheral: CBPeripheral, didDiscoverServices error: Error?) {
        guard error == nil, let service = peripheral.services?.first(where: { $0.uuid == serviceUUID }) else {
            return steps.finish(.other("the holder's phone does not offer the mdoc service of this QR code"))
        }
        let wanted = [MdocBle.state, MdocBle.clientToServer, MdocBle.serverToClient].map { CBUUID(string: $0) }
        peripheral.discoverCharacteristics(wanted, for: service)
    }

    public func peripheral(_ peripheral: CBPeripheral, didDiscoverCharacteristicsFor service: CBService, error: Error?) {
        let found = service.characteristics ?? []
        state = found.first { $0.uuid == CBUUID(string: MdocBle.state) }
        clientToServer = found.first { $0.uuid == CBUUID(string: MdocBle.clientToServer) }
        serverToClient = found.first { $0.uuid == CBUUID(string: MdocBle.serverToClient) }
        if error != nil || state == nil || clientToServer == nil || serverToClient == nil {
            return steps.finish(.other("the mdoc service lacks a characteristic of ISO/IEC 18013-5"))
        }
        steps.finish()
    }

    public func peripheral(_ peripheral: CBPeripheral, didUpdateNotificationStateFor characteristic: CBCharacteristic, error: Error?) {
        steps.finish(error.map { .other("subscription refused: \($0.localizedDescription)") })
    }

    public func peripheral(_ peripheral: CBPeripheral, didUpdateValueFor characteristic: CBCharacteristic, error: Error?) {
        guard error == nil, let value = characteristic.value else { return }
        switch characteristic.uuid {
        case CBUUID(string: MdocBle.serverToClient): link.onFrame(value)
        case CBUUID(string: MdocBle.state): link.onState(value)
        default: break
        }
    }

    public func peripheralIsReady(toSendWriteWithoutResponse peripheral: CBPeripheral) {
        if steps.current == "sending a frame" {
            steps.finish()
        }
    }
}
