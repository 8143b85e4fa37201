//! The seed's supervision tree, hosted by `ferrotp node`:
//!
//! ```erlang
//! init([]) ->
//!     {ok, {#{strategy => one_for_one, intensity => 3, period => 10},
//!           [#{id => counter, start => {counter, start_link, [0]}}]}}.
//! %% supervisor:start_link({local, top_sup}, top_sup, []),
//! %% the counter registered as counter.
//! ```

use std::sync::Arc;

use etf::{Atom, Pid, Term};
use ferrotp::counter;
use ferrotp::start::{self, Body};
use ferrotp::supervisor::child_spec::Modules;
use ferrotp::supervisor::{self, ChildSpec, Start, SupFlags, SupOpts};
use ferrotp::Process;
use num_bigint::BigInt;

/// The supervisor's registered name.
pub const TOP_SUP: &str = "top_sup";
/// The counter's registered name.
pub const COUNTER: &str = "counter";

/// `top_sup`'s flags: one_for_one, at most 3 restarts in 10 seconds.
pub fn flags() -> SupFlags {
    SupFlags::one_for_one().intensity(3).period(10)
}

/// The counter child: starts at 0 and registers as `counter` (as the
/// seed's `gen_server:start_link({local, counter}, counter, 0, [])`).
pub fn counter_child() -> ChildSpec {
    ChildSpec::worker(COUNTER, Start::Rust(Arc::new(registered_counter)))
        .modules(Modules::List(vec![Atom::new(COUNTER)]))
}

fn registered_counter() -> Body {
    let inner = counter::body(BigInt::from(0));
    start::body(move |mut c: Process, mut init: start::Init| async move {
        if let Err(e) = c.register(Atom::new(COUNTER)) {
            let reason = match c.whereis(Atom::new(COUNTER)) {
                Some(p) => start::already_started(p),
                None => Term::atom(e.to_string().as_str()),
            };
            init.error(reason.clone());
            return reason;
        }
        inner(c, init).await
    })
}

/// Starts `top_sup` (registered) with its counter, linked to `ctx`.
pub async fn start_top_sup(ctx: &mut Process) -> Result<Pid, Term> {
    supervisor::start_link(ctx, flags(), vec![counter_child()], SupOpts::named(TOP_SUP)).await
}
