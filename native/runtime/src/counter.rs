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
//! would: the exit reason is `{bad_call, Request}` or `{bad_cast, Msg}`,
//! so the reason says which message did it (a `gen_server` would exit
//! with `function_clause`, whose stack names it). Other messages are logged and
//! ignored (OTP's default `handle_info`). `sys:get_state/1` returns the
//! count; `sys:suspend/1`, `sys:resume/1` and `gen_server:stop/1` work.
//!
//! It is a typed [`GenServer`] ([`CounterServer`]): from Rust, a
//! [`Counter`] handle sends typed messages ([`CounterCast`],
//! [`CounterCall`]; between processes of one node they travel as Rust
//! values); from anywhere else it is a gen_server:
//! `gen_server:cast(C, {bump, 5})`, `gen_server:call(C, value)`.
//!
//! | Erlang                                   | Rust                                            |
//! |------------------------------------------|-------------------------------------------------|
//! | `{ok, C} = counter:start_link(0)`        | `let c = Counter::start_link(&mut ctx, 0).await?` |
//! | `gen_server:cast(C, {bump, 5})`          | `c.bump(&ctx, 5)`                               |
//! | `gen_server:call(C, value)`              | `c.value(&mut ctx).await?`                      |
//! | `{counter, start_link, [0]}`             | `behaviours::start_link(&mut ctx, counter, vec![0])` |
//! | `counter:start_link()` (the seed's, registered `counter`) | `{counter, start_link, []}` |
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
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::behaviours::{Behaviour, GenServerBehaviour};
use crate::gen_server::{
    self, CallError, CallNow, CallResult, CastResult, GenServer, GenServerRef, Init, Opts,
    StartError,
};
use crate::process::{Dest, Process};
use crate::start::Body;

/// An integer of any size, as a counter holds it: an Erlang integer on the
/// wire (small or bignum), a `BigInt` in Rust.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Int(pub BigInt);

impl<T: Into<BigInt>> std::convert::From<T> for Int {
    fn from(n: T) -> Int {
        Int(n.into())
    }
}

/// An integer term (`Int` or `BigInt`) as a `BigInt`.
pub fn int_of(t: &Term) -> Option<BigInt> {
    match t {
        Term::Int(i) => Some(BigInt::from(*i)),
        Term::BigInt(b) => Some(b.clone()),
        _ => None,
    }
}

impl Serialize for Int {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // A small integer (the common case) without a BigInt copy.
        match i64::try_from(&self.0) {
            Ok(i) => s.serialize_i64(i),
            Err(_) => Term::from_bigint(self.0.clone()).serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Int {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Int, D::Error> {
        let t = Term::deserialize(d)?;
        int_of(&t)
            .map(Int)
            .ok_or_else(|| serde::de::Error::custom(format!("expected an integer, found {t}")))
    }
}

/// Casts the counter understands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CounterCast {
    /// `{bump, N}`: add `N`.
    Bump(Int),
}

/// Calls the counter understands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CounterCall {
    /// `value`: the count.
    Value,
}

/// The counter's state and callbacks.
#[derive(Debug)]
pub struct CounterServer {
    count: BigInt,
}

impl GenServer for CounterServer {
    type Arg = Int;
    type Call = CounterCall;
    type Reply = Int;
    type Cast = CounterCast;
    type Continue = ();

    async fn init(count: Int, _ctx: &mut Process) -> Init<Self> {
        Init::Ok(CounterServer { count: count.0 })
    }

    // Every call is answered at once (`handle_call_now`); `handle_call`
    // is never reached.
    fn handle_call_now(&mut self, request: CounterCall, _ctx: &mut Process) -> CallNow<Self> {
        match request {
            CounterCall::Value => CallNow::Reply(Int(self.count.clone())),
        }
    }

    async fn handle_call(
        &mut self,
        request: CounterCall,
        _from: gen_server::From,
        _ctx: &mut Process,
    ) -> CallResult<Self> {
        match request {
            CounterCall::Value => CallResult::Reply(Int(self.count.clone())),
        }
    }

    async fn handle_cast(&mut self, msg: CounterCast, _ctx: &mut Process) -> CastResult<Self> {
        match msg {
            CounterCast::Bump(n) => self.count += n.0,
        }
        CastResult::NoReply
    }

    fn state_term(&self) -> Term {
        Term::from_bigint(self.count.clone())
    }

    const REPLACES_STATE_TERM: bool = true;

    /// `sys:replace_state(Counter, fun(N) -> N * 2 end)`: any integer.
    fn replace_state_term(&mut self, new: Term) -> Result<(), Term> {
        match new {
            Term::Int(n) => self.count = n.into(),
            Term::BigInt(n) => self.count = n,
            other => return Err(Term::tuple(vec![Term::atom("badarg"), other])),
        }
        Ok(())
    }
}

/// The built-in `counter` behaviour: [`CounterServer`] with one more
/// start form, the seed's `counter:start_link()` — `{counter, start_link, []}`
/// starts from 0, registered as `counter`.
pub(crate) struct CounterBehaviour;

impl Behaviour for CounterBehaviour {
    fn start_args(&self, args: Vec<Term>) -> Option<(Term, Option<Atom>)> {
        if args.is_empty() {
            return Some((Term::Int(0), Some(Atom::new("counter"))));
        }
        GenServerBehaviour::<CounterServer>::default().start_args(args)
    }

    fn body(&self, arg: Term) -> Result<Body, Term> {
        GenServerBehaviour::<CounterServer>::default().body(arg)
    }
}

/// A typed handle on a counter process (a pid or a registered name).
#[derive(Clone, Debug, PartialEq)]
pub struct Counter {
    dest: Dest,
}

/// How long [`Counter::value`] waits (gen_server's default call timeout).
pub const CALL_TIMEOUT: Duration = gen_server::DEFAULT_TIMEOUT;

fn start_error(e: StartError) -> Term {
    match e {
        StartError::Stop(r) => r,
        StartError::Ignore => Term::atom("ignore"),
        StartError::AlreadyStarted(p) => crate::start::already_started(p),
        StartError::Timeout => Term::atom("timeout"),
    }
}

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
        let opts = Opts {
            name,
            timeout: None,
        };
        let server = gen_server::start_link::<CounterServer>(ctx, Int(initial.into()), opts)
            .await
            .map_err(start_error)?;
        Ok(Counter {
            dest: Dest::Pid(server.pid()),
        })
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
        let msg = CounterCast::Bump(Int(n.into()));
        match &self.dest {
            Dest::Pid(p) => {
                let _ = GenServerRef::<CounterServer>::from_pid(*p).cast(ctx, msg);
            }
            other => {
                if let Ok(t) = etf::to_term(&msg) {
                    gen_server::cast_term(ctx, other.clone(), t);
                }
            }
        }
    }

    /// The count (`gen_server:call(C, value)`); `Err` is the reason the
    /// call failed (`noproc`, `timeout`, how the counter died).
    pub async fn value(&self, ctx: &mut Process) -> Result<BigInt, Term> {
        let reply = match &self.dest {
            Dest::Pid(p) => GenServerRef::<CounterServer>::from_pid(*p)
                .call(ctx, CounterCall::Value, CALL_TIMEOUT)
                .await
                .map(|i| i.0),
            other => {
                let value = Term::atom("value");
                match gen_server::call_term(ctx, other.clone(), value, CALL_TIMEOUT).await {
                    Ok(t) => int_of(&t).ok_or_else(|| CallError::BadReply(t.to_string())),
                    Err(e) => Err(e),
                }
            }
        };
        reply.map_err(|e| e.reason())
    }
}
