import CitizenCore
import SwiftUI

/// The account's devices; revoke one, approve a transfer to a new phone, log out.
struct DevicesView: View {
    @ObservedObject var viewModel: DevicesViewModel
    @ObservedObject var login: LoginViewModel
    @State private var revoking: DeviceInfo?
    @State private var transferId = ""
    @State private var passcode = ""

    var body: some View {
        List {
            Section {
                ForEach(viewModel.state.devices, id: \.deviceId) { device in
                    VStack(alignment: .leading) {
                        HStack {
                            Text(device.label)
                            if device.isThisDevice { Text("devices.this").font(.caption).foregroundStyle(.secondary) }
                        }
                        Text(verbatim: "\(device.platform) · \(statusText(device.status))").font(.caption)
                        if device.hardwareBacked {
                            Label("devices.hardware", systemImage: "lock.shield").font(.caption2)
                        }
                    }
                    .swipeActions {
                        if !device.isThisDevice && device.status == .active {
                            Button("devices.revoke", role: .destructive) { revoking = device }
                        }
                    }
                }
            }
            Section("devices.transfer") {
                TextField("devices.transfer.id", text: $transferId)
                PasscodeField(title: "passcode.enter", passcode: $passcode)
                Button("devices.transfer.approve") {
                    let entered = passcode
                    passcode = ""
                    Task { await viewModel.approveTransfer(enrollmentId: transferId, passcode: entered) }
                }
                .disabled(transferId.isEmpty || passcode.count != 6)
            }
            Section {
                Button("login.logout", role: .destructive) { Task { await login.logout() } }
            }
            ErrorText(error: viewModel.state.error)
        }
        .navigationTitle("tab.devices")
        .task { await viewModel.refresh() }
        .refreshable { await viewModel.refresh() }
        .sheet(item: Binding(get: { revoking.map(IdentifiedDevice.init) }, set: { revoking = $0?.device })) { item in
            NavigationStack {
                Form {
                    Text(item.device.label)
                    PasscodeField(title: "passcode.enter", passcode: $passcode)
                    Button("devices.revoke", role: .destructive) {
                        let entered = passcode
                        passcode = ""
                        revoking = nil
                        Task { await viewModel.revoke(deviceId: item.device.deviceId, passcode: entered) }
                    }
                    .disabled(passcode.count != 6)
                }
                .navigationTitle("devices.revoke")
            }
        }
    }

    private func statusText(_ status: DeviceStatus) -> String {
        switch status {
        case .active: return NSLocalizedString("device.active", comment: "")
        case .replaced: return NSLocalizedString("device.replaced", comment: "")
        case .transferred: return NSLocalizedString("device.transferred", comment: "")
        case .revoked: return NSLocalizedString("device.revoked", comment: "")
        case .locked: return NSLocalizedString("device.locked", comment: "")
        case .recovered: return NSLocalizedString("device.recovered", comment: "")
        case .unknown: return NSLocalizedString("device.unknown", comment: "")
        }
    }
}

/// `sheet(item:)` needs Identifiable; the generated record is not.
private struct IdentifiedDevice: Identifiable {
    let device: DeviceInfo
    var id: String { device.deviceId }
}
