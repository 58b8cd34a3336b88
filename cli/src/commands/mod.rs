//! The subcommands of `citizen`, one module per group. Each takes the opened core and its parsed
//! arguments, prints its result on stdout and returns the exit status; errors go through the one
//! mapping in [`exit`].

pub(crate) mod access;
pub(crate) mod account;
pub(crate) mod chip;
pub(crate) mod demo;
pub(crate) mod dependants;
pub(crate) mod devices;
pub(crate) mod documents;
pub(crate) mod enroll;
pub(crate) mod exit;
pub(crate) mod identity;
pub(crate) mod kiosk;
pub(crate) mod log;
pub(crate) mod passcode;
pub(crate) mod qr;
pub(crate) mod receipts;
pub(crate) mod services;
pub(crate) mod share;
pub(crate) mod verify;

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use zeroize::Zeroizing;

/// Environment variable of the current passcode.
pub(crate) const PASSCODE_VAR: &str = "CITIZEN_PASSCODE";
/// Environment variable of a new passcode.
pub(crate) const NEW_PASSCODE_VAR: &str = "CITIZEN_NEW_PASSCODE";
/// Prompt for the current passcode.
pub(crate) const PASSCODE_PROMPT: &str = "Mã bảo vệ / passcode";

/// A secret from the environment variable `var`, or else read from stdin after `prompt` —
/// never from the command line, which other users can see in the process list.
pub(crate) fn secret(var: &str, prompt: &str) -> Zeroizing<String> {
    if let Ok(v) = std::env::var(var) {
        return Zeroizing::new(v);
    }
    eprint!("{prompt}: ");
    let _ = std::io::stderr().flush();
    let mut line = Zeroizing::new(String::new());
    let _ = std::io::stdin().lock().read_line(&mut line);
    Zeroizing::new(line.trim().to_string())
}

/// The current passcode (`CITIZEN_PASSCODE` or stdin).
pub(crate) fn passcode() -> Zeroizing<String> {
    secret(PASSCODE_VAR, PASSCODE_PROMPT)
}

/// Print a command's result with `print` and exit 0, or report its error through the one
/// mapping ([`exit::fail`]).
pub(crate) fn finish<T, E: exit::CliError>(result: Result<T, E>, print: impl FnOnce(T)) -> ExitCode {
    match result {
        Ok(v) => {
            print(v);
            ExitCode::SUCCESS
        }
        Err(e) => exit::fail(&e),
    }
}

/// Print `line` and exit 0: the common ending of a command that succeeded.
pub(crate) fn done(line: impl std::fmt::Display) -> ExitCode {
    println!("{line}");
    ExitCode::SUCCESS
}

/// A file's text, or the exit status after saying why it cannot be read.
pub(crate) fn read(path: &PathBuf) -> Result<String, ExitCode> {
    std::fs::read_to_string(path).map_err(|e| exit::other(format!("cannot read {}: {e}", path.display())))
}

/// Write an export to `out`, or to stdout when no file is given.
pub(crate) fn write_out(out: Option<&Path>, json: &str) -> ExitCode {
    match out {
        Some(p) => match std::fs::write(p, json) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => exit::other(format!("cannot write {}: {e}", p.display())),
        },
        None => done(json),
    }
}
