//! `citizen chip`: the card reader at a kiosk (PC/SC through `pcscd`).
//!
//! `readers` lists the readers; `probe` connects to the card, reads EF.CardAccess (by SFI, else
//! SELECT by FID then READ BINARY) and selects the eMRTD application: what the chip announces
//! before any access control, so it needs neither CAN nor MRZ. The full read (`chip read`,
//! PACE/BAC, secure messaging, passive authentication) comes with the chip crate of issue 12.

use std::process::ExitCode;
use std::time::Duration;

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
    max_apdu_length: u32,
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
