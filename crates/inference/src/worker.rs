//! The worker process: `sandkasse worker`. It drops every privilege it can before it reads a
//! byte of a model, then serves load and score requests over its stdin and stdout.
//!
//! Order matters: the early layers (inherited descriptors, environment, resource limits,
//! network namespace) need a single-threaded process; the ONNX Runtime library is trusted
//! and loaded next, while files can still be opened; then Landlock and seccomp close the
//! rest. Only then does the first frame, with the model, arrive.

use crate::protocol::{self, FrameError, Kind, Probe, ProbeOutcome, Ready};
use crate::runtime::{Labels, Model, Scored};
use crate::sandbox;
use arrow::array::{ArrayRef, Float32Array, Float64Array, Int64Array, RecordBatch, StringArray, UInt32Array};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::os::fd::FromRawFd;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How the parent starts a worker (its command-line arguments).
#[derive(Debug, Clone)]
pub struct WorkerArgs {
    /// The ONNX Runtime library the worker loads (before the late isolation layers close the file system).
    pub onnxruntime: PathBuf,
    /// The isolation to apply.
    pub sandbox: sandbox::Config,
    /// Intra-op threads of the session.
    pub threads: usize,
    /// Answer [`Probe`] requests (tests of the sandbox only).
    pub allow_probes: bool,
    /// The parent's process id: the worker ends itself as soon as its parent is another
    /// process (the parent died and the worker was re-parented). Set by `Worker::spawn`.
    pub parent_pid: Option<u32>,
    /// Layers to skip and report inactive (tests of the parent's refusal only). It can only
    /// weaken the worker, and only the parent, which starts it, can pass it.
    pub disable_layers: BTreeSet<String>,
}

impl WorkerArgs {
    /// The arguments after `worker` that reproduce these settings.
    pub fn to_args(&self) -> Vec<String> {
        let mut a = vec![
            "--onnxruntime".to_owned(),
            self.onnxruntime.display().to_string(),
            "--address-space-mb".to_owned(),
            (self.sandbox.address_space_bytes >> 20).to_string(),
            "--cpu-seconds".to_owned(),
            self.sandbox.cpu_seconds.to_string(),
            "--threads".to_owned(),
            self.threads.to_string(),
        ];
        if self.allow_probes {
            a.push("--allow-probes".to_owned());
        }
        if let Some(pid) = self.parent_pid {
            a.push("--parent-pid".to_owned());
            a.push(pid.to_string());
        }
        for layer in &self.disable_layers {
            a.push("--test-disable-layer".to_owned());
            a.push(layer.clone());
        }
        a
    }
}

/// Exit code of a worker that ended because its parent was gone.
pub const EXIT_PARENT_GONE: i32 = 4;
/// How often the worker checks that its parent is alive.
const PARENT_CHECK: Duration = Duration::from_millis(100);

/// Ends this process (at once, with `_exit`) when its parent is no longer `parent`.
///
/// `PR_SET_PDEATHSIG` is not used: it fires when the parent *thread* that started the worker
/// exits, and the server starts workers from pooled threads that end when idle, which would
/// kill healthy workers. Instead a thread compares `getppid()` with the pid the parent passed,
/// every [`PARENT_CHECK`], and once right after it starts, so a parent that died before the
/// thread existed is caught too. A worker waiting for a frame also ends on its stdin's EOF; this
/// catches the one busy in a batch.
fn watch_parent(parent: u32) -> std::io::Result<()> {
    let parent = libc::pid_t::try_from(parent).map_err(|_| std::io::Error::other("parent pid out of range"))?;
    let check = move || {
        // SAFETY: getppid cannot fail; _exit ends the process without running destructors,
        // which is what a worker without a parent should do.
        if unsafe { libc::getppid() } != parent {
            unsafe { libc::_exit(EXIT_PARENT_GONE) }
        }
    };
    std::thread::Builder::new().name("parent-watch".into()).spawn(move || {
        loop {
            std::thread::sleep(PARENT_CHECK);
            check();
        }
    })?;
    check();
    Ok(())
}

/// Sends a `Failed` frame whose text is capped (the parent caps it again).
fn send_failed(out: &mut impl Write, message: &str) -> Result<(), FrameError> {
    protocol::write_frame(
        out,
        Kind::Failed,
        protocol::cap_str(message, protocol::MAX_ERROR_TEXT).as_bytes(),
    )
}

/// Runs the worker; returns the process exit code.
pub fn main(args: WorkerArgs) -> i32 {
    // With the file-size limit at 0, a write to a file fails with EFBIG instead of killing the
    // worker: ONNX Runtime tries to write a telemetry database under ~/.cache at start-up.
    // SAFETY: installing SIG_IGN for one signal, single-threaded.
    unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };
    let mut layers = sandbox::early_except(&args.sandbox, &args.disable_layers);
    // Frames go over the original stdout; anything else that writes to stdout (a library's
    // log line) is sent to stderr instead, so it cannot corrupt a frame.
    // SAFETY: dup and dup2 on the process's own standard descriptors.
    let frames_fd = unsafe { libc::dup(1) };
    if frames_fd < 0 || unsafe { libc::dup2(2, 1) } < 0 {
        eprintln!("worker: cannot set up the frame pipe");
        return 3;
    }
    // SAFETY: frames_fd is a fresh descriptor this function owns from here on.
    let mut out = std::io::BufWriter::new(unsafe { std::fs::File::from_raw_fd(frames_fd) });
    let mut input = std::io::BufReader::new(std::io::stdin().lock());
    // The library is trusted and loaded while files can still be opened; it starts no thread.
    let version = match crate::runtime::load(&args.onnxruntime) {
        Ok(v) => v,
        Err(e) => {
            let _ = send_failed(&mut out, &e.to_string());
            return 2;
        }
    };
    // The library file itself and the CPU-topology files ONNX Runtime reads, nothing else.
    layers.extend(sandbox::late_except(
        &sandbox::worker_read_paths(&args.onnxruntime),
        &args.disable_layers,
    ));
    // Started after lock-down, so the watching thread is as restricted as the rest.
    if let Some(parent) = args.parent_pid
        && let Err(e) = watch_parent(parent)
    {
        let _ = send_failed(&mut out, &format!("cannot watch the parent process: {e}"));
        return 2;
    }
    let env = match crate::runtime::environment() {
        Ok(e) => (e, version),
        Err(e) => {
            let _ = send_failed(&mut out, &e.to_string());
            return 2;
        }
    };
    let ready = Ready {
        onnxruntime_version: env.1.clone(),
        onnxruntime_path: args.onnxruntime.display().to_string(),
        layers,
    };
    if send_json(&mut out, Kind::Ready, &ready).is_err() {
        return 1;
    }
    let mut model: Option<Model> = None;
    loop {
        let (kind, payload) = match protocol::read_frame(&mut input) {
            Ok(f) => f,
            Err(FrameError::Closed) => return 0,
            Err(e) => {
                eprintln!("worker: {e}");
                return 1;
            }
        };
        let reply = match kind {
            Kind::Load => load(&env.0, &payload, args.threads).map(|m| {
                model = Some(m);
                (Kind::Loaded, b"{}".to_vec())
            }),
            Kind::Score => match model.as_mut() {
                Some(m) => score(m, &payload).map(|b| (Kind::Scored, b)),
                None => Err("no model is loaded".to_owned()),
            },
            Kind::Probe if args.allow_probes => probe(&payload).map(|o| {
                (
                    Kind::ProbeResult,
                    serde_json::to_vec(&o).unwrap_or_else(|_| b"{}".to_vec()),
                )
            }),
            other => Err(format!("unexpected frame {other:?}")),
        };
        let sent = match reply {
            Ok((k, bytes)) => protocol::write_frame(&mut out, k, &bytes),
            Err(message) => send_failed(&mut out, &message),
        };
        if sent.is_err() {
            return 1;
        }
    }
}

fn send_json<T: serde::Serialize>(out: &mut impl Write, kind: Kind, v: &T) -> Result<(), FrameError> {
    let bytes = serde_json::to_vec(v).map_err(|e| FrameError::Payload(e.to_string()))?;
    protocol::write_frame(out, kind, &bytes)
}

fn load(env: &ort::environment::Environment, payload: &[u8], threads: usize) -> Result<Model, String> {
    let (len, rest) = payload.split_at_checked(4).ok_or("load frame too short")?;
    let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
    let (manifest, bytes) = rest
        .split_at_checked(len)
        .ok_or("load frame: manifest length out of range")?;
    let manifest = std::str::from_utf8(manifest).map_err(|e| format!("manifest: {e}"))?;
    let manifest = crate::manifest::Manifest::parse(manifest).map_err(|e| e.to_string())?;
    // ONNX Runtime opens any file a tensor names as its external data. The parent inspected
    // these bytes, but a worker that trusts that is one bug away from reading what it must
    // not: the schema walk is cheap, so the worker refuses such a model itself.
    let findings = crate::inspect::external_data_findings(bytes, &crate::inspect::Limits::default());
    if !findings.is_empty() {
        let shown: Vec<String> = findings.iter().take(3).map(ToString::to_string).collect();
        return Err(format!(
            "the worker refuses the model before loading it ({} finding{}): {}",
            findings.len(),
            if findings.len() == 1 { "" } else { "s" },
            shown.join("; ")
        ));
    }
    Model::load(env, bytes, manifest, threads).map_err(|e| e.to_string())
}

fn score(model: &mut Model, payload: &[u8]) -> Result<Vec<u8>, String> {
    let batch = protocol::decode_batch(payload).map_err(|e| e.to_string())?;
    let inputs = crate::features::build(model.manifest(), &batch).map_err(|e| e.to_string())?;
    let scored = model.run(inputs).map_err(|e| e.to_string())?;
    let out = match scored {
        Scored::Binary { label, probability } => {
            let label: ArrayRef = match label {
                Labels::Int(v) => Arc::new(Int64Array::from(v)),
                Labels::Text(v) => Arc::new(StringArray::from(v)),
            };
            RecordBatch::try_from_iter([
                ("label", label),
                ("probability", Arc::new(Float32Array::from(probability)) as ArrayRef),
            ])
        }
        Scored::Regression(v) => RecordBatch::try_from_iter([("value", Arc::new(Float64Array::from(v)) as ArrayRef)]),
        Scored::Multiclass(c) => RecordBatch::try_from_iter([("class", Arc::new(UInt32Array::from(c)) as ArrayRef)]),
    }
    .map_err(|e| e.to_string())?;
    protocol::encode_batch(&out).map_err(|e| e.to_string())
}

/// Tries what the sandbox must forbid. The attempt is real: the same calls a model's
/// exploit would make.
fn probe(payload: &[u8]) -> Result<ProbeOutcome, String> {
    let p: Probe = serde_json::from_slice(payload).map_err(|e| e.to_string())?;
    let outcome = |r: std::io::Result<String>| match r {
        Ok(detail) => ProbeOutcome { allowed: true, detail },
        Err(e) => ProbeOutcome {
            allowed: false,
            detail: e.to_string(),
        },
    };
    let read_dir = |path: &str| {
        std::fs::read_dir(path).and_then(|entries| {
            let names = entries
                .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
                .collect::<std::io::Result<Vec<_>>>()?;
            Ok(format!("{} entries: {names:?}", names.len()))
        })
    };
    Ok(match p {
        Probe::Connect { address } => outcome(
            std::net::TcpStream::connect_timeout(
                &address.parse().map_err(|e| format!("{address}: {e}"))?,
                std::time::Duration::from_secs(2),
            )
            .map(|s| format!("connected to {:?}", s.peer_addr())),
        ),
        Probe::ReadFile { path } => outcome(std::fs::File::open(&path).and_then(|mut f| {
            let mut buf = Vec::new();
            f.read_to_end(&mut buf)?;
            Ok(format!("read {} bytes", buf.len()))
        })),
        Probe::ListDir { path } => outcome(read_dir(&path)),
        Probe::WorkingDir => outcome(std::env::current_dir().map(|d| d.display().to_string())),
        Probe::Spawn { program } => outcome(
            std::process::Command::new(&program)
                .status()
                .map(|s| format!("ran: {s}")),
        ),
    })
}
