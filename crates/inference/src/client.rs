//! The parent's side of a worker: spawning it by exec, talking to it with deadlines, telling
//! why it died, and a pool that respawns workers and spreads batches over them.
//!
//! Everything a worker sends is treated as untrusted: frames are bounded, batches are
//! decoded by Arrow's validating reader and must have the rows that were sent.

use crate::manifest::Manifest;
use crate::pipe::{Pipe, PipeError};
use crate::protocol::{self, Kind, MAX_ERROR_TEXT, Probe, ProbeOutcome, Ready, cap_str, cap_text};
use crate::sandbox::{self, LayerStatus};
use crate::worker::WorkerArgs;
use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float32Type};
use std::collections::{BTreeSet, VecDeque};
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How to start workers and how long to wait for them.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// The `sandkasse` executable (its `worker` subcommand).
    pub program: PathBuf,
    /// The worker's own arguments (runtime library, isolation, threads).
    pub args: WorkerArgs,
    /// Deadline for start-up and for loading a model.
    pub load_timeout: Duration,
    /// Deadline for scoring one batch.
    pub batch_timeout: Duration,
    /// Isolation layers (names from [`sandbox::LAYERS`]) a worker may lack and still be used:
    /// the operator's explicit choice (`--allow-missing-isolation`), written into every run
    /// record. Empty by default: a worker missing any layer is refused.
    pub allow_missing: BTreeSet<String>,
}

/// Why a worker stopped.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// Killed by the parent after a deadline passed.
    Timeout,
    /// Killed by the kernel for exceeding the CPU time limit (SIGXCPU / SIGKILL after it).
    CpuLimit,
    /// A forbidden system call (seccomp).
    ForbiddenSyscall,
    /// Out of memory: an allocation failed under the address-space limit and the runtime
    /// aborted, or the kernel killed it.
    Memory,
    /// Any other crash (segmentation fault, abort, ...).
    Crash,
    /// Exited by itself.
    Exit,
}

impl Cause {
    /// Its snake-case name, as serialized (for metric labels and logs).
    pub fn as_str(&self) -> &'static str {
        match self {
            Cause::Timeout => "timeout",
            Cause::CpuLimit => "cpu_limit",
            Cause::ForbiddenSyscall => "forbidden_syscall",
            Cause::Memory => "memory",
            Cause::Crash => "crash",
            Cause::Exit => "exit",
        }
    }
}

/// Why a worker could not score. Everything a worker says is untrusted and capped.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The worker process could not be started.
    #[error("cannot start the worker {program}: {error}")]
    Spawn {
        /// The executable.
        program: String,
        /// What the operating system said.
        error: String,
    },
    /// The worker exited, was killed or stopped answering.
    #[error("the worker stopped ({cause:?}: {detail}); its last words: {stderr}")]
    Died {
        /// How it stopped.
        cause: Cause,
        /// What the pool saw.
        detail: String,
        /// The end of its standard error, capped.
        stderr: String,
    },
    /// The model returned an error for a batch (the worker lives on).
    #[error("the model failed: {0}")]
    Failed(String),
    /// The worker sent something the protocol does not allow: it is not trusted further.
    #[error("the worker broke the protocol: {0}")]
    Protocol(String),
    /// The worker started but reported isolation layers inactive that the operator did not
    /// allow to be missing; it was killed unused. The server answers 503 for this.
    #[error("{}", describe_missing(.missing))]
    Isolation {
        /// The inactive layers, as the worker reported them.
        missing: Vec<LayerStatus>,
    },
    /// The pool was stopped with [`Pool::abort`] (a cancelled run, or one over its deadline).
    #[error("the workers were stopped (the run was cancelled or went over its deadline)")]
    Aborted,
}

impl WorkerError {
    /// Whether the worker is gone and must be replaced.
    pub fn is_fatal(&self) -> bool {
        !matches!(self, WorkerError::Failed(_))
    }

    /// The worker's text as a `Failed` error, capped at [`MAX_ERROR_TEXT`].
    fn failed(bytes: &[u8]) -> WorkerError {
        WorkerError::Failed(cap_text(bytes, MAX_ERROR_TEXT))
    }

    /// A protocol error whose text may quote the worker, capped at [`MAX_ERROR_TEXT`].
    fn protocol(text: impl AsRef<str>) -> WorkerError {
        WorkerError::Protocol(cap_str(text.as_ref(), MAX_ERROR_TEXT))
    }
}

fn describe_missing(missing: &[LayerStatus]) -> String {
    let each: Vec<String> = missing
        .iter()
        .map(|l| format!("{} is inactive ({})", l.layer, l.detail))
        .collect();
    let names: Vec<&str> = missing.iter().map(|l| l.layer.as_str()).collect();
    format!(
        "the worker was refused because its isolation is incomplete: {}; to run models without {} anyway, \
         start with --allow-missing-isolation {} (every run record will say so)",
        each.join("; "),
        if names.len() == 1 { "it" } else { "them" },
        names.join(",")
    )
}

/// The layers of a worker's report that are inactive, and those of [`sandbox::LAYERS`] it did
/// not report at all (which count as inactive: fail closed).
pub fn missing_layers(reported: &[LayerStatus]) -> Vec<LayerStatus> {
    let mut missing: Vec<LayerStatus> = reported.iter().filter(|l| !l.active).cloned().collect();
    for name in sandbox::LAYERS {
        if !reported.iter().any(|l| l.layer == *name) {
            missing.push(LayerStatus {
                layer: (*name).to_owned(),
                active: false,
                detail: "not reported by the worker".into(),
            });
        }
    }
    missing
}

/// Kills one worker from any thread. Through a pidfd where the kernel has them (5.3+), which
/// cannot hit another process even after the worker was reaped and its pid reused; else by pid,
/// only until the worker is known to be reaped.
pub struct Killer {
    pidfd: Option<OwnedFd>,
    pid: libc::pid_t,
    reaped: AtomicBool,
}

impl Killer {
    fn new(pid: u32) -> Killer {
        let pid = libc::pid_t::try_from(pid).unwrap_or(0);
        // SAFETY: pidfd_open takes a pid and flags; on success it returns a new descriptor that
        // we own from here on.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        // SAFETY: `fd` is the new descriptor pidfd_open returned, owned by nothing else.
        let pidfd = (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) });
        Killer {
            pidfd,
            pid,
            reaped: AtomicBool::new(false),
        }
    }

    /// Sends SIGKILL; a worker that is already gone is not an error.
    pub fn kill(&self) {
        match &self.pidfd {
            // SAFETY: a signal through a pidfd we own; no memory is passed (info NULL).
            Some(fd) => unsafe {
                libc::syscall(
                    libc::SYS_pidfd_send_signal,
                    fd.as_raw_fd(),
                    libc::SIGKILL,
                    std::ptr::null::<libc::siginfo_t>(),
                    0,
                );
            },
            None if self.pid > 0 && !self.reaped.load(Ordering::SeqCst) => {
                // SAFETY: kill takes integers only.
                unsafe { libc::kill(self.pid, libc::SIGKILL) };
            }
            None => {}
        }
    }

    /// The worker's process id, for logs and the kill on drop.
    pub fn pid(&self) -> u32 {
        self.pid as u32
    }
}

/// A worker's working directory: a fresh, empty, private (0700) directory of its own, so a
/// relative path in a model resolves to nothing; removed when the worker ends.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new() -> io::Result<ScratchDir> {
        use std::os::unix::fs::DirBuilderExt;
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let base = std::env::temp_dir();
        for _ in 0..16 {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            let path = base.join(format!(
                "sandkasse-worker-{}-{}-{nanos:08x}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            // mkdir, not create_dir_all: an existing name (or a planted symlink) is an error,
            // never a directory someone else made.
            match std::fs::DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => return Ok(ScratchDir(path)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::other(format!(
            "no free name for a worker directory in {}",
            base.display()
        )))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One worker process.
pub struct Worker {
    child: Child,
    pipe: Pipe,
    stderr_tail: Arc<Mutex<VecDeque<u8>>>,
    ready: Ready,
    config: WorkerConfig,
    dead: Option<(Cause, String)>,
    killer: Arc<Killer>,
    /// What a scored batch must hold, set when a model is loaded.
    expect: Option<Expect>,
    /// Dropped after `Drop::drop` has killed and reaped the worker.
    _cwd: ScratchDir,
}

const STDERR_TAIL: usize = 4096;

/// The only environment a worker gets. `sandkasse` uses mimalloc, which by default reserves a 1 GiB
/// arena of address space at its first allocation; a worker lowers `RLIMIT_AS` only after it has
/// started, so that reservation would be counted against `--worker-memory-mb` and leave a 1 GiB
/// worker no room to load ONNX Runtime. With the reservation at 0, mimalloc takes its segments from
/// the OS as they are needed. Another allocator ignores the variable.
const WORKER_ENV: &[(&str, &str)] = &[("MIMALLOC_ARENA_RESERVE", "0")];

impl Worker {
    /// Starts a worker and waits until it reports its isolation layers.
    ///
    /// A worker whose report shows an inactive layer (or omits one) that
    /// `config.allow_missing` does not name is killed and refused with
    /// [`WorkerError::Isolation`]: fail closed.
    pub fn spawn(config: &WorkerConfig) -> Result<Worker, WorkerError> {
        let spawn_err = |error: String| WorkerError::Spawn {
            program: config.program.display().to_string(),
            error,
        };
        let cwd = ScratchDir::new().map_err(|e| spawn_err(format!("its working directory: {e}")))?;
        let mut args = config.args.clone();
        args.parent_pid = Some(std::process::id());
        let mut child = Command::new(&config.program)
            .arg("worker")
            .args(args.to_args())
            .env_clear()
            .envs(WORKER_ENV.iter().copied())
            .current_dir(&cwd.0)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| spawn_err(e.to_string()))?;
        let (stdin, stdout, stderr) = match (child.stdin.take(), child.stdout.take(), child.stderr.take()) {
            (Some(a), Some(b), Some(c)) => (a, b, c),
            _ => {
                let _ = child.kill();
                return Err(WorkerError::Spawn {
                    program: config.program.display().to_string(),
                    error: "no pipes".into(),
                });
            }
        };
        let pipe = match Pipe::new(stdin, stdout) {
            Ok(p) => p,
            Err(e) => {
                let _ = child.kill();
                return Err(WorkerError::Spawn {
                    program: config.program.display().to_string(),
                    error: e.to_string(),
                });
            }
        };
        let stderr_tail = Arc::new(Mutex::new(VecDeque::with_capacity(STDERR_TAIL)));
        let tail = stderr_tail.clone();
        std::thread::spawn(move || {
            let mut stderr = stderr;
            let mut buf = [0u8; 1024];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    return;
                }
                if let Ok(mut t) = tail.lock() {
                    t.extend(&buf[..n]);
                    while t.len() > STDERR_TAIL {
                        t.pop_front();
                    }
                }
            }
        });
        let killer = Arc::new(Killer::new(child.id()));
        let mut w = Worker {
            child,
            pipe,
            stderr_tail,
            ready: Ready {
                onnxruntime_version: String::new(),
                onnxruntime_path: String::new(),
                layers: Vec::new(),
            },
            config: config.clone(),
            dead: None,
            killer,
            expect: None,
            _cwd: cwd,
        };
        let (kind, payload) = w.receive(config.load_timeout)?;
        match kind {
            Kind::Ready => {
                w.ready = Ready::parse_capped(&payload).map_err(WorkerError::protocol)?;
            }
            Kind::Failed => return Err(WorkerError::failed(&payload)),
            k => return Err(WorkerError::protocol(format!("expected Ready, got {k:?}"))),
        }
        let refused: Vec<LayerStatus> = missing_layers(&w.ready.layers)
            .into_iter()
            .filter(|l| !config.allow_missing.contains(&l.layer))
            .collect();
        if !refused.is_empty() {
            // Dropping `w` kills and reaps the worker and removes its directory.
            return Err(WorkerError::Isolation { missing: refused });
        }
        Ok(w)
    }

    /// A handle that kills this worker from another thread.
    pub fn killer(&self) -> Arc<Killer> {
        self.killer.clone()
    }

    /// What the worker reported at start: runtime version and isolation layers.
    pub fn ready(&self) -> &Ready {
        &self.ready
    }

    /// The worker's process id, for logs.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Peak resident memory of the worker so far (`VmHWM`).
    pub fn peak_memory_bytes(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb * 1024)
    }

    /// Sends the model and its manifest; waits for the session to be built.
    pub fn load(&mut self, model: &[u8], manifest: &Manifest) -> Result<(), WorkerError> {
        let m = serde_json::to_vec(manifest).map_err(|e| WorkerError::protocol(e.to_string()))?;
        let mut payload = Vec::with_capacity(4 + m.len() + model.len());
        payload.extend_from_slice(&(m.len() as u32).to_le_bytes());
        payload.extend_from_slice(&m);
        payload.extend_from_slice(model);
        match self.request(Kind::Load, &payload, self.config.load_timeout)? {
            (Kind::Loaded, _) => {
                self.expect = Some(Expect::of(&manifest.output));
                Ok(())
            }
            (k, _) => Err(WorkerError::protocol(format!("expected Loaded, got {k:?}"))),
        }
    }

    /// Scores a batch of scenario columns; returns `label` and `probability`, one row per
    /// row sent.
    pub fn score(&mut self, batch: &RecordBatch) -> Result<RecordBatch, WorkerError> {
        let compact = compact(batch).map_err(WorkerError::protocol)?;
        let payload = protocol::encode_batch(&compact).map_err(|e| WorkerError::protocol(e.to_string()))?;
        let (kind, reply) = self.request(Kind::Score, &payload, self.config.batch_timeout)?;
        if kind != Kind::Scored {
            return Err(WorkerError::protocol(format!("expected Scored, got {kind:?}")));
        }
        let out = protocol::decode_batch(&reply).map_err(|e| WorkerError::protocol(e.to_string()))?;
        let expect = self
            .expect
            .ok_or_else(|| WorkerError::protocol("a batch was scored before a model was loaded"))?;
        check_scored(&out, batch.num_rows(), expect).map_err(WorkerError::protocol)?;
        Ok(out)
    }

    /// Asks a worker started with `allow_probes` to try something forbidden.
    pub fn probe(&mut self, p: &Probe) -> Result<ProbeOutcome, WorkerError> {
        let payload = serde_json::to_vec(p).map_err(|e| WorkerError::protocol(e.to_string()))?;
        let (_, reply) = self.request(Kind::Probe, &payload, self.config.batch_timeout)?;
        let outcome: ProbeOutcome = serde_json::from_slice(&reply).map_err(|e| WorkerError::protocol(e.to_string()))?;
        Ok(ProbeOutcome {
            allowed: outcome.allowed,
            detail: cap_str(&outcome.detail, MAX_ERROR_TEXT),
        })
    }

    fn request(&mut self, kind: Kind, payload: &[u8], timeout: Duration) -> Result<(Kind, Vec<u8>), WorkerError> {
        if let Some((cause, detail)) = &self.dead {
            return Err(WorkerError::Died {
                cause: cause.clone(),
                detail: detail.clone(),
                stderr: self.stderr(),
            });
        }
        let mut frame = Vec::with_capacity(payload.len() + 5);
        if protocol::write_frame(&mut frame, kind, payload).is_err() {
            return Err(WorkerError::protocol(format!(
                "a {kind:?} frame of {} bytes is too large",
                payload.len()
            )));
        }
        let deadline = Instant::now() + timeout;
        if let Err(e) = self.pipe.send(&frame, deadline) {
            return Err(self.pipe_failed(e, timeout));
        }
        let (k, reply) = self.receive(timeout)?;
        if k == Kind::Failed {
            return Err(WorkerError::failed(&reply));
        }
        Ok((k, reply))
    }

    fn receive(&mut self, timeout: Duration) -> Result<(Kind, Vec<u8>), WorkerError> {
        match self.pipe.receive(Instant::now() + timeout) {
            Ok(f) => Ok(f),
            Err(e) => Err(self.pipe_failed(e, timeout)),
        }
    }

    /// A failed exchange: kill the worker unless it is already gone, and say why it ended.
    fn pipe_failed(&mut self, e: PipeError, timeout: Duration) -> WorkerError {
        match e {
            PipeError::Closed => self.died(None),
            PipeError::Timeout => {
                let _ = self.child.kill();
                self.died(Some((Cause::Timeout, format!("no answer within {timeout:?}; killed"))))
            }
            other => {
                let _ = self.child.kill();
                self.died(Some((Cause::Crash, format!("broke the protocol: {other}"))))
            }
        }
    }

    /// Reaps the worker and records why it stopped.
    fn died(&mut self, known: Option<(Cause, String)>) -> WorkerError {
        self.killer.reaped.store(true, Ordering::SeqCst);
        let status = wait_briefly(&mut self.child);
        let (cause, detail) = known.unwrap_or_else(|| classify(status));
        self.dead = Some((cause.clone(), detail.clone()));
        // Give the stderr reader a moment to drain the last words.
        std::thread::sleep(Duration::from_millis(20));
        WorkerError::Died {
            cause,
            detail,
            stderr: self.stderr(),
        }
    }

    fn stderr(&self) -> String {
        let t = self.stderr_tail.lock().map(|t| t.iter().copied().collect::<Vec<u8>>());
        String::from_utf8_lossy(&t.unwrap_or_default()).trim().to_owned()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        self.killer.reaped.store(true, Ordering::SeqCst);
        let _ = self.child.wait();
    }
}

fn wait_briefly(child: &mut Child) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        match child.try_wait() {
            Ok(Some(s)) => return Some(s),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            _ => {
                let _ = child.kill();
                return child.wait().ok();
            }
        }
    }
}

fn classify(status: Option<std::process::ExitStatus>) -> (Cause, String) {
    use std::os::unix::process::ExitStatusExt;
    let Some(s) = status else {
        return (Cause::Crash, "no exit status".into());
    };
    match (s.code(), s.signal()) {
        (Some(c), _) => (Cause::Exit, format!("exited with code {c}")),
        (_, Some(libc::SIGXCPU)) => (Cause::CpuLimit, "CPU time limit (SIGXCPU)".into()),
        (_, Some(libc::SIGSYS)) => (Cause::ForbiddenSyscall, "forbidden system call (SIGSYS)".into()),
        (_, Some(libc::SIGKILL)) => (Cause::Memory, "killed (SIGKILL: memory or CPU limit)".into()),
        (_, Some(libc::SIGABRT)) => (Cause::Memory, "aborted (SIGABRT: usually a failed allocation)".into()),
        (_, Some(sig)) => (Cause::Crash, format!("killed by signal {sig}")),
        _ => (Cause::Crash, "unknown".into()),
    }
}

/// A small batch with dictionary-encoded columns carries every dictionary in full over IPC
/// (98 municipality names for one row); as plain strings it is a fraction of the bytes and
/// of the encoding work.
fn compact(batch: &RecordBatch) -> Result<RecordBatch, String> {
    let dictionaries = batch
        .columns()
        .iter()
        .any(|c| matches!(c.data_type(), DataType::Dictionary(_, _)));
    if !dictionaries || batch.num_rows() > 256 {
        return Ok(batch.clone());
    }
    let mut fields = Vec::with_capacity(batch.num_columns());
    let mut columns = Vec::with_capacity(batch.num_columns());
    for (f, c) in batch.schema().fields().iter().zip(batch.columns()) {
        match c.data_type() {
            DataType::Dictionary(_, value) => {
                let plain = arrow::compute::cast(c, value).map_err(|e| e.to_string())?;
                fields.push(arrow::datatypes::Field::new(
                    f.name(),
                    value.as_ref().clone(),
                    f.is_nullable(),
                ));
                columns.push(plain);
            }
            _ => {
                fields.push(f.as_ref().clone());
                columns.push(c.clone());
            }
        }
    }
    RecordBatch::try_new(Arc::new(arrow::datatypes::Schema::new(fields)), columns).map_err(|e| e.to_string())
}

/// Longest string label a worker may return, in bytes: class names are short, and a label is
/// copied into records, pages and `/v2` answers row by row.
pub const MAX_LABEL_BYTES: usize = 256;

/// The largest magnitude of a regression model's predicted value. Hours, counts and amounts of
/// money all lie far below it; near `f64::MAX` squares and sums overflow and every metric of the
/// report would turn into NaN, which a hostile model could use to hide a group's error.
pub const MAX_PREDICTED_VALUE: f64 = 1e12;

/// What a worker's scored batch holds, by the loaded manifest's task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expect {
    /// `label` (int64 or utf8) and `probability` (float32 in [0, 1]).
    Binary,
    /// `value`: float64, finite.
    Regression,
    /// `class`: uint32 below the number of classes.
    Multiclass(u32),
}

impl Expect {
    pub(crate) fn of(output: &crate::manifest::Output) -> Expect {
        match output {
            crate::manifest::Output::Binary(_) => Expect::Binary,
            crate::manifest::Output::Regression(_) => Expect::Regression,
            crate::manifest::Output::Multiclass(m) => Expect::Multiclass(m.classes.len() as u32),
        }
    }
}

/// A scored batch from a worker must be exactly what its task returns, one row per row sent:
/// `label` and a float `probability` in [0, 1] (string labels at most [`MAX_LABEL_BYTES`]),
/// a finite float64 `value`, or a uint32 `class` below the number of classes. The worker runs
/// the model and is as untrusted as it: the parent checks again what the worker checked.
fn check_scored(b: &RecordBatch, rows: usize, expect: Expect) -> Result<(), String> {
    if b.num_rows() != rows {
        return Err(format!("{} predictions for {rows} rows", b.num_rows()));
    }
    let only = |name: &str| -> Result<&arrow::array::ArrayRef, String> {
        if b.num_columns() != 1 {
            return Err(format!(
                "{} columns; a {name} column only was expected",
                b.num_columns()
            ));
        }
        let c = b.column_by_name(name).ok_or(format!("no {name} column"))?;
        if c.null_count() > 0 {
            return Err(format!("{name} has nulls"));
        }
        Ok(c)
    };
    match expect {
        Expect::Binary => {}
        Expect::Regression => {
            let v = only("value")?
                .as_primitive_opt::<arrow::datatypes::Float64Type>()
                .ok_or("value must be float64")?;
            if let Some((row, x)) = v.values().iter().enumerate().find(|(_, x)| !x.is_finite()) {
                return Err(format!("row {row}: the value {x} is not a finite number"));
            }
            if let Some((row, x)) = v
                .values()
                .iter()
                .enumerate()
                .find(|(_, x)| x.abs() > MAX_PREDICTED_VALUE)
            {
                return Err(format!(
                    "row {row}: the value {x:e} is larger than {MAX_PREDICTED_VALUE:e} in magnitude"
                ));
            }
            return Ok(());
        }
        Expect::Multiclass(k) => {
            let c = only("class")?
                .as_primitive_opt::<arrow::datatypes::UInt32Type>()
                .ok_or("class must be uint32")?;
            if let Some((row, x)) = c.values().iter().enumerate().find(|(_, x)| **x >= k) {
                return Err(format!("row {row}: class {x} is not one of the {k} classes"));
            }
            return Ok(());
        }
    }
    let p = b.column_by_name("probability").ok_or("no probability column")?;
    if p.data_type() != &DataType::Float32 || p.null_count() > 0 {
        return Err("probability must be float32 without nulls".into());
    }
    if p.as_primitive::<Float32Type>()
        .values()
        .iter()
        .any(|x| !(0.0..=1.0).contains(x))
    {
        return Err("a probability outside [0, 1]".into());
    }
    let l = b.column_by_name("label").ok_or("no label column")?;
    if !matches!(l.data_type(), DataType::Int64 | DataType::Utf8) || l.null_count() > 0 {
        return Err("label must be int64 or utf8 without nulls".into());
    }
    if let Some(text) = l.as_string_opt::<i32>()
        && let Some((row, label)) = text.iter().enumerate().find_map(|(row, label)| {
            label
                .filter(|label| label.len() > MAX_LABEL_BYTES)
                .map(|label| (row, label.len()))
        })
    {
        return Err(format!(
            "the label of row {row} is {label} bytes, over the limit of {MAX_LABEL_BYTES}"
        ));
    }
    Ok(())
}

/// Something that happened to a pool's workers, for the run's record.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct PoolEvent {
    /// Which worker (its index in the pool).
    pub worker: usize,
    /// How it stopped.
    pub cause: Cause,
    /// What the pool saw, for the record.
    pub detail: String,
    /// Whether a fresh worker took its place.
    pub respawned: bool,
}

/// Workers that all hold the same model.
pub struct Pool {
    workers: Vec<Mutex<Worker>>,
    /// Per slot, the kill handle of the worker in it, kept outside the slot's lock so
    /// [`Pool::abort`] can reach a worker busy in a batch.
    killers: Vec<Mutex<Arc<Killer>>>,
    aborted: AtomicBool,
    config: WorkerConfig,
    model: Arc<Vec<u8>>,
    manifest: Manifest,
    events: Mutex<Vec<PoolEvent>>,
}

impl Pool {
    /// Starts `size` workers and loads the model into each, in parallel.
    pub fn new(config: &WorkerConfig, size: usize, model: Vec<u8>, manifest: Manifest) -> Result<Pool, WorkerError> {
        let model = Arc::new(model);
        let started: Vec<Result<Worker, WorkerError>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..size.max(1))
                .map(|_| {
                    let (model, manifest) = (&model, &manifest);
                    s.spawn(move || {
                        let mut w = Worker::spawn(config)?;
                        w.load(model, manifest)?;
                        Ok(w)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(WorkerError::Protocol("worker start-up thread panicked".into())))
                })
                .collect()
        });
        let workers = started.into_iter().collect::<Result<Vec<_>, _>>()?;
        Ok(Pool {
            killers: workers.iter().map(|w| Mutex::new(w.killer())).collect(),
            workers: workers.into_iter().map(Mutex::new).collect(),
            aborted: AtomicBool::new(false),
            config: config.clone(),
            model,
            manifest,
            events: Mutex::new(Vec::new()),
        })
    }

    /// Workers in the pool.
    pub fn size(&self) -> usize {
        self.workers.len()
    }

    /// What the first worker reported at start.
    pub fn ready(&self) -> Option<Ready> {
        self.workers.first()?.lock().ok().map(|w| w.ready().clone())
    }

    /// The process ids of the current workers (for tests and diagnostics).
    pub fn pids(&self) -> Vec<u32> {
        self.killers
            .iter()
            .filter_map(|k| k.lock().ok().map(|k| k.pid()))
            .collect()
    }

    /// Kills every worker now, from any thread, and makes every [`Pool::score_on`] (running
    /// or later) return [`WorkerError::Aborted`] at once, without starting new workers. For a
    /// cancelled run or one over its deadline: the slot is free within the time a kill takes,
    /// not when the batch would have ended.
    pub fn abort(&self) {
        self.aborted.store(true, Ordering::SeqCst);
        for killer in &self.killers {
            if let Ok(k) = killer.lock() {
                k.kill();
            }
        }
    }

    fn is_aborted(&self) -> bool {
        self.aborted.load(Ordering::SeqCst)
    }

    /// A new worker with the model, for slot `i`. Its kill handle is published before the
    /// abort flag is checked, so an abort either sees the new worker or is seen here.
    fn replace(&self, i: usize) -> Result<Worker, WorkerError> {
        let mut n = Worker::spawn(&self.config)?;
        if let Ok(mut k) = self.killers[i].lock() {
            *k = n.killer();
        }
        if self.is_aborted() {
            return Err(WorkerError::Aborted);
        }
        n.load(&self.model, &self.manifest)?;
        Ok(n)
    }

    /// Scores a batch on worker `slot` (callers give each thread its own slot). A worker that
    /// dies is replaced, so the pool stays usable. A batch that crashed its worker is tried
    /// once more on the new one (a batch that kills two workers is the model's fault and fails
    /// the request with the cause); a batch that timed out is not retried (it would most
    /// likely cost a second full deadline of CPU) and fails at once.
    pub fn score_on(&self, slot: usize, batch: &RecordBatch) -> Result<RecordBatch, WorkerError> {
        let i = slot % self.workers.len();
        let mut w = self.workers[i]
            .lock()
            .map_err(|_| WorkerError::Protocol("worker lock poisoned".into()))?;
        let mut attempt = 0;
        loop {
            if self.is_aborted() {
                return Err(WorkerError::Aborted);
            }
            match w.score(batch) {
                Ok(b) => return Ok(b),
                Err(_) if self.is_aborted() => return Err(WorkerError::Aborted),
                Err(e) if e.is_fatal() => {
                    let (cause, detail) = match &e {
                        WorkerError::Died { cause, detail, .. } => (cause.clone(), detail.clone()),
                        other => (Cause::Crash, other.to_string()),
                    };
                    let timed_out = cause == Cause::Timeout;
                    let respawned = self.replace(i);
                    if let Err(WorkerError::Aborted) = respawned {
                        return Err(WorkerError::Aborted);
                    }
                    if let Ok(mut events) = self.events.lock() {
                        events.push(PoolEvent {
                            worker: i,
                            cause,
                            detail,
                            respawned: respawned.is_ok(),
                        });
                    }
                    match respawned {
                        Ok(n) => *w = n,
                        Err(re) => return Err(re),
                    }
                    attempt += 1;
                    if timed_out || attempt >= 2 {
                        return Err(e);
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Peak resident memory over the workers.
    pub fn peak_memory_bytes(&self) -> Option<u64> {
        self.workers
            .iter()
            .filter_map(|w| w.lock().ok()?.peak_memory_bytes())
            .max()
    }

    /// Everything that happened to the workers so far, in order, for the run's record.
    pub fn events(&self) -> Vec<PoolEvent> {
        self.events.lock().map(|e| e.clone()).unwrap_or_default()
    }
}

#[cfg(test)]
mod cause_tests {
    use super::Cause;

    #[test]
    fn a_cause_is_named_as_it_is_serialized() {
        for c in [
            Cause::Timeout,
            Cause::CpuLimit,
            Cause::ForbiddenSyscall,
            Cause::Memory,
            Cause::Crash,
            Cause::Exit,
        ] {
            assert_eq!(serde_json::to_value(&c).unwrap(), c.as_str());
        }
    }
}

#[cfg(test)]
mod scored_tests {
    use super::{Expect, check_scored};
    use arrow::array::{ArrayRef, Float32Array, Float64Array, Int64Array, RecordBatch, UInt32Array};
    use std::sync::Arc;

    fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
        RecordBatch::try_from_iter(columns).unwrap()
    }

    /// The parent checks a worker's answer for the loaded task again: a worker runs the model and is
    /// as untrusted as it, so what the worker's own checks refuse must not get through a worker that
    /// skipped them.
    #[test]
    fn a_workers_answer_must_be_its_tasks_shape_finite_and_within_the_classes() {
        let value = |v: Vec<f64>| batch(vec![("value", Arc::new(Float64Array::from(v)) as ArrayRef)]);
        let class = |v: Vec<u32>| batch(vec![("class", Arc::new(UInt32Array::from(v)) as ArrayRef)]);
        assert!(check_scored(&value(vec![1.5, 0.0]), 2, Expect::Regression).is_ok());
        for (bad, why) in [
            (value(vec![1.5, f64::NAN]), "row 1: the value NaN"),
            (value(vec![f64::INFINITY, 0.0]), "row 0: the value inf"),
            (value(vec![1.0]), "1 predictions for 2 rows"),
            (class(vec![0, 1]), "no value column"),
            (
                batch(vec![(
                    "value",
                    Arc::new(Float32Array::from(vec![1.0f32, 2.0])) as ArrayRef,
                )]),
                "value must be float64",
            ),
            (
                batch(vec![
                    ("value", Arc::new(Float64Array::from(vec![1.0, 2.0])) as ArrayRef),
                    ("extra", Arc::new(Float64Array::from(vec![1.0, 2.0])) as ArrayRef),
                ]),
                "2 columns",
            ),
        ] {
            let e = check_scored(&bad, 2, Expect::Regression).unwrap_err();
            assert!(e.contains(why), "{e}");
        }
        assert!(check_scored(&class(vec![0, 3]), 2, Expect::Multiclass(4)).is_ok());
        let e = check_scored(&value(vec![1.0, -2e12]), 2, Expect::Regression).unwrap_err();
        assert!(e.contains("row 1: the value -2e12 is larger than 1e12"), "{e}");
        let e = check_scored(&class(vec![0, 4]), 2, Expect::Multiclass(4)).unwrap_err();
        assert!(e.contains("row 1: class 4 is not one of the 4 classes"), "{e}");
        let e = check_scored(
            &batch(vec![("class", Arc::new(Int64Array::from(vec![0i64, 1])) as ArrayRef)]),
            2,
            Expect::Multiclass(4),
        )
        .unwrap_err();
        assert!(e.contains("class must be uint32"), "{e}");
        // A yes/no answer is not a number, nor the other way round.
        let yes_no = batch(vec![
            ("label", Arc::new(Int64Array::from(vec![0i64, 1])) as ArrayRef),
            (
                "probability",
                Arc::new(Float32Array::from(vec![0.1f32, 0.9])) as ArrayRef,
            ),
        ]);
        assert!(check_scored(&yes_no, 2, Expect::Binary).is_ok());
        assert!(check_scored(&yes_no, 2, Expect::Regression).is_err());
        assert!(check_scored(&value(vec![0.5, 0.5]), 2, Expect::Binary).is_err());
    }
}
