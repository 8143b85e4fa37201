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
//! | [`clock`]       | a cheap stopwatch for charging scheduler time       |
//! | [`convert`]     | BEAM terms to and from `etf::Term`                  |
//! | [`probe`]       | a test behaviour that drives signals on request     |
//! | [`logger`]      | supervisor reports to the VM's `logger`             |
//! | [`nifs`]        | the NIFs the proxy loop calls                       |
//! | [`bench`](mod@bench) | the execution-design measurement                    |

/// Registers `$func`, a NIF entry written by hand (`unsafe extern "C"
/// fn(env, argc, argv)`, without rustler's wrapper), as `$name/$arity` on
/// a normal scheduler.
macro_rules! raw_nif {
    ($name:literal, $arity:expr, $func:ident) => {
        rustler::codegen_runtime::inventory::submit!(rustler::Nif {
            name: $name.as_ptr(),
            arity: $arity,
            flags: rustler::SchedulerFlags::Normal as rustler::codegen_runtime::c_uint,
            raw_func: $func,
        });
    };
}

pub mod beam_env;
pub mod bench;
pub mod clock;
pub mod convert;
pub mod host;
pub mod logger;
pub mod nifs;
pub mod probe;
pub mod process;

/// ferrotp's setup when the VM loads a library with these NIFs: registers
/// the `probe` test behaviour (`counter` and `supervisor` are built into
/// the runtime), has `sys:trace/2`'s lines printed by the VM and the
/// supervisor reports logged by its `logger`. A crate
/// that builds its own NIF library calls it from its `load` before
/// registering its own behaviours.
pub fn on_load() {
    probe::register();
    logger::BeamLogger::install();
}

#[cfg(feature = "library")]
fn load(_env: rustler::Env, _info: rustler::Term) -> bool {
    on_load();
    true
}

#[cfg(feature = "library")]
rustler::init!("ferrotp_nif", load = load);
