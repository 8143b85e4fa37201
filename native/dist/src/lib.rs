//! # ferrotp-dist: the Erlang distribution protocol
//!
//! A ferrotp node meets `erl` nodes as a *hidden node* (`erl -hidden`),
//! speaking OTP's distribution protocol layer by layer, one module per layer,
//! each testable without a socket:
//!
//! | layer                              | module            | OTP                          |
//! |------------------------------------|-------------------|------------------------------|
//! | port mapper (client, server)       | [`epmd`], [`epmd_server`] | `erl_epmd`, `epmd`   |
//! | node names, cookie                 | [`name`], [`cookie`] | `-sname`/`-name`, `~/.erlang.cookie` |
//! | capability flags                   | [`flags`]         | `dist.hrl` `DFLAG_*`         |
//! | handshake (version 6, accepts 5)   | [`handshake`]     | `dist_util`                  |
//! | packets, atom cache, fragments     | [`framing`]       | `erl_ext_dist` dist header   |
//! | control messages                   | [`control`]       | `erl_dist_protocol` `DOP_*`  |
//! | whole messages (control + payload) | [`message`]       | `erts` dist encoder          |
//! | one connection (ticks)             | [`connection`]    | `dist_util:con_loop`         |
//! | spinning before a reader sleeps    | [`busy_wait`]     | a scheduler's `+sbwt`        |
//! | node manager                       | [`node`]          | `net_kernel`                 |
//! | the runtime's view                 | [`signal`]        | signals of the *Processes* chapter |
//!
//! It depends only on the `etf` codec, never on the runtime.
//!
//! ## Wiring a runtime to it
//!
//! 1. Implement [`node::DistHandler`]: `on_control(peer, msg, payload)` gets
//!    every control message from a peer, in order; fold it with
//!    [`signal::Signal::from_control`] and deliver the signal to the local
//!    process (`Dest::Pid`, a registered `Dest::Name`, or a `Dest::Alias`).
//!    `on_nodedown(peer, reason)` is where every link and monitor across that
//!    node fires with reason `noconnection`. Do not block in these calls.
//! 2. Start the node: `DistNode::start(NodeConfig::new(name).cookie(c), handler)`.
//!    Make local pids with `node.name().atom()` and `node.creation()`.
//! 3. For a signal to a pid whose `node` is another node:
//!    `let (msg, payload) = signal.into_control(node.net_kernel_pid());`
//!    `node.send(peer, msg, payload).await` (connects on demand), or keep the
//!    [`connection::Connection`] from `node.connect(peer)` and call its
//!    non-async `send`.
//!
//! `net_adm:ping/1` from `erl` is answered here (`net_kernel`'s
//! `{is_auth, Node}` call); everything else is the runtime's.
//!
//! ```no_run
//! # async fn demo() -> Result<(), dist::node::NodeError> {
//! use std::sync::Arc;
//! use dist::node::{DistHandler, DistNode, NodeConfig};
//! use dist::signal::Signal;
//! use dist::{Cookie, NodeName};
//!
//! struct Runtime;
//! impl DistHandler for Runtime {
//!     fn on_control(&self, peer: NodeName, msg: dist::control::ControlMessage, payload: Option<etf::Term>) {
//!         if let Some(signal) = Signal::from_control(msg, payload) {
//!             println!("from {peer}: {signal:?}"); // deliver to the local process
//!         }
//!     }
//! }
//!
//! let name = NodeName::parse("rust@localhost").unwrap();
//! let node = DistNode::start(NodeConfig::new(name).cookie(Cookie::new("secret")), Arc::new(Runtime)).await?;
//! # let _ = node; Ok(()) }
//! ```

#![deny(missing_docs)]

pub mod busy_wait;
pub mod connection;
pub mod control;
pub mod cookie;
pub mod epmd;
pub mod epmd_server;
pub mod flags;
pub mod framing;
pub mod handshake;
pub mod message;
pub mod name;
pub mod node;
#[cfg(feature = "runtime")]
pub mod runtime_signal;
mod shared_tcp;
pub mod signal;
mod wire;

pub use cookie::Cookie;
pub use flags::DistFlags;
pub use name::NodeName;
pub use node::{DistHandler, DistNode, NodeConfig};
pub use wire::Truncated;
