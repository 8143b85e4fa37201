//! `Display` for terms: Erlang syntax on one line (see the [module doc](super)).
//!
//! Printing is iterative, so a term nested a million levels deep prints
//! without exhausting the stack.

use std::fmt::{self, Write};

use crate::atom::{atoms, Atom};
use crate::term::{BitString, Fun, Map, Pid, Port, Reference, Term};

use super::float::write_float;
use super::write_escaped_char;

/// One piece of output still to write.
enum Step<'a> {
    Term(&'a Term),
    Text(&'static str),
}

/// Prints `term` as `io:format("~tp")` with `+pc unicode` would, on one line.
fn write_term(f: &mut fmt::Formatter<'_>, term: &Term) -> fmt::Result {
    write_steps(f, vec![Step::Term(term)])
}

/// Writes `todo`, last step first, expanding containers as it goes.
fn write_steps<'a>(f: &mut fmt::Formatter<'_>, mut todo: Vec<Step<'a>>) -> fmt::Result {
    while let Some(step) = todo.pop() {
        let term = match step {
            Step::Text(s) => {
                f.write_str(s)?;
                continue;
            }
            Step::Term(t) => t,
        };
        match term {
            Term::List(items) if items.is_empty() => f.write_str("[]")?,
            Term::List(items) if is_printable_string(items) => write_string(f, items)?,
            Term::List(items) => {
                f.write_str("[")?;
                todo.push(Step::Text("]"));
                push_seq(&mut todo, items);
            }
            Term::ImproperList(items, tail) => {
                f.write_str("[")?;
                todo.push(Step::Text("]"));
                todo.push(Step::Term(tail));
                todo.push(Step::Text("|"));
                push_seq(&mut todo, items);
            }
            Term::Tuple(items) => {
                f.write_str("{")?;
                todo.push(Step::Text("}"));
                push_seq(&mut todo, items);
            }
            Term::Map(map) => {
                f.write_str("#{")?;
                push_map(&mut todo, map);
            }
            leaf => write_leaf(f, leaf)?,
        }
    }
    Ok(())
}

/// Pushes the entries of `map` and its closing `}`, first entry on top.
///
/// In the order `io_lib` prints them: a map of up to 32 keys (a flatmap,
/// its keys in order) as stored, a larger one (a hash trie) last entry
/// first, as OTP 25 prints the reverse of its trie's order (`maps:keys/1`,
/// `term_to_binary`'s order, which a decoded map keeps). The parser reads
/// such a map back in reverse ([`crate::text`]), so text that `erl` printed
/// with `~tp` encodes to the bytes that `term_to_binary` gave in that VM.
fn push_map<'a>(todo: &mut Vec<Step<'a>>, map: &'a Map) {
    todo.push(Step::Text("}"));
    let n = map.entries.len();
    let trie = n > FLATMAP_MAX;
    // Printed position `p` (first is 0) holds stored entry `i`.
    for p in (0..n).rev() {
        let i = if trie { n - 1 - p } else { p };
        let Some((k, v)) = map.entries.get(i) else {
            continue;
        };
        todo.push(Step::Term(v));
        todo.push(Step::Text(" => "));
        todo.push(Step::Term(k));
        if p > 0 {
            todo.push(Step::Text(","));
        }
    }
}

/// The most keys a map has in OTP's flat form; larger maps are hash tries.
pub(crate) const FLATMAP_MAX: usize = 32;

/// Pushes `items` separated by commas, first item on top.
fn push_seq<'a>(todo: &mut Vec<Step<'a>>, items: &'a [Term]) {
    for (i, item) in items.iter().enumerate().rev() {
        todo.push(Step::Term(item));
        if i > 0 {
            todo.push(Step::Text(","));
        }
    }
}

fn write_leaf(f: &mut fmt::Formatter<'_>, term: &Term) -> fmt::Result {
    match term {
        Term::Atom(a) => write!(f, "{a}"),
        Term::Int(i) => write!(f, "{i}"),
        Term::BigInt(n) => write!(f, "{n}"),
        Term::Float(x) => write_float(f, *x),
        Term::Binary(b) => write_binary(f, b),
        Term::BitString(b) => write!(f, "{b}"),
        Term::Pid(p) => write!(f, "{p}"),
        Term::Port(p) => write!(f, "{p}"),
        Term::Reference(r) => write!(f, "{r}"),
        Term::Fun(fun) => write!(f, "{fun}"),
        // Containers are handled by `write_term`; printing them here too
        // keeps this total.
        Term::List(_) | Term::ImproperList(..) | Term::Tuple(_) | Term::Map(_) => {
            write_term(f, term)
        }
    }
}

/// `io_lib:printable_unicode_list/1` for one character.
pub(crate) fn is_printable_char(c: u32) -> bool {
    matches!(c,
        0x20..=0x7e
        | 0xa0..=0xd7ff
        | 0xe000..=0xfffd
        | 0x1_0000..=0x10_ffff
        | 0x0a | 0x0d | 0x09 | 0x0b | 0x08 | 0x0c | 0x1b)
}

fn is_printable_string(items: &[Term]) -> bool {
    items.iter().all(|t| match t {
        Term::Int(i) => u32::try_from(*i).is_ok_and(is_printable_char),
        _ => false,
    })
}

fn write_string(f: &mut fmt::Formatter<'_>, items: &[Term]) -> fmt::Result {
    f.write_char('"')?;
    for t in items {
        if let Some(c) = t
            .as_i64()
            .and_then(|i| u32::try_from(i).ok())
            .and_then(char::from_u32)
        {
            write_escaped_char(f, c, '"')?;
        }
    }
    f.write_char('"')
}

fn write_quoted(f: &mut fmt::Formatter<'_>, chars: impl Iterator<Item = char>) -> fmt::Result {
    f.write_char('"')?;
    for c in chars {
        write_escaped_char(f, c, '"')?;
    }
    f.write_char('"')
}

/// A binary as `io_lib_pretty` prints it with `+pc unicode`.
fn write_binary(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    if bytes.is_empty() {
        return f.write_str("<<>>");
    }
    f.write_str("<<")?;
    match std::str::from_utf8(bytes) {
        Ok(s) if s.chars().all(|c| is_printable_char(c as u32)) => {
            write_quoted(f, s.chars())?;
            if !s.is_ascii() {
                f.write_str("/utf8")?;
            }
        }
        // Valid UTF-8 that is not printable is bytes, as in `io_lib_pretty`.
        Err(_) if bytes.iter().all(|b| is_printable_char(u32::from(*b))) => {
            write_quoted(f, bytes.iter().map(|b| char::from(*b)))?;
        }
        _ => write_bytes(f, bytes)?,
    }
    f.write_str(">>")
}

fn write_bytes(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            f.write_char(',')?;
        }
        write!(f, "{b}")?;
    }
    Ok(())
}

/// Prints the term in Erlang syntax, as `io:format("~tp")` does on one line:
/// `{ok,"abc",<<1,2>>,#{a => 1}}`. See the [`text`](crate::text) module.
impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_term(f, self)
    }
}

/// `<<1,2:3>>`: whole bytes, then the last byte's used bits with their size.
impl fmt::Display for BitString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some((last, whole)) = self.bytes.split_last() else {
            return f.write_str("<<>>");
        };
        f.write_str("<<")?;
        write_bytes(f, whole)?;
        if !whole.is_empty() {
            f.write_char(',')?;
        }
        let bits = self.last_bits.clamp(1, 8);
        if bits == 8 {
            write!(f, "{last}>>")
        } else {
            write!(f, "{}:{bits}>>", last >> (8 - bits))
        }
    }
}

/// `#{a => 1,b => 2}`, entries in their stored order.
impl fmt::Display for Map {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("#{")?;
        let mut todo = Vec::new();
        push_map(&mut todo, self);
        write_steps(f, todo)
    }
}

/// The node part of a pid, port or reference: `0` for `nonode@nohost`
/// (as `erl` prints local identifiers), otherwise the node's name.
struct NodePart(Atom);

impl fmt::Display for NodePart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == atoms::nonode() {
            f.write_char('0')
        } else {
            write!(f, "{}", self.0)
        }
    }
}

/// `<0.42.0>` on `nonode@nohost`, `<'rust@host'.42.0>`-style elsewhere
/// (the node quoted only when an atom would be: `<rust@host.42.0>`).
impl fmt::Display for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{}.{}.{}>", NodePart(self.node), self.id, self.serial)
    }
}

/// `#Port<0.7>` on `nonode@nohost`, `#Port<rust@host.7>` elsewhere.
impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#Port<{}.{}>", NodePart(self.node), self.id)
    }
}

/// `#Ref<0.3635549386.560988161.127627>`: the words most significant
/// first, which is the reverse of their order on the wire (as `erl` prints).
/// `#Ref<0.A.B.C>`: the words most significant first, at least three (an
/// old one-word reference reads as the three-word one the VM makes of it,
/// `#Ref<0.0.0.1>`, as `erl` prints it).
impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#Ref<{}", NodePart(self.node))?;
        for _ in self.ids.len()..3 {
            f.write_str(".0")?;
        }
        for id in self.ids.iter().rev() {
            write!(f, ".{id}")?;
        }
        f.write_char('>')
    }
}

/// `fun lists:map/2` for an export fun, `#Fun<Module.Index.Uniq>` for a
/// local fun (as `erl` prints them), `#Fun<?>` if the bytes are malformed.
impl fmt::Display for Fun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match fun_name(&self.bytes) {
            Some(name) => f.write_str(&name),
            None => f.write_str("#Fun<?>"),
        }
    }
}

/// `fun m:f/A` for `EXPORT_EXT`, `#Fun<m.OldIndex.OldUniq>` for `NEW_FUN_EXT`.
fn fun_name(bytes: &[u8]) -> Option<String> {
    let mut r = FunReader(bytes);
    match r.byte()? {
        113 => {
            let (m, fun, arity) = (r.atom()?, r.atom()?, r.int()?);
            Some(format!("fun {m}:{fun}/{arity}"))
        }
        112 => {
            // Size(4) Arity(1) Uniq(16) Index(4) NumFree(4) Module OldIndex OldUniq ...
            r.skip(4 + 1 + 16 + 4 + 4)?;
            let (m, index, uniq) = (r.atom()?, r.int()?, r.int()?);
            Some(format!("#Fun<{m}.{index}.{uniq}>"))
        }
        _ => None,
    }
}

/// Just enough of the external format to name a fun.
struct FunReader<'a>(&'a [u8]);

impl FunReader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn skip(&mut self, n: usize) -> Option<()> {
        self.take(n).map(|_| ())
    }

    fn byte(&mut self) -> Option<u8> {
        self.take(1).and_then(|b| b.first().copied())
    }

    fn u16(&mut self) -> Option<usize> {
        let b = self.take(2)?;
        Some(usize::from(u16::from_be_bytes([*b.first()?, *b.get(1)?])))
    }

    fn atom(&mut self) -> Option<Atom> {
        let (len, latin1) = match self.byte()? {
            118 => (self.u16()?, false),
            119 => (usize::from(self.byte()?), false),
            100 => (self.u16()?, true),
            115 => (usize::from(self.byte()?), true),
            _ => return None,
        };
        let raw = self.take(len)?;
        let name: String = if latin1 {
            raw.iter().map(|b| char::from(*b)).collect()
        } else {
            std::str::from_utf8(raw).ok()?.to_owned()
        };
        Atom::try_new(&name).ok()
    }

    fn int(&mut self) -> Option<i64> {
        match self.byte()? {
            97 => self.byte().map(i64::from),
            98 => {
                let b = self.take(4)?;
                let word: [u8; 4] = b.try_into().ok()?;
                Some(i64::from(i32::from_be_bytes(word)))
            }
            _ => None,
        }
    }
}
