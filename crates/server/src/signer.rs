//! The sandbox's signer of audit checkpoints: its key, and its own record of the last checkpoint it signed,
//! kept in the data directory beside the key and outside the database.
//!
//! Before signing, the log must extend that record as well as every checkpoint of this key the database holds
//! (see [`store::Store::take_checkpoint`]). Someone who rewrites the database (cuts the log's tail and
//! continues it, or deletes the checkpoint rows too) therefore cannot get the sandbox to sign the rewritten log:
//! the file still pins what was signed last.

use std::path::{Path, PathBuf};
use store::{AuditKey, Checkpoint, SignedCheckpoint, Store, StoreError, VerifierKey};

/// The file of the last checkpoint signed, in the data directory.
pub const LAST_CHECKPOINT_FILE: &str = "audit-last-checkpoint.txt";

pub struct Signer {
    key: AuditKey,
    last: PathBuf,
    /// One signature at a time per process, so the record only moves forward.
    lock: tokio::sync::Mutex<()>,
}

impl Signer {
    /// The data directory's key (created at first start) and its record.
    pub fn open(data_dir: &Path) -> Result<Self, crate::ServeError> {
        Ok(Self {
            key: crate::audit_key(data_dir)?,
            last: data_dir.join(LAST_CHECKPOINT_FILE),
            lock: tokio::sync::Mutex::new(()),
        })
    }

    pub fn key(&self) -> &AuditKey {
        &self.key
    }

    pub fn verifier(&self) -> VerifierKey {
        self.key.verifier()
    }

    /// The last checkpoint this signer signed, if any; a record that does not open with the key is refused.
    pub fn last(&self) -> Result<Option<Checkpoint>, StoreError> {
        match std::fs::read_to_string(&self.last) {
            Ok(text) => self
                .key
                .verifier()
                .open(&text)
                .map(Some)
                .map_err(|e| StoreError::Corrupt {
                    what: "the last checkpoint's record",
                    detail: format!("{}: {e}", self.last.display()),
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::Corrupt {
                what: "the last checkpoint's record",
                detail: format!("{}: {e}", self.last.display()),
            }),
        }
    }

    /// Signs the log's tree head if it extends everything signed before (see the module's doc), stores it,
    /// and records it as the last one.
    pub async fn checkpoint(&self, store: &Store) -> Result<SignedCheckpoint, StoreError> {
        let _one = self.lock.lock().await;
        let pins: Vec<Checkpoint> = self.last()?.into_iter().collect();
        let signed = store.take_checkpoint(&self.key, &pins).await?;
        let tmp = self.last.with_extension("tmp");
        std::fs::write(&tmp, &signed.text)
            .and_then(|()| std::fs::rename(&tmp, &self.last))
            .map_err(|e| StoreError::Corrupt {
                what: "the last checkpoint's record",
                detail: format!("writing {}: {e}", self.last.display()),
            })?;
        Ok(signed)
    }
}
