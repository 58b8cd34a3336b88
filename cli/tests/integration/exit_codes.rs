//! The one error → exit status mapping (`cli/src/commands/exit.rs`) seen from outside: a wrong
//! passcode exits 2 whichever command took it, with the stable code on stderr — `login` and
//! `services submit` alike (submit used to exit 1).

use citizen_core::cccd::Date;
use citizen_core::clock::{Clock, SystemClock};

use crate::env::Env;

fn day(offset: i64) -> String {
    let d = Date::from_unix_vn(SystemClock.now() + offset * 86_400);
    format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_passcode_exits_2_from_login_and_from_services_submit() {
    let env = Env::enrolled(true).await;
    let draft_id = {
        let core = env.core();
        assert!(core.services().refresh_catalogue().await.unwrap());
        core.services().refresh_profile().await.unwrap();
        let id = core.services().create_draft("residence-notification".into()).await.unwrap().draft_id;
        for (path, value) in [
            ("guests.0.full_name", "Khách Thử Nghiệm".to_string()),
            ("guests.0.cccd", "079195000002".to_string()),
            ("guests.0.relationship", "ban_be".to_string()),
            ("reason", "du_lich".to_string()),
            ("from_date", day(1)),
            ("to_date", day(5)),
        ] {
            core.services()
                .update_draft(id.clone(), std::collections::HashMap::from([(path.into(), value)]))
                .await
                .unwrap();
        }
        assert!(core.services().validate_draft(id.clone()).await.unwrap().is_empty(), "the draft is complete");
        core.shutdown().await;
        id
    };
    for args in [vec!["login"], vec!["services", "submit", draft_id.as_str()]] {
        let out = env.citizen().args(&args).env("CITIZEN_PASSCODE", "111112").output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("error [auth.passcode_incorrect]"), "{args:?}: {stderr}");
    }
    env.server.shutdown().await;
}
