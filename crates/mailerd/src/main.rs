//! `mailerd`: the mail delivery subsystem's command line.
//!
//! Subcommands live one per file under `cmd/`. This binary is the only place that sees every
//! role; it parses flags, loads configuration and wires the roles together. It holds no
//! mail logic of its own.

mod cmd;

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
    /// Read bounces (files, directories, Maildirs, mbox files or stdin) and explain them.
    Explain(cmd::explain::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Explain(args) => cmd::explain::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("mailerd: {e:#}");
            ExitCode::from(2)
        }
    }
}
