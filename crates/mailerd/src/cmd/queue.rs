//! `mailerd queue list|show|delete|hold|release|retry`: the queue of a running or stopped
//! server.
//!
//! With a server running, requests go over its control socket (the server owns the queue
//! file); otherwise the queue file is opened directly.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use mailerd_store::{MessageList, RecipientRecord, StatusRecord};
use mailerd_store_embedded::EmbeddedStore;
use mailerd_types::Envelope;

use crate::config::{self, Config};
use crate::control::{self, Request};

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
        /// Also messages whose recipients are all final (awaiting their notices).
        #[arg(long)]
        all: bool,
        /// Only messages with a recipient in this state (pending, deferred, delivered,
        /// failed, expired), or held ones (held), or those in delivery (active).
        #[arg(long)]
        state: Option<String>,
        /// Only messages with a recipient at this domain.
        #[arg(long)]
        domain: Option<String>,
    },
    /// A message's envelope, every recipient's state and last reply, and its status log.
    Show {
        /// The queue id, as printed by `list` and in the 250 reply.
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Remove a message from the queue (no notice is sent, unless --bounce).
    Delete {
        id: String,
        /// Fail every recipient not yet delivered ("5.0.0 message deleted by the
        /// administrator") so that the sender gets a failure notice; the message is removed
        /// once the notice is queued. Waits for a delivery in flight.
        #[arg(long)]
        bounce: bool,
    },
    /// Keep a message from being delivered until `release`.
    Hold { id: String },
    /// Let a held message be delivered again.
    Release { id: String },
    /// Try deferred recipients now instead of at their next retry time.
    Retry {
        /// The message to retry.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<String>,
        /// Every message in the queue.
        #[arg(long)]
        all: bool,
    },
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let config = match &args.config {
        Some(p) => config::load(p)?,
        None => Config::default(),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("runtime")?;
    rt.block_on(async move {
        let (req, json) = match &args.command {
            Command::List {
                json,
                all,
                state,
                domain,
            } => {
                return list(
                    &config,
                    *json,
                    Request::List {
                        include_done: *all,
                        state: state.clone(),
                        domain: domain.clone(),
                        after: None,
                        limit: None,
                    },
                )
                .await;
            }
            Command::Show { id, json } => (Request::Show { id: id.clone() }, *json),
            Command::Delete { id, bounce } => (
                Request::Delete {
                    id: id.clone(),
                    bounce: *bounce,
                },
                false,
            ),
            Command::Retry { id, .. } => (Request::Retry { id: id.clone() }, false),
            Command::Hold { id } => (Request::Hold { id: id.clone() }, false),
            Command::Release { id } => (Request::Release { id: id.clone() }, false),
        };
        let value = match control::ask(&config.data_dir, &req).await? {
            Some(v) => v,
            None => {
                let v = direct(&config, req).await?;
                if matches!(&args.command, Command::Delete { bounce: true, .. })
                    && v.as_bool() == Some(true)
                {
                    eprintln!(
                        "mailerd queue: no server runs: the failure notice is sent when it starts"
                    );
                }
                v
            }
        };
        print(&args.command, value, json)
    })
}

/// One page of `list` as the server answers it.
#[derive(serde::Deserialize)]
struct Page {
    #[serde(flatten)]
    list: MessageList,
    next: Option<mailerd_types::QueueId>,
}

/// `queue list`, page by page (from the running server, else from the queue file opened
/// once), printing each page as it comes: memory stays bounded whatever the queue's size.
async fn list(config: &Config, json: bool, first: Request) -> anyhow::Result<ExitCode> {
    let mut store: Option<EmbeddedStore> = None;
    let mut req = first;
    let mut shown = 0usize;
    let mut header = !json;
    loop {
        let value = match &store {
            Some(s) => control::handle(s, req.clone()).await?,
            None => match control::ask(&config.data_dir, &req).await? {
                Some(v) => v,
                None => {
                    let s = open_direct(config).await?;
                    let v = control::handle(&s, req.clone()).await?;
                    store = Some(s);
                    v
                }
            },
        };
        let page: Page = serde_json::from_value(value).context("decoding the list")?;
        // Only once there is a queue to list: an error must not follow a table header.
        if std::mem::take(&mut header) {
            println!(
                "{:<24} {:>9} {:<32} RECIPIENTS (state)",
                "QUEUE ID", "SIZE", "SENDER"
            );
        }
        shown += page.list.messages.len();
        print_page(&page.list, json)?;
        match (page.next, &mut req) {
            (Some(next), Request::List { after, .. }) => *after = Some(next.0),
            _ => break,
        }
    }
    if !json {
        println!("{shown} message(s)");
    }
    Ok(ExitCode::SUCCESS)
}

fn print_page(list: &MessageList, json: bool) -> anyhow::Result<()> {
    for m in &list.messages {
        if json {
            println!("{}", serde_json::to_string(m)?);
            continue;
        }
        let sender = if m.reverse_path.is_empty() {
            "<>"
        } else {
            m.reverse_path.as_str()
        };
        let held = if m.held { " [held]" } else { "" };
        let rcpts = m
            .recipients
            .iter()
            .map(|r| format!("{} ({})", r.address, r.state))
            .collect::<Vec<_>>()
            .join(", ");
        println!(
            "{:<24} {:>9} {:<32} {rcpts}{held}",
            m.id.to_string(),
            m.size,
            sender
        );
    }
    for c in &list.corrupt {
        eprintln!(
            "corrupt record {}: {} (quarantined, not deleted)",
            c.id, c.detail
        );
    }
    Ok(())
}

/// No server running: open the queue file ourselves.
async fn direct(config: &Config, req: Request) -> anyhow::Result<serde_json::Value> {
    let store = open_direct(config).await?;
    control::handle(&store, req).await
}

async fn open_direct(config: &Config) -> anyhow::Result<EmbeddedStore> {
    let path = config.queue_path();
    anyhow::ensure!(
        path.exists(),
        "no queue at {} (is data_dir right? pass --config)",
        path.display()
    );
    let store = {
        let p = path.clone();
        tokio::task::spawn_blocking(move || EmbeddedStore::open(p))
            .await
            .context("opening the queue")?
    }
    .with_context(|| format!("opening {}", path.display()))?;
    Ok(store)
}

#[derive(serde::Deserialize)]
struct Shown {
    id: String,
    envelope: Envelope,
    size: usize,
    held: bool,
    recipients: Vec<RecipientRecord>,
    status_log: Vec<StatusRecord>,
}

fn print(cmd: &Command, value: serde_json::Value, json: bool) -> anyhow::Result<ExitCode> {
    match cmd {
        // `list` prints page by page itself.
        Command::List { .. } => {}
        Command::Show { id, .. } => {
            if value.is_null() {
                eprintln!("mailerd queue show: no message {id} in the queue");
                return Ok(ExitCode::from(1));
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&value)?);
                return Ok(ExitCode::SUCCESS);
            }
            let m: Shown = serde_json::from_value(value).context("decoding the message")?;
            let e = &m.envelope;
            println!(
                "Queue ID:   {}{}",
                m.id,
                if m.held { " (held)" } else { "" }
            );
            println!("Sender:     <{}>", e.reverse_path);
            println!("Size:       {} bytes", m.size);
            if let Some(c) = &e.client {
                println!("Client:     {c}");
            }
            if let Some(u) = &e.auth_user {
                println!("AUTH user:  {u}");
            }
            if let Some(envid) = &e.envid {
                println!("ENVID:      {envid}");
            }
            println!("Recipients:");
            for r in &m.recipients {
                println!(
                    "  {:<32} {:<9} attempts={} {}",
                    r.address,
                    r.state.as_str(),
                    r.attempts,
                    r.last_reply.as_deref().unwrap_or("")
                );
            }
            println!("Status log:");
            for s in &m.status_log {
                println!(
                    "  #{} at {} {} -> {} {}",
                    s.seq,
                    s.at,
                    s.recipient,
                    s.state.as_str(),
                    s.reply.as_deref().unwrap_or("")
                );
            }
        }
        Command::Retry { id: None, .. } => {
            println!("{} message(s) due now", value.as_u64().unwrap_or(0));
        }
        Command::Retry { id: Some(id), .. }
        | Command::Delete { id, .. }
        | Command::Hold { id }
        | Command::Release { id } => {
            if value.as_bool() != Some(true) {
                eprintln!("mailerd queue: no message {id} in the queue");
                return Ok(ExitCode::from(1));
            }
            println!("{id}: ok");
        }
    }
    Ok(ExitCode::SUCCESS)
}
