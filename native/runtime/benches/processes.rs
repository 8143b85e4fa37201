//! The runtime benchmark, side by side with the BEAM in one run.
//!
//! `cargo bench -p ferrotp --bench processes` (what `make bench` runs) runs
//! six workloads on ferrotp, then the very same workloads on `erl`
//! (`bench/beam_runtime_bench.erl`, compiled into a temporary directory),
//! and prints one table: workload, ferrotp, BEAM, and the ratio, oriented
//! so that a ratio above 1.0 means ferrotp did better.
//!
//! | workload            | what is measured                                        |
//! |---------------------|---------------------------------------------------------|
//! | `spawn_exit_us`     | spawn 1M processes that return at once, until all gone  |
//! | `idle_bytes`        | memory per process waiting in `receive` (100k of them)  |
//! | `ring_msgs_per_s`   | a 10 000-process ring, a token sent round 100 times     |
//! | `ping_pong_us`      | `{ping, Self}` / `pong` round trips between two processes |
//! | `gen_server_call_us`| `gen_server:call(Counter, value)`: typed Rust, and terms |
//! | `restart_us`        | `exit(Child, kill)` until `which_children` shows the new one |
//!
//! `FERROTP_BENCH_SCALE=10` (or a numeric argument) divides every size by
//! 10 for a quick run. ferrotp's idle bytes are the growth of the resident
//! set (`/proc/self/statm`); the BEAM's are `erlang:memory(total)`'s.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use etf::Term;
use ferrotp::counter::Counter;
use ferrotp::gen_server::{self, CallResult, GenServer, GenServerRef, Init, Opts};
use ferrotp::supervisor::{self, ChildSpec, Start, SupFlags, SupOpts};
use ferrotp::{exit, Node, Process};
use serde::{Deserialize, Serialize};

/// The seed's counter as a typed Rust gen_server (the typed call path).
struct TypedCounter(i64);

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum CounterCall {
    Value,
}

impl GenServer for TypedCounter {
    type Arg = i64;
    type Call = CounterCall;
    type Reply = i64;
    type Cast = ();
    type Continue = ();
    async fn init(n: i64, _ctx: &mut Process) -> Init<Self> {
        Init::Ok(TypedCounter(n))
    }
    async fn handle_call(
        &mut self,
        _: CounterCall,
        _: gen_server::From,
        _: &mut Process,
    ) -> CallResult<Self> {
        CallResult::Reply(self.0)
    }
}

/// One result line: a value, and whether a smaller value is better.
struct Measure {
    name: &'static str,
    beam_name: &'static str,
    value: f64,
    unit: &'static str,
    lower_is_better: bool,
}

impl Measure {
    fn time(
        name: &'static str,
        beam_name: &'static str,
        per_op: Duration,
        unit: &'static str,
    ) -> Self {
        Measure {
            name,
            beam_name,
            value: per_op.as_secs_f64() * 1e6,
            unit,
            lower_is_better: true,
        }
    }
}

/// The divisor of every workload size (1 = the full run).
fn scale() -> u64 {
    let from_args = std::env::args().skip(1).find_map(|a| a.parse::<u64>().ok());
    let from_env = std::env::var("FERROTP_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse::<u64>().ok());
    from_args.or(from_env).unwrap_or(1).max(1)
}

fn per_op(elapsed: Duration, n: u64) -> Duration {
    elapsed / u32::try_from(n.max(1)).unwrap_or(u32::MAX)
}

/// Resident set size of this process, in bytes (`/proc/self/statm`).
fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let resident: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(resident * 4096)
}

/// Waits until the node has no more than `base` processes.
async fn wait_gone(ctx: &Process, base: usize) {
    while ctx.node().process_count() > base {
        ctx.yield_now().await;
    }
}

/// Spawn `n` processes that exit at once; wait until all are gone.
fn spawn_exit(node: &Node, n: u64) -> Option<Measure> {
    let elapsed = node
        .block_on_process(move |ctx| async move {
            let base = ctx.node().process_count();
            let start = Instant::now();
            for _ in 0..n {
                ctx.spawn(|_| async {});
            }
            wait_gone(&ctx, base).await;
            start.elapsed()
        })
        .ok()?;
    Some(Measure::time(
        "spawn_exit_us",
        "spawn_exit_us",
        per_op(elapsed, n),
        "us/process",
    ))
}

/// Bytes per idle process, waiting in `receive`.
fn idle_memory(node: &Node, n: u64) -> Option<Measure> {
    let bytes = node
        .block_on_process(move |ctx| async move {
            let base = ctx.node().process_count();
            let before = rss_bytes()?;
            let pids: Vec<_> = (0..n)
                .map(|_| {
                    ctx.spawn(|mut c: Process| async move {
                        let _ = c.receive().await;
                    })
                })
                .collect();
            // Let every process run up to its `receive` (its first poll).
            tokio::time::sleep(Duration::from_millis(200)).await;
            let after = rss_bytes()?;
            let stop = Term::atom("stop");
            for p in &pids {
                ctx.send(p, stop.clone());
            }
            wait_gone(&ctx, base).await;
            Some(after.saturating_sub(before) as f64 / n as f64)
        })
        .ok()??;
    Some(Measure {
        name: "idle_bytes",
        beam_name: "idle_bytes",
        value: bytes,
        unit: "bytes/process",
        lower_is_better: true,
    })
}

/// A ring of `n` processes (this one included); a token goes round `laps` times.
fn ring(node: &Node, n: u64, laps: u64) -> Option<Measure> {
    let elapsed = node
        .block_on_process(move |mut ctx| async move {
            let token = Term::atom("token");
            let mut next = ctx.pid();
            for _ in 1..n {
                let to = next;
                next = ctx.spawn(move |mut c: Process| async move {
                    // Compared as an atom index, as the BEAM matches atoms.
                    let stop_atom = Term::atom("stop");
                    loop {
                        let Ok(msg) = c.receive().await.into_term() else {
                            continue;
                        };
                        let stop = msg == stop_atom;
                        c.send(&to, msg);
                        if stop {
                            return;
                        }
                    }
                });
            }
            let first = next;
            let start = Instant::now();
            for _ in 0..laps {
                ctx.send(&first, token.clone());
                let _ = ctx.receive().await;
            }
            let elapsed = start.elapsed();
            ctx.send(&first, Term::atom("stop"));
            let _ = ctx.receive().await;
            elapsed
        })
        .ok()?;
    Some(Measure {
        name: "ring_msgs_per_s",
        beam_name: "ring_msgs_per_s",
        value: (n * laps) as f64 / elapsed.as_secs_f64().max(1e-9),
        unit: "msgs/s",
        lower_is_better: false,
    })
}

/// `n` round trips: `{ping, Self}` there, `pong` back.
fn ping_pong(node: &Node, n: u64) -> Option<Measure> {
    let elapsed = node
        .block_on_process(move |mut ctx| async move {
            let pong = ctx.spawn(|mut c: Process| async move {
                let reply = Term::atom("pong");
                loop {
                    let Ok(msg) = c.receive().await.into_term() else {
                        continue;
                    };
                    match msg.as_tuple() {
                        Some([_, Term::Pid(from)]) => c.send(from, reply.clone()),
                        _ => return,
                    }
                }
            });
            let ping = Term::tuple(vec![Term::atom("ping"), Term::Pid(ctx.pid())]);
            let start = Instant::now();
            for _ in 0..n {
                ctx.send(&pong, ping.clone());
                let _ = ctx.receive().await;
            }
            let elapsed = start.elapsed();
            ctx.send(&pong, Term::atom("stop"));
            elapsed
        })
        .ok()?;
    Some(Measure::time(
        "ping_pong_us",
        "ping_pong_us",
        per_op(elapsed, n),
        "us/round-trip",
    ))
}

/// `n` typed `GenServerRef::call`s to a counter.
fn typed_call(node: &Node, n: u64) -> Option<Measure> {
    let elapsed = node
        .block_on_process(move |mut ctx| async move {
            let server: GenServerRef<TypedCounter> =
                gen_server::start::<TypedCounter>(&mut ctx, 0, Opts::default())
                    .await
                    .ok()?;
            let start = Instant::now();
            for _ in 0..n {
                server
                    .call(&mut ctx, CounterCall::Value, gen_server::DEFAULT_TIMEOUT)
                    .await
                    .ok()?;
            }
            let elapsed = start.elapsed();
            let _ = server
                .stop(&mut ctx, exit::normal(), gen_server::DEFAULT_TIMEOUT)
                .await;
            Some(elapsed)
        })
        .ok()??;
    Some(Measure::time(
        "call typed (Rust)",
        "gen_server_call_us",
        per_op(elapsed, n),
        "us/call",
    ))
}

/// `n` `{'$gen_call', {Self, Ref}, value}` calls to the built-in seed counter.
fn term_call(node: &Node, n: u64) -> Option<Measure> {
    let elapsed = node
        .block_on_process(move |mut ctx| async move {
            let counter = Counter::start_link(&mut ctx, 0).await.ok()?;
            let pid = counter.pid()?;
            let value = Term::atom("value");
            let start = Instant::now();
            for _ in 0..n {
                gen_server::call_term(&mut ctx, pid, value.clone(), gen_server::DEFAULT_TIMEOUT)
                    .await
                    .ok()?;
            }
            let elapsed = start.elapsed();
            ctx.unlink(&pid);
            ctx.exit(&pid, exit::kill());
            Some(elapsed)
        })
        .ok()??;
    Some(Measure::time(
        "call $gen_call (terms)",
        "gen_server_call_us",
        per_op(elapsed, n),
        "us/call",
    ))
}

/// Time from a child's `exit(Child, kill)` until `which_children` shows its replacement.
fn restart(node: &Node, n: u64) -> Option<Measure> {
    let total = node
        .block_on_process(move |mut ctx| async move {
            ctx.trap_exit(true);
            let flags = SupFlags::one_for_one().intensity(1_000_000).period(1);
            let child = ChildSpec::worker(
                "counter",
                Start::mfa("counter", "start_link", vec![Term::Int(0)]),
            );
            let sup = supervisor::start_link(&mut ctx, flags, vec![child], SupOpts::default())
                .await
                .ok()?;
            let mut total = Duration::ZERO;
            for _ in 0..n {
                let children = supervisor::which_children(&mut ctx, sup).await.ok()?;
                let old = children.first()?.pid()?;
                let start = Instant::now();
                ctx.exit(&old, exit::kill());
                loop {
                    let children = supervisor::which_children(&mut ctx, sup).await.ok()?;
                    if children
                        .first()
                        .and_then(|c| c.pid())
                        .is_some_and(|p| p != old)
                    {
                        break;
                    }
                }
                total += start.elapsed();
            }
            ctx.unlink(&sup);
            let _ = supervisor::stop(&mut ctx, sup, exit::shutdown()).await;
            Some(total)
        })
        .ok()??;
    Some(Measure::time(
        "restart_us",
        "restart_us",
        per_op(total, n),
        "us/restart",
    ))
}

/// Runs `bench/beam_runtime_bench.erl` at `scale`; its `name value unit` lines.
fn beam(scale: u64) -> Result<Vec<(String, f64)>, String> {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../bench");
    let dir = std::env::temp_dir().join(format!("ferrotp_rtbench_{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let modules = ["beam_runtime_bench", "beam_bench_counter", "beam_bench_sup"];
    let compiled = Command::new("erlc")
        .arg("-o")
        .arg(&dir)
        .args(modules.iter().map(|m| src.join(format!("{m}.erl"))))
        .status()
        .map_err(|e| format!("erlc: {e}"))?;
    if !compiled.success() {
        let _ = std::fs::remove_dir_all(&dir);
        return Err("erlc failed".into());
    }
    let out = Command::new("erl")
        .args(["-noshell", "-pa"])
        .arg(&dir)
        .arg("-eval")
        .arg(format!("beam_runtime_bench:main([\"{scale}\"]), halt()."))
        .output()
        .map_err(|e| format!("erl: {e}"));
    let _ = std::fs::remove_dir_all(&dir);
    let out = out?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let name = words.next()?;
            let value = words.next()?.parse::<f64>().ok()?;
            Some((name.to_string(), value))
        })
        .collect())
}

fn print_table(ours: &[Measure], theirs: &[(String, f64)]) {
    println!(
        "{:<24} {:>14} {:>14} {:>7}  unit (ratio > 1.0: ferrotp better)",
        "workload", "ferrotp", "BEAM", "ratio"
    );
    for m in ours {
        let beam = theirs
            .iter()
            .find(|(name, _)| name == m.beam_name)
            .map(|(_, v)| *v);
        let (beam_text, ratio) = match beam {
            Some(b) => {
                let ratio = if m.lower_is_better {
                    b / m.value.max(1e-12)
                } else {
                    m.value / b.max(1e-12)
                };
                (format!("{b:.3}"), format!("{ratio:.2}"))
            }
            None => ("-".to_string(), "-".to_string()),
        };
        println!(
            "{:<24} {:>14.3} {:>14} {:>7}  {}",
            m.name, m.value, beam_text, ratio, m.unit
        );
    }
}

fn main() {
    let scale = scale();
    // `FERROTP_BENCH_ONLY=ring` runs just the workloads whose name contains
    // `ring`, without the BEAM side (for profiling).
    let only = std::env::var("FERROTP_BENCH_ONLY").ok();
    let wanted = |name: &str| only.as_deref().map_or(true, |o| name.contains(o));
    let node = Node::local();
    println!("ferrotp runtime benchmark, scale 1/{scale} (FERROTP_BENCH_SCALE)");
    type Workload = (&'static str, Box<dyn Fn(&Node) -> Option<Measure>>);
    let workloads: Vec<Workload> = vec![
        // Idle memory first, while the allocator has no freed memory to reuse.
        (
            "idle_bytes",
            Box::new(move |n| idle_memory(n, 100_000 / scale)),
        ),
        (
            "spawn_exit",
            Box::new(move |n| spawn_exit(n, 1_000_000 / scale)),
        ),
        (
            "ring",
            Box::new(move |n| ring(n, 10_000, (100 / scale).max(1))),
        ),
        (
            "ping_pong",
            Box::new(move |n| ping_pong(n, 200_000 / scale)),
        ),
        (
            "call_typed",
            Box::new(move |n| typed_call(n, 200_000 / scale)),
        ),
        (
            "call_term",
            Box::new(move |n| term_call(n, 200_000 / scale)),
        ),
        ("restart", Box::new(move |n| restart(n, 2_000 / scale))),
    ];
    let mut ours: Vec<Measure> = workloads
        .iter()
        .filter(|(name, _)| wanted(name))
        .filter_map(|(_, run)| run(&node))
        .collect();
    // The table lists them in the BEAM module's order.
    let order = [
        "spawn_exit_us",
        "idle_bytes",
        "ring_msgs_per_s",
        "ping_pong_us",
        "gen_server_call_us",
        "restart_us",
    ];
    ours.sort_by_key(|m| order.iter().position(|o| *o == m.beam_name));
    let theirs = if only.is_some() {
        Vec::new()
    } else {
        match beam(scale) {
            Ok(t) => t,
            Err(e) => {
                println!("(BEAM side not run: {e})");
                Vec::new()
            }
        }
    };
    print_table(&ours, &theirs);
}
