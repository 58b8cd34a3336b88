//! Object identifiers of ICAO 9303 / BSI TR-03110 and the X.509 / CMS algorithms this reader uses.

use const_oid::ObjectIdentifier as Oid;

/// `id-PACE-ECDH-GM-3DES-CBC-CBC`.
pub const PACE_ECDH_GM_3DES: Oid = Oid::new_unwrap("0.4.0.127.0.7.2.2.4.2.1");
/// `id-PACE-ECDH-GM-AES-CBC-CMAC-128`.
pub const PACE_ECDH_GM_AES128: Oid = Oid::new_unwrap("0.4.0.127.0.7.2.2.4.2.2");
/// `id-PACE-ECDH-GM-AES-CBC-CMAC-192`.
pub const PACE_ECDH_GM_AES192: Oid = Oid::new_unwrap("0.4.0.127.0.7.2.2.4.2.3");
/// `id-PACE-ECDH-GM-AES-CBC-CMAC-256`.
pub const PACE_ECDH_GM_AES256: Oid = Oid::new_unwrap("0.4.0.127.0.7.2.2.4.2.4");
/// Prefix of every PACE protocol OID.
pub const PACE_PREFIX: &str = "0.4.0.127.0.7.2.2.4.";
/// `id-CA-ECDH-3DES-CBC-CBC`.
pub const CA_ECDH_3DES: Oid = Oid::new_unwrap("0.4.0.127.0.7.2.2.3.2.1");
/// `id-CA-ECDH-AES-CBC-CMAC-128`.
pub const CA_ECDH_AES128: Oid = Oid::new_unwrap("0.4.0.127.0.7.2.2.3.2.2");
/// `id-CA-ECDH-AES-CBC-CMAC-192`.
pub const CA_ECDH_AES192: Oid = Oid::new_unwrap("0.4.0.127.0.7.2.2.3.2.3");
/// `id-CA-ECDH-AES-CBC-CMAC-256`.
pub const CA_ECDH_AES256: Oid = Oid::new_unwrap("0.4.0.127.0.7.2.2.3.2.4");
/// `id-PK-ECDH` (ChipAuthenticationPublicKeyInfo).
pub const PK_ECDH: Oid = Oid::new_unwrap("0.4.0.127.0.7.2.2.1.2");
/// `id-TA` (terminal authentication, listed but not used: DG3 stays unread).
pub const TA: Oid = Oid::new_unwrap("0.4.0.127.0.7.2.2.2");
/// `id-AA` (ActiveAuthenticationInfo in DG14).
pub const AA: Oid = Oid::new_unwrap("2.23.136.1.1.5");
/// `id-icao-mrtd-security-ldsSecurityObject`.
pub const LDS_SECURITY_OBJECT: Oid = Oid::new_unwrap("2.23.136.1.1.1");
/// CMS `id-signedData`.
pub const SIGNED_DATA: Oid = Oid::new_unwrap("1.2.840.113549.1.7.2");
/// CMS `contentType` attribute.
pub const ATTR_CONTENT_TYPE: Oid = Oid::new_unwrap("1.2.840.113549.1.9.3");
/// CMS `messageDigest` attribute.
pub const ATTR_MESSAGE_DIGEST: Oid = Oid::new_unwrap("1.2.840.113549.1.9.4");
/// `id-ecPublicKey`.
pub const EC_PUBLIC_KEY: Oid = Oid::new_unwrap("1.2.840.10045.2.1");
/// `prime-field`.
pub const PRIME_FIELD: Oid = Oid::new_unwrap("1.2.840.10045.1.1");
/// `prime256v1` (NIST P-256).
pub const P256: Oid = Oid::new_unwrap("1.2.840.10045.3.1.7");
/// `brainpoolP256r1`.
pub const BRAINPOOL_P256R1: Oid = Oid::new_unwrap("1.3.36.3.3.2.8.1.1.7");
/// `ecdsa-with-SHA256`.
pub const ECDSA_SHA256: Oid = Oid::new_unwrap("1.2.840.10045.4.3.2");
/// `ecdsa-with-SHA384`.
pub const ECDSA_SHA384: Oid = Oid::new_unwrap("1.2.840.10045.4.3.3");
/// `ecdsa-with-SHA512`.
pub const ECDSA_SHA512: Oid = Oid::new_unwrap("1.2.840.10045.4.3.4");
/// BSI `ecdsa-plain-SHA256` (plain r‖s; used by active authentication).
pub const ECDSA_PLAIN_SHA256: Oid = Oid::new_unwrap("0.4.0.127.0.7.1.1.4.1.3");
/// SHA-1.
pub const SHA1: Oid = Oid::new_unwrap("1.3.14.3.2.26");
/// SHA-256.
pub const SHA256: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.1");
/// SHA-384.
pub const SHA384: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.2");
/// SHA-512.
pub const SHA512: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.3");
/// `id-ce-basicConstraints`.
pub const BASIC_CONSTRAINTS: Oid = Oid::new_unwrap("2.5.29.19");
/// `id-at-commonName`.
pub const COMMON_NAME: Oid = Oid::new_unwrap("2.5.4.3");
/// `id-at-countryName`.
pub const COUNTRY_NAME: Oid = Oid::new_unwrap("2.5.4.6");
/// UTF-8 `1.0.10646.1.0.8`, the character set OID at the head of DG13.
pub const UTF8_CHARSET: Oid = Oid::new_unwrap("1.0.10646.1.0.8");

/// The DER content bytes of an OID (for TLV-level matching and building).
pub fn der(oid: &Oid) -> &[u8] {
    oid.as_bytes()
}

/// Parse OID content bytes.
pub fn from_der(bytes: &[u8]) -> Option<Oid> {
    Oid::from_bytes(bytes).ok()
}
