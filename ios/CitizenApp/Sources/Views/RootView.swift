import CitizenCore
import SwiftUI

struct RootView: View {
    @ObservedObject var model: AppModel

    var body: some View {
        switch model.screen {
        case .enrollment:
            EnrollmentView(viewModel: model.enrollment)
        case .login:
            LoginView(viewModel: model.login)
        case .home:
            HomeView(model: model)
        }
    }
}

struct HomeView: View {
    @ObservedObject var model: AppModel
    @ObservedObject var share: ShareViewModel

    init(model: AppModel) {
        self.model = model
        share = model.share
    }

    var body: some View {
        TabView(selection: $model.tab) {
            NavigationStack { ServicesView(viewModel: model.services) }
                .tabItem { Label("tab.services", systemImage: "doc.text") }
                .tag(AppModel.Tab.services)
            NavigationStack { DocumentsView(viewModel: model.documents) }
                .tabItem { Label("tab.documents", systemImage: "wallet.pass") }
                .tag(AppModel.Tab.documents)
            NavigationStack { QrLoginView(viewModel: model.qrLogin) }
                .tabItem { Label("tab.qr", systemImage: "qrcode.viewfinder") }
                .tag(AppModel.Tab.qr)
            NavigationStack { DevicesView(viewModel: model.devices, login: model.login) }
                .tabItem { Label("tab.devices", systemImage: "iphone") }
                .tag(AppModel.Tab.devices)
            NavigationStack { ActivityView(viewModel: model.activity) }
                .tabItem { Label("tab.activity", systemImage: "list.bullet.rectangle") }
                .tag(AppModel.Tab.activity)
        }
        // Deep links open these over any tab.
        .sheet(isPresented: Binding(get: { share.state.request != nil || share.state.outcome != nil || share.state.error != nil },
                                    set: { if !$0 { share.reset() } })) {
            NavigationStack { ShareView(viewModel: share) }
        }
    }
}

/// The core could not be opened (e.g. restored onto another phone: the data key stayed behind).
struct LaunchFailedView: View {
    let error: UiError
    /// Only for a lost data key: a locked one must never lead to erasing the account.
    let canErase: Bool
    let retry: () -> Void
    let eraseAndRetry: () -> Void

    var body: some View {
        VStack(spacing: 16) {
            Image(systemName: "exclamationmark.triangle").font(.largeTitle)
            Text(error.message).multilineTextAlignment(.center)
            if canErase {
                Button("launch.erase", role: .destructive, action: eraseAndRetry)
            } else {
                Button("launch.retry", action: retry)
            }
        }
        .padding()
    }
}

/// A 6-digit passcode entry.
struct PasscodeField: View {
    let title: LocalizedStringKey
    @Binding var passcode: String

    var body: some View {
        SecureField(title, text: $passcode)
            .keyboardType(.numberPad)
            .textContentType(.oneTimeCode)
            .onChange(of: passcode) { value in
                let digits = String(value.filter(\.isASCIIDigit).prefix(6))
                if digits != value { passcode = digits }
            }
    }
}

/// The error line every screen shows.
struct ErrorText: View {
    let error: UiError?

    var body: some View {
        if let error {
            Text(error.message)
                .foregroundStyle(.red)
                .font(.footnote)
                .accessibilityIdentifier(error.code)
        }
    }
}
