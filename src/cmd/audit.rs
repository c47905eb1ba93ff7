//! `sandkasse audit verify`: checks the whole audit chain in the database, reading it in pages
//! so its memory does not grow with the chain.

use super::DataArgs;
use anyhow::{Context, Result};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Verify every entry's hash and link; exits non-zero naming the first break.
    Verify {
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
        let Command::Verify { data } = args.command;
        let store = data.open().await?;
        let result = store.check_audit().await;
        store.close().await;
        // The head is the last entry checked, not one appended since.
        let checked = result.context("the audit chain does not verify")?;
        match checked.head {
            Some((seq, hash)) => super::print(&format!(
                "audit chain intact: {} entries; head {seq} {}\n",
                checked.entries,
                escape::terminal(&hash)
            )),
            None => super::print("audit chain intact: no entries yet\n"),
        }
    })
}
