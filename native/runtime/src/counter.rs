//! The seed's counter, built in: a `gen_server` holding one integer.
//!
//! ```erlang
//! init(Count) -> {ok, Count}.
//! handle_cast({bump, N}, Count) -> {noreply, Count + N}.
//! handle_call(value, _From, Count) -> {reply, Count, Count}.
//! ```
//!
//! The count is an integer of any size (bignums included). Any other call
//! or cast crashes the counter, as a `gen_server` without a matching clause
//! would: the exit reason is `{bad_call, Request}` or `{bad_cast, Msg}`
//! (the reasons OTP's default `handle_call`/`handle_cast` use), so the
//! reason says which message did it. Other messages are logged and
//! ignored (OTP's default `handle_info`). `sys:get_state/1` returns the
//! count; `sys:suspend/1`, `sys:resume/1` and `gen_server:stop/1` work.
//!
//! From Rust, a [`Counter`] is a typed handle; from anywhere else it is a
//! gen_server: `gen_server:cast(C, {bump, 5})`, `gen_server:call(C, value)`.
//!
//! | Erlang                                   | Rust                                            |
//! |------------------------------------------|-------------------------------------------------|
//! | `{ok, C} = counter:start_link(0)`        | `let c = Counter::start_link(&mut ctx, 0).await?` |
//! | `gen_server:cast(C, {bump, 5})`          | `c.bump(&ctx, 5)`                               |
//! | `gen_server:call(C, value)`              | `c.value(&mut ctx).await?`                      |
//! | `{counter, start_link, [0]}`             | `behaviours::start_link(&mut ctx, counter, vec![0])` |
//!
//! ```
//! use ferrotp::counter::Counter;
//! use ferrotp::Node;
//! use num_bigint::BigInt;
//! let node = Node::local();
//! node.block_on_process(|mut ctx| async move {
//!     let c = Counter::start_link(&mut ctx, 5).await.unwrap();
//!     c.bump(&ctx, 1u64 << 63); // past i64: a bignum
//!     assert_eq!(c.value(&mut ctx).await.unwrap(), BigInt::from(5) + BigInt::from(1u64 << 63));
//! }).unwrap();
//! ```

use std::time::Duration;

use etf::{Atom, Pid, Term};
use num_bigint::BigInt;

use crate::behaviours::Behaviour;
use crate::call::{self, Incoming, SysAction};
use crate::process::{Dest, Process};
use crate::start::{self, Body, Init, Started};

/// Casts the counter understands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CounterCast {
    /// `{bump, N}`: add `N`.
    Bump(BigInt),
}

/// Calls the counter understands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CounterCall {
    /// `value`: the count.
    Value,
}

/// An integer term (`Int` or `BigInt`) as a `BigInt`.
pub fn int_of(t: &Term) -> Option<BigInt> {
    match t {
        Term::Int(i) => Some(BigInt::from(*i)),
        Term::BigInt(b) => Some(b.clone()),
        _ => None,
    }
}

impl CounterCast {
    /// Reads `{bump, N}` (N any integer).
    pub fn from_term(t: &Term) -> Option<CounterCast> {
        match t.as_tuple()? {
            [tag, n] if tag.is_atom("bump") => int_of(n).map(CounterCast::Bump),
            _ => None,
        }
    }

    /// `{bump, N}`.
    pub fn to_term(&self) -> Term {
        match self {
            CounterCast::Bump(n) => {
                Term::tuple(vec![Term::atom("bump"), Term::from_bigint(n.clone())])
            }
        }
    }
}

impl CounterCall {
    /// Reads `value`.
    pub fn from_term(t: &Term) -> Option<CounterCall> {
        t.is_atom("value").then_some(CounterCall::Value)
    }

    /// `value`.
    pub fn to_term(&self) -> Term {
        Term::atom("value")
    }
}

/// A typed handle on a counter process (a pid or a registered name).
#[derive(Clone, Debug, PartialEq)]
pub struct Counter {
    dest: Dest,
}

/// How long [`Counter::value`] waits (gen_server's default call timeout).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(5);

impl Counter {
    /// Starts a counter linked to `ctx` (`counter:start_link(Count)`).
    pub async fn start_link(
        ctx: &mut Process,
        initial: impl Into<BigInt>,
    ) -> Result<Counter, Term> {
        Counter::start_link_named(ctx, initial, None).await
    }

    /// Starts a counter registered as `name`
    /// (`gen_server:start_link({local, Name}, counter, Count, [])`).
    pub async fn start_link_named(
        ctx: &mut Process,
        initial: impl Into<BigInt>,
        name: Option<Atom>,
    ) -> Result<Counter, Term> {
        match start::start_body(ctx, name, Vec::new(), body(initial.into())).await? {
            Started::Ok(p) | Started::OkInfo(p, _) => Ok(Counter { dest: Dest::Pid(p) }),
            Started::Ignore => Err(Term::atom("ignore")),
        }
    }

    /// A handle on the counter at `dest` (a pid, a name, `{Name, Node}`).
    pub fn at(dest: impl Into<Dest>) -> Counter {
        Counter { dest: dest.into() }
    }

    /// The pid, if this handle names one.
    pub fn pid(&self) -> Option<Pid> {
        match &self.dest {
            Dest::Pid(p) => Some(*p),
            _ => None,
        }
    }

    /// Adds `n` (`gen_server:cast(C, {bump, N})`); never fails.
    pub fn bump(&self, ctx: &Process, n: impl Into<BigInt>) {
        call::cast(
            ctx,
            self.dest.clone(),
            CounterCast::Bump(n.into()).to_term(),
        );
    }

    /// The count (`gen_server:call(C, value)`); `Err` is the reason the
    /// call failed (`noproc`, `timeout`, how the counter died).
    pub async fn value(&self, ctx: &mut Process) -> Result<BigInt, Term> {
        let reply = call::call(
            ctx,
            self.dest.clone(),
            CounterCall::Value.to_term(),
            Some(CALL_TIMEOUT),
        )
        .await?;
        int_of(&reply).ok_or(reply)
    }
}

/// A counter's process body, starting from `count`.
pub fn body(count: BigInt) -> Body {
    start::body(move |ctx, init| serve(ctx, init, count))
}

/// The built-in `counter` behaviour: init argument the initial count.
pub(crate) struct CounterBehaviour;

impl Behaviour for CounterBehaviour {
    fn body(&self, arg: Term) -> Result<Body, Term> {
        match int_of(&arg) {
            Some(n) => Ok(body(n)),
            None => Err(Term::tuple(vec![Term::atom("badarg"), arg])),
        }
    }
}

/// The gen_server loop: see the module docs for what each message does.
async fn serve(mut ctx: Process, mut init: Init, mut count: BigInt) -> Result<(), Term> {
    init.ok();
    let mut suspended = false;
    loop {
        let msg = call::next_message(&mut ctx, suspended).await;
        match Incoming::classify(msg) {
            Incoming::Call { from, request } => match CounterCall::from_term(&request) {
                Some(CounterCall::Value) => from.reply(&ctx, Term::from_bigint(count.clone())),
                None => return Err(Term::tuple(vec![Term::atom("bad_call"), request])),
            },
            Incoming::Cast(msg) => match CounterCast::from_term(&msg) {
                Some(CounterCast::Bump(n)) => count += n,
                None => return Err(Term::tuple(vec![Term::atom("bad_cast"), msg])),
            },
            Incoming::System { from, request } => {
                let state = || Term::from_bigint(count.clone());
                match call::handle_system(&ctx, None, &from, &request, "counter", state) {
                    SysAction::Continue => {}
                    SysAction::Suspend => suspended = true,
                    SysAction::Resume => suspended = false,
                    SysAction::Terminate(reason) => return Err(reason),
                }
            }
            Incoming::Exit { from, reason } => {
                let info = Term::tuple(vec![Term::atom("EXIT"), Term::Pid(from), reason]);
                tracing::warn!(target: "ferrotp::counter", pid = %ctx.pid(), msg = %info, "counter: unexpected message");
            }
            Incoming::Info(t) => {
                tracing::warn!(target: "ferrotp::counter", pid = %ctx.pid(), msg = %t, "counter: unexpected message");
            }
            Incoming::Local(_) => {
                tracing::warn!(target: "ferrotp::counter", pid = %ctx.pid(), "counter: unexpected local message");
            }
        }
    }
}
