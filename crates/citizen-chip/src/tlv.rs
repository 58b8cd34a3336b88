//! BER-TLV (ISO/IEC 7816-4 and the DER subset ASN.1 uses), with bounds on every length.
//!
//! Everything read from a chip passes through here first, so parsing never panics, never reads
//! past its input and refuses indefinite lengths, tags longer than three bytes and lengths above
//! 2^24 (no CCCD file comes close).

use crate::error::{ChipError, Result};

/// One parsed TLV, borrowing from its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    /// The tag, its bytes big-endian (e.g. `0x5F1F`, `0x7F49`).
    pub tag: u32,
    /// The value bytes.
    pub value: &'a [u8],
    /// The whole encoding (tag, length and value), as read.
    pub raw: &'a [u8],
}

const MAX_LEN: usize = 1 << 24;

/// The tag and header length at the start of `input`, and the value length the header announces
/// (which may exceed the bytes present: used to learn a file's size from its first bytes).
pub fn header(input: &[u8]) -> Result<(u32, usize, usize)> {
    let first = *input.first().ok_or(ChipError::MalformedTlv("empty input"))?;
    if first == 0x00 || first == 0xFF {
        return Err(ChipError::MalformedTlv("padding byte where a tag was expected"));
    }
    let mut tag = u32::from(first);
    let mut pos = 1;
    if first & 0x1F == 0x1F {
        loop {
            let b = *input.get(pos).ok_or(ChipError::MalformedTlv("truncated tag"))?;
            tag = (tag << 8) | u32::from(b);
            pos += 1;
            if b & 0x80 == 0 {
                break;
            }
            if pos >= 3 {
                return Err(ChipError::MalformedTlv("tag longer than three bytes"));
            }
        }
    }
    let l0 = *input.get(pos).ok_or(ChipError::MalformedTlv("truncated length"))?;
    pos += 1;
    let len = if l0 < 0x80 {
        usize::from(l0)
    } else if l0 == 0x80 {
        return Err(ChipError::MalformedTlv("indefinite length"));
    } else {
        let n = usize::from(l0 & 0x7F);
        if n > 3 {
            return Err(ChipError::MalformedTlv("length field too long"));
        }
        let bytes = input.get(pos..pos + n).ok_or(ChipError::MalformedTlv("truncated length"))?;
        pos += n;
        bytes.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
    };
    if len >= MAX_LEN {
        return Err(ChipError::MalformedTlv("length too large"));
    }
    Ok((tag, pos, len))
}

/// Parse one TLV at the start of `input`; returns it and the rest.
pub fn parse_one(input: &[u8]) -> Result<(Tlv<'_>, &[u8])> {
    let (tag, hlen, len) = header(input)?;
    let end = hlen.checked_add(len).ok_or(ChipError::MalformedTlv("length overflow"))?;
    if end > input.len() {
        return Err(ChipError::MalformedTlv("value longer than its container"));
    }
    Ok((Tlv { tag, value: &input[hlen..end], raw: &input[..end] }, &input[end..]))
}

/// Parse a sequence of TLVs that fills `input` exactly.
pub fn parse_all(mut input: &[u8]) -> Result<Vec<Tlv<'_>>> {
    let mut out = Vec::new();
    while !input.is_empty() {
        let (tlv, rest) = parse_one(input)?;
        out.push(tlv);
        input = rest;
    }
    Ok(out)
}

/// Parse exactly one TLV that fills `input`, with the expected tag.
pub fn parse_single(input: &[u8], tag: u32) -> Result<Tlv<'_>> {
    let (tlv, rest) = parse_one(input)?;
    if tlv.tag != tag {
        return Err(ChipError::MalformedTlv("unexpected tag"));
    }
    if !rest.is_empty() {
        return Err(ChipError::MalformedTlv("trailing bytes"));
    }
    Ok(tlv)
}

impl<'a> Tlv<'a> {
    /// Whether the tag marks a constructed encoding (bit 6 of the first tag byte).
    pub fn is_constructed(&self) -> bool {
        let first = self.raw.first().copied().unwrap_or(0);
        first & 0x20 != 0
    }

    /// The TLVs inside a constructed value.
    pub fn children(&self) -> Result<Vec<Tlv<'a>>> {
        if !self.is_constructed() {
            return Err(ChipError::MalformedTlv("primitive value where a constructed one was expected"));
        }
        parse_all(self.value)
    }

    /// The first child with `tag`.
    pub fn child(&self, tag: u32) -> Result<Option<Tlv<'a>>> {
        Ok(self.children()?.into_iter().find(|t| t.tag == tag))
    }
}

/// Encode a length (short form below 128, long form above).
pub fn encode_len(len: usize, out: &mut Vec<u8>) {
    if len < 0x80 {
        out.push(u8::try_from(len).unwrap_or(0x7F)); // below 0x80 here
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        // At most `size_of::<usize>()` (8) length bytes.
        out.push(0x80 | u8::try_from(bytes.len() - skip).unwrap_or(0x7F));
        out.extend_from_slice(&bytes[skip..]);
    }
}

/// Encode one TLV.
pub fn encode(tag: u32, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 6);
    let tag_bytes = tag.to_be_bytes();
    let skip = tag_bytes.iter().take_while(|b| **b == 0).count().min(3);
    out.extend_from_slice(&tag_bytes[skip..]);
    encode_len(value.len(), &mut out);
    out.extend_from_slice(value);
    out
}

/// Encode a constructed TLV from already-encoded children.
pub fn encode_seq(tag: u32, children: &[&[u8]]) -> Vec<u8> {
    encode(tag, &children.concat())
}

/// DER INTEGER from unsigned big-endian bytes (leading zeros dropped, a zero added before a high bit).
pub fn der_uint(bytes: &[u8]) -> Vec<u8> {
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    let mut v: Vec<u8> = bytes[skip..].to_vec();
    if v.is_empty() || v[0] & 0x80 != 0 {
        v.insert(0, 0);
    }
    encode(0x02, &v)
}

/// The unsigned big-endian value of a DER INTEGER's content (sign byte dropped).
pub fn uint_value(content: &[u8]) -> &[u8] {
    let skip = content.iter().take_while(|b| **b == 0).count();
    &content[skip..]
}

/// A small non-negative INTEGER's value.
pub fn small_uint(content: &[u8]) -> Result<u32> {
    if content.is_empty() || content.len() > 4 || content[0] & 0x80 != 0 {
        return Err(ChipError::MalformedTlv("integer out of range"));
    }
    Ok(content.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_short_long_and_two_byte_tags() {
        for len in [0usize, 1, 127, 128, 255, 256, 65535, 70000] {
            let value = vec![0xAB; len];
            for tag in [0x04u32, 0x5F1F, 0x7F49] {
                let enc = encode(tag, &value);
                let (tlv, rest) = parse_one(&enc).unwrap();
                assert!(rest.is_empty());
                assert_eq!(tlv.tag, tag);
                assert_eq!(tlv.value.len(), len);
                assert_eq!(tlv.raw, &enc[..]);
            }
        }
    }

    #[test]
    fn refuses_truncated_indefinite_and_oversized() {
        assert!(parse_one(&[]).is_err());
        assert!(parse_one(&[0x04]).is_err());
        assert!(parse_one(&[0x04, 0x05, 1, 2]).is_err(), "value shorter than its length");
        assert!(parse_one(&[0x30, 0x80, 0, 0]).is_err(), "indefinite length");
        assert!(parse_one(&[0x04, 0x84, 0xFF, 0xFF, 0xFF, 0xFF]).is_err());
        assert!(parse_one(&[0x5F]).is_err(), "truncated two-byte tag");
        assert!(parse_one(&[0x5F, 0x80, 0x80, 0x01, 0x00]).is_err(), "four-byte tag");
        assert!(parse_single(&[0x04, 0x00, 0x00], 0x04).is_err(), "trailing bytes");
        assert!(encode(0x04, &[]).len() == 2);
    }

    #[test]
    fn children_of_a_constructed_value() {
        let inner = [encode(0x80, &[1]), encode(0x81, &[2, 3])].concat();
        let outer = encode(0x7C, &inner);
        let tlv = parse_single(&outer, 0x7C).unwrap();
        let kids = tlv.children().unwrap();
        assert_eq!(kids.len(), 2);
        assert_eq!(tlv.child(0x81).unwrap().unwrap().value, &[2, 3]);
        let prim = encode(0x04, &inner);
        assert!(parse_single(&prim, 0x04).unwrap().children().is_err());
    }

    #[test]
    fn der_integers() {
        assert_eq!(der_uint(&[0x00, 0x80]), vec![0x02, 0x02, 0x00, 0x80]);
        assert_eq!(der_uint(&[0x00]), vec![0x02, 0x01, 0x00]);
        assert_eq!(small_uint(&[0x01, 0x00]).unwrap(), 256);
        assert!(small_uint(&[0x80]).is_err());
    }
}
