//! The reader state machine: it emits command APDUs and consumes response APDUs, and never does
//! I/O itself. A shell (Android `IsoDep`, iOS CoreNFC, PC/SC) or a test drives it:
//!
//! ```text
//! let mut reader = Reader::new(config, Box::new(OsRandom));
//! let mut action = reader.start()?;
//! loop {
//!     match action {
//!         Action::Send(apdu) => action = reader.on_response(&transport.transceive(&apdu)?)?,
//!         Action::Done(readout) => break readout,
//!     }
//! }
//! ```
//!
//! Sequence: EF.CardAccess (READ BINARY by SFI, else SELECT by FID, else the known CCCD bytes),
//! PACE-ECDH-GM with the CAN or MRZ (else BAC with the MRZ), SELECT of the eMRTD application,
//! EF.COM, DG14 and chip authentication, EF.SOD, DG1, DG13, DG15, DG2 (optional), active
//! authentication over the caller's challenge, passive authentication. DG3 is never read (it
//! needs terminal authentication). An empty or one-byte answer means the card left the field
//! ([`ChipError::CardRemoved`], retryable: start a new `Reader`).

use std::collections::{BTreeMap, VecDeque};

use crate::apdu::{Command, Response, SW_OK};
use crate::bac::{Bac, BacStep};
use crate::ec::Curve;
use crate::error::{ChipError, Result};
use crate::kdf::AccessKey;
use crate::lds::{self, Dg13, File, Mrz};
use crate::pa::{self, PassiveAuthReport, TrustList};
use crate::pace::{self, Pace, PaceParams, PaceStep};
use crate::sm::SecureChannel;
use crate::{aa, ca, tlv, unhex, RandomSource};

/// The eMRTD application identifier.
pub const EMRTD_AID: [u8; 7] = [0xA0, 0x00, 0x00, 0x02, 0x47, 0x10, 0x01];

/// What the reader is configured to do.
pub struct ReaderConfig {
    /// CAN or MRZ.
    pub access_key: AccessKey,
    /// The largest response (data bytes) the transport carries: 256 = short APDUs only; larger
    /// values enable extended-length READ BINARY (Android `IsoDep.getMaxTransceiveLength`).
    pub max_response_len: usize,
    /// Read DG2 (the face image, the largest file).
    pub read_dg2: bool,
    /// The CSCA trust list for passive authentication.
    pub trust: TrustList,
    /// Current time, Unix seconds (certificate validity).
    pub now: u64,
    /// The challenge for active authentication (the server's nonce); `None` skips it.
    pub aa_challenge: Option<[u8; 8]>,
}

impl std::fmt::Debug for ReaderConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ReaderConfig(max_response_len {}, read_dg2 {}, <key redacted>)",
            self.max_response_len, self.read_dg2
        )
    }
}

/// The step the reader is in, for progress reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Reading EF.CardAccess.
    CardAccess,
    /// PACE.
    Pace,
    /// BAC.
    Bac,
    /// Selecting the eMRTD application.
    SelectApplication,
    /// Reading a file.
    ReadFile(File),
    /// Chip authentication.
    ChipAuthentication,
    /// Active authentication.
    ActiveAuthentication,
    /// Finished.
    Done,
}

/// Progress: the step, bytes of file content read so far, APDUs exchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// Current step.
    pub step: Step,
    /// File content bytes read so far.
    pub bytes_read: usize,
    /// Command APDUs sent so far.
    pub apdus: usize,
}

/// Traffic of one read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Command APDUs sent.
    pub apdus: usize,
    /// Bytes of command APDUs.
    pub bytes_sent: usize,
    /// Bytes of response APDUs (with status words).
    pub bytes_received: usize,
    /// File content bytes read.
    pub file_bytes: usize,
}

/// How access was gained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessProtocol {
    /// PACE on this curve.
    Pace(Curve),
    /// BAC.
    Bac,
}

/// Outcome of chip authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChipAuthStatus {
    /// Performed, and the chip proved it holds DG14's key.
    Verified,
    /// DG14 absent or without a chip authentication key.
    NotAvailable,
}

/// Outcome of active authentication.
#[derive(Clone, PartialEq, Eq)]
pub struct ActiveAuth {
    /// The challenge signed.
    pub challenge: [u8; 8],
    /// The chip's signature (for the server to re-check).
    pub signature: Vec<u8>,
}

impl std::fmt::Debug for ActiveAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ActiveAuth({} signature bytes)", self.signature.len())
    }
}

/// Everything one read produced: files exactly as read, parsed views, verification results.
#[derive(Clone)]
pub struct ChipReadout {
    /// PACE or BAC.
    pub access: AccessProtocol,
    /// EF.CardAccess as used.
    pub card_access: Option<Vec<u8>>,
    /// Files exactly as read (EF.COM, EF.SOD, DGs).
    pub files: BTreeMap<File, Vec<u8>>,
    /// DG1's MRZ.
    pub mrz: Mrz,
    /// DG13, when present.
    pub dg13: Option<Dg13>,
    /// Passive authentication (a failure stops the read with its error).
    pub passive_auth: PassiveAuthReport,
    /// Chip authentication.
    pub chip_auth: ChipAuthStatus,
    /// Active authentication, when a challenge was given and DG15 exists.
    pub active_auth: Option<ActiveAuth>,
    /// Traffic.
    pub stats: Stats,
}

impl std::fmt::Debug for ChipReadout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ChipReadout({:?}, files {:?}, chip auth {:?}, active auth {}, {:?}, <personal data redacted>)",
            self.access,
            self.files.keys().collect::<Vec<_>>(),
            self.chip_auth,
            self.active_auth.is_some(),
            self.stats
        )
    }
}

/// What the driver does next.
#[derive(Debug)]
pub enum Action {
    /// Transmit this command APDU and pass the answer to [`Reader::on_response`].
    Send(Vec<u8>),
    /// The read is complete and verified.
    Done(Box<ChipReadout>),
}

#[derive(Debug)]
enum Task {
    Read(File),
    ChipAuth,
    ActiveAuth,
}

#[derive(Debug)]
enum FileStage {
    Select,
    Read { offset: usize, total: Option<usize>, buf: Vec<u8> },
}

enum Phase {
    CardAccessSfi,
    CardAccessSelect,
    CardAccessRead,
    Pace(Box<Pace>),
    SelectApp { secure: bool },
    Bac(Box<Bac>),
    File { file: File, stage: FileStage },
    ChipAuth { remaining: VecDeque<Command>, next: Option<Box<SecureChannel>> },
    ActiveAuth { challenge: [u8; 8] },
    Finished,
}

/// The chip reader. One instance reads one card once; after any error start a new one.
pub struct Reader {
    config: ReaderConfig,
    rng: Box<dyn RandomSource + Send>,
    phase: Phase,
    sm: Option<SecureChannel>,
    access: Option<AccessProtocol>,
    card_access: Option<Vec<u8>>,
    tasks: VecDeque<Task>,
    files: BTreeMap<File, Vec<u8>>,
    chip_auth: ChipAuthStatus,
    /// Set after switching to chip-authentication keys until a response verifies under them.
    ca_unconfirmed: bool,
    active_auth: Option<ActiveAuth>,
    stats: Stats,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Reader({:?})", self.progress())
    }
}

const REQUIRED: [File; 3] = [File::Com, File::Sod, File::Dg(1)];
/// The largest offset READ BINARY B0 can address in P1-P2.
const MAX_EVEN_OFFSET: usize = 0x7FFF;

impl Reader {
    /// A reader for one read.
    pub fn new(config: ReaderConfig, rng: Box<dyn RandomSource + Send>) -> Self {
        Reader {
            config,
            rng,
            phase: Phase::Finished,
            sm: None,
            access: None,
            card_access: None,
            tasks: VecDeque::new(),
            files: BTreeMap::new(),
            chip_auth: ChipAuthStatus::NotAvailable,
            ca_unconfirmed: false,
            active_auth: None,
            stats: Stats::default(),
        }
    }

    /// Where the read stands.
    pub fn progress(&self) -> Progress {
        let step = match &self.phase {
            Phase::CardAccessSfi | Phase::CardAccessSelect | Phase::CardAccessRead => Step::CardAccess,
            Phase::Pace(_) => Step::Pace,
            Phase::Bac(_) => Step::Bac,
            Phase::SelectApp { .. } => Step::SelectApplication,
            Phase::File { file, .. } => Step::ReadFile(*file),
            Phase::ChipAuth { .. } => Step::ChipAuthentication,
            Phase::ActiveAuth { .. } => Step::ActiveAuthentication,
            Phase::Finished => Step::Done,
        };
        Progress { step, bytes_read: self.stats.file_bytes, apdus: self.stats.apdus }
    }

    /// The traffic so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The first command: READ BINARY of EF.CardAccess by its short file identifier.
    pub fn start(&mut self) -> Result<Action> {
        self.phase = Phase::CardAccessSfi;
        self.send_plain(Command::new(0x00, 0xB0, 0x9C, 0x00).with_le(256))
    }

    fn send_plain(&mut self, cmd: Command) -> Result<Action> {
        let bytes = cmd.encode();
        self.stats.apdus += 1;
        self.stats.bytes_sent += bytes.len();
        Ok(Action::Send(bytes))
    }

    fn send(&mut self, cmd: Command) -> Result<Action> {
        match self.sm.as_mut() {
            Some(sm) => {
                let wrapped = sm.wrap(&cmd)?;
                self.send_plain(wrapped)
            }
            None => self.send_plain(cmd),
        }
    }

    /// Consume the card's answer to the last command. Any error ends this reader.
    pub fn on_response(&mut self, bytes: &[u8]) -> Result<Action> {
        let result = self.step(bytes);
        if result.is_err() {
            self.abort();
        }
        result
    }

    /// The driver's transport failed (tag lost, reader unplugged): the read ends, retryably.
    pub fn on_transport_error(&mut self) -> ChipError {
        self.abort();
        ChipError::CardRemoved
    }

    /// End the read and drop everything read so far: nothing is kept half-way.
    fn abort(&mut self) {
        self.phase = Phase::Finished;
        self.sm = None;
        self.tasks.clear();
        self.files.clear();
        self.card_access = None;
        self.active_auth = None;
    }

    fn receive(&mut self, bytes: &[u8]) -> Result<Response> {
        self.stats.bytes_received += bytes.len();
        let raw = Response::parse(bytes).map_err(|_| ChipError::CardRemoved)?;
        match self.sm.as_mut() {
            Some(sm) => match sm.unwrap(&raw) {
                Ok(r) => {
                    self.ca_unconfirmed = false;
                    Ok(r)
                }
                Err(ChipError::SecureMessaging(_)) if self.ca_unconfirmed => {
                    Err(ChipError::ChipNotGenuine("the chip does not hold the chip authentication key of DG14"))
                }
                Err(e) => Err(e),
            },
            None => Ok(raw),
        }
    }

    /// File bytes per READ BINARY: 0xDF with short APDUs (as JMRTD: the SM-wrapped answer then
    /// fits 256 bytes), less 8 for B1's DO'53' header; with extended length what the transport
    /// carries less room for the SM objects.
    fn chunk_len(&self, odd: bool) -> usize {
        let base = if self.config.max_response_len > 256 {
            (self.config.max_response_len.min(65536) - 64).max(0xDF)
        } else {
            0xDF
        };
        if odd {
            base - 8
        } else {
            base
        }
    }

    fn step(&mut self, bytes: &[u8]) -> Result<Action> {
        let resp = self.receive(bytes)?;
        match std::mem::replace(&mut self.phase, Phase::Finished) {
            Phase::CardAccessSfi => {
                if (resp.is_ok() || resp.sw == 0x6282) && !resp.data.is_empty() {
                    return self.card_access_read(resp.data);
                }
                self.phase = Phase::CardAccessSelect;
                self.send_plain(Command::new(0x00, 0xA4, 0x02, 0x0C).with_data(vec![0x01, 0x1C]))
            }
            Phase::CardAccessSelect => {
                if resp.is_ok() {
                    self.phase = Phase::CardAccessRead;
                    return self.send_plain(Command::new(0x00, 0xB0, 0x00, 0x00).with_le(256));
                }
                self.card_access_fallback()
            }
            Phase::CardAccessRead => {
                if (resp.is_ok() || resp.sw == 0x6282) && !resp.data.is_empty() {
                    return self.card_access_read(resp.data);
                }
                self.card_access_fallback()
            }
            Phase::Pace(mut p) => match p.on_response(&resp, self.rng.as_mut())? {
                PaceStep::Send(cmd) => {
                    self.phase = Phase::Pace(p);
                    self.send_plain(cmd)
                }
                PaceStep::Done(channel) => {
                    self.sm = Some(channel);
                    self.phase = Phase::SelectApp { secure: true };
                    self.send(select_aid())
                }
            },
            Phase::SelectApp { secure } => {
                if !resp.is_ok() {
                    return Err(ChipError::UnexpectedStatus { step: "SELECT eMRTD application", sw: resp.sw });
                }
                if secure {
                    self.tasks.push_back(Task::Read(File::Com));
                    return self.next_task();
                }
                let bac = Bac::new(&self.config.access_key, self.rng.as_mut())?;
                let cmd = bac.first_command();
                self.phase = Phase::Bac(Box::new(bac));
                self.access = Some(AccessProtocol::Bac);
                self.send_plain(cmd)
            }
            Phase::Bac(mut b) => match b.on_response(&resp)? {
                BacStep::Send(cmd) => {
                    self.phase = Phase::Bac(b);
                    self.send_plain(cmd)
                }
                BacStep::Done(channel) => {
                    self.sm = Some(channel);
                    self.tasks.push_back(Task::Read(File::Com));
                    self.next_task()
                }
            },
            Phase::File { file, stage } => self.file_step(file, stage, resp),
            Phase::ChipAuth { mut remaining, next } => {
                if !resp.is_ok() {
                    return Err(ChipError::ChipNotGenuine("the chip refused chip authentication"));
                }
                match remaining.pop_front() {
                    Some(cmd) => {
                        self.phase = Phase::ChipAuth { remaining, next };
                        self.send(cmd)
                    }
                    None => {
                        self.sm = next.map(|b| *b);
                        self.ca_unconfirmed = true;
                        self.chip_auth = ChipAuthStatus::Verified;
                        self.next_task()
                    }
                }
            }
            Phase::ActiveAuth { challenge } => {
                if !resp.is_ok() {
                    return Err(ChipError::ChipNotGenuine("the chip refused active authentication"));
                }
                let key = lds::parse_dg15(self.files.get(&File::Dg(15)).map(Vec::as_slice).unwrap_or_default())?;
                let alg = match self.files.get(&File::Dg(14)) {
                    Some(d) => lds::parse_dg14(d)?.aa_algorithm,
                    None => None,
                };
                aa::verify(&key, aa::hash_for(alg.as_ref())?, &challenge, &resp.data)?;
                self.active_auth = Some(ActiveAuth { challenge, signature: resp.data });
                self.next_task()
            }
            Phase::Finished => Err(ChipError::Protocol("the read is already finished")),
        }
    }

    fn card_access_read(&mut self, data: Vec<u8>) -> Result<Action> {
        // The SFI/READ answer may carry trailing bytes beyond the SET; keep the TLV only.
        let len = tlv::parse_one(&data).map(|(t, _)| t.raw.len()).unwrap_or(data.len());
        let ca = data[..len].to_vec();
        self.begin_access(Some(ca))
    }

    fn card_access_fallback(&mut self) -> Result<Action> {
        match self.config.access_key {
            AccessKey::Can(_) => self.begin_access(unhex(pace::CCCD_CARD_ACCESS)),
            AccessKey::Mrz { .. } => self.begin_access(None),
        }
    }

    fn begin_access(&mut self, card_access: Option<Vec<u8>>) -> Result<Action> {
        let is_mrz = matches!(self.config.access_key, AccessKey::Mrz { .. });
        let options: Result<Vec<PaceParams>> = match &card_access {
            Some(ca) => pace::pace_options(ca),
            None => Ok(Vec::new()),
        };
        self.card_access = card_access;
        match options {
            Ok(opts) if !opts.is_empty() => {
                let p = Pace::new(opts[0], &self.config.access_key)?;
                let cmd = p.first_command();
                self.access = Some(AccessProtocol::Pace(opts[0].curve));
                self.phase = Phase::Pace(Box::new(p));
                self.send_plain(cmd)
            }
            _ if is_mrz => {
                self.phase = Phase::SelectApp { secure: false };
                self.send_plain(select_aid())
            }
            Ok(_) => Err(ChipError::UnsupportedProtocol("the chip offers no PACE and BAC needs the MRZ data")),
            Err(e) => Err(e),
        }
    }

    fn next_task(&mut self) -> Result<Action> {
        match self.tasks.pop_front() {
            Some(Task::Read(file)) => {
                self.phase = Phase::File { file, stage: FileStage::Select };
                self.send(Command::new(0x00, 0xA4, 0x02, 0x0C).with_data(file.fid().to_vec()))
            }
            Some(Task::ChipAuth) => {
                let dg14 = lds::parse_dg14(self.files.get(&File::Dg(14)).map(Vec::as_slice).unwrap_or_default())?;
                if dg14.ca_key.is_none() {
                    return self.next_task();
                }
                let prepared = ca::prepare(&dg14, self.rng.as_mut())?;
                let mut remaining: VecDeque<Command> = prepared.commands.into();
                let first = remaining.pop_front().ok_or(ChipError::Protocol("no chip authentication command"))?;
                self.phase = Phase::ChipAuth { remaining, next: Some(Box::new(prepared.channel)) };
                self.send(first)
            }
            Some(Task::ActiveAuth) => {
                let challenge = self.config.aa_challenge.ok_or(ChipError::Protocol("no challenge"))?;
                self.phase = Phase::ActiveAuth { challenge };
                self.send(aa::internal_authenticate(&challenge))
            }
            None => self.finish(),
        }
    }

    fn file_step(&mut self, file: File, stage: FileStage, resp: Response) -> Result<Action> {
        match stage {
            FileStage::Select => {
                if !resp.is_ok() {
                    if REQUIRED.contains(&file) {
                        return Err(ChipError::UnexpectedStatus { step: "SELECT of a required file", sw: resp.sw });
                    }
                    return self.next_task();
                }
                self.phase = Phase::File { file, stage: FileStage::Read { offset: 0, total: None, buf: Vec::new() } };
                self.send(Command::new(0x00, 0xB0, 0x00, 0x00).with_le(8))
            }
            FileStage::Read { offset, total, mut buf } => {
                // 6282: end of file reached before Le bytes; the data is still valid.
                if !(resp.sw == SW_OK || resp.sw == 0x6282) || resp.data.is_empty() {
                    if offset == 0 && !REQUIRED.contains(&file) && resp.sw == 0x6982 {
                        return self.next_task();
                    }
                    return Err(ChipError::UnexpectedStatus { step: "READ BINARY", sw: resp.sw });
                }
                let odd = offset > MAX_EVEN_OFFSET;
                let expected = total.map(|t| (t - offset).min(self.chunk_len(odd))).unwrap_or(8);
                // READ BINARY B1 answers with the data inside DO'53'.
                let data = if odd { tlv::parse_single(&resp.data, 0x53)?.value.to_vec() } else { resp.data };
                if data.len() > expected || data.is_empty() {
                    return Err(ChipError::Protocol("READ BINARY returned more than asked, or nothing"));
                }
                self.stats.file_bytes += data.len();
                buf.extend_from_slice(&data);
                let offset = offset + data.len();
                let total = match total {
                    Some(t) => t,
                    None => {
                        let (tag, hlen, len) = tlv::header(&buf)?;
                        if tag != file.tag() {
                            return Err(ChipError::MalformedDataGroup("file starts with the wrong tag"));
                        }
                        hlen + len
                    }
                };
                if offset >= total {
                    buf.truncate(total);
                    return self.file_done(file, buf);
                }
                let odd = offset > MAX_EVEN_OFFSET;
                let le = (total - offset).min(self.chunk_len(odd));
                let cmd = if odd {
                    // Beyond 32 KiB the offset no longer fits P1-P2: odd INS with DO'54'.
                    // Files are bounded far below 4 GiB (the length header has at most 3 bytes).
                    let bytes = u32::try_from(offset).unwrap_or(u32::MAX).to_be_bytes();
                    let off = if offset > 0xFFFF { &bytes[1..] } else { &bytes[2..] };
                    let expected = tlv::encode(0x53, &vec![0; le]).len();
                    Command::new(0x00, 0xB1, 0x00, 0x00).with_data(tlv::encode(0x54, off)).with_le(expected)
                } else {
                    // Even INS: offset ≤ MAX_EVEN_OFFSET (32 KiB), so it fits P1-P2.
                    let [hi, lo] = u16::try_from(offset).unwrap_or(u16::MAX).to_be_bytes();
                    Command::new(0x00, 0xB0, hi, lo).with_le(le)
                };
                self.phase = Phase::File { file, stage: FileStage::Read { offset, total: Some(total), buf } };
                self.send(cmd)
            }
        }
    }

    fn file_done(&mut self, file: File, bytes: Vec<u8>) -> Result<Action> {
        match file {
            File::Com => {
                let com = lds::parse_com(&bytes)?;
                let has = |n: u8| com.data_groups.contains(&n);
                if has(14) {
                    self.tasks.push_back(Task::Read(File::Dg(14)));
                    self.tasks.push_back(Task::ChipAuth);
                }
                self.tasks.push_back(Task::Read(File::Sod));
                self.tasks.push_back(Task::Read(File::Dg(1)));
                if has(13) {
                    self.tasks.push_back(Task::Read(File::Dg(13)));
                }
                if has(15) {
                    self.tasks.push_back(Task::Read(File::Dg(15)));
                    if self.config.aa_challenge.is_some() {
                        self.tasks.push_back(Task::ActiveAuth);
                    }
                }
                if has(2) && self.config.read_dg2 {
                    self.tasks.push_back(Task::Read(File::Dg(2)));
                }
            }
            File::Dg(13) => {
                lds::parse_dg13(&bytes)?;
            }
            File::Dg(14) => {
                lds::parse_dg14(&bytes)?;
            }
            File::Sod => {
                pa::parse_sod(&bytes)?;
            }
            _ => {}
        }
        self.files.insert(file, bytes);
        self.next_task()
    }

    fn finish(&mut self) -> Result<Action> {
        self.phase = Phase::Finished;
        self.sm = None;
        let get = |f: File| self.files.get(&f).ok_or(ChipError::Protocol("a required file was not read"));
        let sod = pa::parse_sod(get(File::Sod)?)?;
        let mrz = lds::parse_dg1(get(File::Dg(1))?)?;
        let dg13 = self.files.get(&File::Dg(13)).map(|b| lds::parse_dg13(b)).transpose()?;
        let dgs: BTreeMap<u8, Vec<u8>> = self
            .files
            .iter()
            .filter_map(|(f, b)| if let File::Dg(n) = f { Some((*n, b.clone())) } else { None })
            .collect();
        let passive_auth = pa::verify(&sod, &dgs, &self.config.trust, self.config.now)?;
        let readout = ChipReadout {
            access: self.access.ok_or(ChipError::Protocol("no access protocol"))?,
            card_access: self.card_access.clone(),
            files: std::mem::take(&mut self.files),
            mrz,
            dg13,
            passive_auth,
            chip_auth: self.chip_auth,
            active_auth: self.active_auth.take(),
            stats: self.stats,
        };
        Ok(Action::Done(Box::new(readout)))
    }
}

fn select_aid() -> Command {
    Command::new(0x00, 0xA4, 0x04, 0x0C).with_data(EMRTD_AID.to_vec())
}

/// Drive a reader to the end with a transceive function (a blocking transport). The function
/// returns the raw response, or `Err` when the transport failed (card removed).
pub fn run<F>(mut reader: Reader, mut transceive: F) -> Result<ChipReadout>
where
    F: FnMut(&[u8]) -> std::result::Result<Vec<u8>, ChipError>,
{
    let mut action = reader.start()?;
    loop {
        match action {
            Action::Send(apdu) => {
                let answer = match transceive(&apdu) {
                    Ok(a) => a,
                    Err(_) => return Err(reader.on_transport_error()),
                };
                action = reader.on_response(&answer)?;
            }
            Action::Done(readout) => return Ok(*readout),
        }
    }
}
