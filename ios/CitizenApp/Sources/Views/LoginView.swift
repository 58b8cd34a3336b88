import CitizenCore
import SwiftUI

struct LoginView: View {
    @ObservedObject var viewModel: LoginViewModel
    @State private var passcode = ""

    var body: some View {
        NavigationStack {
            Form {
                if viewModel.state.needsEnrollment {
                    Section {
                        Text("login.account.lost")
                        Button("login.enroll.again", role: .destructive) {
                            Task { await viewModel.resetForEnrollment() }
                        }
                    }
                } else {
                    Section {
                        PasscodeField(title: "passcode.enter", passcode: $passcode)
                        if let until = viewModel.state.lockedUntil, until > Date() {
                            // Counts down by itself.
                            Text(timerInterval: Date() ... until, countsDown: true)
                                .font(.footnote.monospacedDigit())
                            Text("login.locked").font(.footnote)
                        } else if let left = viewModel.state.attemptsBeforeLockout, left < 5 {
                            Text(String(format: NSLocalizedString("login.attempts.left %lld", comment: ""), Int64(left)))
                                .font(.footnote)
                        }
                        Button("login.button") {
                            let entered = passcode
                            passcode = ""
                            Task { await viewModel.login(passcode: entered) }
                        }
                        .disabled(passcode.count != 6 || (viewModel.state.lockedUntil ?? .distantPast) > Date())
                    }
                }
                ErrorText(error: viewModel.state.error)
            }
            .navigationTitle("login.title")
            .disabled(viewModel.state.busy)
            .onAppear { viewModel.refresh() }
        }
    }
}
