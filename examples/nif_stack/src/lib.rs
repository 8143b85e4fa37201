//! # Your own Rust behaviour, supervised by Elixir (or Erlang)
//!
//! A typed `gen_server` (a stack of integers) registered as behaviour
//! `stack`, in a NIF library of its own that carries ferrotp's NIFs too.
//! Point ferrotp at it and start it like any other behaviour:
//!
//! ```elixir
//! # config/config.exs (or FERROTP_NIF_LIBRARY=/path/to/libferrotp_nif_example)
//! config :ferrotp, nif_library: "/path/to/libferrotp_nif_example"
//!
//! children = [{Ferrotp, behaviour: :stack, arg: [1, 2], name: MyStack}]
//! Supervisor.start_link(children, strategy: :one_for_one)
//! GenServer.cast(MyStack, {:push, 3})
//! 3 = GenServer.call(MyStack, :pop)
//! ```
//!
//! | Erlang / Elixir                          | here                           |
//! |------------------------------------------|--------------------------------|
//! | `init([1, 2])`                           | `Stack::init(vec![1, 2], ..)`  |
//! | `GenServer.call(s, :pop)`                | `Call::Pop`: the top item, `:none` when empty |
//! | `GenServer.call(s, :size)`               | `Call::Size` → the length      |
//! | `GenServer.cast(s, {:push, 3})`          | `Cast::Push(3)`                |
//! | anything else                            | crashes: `{bad_call, Req}` / `{bad_cast, Msg}` |

use etf::{Atom, Term};
use ferrotp::gen_server::{self, CallResult, CastResult, GenServer, Init};
use ferrotp::Process;
use serde::{Deserialize, Serialize};

/// The server's state.
pub struct Stack(Vec<i64>);

/// Calls it answers.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Call {
    /// `pop`: the top item, or `none`.
    Pop,
    /// `size`: how many items.
    Size,
}

/// Casts it takes.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cast {
    /// `{push, N}`.
    Push(i64),
}

impl GenServer for Stack {
    type Arg = Vec<i64>;
    type Call = Call;
    type Reply = Term;
    type Cast = Cast;
    type Continue = ();

    async fn init(items: Vec<i64>, _ctx: &mut Process) -> Init<Self> {
        Init::Ok(Stack(items))
    }

    async fn handle_call(
        &mut self,
        req: Call,
        _from: gen_server::From,
        _ctx: &mut Process,
    ) -> CallResult<Self> {
        CallResult::Reply(match req {
            Call::Pop => self.0.pop().map(Term::Int).unwrap_or(Term::atom("none")),
            Call::Size => Term::Int(self.0.len() as i64),
        })
    }

    async fn handle_cast(&mut self, msg: Cast, _ctx: &mut Process) -> CastResult<Self> {
        let Cast::Push(n) = msg;
        self.0.push(n);
        CastResult::NoReply
    }
}

/// Runs when the VM loads this library: ferrotp's own setup, then this
/// crate's behaviours.
fn load(_env: rustler::Env, _info: rustler::Term) -> bool {
    ferrotp_nif::on_load();
    ferrotp::behaviours::register(Atom::new("stack"), gen_server::behaviour::<Stack>());
    true
}

// The Erlang module stays `ferrotp_nif`: this library replaces ferrotp's
// own (same NIFs, plus `stack`).
rustler::init!("ferrotp_nif", load = load);
