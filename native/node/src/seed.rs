//! The seed's supervision tree, hosted by `ferrotp node`:
//!
//! ```erlang
//! init([]) ->
//!     {ok, {#{strategy => one_for_one, intensity => 3, period => 10},
//!           [#{id => counter, start => {counter, start_link, []}}]}}.
//! %% supervisor:start_link({local, top_sup}, top_sup, []),
//! %% the counter registered as counter.
//! ```

use etf::{Atom, Pid, Term};
use ferrotp::supervisor::child_spec::Modules;
use ferrotp::supervisor::{self, ChildSpec, Start, SupFlags, SupOpts};
use ferrotp::Process;

/// The supervisor's registered name.
pub const TOP_SUP: &str = "top_sup";
/// The counter's registered name.
pub const COUNTER: &str = "counter";

/// `top_sup`'s flags: one_for_one, at most 3 restarts in 10 seconds.
pub fn flags() -> SupFlags {
    SupFlags::one_for_one().intensity(3).period(10)
}

/// The counter child: `{counter, start_link, []}`, which starts at 0 and
/// registers as `counter` (as the seed's
/// `gen_server:start_link({local, counter}, counter, 0, [])`).
pub fn counter_child() -> ChildSpec {
    ChildSpec::worker(COUNTER, Start::mfa(COUNTER, "start_link", Vec::new()))
        .modules(Modules::List(vec![Atom::new(COUNTER)]))
}

/// Starts `top_sup` (registered) with its counter, linked to `ctx`.
pub async fn start_top_sup(ctx: &mut Process) -> Result<Pid, Term> {
    supervisor::start_link(ctx, flags(), vec![counter_child()], SupOpts::named(TOP_SUP)).await
}
