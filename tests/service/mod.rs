//! Drives the real `sandkasse serve` binary over real HTTP, on SQLite or PostgreSQL.
#![allow(dead_code)]

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[path = "../../crates/store/tests/common/cluster.rs"]
pub mod cluster;

pub fn sandkasse() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sandkasse"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

/// Where a service keeps its data: a temporary directory, and a fresh PostgreSQL database
/// when asked for.
pub struct Data {
    pub dir: tempfile::TempDir,
    pub database_url: Option<String>,
}

impl Data {
    pub fn sqlite() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            database_url: None,
        }
    }

    pub fn postgres() -> Self {
        let name = format!("e2e_{}", std::process::id()) + &format!("_{}", rand_suffix());
        Self {
            dir: tempfile::tempdir().unwrap(),
            database_url: Some(cluster::create_database(&name)),
        }
    }

    pub fn args(&self) -> Vec<String> {
        let mut a = vec!["--data-dir".to_owned(), self.dir.path().display().to_string()];
        if let Some(url) = &self.database_url {
            a.push("--database-url".into());
            a.push(url.clone());
        }
        a
    }

    /// Adds a user with `sandkasse users add` and returns the token.
    pub fn add_user(&self, org: &str, role: &str, name: &str) -> String {
        let o = sandkasse()
            .args(["users", "add", "--org", org, "--role", role, "--name", name])
            .args(self.args())
            .output()
            .unwrap();
        assert!(o.status.success(), "users add: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap().trim().to_owned()
    }

    /// Someone with database access rewrites one audit entry's outcome (SQLite only).
    pub fn edit_audit_outcome(&self, seq: i64, outcome: &str) {
        let db = self.dir.path().join("sandkasse.db");
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
                .await
                .unwrap();
            let n = sqlx::query("UPDATE audit SET outcome = ? WHERE seq = ?")
                .bind(outcome)
                .bind(seq)
                .execute(&pool)
                .await
                .unwrap()
                .rows_affected();
            assert_eq!(n, 1);
            pool.close().await;
        });
    }

    pub fn start(&self, extra: &[&str]) -> Service {
        Service::start(self, extra)
    }
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{}_{}",
        N.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    )
}

/// A running server process.
pub struct Service {
    pub child: Child,
    pub base: String,
    /// `host:port` of the gRPC service, when started with `--grpc-bind`.
    pub grpc: Option<String>,
}

impl Service {
    fn start(data: &Data, extra: &[&str]) -> Service {
        // Test defaults, unless `extra` sets them.
        let mut args: Vec<&str> = vec!["--bind", "127.0.0.1:0"];
        for (flag, value) in [("--bootstrap", "50"), ("--workers-per-run", "2")] {
            if !extra.contains(&flag) {
                args.extend([flag, value]);
            }
        }
        let mut child = sandkasse()
            .arg("serve")
            .args(data.args())
            .args(args)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("Sandkasse listening on http://") {
                    let addr = rest.split('/').next().unwrap_or_default().to_owned();
                    let _ = tx.send((false, addr));
                } else if let Some(rest) = line.strip_prefix("Sandkasse gRPC listening on ") {
                    let addr = rest.split(' ').next().unwrap_or_default().to_owned();
                    let _ = tx.send((true, addr));
                }
            }
        });
        let (mut base, mut grpc) = (None, None);
        let wants_grpc = extra.contains(&"--grpc-bind");
        while base.is_none() || (wants_grpc && grpc.is_none()) {
            let (is_grpc, addr) = rx
                .recv_timeout(Duration::from_secs(60))
                .expect("the server did not start within 60 s");
            if is_grpc {
                grpc = Some(addr);
            } else {
                base = Some(format!("http://{addr}"));
            }
        }
        Service {
            child,
            base: base.unwrap_or_default(),
            grpc,
        }
    }

    pub fn client(&self, token: Option<&str>) -> Client {
        Client {
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(120)))
                .build()
                .into(),
            base: self.base.clone(),
            token: token.map(str::to_owned),
        }
    }

    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits for the exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.child.wait().unwrap()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One answer.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub body: Vec<u8>,
    pub request_id: Option<String>,
    pub content_type: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The `error.code` of an error answer.
    pub fn code(&self) -> String {
        self.json()["error"]["code"].as_str().unwrap_or_default().to_owned()
    }
}

#[derive(Clone)]
pub struct Client {
    agent: ureq::Agent,
    pub base: String,
    pub token: Option<String>,
}

impl Client {
    fn finish(&self, r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Resp {
        let mut r = r.expect("the request failed at the transport level");
        let status = r.status().as_u16();
        let request_id = r
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let content_type = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = r.body_mut().with_config().limit(1 << 30).read_to_vec().unwrap();
        Resp {
            status,
            body,
            request_id,
            content_type,
        }
    }

    fn auth<B>(&self, rb: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &self.token {
            Some(t) => rb.header("Authorization", &format!("Bearer {t}")),
            None => rb,
        }
    }

    pub fn get(&self, path: &str) -> Resp {
        self.finish(self.auth(self.agent.get(&format!("{}{path}", self.base))).call())
    }

    pub fn post(&self, path: &str, body: &Value) -> Resp {
        self.send("POST", path, "application/json", body.to_string().as_bytes())
    }

    pub fn put(&self, path: &str, body: &Value) -> Resp {
        self.send("PUT", path, "application/json", body.to_string().as_bytes())
    }

    pub fn send(&self, method: &str, path: &str, content_type: &str, body: &[u8]) -> Resp {
        let url = format!("{}{path}", self.base);
        let rb = match method {
            "POST" => self.agent.post(&url),
            "PUT" => self.agent.put(&url),
            other => panic!("{other}"),
        };
        self.finish(self.auth(rb).header("content-type", content_type).send(body))
    }

    /// Sends a body of `declared` bytes from another thread, ignoring write errors, while
    /// this one reads the answer: the server may refuse the body before it has all arrived
    /// and close the connection, and a client that only reads after writing everything can
    /// fail with a broken pipe instead of seeing the refusal.
    pub fn send_declared(&self, path: &str, content_type: &str, declared: usize) -> Resp {
        use std::io::{Read, Write};
        let addr = self.base.trim_start_matches("http://");
        let mut tcp = std::net::TcpStream::connect(addr).expect("connecting");
        tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let auth = self
            .token
            .as_ref()
            .map(|t| format!("authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        write!(
            tcp,
            "POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: {content_type}\r\ncontent-length: {declared}\r\n{auth}connection: close\r\n\r\n"
        )
        .unwrap();
        let mut writer = tcp.try_clone().unwrap();
        std::thread::spawn(move || {
            let chunk = vec![b' '; 64 << 10];
            let mut left = declared;
            while left > 0 {
                let n = left.min(chunk.len());
                if writer.write_all(&chunk[..n]).is_err() {
                    break;
                }
                left -= n;
            }
        });
        let mut raw = Vec::new();
        let mut buf = [0u8; 8192];
        // Until the head and the whole body it announces have arrived.
        loop {
            let n = tcp.read(&mut buf).expect("reading the answer");
            raw.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&raw).into_owned();
            if let Some(end) = text.find("\r\n\r\n") {
                let head = &text[..end];
                let length = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().to_owned())
                    })
                    .and_then(|v| v.parse::<usize>().ok());
                if n == 0 || length.is_some_and(|len| raw.len() >= end + 4 + len) {
                    let header = |name: &str| {
                        head.lines().find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
                        })
                    };
                    let status = head
                        .split(' ')
                        .nth(1)
                        .and_then(|c| c.parse().ok())
                        .expect("a status line");
                    return Resp {
                        status,
                        body: raw[end + 4..].to_vec(),
                        request_id: header("x-request-id"),
                        content_type: header("content-type").unwrap_or_default(),
                    };
                }
            }
            assert!(
                n > 0,
                "the connection closed before a whole answer: {}",
                String::from_utf8_lossy(&raw)
            );
        }
    }

    /// Uploads a model and manifest as `multipart/form-data`.
    pub fn upload(&self, case: &str, model: &[u8], manifest: &[u8]) -> Resp {
        let (content_type, body) =
            multipart(&[("model", "model.onnx", model), ("manifest", "manifest.toml", manifest)]);
        self.send("POST", &format!("/api/v1/cases/{case}/models"), &content_type, &body)
    }

    pub fn upload_files(&self, case: &str, stem: &str) -> Resp {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
        let model = std::fs::read(root.join(format!("{stem}.onnx"))).unwrap();
        let manifest = std::fs::read(root.join(format!("{stem}.toml"))).unwrap();
        self.upload(case, &model, &manifest)
    }

    /// Polls a run until it ends; returns it.
    pub fn wait_run(&self, id: &str, limit: Duration) -> Value {
        let t = Instant::now();
        loop {
            let r = self.get(&format!("/api/v1/runs/{id}"));
            assert_eq!(r.status, 200, "{}", r.text());
            let run = r.json();
            if ["succeeded", "failed", "cancelled"].contains(&run["state"].as_str().unwrap()) {
                return run;
            }
            assert!(t.elapsed() < limit, "run {id} did not end within {limit:?}: {run}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

pub fn multipart(parts: &[(&str, &str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "sandkasse-test-boundary-7d1f";
    let mut body = Vec::new();
    for (name, file, bytes) in parts {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

pub fn models_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models")
}
