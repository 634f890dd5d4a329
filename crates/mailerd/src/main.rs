//! `mailerd`: the mail delivery subsystem's command line.
//!
//! Subcommands live one per file under `cmd/`. This binary is the only place that sees every
//! role; it parses flags, loads configuration and wires the roles together. It holds no
//! mail logic of its own.

mod batv;
mod cmd;
mod config;
mod control;
mod kick;
mod logging;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "mailerd",
    version,
    about = "mailerd: a mail delivery subsystem"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the mail system (SMTP server and queue) until SIGTERM or SIGINT.
    Serve(cmd::serve::Args),
    /// Read bounces (files, directories, Maildirs, mbox files or stdin) and explain them.
    Explain(cmd::explain::Args),
    /// Inspect the queue of a running or stopped server.
    Queue(cmd::queue::Args),
    /// Check a configuration file, or print the defaults.
    #[command(subcommand)]
    Config(cmd::config::Args),
    /// Print an argon2id hash of a password read from stdin, for `[[user]] password_hash`.
    Passwd(cmd::passwd::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => cmd::serve::run(args),
        Command::Explain(args) => cmd::explain::run(args),
        Command::Queue(args) => cmd::queue::run(args),
        Command::Config(args) => cmd::config::run(args),
        Command::Passwd(args) => cmd::passwd::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("mailerd: {e:#}");
            ExitCode::from(2)
        }
    }
}
