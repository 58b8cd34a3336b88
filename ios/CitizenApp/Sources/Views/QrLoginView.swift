import CitizenCore
import SwiftUI

/// Scan a login QR code → who asks (verified on the device), for what, and three codes: the
/// citizen picks the one the site shows, confirms with the passcode; or denies.
struct QrLoginView: View {
    @ObservedObject var viewModel: QrLoginViewModel
    @State private var passcode = ""

    var body: some View {
        Group {
            if let approval = viewModel.state.approval {
                result(approval)
            } else if viewModel.state.denied {
                VStack(spacing: 12) {
                    Label("qr.denied", systemImage: "xmark.shield")
                    Button("qr.scan.again") { viewModel.reset() }
                }
            } else if let request = viewModel.state.request {
                approveForm(request)
            } else {
                VStack {
                    QrScannerView { frame in Task { await viewModel.scan(frame) } }
                        .overlay { if viewModel.state.busy { ProgressView() } }
                    Text("qr.scan.hint").padding()
                    ErrorText(error: viewModel.state.error)
                }
            }
        }
        .navigationTitle("tab.qr")
    }

    private func approveForm(_ request: LoginRequestInfo) -> some View {
        Form {
            Section("qr.who") {
                Label(viewModel.state.relyingPartyName ?? request.relyingPartyId, systemImage: "checkmark.seal.fill")
                Text(request.origin).font(.caption.monospaced())
            }
            if !request.claims.isEmpty {
                Section("qr.claims") {
                    ForEach(request.claims, id: \.name) { claim in
                        Text(localized(vi: claim.labelVi, en: claim.labelEn))
                    }
                }
            }
            Section {
                // Exactly one of the three is on the site's screen: picking it proves the
                // citizen is looking at that login, not a relayed one.
                Picker("qr.code", selection: Binding(get: { viewModel.state.chosenCode },
                                                     set: { if let code = $0 { viewModel.chooseCode(code) } })) {
                    ForEach(request.codeChoices, id: \.self) { code in
                        Text(code).font(.title2.monospacedDigit()).tag(Optional(code))
                    }
                }
                .pickerStyle(.inline)
                PasscodeField(title: "passcode.enter", passcode: $passcode)
                Button("qr.approve") {
                    let entered = passcode
                    passcode = ""
                    Task { await viewModel.approve(passcode: entered) }
                }
                .disabled(viewModel.state.chosenCode == nil || passcode.count != 6)
                Button("qr.deny", role: .destructive) {
                    Task { await viewModel.deny() }
                }
            } header: {
                Text("qr.code.header")
            }
            ErrorText(error: viewModel.state.error)
        }
        .disabled(viewModel.state.busy)
    }

    private func result(_ approval: LoginApproval) -> some View {
        VStack(spacing: 12) {
            Label("qr.approved", systemImage: "checkmark.shield")
            Text(approval.receipt.relyingPartyName)
            if let redirect = viewModel.state.redirectToOpen(allowLoopbackHttp: DeepLink.allowLoopbackHttp) {
                // Same-device login: opened at once after the approval; again from here.
                Link("qr.return", destination: redirect)
            }
            Button("qr.scan.again") { viewModel.reset() }
        }
    }
}
