import CitizenCore
import Foundation

/// The core's subscriptions as `AsyncStream`s: iterating subscribes (the current state comes
/// first), ending the iteration (or cancelling its task) cancels the subscription, and the stream
/// finishes when the core is shut down or closed. Every notification is kept, in order (the core
/// calls the listener one notification at a time, and a stream yields in call order).
public extension ServicesClientProtocol {
    /// The whole outbox, first as it is, then after every change.
    func outboxUpdates() -> AsyncStream<[OutboxItem]> {
        AsyncStream { continuation in
            let listener = OutboxStreamListener(continuation)
            guard let subscription = try? observeOutbox(listener: listener) else {
                continuation.finish() // the core is closed
                return
            }
            continuation.onTermination = { _ in subscription.cancel() }
        }
    }
}

public extension CitizenCoreProtocol {
    /// The core's status (login, logout, enrollment, session expired, device deactivated).
    func statusUpdates() -> AsyncStream<CoreStatus> {
        AsyncStream { continuation in
            let listener = StatusStreamListener(continuation)
            guard let subscription = try? observeStatus(listener: listener) else {
                continuation.finish()
                return
            }
            continuation.onTermination = { _ in subscription.cancel() }
        }
    }
}

final class OutboxStreamListener: OutboxListener, @unchecked Sendable {
    private let continuation: AsyncStream<[OutboxItem]>.Continuation

    init(_ continuation: AsyncStream<[OutboxItem]>.Continuation) {
        self.continuation = continuation
    }

    func onOutbox(items: [OutboxItem]) throws {
        continuation.yield(items)
    }

    func onEnd() throws {
        continuation.finish()
    }
}

final class StatusStreamListener: StatusListener, @unchecked Sendable {
    private let continuation: AsyncStream<CoreStatus>.Continuation

    init(_ continuation: AsyncStream<CoreStatus>.Continuation) {
        self.continuation = continuation
    }

    func onStatus(status: CoreStatus) throws {
        continuation.yield(status)
    }

    func onEnd() throws {
        continuation.finish()
    }
}
