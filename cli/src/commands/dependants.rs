//! `citizen dependants [--revoke MANDATE_ID]`: the children under 14 and wards the register names
//! this citizen as parent or guardian of, their mandates and the cases filed on their behalf
//! (issue 15 item 5, decision 49). Filing for one: `citizen services fill PROC --for CCCD`.

use std::process::ExitCode;

use citizen_core::CitizenCore;

use super::exit;

/// `dependants`: list (after revoking one, when asked).
pub(crate) async fn run(core: &CitizenCore, revoke: Option<String>) -> ExitCode {
    if let Some(id) = revoke {
        if let Err(e) = core.account().revoke_mandate(id.clone()).await {
            return exit::fail(&e);
        }
        println!("revoked mandate={id}");
    }
    let list = match core.account().dependants().await {
        Ok(l) => l,
        Err(e) => return exit::fail(&e),
    };
    for d in &list {
        let m = &d.mandate;
        println!(
            "{} \"{}\" born={} relation={:?} mandate={} state={:?} until={} procedures={} documents={}",
            d.profile.cccd,
            d.profile.full_name,
            d.profile.date_of_birth,
            d.relation,
            m.mandate_id,
            m.state,
            citizen_cli::unix(m.ends_at),
            m.procedures.join(","),
            m.document_types.join(","),
        );
        for c in &d.cases {
            println!(
                "  case={} procedure={} status={} received={} filed_by={}",
                c.case_number,
                c.procedure_id,
                c.status,
                citizen_cli::unix(c.received_at),
                c.filed_by
            );
        }
    }
    println!("dependants={}", list.len());
    ExitCode::SUCCESS
}
