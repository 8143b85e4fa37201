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
//! | [`behaviours`]| named behaviours started from `{M, start_link, Args}`  |
//! | [`counter`]   | the seed's counter, built in                           |

#![deny(missing_docs)]

pub mod behaviours;
pub mod call;
pub mod counter;
pub mod executor;
pub mod exit;
pub mod gen_server;
mod hash;
pub mod link;
pub mod mailbox;
pub mod monitor;
pub mod node;
pub mod panic;
pub mod process;
pub mod registry;
pub mod signal;
pub mod start;
pub mod supervisor;
pub mod sys;
pub mod timer;
pub mod transport;

pub use etf;
pub use executor::{Executor, Exited, ProcessTask};
pub use gen_server::{GenServer, GenServerRef};
pub use mailbox::Message;
pub use node::Node;
pub use process::{Dest, NotRegistered, Process};
pub use registry::RegisterError;
pub use signal::{MonitorTarget, Signal};
pub use timer::TimerRef;
pub use transport::Transport;
