//! A private PostgreSQL cluster for one run: `initdb` into a temporary directory, `postgres` on a
//! free loopback port (its socket in that directory too), removed at the end. PostgreSQL refuses
//! to run as root: when we are root the commands run as the `postgres` user (`runuser`), and the
//! directory is handed to that user.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The directory holding `initdb`, `pg_ctl` and `postgres`: `$CITIZEN_PG_BIN`, Debian's
/// `/usr/lib/postgresql/<newest>/bin`, or the `PATH`.
pub(crate) fn find_bin() -> Option<PathBuf> {
    let has = |d: &Path| ["initdb", "pg_ctl", "postgres"].iter().all(|b| d.join(b).is_file());
    if let Some(d) = std::env::var_os("CITIZEN_PG_BIN").map(PathBuf::from) {
        return has(&d).then_some(d);
    }
    let mut debian: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, d)| has(d))
        .collect();
    debian.sort();
    if let Some((_, d)) = debian.pop() {
        return Some(d);
    }
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .find(|d| has(d))
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A running private cluster; stopped and removed when dropped.
pub(crate) struct Cluster {
    bin: PathBuf,
    dir: PathBuf,
    as_postgres: bool,
    /// `postgres://citizen@127.0.0.1:<port>/postgres`.
    pub(crate) url: String,
}

impl Cluster {
    fn cmd(&self, prog: &str) -> Command {
        let exe = self.bin.join(prog);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        }
    }

    /// initdb + start. `max_connections` bounds the instances' pools together.
    pub(crate) fn start(bin: &Path, max_connections: u32) -> Result<Cluster, String> {
        let dir = std::env::temp_dir().join(format!("citizen-pg-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let as_postgres = is_root();
        if as_postgres {
            let st = Command::new("chown").args(["postgres:", dir.to_str().unwrap_or_default()]).status();
            if !st.is_ok_and(|s| s.success()) {
                return Err("cannot hand the cluster directory to the postgres user".into());
            }
        }
        let port =
            std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?.port();
        let mut c = Cluster {
            bin: bin.to_path_buf(),
            dir: dir.clone(),
            as_postgres,
            url: format!("postgres://citizen@127.0.0.1:{port}/postgres"),
        };
        let data = dir.join("data");
        let out = c
            .cmd("initdb")
            .args(["-A", "trust", "-U", "citizen", "-E", "UTF8", "--no-sync", "-D"])
            .arg(&data)
            .output()
            .map_err(|e| format!("initdb: {e}"))?;
        if !out.status.success() {
            return Err(format!("initdb failed: {}", String::from_utf8_lossy(&out.stderr)));
        }
        // Durable commits (fsync, synchronous_commit on) like the SQLite side's synchronous=FULL.
        let opts = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c max_connections={max_connections} -c shared_buffers=128MB",
            dir.display()
        );
        let out = c
            .cmd("pg_ctl")
            .arg("-D")
            .arg(&data)
            .args(["-o", &opts, "-l"])
            .arg(dir.join("log"))
            .args(["-w", "-t", "60", "start"])
            .output()
            .map_err(|e| format!("pg_ctl: {e}"))?;
        if !out.status.success() {
            let log = std::fs::read_to_string(dir.join("log")).unwrap_or_default();
            c.as_postgres = as_postgres;
            return Err(format!("pg_ctl start failed: {}\n{log}", String::from_utf8_lossy(&out.stderr)));
        }
        c.url = format!("postgres://citizen@127.0.0.1:{port}/postgres");
        Ok(c)
    }
}

impl Cluster {
    /// The postmaster's process id (first line of `postmaster.pid`).
    pub(crate) fn postmaster_pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.dir.join("data").join("postmaster.pid")).ok()?.lines().next()?.trim().parse().ok()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ =
            self.cmd("pg_ctl").arg("-D").arg(self.dir.join("data")).args(["-m", "immediate", "-w", "stop"]).output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
