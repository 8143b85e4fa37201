//! The order in which the BEAM writes a map of more than 32 keys.
//!
//! The BEAM keeps maps of up to 32 keys sorted ("flatmaps"), and larger ones
//! in a hash array mapped trie (HAMT) keyed by its *internal* term hash
//! (`make_internal_hash/2` in erts): `term_to_binary/1` walks that trie, so
//! the order of a large map's pairs in the external format is a function of
//! its keys' hashes. For a map decoded from the BEAM, [`Map::entries`] is
//! already that order; for a map built in Rust, this module computes it, so
//! that `encode(T)` is byte-identical to OTP 25's `term_to_binary(T)`.
//!
//! ```erlang
//! M = maps:from_list([{I, I * 2} || I <- lists:seq(1, 40)]),
//! maps:keys(M).           % [33,12,23,29,30,39,26,31,...]: the order term_to_binary writes
//! ```
//!
//! The internal hash is only a function of the term for terms made of
//! integers, floats, binaries, bitstrings, lists, tuples and maps of those.
//! Atoms hash by their index in the VM's atom table (two VMs that created
//! the same atoms in a different order write the same map in different
//! orders), and pids, ports, references and funs by VM-local data. A map
//! with such a key has no single `term_to_binary` order; [`beam_order`]
//! returns `None` for it and the encoder keeps the map's own order.
//!
//! Within the trie, the hash is consumed four bits at a time from the least
//! significant end; `term_to_binary` visits a node's children from the
//! highest index to the lowest, depth first. Two keys whose 32-bit hashes
//! are equal are told apart from the ninth level on by a hash salted with
//! the depth (`make_map_hash/2`).
//!
//! Two details were pinned down by measurement against OTP 25.2 rather than
//! read from its source (tests/map_order.rs checks them): `[]` hashes as the
//! word `0x3b` inside another term but as `0xffff_0000_0000_003b` when it is
//! the whole key, and colliding keys are salted as `make_map_hash/2` does.

use crate::order::sorted_entries;
use crate::term::Term;

/// The golden ratio (Bob Jenkins' `HCONST`).
const HCONST: u32 = 0x9e37_79b9;
/// `HCONST * N mod 2^32`, the constants erts mixes in per type.
const HCONST_4: u32 = 0x78dd_e6e4;
const HCONST_9: u32 = 0x8ff3_4781;
const HCONST_10: u32 = 0x2e2a_c13a;
const HCONST_11: u32 = 0xcc62_3af3;
const HCONST_12: u32 = 0x6a99_b4ac;
const HCONST_13: u32 = 0x08d1_2e65;
const HCONST_15: u32 = 0x4540_21d7;
const HCONST_16: u32 = 0xe377_9b90;
const HCONST_17: u32 = 0x81af_1549;
const HCONST_18: u32 = 0x1fe6_8f02;
const HCONST_22: u32 = 0x98c4_75e6;
/// The salt every internal hash starts from (OTP 25+).
const INTERNAL_HASH_SALT: u32 = 3_432_918_353;
/// The word `[]` hashes as inside another term on a 64-bit OTP 25 VM.
const NIL_WORD: u64 = 0x3b;
/// The word `[]` hashes as when it is the whole key. Both were found by
/// measurement (the positions of `[]` and `[7]` among integer keys in
/// maps built by OTP 25.2 pin them down; see tests/map_order.rs).
const NIL_KEY_WORD: u64 = 0xffff_0000_0000_003b;
/// Small integers are immediate words on a 64-bit VM within this range.
const SMALL_BITS: u32 = 60;
/// Maps with at most this many keys are flatmaps (kept sorted).
const FLATMAP_MAX_KEYS: usize = 32;
/// Depths of salted rehashing tried before two keys are called equal.
const MAX_DEPTH: u32 = 8;

/// Bob Jenkins' 96-bit mix, as erts' `MIX(a, b, c)`: all three words after it.
fn mix(mut a: u32, mut b: u32, mut c: u32) -> (u32, u32, u32) {
    a = a.wrapping_sub(b).wrapping_sub(c) ^ (c >> 13);
    b = b.wrapping_sub(c).wrapping_sub(a) ^ (a << 8);
    c = c.wrapping_sub(a).wrapping_sub(b) ^ (b >> 13);
    a = a.wrapping_sub(b).wrapping_sub(c) ^ (c >> 12);
    b = b.wrapping_sub(c).wrapping_sub(a) ^ (a << 16);
    c = c.wrapping_sub(a).wrapping_sub(b) ^ (b >> 5);
    a = a.wrapping_sub(b).wrapping_sub(c) ^ (c >> 3);
    b = b.wrapping_sub(c).wrapping_sub(a) ^ (a << 10);
    c = c.wrapping_sub(a).wrapping_sub(b) ^ (b >> 15);
    (a, b, c)
}

/// Bob Jenkins' `lookup2` over a byte string, erts' `block_hash/3`.
fn block_hash(bytes: &[u8], initval: u32) -> u32 {
    let word = |k: &[u8]| u32::from_le_bytes([k[0], k[1], k[2], k[3]]);
    let (mut a, mut b, mut c) = (HCONST, HCONST, initval);
    let mut chunks = bytes.chunks_exact(12);
    for k in &mut chunks {
        a = a.wrapping_add(word(&k[0..4]));
        b = b.wrapping_add(word(&k[4..8]));
        c = c.wrapping_add(word(&k[8..12]));
        (a, b, c) = mix(a, b, c);
    }
    // The length is truncated to 32 bits, as erts does.
    c = c.wrapping_add(bytes.len() as u32);
    let rest = chunks.remainder();
    let at = |i: usize| rest.get(i).map_or(0, |&x| u32::from(x));
    c = c.wrapping_add((at(10) << 24) | (at(9) << 16) | (at(8) << 8));
    b = b.wrapping_add((at(7) << 24) | (at(6) << 16) | (at(5) << 8) | at(4));
    a = a.wrapping_add((at(3) << 24) | (at(2) << 16) | (at(1) << 8) | at(0));
    mix(a, b, c).2
}

/// What is left to hash, erts' `ESTACK` entries.
enum Work<'a> {
    /// A term.
    Term(&'a Term),
    /// The rest of a list from a cons cell on: `items` (not empty), then `tail`.
    Cells(&'a [Term], Tail<'a>),
    /// The marker erts pushes before the tail of a list's last cell.
    Cdr,
    /// `[]` as a list's tail.
    Nil,
}

/// A list's tail: `[]` or an improper tail term.
#[derive(Clone, Copy)]
enum Tail<'a> {
    Nil,
    Term(&'a Term),
}

/// The running hash, erts' `hash` variable and its macros.
struct Hasher(u32);

impl Hasher {
    /// `UINT32_HASH_2(X, Y, C)`.
    fn two(&mut self, x: u32, y: u32, konst: u32) {
        self.0 = mix(konst.wrapping_add(x), konst.wrapping_add(y), self.0).2;
    }

    /// `UINT32_HASH(X, C)`.
    fn one(&mut self, x: u32, konst: u32) {
        self.two(x, 0, konst);
    }

    /// `CONST_HASH(C)`: a light mix of a type constant.
    fn konst(&mut self, konst: u32) {
        self.0 = (self.0 ^ konst).rotate_left(17);
    }

    /// An immediate term: its tagged 64-bit word.
    fn word(&mut self, w: u64) {
        self.two(w as u32, (w >> 32) as u32, HCONST);
    }

    /// A bignum: its magnitude's 64-bit digits, least significant first.
    fn big(&mut self, negative: bool, digits: &[u64]) {
        let konst = if negative { HCONST_10 } else { HCONST_11 };
        for &d in digits {
            self.two(d as u32, (d >> 32) as u32, konst);
        }
    }
}

/// The tagged word of a small integer, if `i` is one on a 64-bit VM.
fn small_word(i: i64) -> Option<u64> {
    let limit = 1i64 << (SMALL_BITS - 1);
    ((-limit..limit).contains(&i)).then_some(((i as u64) << 4) | 0xf)
}

/// `make_internal_hash(Term, Salt)` of OTP 25 on a 64-bit VM, or `None`
/// when the hash depends on the VM (atoms, pids, ports, references, funs,
/// or a map holding one).
pub(crate) fn internal_hash(term: &Term, salt: u32) -> Option<u32> {
    let mut h = Hasher(salt ^ INTERNAL_HASH_SALT);
    // An immediate term on its own hashes both halves of its word.
    let immediate = match term {
        Term::Int(i) => small_word(*i),
        Term::List(items) if items.is_empty() => Some(NIL_KEY_WORD),
        _ => None,
    };
    if let Some(w) = immediate {
        h.word(w);
        return Some(h.0);
    }
    let mut stack = vec![Work::Term(term)];
    while let Some(work) = stack.pop() {
        let term = match work {
            Work::Cdr => {
                h.konst(HCONST_18);
                continue;
            }
            Work::Nil => {
                h.word(NIL_WORD);
                continue;
            }
            Work::Cells(items, tail) => {
                cells(&mut h, &mut stack, items, tail);
                continue;
            }
            Work::Term(t) => t,
        };
        match term {
            Term::Int(i) => match small_word(*i) {
                Some(w) => h.word(w),
                None => h.big(*i < 0, &[i.unsigned_abs()]),
            },
            Term::BigInt(b) => {
                let (sign, digits) = b.to_u64_digits();
                h.big(sign == num_bigint::Sign::Minus, &digits);
            }
            Term::Float(f) => {
                let bits = if *f == 0.0 { 0 } else { f.to_bits() };
                h.two(bits as u32, (bits >> 32) as u32, HCONST_12);
            }
            Term::Binary(b) => binary(&mut h, b, None),
            Term::BitString(bs) => match bs.bytes.split_last() {
                Some((&last, whole)) => binary(&mut h, whole, Some((bs.last_bits, last))),
                None => binary(&mut h, &[], None),
            },
            Term::List(items) if items.is_empty() => h.word(NIL_WORD),
            Term::List(items) => cells(&mut h, &mut stack, items, Tail::Nil),
            Term::ImproperList(items, tail) if items.is_empty() => {
                stack.push(Work::Term(tail));
            }
            Term::ImproperList(items, tail) => {
                cells(&mut h, &mut stack, items, Tail::Term(tail));
            }
            Term::Tuple(elems) => {
                h.one(elems.len() as u32, HCONST_9);
                stack.extend(elems.iter().rev().map(Work::Term));
            }
            Term::Map(m) => {
                h.one(m.entries.len() as u32, HCONST_16);
                let pairs: Vec<&(Term, Term)> = if m.entries.len() <= FLATMAP_MAX_KEYS {
                    sorted_entries(m)
                } else {
                    let order = beam_order(m.entries.iter().map(|(k, _)| k))?;
                    order.into_iter().filter_map(|i| m.entries.get(i)).collect()
                };
                for (k, v) in pairs.into_iter().rev() {
                    stack.push(Work::Term(v));
                    stack.push(Work::Term(k));
                }
            }
            Term::Atom(_) | Term::Pid(_) | Term::Port(_) | Term::Reference(_) | Term::Fun(_) => {
                return None
            }
        }
    }
    Some(h.0)
}

/// A binary or bitstring: `whole` bytes, then `last` = (bits used, byte).
fn binary(h: &mut Hasher, whole: &[u8], last: Option<(u8, u8)>) {
    let konst = HCONST_13.wrapping_add(h.0);
    if whole.is_empty() && last.is_none() {
        h.0 = konst;
        return;
    }
    h.0 = block_hash(whole, konst);
    if let Some((bits, byte)) = last {
        h.two(u32::from(bits), u32::from(byte >> (8 - bits)), HCONST_15);
    }
}

/// A list from a cons cell on, as erts walks it: a run of byte-sized
/// integers is hashed four at a time; at the first other element, that
/// element is hashed next and the rest of the list is left on the stack.
fn cells<'a>(h: &mut Hasher, stack: &mut Vec<Work<'a>>, items: &'a [Term], tail: Tail<'a>) {
    let (mut count, mut packed) = (0u32, 0u32);
    let mut idx = 0;
    while let Some(Term::Int(b @ 0..=255)) = items.get(idx) {
        packed = (packed << 8).wrapping_add(*b as u32);
        if count == 3 {
            h.one(packed, HCONST_4);
            (count, packed) = (0, 0);
        } else {
            count += 1;
        }
        idx += 1;
    }
    if count > 0 {
        h.two(packed, count, HCONST_22);
    }
    let Some(head) = items.get(idx) else {
        // Every element was a byte: the tail is hashed as a term.
        match tail {
            Tail::Nil => h.word(NIL_WORD),
            Tail::Term(t) => stack.push(Work::Term(t)),
        }
        return;
    };
    h.konst(HCONST_17);
    match items.get(idx + 1..) {
        Some(rest) if !rest.is_empty() => stack.push(Work::Cells(rest, tail)),
        _ => {
            match tail {
                Tail::Nil => stack.push(Work::Nil),
                Tail::Term(t) => stack.push(Work::Term(t)),
            }
            stack.push(Work::Cdr);
        }
    }
    stack.push(Work::Term(head));
}

/// A key's hash below the trie's first eight levels (`depth` 1 for levels
/// 8 to 15...), erts' `make_map_hash/2`: the internal hash salted with a
/// mix of the depth.
fn salted_hash(key: &Term, depth: u32) -> Option<u32> {
    let mut salt = Hasher(0);
    salt.two(depth, 1, HCONST_22);
    internal_hash(key, salt.0)
}

/// A key's trie path: its hash with the nibbles reversed, so that ordering
/// the paths orders keys by their first nibble, then their second...
fn path(hash: u32) -> u32 {
    let mut out = 0;
    for i in 0..8 {
        out |= ((hash >> (4 * i)) & 0xf) << (4 * (7 - i));
    }
    out
}

/// The positions of `keys` (a map's keys, more than 32 of them) in the
/// order OTP 25's `term_to_binary/1` writes them, or `None` when a key's
/// hash depends on the VM (see the module doc).
pub(crate) fn beam_order<'a>(keys: impl ExactSizeIterator<Item = &'a Term>) -> Option<Vec<usize>> {
    let mut keyed = Vec::with_capacity(keys.len());
    for (i, key) in keys.enumerate() {
        keyed.push((path(internal_hash(key, 0)?), i, key));
    }
    keyed.sort_unstable_by(|a, b| b.0.cmp(&a.0).then_with(|| collision(a.2, b.2)));
    Some(keyed.into_iter().map(|(_, i, _)| i).collect())
}

/// Puts a large map's entries in the order `term_to_binary/1` writes them
/// when that order is a function of the keys; leaves them as they are
/// otherwise.
pub(crate) fn sort_like_beam<V>(entries: &mut Vec<(Term, V)>) {
    let Some(order) = beam_order(entries.iter().map(|(k, _)| k)) else {
        return;
    };
    let mut slots: Vec<Option<(Term, V)>> = entries.drain(..).map(Some).collect();
    entries.extend(
        order
            .into_iter()
            .filter_map(|i| slots.get_mut(i).and_then(Option::take)),
    );
}

/// Orders two keys whose 32-bit hashes are equal by their salted hashes,
/// highest path first as the rest of the order.
fn collision(a: &Term, b: &Term) -> std::cmp::Ordering {
    for depth in 1..=MAX_DEPTH {
        let ha = salted_hash(a, depth).map(path);
        let hb = salted_hash(b, depth).map(path);
        let order = hb.cmp(&ha);
        if order.is_ne() {
            return order;
        }
    }
    std::cmp::Ordering::Equal
}
