//! Node names: `alive@host`.
//!
//! | Erlang                          | Rust                                       |
//! |---------------------------------|--------------------------------------------|
//! | `erl -sname rust@localhost`     | `NodeName::parse("rust@localhost")?`       |
//! | `erl -name rust@127.0.0.1`      | `NodeName::parse("rust@127.0.0.1")?` (long)|
//!
//! EPMD knows a node by its *alive* part (`rust`); the *host* part says which
//! EPMD to ask. A name whose host contains a dot is a long name (`-name`),
//! otherwise a short name (`-sname`); OTP refuses to connect a short-named
//! node to a long-named one, and so do we.
//!
//! ```
//! use dist::name::NodeName;
//! let n = NodeName::parse("rust_1@localhost").unwrap();
//! assert_eq!((n.alive(), n.host(), n.is_long()), ("rust_1", "localhost", false));
//! ```

use std::fmt;

use etf::Atom;

/// Why a string is not a node name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// No `@`, or an empty part on either side.
    #[error("invalid node name {0:?}: expected alive@host")]
    Invalid(String),
    /// The name cannot be an atom (over 255 characters).
    #[error("invalid node name {0:?}: too long for an atom")]
    TooLong(String),
}

/// A full node name `alive@host`, kept as its atom.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeName {
    atom: Atom,
}

impl NodeName {
    /// Parses `alive@host`.
    pub fn parse(s: &str) -> Result<NodeName, NameError> {
        match s.split_once('@') {
            Some((alive, host)) if !alive.is_empty() && !host.is_empty() && !host.contains('@') => {
                let atom = Atom::try_new(s).map_err(|_| NameError::TooLong(s.to_owned()))?;
                Ok(NodeName { atom })
            }
            _ => Err(NameError::Invalid(s.to_owned())),
        }
    }

    /// The node name from its atom (`node()`), checked.
    pub fn from_atom(atom: Atom) -> Result<NodeName, NameError> {
        NodeName::parse(atom.as_str())
    }

    /// The name as an atom, as it appears in pids (`node(Pid)`).
    pub fn atom(&self) -> Atom {
        self.atom
    }

    /// The full name, `alive@host`.
    pub fn as_str(&self) -> &'static str {
        self.atom.as_str()
    }

    /// The part before `@`: what EPMD registers.
    pub fn alive(&self) -> &'static str {
        let s = self.as_str();
        s.split_once('@').map_or(s, |(a, _)| a)
    }

    /// The part after `@`: where the node's EPMD runs.
    pub fn host(&self) -> &'static str {
        let s = self.as_str();
        s.split_once('@').map_or("", |(_, h)| h)
    }

    /// `true` for a long name (`-name`, host with a dot), `false` for a short one.
    pub fn is_long(&self) -> bool {
        self.host().contains('.')
    }
}

impl fmt::Display for NodeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for NodeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.as_str())
    }
}

impl std::str::FromStr for NodeName {
    type Err = NameError;
    fn from_str(s: &str) -> Result<NodeName, NameError> {
        NodeName::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_have_a_dotted_host() {
        let n = NodeName::parse("rust@127.0.0.1").unwrap();
        assert!(n.is_long());
        assert_eq!(n.alive(), "rust");
        assert!(!NodeName::parse("a@localhost").unwrap().is_long());
    }

    #[test]
    fn names_without_both_parts_are_rejected() {
        for bad in ["rust", "@host", "rust@", "a@b@c", ""] {
            assert!(NodeName::parse(bad).is_err(), "{bad}");
        }
    }
}
