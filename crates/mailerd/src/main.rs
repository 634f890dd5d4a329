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

/// mimalloc (the `libmimalloc-sys` build): a quarter fewer instructions than glibc's malloc
/// for a relayed message (redb's page buffers, the SMTP buffers and the records are allocated
/// and freed at a high rate; BENCHMARKS.md). It commits arenas as they are used
/// (`.cargo/config.toml`), which keeps RSS below glibc's.
///
/// Through [`Mi`]: word-aligned layouts (nearly all) go to the plain entry points.
#[global_allocator]
static GLOBAL: Mi = Mi;

/// mimalloc with its plain `mi_malloc`/`mi_realloc` for layouts aligned to at most a word
/// (every mimalloc block is), the aligned entry points for the others. The `mimalloc` crate's
/// `MiMalloc` (used before) calls the aligned ones always, which check the alignment at run
/// time: about 20 more instructions per allocation (1.5% of a `mailerd explain` run).
struct Mi;

/// The alignment of every block `mi_malloc` returns (its sizes are multiples of a word).
const WORD: usize = std::mem::size_of::<usize>();

// SAFETY: each function forwards to the mimalloc function of the same contract; the plain
// ones only for alignments every mimalloc block satisfies.
unsafe impl std::alloc::GlobalAlloc for Mi {
    #[inline]
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        // SAFETY: as for `GlobalAlloc::alloc` (a non-zero size; mimalloc accepts any).
        unsafe {
            if layout.align() <= WORD {
                libmimalloc_sys::mi_malloc(layout.size()).cast()
            } else {
                libmimalloc_sys::mi_malloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        unsafe {
            if layout.align() <= WORD {
                libmimalloc_sys::mi_zalloc(layout.size()).cast()
            } else {
                libmimalloc_sys::mi_zalloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: std::alloc::Layout) {
        // SAFETY: `ptr` was returned by this allocator, i.e. by mimalloc.
        unsafe { libmimalloc_sys::mi_free(ptr.cast()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` was returned by mimalloc for `layout`; the result keeps its alignment.
        unsafe {
            if layout.align() <= WORD {
                libmimalloc_sys::mi_realloc(ptr.cast(), new_size).cast()
            } else {
                libmimalloc_sys::mi_realloc_aligned(ptr.cast(), new_size, layout.align()).cast()
            }
        }
    }
}

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
