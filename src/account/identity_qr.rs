//! The short identity QR on the device (issue 13, item 4; ARCHITECTURE.md decision 35;
//! [`crate::protocol::idqr`]).
//!
//! The server's binding of this device key (name, birth date, CCCD number, level; 7 days) is
//! fetched when online, checked (server key and `typ`, this server, this device, this key) and
//! kept sealed with the credentials. Showing a code needs the passcode and one user-initiated
//! device-key signature in the key store; it works offline while the binding is valid.

use citizen_protocol::protocol::idqr::{
    statement_subject, IdentityBindingClaims, IdentityBindingResponse, IdentityQr, IDQR_VALID_SECS,
    PATH_IDENTITY_BINDING,
};

use crate::error::{Error, Result};
use crate::protocol::Purpose;
use crate::store::rows::CredentialKind;
use crate::store::AccountRow;

/// A binding this close to expiry is fetched again when online (kept otherwise).
const BINDING_RENEW_MARGIN_SECS: i64 = 24 * 3600;

impl crate::account::Account {
    /// A fresh identity code: `(QR text, signed at)`. It is valid [`IDQR_VALID_SECS`] from then.
    pub(crate) async fn identity_qr(&self, passcode_in: &str) -> Result<(String, i64)> {
        let acc = self.active_account()?;
        self.verify_passcode(passcode_in).await?;
        let binding = self.identity_binding(&acc).await?;
        let nonce = crate::crypto::random_b64url(16);
        let signed = self.sign_for(&acc, Purpose::IdentityQr, nonce, statement_subject(&binding)).await?;
        let at = signed.statement.issued_at;
        Ok((IdentityQr { binding, signed }.encode(), at))
    }

    /// The stored binding, or a new one from the server when missing or close to expiry (the
    /// stored one is still used when the server cannot be reached and it has not expired).
    async fn identity_binding(&self, acc: &AccountRow) -> Result<String> {
        let now = self.now();
        let stored = self.store.credential::<String>(CredentialKind::IdentityBinding)?.filter(|c| c.expires_at > now);
        if let Some(c) = &stored {
            if c.expires_at - BINDING_RENEW_MARGIN_SECS > now {
                return Ok(c.credential.clone());
            }
        }
        match self.fetch_identity_binding(acc).await {
            Ok(b) => Ok(b),
            Err(Error::Net(_)) if stored.is_some() => Ok(stored.map(|c| c.credential).unwrap_or_default()),
            Err(e) => Err(e),
        }
    }

    async fn fetch_identity_binding(&self, acc: &AccountRow) -> Result<String> {
        let token = self.access_token().await?;
        let r: IdentityBindingResponse =
            self.net.post(PATH_IDENTITY_BINDING, &serde_json::json!({}), Some(&token)).await?;
        let bad = |why: &str| Error::BadReceipt(format!("identity binding: {why}"));
        let c: IdentityBindingClaims =
            self.decode_server_jws(&r.binding).await.ok_or_else(|| bad("signature does not verify"))?;
        if c.iss != self.net.audience()
            || c.device_id != acc.device_id
            || crate::crypto::unb64(&c.device_key).as_deref() != Some(acc.public_key.as_slice())
            || c.exp != r.expires_at
            || c.exp <= self.now()
        {
            return Err(bad("not for this device"));
        }
        self.store.save_credential(CredentialKind::IdentityBinding, &r.binding, c.exp)?;
        Ok(r.binding)
    }
}

/// How long a code is valid after signing (for the FFI record).
pub(crate) const IDQR_CODE_VALID_SECS: i64 = IDQR_VALID_SECS;
