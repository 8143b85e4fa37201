//! # ferrotp: OTP in Rust
//!
//! Processes, links, monitors, exit signals, `gen_server` and `sys` with
//! the semantics OTP documents (OTP 25's Erlang Reference Manual,
//! *Processes*; `gen_server`, `sys`, `proc_lib`).
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
//! | [`registry`]  | `register/2`, `whereis/1`                              |
//! | [`timer`]     | `send_after/3`, `cancel_timer/1`                       |
//! | [`panic`]     | a panic is a crash: `{panic, Msg, Location}`           |
//! | [`transport`] | how signals reach other nodes                          |

#![deny(missing_docs)]

pub mod exit;
pub mod link;
pub mod mailbox;
pub mod monitor;
pub mod node;
pub mod panic;
pub mod process;
pub mod registry;
pub mod signal;
pub mod timer;
pub mod transport;

pub use etf;
pub use mailbox::Message;
pub use node::Node;
pub use process::{Dest, NotRegistered, Process};
pub use registry::RegisterError;
pub use signal::{MonitorTarget, Signal};
pub use timer::TimerRef;
pub use transport::Transport;
