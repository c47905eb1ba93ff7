//! The sandbox's real effect, observed in child processes because lock-down is irreversible.
//!
//! A lock-down test re-executes this test binary for itself only (`--exact <name>`), marked by
//! `SANDBOX_CHILD=<name>`. libtest runs every test on a thread of its own, so the child forks once
//! more: the grandchild has a single thread, like the real worker at startup, applies the sandbox,
//! tries what a hostile model would, and prints one JSON line that the parent test checks.

use inference::{LayerStatus, SandboxConfig as Config};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::IntoRawFd;
use std::os::unix::net::UnixStream;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const CHILD_ENV: &str = "SANDBOX_CHILD";
const ALLOWED_DIR_ENV: &str = "SANDBOX_ALLOWED_DIR";
const OUTSIDE_FILE_ENV: &str = "SANDBOX_OUTSIDE_FILE";
const REPORT_MARKER: &str = "SANDBOX_REPORT ";
const INSIDE_TEXT: &str = "readable inside the sandbox";
/// `nobody`, for the non-root test.
const UNPRIVILEGED_ID: u32 = 65534;

/// The outcome of one attempt: success, or the errno it failed with.
#[derive(Debug, Serialize, Deserialize)]
struct Attempt {
    ok: bool,
    errno: Option<i32>,
    message: String,
}

impl Attempt {
    fn of<T: std::fmt::Debug>(result: io::Result<T>) -> Self {
        match result {
            Ok(value) => Self {
                ok: true,
                errno: None,
                message: format!("{value:?}"),
            },
            Err(e) => Self {
                ok: false,
                errno: e.raw_os_error(),
                message: e.to_string(),
            },
        }
    }

    /// From a raw libc return value: `-1` means failure with errno.
    fn of_rc(rc: i64) -> Self {
        Self::of(if rc == -1 {
            Err(io::Error::last_os_error())
        } else {
            Ok(rc)
        })
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct LockdownReport {
    early: Vec<LayerStatus>,
    late: Vec<LayerStatus>,
    inherited_fd: Attempt,
    environment_left: usize,
    dumpable: i64,
    /// (soft, hard) by resource name.
    limits: BTreeMap<String, (u64, u64)>,
    tcp_after_early: Attempt,
    tcp_after_late: Attempt,
    unix_socketpair: Attempt,
    read_inside: Attempt,
    list_inside: Attempt,
    read_outside: Attempt,
    read_etc_passwd: Attempt,
    create_inside: Attempt,
    create_outside: Attempt,
    spawn_process: Attempt,
    fork: Attempt,
    clone3: Attempt,
    thread: Attempt,
    reserve_64_mib: Attempt,
    reserve_2_gib: Attempt,
    raise_priority: Attempt,
}

#[derive(Debug, Serialize, Deserialize)]
struct NonRootReport {
    early: Vec<LayerStatus>,
    uid_inside: u32,
    dumpable: i64,
    tcp: Attempt,
}

#[test]
fn lockdown_denies_network_files_processes_and_memory() {
    const NAME: &str = "lockdown_denies_network_files_processes_and_memory";
    if is_child(NAME) {
        let allowed = env_path(ALLOWED_DIR_ENV);
        let outside = env_path(OUTSIDE_FILE_ENV);
        in_single_threaded_grandchild(|| lockdown_and_probe(&allowed, &outside));
        return;
    }
    let dir = TempDir::new("lockdown");
    let allowed = dir.0.join("allowed");
    let outside = dir.0.join("outside.txt");
    std::fs::create_dir(&allowed).expect("create the allowed directory");
    std::fs::write(allowed.join("inside.txt"), INSIDE_TEXT).expect("write the inside file");
    std::fs::write(&outside, "secret").expect("write the outside file");

    let json = run_child(NAME, &[(ALLOWED_DIR_ENV, &allowed), (OUTSIDE_FILE_ENV, &outside)]);
    let report: LockdownReport = serde_json::from_str(&json).expect("parse the child's report");
    println!("{report:#?}");

    assert_all_active(&report.early);
    assert_all_active(&report.late);
    assert_layers(
        &report.early,
        &[
            "close_fds",
            "environment",
            "rlimit_as",
            "rlimit_cpu",
            "rlimit_nofile",
            "rlimit_core",
            "rlimit_fsize",
            "dumpable",
            "network_namespace",
        ],
    );
    assert_layers(&report.late, &["landlock", "capabilities", "seccomp"]);
    let landlock = &report.late[0].detail;
    assert!(
        landlock.starts_with("fully enforced") && !landlock.contains("WARNING"),
        "{landlock}"
    );

    // Early layers.
    assert_denied("inherited descriptor", &report.inherited_fd, libc::EBADF);
    assert_eq!(report.environment_left, 0, "environment variables left");
    assert_eq!(report.dumpable, 0, "dumpable");
    let expected_limits = [
        ("AS", (1 << 30, 1 << 30)),
        ("CPU", (60, 61)),
        ("NOFILE", (64, 64)),
        ("CORE", (0, 0)),
        ("FSIZE", (0, 0)),
    ];
    for (name, limit) in expected_limits {
        assert_eq!(report.limits.get(name), Some(&limit), "RLIMIT_{name}");
    }
    // The network namespace alone: its loopback is down, so even 127.0.0.1 is unreachable.
    assert_denied("TCP connect after early()", &report.tcp_after_early, libc::ENETUNREACH);

    // Seccomp: no sockets, no new processes, clone3 sent back to clone.
    assert_denied("TCP connect after late()", &report.tcp_after_late, libc::EPERM);
    assert_denied("socketpair", &report.unix_socketpair, libc::EPERM);
    assert_denied("Command::new(\"/bin/true\")", &report.spawn_process, libc::EPERM);
    assert_denied("fork", &report.fork, libc::EPERM);
    assert_denied("clone3", &report.clone3, libc::ENOSYS);
    assert!(report.thread.ok, "threads must stay allowed: {:?}", report.thread);

    // Landlock: read the allowed directory only, write nowhere.
    assert!(
        report.read_inside.ok && report.read_inside.message.contains(INSIDE_TEXT),
        "{:?}",
        report.read_inside
    );
    assert!(
        report.list_inside.ok,
        "list the allowed directory: {:?}",
        report.list_inside
    );
    assert_denied("read outside the allowance", &report.read_outside, libc::EACCES);
    assert_denied("read /etc/passwd", &report.read_etc_passwd, libc::EACCES);
    assert_denied(
        "create inside the (read-only) allowance",
        &report.create_inside,
        libc::EACCES,
    );
    assert_denied("create outside the allowance", &report.create_outside, libc::EACCES);

    // RLIMIT_AS: 1 GiB bounds allocations, small ones still work.
    assert!(report.reserve_64_mib.ok, "{:?}", report.reserve_64_mib);
    assert!(
        !report.reserve_2_gib.ok,
        "2 GiB beyond a 1 GiB address space: {:?}",
        report.reserve_2_gib
    );

    // Capabilities: root without CAP_SYS_NICE may not raise its priority.
    assert_denied("raise priority", &report.raise_priority, libc::EACCES);
}

#[test]
fn non_root_worker_gets_network_namespace_through_user_namespace() {
    const NAME: &str = "non_root_worker_gets_network_namespace_through_user_namespace";
    if is_child(NAME) {
        in_single_threaded_grandchild(become_nobody_and_lock_down);
        return;
    }
    let json = run_child(NAME, &[]);
    let report: NonRootReport = serde_json::from_str(&json).expect("parse the child's report");
    println!("{report:#?}");

    assert_all_active(&report.early);
    let netns = report
        .early
        .iter()
        .find(|layer| layer.layer == "network_namespace")
        .expect("network layer");
    let expected = format!("new user and network namespace (loopback down); uid {UNPRIVILEGED_ID} and gid");
    assert!(netns.detail.starts_with(&expected), "{netns:?}");
    assert_eq!(report.uid_inside, 0, "mapped to root inside the user namespace");
    assert_eq!(report.dumpable, 0, "dumpable restored to 0 after writing the id maps");
    assert_denied("TCP connect", &report.tcp, libc::ENETUNREACH);
}

#[test]
fn probe_reports_every_layer_without_restricting_the_caller() {
    let seccomp_before = seccomp_mode();
    let layers = inference::probe_isolation();
    println!("{layers:#?}");

    assert_layers(
        &layers,
        &[
            "close_fds",
            "rlimits",
            "network_namespace",
            "landlock",
            "capabilities",
            "seccomp",
        ],
    );
    assert_all_active(&layers);
    assert_eq!(seccomp_mode(), seccomp_before, "probe must not install a filter");

    let listener = TcpListener::bind("127.0.0.1:0").expect("still allowed to listen");
    let address = listener.local_addr().expect("listener address");
    TcpStream::connect(address).expect("still allowed to connect on loopback");
    let status = Command::new("/bin/true")
        .status()
        .expect("still allowed to start programs");
    assert!(status.success());
    std::fs::read("/etc/passwd").expect("still allowed to read any file");
}

#[test]
fn the_worker_may_read_the_library_file_and_cpu_topology_files_only() {
    let library = Path::new("/opt/lib/libonnxruntime.so.1.31.1");
    let paths = inference::worker_read_paths(library);
    assert_eq!(paths[0], library, "the library file itself, not its directory");
    assert!(!paths.iter().any(|p| p == Path::new("/opt/lib")));
    let cpu = Path::new("/sys/devices/system/cpu");
    for path in &paths[1..] {
        assert!(path.starts_with(cpu), "{}", path.display());
        // Files only: a rule on a directory would open everything beneath it.
        assert!(!path.is_dir(), "{} is a directory", path.display());
        let relative = path.strip_prefix(cpu).unwrap().to_str().unwrap();
        let topology = ["possible", "present", "online"].contains(&relative)
            || relative.contains("/topology/")
            || relative.contains("/cache/index");
        assert!(topology, "{relative} is not a CPU-topology file");
    }
    for expected in ["possible", "cpu0/topology/core_id"] {
        assert!(paths.contains(&cpu.join(expected)), "{expected} missing: {paths:?}");
    }
    assert!(!paths.contains(&cpu.join("kernel_max")));
    assert!(!paths.iter().any(|p| p.starts_with("/proc")), "{paths:?}");
}

// ---------------------------------------------------------------------------------------------
// Grandchild side

fn lockdown_and_probe(allowed: &Path, outside: &Path) -> String {
    let cfg = Config {
        address_space_bytes: 1 << 30,
        cpu_seconds: 60,
        open_files: 64,
    };
    // Opened before `early`, which must close it.
    let inherited = File::open(allowed.join("inside.txt"))
        .expect("open a descriptor to inherit")
        .into_raw_fd();
    let early = inference::isolate_before_runtime(&cfg);
    // SAFETY: F_GETFD only reads descriptor flags.
    let inherited_fd = Attempt::of_rc(i64::from(unsafe { libc::fcntl(inherited, libc::F_GETFD) }));
    let environment_left = std::env::vars_os().count();
    let dumpable = dumpable();
    let limits = current_limits();
    let tcp_after_early = tcp_connect();

    let late = inference::isolate_after_runtime(&[allowed.to_path_buf()]);
    let report = LockdownReport {
        early,
        late,
        inherited_fd,
        environment_left,
        dumpable,
        limits,
        tcp_after_early,
        tcp_after_late: tcp_connect(),
        unix_socketpair: Attempt::of(UnixStream::pair()),
        read_inside: Attempt::of(std::fs::read_to_string(allowed.join("inside.txt"))),
        list_inside: Attempt::of(std::fs::read_dir(allowed).map(|entries| entries.count())),
        read_outside: Attempt::of(read_file(outside)),
        read_etc_passwd: Attempt::of(read_file(Path::new("/etc/passwd"))),
        create_inside: Attempt::of(File::create(allowed.join("new.txt"))),
        create_outside: Attempt::of(File::create(outside.with_file_name("new.txt"))),
        spawn_process: Attempt::of(Command::new("/bin/true").status()),
        fork: try_fork(),
        clone3: try_clone3(),
        thread: Attempt::of(std::thread::Builder::new().spawn(|| 42).and_then(join)),
        reserve_64_mib: try_reserve(64 << 20),
        reserve_2_gib: try_reserve(2 << 30),
        raise_priority: raise_priority(),
    };
    serde_json::to_string(&report).expect("serialise the report")
}

fn become_nobody_and_lock_down() -> String {
    // SAFETY: plain credential syscalls; no memory is passed (setgroups with an empty list).
    let dropped = unsafe {
        libc::setgroups(0, std::ptr::null()) == 0
            && libc::setresgid(UNPRIVILEGED_ID, UNPRIVILEGED_ID, UNPRIVILEGED_ID) == 0
            && libc::setresuid(UNPRIVILEGED_ID, UNPRIVILEGED_ID, UNPRIVILEGED_ID) == 0
    };
    assert!(dropped, "become nobody: {}", io::Error::last_os_error());
    let early = inference::isolate_before_runtime(&Config::default());
    // SAFETY: getuid cannot fail.
    let uid_inside = unsafe { libc::getuid() };
    let report = NonRootReport {
        early,
        uid_inside,
        dumpable: dumpable(),
        tcp: tcp_connect(),
    };
    serde_json::to_string(&report).expect("serialise the report")
}

fn tcp_connect() -> Attempt {
    let discard = SocketAddr::from(([127, 0, 0, 1], 9));
    Attempt::of(TcpStream::connect_timeout(&discard, Duration::from_secs(2)))
}

fn read_file(path: &Path) -> io::Result<String> {
    let mut text = String::new();
    File::open(path)?.read_to_string(&mut text)?;
    Ok(text)
}

fn join(handle: std::thread::JoinHandle<i32>) -> io::Result<i32> {
    handle.join().map_err(|_| io::Error::other("the thread panicked"))
}

fn try_fork() -> Attempt {
    // SAFETY: a child, should fork wrongly succeed, exits at once with async-signal-safe _exit.
    match unsafe { libc::fork() } {
        0 => unsafe { libc::_exit(0) },
        -1 => Attempt::of_rc(-1),
        child => {
            wait_for(child);
            Attempt::of_rc(i64::from(child))
        }
    }
}

fn try_clone3() -> Attempt {
    // SAFETY: without the filter a NULL, zero-sized argument fails with EINVAL; nothing is created.
    let rc = unsafe { libc::syscall(libc::SYS_clone3, std::ptr::null::<libc::c_void>(), 0usize) };
    Attempt::of_rc(rc)
}

fn try_reserve(bytes: usize) -> Attempt {
    let mut buffer = Vec::<u8>::new();
    match buffer.try_reserve(bytes) {
        Ok(()) => Attempt {
            ok: true,
            errno: None,
            message: format!("reserved {bytes} bytes"),
        },
        Err(e) => Attempt {
            ok: false,
            errno: None,
            message: e.to_string(),
        },
    }
}

fn raise_priority() -> Attempt {
    // SAFETY: setpriority takes integers only.
    Attempt::of_rc(i64::from(unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, -5) }))
}

fn dumpable() -> i64 {
    // SAFETY: PR_GET_DUMPABLE takes no pointers.
    i64::from(unsafe { libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0) })
}

fn seccomp_mode() -> i64 {
    // SAFETY: PR_GET_SECCOMP takes no pointers.
    i64::from(unsafe { libc::prctl(libc::PR_GET_SECCOMP, 0, 0, 0, 0) })
}

fn current_limits() -> BTreeMap<String, (u64, u64)> {
    let resources = [
        ("AS", libc::RLIMIT_AS),
        ("CPU", libc::RLIMIT_CPU),
        ("NOFILE", libc::RLIMIT_NOFILE),
        ("CORE", libc::RLIMIT_CORE),
        ("FSIZE", libc::RLIMIT_FSIZE),
    ];
    let mut limits = BTreeMap::new();
    for (name, resource) in resources {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: `limit` is a valid, writable rlimit.
        if unsafe { libc::getrlimit(resource, &mut limit) } == 0 {
            limits.insert(name.to_owned(), (limit.rlim_cur, limit.rlim_max));
        }
    }
    limits
}

// ---------------------------------------------------------------------------------------------
// Process plumbing

fn is_child(name: &str) -> bool {
    std::env::var_os(CHILD_ENV).is_some_and(|value| value == name)
}

fn env_path(name: &str) -> PathBuf {
    PathBuf::from(std::env::var_os(name).unwrap_or_else(|| panic!("{name} is not set")))
}

/// Runs `work` in a forked, single-threaded grandchild, which prints its result as the report
/// line; panics unless the grandchild exits cleanly.
fn in_single_threaded_grandchild(work: impl FnOnce() -> String) {
    // SAFETY: the only other thread is libtest's main thread, parked until this test ends and
    // holding no lock; glibc keeps malloc usable in a forked child. The grandchild writes its line
    // with write(2), not through std's stdout lock, and leaves with _exit.
    match unsafe { libc::fork() } {
        -1 => panic!("fork failed: {}", io::Error::last_os_error()),
        0 => {
            let code = match std::panic::catch_unwind(AssertUnwindSafe(work)) {
                Ok(report) => write_stdout(&format!("{REPORT_MARKER}{report}\n")),
                Err(_) => 101,
            };
            // SAFETY: ends the grandchild without unwinding into libtest's copied state.
            unsafe { libc::_exit(code) }
        }
        grandchild => {
            let status = wait_for(grandchild);
            assert!(
                libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
                "grandchild failed, wait status {status:#x}"
            );
        }
    }
}

fn write_stdout(line: &str) -> i32 {
    let mut rest = line.as_bytes();
    while !rest.is_empty() {
        // SAFETY: `rest` is a valid buffer of `rest.len()` bytes.
        let written = unsafe { libc::write(1, rest.as_ptr().cast(), rest.len()) };
        match usize::try_from(written) {
            Ok(n) if n > 0 => rest = &rest[n..],
            _ if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted => {}
            _ => return 102,
        }
    }
    0
}

fn wait_for(pid: libc::pid_t) -> i32 {
    let mut status = 0;
    // SAFETY: `status` is a valid, writable int.
    while unsafe { libc::waitpid(pid, &mut status, 0) } != pid {
        let e = io::Error::last_os_error();
        assert_eq!(e.kind(), io::ErrorKind::Interrupted, "waitpid failed: {e}");
    }
    status
}

/// Re-executes this test binary for the test `name` only and returns its report line.
fn run_child(name: &str, envs: &[(&str, &Path)]) -> String {
    let exe = std::env::current_exe().expect("path of the test binary");
    let output = Command::new(exe)
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, name)
        .envs(
            envs.iter()
                .map(|(key, path)| (OsString::from(key), path.as_os_str().to_owned())),
        )
        .output()
        .expect("run the child");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "child failed ({})\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    // libtest has already printed "test <name> ... " without a newline when the report arrives.
    let report = stdout
        .lines()
        .find_map(|line| line.split_once(REPORT_MARKER).map(|(_, report)| report));
    report
        .unwrap_or_else(|| panic!("no report from the child\nstdout:\n{stdout}\nstderr:\n{stderr}"))
        .to_owned()
}

fn assert_all_active(layers: &[LayerStatus]) {
    for layer in layers {
        assert!(
            layer.active,
            "layer {} is not active on this machine: {}",
            layer.layer, layer.detail
        );
    }
}

fn assert_layers(layers: &[LayerStatus], expected: &[&str]) {
    let names: Vec<_> = layers.iter().map(|layer| layer.layer.as_str()).collect();
    assert_eq!(names, expected);
}

fn assert_denied(what: &str, attempt: &Attempt, errno: i32) {
    assert!(
        !attempt.ok && attempt.errno == Some(errno),
        "{what}: expected failure with {}, got {attempt:?}",
        io::Error::from_raw_os_error(errno)
    );
}

/// A scratch directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let path = std::env::temp_dir().join(format!("sandkasse-sandbox-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create a scratch directory");
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
