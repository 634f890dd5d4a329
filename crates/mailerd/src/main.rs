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
mod pickup;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc: a quarter fewer instructions than glibc's malloc for a relayed message (redb's
/// page buffers, the SMTP buffers and the records are allocated and freed at a high rate;
/// BENCHMARKS.md). It commits arenas as they are used (`.cargo/config.toml`), which keeps RSS
/// below glibc's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Queue a message read from stdin, like sendmail: [-t] [-i] [-f sender] [-F name]
    /// [--config FILE] [rcpt...]. Also the behaviour when invoked as `sendmail`.
    Sendmail(cmd::sendmail::Args),
}

fn main() -> ExitCode {
    // sendmail's flags (-oi, -fsender, -F name, ...) do not fit clap: they are parsed by hand,
    // both for `mailerd sendmail ...` and for the binary invoked as `sendmail`.
    // (args_os: a non-UTF-8 argument must not panic; sendmail refuses it as an address.)
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let invoked_as = args
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .and_then(|n| n.to_str())
        .unwrap_or("");
    if invoked_as == "sendmail" {
        return cmd::sendmail::run_with(&args[1..]);
    }
    if args.get(1).map(String::as_str) == Some("sendmail")
        && !matches!(args.get(2).map(String::as_str), Some("--help"))
    {
        return cmd::sendmail::run_with(&args[2..]);
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => cmd::serve::run(args),
        Command::Explain(args) => cmd::explain::run(args),
        Command::Queue(args) => cmd::queue::run(args),
        Command::Config(args) => cmd::config::run(args),
        Command::Passwd(args) => cmd::passwd::run(args),
        Command::Sendmail(args) => cmd::sendmail::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("mailerd: {e:#}");
            ExitCode::from(2)
        }
    }
}
