//! `sandkasse evidence`: a case's evidence as one bundle (records, manifests, dataset specs, findings, the plan
//! and checklist versions, the exit report in JSON and Danish and English HTML, the case's audit entries with
//! inclusion proofs, a signed checkpoint), and its offline verification.

use super::DataArgs;
use anyhow::{Context, Result, bail};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Write one case's bundle (a tar file) with its exit report; signs a checkpoint of the audit log to prove
    /// its entries against.
    Export {
        #[command(flatten)]
        data: DataArgs,
        /// The case's id.
        #[arg(long)]
        case: String,
        /// Where to write the bundle.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Check a bundle with nothing but itself and the sandbox's public key; names the first file that fails.
    Verify {
        /// The bundle.
        bundle: PathBuf,
        /// The sandbox's public key (`name+keyid+key`, or a file holding it), obtained from the sandbox itself
        /// (`sandkasse audit key`, the API, the audit page). Required: the key a bundle carries would prove only
        /// that whoever made the bundle signed it.
        #[arg(long, value_name = "KEY|FILE")]
        key: String,
    },
}

pub fn run(args: Args) -> Result<()> {
    match args.command {
        Command::Export { data, case, out } => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            let case: store::CaseId = case.parse().with_context(|| format!("the case id {case:?}"))?;
            let bytes = runtime.block_on(server::evidence::export_case(
                &data.data_dir,
                data.database_url.as_deref(),
                &case,
            ))?;
            std::fs::write(&out, &bytes).with_context(|| format!("writing {}", out.display()))?;
            super::print(&format!(
                "evidence of case {case} written to {} ({} bytes)\n",
                escape::terminal(&out.display().to_string()),
                bytes.len()
            ))
        }
        Command::Verify { bundle, key } => {
            let len = std::fs::metadata(&bundle)
                .with_context(|| format!("reading {}", bundle.display()))?
                .len();
            if len > server::evidence::MAX_BUNDLE_BYTES {
                bail!("{} has {len} bytes, more than a bundle may have", bundle.display());
            }
            let bytes = std::fs::read(&bundle).with_context(|| format!("reading {}", bundle.display()))?;
            let verifier = super::audit::public_key(key)?;
            let v = server::evidence::verify(&bytes, &verifier).context("the evidence bundle does not verify")?;
            super::print(&format!(
                "evidence of case {} verified: {} files, {} runs, {} audit entries proven in a log of {}\n",
                v.case_id, v.files, v.runs, v.entries, v.checkpoint_size
            ))
        }
    }
}
