import CitizenCore
import CryptoKit
import Foundation
import LocalAuthentication
import Security

/// The core's `DeviceKeyStore` on the Secure Enclave: P-256 keys that never leave it.
///
/// * Created with `SecKeyCreateRandomKey` (`kSecAttrTokenIDSecureEnclave`, EC 256), permanent,
///   tagged with `KeystoreSupport.deviceKeyTag(alias:)` and labelled with the alias.
/// * Access control `kSecAttrAccessibleWhenUnlockedThisDeviceOnly` + `.privateKeyUsage`, and
///   `.biometryCurrentSet` when the core asks for user authentication: every signature needs
///   Face ID / Touch ID, and adding or removing a face or finger invalidates the key for good.
///   The core then gets `KeyInvalidated` and starts re-enrollment.
/// * Signatures: `.ecdsaSignatureMessageX962SHA256` (the enclave hashes), ASN.1 DER.
/// * Public key: `SecKeyCopyExternalRepresentation`, SEC1 uncompressed (65 bytes).
/// * Attestation chain: empty. iOS has no key attestation for Secure Enclave keys; App Attest
///   (DCAppAttestService) attests the app, not this key, and is a separate integration.
///
/// A non-secret marker (generic password, same alias) records that a key was created, so a key
/// the Keychain no longer finds is reported as invalidated rather than never created.
///
/// `createKey` and `sign` are `async` (the core's async foreign methods): the Security framework
/// work runs on a global queue, never on the main thread or a cooperative thread. **Cancellation:**
/// when the core drops the call, UniFFI cancels the Swift `Task` running `sign`; the
/// cancellation handler invalidates the `LAContext`, which dismisses a Face ID / Touch ID prompt
/// that is up (the signature then fails as cancelled; the core has stopped waiting anyway).
///
/// Bookkeeping (activity-log entries and anchors, ARCHITECTURE.md decision 26) is signed with
/// the bookkeeping key, created without `.biometryCurrentSet`; for such a request
/// (`userInitiated == false`) the context has `interactionNotAllowed`, so a key that would need
/// a prompt fails instead of surprising the citizen.
public final class SecureEnclaveDeviceKeyStore: DeviceKeyStore {
    private let promptReason: @Sendable (SignPurpose) -> String
    private let allowSoftwareFallback: Bool

    /// - Parameters:
    ///   - promptReason: shown in the Face ID / Touch ID prompt for a signature of this purpose
    ///     (localized by the app).
    ///   - allowSoftwareFallback: where there is no Secure Enclave (the simulator), create an
    ///     ordinary Keychain key instead, reported as not hardware-backed. Never set in a release
    ///     build: the app passes `true` only under `#if targetEnvironment(simulator)`.
    public init(promptReason: @escaping @Sendable (SignPurpose) -> String, allowSoftwareFallback: Bool = false) {
        self.promptReason = promptReason
        self.allowSoftwareFallback = allowSoftwareFallback
    }

    public func createKey(alias: String, options: KeyOptions) async throws -> Data {
        try await Self.offMainThread { try self.createKeyNow(alias: alias, options: options) }
    }

    public func sign(alias: String, message: Data, request: SignRequest) async throws -> DeviceSignature {
        let context = LAContext()
        context.localizedReason = promptReason(request.purpose)
        if !request.userInitiated {
            context.interactionNotAllowed = true
        }
        return try await withTaskCancellationHandler {
            try Task.checkCancellation()
            return try await Self.offMainThread {
                try self.signNow(alias: alias, message: message, context: context)
            }
        } onCancel: {
            // The core dropped the call: dismiss the prompt if it is up.
            context.invalidate()
        }
    }

    /// Run blocking Security framework work on a global queue and await it.
    private static func offMainThread<T>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global(qos: .userInitiated).async {
                continuation.resume(with: Result { try work() })
            }
        }
    }

    private func createKeyNow(alias: String, options: KeyOptions) throws -> Data {
        try deleteKey(alias: alias)
        let useEnclave = SecureEnclave.isAvailable
        if !useEnclave && !allowSoftwareFallback {
            throw DeviceKeyStoreError.Unavailable(reason: "this device has no Secure Enclave")
        }
        if options.requireUserAuthentication {
            var laError: NSError?
            if !LAContext().canEvaluatePolicy(.deviceOwnerAuthenticationWithBiometrics, error: &laError) {
                throw laError.map {
                    KeystoreSupport.deviceKeyStoreError(domain: $0.domain, code: $0.code,
                                                        description: $0.localizedDescription, markerExists: false)
                } ?? DeviceKeyStoreError.AuthenticationFailed(reason: "biometrics not available")
            }
        }

        var flags: SecAccessControlCreateFlags = useEnclave ? [.privateKeyUsage] : []
        if options.requireUserAuthentication {
            flags.insert(.biometryCurrentSet)
        }
        var cfError: Unmanaged<CFError>?
        guard let access = SecAccessControlCreateWithFlags(
            kCFAllocatorDefault, kSecAttrAccessibleWhenUnlockedThisDeviceOnly, flags, &cfError
        ) else {
            throw KeystoreSupport.deviceKeyStoreError(cfError, markerExists: false)
        }

        var attributes: [String: Any] = [
            kSecAttrKeyType as String: kSecAttrKeyTypeECSECPrimeRandom,
            kSecAttrKeySizeInBits as String: 256,
            kSecAttrLabel as String: alias,
            kSecPrivateKeyAttrs as String: [
                kSecAttrIsPermanent as String: true,
                kSecAttrApplicationTag as String: KeystoreSupport.deviceKeyTag(alias: alias),
                kSecAttrAccessControl as String: access,
            ] as [String: Any],
        ]
        if useEnclave {
            attributes[kSecAttrTokenID as String] = kSecAttrTokenIDSecureEnclave
        }
        guard let privateKey = SecKeyCreateRandomKey(attributes as CFDictionary, &cfError) else {
            throw KeystoreSupport.deviceKeyStoreError(cfError, markerExists: false)
        }
        try writeMarker(alias: alias)
        return try externalPublicKey(of: privateKey, alias: alias)
    }

    private func signNow(alias: String, message: Data, context: LAContext) throws -> DeviceSignature {
        let key = try privateKey(alias: alias, context: context)
        let algorithm = SecKeyAlgorithm.ecdsaSignatureMessageX962SHA256
        guard SecKeyIsAlgorithmSupported(key, .sign, algorithm) else {
            throw DeviceKeyStoreError.Failure(reason: "key does not support ECDSA P-256 SHA-256")
        }
        var cfError: Unmanaged<CFError>?
        guard let signature = SecKeyCreateSignature(key, algorithm, message as CFData, &cfError) as Data? else {
            throw KeystoreSupport.deviceKeyStoreError(cfError, markerExists: markerExists(alias: alias))
        }
        // The enclave answers DER; check it before the core sees it.
        guard KeystoreSupport.derToRaw(signature) != nil else {
            throw DeviceKeyStoreError.Failure(reason: "the key store returned a malformed DER signature")
        }
        return DeviceSignature(bytes: signature, format: .der)
    }

    public func publicKey(alias: String) throws -> Data {
        try externalPublicKey(of: privateKey(alias: alias, context: nil), alias: alias)
    }

    public func deleteKey(alias: String) throws {
        let query: [String: Any] = [
            kSecClass as String: kSecClassKey,
            kSecAttrApplicationTag as String: KeystoreSupport.deviceKeyTag(alias: alias),
        ]
        let status = SecItemDelete(query as CFDictionary)
        guard status == errSecSuccess || status == errSecItemNotFound else {
            throw KeystoreSupport.deviceKeyStoreError(status: status, markerExists: false)
        }
        let markerStatus = SecItemDelete(markerQuery(alias: alias) as CFDictionary)
        guard markerStatus == errSecSuccess || markerStatus == errSecItemNotFound else {
            throw KeystoreSupport.deviceKeyStoreError(status: markerStatus, markerExists: false)
        }
    }

    public func isHardwareBacked(alias: String) throws -> Bool {
        let key = try privateKey(alias: alias, context: nil)
        let attributes = SecKeyCopyAttributes(key) as? [String: Any]
        return (attributes?[kSecAttrTokenID as String] as? String) == (kSecAttrTokenIDSecureEnclave as String)
    }

    public func attestationChain(alias: String) throws -> [Data] {
        _ = try privateKey(alias: alias, context: nil)
        return []
    }

    // MARK: Keychain

    /// The private key reference. Looking it up never prompts; using it to sign does, with
    /// `context` (nil: a fresh one, for calls that do not sign).
    private func privateKey(alias: String, context: LAContext?) throws -> SecKey {
        var query: [String: Any] = [
            kSecClass as String: kSecClassKey,
            kSecAttrKeyClass as String: kSecAttrKeyClassPrivate,
            kSecAttrApplicationTag as String: KeystoreSupport.deviceKeyTag(alias: alias),
            kSecMatchLimit as String: kSecMatchLimitOne,
            kSecReturnRef as String: true,
        ]
        if let context {
            query[kSecUseAuthenticationContext as String] = context
        }
        var item: CFTypeRef?
        let status = SecItemCopyMatching(query as CFDictionary, &item)
        guard status == errSecSuccess, let item, CFGetTypeID(item) == SecKeyGetTypeID() else {
            throw KeystoreSupport.deviceKeyStoreError(
                status: status == errSecSuccess ? errSecItemNotFound : status,
                markerExists: markerExists(alias: alias))
        }
        return item as! SecKey // swiftlint:disable:this force_cast
    }

    private func externalPublicKey(of privateKey: SecKey, alias: String) throws -> Data {
        guard let publicKey = SecKeyCopyPublicKey(privateKey) else {
            throw DeviceKeyStoreError.Failure(reason: "no public key for \(alias)")
        }
        var cfError: Unmanaged<CFError>?
        guard let sec1 = SecKeyCopyExternalRepresentation(publicKey, &cfError) as Data? else {
            throw KeystoreSupport.deviceKeyStoreError(cfError, markerExists: true)
        }
        return sec1 // 0x04 || X || Y
    }

    private func markerQuery(alias: String) -> [String: Any] {
        [
            kSecClass as String: kSecClassGenericPassword,
            kSecAttrService as String: KeystoreSupport.deviceKeyMarkerService,
            kSecAttrAccount as String: alias,
        ]
    }

    private func writeMarker(alias: String) throws {
        var item = markerQuery(alias: alias)
        item[kSecAttrAccessible as String] = kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly
        item[kSecAttrSynchronizable as String] = false
        item[kSecValueData as String] = Data("1".utf8)
        let status = SecItemAdd(item as CFDictionary, nil)
        guard status == errSecSuccess || status == errSecDuplicateItem else {
            throw KeystoreSupport.deviceKeyStoreError(status: status, markerExists: false)
        }
    }

    private func markerExists(alias: String) -> Bool {
        var query = markerQuery(alias: alias)
        query[kSecMatchLimit as String] = kSecMatchLimitOne
        return SecItemCopyMatching(query as CFDictionary, nil) == errSecSuccess
    }
}
