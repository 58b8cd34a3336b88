//! The relying-party registry.
//!
//! A relying party (RP) is a portal or a company (bank, telco) that may ask citizens to log in or
//! to share identity data. Each has an id, Vietnamese and English names, the web origins and
//! redirect URIs it may use, a P-256 public key, the claims it may ask for and its purposes.
//!
//! The reference server *hosts* its demo RPs (the public-service portal and a bank), so it also
//! holds their private keys (`<data_dir>/rp-keys/<id>.pem`, 0600); a real deployment registers
//! only public keys ([`RegisteredRp::signing_key`] is `None`). Their origin is the server's own,
//! since the demo pages are served from it.
//!
//! Devices receive the registry as a JWS signed by the server's key
//! ([`citizen_protocol::protocol::rp::RegistryClaims`]) and check RPs offline against it.

use std::collections::BTreeMap;
use std::path::Path;

use citizen_protocol::protocol::rp::{RegistryClaims, RelyingPartyEntry};
use p256::ecdsa::{SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};

use crate::config::ServerError;
use crate::tokens::TokenKeys;

/// Id of the demo public-service portal (QR login).
pub const DEMO_PORTAL_ID: &str = "dvc-demo";
/// Id of the demo bank (eKYC data sharing).
pub const DEMO_BANK_ID: &str = "bank-demo";
/// Id of the demo RP that requires a level-2 account (decision 30).
pub const DEMO_LEVEL2_ID: &str = "securities-demo";
/// Path of the demo portal page (also its redirect target).
pub const DEMO_PORTAL_PATH: &str = "/portal";
/// Path prefix of the demo bank.
pub const DEMO_BANK_PATH: &str = "/rp/bank-demo";
/// How long a registry document is valid for devices.
pub const REGISTRY_TTL_SECS: i64 = 7 * 24 * 3600;

/// One RP as the server knows it.
pub struct RegisteredRp {
    /// What devices see.
    pub entry: RelyingPartyEntry,
    /// The verifying key.
    pub verifying_key: VerifyingKey,
    /// Private key of an RP this server hosts (demo RPs only).
    pub signing_key: Option<SigningKey>,
}

impl std::fmt::Debug for RegisteredRp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisteredRp").field("entry", &self.entry).finish_non_exhaustive()
    }
}

impl RegisteredRp {
    /// Whether `origin` is registered for this RP.
    pub fn has_origin(&self, origin: &str) -> bool {
        self.entry.origins.iter().any(|o| o == origin)
    }
    /// Whether `claim` may be asked for by this RP.
    pub fn may_ask(&self, claim: &str) -> bool {
        self.entry.claims.iter().any(|c| c == claim)
    }
    /// Whether `purpose` is registered for this RP.
    pub fn has_purpose(&self, purpose: &str) -> bool {
        self.entry.purposes.iter().any(|p| p == purpose)
    }
    /// Whether `uri` is an exact registered redirect URI.
    pub fn has_redirect(&self, uri: &str) -> bool {
        self.entry.redirect_uris.iter().any(|u| u == uri)
    }
}

/// All registered RPs (immutable after start).
#[derive(Debug)]
pub struct Registry {
    rps: BTreeMap<String, RegisteredRp>,
    version: u64,
}

fn load_or_create_key(path: &Path) -> Result<SigningKey, ServerError> {
    let err = |e: &dyn std::fmt::Display| ServerError::Pki(format!("relying-party key: {e}"));
    if path.exists() {
        let pem = std::fs::read_to_string(path)?;
        return SigningKey::from_pkcs8_pem(&pem).map_err(|e| err(&e));
    }
    let sk = SigningKey::from_slice(&citizen_protocol::crypto::random_array::<32>()).map_err(|e| err(&e))?;
    let pem = sk.to_pkcs8_pem(LineEnding::LF).map_err(|e| err(&e))?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    crate::pki::write_private(path, pem.as_bytes())?;
    Ok(sk)
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

impl Registry {
    /// The demo registry: the public-service portal and a bank, both served from `origin` (the
    /// server's own), keys under `<data_dir>/rp-keys/`.
    pub fn demo(data_dir: &Path, origin: &str) -> Result<Registry, ServerError> {
        let keys = data_dir.join("rp-keys");
        let mut reg = Registry { rps: BTreeMap::new(), version: 1 };
        let portal_key = load_or_create_key(&keys.join(format!("{DEMO_PORTAL_ID}.pem")))?;
        reg.insert(
            RelyingPartyEntry {
                id: DEMO_PORTAL_ID.into(),
                name_vi: "Cổng Dịch vụ công (bản thử nghiệm)".into(),
                name_en: "Public Service Portal (demo)".into(),
                origins: vec![origin.to_string()],
                redirect_uris: vec![format!("{origin}{DEMO_PORTAL_PATH}/callback")],
                public_key: String::new(),
                claims: strings(&["full_name", "birthdate", "cccd_number", "sex", "phone"]),
                purposes: strings(&["login"]),
                min_level: 1,
            },
            Some(portal_key),
        );
        let bank_key = load_or_create_key(&keys.join(format!("{DEMO_BANK_ID}.pem")))?;
        reg.insert(
            RelyingPartyEntry {
                id: DEMO_BANK_ID.into(),
                name_vi: "Ngân hàng TMCP Thử Nghiệm".into(),
                name_en: "Demo Commercial Bank".into(),
                origins: vec![origin.to_string()],
                redirect_uris: vec![format!("{origin}{DEMO_BANK_PATH}/callback")],
                public_key: String::new(),
                claims: strings(&[
                    "full_name",
                    "birthdate",
                    "sex",
                    "cccd_number",
                    "nationality",
                    "place_of_origin",
                    "permanent_address",
                    "phone",
                    "age_over_18",
                ]),
                purposes: strings(&["login", "account_opening"]),
                min_level: 1,
            },
            Some(bank_key),
        );
        // A demo RP that accepts only level-2 accounts (verified from the chip, decision 30):
        // a brokerage opening accounts remotely. No hosted pages; tests sign its requests.
        let l2_key = load_or_create_key(&keys.join(format!("{DEMO_LEVEL2_ID}.pem")))?;
        reg.insert(
            RelyingPartyEntry {
                id: DEMO_LEVEL2_ID.into(),
                name_vi: "Công ty Chứng khoán Thử Nghiệm (yêu cầu mức 2)".into(),
                name_en: "Demo Securities Company (level 2 required)".into(),
                origins: vec![origin.to_string()],
                redirect_uris: vec![],
                public_key: String::new(),
                claims: strings(&["full_name", "birthdate", "cccd_number"]),
                purposes: strings(&["login", "account_opening"]),
                min_level: citizen_protocol::protocol::chip::LEVEL_CHIP,
            },
            Some(l2_key),
        );
        Ok(reg)
    }

    /// Add or replace an RP. `entry.public_key` is filled from the key when a signing key is
    /// given.
    pub fn insert(&mut self, mut entry: RelyingPartyEntry, signing_key: Option<SigningKey>) {
        let verifying_key = match &signing_key {
            Some(sk) => {
                let vk = VerifyingKey::from(sk);
                entry.public_key = citizen_protocol::crypto::b64(&citizen_protocol::crypto::sec1_uncompressed(&vk));
                vk
            }
            None => {
                let bytes = citizen_protocol::crypto::unb64(&entry.public_key).expect("registered key is base64url");
                citizen_protocol::crypto::parse_public_key(&bytes).expect("registered key is a P-256 point")
            }
        };
        self.version += 1;
        self.rps.insert(entry.id.clone(), RegisteredRp { entry, verifying_key, signing_key });
    }

    /// Look an RP up.
    pub fn get(&self, id: &str) -> Option<&RegisteredRp> {
        self.rps.get(id)
    }

    /// Every RP, by id.
    pub fn all(&self) -> impl Iterator<Item = &RegisteredRp> {
        self.rps.values()
    }

    /// The registry document devices cache, signed by the server key.
    pub fn signed_document(&self, keys: &TokenKeys, issuer: &str, now: i64) -> String {
        keys.sign(&RegistryClaims {
            iss: issuer.to_string(),
            iat: now,
            exp: now + REGISTRY_TTL_SECS,
            version: self.version,
            relying_parties: self.rps.values().map(|r| r.entry.clone()).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_registry_keys_persist_and_entries_are_consistent() {
        let dir = tempfile::tempdir().unwrap();
        let a = Registry::demo(dir.path(), "https://127.0.0.1:1").unwrap();
        let b = Registry::demo(dir.path(), "https://127.0.0.1:1").unwrap();
        let (pa, pb) = (a.get(DEMO_PORTAL_ID).unwrap(), b.get(DEMO_PORTAL_ID).unwrap());
        assert_eq!(pa.entry.public_key, pb.entry.public_key, "keys survive a restart");
        assert_ne!(pa.entry.public_key, a.get(DEMO_BANK_ID).unwrap().entry.public_key);
        assert!(pa.has_origin("https://127.0.0.1:1") && !pa.has_origin("https://127.0.0.1:2"));
        for rp in a.all() {
            assert!(citizen_protocol::protocol::rp::valid_rp_id(&rp.entry.id));
            assert!(rp.entry.origins.iter().all(|o| citizen_protocol::protocol::rp::valid_origin(o)));
            assert!(rp.entry.claims.iter().all(|c| citizen_protocol::protocol::rp::claim_info(c).is_some()));
        }
        assert!(a.get("nobody").is_none());
    }
}
