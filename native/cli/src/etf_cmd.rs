//! `ferrotp etf`: the codec on the command line.
//!
//! | Command                                   | Erlang                                   |
//! |-------------------------------------------|------------------------------------------|
//! | `ferrotp etf decode term.bin`             | `io:format("~tp~n", [binary_to_term(B)])` |
//! | `ferrotp etf encode --compressed=9 t.txt` | `term_to_binary(T, [{compressed, 9}])`   |
//!
//! ```text
//! $ echo '{ok, "héllo", #{a => 1}}.' | ferrotp etf encode | ferrotp etf decode
//! {ok,"héllo",#{a => 1}}
//! ```

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use clap::{Args, Subcommand};
use etf::EncodeOptions;

/// `ferrotp etf ...`
#[derive(Debug, Args)]
pub struct EtfArgs {
    #[command(subcommand)]
    command: EtfCommand,
}

#[derive(Debug, Subcommand)]
enum EtfCommand {
    /// Read one ETF term (from FILE, or stdin) and print it as Erlang term
    /// text, re-readable by erl_scan/erl_parse when it holds no pids,
    /// ports, references or funs.
    Decode {
        /// The ETF bytes (starting with the version byte 131); stdin if absent.
        file: Option<PathBuf>,
    },
    /// Read one Erlang term as text (as io:format's ~p/~tp/~w/~tw print it,
    /// trailing `.` optional) and write its ETF bytes to stdout.
    Encode {
        /// The term text (UTF-8); stdin if absent.
        file: Option<PathBuf>,
        /// Compress with zlib, as term_to_binary's {compressed, LEVEL}
        /// (0-9; 6 when no level is given).
        #[arg(long, value_name = "LEVEL", num_args = 0..=1, require_equals = true,
              default_missing_value = "6",
              value_parser = clap::value_parser!(u32).range(0..=9))]
        compressed: Option<u32>,
        /// term_to_binary's {minor_version, N}: 0 writes floats as text,
        /// 1 (the default) as IEEE doubles, 2 also writes all atoms as UTF-8.
        #[arg(long, value_name = "N", default_value_t = 1,
              value_parser = clap::value_parser!(u8).range(0..=2))]
        minor_version: u8,
        /// Write map entries in key order, as term_to_binary's `deterministic`.
        #[arg(long)]
        deterministic: bool,
    },
}

/// Runs `ferrotp etf ...`; errors carry the subcommand (`etf decode: ...`).
pub fn run(args: EtfArgs) -> Result<()> {
    match args.command {
        EtfCommand::Decode { file } => decode(file.as_deref()).context("etf decode"),
        EtfCommand::Encode {
            file,
            compressed,
            minor_version,
            deterministic,
        } => {
            let opts = EncodeOptions {
                minor_version,
                compressed,
                deterministic,
            };
            encode(file.as_deref(), &opts).context("etf encode")
        }
    }
}

fn decode(file: Option<&Path>) -> Result<()> {
    let bytes = read_input(file)?;
    let term = etf::decode(&bytes)?;
    write_output(format!("{term}\n").as_bytes())
}

fn encode(file: Option<&Path>, opts: &EncodeOptions) -> Result<()> {
    let bytes = read_input(file)?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| anyhow!("at byte {}: input is not UTF-8", e.valid_up_to()))?;
    let term = etf::parse(text)?;
    write_output(&etf::encode_with(&term, opts))
}

fn read_input(file: Option<&Path>) -> Result<Vec<u8>> {
    match file {
        Some(path) => fs::read(path).with_context(|| format!("cannot read {}", path.display())),
        None => {
            let mut buf = Vec::new();
            io::stdin()
                .lock()
                .read_to_end(&mut buf)
                .context("cannot read stdin")?;
            Ok(buf)
        }
    }
}

/// Writes to stdout; a reader that went away (`| head`) is not an error.
fn write_output(bytes: &[u8]) -> Result<()> {
    let mut out = io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(e).context("cannot write stdout"),
        _ => Ok(()),
    }
}
