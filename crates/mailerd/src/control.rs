//! The control socket: how `mailerd queue ...` reaches a running server.
//!
//! The server holds the queue file open exclusively (one fsync per group commit; see
//! `store-embedded`), so other processes ask the server instead: one JSON request per line on
//! the Unix socket `data_dir/control.sock`, one JSON answer per line. The socket file is
//! created with mode 0600 (the data directory's owner only). When no server answers, the
//! commands open the queue file themselves.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use mailerd_store::{FailOutcome, ListFilter, MessageSummary, Store};
use mailerd_types::QueueId;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::watch;

/// The socket's path for a data directory.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join("control.sock")
}

/// A request on the control socket.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    List {
        include_done: bool,
        /// Only messages with a recipient in this state (`pending`, `deferred`, `delivered`,
        /// `failed`, `expired`), or `held`, or `active` (leased: in delivery).
        #[serde(default)]
        state: Option<String>,
        /// Only messages with a recipient at this domain (case-insensitive).
        #[serde(default)]
        domain: Option<String>,
        /// One page: the messages after this id (the `next` of the previous page).
        #[serde(default)]
        after: Option<String>,
        /// Messages scanned per page (default and maximum [`LIST_PAGE`]), so that neither
        /// side holds a large queue in memory at once.
        #[serde(default)]
        limit: Option<usize>,
    },
    Show {
        id: String,
    },
    /// Remove a message; with `bounce`, first fail its live recipients so the sender gets a
    /// failure notice (notify removes the message after sending it).
    Delete {
        id: String,
        #[serde(default)]
        bounce: bool,
    },
    Hold {
        id: String,
    },
    Release {
        id: String,
    },
    /// Make deferred recipients due now: one message, or every message when `id` is `None`.
    Retry {
        #[serde(default)]
        id: Option<String>,
    },
}

/// The words recorded for recipients failed by `queue delete --bounce` (a status and a
/// diagnosis, not a server reply: the notice shows it as our own diagnosis).
pub const BOUNCE_REASON: &str = "5.0.0 message deleted by the administrator";

/// How long `delete --bounce` waits for a delivery in flight to finish.
const BOUNCE_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

const STATES: &[&str] = &[
    "pending",
    "deferred",
    "delivered",
    "failed",
    "expired",
    "held",
    "active",
];

/// Whether a listed message passes `--state` / `--domain`.
fn matches(m: &MessageSummary, state: Option<&str>, domain: Option<&str>, now: u64) -> bool {
    let state_ok = match state {
        None => true,
        Some("held") => m.held,
        Some("active") => m.lease.as_ref().is_some_and(|l| l.expires_at > now),
        Some(s) => m.recipients.iter().any(|r| r.state.as_str() == s),
    };
    let domain_ok = domain.is_none_or(|d| {
        m.recipients.iter().any(|r| {
            r.address
                .rsplit_once('@')
                .is_some_and(|(_, rd)| rd.eq_ignore_ascii_case(d))
        })
    });
    state_ok && domain_ok
}

/// Fails every live recipient (waiting for a delivery in flight, holding the message
/// meanwhile so that it is not claimed again). `false` if there is no such message.
async fn bounce<S: Store>(store: &S, id: &QueueId) -> anyhow::Result<bool> {
    let deadline = tokio::time::Instant::now() + BOUNCE_WAIT;
    let mut held_here = false;
    let result = loop {
        match store.fail_live(id, BOUNCE_REASON, now()).await {
            Err(e) => break Err(e.into()),
            Ok(FailOutcome::NotFound) => break Ok(false),
            Ok(FailOutcome::Failed(_)) => break Ok(true),
            Ok(FailOutcome::Leased(lease)) => {
                if !held_here {
                    match store.get(id).await {
                        Ok(Some(m)) if !m.held => {
                            store.hold(id).await?;
                            held_here = true;
                        }
                        _ => {}
                    }
                }
                if tokio::time::Instant::now() >= deadline {
                    break Err(anyhow::anyhow!(
                        "{id} is being delivered by {} (lease until {}); try again later",
                        lease.node,
                        lease.expires_at
                    ));
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    };
    if held_here {
        // Gone already if notify was quick: not an error.
        store.release_hold(id).await?;
    }
    result
}

/// The answer: `ok` and a value, or an error text.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Response {
    pub ok: bool,
    #[serde(default)]
    pub value: serde_json::Value,
    #[serde(default)]
    pub error: Option<String>,
}

/// Serves the control socket until `shutdown`.
pub async fn serve<S: Store>(
    path: PathBuf,
    store: Arc<S>,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    if path.exists() {
        // A socket left by a crash answers nothing: remove it. A live server answers: refuse.
        if UnixStream::connect(&path).await.is_ok() {
            anyhow::bail!("another mailerd serves {}", path.display());
        }
        std::fs::remove_file(&path)
            .with_context(|| format!("removing stale {}", path.display()))?;
    }
    let listener =
        UnixListener::bind(&path).with_context(|| format!("binding {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("chmod {}", path.display()))?;
    }
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let store = store.clone();
                    tokio::spawn(async move {
                        if let Err(e) = session(stream, store).await {
                            tracing::debug!(error = %e, "control: session ended");
                        }
                    });
                }
                Err(e) => tracing::warn!(error = %e, "control: accept failed"),
            },
            _ = shutdown.changed() => break,
        }
    }
    let _ = std::fs::remove_file(&path);
    Ok(())
}

async fn session<S: Store>(stream: UnixStream, store: Arc<S>) -> anyhow::Result<()> {
    let (r, mut w) = stream.into_split();
    let mut lines = BufReader::new(r.take(1 << 16)).lines();
    while let Some(line) = lines.next_line().await? {
        let response = match serde_json::from_str::<Request>(&line) {
            Ok(req) => match handle(&*store, req).await {
                Ok(value) => Response {
                    ok: true,
                    value,
                    error: None,
                },
                Err(e) => Response {
                    ok: false,
                    value: serde_json::Value::Null,
                    error: Some(format!("{e:#}")),
                },
            },
            Err(e) => Response {
                ok: false,
                value: serde_json::Value::Null,
                error: Some(format!("bad request: {e}")),
            },
        };
        let mut out = serde_json::to_vec(&response)?;
        out.push(b'\n');
        w.write_all(&out).await?;
    }
    Ok(())
}

/// Messages scanned per `list` page.
pub const LIST_PAGE: usize = 1000;

/// Runs one request against a store: the same code serves the socket and the direct path.
/// `List` answers one page: `{"messages": [...], "corrupt": [...], "next": id or null}`, where
/// `next` is where the following page starts (null on the last page).
pub async fn handle<S: Store>(store: &S, req: Request) -> anyhow::Result<serde_json::Value> {
    Ok(match req {
        Request::List {
            include_done,
            state,
            domain,
            after,
            limit,
        } => {
            let state = state.map(|s| s.to_ascii_lowercase());
            if let Some(s) = &state {
                anyhow::ensure!(
                    STATES.contains(&s.as_str()),
                    "unknown state {s:?} (one of {})",
                    STATES.join(", ")
                );
            }
            let final_state = matches!(state.as_deref(), Some("delivered" | "failed" | "expired"));
            let limit = limit.unwrap_or(LIST_PAGE).clamp(1, LIST_PAGE);
            let mut list = store
                .list(&ListFilter {
                    include_done: include_done || final_state,
                    after: after.map(QueueId),
                    limit: Some(limit),
                    ..ListFilter::default()
                })
                .await?;
            let next = (list.messages.len() == limit)
                .then(|| list.messages.last().map(|m| m.id.clone()))
                .flatten();
            let t = now();
            list.messages
                .retain(|m| matches(m, state.as_deref(), domain.as_deref(), t));
            serde_json::json!({
                "messages": list.messages,
                "corrupt": list.corrupt,
                "next": next,
            })
        }
        Request::Show { id } => {
            let qid = QueueId(id);
            match store.get(&qid).await? {
                None => serde_json::Value::Null,
                Some(m) => {
                    let log = store.status_log(&qid).await?;
                    serde_json::json!({
                        "id": m.id, "envelope": m.envelope, "size": m.content.len(), "held": m.held,
                        "lease": m.lease, "recipients": m.recipients, "status_log": log,
                    })
                }
            }
        }
        Request::Delete { id, bounce: false } => {
            serde_json::Value::Bool(store.delete(&QueueId(id)).await?)
        }
        Request::Delete { id, bounce: true } => {
            serde_json::Value::Bool(self::bounce(store, &QueueId(id)).await?)
        }
        Request::Retry { id: Some(id) } => {
            serde_json::Value::Bool(store.retry_now(&QueueId(id), now()).await?)
        }
        Request::Retry { id: None } => serde_json::Value::from(store.retry_all(now()).await?),
        Request::Hold { id } => serde_json::Value::Bool(store.hold(&QueueId(id)).await?),
        Request::Release { id } => serde_json::Value::Bool(store.release_hold(&QueueId(id)).await?),
    })
}

/// Sends one request to a running server. `Ok(None)` when no server listens.
pub async fn ask(data_dir: &Path, req: &Request) -> anyhow::Result<Option<serde_json::Value>> {
    let path = socket_path(data_dir);
    let stream = match UnixStream::connect(&path).await {
        Ok(s) => s,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(e).with_context(|| format!("connecting to {}", path.display())),
    };
    let (r, mut w) = stream.into_split();
    let mut line = serde_json::to_vec(req)?;
    line.push(b'\n');
    w.write_all(&line).await?;
    w.shutdown().await?;
    let mut answer = String::new();
    BufReader::new(r)
        .read_line(&mut answer)
        .await
        .context("reading the server's answer")?;
    let resp: Response =
        serde_json::from_str(&answer).context("the server's answer is not JSON")?;
    if resp.ok {
        Ok(Some(resp.value))
    } else {
        anyhow::bail!("server: {}", resp.error.unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailerd_store::NewMessage;
    use mailerd_store::memory::MemoryStore;
    use mailerd_types::{Envelope, RecipientSpec};

    async fn queued(store: &MemoryStore, rcpt: &str) {
        let envelope = Envelope {
            reverse_path: "s@example.test".into(),
            recipients: vec![RecipientSpec::new(rcpt)],
            ret: None,
            envid: None,
            smtputf8: false,
            eight_bit: false,
            received_at: 1_800_000_000,
            client: None,
            auth_user: None,
        };
        store
            .commit(NewMessage {
                envelope,
                content: b"Subject: t\r\n\r\nx\r\n".to_vec(),
            })
            .await
            .expect("commit");
    }

    /// `list` answers in pages: each names where the next starts, the last names none, and
    /// together they hold every message once, filtered by domain page by page.
    #[tokio::test]
    async fn list_answers_in_pages() {
        let store = MemoryStore::new();
        for i in 0..5 {
            let domain = if i % 2 == 0 { "a.test" } else { "b.test" };
            queued(&store, &format!("r{i}@{domain}")).await;
        }
        let mut after = None;
        let mut seen = Vec::new();
        let mut pages = 0;
        loop {
            let v = handle(
                &store,
                Request::List {
                    include_done: false,
                    state: None,
                    domain: Some("A.test".into()),
                    after: after.clone(),
                    limit: Some(2),
                },
            )
            .await
            .expect("list");
            pages += 1;
            for m in v["messages"].as_array().expect("messages") {
                seen.push(
                    m["recipients"][0]["address"]
                        .as_str()
                        .unwrap_or("")
                        .to_string(),
                );
            }
            match v["next"].as_str() {
                Some(n) => after = Some(n.to_string()),
                None => break,
            }
        }
        assert_eq!(pages, 3, "2 + 2 + 1 messages scanned");
        assert_eq!(seen, ["r0@a.test", "r2@a.test", "r4@a.test"]);
    }
}
