//! `mailerd config check FILE` and `mailerd config defaults`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::config::{Config, parse};

#[derive(clap::Subcommand)]
pub enum Args {
    /// Check a configuration file; report every error with its key path.
    Check {
        /// The configuration file.
        file: PathBuf,
    },
    /// Print every setting with its default value, as TOML.
    Defaults,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args {
        Args::Check { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            match parse(&text) {
                Ok(_) => {
                    println!("{}: ok", file.display());
                    Ok(ExitCode::SUCCESS)
                }
                Err(errors) => {
                    for e in &errors {
                        eprintln!("{}: {e}", file.display());
                    }
                    eprintln!("{}: {} error(s)", file.display(), errors.len());
                    Ok(ExitCode::from(1))
                }
            }
        }
        Args::Defaults => {
            println!(
                "# mailerd defaults: every key, with its default value (see README \"Configuration\")"
            );
            print!(
                "{}",
                toml::to_string(&Config::default()).context("printing defaults")?
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
