//! The registry of relying parties on the device: fetched from `GET /v1/relying-parties` as a
//! JWS signed by the server's token key (the key set of `GET /v1/keys`, the same keys that sign
//! submission receipts), verified, cached, and used offline to check login codes and share
//! requests.
//!
//! Rules: the issuer must be our server, the document unexpired by the core's clock, and its
//! version never lower than the cached one (an old document replayed by a network attacker
//! cannot bring back a removed relying party). The cache is refreshed when it is older than
//! [`REGISTRY_MAX_AGE_SECS`] or when an RP id is unknown (once).

use crate::account::Account;
use crate::error::{Error, Msg, Result};
use crate::protocol::rp::{RegistryClaims, RegistryResponse, RelyingPartyEntry, PATH_REGISTRY, REGISTRY_MAX_AGE_SECS};

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
    pub async fn refresh_registry(&self) -> Result<RegistryClaims> {
        let r: RegistryResponse = self.net.get(PATH_REGISTRY, None).await?;
        let claims: RegistryClaims =
            self.decode_server_jws(&r.registry).await.ok_or(Error::Domain(Msg::ConsentRegistryInvalid))?;
        let cached = self.store.registry()?.map(|(_, v, _)| v);
        check_claims(&claims, self.net.audience(), self.now(), cached)?;
        self.store.save_registry(&r.registry, claims.version, self.now())?;
        Ok(claims)
    }

    /// The cached registry if it still verifies with the cached server keys and is fresh.
    fn cached_registry(&self) -> Result<Option<RegistryClaims>> {
        let Some((jws, version, fetched_at)) = self.store.registry()? else { return Ok(None) };
        let now = self.now();
        if now - fetched_at > REGISTRY_MAX_AGE_SECS {
            return Ok(None);
        }
        let key = super::jws_kid(&jws).and_then(|kid| self.server_jwk(&kid));
        let claims: Option<RegistryClaims> = key.and_then(|k| super::decode_es256(&jws, &k));
        Ok(claims.filter(|c| c.version == version && check_claims(c, self.net.audience(), now, None).is_ok()))
    }

    /// A registered relying party, refreshing the registry once when the id is unknown (a newly
    /// registered party); `consent.rp_unknown` if it is still not there.
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
        if !fetched_now {
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
