import CitizenCore
@testable import CitizenCoreKit
import CryptoKit
import LocalAuthentication
import Security
import XCTest

/// The off-device adapter logic, mirrored by the Kotlin `KeystoreSupportTest`. Runs in the
/// simulator (`xcodebuild test`, see ios/README.md); needs no Secure Enclave.
final class KeystoreSupportTests: XCTestCase {
    func testDerToRawMatchesCryptoKit() throws {
        let key = P256.Signing.PrivateKey()
        for index in 0 ..< 64 {
            let message = Data("message \(index)".utf8)
            let signature = try key.signature(for: message)
            let raw = try XCTUnwrap(KeystoreSupport.derToRaw(signature.derRepresentation))
            XCTAssertEqual(raw, signature.rawRepresentation)
            XCTAssertEqual(KeystoreSupport.rawToDer(raw), signature.derRepresentation)
        }
    }

    func testDerToRawRejectsMalformedInput() {
        let valid = Data([0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02])
        XCTAssertNotNil(KeystoreSupport.derToRaw(valid))
        XCTAssertNil(KeystoreSupport.derToRaw(Data()))
        XCTAssertNil(KeystoreSupport.derToRaw(valid + Data([0x00])), "trailing byte")
        XCTAssertNil(KeystoreSupport.derToRaw(Data([0x31]) + valid.dropFirst()), "not a SEQUENCE")
        XCTAssertNil(KeystoreSupport.derToRaw(Data([0x30, 0x06, 0x02, 0x01, 0x81, 0x02, 0x01, 0x02])), "negative r")
        XCTAssertNil(KeystoreSupport.derToRaw(Data([0x30, 0x07, 0x02, 0x02, 0x00, 0x01, 0x02, 0x01, 0x02])),
                     "non-minimal r")
        XCTAssertNil(KeystoreSupport.derToRaw(Data([0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x02])), "zero r")
        XCTAssertNil(KeystoreSupport.rawToDer(Data(repeating: 1, count: 63)))
    }

    func testInvalidatedKeyIsReportedAsKeyInvalidated() {
        XCTAssertEqual(KeystoreSupport.deviceKeyStoreError(status: errSecItemNotFound, reason: "r", markerExists: true),
                       .KeyInvalidated(reason: "r"))
        XCTAssertEqual(KeystoreSupport.deviceKeyStoreError(status: errSecItemNotFound, reason: "r", markerExists: false),
                       .KeyNotFound(reason: "r"))
    }

    func testPlatformErrorsMapOntoTheCoreErrors() {
        func mapped(_ domain: String, _ code: Int) -> DeviceKeyStoreError {
            KeystoreSupport.deviceKeyStoreError(domain: domain, code: code, description: "d", markerExists: true)
        }
        let reason = { (domain: String, code: Int) in "\(domain) \(code): d" }
        XCTAssertEqual(mapped(NSOSStatusErrorDomain, Int(errSecUserCanceled)),
                       .UserCancelled(reason: reason(NSOSStatusErrorDomain, Int(errSecUserCanceled))))
        XCTAssertEqual(mapped(NSOSStatusErrorDomain, Int(errSecAuthFailed)),
                       .AuthenticationFailed(reason: reason(NSOSStatusErrorDomain, Int(errSecAuthFailed))))
        XCTAssertEqual(mapped(NSOSStatusErrorDomain, Int(errSecItemNotFound)),
                       .KeyInvalidated(reason: reason(NSOSStatusErrorDomain, Int(errSecItemNotFound))))
        XCTAssertEqual(mapped(NSOSStatusErrorDomain, Int(errSecInteractionNotAllowed)),
                       .Unavailable(reason: reason(NSOSStatusErrorDomain, Int(errSecInteractionNotAllowed))))
        XCTAssertEqual(mapped(LAErrorDomain, LAError.userCancel.rawValue),
                       .UserCancelled(reason: reason(LAErrorDomain, LAError.userCancel.rawValue)))
        XCTAssertEqual(mapped(LAErrorDomain, LAError.biometryLockout.rawValue),
                       .AuthenticationFailed(reason: reason(LAErrorDomain, LAError.biometryLockout.rawValue)))
        XCTAssertEqual(mapped(NSOSStatusErrorDomain, Int(errSecParam)),
                       .Failure(reason: reason(NSOSStatusErrorDomain, Int(errSecParam))))
        XCTAssertEqual(mapped("SomeOtherDomain", 1), .Failure(reason: reason("SomeOtherDomain", 1)))
    }

    /// Issue 11: a locked device is "temporarily unavailable" (retry), never "key gone" (erase).
    func testALockedKeychainIsTemporarilyUnavailableNotLost() {
        XCTAssertEqual(KeystoreSupport.keyWrapError(status: errSecInteractionNotAllowed, operation: "read"),
                       .TemporarilyUnavailable(reason: "read: OSStatus \(errSecInteractionNotAllowed)"))
        XCTAssertEqual(KeystoreSupport.keyWrapError(status: errSecParam, operation: "read"),
                       .Failure(reason: "read: OSStatus \(errSecParam)"))
    }

    func testKeyTagsAreNamespacedPerAlias() {
        XCTAssertEqual(KeystoreSupport.deviceKeyTag(alias: "citizen-core.device.d1"),
                       Data("vn.citizen.core.device-key.citizen-core.device.d1".utf8))
        XCTAssertNotEqual(KeystoreSupport.deviceKeyTag(alias: "a"), KeystoreSupport.deviceKeyTag(alias: "b"))
    }
}
