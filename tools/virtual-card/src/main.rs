//! `virtual-card`: serve a software card to `pcscd` through vpcd until pcscd closes the
//! connection (or the process is killed).
//!
//! ```text
//! virtual-card probe                       # the first vpcd reader, "Virtual PCD 00 00"
//! virtual-card --port 35964 probe          # the second one
//! virtual-card cccd --citizen 1            # the software CCCD of the second fictitious citizen
//! virtual-card cccd --tamper-dg 13         # DG13 changed after EF.SOD was signed
//! virtual-card cccd --remove-after 20      # pulled from the reader after 20 APDUs
//! virtual-card export-csca csca.der        # the test CSCA, for `citizen chip read --csca`
//! ```
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use virtual_card::cccd::{self, CccdOptions, RemovingAfter};
use virtual_card::{VirtualCard, VpcdConnection};

#[derive(Parser)]
#[command(name = "virtual-card", about = "Serve a software smart card to pcscd through vsmartcard's vpcd")]
struct Args {
    /// Host of pcscd's vpcd driver.
    #[arg(long, default_value = virtual_card::VPCD_HOST)]
    host: String,
    /// TCP port of the vpcd reader slot (35963: "Virtual PCD 00 00", 35964: "… 00 01").
    #[arg(long, default_value_t = virtual_card::VPCD_PORT)]
    port: u16,
    /// How long to keep retrying while pcscd is not listening yet, in seconds.
    #[arg(long, default_value_t = 10)]
    connect_timeout: u64,
    /// `cccd`: which fictitious citizen (0, 1, 2: the reference server's register order).
    #[arg(long, default_value_t = 0)]
    citizen: usize,
    /// `cccd`: change one letter of this data group after EF.SOD was signed.
    #[arg(long)]
    tamper_dg: Option<u8>,
    /// `cccd`: no PACE (no EF.CardAccess); only BAC opens the card.
    #[arg(long)]
    bac_only: bool,
    /// Leave the reader after answering this many APDUs (a card pulled away mid-read).
    #[arg(long)]
    remove_after: Option<usize>,
    /// The card to serve (`probe`, `cccd`), or `export-csca FILE`: write the test CSCA
    /// certificate (DER) that the `cccd` card's document signer chains to, and exit.
    card: String,
    /// For `export-csca`: where to write the certificate.
    out: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.card == "export-csca" {
        let Some(out) = &args.out else {
            eprintln!("virtual-card: export-csca needs a file name");
            return ExitCode::from(2);
        };
        return match std::fs::write(out, cccd::test_csca()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("virtual-card: {}: {e}", out.display());
                ExitCode::FAILURE
            }
        };
    }
    let card: Option<Box<dyn VirtualCard + Send>> = if args.card == "cccd" {
        let options = CccdOptions { citizen: args.citizen, tamper_dg: args.tamper_dg, bac_only: args.bac_only };
        cccd::cccd_card(&options).map(|c| Box::new(c) as Box<dyn VirtualCard + Send>)
    } else {
        virtual_card::card_by_name(&args.card)
    };
    let Some(card) = card else {
        eprintln!(
            "virtual-card: unknown card {:?} (or no such citizen / data group); known: {}, export-csca",
            args.card,
            virtual_card::CARD_NAMES.join(", ")
        );
        return ExitCode::from(2);
    };
    let shown = format!("{}:{}", args.host, args.port);
    let result = VpcdConnection::connect(&*shown, Duration::from_secs(args.connect_timeout)).and_then(|connection| {
        let mut card = match args.remove_after {
            Some(n) => Box::new(RemovingAfter::new(card, n, connection.remover()?)),
            None => card,
        };
        // The line tests wait for: the card is now in the reader.
        eprintln!("virtual-card: serving {} card on vpcd {shown}", args.card);
        connection.serve(card.as_mut())
    });
    match result {
        Ok(()) => {
            eprintln!("virtual-card: vpcd closed the connection");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("virtual-card: {e}");
            ExitCode::FAILURE
        }
    }
}
