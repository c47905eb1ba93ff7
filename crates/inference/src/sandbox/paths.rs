//! What a worker may read: the ONNX Runtime library file and the CPU-topology files, listed file by file.

use super::*;

pub(super) const CPU_DIR: &str = "/sys/devices/system/cpu";

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
pub(super) fn regular_files(dir: &Path) -> Vec<PathBuf> {
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
