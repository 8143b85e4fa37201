//! One tape entry: a fixed-size, 16-byte node.
//!
//! A term is its node followed by its children's subtrees, in encoding
//! order; a container's node records how many nodes its whole subtree
//! takes, so that skipping to the next sibling is one addition.
//!
//! | kind       | `flag`          | `small`              | `a`              | `b`                      |
//! |------------|-----------------|----------------------|------------------|--------------------------|
//! | atom       | [`atom_text`] kind |                   | length or index  | text's offset            |
//! | int        |                 |                      |                  | the `i64`                |
//! | bignum     | sign (1 = neg)  |                      | digit count      | digits' offset           |
//! | float      |                 |                      |                  | the `f64`'s bits         |
//! | binary     |                 |                      | length           | bytes' offset            |
//! | bitstring  | bits in last    | last byte, masked    | length           | bytes' offset            |
//! | list       | 1 if improper   |                      | element count    | subtree size (nodes)     |
//! | string     |                 |                      | byte count       | bytes' offset            |
//! | tuple      |                 |                      | arity            | subtree size             |
//! | map        |                 |                      | entry count      | subtree size             |
//! | pid, port  | wire tag        | node's text kind     | node's length or index | node's text offset |
//! | reference  | wire tag        | text kind + words << 8 | node's length or index | node's text offset |
//! | fun        |                 | length bits 32..48   | length bits 0..32| offset of its tag byte   |
//!
//! A string is a proper list of 1 to 65535 integers 0..=255 encoded as
//! `STRING_EXT` (`"abc"`, `[1,2,3]`): one leaf node for the whole list,
//! whose elements are read from the input's bytes (as
//! [`BYTE_NODES`]' entries), not a node per element.
//!
//! Offsets count into the buffer the term was decoded from (the inflated
//! one for a compressed term).

/// What a node is (the `kind` byte).
pub(crate) mod kind {
    pub const ATOM: u8 = 0;
    pub const INT: u8 = 1;
    pub const BIG: u8 = 2;
    pub const FLOAT: u8 = 3;
    pub const BINARY: u8 = 4;
    pub const BITSTRING: u8 = 5;
    pub const LIST: u8 = 6;
    pub const TUPLE: u8 = 7;
    pub const MAP: u8 = 8;
    pub const PID: u8 = 9;
    pub const PORT: u8 = 10;
    pub const REFERENCE: u8 = 11;
    pub const FUN: u8 = 12;
    pub const STRING: u8 = 13;
}

/// How an atom's name is held: its text borrowed from the input (valid
/// UTF-8, or Latin-1 that is not ASCII), or an interned [`crate::Atom`]
/// (from a distribution header's atom cache).
pub(crate) mod atom_text {
    /// `len` bytes of valid UTF-8 at the offset (ASCII, or a UTF-8 atom).
    pub const UTF8: u8 = 0;
    /// `len` bytes of Latin-1 at the offset, not all ASCII.
    pub const LATIN1: u8 = 1;
    /// An interned atom: `a` is its table index; nothing in the input.
    pub const INTERNED: u8 = 2;
}

/// A list node's `flag` when a tail follows its elements.
pub(crate) const IMPROPER: u8 = 1;

/// One term (a leaf) or the head of one (a container); see the module doc.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub(crate) struct Node {
    pub(crate) kind: u8,
    pub(crate) flag: u8,
    pub(crate) small: u16,
    pub(crate) a: u32,
    pub(crate) b: u64,
}

impl Node {
    /// `[]`: a list of no elements whose subtree is itself.
    pub(crate) const NIL: Node = Node::container(kind::LIST, 0, 1);

    #[inline(always)]
    pub(crate) const fn leaf(kind: u8, a: u32, b: u64) -> Node {
        Node {
            kind,
            flag: 0,
            small: 0,
            a,
            b,
        }
    }

    #[inline(always)]
    pub(crate) const fn int(i: i64) -> Node {
        Node::leaf(kind::INT, 0, i as u64)
    }

    /// A container of `count` children whose subtree takes `size` nodes.
    #[inline(always)]
    pub(crate) const fn container(kind: u8, count: u32, size: u64) -> Node {
        Node {
            kind,
            flag: 0,
            small: 0,
            a: count,
            b: size,
        }
    }

    #[inline(always)]
    pub(crate) fn is_container(&self) -> bool {
        matches!(self.kind, kind::LIST | kind::TUPLE | kind::MAP)
    }

    /// How many nodes this term's subtree takes (itself included).
    #[inline(always)]
    pub(crate) fn size(&self) -> usize {
        if self.is_container() {
            self.b as usize
        } else {
            1
        }
    }
}

/// The integer nodes 0..=255: a string's elements are these.
pub(crate) static BYTE_NODES: [Node; 256] = {
    let mut nodes = [Node::int(0); 256];
    let mut i = 0;
    while i < 256 {
        nodes[i] = Node::int(i as i64);
        i += 1;
    }
    nodes
};

#[cfg(test)]
mod tests {
    use super::*;

    /// Sixteen bytes: four nodes to a cache line.
    #[test]
    fn a_node_is_sixteen_bytes() {
        assert_eq!(std::mem::size_of::<Node>(), 16);
    }
}
