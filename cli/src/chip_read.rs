//! One chip read for the kiosk: the chip crate's sans-I/O [`Reader`] driven over any blocking
//! transceive function (PC/SC at a counter, the in-process software card in the demo), timed per
//! step with the reader's own work separated from the transport's.
//!
//! Nothing here prints or stores: the caller decides what of the verified record to show and
//! drops the [`ChipRead`] (files, DG13) when the citizen's session ends.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use citizen_chip::lds::{dg13_field, File};
use citizen_chip::pa::TrustList;
use citizen_chip::reader::{AccessProtocol, Action, ChipAuthStatus, ChipReadout, Reader, ReaderConfig, Step};
use citizen_chip::{ChipError, OsRandom, RandomSource};

/// Time spent in one step of the read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepTime {
    /// `EF.CardAccess`, `PACE`, `BAC`, `SELECT eMRTD`, a file name, `chip authentication`,
    /// `active authentication`, `passive authentication`.
    pub step: String,
    /// Command APDUs sent in this step.
    pub apdus: usize,
    /// The reader's own time (building commands, crypto, parsing, verification).
    pub core: Duration,
    /// Time waiting for the card (PC/SC, pcscd, the card itself).
    pub transport: Duration,
}

/// A verified read with its timings.
#[derive(Clone)]
pub struct ChipRead {
    /// The chip crate's result: files as read, parsed views, verification results, traffic.
    pub readout: ChipReadout,
    /// Steps in order (consecutive APDUs of one step merged).
    pub steps: Vec<StepTime>,
    /// Sum of the reader's own time.
    pub core: Duration,
    /// Sum of the transport time.
    pub transport: Duration,
}

impl std::fmt::Debug for ChipRead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ChipRead({:?}, {} steps)", self.readout, self.steps.len())
    }
}

fn step_name(step: &Step) -> String {
    match step {
        Step::CardAccess => "EF.CardAccess".into(),
        Step::Pace => "PACE".into(),
        Step::Bac => "BAC".into(),
        Step::SelectApplication => "SELECT eMRTD".into(),
        Step::ReadFile(f) => f.name(),
        Step::ChipAuthentication => "chip authentication".into(),
        Step::ActiveAuthentication => "active authentication".into(),
        Step::Done => "passive authentication".into(),
    }
}

fn add(steps: &mut Vec<StepTime>, step: String, apdus: usize, core: Duration, transport: Duration) {
    match steps.last_mut() {
        Some(last) if last.step == step => {
            last.apdus += apdus;
            last.core += core;
            last.transport += transport;
        }
        _ => steps.push(StepTime { step, apdus, core, transport }),
    }
}

/// A fresh random challenge for active authentication (a kiosk has no server nonce to bind).
pub fn random_challenge() -> [u8; 8] {
    let mut c = [0u8; 8];
    OsRandom.fill(&mut c);
    c
}

/// Run one read. `transceive` returns the card's answer, or `Err` when the card is gone (the
/// read then ends with the retryable [`ChipError::CardRemoved`]). The answer to the last
/// command, the end of the last file, is processed together with passive authentication, so
/// that step's core time is reported as `passive authentication`.
pub fn read<F>(config: ReaderConfig, mut transceive: F) -> Result<ChipRead, ChipError>
where
    F: FnMut(&[u8]) -> Result<Vec<u8>, ChipError>,
{
    let mut reader = Reader::new(config, Box::new(OsRandom));
    let mut steps = Vec::new();
    let t = Instant::now();
    let mut action = reader.start()?;
    add(&mut steps, step_name(&reader.progress().step), 0, t.elapsed(), Duration::ZERO);
    loop {
        match action {
            Action::Send(apdu) => {
                let step = step_name(&reader.progress().step);
                let t = Instant::now();
                let answer = match transceive(&apdu) {
                    Ok(a) => a,
                    Err(_) => return Err(reader.on_transport_error()),
                };
                let transport = t.elapsed();
                let t = Instant::now();
                action = reader.on_response(&answer)?;
                let core = t.elapsed();
                if matches!(action, Action::Done(_)) {
                    add(&mut steps, step, 1, Duration::ZERO, transport);
                    add(&mut steps, step_name(&Step::Done), 0, core, Duration::ZERO);
                } else {
                    add(&mut steps, step, 1, core, transport);
                }
            }
            Action::Done(readout) => {
                let core = steps.iter().map(|s| s.core).sum();
                let transport = steps.iter().map(|s| s.transport).sum();
                return Ok(ChipRead { readout: *readout, steps, core, transport });
            }
        }
    }
}

/// Load CSCA certificates (DER, or PEM with one or more `CERTIFICATE` blocks) into a trust list.
pub fn load_trust_list(paths: &[impl AsRef<Path>]) -> Result<TrustList, String> {
    let mut certs = Vec::new();
    for p in paths {
        let p = p.as_ref();
        let bytes = std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?;
        if bytes.starts_with(b"-----BEGIN") {
            let text = String::from_utf8_lossy(&bytes);
            let mut body = None::<String>;
            for line in text.lines() {
                if line.starts_with("-----BEGIN CERTIFICATE-----") {
                    body = Some(String::new());
                } else if line.starts_with("-----END CERTIFICATE-----") {
                    let b64 = body.take().unwrap_or_default();
                    use base64::Engine;
                    let der = base64::engine::general_purpose::STANDARD
                        .decode(b64.trim())
                        .map_err(|e| format!("{}: bad PEM: {e}", p.display()))?;
                    certs.push(der);
                } else if let Some(b) = body.as_mut() {
                    b.push_str(line.trim());
                }
            }
        } else {
            certs.push(bytes);
        }
    }
    if certs.is_empty() {
        return Err("no CSCA certificate given (--csca FILE)".into());
    }
    TrustList::new(certs).map_err(|e| format!("CSCA: {e}"))
}

/// The record as a kiosk shows it: labelled DG13 fields (ID number masked unless `show`), the
/// MRZ's document number and dates. Keys are stable (JSON, eForm mapping).
pub fn record(readout: &ChipReadout, show: bool) -> BTreeMap<&'static str, String> {
    let mut out = BTreeMap::new();
    let hide = |s: &str| if show { s.to_string() } else { crate::mask(s) };
    if let Some(dg13) = &readout.dg13 {
        let plain = [
            ("full_name", dg13_field::FULL_NAME),
            ("date_of_birth", dg13_field::DATE_OF_BIRTH),
            ("sex", dg13_field::SEX),
            ("nationality", dg13_field::NATIONALITY),
            ("ethnicity", dg13_field::ETHNICITY),
            ("religion", dg13_field::RELIGION),
            ("place_of_origin", dg13_field::PLACE_OF_ORIGIN),
            ("place_of_residence", dg13_field::PLACE_OF_RESIDENCE),
            ("date_of_issue", dg13_field::DATE_OF_ISSUE),
            ("date_of_expiry", dg13_field::DATE_OF_EXPIRY),
        ];
        if let Some(id) = dg13.get(dg13_field::ID_NUMBER) {
            out.insert("id_number", hide(id));
        }
        for (k, n) in plain {
            if let Some(v) = dg13.get(n) {
                out.insert(k, v.to_string());
            }
        }
        if let Some(old) = dg13.get(dg13_field::OLD_ID_NUMBER) {
            out.insert("old_id_number", hide(old));
        }
    }
    out.insert("mrz_document_number", hide(readout.mrz.document_number()));
    out
}

/// `PACE (brainpoolP256r1)` / `BAC`.
pub fn access_name(a: AccessProtocol) -> String {
    match a {
        AccessProtocol::Pace(curve) => format!("PACE-CAN/MRZ ({curve:?})"),
        AccessProtocol::Bac => "BAC".into(),
    }
}

/// `verified` / `not available`.
pub fn chip_auth_name(c: ChipAuthStatus) -> &'static str {
    match c {
        ChipAuthStatus::Verified => "verified",
        ChipAuthStatus::NotAvailable => "not available (no DG14 key)",
    }
}

/// Write each file as read to `dir` (`EF.COM.bin`, `EF.SOD.bin`, `DG1.bin`, …): for comparing
/// with another reader byte for byte. Personal data: test cards only.
pub fn dump(readout: &ChipReadout, dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (file, bytes) in &readout.files {
        std::fs::write(dir.join(format!("{}.bin", file.name())), bytes)?;
    }
    if let Some(ca) = &readout.card_access {
        std::fs::write(dir.join("EF.CardAccess.bin"), ca)?;
    }
    Ok(())
}

/// The file names a read holds, in the reader's order of importance.
pub fn file_names(readout: &ChipReadout) -> Vec<String> {
    readout.files.keys().map(|f: &File| f.name()).collect()
}

/// Overwrite everything the read holds about the citizen (files as read, DG13's values and raw
/// bytes, the MRZ) before dropping it: the kiosk's session end.
pub fn wipe(mut read: ChipRead) {
    use zeroize::Zeroize;
    for bytes in read.readout.files.values_mut() {
        bytes.zeroize();
    }
    if let Some(ca) = read.readout.card_access.as_mut() {
        ca.zeroize();
    }
    if let Some(dg13) = read.readout.dg13.as_mut() {
        for field in dg13.fields.values_mut() {
            field.raw.zeroize();
            for v in &mut field.values {
                v.zeroize();
            }
        }
    }
    for line in &mut read.readout.mrz.lines {
        line.zeroize();
    }
    if let Some(aa) = read.readout.active_auth.as_mut() {
        aa.signature.zeroize();
    }
}

/// DG13's `DD/MM/YYYY` as `YYYY-MM-DD` (the eForm's dates), when it has that form.
pub fn iso_date(dmy: &str) -> Option<String> {
    let p: Vec<&str> = dmy.trim().split('/').collect();
    match p[..] {
        [d, m, y]
            if d.len() == 2 && m.len() == 2 && y.len() == 4 && dmy.bytes().all(|b| b.is_ascii_digit() || b == b'/') =>
        {
            Some(format!("{y}-{m}-{d}"))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dg13_dates_become_iso_dates_and_anything_else_is_refused() {
        assert_eq!(iso_date("30/06/1995").as_deref(), Some("1995-06-30"));
        assert_eq!(iso_date("1995-06-30"), None);
        assert_eq!(iso_date("3/6/1995"), None);
        assert_eq!(iso_date("ab/cd/efgh"), None);
    }
}
