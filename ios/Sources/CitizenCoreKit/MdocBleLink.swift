import Foundation

/// The constants of ISO/IEC 18013-5 §8.3.3.1.1, mdoc **peripheral server** mode: the holder's
/// phone is the GATT server and advertises the service UUID of its device engagement; the reader
/// (verifier) is the GATT central. Shared by `BleMdocHolderTransport` and `BleMdocReaderTransport`
/// (ARCHITECTURE.md, decision 38). The same values as the Android adapters' `MdocBle`.
public enum MdocBle {
    /// State: the reader writes `stateStart` to begin, either side `stateEnd` to finish.
    public static let state = "00000001-A123-48CE-896B-4C76973373E6"
    /// Client2Server: the reader's frames (write without response).
    public static let clientToServer = "00000002-A123-48CE-896B-4C76973373E6"
    /// Server2Client: the holder's frames (notify).
    public static let serverToClient = "00000003-A123-48CE-896B-4C76973373E6"
    /// State value: start of the session.
    public static let stateStart: UInt8 = 0x01
    /// State value: end of the session.
    public static let stateEnd: UInt8 = 0x02
    /// ATT MTU before any exchange.
    public static let defaultAttMtu = 23
    /// Largest attribute value.
    public static let maxAttributeValue = 512

    /// The largest frame: ATT MTU − 3, within [20, 512].
    public static func maxFrameSize(attMtu: Int) -> Int {
        min(max(attMtu - 3, defaultAttMtu - 3), maxAttributeValue)
    }
}

/// Why a BLE link failed. Mapped one to one onto the core's `MdocTransportError`
/// (`Disconnected` / `Timeout` / `Other`) by `transportError(_:)` once the presentation FFI is
/// merged. Reasons never contain frame bytes.
public enum MdocBleLinkError: Error, Equatable {
    /// The peer ended the session (State = end), the link dropped, or the adapter was closed.
    case disconnected(String)
    /// Nothing arrived, or a frame could not be queued, within the adapter's timeout.
    case timeout(String)
    /// Anything else: Bluetooth off or unauthorised, a protocol violation by the peer.
    case other(String)
}

/// The core's error for a link failure: one to one onto `MdocTransportError`.
func transportError(_ e: MdocBleLinkError) -> Error {
    switch e {
    case .disconnected(let reason): return MdocTransportError.Disconnected(reason: reason)
    case .timeout(let reason): return MdocTransportError.Timeout(reason: reason)
    case .other(let reason): return MdocTransportError.Other(reason: reason)
    }
}

/// The platform-free half of both BLE adapters (the Swift twin of Android's `MdocBleLink`,
/// which is JUnit-tested in android/jvm): the session state machine (waiting → open → ended),
/// the MTU → frame size, the bounded queue of received frames with one waiting receiver, End and
/// disconnect, the receive timeout. CoreBluetooth calls arrive on the adapters' serial queue; the
/// core's calls on its own tasks, hence the lock.
final class MdocBleLink: @unchecked Sendable {
    enum Phase { case waiting, open, ended }

    private let lock = NSLock()
    private var phase = Phase.waiting
    private var ending: MdocBleLinkError?
    private var attMtu = MdocBle.defaultAttMtu
    private var frames: [Data] = []
    private var queuedBytes = 0
    private var receiver: (id: UInt64, continuation: CheckedContinuation<Data, Error>)?
    private var openWaiters: [CheckedContinuation<Void, Error>] = []
    private var nextId: UInt64 = 0
    private let receiveTimeout: TimeInterval
    private let maxQueuedBytes: Int

    init(receiveTimeout: TimeInterval = 60, maxQueuedBytes: Int = 2 * 1024 * 1024) {
        self.receiveTimeout = receiveTimeout
        self.maxQueuedBytes = maxQueuedBytes
    }

    var current: Phase { lock.withLock { phase } }

    /// The core's `maxFrameSize()`.
    var maxFrameSize: Int { lock.withLock { MdocBle.maxFrameSize(attMtu: attMtu) } }

    /// Holder: from `CBCentral.maximumUpdateValueLength` (+ 3); reader: from
    /// `CBPeripheral.maximumWriteValueLength(for: .withoutResponse)` (+ 3).
    func onMtu(_ mtu: Int) { lock.withLock { attMtu = max(mtu, MdocBle.defaultAttMtu) } }

    /// Reader side: State = start was written.
    func onConnected() { open() }

    /// A State value from the peer.
    func onState(_ value: Data) {
        if value == Data([MdocBle.stateStart]) {
            open()
        } else if value == Data([MdocBle.stateEnd]) {
            end(.disconnected("the other device ended the session"))
        } else {
            end(.other("unknown State value (\(value.count) bytes)"))
        }
    }

    /// A frame from the peer.
    func onFrame(_ frame: Data) {
        lock.lock()
        switch phase {
        case .waiting:
            lock.unlock()
            end(.other("a frame arrived before the session started"))
            return
        case .ended:
            lock.unlock()
            return
        case .open:
            break
        }
        if let waiting = receiver {
            receiver = nil
            lock.unlock()
            waiting.continuation.resume(returning: frame)
            return
        }
        if queuedBytes + frame.count > maxQueuedBytes {
            lock.unlock()
            end(.other("more than \(maxQueuedBytes) bytes unread: the other device is flooding the link"))
            return
        }
        frames.append(frame)
        queuedBytes += frame.count
        lock.unlock()
    }

    /// The link dropped.
    func onDisconnected(_ reason: String) { end(.disconnected(reason)) }

    /// Wait until State = start (holder), at most `timeout` seconds.
    func awaitOpen(timeout: TimeInterval) async throws {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, Error>) in
            lock.lock()
            switch phase {
            case .open:
                lock.unlock()
                c.resume()
            case .ended:
                let e = ending ?? .disconnected("link closed")
                lock.unlock()
                c.resume(throwing: e)
            case .waiting:
                openWaiters.append(c)
                lock.unlock()
                DispatchQueue.global().asyncAfter(deadline: .now() + timeout) { [weak self] in
                    self?.end(.timeout("no reader started the session within \(Int(timeout)) s"), onlyIfWaiting: true)
                }
            }
        }
    }

    /// The core's `receiveFrame()`: the next frame in order; `.timeout` after `receiveTimeout`.
    func receive() async throws -> Data {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Data, Error>) in
            lock.lock()
            if !frames.isEmpty {
                let frame = frames.removeFirst()
                queuedBytes -= frame.count
                lock.unlock()
                c.resume(returning: frame)
                return
            }
            if phase == .ended || receiver != nil {
                let e = receiver != nil ? MdocBleLinkError.other("two receivers at once") : (ending ?? .disconnected("link closed"))
                lock.unlock()
                c.resume(throwing: e)
                return
            }
            nextId += 1
            let id = nextId
            receiver = (id, c)
            lock.unlock()
            let seconds = receiveTimeout
            DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { [weak self] in
                self?.expire(receiver: id, after: seconds)
            }
        }
    }

    private func expire(receiver id: UInt64, after seconds: TimeInterval) {
        lock.lock()
        guard let waiting = receiver, waiting.id == id else {
            lock.unlock()
            return
        }
        receiver = nil
        lock.unlock()
        waiting.continuation.resume(throwing: MdocBleLinkError.timeout("no frame from the other device within \(Int(seconds)) s"))
    }

    /// Before a send: the session must be open and the frame must fit.
    func checkSend(_ frame: Data) throws {
        try lock.withLock {
            switch phase {
            case .waiting: throw MdocBleLinkError.other("the session has not started")
            case .ended: throw ending ?? MdocBleLinkError.disconnected("link closed")
            case .open: break
            }
            let limit = MdocBle.maxFrameSize(attMtu: attMtu)
            if frame.isEmpty || frame.count > limit {
                throw MdocBleLinkError.other("frame of \(frame.count) bytes does not fit the link (1...\(limit))")
            }
        }
    }

    /// The core's `close()`: true when the peer should be told (State = end).
    func close() -> Bool {
        let tell = lock.withLock { phase == .open }
        end(.disconnected("the session was closed on this device"))
        return tell
    }

    private func open() {
        lock.lock()
        guard phase == .waiting else {
            lock.unlock()
            return
        }
        phase = .open
        let waiters = openWaiters
        openWaiters = []
        lock.unlock()
        waiters.forEach { $0.resume() }
    }

    private func end(_ e: MdocBleLinkError, onlyIfWaiting: Bool = false) {
        lock.lock()
        if phase == .ended || (onlyIfWaiting && phase != .waiting) {
            lock.unlock()
            return
        }
        phase = .ended
        ending = e
        let waiting = receiver
        receiver = nil
        let waiters = openWaiters
        openWaiters = []
        lock.unlock()
        waiting?.continuation.resume(throwing: e)
        waiters.forEach { $0.resume(throwing: e) }
    }
}
