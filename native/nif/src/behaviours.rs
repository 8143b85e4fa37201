//! Behaviours that `ferrotp_nif:start_link(Behaviour, Arg, Opts)` can
//! start: a name and a start function that spawns the process.
//!
//! | Erlang                                   | here                              |
//! |------------------------------------------|-----------------------------------|
//! | `gen_server:start_link(Mod, Arg, [])`    | `ferrotp_nif:start_link(Name, Arg, [])` |
//! | the callback module `Mod`                | a [`Start`] registered as `Name`  |
//!
//! A [`Start`] spawns exactly one process on the node it is given and
//! returns its pid; the NIF makes that process take the pid of the BEAM
//! process that called `start_link` (see `host.rs`). Register your own with
//! [`register`] from your NIF library's `load` (see `docs/nif.md`).

use std::collections::HashMap;
use std::sync::OnceLock;

use etf::{Atom, Pid, Term};
use ferrotp::Node;
use parking_lot::RwLock;

/// Spawns a behaviour's process with its init argument; returns its pid.
pub type Start = fn(&Node, Term) -> Pid;

fn registry() -> &'static RwLock<HashMap<Atom, Start>> {
    static REGISTRY: OnceLock<RwLock<HashMap<Atom, Start>>> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut builtins: HashMap<Atom, Start> = HashMap::new();
        builtins.insert(Atom::new("counter"), crate::counter::start);
        builtins.insert(Atom::new("probe"), crate::probe::start);
        RwLock::new(builtins)
    })
}

/// Makes `start` startable as `name`; replaces any behaviour of that name.
pub fn register(name: &str, start: Start) {
    registry().write().insert(Atom::new(name), start);
}

/// The behaviour registered as `name`.
pub fn lookup(name: Atom) -> Option<Start> {
    registry().read().get(&name).copied()
}

/// The registered names.
pub fn names() -> Vec<Atom> {
    registry().read().keys().copied().collect()
}
