import SwiftUI

@main
struct CitizenApp: App {
    @StateObject private var launcher = Launcher()

    var body: some Scene {
        WindowGroup {
            switch launcher.state {
            case .opening:
                ProgressView()
            case let .ready(model):
                RootView(model: model)
                    .onOpenURL { model.open($0) }
            case let .failed(error, canErase):
                LaunchFailedView(error: error, canErase: canErase, retry: { launcher.retry() }) {
                    launcher.eraseAndRetry()
                }
            }
        }
    }
}

/// The app's language for texts that come from the core in both languages.
func localized(vi: String, en: String) -> String {
    AppLocale.isVietnamese ? vi : en
}
