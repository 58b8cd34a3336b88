import Foundation

/// The same-device links the app is opened with (`.onOpenURL` → `AppModel.open`). Mirrors the
/// Kotlin `DeepLink` (android/viewmodel):
///
/// - `citizenid://login?p=<frame>` → `QrLoginViewModel.openLink` (the core's `openLoginLink`);
/// - `citizenid://share?request=<jws>` → `ShareViewModel.open` (the core's `openShareRequest`).
///
/// Only the scheme and host are looked at here, to pick the screen; the core parses the rest
/// strictly and checks the relying party's signature against the signed registry before anything
/// is shown. Any app can register a custom scheme, so a link proves nothing by itself.
enum DeepLink: Equatable {
    case login(String)
    case share(String)

    static let scheme = "citizenid"

    /// The link as received, handed to the core unchanged.
    var url: String {
        switch self {
        case let .login(url), let .share(url):
            return url
        }
    }

    /// The screen for `url`, or nil for anything that is not a `citizenid` login/share link.
    static func parse(_ url: URL) -> DeepLink? {
        guard url.scheme?.lowercased() == scheme else { return nil }
        switch url.host?.lowercased() {
        case "login":
            return .login(url.absoluteString)
        case "share":
            return .share(url.absoluteString)
        default:
            return nil
        }
    }

    /// Whether a same-device login's redirect (`LoginApproval.redirectUrl`: a redirect URI the
    /// relying party registered, already checked by the core) may be opened with
    /// `UIApplication.shared.open`: `https` with a host, or — only when `allowLoopbackHttp` (Debug
    /// builds, the reference server on the Mac) — `http` to 127.0.0.1, ::1 or localhost.
    static func browserRedirect(_ string: String?, allowLoopbackHttp: Bool) -> URL? {
        guard let string, let components = URLComponents(string: string), let url = components.url,
              let scheme = components.scheme?.lowercased() else { return nil }
        var host = (components.host ?? "").lowercased()
        if host.hasPrefix("["), host.hasSuffix("]") {
            host = String(host.dropFirst().dropLast())
        }
        guard !host.isEmpty else { return nil }
        switch scheme {
        case "https":
            return url
        case "http":
            return allowLoopbackHttp && ["127.0.0.1", "::1", "localhost"].contains(host) ? url : nil
        default:
            return nil
        }
    }

    /// Debug builds may be sent back to the reference server over loopback http.
    static var allowLoopbackHttp: Bool {
        #if DEBUG
        return true
        #else
        return false
        #endif
    }
}
