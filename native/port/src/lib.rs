//! # ferrotp-port: Rust processes in a port program
//!
//! Port programs are how BEAM teams run native code they do not trust
//! in-process. `ferrotp port` hosts Rust processes behind `{packet,4}`
//! frames on stdin/stdout, and the Erlang side (`ferrotp_port`,
//! `ferrotp_proxy`) makes each one look like an ordinary process: a pid
//! that takes `gen_server:call/cast`, `sys:get_state`, links, monitors and
//! `exit(Pid, kill)`, and can sit in an OTP supervision tree.
//!
//! The wire is not a new protocol: each frame is a distribution control
//! message (`dist::control`) and its payload, as on a distribution
//! connection.
//!
//! | layer                        | module        | OTP / C-port equivalent            |
//! |------------------------------|---------------|------------------------------------|
//! | `{packet,4}` on a stream     | [`packet`]    | `read_exact` / `write_exact`       |
//! | control message + payload    | [`frame`]     | `erl_dist_protocol` messages       |
//! | runtime signals ↔ frames     | [`signals`]   | the DIST signal set                |
//! | frames in                    | [`input`]     | `read_exact` on fd 0               |
//! | frames out                   | [`outbox`]    | `write_exact` on fd 1              |
//! | starting behaviours          | [`spawn`]     | `SPAWN_REQUEST` / `SPAWN_REPLY`     |
//! | BEAM children of Rust sups   | [`remote_start`] | `apply(M, F, A)` in a supervisor |
//! | the program                  | [`program`]   | a C port's `main` loop             |
//! | echo (benchmark baseline)    | [`echo`]      | `cat` with `{packet,4}`            |
//! | orphan protection            | [`watchdog`]  | `getppid()` polling                |
//! | resource limits              | [`limits`]    | `ulimit -v`                        |
//! | OTP reports to the VM        | [`logger`]    | `logger` in the host VM            |

#![deny(missing_docs)]

pub mod echo;
pub mod frame;
pub mod input;
pub mod limits;
pub mod logger;
pub mod outbox;
pub mod packet;
pub mod program;
pub mod remote_start;
pub mod signals;
pub mod spawn;
pub mod watchdog;

pub use program::{run, Config, PortError};
