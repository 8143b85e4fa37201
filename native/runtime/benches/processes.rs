//! Process benchmarks, against the BEAM in the same run.
//!
//! `cargo bench -p ferrotp --bench processes` measures, on ferrotp and on
//! `erl` (if installed):
//! - spawn: spawn N processes that each send one message to the parent and exit;
//! - ping-pong: M round trips between two processes;
//! - gen_server call: M `gen_server:call`s to a counter (typed Rust calls,
//!   and the `{'$gen_call', ..}` term path).
//!
//! and prints each time and the ratio ferrotp / BEAM (lower is better).

use std::process::Command;
use std::time::{Duration, Instant};

use etf::Term;
use ferrotp::gen_server::{self, CallResult, GenServer, Init, Opts};
use ferrotp::{Node, Process};
use serde::{Deserialize, Serialize};

struct Counter(i64);

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Call {
    Value,
}

impl GenServer for Counter {
    type Arg = i64;
    type Call = Call;
    type Reply = i64;
    type Cast = ();
    type Continue = ();
    async fn init(n: i64, _ctx: &mut Process) -> Init<Self> {
        Init::Ok(Counter(n))
    }
    async fn handle_call(
        &mut self,
        _: Call,
        _: gen_server::From,
        _: &mut Process,
    ) -> CallResult<Self> {
        CallResult::Reply(self.0)
    }
}

fn ferrotp_calls(node: &Node, typed: bool) -> Duration {
    node.block_on_process(move |mut ctx| async move {
        let Ok(c) = gen_server::start_link::<Counter>(&mut ctx, 0, Opts::default()).await else {
            return Duration::ZERO;
        };
        let start = Instant::now();
        for _ in 0..ROUND_TRIPS {
            if typed {
                let _ = c
                    .call(&mut ctx, Call::Value, gen_server::DEFAULT_TIMEOUT)
                    .await;
            } else {
                let _ = gen_server::call_term(
                    &mut ctx,
                    c.pid(),
                    Term::atom("value"),
                    gen_server::DEFAULT_TIMEOUT,
                )
                .await;
            }
        }
        start.elapsed()
    })
    .unwrap_or_default()
}

const SPAWNS: i64 = 100_000;
const ROUND_TRIPS: i64 = 100_000;

fn ferrotp_spawn(node: &Node) -> Duration {
    node.block_on_process(|mut ctx| async move {
        let me = ctx.pid();
        let start = Instant::now();
        for i in 0..SPAWNS {
            ctx.spawn(move |c| async move {
                c.send(&me, Term::Int(i));
            });
        }
        for _ in 0..SPAWNS {
            ctx.receive().await;
        }
        start.elapsed()
    })
    .unwrap_or_default()
}

fn ferrotp_ping_pong(node: &Node) -> Duration {
    node.block_on_process(|mut ctx| async move {
        let me = ctx.pid();
        let echo = ctx.spawn(move |mut c| async move {
            for _ in 0..ROUND_TRIPS {
                if let Ok(t) = c.receive().await.into_term() {
                    c.send(&me, t);
                }
            }
        });
        let start = Instant::now();
        for i in 0..ROUND_TRIPS {
            ctx.send(&echo, Term::Int(i));
            ctx.receive().await;
        }
        start.elapsed()
    })
    .unwrap_or_default()
}

const ERL_BENCH: &str = r#"
-module(ferrotp_bench).
-behaviour(gen_server).
-export([main/1, init/1, handle_call/3, handle_cast/2]).

main([Spawns, Trips]) ->
    N = list_to_integer(Spawns),
    M = list_to_integer(Trips),
    Self = self(),
    spawn_all(Self, N), % warm up
    {TS, _} = timer:tc(fun() -> spawn_all(Self, N) end),
    Echo = spawn(fun() -> echo(Self, M) end),
    {TP, _} = timer:tc(fun() -> ping(Echo, M) end),
    {ok, S} = gen_server:start_link(?MODULE, 0, []),
    {TC, _} = timer:tc(fun() -> calls(S, M) end),
    io:format("~p ~p ~p~n", [TS, TP, TC]),
    init:stop().

spawn_all(Self, N) ->
    [spawn(fun() -> Self ! I end) || I <- lists:seq(1, N)],
    [receive _ -> ok end || _ <- lists:seq(1, N)],
    ok.

echo(_, 0) -> ok;
echo(Self, K) -> receive Msg -> Self ! Msg, echo(Self, K - 1) end.

calls(_, 0) -> ok;
calls(S, K) -> gen_server:call(S, value), calls(S, K - 1).

init(N) -> {ok, N}.
handle_call(value, _From, N) -> {reply, N, N}.
handle_cast(_, N) -> {noreply, N}.

ping(_, 0) -> ok;
ping(Echo, K) -> Echo ! K, receive _ -> ok end, ping(Echo, K - 1).
"#;

/// Compiles and runs the same benchmark on the BEAM (compiled, not `erl -eval`).
fn beam() -> Option<(Duration, Duration, Duration)> {
    let dir = std::env::temp_dir().join(format!("ferrotp_bench_{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let src = dir.join("ferrotp_bench.erl");
    std::fs::write(&src, ERL_BENCH).ok()?;
    let compiled = Command::new("erlc")
        .arg("-o")
        .arg(&dir)
        .arg(&src)
        .status()
        .ok()?;
    if !compiled.success() {
        return None;
    }
    let out = Command::new("erl")
        .args(["-noshell", "-pa"])
        .arg(&dir)
        .args([
            "-run",
            "ferrotp_bench",
            "main",
            &SPAWNS.to_string(),
            &ROUND_TRIPS.to_string(),
        ])
        .output()
        .ok()?;
    let _ = std::fs::remove_dir_all(&dir);
    let text = String::from_utf8_lossy(&out.stdout);
    let mut nums = text
        .split_whitespace()
        .filter_map(|w| w.parse::<u64>().ok());
    let mut next = || nums.next().map(Duration::from_micros);
    Some((next()?, next()?, next()?))
}

fn report(what: &str, ours: Duration, theirs: Option<Duration>) {
    match theirs {
        Some(b) => println!(
            "{what:<28} ferrotp {:>9.2} ms   BEAM {:>9.2} ms   ratio {:.2}",
            ours.as_secs_f64() * 1e3,
            b.as_secs_f64() * 1e3,
            ours.as_secs_f64() / b.as_secs_f64().max(1e-9)
        ),
        None => println!(
            "{what:<28} ferrotp {:>9.2} ms   (erl not available)",
            ours.as_secs_f64() * 1e3
        ),
    }
}

fn main() {
    let node = Node::local();
    // warm up
    let _ = ferrotp_spawn(&node);
    let spawn = ferrotp_spawn(&node);
    let ping = ferrotp_ping_pong(&node);
    let typed = ferrotp_calls(&node, true);
    let terms = ferrotp_calls(&node, false);
    let beam = beam();
    report(&format!("spawn+exit x{SPAWNS}"), spawn, beam.map(|b| b.0));
    report(
        &format!("ping-pong x{ROUND_TRIPS}"),
        ping,
        beam.map(|b| b.1),
    );
    report(
        &format!("gen_server call x{ROUND_TRIPS}"),
        typed,
        beam.map(|b| b.2),
    );
    report(
        &format!("call_term x{ROUND_TRIPS}"),
        terms,
        beam.map(|b| b.2),
    );
}
