//! # ferrotp-node: the hidden node
//!
//! The ferrotp runtime, reachable from Erlang and Elixir nodes over the
//! distribution protocol. The distribution layer (`dist`) knows nothing of
//! processes and the runtime (`ferrotp`) nothing of sockets; this crate is
//! the bridge, what `net_kernel` and the emulator's `dist.c` are in OTP:
//!
//! | module        | Erlang concept                                              |
//! |---------------|-------------------------------------------------------------|
//! | [`bridge`]    | the transport out, the handler in; `nodeup`/`nodedown`      |
//! | [`host`]      | a hidden node: `erl -sname rust -hidden`                    |
//! | [`service`]   | `ferrotp:start_link(Node, Behaviour, Arg)` on the Rust side |
//! | [`seed`]      | the seed's `top_sup` + `counter` tree                       |
//! | [`remote_start`] | Rust supervisors starting Erlang children (`supervisor_bridge`) |
//! | [`spawn`]     | `spawn_request` / `SPAWN_REPLY`, both directions            |
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use node::dist::node::NodeConfig;
//! use node::dist::{Cookie, NodeName};
//! use node::host::HiddenNode;
//! let name = NodeName::parse("rust@localhost")?;
//! let hidden = HiddenNode::start(NodeConfig::new(name).cookie(Cookie::new("secret"))).await?;
//! // From erl: gen_server:call({ferrotp, 'rust@localhost'}, ...) or ferrotp:start_link('rust@localhost', counter, 0).
//! # let _ = hidden; Ok(()) }
//! ```

#![deny(missing_docs)]

/// The distribution layer the node runs on (`NodeConfig`, `NodeName`,
/// `Cookie`), so a program needs no dependency of its own on it.
pub use dist;

pub mod bridge;
pub mod host;
pub mod remote_start;
pub mod seed;
pub mod service;
pub mod spawn;
