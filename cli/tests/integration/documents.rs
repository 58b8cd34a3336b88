//! `citizen documents` against a running server: refresh issues and checks the four documents,
//! list and show print them with Vietnamese and English labels and save the portrait, delete
//! removes one, and an unknown id exits with its code.

use std::process::Output;

use crate::env::{Env, PASS};

fn run(env: &Env, args: &[&str]) -> Output {
    env.citizen().args(args).env("CITIZEN_PASSCODE", PASS).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_list_show_delete() {
    let env = Env::enrolled(true).await;
    let cli = |args: &[&str]| run(&env, args);

    let empty = cli(&["documents", "list"]);
    assert!(empty.status.success());
    assert!(stdout(&empty).contains("no documents"));

    let refreshed = cli(&["documents", "refresh"]);
    assert!(refreshed.status.success(), "{}", String::from_utf8_lossy(&refreshed.stderr));
    let out = stdout(&refreshed);
    assert!(out.contains("4 documents checked and stored"), "{out}");
    assert!(out.contains("Giấy phép lái xe / Driving licence  (org.iso.18013.5.1.mDL)"), "{out}");

    let listed = stdout(&cli(&["documents", "list"]));
    let id_of = |title: &str| {
        listed.lines().find(|l| l.contains(title)).unwrap().split_whitespace().next().unwrap().to_string()
    };
    let (mdl, car) = (id_of("Driving licence"), id_of("Vehicle registration"));

    let portrait = env.dir.path().join("portrait.jpg");
    let shown = cli(&["documents", "show", &mdl, "--portrait", portrait.to_str().unwrap()]);
    assert!(shown.status.success(), "{}", String::from_utf8_lossy(&shown.stderr));
    let out = stdout(&shown);
    assert!(out.contains("Ngày sinh / Date of birth: 1990-01-15"), "{out}");
    assert!(out.contains("Hạng giấy phép / Licence categories: A1: 2022-03-15; B: 2022-03-15 → 2032-03-15"), "{out}");
    assert!(std::fs::read(&portrait).unwrap().starts_with(&[0xff, 0xd8]));

    let deleted = cli(&["documents", "delete", &car]);
    assert!(deleted.status.success(), "{}\n{listed}", String::from_utf8_lossy(&deleted.stderr));
    assert_eq!(stdout(&cli(&["documents", "list"])).lines().count(), 3);
    let gone = cli(&["documents", "show", &car]);
    assert!(!gone.status.success());
    assert!(String::from_utf8_lossy(&gone.stderr).contains("documents.unknown"));
}
