//! RSET (RFC 5321 section 4.1.1.5).

use crate::commit::Commit;
use mailerd_smtp::{Reply, status};
use tokio::io::{AsyncRead, AsyncWrite};

use super::Session;

impl<S: Commit, IO: AsyncRead + AsyncWrite + Unpin + Send> Session<'_, S, IO> {
    pub(crate) fn rset(&mut self) {
        self.tx = None;
        self.chunks = None;
        self.reply(Reply::new(250, status(2, 0, 0), "Ok"));
    }
}
