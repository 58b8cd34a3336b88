//! `ProbeCard`: the smallest card that proves the PC/SC plumbing end to end.
//!
//! It answers what `citizen chip probe` (and JMRTD's `CardAccessFile` read) sends before any
//! access control: SELECT of the eMRTD application, and EF.CardAccess read by SFI (`B0 9C …`) or
//! SELECTed by its FID `011C` then READ BINARY, returning the CCCD's EF.CardAccess (the bytes
//! Vietnamese apps hard-code: PACE-ECDH-GM-AES-CBC-CMAC-128 on brainpoolP256r1, Chip
//! Authentication, Terminal Authentication; see shared/reference/icao9303-cccd.md §1.1). Any
//! other file is `6A 82`. The software CCCD replaces it for real reads.

use crate::apdu::{self, respond};
use crate::VirtualCard;

/// The eMRTD application identifier (LDS1), selected with `00 A4 04 0C 07 A0000002471001`.
pub const EMRTD_AID: [u8; 7] = [0xA0, 0x00, 0x00, 0x02, 0x47, 0x10, 0x01];
/// File identifier of EF.CardAccess.
pub const CARD_ACCESS_FID: [u8; 2] = [0x01, 0x1C];
/// Short file identifier of EF.CardAccess.
pub const CARD_ACCESS_SFI: u8 = 0x1C;

/// EF.CardAccess of the CCCD (public: the card gives it to anyone before PACE).
pub const CCCD_CARD_ACCESS: [u8; 54] = [
    0x31, 0x34, 0x30, 0x0d, 0x06, 0x08, 0x04, 0x00, 0x7f, 0x00, 0x07, 0x02, 0x02, 0x02, 0x02, 0x01, 0x01, 0x30, 0x0f,
    0x06, 0x0a, 0x04, 0x00, 0x7f, 0x00, 0x07, 0x02, 0x02, 0x03, 0x02, 0x02, 0x02, 0x01, 0x01, 0x30, 0x12, 0x06, 0x0a,
    0x04, 0x00, 0x7f, 0x00, 0x07, 0x02, 0x02, 0x04, 0x02, 0x02, 0x02, 0x01, 0x02, 0x02, 0x01, 0x0d,
];

/// The ATR a PC/SC reader synthesises for an ISO 14443-4 card without historical bytes.
pub const CONTACTLESS_ATR: [u8; 5] = [0x3B, 0x80, 0x80, 0x01, 0x01];

const INS_SELECT: u8 = 0xA4;
const INS_READ_BINARY: u8 = 0xB0;

/// A card holding only the eMRTD application and EF.CardAccess. See the module documentation.
#[derive(Debug, Default)]
pub struct ProbeCard {
    /// Whether EF.CardAccess is the current EF (after SELECT by FID or an SFI read).
    card_access_selected: bool,
    /// Whether the eMRTD application is selected.
    application_selected: bool,
    /// Every command seen since power-on (for tests: what did the reader send?).
    commands: Vec<Vec<u8>>,
}

impl ProbeCard {
    /// A powered-off card.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the eMRTD application is currently selected.
    pub fn application_selected(&self) -> bool {
        self.application_selected
    }

    /// The commands received since the last power-on.
    pub fn commands(&self) -> &[Vec<u8>] {
        &self.commands
    }

    fn select(&mut self, c: &apdu::Command<'_>) -> Vec<u8> {
        match (c.p1, c.data) {
            (0x04, aid) if aid == EMRTD_AID => {
                self.application_selected = true;
                self.card_access_selected = false;
                respond(&[], apdu::SW_OK)
            }
            (0x00 | 0x02, fid) if fid == CARD_ACCESS_FID => {
                self.card_access_selected = true;
                respond(&[], apdu::SW_OK)
            }
            _ => respond(&[], apdu::SW_FILE_NOT_FOUND),
        }
    }

    fn read_binary(&mut self, c: &apdu::Command<'_>) -> Vec<u8> {
        let offset = if c.p1 & 0x80 != 0 {
            if c.p1 & 0x1F != CARD_ACCESS_SFI {
                return respond(&[], apdu::SW_FILE_NOT_FOUND);
            }
            self.card_access_selected = true;
            usize::from(c.p2)
        } else {
            if !self.card_access_selected {
                return respond(&[], apdu::SW_NO_CURRENT_EF);
            }
            usize::from(u16::from_be_bytes([c.p1 & 0x7F, c.p2]))
        };
        let Some(le) = c.le else {
            return respond(&[], apdu::SW_WRONG_LENGTH);
        };
        let file = &CCCD_CARD_ACCESS[..];
        if offset > file.len() {
            return respond(&[], apdu::SW_WRONG_OFFSET);
        }
        let end = file.len().min(offset + le);
        let sw = if end - offset < le { apdu::SW_END_OF_FILE } else { apdu::SW_OK };
        respond(&file[offset..end], sw)
    }
}

impl VirtualCard for ProbeCard {
    fn atr(&self) -> Vec<u8> {
        CONTACTLESS_ATR.to_vec()
    }

    fn power_on(&mut self) {
        *self = Self::default();
    }

    fn power_off(&mut self) {
        *self = Self::default();
    }

    fn process(&mut self, command_apdu: &[u8]) -> Vec<u8> {
        self.commands.push(command_apdu.to_vec());
        let Some(c) = apdu::parse(command_apdu) else {
            return respond(&[], apdu::SW_WRONG_LENGTH);
        };
        if c.cla != 0x00 {
            return respond(&[], apdu::SW_CLA_NOT_SUPPORTED);
        }
        match c.ins {
            INS_SELECT => self.select(&c),
            INS_READ_BINARY => self.read_binary(&c),
            _ => respond(&[], apdu::SW_INS_NOT_SUPPORTED),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn the_card_access_constant_is_the_reference_hex() {
        let reference = "3134300d060804007f0007020202020101300f060a04007f000702020302020201013012060a04007f0007020204020202010202010d";
        assert_eq!(CCCD_CARD_ACCESS.to_vec(), hex(reference));
    }

    #[test]
    fn selects_the_emrtd_application_and_nothing_else() {
        let mut card = ProbeCard::new();
        card.power_on();
        assert_eq!(card.process(&hex("00A4040C07A0000002471001")), hex("9000"));
        assert!(card.application_selected());
        assert_eq!(card.process(&hex("00A4040C07A0000002471002")), hex("6A82"));
        assert_eq!(card.process(&hex("00A4020C02011E")), hex("6A82"));
        assert_eq!(card.process(&hex("00A4000C023F00")), hex("6A82"));
    }

    #[test]
    fn reads_card_access_by_sfi_in_chunks() {
        let mut card = ProbeCard::new();
        card.power_on();
        let first = card.process(&hex("00B09C0004"));
        assert_eq!(first, hex("313430 0d 9000".replace(' ', "").as_str()));
        let rest = card.process(&hex("00B0000400"));
        assert_eq!(rest[..rest.len() - 2], CCCD_CARD_ACCESS[4..]);
        assert_eq!(rest[rest.len() - 2..], apdu::SW_END_OF_FILE);
        assert_eq!(card.process(&hex("00B0004000")), hex("6B00"));
        assert_eq!(card.process(&hex("00B09D0000")), hex("6A82"), "another SFI");
    }

    #[test]
    fn reads_card_access_after_select_by_fid_and_not_before() {
        let mut card = ProbeCard::new();
        card.power_on();
        assert_eq!(card.process(&hex("00B0000010")), hex("6986"));
        assert_eq!(card.process(&hex("00A4020C02011C")), hex("9000"));
        let all = card.process(&hex("00B0000036"));
        assert_eq!(all[..54], CCCD_CARD_ACCESS);
        assert_eq!(all[54..], apdu::SW_OK);
        card.power_off();
        card.power_on();
        assert_eq!(card.process(&hex("00B0000010")), hex("6986"), "power cycle forgets the selection");
        assert_eq!(card.commands().len(), 1);
    }

    #[test]
    fn refuses_other_classes_instructions_and_bad_lengths() {
        let mut card = ProbeCard::new();
        card.power_on();
        assert_eq!(card.process(&hex("0CB09C0000")), hex("6E00"));
        assert_eq!(card.process(&hex("0084000008")), hex("6D00"));
        assert_eq!(card.process(&hex("00A404")), hex("6700"));
        assert_eq!(card.process(&hex("00B09C00")), hex("6700"), "READ BINARY without Le");
    }
}
