//! The software CCCD (`tools/software-cccd`) as a virtual card: what `virtual-card cccd` serves
//! to pcscd, so `citizen chip read` and JMRTD read a full chip (PACE, BAC, secure messaging,
//! EF.SOD signed by the test PKI, chip and active authentication) through the real PC/SC stack.

use software_cccd::{CardOptions, SoftwareCard, TestPki, CITIZENS};

use crate::{Remover, VirtualCard};

impl VirtualCard for SoftwareCard {
    fn atr(&self) -> Vec<u8> {
        SoftwareCard::atr(self)
    }

    fn power_on(&mut self) {
        SoftwareCard::power_on(self);
    }

    fn power_off(&mut self) {
        SoftwareCard::power_off(self);
    }

    fn process(&mut self, command_apdu: &[u8]) -> Vec<u8> {
        SoftwareCard::process(self, command_apdu)
    }
}

/// How `virtual-card cccd` builds its card.
#[derive(Debug, Clone, Default)]
pub struct CccdOptions {
    /// Index into the fictitious citizens ([`software_cccd::CITIZENS`], from 0).
    pub citizen: usize,
    /// Change one character of this data group without re-signing EF.SOD (passive
    /// authentication must fail with a hash mismatch).
    pub tamper_dg: Option<u8>,
    /// A card without PACE (no EF.CardAccess): only BAC opens it.
    pub bac_only: bool,
}

/// The software CCCD of `options.citizen`, signed by the default test PKI
/// ([`TestPki::default_test`], whose CSCA `virtual-card export-csca` writes). `None` when
/// the citizen index or the data group to tamper with does not exist.
pub fn cccd_card(options: &CccdOptions) -> Option<SoftwareCard> {
    let citizen = CITIZENS.get(options.citizen)?;
    let mut card_options = CardOptions::default();
    if options.bac_only {
        card_options.pace_curve = None;
    }
    let mut card = SoftwareCard::new(citizen, &TestPki::default_test(), card_options);
    if let Some(dg) = options.tamper_dg {
        let fid = [0x01, dg];
        let tampered = tamper(card.file(fid)?)?;
        card.set_file(fid, tampered);
    }
    Some(card)
}

/// `bytes` with its last ASCII letter (below `Z`/`z`) replaced by the next one: the TLV
/// structure, the MRZ character set and UTF-8 all stay valid, only the hash changes.
pub fn tamper(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = bytes.to_vec();
    let i = out.iter().rposition(|b| matches!(b, b'A'..=b'Y' | b'a'..=b'y'))?;
    out[i] += 1;
    Some(out)
}

/// The test CSCA certificate (DER) the `cccd` card's document signer chains to: the trust
/// list for `citizen chip read --csca`.
pub fn test_csca() -> Vec<u8> {
    TestPki::default_test().csca
}

/// A card that leaves the reader after answering `n` APDUs: the next command closes the vpcd
/// connection (to pcscd a real removal) instead of being answered.
pub struct RemovingAfter {
    card: Box<dyn VirtualCard + Send>,
    left: usize,
    remover: Remover,
}

impl std::fmt::Debug for RemovingAfter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RemovingAfter({} APDUs left)", self.left)
    }
}

impl RemovingAfter {
    /// Wrap `card`; `remover` is the vpcd connection's (see [`crate::VpcdConnection::remover`]).
    pub fn new(card: Box<dyn VirtualCard + Send>, n: usize, remover: Remover) -> Self {
        RemovingAfter { card, left: n, remover }
    }
}

impl VirtualCard for RemovingAfter {
    fn atr(&self) -> Vec<u8> {
        self.card.atr()
    }

    fn power_on(&mut self) {
        self.card.power_on();
    }

    fn power_off(&mut self) {
        self.card.power_off();
    }

    fn process(&mut self, command_apdu: &[u8]) -> Vec<u8> {
        if self.left == 0 {
            self.remover.remove();
            return Vec::new();
        }
        self.left -= 1;
        self.card.process(command_apdu)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tampering_changes_one_letter_and_keeps_the_length() {
        let t = tamper(b"\x61\x03AZ<").unwrap();
        assert_eq!(t, b"\x61\x03BZ<");
        assert!(tamper(b"<<<").is_none());
    }

    #[test]
    fn a_tampered_card_differs_from_the_original_only_in_that_group() {
        let plain = cccd_card(&CccdOptions::default()).unwrap();
        let tampered = cccd_card(&CccdOptions { tamper_dg: Some(13), ..Default::default() }).unwrap();
        assert_ne!(plain.file([1, 13]), tampered.file([1, 13]));
        assert_eq!(plain.file([1, 13]).map(<[u8]>::len), tampered.file([1, 13]).map(<[u8]>::len));
        assert_eq!(plain.file([1, 0x1D]), tampered.file([1, 0x1D]), "EF.SOD is not re-signed");
        assert!(cccd_card(&CccdOptions { citizen: 99, ..Default::default() }).is_none());
    }
}
