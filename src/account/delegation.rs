//! Delegation on the guardian's device (issue 15 item 5, ARCHITECTURE.md decision 49): the
//! dependants the register gives the account holder, their mandates (each checked: the server's
//! signature and `typ`, this server, this device's key, the dependant and the id the listing
//! names), revocation, and drafts filed on a dependant's behalf (prefilled from the dependant's
//! register record; the mandate id is part of the signed payload).

use citizen_protocol::protocol::delegation::{
    DependantDto, DependantsResponse, MandateClaims, MandateRevokeRequest, OnBehalf, PATH_DEPENDANTS,
    PATH_MANDATE_REVOKE,
};
use citizen_protocol::protocol::Ok as OkBody;

use crate::error::{Error, Msg, Result};
use crate::services::eform;
use crate::services::storage::DraftRow;
use crate::store::rows::DraftStatus;

/// A dependant with its checked mandate.
pub(crate) struct Dependant {
    /// As the server listed it.
    pub dto: DependantDto,
    /// The mandate's verified claims (while active).
    pub claims: Option<MandateClaims>,
}

impl crate::account::Account {
    /// The account holder's dependants (logged in; network). Every active mandate is verified
    /// before anything is returned; one that does not verify fails the whole answer.
    pub(crate) async fn dependants(&self) -> Result<Vec<Dependant>> {
        let acc = self.active_account()?;
        let token = self.access_token().await?;
        let r: DependantsResponse = self.net.get(PATH_DEPENDANTS, Some(&token)).await?;
        let own_key = crate::crypto::b64(&acc.public_key);
        let mut out = Vec::with_capacity(r.dependants.len());
        for d in r.dependants {
            let claims = match &d.mandate.jws {
                None => None,
                Some(jws) => {
                    let c: MandateClaims = self
                        .decode_server_jws(jws)
                        .await
                        .ok_or_else(|| Error::BadReceipt("mandate: signature or kind does not verify".into()))?;
                    if c.iss != self.net.audience()
                        || c.guardian_device_key != own_key
                        || c.jti != d.mandate.mandate_id
                        || c.dependant_cccd != d.profile.cccd
                    {
                        return Err(Error::BadReceipt("mandate: not for this device or this dependant".into()));
                    }
                    Some(c)
                }
            };
            out.push(Dependant { dto: d, claims });
        }
        Ok(out)
    }

    /// Revoke a mandate of the account holder's (logged in; network).
    pub(crate) async fn revoke_mandate(&self, mandate_id: &str) -> Result<()> {
        self.active_account()?;
        let token = self.access_token().await?;
        let req = MandateRevokeRequest { mandate_id: mandate_id.to_string(), reason: String::new() };
        let _: OkBody = self.net.post(PATH_MANDATE_REVOKE, &req, Some(&token)).await?;
        Ok(())
    }

    /// A new draft of `procedure_id` on behalf of the dependant `dependant_cccd` (logged in;
    /// network): the mandate must be active and cover the procedure (checked here so the citizen
    /// learns it before filling the form; the server checks again), and the form is prefilled
    /// from the dependant's register record.
    pub(crate) async fn create_draft_for(&self, procedure_id: &str, dependant_cccd: &str) -> Result<DraftRow> {
        let procedure = self.procedure(procedure_id, None)?;
        let all = self.dependants().await?;
        let d = all
            .into_iter()
            .find(|d| d.dto.profile.cccd == dependant_cccd)
            .ok_or(Error::Domain(Msg::DelegationNotDependant))?;
        let claims = match (d.claims, d.dto.mandate.state) {
            (Some(c), _) => c,
            (None, citizen_protocol::protocol::delegation::MandateState::Revoked) => {
                return Err(Error::Domain(Msg::DelegationRevoked))
            }
            (None, _) => return Err(Error::Domain(Msg::DelegationExpired)),
        };
        if !claims.procedures.iter().any(|p| p == &procedure.id) {
            return Err(Error::Domain(Msg::DelegationOutOfScope));
        }
        let mut content = eform::new_draft(&procedure, &d.dto.profile);
        content.on_behalf = Some(OnBehalf { mandate_id: claims.jti, dependant_cccd: claims.dependant_cccd });
        let row = DraftRow {
            draft_id: uuid::Uuid::new_v4().to_string(),
            procedure_id: procedure.id.clone(),
            procedure_version: procedure.version,
            status: DraftStatus::Editing,
            content,
            updated_at: self.now(),
        };
        self.store.save_draft(&row, self.now())?;
        Ok(row)
    }
}

/// Verify a mandate offline against server keys the verifier trusts (a JWK or a JWKS obtained
/// independently, as for the activity log) and the server's origin, at `now`.
pub(crate) fn verify_mandate(signed: &str, pinned_server_jwk: &str, issuer: &str, now: i64) -> Result<MandateClaims> {
    let keys = crate::activity::flows::pinned_keys(pinned_server_jwk)?;
    citizen_protocol::protocol::delegation::verify_mandate(signed.trim(), &keys, issuer, now)
        .map_err(|e| Error::Domain(e.msg()))
}
