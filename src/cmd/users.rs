//! `sandkasse users`: accounts of the service. A token is printed once; only its hash is kept.

use super::DataArgs;
use anyhow::{Context, Result, bail};
use escape::terminal;
use store::{OrgKind, Role};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Add a user (and its organisation, if new) and print the user's bearer token once.
    Add {
        #[command(flatten)]
        data: DataArgs,
        /// Organisation name; created with the role as its kind if it does not exist.
        #[arg(long)]
        org: String,
        /// vendor, authority, advisor or admin.
        #[arg(long)]
        role: String,
        /// The person's name.
        #[arg(long)]
        name: String,
    },
    /// List users (never their tokens).
    List {
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
            Command::Add { data, org, role, name } => {
                let role = Role::parse(&role)
                    .map_err(|e| anyhow::anyhow!("--role: {e} (vendor, authority, advisor or admin)"))?;
                let (org, name) = (org.trim().to_owned(), name.trim().to_owned());
                if org.is_empty() || org.chars().count() > 200 || name.is_empty() || name.chars().count() > 200 {
                    bail!("--org and --name must be 1 to 200 characters");
                }
                let store = data.open().await?;
                let kind = OrgKind::parse(role.as_str()).expect("every role is an organisation kind");
                let existing = store.list_orgs().await?.into_iter().find(|o| o.name == org);
                let org = match existing {
                    Some(o) if o.kind != kind => bail!(
                        "organisation \"{}\" is a {} organisation; a {} cannot belong to it",
                        terminal(&o.name),
                        o.kind,
                        role
                    ),
                    Some(o) => o,
                    None => store.create_org(&org, kind).await?,
                };
                let (user, token) = store.create_user(&org.id, &name, role).await?;
                store
                    .append_audit(cli_entry(
                        "users add",
                        format!("user {} ({role}) in org {}", user.id, org.id),
                    ))
                    .await?;
                store.close().await;
                eprintln!(
                    "added {} ({}) to {} as user {}; the token, shown only now:",
                    terminal(&user.name),
                    role,
                    terminal(&org.name),
                    user.id
                );
                super::print(&format!("{}\n", token.expose()))
            }
            Command::List { data } => {
                let store = data.open().await?;
                let orgs = store.list_orgs().await?;
                let mut out = String::new();
                // Names are people's and organisations' own text, escaped so that a newline or an
                // escape sequence in one cannot add or rewrite lines of the list.
                for u in store.list_users().await? {
                    let org = orgs.iter().find(|o| o.id == u.org_id).map_or("?", |o| o.name.as_str());
                    out.push_str(&format!(
                        "{}  {:<9}  {:<30}  {}\n",
                        u.id,
                        u.role.as_str(),
                        terminal(&u.name),
                        terminal(org)
                    ));
                }
                store.close().await;
                super::print(&out)
            }
        }
    })
}

/// An audit entry for a change made from the command line, by whoever runs it on the host.
pub fn cli_entry(action: &str, object: String) -> store::NewEntry {
    let who = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    store::NewEntry {
        time: store::Timestamp::now().as_str().to_owned(),
        actor: format!("cli:{}", who.chars().take(64).collect::<String>()),
        org: String::new(),
        role: "operator".into(),
        action: action.into(),
        object,
        outcome: "ok".into(),
        request_id: store::RunId::generate().as_str().to_owned(),
        case_id: None,
    }
}
