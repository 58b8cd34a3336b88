import CitizenCore
import CoreNFC
import Foundation

/// The core's `ApduTransport` over CoreNFC's `NFCISO7816Tag` (the CCCD's chip), for the chip
/// reader of issue 12 (ARCHITECTURE.md, decision 29).
///
/// - **The AID:** CoreNFC only connects to ISO 7816 tags whose application is listed in the app's
///   Info.plist (`com.apple.developer.nfc.readersession.iso7816.select-identifiers`): the eMRTD
///   AID `A0000002471001` is there (CitizenApp/project.yml), with the NFC tag-reading
///   entitlement. CoreNFC selects it itself when the tag is discovered.
/// - **The iOS trap:** the CCCD answers `SELECT MF` with `6D00` on iOS; the core's reader reads
///   EF.CardAccess by SFI or by `00 A4 02 0C 02 011C`, never through the MF.
/// - **Extended length:** CoreNFC carries extended APDUs, but some chips and iPhones fail with
///   them (NFCPassportReader reads in short chunks for this reason); off by default, so the core
///   chains short READ BINARY commands.
/// - **Cancellation:** the core cancels by dropping the future, which UniFFI turns into
///   cancelling this Swift task. `sendCommand` cannot be aborted on its own, so the adapter
///   invalidates the reader session (the system NFC sheet closes); the read is over.
/// - **Errors:** CoreNFC's "tag connection lost" / "tag not connected" are `CardRemoved`
///   (retryable), the session timeout (60 s) `Timeout`, a citizen dismissing the sheet or an
///   invalidated session `Cancelled`, the rest `Other`. Reasons never carry APDU bytes.
public final class NfcIso7816ApduTransport: ApduTransport, @unchecked Sendable {
    // @unchecked: CoreNFC's tag and session objects are not marked Sendable; the core sends one
    // APDU at a time (see ApduTransport), and both are only used through their thread-safe APIs.
    private let tag: NFCISO7816Tag
    private weak var session: NFCTagReaderSession?
    private let extendedLength: Bool

    /// The largest short command APDU: header, Lc, 255 data bytes, Le.
    public static let shortApduMax: Int32 = 261
    /// The largest extended command APDU CoreNFC accepts (header, 3-byte Lc, 65535 data bytes, 2-byte Le).
    public static let extendedApduMax: Int32 = 65544

    /// - Parameters:
    ///   - tag: the connected ISO 7816 tag (`session.connect(to:)` done by the caller).
    ///   - session: the reader session, invalidated when the core cancels a read.
    ///   - extendedLength: let the core send extended-length APDUs (see above).
    public init(tag: NFCISO7816Tag, session: NFCTagReaderSession?, extendedLength: Bool = false) {
        self.tag = tag
        self.session = session
        self.extendedLength = extendedLength
    }

    public func transceive(command: Data) async throws -> Data {
        guard let apdu = NFCISO7816APDU(data: command) else {
            throw ApduTransportError.Other(reason: "CoreNFC cannot encode a command of \(command.count) bytes")
        }
        let tag = self.tag
        let session = self.session
        do {
            let (data, sw1, sw2) = try await withTaskCancellationHandler {
                try await tag.sendCommand(apdu: apdu)
            } onCancel: {
                session?.invalidate()
            }
            if Task.isCancelled {
                throw ApduTransportError.Cancelled(reason: "task cancelled")
            }
            var response = data
            response.append(contentsOf: [sw1, sw2])
            return response
        } catch let error as ApduTransportError {
            throw error
        } catch {
            throw NfcIso7816ApduTransport.map(error, cancelled: Task.isCancelled)
        }
    }

    public func maxApduLength() -> Int32 {
        extendedLength ? NfcIso7816ApduTransport.extendedApduMax : NfcIso7816ApduTransport.shortApduMax
    }

    public func supportsExtendedLength() -> Bool {
        extendedLength
    }

    /// CoreNFC's errors as the core's transport errors.
    static func map(_ error: Error, cancelled: Bool) -> ApduTransportError {
        let reason = "\(type(of: error)): \(error.localizedDescription)"
        if cancelled {
            return .Cancelled(reason: reason)
        }
        guard let nfc = error as? NFCReaderError else {
            return .Other(reason: reason)
        }
        switch nfc.code {
        case .readerTransceiveErrorTagConnectionLost, .readerTransceiveErrorTagNotConnected:
            return .CardRemoved(reason: reason)
        case .readerSessionInvalidationErrorSessionTimeout, .readerTransceiveErrorRetryExceeded:
            return .Timeout(reason: reason)
        case .readerSessionInvalidationErrorUserCanceled, .readerTransceiveErrorSessionInvalidated,
             .readerSessionInvalidationErrorSystemIsBusy:
            return .Cancelled(reason: reason)
        default:
            return .Other(reason: reason)
        }
    }
}
