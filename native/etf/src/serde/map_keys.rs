//! Map keys as `term_to_binary` writes them: unique, in map-key order
//! ([`map_key_order`]) for maps of up to [`MAX_FLATMAP`] keys, and larger
//! maps in the BEAM's hash-trie order when their keys determine it.

use std::cmp::Ordering;

use crate::order::map_key_order;
use crate::term::Term;

/// The largest map `term_to_binary` writes in key order (a "flatmap");
/// larger maps are hash tries (see `hamt.rs`).
pub(crate) const MAX_FLATMAP: usize = 32;

fn map_key_cmp(a: &Term, b: &Term) -> Ordering {
    map_key_order(a, b)
}

/// Sorts map entries the way `term_to_binary` writes them: key order for
/// at most [`MAX_FLATMAP`] entries; larger maps in hash-trie order when
/// their keys hold no atom, pid, port, reference or fun, else as they are.
pub(crate) fn beam_order<V>(entries: &mut Vec<(Term, V)>) {
    if entries.len() <= MAX_FLATMAP {
        entries.sort_by(|p, q| map_key_cmp(&p.0, &q.0));
    } else {
        crate::hamt::sort_like_beam(entries);
    }
}

/// Makes keys unique the way repeated `maps:put/3` (or [`Map::insert`](crate::Map::insert))
/// would: a repeated key keeps its first position and takes its last value.
/// `O(n log n)`, so a large Rust map costs no more than sorting it.
pub(crate) fn dedupe<V>(entries: Vec<(Term, V)>) -> Vec<(Term, V)> {
    let n = entries.len();
    // `==` is `=:=`, exactly what map_key_order calls Equal; for atoms it is
    // an index comparison, so small structs never touch the atom table.
    if n <= 16 && (1..n).all(|i| entries[..i].iter().all(|(k, _)| *k != entries[i].0)) {
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
        let many: Vec<_> = (0..40).chain(0..40).map(|k| e(k, k)).collect();
        assert_eq!(dedupe(many).len(), 40);
    }

    #[test]
    fn flatmaps_sort_integers_before_floats() {
        let mut entries = vec![
            (Term::Float(0.5), ()),
            (Term::atom("a"), ()),
            (Term::Int(2), ()),
        ];
        beam_order(&mut entries);
        let keys: Vec<Term> = entries.into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, vec![Term::Int(2), Term::Float(0.5), Term::atom("a")]);
    }
}
