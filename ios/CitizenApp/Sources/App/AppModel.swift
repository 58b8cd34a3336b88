import CitizenCore
import CitizenCoreKit
import Foundation
import UIKit

/// Opens the core once per process with the iOS platform adapters.
enum CoreFactory {
    /// `CitizenServerBaseURL` from Info.plist (set in project.yml per configuration).
    static var serverBaseUrl: String {
        Bundle.main.object(forInfoDictionaryKey: "CitizenServerBaseURL") as? String ?? "https://localhost:8443"
    }

    /// Main-safe: the core's async constructor migrates the database and unwraps the data key
    /// on the core's own runtime.
    @MainActor
    static func open() async throws -> CitizenCore {
        let dataDir = try DataDirectory.prepare()
        let reason = NSLocalizedString("biometric.reason", comment: "Face ID / Touch ID prompt")
        #if targetEnvironment(simulator)
        let keyStore = SecureEnclaveDeviceKeyStore(promptReason: { _ in reason }, allowSoftwareFallback: true)
        #else
        let keyStore = SecureEnclaveDeviceKeyStore(promptReason: { _ in reason })
        #endif
        // Debug builds may trust the reference server's development CA (Resources/dev-ca.pem,
        // git-ignored); release builds use the platform roots only.
        var trustAnchors: [String] = []
        #if DEBUG
        if let url = Bundle.main.url(forResource: "dev-ca", withExtension: "pem"),
           let pem = try? String(contentsOf: url, encoding: .utf8) {
            trustAnchors = [pem]
        }
        #endif
        // The fields left out take the core's defaults (no pins, 10 s / 30 s timeouts, HTTPS only).
        let config = CoreConfig(
            serverBaseUrl: serverBaseUrl,
            dataDir: dataDir,
            trustAnchorsPem: trustAnchors,
            language: AppLocale.isVietnamese ? .vi : .en,
            deviceLabel: UIDevice.current.model, // "iPhone": no personal data (not the device name)
            platform: .ios
        )
        return try await CitizenCore.open(config: config, keyStore: keyStore, keyWrapper: KeychainDataKeyWrapper())
    }
}

/// Opens the core at launch; if that fails (e.g. the data key did not survive a restore onto
/// another phone), offers to erase the local data and start again.
@MainActor
final class Launcher: ObservableObject {
    enum State {
        case opening
        case ready(AppModel)
        /// `canErase` only when the data key is lost for good; a temporarily locked data key (the
        /// phone is locked) offers a retry and never erases anything.
        case failed(UiError, canErase: Bool)
    }

    @Published private(set) var state: State = .opening

    init() {
        Task { await self.launch() }
    }

    private func launch() async {
        state = .opening
        do {
            state = .ready(AppModel(core: try await CoreFactory.open()))
        } catch {
            let failure = CoreFailure(error)
            state = .failed(failure.uiError, canErase: (error as? CitizenError).map {
                if case .DataKeyLost = $0 { return true }
                return false
            } ?? false)
        }
    }

    /// Open again (after a temporarily locked data key).
    func retry() {
        Task { await self.launch() }
    }

    /// Erase the core's data directory and the data-key wrapping key, then open a fresh core.
    /// Offered only for a lost data key.
    func eraseAndRetry() {
        Task {
            // The core deletes its wrapping key through the wrapper, then erases its directory:
            // no key alias is hard-coded here.
            if let directory = try? DataDirectory.prepareURL() {
                try? await eraseLocalData(dataDir: directory.path, keyWrapper: KeychainDataKeyWrapper())
            }
            await self.launch()
        }
    }
}

/// Which part of the app is shown, from the core's status; owns the view models.
@MainActor
final class AppModel: ObservableObject {
    enum Screen: Equatable {
        case enrollment
        case login
        case home
    }

    enum Tab: Hashable {
        case services
        case documents
        case qr
        case devices
        case activity
    }

    @Published private(set) var screen: Screen = .login
    @Published var tab: Tab = .services
    /// A deep link waiting for login (`citizenid://login?...` or `citizenid://share?...`).
    @Published private(set) var pendingLink: DeepLink?

    let core: CitizenCoreProtocol
    let enrollment: EnrollmentViewModel
    let login: LoginViewModel
    let devices: DevicesViewModel
    let services: ServicesViewModel
    let documents: DocumentsViewModel
    let qrLogin: QrLoginViewModel
    let share: ShareViewModel
    let activity: ActivityViewModel

    /// The view models take the protocol of their sub-client (`core.account()`, `services()`,
    /// `documents()`, `consent()`, `activity()`), so previews and tests can pass a small fake.
    init(core: CitizenCoreProtocol) {
        self.core = core
        enrollment = EnrollmentViewModel(account: core.account())
        login = LoginViewModel(core: core)
        devices = DevicesViewModel(account: core.account())
        services = ServicesViewModel(services: core.services())
        documents = DocumentsViewModel(documents: core.documents())
        qrLogin = QrLoginViewModel(consent: core.consent())
        share = ShareViewModel(consent: core.consent())
        activity = ActivityViewModel(activity: core.activity(), consent: core.consent())
        for events in [enrollment.events, login.events, devices.events, services.events,
                       documents.events, qrLogin.events, share.events, activity.events] {
            events.handler = { [weak self] event in self?.handle(event) }
        }
        refresh()
    }

    /// Route from the core's status (read on the core's runtime).
    func refresh() {
        Task { await self.route() }
    }

    private func route() async {
        do {
            let status = try await core.status()
            switch status.enrollment {
            case .notEnrolled, .awaitingOtp:
                screen = .enrollment
            case .deactivated:
                // Replaced, transferred or revoked: the login screen offers to enroll again.
                login.accountLost(nil)
                screen = .login
            case .enrolled:
                screen = status.loggedIn ? .home : .login
            }
        } catch {
            handle(.failure(CoreFailure(error)))
        }
        if screen == .home, let link = pendingLink {
            pendingLink = nil
            route(link)
        }
    }

    /// An event of a view model; failures that end the session or the account change the screen.
    func handle(_ event: AppEvents.Event) {
        switch event {
        case .enrolled, .loggedIn:
            refresh()
        case .loggedOut:
            screen = .login
        case .reset:
            enrollment.restart()
            screen = .enrollment
        case let .openURL(url):
            // Only what DeepLink.browserRedirect let through (https; loopback http in Debug).
            UIApplication.shared.open(url)
        case let .failure(failure):
            switch failure.kind {
            case .other:
                break
            case .needsLogin:
                screen = .login
            case .needsEnrollment:
                // The login screen explains it and offers "enroll again" (resetDevice first).
                login.accountLost(failure)
                screen = .login
            }
        }
    }

    /// `.onOpenURL`: `citizenid://login?p=…` (same-device login) and `citizenid://share?request=…`;
    /// anything else is ignored. Opened at once when logged in, else kept until the login.
    func open(_ url: URL) {
        guard let link = DeepLink.parse(url) else { return }
        guard screen == .home else {
            pendingLink = link
            return
        }
        route(link)
    }

    private func route(_ link: DeepLink) {
        switch link {
        case let .login(url):
            tab = .qr
            Task { await qrLogin.openLink(url) }
        case let .share(url):
            Task { await share.open(url) }
        }
    }
}

/// What a view model tells the app (handled by `AppModel`): events that change the screen.
/// The view models know no UI types; this is their only way out.
@MainActor
final class AppEvents {
    enum Event {
        case failure(CoreFailure)
        case enrolled
        case loggedIn
        case loggedOut
        case reset
        /// Open in the browser (or the relying party's app): a same-device login's redirect.
        case openURL(URL)
    }

    var handler: ((Event) -> Void)?

    func send(_ event: Event) {
        handler?(event)
    }
}
