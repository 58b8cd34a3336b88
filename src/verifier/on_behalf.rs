//! The verifier's check of a dependant's document presented by a guardian (issue 15 item 5,
//! ARCHITECTURE.md decision 52), offline with the cached server keys and trust list. In order:
//!
//! 1. the wire form (`{sd_jwt, mandate}`), else `documents.sd_jwt_invalid`;
//! 2. the mandate: a server key of the cached set, `typ` `citizen-mandate+jwt`, this server, not
//!    ended (`delegation.mandate_invalid`, `delegation.expired`);
//! 3. the document's issuer JWT: `typ` `dc+sd-jwt`, `x5c` chaining to an IACA of the trust
//!    list, a `vct` of the wallet's kinds (`documents.sd_jwt_invalid`);
//! 4. the holder: the document's `cnf.jwk` is the key the mandate names
//!    (`delegation.wrong_holder`: someone's own document, or another device's, with this
//!    mandate);
//! 5. the presentation: issuer signature, disclosures, KB-JWT under `cnf.jwk`, `aud` = this
//!    verifier (`consent.presentation_wrong_audience`), `nonce` = the one it asked with
//!    (`consent.presentation_replayed`), fresh, `sd_hash` (`documents.sd_jwt_invalid`);
//! 6. the scope: the kind is in the mandate's `document_types` (`delegation.out_of_scope`);
//! 7. the subject: the document's `sub` is the mandate's dependant (`delegation.not_dependant`).
//!
//! The engine then looks the document up in the cached status list (`mdoc.revoked`), and says
//! whether it could (a missing or stale list leaves it unchecked, as for an mdoc).
//!
//! A revocation of the mandate after the JWS was signed is not visible offline; the JWS lives at
//! most seven days (decision 49).

use citizen_mdoc::TrustAnchor;
use jsonwebtoken::jwk::Jwk;
use serde_json::{Map, Value};

use crate::error::{Error, Msg, Result};
use crate::protocol::delegation::{verify_mandate, MandateClaims, OnBehalfPresentation, Relation};
use crate::protocol::documents::DocumentKind;
use crate::sdjwt::{self, PresentationCheck, PresentationError};

/// Longest presentation accepted (the SD-JWT's own limit plus the mandate).
const MAX_ENVELOPE_LEN: usize = sdjwt::MAX_PRESENTATION_LEN + 8 * 1024;
/// Oldest acceptable KB-JWT, seconds.
pub(crate) const MAX_KB_AGE_SECS: i64 = 300;

/// A verified on-behalf presentation.
#[derive(Clone, Debug)]
pub(crate) struct OnBehalfVerdict {
    /// The verified mandate.
    pub mandate: MandateClaims,
    /// The document kind.
    pub kind: DocumentKind,
    /// Exactly the disclosed claims.
    pub claims: Map<String, Value>,
    /// The document's entry in a token status list (`idx`, `uri`), when it has one.
    pub status: Option<(u64, String)>,
}

impl OnBehalfVerdict {
    /// "Presented by guardian X for child Y", in Vietnamese and English.
    pub(crate) fn summary(&self) -> (String, String) {
        let m = &self.mandate;
        let (doc_vi, doc_en) = self.kind.names();
        match m.relation {
            Relation::Parent => (
                format!("{doc_vi} của con {} do cha/mẹ {} trình", m.dependant_name, m.guardian_name),
                format!("{doc_en} of child {} presented by parent {}", m.dependant_name, m.guardian_name),
            ),
            Relation::Guardian => (
                format!(
                    "{doc_vi} của người được giám hộ {} do người giám hộ {} trình",
                    m.dependant_name, m.guardian_name
                ),
                format!("{doc_en} of ward {} presented by guardian {}", m.dependant_name, m.guardian_name),
            ),
        }
    }
}

fn refuse(m: Msg, why: &str) -> Error {
    tracing::info!(code = m.code(), why, "on-behalf presentation refused");
    Error::Domain(m)
}

/// Check `presentation` (see the module documentation) at `now`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn check_on_behalf(
    presentation: &str,
    keys: &[Jwk],
    anchors: &[TrustAnchor],
    issuer: &str,
    audience: &str,
    nonce: &str,
    now: i64,
) -> Result<OnBehalfVerdict> {
    let malformed = |why| refuse(Msg::DocumentSdJwtInvalid, why);
    if presentation.len() > MAX_ENVELOPE_LEN {
        return Err(malformed("too long"));
    }
    let env: OnBehalfPresentation = serde_json::from_str(presentation.trim()).map_err(|_| malformed("wire form"))?;
    let mandate = verify_mandate(env.mandate.trim(), keys, issuer, now).map_err(|e| refuse(e.msg(), "mandate"))?;

    // The issuer JWT: its signer from the trust list, its kind.
    let jwt = env.sd_jwt.split('~').next().unwrap_or_default();
    let header = citizen_protocol::jwt::compact_header(jwt).ok_or_else(|| malformed("header"))?;
    if header.get("typ").and_then(Value::as_str) != Some(sdjwt::SD_JWT_TYP) {
        return Err(malformed("typ"));
    }
    use base64::Engine as _;
    let std = base64::engine::general_purpose::STANDARD;
    let x5c: Vec<Vec<u8>> = header
        .get("x5c")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("no x5c"))?
        .iter()
        .map(|c| c.as_str().and_then(|c| std.decode(c).ok()).ok_or_else(|| malformed("x5c encoding")))
        .collect::<Result<_>>()?;
    let signer = citizen_mdoc::verify_x5c(&x5c, anchors, now).map_err(|_| malformed("x5c chain"))?;
    let v = sdjwt::verify_es256_jws(jwt, &signer).ok_or_else(|| malformed("issuer signature"))?;
    let payload: Value = serde_json::from_slice(&v.payload).map_err(|_| malformed("payload"))?;
    let vct = payload.get("vct").and_then(Value::as_str).unwrap_or_default();
    let kind = DocumentKind::ALL.into_iter().find(|k| k.vct() == vct).ok_or_else(|| malformed("vct"))?;

    // The holder: the key the mandate names.
    let info = sdjwt::inspect(&env.sd_jwt).map_err(|_| malformed("structure"))?;
    let named = crate::crypto::unb64(&mandate.guardian_device_key)
        .and_then(|k| sdjwt::jwk_from_public_key(&k))
        .ok_or_else(|| refuse(Msg::DelegationMandateInvalid, "guardian key"))?;
    if info.holder_jwk != named {
        return Err(refuse(Msg::DelegationWrongHolder, "holder key"));
    }

    // The presentation itself.
    let sec1 = crate::crypto::sec1_uncompressed(&signer);
    let jwk = sdjwt::jwk_from_public_key(&sec1).ok_or_else(|| malformed("issuer key"))?;
    let (x, y) = (jwk["x"].as_str().unwrap_or_default(), jwk["y"].as_str().unwrap_or_default());
    let issuer_key = jsonwebtoken::DecodingKey::from_ec_components(x, y).map_err(|_| malformed("issuer key"))?;
    let check =
        PresentationCheck { issuer_key: &issuer_key, issuer, audience, nonce, now, max_age_secs: MAX_KB_AGE_SECS };
    let verified = sdjwt::verify_presentation_of(&env.sd_jwt, &check, vct).map_err(|e| match e {
        PresentationError::WrongAudience => refuse(Msg::ConsentPresentationWrongAudience, "audience"),
        PresentationError::WrongNonce => refuse(Msg::ConsentPresentationReplayed, "nonce"),
        PresentationError::Expired => refuse(Msg::DocumentSdJwtInvalid, "document expired"),
        _ => malformed("presentation"),
    })?;

    if !mandate.document_types.iter().any(|k| k == kind.as_str()) {
        return Err(refuse(Msg::DelegationOutOfScope, "document kind"));
    }
    if payload.get("sub").and_then(Value::as_str) != Some(mandate.dependant_cccd.as_str()) {
        return Err(refuse(Msg::DelegationNotDependant, "subject"));
    }
    Ok(OnBehalfVerdict { mandate, kind, claims: verified.claims, status: info.status })
}
