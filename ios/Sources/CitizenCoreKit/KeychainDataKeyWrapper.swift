import CitizenCore
import CryptoKit
import Foundation
import Security

/// The core's `DataKeyWrapper` on the Keychain: a random 256-bit AES key per alias, stored as a
/// generic password item (`kSecAttrAccessibleWhenUnlockedThisDeviceOnly`, never synchronised to
/// iCloud Keychain, never restored onto another device), wraps the core's data key with
/// AES-256-GCM (CryptoKit). The alias is the associated data.
///
/// Wrapped blob = CryptoKit's combined representation: nonce (12) || ciphertext || tag (16) —
/// the same layout as the Kotlin `AndroidKeystoreDataKeyWrapper`.
///
/// A restore onto another phone brings the database but not this key (ThisDeviceOnly), so the
/// core reports `DataKeyLost` (`storage.data_key_lost`) and the citizen enrolls again — by
/// design. A *locked* device (`errSecInteractionNotAllowed`: the item is
/// `WhenUnlockedThisDeviceOnly`, e.g. a background launch before the first unlock) is
/// `TemporarilyUnavailable`: the core reports `DataKeyLocked` (`storage.data_key_locked`), the
/// app retries once the device is unlocked and never offers to erase.
public final class KeychainDataKeyWrapper: DataKeyWrapper {
    private let service: String

    public init(service: String = KeystoreSupport.dataKeyService) {
        self.service = service
    }

    public func wrap(keyAlias: String, dataKey: Data) throws -> Data {
        let key = try loadKey(alias: keyAlias) ?? createKey(alias: keyAlias)
        do {
            let box = try AES.GCM.seal(dataKey, using: key, authenticating: Data(keyAlias.utf8))
            guard let combined = box.combined else {
                throw KeyWrapError.Failure(reason: "AES-GCM produced no combined representation")
            }
            return combined
        } catch let error as KeyWrapError {
            throw error
        } catch {
            throw KeyWrapError.Failure(reason: "AES-GCM seal failed: \(error)")
        }
    }

    public func unwrap(keyAlias: String, wrapped: Data) throws -> Data {
        guard let key = try loadKey(alias: keyAlias) else {
            throw KeyWrapError.KeyUnavailable(reason: "no wrapping key \(keyAlias) in the Keychain")
        }
        do {
            let box = try AES.GCM.SealedBox(combined: wrapped)
            return try AES.GCM.open(box, using: key, authenticating: Data(keyAlias.utf8))
        } catch {
            throw KeyWrapError.UnwrapFailed(reason: "AES-GCM open failed: \(error)")
        }
    }

    /// Delete the wrapping key (the core's data, wrapped under it, is then unreadable). The core
    /// calls this from `eraseLocalData(dataDir:keyWrapper:)`; a missing key is not an error.
    public func deleteKey(keyAlias: String) throws {
        let status = SecItemDelete(baseQuery(alias: keyAlias) as CFDictionary)
        guard status == errSecSuccess || status == errSecItemNotFound else {
            throw KeyWrapError.Failure(reason: "SecItemDelete: OSStatus \(status)")
        }
    }

    // MARK: Keychain

    private func baseQuery(alias: String) -> [String: Any] {
        [
            kSecClass as String: kSecClassGenericPassword,
            kSecAttrService as String: service,
            kSecAttrAccount as String: alias,
            kSecAttrSynchronizable as String: false,
        ]
    }

    private func loadKey(alias: String) throws -> SymmetricKey? {
        var query = baseQuery(alias: alias)
        query[kSecMatchLimit as String] = kSecMatchLimitOne
        query[kSecReturnData as String] = true
        var item: CFTypeRef?
        let status = SecItemCopyMatching(query as CFDictionary, &item)
        switch status {
        case errSecSuccess:
            guard let bytes = item as? Data, bytes.count == 32 else {
                throw KeyWrapError.KeyUnavailable(reason: "the wrapping key \(alias) is malformed")
            }
            return SymmetricKey(data: bytes)
        case errSecItemNotFound:
            return nil
        default:
            throw KeystoreSupport.keyWrapError(status: status, operation: "SecItemCopyMatching")
        }
    }

    private func createKey(alias: String) throws -> SymmetricKey {
        let key = SymmetricKey(size: .bits256)
        var item = baseQuery(alias: alias)
        item[kSecAttrAccessible as String] = kSecAttrAccessibleWhenUnlockedThisDeviceOnly
        item[kSecValueData as String] = key.withUnsafeBytes { Data($0) }
        let status = SecItemAdd(item as CFDictionary, nil)
        switch status {
        case errSecSuccess:
            return key
        case errSecDuplicateItem:
            // Another thread created it first: use that one.
            guard let existing = try loadKey(alias: alias) else {
                throw KeyWrapError.Failure(reason: "wrapping key \(alias) vanished")
            }
            return existing
        default:
            throw KeyWrapError.Failure(reason: "SecItemAdd: OSStatus \(status)")
        }
    }
}
