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
use mailerd_store::{ListFilter, Store};
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
    List { include_done: bool },
    Show { id: String },
    Delete { id: String },
    Hold { id: String },
    Release { id: String },
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

/// Runs one request against a store: the same code serves the socket and the direct path.
pub async fn handle<S: Store>(store: &S, req: Request) -> anyhow::Result<serde_json::Value> {
    Ok(match req {
        Request::List { include_done } => {
            let list = store
                .list(&ListFilter {
                    include_done,
                    ..ListFilter::default()
                })
                .await?;
            serde_json::to_value(list)?
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
        Request::Delete { id } => serde_json::Value::Bool(store.delete(&QueueId(id)).await?),
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
