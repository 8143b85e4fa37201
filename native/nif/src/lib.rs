//! # ferrotp-nif: the ferrotp runtime inside the BEAM
//!
//! Loaded by `erlang/ferrotp_nif.erl` (`erlang:load_nif/2`). Each Rust
//! process takes the pid of a BEAM process, its *proxy*, which polls it on
//! its own scheduler whenever a message arrives or the Rust side wakes it.
//! See `docs/nif.md` for the design (and the measurements behind it) and
//! for adding your own behaviours.
//!
//! | module          | what                                                |
//! |-----------------|-----------------------------------------------------|
//! | [`process`]     | a Rust process as a NIF resource owned by its proxy |
//! | [`host`]        | the VM's node: executor (pids, pool), transport     |
//! | [`beam_env`]    | `enif_send` from scheduler and other threads        |
//! | [`convert`]     | BEAM terms to and from `etf::Term`                  |
//! | [`behaviours`]  | what `start_link` can start                         |
//! | [`nifs`]        | the NIFs the proxy loop calls                       |
//! | [`bench`]       | the execution-design measurement                    |

pub mod beam_env;
pub mod behaviours;
pub mod bench;
pub mod convert;
pub mod counter;
pub mod host;
pub mod nifs;
pub mod probe;
pub mod process;

rustler::init!("ferrotp_nif");
