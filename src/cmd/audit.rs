//! `sandkasse audit verify`: checks the whole audit chain in the database.

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
        let result = store.verify_audit().await;
        let head = store.audit_head().await.ok().flatten();
        store.close().await;
        let n = result.context("the audit chain does not verify")?;
        match head {
            Some(h) => super::print(&format!(
                "audit chain intact: {n} entries; head {} {}\n",
                h.seq,
                escape::terminal(&h.hash)
            )),
            None => super::print("audit chain intact: no entries yet\n"),
        }
    })
}
