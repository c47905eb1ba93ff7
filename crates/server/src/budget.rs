//! One memory budget for every worker process this server starts (runs and live models).
//!
//! The unit is the worker's address-space limit (`RLIMIT_AS`, `--worker-memory-mb`), reserved
//! before a worker starts and released when it is gone. The kernel enforces that limit, and a
//! process's resident memory can never exceed its address space, so the sum of reservations
//! bounds the memory all workers can ever hold together: the budget never overcommits.
//! Measured resident memory would not: a worker using 50 MiB now may grow to its limit on its
//! next batch (ONNX Runtime keeps what it allocated), after the budget let others start.
//! The price is that the budget is conservative (an idle worker is charged its whole limit).
//!
//! Reservations are guards released on drop, so a worker start that fails, a run that ends in
//! any way and a model that is unloaded all give their memory back without bookkeeping.

use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// The budget; cheap to clone (all clones share it).
#[derive(Clone)]
pub struct MemoryBudget(Arc<Shared>);

struct Shared {
    total: u64,
    used: Mutex<u64>,
    /// Woken whenever memory is released.
    released: Notify,
}

/// Bytes held until dropped.
pub struct Reservation {
    budget: MemoryBudget,
    bytes: u64,
}

/// A reservation that did not fit.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "the server's memory budget is exhausted: {wanted_mib} MiB of worker memory needed, {free_mib} MiB of \
     {total_mib} MiB free"
)]
pub struct Short {
    pub wanted_mib: u64,
    pub free_mib: u64,
    pub total_mib: u64,
}

impl MemoryBudget {
    pub fn new(total: u64) -> Self {
        Self(Arc::new(Shared {
            total,
            used: Mutex::new(0),
            released: Notify::new(),
        }))
    }

    pub fn total(&self) -> u64 {
        self.0.total
    }

    /// Bytes reserved now.
    pub fn used(&self) -> u64 {
        self.0.used.lock().map_or(self.0.total, |u| *u)
    }

    /// Reserves `bytes` if they fit, at once.
    pub fn try_reserve(&self, bytes: u64) -> Result<Reservation, Short> {
        let mut used = self.0.used.lock().map_err(|_| self.short(bytes, 0))?;
        let free = self.0.total.saturating_sub(*used);
        if bytes > free {
            return Err(self.short(bytes, free));
        }
        *used += bytes;
        Ok(Reservation {
            budget: self.clone(),
            bytes,
        })
    }

    /// Whether `bytes` could ever fit (with nothing else reserved).
    pub fn could_fit(&self, bytes: u64) -> bool {
        bytes <= self.0.total
    }

    /// Completes when some memory is released (or at once if some was since the last call by
    /// anyone: a `Notify` permit).
    pub async fn released(&self) {
        self.0.released.notified().await;
    }

    fn short(&self, wanted: u64, free: u64) -> Short {
        Short {
            wanted_mib: wanted.div_ceil(1 << 20),
            free_mib: free >> 20,
            total_mib: self.0.total >> 20,
        }
    }
}

impl Reservation {
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if let Ok(mut used) = self.budget.0.used.lock() {
            *used = used.saturating_sub(self.bytes);
        }
        self.budget.0.released.notify_waiters();
        self.budget.0.released.notify_one();
    }
}

impl std::fmt::Debug for MemoryBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryBudget")
            .field("total", &self.total())
            .field("used", &self.used())
            .finish()
    }
}

/// The default budget: 75 % of the host's memory (`MemTotal` in `/proc/meminfo`), or the
/// `memory.max` of this process's cgroup (v2) when that is lower, since the kernel kills the
/// whole group at that limit whatever the host has. `None` where neither can be read.
pub fn default_total() -> Option<u64> {
    let host = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| mem_total(&t))
        .map(|b| b / 4 * 3);
    let cgroup = std::fs::read_to_string("/proc/self/cgroup")
        .ok()
        .and_then(|t| cgroup_path(&t))
        .and_then(|p| std::fs::read_to_string(format!("/sys/fs/cgroup{p}/memory.max")).ok())
        .and_then(|t| t.trim().parse::<u64>().ok());
    match (host, cgroup) {
        (Some(h), Some(c)) => Some(h.min(c)),
        (h, c) => h.or(c),
    }
}

/// `MemTotal` in bytes from `/proc/meminfo`'s text.
fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// The cgroup v2 path (`0::/path`) from `/proc/self/cgroup`'s text.
fn cgroup_path(text: &str) -> Option<String> {
    let p = text.lines().find_map(|l| l.strip_prefix("0::"))?;
    (!p.contains("..")).then(|| p.trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_fit_or_are_refused_and_drop_gives_back() {
        let b = MemoryBudget::new(1000);
        let a = b.try_reserve(600).unwrap();
        let e = b.try_reserve(600).err().unwrap();
        assert_eq!(e.total_mib, 0);
        assert_eq!(b.used(), 600);
        let c = b.try_reserve(400).unwrap();
        assert_eq!(b.used(), 1000);
        assert!(b.try_reserve(1).is_err());
        drop(a);
        assert_eq!(b.used(), 400);
        drop(c);
        assert_eq!(b.used(), 0);
        assert!(!b.could_fit(1001));
    }

    #[test]
    fn reads_meminfo_and_cgroup_paths() {
        assert_eq!(
            mem_total("MemTotal:       24576000 kB\nMemFree: 1 kB\n"),
            Some(24_576_000 * 1024)
        );
        assert_eq!(mem_total("nothing"), None);
        assert_eq!(
            cgroup_path("0::/user.slice/x.scope\n"),
            Some("/user.slice/x.scope".into())
        );
        assert_eq!(cgroup_path("0::/\n"), Some(String::new()));
        assert_eq!(cgroup_path("1:cpu:/a\n"), None);
    }
}
