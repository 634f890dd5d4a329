//! AUTH (RFC 4954) with PLAIN (RFC 4616) and LOGIN, only on submission over TLS; failures are
//! throttled per client IP and per account.

use crate::commit::Commit;
use mailerd_smtp::sasl::{self, Credentials, SaslError};
use mailerd_smtp::{AuthMechanism, Reply, status};
use tokio::io::{AsyncRead, AsyncWrite};

use super::{Flow, Input, Session};

/// What reading one client response gave.
enum Response {
    Bytes(Vec<u8>),
    /// The exchange ended (cancel, bad input); the reply was queued.
    Failed,
    /// The connection must close.
    Close,
}

impl<S: Commit, IO: AsyncRead + AsyncWrite + Unpin + Send> Session<'_, S, IO> {
    /// Sends a 334 challenge and reads the response.
    async fn challenge(&mut self, text: &str) -> std::io::Result<Response> {
        self.reply(Reply::plain(334, text));
        match self.next_line().await? {
            Input::Line(l) => self.decode(Some(&l)),
            Input::TooLong => {
                self.reply(Reply::new(
                    500,
                    status(5, 5, 6),
                    "Error: authentication line too long",
                ));
                Ok(Response::Failed)
            }
            _ => Ok(Response::Close),
        }
    }

    fn decode(&mut self, line: Option<&[u8]>) -> std::io::Result<Response> {
        match sasl::decode_response(line.unwrap_or_default()) {
            Ok(b) => Ok(Response::Bytes(b)),
            Err(SaslError::Cancelled) => {
                self.reply(Reply::new(501, status(5, 0, 0), "Authentication cancelled"));
                Ok(Response::Failed)
            }
            Err(_) => {
                self.reply(Reply::new(
                    501,
                    status(5, 5, 2),
                    "Error: invalid base64 data",
                ));
                Ok(Response::Failed)
            }
        }
    }

    pub(crate) async fn auth(
        &mut self,
        mechanism: AuthMechanism,
        initial: Option<String>,
    ) -> std::io::Result<Flow> {
        if !self.auth_offered() {
            let r = if self.tls.is_none() && self.server.tls.is_some() {
                Reply::new(530, status(5, 7, 0), "Must issue a STARTTLS command first")
            } else {
                Reply::new(503, status(5, 5, 1), "Error: authentication not enabled")
            };
            self.reply(r);
            return Ok(Flow::Continue);
        }
        if self.auth_user.is_some() {
            self.reply(Reply::new(
                503,
                status(5, 5, 1),
                "Error: already authenticated",
            ));
            return Ok(Flow::Continue);
        }
        if self.tx.is_some() {
            self.reply(Reply::new(
                503,
                status(5, 5, 1),
                "Error: MAIL transaction in progress",
            ));
            return Ok(Flow::Continue);
        }
        let creds = match mechanism {
            AuthMechanism::Plain => {
                let msg = match initial {
                    Some(i) => self.decode(Some(i.as_bytes()))?,
                    None => self.challenge("").await?,
                };
                match msg {
                    Response::Bytes(b) => match sasl::decode_plain(&b) {
                        Ok(c) => c,
                        Err(_) => {
                            self.reply(Reply::new(
                                501,
                                status(5, 5, 2),
                                "Error: malformed PLAIN response",
                            ));
                            return Ok(Flow::Continue);
                        }
                    },
                    Response::Failed => return Ok(Flow::Continue),
                    Response::Close => return Ok(Flow::Close),
                }
            }
            AuthMechanism::Login => {
                let user = match initial {
                    Some(i) => self.decode(Some(i.as_bytes()))?,
                    None => self.challenge(&sasl::encode_challenge("Username:")).await?,
                };
                let user = match user {
                    Response::Bytes(b) => b,
                    Response::Failed => return Ok(Flow::Continue),
                    Response::Close => return Ok(Flow::Close),
                };
                let pass = match self.challenge(&sasl::encode_challenge("Password:")).await? {
                    Response::Bytes(b) => b,
                    Response::Failed => return Ok(Flow::Continue),
                    Response::Close => return Ok(Flow::Close),
                };
                match (
                    sasl::decode_login_field(&user),
                    sasl::decode_login_field(&pass),
                ) {
                    (Ok(username), Ok(password)) => Credentials {
                        authzid: String::new(),
                        username,
                        password,
                    },
                    _ => {
                        self.reply(Reply::new(
                            501,
                            status(5, 5, 2),
                            "Error: malformed LOGIN response",
                        ));
                        return Ok(Flow::Continue);
                    }
                }
            }
        };
        self.check_credentials(creds).await;
        Ok(Flow::Continue)
    }

    async fn check_credentials(&mut self, creds: Credentials) {
        let ip = crate::net::client_key(self.peer.ip());
        let throttle = &self.server.throttle;
        // A different authorization identity is not supported: only "act as yourself".
        let authz_ok =
            creds.authzid.is_empty() || creds.authzid.eq_ignore_ascii_case(&creds.username);
        let locked = throttle.ip_locked(ip) || throttle.account_locked(&creds.username);
        let ok =
            authz_ok && !locked && self.verify_password(&creds.username, &creds.password).await;
        if ok {
            throttle.succeeded(&creds.username);
            tracing::info!(client = %self.peer, user = %creds.username, "authenticated");
            self.auth_user = Some(creds.username);
            self.reply(Reply::new(
                235,
                status(2, 7, 0),
                "Authentication successful",
            ));
            return;
        }
        let delay = throttle.failed(ip, Some(&creds.username));
        tracing::warn!(client = %self.peer, user = %creds.username, locked, delay_ms = delay.as_millis() as u64, "authentication failed");
        // Answer late: each failure costs the guesser more time.
        let _ = self.flush().await;
        tokio::time::sleep(delay).await;
        self.reply(Reply::new(
            535,
            status(5, 7, 8),
            "Error: authentication failed",
        ));
    }

    async fn verify_password(&self, user: &str, password: &str) -> bool {
        let accounts = &self.server.accounts;
        // argon2 is deliberately slow: keep it off the async threads.
        let password = password.to_string();
        let check = accounts.snapshot(user);
        let Ok(_permit) = self.server.password_checks.clone().acquire_owned().await else {
            return false;
        };
        tokio::task::spawn_blocking(move || check.verify(&password))
            .await
            .unwrap_or(false)
    }
}
