//! Seccomp: the system calls a model never needs, refused on all threads; and its probe.

use super::*;

/// System calls a model never needs and that would let it reach the network, start a program,
/// inspect other processes, or attack the kernel. Denied with EPERM; everything else is allowed
/// (ONNX Runtime's needs vary by version and execution provider, so an allow-list would break).
pub(super) const DENIED_SYSCALLS: &[(&str, libc::c_long)] = &[
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
pub(super) const DENIED_ARCH_SYSCALLS: &[(&str, libc::c_long)] = &[
    ("fork", libc::SYS_fork),
    ("vfork", libc::SYS_vfork),
    ("iopl", libc::SYS_iopl),
    ("ioperm", libc::SYS_ioperm),
];
#[cfg(not(target_arch = "x86_64"))]
pub(super) const DENIED_ARCH_SYSCALLS: &[(&str, libc::c_long)] = &[];

/// Namespace flags refused for `clone` even with `CLONE_THREAD`. (`CLONE_NEWTIME` shares its bit
/// with the exit signal in `clone`'s flags and is only meaningful for `clone3`/`unshare`.)
pub(super) const CLONE_NAMESPACE_FLAGS: [libc::c_int; 7] = [
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
pub(super) fn seccomp_programs() -> Result<Vec<(&'static str, BpfProgram)>, String> {
    let arch = TargetArch::try_from(std::env::consts::ARCH).map_err(|e| e.to_string())?;
    let denied = deny_filter(arch).map_err(|e| e.to_string())?;
    let clone3 = clone3_filter(arch).map_err(|e| e.to_string())?;
    let mut programs = vec![("the EPERM filter", denied), ("the clone3 filter", clone3)];
    if cfg!(target_arch = "x86_64") {
        programs.push(("the x32 filter", x32_filter()));
    }
    Ok(programs)
}

pub(super) fn deny_filter(arch: TargetArch) -> Result<BpfProgram, seccompiler::BackendError> {
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
pub(super) fn clone_rules() -> Result<Vec<SeccompRule>, seccompiler::BackendError> {
    let mut rules = vec![arg0_rule(SeccompCmpOp::MaskedEq(flag_bits(libc::CLONE_THREAD)), 0)?];
    for flag in CLONE_NAMESPACE_FLAGS {
        rules.push(arg0_rule(SeccompCmpOp::MaskedEq(flag_bits(flag)), flag)?);
    }
    Ok(rules)
}

/// A rule on the low 32 bits of the first argument (`clone`'s flags and `prctl`'s option on
/// x86_64 and aarch64 alike).
pub(super) fn arg0_rule(op: SeccompCmpOp, value: libc::c_int) -> Result<SeccompRule, seccompiler::BackendError> {
    SeccompRule::new(vec![SeccompCondition::new(
        0,
        SeccompCmpArgLen::Dword,
        op,
        flag_bits(value),
    )?])
}

/// A flag or small constant as the filter's 64-bit operand (bit pattern, not sign-extended).
pub(super) fn flag_bits(value: libc::c_int) -> u64 {
    u64::from(value as u32)
}

pub(super) fn errno(value: libc::c_int) -> u32 {
    value as u32
}

pub(super) fn clone3_filter(arch: TargetArch) -> Result<BpfProgram, seccompiler::BackendError> {
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
pub(super) fn x32_filter() -> BpfProgram {
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

pub(super) fn probe_seccomp() -> LayerStatus {
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
