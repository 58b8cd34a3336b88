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
        DocumentsOp::Present { listen, only, decline } => present(core, &listen, &only, decline).await,
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

/// `citizen documents present --listen ADDR [--only a,b] [--decline]`: show the engagement QR
/// text, wait for the verifier on TCP (`citizen verify --connect`), print who asks and what,
/// then disclose every requested element (or those named with `--only`) with the passcode
/// (CITIZEN_PASSCODE or stdin), or decline.
pub(crate) async fn present(core: &CitizenCore, listen: &str, only: &[String], decline: bool) -> ExitCode {
    use std::io::Write as _;
    let (transport, addr) = match citizen_cli::mdoc_tcp::TcpMdocTransport::listen(listen).await {
        Ok(t) => t,
        Err(e) => return exit::other(format!("cannot listen on {listen}: {e}")),
    };
    let session = match core.documents().start_presentation(transport).await {
        Ok(s) => s,
        Err(e) => return exit::fail(&e),
    };
    println!("listening on {addr}");
    println!("{}", session.engagement_qr());
    let _ = std::io::stdout().flush();
    let request = match session.await_request().await {
        Ok(r) => r,
        Err(e) => return exit::fail(&e),
    };
    let who = &request.requester;
    if who.authenticated {
        println!(
            "Bên yêu cầu / Requester: {} ({}; chứng thư hợp lệ theo danh sách tin cậy / certificate in the trust list)",
            who.common_name.clone().unwrap_or_else(|| who.subject.clone()),
            who.organisation.clone().unwrap_or_default()
        );
    } else {
        println!("Bên yêu cầu / Requester: không xác thực / anonymous");
    }
    for e in &request.elements {
        println!(
            "  {} / {}{}{}",
            e.label_vi,
            e.label_en,
            if e.intent_to_retain { " — sẽ lưu lại / will be kept" } else { "" },
            if e.held { "" } else { " — không có / not held" }
        );
    }
    if decline {
        return super::finish(session.decline().await, |()| println!("declined"));
    }
    let selection: Vec<citizen_core::ElementSelection> = request
        .elements
        .iter()
        .filter(|e| e.held && (only.is_empty() || only.contains(&e.identifier)))
        .map(|e| citizen_core::ElementSelection {
            doc_type: e.doc_type.clone(),
            namespace: e.namespace.clone(),
            identifier: e.identifier.clone(),
        })
        .collect();
    let passcode = super::passcode();
    super::finish(session.approve(selection, passcode.to_string()).await, |o| {
        println!("presented {} elements; receipt {}", o.disclosed.len(), o.receipt_id);
    })
}
