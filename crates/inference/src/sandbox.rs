//! Dropping the worker's privileges before it touches a vendor's model.
//!
//! The worker (`sandkasse worker`) is a fresh process; at startup, while still single-threaded and
//! before it reads any model bytes, it calls:
//!
//! 1. [`early`] — [`close_inherited_fds`], [`clear_environment`], [`set_resource_limits_except`],
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

mod capabilities;
mod fds;
mod filesystem;
mod netns;
mod paths;
mod rlimits;
mod seccomp;

pub use capabilities::drop_capabilities;
pub use fds::{clear_environment, close_inherited_fds};
pub use filesystem::restrict_filesystem;
pub use netns::enter_network_namespace;
pub use paths::worker_read_paths;
pub use seccomp::install_seccomp;
// Shared between layers.
use fds::thread_warning;
use paths::CPU_DIR;
use rlimits::{is_dumpable, set_dumpable, set_resource_limits_except};

use capabilities::probe_capabilities;
use fds::probe_close_range;
use filesystem::probe_landlock;
use netns::probe_network_namespace;
use rlimits::probe_rlimits;
use seccomp::probe_seccomp;

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
