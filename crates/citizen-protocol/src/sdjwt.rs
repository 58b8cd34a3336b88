//! The PID credential as an IETF SD-JWT (RFC 9901) with key binding, and its verification.
//!
//! The server issues each device a credential over the citizen's register record in which every
//! personal claim is *selectively disclosable* (only a salted digest sits in the signed JWT; the
//! value travels in a separate disclosure), plus a few decoy digests so the number of claims does
//! not show. The credential names the device key in `cnf.jwk`.
//!
//! To share data the device keeps only the disclosures of the claims the citizen chose and adds
//! a key-binding JWT (KB-JWT) signed with the device key over the relying party (`aud`), its
//! `nonce`, the time and the device counter (`cnt`), and a digest of the presentation
//! (`sd_hash`), so a presentation cannot be replayed to another relying party or request, and
//! cannot be extended with disclosures after signing.
//!
//! The SD-JWT encoding and the disclosure/decoy/decoding machinery come from `sd-jwt-payload`
//! (IOTA Foundation, implements RFC 9901 including the KB-JWT; see ARCHITECTURE.md). Its default
//! SHA-256 pulls in another crypto stack, so it is built without default features and
//! [`Sha256Hasher`] plugs in our `sha2`. JWS signing is ours ([`P256JwsSigner`],
//! [`RawJwsSigner`], and the device-key signer in `share.rs`), verification uses `jsonwebtoken`
//! for ES256. Error values never carry claim values.

use std::collections::HashSet;

use async_trait::async_trait;
use jsonwebtoken::DecodingKey;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use sd_jwt_payload::{Hasher, JwsSigner, KeyBindingJwt, RequiredKeyBinding, SdJwt, SdJwtBuilder};
use serde_json::{Map, Value};
use sha2::Digest;

use crate::crypto::{b64, unb64};
use crate::protocol::rp::PID_VCT;

/// `typ` header of the issued credential (RFC 9901 / SD-JWT VC).
pub const SD_JWT_TYP: &str = "dc+sd-jwt";
/// `typ` header of the key-binding JWT.
pub const KB_JWT_TYP: &str = "kb+jwt";
/// The only JWS algorithm used or accepted.
pub const ALG: &str = "ES256";
/// The only digest algorithm (`_sd_alg`).
pub const SD_ALG: &str = "sha-256";
/// Decoy digests added to every credential (hides how many claims the citizen has).
pub const DECOYS: usize = 3;
/// Longest presentation the verifier parses.
pub const MAX_PRESENTATION_LEN: usize = 32 * 1024;
/// How far in the future a KB-JWT `iat` may be (clock skew between device and verifier).
pub const KB_FUTURE_SKEW_SECS: i64 = 60;

/// SHA-256 for `sd-jwt-payload`, through the `sha2` crate the rest of the core uses.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sha256Hasher;

impl Hasher for Sha256Hasher {
    fn digest(&self, input: &[u8]) -> Vec<u8> {
        sha2::Sha256::digest(input).to_vec()
    }
    fn alg_name(&self) -> &str {
        SD_ALG
    }
}

/// Why a credential could not be issued or presented. Never carries a claim value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SdJwtError {
    /// The credential or a key is not in the expected form.
    #[error("malformed credential: {0}")]
    Malformed(&'static str),
    /// A claim name the credential does not hold (or that cannot be a claim name).
    #[error("unknown claim {0}")]
    UnknownClaim(String),
    /// The signer failed (key store refused, user cancelled…).
    #[error("signing failed: {0}")]
    Signer(String),
}

/// Why a presentation was refused. Each variant is a distinct, stable reason (see
/// [`PresentationError::code`]); none carries presented data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PresentationError {
    /// Not an SD-JWT with KB-JWT (bad structure, encoding or JSON, too long).
    #[error("malformed presentation")]
    Malformed,
    /// Algorithm other than ES256, or `_sd_alg` other than sha-256.
    #[error("unsupported algorithm")]
    UnsupportedAlgorithm,
    /// The issuer's signature does not verify with the issuer key.
    #[error("issuer signature invalid")]
    IssuerSignature,
    /// Wrong `typ`, `vct` or issuer.
    #[error("not a PID credential of this issuer")]
    WrongCredential,
    /// The credential expired.
    #[error("credential expired")]
    Expired,
    /// A disclosure is not referenced by exactly one digest (tampered, duplicated or foreign).
    #[error("disclosure not bound to the credential")]
    BadDisclosure,
    /// No key-binding JWT.
    #[error("key binding missing")]
    MissingKeyBinding,
    /// The KB-JWT `typ` is not `kb+jwt`.
    #[error("key binding type wrong")]
    KeyBindingType,
    /// `cnf.jwk` missing or not a P-256 key.
    #[error("holder key missing or invalid")]
    HolderKey,
    /// The KB-JWT signature does not verify under `cnf.jwk`.
    #[error("key binding signature invalid")]
    KeyBindingSignature,
    /// Meant for another relying party.
    #[error("presentation for another audience")]
    WrongAudience,
    /// Bound to another request (a replay).
    #[error("presentation nonce does not match")]
    WrongNonce,
    /// The KB-JWT is too old or from the future.
    #[error("presentation stale")]
    Stale,
    /// `sd_hash` does not cover exactly the presented credential and disclosures.
    #[error("sd_hash mismatch")]
    BadSdHash,
}

impl PresentationError {
    /// The relying-party wire code ([`crate::protocol::rp::codes`]) for this refusal.
    pub fn code(self) -> &'static str {
        use crate::protocol::rp::codes;
        match self {
            PresentationError::WrongAudience => codes::PRESENTATION_WRONG_AUDIENCE,
            PresentationError::WrongNonce => codes::PRESENTATION_REPLAYED,
            _ => codes::PRESENTATION_INVALID,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Compact JWS helpers (ES256)
// ---------------------------------------------------------------------------------------------

/// `base64url(header) . base64url(payload)`: what an ES256 JWS signs.
pub fn jws_signing_input(header: &Map<String, Value>, payload: &Map<String, Value>) -> String {
    let h = serde_json::to_vec(header).expect("a JSON map serialises");
    let p = serde_json::to_vec(payload).expect("a JSON map serialises");
    format!("{}.{}", b64(&h), b64(&p))
}

fn require_es256(header: &Map<String, Value>) -> Result<(), SdJwtError> {
    match header.get("alg").and_then(Value::as_str) {
        Some(ALG) => Ok(()),
        _ => Err(SdJwtError::Signer("only ES256 is supported".into())),
    }
}

/// A JWS signer over an in-memory P-256 key: the server's hosted relying parties and tests.
/// Devices never use it (their key lives in the platform key store).
pub struct P256JwsSigner {
    key: SigningKey,
    kid: Option<String>,
}

impl P256JwsSigner {
    /// Sign with `key`, naming it `kid` in the header when given.
    pub fn new(key: SigningKey, kid: Option<String>) -> Self {
        P256JwsSigner { key, kid }
    }

    /// Compact JWS over `payload` with `header` (`alg` and `kid` are set here).
    pub fn sign_compact(&self, header: &Map<String, Value>, payload: &Map<String, Value>) -> String {
        let mut h = header.clone();
        h.insert("alg".into(), ALG.into());
        if let Some(kid) = &self.kid {
            h.insert("kid".into(), kid.clone().into());
        }
        let input = jws_signing_input(&h, payload);
        let sig: Signature = self.key.sign(input.as_bytes());
        format!("{input}.{}", b64(&crate::crypto::low_s(sig).to_bytes()))
    }
}

#[async_trait]
impl JwsSigner for P256JwsSigner {
    type Error = SdJwtError;
    async fn sign(&self, header: &Map<String, Value>, payload: &Map<String, Value>) -> Result<Vec<u8>, SdJwtError> {
        require_es256(header)?;
        Ok(self.sign_compact(header, payload).into_bytes())
    }
}

/// A JWS signer over a function that returns the raw `r‖s` ES256 signature of the signing input:
/// for keys whose private half the caller cannot hand out (the server's token key).
pub struct RawJwsSigner<F> {
    sign: F,
    kid: Option<String>,
}

impl<F: Fn(&[u8]) -> Result<Vec<u8>, String> + Send + Sync> RawJwsSigner<F> {
    /// Sign through `sign`, naming the key `kid`.
    pub fn new(sign: F, kid: Option<String>) -> Self {
        RawJwsSigner { sign, kid }
    }
}

#[async_trait]
impl<F: Fn(&[u8]) -> Result<Vec<u8>, String> + Send + Sync> JwsSigner for RawJwsSigner<F> {
    type Error = SdJwtError;
    async fn sign(&self, header: &Map<String, Value>, payload: &Map<String, Value>) -> Result<Vec<u8>, SdJwtError> {
        require_es256(header)?;
        let mut h = header.clone();
        if let Some(kid) = &self.kid {
            h.insert("kid".into(), kid.clone().into());
        }
        let input = jws_signing_input(&h, payload);
        let sig = (self.sign)(input.as_bytes()).map_err(SdJwtError::Signer)?;
        if sig.len() != 64 {
            return Err(SdJwtError::Signer("signature is not raw r||s".into()));
        }
        Ok(format!("{input}.{}", b64(&sig)).into_bytes())
    }
}

/// A verified compact JWS: its header and payload.
#[derive(Clone, Debug)]
pub struct VerifiedJws {
    /// Protected header.
    pub header: Map<String, Value>,
    /// Payload bytes (JSON).
    pub payload: Vec<u8>,
}

/// Verify a compact ES256 JWS with a P-256 key: exactly three canonical base64url parts, header
/// `alg` ES256, raw `r‖s` signature. Used for relying parties' share requests.
pub fn verify_es256_jws(jws: &str, key: &VerifyingKey) -> Option<VerifiedJws> {
    if jws.len() > MAX_PRESENTATION_LEN {
        return None;
    }
    let mut parts = jws.split('.');
    let (h, p, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let header: Map<String, Value> = serde_json::from_slice(&unb64(h)?).ok()?;
    if header.get("alg").and_then(Value::as_str) != Some(ALG) {
        return None;
    }
    let sig = Signature::from_slice(&unb64(s)?).ok()?;
    // Low-S enforced (crate::crypto::verify refuses the high twin).
    crate::crypto::verify(key, format!("{h}.{p}").as_bytes(), &sig).ok()?;
    Some(VerifiedJws { header, payload: unb64(p)? })
}

/// The public JWK (`kty` EC, `crv` P-256, `x`, `y`) of a P-256 key given as SEC1 or SPKI bytes.
pub fn jwk_from_public_key(public_key: &[u8]) -> Option<Map<String, Value>> {
    let vk = crate::crypto::parse_public_key(public_key).ok()?;
    let point = vk.to_encoded_point(false);
    let mut m = Map::new();
    m.insert("kty".into(), "EC".into());
    m.insert("crv".into(), "P-256".into());
    m.insert("x".into(), b64(point.x()?).into());
    m.insert("y".into(), b64(point.y()?).into());
    Some(m)
}

fn decoding_key_from_jwk(jwk: &Map<String, Value>) -> Option<DecodingKey> {
    if jwk.get("kty")?.as_str()? != "EC" || jwk.get("crv")?.as_str()? != "P-256" {
        return None;
    }
    let (x, y) = (jwk.get("x")?.as_str()?, jwk.get("y")?.as_str()?);
    // Validate the point ourselves (jsonwebtoken would only fail at verification).
    let mut sec1 = vec![4u8];
    sec1.extend(unb64(x).filter(|v| v.len() == 32)?);
    sec1.extend(unb64(y).filter(|v| v.len() == 32)?);
    VerifyingKey::from_sec1_bytes(&sec1).ok()?;
    DecodingKey::from_ec_components(x, y).ok()
}

// ---------------------------------------------------------------------------------------------
// Issue and present
// ---------------------------------------------------------------------------------------------

fn pointer(name: &str) -> Result<String, SdJwtError> {
    if name.is_empty()
        || name.contains(['/', '~'])
        || ["iss", "iat", "exp", "vct", "cnf", "status", "_sd", "_sd_alg"].contains(&name)
    {
        return Err(SdJwtError::UnknownClaim(name.to_string()));
    }
    Ok(format!("/{name}"))
}

/// Issue a PID SD-JWT: `iss`, `iat`, `exp`, `vct` = [`PID_VCT`] and `cnf.jwk` = the device key
/// in clear; every entry of `claims` selectively disclosable; [`DECOYS`] decoy digests. The
/// result is `<issuer JWT>~<disclosure>~…~` (no KB-JWT).
pub async fn issue_pid<S: JwsSigner>(
    claims: &Map<String, Value>,
    device_jwk: &Map<String, Value>,
    issuer: &str,
    iat: i64,
    exp: i64,
    level: u8,
    signer: &S,
) -> Result<String, SdJwtError> {
    issue_pid_with_status(claims, device_jwk, issuer, iat, exp, level, None, signer).await
}

/// [`issue_pid`] with an entry in a token status list (`status.status_list {idx, uri}` in
/// clear, as the documents carry it): the issuer can then revoke this credential, e.g. when a
/// correction of the register changes a claim it carries (decision 50).
#[allow(clippy::too_many_arguments)]
pub async fn issue_pid_with_status<S: JwsSigner>(
    claims: &Map<String, Value>,
    device_jwk: &Map<String, Value>,
    issuer: &str,
    iat: i64,
    exp: i64,
    level: u8,
    status: Option<(u64, &str)>,
    signer: &S,
) -> Result<String, SdJwtError> {
    let mut object = Map::new();
    if let Some((idx, uri)) = status {
        object.insert("status".into(), serde_json::json!({ "status_list": { "idx": idx, "uri": uri } }));
    }
    object.insert("iss".into(), issuer.into());
    object.insert("iat".into(), iat.into());
    object.insert("exp".into(), exp.into());
    object.insert("vct".into(), PID_VCT.into());
    // The identity level (1 or 2, decision 30) is about the credential, not the citizen's
    // data: always visible, never a disclosure.
    object.insert(PID_LEVEL_CLAIM.into(), level.into());
    let mut paths = Vec::with_capacity(claims.len());
    for (k, v) in claims {
        paths.push(pointer(k)?);
        object.insert(k.clone(), v.clone());
    }
    let bad = |_| SdJwtError::Malformed("credential encoding");
    let mut b = SdJwtBuilder::new_with_hasher(Value::Object(object), Sha256Hasher).map_err(bad)?;
    for p in &paths {
        b = b.make_concealable(p).map_err(bad)?;
    }
    let sd = b
        .add_decoys("", DECOYS)
        .map_err(bad)?
        .header("typ", SD_JWT_TYP)
        .require_key_binding(RequiredKeyBinding::Jwk(device_jwk.clone()))
        .finish(signer, ALG)
        .await
        .map_err(|e| SdJwtError::Signer(e.to_string()))?;
    Ok(sd.presentation())
}

/// What the holder reads from its own credential.
#[derive(Clone, Debug, PartialEq)]
pub struct CredentialInfo {
    /// The claim names it can disclose.
    pub claims: Vec<String>,
    /// The holder key it is bound to (`cnf.jwk`).
    pub holder_jwk: Map<String, Value>,
    /// Expiry (Unix seconds).
    pub expires_at: i64,
    /// Identity level the issuer vouched for (`level`; 1 when absent).
    pub level: u8,
    /// The disclosable claims' values (the holder's own data).
    pub values: Map<String, Value>,
    /// Its entry in a token status list (`status.status_list {idx, uri}`), when it has one.
    pub status: Option<(u64, String)>,
    /// Issue time (`iat`; 0 when absent).
    pub issued_at: i64,
}

/// The always-visible PID claim carrying the account's identity level (1 or 2).
pub const PID_LEVEL_CLAIM: &str = "level";

/// The payload of the PID credential's issuer-signed JWT (the part before the first `~`), as a
/// JWT kind: decoding it through [`crate::crypto::decode_es256`] requires `typ` `dc+sd-jwt`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct PidIssuerPayload(pub Map<String, Value>);

impl crate::jwt::JwtKind for PidIssuerPayload {
    const TYP: &'static str = SD_JWT_TYP;
}

/// Read a credential's disclosable claim names, `cnf.jwk` and `exp` (no signature check: the
/// holder reads its own credential, whose signature it checked on receipt).
pub fn inspect(sd_jwt: &str) -> Result<CredentialInfo, SdJwtError> {
    let sd = SdJwt::parse(sd_jwt).map_err(|_| SdJwtError::Malformed("not an SD-JWT"))?;
    let claims = sd.disclosures().iter().filter_map(|d| d.claim_name.clone()).collect();
    let Some(RequiredKeyBinding::Jwk(holder_jwk)) = sd.required_key_bind().cloned() else {
        return Err(SdJwtError::Malformed("no cnf.jwk"));
    };
    let expires_at = sd.claims().get("exp").and_then(Value::as_i64).ok_or(SdJwtError::Malformed("no exp"))?;
    let level = sd
        .claims()
        .get(PID_LEVEL_CLAIM)
        .map(|v| v.as_u64().and_then(|l| u8::try_from(l).ok()).ok_or(SdJwtError::Malformed("level")))
        .transpose()?
        .unwrap_or(1);
    let values =
        sd.disclosures().iter().filter_map(|d| d.claim_name.clone().map(|n| (n, d.claim_value.clone()))).collect();
    let st = &sd.claims().get("status").and_then(|s| s.get("status_list")).cloned().unwrap_or(Value::Null);
    let status = st["idx"].as_u64().zip(st["uri"].as_str().map(str::to_string));
    let issued_at = sd.claims().get("iat").and_then(Value::as_i64).unwrap_or(0);
    Ok(CredentialInfo { claims, holder_jwk, expires_at, level, values, status, issued_at })
}

/// Present `sd_jwt` revealing only the claims in `disclose` (every other disclosure is dropped),
/// with a KB-JWT over `aud`, `nonce`, `iat`, `cnt` = `counter` and `sd_hash`, signed by
/// `signer` (the device key).
pub async fn present<S: JwsSigner>(
    sd_jwt: &str,
    disclose: &[&str],
    aud: &str,
    nonce: &str,
    iat: i64,
    counter: u64,
    signer: &S,
) -> Result<String, SdJwtError> {
    let sd = SdJwt::parse(sd_jwt).map_err(|_| SdJwtError::Malformed("not an SD-JWT"))?;
    if sd.key_binding_jwt().is_some() {
        return Err(SdJwtError::Malformed("already key-bound"));
    }
    let mut b = sd.into_presentation(&Sha256Hasher).map_err(|_| SdJwtError::Malformed("digest algorithm"))?;
    b = b.conceal_all();
    for name in disclose {
        b = b.disclose(&pointer(name)?).map_err(|_| SdJwtError::UnknownClaim(name.to_string()))?;
    }
    let (mut sd, _omitted) = b.finish();
    // The KB-JWT is assembled here rather than with the crate's builder, whose future holds a
    // `&dyn Hasher` (not `Sync`) across the signer's await and so could not run on a
    // multi-threaded executor.
    let mut header = Map::new();
    header.insert("typ".into(), KB_JWT_TYP.into());
    header.insert("alg".into(), ALG.into());
    let mut claims = Map::new();
    claims.insert("iat".into(), iat.into());
    claims.insert("aud".into(), aud.into());
    claims.insert("nonce".into(), nonce.into());
    claims.insert("cnt".into(), counter.into());
    claims.insert("sd_hash".into(), Sha256Hasher.encoded_digest(&sd.presentation()).into());
    let jws = signer.sign(&header, &claims).await.map_err(|e| SdJwtError::Signer(e.to_string()))?;
    let jws = String::from_utf8(jws).map_err(|_| SdJwtError::Signer("signer returned non-UTF-8".into()))?;
    let kb: KeyBindingJwt = jws.parse().map_err(|_| SdJwtError::Signer("signer returned a malformed JWS".into()))?;
    sd.attach_key_binding_jwt(kb);
    Ok(sd.presentation())
}

// ---------------------------------------------------------------------------------------------
// Verify
// ---------------------------------------------------------------------------------------------

/// What the verifier expects of a presentation.
pub struct PresentationCheck<'a> {
    /// The issuer's verifying key (the identity server's JWKS entry).
    pub issuer_key: &'a DecodingKey,
    /// Expected `iss` of the credential.
    pub issuer: &'a str,
    /// The verifier's own id (the KB-JWT `aud`).
    pub audience: &'a str,
    /// The nonce of the request this answers.
    pub nonce: &'a str,
    /// Unix seconds now.
    pub now: i64,
    /// Oldest acceptable KB-JWT `iat`, in seconds before `now`.
    pub max_age_secs: i64,
}

/// A verified presentation.
#[derive(Clone, Debug, PartialEq)]
pub struct VerifiedPresentation {
    /// Exactly the disclosed claims.
    pub claims: Map<String, Value>,
    /// The device counter in the KB-JWT (`cnt`), when present.
    pub counter: Option<u64>,
    /// KB-JWT `iat`.
    pub issued_at: i64,
}

struct Jws<'a> {
    header: Map<String, Value>,
    payload: Map<String, Value>,
    input: &'a str,
    signature: &'a str,
}

fn split_jws(jws: &str) -> Result<Jws<'_>, PresentationError> {
    use PresentationError::Malformed;
    let (input, signature) = jws.rsplit_once('.').ok_or(Malformed)?;
    let (h, p) = input.split_once('.').ok_or(Malformed)?;
    if p.contains('.') || unb64(signature).is_none() {
        return Err(Malformed);
    }
    let header = serde_json::from_slice(&unb64(h).ok_or(Malformed)?).map_err(|_| Malformed)?;
    let payload = serde_json::from_slice(&unb64(p).ok_or(Malformed)?).map_err(|_| Malformed)?;
    Ok(Jws { header, payload, input, signature })
}

fn es256_verifies(j: &Jws<'_>, key: &DecodingKey) -> Result<bool, PresentationError> {
    if j.header.get("alg").and_then(Value::as_str) != Some(ALG) {
        return Err(PresentationError::UnsupportedAlgorithm);
    }
    // Verified with p256 (low-S enforced), not jsonwebtoken's crypto backend: see
    // `crypto::verify_es256_compact` for why.
    let jsonwebtoken::DecodingKeyKind::SecretOrDer(sec1) = key.kind() else { return Ok(false) };
    let Ok(vk) = VerifyingKey::from_sec1_bytes(sec1) else { return Ok(false) };
    let sig = unb64(j.signature).and_then(|b| Signature::from_slice(&b).ok());
    Ok(sig.is_some_and(|sig| crate::crypto::verify(&vk, j.input.as_bytes(), &sig).is_ok()))
}

/// Verify a presentation as a relying party: issuer signature (ES256), `typ`, `vct`, `iss`,
/// `exp`, `_sd_alg`, every disclosure (object property or RFC 9901 array element) referenced
/// exactly once, KB-JWT present with `typ` `kb+jwt` and a signature under `cnf.jwk`, then `aud`,
/// `nonce`, `iat` window and `sd_hash`. Returns only the disclosed claims (an array with
/// element disclosures shows just the disclosed elements).
pub fn verify_presentation(
    presentation: &str,
    check: &PresentationCheck<'_>,
) -> Result<VerifiedPresentation, PresentationError> {
    verify_presentation_of(presentation, check, PID_VCT)
}

/// [`verify_presentation`] of a credential of type `vct` (an SD-JWT VC of the documents wallet,
/// decision 52) rather than the PID.
pub fn verify_presentation_of(
    presentation: &str,
    check: &PresentationCheck<'_>,
    vct: &str,
) -> Result<VerifiedPresentation, PresentationError> {
    use PresentationError as E;
    if presentation.len() > MAX_PRESENTATION_LEN || !presentation.is_ascii() {
        return Err(E::Malformed);
    }
    let (bound, kb) = presentation.rsplit_once('~').ok_or(E::Malformed)?;
    let bound = &presentation[..bound.len() + 1]; // `<jwt>~<d>~…~`, what sd_hash covers
    let mut parts = bound.split('~');
    let issuer_jwt = parts.next().ok_or(E::Malformed)?;
    let disclosures: Vec<&str> = parts.filter(|s| !s.is_empty()).collect();
    if bound.matches('~').count() != disclosures.len() + 1 {
        return Err(E::Malformed); // empty disclosure between separators
    }

    // 1. Issuer JWT.
    let jwt = split_jws(issuer_jwt)?;
    if !es256_verifies(&jwt, check.issuer_key)? {
        return Err(E::IssuerSignature);
    }
    if jwt.header.get("typ").and_then(Value::as_str) != Some(SD_JWT_TYP)
        || jwt.payload.get("vct").and_then(Value::as_str) != Some(vct)
        || jwt.payload.get("iss").and_then(Value::as_str) != Some(check.issuer)
    {
        return Err(E::WrongCredential);
    }
    match jwt.payload.get("exp").and_then(Value::as_i64) {
        Some(exp) if exp > check.now => {}
        Some(_) => return Err(E::Expired),
        None => return Err(E::Malformed),
    }
    if jwt.payload.get("_sd_alg").and_then(Value::as_str) != Some(SD_ALG) {
        return Err(E::UnsupportedAlgorithm);
    }

    // 2. Disclosures: each digest referenced exactly once (the decoder refuses unreferenced and
    // doubly referenced digests; identical disclosures would collapse in its map, so refuse
    // them first).
    let mut seen = HashSet::new();
    if !disclosures.iter().all(|d| seen.insert(*d)) {
        return Err(E::BadDisclosure);
    }
    if kb.is_empty() {
        return Err(E::MissingKeyBinding);
    }
    let kbj = split_jws(kb)?;
    if kbj.header.get("typ").and_then(Value::as_str) != Some(KB_JWT_TYP) {
        return Err(E::KeyBindingType);
    }
    // Parsed without the KB-JWT (checked here, not by the crate).
    let sd = SdJwt::parse(bound).map_err(|e| match e {
        sd_jwt_payload::Error::InvalidDisclosure(_) => E::BadDisclosure,
        _ => E::Malformed,
    })?;
    let disclosed_names = disclosed_top_level_claims(&jwt.payload, sd.disclosures());
    let cnf = match sd.required_key_bind() {
        Some(RequiredKeyBinding::Jwk(jwk)) => decoding_key_from_jwk(jwk).ok_or(E::HolderKey)?,
        _ => return Err(E::HolderKey),
    };
    let decoded = sd.clone().into_disclosed_object(&Sha256Hasher).map_err(|_| E::BadDisclosure)?;

    // 3. Key binding.
    if !es256_verifies(&kbj, &cnf)? {
        return Err(E::KeyBindingSignature);
    }
    if kbj.payload.get("aud").and_then(Value::as_str) != Some(check.audience) {
        return Err(E::WrongAudience);
    }
    if kbj.payload.get("nonce").and_then(Value::as_str) != Some(check.nonce) {
        return Err(E::WrongNonce);
    }
    let iat = kbj.payload.get("iat").and_then(Value::as_i64).ok_or(E::Malformed)?;
    if iat < check.now - check.max_age_secs || iat > check.now + KB_FUTURE_SKEW_SECS {
        return Err(E::Stale);
    }
    if kbj.payload.get("sd_hash").and_then(Value::as_str) != Some(Sha256Hasher.encoded_digest(bound).as_str()) {
        return Err(E::BadSdHash);
    }
    let counter = kbj.payload.get("cnt").and_then(Value::as_u64);

    let claims = disclosed_names.iter().filter_map(|n| decoded.get(n).map(|v| (n.clone(), v.clone()))).collect();
    Ok(VerifiedPresentation { claims, counter, issued_at: iat })
}

/// The top-level claims a presentation discloses something of: the names of the top-level
/// object-property disclosures (digest in the payload's `_sd`), and every always-visible claim
/// whose value references a presented disclosure (an array with RFC 9901 array-element
/// disclosures, `{"...": digest}`, or an object with a nested `_sd`). That every presented
/// disclosure is referenced exactly once somewhere is the decoder's check
/// (`into_disclosed_object`), done before.
fn disclosed_top_level_claims(payload: &Map<String, Value>, presented: &[sd_jwt_payload::Disclosure]) -> Vec<String> {
    let digests: Vec<String> = presented.iter().map(|d| Sha256Hasher.encoded_digest(d.as_str())).collect();
    let top_sd: HashSet<&str> =
        payload.get("_sd").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    let mut names: Vec<String> = presented
        .iter()
        .zip(&digests)
        .filter(|(_, digest)| top_sd.contains(digest.as_str()))
        .filter_map(|(d, _)| d.claim_name.clone())
        .collect();
    for (k, v) in payload {
        if k == "_sd" || k == "_sd_alg" || k == "cnf" || names.contains(k) {
            continue;
        }
        // Digests are base64url SHA-256 (43 characters), so a quoted occurrence in the claim's
        // JSON is a reference to that disclosure.
        let text = v.to_string();
        if digests.iter().any(|d| text.contains(&format!("\"{d}\""))) {
            names.push(k.clone());
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ISS: &str = "https://id.example.gov.vn";
    const NOW: i64 = 1_780_000_000;
    const ADDRESS: &str = "Số 1 Đường Thử Nghiệm, Phường Hoàn Kiếm, Hà Nội (địa chỉ giả định)";

    fn issuer_key() -> SigningKey {
        SigningKey::from_slice(&[11u8; 32]).unwrap()
    }
    fn device_key() -> SigningKey {
        SigningKey::from_slice(&[22u8; 32]).unwrap()
    }
    fn decoding(sk: &SigningKey) -> DecodingKey {
        let jwk = jwk_from_public_key(&crate::crypto::sec1_uncompressed(&VerifyingKey::from(sk))).unwrap();
        DecodingKey::from_ec_components(jwk["x"].as_str().unwrap(), jwk["y"].as_str().unwrap()).unwrap()
    }
    fn claims() -> Map<String, Value> {
        json!({
            "full_name": "Nguyễn Văn Mẫu",
            "birthdate": "1990-01-15",
            "cccd_number": "001090000001",
            "permanent_address": ADDRESS,
            "phone": "+84900000001",
            "age_over_18": true,
        })
        .as_object()
        .unwrap()
        .clone()
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
    }

    fn credential() -> String {
        let jwk = jwk_from_public_key(&crate::crypto::sec1_uncompressed(&VerifyingKey::from(&device_key()))).unwrap();
        let signer = P256JwsSigner::new(issuer_key(), Some("k1".into()));
        block_on(issue_pid(&claims(), &jwk, ISS, NOW - 10, NOW + 365 * 86400, 1, &signer)).unwrap()
    }

    fn presentation(disclose: &[&str], aud: &str, nonce: &str) -> String {
        let signer = P256JwsSigner::new(device_key(), None);
        block_on(present(&credential(), disclose, aud, nonce, NOW, 42, &signer)).unwrap()
    }

    fn check<'a>(key: &'a DecodingKey, aud: &'a str, nonce: &'a str) -> PresentationCheck<'a> {
        PresentationCheck { issuer_key: key, issuer: ISS, audience: aud, nonce, now: NOW + 5, max_age_secs: 300 }
    }

    /// Every base64url part of a presentation decoded, joined: what an eavesdropper could read.
    fn decoded_text(p: &str) -> String {
        let mut out = String::new();
        for part in p.split(['~', '.']) {
            out.push_str(&String::from_utf8_lossy(&unb64(part).unwrap_or_default()));
            out.push('\n');
        }
        out
    }

    #[test]
    fn credential_conceals_every_claim_and_binds_the_device_key() {
        let c = credential();
        let jwt = c.split('~').next().unwrap();
        let payload = String::from_utf8(unb64(jwt.split('.').nth(1).unwrap()).unwrap()).unwrap();
        for v in ["Nguyễn", "001090000001", "Thử Nghiệm", "+84900000001", "1990-01-15"] {
            assert!(!payload.contains(v), "{v} in the signed JWT");
        }
        let p: Value = serde_json::from_str(&payload).unwrap();
        assert_eq!(p["_sd"].as_array().unwrap().len(), claims().len() + DECOYS);
        assert_eq!(p["vct"], PID_VCT);
        let info = inspect(&c).unwrap();
        assert_eq!(info.claims.len(), claims().len());
        assert_eq!(info.expires_at, NOW + 365 * 86400);
        let jwk = info.holder_jwk;
        assert_eq!(
            jwk,
            jwk_from_public_key(&crate::crypto::sec1_uncompressed(&VerifyingKey::from(&device_key()))).unwrap()
        );
        let h: Value = serde_json::from_slice(&unb64(jwt.split('.').next().unwrap()).unwrap()).unwrap();
        assert_eq!(
            (h["typ"].as_str(), h["alg"].as_str(), h["kid"].as_str()),
            (Some(SD_JWT_TYP), Some(ALG), Some("k1"))
        );
    }

    #[test]
    fn selective_presentation_reveals_only_the_chosen_claims() {
        let p = presentation(&["full_name", "birthdate"], "bank-demo", "n1");
        let key = decoding(&issuer_key());
        let v = verify_presentation(&p, &check(&key, "bank-demo", "n1")).unwrap();
        assert_eq!(v.claims.keys().collect::<Vec<_>>(), ["birthdate", "full_name"]);
        assert_eq!(v.claims["full_name"], "Nguyễn Văn Mẫu");
        assert_eq!(v.counter, Some(42));
        let text = decoded_text(&p);
        assert!(text.contains("Nguyễn Văn Mẫu"));
        for hidden in [ADDRESS, "001090000001", "+84900000001"] {
            assert!(!p.contains(hidden) && !text.contains(hidden), "{hidden} leaked");
        }
    }

    #[test]
    fn wrong_audience_nonce_age_and_key_are_refused() {
        let p = presentation(&["full_name"], "bank-demo", "n1");
        let key = decoding(&issuer_key());
        let e = |c: PresentationCheck<'_>| verify_presentation(&p, &c).unwrap_err();
        assert_eq!(e(check(&key, "dvc-demo", "n1")), PresentationError::WrongAudience);
        assert_eq!(PresentationError::WrongAudience.code(), "presentation_wrong_audience");
        assert_eq!(e(check(&key, "bank-demo", "n2")), PresentationError::WrongNonce);
        assert_eq!(PresentationError::WrongNonce.code(), "presentation_replayed");
        let mut late = check(&key, "bank-demo", "n1");
        late.now = NOW + 301;
        assert_eq!(e(late), PresentationError::Stale);
        let mut expired = check(&key, "bank-demo", "n1");
        expired.now = NOW + 366 * 86400;
        assert_eq!(e(expired), PresentationError::Expired);
        let other = decoding(&device_key());
        assert_eq!(e(check(&other, "bank-demo", "n1")), PresentationError::IssuerSignature);
        let mut iss = check(&key, "bank-demo", "n1");
        iss.issuer = "https://evil.example";
        assert_eq!(e(iss), PresentationError::WrongCredential);
    }

    #[test]
    fn tampering_is_detected() {
        let p = presentation(&["full_name", "birthdate"], "bank-demo", "n1");
        let key = decoding(&issuer_key());
        let c = check(&key, "bank-demo", "n1");
        let parts: Vec<&str> = p.split('~').collect();
        assert_eq!(parts.len(), 4);

        // A disclosure with another value (re-encoded): its digest is in no `_sd`.
        let d: Value = serde_json::from_slice(&unb64(parts[1]).unwrap()).unwrap();
        let forged = json!([d[0], d[1], "Kẻ Mạo Danh"]);
        let forged = b64(forged.to_string().as_bytes());
        let t = [parts[0], &forged, parts[2], parts[3]].join("~");
        assert_eq!(verify_presentation(&t, &c).unwrap_err(), PresentationError::BadDisclosure);

        // A disclosure of the same credential added after signing: referenced, but sd_hash breaks.
        let cred = credential();
        let signer = P256JwsSigner::new(device_key(), None);
        let p2 = block_on(present(&cred, &["full_name"], "bank-demo", "n1", NOW, 43, &signer)).unwrap();
        let q: Vec<&str> = p2.split('~').collect();
        let address = cred
            .split('~')
            .skip(1)
            .find(|d| !d.is_empty() && String::from_utf8(unb64(d).unwrap()).unwrap().contains("permanent_address"))
            .unwrap();
        let t = [q[0], q[1], address, q[2]].join("~");
        assert_eq!(verify_presentation(&t, &c).unwrap_err(), PresentationError::BadSdHash);
        // A disclosure from another issuance: referenced by no digest.
        let foreign = credential();
        let address = foreign.split('~').nth(1).unwrap();
        let t = [parts[0], parts[1], parts[2], address, parts[3]].join("~");
        assert_eq!(verify_presentation(&t, &c).unwrap_err(), PresentationError::BadDisclosure);
        // Dropping a disclosure after signing: sd_hash breaks.
        let t = [parts[0], parts[1], parts[3]].join("~");
        assert_eq!(verify_presentation(&t, &c).unwrap_err(), PresentationError::BadSdHash);
        // Duplicated disclosure.
        let t = [parts[0], parts[1], parts[1], parts[2], parts[3]].join("~");
        assert_eq!(verify_presentation(&t, &c).unwrap_err(), PresentationError::BadDisclosure);
        // No KB-JWT.
        let t = [parts[0], parts[1], parts[2], ""].join("~");
        assert_eq!(verify_presentation(&t, &c).unwrap_err(), PresentationError::MissingKeyBinding);
        // KB-JWT signed by another key.
        let other = P256JwsSigner::new(SigningKey::from_slice(&[33u8; 32]).unwrap(), None);
        let mut h = Map::new();
        h.insert("typ".into(), KB_JWT_TYP.into());
        let kb = split_jws(parts[3]).unwrap();
        let t = [parts[0], parts[1], parts[2], &other.sign_compact(&h, &kb.payload)].join("~");
        assert_eq!(verify_presentation(&t, &c).unwrap_err(), PresentationError::KeyBindingSignature);
        // KB-JWT with another typ (signed by the right key).
        let dev = P256JwsSigner::new(device_key(), None);
        let mut h2 = Map::new();
        h2.insert("typ".into(), "JWT".into());
        let t = [parts[0], parts[1], parts[2], &dev.sign_compact(&h2, &kb.payload)].join("~");
        assert_eq!(verify_presentation(&t, &c).unwrap_err(), PresentationError::KeyBindingType);
        // A flipped byte in the issuer JWT payload.
        let mut j: Vec<char> = parts[0].chars().collect();
        let i = parts[0].find('.').unwrap() + 5;
        j[i] = if j[i] == 'A' { 'B' } else { 'A' };
        let t = [&j.iter().collect::<String>(), parts[1], parts[2], parts[3]].join("~");
        assert!(matches!(
            verify_presentation(&t, &c).unwrap_err(),
            PresentationError::IssuerSignature | PresentationError::Malformed
        ));
        // Garbage.
        assert_eq!(verify_presentation("abc", &c).unwrap_err(), PresentationError::Malformed);
        assert_eq!(verify_presentation(&"a~".repeat(20_000), &c).unwrap_err(), PresentationError::Malformed);
    }

    /// A PID-shaped credential (typ, vct, iss, exp, cnf as ours) whose always-visible
    /// `nationalities` array has selectively disclosable elements (RFC 9901 §4.2.2), as other
    /// issuers (and the reference implementations) make: `full_name` and both elements concealed.
    fn credential_with_array_elements() -> String {
        let jwk = jwk_from_public_key(&crate::crypto::sec1_uncompressed(&VerifyingKey::from(&device_key()))).unwrap();
        let object = json!({
            "iss": ISS, "iat": NOW - 10, "exp": NOW + 86400, "vct": PID_VCT,
            "full_name": "Nguyễn Văn Mẫu", "nationalities": ["VN", "XX"],
        });
        let signer = P256JwsSigner::new(issuer_key(), Some("k1".into()));
        let b = SdJwtBuilder::new_with_hasher(object, Sha256Hasher)
            .unwrap()
            .make_concealable("/full_name")
            .unwrap()
            .make_concealable("/nationalities/0")
            .unwrap()
            .make_concealable("/nationalities/1")
            .unwrap()
            .header("typ", SD_JWT_TYP)
            .require_key_binding(RequiredKeyBinding::Jwk(jwk));
        block_on(b.finish(&signer, ALG)).unwrap().presentation()
    }

    /// `<jwt>~<chosen disclosures>~<KB-JWT>` over `cred`, built by hand as a holder would.
    fn present_by_hand(cred: &str, keep: &[&str]) -> String {
        let jwt = cred.split('~').next().unwrap();
        let mut bound = format!("{jwt}~");
        for d in keep {
            bound.push_str(d);
            bound.push('~');
        }
        let mut h = Map::new();
        h.insert("typ".into(), KB_JWT_TYP.into());
        let claims =
            json!({"iat": NOW, "aud": "bank-demo", "nonce": "n1", "sd_hash": Sha256Hasher.encoded_digest(&bound)});
        let kb = P256JwsSigner::new(device_key(), None).sign_compact(&h, claims.as_object().unwrap());
        format!("{bound}{kb}")
    }

    /// The disclosure of `cred` whose decoded JSON contains `needle`.
    fn disclosure_with<'a>(cred: &'a str, needle: &str) -> &'a str {
        cred.split('~')
            .skip(1)
            .find(|d| !d.is_empty() && String::from_utf8(unb64(d).unwrap()).unwrap().contains(needle))
            .unwrap()
    }

    /// RFC 9901 array-element disclosures (`[salt, value]`, referenced by `{"...": digest}` in an
    /// array): a valid presentation with one used to be refused with "disclosure not bound to the
    /// credential". Now it verifies, the array shows exactly the disclosed elements, and an
    /// element disclosure that is really unbound (another issuance, or re-encoded) is refused.
    #[test]
    fn array_element_disclosures_are_accepted_when_bound_and_refused_when_not() {
        let cred = credential_with_array_elements();
        let key = decoding(&issuer_key());
        let c = check(&key, "bank-demo", "n1");
        let (name, vn) = (disclosure_with(&cred, "full_name"), disclosure_with(&cred, "\"VN\""));
        let v = verify_presentation(&present_by_hand(&cred, &[name, vn]), &c).unwrap();
        assert_eq!(
            Value::Object(v.claims),
            json!({"full_name": "Nguyễn Văn Mẫu", "nationalities": ["VN"]}),
            "only the disclosed element"
        );
        // Only the array element: the array claim alone.
        let v = verify_presentation(&present_by_hand(&cred, &[vn]), &c).unwrap();
        assert_eq!(Value::Object(v.claims), json!({"nationalities": ["VN"]}));

        // The same element disclosure from another issuance: referenced by no digest here.
        let other = credential_with_array_elements();
        let foreign = disclosure_with(&other, "\"VN\"");
        assert_ne!(foreign, vn, "fresh salt per issuance");
        let e = verify_presentation(&present_by_hand(&cred, &[name, foreign]), &c).unwrap_err();
        assert_eq!(e, PresentationError::BadDisclosure);
        // Re-encoded with another value: its digest is in no array.
        let d: Value = serde_json::from_slice(&unb64(vn).unwrap()).unwrap();
        let forged = b64(json!([d[0], "ZZ"]).to_string().as_bytes());
        let e = verify_presentation(&present_by_hand(&cred, &[name, &forged]), &c).unwrap_err();
        assert_eq!(e, PresentationError::BadDisclosure);
        // An element disclosure presented twice.
        let e = verify_presentation(&present_by_hand(&cred, &[vn, vn]), &c).unwrap_err();
        assert_eq!(e, PresentationError::BadDisclosure);
    }

    #[test]
    fn presenting_an_unknown_claim_fails_and_reserved_names_cannot_be_issued() {
        let signer = P256JwsSigner::new(device_key(), None);
        let r = block_on(present(&credential(), &["email"], "a", "n", NOW, 1, &signer));
        assert_eq!(r.unwrap_err(), SdJwtError::UnknownClaim("email".into()));
        let mut c = claims();
        c.insert("iss".into(), "x".into());
        let jwk = jwk_from_public_key(&crate::crypto::sec1_uncompressed(&VerifyingKey::from(&device_key()))).unwrap();
        let r = block_on(issue_pid(&c, &jwk, ISS, NOW, NOW + 1, 1, &signer));
        assert_eq!(r.unwrap_err(), SdJwtError::UnknownClaim("iss".into()));
    }

    #[test]
    fn compact_jws_round_trips_and_refuses_other_keys() {
        let s = P256JwsSigner::new(issuer_key(), Some("bank-demo".into()));
        let mut h = Map::new();
        h.insert("typ".into(), "x".into());
        let jws = s.sign_compact(&h, json!({"a": 1}).as_object().unwrap());
        let v = verify_es256_jws(&jws, &VerifyingKey::from(&issuer_key())).unwrap();
        assert_eq!(v.header["kid"], "bank-demo");
        assert_eq!(v.payload, br#"{"a":1}"#);
        assert!(verify_es256_jws(&jws, &VerifyingKey::from(&device_key())).is_none());
        assert!(verify_es256_jws(&format!("{jws}.x"), &VerifyingKey::from(&issuer_key())).is_none());
    }
}
