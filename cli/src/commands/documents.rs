//! `citizen documents list | show | refresh | delete`: the documents wallet (issue 13 item 1).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use citizen_core::{CitizenCore, DocumentSummary};

use super::{exit, finish};
use crate::DocumentsOp;

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn line(s: &DocumentSummary) {
    println!(
        "{}  {} / {}  ({})  valid_until={}  status_index={}",
        s.id,
        s.title_vi,
        s.title_en,
        s.doc_type,
        unix(s.valid_until),
        s.status_index
    );
}

/// Run a documents operation.
pub(crate) async fn run(core: &CitizenCore, op: DocumentsOp) -> ExitCode {
    let docs = core.documents();
    match op {
        DocumentsOp::List => finish(docs.list().await, |list| {
            if list.is_empty() {
                println!("no documents (run `citizen documents refresh`)");
            }
            list.iter().for_each(line);
        }),
        DocumentsOp::Refresh => finish(docs.refresh().await, |list| {
            println!("{} documents checked and stored", list.len());
            list.iter().for_each(line);
        }),
        DocumentsOp::Show { id, portrait } => match docs.get(id).await {
            Ok(d) => {
                line(&d.summary);
                println!("  issuer: {}", d.summary.issuer);
                for f in &d.fields {
                    println!("  {} / {}: {}", f.label_vi, f.label_en, f.value);
                }
                match (&d.portrait, portrait) {
                    (Some(p), Some(path)) => write_portrait(&path, p),
                    (Some(p), None) => {
                        println!("  Ảnh chân dung / Portrait: {} bytes (JPEG; --portrait FILE to save)", p.len());
                        ExitCode::SUCCESS
                    }
                    (None, _) => ExitCode::SUCCESS,
                }
            }
            Err(e) => exit::fail(&e),
        },
        DocumentsOp::Delete { id } => finish(docs.delete(id.clone()).await, |()| println!("deleted {id}")),
    }
}

fn write_portrait(path: &PathBuf, bytes: &[u8]) -> ExitCode {
    match std::fs::write(path, bytes) {
        Ok(()) => {
            println!("  portrait written to {}", path.display());
            ExitCode::SUCCESS
        }
        Err(e) => exit::other(format!("cannot write {}: {e}", path.display())),
    }
}
