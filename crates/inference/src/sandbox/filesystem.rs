//! Landlock: reading only what the worker needs, writing nowhere, no network; and its probe.

use super::*;

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

pub(super) fn apply_landlock(abi: ABI, read_only: &[&Path]) -> Result<RestrictionStatus, RulesetError> {
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

pub(super) fn describe_landlock(status: &RestrictionStatus, detail: &str) -> LayerStatus {
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
pub(super) fn describe_paths(paths: &[&Path]) -> String {
    let (cpu, other): (Vec<&Path>, Vec<&Path>) = paths.iter().partition(|p| p.starts_with(CPU_DIR));
    let mut parts: Vec<String> = other.iter().map(|p| format!("{p:?}")).collect();
    if !cpu.is_empty() {
        parts.push(format!("{} files under {CPU_DIR}", cpu.len()));
    }
    format!("[{}]", parts.join(", "))
}

/// Splits into existing paths and descriptions of the missing ones.
pub(super) fn split_existing(paths: &[PathBuf]) -> (Vec<&Path>, Vec<String>) {
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
pub(super) fn landlock_abi_version() -> io::Result<i32> {
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

pub(super) fn landlock_reason(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::EOPNOTSUPP) => format!("{e}: Landlock is built in but disabled (missing from the lsm= boot list)"),
        Some(libc::ENOSYS) => format!("{e}: the kernel is built without Landlock"),
        _ => e.to_string(),
    }
}

pub(super) fn probe_landlock() -> LayerStatus {
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
