import CitizenCore
import Foundation

/// The account's devices: list, revoke one (passcode), approve a transfer to a new phone.
/// Mirrors the Kotlin `DevicesViewModel`.
@MainActor
final class DevicesViewModel: ObservableObject {
    struct UiState: Equatable {
        var busy = false
        var devices: [DeviceInfo] = []
        var error: UiError?
    }

    @Published private(set) var state = UiState()
    let events = AppEvents()
    private let account: AccountClientProtocol

    init(account: AccountClientProtocol) {
        self.account = account
    }

    func refresh() async {
        await run { self.state.devices = try await self.account.listDevices() }
    }

    func revoke(deviceId: String, passcode: String) async {
        await run {
            try await self.account.revokeDevice(deviceId: deviceId, passcode: passcode)
            self.state.devices = try await self.account.listDevices()
        }
    }

    /// On this (old) phone: hand the account to the new phone showing `enrollmentId`.
    func approveTransfer(enrollmentId: String, passcode: String) async {
        await run {
            try await self.account.approveDeviceTransfer(enrollmentId: enrollmentId, passcode: passcode)
            self.state.devices = try await self.account.listDevices()
        }
    }

    private func run(_ action: () async throws -> Void) async {
        state.busy = true
        defer { state.busy = false }
        do {
            try await action()
            state.error = nil
        } catch {
            let failure = CoreFailure(error)
            state.error = failure.uiError
            events.send(.failure(failure))
        }
    }
}
