//! The framing a BLE link carries (ISO/IEC 18013-5, BLE data retrieval): a session message is cut
//! into chunks that fit one characteristic write, each chunk led by one byte, `0x01` when more
//! chunks of the same message follow and `0x00` on the last. Sans-I/O: the shells' BLE adapters
//! (and the in-process loopback of the tests) move the chunks; [`Reassembler`] puts a message
//! back together and refuses one larger than its bound as soon as the bound is passed, so a peer
//! cannot make the phone buffer megabytes.

use crate::MdocError;

/// Leading byte of a chunk followed by more chunks of the same message.
const MORE: u8 = 0x01;
/// Leading byte of the last chunk of a message.
const LAST: u8 = 0x00;

/// Cut `message` into chunks of at most `max_chunk` bytes (leading byte included; at least 2).
/// With BLE, `max_chunk` is the negotiated ATT MTU minus 3.
pub fn split_frames(message: &[u8], max_chunk: usize) -> Vec<Vec<u8>> {
    let payload = max_chunk.max(2) - 1;
    if message.is_empty() {
        return vec![vec![LAST]];
    }
    let count = message.len().div_ceil(payload);
    message
        .chunks(payload)
        .enumerate()
        .map(|(i, chunk)| {
            let mut frame = Vec::with_capacity(chunk.len() + 1);
            frame.push(if i + 1 == count { LAST } else { MORE });
            frame.extend_from_slice(chunk);
            frame
        })
        .collect()
}

/// Reassembles the chunks of one message at a time, bounded.
#[derive(Debug)]
pub struct Reassembler {
    buffer: Vec<u8>,
    max: usize,
}

impl Reassembler {
    /// A reassembler that refuses messages larger than `max` bytes.
    pub fn new(max: usize) -> Self {
        Reassembler { buffer: Vec::new(), max }
    }

    /// Add one received chunk. Returns the whole message after its last chunk, `None` while
    /// more are expected. An invalid chunk or a message over the bound is refused and the
    /// partial message dropped.
    pub fn push(&mut self, frame: &[u8]) -> Result<Option<Vec<u8>>, MdocError> {
        let Some((&lead, chunk)) = frame.split_first() else {
            self.buffer.clear();
            return Err(MdocError::FrameInvalid("empty frame"));
        };
        if lead != MORE && lead != LAST {
            self.buffer.clear();
            return Err(MdocError::FrameInvalid("unknown leading byte"));
        }
        let size = self.buffer.len() + chunk.len();
        if size > self.max {
            self.buffer.clear();
            return Err(MdocError::TooLarge { size, max: self.max });
        }
        self.buffer.extend_from_slice(chunk);
        if lead == LAST {
            Ok(Some(std::mem::take(&mut self.buffer)))
        } else {
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_then_reassemble_is_the_identity() {
        let message: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
        for max_chunk in [2, 3, 20, 185, 512, 1001, 4096] {
            let frames = split_frames(&message, max_chunk);
            assert!(frames.iter().all(|f| f.len() <= max_chunk.max(2)));
            let mut r = Reassembler::new(1000);
            let mut out = None;
            for (i, f) in frames.iter().enumerate() {
                let got = r.push(f).unwrap();
                assert_eq!(got.is_some(), i + 1 == frames.len());
                out = got.or(out);
            }
            assert_eq!(out.unwrap(), message);
        }
    }

    #[test]
    fn oversized_message_is_refused_before_it_is_complete() {
        let frames = split_frames(&[7u8; 300], 101);
        let mut r = Reassembler::new(250);
        assert_eq!(r.push(&frames[0]).unwrap(), None);
        assert_eq!(r.push(&frames[1]).unwrap(), None);
        let err = r.push(&frames[2]).unwrap_err();
        assert_eq!(err.code(), "mdoc.too_large");
    }

    #[test]
    fn invalid_frames_are_refused() {
        let mut r = Reassembler::new(100);
        assert_eq!(r.push(&[]).unwrap_err().code(), "mdoc.frame_invalid");
        assert_eq!(r.push(&[0x02, 1, 2]).unwrap_err().code(), "mdoc.frame_invalid");
        // After a refusal the next message starts clean.
        assert_eq!(r.push(&[0x00, 9]).unwrap(), Some(vec![9]));
    }
}
