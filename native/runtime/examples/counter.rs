//! The seed's counter as a typed gen_server.
//!
//! ```erlang
//! init(Count) -> {ok, Count}.
//! handle_cast({bump, N}, Count) -> {noreply, Count + N}.
//! handle_call(value, _From, Count) -> {reply, Count, Count}.
//! ```
//!
//! Run with `cargo run -p ferrotp --example counter`.

use std::time::Duration;

use etf::{Atom, Term};
use ferrotp::gen_server::{self, CallResult, CastResult, GenServer, Init, Opts};
use ferrotp::{sys, Node, Process};
use serde::{Deserialize, Serialize};

/// The state: the count.
struct Counter(i64);

/// `value` (`gen_server:call(counter, value)`).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Call {
    Value,
}

/// `{bump, N}` (`gen_server:cast(counter, {bump, N})`).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Cast {
    Bump(i64),
}

impl GenServer for Counter {
    type Arg = i64;
    type Call = Call;
    type Reply = i64;
    type Cast = Cast;
    type Continue = ();

    async fn init(count: i64, _ctx: &mut Process) -> Init<Self> {
        Init::Ok(Counter(count))
    }

    async fn handle_call(
        &mut self,
        Call::Value: Call,
        _from: gen_server::From,
        _ctx: &mut Process,
    ) -> CallResult<Self> {
        CallResult::Reply(self.0)
    }

    async fn handle_cast(&mut self, Cast::Bump(n): Cast, _ctx: &mut Process) -> CastResult<Self> {
        self.0 += n;
        CastResult::NoReply
    }

    fn state_term(&self) -> Term {
        Term::Int(self.0)
    }
}

fn main() {
    tracing_subscriber::fmt().with_target(false).init();
    let node = Node::local();
    let result = node.block_on_process(|mut ctx| async move {
        let counter =
            gen_server::start_link::<Counter>(&mut ctx, 0, Opts::named(Atom::new("counter")))
                .await
                .map_err(|e| e.to_term())?;
        for n in [1, 2, 3] {
            counter.cast(&ctx, Cast::Bump(n)).map_err(|e| e.reason())?;
        }
        let value = counter
            .call(&mut ctx, Call::Value, Duration::from_secs(5))
            .await
            .map_err(|e| e.reason())?;
        println!("counter value after bumps 1+2+3: {value}");
        // The same server, as Erlang would see it.
        let by_name = gen_server::call_term(
            &mut ctx,
            Atom::new("counter"),
            Term::atom("value"),
            Duration::from_secs(5),
        )
        .await
        .map_err(|e| e.reason())?;
        println!("gen_server:call(counter, value) -> {by_name}");
        println!(
            "sys:get_state(counter) -> {:?}",
            sys::get_state(&mut ctx, Atom::new("counter")).await
        );
        // Let it crash: a message it does not understand.
        ctx.trap_exit(true);
        let crash = gen_server::call_term(
            &mut ctx,
            counter.pid(),
            Term::atom("reset"),
            Duration::from_secs(5),
        )
        .await;
        println!("gen_server:call(counter, reset) -> {crash:?}");
        Ok::<(), Term>(())
    });
    match result {
        Ok(Ok(())) => {}
        Ok(Err(reason)) | Err(reason) => {
            eprintln!("counter example failed: {reason}");
            std::process::exit(1);
        }
    }
}
