//! The two curves the reader speaks (brainpoolP256r1, the CCCD's PACE curve, and NIST P-256),
//! behind one small enum so that PACE, chip authentication and signature checks need no
//! generics. Every received point is decoded through `PublicKey::from_sec1_bytes`, which rejects
//! points off the curve and the identity.

use elliptic_curve::group::{Curve as _, Group};
use elliptic_curve::point::AffineCoordinates;
use elliptic_curve::sec1::{FromSec1Point, ModulusSize, ToSec1Point};
use elliptic_curve::{
    AffinePoint, CurveArithmetic, FieldBytesSize, NonZeroScalar, PrimeField, ProjectivePoint, PublicKey, Scalar,
};
use zeroize::Zeroizing;

use crate::error::{ChipError, Result};
use crate::RandomSource;

/// A supported curve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    /// brainpoolP256r1 (standardized domain parameter 13): the CCCD's curve.
    BrainpoolP256r1,
    /// NIST P-256 (standardized domain parameter 12).
    P256,
}

/// Domain parameters as big-endian bytes, for matching ICAO's explicit parameters.
pub struct Domain {
    /// Field prime.
    pub p: &'static str,
    /// Coefficient a.
    pub a: &'static str,
    /// Coefficient b.
    pub b: &'static str,
    /// Generator x.
    pub gx: &'static str,
    /// Generator y.
    pub gy: &'static str,
    /// Group order.
    pub n: &'static str,
}

const P256_DOMAIN: Domain = Domain {
    p: "FFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF",
    a: "FFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFC",
    b: "5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B",
    gx: "6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296",
    gy: "4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5",
    n: "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551",
};

const BP256_DOMAIN: Domain = Domain {
    p: "A9FB57DBA1EEA9BC3E660A909D838D726E3BF623D52620282013481D1F6E5377",
    a: "7D5A0975FC2C3057EEF67530417AFFE7FB8055C126DC5C6CE94A4B44F330B5D9",
    b: "26DC5C6CE94A4B44F330B5D9BBD77CBF958416295CF7E1CE6BCCDC18FF8C07B6",
    gx: "8BD2AEB9CB7E57CB2C4B482FFC81B7AFB9DE27E1E3BD23C23A4453BD9ACE3262",
    gy: "547EF835C3DAC4FD97F8461A14611DC9C27745132DED8E545C1D54C72F046997",
    n: "A9FB57DBA1EEA9BC3E660A909D838D718C397AA3B561A6F7901E0E82974856A7",
};

impl Curve {
    /// From a PACE standardized domain parameter ID.
    pub fn from_parameter_id(id: u32) -> Option<Self> {
        match id {
            13 => Some(Curve::BrainpoolP256r1),
            12 => Some(Curve::P256),
            _ => None,
        }
    }

    /// The standardized domain parameter ID.
    pub fn parameter_id(self) -> u8 {
        match self {
            Curve::BrainpoolP256r1 => 13,
            Curve::P256 => 12,
        }
    }

    /// The named-curve OID.
    pub fn oid(self) -> const_oid::ObjectIdentifier {
        match self {
            Curve::BrainpoolP256r1 => crate::oid::BRAINPOOL_P256R1,
            Curve::P256 => crate::oid::P256,
        }
    }

    /// From a named-curve OID.
    pub fn from_oid(oid: &const_oid::ObjectIdentifier) -> Option<Self> {
        [Curve::BrainpoolP256r1, Curve::P256].into_iter().find(|c| c.oid() == *oid)
    }

    /// The domain parameters.
    pub fn domain(self) -> &'static Domain {
        match self {
            Curve::BrainpoolP256r1 => &BP256_DOMAIN,
            Curve::P256 => &P256_DOMAIN,
        }
    }

    /// Field element / scalar size in bytes.
    pub fn size(self) -> usize {
        32
    }
}

/// A point on one of the curves (never the identity when it came from outside).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Point {
    /// On brainpoolP256r1.
    Bp(bp256::r1::ProjectivePoint),
    /// On P-256.
    P(p256::ProjectivePoint),
}

/// A secret scalar (zeroized on drop by the curve crates' types).
#[derive(Clone)]
pub enum SecretScalar {
    /// On brainpoolP256r1.
    Bp(NonZeroScalar<bp256::BrainpoolP256r1>),
    /// On P-256.
    P(NonZeroScalar<p256::NistP256>),
}

impl std::fmt::Debug for SecretScalar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretScalar(<redacted>)")
    }
}

fn decode<C>(bytes: &[u8]) -> Result<ProjectivePoint<C>>
where
    C: CurveArithmetic,
    AffinePoint<C>: FromSec1Point<C> + ToSec1Point<C>,
    FieldBytesSize<C>: ModulusSize,
{
    let pk = PublicKey::<C>::from_sec1_bytes(bytes).map_err(|_| ChipError::Protocol("invalid curve point"))?;
    Ok(pk.to_projective())
}

fn encode<C>(p: &ProjectivePoint<C>) -> Vec<u8>
where
    C: CurveArithmetic,
    AffinePoint<C>: FromSec1Point<C> + ToSec1Point<C>,
    FieldBytesSize<C>: ModulusSize,
{
    p.to_affine().to_sec1_point(false).as_bytes().to_vec()
}

fn x_of<C>(p: &ProjectivePoint<C>) -> Zeroizing<Vec<u8>>
where
    C: CurveArithmetic,
{
    Zeroizing::new(p.to_affine().x().to_vec())
}

fn random_scalar<C: CurveArithmetic>(rng: &mut dyn RandomSource) -> NonZeroScalar<C> {
    loop {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rng.fill(&mut bytes[..]);
        if let Ok(s) = NonZeroScalar::<C>::try_from(&bytes[..]) {
            return s;
        }
    }
}

fn scalar_from<C: CurveArithmetic>(bytes: &[u8]) -> Result<Scalar<C>> {
    if bytes.len() > 32 {
        return Err(ChipError::Protocol("scalar too long"));
    }
    let mut fb = elliptic_curve::FieldBytes::<C>::default();
    let off = fb.len() - bytes.len();
    fb[off..].copy_from_slice(bytes);
    Option::from(Scalar::<C>::from_repr(fb)).ok_or(ChipError::Protocol("scalar out of range"))
}

impl Curve {
    /// Decode an uncompressed/compressed SEC1 point, checking it is on the curve and not the identity.
    pub fn decode_point(self, bytes: &[u8]) -> Result<Point> {
        Ok(match self {
            Curve::BrainpoolP256r1 => Point::Bp(decode::<bp256::BrainpoolP256r1>(bytes)?),
            Curve::P256 => Point::P(decode::<p256::NistP256>(bytes)?),
        })
    }

    /// The curve's standard generator.
    pub fn generator(self) -> Point {
        match self {
            Curve::BrainpoolP256r1 => Point::Bp(bp256::r1::ProjectivePoint::generator()),
            Curve::P256 => Point::P(p256::ProjectivePoint::generator()),
        }
    }

    /// A fresh secret scalar.
    pub fn random_secret(self, rng: &mut dyn RandomSource) -> SecretScalar {
        match self {
            Curve::BrainpoolP256r1 => SecretScalar::Bp(random_scalar(rng)),
            Curve::P256 => SecretScalar::P(random_scalar(rng)),
        }
    }

    /// A secret scalar from big-endian bytes (test vectors, fixed test keys).
    pub fn secret_from_bytes(self, bytes: &[u8]) -> Result<SecretScalar> {
        let err = |_| ChipError::Protocol("secret scalar out of range");
        Ok(match self {
            Curve::BrainpoolP256r1 => SecretScalar::Bp(NonZeroScalar::try_from(bytes).map_err(err)?),
            Curve::P256 => SecretScalar::P(NonZeroScalar::try_from(bytes).map_err(err)?),
        })
    }

    /// Generic mapping (ICAO 9303 Part 11 §4.4.3.3.1): G̃ = s·G + H with H = sk·PK (the shared
    /// mapping point). Refuses an identity result.
    pub fn map_generator(self, nonce: &[u8], h: &Point) -> Result<Point> {
        let g = match (self, h) {
            (Curve::BrainpoolP256r1, Point::Bp(h)) => {
                Point::Bp(bp256::r1::ProjectivePoint::generator() * scalar_from::<bp256::BrainpoolP256r1>(nonce)? + h)
            }
            (Curve::P256, Point::P(h)) => {
                Point::P(p256::ProjectivePoint::generator() * scalar_from::<p256::NistP256>(nonce)? + h)
            }
            _ => return Err(ChipError::Protocol("points on different curves")),
        };
        if g.is_identity() {
            return Err(ChipError::Protocol("mapped generator is the identity"));
        }
        Ok(g)
    }
}

impl Point {
    /// Uncompressed SEC1 encoding `04 ‖ x ‖ y`.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Point::Bp(p) => encode::<bp256::BrainpoolP256r1>(p),
            Point::P(p) => encode::<p256::NistP256>(p),
        }
    }

    /// The x-coordinate (the ECDH shared secret of a product point).
    pub fn x(&self) -> Zeroizing<Vec<u8>> {
        match self {
            Point::Bp(p) => x_of::<bp256::BrainpoolP256r1>(p),
            Point::P(p) => x_of::<p256::NistP256>(p),
        }
    }

    /// Whether this is the identity.
    pub fn is_identity(&self) -> bool {
        match self {
            Point::Bp(p) => bool::from(p.is_identity()),
            Point::P(p) => bool::from(p.is_identity()),
        }
    }

    /// `k · self`; refuses an identity result (small-subgroup / degenerate input).
    pub fn mul(&self, k: &SecretScalar) -> Result<Point> {
        let out = match (self, k) {
            (Point::Bp(p), SecretScalar::Bp(k)) => Point::Bp(*p * **k),
            (Point::P(p), SecretScalar::P(k)) => Point::P(*p * **k),
            _ => return Err(ChipError::Protocol("point and scalar on different curves")),
        };
        if out.is_identity() {
            return Err(ChipError::Protocol("product is the identity"));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unhex;

    #[test]
    fn domain_constants_match_the_curve_crates() {
        for curve in [Curve::BrainpoolP256r1, Curve::P256] {
            let d = curve.domain();
            let g = curve.generator().encode();
            assert_eq!(g[1..33].to_vec(), unhex(d.gx).unwrap());
            assert_eq!(g[33..].to_vec(), unhex(d.gy).unwrap());
            let n = match curve {
                Curve::BrainpoolP256r1 => <bp256::Scalar as PrimeField>::MODULUS,
                Curve::P256 => <p256::Scalar as PrimeField>::MODULUS,
            };
            assert_eq!(n.trim_start_matches("0x").to_uppercase(), d.n);
            assert_eq!(Curve::from_parameter_id(u32::from(curve.parameter_id())), Some(curve));
        }
    }

    #[test]
    fn invalid_points_are_refused() {
        let g = Curve::P256.generator().encode();
        let mut off = g.clone();
        off[64] ^= 1;
        assert!(Curve::P256.decode_point(&off).is_err());
        assert!(Curve::P256.decode_point(&[0x00]).is_err(), "identity");
        assert!(Curve::BrainpoolP256r1.decode_point(&g).is_err(), "P-256 generator is not on brainpool");
    }
}

/// ICAO 9303 Part 12 wants EC keys in CSCA/DS certificates (and chips often put them in DG14 and
/// DG15) with *explicit* domain parameters, which generic X.509 libraries refuse. This maps
/// either form to a [`Curve`]: a named-curve OID, or `ECParameters` whose prime, coefficients,
/// generator and order equal a supported curve's.
pub fn curve_from_parameters(params: &[u8]) -> Result<Curve> {
    let bad = ChipError::MalformedCertificate("EC domain parameters");
    let (t, _) = crate::tlv::parse_one(params).map_err(|_| bad.clone())?;
    if t.tag == 0x06 {
        let oid = crate::oid::from_der(t.value).ok_or(bad.clone())?;
        return Curve::from_oid(&oid).ok_or(ChipError::MalformedCertificate("unsupported named curve"));
    }
    if t.tag != 0x30 {
        return Err(bad);
    }
    let parts = t.children().map_err(|_| bad.clone())?;
    let get = |i: usize, tag: u32| -> Result<&[u8]> {
        parts
            .get(i)
            .filter(|p| p.tag == tag)
            .map(|p| p.value)
            .ok_or(ChipError::MalformedCertificate("EC domain parameters"))
    };
    let field = crate::tlv::parse_all(get(1, 0x30)?).map_err(|_| bad.clone())?;
    let curve_seq = crate::tlv::parse_all(get(2, 0x30)?).map_err(|_| bad.clone())?;
    let base = get(3, 0x04)?;
    let order = crate::tlv::uint_value(get(4, 0x02)?);
    let (Some(field_type), Some(prime)) = (field.first(), field.get(1)) else { return Err(bad) };
    if field_type.tag != 0x06 || crate::oid::from_der(field_type.value) != Some(crate::oid::PRIME_FIELD) {
        return Err(ChipError::MalformedCertificate("EC field is not a prime field"));
    }
    let (Some(a), Some(b)) = (curve_seq.first(), curve_seq.get(1)) else { return Err(bad) };
    let norm = |v: &[u8]| -> Vec<u8> { crate::tlv::uint_value(v).to_vec() };
    let hexu = |s: &str| -> Vec<u8> { norm(&crate::unhex(s).unwrap_or_default()) };
    for curve in [Curve::BrainpoolP256r1, Curve::P256] {
        let d = curve.domain();
        if norm(crate::tlv::uint_value(prime.value)) == hexu(d.p)
            && norm(a.value) == hexu(d.a)
            && norm(b.value) == hexu(d.b)
            && norm(order) == hexu(d.n)
        {
            // The base point, compressed or not, must be the curve's generator.
            let g = curve.decode_point(base).map_err(|_| bad.clone())?;
            if g != curve.generator() {
                return Err(ChipError::MalformedCertificate("EC generator differs from the named curve's"));
            }
            return Ok(curve);
        }
    }
    Err(ChipError::MalformedCertificate("unsupported explicit EC domain parameters"))
}

/// DER `ECParameters` with explicit domain parameters (what ICAO Part 12 asks certificates to carry).
pub fn explicit_parameters(curve: Curve) -> Vec<u8> {
    use crate::tlv::{der_uint, encode};
    let d = curve.domain();
    let h = |s: &str| crate::unhex(s).unwrap_or_default();
    let field = [encode(0x06, crate::oid::der(&crate::oid::PRIME_FIELD)), der_uint(&h(d.p))].concat();
    let coeffs = [encode(0x04, &h(d.a)), encode(0x04, &h(d.b))].concat();
    let base = curve.generator().encode();
    encode(
        0x30,
        &[
            der_uint(&[1]),
            encode(0x30, &field),
            encode(0x30, &coeffs),
            encode(0x04, &base),
            der_uint(&h(d.n)),
            der_uint(&[1]),
        ]
        .concat(),
    )
}

/// An EC `SubjectPublicKeyInfo`: the curve (named or explicit) and the SEC1 point.
pub fn parse_ec_spki(spki: &[u8]) -> Result<(Curve, Vec<u8>)> {
    let bad = ChipError::MalformedCertificate("subject public key info");
    let seq = crate::tlv::parse_single(spki, 0x30).map_err(|_| bad.clone())?;
    let parts = seq.children().map_err(|_| bad.clone())?;
    let (Some(alg), Some(key)) = (parts.first(), parts.get(1)) else { return Err(bad) };
    if alg.tag != 0x30 || key.tag != 0x03 {
        return Err(bad);
    }
    let alg_parts = alg.children().map_err(|_| bad.clone())?;
    let (Some(alg_oid), Some(params)) = (alg_parts.first(), alg_parts.get(1)) else { return Err(bad) };
    if crate::oid::from_der(alg_oid.value) != Some(crate::oid::EC_PUBLIC_KEY) {
        return Err(ChipError::MalformedCertificate("not an EC public key (RSA is not supported)"));
    }
    let curve = curve_from_parameters(params.raw)?;
    let point = key.value.strip_prefix(&[0u8]).ok_or(bad)?;
    curve.decode_point(point).map_err(|_| ChipError::MalformedCertificate("public key not on its curve"))?;
    Ok((curve, point.to_vec()))
}

/// Encode an EC `SubjectPublicKeyInfo`, with explicit or named parameters.
pub fn ec_spki(curve: Curve, point: &[u8], explicit: bool) -> Vec<u8> {
    use crate::tlv::encode;
    let params = if explicit { explicit_parameters(curve) } else { encode(0x06, crate::oid::der(&curve.oid())) };
    let alg = encode(0x30, &[encode(0x06, crate::oid::der(&crate::oid::EC_PUBLIC_KEY)), params].concat());
    let mut bits = vec![0u8];
    bits.extend_from_slice(point);
    encode(0x30, &[alg, encode(0x03, &bits)].concat())
}

/// DER `SEQUENCE { INTEGER r, INTEGER s }` to plain 32-byte r ‖ s.
pub fn der_to_plain(sig: &[u8]) -> Option<Vec<u8>> {
    let seq = crate::tlv::parse_single(sig, 0x30).ok()?;
    let parts = seq.children().ok()?;
    if parts.len() != 2 || parts.iter().any(|p| p.tag != 0x02) {
        return None;
    }
    let mut out = vec![0u8; 64];
    for (i, p) in parts.iter().enumerate() {
        let v = crate::tlv::uint_value(p.value);
        if v.len() > 32 {
            return None;
        }
        out[i * 32 + 32 - v.len()..(i + 1) * 32].copy_from_slice(v);
    }
    Some(out)
}

/// Verify an ECDSA signature over a prehash (already hashed message) with a SEC1 public key.
/// `signature` is plain r‖s (`der = false`) or DER (`der = true`).
pub fn verify_prehash(curve: Curve, public_key: &[u8], prehash: &[u8], signature: &[u8], der: bool) -> bool {
    use ecdsa::signature::hazmat::PrehashVerifier;
    fn run<C>(pk: &[u8], prehash: &[u8], sig: &[u8], der: bool) -> bool
    where
        C: ecdsa::EcdsaCurve + CurveArithmetic,
        ecdsa::VerifyingKey<C>: PrehashVerifier<ecdsa::Signature<C>>,
        AffinePoint<C>: FromSec1Point<C> + ToSec1Point<C>,
        FieldBytesSize<C>: ModulusSize,
    {
        let Ok(vk) = ecdsa::VerifyingKey::<C>::from_sec1_bytes(pk) else { return false };
        let plain;
        let sig = if der {
            match der_to_plain(sig) {
                Some(p) => {
                    plain = p;
                    &plain[..]
                }
                None => return false,
            }
        } else {
            sig
        };
        let Ok(sig) = ecdsa::Signature::<C>::from_slice(sig) else { return false };
        vk.verify_prehash(prehash, &sig).is_ok()
    }
    match curve {
        Curve::BrainpoolP256r1 => run::<bp256::BrainpoolP256r1>(public_key, prehash, signature, der),
        Curve::P256 => run::<p256::NistP256>(public_key, prehash, signature, der),
    }
}

#[cfg(test)]
mod param_tests {
    use super::*;

    #[test]
    fn explicit_parameters_map_to_named_curves() {
        for curve in [Curve::BrainpoolP256r1, Curve::P256] {
            assert_eq!(curve_from_parameters(&explicit_parameters(curve)).unwrap(), curve);
            let pk = curve.generator().encode();
            for explicit in [true, false] {
                assert_eq!(parse_ec_spki(&ec_spki(curve, &pk, explicit)).unwrap(), (curve, pk.clone()));
            }
        }
        // A changed coefficient is refused.
        let mut p = explicit_parameters(Curve::P256);
        let pos = p.len() - 40;
        p[pos] ^= 1;
        assert!(curve_from_parameters(&p).is_err());
        assert!(parse_ec_spki(&[0x30, 0x00]).is_err());
    }
}
