//! Resource limits (address space, CPU time, open files, core dumps, file size) and no dumping; and their probe.

use super::*;

/// Lowers `RLIMIT_AS`, `RLIMIT_CPU`, `RLIMIT_NOFILE`, and sets `RLIMIT_CORE` and `RLIMIT_FSIZE` to
/// 0, then marks the process non-dumpable. One status per limit, plus `dumpable`.
///
/// Limits are only ever lowered: where the inherited hard limit is already below the request it
/// is kept (raising it would need privileges and is not the point).
///
/// `RLIMIT_FSIZE` 0 means a write to a regular file raises `SIGXFSZ` and kills the worker, so its
/// stdout and stderr must be pipes (writes to pipes are not affected).
///
/// Layers named in `disabled` are skipped (see [`super::early_except`]).
pub(super) fn set_resource_limits_except(cfg: &Config, disabled: &BTreeSet<String>) -> Vec<LayerStatus> {
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

pub(super) fn lower_limit(layer: &str, resource: Resource, soft: u64, hard: u64) -> LayerStatus {
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

pub(super) fn get_limit(resource: Resource) -> io::Result<libc::rlimit> {
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
pub(super) fn disable_dumping() -> LayerStatus {
    const LAYER: &str = "dumpable";
    match set_dumpable(false) {
        Ok(()) => LayerStatus::active(LAYER, "PR_SET_DUMPABLE 0"),
        Err(e) => LayerStatus::inactive(LAYER, format!("prctl(PR_SET_DUMPABLE) failed: {e}")),
    }
}

pub(super) fn set_dumpable(dumpable: bool) -> io::Result<()> {
    let value = libc::c_ulong::from(dumpable);
    // SAFETY: PR_SET_DUMPABLE takes an integer argument only.
    if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, value, 0, 0, 0) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

pub(super) fn is_dumpable() -> io::Result<bool> {
    // SAFETY: PR_GET_DUMPABLE takes no pointers.
    match unsafe { libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0) } {
        -1 => Err(io::Error::last_os_error()),
        value => Ok(value != 0),
    }
}

pub(super) fn probe_rlimits() -> LayerStatus {
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

pub(super) fn describe_limit(value: libc::rlim_t) -> String {
    if value == libc::RLIM_INFINITY {
        "unlimited".to_owned()
    } else {
        value.to_string()
    }
}
