//! Dropping every capability; and its probe.

use super::*;

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
pub(super) const CAPABILITY_VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
pub(super) struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

impl CapData {
    fn is_empty(&self) -> bool {
        self.effective == 0 && self.permitted == 0 && self.inheritable == 0
    }
}

pub(super) fn capget_self() -> io::Result<[CapData; 2]> {
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

pub(super) fn capset_self(data: &[CapData; 2]) -> io::Result<()> {
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
pub(super) fn drop_bounding_set() -> io::Result<usize> {
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

pub(super) fn clear_ambient() -> io::Result<()> {
    let clear_all = libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong;
    // SAFETY: PR_CAP_AMBIENT takes integer arguments only.
    if unsafe { libc::prctl(libc::PR_CAP_AMBIENT, clear_all, 0, 0, 0) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

pub(super) fn probe_capabilities() -> LayerStatus {
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
