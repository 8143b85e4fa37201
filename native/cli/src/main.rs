//! The `ferrotp` command: one binary, one subcommand per way of meeting
//! the BEAM.
//!
//! | Command                         | What it does                                 |
//! |---------------------------------|----------------------------------------------|
//! | `ferrotp etf decode [FILE]`     | ETF bytes → Erlang term text (`binary_to_term` + `~tp`) |
//! | `ferrotp etf encode [FILE]`     | Erlang term text → ETF bytes (`erl_parse` + `term_to_binary`) |
//! | `ferrotp port`                  | a port program hosting Rust processes (`ferrotp_port`) |
//! | `ferrotp node --sname NAME`     | a hidden Rust node hosting `top_sup` + `counter` (or `--name NAME@HOST`) |
//! | `ferrotp demo`                  | the seed's let-it-crash story, narrated      |
//!
//! Each subcommand lives in its own module (`etf_cmd.rs`) with an `Args`
//! struct for clap and a `run` function; add a variant to [`Command`] to
//! add one. Errors end the process with exit status 1 and exactly one line
//! on stderr: `ferrotp: <subcommand>: <what went wrong>`.
//!
//! The binary allocates with mimalloc (its `#[global_allocator]` below,
//! which `ferrotp port --max-memory` caps, see `capped_alloc.rs`):
//! decoded terms are one allocation per list, tuple, map and bignum, and
//! mimalloc allocates and frees these small blocks faster than glibc's
//! malloc (the etf bench example measures it). Only this binary (and the etf bench example) sets
//! it; the libraries never set a global allocator, so a program embedding
//! them keeps its own.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[global_allocator]
static GLOBAL: capped_alloc::CappedAlloc = capped_alloc::CappedAlloc::new();

mod capped_alloc;
mod demo_cmd;
mod etf_cmd;
mod node_cmd;
mod port_cmd;

/// A Rust-native OTP that speaks the Erlang External Term Format.
#[derive(Debug, Parser)]
#[command(name = "ferrotp", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The subcommands, one module each.
#[derive(Debug, Subcommand)]
enum Command {
    /// Convert between ETF bytes and Erlang term text.
    Etf(etf_cmd::EtfArgs),
    /// Host Rust processes behind {packet,4} frames on stdin/stdout (started by ferrotp_port).
    Port(port_cmd::PortArgs),
    /// Run a hidden Rust node hosting the seed's top_sup and counter.
    Node(node_cmd::NodeArgs),
    /// The seed's let-it-crash story: top_sup, counter, crash, restart, escalation.
    Demo(demo_cmd::DemoArgs),
}

fn main() -> ExitCode {
    // A bug must still end in one line on stderr, not a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let msg = info.to_string().replace('\n', " ");
        eprintln!("ferrotp: internal error: {msg}");
    }));
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Etf(args) => etf_cmd::run(args),
        Command::Port(args) => port_cmd::run(args),
        Command::Node(args) => node_cmd::run(args),
        Command::Demo(args) => demo_cmd::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // `{:#}` joins the context chain with ": " on one line.
            let msg = format!("{e:#}").replace('\n', " ");
            eprintln!("ferrotp: {msg}");
            ExitCode::FAILURE
        }
    }
}
