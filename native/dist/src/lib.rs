//! # ferrotp-dist: the Erlang distribution protocol
//!
//! A ferrotp node meets `erl` nodes as a *hidden node*, speaking OTP's
//! distribution protocol layer by layer, one module per layer, each testable
//! without a socket:
//!
//! | layer                         | module              | OTP                          |
//! |-------------------------------|---------------------|------------------------------|
//! | port mapper                   | [`epmd`], [`epmd_server`] | `erl_epmd`, `epmd`     |
//! | capability flags              | [`flags`]           | `dist.hrl` `DFLAG_*`         |
//! | handshake (version 6)         | [`handshake`]       | `dist_util`                  |
//! | packets, atom cache, fragments| [`framing`]         | `erl_ext_dist` dist header   |
//! | control messages              | [`control`]         | `erl_dist_protocol` DOP_*    |
//! | one connection (ticks)        | [`connection`]      | `dist_util:con_loop`         |
//! | node manager                  | [`node`]            | `net_kernel`                 |
//!
//! It depends only on the `etf` codec, never on the runtime: the runtime is
//! wired in through [`node::DistHandler`].

#![deny(missing_docs)]

pub mod control;
pub mod cookie;
pub mod epmd;
pub mod epmd_server;
pub mod flags;
pub mod framing;
pub mod handshake;
pub mod name;
pub mod signal;
mod wire;

pub use cookie::Cookie;
pub use flags::DistFlags;
pub use name::NodeName;
pub use wire::Truncated;
