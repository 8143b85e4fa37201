//! The registry: names for processes.
//!
//! A process can register one name on its node; the name is released when
//! it dies (or unregisters). A name held by a live process cannot be taken.
//!
//! | Erlang                      | Rust                              |
//! |-----------------------------|-----------------------------------|
//! | `register(Name, self())`    | `ctx.register(name)?`             |
//! | `unregister(Name)`          | `ctx.unregister(name)?`           |
//! | `whereis(Name)`             | `ctx.whereis(name)`               |
//! | `registered()`              | `node.registered()`               |
//!
//! ```
//! use ferrotp::Node;
//! use etf::Atom;
//! let node = Node::local();
//! node.block_on_process(|mut ctx| async move {
//!     ctx.register(Atom::new("counter")).unwrap();
//!     assert_eq!(ctx.whereis(Atom::new("counter")), Some(ctx.pid()));
//! }).unwrap();
//! assert_eq!(node.whereis(Atom::new("counter")), None); // released on death
//! ```

use std::collections::HashMap;

use etf::{Atom, Pid};
use parking_lot::Mutex;

use crate::process::Process;

/// Why `register`/`unregister` failed (`badarg` in Erlang).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    /// Another live process holds the name.
    #[error("name {0} is already registered")]
    NameTaken(Atom),
    /// This process already has a name.
    #[error("process already registered as {0}")]
    AlreadyRegistered(Atom),
    /// `undefined` cannot be registered.
    #[error("'undefined' cannot be registered")]
    Undefined,
    /// No process has the name (unregister).
    #[error("name {0} is not registered")]
    NotRegistered(Atom),
}

/// The node's name table.
#[derive(Default)]
pub(crate) struct Registry {
    names: Mutex<HashMap<Atom, Pid>>,
}

impl Registry {
    pub(crate) fn register(&self, name: Atom, pid: Pid) -> Result<(), RegisterError> {
        let mut names = self.names.lock();
        if names.contains_key(&name) {
            return Err(RegisterError::NameTaken(name));
        }
        names.insert(name, pid);
        Ok(())
    }

    pub(crate) fn unregister(&self, name: Atom) -> Option<Pid> {
        self.names.lock().remove(&name)
    }

    /// Removes `name` only if `pid` still holds it.
    pub(crate) fn unregister_pid(&self, name: Atom, pid: Pid) {
        let mut names = self.names.lock();
        if names.get(&name) == Some(&pid) {
            names.remove(&name);
        }
    }

    pub(crate) fn whereis(&self, name: Atom) -> Option<Pid> {
        self.names.lock().get(&name).copied()
    }

    pub(crate) fn names(&self) -> Vec<Atom> {
        self.names.lock().keys().copied().collect()
    }
}

impl Process {
    /// Registers this process as `name` (`register(Name, self())`).
    pub fn register(&mut self, name: Atom) -> Result<(), RegisterError> {
        if name.as_str() == "undefined" {
            return Err(RegisterError::Undefined);
        }
        let me = self.pid();
        let mut st = self.shared.state.lock();
        if let Some(current) = st.name {
            if self.node.registry().whereis(current) == Some(me) {
                return Err(RegisterError::AlreadyRegistered(current));
            }
        }
        self.node.registry().register(name, me)?;
        st.name = Some(name);
        Ok(())
    }

    /// Removes the registration of `name`, whoever holds it (`unregister(Name)`).
    pub fn unregister(&mut self, name: Atom) -> Result<(), RegisterError> {
        match self.node.registry().unregister(name) {
            Some(pid) => {
                if pid == self.pid() {
                    self.shared.state.lock().name = None;
                }
                Ok(())
            }
            None => Err(RegisterError::NotRegistered(name)),
        }
    }

    /// The pid registered as `name` on this node (`whereis(Name)`).
    pub fn whereis(&self, name: Atom) -> Option<Pid> {
        self.node.whereis(name)
    }

    /// This process's registered name, if any (`process_info(self(), registered_name)`).
    pub fn registered_name(&self) -> Option<Atom> {
        let name = self.shared.state.lock().name?;
        (self.node.whereis(name) == Some(self.pid())).then_some(name)
    }
}
