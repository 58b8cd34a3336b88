import CitizenCore
import SwiftUI
import UIKit
import UniformTypeIdentifiers

/// Catalogue, the citizen's cases and the outbox; a procedure opens its form.
struct ServicesView: View {
    @ObservedObject var viewModel: ServicesViewModel

    var body: some View {
        List {
            Section("services.catalogue") {
                ForEach(viewModel.state.procedures, id: \.id) { procedure in
                    Button {
                        viewModel.open(procedureId: procedure.id)
                    } label: {
                        VStack(alignment: .leading) {
                            Text(localized(vi: procedure.nameVi, en: procedure.nameEn))
                            Text(localized(vi: procedure.agencyVi, en: procedure.agencyEn))
                                .font(.caption).foregroundStyle(.secondary)
                        }
                    }
                }
            }
            if !viewModel.state.outbox.filter({ $0.state != .delivered }).isEmpty {
                Section("services.outbox") {
                    ForEach(viewModel.state.outbox.filter { $0.state != .delivered }, id: \.submissionId) { item in
                        OutboxRow(item: item)
                    }
                }
            }
            Section("services.cases") {
                ForEach(viewModel.state.cases, id: \.caseNumber) { caseInfo in
                    CaseRow(caseInfo: caseInfo) { viewModel.supplement(caseInfo) }
                }
            }
            ErrorText(error: viewModel.state.error)
        }
        .navigationTitle("tab.services")
        .refreshable { await viewModel.sync() }
        .task { await viewModel.loadCatalogue() }
        .sheet(isPresented: Binding(get: { viewModel.state.draft != nil || viewModel.state.submitted != nil },
                                    set: { if !$0 { viewModel.close() } })) {
            NavigationStack { DraftFormView(viewModel: viewModel) }
        }
    }
}

struct OutboxRow: View {
    let item: OutboxItem

    var body: some View {
        VStack(alignment: .leading) {
            Text(item.procedureId)
            switch item.state {
            case .queued: Text("outbox.queued").font(.caption)
            case .sending: Text("outbox.sending").font(.caption)
            case .delivered: Text("outbox.delivered").font(.caption)
            case .rejected: Text("outbox.rejected").font(.caption).foregroundStyle(.red)
            }
            if let error = item.lastError {
                Text(localized(vi: error.messageVi, en: error.messageEn)).font(.caption2)
            }
        }
    }
}

struct CaseRow: View {
    let caseInfo: CaseInfo
    let supplement: () -> Void

    var body: some View {
        VStack(alignment: .leading, spacing: 4) {
            Text(caseInfo.caseNumber).font(.headline)
            Text(statusKey).font(.subheadline)
            if let note = AppLocale.isVietnamese ? caseInfo.noteVi : caseInfo.noteEn {
                Text(note).font(.caption)
            }
            if caseInfo.status == .needsSupplement {
                Button("case.supplement", action: supplement)
            }
        }
    }

    private var statusKey: LocalizedStringKey {
        switch caseInfo.status {
        case .received: return "case.received"
        case .processing: return "case.processing"
        case .needsSupplement: return "case.needs.supplement"
        case .approved: return "case.approved"
        case .rejected: return "case.rejected"
        case .completed: return "case.completed"
        }
    }
}

/// The e-form: fields auto-filled from the register (locked), validation messages from the
/// core, attachments, submit with the passcode; then the submission's delivery state.
struct DraftFormView: View {
    @ObservedObject var viewModel: ServicesViewModel
    @State private var passcode = ""
    @State private var attachmentKey: String?

    var body: some View {
        Form {
            if let submitted = viewModel.state.submitted {
                Section("services.submitted") {
                    OutboxRow(item: submitted)
                    if let caseNumber = submitted.caseNumber {
                        Text(caseNumber).font(.headline)
                    }
                }
            } else if let procedure = viewModel.state.procedure, let draft = viewModel.state.draft {
                Section {
                    ForEach(procedure.fields.filter { isVisible($0.visibleIf, draft, prefix: "") }, id: \.key) { field in
                        if field.kind == .group {
                            groupSection(field, draft: draft)
                        } else {
                            FieldEditor(kind: field.kind, label: localized(vi: field.labelVi, en: field.labelEn),
                                        options: field.options, provinceCode: field.provinceField.map { viewModel.state.value($0) },
                                        locked: field.locked || draft.lockedFields.contains(field.key),
                                        value: viewModel.state.value(field.key)) { viewModel.setField(field.key, value: $0) }
                            errors(field.key)
                        }
                    }
                } header: {
                    Text(localized(vi: procedure.nameVi, en: procedure.nameEn))
                }
                if !procedure.attachments.isEmpty {
                    Section("services.attachments") {
                        ForEach(procedure.attachments.filter { isVisible($0.visibleIf, draft, prefix: "") }, id: \.key) { spec in
                            attachmentRow(spec, draft: draft)
                        }
                    }
                }
                Section {
                    PasscodeField(title: "passcode.enter", passcode: $passcode)
                    Button("services.submit") {
                        let entered = passcode
                        passcode = ""
                        Task { await viewModel.submit(passcode: entered) }
                    }
                    .disabled(passcode.count != 6)
                } footer: {
                    Text("services.submit.footer")
                }
            }
            ErrorText(error: viewModel.state.error)
        }
        .disabled(viewModel.state.busy)
        .toolbar {
            ToolbarItem(placement: .cancellationAction) {
                Button("common.close") { viewModel.close() }
            }
        }
        .fileImporter(isPresented: Binding(get: { attachmentKey != nil }, set: { if !$0 { attachmentKey = nil } }),
                      allowedContentTypes: [.pdf, .jpeg, .png]) { result in
            guard let key = attachmentKey, case let .success(url) = result else { return }
            attachmentKey = nil
            let scoped = url.startAccessingSecurityScopedResource()
            defer { if scoped { url.stopAccessingSecurityScopedResource() } }
            guard let data = try? Data(contentsOf: url) else { return }
            let mimeType = UTType(filenameExtension: url.pathExtension)?.preferredMIMEType ?? "application/octet-stream"
            viewModel.attach(key: key, fileName: url.lastPathComponent, mimeType: mimeType, data: data)
        }
    }

    @ViewBuilder
    private func groupSection(_ field: FormField, draft: Draft) -> some View {
        let count = draft.groupItems[field.key] ?? 0
        Text(localized(vi: field.labelVi, en: field.labelEn)).font(.headline)
        ForEach(0 ..< Int(count), id: \.self) { index in
            let prefix = "\(field.key).\(index)."
            ForEach(field.itemFields.filter { isVisible($0.visibleIf, draft, prefix: prefix) }, id: \.key) { item in
                FieldEditor(kind: item.kind, label: localized(vi: item.labelVi, en: item.labelEn),
                            options: item.options, provinceCode: item.provinceField.map { viewModel.state.value(prefix + $0) },
                            locked: item.locked || draft.lockedFields.contains(prefix + item.key),
                            value: viewModel.state.value(prefix + item.key)) { viewModel.setField(prefix + item.key, value: $0) }
                errors(prefix + item.key)
            }
            Button("services.group.remove", role: .destructive) {
                viewModel.removeGroupItem(field.key, index: Int32(index))
            }
        }
        Button("services.group.add") { viewModel.addGroupItem(field.key) }
        errors(field.key)
    }

    @ViewBuilder
    private func attachmentRow(_ spec: AttachmentSpec, draft: Draft) -> some View {
        let label = localized(vi: spec.labelVi, en: spec.labelEn) + (spec.required ? " *" : "")
        if let attached = draft.attachments.first(where: { $0.key == spec.key }) {
            HStack {
                Text(label)
                Spacer()
                Text(attached.fileName).font(.caption)
                Button(role: .destructive) { viewModel.removeAttachment(key: spec.key) } label: {
                    Image(systemName: "trash")
                }
            }
        } else {
            Button(label) { attachmentKey = spec.key }
        }
        errors(spec.key)
    }

    @ViewBuilder
    private func errors(_ path: String) -> some View {
        ForEach(viewModel.state.errors(for: path), id: \.code) { error in
            Text(localized(vi: error.messageVi, en: error.messageEn)).foregroundStyle(.red).font(.footnote)
        }
    }

    /// `visible_if`: shown only when the other field's value is one of `anyOf`.
    private func isVisible(_ condition: Condition?, _ draft: Draft, prefix: String) -> Bool {
        guard let condition else { return true }
        // Pending edits count: a choice the citizen just made shows its fields at once.
        let state = viewModel.state
        let value = state.edits[prefix + condition.field] ?? draft.values[prefix + condition.field]
            ?? state.edits[condition.field] ?? draft.values[condition.field] ?? ""
        return condition.anyOf.contains(value)
    }
}

/// One field, by kind. Values are strings, as the core stores them.
struct FieldEditor: View {
    let kind: FieldKind
    let label: String
    let options: [OptionSpec]
    /// For a commune: the code of the province chosen in the form.
    let provinceCode: String?
    let locked: Bool
    let value: String
    let onChange: (String) -> Void

    var body: some View {
        Group {
            switch kind {
            case .select:
                Picker(label, selection: binding) {
                    Text("—").tag("")
                    ForEach(options, id: \.value) { Text(localized(vi: $0.labelVi, en: $0.labelEn)).tag($0.value) }
                }
            case .province:
                Picker(label, selection: binding) {
                    Text("—").tag("")
                    ForEach(provinces(), id: \.code) { Text($0.name).tag($0.code) }
                }
            case .commune:
                Picker(label, selection: binding) {
                    Text("—").tag("")
                    ForEach(provinceCode.map { communes(provinceCode: $0) } ?? [], id: \.code) { Text($0.name).tag($0.code) }
                }
            case .boolean:
                Toggle(label, isOn: Binding(get: { value == "true" }, set: { onChange($0 ? "true" : "false") }))
            case .multiline:
                VStack(alignment: .leading) {
                    Text(label).font(.caption)
                    TextEditor(text: binding).frame(minHeight: 80)
                }
            default:
                TextField(label, text: binding)
                    .keyboardType(keyboard)
            }
        }
        .disabled(locked)
    }

    private var binding: Binding<String> {
        Binding(get: { value }, set: { onChange($0) })
    }

    private var keyboard: UIKeyboardType {
        switch kind {
        case .phone: return .phonePad
        case .cccd, .number: return .numberPad
        case .email: return .emailAddress
        case .date: return .numbersAndPunctuation // YYYY-MM-DD
        default: return .default
        }
    }
}
