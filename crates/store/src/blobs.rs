//! Content-addressed blobs: models, datasets and reports stored under their SHA-256.
//!
//! A blob is written to a temporary name in its final directory, fsynced, renamed into place and the directory
//! fsynced, so after a crash a blob is either absent or complete: readers never see a torn file under a real
//! name. Reads re-hash the bytes, so silent corruption on disk surfaces as an error naming the blob rather than a
//! wrong model being evaluated.
//!
//! A write killed before its rename (`kill -9`, power loss) leaves its temporary file behind;
//! [`BlobStore::open`] removes such leftovers (see [`STALE_TEMP`] for why only old ones).
//!
//! The API is blocking (`std::fs`); async callers should use `spawn_blocking`.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use sha2::{Digest as _, Sha256};

use crate::digest::{Digest, hex};

/// Why a blob operation failed.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The blob directory or a file in it failed.
    #[error("blob store {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the file system said.
        source: io::Error,
    },
    /// No blob has this digest.
    #[error("blob {0} not found")]
    NotFound(Digest),
    /// The file under a digest no longer hashes to it: it was changed on disk.
    #[error("blob {digest} is corrupt: its content hashes to {actual}")]
    Corrupt {
        /// The digest asked for.
        digest: Digest,
        /// What the bytes hash to.
        actual: Digest,
    },
    /// The source was longer than the caller's limit; nothing was stored.
    #[error("blob exceeds the size limit of {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: u64,
    },
    /// Reading the source (an upload) failed; nothing was stored.
    #[error("reading the blob's source failed after {read} bytes: {source}")]
    Source {
        /// Bytes read before the failure.
        read: u64,
        /// What the reader said.
        source: io::Error,
    },
}

type Result<T> = std::result::Result<T, BlobError>;

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> BlobError + '_ {
    move |source| BlobError::Io {
        path: path.to_owned(),
        source,
    }
}

/// A directory of blobs laid out as `dir/ab/<64 hex>`.
#[derive(Debug, Clone)]
pub struct BlobStore {
    dir: PathBuf,
    /// When temporaries were last swept (seconds since the epoch), so a long-running process
    /// also removes those of a write that died shortly before it started.
    swept: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

fn epoch_secs() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The prefix of a temporary file's name; no blob name starts with it.
const TEMP_PREFIX: &str = ".tmp-";

/// A temporary file untouched for this long belongs to a write that died. Several server
/// processes may share one blob directory, so a younger one may be another process's write in
/// progress (every write updates its time, and no write pauses anywhere near this long): only
/// older ones are removed.
pub const STALE_TEMP: Duration = Duration::from_secs(10 * 60);

impl BlobStore {
    /// Opens (creating if needed) the blob directory, and removes temporary files left by
    /// writes that died (older than [`STALE_TEMP`]).
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let store = Self {
            dir,
            swept: std::sync::Arc::new(std::sync::atomic::AtomicU64::new(epoch_secs())),
        };
        store.remove_stale_temps(STALE_TEMP)?;
        Ok(store)
    }

    /// Removes temporary files not modified for `older_than`; returns how many. A file that
    /// vanishes meanwhile (another process cleaning, or renaming it into place) is not an error.
    pub fn remove_stale_temps(&self, older_than: Duration) -> Result<usize> {
        let now = SystemTime::now();
        let mut removed = 0;
        for entry in fs::read_dir(&self.dir).map_err(io_err(&self.dir))? {
            let entry = entry.map_err(io_err(&self.dir))?;
            if !entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                continue;
            }
            let path = entry.path();
            let meta = match fs::symlink_metadata(&path) {
                Ok(m) => m,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_err(&path)(e)),
            };
            let age = meta
                .modified()
                .ok()
                .and_then(|m| now.duration_since(m).ok())
                .unwrap_or_default();
            if !meta.is_file() || age < older_than {
                continue;
            }
            match fs::remove_file(&path) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err(&path)(e)),
            }
        }
        Ok(removed)
    }

    /// Where the blob `digest` lives (whether or not it exists).
    pub fn path(&self, digest: &Digest) -> PathBuf {
        self.dir.join(&digest.as_str()[..2]).join(digest.as_str())
    }

    /// Whether the blob is stored, without reading it (so without checking its hash).
    pub fn exists(&self, digest: &Digest) -> bool {
        self.path(digest).is_file()
    }

    /// Stores `data`; storing bytes that are already present is a no-op.
    pub fn put(&self, data: &[u8]) -> Result<Digest> {
        self.put_reader(data, data.len() as u64)
    }

    /// Streams the file at `path` into the store, refusing more than `max_bytes`.
    pub fn put_file(&self, path: &Path, max_bytes: u64) -> Result<Digest> {
        let file = File::open(path).map_err(|source| BlobError::Source { read: 0, source })?;
        self.put_reader(file, max_bytes)
    }

    /// Streams `reader` into the store, refusing more than `max_bytes`.
    ///
    /// On any error (source failure, size limit, I/O) the temporary file is removed and nothing is visible under
    /// a blob name.
    pub fn put_reader(&self, mut reader: impl Read, max_bytes: u64) -> Result<Digest> {
        // The digest (and so the final directory) is only known at the end, so the temporary file lives in the
        // store's root, which is on the same file system: the rename is atomic.
        let tmp = TempFile::create(&self.dir)?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 64 * 1024];
        let mut written: u64 = 0;
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => return Err(BlobError::Source { read: written, source }),
            };
            written += n as u64;
            if written > max_bytes {
                return Err(BlobError::TooLarge { limit: max_bytes });
            }
            hasher.update(&buf[..n]);
            (&tmp.file).write_all(&buf[..n]).map_err(io_err(&tmp.path))?;
        }
        let digest = Digest::from_bytes(&hasher.finalize());
        let final_path = self.path(&digest);
        if final_path.is_file() {
            return Ok(digest); // idempotent: the temporary copy is dropped and removed
        }
        tmp.file.sync_all().map_err(io_err(&tmp.path))?;
        let shard = final_path.parent().unwrap_or(&self.dir).to_owned();
        fs::create_dir_all(&shard).map_err(io_err(&shard))?;
        tmp.persist(&final_path)?;
        sync_dir(&shard)?;
        sync_dir(&self.dir)?;
        self.sweep_now_and_then();
        Ok(digest)
    }

    /// Sweeps stale temporaries again once [`STALE_TEMP`] has passed since the last sweep.
    /// Best effort: the write that triggers it has already succeeded.
    fn sweep_now_and_then(&self) {
        use std::sync::atomic::Ordering;
        let (now, last) = (epoch_secs(), self.swept.load(Ordering::Relaxed));
        if now.saturating_sub(last) >= STALE_TEMP.as_secs()
            && self
                .swept
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let _ = self.remove_stale_temps(STALE_TEMP);
        }
    }

    /// Reads the blob and checks that its bytes still hash to its name.
    pub fn get(&self, digest: &Digest) -> Result<Vec<u8>> {
        let path = self.path(digest);
        let data = match fs::read(&path) {
            Ok(d) => d,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(BlobError::NotFound(digest.clone())),
            Err(e) => return Err(io_err(&path)(e)),
        };
        let actual = Digest::of(&data);
        if &actual != digest {
            return Err(BlobError::Corrupt {
                digest: digest.clone(),
                actual,
            });
        }
        Ok(data)
    }
}

/// A temporary file that is removed on drop unless persisted.
struct TempFile {
    path: PathBuf,
    file: File,
    persisted: bool,
}

impl TempFile {
    fn create(dir: &Path) -> Result<Self> {
        let mut rnd = [0u8; 12];
        getrandom::fill(&mut rnd).map_err(|e| io_err(dir)(io::Error::other(e.to_string())))?;
        let path = dir.join(format!("{TEMP_PREFIX}{}", hex(&rnd)));
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(io_err(&path))?;
        Ok(Self {
            path,
            file,
            persisted: false,
        })
    }

    fn persist(mut self, to: &Path) -> Result<()> {
        fs::rename(&self.path, to).map_err(io_err(to))?;
        self.persisted = true;
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.persisted {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Makes a rename durable: the directory entry itself must reach the disk.
fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_err(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn visible_files(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for entry in fs::read_dir(dir).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                out.extend(visible_files(&p));
            } else {
                out.push(p);
            }
        }
        out
    }

    #[test]
    fn round_trip_and_layout() {
        let tmp = tempfile::tempdir().unwrap();
        let store = BlobStore::open(tmp.path()).unwrap();
        let d = store.put(b"hello").unwrap();
        assert_eq!(d, Digest::of(b"hello"));
        assert_eq!(store.path(&d), tmp.path().join(&d.as_str()[..2]).join(d.as_str()));
        assert!(store.exists(&d));
        assert_eq!(store.get(&d).unwrap(), b"hello");
        let missing = Digest::of(b"nope");
        assert!(!store.exists(&missing));
        assert!(matches!(store.get(&missing), Err(BlobError::NotFound(x)) if x == missing));
    }

    #[test]
    fn idempotent_put() {
        let tmp = tempfile::tempdir().unwrap();
        let store = BlobStore::open(tmp.path()).unwrap();
        let a = store.put(b"same").unwrap();
        let b = store.put_reader(&b"same"[..], 100).unwrap();
        assert_eq!(a, b);
        assert_eq!(visible_files(tmp.path()), vec![store.path(&a)]);
    }

    /// A source that yields some bytes and then fails, as a dropped upload connection would.
    struct FailingReader {
        left: usize,
    }
    impl Read for FailingReader {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.left == 0 {
                return Err(io::Error::new(io::ErrorKind::ConnectionReset, "client went away"));
            }
            let n = buf.len().min(self.left);
            buf[..n].fill(7);
            self.left -= n;
            Ok(n)
        }
    }

    #[test]
    fn interrupted_write_leaves_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let store = BlobStore::open(tmp.path()).unwrap();
        let err = store.put_reader(FailingReader { left: 200_000 }, u64::MAX).unwrap_err();
        assert!(matches!(err, BlobError::Source { read: 200_000, .. }), "{err}");
        assert!(visible_files(tmp.path()).is_empty());
    }

    #[test]
    fn size_limit_enforced_and_nothing_left() {
        let tmp = tempfile::tempdir().unwrap();
        let store = BlobStore::open(tmp.path()).unwrap();
        let data = vec![1u8; 1001];
        assert!(matches!(
            store.put_reader(&data[..], 1000),
            Err(BlobError::TooLarge { limit: 1000 })
        ));
        assert!(visible_files(tmp.path()).is_empty());
        assert!(store.put_reader(&data[..1000], 1000).is_ok());
    }

    #[test]
    fn corruption_detected_and_named() {
        let tmp = tempfile::tempdir().unwrap();
        let store = BlobStore::open(tmp.path()).unwrap();
        let d = store.put(b"model bytes").unwrap();
        fs::write(store.path(&d), b"model bytez").unwrap();
        let err = store.get(&d).unwrap_err();
        assert!(matches!(&err, BlobError::Corrupt { digest, .. } if digest == &d));
        assert!(err.to_string().contains(d.as_str()));
    }

    /// A temporary file as a write killed before its rename leaves it, last written `age` ago.
    fn leftover(dir: &Path, name: &str, age: Duration) -> PathBuf {
        let path = dir.join(name);
        let f = File::create(&path).unwrap();
        f.set_modified(SystemTime::now() - age).unwrap();
        path
    }

    #[test]
    fn opening_removes_temporaries_of_dead_writes_but_not_young_ones() {
        let tmp = tempfile::tempdir().unwrap();
        let store = BlobStore::open(tmp.path()).unwrap();
        let kept = store.put(b"a blob").unwrap();
        let dead = leftover(
            tmp.path(),
            ".tmp-0123456789abcdef01234567",
            STALE_TEMP + Duration::from_secs(5),
        );
        // Possibly another process's write in progress.
        let young = leftover(tmp.path(), ".tmp-fedcba9876543210fedcba98", Duration::from_secs(5));
        // Not a temporary file: never touched, however old.
        let other = leftover(tmp.path(), "notes.txt", STALE_TEMP * 10);
        drop(store);
        let store = BlobStore::open(tmp.path()).unwrap();
        assert!(!dead.exists(), "the dead write's temporary file is still there");
        assert!(young.exists() && other.exists());
        assert_eq!(store.get(&kept).unwrap(), b"a blob");
        assert_eq!(store.remove_stale_temps(Duration::ZERO).unwrap(), 1);
        assert!(!young.exists() && other.exists());
    }

    #[test]
    fn put_file_streams() {
        let tmp = tempfile::tempdir().unwrap();
        let store = BlobStore::open(tmp.path().join("blobs")).unwrap();
        let src = tmp.path().join("model.onnx");
        fs::write(&src, vec![3u8; 300_000]).unwrap();
        let d = store.put_file(&src, 300_000).unwrap();
        assert_eq!(store.get(&d).unwrap().len(), 300_000);
        assert!(matches!(store.put_file(&src, 299_999), Err(BlobError::TooLarge { .. })));
    }
}
