//! [`TermRef::to_term`]: a tape's term as an owned [`Term`], built without
//! recursion (a tape may nest as deep as its decoder's `max_depth`).

use bytes::Bytes;

use super::node::{kind, Node, IMPROPER};
use super::term_ref::TermRef;
use crate::error::DecodeError;
use crate::term::{Fun, Map, Term};

/// A container whose children are being converted: they are
/// `values[start..]` until `left` more have come.
struct Open {
    node: Node,
    start: usize,
    left: usize,
}

impl TermRef<'_> {
    /// The owned [`Term`]: equal to what [`crate::decode()`] gives for the
    /// same input (binaries and funs are copied out of the input).
    ///
    /// Atoms are interned here; the one error is an atom that cannot be
    /// (the atom table is full: [`crate::DecodeErrorKind::InvalidAtom`] at
    /// the atom's text), where `etf::decode` fails on the same input.
    pub fn to_term(&self) -> Result<Term, DecodeError> {
        let nodes = self.subtree();
        let mut values: Vec<Term> = Vec::new();
        let mut open: Vec<Open> = Vec::new();
        let mut i = 0;
        while let Some(&node) = nodes.get(i) {
            i += 1;
            let children = match node.kind {
                kind::LIST => node.a as usize + (node.flag == IMPROPER) as usize,
                kind::TUPLE => node.a as usize,
                kind::MAP => 2 * node.a as usize,
                _ => 0,
            };
            if children > 0 {
                open.push(Open {
                    node,
                    start: values.len(),
                    left: children,
                });
                continue;
            }
            values.push(match node.kind {
                kind::LIST => Term::List(Vec::new()),
                kind::TUPLE => Term::Tuple(Vec::new()),
                kind::MAP => Term::Map(Map::new()),
                _ => self.leaf(node, i - 1)?,
            });
            // Close every container this value completes.
            while let Some(top) = open.last_mut() {
                top.left -= 1;
                if top.left > 0 {
                    break;
                }
                let Open { node, start, .. } = open.pop().unwrap_or(Open {
                    node: Node::NIL,
                    start: 0,
                    left: 0,
                });
                let mut items = values.split_off(start);
                values.push(match node.kind {
                    kind::TUPLE => Term::Tuple(items),
                    kind::MAP => {
                        let mut entries = Vec::with_capacity(items.len() / 2);
                        let mut flat = items.into_iter();
                        while let (Some(k), Some(v)) = (flat.next(), flat.next()) {
                            entries.push((k, v));
                        }
                        Term::Map(Map { entries })
                    }
                    _ if node.flag == IMPROPER => {
                        let tail = items.pop().unwrap_or_else(Term::nil);
                        Term::ImproperList(items, Box::new(tail))
                    }
                    _ => Term::List(items),
                });
            }
        }
        Ok(values.pop().unwrap_or_else(Term::nil))
    }

    /// The leaf `node`, at `i` in this term's subtree.
    fn leaf(&self, node: Node, i: usize) -> Result<Term, DecodeError> {
        let here = TermRef::new(self.subtree(), self.buf(), i);
        if let Some(e) = here.atom_error(&node) {
            return Err(e);
        }
        Ok(match node.kind {
            kind::INT => Term::Int(node.b as i64),
            kind::FLOAT => Term::Float(f64::from_bits(node.b)),
            kind::BINARY => {
                Term::Binary(crate::copy::copy_to_bytes(here.as_binary().unwrap_or(&[])))
            }
            kind::BITSTRING => match here.as_bitstring() {
                Some(b) => Term::from(b.to_bitstring()),
                None => Term::nil(),
            },
            kind::BIG => match here.as_big() {
                Some(b) => Term::from_bigint(b.to_bigint()),
                None => Term::nil(),
            },
            kind::PID => here.as_pid().map_or_else(Term::nil, Term::Pid),
            kind::PORT => here.as_port().map_or_else(Term::nil, Term::Port),
            kind::REFERENCE => here.as_reference().map_or_else(Term::nil, Term::Reference),
            kind::STRING => Term::List(
                here.as_list()
                    .into_iter()
                    .flatten()
                    .map(|b| Term::Int(b.as_i64().unwrap_or(0)))
                    .collect(),
            ),
            kind::FUN => Term::Fun(Fun {
                bytes: Bytes::copy_from_slice(here.as_fun().unwrap_or(&[])),
            }),
            _ => here.as_atom().map_or_else(Term::nil, Term::Atom),
        })
    }
}
