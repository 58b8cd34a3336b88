//! Command APDU decoding (ISO 7816-3 cases 1–4, short and extended) and status words, for the
//! card side.

/// `90 00`: success.
pub const SW_OK: [u8; 2] = [0x90, 0x00];
/// `62 82`: end of file reached before Le bytes were read.
pub const SW_END_OF_FILE: [u8; 2] = [0x62, 0x82];
/// `67 00`: wrong length (Lc/Le inconsistent with the APDU's length, or Le missing).
pub const SW_WRONG_LENGTH: [u8; 2] = [0x67, 0x00];
/// `69 86`: command not allowed (READ BINARY without a current EF).
pub const SW_NO_CURRENT_EF: [u8; 2] = [0x69, 0x86];
/// `6A 82`: file or application not found.
pub const SW_FILE_NOT_FOUND: [u8; 2] = [0x6A, 0x82];
/// `6B 00`: offset outside the file.
pub const SW_WRONG_OFFSET: [u8; 2] = [0x6B, 0x00];
/// `6D 00`: instruction not supported.
pub const SW_INS_NOT_SUPPORTED: [u8; 2] = [0x6D, 0x00];
/// `6E 00`: class not supported.
pub const SW_CLA_NOT_SUPPORTED: [u8; 2] = [0x6E, 0x00];

/// A decoded command APDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command<'a> {
    /// Class byte.
    pub cla: u8,
    /// Instruction byte.
    pub ins: u8,
    /// Parameter 1.
    pub p1: u8,
    /// Parameter 2.
    pub p2: u8,
    /// Command data (empty when there is no Lc).
    pub data: &'a [u8],
    /// Expected response length Ne (`00` means 256, extended `0000` 65536), `None` when absent.
    pub le: Option<usize>,
    /// Whether Lc/Le used the extended (3-byte / 2-byte) encoding.
    pub extended: bool,
}

/// Decode a command APDU; `None` when its length matches none of the ISO 7816-3 cases.
pub fn parse(apdu: &[u8]) -> Option<Command<'_>> {
    let &[cla, ins, p1, p2] = apdu.first_chunk::<4>()?;
    let body = &apdu[4..];
    let cmd = |data, le, extended| Some(Command { cla, ins, p1, p2, data, le, extended });
    let short_le = |b: u8| if b == 0 { 256 } else { usize::from(b) };
    let ext_le = |hi: u8, lo: u8| match u16::from_be_bytes([hi, lo]) {
        0 => 65536,
        n => usize::from(n),
    };
    match body {
        [] => cmd(&[], None, false),
        [le] => cmd(&[], Some(short_le(*le)), false),
        [0, hi, lo] => cmd(&[], Some(ext_le(*hi, *lo)), true),
        [0, hi, lo, rest @ ..] => {
            let lc = usize::from(u16::from_be_bytes([*hi, *lo]));
            match rest.len().checked_sub(lc)? {
                0 if lc > 0 => cmd(rest, None, true),
                2 if lc > 0 => cmd(&rest[..lc], Some(ext_le(rest[lc], rest[lc + 1])), true),
                _ => None,
            }
        }
        [lc, rest @ ..] => {
            let lc = usize::from(*lc);
            match rest.len().checked_sub(lc)? {
                0 => cmd(rest, None, false),
                1 => cmd(&rest[..lc], Some(short_le(rest[lc])), false),
                _ => None,
            }
        }
    }
}

/// `data` followed by the status word.
pub fn respond(data: &[u8], sw: [u8; 2]) -> Vec<u8> {
    let mut r = Vec::with_capacity(data.len() + 2);
    r.extend_from_slice(data);
    r.extend_from_slice(&sw);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_four_cases_short_and_extended() {
        let c = parse(&[0, 0xA4, 4, 0x0C, 2, 0x01, 0x1C]).unwrap();
        assert_eq!((c.ins, c.data, c.le, c.extended), (0xA4, &[0x01, 0x1C][..], None, false));
        let c = parse(&[0, 0xB0, 0x9C, 0, 0]).unwrap();
        assert_eq!((c.p1, c.le), (0x9C, Some(256)));
        let c = parse(&[0, 0xB0, 0, 0, 0, 0x10, 0]).unwrap();
        assert_eq!((c.le, c.extended), (Some(4096), true));
        let c = parse(&[0, 0x88, 0, 0, 0, 0, 1, 0xAA, 0, 0]).unwrap();
        assert_eq!((c.data, c.le, c.extended), (&[0xAA][..], Some(65536), true));
        let c = parse(&[0x0C, 0x2A, 0, 0]).unwrap();
        assert_eq!((c.cla, c.data, c.le), (0x0C, &[][..], None));
    }

    #[test]
    fn rejects_inconsistent_lengths() {
        assert_eq!(parse(&[0, 0xA4, 4]), None);
        assert_eq!(parse(&[0, 0xA4, 4, 0x0C, 3, 0x01, 0x1C]), None);
        assert_eq!(parse(&[0, 0xA4, 4, 0x0C, 1, 0x01, 0x1C, 0, 0]), None);
        assert_eq!(parse(&[0, 0xB0, 0, 0, 0, 0, 5, 1, 2]), None);
    }
}
