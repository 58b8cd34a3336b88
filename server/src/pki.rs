//! TLS material: a persisted development PKI (CA + leaf + backup key) or operator-supplied
//! PEM files, turned into a rustls server configuration and the SPKI pins clients embed.
//!
//! The backup key never serves traffic; its pin lets clients pin "current + next" so the
//! serving key can be rotated without bricking pinned apps.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    PublicKeyData, PKCS_ECDSA_P256_SHA256,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::{ServerError, TlsSource};

/// Everything TLS-related the server and its clients need.
pub struct TlsMaterial {
    /// The rustls configuration to serve with.
    pub server_config: Arc<rustls::ServerConfig>,
    /// Trust anchor PEM to hand to clients (dev CA, or the configured chain).
    pub ca_cert_pem: String,
    /// Where that PEM lives on disk.
    pub ca_cert_path: PathBuf,
    /// Pin of the serving key.
    pub spki_pin: String,
    /// Pin of the standby key.
    pub backup_spki_pin: String,
}

fn pki_err(e: impl std::fmt::Display) -> ServerError {
    ServerError::Pki(e.to_string())
}

/// Write a secret file readable only by the owner.
pub(crate) fn write_private(path: &Path, data: &[u8]) -> Result<(), ServerError> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(data)?;
    f.sync_all()?;
    Ok(())
}

fn load_or_generate_key(path: &Path) -> Result<(KeyPair, bool), ServerError> {
    if path.exists() {
        let pem = std::fs::read_to_string(path)?;
        Ok((KeyPair::from_pem(&pem).map_err(pki_err)?, false))
    } else {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(pki_err)?;
        write_private(path, key.serialize_pem().as_bytes())?;
        Ok((key, true))
    }
}

/// Parameters of the dev CA. Rebuilt identically on restart, so a persisted CA key can sign a
/// new leaf (when host names change) without parsing its own certificate back.
fn ca_params() -> Result<CertificateParams, ServerError> {
    let mut p = CertificateParams::new(Vec::<String>::new()).map_err(pki_err)?;
    p.distinguished_name.push(DnType::CommonName, "citizen-server DEVELOPMENT CA - not for production");
    p.distinguished_name.push(DnType::OrganizationName, "citizen-core dev");
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    Ok(p)
}

fn sans_for(hostnames: &[String]) -> Vec<String> {
    let mut sans: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    for h in hostnames {
        if !h.is_empty() && !sans.contains(h) {
            sans.push(h.clone());
        }
    }
    sans
}

/// Build (or reload) the TLS material for `source`, persisting generated files in `dir`.
pub fn load(source: &TlsSource, dir: &Path) -> Result<TlsMaterial, ServerError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    std::fs::create_dir_all(dir)?;
    let (backup_key, _) = load_or_generate_key(&dir.join("backup-key.pem"))?;
    let backup_spki_pin = citizen_protocol::protocol::spki_pin(&backup_key.subject_public_key_info());

    let (chain_pem, key_pem, ca_cert_pem, ca_cert_path) = match source {
        TlsSource::Generate { hostnames } => {
            let (ca_key, ca_new) = load_or_generate_key(&dir.join("ca-key.pem"))?;
            let ca_path = dir.join("ca.pem");
            if ca_new || !ca_path.exists() {
                let cert = ca_params()?.self_signed(&ca_key).map_err(pki_err)?;
                std::fs::write(&ca_path, cert.pem())?;
            }
            let ca_pem = std::fs::read_to_string(&ca_path)?;
            let (leaf_key, leaf_new) = load_or_generate_key(&dir.join("leaf-key.pem"))?;
            let sans = sans_for(hostnames);
            let sans_line = sans.join("\n");
            let leaf_path = dir.join("leaf.pem");
            let sans_path = dir.join("leaf-sans.txt");
            let current = std::fs::read_to_string(&sans_path).unwrap_or_default();
            if ca_new || leaf_new || !leaf_path.exists() || current != sans_line {
                let mut p = CertificateParams::new(sans.clone()).map_err(pki_err)?;
                p.distinguished_name.push(DnType::CommonName, "citizen-server (development)");
                p.is_ca = IsCa::NoCa;
                p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
                p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
                p.use_authority_key_identifier_extension = true;
                let issuer = Issuer::new(ca_params()?, &ca_key);
                let cert = p.signed_by(&leaf_key, &issuer).map_err(pki_err)?;
                std::fs::write(&leaf_path, cert.pem())?;
                std::fs::write(&sans_path, &sans_line)?;
            }
            let leaf_pem = std::fs::read_to_string(&leaf_path)?;
            (format!("{leaf_pem}{ca_pem}"), leaf_key.serialize_pem(), ca_pem, ca_path)
        }
        TlsSource::Files { cert_pem, key_pem } => {
            let chain = std::fs::read_to_string(cert_pem)?;
            let key = std::fs::read_to_string(key_pem)?;
            (chain.clone(), key, chain, cert_pem.clone())
        }
    };

    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(chain_pem.as_bytes()).collect::<Result<_, _>>().map_err(pki_err)?;
    let leaf = certs.first().ok_or_else(|| ServerError::Pki("certificate chain is empty".into()))?;
    let (_, parsed) = x509_parser::parse_x509_certificate(leaf).map_err(pki_err)?;
    let spki_pin = citizen_protocol::protocol::spki_pin(parsed.tbs_certificate.subject_pki.raw);
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(pki_err)?;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server_config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(pki_err)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(pki_err)?;
    server_config.alpn_protocols = vec![b"http/1.1".to_vec()];

    Ok(TlsMaterial { server_config: Arc::new(server_config), ca_cert_pem, ca_cert_path, spki_pin, backup_spki_pin })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_pki_is_persisted_and_pins_are_stable() {
        let dir = std::env::temp_dir().join(format!("pki-{}", citizen_protocol::crypto::random_b64url(6)));
        let a = load(&TlsSource::Generate { hostnames: vec![] }, &dir).unwrap();
        let b = load(&TlsSource::Generate { hostnames: vec![] }, &dir).unwrap();
        assert_eq!(a.spki_pin, b.spki_pin);
        assert_eq!(a.backup_spki_pin, b.backup_spki_pin);
        assert_eq!(a.ca_cert_pem, b.ca_cert_pem);
        assert_ne!(a.spki_pin, a.backup_spki_pin);
        // A new host name re-issues the leaf with the same key: pin unchanged, CA unchanged.
        let c = load(&TlsSource::Generate { hostnames: vec!["id.dev.example".into()] }, &dir).unwrap();
        assert_eq!(a.spki_pin, c.spki_pin);
        assert_eq!(a.ca_cert_pem, c.ca_cert_pem);
        let leaf = std::fs::read_to_string(dir.join("leaf.pem")).unwrap();
        let der = CertificateDer::from_pem_slice(leaf.as_bytes()).unwrap();
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        let san = cert.subject_alternative_name().unwrap().unwrap();
        let names = format!("{:?}", san.value.general_names);
        assert!(names.contains("id.dev.example") && names.contains("localhost"), "{names}");
        // Files mode reuses the same chain.
        let d = load(&TlsSource::Files { cert_pem: dir.join("leaf.pem"), key_pem: dir.join("leaf-key.pem") }, &dir)
            .unwrap();
        assert_eq!(d.spki_pin, a.spki_pin);
        let _ = std::fs::remove_dir_all(dir);
    }
}
