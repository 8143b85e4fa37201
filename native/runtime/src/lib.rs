//! # ferrotp: OTP in Rust
//!
//! Processes, links, monitors, exit signals, `gen_server`, `sys` and
//! `supervisor` with the semantics OTP documents (OTP 25's Erlang
//! Reference Manual, *Processes*; `gen_server`, `sys`, `proc_lib`,
//! `supervisor`), speaking the BEAM's wire shapes.
//!
//! ## Let it crash, in Rust
//!
//! The seed's `counter` gen_server, written as a Rust engineer would:
//! typed messages (serde maps them to `{bump, N}` and `value` on the
//! wire), and a Gleam-style handle whose functions run in the caller.
//!
//! ```
//! use std::time::Duration;
//! use etf::Atom;
//! use ferrotp::gen_server::{self, CallResult, CastResult, GenServer, GenServerRef, Init};
//! use ferrotp::Process;
//! use serde::{Deserialize, Serialize};
//!
//! /// The server's state.
//! pub struct Counter(i64);
//!
//! #[derive(Serialize, Deserialize)]
//! #[serde(rename_all = "snake_case")]
//! pub enum Call {
//!     Value, // value
//! }
//!
//! #[derive(Serialize, Deserialize)]
//! #[serde(rename_all = "snake_case")]
//! pub enum Cast {
//!     Bump(i64), // {bump, N}
//! }
//!
//! impl GenServer for Counter {
//!     type Arg = i64;
//!     type Call = Call;
//!     type Reply = i64;
//!     type Cast = Cast;
//!     type Continue = ();
//!
//!     async fn init(count: i64, _ctx: &mut Process) -> Init<Self> {
//!         Init::Ok(Counter(count))
//!     }
//!     async fn handle_call(&mut self, Call::Value: Call, _: gen_server::From, _: &mut Process) -> CallResult<Self> {
//!         CallResult::Reply(self.0)
//!     }
//!     async fn handle_cast(&mut self, Cast::Bump(n): Cast, _: &mut Process) -> CastResult<Self> {
//!         self.0 += n;
//!         CastResult::NoReply
//!     }
//! }
//!
//! /// The public API (`counter:bump/1`, `counter:value/0`): runs in the
//! /// caller, finds the server by its registered name.
//! pub fn name() -> Atom {
//!     Atom::new("counter")
//! }
//! fn server(ctx: &Process) -> Result<GenServerRef<Counter>, gen_server::CallError> {
//!     let pid = ctx.whereis(name()).ok_or(gen_server::CallError::Exit(ferrotp::exit::noproc()))?;
//!     Ok(GenServerRef::from_pid(pid))
//! }
//! pub fn bump(ctx: &Process, n: i64) -> Result<(), gen_server::CallError> {
//!     server(ctx)?.cast(ctx, Cast::Bump(n))
//! }
//! pub async fn value(ctx: &mut Process) -> Result<i64, gen_server::CallError> {
//!     server(ctx)?.call(ctx, Call::Value, Duration::from_secs(5)).await
//! }
//! # fn main() {}
//! ```
//!
//! And `top_sup`: one_for_one, at most 3 restarts in 10 seconds, the
//! counter as its permanent, registered child. Crash the counter and it
//! comes back in a known-good state; crash it too often and the
//! supervisor gives up and exits `shutdown` (escalation).
//!
//! ```
//! # use std::time::Duration;
//! # use etf::{Atom, Term};
//! # use ferrotp::gen_server::{self, CallResult, CastResult, GenServer, GenServerRef, Init};
//! # use ferrotp::Process;
//! # use serde::{Deserialize, Serialize};
//! # pub struct Counter(i64);
//! # #[derive(Serialize, Deserialize)] #[serde(rename_all = "snake_case")] pub enum Call { Value }
//! # #[derive(Serialize, Deserialize)] #[serde(rename_all = "snake_case")] pub enum Cast { Bump(i64) }
//! # impl GenServer for Counter {
//! #     type Arg = i64; type Call = Call; type Reply = i64; type Cast = Cast; type Continue = ();
//! #     async fn init(count: i64, _: &mut Process) -> Init<Self> { Init::Ok(Counter(count)) }
//! #     async fn handle_call(&mut self, _: Call, _: gen_server::From, _: &mut Process) -> CallResult<Self> { CallResult::Reply(self.0) }
//! #     async fn handle_cast(&mut self, Cast::Bump(n): Cast, _: &mut Process) -> CastResult<Self> { self.0 += n; CastResult::NoReply }
//! # }
//! # fn name() -> Atom { Atom::new("counter") }
//! # fn server(ctx: &Process) -> Result<GenServerRef<Counter>, gen_server::CallError> {
//! #     let pid = ctx.whereis(name()).ok_or(gen_server::CallError::Exit(ferrotp::exit::noproc()))?;
//! #     Ok(GenServerRef::from_pid(pid))
//! # }
//! # fn bump(ctx: &Process, n: i64) -> Result<(), gen_server::CallError> { server(ctx)?.cast(ctx, Cast::Bump(n)) }
//! # async fn value(ctx: &mut Process) -> Result<i64, gen_server::CallError> { server(ctx)?.call(ctx, Call::Value, Duration::from_secs(5)).await }
//! use ferrotp::supervisor::{self, ChildSpec, Start, SupFlags, SupOpts};
//! use ferrotp::Node;
//!
//! /// top_sup:start_link/0 and init/1.
//! async fn top_sup(ctx: &mut Process) -> Result<etf::Pid, Term> {
//!     let flags = SupFlags::one_for_one().intensity(3).period(10);
//!     let children = vec![ChildSpec::worker("counter", Start::gen_server::<Counter>(0, Some(name())))];
//!     supervisor::start_link(ctx, flags, children, SupOpts::named("top_sup")).await
//! }
//!
//! /// Crashes the counter with a message it does not understand, and
//! /// waits until top_sup has dealt with it.
//! async fn crash_counter(ctx: &mut Process, sup: etf::Pid) {
//!     let victim = ctx.whereis(name()).unwrap();
//!     let watch = ctx.monitor(&victim);
//!     gen_server::cast_term(ctx, name(), Term::atom("reset")); // no such cast
//!     ctx.receive_match(|m| m.is_tagged("DOWN"), None).await;
//!     let _ = supervisor::which_children(ctx, sup).await; // top_sup is done
//!     # let _ = watch;
//! }
//!
//! Node::local().block_on_process(|mut ctx| async move {
//!     ctx.trap_exit(true); // we are top_sup's parent: survive its escalation
//!     let sup = top_sup(&mut ctx).await.unwrap();
//!     bump(&ctx, 5).unwrap();
//!     assert_eq!(value(&mut ctx).await, Ok(5));
//!
//!     crash_counter(&mut ctx, sup).await; // restarted from init: 0
//!     assert_eq!(value(&mut ctx).await, Ok(0));
//!
//!     for _ in 0..3 {
//!         crash_counter(&mut ctx, sup).await; // the 4th crash in 10 s...
//!     }
//!     let exit = ctx.receive_match(|m| m.is_tagged("EXIT"), None).await.unwrap();
//!     assert_eq!( // ...is one too many: top_sup gives up
//!         exit.into_term().unwrap(),
//!         Term::tuple(vec![Term::atom("EXIT"), Term::Pid(sup), Term::atom("shutdown")])
//!     );
//! }).unwrap();
//! ```
//!
//! The built-in [`counter`] is this server with bignum counts, and
//! [`behaviours`] makes both startable from an Erlang start MFA
//! (`{counter, start_link, [0]}`, `{supervisor, start_link, [Flags, Specs]}`).
//!
//! ## Modules
//!
//! | module        | Erlang concept                                         |
//! |---------------|--------------------------------------------------------|
//! | [`node`]      | the node: process table, routing, registry, references |
//! | [`process`]   | `spawn`, `self()`, send/receive, `exit/1`              |
//! | [`mailbox`]   | the message queue and selective receive               |
//! | [`signal`]    | signals between processes (the DIST control set)       |
//! | [`link`]      | `link/1`, `unlink/1`                                   |
//! | [`monitor`]   | `monitor/2`, `demonitor/2`                             |
//! | [`exit`]      | exit reasons, `exit/2`, `trap_exit`                    |
//! | [`executor`]  | where process tasks run (the VM's schedulers, for the NIF) |
//! | [`registry`]  | `register/2`, `whereis/1`                              |
//! | [`timer`]     | `send_after/3`, `cancel_timer/1`                       |
//! | [`panic`](mod@panic) | a panic is a crash: `{panic, Msg, Location}`           |
//! | [`transport`] | how signals reach other nodes                          |
//! | [`gen_server`]| the generic server behaviour, typed                    |
//! | [`sys`]       | system messages: `get_state`, `suspend`, `terminate`... |
//! | [`start`]     | `proc_lib:start_link`, `proc_lib:init_ack`             |
//! | [`call`]      | `gen:call`, `gen:reply`, `gen_server:cast` wire shapes |
//! | [`supervisor`]| `supervisor`: strategies, child specs, intensity       |
//! | [`logger`]    | OTP `logger` reports, for a host that meets the VM's   |
//! | [`behaviours`]| named behaviours started from `{M, start_link, Args}`  |
//! | [`counter`]   | the seed's counter, built in                           |
//! | [`woken`]     | a reader thread runs the processes it woke             |

#![deny(missing_docs)]

pub mod alias;
pub mod behaviours;
pub mod call;
pub mod counter;
mod debug;
pub mod direct;
pub mod executor;
pub mod exit;
pub mod gen_server;
mod hash;
pub mod link;
pub mod logger;
pub mod mailbox;
pub mod monitor;
pub mod node;
pub mod panic;
pub mod process;
pub mod registry;
mod scheduler;
pub mod signal;
pub mod start;
pub mod supervisor;
pub mod sys;
pub mod timer;
pub mod transport;
pub mod woken;

pub use etf;

/// Bytes of text a term takes at most in a log line (a crash reason, a
/// message, a state): terms of any size come up there, log lines should
/// not (`Term::limited`, as `logger`'s `max_size` cuts a report).
pub(crate) const LOG_TERM_BYTES: usize = 4096;
pub use executor::{Executor, Exited, ProcessTask};
pub use gen_server::{GenServer, GenServerRef};
pub use mailbox::Message;
pub use node::Node;
pub use process::{Dest, NotRegistered, Process};
pub use registry::RegisterError;
pub use signal::{MonitorTarget, Signal};
pub use timer::TimerRef;
pub use transport::Transport;
