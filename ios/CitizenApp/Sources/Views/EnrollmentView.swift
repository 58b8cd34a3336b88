import CitizenCore
import SwiftUI

struct EnrollmentView: View {
    @ObservedObject var viewModel: EnrollmentViewModel
    @State private var cccd = ""
    @State private var dateOfBirth = "" // YYYY-MM-DD
    @State private var phone = ""
    @State private var otp = ""
    @State private var passcode = ""
    @State private var confirmation = ""

    var body: some View {
        NavigationStack {
            Form {
                switch viewModel.state.step {
                case .identity: identity
                case .otp: otpStep
                case .passcode: passcodeStep
                case .done: done
                }
                ErrorText(error: viewModel.state.error)
            }
            .navigationTitle("enroll.title")
            .disabled(viewModel.state.busy)
            .overlay { if viewModel.state.busy { ProgressView() } }
        }
    }

    private var identity: some View {
        Section {
            TextField("enroll.cccd", text: $cccd).keyboardType(.numberPad)
            fieldErrors("cccd")
            TextField("enroll.dob", text: $dateOfBirth).keyboardType(.numbersAndPunctuation)
            fieldErrors("date_of_birth")
            TextField("enroll.phone", text: $phone).keyboardType(.phonePad).textContentType(.telephoneNumber)
            fieldErrors("phone")
            Button("enroll.start") {
                Task { await viewModel.start(input: EnrollmentInput(cccd: cccd, dateOfBirth: dateOfBirth, phone: phone)) }
            }
        } footer: {
            Text("enroll.identity.footer")
        }
    }

    private var otpStep: some View {
        Section {
            if let ticket = viewModel.state.ticket {
                Text(String(format: NSLocalizedString("enroll.otp.sent %@", comment: ""), ticket.maskedPhone))
                if ticket.hasActiveDevice {
                    Text("enroll.replaces.device").font(.footnote)
                }
            }
            TextField("enroll.otp", text: $otp).keyboardType(.numberPad).textContentType(.oneTimeCode)
            if let left = viewModel.state.otpAttemptsLeft {
                Text(String(format: NSLocalizedString("enroll.otp.attempts %lld", comment: ""), Int64(left)))
                    .font(.footnote)
            }
            Button("common.continue") { viewModel.enterOtp(otp) }
            Button("enroll.otp.resend") { Task { await viewModel.resendOtp() } }
        }
    }

    private var passcodeStep: some View {
        Section {
            PasscodeField(title: "passcode.new", passcode: $passcode)
            PasscodeField(title: "passcode.confirm", passcode: $confirmation)
            fieldErrors("passcode")
            Button("enroll.finish") {
                Task { await viewModel.complete(passcode: passcode, confirmation: confirmation) }
            }
        } footer: {
            Text("enroll.passcode.footer")
        }
    }

    private var done: some View {
        Section {
            Label("enroll.done", systemImage: "checkmark.seal")
            if viewModel.state.outcome?.hardwareBacked == false {
                Text("enroll.not.hardware").font(.footnote)
            }
            Button("common.continue") { viewModel.finish() }
        }
    }

    @ViewBuilder
    private func fieldErrors(_ field: String) -> some View {
        ForEach(viewModel.state.fieldErrors.filter { $0.field == field }, id: \.code) { error in
            Text(localized(vi: error.messageVi, en: error.messageEn)).foregroundStyle(.red).font(.footnote)
        }
    }
}
