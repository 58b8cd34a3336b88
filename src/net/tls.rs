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
/// Android target), with only what a client without a client certificate negotiates (decision
/// 46): AES-GCM suites (TLS 1.3, and ECDHE with ECDSA or RSA on TLS 1.2), X25519 and P-256 key
/// exchange, and ring's full list of certificate and handshake signature verifications (ECDSA
/// P-256/P-384, Ed25519, RSA PKCS#1 and PSS), so any public or government chain still verifies.
/// Left out, as code nobody runs: ChaCha20-Poly1305, P-384 key exchange (every server that offers
/// it offers X25519 or P-256) and the loading of private keys (RSA/ECDSA/Ed25519 signing: the
/// core never authenticates with a TLS client certificate; its keys live in the key store).
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    use rustls::crypto::ring::{cipher_suite as cs, kx_group};
    Arc::new(rustls::crypto::CryptoProvider {
        cipher_suites: vec![
            cs::TLS13_AES_128_GCM_SHA256,
            cs::TLS13_AES_256_GCM_SHA384,
            cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        ],
        kx_groups: vec![kx_group::X25519, kx_group::SECP256R1],
        signature_verification_algorithms: SIGNATURE_VERIFICATION,
        secure_random: &SystemRandom,
        key_provider: &NoClientKeys,
    })
}

/// ring's certificate and handshake signature verifications, as in rustls' ring provider.
static SIGNATURE_VERIFICATION: rustls::crypto::WebPkiSupportedAlgorithms = {
    use webpki::ring as alg;
    rustls::crypto::WebPkiSupportedAlgorithms {
        all: &[
            alg::ECDSA_P256_SHA256,
            alg::ECDSA_P256_SHA384,
            alg::ECDSA_P384_SHA256,
            alg::ECDSA_P384_SHA384,
            alg::ED25519,
            alg::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
            alg::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
            alg::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
            alg::RSA_PKCS1_2048_8192_SHA256,
            alg::RSA_PKCS1_2048_8192_SHA384,
            alg::RSA_PKCS1_2048_8192_SHA512,
            alg::RSA_PKCS1_2048_8192_SHA256_ABSENT_PARAMS,
            alg::RSA_PKCS1_2048_8192_SHA384_ABSENT_PARAMS,
            alg::RSA_PKCS1_2048_8192_SHA512_ABSENT_PARAMS,
        ],
        mapping: &[
            // For TLS 1.2 the curve is not fixed by the scheme; for TLS 1.3 it is.
            (SignatureScheme::ECDSA_NISTP384_SHA384, &[alg::ECDSA_P384_SHA384, alg::ECDSA_P256_SHA384]),
            (SignatureScheme::ECDSA_NISTP256_SHA256, &[alg::ECDSA_P256_SHA256, alg::ECDSA_P384_SHA256]),
            (SignatureScheme::ED25519, &[alg::ED25519]),
            (SignatureScheme::RSA_PSS_SHA512, &[alg::RSA_PSS_2048_8192_SHA512_LEGACY_KEY]),
            (SignatureScheme::RSA_PSS_SHA384, &[alg::RSA_PSS_2048_8192_SHA384_LEGACY_KEY]),
            (SignatureScheme::RSA_PSS_SHA256, &[alg::RSA_PSS_2048_8192_SHA256_LEGACY_KEY]),
            (SignatureScheme::RSA_PKCS1_SHA512, &[alg::RSA_PKCS1_2048_8192_SHA512]),
            (SignatureScheme::RSA_PKCS1_SHA384, &[alg::RSA_PKCS1_2048_8192_SHA384]),
            (SignatureScheme::RSA_PKCS1_SHA256, &[alg::RSA_PKCS1_2048_8192_SHA256]),
        ],
    }
};

/// TLS randomness from the operating system (what ring's `SystemRandom` reads too).
#[derive(Debug)]
struct SystemRandom;

impl rustls::crypto::SecureRandom for SystemRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<(), rustls::crypto::GetRandomFailed> {
        getrandom::getrandom(buf).map_err(|_| rustls::crypto::GetRandomFailed)
    }
}

/// The core presents no TLS client certificate, so it never loads a private key into rustls.
#[derive(Debug)]
struct NoClientKeys;

impl rustls::crypto::KeyProvider for NoClientKeys {
    fn load_private_key(
        &self,
        _key_der: rustls::pki_types::PrivateKeyDer<'static>,
    ) -> Result<Arc<dyn rustls::sign::SigningKey>, rustls::Error> {
        Err(rustls::Error::General("the core holds no TLS private keys".into()))
    }
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

    /// What the core's TLS negotiates (decision 46): AES-GCM only, X25519 and P-256 only, every
    /// verification ring offers, and no private key ever loaded.
    #[test]
    fn the_provider_offers_only_what_the_core_negotiates() {
        let p = provider();
        let suites: Vec<_> = p.cipher_suites.iter().map(|s| s.suite()).collect();
        assert_eq!(suites.len(), 6);
        assert!(suites.iter().all(|s| format!("{s:?}").contains("AES")), "{suites:?}");
        let groups: Vec<_> = p.kx_groups.iter().map(|g| g.name()).collect();
        assert_eq!(groups, [rustls::NamedGroup::X25519, rustls::NamedGroup::secp256r1]);
        let ring = rustls::crypto::ring::default_provider();
        assert_eq!(p.signature_verification_algorithms.all.len(), ring.signature_verification_algorithms.all.len());
        assert_eq!(
            p.signature_verification_algorithms.supported_schemes(),
            ring.signature_verification_algorithms.supported_schemes()
        );
        let key = rcgen::KeyPair::generate().unwrap();
        let der = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
        assert!(p.key_provider.load_private_key(der).is_err());
    }

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
