//! The card: file system, access control state machine and secure messaging.

use std::collections::BTreeMap;

use citizen_chip::apdu::{Command, Response};
use citizen_chip::bac;
use citizen_chip::ec::{ec_spki, Curve, Point, SecretScalar};
use citizen_chip::kdf::{self, AccessKey, Cipher};
use citizen_chip::lds::{build_dg13, build_td1};
use citizen_chip::pace::{auth_token, encrypt_nonce, password_key, PaceParams};
use citizen_chip::reader::EMRTD_AID;
use citizen_chip::sm::SecureChannel;
use citizen_chip::tlv::{self, der_uint, encode};
use citizen_chip::{oid, RandomSource};
use sha2::{Digest, Sha256};

use crate::citizens::{yymmdd, Citizen};
use crate::keys::{KeyPair, SeededRandom};
use crate::pki::TestPki;

const SW_OK: u16 = 0x9000;
const SW_NOT_FOUND: u16 = 0x6A82;
const SW_SECURITY: u16 = 0x6982;
const SW_BLOCKED: u16 = 0x6983;
const SW_CONDITIONS: u16 = 0x6985;
const SW_WRONG_DATA: u16 = 0x6A80;
const SW_INS: u16 = 0x6D00;
const SW_WRONG_LENGTH: u16 = 0x6700;
const SW_WRONG_P1P2: u16 = 0x6B00;
const SW_EOF: u16 = 0x6282;

const FID_CARD_ACCESS: [u8; 2] = [0x01, 0x1C];
const WRONG_PASSWORD_TRIES: u8 = 3;

/// How the card is built.
#[derive(Debug, Clone)]
pub struct CardOptions {
    /// PACE curve (`None`: a BAC-only card with no EF.CardAccess).
    pub pace_curve: Option<Curve>,
    /// Whether EF.CardAccess answers READ BINARY by SFI (else only SELECT by FID works).
    pub card_access_by_sfi: bool,
    /// Whether BAC is also accepted.
    pub bac: bool,
    /// Chip authentication key curve (DG14); `None`: no DG14.
    pub ca_curve: Option<Curve>,
    /// Active authentication key curve (DG15); `None`: no DG15.
    pub aa_curve: Option<Curve>,
    /// Size of DG2's fake face image in bytes.
    pub face_bytes: usize,
    /// A label making this chip's keys unique (two cards of one citizen differ).
    pub chip_label: String,
}

impl Default for CardOptions {
    fn default() -> Self {
        CardOptions {
            pace_curve: Some(Curve::BrainpoolP256r1),
            card_access_by_sfi: true,
            bac: true,
            ca_curve: Some(Curve::BrainpoolP256r1),
            aa_curve: Some(Curve::BrainpoolP256r1),
            face_bytes: 12_000,
            chip_label: "chip-1".into(),
        }
    }
}

enum PaceState {
    Idle,
    SetAt { params: PaceParams, reference: u8 },
    Nonce { params: PaceParams, s: Vec<u8> },
    Mapped { params: PaceParams, g: Point },
    Agreed { params: PaceParams, k: Vec<u8>, pk_ic: Vec<u8>, pk_ifd: Vec<u8> },
}

/// A software CCCD.
pub struct SoftwareCard {
    citizen: Citizen,
    options: CardOptions,
    files: BTreeMap<[u8; 2], Vec<u8>>,
    ca_key: Option<KeyPair>,
    aa_key: Option<KeyPair>,
    rng: SeededRandom,
    // Session state (reset by power_on/power_off).
    app_selected: bool,
    selected: Option<[u8; 2]>,
    sm: Option<SecureChannel>,
    pace: PaceState,
    bac_challenge: Option<[u8; 8]>,
    ca_protocol: Option<Cipher>,
    pending_ca: Option<SecureChannel>,
    // Persistent state.
    tries_left: u8,
    removed: bool,
    remove_after: Option<usize>,
    corrupt_next_mac: bool,
    apdus: usize,
}

impl std::fmt::Debug for SoftwareCard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SoftwareCard({}, {:?})", self.options.chip_label, self.options.pace_curve)
    }
}

fn fake_jpeg(len: usize) -> Vec<u8> {
    let mut v = vec![0xFF, 0xD8, 0xFF, 0xE0];
    v.extend_from_slice(b"\x00\x10JFIF\x00 fictitious test face, not an image of anyone ");
    let mut x: u32 = 0x1234_5678;
    while v.len() + 2 < len.max(64) {
        x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        v.push((x >> 24) as u8);
    }
    v.extend_from_slice(&[0xFF, 0xD9]);
    v
}

fn security_info(protocol: &const_oid::ObjectIdentifier, rest: &[Vec<u8>]) -> Vec<u8> {
    let mut parts = vec![encode(0x06, oid::der(protocol))];
    parts.extend_from_slice(rest);
    encode(0x30, &parts.concat())
}

fn pace_oid() -> const_oid::ObjectIdentifier {
    oid::PACE_ECDH_GM_AES128
}

impl SoftwareCard {
    /// A card for `citizen`, signed by `pki`.
    pub fn new(citizen: &Citizen, pki: &TestPki, options: CardOptions) -> Self {
        let label = format!("{}/{}", citizen.id_number, options.chip_label);
        let ca_key = options.ca_curve.map(|c| KeyPair::derive(c, &format!("{label}/ca")));
        let aa_key = options.aa_curve.map(|c| KeyPair::derive(c, &format!("{label}/aa")));
        let mut files = BTreeMap::new();

        let mut card_access = Vec::new();
        if let Some(curve) = options.pace_curve {
            card_access.push(security_info(&pace_oid(), &[der_uint(&[2]), der_uint(&[curve.parameter_id()])]));
        }
        if options.ca_curve.is_some() {
            card_access.push(security_info(&oid::CA_ECDH_AES128, &[der_uint(&[1]), der_uint(&[1])]));
        }
        card_access.push(security_info(&oid::TA, &[der_uint(&[1])]));
        if options.pace_curve.is_some() {
            files.insert(FID_CARD_ACCESS, encode(0x31, &card_access.concat()));
        }

        let mrz = build_td1(
            citizen.id_number,
            &yymmdd(citizen.date_of_birth),
            citizen.mrz_sex(),
            &yymmdd(citizen.date_of_expiry),
            citizen.mrz_name,
        )
        .unwrap_or_default();
        let mut dgs: BTreeMap<u8, Vec<u8>> = BTreeMap::new();
        dgs.insert(1, encode(0x61, &encode(0x5F1F, mrz.as_bytes())));
        let face = encode(
            0x7F61,
            &[
                der_uint(&[1]),
                encode(
                    0x7F60,
                    &[encode(0xA1, &encode(0x80, &[1, 1])), encode(0x5F2E, &fake_jpeg(options.face_bytes))].concat(),
                ),
            ]
            .concat(),
        );
        dgs.insert(2, encode(0x75, &face));
        dgs.insert(3, encode(0x63, &encode(0x7F61, &der_uint(&[0]))));
        let fields = citizen.dg13_fields();
        let field_refs: Vec<(u8, Vec<&str>)> =
            fields.iter().map(|(n, v)| (*n, v.iter().map(String::as_str).collect())).collect();
        dgs.insert(13, build_dg13(&field_refs));
        if let Some(k) = &ca_key {
            let mut infos = vec![
                security_info(&oid::CA_ECDH_AES128, &[der_uint(&[1]), der_uint(&[1])]),
                security_info(&oid::PK_ECDH, &[ec_spki(k.curve, &k.public(), true), der_uint(&[1])]),
            ];
            if let Some(curve) = options.pace_curve {
                infos.push(security_info(&pace_oid(), &[der_uint(&[2]), der_uint(&[curve.parameter_id()])]));
            }
            if aa_key.is_some() {
                infos
                    .push(security_info(&oid::AA, &[der_uint(&[1]), encode(0x06, oid::der(&oid::ECDSA_PLAIN_SHA256))]));
            }
            dgs.insert(14, encode(0x6E, &encode(0x31, &infos.concat())));
        }
        if let Some(k) = &aa_key {
            dgs.insert(15, encode(0x6F, &ec_spki(k.curve, &k.public(), true)));
        }
        let sod = pki.sign_sod(&dgs);
        let tags: Vec<u8> = dgs.keys().filter_map(|n| citizen_chip::lds::dg_tag(*n)).map(|t| t as u8).collect();
        let com = encode(0x60, &[encode(0x5F01, b"0107"), encode(0x5F36, b"040000"), encode(0x5C, &tags)].concat());
        files.insert([0x01, 0x1E], com);
        files.insert([0x01, 0x1D], sod);
        for (n, bytes) in dgs {
            files.insert([0x01, n], bytes);
        }
        SoftwareCard {
            citizen: citizen.clone(),
            rng: SeededRandom::new(&format!("{label}/rng")),
            options,
            files,
            ca_key,
            aa_key,
            app_selected: false,
            selected: None,
            sm: None,
            pace: PaceState::Idle,
            bac_challenge: None,
            ca_protocol: None,
            pending_ca: None,
            tries_left: WRONG_PASSWORD_TRIES,
            removed: false,
            remove_after: None,
            corrupt_next_mac: false,
            apdus: 0,
        }
    }

    /// A clone of `original`: every file copied byte for byte (EF.SOD still verifies), but
    /// without the original chip's private keys — chip and active authentication must fail.
    pub fn clone_without_keys(original: &SoftwareCard) -> Self {
        let mut options = original.options.clone();
        options.chip_label = format!("{}/clone", options.chip_label);
        let label = format!("{}/{}", original.citizen.id_number, options.chip_label);
        SoftwareCard {
            citizen: original.citizen.clone(),
            files: original.files.clone(),
            ca_key: options.ca_curve.map(|c| KeyPair::derive(c, &format!("{label}/ca"))),
            aa_key: options.aa_curve.map(|c| KeyPair::derive(c, &format!("{label}/aa"))),
            rng: SeededRandom::new(&format!("{label}/rng")),
            options,
            app_selected: false,
            selected: None,
            sm: None,
            pace: PaceState::Idle,
            bac_challenge: None,
            ca_protocol: None,
            pending_ca: None,
            tries_left: WRONG_PASSWORD_TRIES,
            removed: false,
            remove_after: None,
            corrupt_next_mac: false,
            apdus: 0,
        }
    }

    /// The card's answer-to-reset (an ISO 14443-4 card as PC/SC presents it).
    pub fn atr(&self) -> Vec<u8> {
        let mut atr = vec![0x3B, 0x8A, 0x80, 0x01];
        atr.extend_from_slice(b"CCCD-TEST!");
        let tck = atr[1..].iter().fold(0u8, |a, b| a ^ b);
        atr.push(tck);
        atr
    }

    /// Field on / card inserted: a fresh session (no SM, nothing selected). Clears removal.
    pub fn power_on(&mut self) {
        self.reset_session();
        self.removed = false;
        self.remove_after = None;
    }

    /// Field off.
    pub fn power_off(&mut self) {
        self.reset_session();
    }

    fn reset_session(&mut self) {
        self.app_selected = false;
        self.selected = None;
        self.sm = None;
        self.pace = PaceState::Idle;
        self.bac_challenge = None;
        self.ca_protocol = None;
        self.pending_ca = None;
    }

    /// Take the card out of the field now: every APDU gets no answer until `power_on`.
    pub fn remove(&mut self) {
        self.removed = true;
        self.reset_session();
    }

    /// Take the card out after `n` more APDUs have been answered.
    pub fn remove_after(&mut self, n: usize) {
        self.remove_after = Some(n);
    }

    /// Corrupt the MAC of the next secure-messaging response (an SM tamper test).
    pub fn corrupt_next_response_mac(&mut self) {
        self.corrupt_next_mac = true;
    }

    /// Replace a file's content (data-group tamper tests; EF.SOD is not re-signed).
    pub fn set_file(&mut self, fid: [u8; 2], bytes: Vec<u8>) {
        self.files.insert(fid, bytes);
    }

    /// Delete a file (a chip that hides EF.CardAccess, a card without DG13…).
    pub fn remove_file(&mut self, fid: [u8; 2]) {
        self.files.remove(&fid);
    }

    /// A file's content.
    pub fn file(&self, fid: [u8; 2]) -> Option<&[u8]> {
        self.files.get(&fid).map(Vec::as_slice)
    }

    /// The citizen on the card.
    pub fn citizen(&self) -> &Citizen {
        &self.citizen
    }

    /// Password attempts left before PACE/BAC are blocked.
    pub fn tries_left(&self) -> u8 {
        self.tries_left
    }

    /// APDUs answered since creation.
    pub fn apdu_count(&self) -> usize {
        self.apdus
    }

    /// Process one command APDU; returns the response APDU (data ‖ SW1SW2). A removed card
    /// returns an empty vector (no answer: the transport reports the card gone).
    pub fn process(&mut self, command_apdu: &[u8]) -> Vec<u8> {
        if let Some(n) = self.remove_after {
            if n == 0 {
                self.remove();
                self.remove_after = None;
            } else {
                self.remove_after = Some(n - 1);
            }
        }
        if self.removed {
            return Vec::new();
        }
        self.apdus += 1;
        let Ok(cmd) = Command::decode(command_apdu) else { return Response::new(vec![], SW_WRONG_LENGTH).encode() };
        let protected = cmd.cla & 0x0C == 0x0C;
        if protected {
            let Some(sm) = self.sm.as_mut() else {
                return Response::new(vec![], 0x6987).encode();
            };
            let plain = match sm.unwrap_command(&cmd) {
                Ok(p) => p,
                Err(_) => {
                    self.reset_session();
                    return Response::new(vec![], 0x6988).encode();
                }
            };
            let resp = self.dispatch(&plain);
            // Chip authentication switches keys after its answer is sent under the old ones.
            let Some(sm) = self.sm.as_mut() else { return resp.encode() };
            let mut wrapped = match sm.wrap_response(&resp) {
                Ok(w) => w,
                Err(_) => return Response::new(vec![], 0x6F00).encode(),
            };
            if let Some(next) = self.pending_ca.take() {
                self.sm = Some(next);
            }
            if self.corrupt_next_mac {
                self.corrupt_next_mac = false;
                if let Some(last) = wrapped.data.last_mut() {
                    *last ^= 0x01;
                }
            }
            wrapped.encode()
        } else {
            if self.sm.is_some() {
                // A plain command ends secure messaging (ICAO 9303 Part 11 §9.8.6).
                self.reset_session();
            }
            self.dispatch(&cmd).encode()
        }
    }
}

fn ok(data: Vec<u8>) -> Response {
    Response::new(data, SW_OK)
}

fn sw(sw: u16) -> Response {
    Response::new(vec![], sw)
}

impl SoftwareCard {
    fn dispatch(&mut self, cmd: &Command) -> Response {
        match cmd.ins {
            0xA4 => self.select(cmd),
            0xB0 => self.read_binary(cmd),
            0xB1 => self.read_binary_odd(cmd),
            0x22 => self.manage_security_environment(cmd),
            0x86 => self.general_authenticate(cmd),
            0x84 => self.get_challenge(cmd),
            0x82 => self.external_authenticate(cmd),
            0x88 => self.internal_authenticate(cmd),
            _ => sw(SW_INS),
        }
    }

    fn select(&mut self, cmd: &Command) -> Response {
        match cmd.p1 {
            // SELECT MF answers 6D00 on the CCCD (the iOS trap the reference notes).
            0x00 => sw(SW_INS),
            0x04 => {
                if cmd.data == EMRTD_AID {
                    self.app_selected = true;
                    self.selected = None;
                    sw(SW_OK)
                } else {
                    sw(SW_NOT_FOUND)
                }
            }
            0x02 => {
                let Ok(fid) = <[u8; 2]>::try_from(cmd.data.as_slice()) else { return sw(SW_WRONG_LENGTH) };
                if fid == FID_CARD_ACCESS {
                    if !self.files.contains_key(&fid) {
                        return sw(SW_NOT_FOUND);
                    }
                } else if !self.app_selected || !self.files.contains_key(&fid) {
                    return sw(SW_NOT_FOUND);
                }
                self.selected = Some(fid);
                sw(SW_OK)
            }
            _ => sw(SW_WRONG_P1P2),
        }
    }

    fn read_binary(&mut self, cmd: &Command) -> Response {
        let (fid, offset) = if cmd.p1 & 0x80 != 0 {
            let sfi = cmd.p1 & 0x1F;
            let fid = [0x01, sfi];
            if sfi == 0x1C && !self.options.card_access_by_sfi {
                return sw(SW_NOT_FOUND);
            }
            if sfi != 0x1C && !self.app_selected {
                return sw(SW_NOT_FOUND);
            }
            self.selected = Some(fid);
            (fid, usize::from(cmd.p2))
        } else {
            let Some(fid) = self.selected else { return sw(SW_CONDITIONS) };
            (fid, usize::from(u16::from_be_bytes([cmd.p1 & 0x7F, cmd.p2])))
        };
        let Some(content) = self.files.get(&fid) else { return sw(SW_NOT_FOUND) };
        if fid != FID_CARD_ACCESS && (self.sm.is_none() || fid == [0x01, 0x03]) {
            // Everything but EF.CardAccess needs PACE/BAC; DG3 also needs terminal authentication.
            return sw(SW_SECURITY);
        }
        if offset > content.len() {
            return sw(SW_WRONG_P1P2);
        }
        let le = cmd.le.unwrap_or(256);
        let end = (offset + le).min(content.len());
        let data = content[offset..end].to_vec();
        // Le = 00 (256 / 65536) means "all available": short data is then no warning.
        if end - offset < le && le != 256 && le != 65536 {
            Response::new(data, SW_EOF)
        } else {
            ok(data)
        }
    }

    /// READ BINARY with odd INS: the offset in DO'54', the data returned in DO'53'.
    fn read_binary_odd(&mut self, cmd: &Command) -> Response {
        let Ok(off) = tlv::parse_single(&cmd.data, 0x54) else { return sw(SW_WRONG_DATA) };
        if off.value.is_empty() || off.value.len() > 3 {
            return sw(SW_WRONG_DATA);
        }
        let offset = off.value.iter().fold(0usize, |a, b| (a << 8) | usize::from(*b));
        let Some(fid) = self.selected else { return sw(SW_CONDITIONS) };
        let Some(content) = self.files.get(&fid) else { return sw(SW_NOT_FOUND) };
        if fid != FID_CARD_ACCESS && (self.sm.is_none() || fid == [0x01, 0x03]) {
            return sw(SW_SECURITY);
        }
        if offset > content.len() {
            return sw(SW_WRONG_P1P2);
        }
        let le = cmd.le.unwrap_or(256);
        // The largest n whose DO'53' encoding fits Le.
        let n = if le <= 129 {
            le.saturating_sub(2)
        } else if le <= 258 {
            le - 3
        } else {
            le - 4
        };
        let end = (offset + n).min(content.len());
        ok(encode(0x53, &content[offset..end]))
    }

    fn manage_security_environment(&mut self, cmd: &Command) -> Response {
        let Ok(dos) = tlv::parse_all(&cmd.data) else { return sw(SW_WRONG_DATA) };
        let find = |tag: u32| dos.iter().find(|d| d.tag == tag).map(|d| d.value.to_vec());
        match (cmd.p1, cmd.p2) {
            // PACE: MSE:Set AT
            (0xC1, 0xA4) => {
                let Some(curve) = self.options.pace_curve else { return sw(SW_WRONG_DATA) };
                if self.tries_left == 0 {
                    return sw(SW_BLOCKED);
                }
                let Some(protocol) = find(0x80).and_then(|o| oid::from_der(&o)) else { return sw(SW_WRONG_DATA) };
                let Ok(params) =
                    PaceParams::new(protocol, find(0x84).and_then(|v| v.first().copied()).map(u32::from).unwrap_or(0))
                else {
                    return sw(SW_WRONG_DATA);
                };
                if params.curve != curve || protocol != pace_oid() {
                    return sw(SW_WRONG_DATA);
                }
                let reference = match find(0x83).as_deref() {
                    Some([r @ (1 | 2)]) => *r,
                    _ => return sw(SW_WRONG_DATA),
                };
                self.sm = None;
                self.pace = PaceState::SetAt { params, reference };
                sw(SW_OK)
            }
            // Chip authentication (AES): MSE:Set AT
            (0x41, 0xA4) => {
                if self.sm.is_none() || self.ca_key.is_none() {
                    return sw(SW_CONDITIONS);
                }
                match find(0x80).and_then(|o| oid::from_der(&o)) {
                    Some(o) if o == oid::CA_ECDH_AES128 => {
                        self.ca_protocol = Some(Cipher::Aes128);
                        sw(SW_OK)
                    }
                    _ => sw(SW_WRONG_DATA),
                }
            }
            _ => sw(SW_WRONG_P1P2),
        }
    }

    fn password(&self, reference: u8) -> Option<AccessKey> {
        let c = &self.citizen;
        if reference == 2 {
            AccessKey::can(c.can()).ok()
        } else {
            AccessKey::cccd_mrz(c.id_number, &yymmdd(c.date_of_birth), &yymmdd(c.date_of_expiry)).ok()
        }
    }

    fn general_authenticate(&mut self, cmd: &Command) -> Response {
        if self.ca_protocol.is_some() && self.sm.is_some() {
            return self.chip_authenticate(cmd);
        }
        let Ok(outer) = tlv::parse_single(&cmd.data, 0x7C) else { return sw(SW_WRONG_DATA) };
        let Ok(kids) = outer.children() else { return sw(SW_WRONG_DATA) };
        let value = |tag: u32| kids.iter().find(|k| k.tag == tag).map(|k| k.value.to_vec());
        let state = std::mem::replace(&mut self.pace, PaceState::Idle);
        let result = match state {
            PaceState::SetAt { params, reference } if kids.is_empty() => {
                let mut s = vec![0u8; 16];
                self.rng.fill(&mut s);
                let Some(key) = self.password(reference) else { return sw(SW_CONDITIONS) };
                let Ok(k_pi) = password_key(&key, params.cipher) else { return sw(SW_CONDITIONS) };
                let Ok(z) = encrypt_nonce(&k_pi, params.cipher, &s) else { return sw(SW_CONDITIONS) };
                self.pace = PaceState::Nonce { params, s };
                Some(encode(0x80, &z))
            }
            PaceState::Nonce { params, s } => (|| {
                let pk_map_ifd = params.curve.decode_point(&value(0x81)?).ok()?;
                let sk = params.curve.random_secret(&mut self.rng);
                let pk_map_ic = params.curve.generator().mul(&sk).ok()?;
                let h = pk_map_ifd.mul(&sk).ok()?;
                let g = params.curve.map_generator(&s, &h).ok()?;
                self.pace = PaceState::Mapped { params, g };
                Some(encode(0x82, &pk_map_ic.encode()))
            })(),
            PaceState::Mapped { params, g } => (|| {
                let pk_ifd_bytes = value(0x83)?;
                let pk_ifd = params.curve.decode_point(&pk_ifd_bytes).ok()?;
                let sk: SecretScalar = params.curve.random_secret(&mut self.rng);
                let pk_ic = g.mul(&sk).ok()?.encode();
                if pk_ic == pk_ifd.encode() {
                    return None;
                }
                let k = pk_ifd.mul(&sk).ok()?.x().to_vec();
                self.pace = PaceState::Agreed { params, k, pk_ic: pk_ic.clone(), pk_ifd: pk_ifd.encode() };
                Some(encode(0x84, &pk_ic))
            })(),
            PaceState::Agreed { params, k, pk_ic, pk_ifd } => {
                let ks_mac = kdf::kdf(&k, kdf::MAC, params.cipher);
                let expected = auth_token(params.cipher, &ks_mac, &params.protocol, &pk_ic).ok();
                let got = value(0x85);
                if expected.is_none() || got.as_deref() != expected.as_ref().map(|e| &e[..]) {
                    // Wrong CAN/MRZ: the token does not verify. Count down like a real chip.
                    self.tries_left = self.tries_left.saturating_sub(1);
                    return sw(0x63C0 | u16::from(self.tries_left));
                }
                let Ok(t_ic) = auth_token(params.cipher, &ks_mac, &params.protocol, &pk_ifd) else {
                    return sw(SW_CONDITIONS);
                };
                let Ok(channel) = SecureChannel::from_secret(params.cipher, &k) else { return sw(SW_CONDITIONS) };
                self.tries_left = WRONG_PASSWORD_TRIES;
                // The response goes out in plain; SM starts with the next command.
                self.sm = Some(channel);
                return ok(encode(0x7C, &encode(0x86, &t_ic)));
            }
            _ => None,
        };
        match result {
            Some(inner) => ok(encode(0x7C, &inner)),
            None => {
                self.pace = PaceState::Idle;
                sw(SW_WRONG_DATA)
            }
        }
    }

    fn chip_authenticate(&mut self, cmd: &Command) -> Response {
        let Some(cipher) = self.ca_protocol.take() else { return sw(SW_CONDITIONS) };
        let Some(key) = &self.ca_key else { return sw(SW_CONDITIONS) };
        let Ok(outer) = tlv::parse_single(&cmd.data, 0x7C) else { return sw(SW_WRONG_DATA) };
        let Ok(Some(pk)) = outer.child(0x80) else { return sw(SW_WRONG_DATA) };
        let Ok(point) = key.curve.decode_point(pk.value) else { return sw(SW_WRONG_DATA) };
        let Ok(shared) = point.mul(&key.scalar()) else { return sw(SW_WRONG_DATA) };
        let Ok(channel) = SecureChannel::from_secret(cipher, &shared.x()) else { return sw(SW_CONDITIONS) };
        self.pending_ca = Some(channel);
        ok(encode(0x7C, &[]))
    }

    fn get_challenge(&mut self, cmd: &Command) -> Response {
        if !self.options.bac || !self.app_selected || cmd.le != Some(8) {
            return sw(SW_CONDITIONS);
        }
        if self.tries_left == 0 {
            return sw(SW_BLOCKED);
        }
        let mut rnd = [0u8; 8];
        self.rng.fill(&mut rnd);
        self.bac_challenge = Some(rnd);
        ok(rnd.to_vec())
    }

    fn external_authenticate(&mut self, cmd: &Command) -> Response {
        let Some(rnd_ic) = self.bac_challenge.take() else { return sw(SW_CONDITIONS) };
        let Some(key) = self.password(1) else { return sw(SW_CONDITIONS) };
        let Ok(seed) = key.bac_seed() else { return sw(SW_CONDITIONS) };
        let Ok(s) = bac::open_cryptogram(&seed[..], &cmd.data) else {
            self.tries_left = self.tries_left.saturating_sub(1);
            return sw(0x6300);
        };
        if s[8..16] != rnd_ic {
            return sw(0x6300);
        }
        let (rnd_ifd, k_ifd) = (&s[..8], &s[16..32]);
        let mut k_ic = [0u8; 16];
        self.rng.fill(&mut k_ic);
        let r = [&rnd_ic[..], rnd_ifd, &k_ic[..]].concat();
        let Ok(resp) = bac::cryptogram(&seed[..], &r) else { return sw(SW_CONDITIONS) };
        let Ok(channel) = bac::session(k_ifd, &k_ic, &rnd_ic, rnd_ifd) else { return sw(SW_CONDITIONS) };
        self.tries_left = WRONG_PASSWORD_TRIES;
        self.sm = Some(channel);
        ok(resp)
    }

    fn internal_authenticate(&mut self, cmd: &Command) -> Response {
        let Some(key) = &self.aa_key else { return sw(SW_INS) };
        if self.sm.is_none() {
            return sw(SW_SECURITY);
        }
        if cmd.data.len() != 8 {
            return sw(SW_WRONG_LENGTH);
        }
        ok(key.sign_prehash(&Sha256::digest(&cmd.data)))
    }
}
