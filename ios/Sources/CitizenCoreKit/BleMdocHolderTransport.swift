import CoreBluetooth
import Foundation

/// One CoreBluetooth step at a time (power on, service added, advertising, connect, discovery,
/// subscription, flow-control readiness): `run` starts it on the adapter's queue and waits until
/// a delegate callback calls `finish`, at most `timeout` seconds.
final class BleSteps: @unchecked Sendable {
    private let queue: DispatchQueue
    private var pending: (id: UInt64, what: String, continuation: CheckedContinuation<Void, Error>)?
    private var nextId: UInt64 = 0

    init(queue: DispatchQueue) {
        self.queue = queue
    }

    /// Start `begin` on the queue and wait for `finish`. Only one step is pending at a time.
    func run(_ what: String, timeout: TimeInterval, begin: @escaping () -> Void) async throws {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, Error>) in
            queue.async {
                self.nextId += 1
                let id = self.nextId
                self.pending = (id, what, c)
                begin()
                self.queue.asyncAfter(deadline: .now() + timeout) {
                    guard let p = self.pending, p.id == id else { return }
                    self.pending = nil
                    p.continuation.resume(throwing: transportError(.timeout("\(what): no answer within \(Int(timeout)) s")))
                }
            }
        }
    }

    /// Called on the queue by a delegate method: the pending step succeeded (`nil`) or failed.
    func finish(_ failure: MdocBleLinkError? = nil) {
        guard let p = pending else { return }
        pending = nil
        if let failure {
            p.continuation.resume(throwing: transportError(failure))
        } else {
            p.continuation.resume()
        }
    }

    /// The name of the pending step, if any (delegates that serve several steps look at it).
    var current: String? { pending?.what }
}

/// A flag set on the adapter's queue and read after the step that set it.
final class Flag: @unchecked Sendable {
    var value = false
}

/// The holder's side of the in-person presentation over BLE (ISO/IEC 18013-5 §8.3.3.1.1, mdoc
/// peripheral server mode; ARCHITECTURE.md, decision 38), over `CBPeripheralManager`: the phone
/// publishes the mdoc service (`serviceUUID`, the UUID the core put in the QR code's device
/// engagement) with its State, Client2Server and Server2Client characteristics and advertises
/// it. The reader connects, subscribes, writes State = start, then writes its frames to
/// Client2Server; the holder's frames go out as Server2Client notifications (`updateValue`,
/// retried after `peripheralManagerIsReady(toUpdateSubscribers:)` when the queue is full).
/// Either side ends with State = end. One reader per session (the first that subscribes).
///
/// Frames only: the core cuts messages to `maxFrameSize()` (the reader's
/// `maximumUpdateValueLength`) and reassembles them. `NSBluetoothAlwaysUsageDescription` is in
/// the app's Info.plist (CitizenApp/project.yml, vi/en InfoPlist.strings); iOS asks the citizen
/// the first time a presentation starts. Not compiled on the Linux CI (ios/check.sh checks the
/// method signatures against the trait).
public final class BleMdocHolderTransport: NSObject, MdocTransport, CBPeripheralManagerDelegate, @unchecked Sendable {
    private let serviceUUID: CBUUID
    private let link: MdocBleLink
    private let queue = DispatchQueue(label: "vn.citizen.ble.mdoc-holder")
    private lazy var steps = BleSteps(queue: queue)
    private let setupTimeout: TimeInterval
    private let sendTimeout: TimeInterval
    private var manager: CBPeripheralManager?
    private var central: CBCentral?
    private var started = false
    private let stateCharacteristic = CBMutableCharacteristic(
        type: CBUUID(string: MdocBle.state), properties: [.notify, .writeWithoutResponse], value: nil, permissions: [.writeable])
    private let clientToServer = CBMutableCharacteristic(
        type: CBUUID(string: MdocBle.clientToServer), properties: [.writeWithoutResponse], value: nil, permissions: [.writeable])
    private let serverToClient = CBMutableCharacteristic(
        type: CBUUID(string: MdocBle.serverToClient), properties: [.notify], value: nil, permissions: [])

    /// - Parameters:
    ///   - serviceUUID: the BLE service UUID of the device engagement shown as QR code.
    ///   - receiveTimeout: how long `receiveFrame()` waits (the reader may still be scanning).
    public init(serviceUUID: UUID, receiveTimeout: TimeInterval = 60, setupTimeout: TimeInterval = 10, sendTimeout: TimeInterval = 5) {
        self.serviceUUID = CBUUID(nsuuid: serviceUUID)
        self.link = MdocBleLink(receiveTimeout: receiveTimeout)
        self.setupTimeout = setupTimeout
        self.sendTimeout = sendTimeout
        super.init()
    }

    /// Publish the service and start advertising; returns when the phone is discoverable. The
    /// shell calls it right after showing the QR code; `receiveFrame()` calls it otherwise.
    public func start() async throws {
        let first = queue.sync { () -> Bool in
            defer { started = true }
            return !started
        }
        guard first else { return }
        try await steps.run("turning Bluetooth on", timeout: setupTimeout) {
            // The delegate's first state update finishes this step.
            self.manager = CBPeripheralManager(delegate: self, queue: self.queue)
        }
        let service = CBMutableService(type: serviceUUID, primary: true)
        service.characteristics = [stateCharacteristic, clientToServer, serverToClient]
        try await steps.run("adding the mdoc service", timeout: setupTimeout) {
            self.manager?.add(service)
        }
        try await steps.run("starting to advertise", timeout: setupTimeout) {
            // The service UUID only: no local name on the air.
            self.manager?.startAdvertising([CBAdvertisementDataServiceUUIDsKey: [self.serviceUUID]])
        }
    }

    /// Core trait: the largest frame (the subscribed reader's `maximumUpdateValueLength`).
    public func maxFrameSize() -> Int32 {
        Int32(link.maxFrameSize)
    }

    /// Core trait: notify one frame on Server2Client.
    public func sendFrame(frame: Data) async throws {
        do {
            try link.checkSend(frame)
        } catch let e as MdocBleLinkError {
            throw transportError(e)
        }
        // updateValue answers false when the transmit queue is full: the step then waits for
        // peripheralManagerIsReady(toUpdateSubscribers:) and the frame is offered again.
        let sent = Flag()
        while !sent.value {
            try await steps.run("sending a frame", timeout: sendTimeout) {
                guard let manager = self.manager, let central = self.central else {
                    self.steps.finish(.disconnected("the reader is gone"))
                    return
                }
                if manager.updateValue(frame, for: self.serverToClient, onSubscribedCentrals: [central]) {
                    sent.value = true
                    self.steps.finish()
                }
            }
        }
    }

    /// Core trait: the next frame the reader wrote to Client2Server.
    public func receiveFrame() async throws -> Data {
        try await start()
        do {
            return try await link.receive()
        } catch let e as MdocBleLinkError {
            throw transportError(e)
        }
    }

    /// Core trait: State = end to the reader (if the session was open), stop advertising, remove the service.
    public func disconnect() async {
        let tell = link.close()
        queue.sync {
            if tell, let manager, let central {
                _ = manager.updateValue(Data([MdocBle.stateEnd]), for: stateCharacteristic, onSubscribedCentrals: [central])
            }
            manager?.stopAdvertising()
            manager?.removeAllServices()
            manager?.delegate = nil
            manager = nil
            central = nil
        }
    }

    // MARK: CBPeripheralManagerDelegate (on `queue`)

    public func peripheralManagerDidUpdateState(_ peripheral: CBPeripheralManager) {
        switch peripheral.state {
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

    public func peripheralManager(_ peripheral: CBPeripheralManager, didAdd service: CBService, error: Error?) {
        steps.finish(error.map { .other("the mdoc service was not added: \($0.localizedDescription)") })
    }

    public func peripheralManagerDidStartAdvertising(_ peripheral: CBPeripheralManager, error: Error?) {
        steps.finish(error.map { .other("advertising failed: \($0.localizedDescription)") })
    }

    public func peripheralManager(_ peripheral: CBPeripheralManager, central: CBCentral, didSubscribeTo characteristic: CBCharacteristic) {
        if self.central == nil {
            self.central = central
        }
        if self.central?.identifier == central.identifier {
            link.onMtu(central.maximumUpdateValueLength + 3)
        }
    }

    public func peripheralManager(_ peripheral: CBPeripheralManager, central: CBCentral, didUnsubscribeFrom characteristic: CBCharacteristic) {
        if self.central?.identifier == central.identifier {
            link.onDisconnected("the reader unsubscribed")
        }
    }

    public func peripheralManager(_ peripheral: CBPeripheralManager, didReceiveWrite requests: [CBATTRequest]) {
        for request in requests {
            if central == nil {
                central = request.central
                link.onMtu(request.central.maximumUpdateValueLength + 3)
            }
            guard request.central.identifier == central?.identifier, request.offset == 0, let value = request.value else {
                continue
            }
            switch request.characteristic.uuid {
            case CBUUID(string: MdocBle.state): link.onState(value)
            case CBUUID(string: MdocBle.clientToServer): link.onFrame(value)
            default: break
            }
        }
        if let first = requests.first {
            peripheral.respond(to: first, withResult: .success)
        }
    }

    public func peripheralManagerIsReady(toUpdateSubscribers peripheral: CBPeripheralManager) {
        if steps.current == "sending a frame" {
            steps.finish()
        }
    }
}
