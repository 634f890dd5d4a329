//! `mailerd queue list|show`: read the queue of a running or stopped server.
//!
//! The store file is opened read-only, which works while the server holds it open for
//! writing (redb's single-writer mode), so these commands never disturb delivery.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use mailerd_store::{ListFilter, Store};
use mailerd_store_embedded::EmbeddedStore;
use mailerd_types::QueueId;

use crate::config::{self, Config};

#[derive(clap::Args)]
pub struct Args {
    /// The configuration file (for data_dir); default: the embedded default's ./mailerd-data.
    #[arg(long, short, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// One line per queued message (or one JSON object per line with --json).
    List {
        #[arg(long)]
        json: bool,
    },
    /// A message's envelope and every recipient's state and last reply.
    Show {
        /// The queue id, as printed by `list` and in the 250 reply.
        id: String,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let config = match &args.config {
        Some(p) => config::load(p)?,
        None => Config::default(),
    };
    let path = config.queue_path();
    if !path.exists() {
        anyhow::bail!(
            "no queue at {} (is data_dir right? pass --config)",
            path.display()
        );
    }
    let store = EmbeddedStore::open_read_only(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("runtime")?;
    rt.block_on(async {
        match args.command {
            Command::List { json } => list(&store, json).await,
            Command::Show { id, json } => show(&store, &id, json).await,
        }
    })
}

async fn list(store: &EmbeddedStore, json: bool) -> anyhow::Result<ExitCode> {
    let list = store
        .list(&ListFilter::default())
        .await
        .context("listing the queue")?;
    if json {
        for m in &list.messages {
            println!("{}", serde_json::to_string(m).context("json")?);
        }
    } else {
        println!(
            "{:<28} {:>9} {:<32} RECIPIENTS (state)",
            "QUEUE ID", "SIZE", "SENDER"
        );
        for m in &list.messages {
            let sender = if m.reverse_path.is_empty() {
                "<>"
            } else {
                m.reverse_path.as_str()
            };
            println!(
                "{:<28} {:>9} {:<32} {}",
                m.id.to_string(),
                m.size,
                sender,
                summary(m)
            );
        }
        println!("{} message(s)", list.messages.len());
    }
    for c in &list.corrupt {
        eprintln!(
            "corrupt record {}: {} (quarantined, not deleted)",
            c.id, c.detail
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn summary(m: &mailerd_store::MessageSummary) -> String {
    m.recipients
        .iter()
        .map(|r| format!("{} ({})", r.address, r.state))
        .collect::<Vec<_>>()
        .join(", ")
}

async fn show(store: &EmbeddedStore, id: &str, json: bool) -> anyhow::Result<ExitCode> {
    let qid = QueueId(id.to_string());
    let Some(m) = store
        .get(&qid)
        .await
        .with_context(|| format!("reading {id}"))?
    else {
        eprintln!("mailerd queue show: no message {id} in the queue");
        return Ok(ExitCode::from(1));
    };
    let log = store
        .status_log(&qid)
        .await
        .with_context(|| format!("reading the status log of {id}"))?;
    if json {
        let v = serde_json::json!({ "id": id, "envelope": m.envelope, "recipients": m.recipients, "size": m.content.len(), "status_log": log });
        println!("{}", serde_json::to_string_pretty(&v).context("json")?);
        return Ok(ExitCode::SUCCESS);
    }
    let e = &m.envelope;
    println!("Queue ID:   {id}");
    println!("Sender:     <{}>", e.reverse_path);
    println!("Size:       {} bytes", m.content.len());
    if let Some(c) = &e.client {
        println!("Client:     {c}");
    }
    if let Some(u) = &e.auth_user {
        println!("AUTH user:  {u}");
    }
    if let Some(envid) = &e.envid {
        println!("ENVID:      {envid}");
    }
    if let Some(ret) = e.ret {
        println!("RET:        {ret:?}");
    }
    println!("Recipients:");
    for r in &m.recipients {
        println!("  {}", serde_json::to_string(r).context("json")?);
    }
    if !log.is_empty() {
        println!("Status log:");
        for s in &log {
            println!("  {}", serde_json::to_string(s).context("json")?);
        }
    }
    Ok(ExitCode::SUCCESS)
}
