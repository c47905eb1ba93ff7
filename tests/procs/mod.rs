//! Processes as `/proc` shows them: which a process started, and which of those are workers.
//! Shared by the tests that must see workers end (with a run, a cancel, a budget, a shutdown).
#![allow(dead_code)]

/// The direct children of `parent`, from each process's `stat` (whose second field, the
/// command name, may hold spaces and parentheses: the fields are read after the last `)`).
pub fn children_of(parent: u32) -> Vec<u32> {
    let mut pids: Vec<u32> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| s.rsplit_once(')')?.1.split_whitespace().nth(1)?.parse::<u32>().ok())
                == Some(parent)
        })
        .collect();
    pids.sort_unstable();
    pids
}

/// The children of `parent` that run `sandkasse worker`.
pub fn workers_of(parent: u32) -> Vec<u32> {
    children_of(parent)
        .into_iter()
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            cmdline.split(|&b| b == 0).nth(1) == Some(b"worker")
        })
        .collect()
}
