//! The registry of relying parties on the device: fetched from `GET /v1/relying-parties` as a
//! JWS signed by the server's token key (the key set of `GET /v1/keys`, the same keys that sign
//! submission receipts), verified, cached, and used offline to check login codes and share
//! requests.
//!
//! Rules: the issuer must be our server, the document unexpired by the core's clock, and its
//! version never lower than the cached one (an old document replayed by a network attacker
//! cannot bring back a removed relying party). The cache is refreshed when it is older than
//! [`REGISTRY_MAX_AGE_SECS`], and once more when an RP id is unknown or a code fails the registry
//! checks — but only if the cached copy is at least [`REGISTRY_RECHECK_AFTER_SECS`] old. That age
//! floor is what keeps a stream of hostile codes (random, well-formed, unregistered `rp_id`s)
//! from becoming a stream of fetches: at most one per floor period, however many codes.

use crate::account::Account;
use crate::error::{Error, Msg, Result};
use crate::protocol::rp::{RegistryClaims, RegistryResponse, RelyingPartyEntry, PATH_REGISTRY, REGISTRY_MAX_AGE_SECS};

/// A cached registry at least this old (seconds) is fetched again once when a code names an
/// unknown relying party or fails the registry checks (newly registered party, key rotation,
/// newly registered origin). Younger copies are trusted as they are.
pub const REGISTRY_RECHECK_AFTER_SECS: i64 = 300;

/// Check the claims of a verified registry document (pure).
pub fn check_claims(c: &RegistryClaims, issuer: &str, now: i64, cached_version: Option<u64>) -> Result<()> {
    if c.iss != issuer || c.exp <= now {
        return Err(Error::Domain(Msg::ConsentRegistryInvalid));
    }
    if cached_version.is_some_and(|v| c.version < v) {
        return Err(Error::Domain(Msg::ConsentRegistryInvalid));
    }
    Ok(())
}

impl Account {
    /// Fetch, verify and cache the registry.
    pub(crate) async fn refresh_registry(&self) -> Result<RegistryClaims> {
        self.registry_fetches.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let r: RegistryResponse = self.net.get(PATH_REGISTRY, None).await?;
        let claims: RegistryClaims =
            self.decode_server_jws(&r.registry).await.ok_or(Error::Domain(Msg::ConsentRegistryInvalid))?;
        let cached = self.store.registry()?.map(|r| r.version);
        check_claims(&claims, self.net.audience(), self.now(), cached)?;
        self.store.save_registry(&r.registry, claims.version, self.now())?;
        Ok(claims)
    }

    /// The cached registry if it still verifies with the cached server keys and is fresh.
    fn cached_registry(&self) -> Result<Option<RegistryClaims>> {
        let Some(crate::store::rows::RegistryRow { jws, version, fetched_at }) = self.store.registry()? else {
            return Ok(None);
        };
        let now = self.now();
        if now - fetched_at > REGISTRY_MAX_AGE_SECS {
            return Ok(None);
        }
        let key = super::jws_kid(&jws).and_then(|kid| self.server_jwk(&kid));
        let claims: Option<RegistryClaims> = key.and_then(|k| super::decode_es256(&jws, &k));
        Ok(claims.filter(|c| c.version == version && check_claims(c, self.net.audience(), now, None).is_ok()))
    }

    /// Whether the cached registry is old enough ([`REGISTRY_RECHECK_AFTER_SECS`]) to be fetched
    /// again because of a code it cannot vouch for.
    pub(crate) fn registry_old_enough_for_recheck(&self) -> Result<bool> {
        Ok(self.store.registry()?.is_some_and(|r| self.now() - r.fetched_at >= REGISTRY_RECHECK_AFTER_SECS))
    }

    /// A registered relying party, refreshing the registry once when the id is unknown (a newly
    /// registered party) and the cached copy is past the recheck floor; `consent.rp_unknown` if
    /// it is still not there.
    pub(crate) async fn relying_party(&self, id: &str) -> Result<RelyingPartyEntry> {
        let find = |c: RegistryClaims| c.relying_parties.into_iter().find(|r| r.id == id);
        let cached = self.cached_registry()?;
        let fetched_now = cached.is_none();
        let reg = match cached {
            Some(c) => c,
            None => self.refresh_registry().await?,
        };
        if let Some(rp) = find(reg) {
            return Ok(rp);
        }
        if !fetched_now && self.registry_old_enough_for_recheck()? {
            if let Some(rp) = find(self.refresh_registry().await?) {
                return Ok(rp);
            }
        }
        Err(Error::Domain(Msg::ConsentRpUnknown))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(version: u64, exp: i64) -> RegistryClaims {
        RegistryClaims { iss: "https://id.example".into(), iat: 0, exp, version, relying_parties: vec![] }
    }

    #[test]
    fn issuer_expiry_and_version_are_checked() {
        let ok = |c: &RegistryClaims, v| check_claims(c, "https://id.example", 100, v).is_ok();
        assert!(ok(&claims(3, 101), Some(3)));
        assert!(ok(&claims(4, 101), Some(3)));
        assert!(!ok(&claims(2, 101), Some(3)), "older version refused");
        assert!(!ok(&claims(3, 100), None), "expired refused");
        let mut other = claims(3, 101);
        other.iss = "https://evil.example".into();
        assert!(!ok(&other, None), "other issuer refused");
        assert!(matches!(
            check_claims(&claims(1, 1), "https://id.example", 100, None),
            Err(Error::Domain(Msg::ConsentRegistryInvalid))
        ));
    }
}
