//! Descriptors and environment: close what the parent leaked, clear the environment; and their probe.

use super::*;

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

pub(super) fn close_range_from(first: u32) -> io::Result<()> {
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
pub(super) fn open_fds() -> io::Result<Vec<libc::c_int>> {
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

pub(super) fn close_listed_fds() -> io::Result<usize> {
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
pub(super) fn other_threads() -> io::Result<usize> {
    Ok(std::fs::read_dir("/proc/self/task")?.count().saturating_sub(1))
}

/// A warning for layers that act on the calling thread only, empty when there is no other thread
/// (or the count cannot be read, e.g. after Landlock hid `/proc`).
pub(super) fn thread_warning() -> String {
    match other_threads() {
        Ok(n) if n > 0 => format!("; WARNING: {n} other threads are not covered"),
        _ => String::new(),
    }
}

pub(super) fn probe_close_range() -> LayerStatus {
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
