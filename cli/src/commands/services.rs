//! `citizen services list | show | fill | submit | status | sync`: public-service requests.

use std::process::ExitCode;
use std::sync::Arc;

use citizen_core::error::PublicError;
use citizen_core::CitizenCore;

use super::{exit, finish, passcode};
use crate::ServicesOp;

/// Exit status of `services fill` when the form is not valid yet.
const FORM_INCOMPLETE: u8 = 3;
/// Exit status of a malformed `--set` or `--attach`.
const BAD_ARGUMENT: u8 = 2;

/// Run a services operation.
pub(crate) async fn run(core: Arc<CitizenCore>, op: ServicesOp) -> ExitCode {
    match op {
        ServicesOp::List => list(&core).await,
        ServicesOp::Show { procedure } => show(&core, &procedure).await,
        ServicesOp::Fill { procedure, set, attach, items, for_dependant } => {
            fill(&core, procedure, set, attach, items, for_dependant).await
        }
        ServicesOp::Submit { draft_id } => {
            let pass = passcode();
            match core.clone().services().submit_draft(draft_id, pass.to_string()).await {
                Ok(item) => {
                    println!("queued submission_id={} sha256={}", item.submission_id, item.payload_sha256);
                    match core.services().sync_outbox().await {
                        Ok(r) => println!("delivered={} remaining={}", r.delivered, r.remaining),
                        Err(e) => eprintln!("sync: {}", e.detail().message_en),
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => exit::fail(&e),
            }
        }
        ServicesOp::Status => status(&core).await,
        ServicesOp::Sync => sync(&core).await,
    }
}

async fn list(core: &CitizenCore) -> ExitCode {
    if let Err(e) = core.services().refresh_catalogue().await {
        eprintln!("(offline: {}; showing the saved catalogue)", e.detail().message_en);
    }
    finish(core.services().list_procedures().await, |ps| {
        for p in ps {
            println!(
                "{:<24} v{} {} — {} VND, {} ngày — {}",
                p.id, p.version, p.name_vi, p.fee_vnd, p.processing_days, p.agency_vi
            );
        }
    })
}

async fn show(core: &CitizenCore, procedure: &str) -> ExitCode {
    let _ = core.services().refresh_catalogue().await;
    let Some(p) =
        core.services().list_procedures().await.ok().and_then(|ps| ps.into_iter().find(|p| p.id == procedure))
    else {
        return exit::other(format!("unknown procedure {procedure}"));
    };
    println!("{} / {} (v{})", p.name_vi, p.name_en, p.version);
    for f in &p.fields {
        println!(
            "  {:<22} {:<10} {}{}{}",
            f.key,
            format!("{:?}", f.kind).to_lowercase(),
            f.label_vi,
            if f.required { " *" } else { "" },
            if f.locked {
                " [CSDL dân cư, khoá]"
            } else if f.autofill.is_some() {
                " [tự điền]"
            } else {
                ""
            }
        );
        for i in &f.item_fields {
            println!(
                "    {}.<n>.{:<14} {:<10} {}{}",
                f.key,
                i.key,
                format!("{:?}", i.kind).to_lowercase(),
                i.label_vi,
                if i.required { " *" } else { "" }
            );
        }
    }
    for a in &p.attachments {
        println!(
            "  📎 {:<19} {} ({}; ≤ {} bytes){}",
            a.key,
            a.label_vi,
            a.mime_types.join(", "),
            a.max_bytes,
            if a.required { " *" } else { "" }
        );
    }
    ExitCode::SUCCESS
}

async fn fill(
    core: &CitizenCore,
    procedure: String,
    set: Vec<String>,
    attach: Vec<String>,
    items: Vec<String>,
    for_dependant: Option<String>,
) -> ExitCode {
    if core.status().await.map(|s| s.logged_in).unwrap_or(false) {
        let _ = core.services().refresh_profile().await;
    }
    let _ = core.services().refresh_catalogue().await;
    let created = match for_dependant {
        Some(dependant) => core.services().create_draft_for(procedure, dependant).await,
        None => core.services().create_draft(procedure).await,
    };
    let d = match created {
        Ok(d) => d,
        Err(e) => return exit::fail(&e),
    };
    for spec in items {
        let (group, n) = spec.split_once('=').unwrap_or((&spec, "1"));
        for _ in 0..n.parse::<u32>().unwrap_or(1) {
            if let Err(e) = core.services().add_group_item(d.draft_id.clone(), group.into()).await {
                return exit::fail(&e);
            }
        }
    }
    for kv in set {
        let Some((k, v)) = kv.split_once('=') else {
            eprintln!("--set expects path=value");
            return ExitCode::from(BAD_ARGUMENT);
        };
        if let Err(e) = core
            .services()
            .update_draft(d.draft_id.clone(), std::collections::HashMap::from([(k.into(), v.into())]))
            .await
        {
            return exit::fail(&e);
        }
    }
    for a in attach {
        let Some((k, rest)) = a.split_once('=') else {
            eprintln!("--attach expects key=file:mime");
            return ExitCode::from(BAD_ARGUMENT);
        };
        let (file, mime) = rest.rsplit_once(':').unwrap_or((rest, "application/pdf"));
        if let Err(e) = core.services().attach_file(d.draft_id.clone(), k.into(), file.into(), mime.into()).await {
            return exit::fail(&e);
        }
    }
    println!("draft_id={}", d.draft_id);
    match core.services().validate_draft(d.draft_id).await {
        Ok(errors) if errors.is_empty() => super::done("valid"),
        Ok(errors) => {
            for f in errors {
                println!("  {} [{}]: {} / {}", f.field, f.code, f.message_vi, f.message_en);
            }
            ExitCode::from(FORM_INCOMPLETE)
        }
        Err(e) => exit::fail(&e),
    }
}

async fn status(core: &CitizenCore) -> ExitCode {
    let _ = core.services().sync_cases().await;
    match (core.services().list_outbox().await, core.services().list_cases().await) {
        (Ok(items), Ok(cases)) => {
            for i in items {
                println!(
                    "outbox {} {} {:?} attempts={} case={}{}",
                    i.submission_id,
                    i.procedure_id,
                    i.state,
                    i.attempts,
                    i.case_number.unwrap_or_else(|| "-".into()),
                    i.last_error.map(|e| format!(" ({})", e.code)).unwrap_or_default()
                );
            }
            for c in cases {
                println!(
                    "case {} {} {:?}{}",
                    c.case_number,
                    c.procedure_id,
                    c.status,
                    c.note_vi.map(|n| format!(" — {n}")).unwrap_or_default()
                );
            }
            ExitCode::SUCCESS
        }
        (Err(e), _) | (_, Err(e)) => exit::fail(&e),
    }
}

async fn sync(core: &CitizenCore) -> ExitCode {
    let r = match core.services().sync_outbox().await {
        Ok(r) => r,
        Err(e) => return exit::fail(&e),
    };
    println!("delivered={} rejected={} remaining={}", r.delivered, r.rejected, r.remaining);
    if let Some(e) = r.last_error {
        println!("stopped: [{}] {}", e.code, e.message_en);
    }
    finish(core.services().sync_cases().await, |events| {
        for e in events {
            println!("case {} → {:?}", e.case_number, e.status);
        }
    })
}
