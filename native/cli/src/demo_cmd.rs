//! `ferrotp demo`: the seed's let-it-crash story, standalone and narrated.
//!
//! ```text
//! $ ferrotp demo
//! ```
//!
//! 1. `top_sup` (one_for_one, intensity 3, period 10) starts with the
//!    built-in `counter` as its registered, permanent child — from the
//!    very flags and child spec the seed's `top_sup:init/1` returns
//!    (`{counter, start_link, []}`: from 0, registered as `counter`).
//! 2. The counter is bumped and read (`{bump, N}` casts, a `value` call).
//! 3. A cast it does not understand crashes it; top_sup restarts it in
//!    its known-good state, 0.
//! 4. Three more crashes within the period are one too many: top_sup
//!    terminates its children and exits `shutdown` (escalation).
//!
//! Every event is on one timeline (seconds since start): the narration,
//! and the runtime's own crash and supervisor reports, as `tracing`
//! events. Exits 0 when the story went as expected, 1 otherwise (naming
//! the step that did not).

use std::time::Duration;

use anyhow::{anyhow, bail, ensure, Context, Result};
use clap::Args;
use etf::{Atom, Pid, Term};
use ferrotp::counter::Counter;
use ferrotp::supervisor::{self, SupOpts};
use ferrotp::{call, Node, Process};
use num_bigint::BigInt;

/// `ferrotp demo`
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Show every runtime event (the gen_server's own error lines too).
    #[arg(long)]
    verbose: bool,
}

/// `top_sup:init/1`, in Erlang's words.
const SUP_FLAGS: &str = "#{strategy => one_for_one, intensity => 3, period => 10}";
const CHILD_SPECS: &str = "[#{id => counter,
                              start => {counter, start_link, []},
                              restart => permanent, shutdown => 5000, type => worker}]";

/// How long any one step may take before the story counts as failed.
const STEP: Duration = Duration::from_secs(10);

macro_rules! say {
    ($($arg:tt)*) => { tracing::info!(target: "demo", $($arg)*) };
}

/// Runs the story; `Err` names what went differently.
pub fn run(args: DemoArgs) -> Result<()> {
    // The gen_server's own error lines repeat what the crash and
    // supervisor reports say; --verbose shows them too.
    let level = if args.verbose {
        "info"
    } else {
        "info,ferrotp::gen_server=off"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_timer(tracing_subscriber::fmt::time::uptime())
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_writer(std::io::stdout)
        .try_init();
    let node = Node::local();
    let outcome = node
        .block_on_process(|mut ctx| async move { story(&mut ctx).await })
        .map_err(|reason| anyhow!("demo: the story's own process died: {reason}"))?;
    outcome.context("demo")?;
    say!("the story went as expected: crash, restart in a known-good state, escalation");
    Ok(())
}

fn counter_name() -> Atom {
    Atom::new("counter")
}

async fn story(ctx: &mut Process) -> Result<()> {
    // We are top_sup's parent: trap exits to watch it escalate and live on.
    ctx.trap_exit(true);
    say!("starting top_sup: {SUP_FLAGS}");
    let flags = etf::parse(SUP_FLAGS).context("top_sup flags")?;
    let specs = etf::parse(CHILD_SPECS).context("top_sup child specs")?;
    let sup = supervisor::start_link_terms(ctx, flags, specs, SupOpts::named("top_sup"))
        .await
        .map_err(|r| anyhow!("top_sup did not start: {r}"))?;
    let children = supervisor::which_children(ctx, sup).await?;
    let listed: Vec<String> = children.iter().map(|c| c.to_term().to_string()).collect();
    say!("top_sup is {sup}; which_children: [{}]", listed.join(", "));

    let counter = Counter::at(counter_name());
    say!("gen_server:cast(counter, {{bump, 5}}), then {{bump, 10}}");
    counter.bump(ctx, 5);
    counter.bump(ctx, 10);
    let v = value(ctx, &counter).await?;
    say!("gen_server:call(counter, value) -> {v}");
    ensure!(
        v == BigInt::from(15),
        "after bumping 5 and 10 the counter read {v}, not 15"
    );

    say!("let it crash: gen_server:cast(counter, {{bump, not_a_number}})");
    let (old, new) = crash_counter(
        ctx,
        sup,
        Term::tuple(vec![Term::atom("bump"), Term::atom("not_a_number")]),
    )
    .await?;
    let new = new.ok_or_else(|| anyhow!("top_sup did not restart the counter"))?;
    ensure!(old != new, "the counter was not restarted");
    let v = value(ctx, &counter).await?;
    say!("restart #1 of 3 allowed: top_sup restarted it as {new} (was {old}); value -> {v}: the known-good state");
    ensure!(
        v == BigInt::from(0),
        "the restarted counter read {v}, not 0"
    );
    counter.bump(ctx, 1);
    say!(
        "and it works again: value -> {}",
        value(ctx, &counter).await?
    );

    say!("now crash it faster than top_sup allows: more than 3 restarts within 10 s");
    for n in 2..=4 {
        say!("crash #{n}: gen_server:cast(counter, reset)");
        let (_, new) = crash_counter(ctx, sup, Term::atom("reset")).await?;
        match new {
            Some(p) if n < 4 => say!("restart #{n} of 3 allowed: counter is {p}"),
            Some(p) => bail!("top_sup restarted the counter ({p}) a 4th time within its period"),
            None if n < 4 => bail!("top_sup gave up after only {n} crashes"),
            None => {}
        }
    }
    let reason = sup_exit(ctx, sup).await?;
    say!("top_sup gave up: {{'EXIT', {sup}, {reason}}} — the failure escalates to its parent");
    ensure!(
        reason.is_atom("shutdown"),
        "top_sup exited {reason}, not shutdown"
    );
    ensure!(
        ctx.whereis(counter_name()).is_none() && ctx.whereis(Atom::new("top_sup")).is_none(),
        "counter or top_sup is still registered after the escalation"
    );
    Ok(())
}

async fn value(ctx: &mut Process, counter: &Counter) -> Result<BigInt> {
    counter
        .value(ctx)
        .await
        .map_err(|r| anyhow!("gen_server:call(counter, value) failed: {r}"))
}

/// Sends the counter a cast that crashes it, waits for it to die and for
/// top_sup to have handled that; the old pid and the new one (`None` if
/// top_sup is gone).
async fn crash_counter(ctx: &mut Process, sup: Pid, bad: Term) -> Result<(Pid, Option<Pid>)> {
    let old = ctx
        .whereis(counter_name())
        .ok_or_else(|| anyhow!("no process is registered as counter"))?;
    let watch = ctx.monitor(&old);
    call::cast(ctx, old, bad);
    let tag = Term::Reference(watch);
    let down = ctx
        .receive_match(
            |m| {
                m.as_term()
                    .and_then(Term::as_tuple)
                    .is_some_and(|t| t.len() == 5 && t[1] == tag)
            },
            Some(STEP),
        )
        .await
        .and_then(|m| m.into_term().ok())
        .ok_or_else(|| anyhow!("the counter did not crash"))?;
    if let Some([.., reason]) = down.as_tuple() {
        say!("counter {old} crashed: {reason}");
    }
    // top_sup handles the 'EXIT' before this call, so it has restarted
    // the counter (or given up) once it answers.
    match supervisor::which_children(ctx, sup).await {
        Ok(children) => Ok((old, children.first().and_then(|c| c.pid()))),
        Err(_) => Ok((old, None)),
    }
}

async fn sup_exit(ctx: &mut Process, sup: Pid) -> Result<Term> {
    let m = ctx
        .receive_match(
            |m| {
                m.as_term()
                    .and_then(Term::as_tuple)
                    .is_some_and(|t| t.len() == 3 && t[0].is_atom("EXIT") && t[1] == Term::Pid(sup))
            },
            Some(STEP),
        )
        .await
        .ok_or_else(|| anyhow!("top_sup did not exit"))?;
    match m.into_term() {
        Ok(Term::Tuple(mut t)) => t.pop().ok_or_else(|| anyhow!("malformed 'EXIT'")),
        _ => bail!("malformed 'EXIT'"),
    }
}
