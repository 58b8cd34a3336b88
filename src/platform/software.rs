//! Rust implementations of the platform traits, for the desktop/kiosk shell and for tests.
//!
//! * [`SoftwareKeyStore`] and [`SoftwareKeyWrapper`]: private keys and the wrapped data key are
//!   sealed on disk with AES-256-GCM under a key derived with Argon2id from a local secret.
//!   They report themselves as **not** hardware-backed: a copy of the key directory plus the
//!   local secret is a copy of the keys. On a kiosk the local secret should come from the OS
//!   (TPM, keyring); [`load_or_create_local_secret`] keeps it in a 0600 file as the fallback.
//! * `MemoryKeyStore` and `MemoryKeyWrapper`: in-memory, for tests; they can simulate key
//!   invalidation and DER or raw signatures. Test doubles are not shipped: they exist only with
//!   the `test-support` feature (the crate's own tests, benches and examples enable it through a
//!   dev-dependency on itself; `cargo build -p citizen-core --lib` has no `MemoryKeyStore`).

#[cfg(any(test, feature = "test-support"))]
use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
#[cfg(any(test, feature = "test-support"))]
use std::sync::Mutex;

use argon2::{Algorithm, Argon2, Params, Version};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use zeroize::Zeroizing;

use super::{
    DataKeyWrapper, DeviceKeyStore, DeviceKeyStoreError, DeviceSignature, KeyOptions, KeyWrapError, SignRequest,
    SignatureFormat,
};
use crate::crypto::{random_array, sec1_uncompressed, SecretKey};

/// Argon2id parameters (OWASP's minimum: 19 MiB, 2 passes, 1 lane).
const ARGON2_M_KIB: u32 = 19 * 1024;
const ARGON2_T: u32 = 2;
const ARGON2_P: u32 = 1;

fn io_fail(what: &str, e: std::io::Error) -> DeviceKeyStoreError {
    DeviceKeyStoreError::Failure { reason: format!("{what}: {}", e.kind()) }
}

/// Write a file atomically: temp file, fsync, rename, fsync the directory.
fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = open_private(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

fn open_private(path: &Path) -> std::io::Result<fs::File> {
    let mut o = fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
}

/// Read the desktop local secret from `path`, creating 32 random bytes (mode 0600) on first use.
pub fn load_or_create_local_secret(path: &Path) -> std::io::Result<Zeroizing<Vec<u8>>> {
    match fs::read(path) {
        Ok(b) if b.len() == 32 => Ok(Zeroizing::new(b)),
        Ok(_) => Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "local secret has the wrong length")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent() {
                fs::create_dir_all(dir)?;
            }
            let secret: [u8; 32] = random_array();
            write_atomic(path, &secret)?;
            Ok(Zeroizing::new(secret.to_vec()))
        }
        Err(e) => Err(e),
    }
}

/// Derive the master sealing key from the local secret with Argon2id, salt kept in `dir`.
fn derive_master(dir: &Path, local_secret: &[u8]) -> std::io::Result<SecretKey> {
    fs::create_dir_all(dir)?;
    let salt_path = dir.join("software-keys.salt");
    let salt = match fs::read(&salt_path) {
        Ok(s) if s.len() == 16 => s,
        Ok(_) => return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "bad salt")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let s: [u8; 16] = random_array();
            write_atomic(&salt_path, &s)?;
            s.to_vec()
        }
        Err(e) => return Err(e),
    };
    let params = Params::new(ARGON2_M_KIB, ARGON2_T, ARGON2_P, Some(32)).expect("valid Argon2 parameters");
    let mut out = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(local_secret, &salt, out.as_mut())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "argon2"))?;
    Ok(SecretKey::from_slice(out.as_ref()).expect("32 bytes"))
}

/// Open both software platform pieces from one local secret (one Argon2id run).
pub fn open_software_platform(
    dir: &Path,
    local_secret: &[u8],
) -> std::io::Result<(SoftwareKeyStore, SoftwareKeyWrapper)> {
    let master = derive_master(dir, local_secret)?;
    Ok((
        SoftwareKeyStore { dir: dir.to_path_buf(), seal: master.derive("software-key-store") },
        SoftwareKeyWrapper { seal: master.derive("software-data-key-wrapper") },
    ))
}

/// Private keys sealed on disk under an Argon2id-derived key. Not hardware-backed.
pub struct SoftwareKeyStore {
    dir: PathBuf,
    seal: SecretKey,
}

impl SoftwareKeyStore {
    fn path(&self, alias: &str) -> PathBuf {
        self.dir.join(format!("{}.p256", &crate::protocol::sha256_hex(alias.as_bytes())[..32]))
    }
    fn aad(alias: &str) -> Vec<u8> {
        format!("citizen-core/software-key/v1|{alias}").into_bytes()
    }
    fn load(&self, alias: &str) -> Result<SigningKey, DeviceKeyStoreError> {
        let sealed = match fs::read(self.path(alias)) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(DeviceKeyStoreError::KeyNotFound { reason: "no such alias".into() })
            }
            Err(e) => return Err(io_fail("read key", e)),
        };
        let scalar = self
            .seal
            .open(&Self::aad(alias), &sealed)
            .ok_or(DeviceKeyStoreError::KeyInvalidated { reason: "sealed key does not open".into() })?;
        SigningKey::from_slice(&scalar).map_err(|_| DeviceKeyStoreError::Failure { reason: "bad key".into() })
    }
}

#[async_trait::async_trait]
impl DeviceKeyStore for SoftwareKeyStore {
    async fn create_key(&self, alias: String, _options: KeyOptions) -> Result<Vec<u8>, DeviceKeyStoreError> {
        let sk = SigningKey::random(&mut rand_core::OsRng);
        let scalar: Zeroizing<[u8; 32]> = Zeroizing::new(sk.to_bytes().into());
        let sealed = self.seal.seal(&Self::aad(&alias), &scalar[..]);
        write_atomic(&self.path(&alias), &sealed).map_err(|e| io_fail("write key", e))?;
        Ok(sec1_uncompressed(&VerifyingKey::from(&sk)))
    }
    async fn sign(
        &self,
        alias: String,
        message: Vec<u8>,
        _request: SignRequest,
    ) -> Result<DeviceSignature, DeviceKeyStoreError> {
        // No user verification on a desktop: the CLI asks for the passcode instead.
        let sk = self.load(&alias)?;
        let sig: Signature = sk.sign(&message);
        // DER, like Android Keystore and the Secure Enclave.
        Ok(DeviceSignature { bytes: sig.to_der().as_bytes().to_vec(), format: SignatureFormat::Der })
    }
    fn public_key(&self, alias: String) -> Result<Vec<u8>, DeviceKeyStoreError> {
        Ok(sec1_uncompressed(&VerifyingKey::from(&self.load(&alias)?)))
    }
    fn delete_key(&self, alias: String) -> Result<(), DeviceKeyStoreError> {
        match fs::remove_file(self.path(&alias)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_fail("delete key", e)),
        }
    }
    fn is_hardware_backed(&self, _alias: String) -> Result<bool, DeviceKeyStoreError> {
        Ok(false)
    }
    fn attestation_chain(&self, _alias: String) -> Result<Vec<Vec<u8>>, DeviceKeyStoreError> {
        Ok(vec![])
    }
}

/// Wraps the data key under an Argon2id-derived key. Not hardware-backed.
pub struct SoftwareKeyWrapper {
    seal: SecretKey,
}

impl DataKeyWrapper for SoftwareKeyWrapper {
    fn wrap(&self, key_alias: String, data_key: Vec<u8>) -> Result<Vec<u8>, KeyWrapError> {
        let data_key = Zeroizing::new(data_key);
        Ok(self.seal.seal(key_alias.as_bytes(), &data_key))
    }
    fn unwrap(&self, key_alias: String, wrapped: Vec<u8>) -> Result<Vec<u8>, KeyWrapError> {
        self.seal
            .open(key_alias.as_bytes(), &wrapped)
            .map(|k| k.to_vec())
            .ok_or(KeyWrapError::UnwrapFailed { reason: "wrapped key does not open".into() })
    }
    /// Nothing to delete: the sealing key is derived from the local secret, which lives in the
    /// data directory and goes with it.
    fn delete_key(&self, _key_alias: String) -> Result<(), KeyWrapError> {
        Ok(())
    }
}

/// In-memory key store for tests (feature `test-support`). Keys vanish with the value.
///
/// It behaves like a phone's key store for what the tests count: a signature with a key created
/// with `require_user_authentication` is one **prompt** ([`MemoryKeyStore::prompt_count`]), a
/// signature with a key created without it is silent. It also records every [`SignRequest`] and
/// can be told to fail signatures with one alias (a busy or locked key store).
#[cfg(any(test, feature = "test-support"))]
#[derive(Default)]
pub struct MemoryKeyStore {
    keys: Mutex<HashMap<String, SigningKey>>,
    /// Aliases whose key requires user authentication (each signature prompts).
    user_auth: Mutex<Vec<String>>,
    invalidated: Mutex<Vec<String>>,
    /// Aliases whose signatures fail with `Unavailable` (simulated busy hardware).
    failing: Mutex<Vec<String>>,
    requests: Mutex<Vec<(String, SignRequest)>>,
    raw: std::sync::atomic::AtomicBool,
    signatures: std::sync::atomic::AtomicUsize,
    prompts: std::sync::atomic::AtomicUsize,
}

#[cfg(any(test, feature = "test-support"))]
fn locked<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(any(test, feature = "test-support"))]
impl MemoryKeyStore {
    /// An empty store that returns DER signatures.
    pub fn new() -> Self {
        Self::default()
    }
    /// Return raw `r||s` signatures instead of DER.
    pub fn use_raw_signatures(&self, raw: bool) {
        self.raw.store(raw, std::sync::atomic::Ordering::SeqCst);
    }
    /// Simulate the platform invalidating a key (biometrics changed).
    pub fn invalidate(&self, alias: &str) {
        self.invalidated.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(alias.to_string());
    }
    /// Number of user prompts shown: signatures made with a key that requires user
    /// authentication (a biometric prompt on a phone).
    pub fn prompt_count(&self) -> usize {
        self.prompts.load(std::sync::atomic::Ordering::SeqCst)
    }
    /// Every signature request so far, with its alias, in order.
    pub fn sign_requests(&self) -> Vec<(String, SignRequest)> {
        locked(&self.requests).clone()
    }
    /// Make signatures with `alias` fail with `Unavailable` (`true`) or work again (`false`).
    pub fn fail_signing(&self, alias: &str, fail: bool) {
        let mut f = locked(&self.failing);
        f.retain(|a| a != alias);
        if fail {
            f.push(alias.to_string());
        }
    }
    /// The aliases held.
    pub fn aliases(&self) -> Vec<String> {
        let mut a: Vec<String> = locked(&self.keys).keys().cloned().collect();
        a.sort();
        a
    }
    /// Number of signatures made.
    pub fn signature_count(&self) -> usize {
        self.signatures.load(std::sync::atomic::Ordering::SeqCst)
    }
    /// Number of keys held.
    pub fn key_count(&self) -> usize {
        self.keys.lock().unwrap_or_else(std::sync::PoisonError::into_inner).len()
    }
    fn key(&self, alias: &str) -> Result<SigningKey, DeviceKeyStoreError> {
        if self.invalidated.lock().unwrap_or_else(std::sync::PoisonError::into_inner).iter().any(|a| a == alias) {
            return Err(DeviceKeyStoreError::KeyInvalidated { reason: "simulated".into() });
        }
        self.keys
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(alias)
            .cloned()
            .ok_or(DeviceKeyStoreError::KeyNotFound { reason: "no such alias".into() })
    }
}

#[cfg(any(test, feature = "test-support"))]
#[async_trait::async_trait]
impl DeviceKeyStore for MemoryKeyStore {
    async fn create_key(&self, alias: String, options: KeyOptions) -> Result<Vec<u8>, DeviceKeyStoreError> {
        let sk = SigningKey::random(&mut rand_core::OsRng);
        let pk = sec1_uncompressed(&VerifyingKey::from(&sk));
        locked(&self.invalidated).retain(|a| a != &alias);
        let mut ua = locked(&self.user_auth);
        ua.retain(|a| a != &alias);
        if options.require_user_authentication {
            ua.push(alias.clone());
        }
        locked(&self.keys).insert(alias, sk);
        Ok(pk)
    }
    async fn sign(
        &self,
        alias: String,
        message: Vec<u8>,
        request: SignRequest,
    ) -> Result<DeviceSignature, DeviceKeyStoreError> {
        locked(&self.requests).push((alias.clone(), request));
        let key = self.key(&alias)?;
        if locked(&self.user_auth).contains(&alias) {
            self.prompts.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        if locked(&self.failing).contains(&alias) {
            return Err(DeviceKeyStoreError::Unavailable { reason: "simulated busy key store".into() });
        }
        let sig: Signature = key.sign(&message);
        self.signatures.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(if self.raw.load(std::sync::atomic::Ordering::SeqCst) {
            DeviceSignature { bytes: sig.to_bytes().to_vec(), format: SignatureFormat::Raw }
        } else {
            DeviceSignature { bytes: sig.to_der().as_bytes().to_vec(), format: SignatureFormat::Der }
        })
    }
    fn public_key(&self, alias: String) -> Result<Vec<u8>, DeviceKeyStoreError> {
        Ok(sec1_uncompressed(&VerifyingKey::from(&self.key(&alias)?)))
    }
    fn delete_key(&self, alias: String) -> Result<(), DeviceKeyStoreError> {
        locked(&self.keys).remove(&alias);
        locked(&self.user_auth).retain(|a| a != &alias);
        Ok(())
    }
    fn is_hardware_backed(&self, _alias: String) -> Result<bool, DeviceKeyStoreError> {
        Ok(false)
    }
    fn attestation_chain(&self, _alias: String) -> Result<Vec<Vec<u8>>, DeviceKeyStoreError> {
        Ok(vec![])
    }
}

/// In-memory data-key wrapper for tests (feature `test-support`; AES-256-GCM under a random key).
/// It can simulate a locked device ([`MemoryKeyWrapper::set_locked`]): unwrapping then fails
/// with `TemporarilyUnavailable`, as iOS does before first unlock.
#[cfg(any(test, feature = "test-support"))]
pub struct MemoryKeyWrapper {
    key: SecretKey,
    locked: std::sync::atomic::AtomicBool,
    /// Aliases deleted and not wrapped under since (their blobs no longer open).
    deleted: Mutex<std::collections::HashSet<String>>,
    /// Every `delete_key` call, in order.
    deleted_log: Mutex<Vec<String>>,
}

#[cfg(any(test, feature = "test-support"))]
impl Default for MemoryKeyWrapper {
    fn default() -> Self {
        MemoryKeyWrapper {
            key: SecretKey::generate(),
            locked: Default::default(),
            deleted: Default::default(),
            deleted_log: Default::default(),
        }
    }
}

#[cfg(any(test, feature = "test-support"))]
impl MemoryKeyWrapper {
    /// A wrapper with a fresh random key.
    pub fn new() -> Self {
        Self::default()
    }
    /// Simulate the device being locked (`true`) or unlocked again (`false`).
    pub fn set_locked(&self, locked: bool) {
        self.locked.store(locked, std::sync::atomic::Ordering::SeqCst);
    }
    /// The aliases `delete_key` was called with, in order (tests of `erase_local_data`).
    pub fn deleted_keys(&self) -> Vec<String> {
        self.deleted_log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
    fn check_unlocked(&self) -> Result<(), KeyWrapError> {
        if self.locked.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(KeyWrapError::TemporarilyUnavailable { reason: "simulated locked device".into() });
        }
        Ok(())
    }
}

#[cfg(any(test, feature = "test-support"))]
impl DataKeyWrapper for MemoryKeyWrapper {
    fn wrap(&self, key_alias: String, data_key: Vec<u8>) -> Result<Vec<u8>, KeyWrapError> {
        self.check_unlocked()?;
        self.deleted.lock().unwrap_or_else(|p| p.into_inner()).remove(&key_alias);
        let data_key = Zeroizing::new(data_key);
        Ok(self.key.seal(key_alias.as_bytes(), &data_key))
    }
    fn unwrap(&self, key_alias: String, wrapped: Vec<u8>) -> Result<Vec<u8>, KeyWrapError> {
        self.check_unlocked()?;
        if self.deleted.lock().unwrap_or_else(|p| p.into_inner()).contains(&key_alias) {
            return Err(KeyWrapError::KeyUnavailable { reason: "wrapping key deleted".into() });
        }
        self.key
            .open(key_alias.as_bytes(), &wrapped)
            .map(|k| k.to_vec())
            .ok_or(KeyWrapError::UnwrapFailed { reason: "wrapped key does not open".into() })
    }
    fn delete_key(&self, key_alias: String) -> Result<(), KeyWrapError> {
        self.deleted_log.lock().unwrap_or_else(|p| p.into_inner()).push(key_alias.clone());
        self.deleted.lock().unwrap_or_else(|p| p.into_inner()).insert(key_alias);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::verify_device_signature;
    use crate::platform::SignPurpose;

    fn req(purpose: SignPurpose, user_initiated: bool) -> SignRequest {
        SignRequest { purpose, user_initiated }
    }

    fn block<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
    }

    fn opts() -> KeyOptions {
        KeyOptions { require_user_authentication: false, prefer_strongbox: true, attestation_challenge: vec![] }
    }

    #[test]
    fn software_store_seals_keys_and_reopens_with_the_same_secret_only() {
        let dir = tempfile::tempdir().unwrap();
        let (ks, _) = open_software_platform(dir.path(), b"local secret").unwrap();
        let pk = block(ks.create_key("device".into(), opts())).unwrap();
        let sig = block(ks.sign("device".into(), b"msg".to_vec(), req(SignPurpose::Login, true))).unwrap();
        assert_eq!(sig.format, SignatureFormat::Der);
        verify_device_signature(&pk, b"msg", &sig).unwrap();
        assert!(!ks.is_hardware_backed("device".into()).unwrap());

        // The private scalar is not on disk in clear.
        let sk_files: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "p256"))
            .collect();
        assert_eq!(sk_files.len(), 1);

        let (again, _) = open_software_platform(dir.path(), b"local secret").unwrap();
        assert_eq!(again.public_key("device".into()).unwrap(), pk);
        let (wrong, _) = open_software_platform(dir.path(), b"other secret").unwrap();
        assert!(matches!(
            block(wrong.sign("device".into(), b"m".to_vec(), req(SignPurpose::Login, true))),
            Err(DeviceKeyStoreError::KeyInvalidated { .. })
        ));

        ks.delete_key("device".into()).unwrap();
        ks.delete_key("device".into()).unwrap();
        assert!(matches!(ks.public_key("device".into()), Err(DeviceKeyStoreError::KeyNotFound { .. })));
    }

    #[test]
    fn software_wrapper_round_trips_and_binds_alias() {
        let dir = tempfile::tempdir().unwrap();
        let (_, w) = open_software_platform(dir.path(), b"s").unwrap();
        let blob = w.wrap("data".into(), vec![9; 32]).unwrap();
        assert_eq!(w.unwrap("data".into(), blob.clone()).unwrap(), vec![9; 32]);
        assert!(w.unwrap("other".into(), blob).is_err());
    }

    #[test]
    fn local_secret_is_created_once_with_private_mode() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/device.secret");
        let a = load_or_create_local_secret(&p).unwrap();
        let b = load_or_create_local_secret(&p).unwrap();
        assert_eq!(*a, *b);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }

    #[test]
    fn memory_store_simulates_invalidation() {
        let ks = MemoryKeyStore::new();
        block(ks.create_key("a".into(), opts())).unwrap();
        ks.invalidate("a");
        assert!(matches!(
            block(ks.sign("a".into(), vec![], req(SignPurpose::Login, true))),
            Err(DeviceKeyStoreError::KeyInvalidated { .. })
        ));
    }

    /// A signature with a key that requires user authentication is one prompt; a key created
    /// without it signs silently. Every request is recorded with its purpose.
    #[test]
    fn memory_store_counts_prompts_per_user_authenticated_signature() {
        let ks = MemoryKeyStore::new();
        let auth = KeyOptions { require_user_authentication: true, ..opts() };
        block(ks.create_key("main".into(), auth)).unwrap();
        block(ks.create_key("main.bookkeeping".into(), opts())).unwrap();
        block(ks.sign("main".into(), b"a".to_vec(), req(SignPurpose::Submit, true))).unwrap();
        assert_eq!(ks.prompt_count(), 1);
        block(ks.sign("main.bookkeeping".into(), b"b".to_vec(), req(SignPurpose::ActivityEntry, false))).unwrap();
        block(ks.sign("main.bookkeeping".into(), b"c".to_vec(), req(SignPurpose::ActivityAnchor, false))).unwrap();
        assert_eq!(ks.prompt_count(), 1);
        block(ks.sign("main".into(), b"d".to_vec(), req(SignPurpose::Login, true))).unwrap();
        assert_eq!(ks.prompt_count(), 2);
        assert_eq!(ks.signature_count(), 4);
        let purposes: Vec<SignPurpose> = ks.sign_requests().into_iter().map(|(_, r)| r.purpose).collect();
        assert_eq!(
            purposes,
            [SignPurpose::Submit, SignPurpose::ActivityEntry, SignPurpose::ActivityAnchor, SignPurpose::Login]
        );
        // A simulated busy key store fails the signature (and still counts the prompt it showed).
        ks.fail_signing("main.bookkeeping", true);
        assert!(matches!(
            block(ks.sign("main.bookkeeping".into(), vec![], req(SignPurpose::ActivityEntry, false))),
            Err(DeviceKeyStoreError::Unavailable { .. })
        ));
        ks.fail_signing("main.bookkeeping", false);
        block(ks.sign("main.bookkeeping".into(), vec![], req(SignPurpose::ActivityEntry, false))).unwrap();
    }
}
