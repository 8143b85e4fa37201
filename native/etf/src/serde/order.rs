//! Erlang's term order, as maps order their keys.
//!
//! `term_to_binary/1` writes a map of up to 32 keys in key order, so an
//! encoder that wants the BEAM's bytes must sort the same way:
//!
//! ```text
//! number < atom < reference < fun < port < pid < tuple < map < nil < list < bitstring
//! ```
//!
//! with one twist for map keys: every integer sorts before every float
//! (`#{2 => a, 0.5 => b}` is stored as `2, 0.5`), so `1` and `1.0` are two keys.

use std::cmp::Ordering;

use crate::term::Term;

/// The largest map `term_to_binary` writes in key order (a "flatmap");
/// larger maps are hash tries in hash order.
pub(crate) const MAX_FLATMAP: usize = 32;

fn rank(t: &Term) -> u8 {
    match t {
        Term::Int(_) | Term::BigInt(_) => 0,
        Term::Float(_) => 1,
        Term::Atom(_) => 2,
        Term::Reference(_) => 3,
        Term::Fun(_) => 4,
        Term::Port(_) => 5,
        Term::Pid(_) => 6,
        Term::Tuple(_) => 7,
        Term::Map(_) => 8,
        Term::List(items) if items.is_empty() => 9,
        Term::List(_) | Term::ImproperList(..) => 10,
        Term::Binary(_) | Term::BitString(_) => 11,
    }
}

/// Compares two terms in map-key order. `Equal` exactly when the terms are
/// `=:=` (so `0.0` and `-0.0` differ, as [`Term`]'s equality says).
pub(crate) fn map_key_cmp(a: &Term, b: &Term) -> Ordering {
    use num_bigint::BigInt;
    match (a, b) {
        (Term::Int(x), Term::Int(y)) => x.cmp(y),
        (Term::Int(x), Term::BigInt(y)) => BigInt::from(*x).cmp(y),
        (Term::BigInt(x), Term::Int(y)) => x.cmp(&BigInt::from(*y)),
        (Term::BigInt(x), Term::BigInt(y)) => x.cmp(y),
        (Term::Float(x), Term::Float(y)) => x.total_cmp(y),
        (Term::Atom(x), Term::Atom(y)) => x.cmp(y),
        (Term::Reference(x), Term::Reference(y)) => x.cmp(y),
        (Term::Fun(x), Term::Fun(y)) => x.bytes.cmp(&y.bytes),
        (Term::Port(x), Term::Port(y)) => x.cmp(y),
        (Term::Pid(x), Term::Pid(y)) => x.cmp(y),
        (Term::Tuple(x), Term::Tuple(y)) => x.len().cmp(&y.len()).then_with(|| elements_cmp(x, y)),
        (Term::Map(x), Term::Map(y)) => x.len().cmp(&y.len()).then_with(|| {
            let xs = sorted(&x.entries);
            let ys = sorted(&y.entries);
            let keys = xs
                .iter()
                .zip(&ys)
                .map(|(p, q)| map_key_cmp(&p.0, &q.0))
                .find(|o| o.is_ne());
            keys.unwrap_or_else(|| {
                xs.iter()
                    .zip(&ys)
                    .map(|(p, q)| map_key_cmp(&p.1, &q.1))
                    .find(|o| o.is_ne())
                    .unwrap_or(Ordering::Equal)
            })
        }),
        (Term::List(_) | Term::ImproperList(..), Term::List(_) | Term::ImproperList(..)) => {
            list_cmp(a, b)
        }
        (Term::Binary(x), Term::Binary(y)) => x.cmp(y),
        (Term::Binary(x), Term::BitString(y)) => x[..]
            .cmp(&y.bytes[..])
            .then((x.len() * 8).cmp(&y.bit_len())),
        (Term::BitString(x), Term::Binary(y)) => x.bytes[..]
            .cmp(&y[..])
            .then(x.bit_len().cmp(&(y.len() * 8))),
        (Term::BitString(x), Term::BitString(y)) => {
            x.bytes.cmp(&y.bytes).then(x.bit_len().cmp(&y.bit_len()))
        }
        _ => rank(a).cmp(&rank(b)),
    }
}

fn elements_cmp(x: &[Term], y: &[Term]) -> Ordering {
    x.iter()
        .zip(y)
        .map(|(p, q)| map_key_cmp(p, q))
        .find(|o| o.is_ne())
        .unwrap_or(Ordering::Equal)
}

fn sorted(entries: &[(Term, Term)]) -> Vec<&(Term, Term)> {
    let mut v: Vec<&(Term, Term)> = entries.iter().collect();
    v.sort_by(|p, q| map_key_cmp(&p.0, &q.0));
    v
}

/// Lists compare as chains of cons cells: head by head, then the tails.
fn list_cmp(a: &Term, b: &Term) -> Ordering {
    let nil = Term::List(Vec::new());
    let (xs, xt): (&[Term], &Term) = match a {
        Term::List(items) => (items, &nil),
        Term::ImproperList(items, tail) => (items, tail),
        _ => (&[], a),
    };
    let (ys, yt): (&[Term], &Term) = match b {
        Term::List(items) => (items, &nil),
        Term::ImproperList(items, tail) => (items, tail),
        _ => (&[], b),
    };
    let common = elements_cmp(xs, ys);
    if common.is_ne() {
        return common;
    }
    match xs.len().cmp(&ys.len()) {
        // a's rest is its tail, b's rest is a non-empty list.
        Ordering::Less => rank(xt).cmp(&10).then(Ordering::Less),
        Ordering::Greater => 10.cmp(&rank(yt)).then(Ordering::Greater),
        Ordering::Equal => match (a, b) {
            (Term::List(_), Term::List(_)) => Ordering::Equal,
            _ => map_key_cmp(xt, yt),
        },
    }
}

/// Sorts map entries the way `term_to_binary` writes them (key order, for
/// at most [`MAX_FLATMAP`] entries; larger maps keep their order).
pub(crate) fn flatmap_order<V>(entries: &mut [(Term, V)]) {
    if entries.len() <= MAX_FLATMAP {
        entries.sort_by(|p, q| map_key_cmp(&p.0, &q.0));
    }
}

/// Makes keys unique the way repeated `maps:put/3` (or [`Map::insert`](crate::Map::insert))
/// would: a repeated key keeps its first position and takes its last value.
/// `O(n log n)`, so a large Rust map costs no more than sorting it.
pub(crate) fn dedupe<V>(entries: Vec<(Term, V)>) -> Vec<(Term, V)> {
    let n = entries.len();
    if n <= 16
        && (1..n).all(|i| {
            entries[..i]
                .iter()
                .all(|(k, _)| map_key_cmp(k, &entries[i].0).is_ne())
        })
    {
        return entries;
    }
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_by(|&i, &j| map_key_cmp(&entries[i].0, &entries[j].0).then(i.cmp(&j)));
    if order
        .windows(2)
        .all(|w| map_key_cmp(&entries[w[0]].0, &entries[w[1]].0).is_ne())
    {
        return entries;
    }
    // winner[i] = Some(j): position i is kept and takes the value from j.
    let mut winner: Vec<Option<usize>> = vec![None; entries.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len()
            && map_key_cmp(&entries[order[start]].0, &entries[order[end]].0).is_eq()
        {
            end += 1;
        }
        winner[order[start]] = Some(order[end - 1]);
        start = end;
    }
    let mut slots: Vec<Option<(Term, V)>> = entries.into_iter().map(Some).collect();
    let mut out = Vec::with_capacity(slots.len());
    for i in 0..slots.len() {
        let Some(j) = winner[i] else { continue };
        let Some((key, first)) = slots[i].take() else {
            continue;
        };
        // j >= i: the group's last entry, never a winner itself.
        let value = match slots[j].take() {
            Some((_, last)) => last,
            None => first,
        };
        out.push((key, value));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(a: Term, b: Term) -> Ordering {
        map_key_cmp(&a, &b)
    }

    #[test]
    fn dedupe_keeps_first_position_and_last_value() {
        let e = |k: i64, v: i64| (Term::Int(k), v);
        let got = dedupe(vec![
            e(1, 10),
            e(2, 20),
            e(1, 11),
            e(3, 30),
            e(2, 21),
            e(1, 12),
        ]);
        assert_eq!(got, vec![e(1, 12), e(2, 21), e(3, 30)]);
        let unique = vec![e(5, 1), e(4, 2)];
        assert_eq!(dedupe(unique.clone()), unique);
    }

    #[test]
    fn integers_sort_before_floats_in_map_key_order() {
        assert_eq!(cmp(Term::Int(2), Term::Float(0.5)), Ordering::Less);
        assert_eq!(cmp(Term::Float(1.0), Term::Int(1)), Ordering::Greater);
    }

    #[test]
    fn types_sort_in_erlang_order() {
        let order = [
            Term::Int(1),
            Term::atom("a"),
            Term::Tuple(vec![]),
            Term::Map(Default::default()),
            Term::nil(),
            Term::List(vec![Term::Int(1)]),
            Term::binary(vec![]),
        ];
        for pair in order.windows(2) {
            assert_eq!(map_key_cmp(&pair[0], &pair[1]), Ordering::Less, "{pair:?}");
        }
    }

    #[test]
    fn tuples_sort_by_size_first() {
        let small = Term::Tuple(vec![Term::Int(9)]);
        let big = Term::Tuple(vec![Term::Int(1), Term::Int(1)]);
        assert_eq!(cmp(small, big), Ordering::Less);
    }

    #[test]
    fn lists_sort_element_by_element() {
        let a = Term::List(vec![Term::Int(1)]);
        let b = Term::List(vec![Term::Int(1), Term::Int(0)]);
        let improper = Term::ImproperList(vec![Term::Int(1)], Box::new(Term::Int(5)));
        assert_eq!(map_key_cmp(&a, &b), Ordering::Less);
        // [1|5] vs [1,0]: 5 (a number) < [0] (a list).
        assert_eq!(map_key_cmp(&improper, &b), Ordering::Less);
        assert_eq!(map_key_cmp(&b, &improper), Ordering::Greater);
        assert_eq!(map_key_cmp(&a, &a.clone()), Ordering::Equal);
    }
}
