//! `ferrotp port`: the port program, hosting Rust processes for a BEAM.
//!
//! Started by `ferrotp_port:start_link/1` on the Erlang side, never by
//! hand; its stdin and stdout carry `{packet,4}` frames of distribution
//! control messages (see the `port` crate). Logs go to stderr.
//!
//! | Command                                   | Erlang                                     |
//! |-------------------------------------------|--------------------------------------------|
//! | `ferrotp port --node-name N --peer VM`    | `ferrotp_port:start_link(#{})`             |
//! | `ferrotp port --max-memory 100000000`     | `ferrotp_port:start_link(#{max_memory => 100000000})` |
//! | `ferrotp port --echo`                     | a `{packet,4}` echo, the benchmark baseline |

use std::io::{self, BufReader, BufWriter};
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use clap::Args;
use etf::Atom;

/// `ferrotp port ...`
#[derive(Debug, Args)]
pub struct PortArgs {
    /// Echo every packet back instead of hosting processes (a benchmark
    /// baseline: the cheapest possible {packet,4} port program).
    #[arg(long)]
    echo: bool,
    /// The node name of this program's processes' pids.
    #[arg(long, value_name = "NAME", default_value = "ferrotp_port@localhost")]
    node_name: String,
    /// The node incarnation of this program's pids.
    #[arg(long, value_name = "N", default_value_t = 1)]
    creation: u32,
    /// The host VM's node name (`node()` there).
    #[arg(long, value_name = "NODE", default_value = "nonode@nohost")]
    peer: String,
    /// Cap what the program allocates at BYTES; over it, it aborts.
    #[arg(long, value_name = "BYTES")]
    max_memory: Option<u64>,
    /// Refuse frames larger than BYTES.
    #[arg(long, value_name = "BYTES", default_value_t = port::packet::DEFAULT_MAX_PACKET)]
    max_packet: usize,
    /// Milliseconds between checks that the parent process is still there
    /// (0 turns the watchdog off).
    #[arg(long, value_name = "MS", default_value_t = 500)]
    watchdog_ms: u64,
    /// Threads reading frames (1: blocking reads, and the processes a
    /// frame wakes run on the reading thread, the lowest latency; more: a
    /// tokio runtime of N threads reads). Processes woken otherwise run on
    /// the program's scheduler threads.
    #[arg(long, value_name = "N", default_value_t = 1)]
    threads: usize,
    /// Microseconds the reader may busy-wait for the next frame before it
    /// sleeps, while that pays (0: never; see dist::busy_wait).
    #[arg(long, value_name = "US", default_value_t = port::program::DEFAULT_BUSY_WAIT.as_micros() as u64)]
    busy_wait_us: u64,
}

fn atom(text: &str, what: &str) -> Result<Atom> {
    Atom::try_new(text).map_err(|e| anyhow!("bad {what} {text:?}: {e}"))
}

/// Runs `ferrotp port ...` until stdin closes.
pub fn run(args: PortArgs) -> Result<()> {
    tracing_subscriber::fmt()
        .with_writer(io::stderr)
        .with_env_filter(
            // Warnings, and the lines `sys:trace/2` prints (stderr is the
            // VM's own).
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,ferrotp::sys=info".into()),
        )
        .try_init()
        .ok();
    // The cap on what the program allocates (the address space it
    // reserves at start-up is too large for `setrlimit` to cap it).
    if let Some(bytes) = args.max_memory {
        crate::capped_alloc::cap(bytes);
    }
    if args.echo {
        let mut input = BufReader::new(io::stdin().lock());
        let mut output = BufWriter::new(io::stdout().lock());
        return port::echo::run(&mut input, &mut output, args.max_packet).context("port --echo");
    }
    let config = port::Config {
        node_name: atom(&args.node_name, "--node-name")?,
        creation: args.creation,
        peer: atom(&args.peer, "--peer")?,
        max_packet: args.max_packet,
        watchdog: (args.watchdog_ms > 0).then(|| Duration::from_millis(args.watchdog_ms)),
        threads: args.threads,
        max_memory: None,
        busy_wait: Duration::from_micros(args.busy_wait_us),
    };
    match port::run(config) {
        Ok(()) => Ok(()),
        Err(e) => {
            eprintln!("ferrotp: port: {e}");
            std::process::exit(e.exit_status());
        }
    }
}
