//! `citizen chip`: the card reader at a kiosk (PC/SC through `pcscd`).
//!
//! `readers` lists the readers; `probe` connects to the card, reads EF.CardAccess (by SFI, else
//! SELECT by FID then READ BINARY) and selects the eMRTD application: what the chip announces
//! before any access control, so it needs neither CAN nor MRZ. `read` is the full verified read
//! (the chip crate's reader over [`PcscTransport`], see [`citizen_cli::chip_read`]).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use citizen_chip::kdf::AccessKey;
use citizen_chip::reader::ReaderConfig;
use citizen_chip::ChipError;
use citizen_cli::chip_read::{self, ChipRead};

use citizen_cli::card_access::{self, SecurityInfo, ID_PACE};
use citizen_cli::pcsc_transport::{self, PcscError, PcscTransport};
use citizen_core::error::{ErrorDetail, Msg, PublicError};
use citizen_core::platform::{ApduTransport, ApduTransportError};

use super::exit::{self, CliError};

impl CliError for PcscError {}

/// An exchange that failed after the card was connected.
#[derive(Debug)]
struct ExchangeError(ErrorDetail, ApduTransportError);

impl std::fmt::Display for ExchangeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.0.message_en, self.1)
    }
}
impl std::error::Error for ExchangeError {}
impl PublicError for ExchangeError {
    fn detail(&self) -> &ErrorDetail {
        &self.0
    }
}
impl CliError for ExchangeError {}

/// Report an exchange failure: the catalogue lines, then PC/SC's own wording (no card data).
fn fail_exchange(e: ExchangeError) -> ExitCode {
    let code = exit::fail(&e);
    eprintln!("pc/sc: {:?}", e.1);
    code
}

impl From<ApduTransportError> for ExchangeError {
    fn from(e: ApduTransportError) -> Self {
        let msg = match e {
            ApduTransportError::CardRemoved { .. } => Msg::PcscCardRemoved,
            _ => Msg::PcscFailure,
        };
        ExchangeError(msg.detail(), e)
    }
}

/// `citizen chip readers`: one line per reader, with whether it holds a card.
pub(crate) fn readers() -> ExitCode {
    match pcsc_transport::readers() {
        Ok(list) if list.is_empty() => exit::fail(&PcscError::NoReader(Msg::PcscNoReader.detail())),
        Ok(list) => {
            for r in list {
                println!("{}\t{}", r.name, if r.card_present { "card present" } else { "empty" });
            }
            ExitCode::SUCCESS
        }
        Err(e) => exit::fail(&e),
    }
}

/// What the probe found, printed as text or JSON.
struct Probe {
    reader: String,
    atr: Vec<u8>,
    max_apdu_length: i32,
    extended_length: bool,
    card_access_read_by: &'static str,
    card_access: Vec<u8>,
    infos: Vec<SecurityInfo>,
    emrtd_sw: [u8; 2],
}

/// `citizen chip probe`: connect, read EF.CardAccess, select the eMRTD application, print.
pub(crate) fn probe(reader: Option<String>, wait: Duration, extended_length: Option<bool>, json: bool) -> ExitCode {
    let transport = match PcscTransport::connect(reader.as_deref(), wait, extended_length) {
        Ok(t) => t,
        Err(PcscError::ReaderNotFound(d, available)) => {
            let e = PcscError::ReaderNotFound(d, vec![]);
            let code = exit::fail(&e);
            eprintln!("readers: {}", if available.is_empty() { "(none)".into() } else { available.join(", ") });
            return code;
        }
        Err(e) => {
            if let PcscError::Failure(_, why) = &e {
                eprintln!("pc/sc: {why}");
            }
            return exit::fail(&e);
        }
    };
    let (read_by, bytes) = match read_card_access(&transport) {
        Ok(Some(found)) => found,
        Ok(None) => return exit::other("EF.CardAccess not found: the card offers no PACE (6A82 by SFI and by FID)"),
        Err(e) => return fail_exchange(e),
    };
    let infos = match card_access::parse(&bytes) {
        Ok(i) => i,
        Err(e) => return exit::other(e),
    };
    let emrtd_sw = match transport.transmit(&SELECT_EMRTD) {
        Ok(r) => sw(&r),
        Err(e) => return fail_exchange(ExchangeError::from(e)),
    };
    let p = Probe {
        reader: transport.reader().to_string(),
        atr: transport.atr().to_vec(),
        max_apdu_length: transport.max_apdu_length(),
        extended_length: transport.supports_extended_length(),
        card_access_read_by: read_by,
        card_access: bytes,
        infos,
        emrtd_sw,
    };
    if json {
        println!("{}", probe_json(&p));
    } else {
        print_probe(&p);
    }
    if p.infos.iter().any(|i| i.protocol.starts_with(ID_PACE) && i.parameter_id.is_some()) {
        ExitCode::SUCCESS
    } else {
        exit::other("EF.CardAccess announces no PACE protocol with standardized domain parameters")
    }
}

/// `00 A4 04 0C 07 A0000002471001`: SELECT the eMRTD application, no FCI.
const SELECT_EMRTD: [u8; 12] = [0x00, 0xA4, 0x04, 0x0C, 0x07, 0xA0, 0x00, 0x00, 0x02, 0x47, 0x10, 0x01];
/// `00 B0 9C 00 00`: READ BINARY of SFI 1C (EF.CardAccess) from offset 0, up to 256 bytes.
const READ_CARD_ACCESS_SFI: [u8; 5] = [0x00, 0xB0, 0x9C, 0x00, 0x00];
/// `00 A4 02 0C 02 011C`: SELECT EF.CardAccess by FID (the iOS-safe form: not SELECT MF).
const SELECT_CARD_ACCESS: [u8; 7] = [0x00, 0xA4, 0x02, 0x0C, 0x02, 0x01, 0x1C];

fn sw(r: &[u8]) -> [u8; 2] {
    match r {
        [.., a, b] => [*a, *b],
        _ => [0, 0],
    }
}

/// EF.CardAccess by SFI, else SELECT by FID + READ BINARY; `None` when the card has none.
/// Reads on in 256-byte steps while the card returns full chunks (EF.CardAccess is small; the
/// CCCD's is 54 bytes).
fn read_card_access(t: &PcscTransport) -> Result<Option<(&'static str, Vec<u8>)>, ExchangeError> {
    let first = t.transmit(&READ_CARD_ACCESS_SFI)?;
    let (how, mut data, mut last) = if matches!(sw(&first), [0x90, 0x00] | [0x62, 0x82]) {
        ("SFI 1C", first[..first.len() - 2].to_vec(), first)
    } else {
        if sw(&t.transmit(&SELECT_CARD_ACCESS)?) != [0x90, 0x00] {
            return Ok(None);
        }
        let r = t.transmit(&[0x00, 0xB0, 0x00, 0x00, 0x00])?;
        if !matches!(sw(&r), [0x90, 0x00] | [0x62, 0x82]) {
            return Ok(None);
        }
        ("FID 011C", r[..r.len() - 2].to_vec(), r)
    };
    while sw(&last) == [0x90, 0x00] && last.len() == 258 && data.len() < 0x7FFF {
        let [hi, lo] = u16::try_from(data.len()).unwrap_or(u16::MAX).to_be_bytes();
        last = t.transmit(&[0x00, 0xB0, hi, lo, 0x00])?;
        if !matches!(sw(&last), [0x90, 0x00] | [0x62, 0x82]) {
            break;
        }
        data.extend_from_slice(&last[..last.len() - 2]);
    }
    Ok(Some((how, data)))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

fn print_probe(p: &Probe) {
    println!("reader: {}", p.reader);
    println!("atr: {}", hex(&p.atr));
    println!(
        "transport: max APDU {} bytes, extended length {}",
        p.max_apdu_length,
        if p.extended_length { "yes" } else { "no" }
    );
    println!("EF.CardAccess: {} bytes (read by {})", p.card_access.len(), p.card_access_read_by);
    for i in &p.infos {
        let name = card_access::protocol_name(&i.protocol).unwrap_or("unknown protocol");
        let mut line = format!("  {} ({name})", i.protocol);
        if let Some(v) = i.version {
            line.push_str(&format!(", version {v}"));
        }
        if let Some(id) = i.parameter_id {
            let params = card_access::parameter_name(id).unwrap_or("unknown parameters");
            line.push_str(&format!(", parameter id {id} ({params})"));
        }
        println!("{line}");
    }
    for i in p.infos.iter().filter(|i| i.protocol.starts_with(ID_PACE) && i.parameter_id.is_some()) {
        println!("PACE: {} parameter id {}", i.protocol, i.parameter_id.unwrap_or_default());
    }
    println!("eMRTD application: {}", if p.emrtd_sw == [0x90, 0x00] { "selected" } else { "not selected" });
}

fn probe_json(p: &Probe) -> String {
    let infos: Vec<_> = p
        .infos
        .iter()
        .map(|i| {
            serde_json::json!({
                "protocol": i.protocol,
                "name": card_access::protocol_name(&i.protocol),
                "version": i.version,
                "parameter_id": i.parameter_id,
            })
        })
        .collect();
    let pace: Vec<_> = p
        .infos
        .iter()
        .filter(|i| i.protocol.starts_with(ID_PACE) && i.parameter_id.is_some())
        .map(|i| serde_json::json!({ "protocol": i.protocol, "version": i.version, "parameter_id": i.parameter_id }))
        .collect();
    serde_json::json!({
        "reader": p.reader,
        "atr": hex(&p.atr),
        "max_apdu_length": p.max_apdu_length,
        "extended_length": p.extended_length,
        "card_access": hex(&p.card_access),
        "card_access_read_by": p.card_access_read_by,
        "security_infos": infos,
        "pace": pace,
        "emrtd_selected": p.emrtd_sw == [0x90, 0x00],
    })
    .to_string()
}

/// A failed chip read: the catalogue entry of the chip crate's error (`chip.*`).
#[derive(Debug)]
pub(crate) struct ChipFailure(ErrorDetail, ChipError);

impl From<ChipError> for ChipFailure {
    fn from(e: ChipError) -> Self {
        ChipFailure(e.msg().detail(), e)
    }
}
impl std::fmt::Display for ChipFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.0.message_en, self.1)
    }
}
impl std::error::Error for ChipFailure {}
impl PublicError for ChipFailure {
    fn detail(&self) -> &ErrorDetail {
        &self.0
    }
}
impl CliError for ChipFailure {}

/// Report a failed read: the catalogue lines, then the reader's own wording (a step and a status
/// word, never a key or personal data) and whether trying again can help.
pub(crate) fn fail_chip(e: ChipError) -> ExitCode {
    let retry = e.is_retryable();
    let e = ChipFailure::from(e);
    let code = exit::fail(&e);
    eprintln!("chip: {}", e.1);
    if let ChipError::AccessDenied { tries_left: Some(n), .. } = e.1 {
        eprintln!("chip: {n} attempt(s) left");
    }
    if retry {
        eprintln!("chip: retryable: place the card again and repeat the read");
    }
    code
}

/// `citizen chip read`'s options.
pub(crate) struct ReadArgs {
    pub(crate) can: Option<String>,
    pub(crate) mrz: Option<String>,
    pub(crate) csca: Vec<PathBuf>,
    pub(crate) reader: Option<String>,
    pub(crate) wait: Duration,
    pub(crate) show: bool,
    pub(crate) json: bool,
    pub(crate) face: bool,
    pub(crate) dump: Option<PathBuf>,
    pub(crate) extended_length: Option<bool>,
}

/// The access key from `--can` or `--mrz NUMBER,YYMMDD,YYMMDD`.
pub(crate) fn access_key(can: Option<&str>, mrz: Option<&str>) -> Result<AccessKey, ChipError> {
    match (can, mrz) {
        (Some(can), _) => AccessKey::can(can),
        (None, Some(mrz)) => {
            let parts: Vec<&str> = mrz.split(',').map(str::trim).collect();
            let [number, dob, expiry] = parts[..] else {
                return Err(ChipError::AccessKeyFormat("--mrz takes NUMBER,YYMMDD,YYMMDD"));
            };
            if number.len() == 12 {
                AccessKey::cccd_mrz(number, dob, expiry)
            } else {
                AccessKey::mrz(number, dob, expiry)
            }
        }
        (None, None) => Err(ChipError::AccessKeyFormat("give --can or --mrz")),
    }
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// `citizen chip read`: connect, read and verify, print.
pub(crate) fn read(args: ReadArgs) -> ExitCode {
    let key = match access_key(args.can.as_deref(), args.mrz.as_deref()) {
        Ok(k) => k,
        Err(e) => return fail_chip(e),
    };
    let trust = match chip_read::load_trust_list(&args.csca) {
        Ok(t) => t,
        Err(e) => return exit::other(e),
    };
    let transport = match PcscTransport::connect(args.reader.as_deref(), args.wait, args.extended_length) {
        Ok(t) => t,
        Err(e) => {
            if let PcscError::Failure(_, why) = &e {
                eprintln!("pc/sc: {why}");
            }
            return exit::fail(&e);
        }
    };
    // Room for the SM wrapping around a response: a short APDU carries 256 data bytes.
    let max_response_len = if transport.supports_extended_length() {
        usize::try_from(transport.max_apdu_length()).unwrap_or(261).saturating_sub(5)
    } else {
        256
    };
    let config = ReaderConfig {
        access_key: key,
        max_response_len,
        read_dg2: args.face,
        trust,
        now: now(),
        aa_challenge: Some(chip_read::random_challenge()),
    };
    let result = chip_read::read(config, |apdu| transport.transmit(apdu).map_err(|_| ChipError::CardRemoved));
    let read = match result {
        Ok(r) => r,
        Err(e) => return fail_chip(e),
    };
    if let Some(dir) = &args.dump {
        if let Err(e) = chip_read::dump(&read.readout, dir) {
            return exit::other(format!("{}: {e}", dir.display()));
        }
    }
    if args.json {
        println!("{}", read_json(transport.reader(), &read, args.show));
    } else {
        print_read(transport.reader(), &read, args.show);
    }
    ExitCode::SUCCESS
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 100_000.0).round() / 100.0
}

/// The text a kiosk operator reads: the record, the verification results, the timings.
pub(crate) fn print_read(reader: &str, read: &ChipRead, show: bool) {
    let r = &read.readout;
    println!("reader: {reader}");
    println!("access: {}", chip_read::access_name(r.access));
    for (k, v) in chip_read::record(r, show) {
        println!("  {k}: {v}");
    }
    let dgs: Vec<String> = r.passive_auth.verified_data_groups.iter().map(|n| format!("DG{n}")).collect();
    println!("passive authentication: verified ({}; document signer chains to a trusted CSCA)", dgs.join(", "));
    println!("chip authentication: {}", chip_read::chip_auth_name(r.chip_auth));
    println!(
        "active authentication: {}",
        if r.active_auth.is_some() { "verified (signature over a fresh challenge)" } else { "not performed" }
    );
    for s in &read.steps {
        println!(
            "  step {:<24} {:>3} APDUs  core {:>8.2} ms  transport {:>8.2} ms",
            s.step,
            s.apdus,
            ms(s.core),
            ms(s.transport)
        );
    }
    let st = r.stats;
    println!(
        "total: {} APDUs, {} bytes sent, {} bytes received, {} file bytes; core {:.2} ms, transport {:.2} ms",
        st.apdus,
        st.bytes_sent,
        st.bytes_received,
        st.file_bytes,
        ms(read.core),
        ms(read.transport)
    );
}

pub(crate) fn read_json(reader: &str, read: &ChipRead, show: bool) -> serde_json::Value {
    let r = &read.readout;
    let steps: Vec<_> = read
        .steps
        .iter()
        .map(|s| serde_json::json!({"step": s.step, "apdus": s.apdus, "core_ms": ms(s.core), "transport_ms": ms(s.transport)}))
        .collect();
    serde_json::json!({
        "reader": reader,
        "access": chip_read::access_name(r.access),
        "record": chip_read::record(r, show),
        "files": chip_read::file_names(r),
        "passive_authentication": {
            "result": "verified",
            "data_groups": r.passive_auth.verified_data_groups,
        },
        "chip_authentication": chip_read::chip_auth_name(r.chip_auth),
        "active_authentication": if r.active_auth.is_some() { "verified" } else { "not performed" },
        "steps": steps,
        "stats": {
            "apdus": r.stats.apdus,
            "bytes_sent": r.stats.bytes_sent,
            "bytes_received": r.stats.bytes_received,
            "file_bytes": r.stats.file_bytes,
        },
        "core_ms": ms(read.core),
        "transport_ms": ms(read.transport),
    })
}
