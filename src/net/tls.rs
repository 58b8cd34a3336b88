//! TLS client configuration: rustls with the `ring` provider, TLS 1.2+, configurable trust
//! anchors and SPKI pinning with a backup pin.
//!
//! Pinning sits *on top of* normal verification (chain, host name, validity): a pinned
//! connection needs both a valid chain and a key from the pin set. A pin may match the leaf or
//! any certificate of the presented chain (HPKP semantics), so an agency can pin its
//! intermediate CA and rotate leaves freely. At least two pins are required so that losing one
//! key never bricks every installed app.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use sha2::{Digest, Sha256};

use crate::error::Error;

/// The crypto provider of every TLS connection the core makes (ring: no cmake, builds for every
/// Android target).
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Parse a pin (`sha256/<base64>` or `<base64>`) into its 32-byte digest.
pub fn parse_pin(pin: &str) -> Result<[u8; 32], Error> {
    use base64::Engine;
    let b64 = pin.trim().strip_prefix("sha256/").unwrap_or(pin.trim());
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| Error::Config("SPKI pin is not base64".into()))?;
    bytes.try_into().map_err(|_| Error::Config("SPKI pin is not a SHA-256 digest".into()))
}

/// SHA-256 of a certificate's SubjectPublicKeyInfo.
pub fn spki_sha256(cert: &CertificateDer<'_>) -> Option<[u8; 32]> {
    // rustls' own certificate parser (webpki): the SPKI exactly as encoded in the certificate.
    let parsed = webpki::EndEntityCert::try_from(cert).ok()?;
    Some(Sha256::digest(parsed.subject_public_key_info().as_ref()).into())
}

/// Verifier that delegates to WebPKI (or the platform) and then enforces the pin set.
#[derive(Debug)]
pub struct PinnedVerifier {
    inner: Arc<dyn ServerCertVerifier>,
    pins: Vec<[u8; 32]>,
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verified = self.inner.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)?;
        if self.pins.is_empty() {
            return Ok(verified);
        }
        let pinned = std::iter::once(end_entity)
            .chain(intermediates.iter())
            .filter_map(spki_sha256)
            .any(|h| self.pins.contains(&h));
        if pinned {
            Ok(verified)
        } else {
            tracing::warn!("TLS: server key matches no pin");
            Err(rustls::Error::InvalidCertificate(CertificateError::ApplicationVerificationFailure))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Build the client TLS configuration.
///
/// * `trust_anchors_pem`: PEM certificates to trust *instead of* the platform roots (for a
///   government PKI). Empty: the platform's verifier and roots.
/// * `pins`: SPKI pins; empty disables pinning, otherwise at least two distinct keys (primary +
///   backup); a repeated pin is refused.
pub fn client_config(trust_anchors_pem: &[String], pins: &[String]) -> Result<ClientConfig, Error> {
    let provider = provider();
    if pins.len() == 1 {
        return Err(Error::Config("an SPKI pin set needs a backup pin (at least two pins)".into()));
    }
    let pins = pins.iter().map(|p| parse_pin(p)).collect::<Result<Vec<_>, _>>()?;
    // Compared as digests, so `sha256/X` and `X` are the same pin. A repeated pin would pass
    // the count above while giving no backup at all.
    if pins.iter().enumerate().any(|(i, p)| pins[..i].contains(p)) {
        return Err(Error::Config("an SPKI pin is repeated; the backup pin must be a different key".into()));
    }
    let inner: Arc<dyn ServerCertVerifier> = if trust_anchors_pem.is_empty() {
        Arc::new(
            rustls_platform_verifier::Verifier::new(provider.clone())
                .map_err(|e| Error::Config(format!("platform verifier: {e}")))?,
        )
    } else {
        let mut roots = RootCertStore::empty();
        for pem in trust_anchors_pem {
            let mut any = false;
            for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                let cert = cert.map_err(|_| Error::Config("trust anchor PEM does not parse".into()))?;
                roots.add(cert).map_err(|e| Error::Config(format!("trust anchor refused: {e}")))?;
                any = true;
            }
            if !any {
                return Err(Error::Config("trust anchor PEM holds no certificate".into()));
            }
        }
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .map_err(|e| Error::Config(format!("verifier: {e}")))?
    };
    let verifier = Arc::new(PinnedVerifier { inner, pins });
    let config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| Error::Config(format!("tls versions: {e}")))?
        .dangerous() // only to install the pinning verifier, which wraps full WebPKI checks
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_parse_with_or_without_prefix_and_need_a_backup() {
        let pin = crate::protocol::spki_pin(b"spki");
        assert_eq!(parse_pin(&pin).unwrap(), parse_pin(&format!("sha256/{pin}")).unwrap());
        assert!(parse_pin("not base64!").is_err());
        assert!(parse_pin("AAAA").is_err());
        assert!(matches!(client_config(&[], std::slice::from_ref(&pin)), Err(Error::Config(_))));
    }

    #[test]
    fn a_repeated_pin_is_not_a_backup() {
        let pin = crate::protocol::spki_pin(b"spki");
        let other = crate::protocol::spki_pin(b"other spki");
        assert!(client_config(&[], &[pin.clone(), other.clone()]).is_ok());
        // The same key twice, also in its other spelling, is one pin, not a primary and a backup.
        for twice in [vec![pin.clone(), pin.clone()], vec![pin.clone(), format!("sha256/{pin}")]] {
            match client_config(&[], &twice) {
                Err(Error::Config(m)) => assert!(m.contains("repeated"), "{m}"),
                other => panic!("{twice:?} accepted: {:?}", other.map(|_| ())),
            }
        }
        // Three pins with one repeated: refused too (the set must say what it means).
        assert!(matches!(client_config(&[], &[pin.clone(), other, pin]), Err(Error::Config(_))));
    }

    #[test]
    fn bad_trust_anchors_are_config_errors() {
        assert!(matches!(client_config(&["garbage".into()], &[]), Err(Error::Config(_))));
    }
}
