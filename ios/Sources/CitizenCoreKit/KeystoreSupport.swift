import CitizenCore
import CryptoTokenKit
import Foundation
import LocalAuthentication
import Security

/// The adapter logic that needs no Secure Enclave: ECDSA signature encodings, the mapping of
/// platform errors onto the core's `DeviceKeyStoreError`, and key naming. Pure functions, so they
/// are unit-tested (`Tests/CitizenCoreKitTests`) like their Kotlin twin `KeystoreSupport` is on
/// the JVM.
public enum KeystoreSupport {
    // MARK: Key naming

    /// Namespace of every Keychain item this package creates.
    public static let namespace = "vn.citizen.core"

    /// Keychain application tag of the device key with the core's `alias`
    /// (the core names device keys `citizen-core.device.<device id>`).
    public static func deviceKeyTag(alias: String) -> Data {
        Data("\(namespace).device-key.\(alias)".utf8)
    }

    /// Keychain service of the markers recording that a device key was created (see
    /// `SecureEnclaveDeviceKeyStore`: they tell an invalidated key from one never created).
    public static let deviceKeyMarkerService = "\(namespace).device-key-marker"

    /// Keychain service of the AES keys that wrap the core's data key.
    public static let dataKeyService = "\(namespace).data-key-wrapper"

    // MARK: ECDSA P-256 signature encodings

    /// Width of one P-256 scalar.
    public static let scalarLength = 32

    /// ASN.1 DER `SEQUENCE { r INTEGER, s INTEGER }` → fixed-width `r || s` (64 bytes).
    /// Returns nil for anything that is not a well-formed P-256 DER signature.
    public static func derToRaw(_ der: Data) -> Data? {
        let bytes = [UInt8](der)
        var index = 0

        func readLength() -> Int? {
            guard index < bytes.count else { return nil }
            let first = bytes[index]
            index += 1
            if first < 0x80 { return Int(first) }
            // P-256 signatures are at most 72 bytes: only the short form and 0x81 occur.
            guard first == 0x81, index < bytes.count, bytes[index] >= 0x80 else { return nil }
            defer { index += 1 }
            return Int(bytes[index])
        }

        func readInteger() -> [UInt8]? {
            guard index < bytes.count, bytes[index] == 0x02 else { return nil }
            index += 1
            guard let length = readLength(), length > 0, index + length <= bytes.count else { return nil }
            var value = Array(bytes[index ..< index + length])
            index += length
            // Minimal encoding: no negative numbers, no superfluous leading zero.
            if value[0] & 0x80 != 0 { return nil }
            if value.count > 1, value[0] == 0, value[1] & 0x80 == 0 { return nil }
            if value[0] == 0 { value.removeFirst() }
            guard !value.isEmpty, value.count <= scalarLength else { return nil }
            return value
        }

        guard bytes.count >= 8, bytes[index] == 0x30 else { return nil }
        index += 1
        guard let sequenceLength = readLength(), index + sequenceLength == bytes.count,
              let r = readInteger(), let s = readInteger(), index == bytes.count
        else { return nil }
        guard r.contains(where: { $0 != 0 }), s.contains(where: { $0 != 0 }) else { return nil }
        var raw = [UInt8](repeating: 0, count: 2 * scalarLength)
        raw.replaceSubrange(scalarLength - r.count ..< scalarLength, with: r)
        raw.replaceSubrange(2 * scalarLength - s.count ..< 2 * scalarLength, with: s)
        return Data(raw)
    }

    /// Fixed-width `r || s` (64 bytes) → ASN.1 DER. Returns nil when `raw` is not 64 bytes.
    public static func rawToDer(_ raw: Data) -> Data? {
        guard raw.count == 2 * scalarLength else { return nil }
        let bytes = [UInt8](raw)

        func integer(_ scalar: ArraySlice<UInt8>) -> [UInt8] {
            var value = Array(scalar.drop(while: { $0 == 0 }))
            if value.isEmpty { value = [0] }
            if value[0] & 0x80 != 0 { value.insert(0, at: 0) }
            return [0x02, UInt8(value.count)] + value
        }

        let body = integer(bytes[0 ..< scalarLength]) + integer(bytes[scalarLength ..< 2 * scalarLength])
        let header: [UInt8] = body.count < 0x80 ? [0x30, UInt8(body.count)] : [0x30, 0x81, UInt8(body.count)]
        return Data(header + body)
    }

    // MARK: Error mapping

    /// Map an error of the Security or LocalAuthentication framework onto the core's
    /// `DeviceKeyStoreError`.
    ///
    /// - `markerExists`: whether a key was created under this alias (its marker is in the
    ///   Keychain). A key protected with `.biometryCurrentSet` becomes unusable for good when the
    ///   enrolled biometrics change, and the Keychain then no longer finds it
    ///   (`errSecItemNotFound`): with a marker that is `KeyInvalidated` (the core starts
    ///   re-enrollment), without one it is `KeyNotFound`.
    public static func deviceKeyStoreError(
        domain: String, code: Int, description: String, markerExists: Bool
    ) -> DeviceKeyStoreError {
        let reason = "\(domain) \(code): \(description)"
        if domain == LAErrorDomain {
            switch code {
            case LAError.userCancel.rawValue, LAError.systemCancel.rawValue, LAError.appCancel.rawValue,
                 LAError.userFallback.rawValue:
                return .UserCancelled(reason: reason)
            case LAError.authenticationFailed.rawValue, LAError.biometryLockout.rawValue,
                 LAError.biometryNotEnrolled.rawValue, LAError.passcodeNotSet.rawValue:
                // Lockout is temporary (the device passcode lifts it): not an invalidated key.
                return .AuthenticationFailed(reason: reason)
            case LAError.biometryNotAvailable.rawValue, LAError.notInteractive.rawValue:
                return .Unavailable(reason: reason)
            default:
                return .Failure(reason: reason)
            }
        }
        if domain == TKErrorDomain {
            switch code {
            case TKError.canceledByUser.rawValue:
                return .UserCancelled(reason: reason)
            case TKError.authenticationFailed.rawValue, TKError.authenticationNeeded.rawValue:
                return .AuthenticationFailed(reason: reason)
            case TKError.objectNotFound.rawValue:
                return markerExists ? .KeyInvalidated(reason: reason) : .KeyNotFound(reason: reason)
            case TKError.tokenNotFound.rawValue, TKError.communicationError.rawValue:
                return .Unavailable(reason: reason)
            default:
                return .Failure(reason: reason)
            }
        }
        if domain == NSOSStatusErrorDomain {
            return deviceKeyStoreError(status: OSStatus(truncatingIfNeeded: code), reason: reason,
                                       markerExists: markerExists)
        }
        return .Failure(reason: reason)
    }

    /// Map a Keychain `OSStatus` onto the core's `DeviceKeyStoreError` (see above for `markerExists`).
    public static func deviceKeyStoreError(
        status: OSStatus, reason: String? = nil, markerExists: Bool
    ) -> DeviceKeyStoreError {
        let reason = reason ?? "OSStatus \(status)"
        switch status {
        case errSecItemNotFound:
            return markerExists ? .KeyInvalidated(reason: reason) : .KeyNotFound(reason: reason)
        case errSecUserCanceled:
            return .UserCancelled(reason: reason)
        case errSecAuthFailed:
            return .AuthenticationFailed(reason: reason)
        case errSecInteractionNotAllowed, errSecNotAvailable, errSecUnimplemented:
            // Device locked, no Secure Enclave (simulator), or the hardware is busy.
            return .Unavailable(reason: reason)
        default:
            return .Failure(reason: reason)
        }
    }

    /// Map a Keychain `OSStatus` from reading the data-key wrapping key onto the core's
    /// `KeyWrapError`: a locked device (`errSecInteractionNotAllowed`) or busy Keychain is
    /// `TemporarilyUnavailable` — the data is intact, retry after unlock (`storage.data_key_locked`),
    /// never "lost"; anything else is a `Failure` (the core treats it as locked too).
    public static func keyWrapError(status: OSStatus, operation: String) -> KeyWrapError {
        let reason = "\(operation): OSStatus \(status)"
        switch status {
        case errSecInteractionNotAllowed, errSecNotAvailable:
            return .TemporarilyUnavailable(reason: reason)
        default:
            return .Failure(reason: reason)
        }
    }

    /// Map a `CFError` returned by `SecKeyCreateRandomKey`, `SecKeyCreateSignature` and friends.
    public static func deviceKeyStoreError(_ error: Unmanaged<CFError>?, markerExists: Bool) -> DeviceKeyStoreError {
        guard let error = error?.takeRetainedValue() else {
            return .Failure(reason: "Security framework call failed without an error")
        }
        let nsError = error as Error as NSError
        return deviceKeyStoreError(domain: nsError.domain, code: nsError.code,
                                   description: nsError.localizedDescription, markerExists: markerExists)
    }
}
