//! `citizen demo`: the whole story against an in-process server.

use std::path::PathBuf;
use std::process::ExitCode;

/// Run the demo in `data_dir` (default: a new temporary directory).
pub(crate) async fn run(data_dir: Option<PathBuf>) -> ExitCode {
    let dir = data_dir.unwrap_or_else(|| {
        std::env::temp_dir().join(format!(
            "citizen-demo-{}-{}",
            std::process::id(),
            citizen_core::crypto::random_b64url(4)
        ))
    });
    let mut out = std::io::stdout();
    match citizen_cli::demo::run(&dir, &mut out, &mut |_, _| {}).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => super::exit::other(format!("demo: {e}")),
    }
}
