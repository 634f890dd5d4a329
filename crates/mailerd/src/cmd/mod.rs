//! One module per subcommand.

pub mod config;
pub mod explain;
pub mod passwd;
pub mod queue;
pub mod sendmail;
pub mod serve;
mod summary;
