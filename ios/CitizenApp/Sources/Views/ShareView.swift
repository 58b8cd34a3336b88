import CitizenCore
import SwiftUI

/// A relying party asks for data (deep link `citizenid://share?request=…`): who, why, how long
/// it keeps it, the required claims and the optional ones to pick; share after the passcode.
struct ShareView: View {
    @ObservedObject var viewModel: ShareViewModel
    @State private var passcode = ""

    var body: some View {
        Form {
            if let outcome = viewModel.state.outcome {
                Section {
                    Label("share.done", systemImage: "checkmark.shield")
                    Text(outcome.disclosedClaims.joined(separator: ", ")).font(.caption)
                    if !outcome.relyingPartyAccepted {
                        Text("share.not.accepted").font(.footnote)
                    }
                }
            } else if let request = viewModel.state.request {
                Section("share.who") {
                    Label(viewModel.state.relyingPartyName ?? request.relyingPartyId, systemImage: "checkmark.seal.fill")
                    Text(viewModel.state.purpose ?? request.purpose)
                    Text(String(format: NSLocalizedString("share.retention %lld", comment: ""), Int64(request.retentionDays)))
                        .font(.caption)
                }
                Section("share.required") {
                    ForEach(request.required, id: \.name) { claim in
                        Text(localized(vi: claim.labelVi, en: claim.labelEn))
                    }
                }
                if !request.optional.isEmpty {
                    Section("share.optional") {
                        ForEach(request.optional, id: \.name) { claim in
                            Toggle(localized(vi: claim.labelVi, en: claim.labelEn),
                                   isOn: Binding(get: { viewModel.state.selectedOptional.contains(claim.name) },
                                                 set: { _ in viewModel.toggleOptional(claim.name) }))
                        }
                    }
                }
                Section {
                    PasscodeField(title: "passcode.enter", passcode: $passcode)
                    Button("share.confirm") {
                        let entered = passcode
                        passcode = ""
                        Task { await viewModel.share(passcode: entered) }
                    }
                    .disabled(passcode.count != 6)
                    Button("share.decline", role: .destructive) { viewModel.reset() }
                }
            }
            ErrorText(error: viewModel.state.error)
        }
        .disabled(viewModel.state.busy)
        .navigationTitle("share.title")
        .toolbar {
            ToolbarItem(placement: .cancellationAction) {
                Button("common.close") { viewModel.reset() }
            }
        }
    }
}
