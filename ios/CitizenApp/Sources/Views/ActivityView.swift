import CitizenCore
import SwiftUI

/// The activity log (verify on the device, anchor at the server, export) and consent receipts.
struct ActivityView: View {
    @ObservedObject var viewModel: ActivityViewModel

    var body: some View {
        List {
            Section {
                Button("activity.verify") { viewModel.verify() }
                Button("activity.anchor") { Task { await viewModel.anchor() } }
                if let report = viewModel.state.report {
                    Label(report.intact ? LocalizedStringKey("activity.intact") : LocalizedStringKey("activity.tampered"),
                          systemImage: report.intact ? "checkmark.seal" : "exclamationmark.octagon")
                    Text(verbatim: "\(report.entries) · \(report.anchors)").font(.caption)
                }
                if let log = viewModel.state.logExport {
                    ShareLink("activity.export", item: log)
                }
            }
            Section("activity.log") {
                ForEach(viewModel.state.entries, id: \.seq) { entry in
                    VStack(alignment: .leading) {
                        Text(entry.summary)
                        Text(entry.at, style: .date).font(.caption)
                    }
                }
            }
            Section("activity.receipts") {
                // Markers for damaged or deleted receipts share an empty id: index by position.
                ForEach(Array(viewModel.state.receipts.enumerated()), id: \.offset) { _, receipt in
                    VStack(alignment: .leading) {
                        if receipt.damage != nil {
                            Text("activity.receipt.damaged \(Int64(receipt.sequence))")
                        } else {
                            Text(receipt.relyingPartyName)
                            Text(receipt.claims.joined(separator: ", ")).font(.caption)
                            Text(receipt.issuedAt, style: .date).font(.caption2)
                            switch receipt.delivery {
                            case .delivered: Text("activity.receipt.delivered").font(.caption2)
                            case .refused: Text("activity.receipt.refused").font(.caption2)
                            case .notDelivered: Text("activity.receipt.not_delivered").font(.caption2)
                            case .unknown: Text("activity.receipt.delivery_unknown").font(.caption2)
                            case .notApplicable: EmptyView()
                            }
                        }
                    }
                }
                if let json = viewModel.state.receiptsExport {
                    ShareLink("activity.receipts.export", item: json)
                }
            }
            ErrorText(error: viewModel.state.error)
        }
        .navigationTitle("tab.activity")
        .onAppear { viewModel.refresh() }
    }
}
