//! Command and response APDUs (ISO/IEC 7816-4), short and extended length.

use crate::error::{ChipError, Result};

/// Status word `9000`: success.
pub const SW_OK: u16 = 0x9000;

/// A command APDU.
#[derive(Clone, PartialEq, Eq)]
pub struct Command {
    /// Class byte.
    pub cla: u8,
    /// Instruction.
    pub ins: u8,
    /// Parameter 1.
    pub p1: u8,
    /// Parameter 2.
    pub p2: u8,
    /// Command data (may be empty).
    pub data: Vec<u8>,
    /// Expected response length: `None` = no response data, `Some(0)` = as much as possible
    /// (256 short, 65536 extended), otherwise the exact number.
    pub le: Option<usize>,
}

// Command data carries keys, MRZ-derived cryptograms and personal data: never print it.
impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Command({:02X} {:02X} {:02X} {:02X}, {} data bytes, le {:?})",
            self.cla,
            self.ins,
            self.p1,
            self.p2,
            self.data.len(),
            self.le
        )
    }
}

impl Command {
    /// A command without data and without response data.
    pub fn new(cla: u8, ins: u8, p1: u8, p2: u8) -> Self {
        Command { cla, ins, p1, p2, data: Vec::new(), le: None }
    }

    /// With command data.
    pub fn with_data(mut self, data: Vec<u8>) -> Self {
        self.data = data;
        self
    }

    /// With an expected length.
    pub fn with_le(mut self, le: usize) -> Self {
        self.le = Some(le);
        self
    }

    /// Whether this command needs extended-length encoding.
    pub fn is_extended(&self) -> bool {
        self.data.len() > 255 || self.le.is_some_and(|le| le > 256)
    }

    /// Encode (extended length only when needed, both Lc and Le then extended).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![self.cla, self.ins, self.p1, self.p2];
        let ext = self.is_extended();
        if !self.data.is_empty() {
            if ext {
                out.push(0);
                // A command body beyond 65,535 bytes has no encoding; saturating keeps the
                // declared length wrong rather than wrapped, and no reader step builds one.
                out.extend_from_slice(&u16::try_from(self.data.len()).unwrap_or(u16::MAX).to_be_bytes());
            } else {
                // Short form: `is_extended` is false, so the body has at most 255 bytes.
                out.push(u8::try_from(self.data.len()).unwrap_or(u8::MAX));
            }
            out.extend_from_slice(&self.data);
        }
        if let Some(le) = self.le {
            if ext {
                if self.data.is_empty() {
                    out.push(0);
                }
                // 65,536 (or more: "everything") is encoded as 0000.
                let v = u16::try_from(le).unwrap_or(0);
                out.extend_from_slice(&v.to_be_bytes());
            } else {
                // 256 is encoded as 00.
                out.push(u8::try_from(le).unwrap_or(0));
            }
        }
        out
    }

    /// Decode a command APDU (the card side). Refuses inconsistent Lc/Le encodings.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        if bytes.len() < 4 {
            return Err(ChipError::Protocol("command APDU shorter than its header"));
        }
        let (cla, ins, p1, p2) = (bytes[0], bytes[1], bytes[2], bytes[3]);
        let body = &bytes[4..];
        let mut cmd = Command::new(cla, ins, p1, p2);
        match body.len() {
            0 => {}
            1 => cmd.le = Some(if body[0] == 0 { 256 } else { usize::from(body[0]) }),
            _ if body[0] != 0 => {
                let lc = usize::from(body[0]);
                let rest = &body[1..];
                if rest.len() == lc {
                    cmd.data = rest.to_vec();
                } else if rest.len() == lc + 1 {
                    cmd.data = rest[..lc].to_vec();
                    cmd.le = Some(if rest[lc] == 0 { 256 } else { usize::from(rest[lc]) });
                } else {
                    return Err(ChipError::Protocol("Lc does not match the command length"));
                }
            }
            2 => return Err(ChipError::Protocol("truncated extended length")),
            3 => {
                let le = usize::from(u16::from_be_bytes([body[1], body[2]]));
                cmd.le = Some(if le == 0 { 65536 } else { le });
            }
            _ => {
                let lc = usize::from(u16::from_be_bytes([body[1], body[2]]));
                let rest = &body[3..];
                if lc == 0 {
                    return Err(ChipError::Protocol("extended Lc of zero"));
                }
                if rest.len() == lc {
                    cmd.data = rest.to_vec();
                } else if rest.len() == lc + 2 {
                    cmd.data = rest[..lc].to_vec();
                    let le = usize::from(u16::from_be_bytes([rest[lc], rest[lc + 1]]));
                    cmd.le = Some(if le == 0 { 65536 } else { le });
                } else {
                    return Err(ChipError::Protocol("extended Lc does not match the command length"));
                }
            }
        }
        Ok(cmd)
    }
}

/// A response APDU.
#[derive(Clone, PartialEq, Eq)]
pub struct Response {
    /// Response data.
    pub data: Vec<u8>,
    /// SW1SW2.
    pub sw: u16,
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Response({} data bytes, {:04X})", self.data.len(), self.sw)
    }
}

impl Response {
    /// Split raw response bytes into data and status word.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        if bytes.len() < 2 {
            return Err(ChipError::Protocol("response APDU shorter than its status word"));
        }
        let (data, sw) = bytes.split_at(bytes.len() - 2);
        Ok(Response { data: data.to_vec(), sw: u16::from_be_bytes([sw[0], sw[1]]) })
    }

    /// A response with data and status.
    pub fn new(data: Vec<u8>, sw: u16) -> Self {
        Response { data, sw }
    }

    /// Data followed by SW1SW2.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.data.clone();
        out.extend_from_slice(&self.sw.to_be_bytes());
        out
    }

    /// Whether the status is `9000`.
    pub fn is_ok(&self) -> bool {
        self.sw == SW_OK
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_four_cases_short_and_extended_round_trip() {
        let cases = [
            Command::new(0x00, 0xA4, 0x02, 0x0C),
            Command::new(0x00, 0xB0, 0x00, 0x00).with_le(4),
            Command::new(0x00, 0xB0, 0x00, 0x00).with_le(256),
            Command::new(0x00, 0xA4, 0x02, 0x0C).with_data(vec![0x01, 0x1E]),
            Command::new(0x00, 0x88, 0, 0).with_data(vec![1; 8]).with_le(256),
            Command::new(0x00, 0xB0, 0, 0).with_le(4096),
            Command::new(0x00, 0xB0, 0, 0).with_le(65536),
            Command::new(0x0C, 0xD6, 0, 0).with_data(vec![7; 300]),
            Command::new(0x0C, 0xB0, 0, 0).with_data(vec![7; 300]).with_le(1000),
        ];
        for c in cases {
            let enc = c.encode();
            assert_eq!(Command::decode(&enc).unwrap(), c, "{c:?} {enc:02X?}");
        }
        assert_eq!(
            Command::new(0x00, 0xA4, 0x02, 0x0C).with_data(vec![0x01, 0x1E]).encode(),
            vec![0x00, 0xA4, 0x02, 0x0C, 0x02, 0x01, 0x1E]
        );
        assert_eq!(Command::new(0, 0xB0, 0, 0).with_le(0x10000).encode(), vec![0, 0xB0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn refuses_malformed() {
        assert!(Command::decode(&[0, 0xA4, 0]).is_err());
        assert!(Command::decode(&[0, 0xA4, 0, 0, 5, 1, 2]).is_err());
        assert!(Command::decode(&[0, 0xA4, 0, 0, 0, 0, 5, 1]).is_err());
        // Found by the chip_sm_unwrap fuzz target: a two-byte body starting with 00 (neither a
        // short Le nor a complete extended length) panicked on an index.
        assert!(Command::decode(&[0x87, 0x87, 0x74, 0x87, 0x00, 0xA7]).is_err());
        assert!(Response::parse(&[0x90]).is_err());
        let r = Response::parse(&[1, 2, 0x90, 0x00]).unwrap();
        assert!(r.is_ok() && r.data == vec![1, 2]);
    }
}
