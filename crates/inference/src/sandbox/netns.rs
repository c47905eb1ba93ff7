//! A new network namespace, holding only a loopback interface that is down; and its probe (in a forked child).

use super::*;

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

pub(super) fn unshare(flags: libc::c_int) -> io::Result<()> {
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
/// [`super::set_resource_limits_except`] made non-dumpable) could not open its own map files. Dumpability is
/// restored for the few writes and reset afterwards; nothing untrusted runs in between.
pub(super) fn write_id_maps(uid: libc::uid_t, gid: libc::gid_t) -> io::Result<()> {
    let was_dumpable = is_dumpable()?;
    set_dumpable(true)?;
    let written = std::fs::write("/proc/self/setgroups", "deny")
        .and_then(|()| std::fs::write("/proc/self/uid_map", format!("0 {uid} 1\n")))
        .and_then(|()| std::fs::write("/proc/self/gid_map", format!("0 {gid} 1\n")));
    let restored = set_dumpable(was_dumpable);
    written.and(restored)
}

/// Exit codes of the probe child.
pub(super) const NETNS_DIRECT: libc::c_int = 0;

pub(super) const NETNS_WITH_USERNS: libc::c_int = 1;

pub(super) const NETNS_ERRNO_BASE: libc::c_int = 100;

pub(super) fn probe_network_namespace() -> LayerStatus {
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
pub(super) fn try_network_namespace() -> libc::c_int {
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
pub(super) fn wait_for_exit(child: libc::pid_t) -> io::Result<libc::c_int> {
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
