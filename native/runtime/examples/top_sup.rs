//! The seed's supervision tree: `top_sup` (one_for_one, intensity 3,
//! period 10) with a registered `counter` child, started from the same
//! child spec an Erlang `top_sup:init/1` returns.
//!
//! ```text
//! cargo run -p ferrotp --example top_sup
//! ```
//!
//! Bumps and reads the counter, crashes it with a cast it does not
//! understand (it comes back at 0), then crashes it until top_sup gives
//! up. Supervisor reports are printed through `tracing`.

use etf::{Atom, Term};
use ferrotp::counter::Counter;
use ferrotp::supervisor::{self, SupOpts};
use ferrotp::{call, Node, Process};

/// `top_sup:init/1`'s return, in Erlang's own words.
const FLAGS: &str = "#{strategy => one_for_one, intensity => 3, period => 10}";
const CHILDREN: &str = "[#{id => counter,
                           start => {counter, start_link, []},
                           restart => permanent, shutdown => 5000, type => worker}]";

async fn crash_counter(ctx: &mut Process, sup: etf::Pid) {
    let Some(victim) = ctx.whereis(Atom::new("counter")) else {
        return;
    };
    let watch = ctx.monitor(&victim);
    call::cast(ctx, victim, Term::atom("reset")); // counter has no such cast
    let _ = ctx.receive_match(|m| m.is_tagged("DOWN"), None).await;
    let _ = watch;
    // top_sup has restarted it (or given up) once it answers.
    let _ = supervisor::which_children(ctx, sup).await;
}

fn main() {
    tracing_subscriber::fmt().with_target(false).init();
    let node = Node::local();
    let outcome = node.block_on_process(|mut ctx| async move {
        ctx.trap_exit(true);
        let flags = etf::parse(FLAGS).map_err(|e| e.to_string())?;
        let children = etf::parse(CHILDREN).map_err(|e| e.to_string())?;
        let sup =
            supervisor::start_link_terms(&mut ctx, flags, children, SupOpts::named("top_sup"))
                .await
                .map_err(|e| e.to_string())?;
        let counter = Counter::at(Atom::new("counter"));
        counter.bump(&ctx, 5);
        println!("counter after bump(5): {:?}", counter.value(&mut ctx).await);
        crash_counter(&mut ctx, sup).await;
        println!(
            "counter after a crash: {:?} (restarted from init)",
            counter.value(&mut ctx).await
        );
        for _ in 0..3 {
            crash_counter(&mut ctx, sup).await;
        }
        let exit = ctx.receive_match(|m| m.is_tagged("EXIT"), None).await;
        println!(
            "top_sup: {:?}",
            exit.and_then(|m| m.into_term().ok()).map(|t| t.to_string())
        );
        Ok::<(), String>(())
    });
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(e)) => eprintln!("top_sup example failed: {e}"),
        Err(reason) => eprintln!("top_sup example crashed: {reason}"),
    }
}
