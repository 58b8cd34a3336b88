import CitizenCore
import SwiftUI
import UIKit

/// The documents wallet: the held documents, one opened with its labelled fields and portrait,
/// refresh from the server, delete from this device.
struct DocumentsView: View {
    @ObservedObject var viewModel: DocumentsViewModel

    var body: some View {
        List {
            Section {
                if viewModel.state.documents.isEmpty && !viewModel.state.busy {
                    Text("documents.empty").foregroundStyle(.secondary)
                }
                ForEach(viewModel.state.documents, id: \.id) { document in
                    Button {
                        Task { await viewModel.open(id: document.id) }
                    } label: {
                        VStack(alignment: .leading) {
                            Text(viewModel.title(document))
                            Text(verbatim: document.issuer).font(.caption).foregroundStyle(.secondary)
                            Text(verbatim: validUntil(document)).font(.caption2)
                        }
                    }
                    .swipeActions {
                        Button("documents.delete", role: .destructive) {
                            Task { await viewModel.delete(id: document.id) }
                        }
                    }
                }
            }
            Section {
                Button("documents.refresh") { Task { await viewModel.refresh() } }
                    .disabled(viewModel.state.busy)
                if let fetched = viewModel.state.trustListFetchedAt {
                    Text(verbatim: String(format: NSLocalizedString("documents.trustlist %@", comment: ""),
                                          fetched.formatted(date: .abbreviated, time: .shortened)))
                        .font(.caption)
                }
            }
            ErrorText(error: viewModel.state.error)
        }
        .navigationTitle("tab.documents")
        .task { await viewModel.load() }
        .refreshable { await viewModel.refresh() }
        .sheet(isPresented: Binding(get: { viewModel.state.detail != nil }, set: { if !$0 { viewModel.close() } })) {
            NavigationStack { DocumentDetailView(viewModel: viewModel) }
        }
    }

    private func validUntil(_ document: DocumentSummary) -> String {
        String(format: NSLocalizedString("documents.valid %@", comment: ""),
               document.validUntil.formatted(date: .abbreviated, time: .omitted))
    }
}

/// One document: portrait, then its fields labelled in the app's language.
private struct DocumentDetailView: View {
    @ObservedObject var viewModel: DocumentsViewModel

    var body: some View {
        List {
            if let bytes = viewModel.state.portrait, let image = UIImage(data: bytes) {
                Image(uiImage: image)
                    .resizable()
                    .scaledToFit()
                    .frame(maxHeight: 180)
                    .accessibilityLabel(Text("documents.portrait"))
            }
            ForEach(viewModel.state.fields) { field in
                VStack(alignment: .leading) {
                    Text(verbatim: field.label).font(.caption).foregroundStyle(.secondary)
                    Text(verbatim: field.value)
                }
            }
            if let id = viewModel.state.detail?.summary.id {
                Button("documents.delete", role: .destructive) {
                    Task { await viewModel.delete(id: id) }
                }
            }
            ErrorText(error: viewModel.state.error)
        }
        .navigationTitle(viewModel.state.detail.map { viewModel.title($0.summary) } ?? "")
        .toolbar {
            ToolbarItem(placement: .cancellationAction) {
                Button("documents.close") { viewModel.close() }
            }
        }
    }
}
