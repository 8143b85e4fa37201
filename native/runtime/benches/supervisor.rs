//! Supervisor benchmarks, against OTP's supervisor in the same run.
//!
//! `cargo bench -p ferrotp --bench supervisor` measures, on ferrotp and on
//! `erl` (if installed), with the same counter gen_server as the child:
//! - restart: crash the one child of a one_for_one supervisor R times (a
//!   cast it has no clause for), each time waiting for its death and for
//!   the supervisor to answer `which_children` with the new child;
//! - start_child: N dynamic children of a simple_one_for_one supervisor;
//! - shutdown: the supervisor terminating those N children at once.
//!
//! Prints each time and the ratio ferrotp / BEAM (lower is better).

use std::process::Command;
use std::time::{Duration, Instant};

use etf::{Pid, Term};
use ferrotp::supervisor::{self, SupOpts};
use ferrotp::{call, Node, Process};

const RESTARTS: i64 = 10_000;
const CHILDREN: i64 = 10_000;

async fn crash_loop(ctx: &mut Process, sup: Pid) {
    for _ in 0..RESTARTS {
        let kids = supervisor::which_children(ctx, sup)
            .await
            .unwrap_or_default();
        let Some(child) = kids.first().and_then(|k| k.pid()) else {
            return;
        };
        let r = ctx.monitor(&child);
        call::cast(ctx, child, Term::atom("crash"));
        let tag = Term::Reference(r);
        let _ = ctx
            .receive_match(
                |m| {
                    m.as_term()
                        .and_then(Term::as_tuple)
                        .is_some_and(|t| t.len() == 5 && t[1] == tag)
                },
                None,
            )
            .await;
    }
}

async fn wait_exit(ctx: &mut Process, sup: Pid) {
    let _ = ctx
        .receive_match(
            |m| {
                m.as_term()
                    .and_then(Term::as_tuple)
                    .is_some_and(|t| t.len() == 3 && t[1] == Term::Pid(sup))
            },
            None,
        )
        .await;
}

fn ferrotp(node: &Node) -> (Duration, Duration, Duration) {
    node.block_on_process(|mut ctx| async move {
        ctx.trap_exit(true);
        let parse = |s: &str| etf::parse(s).unwrap_or_else(|_| Term::nil());
        let sup = supervisor::start_link_terms(
            &mut ctx,
            parse("#{intensity => 10000000, period => 1}"),
            parse("[#{id => c, start => {counter, start_link, [0]}}]"),
            SupOpts::default(),
        )
        .await
        .expect("supervisor");
        let t = Instant::now();
        crash_loop(&mut ctx, sup).await;
        let restart = t.elapsed();
        ctx.exit(&sup, Term::atom("shutdown"));
        wait_exit(&mut ctx, sup).await;

        let sup = supervisor::start_link_terms(
            &mut ctx,
            parse("#{strategy => simple_one_for_one}"),
            parse("[#{id => c, start => {counter, start_link, []}}]"),
            SupOpts::default(),
        )
        .await
        .expect("supervisor");
        let t = Instant::now();
        for i in 0..CHILDREN {
            let _ = supervisor::start_dynamic_child(&mut ctx, sup, vec![Term::Int(i)]).await;
        }
        let start_child = t.elapsed();
        let t = Instant::now();
        ctx.exit(&sup, Term::atom("shutdown"));
        wait_exit(&mut ctx, sup).await;
        (restart, start_child, t.elapsed())
    })
    .unwrap_or_default()
}

const ERL_BENCH: &str = r#"
-module(sup_bench).
-behaviour(supervisor).
-export([main/1, init/1, start_counter/1, handle_call/3, handle_cast/2]).

main([Restarts, Children]) ->
    logger:set_primary_config(level, none),
    process_flag(trap_exit, true),
    R = list_to_integer(Restarts),
    N = list_to_integer(Children),
    {ok, Sup} = supervisor:start_link(?MODULE, {sup, #{intensity => 10000000, period => 1},
                                                [#{id => c, start => {?MODULE, start_counter, [0]}}]}),
    {T1, _} = timer:tc(fun() -> crash_loop(Sup, R) end),
    exit(Sup, shutdown),
    receive {'EXIT', Sup, _} -> ok end,
    {ok, S2} = supervisor:start_link(?MODULE, {sup, #{strategy => simple_one_for_one},
                                               [#{id => c, start => {?MODULE, start_counter, []}}]}),
    {T2, _} = timer:tc(fun() -> [{ok, _} = supervisor:start_child(S2, [I]) || I <- lists:seq(1, N)] end),
    {T3, _} = timer:tc(fun() -> exit(S2, shutdown), receive {'EXIT', S2, _} -> ok end end),
    io:format("~p ~p ~p~n", [T1, T2, T3]),
    init:stop().

crash_loop(_, 0) -> ok;
crash_loop(Sup, K) ->
    [{c, P, _, _}] = supervisor:which_children(Sup),
    Ref = monitor(process, P),
    gen_server:cast(P, crash),
    receive {'DOWN', Ref, _, _, _} -> ok end,
    crash_loop(Sup, K - 1).

start_counter(N) -> gen_server:start_link(?MODULE, {counter, N}, []).

init({sup, Flags, Specs}) -> {ok, {Flags, Specs}};
init({counter, N}) -> {ok, N}.

handle_cast({bump, N}, C) -> {noreply, C + N}.
handle_call(value, _From, C) -> {reply, C, C}.
"#;

fn beam() -> Option<(Duration, Duration, Duration)> {
    let dir = std::env::temp_dir().join(format!("ferrotp_sup_bench_{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let src = dir.join("sup_bench.erl");
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
            "sup_bench",
            "main",
            &RESTARTS.to_string(),
            &CHILDREN.to_string(),
        ])
        .output()
        .ok()?;
    let _ = std::fs::remove_dir_all(&dir);
    let text = String::from_utf8_lossy(&out.stdout);
    let mut nums = text
        .split_whitespace()
        .filter_map(|w| w.parse::<u64>().ok());
    Some((
        Duration::from_micros(nums.next()?),
        Duration::from_micros(nums.next()?),
        Duration::from_micros(nums.next()?),
    ))
}

fn report(what: &str, ours: Duration, theirs: Option<Duration>) {
    match theirs {
        Some(b) => println!(
            "{what:<34} ferrotp {:>9.2} ms   BEAM {:>9.2} ms   ratio {:.2}",
            ours.as_secs_f64() * 1e3,
            b.as_secs_f64() * 1e3,
            ours.as_secs_f64() / b.as_secs_f64().max(1e-9)
        ),
        None => println!(
            "{what:<34} ferrotp {:>9.2} ms   (erl not available)",
            ours.as_secs_f64() * 1e3
        ),
    }
}

fn main() {
    let node = Node::local();
    let _ = ferrotp(&node); // warm up
    let (restart, start_child, shutdown) = ferrotp(&node);
    let beam = beam();
    report(
        &format!("crash+restart x{RESTARTS}"),
        restart,
        beam.map(|b| b.0),
    );
    report(
        &format!("start_child x{CHILDREN}"),
        start_child,
        beam.map(|b| b.1),
    );
    report(
        &format!("shutdown of {CHILDREN} children"),
        shutdown,
        beam.map(|b| b.2),
    );
}
