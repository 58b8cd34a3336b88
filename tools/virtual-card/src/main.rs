//! `virtual-card`: serve a software card to `pcscd` through vpcd until pcscd closes the
//! connection (or the process is killed).
//!
//! ```text
//! virtual-card probe                 # the first vpcd reader, "Virtual PCD 00 00"
//! virtual-card --port 35964 probe    # the second one
//! ```
#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

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
    /// The card to serve (`probe`).
    card: String,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let Some(mut card) = virtual_card::card_by_name(&args.card) else {
        eprintln!("virtual-card: unknown card {:?}; known: {}", args.card, virtual_card::CARD_NAMES.join(", "));
        return ExitCode::from(2);
    };
    let shown = format!("{}:{}", args.host, args.port);
    let result = virtual_card::serve(card.as_mut(), &*shown, Duration::from_secs(args.connect_timeout), || {
        // The line tests wait for: the card is now in the reader.
        eprintln!("virtual-card: serving {} card on vpcd {shown}", args.card);
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
