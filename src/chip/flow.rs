//! The upgrade flow: challenge, chip read over the platform transport, signed upload, new
//! credential, activity entry.

use std::sync::Arc;

use citizen_chip::kdf::AccessKey;
use citizen_chip::lds::File;
use citizen_chip::pa::TrustList;
use citizen_chip::reader::{Action, ChipReadout, Progress, Reader, ReaderConfig, Stats};
use citizen_chip::{ChipError, OsRandom};
use zeroize::Zeroize;

use crate::account::Account;
use crate::activity::ActivityKind;
use crate::crypto::{b64, unb64};
use crate::error::{Error, NetError, NetworkErrorKind};
use crate::platform::{ApduTransport, ApduTransportError};
use crate::protocol::chip::{
    aa_challenge, upload_subject, ChipChallengeRequest, ChipChallengeResponse, ChipEvidence, ChipUpgradeRequest,
    ChipUpgradeResponse, PATH_CHIP_CHALLENGE, PATH_CHIP_UPGRADE,
};
use crate::protocol::{Purpose, Statement};

/// Receives the read's progress (step name, file bytes read, APDUs exchanged).
pub(crate) type ProgressSink = Arc<dyn Fn(&Progress) + Send + Sync>;

/// Why an upgrade stopped.
#[derive(Debug)]
pub(crate) enum ChipFlowError {
    /// The card read failed (wrong CAN, card removed, clone detected by the reader, untrusted
    /// signer, …): the reader's typed error.
    Read(ChipError),
    /// The platform cancelled the exchange (the citizen dismissed the NFC sheet).
    Cancelled,
    /// Anything else: the session, the network, the server's refusal (`chip.*`,
    /// `level.required` codes as domain conditions), the key store.
    Core(Error),
}

impl From<Error> for ChipFlowError {
    fn from(e: Error) -> Self {
        ChipFlowError::Core(e)
    }
}

/// What an upgrade achieved.
#[derive(Debug, Clone)]
pub(crate) struct ChipUpgraded {
    /// The account's level now.
    pub level: u8,
    /// Unix seconds (server time).
    pub upgraded_at: i64,
    /// Traffic of the read.
    pub stats: Stats,
    /// Whether the new PID credential (stating the level) was fetched and stored; when false the
    /// next share fetches it.
    pub credential_refreshed: bool,
}

fn bad_answer(detail: &str) -> Error {
    Error::Net(NetError { kind: NetworkErrorKind::Protocol, detail: detail.into(), retry_after: None })
}

/// Largest response data the reader asks for: short APDUs unless the transport carries
/// extended length (then leave room for SM overhead and the status word).
fn max_response_len(t: &dyn ApduTransport) -> usize {
    if t.supports_extended_length() {
        usize::try_from(t.max_apdu_length()).unwrap_or(256).saturating_sub(64).clamp(256, 65_536)
    } else {
        256
    }
}

/// Drive `reader` over `transport` to the end, reporting progress after each answer.
async fn drive(
    mut reader: Reader,
    transport: &dyn ApduTransport,
    progress: Option<&ProgressSink>,
) -> Result<ChipReadout, ChipFlowError> {
    let mut action = reader.start().map_err(ChipFlowError::Read)?;
    loop {
        match action {
            Action::Send(apdu) => {
                let answer = match transport.transceive(apdu).await {
                    Ok(a) => a,
                    Err(ApduTransportError::Cancelled { .. }) => {
                        reader.on_transport_error();
                        return Err(ChipFlowError::Cancelled);
                    }
                    Err(e) => {
                        tracing::info!(error = %e, "chip transport failed");
                        return Err(ChipFlowError::Read(reader.on_transport_error()));
                    }
                };
                action = reader.on_response(&answer).map_err(ChipFlowError::Read)?;
                if let Some(p) = progress {
                    p(&reader.progress());
                }
            }
            Action::Done(readout) => return Ok(*readout),
        }
    }
}

/// The evidence the server re-verifies, from a verified read.
fn evidence(out: &ChipReadout) -> Result<ChipEvidence, ChipFlowError> {
    let file = |f: File| out.files.get(&f).map(|b| b64(b));
    let missing = || ChipFlowError::Read(ChipError::Protocol("a file the upgrade needs was not read"));
    let aa = out
        .active_auth
        .as_ref()
        .ok_or(ChipFlowError::Core(Error::Domain(crate::error::Msg::ChipNoActiveAuthentication)))?;
    Ok(ChipEvidence {
        sod: file(File::Sod).ok_or_else(missing)?,
        dg1: file(File::Dg(1)).ok_or_else(missing)?,
        dg13: file(File::Dg(13)).ok_or_else(missing)?,
        dg14: file(File::Dg(14)),
        dg15: file(File::Dg(15))
            .ok_or(ChipFlowError::Core(Error::Domain(crate::error::Msg::ChipNoActiveAuthentication)))?,
        aa_signature: b64(&aa.signature),
    })
}

/// Overwrite the read's files in memory before they are dropped.
fn wipe(mut out: ChipReadout) {
    for bytes in out.files.values_mut() {
        bytes.zeroize();
    }
    if let Some(aa) = out.active_auth.as_mut() {
        aa.signature.zeroize();
    }
}

pub(crate) fn wipe_evidence(e: &mut ChipEvidence) {
    for s in [&mut e.sod, &mut e.dg1, &mut e.dg13, &mut e.dg15, &mut e.aa_signature] {
        s.zeroize();
    }
    if let Some(d) = e.dg14.as_mut() {
        d.zeroize();
    }
}

impl Account {
    /// Raise the account to level 2 from the card's chip (see the module documentation).
    pub(crate) async fn upgrade_with_chip(
        &self,
        transport: Arc<dyn ApduTransport>,
        access_key: AccessKey,
        progress: Option<ProgressSink>,
    ) -> Result<ChipUpgraded, ChipFlowError> {
        let acc = self.active_account()?;
        let token = self.access_token().await?;
        let ch: ChipChallengeResponse = self
            .net
            .post(PATH_CHIP_CHALLENGE, &ChipChallengeRequest { device_id: acc.device_id.clone() }, Some(&token))
            .await?;
        if ch.audience != self.net.audience() {
            return Err(bad_answer("chip challenge for another audience").into());
        }
        let (mut ev, stats) = self.read_evidence(transport, access_key, progress, &ch.csca, &ch.nonce).await?;
        let result = self.upload_chip(&acc, &token, ch.nonce, &ev).await;
        wipe_evidence(&mut ev);
        let r = result?;
        // The credential now states level 2. A failure here does not undo the upgrade (the
        // server holds the level); the next share fetches the credential again.
        let credential_refreshed = match self.fetch_credential().await {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, "credential not refreshed after the chip upgrade");
                false
            }
        };
        self.log_activity(ActivityKind::LevelUpgrade, format!("level={}", r.level)).await;
        Ok(ChipUpgraded { level: r.level, upgraded_at: r.upgraded_at, stats, credential_refreshed })
    }

    /// Read the card with active authentication over `aa_challenge(nonce)`, passive
    /// authentication against `csca` (base64url DER), and return the evidence the server
    /// re-verifies (the read itself is wiped). Shared by the level upgrade and the recovery on a
    /// new device (issue 15), whose nonce is the enrollment id.
    pub(crate) async fn read_evidence(
        &self,
        transport: Arc<dyn ApduTransport>,
        access_key: AccessKey,
        progress: Option<ProgressSink>,
        csca: &[String],
        nonce: &str,
    ) -> Result<(ChipEvidence, Stats), ChipFlowError> {
        let cscas = csca.iter().map(|c| unb64(c)).collect::<Option<Vec<_>>>();
        let trust = cscas
            .and_then(|c| TrustList::new(c).ok())
            .ok_or_else(|| ChipFlowError::Core(bad_answer("CSCA list malformed")))?;
        let config = ReaderConfig {
            access_key,
            max_response_len: max_response_len(transport.as_ref()),
            read_dg2: false,
            trust,
            now: u64::try_from(self.now()).unwrap_or_default(),
            aa_challenge: Some(aa_challenge(nonce)),
        };
        let readout = drive(Reader::new(config, Box::new(OsRandom)), transport.as_ref(), progress.as_ref()).await?;
        let stats = readout.stats;
        let ev = evidence(&readout);
        wipe(readout);
        Ok((ev?, stats))
    }

    /// The chip evidence of a recovery on a new device (issue 15): the server's public CSCA list
    /// (no session yet), then a read with active authentication over the enrollment id.
    pub(crate) async fn recovery_evidence(
        &self,
        transport: Arc<dyn ApduTransport>,
        access_key: AccessKey,
        progress: Option<ProgressSink>,
        enrollment_id: &str,
    ) -> Result<ChipEvidence, ChipFlowError> {
        let trust: crate::protocol::chip::ChipTrustResponse =
            self.net.get(crate::protocol::chip::PATH_CHIP_CSCA, None).await?;
        let (ev, _) = self.read_evidence(transport, access_key, progress, &trust.csca, enrollment_id).await?;
        Ok(ev)
    }

    /// The level the stored PID credential states (1 without one).
    pub(crate) fn identity_level(&self) -> Result<u8, Error> {
        let c = self.store.credential::<String>(crate::store::rows::CredentialKind::Pid)?;
        Ok(c.and_then(|c| crate::sdjwt::inspect(&c.credential).ok()).map_or(1, |i| i.level))
    }

    async fn upload_chip(
        &self,
        acc: &crate::store::AccountRow,
        token: &str,
        nonce: String,
        ev: &ChipEvidence,
    ) -> Result<ChipUpgradeResponse, Error> {
        let st = Statement {
            purpose: Purpose::Chip,
            audience: self.net.audience().to_string(),
            nonce,
            device_id: acc.device_id.clone(),
            counter: self.store.next_counter()?,
            issued_at: self.now(),
            subject: upload_subject(ev),
        };
        let signed = self.sign_statement(&acc.key_alias, &acc.public_key, st).await?;
        let req = ChipUpgradeRequest { signed, evidence: ev.clone() };
        let r: ChipUpgradeResponse = self.net.post(PATH_CHIP_UPGRADE, &req, Some(token)).await?;
        Ok(r)
    }
}
