//! STARTTLS (RFC 3207).

use std::time::Duration;

use crate::commit::Commit;
use mailerd_smtp::{Reply, status};
use tokio::io::{AsyncRead, AsyncWrite};

use super::{Flow, Session, TlsInfo};
use crate::conn::Conn;

impl<S: Commit, IO: AsyncRead + AsyncWrite + Unpin + Send> Session<'_, S, IO> {
    pub(crate) async fn starttls(&mut self) -> std::io::Result<Flow> {
        let Some(acceptor) = self.server.tls.clone() else {
            self.reply(Reply::new(
                502,
                status(5, 5, 1),
                "Error: command not implemented",
            ));
            return Ok(Flow::Continue);
        };
        if self.tls.is_some() {
            self.reply(Reply::new(
                503,
                status(5, 5, 1),
                "Error: TLS already active",
            ));
            return Ok(Flow::Continue);
        }
        self.reply(Reply::new(220, status(2, 0, 0), "Ready to start TLS"));
        self.flush().await?;
        if !self.inbuf.is_empty() {
            // Plaintext pipelined after STARTTLS must not be taken as if it came over TLS
            // (the CVE-2011-0411 command injection).
            tracing::warn!(client = %self.peer, bytes = self.inbuf.len(), "discarding plaintext sent after STARTTLS");
            self.inbuf.clear();
        }
        let Conn::Plain(io) = std::mem::replace(&mut self.conn, Conn::Closed) else {
            return Ok(Flow::Close);
        };
        let timeout = Duration::from_secs(self.server.config.limits.tls_handshake_timeout_secs);
        match tokio::time::timeout(timeout, acceptor.accept(io)).await {
            Ok(Ok(stream)) => {
                let (_, conn) = stream.get_ref();
                let version = conn
                    .protocol_version()
                    .and_then(|v| v.as_str())
                    .unwrap_or("TLS")
                    .replace("TLSv1_", "TLSv1.");
                let cipher = conn
                    .negotiated_cipher_suite()
                    .and_then(|c| c.suite().as_str())
                    .unwrap_or("unknown")
                    .to_string();
                self.tls = Some(TlsInfo { version, cipher });
                self.conn = Conn::Tls(Box::new(stream));
                // RFC 3207 4.2: forget everything learnt before TLS.
                self.helo = None;
                self.esmtp = false;
                self.tx = None;
                self.chunks = None;
                Ok(Flow::Continue)
            }
            Ok(Err(e)) => {
                tracing::info!(client = %self.peer, error = %e, "TLS handshake failed");
                Ok(Flow::Close)
            }
            Err(_) => {
                tracing::info!(client = %self.peer, "TLS handshake timed out");
                Ok(Flow::Close)
            }
        }
    }
}
