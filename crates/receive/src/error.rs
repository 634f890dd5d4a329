//! Errors that stop the receiving side (not protocol outcomes, which are replies).

/// Why the server could not start or go on.
#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    #[error("invalid receive configuration: {0}")]
    Config(String),
    #[error("tls setup failed: {0}")]
    Tls(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
}
