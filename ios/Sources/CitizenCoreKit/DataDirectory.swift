import Foundation

/// The core's data directory (`CoreConfig.dataDir`): `Application Support/citizen-core`.
///
/// * `FileProtectionType.complete` on the directory and on every file in it (the database, its
///   WAL and shared-memory files, attachments): unreadable while the phone is locked. A new file
///   with no class of its own takes its directory's; the app's default-data-protection
///   entitlement (`NSFileProtectionComplete`, see `CitizenApp/project.yml`) is the second line,
///   and every launch re-applies the class to whatever is in the directory.
/// * `isExcludedFromBackup` on the directory: the database is useless without this phone's
///   Keychain key anyway (the data key is wrapped under a ThisDeviceOnly key), and personal data
///   should not sit in iCloud or computer backups.
///
/// Consequence of `.complete`: the core cannot read its database while the device is locked, so
/// outbox delivery happens when the app is in use (the core retries on the next launch/unlock).
public enum DataDirectory {
    public static let defaultName = "citizen-core"

    /// Create (or re-check) the directory and return its path for `CoreConfig.dataDir`.
    @discardableResult
    public static func prepare(name: String = defaultName, fileManager: FileManager = .default) throws -> String {
        try prepareURL(name: name, fileManager: fileManager).path
    }

    /// Same as `prepare`, as a URL.
    public static func prepareURL(name: String = defaultName, fileManager: FileManager = .default) throws -> URL {
        let support = try fileManager.url(
            for: .applicationSupportDirectory, in: .userDomainMask, appropriateFor: nil, create: true)
        var directory = support.appendingPathComponent(name, isDirectory: true)
        let protection: [FileAttributeKey: Any] = [.protectionKey: FileProtectionType.complete]
        try fileManager.createDirectory(at: directory, withIntermediateDirectories: true, attributes: protection)
        // Re-apply on every launch: to the directory (it may predate this code) and to its files.
        try fileManager.setAttributes(protection, ofItemAtPath: directory.path)
        if let contents = fileManager.enumerator(at: directory, includingPropertiesForKeys: nil) {
            for case let item as URL in contents {
                try fileManager.setAttributes(protection, ofItemAtPath: item.path)
            }
        }
        var values = URLResourceValues()
        values.isExcludedFromBackup = true
        try directory.setResourceValues(values)
        return directory
    }
}
