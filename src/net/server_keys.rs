//! The server's token keys (`GET /v1/keys`, a JWKS): the keys that sign submission receipts,
//! activity anchors, receipt countersignatures, the relying-party registry and the PID
//! credential. The device keeps them in memory and in the store, so that all of these verify
//! offline and after a restart.
//!
//! Refetch rules (one place, so every verifier follows the same ones):
//! * A key is looked up by `kid` in the cache — memory, else the stored copy. The server is asked
//!   only when the `kid` is not cached (the server rotated its key), or when the caller says a
//!   cached key did not verify (`refetch`: rotation under the same id, or a bad answer cached
//!   earlier); callers refetch at most once per check, so a hostile server cannot make the
//!   device loop.
//! * A fetched set replaces the cache entirely, in memory and in the store (saving is best
//!   effort: a failure is logged and the set still serves from memory). Entries that are not
//!   usable JWKs are dropped.
//! * A `kid` the freshly fetched set does not have either is a bad receipt, not a network error.

use std::sync::Mutex;

use jsonwebtoken::jwk::Jwk;
use rusqlite::{params, OptionalExtension};

use crate::account::Account;
use crate::error::{Error, Result};
use crate::protocol::services::{KeysResponse, PATH_KEYS};
use crate::store::Store;

/// The in-memory copy of the server's key set (empty until first needed).
#[derive(Default)]
pub(crate) struct ServerKeyCache {
    keys: Mutex<Vec<Jwk>>,
}

impl ServerKeyCache {
    /// The cached keys; when memory is empty, the ones `stored` gives (kept in memory if any).
    fn get_or_load(&self, stored: impl FnOnce() -> Vec<serde_json::Value>) -> Vec<Jwk> {
        let mut mem = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        if mem.is_empty() {
            *mem = usable(stored());
        }
        mem.clone()
    }

    /// Replace the whole set (after a fetch).
    fn replace(&self, keys: Vec<Jwk>) {
        *self.keys.lock().unwrap_or_else(|p| p.into_inner()) = keys;
    }
}

/// The entries of a JWKS that parse as JWKs.
fn usable(values: Vec<serde_json::Value>) -> Vec<Jwk> {
    values.into_iter().filter_map(|v| serde_json::from_value(v).ok()).collect()
}

/// The key with this id.
fn by_kid(keys: &[Jwk], kid: &str) -> Option<Jwk> {
    keys.iter().find(|k| k.common.key_id.as_deref() == Some(kid)).cloned()
}

impl Store {
    /// Keep the server's public keys (JWKS entries as fetched), so receipts and anchors verify
    /// offline.
    pub(crate) fn save_server_keys(&self, keys: &[serde_json::Value]) -> Result<()> {
        let json = serde_json::to_vec(keys).map_err(|e| Error::Storage(e.to_string()))?;
        self.conn().execute("INSERT OR REPLACE INTO meta (name, value) VALUES ('server_keys', ?1)", params![json])?;
        Ok(())
    }

    /// The stored server keys (empty when none, or when the stored copy does not parse).
    pub(crate) fn server_keys(&self) -> Result<Vec<serde_json::Value>> {
        let v: Option<Vec<u8>> =
            self.conn().query_row("SELECT value FROM meta WHERE name = 'server_keys'", [], |r| r.get(0)).optional()?;
        Ok(v.and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default())
    }
}

impl Account {
    /// The server key `kid`: from the cache unless `refetch`, else from `/v1/keys`.
    pub(crate) async fn server_key(&self, kid: &str, refetch: bool) -> Result<Jwk> {
        if !refetch {
            if let Some(k) = by_kid(&self.cached_server_keys(), kid) {
                return Ok(k);
            }
        }
        let r: KeysResponse = self.net.get(PATH_KEYS, None).await?;
        if let Err(e) = self.store.save_server_keys(&r.keys) {
            tracing::warn!(error = %e, "could not keep the server keys");
        }
        let keys = usable(r.keys);
        let found = by_kid(&keys, kid);
        self.services.server_keys.replace(keys);
        found.ok_or_else(|| Error::BadReceipt("receipt signed by an unknown key".into()))
    }

    /// Fetch the key set again (after an unknown or non-verifying key id).
    pub(crate) async fn server_key_refresh(&self, kid: &str) -> Result<Jwk> {
        self.server_key(kid, true).await
    }

    /// The server keys known (memory, else the store).
    pub(crate) fn cached_server_keys(&self) -> Vec<Jwk> {
        self.services.server_keys.get_or_load(|| self.store.server_keys().unwrap_or_default())
    }

    /// The cached server key with this id, if any.
    pub(crate) fn server_jwk(&self, kid: &str) -> Option<Jwk> {
        by_kid(&self.cached_server_keys(), kid)
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use serde_json::{json, Value};

    use super::*;

    fn jwk(kid: &str) -> Value {
        // A P-256 public key (the generator point): any valid coordinates will do for the cache.
        json!({
            "kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256", "use": "sig",
            "x": "axfR8uEsQkf4vOblY6RA8ncDfYEt6zOg9KE5RdiYwpY",
            "y": "T-NC4v4af5uO5-tKfA-eFivOM1drMV7Oy7ZAaDe_UfU",
        })
    }

    #[test]
    fn memory_first_then_the_stored_copy() {
        let cache = ServerKeyCache::default();
        let loads = Cell::new(0);
        let stored = || {
            loads.set(loads.get() + 1);
            vec![jwk("k1")]
        };
        assert_eq!(cache.get_or_load(stored).len(), 1, "empty memory: the stored copy");
        assert_eq!(cache.get_or_load(stored).len(), 1);
        assert_eq!(loads.get(), 1, "then memory, without reading the store again");
        assert!(by_kid(&cache.get_or_load(stored), "k1").is_some());
        assert!(by_kid(&cache.get_or_load(stored), "k2").is_none(), "another kid is not cached");
    }

    #[test]
    fn nothing_stored_is_looked_up_again_next_time() {
        let cache = ServerKeyCache::default();
        let loads = Cell::new(0);
        let nothing = || {
            loads.set(loads.get() + 1);
            Vec::new()
        };
        assert!(cache.get_or_load(nothing).is_empty());
        assert!(cache.get_or_load(nothing).is_empty());
        assert_eq!(loads.get(), 2, "an empty cache is not a cached answer");
    }

    #[test]
    fn a_fetched_set_replaces_the_whole_cache() {
        let cache = ServerKeyCache::default();
        assert_eq!(cache.get_or_load(|| vec![jwk("old"), jwk("older")]).len(), 2);
        cache.replace(usable(vec![jwk("new")]));
        let keys = cache.get_or_load(|| panic!("memory is not empty: the store is not read"));
        assert!(by_kid(&keys, "new").is_some());
        assert!(by_kid(&keys, "old").is_none() && by_kid(&keys, "older").is_none(), "the old set is gone");
    }

    #[test]
    fn unusable_entries_are_dropped() {
        let keys = usable(vec![json!(1), json!("x"), json!({"kty": "nope"}), jwk("good")]);
        assert_eq!(keys.len(), 1);
        assert!(by_kid(&keys, "good").is_some());
    }
}
