//! A throwaway PostgreSQL cluster for tests, shared by the store's suite and the service's
//! end-to-end tests (included with `#[path]`).
//!
//! The cluster is started from the system's PostgreSQL binaries (`/usr/lib/postgresql/*/bin`); when they are
//! missing the tests fail, they are never skipped. A watchdog process stops the cluster and removes its
//! directory when this test process exits, however it exits.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

pub struct Cluster {
    pub port: u16,
}

/// The newest installed PostgreSQL's `bin` directory.
pub fn pg_bin() -> PathBuf {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    found.sort();
    match found.pop() {
        Some((_, bin)) => bin,
        None => {
            panic!("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): run `bash scripts/postgres.sh`")
        }
    }
}

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0\n"))
        .unwrap_or(false)
}

/// PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user.
fn as_server_user(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn run(mut cmd: Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn start_cluster() -> Cluster {
    let bin = pg_bin();
    let dir = std::env::temp_dir().join(format!("store-pg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut chown = Command::new("chown");
    chown.args(["-R", "postgres:postgres"]).arg(&dir);
    if is_root() {
        run(chown, "chown of the cluster directory");
    }
    let data = dir.join("data");
    let mut initdb = as_server_user(&bin.join("initdb"));
    initdb
        .arg("-D")
        .arg(&data)
        .args(["-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"]);
    run(initdb, "initdb");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let opts = format!(
        "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off -c synchronous_commit=off -c max_connections=300",
        dir.display()
    );
    let mut start = as_server_user(&bin.join("pg_ctl"));
    start
        .arg("-D")
        .arg(&data)
        .arg("-l")
        .arg(dir.join("log"))
        .args(["-w", "-o", &opts, "start"]);
    run(start, "pg_ctl start");
    // Stops the server once this process is gone, even after a panic or kill -9.
    let stop = format!(
        "{}{}",
        if is_root() { "runuser -u postgres -- " } else { "" },
        bin.join("pg_ctl").display()
    );
    // Started in the background of a shell that exits at once, so it outlives nobody's `wait`.
    let watchdog = format!(
        "(while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop} -D {data} -m immediate stop; rm -rf {dir}) &",
        pid = std::process::id(),
        data = data.display(),
        dir = dir.display()
    );
    Command::new("sh")
        .args(["-c", &watchdog])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    Cluster { port }
}

pub fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(start_cluster)
}

/// Creates database `name` (letters, digits and `_` only) in the cluster and returns its URL.
pub fn create_database(name: &str) -> String {
    assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "{name}");
    let port = cluster().port;
    let mut psql = Command::new(pg_bin().join("psql"));
    psql.args([
        "-h",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "-U",
        "postgres",
        "-d",
        "postgres",
        "-c",
    ])
    .arg(format!("CREATE DATABASE {name}"));
    run(psql, "CREATE DATABASE");
    format!("postgres://postgres@127.0.0.1:{port}/{name}")
}
