//! `sandkasse audit`: verify the audit log (its chain, and its Merkle tree against signed checkpoints), sign a
//! checkpoint, and print the public key that checks them. The log is read in pages, so memory does not grow
//! with it.

use super::DataArgs;
use anyhow::{Context, Result, bail};
use std::path::PathBuf;
use store::{Checkpoint, VerifierKey};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Verify every entry's hash and link, and that the log extends every checkpoint given and every one the
    /// database holds; exits non-zero naming the first break.
    Verify {
        #[command(flatten)]
        data: DataArgs,
        /// A signed checkpoint kept outside the sandbox (from `audit checkpoint --out`, the API or the pages);
        /// repeat for several. This is what finds a log cut back, continued with forged entries, or restored
        /// from an older copy of the database.
        #[arg(long, value_name = "FILE")]
        checkpoint: Vec<PathBuf>,
        /// The public key the checkpoints must be signed with (`name+keyid+key`, or a file holding it), as
        /// obtained from the sandbox when it was trusted. Without it, the data directory's own key is used,
        /// which someone who can replace the database may have replaced too.
        #[arg(long, value_name = "KEY|FILE")]
        key: Option<String>,
    },
    /// Verify the log, sign its tree head with the sandbox's key and store the checkpoint; write it to FILE
    /// (or print it) to keep outside the sandbox.
    Checkpoint {
        #[command(flatten)]
        data: DataArgs,
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Print the public key that checks the checkpoints (created with the signing key if there is none yet).
    Key {
        #[command(flatten)]
        data: DataArgs,
    },
}

pub fn run(args: Args) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        match args.command {
            Command::Verify { data, checkpoint, key } => verify(data, checkpoint, key).await,
            Command::Checkpoint { data, out } => {
                let signer = server::signer::Signer::open(&data.data_dir)?;
                let store = data.open().await?;
                let signed = signer.checkpoint(&store).await;
                store.close().await;
                let signed = signed.context("the audit log does not verify, so no checkpoint was signed")?;
                match out {
                    Some(path) => {
                        std::fs::write(&path, &signed.text)
                            .with_context(|| format!("writing the checkpoint to {}", path.display()))?;
                        super::print(&format!(
                            "checkpoint of {} entries written to {}\n",
                            signed.checkpoint.size,
                            escape::terminal(&path.display().to_string())
                        ))
                    }
                    None => super::print(&escape::terminal(&signed.text)),
                }
            }
            Command::Key { data } => {
                let key = server::audit_key(&data.data_dir)?;
                super::print(&format!("{}\n", key.verifier()))
            }
        }
    })
}

/// The verifier key from `--key` (a key, or a file holding one), else the data directory's own.
fn verifier(data: &DataArgs, key: Option<String>) -> Result<VerifierKey> {
    let Some(key) = key else {
        let path = data.data_dir.join(server::AUDIT_KEY_FILE);
        if !path.exists() {
            bail!(
                "no --key given and no signing key in {}: give the public key the checkpoints were signed with",
                path.display()
            );
        }
        return Ok(server::audit_key(&data.data_dir)?.verifier());
    };
    public_key(key)
}

/// A verifier key given on the command line: the key itself (`name+keyid+key`), or a file holding it (read only
/// up to the size a key can have).
pub(super) fn public_key(arg: String) -> Result<VerifierKey> {
    if arg.contains('+') {
        return Ok(arg.parse()?);
    }
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut std::io::Read::take(
            std::fs::File::open(&arg).with_context(|| format!("reading the public key from {arg}"))?,
            4096,
        ),
        &mut text,
    )
    .with_context(|| format!("reading the public key from {arg}"))?;
    Ok(text.parse()?)
}

async fn verify(data: DataArgs, files: Vec<PathBuf>, key: Option<String>) -> Result<()> {
    let own_key = key.is_none();
    let verifier = verifier(&data, key)?;
    let mut pins: Vec<Checkpoint> = Vec::new();
    if own_key {
        // With the data directory's key, its record of the last checkpoint signed counts as one kept outside.
        pins.extend(server::signer::Signer::open(&data.data_dir)?.last()?);
    }
    for f in &files {
        let text = read_bounded(f)?;
        pins.push(
            verifier
                .open(&text)
                .with_context(|| format!("the checkpoint in {}", f.display()))?,
        );
    }
    let store = data.open().await?;
    let result = async {
        let outside = pins.len();
        // Rows of another key (another host's) are skipped; a row that claims this key and does not verify was
        // written by someone else.
        let (stored, _foreign) = store
            .checkpoints_of(&verifier, 100)
            .await
            .context("a stored checkpoint claims this key and does not verify")?;
        let stored_count = stored.len();
        pins.extend(stored);
        let v = store
            .check_audit_against(&pins)
            .await
            .context("the audit log does not verify")?;
        anyhow::Ok((v, outside, stored_count))
    }
    .await;
    store.close().await;
    let (checked, outside, stored) = result?;
    let mut out = match checked.head {
        Some((seq, hash)) => format!(
            "audit chain intact: {} entries; head {seq} {}\n",
            checked.entries,
            escape::terminal(&hash)
        ),
        None => "audit chain intact: no entries yet\n".to_owned(),
    };
    out.push_str(&format!(
        "merkle root {}; extends {outside} checkpoint(s) given and {stored} stored\n",
        store::merkle::to_hex(&checked.root)
    ));
    super::print(&out)
}

/// A checkpoint file, refused past the size a checkpoint can have.
fn read_bounded(path: &std::path::Path) -> Result<String> {
    let len = std::fs::metadata(path)
        .with_context(|| format!("reading {}", path.display()))?
        .len();
    if len > store::MAX_NOTE_BYTES as u64 {
        bail!(
            "{} has {len} bytes; a checkpoint has at most {}",
            path.display(),
            store::MAX_NOTE_BYTES
        );
    }
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}
