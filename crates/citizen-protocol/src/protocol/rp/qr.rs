//! The login request and the animated QR frame codec (format in the [module docs](super)).

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::*;

/// Why a QR frame (or a login request) was refused by the parser. Each maps to a stable error
/// code in the core's message catalogue.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QrParseError {
    /// Longer than [`QR_MAX_TEXT`] (or the binary form longer than it can be).
    #[error("payload too long")]
    TooLong,
    /// Not a citizen login code at all (wrong prefix, not base64url, wrong magic).
    #[error("not a login code")]
    NotLoginCode,
    /// A version this build does not understand.
    #[error("unsupported version {0}")]
    UnsupportedVersion(u8),
    /// Ends before the last field.
    #[error("truncated")]
    Truncated,
    /// Bytes after the MAC.
    #[error("trailing bytes")]
    TrailingBytes,
    /// A field is out of its domain.
    #[error("invalid field {0}")]
    InvalidField(&'static str),
}

/// Why a login request or frame could not be encoded: a length-prefixed field longer than its
/// one-byte prefix can state. The encoder refuses instead of truncating (writing `len as u8`
/// would shift every later field and sign or show a different request). A request that passed
/// [`LoginRequest::validate`] always encodes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// `field` (or, for `claims`, their count) is longer than `max`.
    #[error("field {field} is longer than its length prefix allows ({max})")]
    FieldTooLong {
        /// The field's wire name.
        field: &'static str,
        /// The largest length its prefix can state.
        max: usize,
    },
}

/// The unsigned content of a login request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginRequest {
    /// Same-device flow (the RP app opened a deep link) rather than a QR code on another screen.
    pub same_device: bool,
    /// Random, chosen by the RP.
    pub session_id: [u8; 16],
    /// Random, chosen by the RP; returned in the ID token.
    pub nonce: [u8; 16],
    /// Unix seconds.
    pub issued_at: i64,
    /// Unix seconds; at most [`QR_MAX_LIFETIME_SECS`] after `issued_at`.
    pub expires_at: i64,
    /// Registered RP id.
    pub rp_id: String,
    /// Origin the code is shown on.
    pub origin: String,
    /// Requested claims (from [`CLAIMS`], no duplicates).
    pub claims: Vec<String>,
}

/// A login request with the RP's signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedLoginRequest {
    /// The request.
    pub request: LoginRequest,
    /// P-256 raw `r‖s` over `REQUEST_TAG ‖ request.to_bytes()`.
    pub rp_signature: [u8; 64],
}

/// One frame of the animated QR code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QrFrame {
    /// The signed request.
    pub signed: SignedLoginRequest,
    /// Animation step: `(now − issued_at) / QR_STEP_SECS` when the frame was made.
    pub step: u32,
    /// HMAC-SHA-256 truncated to 128 bits, under the session secret.
    pub mac: [u8; 16],
}

/// One length byte then the bytes of `s`; refused when `s` is longer than 255 bytes.
fn put_str8(out: &mut Vec<u8>, field: &'static str, s: &str) -> Result<(), EncodeError> {
    out.push(len_u8(field, s.len())?);
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

/// `len` as a one-byte length prefix of `field`.
fn len_u8(field: &'static str, len: usize) -> Result<u8, EncodeError> {
    u8::try_from(len).map_err(|_| EncodeError::FieldTooLong { field, max: usize::from(u8::MAX) })
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], QrParseError> {
        if self.buf.len() < n {
            return Err(QrParseError::Truncated);
        }
        let (a, b) = self.buf.split_at(n);
        self.buf = b;
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, QrParseError> {
        Ok(self.take(1)?[0])
    }
    fn arr<const N: usize>(&mut self) -> Result<[u8; N], QrParseError> {
        Ok(self.take(N)?.try_into().expect("length checked"))
    }
    fn i64(&mut self) -> Result<i64, QrParseError> {
        Ok(i64::from_be_bytes(self.arr()?))
    }
    fn str8(&mut self, field: &'static str) -> Result<String, QrParseError> {
        let n = self.u8()? as usize;
        let b = self.take(n)?;
        if !b.iter().all(|c| c.is_ascii_graphic()) {
            return Err(QrParseError::InvalidField(field));
        }
        Ok(String::from_utf8(b.to_vec()).expect("ASCII is UTF-8"))
    }
}

/// Whether `id` is a well-formed RP id.
pub fn valid_rp_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
}

/// Whether `origin` is a serialised web origin: `https://host[:port]`, or `http://` for a
/// loopback host (development). No path, query, fragment or credentials.
/// At most [`MAX_ORIGIN_LEN`] bytes, so that it fits the frame's one-byte length prefix.
pub fn valid_origin(origin: &str) -> bool {
    if origin.len() > MAX_ORIGIN_LEN {
        return false;
    }
    let Ok(u) = url::Url::parse(origin) else { return false };
    let loopback = matches!(u.host(), Some(url::Host::Ipv4(ip)) if ip.is_loopback())
        || matches!(u.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback())
        || u.host_str() == Some("localhost");
    let scheme_ok = u.scheme() == "https" || (u.scheme() == "http" && loopback);
    scheme_ok && u.origin().ascii_serialization() == origin
}

impl LoginRequest {
    /// Check every field's domain (the parser calls this; servers call it on creation).
    pub fn validate(&self) -> Result<(), QrParseError> {
        if !valid_rp_id(&self.rp_id) {
            return Err(QrParseError::InvalidField("rp_id"));
        }
        if !valid_origin(&self.origin) {
            return Err(QrParseError::InvalidField("origin"));
        }
        // Checked: both times come from the wire, and `i64::MAX - (-1)` must not panic (found
        // by the fuzz target).
        let lifetime = self.expires_at.checked_sub(self.issued_at);
        if self.expires_at <= self.issued_at || lifetime.is_none_or(|l| l > QR_MAX_LIFETIME_SECS) {
            return Err(QrParseError::InvalidField("expires_at"));
        }
        if self.issued_at <= 0 {
            return Err(QrParseError::InvalidField("issued_at"));
        }
        if self.claims.len() > QR_MAX_CLAIMS {
            return Err(QrParseError::InvalidField("claims"));
        }
        for (i, c) in self.claims.iter().enumerate() {
            if claim_info(c).is_none() || self.claims[..i].contains(c) {
                return Err(QrParseError::InvalidField("claims"));
            }
        }
        Ok(())
    }

    /// Binary encoding (magic, version, flags, fields). Fails only on values `validate`
    /// refuses: a string over 255 bytes or more than 255 claims ([`EncodeError`]).
    pub fn to_bytes(&self) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::with_capacity(128);
        out.extend_from_slice(QR_MAGIC);
        out.push(QR_VERSION);
        out.push(u8::from(self.same_device));
        out.extend_from_slice(&self.session_id);
        out.extend_from_slice(&self.nonce);
        out.extend_from_slice(&self.issued_at.to_be_bytes());
        out.extend_from_slice(&self.expires_at.to_be_bytes());
        put_str8(&mut out, "rp_id", &self.rp_id)?;
        put_str8(&mut out, "origin", &self.origin)?;
        out.push(len_u8("claims", self.claims.len())?);
        for c in &self.claims {
            put_str8(&mut out, "claims", c)?;
        }
        Ok(out)
    }

    /// The bytes the RP signs.
    pub fn signing_input(&self) -> Result<Vec<u8>, EncodeError> {
        let mut m = REQUEST_TAG.to_vec();
        m.extend_from_slice(&self.to_bytes()?);
        Ok(m)
    }

    /// Session id as base64url (the form used in JSON bodies and URLs).
    pub fn session_id_b64(&self) -> String {
        crate::crypto::b64(&self.session_id)
    }

    /// Nonce as base64url.
    pub fn nonce_b64(&self) -> String {
        crate::crypto::b64(&self.nonce)
    }

    fn read(r: &mut Reader<'_>) -> Result<LoginRequest, QrParseError> {
        if r.take(2).map_err(|_| QrParseError::NotLoginCode)? != QR_MAGIC {
            return Err(QrParseError::NotLoginCode);
        }
        let version = r.u8()?;
        if version != QR_VERSION {
            return Err(QrParseError::UnsupportedVersion(version));
        }
        let flags = r.u8()?;
        if flags & !1 != 0 {
            return Err(QrParseError::InvalidField("flags"));
        }
        let session_id = r.arr()?;
        let nonce = r.arr()?;
        let issued_at = r.i64()?;
        let expires_at = r.i64()?;
        let rp_id = r.str8("rp_id")?;
        let origin = r.str8("origin")?;
        let n = r.u8()? as usize;
        if n > QR_MAX_CLAIMS {
            return Err(QrParseError::InvalidField("claims"));
        }
        let mut claims = Vec::with_capacity(n);
        for _ in 0..n {
            claims.push(r.str8("claims")?);
        }
        let req = LoginRequest {
            same_device: flags & 1 == 1,
            session_id,
            nonce,
            issued_at,
            expires_at,
            rp_id,
            origin,
            claims,
        };
        req.validate()?;
        Ok(req)
    }
}

impl SignedLoginRequest {
    /// Binary encoding: request then signature.
    pub fn to_bytes(&self) -> Result<Vec<u8>, EncodeError> {
        let mut out = self.request.to_bytes()?;
        out.extend_from_slice(&self.rp_signature);
        Ok(out)
    }

    /// Strict parse of [`SignedLoginRequest::to_bytes`] (no trailing bytes).
    pub fn from_bytes(bytes: &[u8]) -> Result<SignedLoginRequest, QrParseError> {
        if bytes.len() > QR_MAX_TEXT {
            return Err(QrParseError::TooLong);
        }
        let mut r = Reader { buf: bytes };
        let request = LoginRequest::read(&mut r)?;
        let rp_signature = r.arr()?;
        if !r.buf.is_empty() {
            return Err(QrParseError::TrailingBytes);
        }
        Ok(SignedLoginRequest { request, rp_signature })
    }

    /// Verify the RP's signature with its registered key (SEC1 bytes). A request that cannot be
    /// encoded was signed by no one: [`SigError::Mismatch`](crate::crypto::SigError::Mismatch).
    pub fn verify_rp_signature(&self, rp_public_key: &[u8]) -> Result<(), crate::crypto::SigError> {
        let input = self.request.signing_input().map_err(|_| crate::crypto::SigError::Mismatch)?;
        crate::crypto::verify_wire_signature(rp_public_key, &input, &crate::crypto::b64(&self.rp_signature))
    }
}

/// The animation step at `now` for a request issued at `issued_at` (0 before issue).
pub fn step_at(issued_at: i64, now: i64) -> u32 {
    let s = (now - issued_at).max(0) / QR_STEP_SECS;
    u32::try_from(s).unwrap_or(u32::MAX)
}

impl QrFrame {
    /// Make the frame for `step` under `session_secret`.
    pub fn new(signed: SignedLoginRequest, step: u32, session_secret: &[u8]) -> Result<QrFrame, EncodeError> {
        let mac = frame_mac(session_secret, &signed.to_bytes()?, step);
        Ok(QrFrame { signed, step, mac })
    }

    /// Binary encoding.
    pub fn to_bytes(&self) -> Result<Vec<u8>, EncodeError> {
        let mut out = self.signed.to_bytes()?;
        out.extend_from_slice(&self.step.to_be_bytes());
        out.extend_from_slice(&self.mac);
        Ok(out)
    }

    /// The text shown in the QR code: [`QR_PREFIX`] then base64url.
    pub fn to_text(&self) -> Result<String, EncodeError> {
        Ok(format!("{QR_PREFIX}{}", crate::crypto::b64(&self.to_bytes()?)))
    }

    /// Strict parse of the QR text. Checks size first, then prefix, canonical base64url, magic,
    /// version, every field, and that nothing follows the MAC. Does not check signature, MAC or
    /// time: those need the registry, the session secret and a clock.
    pub fn parse(text: &str) -> Result<QrFrame, QrParseError> {
        if text.len() > QR_MAX_TEXT {
            return Err(QrParseError::TooLong);
        }
        let body = text.strip_prefix(QR_PREFIX).ok_or(QrParseError::NotLoginCode)?;
        let bytes = crate::crypto::unb64(body).ok_or(QrParseError::NotLoginCode)?;
        let mut r = Reader { buf: &bytes };
        let request = LoginRequest::read(&mut r)?;
        let rp_signature = r.arr()?;
        let step = u32::from_be_bytes(r.arr()?);
        let mac = r.arr()?;
        if !r.buf.is_empty() {
            return Err(QrParseError::TrailingBytes);
        }
        Ok(QrFrame { signed: SignedLoginRequest { request, rp_signature }, step, mac })
    }

    /// Constant-time check of the MAC under `session_secret`.
    /// A frame that cannot be encoded has no valid MAC.
    pub fn verify_mac(&self, session_secret: &[u8]) -> bool {
        let Ok(signed) = self.signed.to_bytes() else { return false };
        // Truncated comparison through the hmac crate's constant-time verifier.
        frame_hmac(session_secret, &signed, self.step).verify_truncated_left(&self.mac).is_ok()
    }
}

fn frame_hmac(secret: &[u8], signed_bytes: &[u8], step: u32) -> Hmac<Sha256> {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes any key length");
    m.update(FRAME_TAG);
    m.update(signed_bytes);
    m.update(&step.to_be_bytes());
    m
}

fn frame_mac(secret: &[u8], signed_bytes: &[u8], step: u32) -> [u8; 16] {
    let full = frame_hmac(secret, signed_bytes, step).finalize().into_bytes();
    full[..16].try_into().expect("32 ≥ 16")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> LoginRequest {
        LoginRequest {
            same_device: false,
            session_id: [7; 16],
            nonce: [9; 16],
            issued_at: 1_780_000_000,
            expires_at: 1_780_000_120,
            rp_id: "dvc-demo".into(),
            origin: "https://dichvucong.example.gov.vn".into(),
            claims: vec!["full_name".into(), "birthdate".into()],
        }
    }

    fn frame() -> QrFrame {
        QrFrame::new(SignedLoginRequest { request: request(), rp_signature: [3; 64] }, 5, b"secret").unwrap()
    }

    #[test]
    fn frame_round_trips_and_fits_a_qr_code() {
        let f = frame();
        let text = f.to_text().unwrap();
        assert!(text.len() < 400, "{}", text.len());
        assert_eq!(QrFrame::parse(&text).unwrap(), f);
        assert!(f.verify_mac(b"secret"));
        assert!(!f.verify_mac(b"other"));
        let mut next = f.clone();
        next.step += 1;
        assert!(!next.verify_mac(b"secret"), "the MAC binds the step");
    }

    #[test]
    fn parser_is_strict() {
        let f = frame();
        let bytes = f.to_bytes().unwrap();
        let enc = |b: &[u8]| format!("{QR_PREFIX}{}", crate::crypto::b64(b));
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert_eq!(QrFrame::parse(&enc(&trailing)), Err(QrParseError::TrailingBytes));
        assert_eq!(QrFrame::parse(&enc(&bytes[..bytes.len() - 1])), Err(QrParseError::Truncated));
        let mut v2 = bytes.clone();
        v2[2] = 2;
        assert_eq!(QrFrame::parse(&enc(&v2)), Err(QrParseError::UnsupportedVersion(2)));
        assert_eq!(QrFrame::parse(&"A".repeat(QR_MAX_TEXT + 1)), Err(QrParseError::TooLong));
        assert_eq!(QrFrame::parse("https://example.com"), Err(QrParseError::NotLoginCode));
        assert_eq!(QrFrame::parse(&format!("{QR_PREFIX}!!!")), Err(QrParseError::NotLoginCode));
        assert_eq!(QrFrame::parse(&enc(b"XX\x01")), Err(QrParseError::NotLoginCode));
        let mut flags = bytes.clone();
        flags[3] = 0x80;
        assert_eq!(QrFrame::parse(&enc(&flags)), Err(QrParseError::InvalidField("flags")));
    }

    #[test]
    fn fields_are_validated() {
        let bad = |f: fn(&mut LoginRequest), field| {
            let mut r = request();
            f(&mut r);
            let fr = QrFrame::new(SignedLoginRequest { request: r, rp_signature: [0; 64] }, 0, b"k").unwrap();
            assert_eq!(QrFrame::parse(&fr.to_text().unwrap()), Err(QrParseError::InvalidField(field)));
        };
        bad(|r| r.origin = "http://evil.example".into(), "origin");
        bad(|r| r.origin = "https://a.example/path".into(), "origin");
        bad(|r| r.rp_id = "Bank".into(), "rp_id");
        bad(|r| r.claims.push("password".into()), "claims");
        bad(|r| r.claims.push("full_name".into()), "claims");
        bad(|r| r.expires_at = r.issued_at + QR_MAX_LIFETIME_SECS + 1, "expires_at");
        bad(|r| r.expires_at = r.issued_at, "expires_at");
        // Far apart enough that `expires_at - issued_at` overflows (fuzz finding): refused, no panic.
        bad(
            |r| {
                r.issued_at = -0x2000_0000_0000_0000;
                r.expires_at = i64::MAX - 1;
            },
            "expires_at",
        );
        assert!(valid_origin("http://127.0.0.1:8443"));
        assert!(valid_origin("https://id.example.gov.vn"));
    }

    /// `https://<labels of at most 60 letters>.vn` of exactly `len` bytes (a DNS-valid host).
    fn origin_of_len(len: usize) -> String {
        let mut host_len = len - "https://".len() - ".vn".len();
        let mut labels = vec![];
        while host_len > 0 {
            let n = host_len.min(60);
            // Never leave a remainder of one byte that would need an empty label.
            let n = if host_len - n == 1 { n - 1 } else { n };
            labels.push("b".repeat(n));
            host_len -= n;
            host_len = host_len.saturating_sub(1); // the dot before the next label
        }
        let o = format!("https://{}.vn", labels.join("."));
        assert_eq!(o.len(), len);
        o
    }

    #[test]
    fn an_over_long_origin_is_refused_at_validation() {
        let longest = origin_of_len(MAX_ORIGIN_LEN);
        assert!(valid_origin(&longest));
        assert_eq!(LoginRequest { origin: longest, ..request() }.validate(), Ok(()));
        // One byte more: the URL is fine (host under 253 bytes), but it cannot be a str8 field.
        let origin = origin_of_len(MAX_ORIGIN_LEN + 1);
        assert!(url::Url::parse(&origin).is_ok());
        assert!(!valid_origin(&origin));
        let r = LoginRequest { origin, ..request() };
        assert_eq!(r.validate(), Err(QrParseError::InvalidField("origin")));
    }

    #[test]
    fn over_long_fields_are_refused_by_the_encoder_not_truncated() {
        // Requests that skipped validation: the encoder refuses them with a typed error (in a
        // release build too) instead of writing `len as u8` and shifting every later field.
        let too_long = |field| EncodeError::FieldTooLong { field, max: 255 };
        let r = LoginRequest { origin: origin_of_len(300), ..request() };
        assert_eq!(r.to_bytes(), Err(too_long("origin")));
        assert_eq!(r.signing_input(), Err(too_long("origin")));
        let signed = SignedLoginRequest { request: r, rp_signature: [0; 64] };
        assert_eq!(signed.to_bytes(), Err(too_long("origin")));
        assert_eq!(QrFrame::new(signed.clone(), 0, b"k").map(|_| ()), Err(too_long("origin")));
        assert!(signed.verify_rp_signature(&[4; 65]).is_err());
        let r = LoginRequest { rp_id: "a".repeat(256), ..request() };
        assert_eq!(r.to_bytes(), Err(too_long("rp_id")));
        let r = LoginRequest { claims: vec!["x".repeat(256)], ..request() };
        assert_eq!(r.to_bytes(), Err(too_long("claims")));
        let r = LoginRequest { claims: vec!["sex".into(); 256], ..request() };
        assert_eq!(r.to_bytes(), Err(too_long("claims")));
        // At the limit the fields encode (and the parser's validation, not the encoder, refuses
        // what is out of domain).
        let r = LoginRequest { rp_id: "a".repeat(255), claims: vec!["sex".into(); 255], ..request() };
        assert!(r.to_bytes().is_ok());
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut seed = 0x1234_5678_u64;
        for len in 0..600 {
            let b: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect();
            assert!(QrFrame::parse(&format!("{QR_PREFIX}{}", crate::crypto::b64(&b))).is_err());
        }
    }

    #[test]
    fn steps_advance_every_two_seconds() {
        assert_eq!(step_at(100, 99), 0);
        assert_eq!(step_at(100, 101), 0);
        assert_eq!(step_at(100, 102), 1);
        assert_eq!(step_at(100, 107), 3);
    }
}
