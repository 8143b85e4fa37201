//! Erlang's term order, as a Rust [`Ord`] on [`Term`].
//!
//! | Erlang                      | Rust                                  |
//! |-----------------------------|---------------------------------------|
//! | `A < B` (term order)        | `a < b`                               |
//! | `lists:sort(L)`             | `v.sort()`                            |
//! | map key order (`maps:keys`) | `a.cmp(&b)`                           |
//!
//! `number < atom < reference < fun < port < pid < tuple < map < [] < list
//! < bitstring`. Tuples compare by size, then element by element; maps by
//! size, then keys in order, then values in key order; lists element by
//! element (a shorter list is smaller); bitstrings bit by bit.
//!
//! Erlang's `==` calls `1` and `1.0` equal; a total order consistent with
//! `=:=` cannot, so here an integer sorts just before the float of the same
//! value. That is exactly the order the BEAM keeps map keys in (and writes
//! small maps in), so sorting keys with it reproduces `term_to_binary`.
//!
//! Pids, ports and references compare by node, then by their numbers
//! (pids: serial before id, as the BEAM does for local pids); funs by their
//! encoded bytes. Both are close to, not guaranteed identical to, the
//! BEAM's order among such values.
//!
//! ```
//! use etf::Term;
//! let mut v = vec![Term::atom("a"), Term::Float(1.0), Term::Int(1), Term::nil()];
//! v.sort();
//! assert_eq!(v, vec![Term::Int(1), Term::Float(1.0), Term::atom("a"), Term::nil()]);
//! ```

use std::cmp::Ordering;

use num_bigint::BigInt;
use num_traits::FromPrimitive;

use crate::term::{Map, Pid, Port, Reference, Term};

/// The rank of a term's type in Erlang's term order.
fn class(t: &Term) -> u8 {
    match t {
        Term::Int(_) | Term::BigInt(_) | Term::Float(_) => 0,
        Term::Atom(_) => 1,
        Term::Reference(_) => 2,
        Term::Fun(_) => 3,
        Term::Port(_) => 4,
        Term::Pid(_) => 5,
        Term::Tuple(_) => 6,
        Term::Map(_) => 7,
        Term::List(items) if items.is_empty() => 8,
        Term::List(_) | Term::ImproperList(..) => 9,
        Term::Binary(_) | Term::BitString(_) => 10,
    }
}

impl Eq for Term {}

impl PartialOrd for Term {
    fn partial_cmp(&self, other: &Term) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Term {
    fn cmp(&self, other: &Term) -> Ordering {
        compare(self, other, false)
    }
}

/// The order the BEAM keeps map keys in: term order, except that every
/// integer sorts before every float (`1 < 2.0 < 1.0e100`, but `2 < 1.0` is
/// false only here: integers first). Small maps are written in this order.
///
/// ```
/// use etf::{order::map_key_order, Term};
/// use std::cmp::Ordering;
/// assert_eq!(map_key_order(&Term::Int(5), &Term::Float(1.0)), Ordering::Less);
/// assert_eq!(Term::Int(5).cmp(&Term::Float(1.0)), Ordering::Greater);
/// ```
pub fn map_key_order(a: &Term, b: &Term) -> Ordering {
    compare(a, b, true)
}

fn compare_all<'a>(
    a: impl IntoIterator<Item = &'a Term>,
    b: impl IntoIterator<Item = &'a Term>,
    keys: bool,
) -> Ordering {
    let mut b = b.into_iter();
    for x in a {
        let Some(y) = b.next() else {
            return Ordering::Greater;
        };
        match compare(x, y, keys) {
            Ordering::Equal => {}
            o => return o,
        }
    }
    if b.next().is_some() {
        Ordering::Less
    } else {
        Ordering::Equal
    }
}

/// Term order; `keys`: map key order (integers before floats).
fn compare(a: &Term, b: &Term, keys: bool) -> Ordering {
    use Term::*;
    let (ca, cb) = (class(a), class(b));
    if ca != cb {
        return ca.cmp(&cb);
    }
    {
        let (this, other) = (a, b);
        match (this, other) {
            (Atom(a), Atom(b)) => a.cmp(b),
            (Tuple(a), Tuple(b)) => a.len().cmp(&b.len()).then_with(|| compare_all(a, b, keys)),
            (Map(a), Map(b)) => cmp_maps(a, b),
            (Binary(a), Binary(b)) => a.cmp(b),
            (Pid(a), Pid(b)) => cmp_pids(a, b),
            (Port(a), Port(b)) => cmp_ports(a, b),
            (Reference(a), Reference(b)) => cmp_refs(a, b),
            (Fun(a), Fun(b)) => a.bytes.cmp(&b.bytes),
            _ if ca == 0 && keys => {
                let float = |t: &Term| matches!(t, Float(_));
                float(this)
                    .cmp(&float(other))
                    .then_with(|| cmp_numbers(this, other))
            }
            _ if ca == 0 => cmp_numbers(this, other),
            _ if ca == 8 || ca == 9 => cmp_lists(this, other, keys),
            _ => cmp_bits(bits_of(this), bits_of(other)),
        }
    }
}

fn cmp_numbers(a: &Term, b: &Term) -> Ordering {
    use Term::*;
    match (a, b) {
        (Int(x), Int(y)) => x.cmp(y),
        (Float(x), Float(y)) => x.total_cmp(y),
        (BigInt(x), BigInt(y)) => x.cmp(y),
        // A `BigInt` that fits in `i64` is not normalised, and not `==` an
        // `Int` of the same value: put it after, to stay consistent with `Eq`.
        (Int(x), BigInt(y)) => num_bigint::BigInt::from(*x).cmp(y).then(Ordering::Less),
        (BigInt(x), Int(y)) => x.cmp(&num_bigint::BigInt::from(*y)).then(Ordering::Greater),
        // Equal values: the integer first (see the module doc).
        (Int(x), Float(y)) => cmp_int_float(*x, *y).then(Ordering::Less),
        (Float(x), Int(y)) => cmp_int_float(*y, *x).reverse().then(Ordering::Greater),
        (BigInt(x), Float(y)) => cmp_big_float(x, *y).then(Ordering::Less),
        (Float(x), BigInt(y)) => cmp_big_float(y, *x).reverse().then(Ordering::Greater),
        _ => Ordering::Equal,
    }
}

/// Exact comparison of an integer with a (finite) float.
fn cmp_int_float(i: i64, f: f64) -> Ordering {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if f >= TWO_63 {
        return Ordering::Less;
    }
    if f < -TWO_63 {
        return Ordering::Greater;
    }
    let whole = f.trunc() as i64;
    i.cmp(&whole)
        .then_with(|| 0.0.partial_cmp(&f.fract()).unwrap_or(Ordering::Equal))
}

fn cmp_big_float(b: &BigInt, f: f64) -> Ordering {
    match BigInt::from_f64(f.trunc()) {
        Some(whole) => b
            .cmp(&whole)
            .then_with(|| 0.0.partial_cmp(&f.fract()).unwrap_or(Ordering::Equal)),
        None => Ordering::Equal,
    }
}

/// A list as its elements and its tail (`None` for `[]`).
fn list_parts(t: &Term) -> (&[Term], Option<&Term>) {
    match t {
        Term::List(items) => (items, None),
        Term::ImproperList(items, tail) => (items, Some(tail)),
        _ => (&[], Some(t)),
    }
}

fn cmp_lists(a: &Term, b: &Term, keys: bool) -> Ordering {
    let (ai, at) = list_parts(a);
    let (bi, bt) = list_parts(b);
    for (x, y) in ai.iter().zip(bi) {
        match compare(x, y, keys) {
            Ordering::Equal => {}
            o => return o,
        }
    }
    // What is left of each after the common prefix: more elements (a
    // non-empty list, class 9), or its tail.
    let rest_class = |items: &[Term], tail: Option<&Term>, n: usize| -> Result<u8, ()> {
        if items.len() > n {
            Ok(9)
        } else {
            match tail {
                None => Ok(8),
                Some(_) => Err(()),
            }
        }
    };
    let n = ai.len().min(bi.len());
    match (rest_class(ai, at, n), rest_class(bi, bt, n)) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        (Ok(x), Err(())) => bt.map_or(Ordering::Equal, |t| x.cmp(&class(t))),
        (Err(()), Ok(y)) => at.map_or(Ordering::Equal, |t| class(t).cmp(&y)),
        (Err(()), Err(())) => match (at, bt) {
            (Some(x), Some(y)) => compare(x, y, keys),
            _ => Ordering::Equal,
        },
    }
}

fn bits_of(t: &Term) -> (&[u8], usize) {
    match t {
        Term::Binary(b) => (b, b.len() * 8),
        Term::BitString(bs) => (&bs.bytes, bs.bit_len()),
        _ => (&[], 0),
    }
}

/// Bit-by-bit comparison; a proper prefix is smaller.
fn cmp_bits((a, alen): (&[u8], usize), (b, blen): (&[u8], usize)) -> Ordering {
    let common = alen.min(blen);
    let full = common / 8;
    let (ah, bh) = (a.get(..full).unwrap_or(a), b.get(..full).unwrap_or(b));
    match ah.cmp(bh) {
        Ordering::Equal => {}
        o => return o,
    }
    let rest = common % 8;
    if rest > 0 {
        let mask = 0xffu8 << (8 - rest);
        let x = a.get(full).copied().unwrap_or(0) & mask;
        let y = b.get(full).copied().unwrap_or(0) & mask;
        match x.cmp(&y) {
            Ordering::Equal => {}
            o => return o,
        }
    }
    alen.cmp(&blen)
}

/// Entries sorted by key, for comparison and deterministic encoding.
pub(crate) fn sorted_entries(m: &Map) -> Vec<&(Term, Term)> {
    let mut v: Vec<&(Term, Term)> = m.entries.iter().collect();
    v.sort_by(|x, y| map_key_order(&x.0, &y.0));
    v
}

fn cmp_maps(a: &Map, b: &Map) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| {
        let (sa, sb) = (sorted_entries(a), sorted_entries(b));
        compare_all(sa.iter().map(|e| &e.0), sb.iter().map(|e| &e.0), true)
            .then_with(|| compare_all(sa.iter().map(|e| &e.1), sb.iter().map(|e| &e.1), false))
    })
}

fn cmp_pids(a: &Pid, b: &Pid) -> Ordering {
    (a.node, a.serial, a.id, a.creation).cmp(&(b.node, b.serial, b.id, b.creation))
}

fn cmp_ports(a: &Port, b: &Port) -> Ordering {
    (a.node, a.id, a.creation).cmp(&(b.node, b.id, b.creation))
}

fn cmp_refs(a: &Reference, b: &Reference) -> Ordering {
    a.node
        .cmp(&b.node)
        .then_with(|| a.ids.len().cmp(&b.ids.len()))
        .then_with(|| a.ids.iter().rev().cmp(b.ids.iter().rev()))
        .then_with(|| a.creation.cmp(&b.creation))
}
