//! `citizen verify` (verifier mode, no account) and `citizen documents present` over the TCP
//! transport with the ISO 18013-5 framing: the verifier caches the lists, the citizen's CLI
//! shows the engagement QR text, the verifier connects and prints the verdict in Vietnamese and
//! English; a declined presentation exits 5 (invalid).

use std::io::{BufRead, BufReader};
use std::process::{Output, Stdio};

use crate::env::{Env, PASS};

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Start `citizen documents present --listen 127.0.0.1:0 extra…`; returns the child, the
/// address it listens on and the QR text it printed.
fn present(env: &Env, extra: &[&str]) -> (std::process::Child, String, String) {
    let mut child = env
        .citizen()
        .args(["documents", "present", "--listen", "127.0.0.1:0"])
        .args(extra)
        .env("CITIZEN_PASSCODE", PASS)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let addr = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("{line}")).to_string();
    line.clear();
    out.read_line(&mut line).unwrap();
    let qr = line.trim().to_string();
    assert!(qr.starts_with("mdoc:"), "{qr}");
    // Keep draining the rest so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in out.lines() {});
    (child, addr, qr)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_driving_licence_presented_over_tcp_is_verified_offline_and_printed_in_both_languages() {
    let env = Env::enrolled(true).await;
    let refreshed = env.citizen().args(["documents", "refresh"]).output().unwrap();
    assert!(refreshed.status.success(), "{}", String::from_utf8_lossy(&refreshed.stderr));

    let none = env.citizen().args(["verify", "status"]).output().unwrap();
    assert!(none.status.success());
    assert!(stdout(&none).contains("trust_list_fetched_at=-"), "{}", stdout(&none));
    let r = env.citizen().args(["verify", "refresh"]).output().unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(stdout(&r).contains("trust list and status list verified and cached"));

    // Selective: only three of the nine requested elements.
    let (child, addr, qr) = present(&env, &["--only", "family_name,given_name,birth_date"]);
    let v = env
        .citizen()
        .args(["verify", "--connect", &addr, "--qr", &qr, "--preset", "driving-licence"])
        .output()
        .unwrap();
    let out = stdout(&v);
    assert!(v.status.success(), "{out}\n{}", String::from_utf8_lossy(&v.stderr));
    assert!(out.contains("Kết quả / Result: HỢP LỆ / VALID"), "{out}");
    assert!(out.contains("✓ Chưa bị thu hồi / Not revoked"), "{out}");
    assert!(out.contains("Ngày sinh / Date of birth: 1990-01-15"), "{out}");
    assert!(!out.contains("Ảnh chân dung"), "the portrait was not chosen: {out}");
    let holder = child.wait_with_output().unwrap();
    assert!(holder.status.success(), "{}", String::from_utf8_lossy(&holder.stderr));

    // Declined: the verdict is invalid (exit 5) with its code.
    let (child, addr, qr) = present(&env, &["--decline"]);
    let v = env.citizen().args(["verify", "--connect", &addr, "--qr", &qr]).output().unwrap();
    assert_eq!(v.status.code(), Some(5), "{}", stdout(&v));
    assert!(stdout(&v).contains("mdoc.session_ended"), "{}", stdout(&v));
    assert!(child.wait_with_output().unwrap().status.success());
}
