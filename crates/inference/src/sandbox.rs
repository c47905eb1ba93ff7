//! Dropping the worker's privileges before it touches a vendor's model.
//!
//! The worker (`sandkasse worker`) is a fresh process; at startup, while still single-threaded and
//! before it reads any model bytes, it calls:
//!
//! 1. [`early`] — [`close_inherited_fds`], [`clear_environment`], [`set_resource_limits`],
//!    [`enter_network_namespace`];
//! 2. then loads the ONNX Runtime shared library itself (trusted, and it needs the file system);
//! 3. then [`late`] — [`restrict_filesystem`] (Landlock), [`drop_capabilities`],
//!    [`install_seccomp`].
//!
//! Every step returns a [`LayerStatus`] instead of failing: a layer the kernel lacks is reported as
//! `active: false` with the reason, never skipped silently, and the parent puts the list into the
//! record of every run. [`probe`] answers the same question for `sandkasse doctor` without
//! restricting the caller.
//!
//! Some layers (the network namespace, Landlock on kernels before ABI 8, capabilities) act on the
//! calling thread only, so the steps must run while the process has one thread; the status
//! details say so when other threads exist. Seccomp is installed on all threads (TSYNC).
//!
//! "No new processes" is enforced by seccomp (`clone` without `CLONE_THREAD`, `fork`, `execve`…),
//! not by `RLIMIT_NPROC`: that limit does not apply to root, and for other users it counts every
//! thread of the user, which would break ONNX Runtime's thread pool.

use landlock::{
    ABI, Access, AccessFs, AccessNet, CompatLevel, Compatible, RestrictionStatus, Ruleset, RulesetAttr,
    RulesetCreatedAttr, RulesetError, RulesetStatus, Scope, path_beneath_rules,
};
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule, TargetArch,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};

/// Whether one isolation layer is in force, and why (not).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct LayerStatus {
    /// A stable name, e.g. `landlock`, `seccomp`, `rlimit_as`.
    pub layer: String,
    /// For lock-down steps: the restriction is in force. For [`probe`]: the kernel supports it.
    pub active: bool,
    /// What was done or found; for an inactive layer, the reason (usually the errno text).
    pub detail: String,
}

impl LayerStatus {
    fn active(layer: &str, detail: impl Into<String>) -> Self {
        Self {
            layer: layer.to_owned(),
            active: true,
            detail: detail.into(),
        }
    }

    fn inactive(layer: &str, detail: impl Into<String>) -> Self {
        Self {
            layer: layer.to_owned(),
            active: false,
            detail: detail.into(),
        }
    }

    /// A layer the worker was told to skip (`--test-disable-layer`).
    fn disabled(layer: &str) -> Self {
        Self::inactive(layer, DISABLED_FOR_TEST)
    }
}

/// The detail of a layer skipped on purpose.
pub const DISABLED_FOR_TEST: &str = "disabled for a test (--test-disable-layer)";

/// Every layer a worker applies and reports, in order: [`early`] then [`late`]. The names the
/// operator may give to `--allow-missing-isolation`, and the list the parent checks a worker's
/// report against (a layer missing from the report counts as inactive).
pub const LAYERS: &[&str] = &[
    "close_fds",
    "environment",
    "rlimit_as",
    "rlimit_cpu",
    "rlimit_nofile",
    "rlimit_core",
    "rlimit_fsize",
    "dumpable",
    "network_namespace",
    "landlock",
    "capabilities",
    "seccomp",
];

/// Checks a layer name against [`LAYERS`], for command-line flags.
pub fn known_layer(name: &str) -> Result<String, String> {
    if LAYERS.contains(&name) {
        Ok(name.to_owned())
    } else {
        Err(format!(
            "unknown isolation layer {name:?}; the layers are: {}",
            LAYERS.join(", ")
        ))
    }
}

/// Runs `apply` unless `layer` is in `disabled`, in which case the layer is reported inactive.
fn step(disabled: &BTreeSet<String>, layer: &str, apply: impl FnOnce() -> LayerStatus) -> LayerStatus {
    if disabled.contains(layer) {
        LayerStatus::disabled(layer)
    } else {
        apply()
    }
}

/// Resource limits for the worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `RLIMIT_AS`: virtual address space in bytes. Bounds what a model can allocate, including
    /// ONNX Runtime's arenas and every thread's stack.
    pub address_space_bytes: u64,
    /// `RLIMIT_CPU` soft limit in CPU seconds (all threads together): the worker gets `SIGXCPU`
    /// here and is killed by the kernel one second later (the hard limit).
    pub cpu_seconds: u64,
    /// `RLIMIT_NOFILE`: open descriptors. The worker needs only a handful.
    pub open_files: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            address_space_bytes: 4 << 30,
            cpu_seconds: 3600,
            open_files: 64,
        }
    }
}

/// Steps 1–4, before the worker loads ONNX Runtime: descriptors, environment, limits, network.
pub fn early(cfg: &Config) -> Vec<LayerStatus> {
    early_except(cfg, &BTreeSet::new())
}

/// [`early`], skipping the layers named in `disabled` (tests of the parent's refusal only: it
/// can only ever weaken the worker, and only the parent passes it).
pub fn early_except(cfg: &Config, disabled: &BTreeSet<String>) -> Vec<LayerStatus> {
    let mut layers = vec![
        step(disabled, "close_fds", close_inherited_fds),
        step(disabled, "environment", clear_environment),
    ];
    layers.extend(set_resource_limits_except(cfg, disabled));
    layers.push(step(disabled, "network_namespace", enter_network_namespace));
    layers
}

/// Steps 6–7, after ONNX Runtime is loaded: file system, capabilities, system calls.
///
/// `read_only_paths` are the only paths readable afterwards (for the worker,
/// [`worker_read_paths`]: the ONNX Runtime library file and the CPU-topology files); nothing is
/// writable.
pub fn late(read_only_paths: &[PathBuf]) -> Vec<LayerStatus> {
    late_except(read_only_paths, &BTreeSet::new())
}

/// [`late`], skipping the layers named in `disabled` (see [`early_except`]).
pub fn late_except(read_only_paths: &[PathBuf], disabled: &BTreeSet<String>) -> Vec<LayerStatus> {
    vec![
        step(disabled, "landlock", || restrict_filesystem(read_only_paths)),
        step(disabled, "capabilities", drop_capabilities),
        step(disabled, "seccomp", install_seccomp),
    ]
}

// ---------------------------------------------------------------------------------------------
// What the worker may read

const CPU_DIR: &str = "/sys/devices/system/cpu";

/// Everything a worker may read after lock-down: the ONNX Runtime library file itself (not its
/// directory: a rule on a regular file grants that file only) and [`cpu_topology_files`].
/// The model arrives as bytes over a pipe, so no model file is readable either.
pub fn worker_read_paths(onnxruntime: &Path) -> Vec<PathBuf> {
    let mut paths = vec![onnxruntime.to_owned()];
    paths.extend(cpu_topology_files());
    paths
}

/// The CPU-topology files ONNX Runtime (its bundled `cpuinfo`) reads when it creates its
/// environment, listed file by file at lock-down time: which CPUs exist and, per CPU, its
/// topology and caches. Other files under `/sys/devices/system/cpu` (frequency, vulnerabilities,
/// power management, microcode) stay unreadable.
pub fn cpu_topology_files() -> Vec<PathBuf> {
    let cpu = Path::new(CPU_DIR);
    let mut files: Vec<PathBuf> = ["possible", "present", "online"]
        .iter()
        .map(|name| cpu.join(name))
        .collect();
    let Ok(entries) = std::fs::read_dir(cpu) else {
        return files;
    };
    let mut cpus: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .and_then(|name| name.strip_prefix("cpu"))
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
        .map(|e| e.path())
        .collect();
    cpus.sort();
    for dir in cpus {
        files.extend(regular_files(&dir.join("topology")));
        if let Ok(caches) = std::fs::read_dir(dir.join("cache")) {
            let mut indexes: Vec<PathBuf> = caches
                .flatten()
                .filter(|e| e.file_name().to_str().is_some_and(|n| n.starts_with("index")))
                .map(|e| e.path())
                .collect();
            indexes.sort();
            for index in indexes {
                files.extend(regular_files(&index));
            }
        }
    }
    files
}

/// The regular files directly in `dir`, sorted (none if it cannot be listed).
fn regular_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

// ---------------------------------------------------------------------------------------------
// Descriptors and environment

/// Closes every descriptor from 3 up, so nothing the parent leaked (sockets, files, the model
/// store) is reachable. Uses `close_range(2)`; before Linux 5.9 it falls back to listing
/// `/proc/self/fd`.
pub fn close_inherited_fds() -> LayerStatus {
    const LAYER: &str = "close_fds";
    // Minus the listing's own descriptor, for the detail only.
    let open = open_fds().map(|fds| fds.len().saturating_sub(1));
    match close_range_from(3) {
        Ok(()) => {
            let count = open.map_or_else(|_| "an unknown number".to_owned(), |n| n.to_string());
            LayerStatus::active(
                LAYER,
                format!("close_range(3, ~0) closed every descriptor >= 3 ({count} were open)"),
            )
        }
        Err(range_err) => match close_listed_fds() {
            Ok(n) => LayerStatus::active(
                LAYER,
                format!("close_range failed ({range_err}); closed {n} descriptors >= 3 listed in /proc/self/fd"),
            ),
            Err(list_err) => LayerStatus::inactive(
                LAYER,
                format!("close_range failed ({range_err}) and /proc/self/fd could not be listed ({list_err})"),
            ),
        },
    }
}

fn close_range_from(first: u32) -> io::Result<()> {
    // SAFETY: close_range only closes descriptors; no memory is passed. Callers own every fd >= 3
    // by contract (the worker has not opened anything it still needs).
    let rc = unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, 0u32) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Descriptors >= 3 currently open, per `/proc/self/fd` (the listing's own descriptor included).
fn open_fds() -> io::Result<Vec<libc::c_int>> {
    let mut fds = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd")? {
        if let Some(fd) = entry?
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<libc::c_int>().ok())
            && fd >= 3
        {
            fds.push(fd);
        }
    }
    Ok(fds)
}

fn close_listed_fds() -> io::Result<usize> {
    // The directory's own descriptor is in the list but already closed when `open_fds` returns;
    // closing it again fails with EBADF, harmlessly, and is not counted.
    let closed = open_fds()?
        .into_iter()
        // SAFETY: closing a descriptor passes no memory; see `close_range_from`.
        .filter(|&fd| unsafe { libc::close(fd) } == 0)
        .count();
    Ok(closed)
}

/// Removes every environment variable. The parent already execs the worker with an empty
/// environment; this is defence in depth against variables that steer ONNX Runtime or glibc
/// (`LD_*`, `ORT_*`, `MALLOC_*`, `OMP_*`), which a model could otherwise read as well.
///
/// Modifying the environment while another thread may read it is undefined behaviour, so this
/// only acts when `/proc/self/task` shows that the calling thread is the only one.
pub fn clear_environment() -> LayerStatus {
    const LAYER: &str = "environment";
    match other_threads() {
        Ok(0) => {}
        Ok(n) => {
            return LayerStatus::inactive(LAYER, format!("left untouched: {n} other threads might read it"));
        }
        Err(e) => return LayerStatus::inactive(LAYER, format!("left untouched: thread count unknown ({e})")),
    }
    let names: Vec<_> = std::env::vars_os().map(|(name, _)| name).collect();
    for name in &names {
        // SAFETY: `other_threads` showed this is the only thread, and only this thread could start
        // another, so nothing reads the environment concurrently.
        unsafe { std::env::remove_var(name) };
    }
    // SAFETY: as above. `clearenv` also drops entries `vars_os` skips (those without `=`).
    let rc = unsafe { libc::clearenv() };
    match (rc, std::env::vars_os().next()) {
        (0, None) => LayerStatus::active(LAYER, format!("removed {} variables", names.len())),
        (_, Some((name, _))) => LayerStatus::inactive(LAYER, format!("{name:?} is still set")),
        (_, None) => LayerStatus::inactive(LAYER, format!("clearenv failed: {}", io::Error::last_os_error())),
    }
}

/// Threads of this process other than the caller.
fn other_threads() -> io::Result<usize> {
    Ok(std::fs::read_dir("/proc/self/task")?.count().saturating_sub(1))
}

/// A warning for layers that act on the calling thread only, empty when there is no other thread
/// (or the count cannot be read, e.g. after Landlock hid `/proc`).
fn thread_warning() -> String {
    match other_threads() {
        Ok(n) if n > 0 => format!("; WARNING: {n} other threads are not covered"),
        _ => String::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// Resource limits

/// Lowers `RLIMIT_AS`, `RLIMIT_CPU`, `RLIMIT_NOFILE`, and sets `RLIMIT_CORE` and `RLIMIT_FSIZE` to
/// 0, then marks the process non-dumpable. One status per limit, plus `dumpable`.
///
/// Limits are only ever lowered: where the inherited hard limit is already below the request it
/// is kept (raising it would need privileges and is not the point).
///
/// `RLIMIT_FSIZE` 0 means a write to a regular file raises `SIGXFSZ` and kills the worker, so its
/// stdout and stderr must be pipes (writes to pipes are not affected).
pub fn set_resource_limits(cfg: &Config) -> Vec<LayerStatus> {
    set_resource_limits_except(cfg, &BTreeSet::new())
}

fn set_resource_limits_except(cfg: &Config, disabled: &BTreeSet<String>) -> Vec<LayerStatus> {
    let cpu_hard = cfg.cpu_seconds.saturating_add(1);
    let limit = |layer: &'static str, resource: Resource, soft: u64, hard: u64| {
        step(disabled, layer, || lower_limit(layer, resource, soft, hard))
    };
    vec![
        limit(
            "rlimit_as",
            libc::RLIMIT_AS,
            cfg.address_space_bytes,
            cfg.address_space_bytes,
        ),
        limit("rlimit_cpu", libc::RLIMIT_CPU, cfg.cpu_seconds, cpu_hard),
        limit("rlimit_nofile", libc::RLIMIT_NOFILE, cfg.open_files, cfg.open_files),
        limit("rlimit_core", libc::RLIMIT_CORE, 0, 0),
        limit("rlimit_fsize", libc::RLIMIT_FSIZE, 0, 0),
        step(disabled, "dumpable", disable_dumping),
    ]
}

type Resource = libc::__rlimit_resource_t;

fn lower_limit(layer: &str, resource: Resource, soft: u64, hard: u64) -> LayerStatus {
    let current = match get_limit(resource) {
        Ok(limit) => limit,
        Err(e) => return LayerStatus::inactive(layer, format!("getrlimit failed: {e}")),
    };
    let new_hard = hard.min(current.rlim_max);
    let new = libc::rlimit {
        rlim_cur: soft.min(new_hard),
        rlim_max: new_hard,
    };
    // SAFETY: `new` is a valid rlimit that outlives the call.
    if unsafe { libc::setrlimit(resource, &new) } != 0 {
        return LayerStatus::inactive(layer, format!("setrlimit failed: {}", io::Error::last_os_error()));
    }
    let kept = if new_hard < hard {
        " (kept the lower inherited hard limit)"
    } else {
        ""
    };
    LayerStatus::active(layer, format!("soft {}, hard {}{kept}", new.rlim_cur, new.rlim_max))
}

fn get_limit(resource: Resource) -> io::Result<libc::rlimit> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable rlimit.
    if unsafe { libc::getrlimit(resource, &mut limit) } == 0 {
        Ok(limit)
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Non-dumpable: no core dump of model data, and other processes of the same user cannot
/// `ptrace` the worker or read its `/proc/<pid>/mem`.
fn disable_dumping() -> LayerStatus {
    const LAYER: &str = "dumpable";
    match set_dumpable(false) {
        Ok(()) => LayerStatus::active(LAYER, "PR_SET_DUMPABLE 0"),
        Err(e) => LayerStatus::inactive(LAYER, format!("prctl(PR_SET_DUMPABLE) failed: {e}")),
    }
}

fn set_dumpable(dumpable: bool) -> io::Result<()> {
    let value = libc::c_ulong::from(dumpable);
    // SAFETY: PR_SET_DUMPABLE takes an integer argument only.
    if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, value, 0, 0, 0) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn is_dumpable() -> io::Result<bool> {
    // SAFETY: PR_GET_DUMPABLE takes no pointers.
    match unsafe { libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0) } {
        -1 => Err(io::Error::last_os_error()),
        value => Ok(value != 0),
    }
}

// ---------------------------------------------------------------------------------------------
// Network namespace

/// Moves the worker into a new network namespace, which holds only a loopback interface that is
/// down: no network at all, not even 127.0.0.1.
///
/// As root this is `unshare(CLONE_NEWNET)`. Without the privilege (EPERM) it creates a user
/// namespace along with it, in which the worker is root (uid and gid mapped `0 <id> 1`). Must run
/// while single-threaded: the kernel refuses a new user namespace otherwise, and a new network
/// namespace applies to the calling thread only.
pub fn enter_network_namespace() -> LayerStatus {
    const LAYER: &str = "network_namespace";
    // Read before unsharing: inside a new user namespace they read as the overflow id until mapped.
    // SAFETY: getuid and getgid cannot fail.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    match unshare(libc::CLONE_NEWNET) {
        Ok(()) => LayerStatus::active(
            LAYER,
            format!("new network namespace (loopback down){}", thread_warning()),
        ),
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => match unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNET) {
            Ok(()) => {
                let mapped = match write_id_maps(uid, gid) {
                    Ok(()) => format!("uid {uid} and gid {gid} mapped to 0"),
                    Err(e) => format!("ids left unmapped ({e})"),
                };
                LayerStatus::active(
                    LAYER,
                    format!("new user and network namespace (loopback down); {mapped}"),
                )
            }
            Err(user_err) => LayerStatus::inactive(
                LAYER,
                format!("unshare(CLONE_NEWNET) failed ({e}); with CLONE_NEWUSER too ({user_err})"),
            ),
        },
        Err(e) => LayerStatus::inactive(LAYER, format!("unshare(CLONE_NEWNET) failed: {e}")),
    }
}

fn unshare(flags: libc::c_int) -> io::Result<()> {
    // SAFETY: unshare takes flags only.
    if unsafe { libc::unshare(flags) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Maps the worker's ids to root in its new user namespace.
///
/// `/proc/self/*` of a non-dumpable process belongs to global root, so a non-root worker (which
/// [`set_resource_limits`] made non-dumpable) could not open its own map files. Dumpability is
/// restored for the few writes and reset afterwards; nothing untrusted runs in between.
fn write_id_maps(uid: libc::uid_t, gid: libc::gid_t) -> io::Result<()> {
    let was_dumpable = is_dumpable()?;
    set_dumpable(true)?;
    let written = std::fs::write("/proc/self/setgroups", "deny")
        .and_then(|()| std::fs::write("/proc/self/uid_map", format!("0 {uid} 1\n")))
        .and_then(|()| std::fs::write("/proc/self/gid_map", format!("0 {gid} 1\n")));
    let restored = set_dumpable(was_dumpable);
    written.and(restored)
}

// ---------------------------------------------------------------------------------------------
// Landlock

/// Allows reading (and executing) only `read_only_paths`, writing nowhere, with Landlock.
///
/// Uses every right the kernel's Landlock ABI has (best effort): file system access; from ABI 4
/// also TCP bind and connect (none allowed); from ABI 6 the abstract-unix-socket and signal scopes
/// (no connecting to sockets or signalling processes outside the sandbox). Paths that do not
/// exist are named in the detail; the others are still restricted to.
pub fn restrict_filesystem(read_only_paths: &[PathBuf]) -> LayerStatus {
    const LAYER: &str = "landlock";
    let version = match landlock_abi_version() {
        Ok(version) => version,
        Err(e) => return LayerStatus::inactive(LAYER, format!("Landlock unavailable: {}", landlock_reason(&e))),
    };
    let threads = thread_warning();
    let (present, missing) = split_existing(read_only_paths);
    // The kernel's own ABI rather than a fixed one: every additional right only denies more, and
    // the process needs nothing but reading the listed paths. Clamped to what the crate knows.
    let abi = ABI::from(version);
    let mut detail = format!(
        "kernel ABI {version}, using ABI {abi}; read-only: {}",
        describe_paths(&present)
    );
    if !missing.is_empty() {
        detail.push_str(&format!("; not found, so not readable: {}", missing.join(", ")));
    }
    match apply_landlock(abi, &present) {
        Ok(status) => describe_landlock(&status, &format!("{detail}{threads}")),
        Err(e) => LayerStatus::inactive(LAYER, format!("{e}; {detail}")),
    }
}

fn apply_landlock(abi: ABI, read_only: &[&Path]) -> Result<RestrictionStatus, RulesetError> {
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(AccessFs::from_all(abi))?;
    // Empty sets (older ABIs) are errors for the crate, so they are left out.
    let net = AccessNet::from_all(abi);
    if !net.is_empty() {
        ruleset = ruleset.handle_access(net)?;
    }
    let scopes = Scope::from_all(abi);
    if !scopes.is_empty() {
        ruleset = ruleset.scope(scopes)?;
    }
    ruleset
        .create()?
        .add_rules(path_beneath_rules(read_only, AccessFs::from_read(abi)))?
        .restrict_self()
}

fn describe_landlock(status: &RestrictionStatus, detail: &str) -> LayerStatus {
    const LAYER: &str = "landlock";
    match status.ruleset {
        RulesetStatus::FullyEnforced => LayerStatus::active(LAYER, format!("fully enforced; {detail}")),
        RulesetStatus::PartiallyEnforced => LayerStatus::active(
            LAYER,
            format!("partially enforced (the kernel lacks some rights); {detail}"),
        ),
        RulesetStatus::NotEnforced => LayerStatus::inactive(LAYER, format!("not enforced; {detail}")),
    }
}

/// The paths for a status detail: each in full, except files under `/sys/devices/system/cpu`,
/// which are counted (there are dozens per CPU).
fn describe_paths(paths: &[&Path]) -> String {
    let (cpu, other): (Vec<&Path>, Vec<&Path>) = paths.iter().partition(|p| p.starts_with(CPU_DIR));
    let mut parts: Vec<String> = other.iter().map(|p| format!("{p:?}")).collect();
    if !cpu.is_empty() {
        parts.push(format!("{} files under {CPU_DIR}", cpu.len()));
    }
    format!("[{}]", parts.join(", "))
}

/// Splits into existing paths and descriptions of the missing ones.
fn split_existing(paths: &[PathBuf]) -> (Vec<&Path>, Vec<String>) {
    let mut present = Vec::new();
    let mut missing = Vec::new();
    for path in paths {
        match std::fs::metadata(path) {
            Ok(_) => present.push(path.as_path()),
            Err(e) => missing.push(format!("{} ({e})", path.display())),
        }
    }
    (present, missing)
}

/// The kernel's Landlock ABI version, from `landlock_create_ruleset(NULL, 0, VERSION)`.
fn landlock_abi_version() -> io::Result<i32> {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
    // SAFETY: with the VERSION flag the kernel reads no memory (the attribute pointer is NULL).
    let rc = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    i32::try_from(rc).map_err(|_| io::Error::other(format!("implausible Landlock ABI {rc}")))
}

fn landlock_reason(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::EOPNOTSUPP) => format!("{e}: Landlock is built in but disabled (missing from the lsm= boot list)"),
        Some(libc::ENOSYS) => format!("{e}: the kernel is built without Landlock"),
        _ => e.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Capabilities

/// Drops every capability (bounding, ambient, effective, permitted, inheritable).
///
/// When the worker runs as root (or as root of its own user namespace), capabilities are what
/// make root powerful: raw I/O ports, setting the clock or hostname, overriding file
/// permissions. Landlock and seccomp do not cover all of them. Acts on the calling thread.
pub fn drop_capabilities() -> LayerStatus {
    const LAYER: &str = "capabilities";
    let threads = thread_warning();
    // The bounding and ambient sets only matter across execve, which seccomp denies anyway; a
    // failure there is reported but does not make the layer inactive.
    let bounding = match drop_bounding_set() {
        Ok(n) => format!("bounding set: {n} dropped"),
        Err(e) => format!("bounding set kept ({e})"),
    };
    let ambient = match clear_ambient() {
        Ok(()) => "ambient set cleared".to_owned(),
        Err(e) => format!("ambient set kept ({e})"),
    };
    let notes = format!("{bounding}; {ambient}{threads}");
    match capset_self(&[CapData::default(); 2]).and_then(|()| capget_self()) {
        Ok(caps) if caps.iter().all(CapData::is_empty) => LayerStatus::active(
            LAYER,
            format!("effective, permitted and inheritable sets empty; {notes}"),
        ),
        Ok(caps) => LayerStatus::inactive(LAYER, format!("capabilities remain: {caps:?}; {notes}")),
        Err(e) => LayerStatus::inactive(LAYER, format!("capset failed: {e}; {notes}")),
    }
}

/// `_LINUX_CAPABILITY_VERSION_3`: 64-bit sets as two 32-bit halves.
const CAPABILITY_VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

impl CapData {
    fn is_empty(&self) -> bool {
        self.effective == 0 && self.permitted == 0 && self.inheritable == 0
    }
}

fn capget_self() -> io::Result<[CapData; 2]> {
    let mut header = CapHeader {
        version: CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: version 3 makes the kernel write exactly two CapData, which `data` holds.
    let rc = unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) };
    if rc == 0 {
        Ok(data)
    } else {
        Err(io::Error::last_os_error())
    }
}

fn capset_self(data: &[CapData; 2]) -> io::Result<()> {
    let mut header = CapHeader {
        version: CAPABILITY_VERSION_3,
        pid: 0,
    };
    // SAFETY: version 3 makes the kernel read exactly two CapData from `data`.
    let rc = unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Drops capabilities from the bounding set until the kernel says the number is past the last
/// capability it knows (EINVAL), so no list of capability numbers has to be kept current.
fn drop_bounding_set() -> io::Result<usize> {
    let mut dropped = 0;
    for cap in 0..64 {
        // SAFETY: PR_CAPBSET_DROP takes an integer argument only.
        if unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) } == 0 {
            dropped += 1;
            continue;
        }
        let e = io::Error::last_os_error();
        return if e.raw_os_error() == Some(libc::EINVAL) && cap > 0 {
            Ok(dropped)
        } else {
            Err(e)
        };
    }
    Ok(dropped)
}

fn clear_ambient() -> io::Result<()> {
    let clear_all = libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong;
    // SAFETY: PR_CAP_AMBIENT takes integer arguments only.
    if unsafe { libc::prctl(libc::PR_CAP_AMBIENT, clear_all, 0, 0, 0) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

// ---------------------------------------------------------------------------------------------
// Seccomp

/// System calls a model never needs and that would let it reach the network, start a program,
/// inspect other processes, or attack the kernel. Denied with EPERM; everything else is allowed
/// (ONNX Runtime's needs vary by version and execution provider, so an allow-list would break).
const DENIED_SYSCALLS: &[(&str, libc::c_long)] = &[
    // Networking: no sockets at all (the worker's IPC uses inherited pipes).
    ("socket", libc::SYS_socket),
    ("socketpair", libc::SYS_socketpair),
    ("connect", libc::SYS_connect),
    ("bind", libc::SYS_bind),
    ("listen", libc::SYS_listen),
    ("accept", libc::SYS_accept),
    ("accept4", libc::SYS_accept4),
    // Programs and other processes.
    ("execve", libc::SYS_execve),
    ("execveat", libc::SYS_execveat),
    ("ptrace", libc::SYS_ptrace),
    ("process_vm_readv", libc::SYS_process_vm_readv),
    ("process_vm_writev", libc::SYS_process_vm_writev),
    ("process_madvise", libc::SYS_process_madvise),
    ("pidfd_getfd", libc::SYS_pidfd_getfd),
    ("kcmp", libc::SYS_kcmp),
    // Namespaces and mounts.
    ("unshare", libc::SYS_unshare),
    ("setns", libc::SYS_setns),
    ("mount", libc::SYS_mount),
    ("umount2", libc::SYS_umount2),
    ("pivot_root", libc::SYS_pivot_root),
    ("chroot", libc::SYS_chroot),
    ("open_tree", libc::SYS_open_tree),
    ("move_mount", libc::SYS_move_mount),
    ("fsopen", libc::SYS_fsopen),
    ("fsconfig", libc::SYS_fsconfig),
    ("fsmount", libc::SYS_fsmount),
    ("fspick", libc::SYS_fspick),
    ("mount_setattr", libc::SYS_mount_setattr),
    ("open_by_handle_at", libc::SYS_open_by_handle_at),
    ("name_to_handle_at", libc::SYS_name_to_handle_at),
    // Kernel attack surface and host state.
    ("keyctl", libc::SYS_keyctl),
    ("add_key", libc::SYS_add_key),
    ("request_key", libc::SYS_request_key),
    ("bpf", libc::SYS_bpf),
    ("perf_event_open", libc::SYS_perf_event_open),
    ("userfaultfd", libc::SYS_userfaultfd),
    ("io_uring_setup", libc::SYS_io_uring_setup),
    ("io_uring_enter", libc::SYS_io_uring_enter),
    ("io_uring_register", libc::SYS_io_uring_register),
    ("personality", libc::SYS_personality),
    ("kexec_load", libc::SYS_kexec_load),
    ("kexec_file_load", libc::SYS_kexec_file_load),
    ("init_module", libc::SYS_init_module),
    ("finit_module", libc::SYS_finit_module),
    ("delete_module", libc::SYS_delete_module),
    ("reboot", libc::SYS_reboot),
    ("swapon", libc::SYS_swapon),
    ("swapoff", libc::SYS_swapoff),
    ("syslog", libc::SYS_syslog),
    ("acct", libc::SYS_acct),
    ("quotactl", libc::SYS_quotactl),
    ("sethostname", libc::SYS_sethostname),
    ("setdomainname", libc::SYS_setdomainname),
    ("settimeofday", libc::SYS_settimeofday),
    ("clock_settime", libc::SYS_clock_settime),
    ("clock_adjtime", libc::SYS_clock_adjtime),
    ("adjtimex", libc::SYS_adjtimex),
    // Landlock is set up before the filter; a model has no use for it afterwards.
    ("landlock_create_ruleset", libc::SYS_landlock_create_ruleset),
    ("landlock_add_rule", libc::SYS_landlock_add_rule),
    ("landlock_restrict_self", libc::SYS_landlock_restrict_self),
];

/// Calls that exist only on x86_64.
#[cfg(target_arch = "x86_64")]
const DENIED_ARCH_SYSCALLS: &[(&str, libc::c_long)] = &[
    ("fork", libc::SYS_fork),
    ("vfork", libc::SYS_vfork),
    ("iopl", libc::SYS_iopl),
    ("ioperm", libc::SYS_ioperm),
];
#[cfg(not(target_arch = "x86_64"))]
const DENIED_ARCH_SYSCALLS: &[(&str, libc::c_long)] = &[];

/// Namespace flags refused for `clone` even with `CLONE_THREAD`. (`CLONE_NEWTIME` shares its bit
/// with the exit signal in `clone`'s flags and is only meaningful for `clone3`/`unshare`.)
const CLONE_NAMESPACE_FLAGS: [libc::c_int; 7] = [
    libc::CLONE_NEWNS,
    libc::CLONE_NEWCGROUP,
    libc::CLONE_NEWUTS,
    libc::CLONE_NEWIPC,
    libc::CLONE_NEWUSER,
    libc::CLONE_NEWPID,
    libc::CLONE_NEWNET,
];

/// Installs the seccomp filters on every thread of the process (TSYNC).
///
/// * [`DENIED_SYSCALLS`] and `prctl(PR_SET_DUMPABLE)` → EPERM;
/// * `clone` → EPERM unless its flags contain `CLONE_THREAD` (threads stay allowed, ONNX Runtime
///   needs them; new processes do not), or if they ask for a new namespace;
/// * `clone3` → ENOSYS: its flags sit in memory, out of the filter's reach, and ENOSYS makes glibc
///   fall back to `clone`, whose flags can be checked;
/// * on x86_64, x32 system calls (number bit 30) → ENOSYS, so they cannot bypass the numbers above;
/// * any other architecture's calling convention (e.g. i386 via `int 0x80`) kills the process.
///
/// `seccompiler::apply_filter_all_threads` sets `PR_SET_NO_NEW_PRIVS` first, as the kernel requires
/// of an unprivileged caller.
pub fn install_seccomp() -> LayerStatus {
    const LAYER: &str = "seccomp";
    let programs = match seccomp_programs() {
        Ok(programs) => programs,
        Err(e) => return LayerStatus::inactive(LAYER, format!("filter not built: {e}")),
    };
    let mut installed = Vec::new();
    for (name, program) in &programs {
        if let Err(e) = seccompiler::apply_filter_all_threads(program) {
            let done = if installed.is_empty() {
                "none".to_owned()
            } else {
                installed.join(", ")
            };
            return LayerStatus::inactive(
                LAYER,
                format!("installing {name} failed: {e}; installed before: {done}"),
            );
        }
        installed.push(*name);
    }
    let denied: Vec<_> = DENIED_SYSCALLS
        .iter()
        .chain(DENIED_ARCH_SYSCALLS)
        .map(|(name, _)| *name)
        .collect();
    LayerStatus::active(
        LAYER,
        format!(
            "all threads; EPERM: {}, prctl(PR_SET_DUMPABLE), clone without CLONE_THREAD or with CLONE_NEW*; \
             ENOSYS: clone3{}",
            denied.join(", "),
            if cfg!(target_arch = "x86_64") {
                ", x32 calls"
            } else {
                ""
            }
        ),
    )
}

/// The filters to install, named for the status detail.
fn seccomp_programs() -> Result<Vec<(&'static str, BpfProgram)>, String> {
    let arch = TargetArch::try_from(std::env::consts::ARCH).map_err(|e| e.to_string())?;
    let denied = deny_filter(arch).map_err(|e| e.to_string())?;
    let clone3 = clone3_filter(arch).map_err(|e| e.to_string())?;
    let mut programs = vec![("the EPERM filter", denied), ("the clone3 filter", clone3)];
    if cfg!(target_arch = "x86_64") {
        programs.push(("the x32 filter", x32_filter()));
    }
    Ok(programs)
}

fn deny_filter(arch: TargetArch) -> Result<BpfProgram, seccompiler::BackendError> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = DENIED_SYSCALLS
        .iter()
        .chain(DENIED_ARCH_SYSCALLS)
        .map(|&(_, nr)| (nr, Vec::new()))
        .collect();
    rules.insert(libc::SYS_clone, clone_rules()?);
    rules.insert(
        libc::SYS_prctl,
        vec![arg0_rule(SeccompCmpOp::Eq, libc::PR_SET_DUMPABLE)?],
    );
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(errno(libc::EPERM)),
        arch,
    )?;
    BpfProgram::try_from(filter)
}

/// `clone` rules, any of which denies: no `CLONE_THREAD`, or any namespace flag.
fn clone_rules() -> Result<Vec<SeccompRule>, seccompiler::BackendError> {
    let mut rules = vec![arg0_rule(SeccompCmpOp::MaskedEq(flag_bits(libc::CLONE_THREAD)), 0)?];
    for flag in CLONE_NAMESPACE_FLAGS {
        rules.push(arg0_rule(SeccompCmpOp::MaskedEq(flag_bits(flag)), flag)?);
    }
    Ok(rules)
}

/// A rule on the low 32 bits of the first argument (`clone`'s flags and `prctl`'s option on
/// x86_64 and aarch64 alike).
fn arg0_rule(op: SeccompCmpOp, value: libc::c_int) -> Result<SeccompRule, seccompiler::BackendError> {
    SeccompRule::new(vec![SeccompCondition::new(
        0,
        SeccompCmpArgLen::Dword,
        op,
        flag_bits(value),
    )?])
}

/// A flag or small constant as the filter's 64-bit operand (bit pattern, not sign-extended).
fn flag_bits(value: libc::c_int) -> u64 {
    u64::from(value as u32)
}

fn errno(value: libc::c_int) -> u32 {
    value as u32
}

fn clone3_filter(arch: TargetArch) -> Result<BpfProgram, seccompiler::BackendError> {
    let rules = BTreeMap::from([(libc::SYS_clone3, Vec::new())]);
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(errno(libc::ENOSYS)),
        arch,
    )?;
    BpfProgram::try_from(filter)
}

/// x86_64 also accepts x32 system calls: the same numbers with bit 30 set, under the same audit
/// architecture, so the per-number rules would not see them. seccompiler cannot compare the
/// number itself, hence this hand-written program: `nr >= 0x4000_0000` → ENOSYS, else allow.
fn x32_filter() -> BpfProgram {
    const LOAD_NR: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS, offset 0 is seccomp_data.nr
    const JUMP_GE: u16 = 0x35; // BPF_JMP | BPF_JGE | BPF_K
    const RETURN: u16 = 0x06; // BPF_RET | BPF_K
    const X32_SYSCALL_BIT: u32 = 0x4000_0000;
    let instruction = |code, jt, jf, k| seccompiler::sock_filter { code, jt, jf, k };
    vec![
        instruction(LOAD_NR, 0, 0, 0),
        instruction(JUMP_GE, 0, 1, X32_SYSCALL_BIT),
        instruction(RETURN, 0, 0, libc::SECCOMP_RET_ERRNO | errno(libc::ENOSYS)),
        instruction(RETURN, 0, 0, libc::SECCOMP_RET_ALLOW),
    ]
}

// ---------------------------------------------------------------------------------------------
// Probe

/// What this kernel supports, for `sandkasse doctor`, without restricting the caller: the network
/// namespace is tried in a forked child that exits at once.
pub fn probe() -> Vec<LayerStatus> {
    vec![
        probe_close_range(),
        probe_rlimits(),
        probe_network_namespace(),
        probe_landlock(),
        probe_capabilities(),
        probe_seccomp(),
    ]
}

fn probe_close_range() -> LayerStatus {
    const LAYER: &str = "close_fds";
    // fd u32::MAX cannot be open (the kernel caps descriptors far lower), so this closes nothing.
    match close_range_from(u32::MAX) {
        Ok(()) => LayerStatus::active(LAYER, "close_range available"),
        Err(e) => match open_fds() {
            Ok(_) => LayerStatus::active(
                LAYER,
                format!("close_range unavailable ({e}); /proc/self/fd fallback works"),
            ),
            Err(list_err) => LayerStatus::inactive(LAYER, format!("close_range ({e}) and /proc/self/fd ({list_err})")),
        },
    }
}

fn probe_rlimits() -> LayerStatus {
    const LAYER: &str = "rlimits";
    let limits = [
        ("AS", libc::RLIMIT_AS),
        ("CPU", libc::RLIMIT_CPU),
        ("NOFILE", libc::RLIMIT_NOFILE),
    ];
    let mut current = Vec::new();
    for (name, resource) in limits {
        match get_limit(resource) {
            Ok(limit) => current.push(format!("{name} hard {}", describe_limit(limit.rlim_max))),
            Err(e) => return LayerStatus::inactive(LAYER, format!("getrlimit(RLIMIT_{name}) failed: {e}")),
        }
    }
    LayerStatus::active(LAYER, format!("available; current {}", current.join(", ")))
}

fn describe_limit(value: libc::rlim_t) -> String {
    if value == libc::RLIM_INFINITY {
        "unlimited".to_owned()
    } else {
        value.to_string()
    }
}

/// Exit codes of the probe child.
const NETNS_DIRECT: libc::c_int = 0;
const NETNS_WITH_USERNS: libc::c_int = 1;
const NETNS_ERRNO_BASE: libc::c_int = 100;

fn probe_network_namespace() -> LayerStatus {
    const LAYER: &str = "network_namespace";
    // SAFETY: the child calls only async-signal-safe functions (unshare, _exit), so forking is
    // sound even if the caller is multi-threaded.
    match unsafe { libc::fork() } {
        -1 => LayerStatus::inactive(LAYER, format!("fork failed: {}", io::Error::last_os_error())),
        0 => {
            let code = try_network_namespace();
            // SAFETY: _exit ends the child without running the parent's atexit handlers or destructors.
            unsafe { libc::_exit(code) }
        }
        child => match wait_for_exit(child) {
            Ok(NETNS_DIRECT) => LayerStatus::active(LAYER, "unshare(CLONE_NEWNET) works"),
            Ok(NETNS_WITH_USERNS) => LayerStatus::active(LAYER, "works together with a new user namespace"),
            Ok(code) if code > NETNS_ERRNO_BASE => LayerStatus::inactive(
                LAYER,
                format!(
                    "unshare failed: {}",
                    io::Error::from_raw_os_error(code - NETNS_ERRNO_BASE)
                ),
            ),
            Ok(code) => LayerStatus::inactive(LAYER, format!("probe child ended with status {code}")),
            Err(e) => LayerStatus::inactive(LAYER, format!("waiting for the probe child failed: {e}")),
        },
    }
}

/// Runs in the forked child: async-signal-safe calls only.
fn try_network_namespace() -> libc::c_int {
    // SAFETY: unshare takes flags only and affects only this child.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } == 0 {
        return NETNS_DIRECT;
    }
    let first = io::Error::last_os_error().raw_os_error().unwrap_or(0);
    // SAFETY: as above.
    if first == libc::EPERM && unsafe { libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNET) } == 0 {
        return NETNS_WITH_USERNS;
    }
    let errno = io::Error::last_os_error().raw_os_error().unwrap_or(0);
    NETNS_ERRNO_BASE + errno.clamp(1, 155)
}

/// Waits for `child`; its exit code, or 128 + signal number if a signal ended it.
fn wait_for_exit(child: libc::pid_t) -> io::Result<libc::c_int> {
    let mut status = 0;
    loop {
        // SAFETY: `status` is a valid, writable int.
        if unsafe { libc::waitpid(child, &mut status, 0) } == child {
            break;
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    if libc::WIFEXITED(status) {
        Ok(libc::WEXITSTATUS(status))
    } else {
        Ok(128 + libc::WTERMSIG(status))
    }
}

fn probe_landlock() -> LayerStatus {
    const LAYER: &str = "landlock";
    match landlock_abi_version() {
        Ok(version) => {
            let abi = ABI::from(version);
            let extras = if version < 4 {
                "file system only"
            } else if version < 6 {
                "file system and TCP"
            } else {
                "file system, TCP, and signal/abstract-socket scopes"
            };
            LayerStatus::active(LAYER, format!("kernel ABI {version} (used as ABI {abi}): {extras}"))
        }
        Err(e) => LayerStatus::inactive(LAYER, landlock_reason(&e)),
    }
}

fn probe_capabilities() -> LayerStatus {
    const LAYER: &str = "capabilities";
    match capget_self() {
        Ok([low, high]) => {
            let effective = u64::from(high.effective) << 32 | u64::from(low.effective);
            LayerStatus::active(
                LAYER,
                format!("capget/capset available; current effective set {effective:#x}"),
            )
        }
        Err(e) => LayerStatus::inactive(LAYER, format!("capget failed: {e}")),
    }
}

fn probe_seccomp() -> LayerStatus {
    const LAYER: &str = "seccomp";
    if let Err(e) = TargetArch::try_from(std::env::consts::ARCH) {
        return LayerStatus::inactive(LAYER, format!("no filter for this architecture: {e}"));
    }
    // SAFETY: PR_GET_SECCOMP takes no pointers.
    let mode = unsafe { libc::prctl(libc::PR_GET_SECCOMP, 0, 0, 0, 0) };
    if mode < 0 {
        return LayerStatus::inactive(LAYER, format!("PR_GET_SECCOMP failed: {}", io::Error::last_os_error()));
    }
    let actions = std::fs::read_to_string("/proc/sys/kernel/seccomp/actions_avail");
    match actions {
        Ok(actions) if !actions.split_whitespace().any(|action| action == "errno") => LayerStatus::inactive(
            LAYER,
            format!("the kernel lacks the errno action (has: {})", actions.trim()),
        ),
        Ok(actions) => LayerStatus::active(
            LAYER,
            format!(
                "filter mode available (current mode {mode}; actions: {})",
                actions.trim()
            ),
        ),
        Err(e) => LayerStatus::active(
            LAYER,
            format!("available (current mode {mode}); actions_avail unreadable ({e}), errno assumed"),
        ),
    }
}
