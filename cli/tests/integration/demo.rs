//! The demo runs end to end, and afterwards nothing personal or secret is in the core's data
//! directory (database, WAL, SHM, key files), in what the demo printed or in the log output —
//! not the CCCD number, not the phone number, not the passcode, not any token the session held.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use citizen_cli::demo::{run, DEMO_PASSCODE};
use citizen_cli::DEMO_CITIZEN;

#[derive(Clone, Default)]
struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = vec![];
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            stack.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        } else {
            out.push((p.display().to_string(), std::fs::read(&p).unwrap()));
        }
    }
    out
}

fn needles(tokens: &[String]) -> Vec<String> {
    let (cccd, _, phone) = DEMO_CITIZEN;
    let mut n = vec![
        cccd.to_string(),
        phone.to_string(),
        phone.replace("+84", "0"),
        DEMO_PASSCODE.to_string(),
        // The register's name of the demo citizen, and the guest of the residence notification.
        "Nguyễn Văn Mẫu".to_string(),
        "Khách Thử Nghiệm".to_string(),
        "079195000002".to_string(),
        // The address the citizen chose not to share with the bank (and the register's detail).
        "Số 1 Đường Thử Nghiệm".to_string(),
        "1990-01-15".to_string(),
    ];
    n.extend(tokens.iter().cloned());
    n
}

fn assert_clean(what: &str, haystack: &[u8], needles: &[String]) {
    for n in needles {
        assert!(!haystack.windows(n.len()).any(|w| w == n.as_bytes()), "a secret or personal value leaked into {what}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_succeeds_and_leaks_nothing() {
    let logs = SharedBuf::default();
    let sink = logs.clone();
    let _ = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .try_init();

    let dir = tempfile::tempdir().unwrap();
    let mut printed = Vec::new();
    let mut tokens = vec![];
    let mut steps = vec![];
    run(dir.path(), &mut printed, &mut |step, core| {
        steps.push(step.to_string());
        if let Some((a, r)) = core.session_tokens() {
            tokens.push(a);
            tokens.push(r);
        }
    })
    .await
    .unwrap();
    let shown = String::from_utf8_lossy(&printed).to_string();
    assert!(shown.contains("identity level 1 → 2"), "the demo shows the level-2 upgrade:\n{shown}");
    assert_eq!(
        steps,
        [
            "core.open",
            "enroll.start",
            "enroll.complete",
            "login",
            "refresh",
            "devices.list",
            "chip.read",
            "chip.level2",
            "services.fill",
            "services.case",
            "qr.approve",
            "share",
            "logout"
        ]
    );
    tokens.sort();
    tokens.dedup();
    assert!(tokens.len() >= 4, "the scan must know the tokens of login and refresh: {}", tokens.len());

    let printed_s = String::from_utf8(printed.clone()).unwrap();
    assert!(printed_s.contains("✓ login") && printed_s.contains("✓ logout"), "{printed_s}");
    assert!(printed_s.contains("✓ chip.read (PACE-CAN, software CCCD)"), "{printed_s}");
    assert!(printed_s.contains("PA ✓ (DG1, DG13, DG14, DG15) · CA ✓ · AA ✓"), "{printed_s}");
    // The driving licence presented in person with the network down, verified offline.
    assert!(printed_s.contains("✓ verify.verdict (offline)"), "{printed_s}");
    assert!(printed_s.contains("Kết quả / Result: HỢP LỆ / VALID"), "{printed_s}");
    let needles = needles(&tokens);
    assert_clean("the demo output", &printed, &needles);
    let log_bytes = logs.0.lock().unwrap().clone();
    assert!(!log_bytes.is_empty(), "trace logging was captured");
    assert_clean("the log output", &log_bytes, &needles);
    // Positive control: the scanner does find the number where it legitimately is (the
    // server's population register), so a clean result above means something.
    let cccd = DEMO_CITIZEN.0.as_bytes();
    assert!(files(&dir.path().join("server")).iter().any(|(_, b)| b.windows(cccd.len()).any(|w| w == cccd)));
    let core_files = files(&dir.path().join("core"));
    assert!(core_files.iter().any(|(p, _)| p.ends_with("citizen-core.db")));
    for (path, bytes) in &core_files {
        assert_clean(path, bytes, &needles);
    }
}

#[test]
fn demo_binary_exits_zero_and_prints_no_personal_data() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_citizen"))
        .args(["demo", "--data-dir"])
        .arg(dir.path())
        .env("CITIZEN_LOG", "debug")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("Hoàn tất"), "{stdout}");
    let needles = needles(&[]);
    assert_clean("stdout", &out.stdout, &needles);
    assert_clean("stderr", &out.stderr, &needles);
    for (path, bytes) in files(&dir.path().join("core")) {
        assert_clean(&path, &bytes, &needles);
    }
}
