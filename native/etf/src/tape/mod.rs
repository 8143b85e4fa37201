//! Decoding to a tape: one flat buffer of fixed-size nodes, read in place.
//!
//! | Erlang                                  | Rust                                            |
//! |-----------------------------------------|-------------------------------------------------|
//! | `binary_to_term(B)`                     | `etf::tape::decode(&b)?.root()`                 |
//! | (the same, reusing one buffer)          | `etf::tape::decode_into(&mut tape, &b)?`        |
//! | `binary_to_term(B, [used])`, dist terms | `etf::tape::decode_with_into(&mut tape, &b, &opts)?` |
//! | `element(N, T)`, `tuple_size(T)`        | `t.as_tuple()?.nth(n - 1)`, `.len()`            |
//! | `[H \| T]` walked                       | `for x in t.as_list()? { .. }`                  |
//! | `maps:get(K, M)` / `maps:to_list(M)`    | `t.map_get_atom("k")`, `t.map_entries()?`       |
//! | `is_atom/1`, `is_integer/1`, ...        | `t.kind()`, `t.as_atom()`, `t.as_i64()`, ...    |
//! | the whole term                          | `t.to_term()?` (exactly what `etf::decode` gives)|
//!
//! `etf::decode` builds a [`Term`] tree: one allocation per list, tuple,
//! map and bignum, and as many frees when it is dropped. A [`Tape`] holds
//! the same term as one `Vec` of 16-byte nodes (the idea of simd-json's
//! tape): each container's node is followed by its children and records
//! the size of its subtree, so stepping to the next sibling is one
//! addition. Decoding into a tape that is reused allocates nothing once the
//! tape has grown to the largest term; binaries, bignum digits and funs are
//! not copied but borrowed from the input (from the inflated bytes, which
//! the tape keeps, for a compressed term).
//!
//! Atoms are checked but not interned while decoding (measured: interning
//! was a fifth to a third of the tape decode's instructions on the
//! atom-heavy corpora of `examples/bench.rs`). Their names stay in the input:
//! [`TermRef::is_atom`] and [`TermRef::atom_name`] (a `Cow<str>`) read
//! them in place, [`TermRef::as_atom`] interns one into an [`Atom`] when
//! asked, and [`TermRef::to_term`] interns them all. So the one input
//! `etf::decode` rejects and the tape accepts is a term with a new atom
//! when the atom table is already full: the tape reports that from
//! `to_term` (and `as_atom` gives `None`).
//!
//! ## Term or tape?
//!
//! * Use a **tape** to read a term once and act on it: dispatch on a
//!   message's tag, pull fields out of a request, copy some of it into
//!   your own types. It is the faster decoder (see `examples/bench.rs`),
//!   most of all on list-heavy terms, because nothing is allocated or
//!   freed per node.
//! * Use a **[`Term`]** to keep a term, store it, send it to another
//!   process, pattern-match it with Rust's `match`, compare or sort it, or
//!   build one to encode. [`TermRef::to_term`] converts any part of a tape.
//!
//! A tape borrows its input: `Tape<'a>` cannot outlive the bytes it was
//! decoded from. [`Tape::recycle`] keeps its buffers for the next input of
//! another lifetime.
//!
//! Hostile input is handled as by `etf::decode`, check for check: every
//! input gives the same term or the same [`DecodeError`] at the same byte
//! (but for the full atom table above; the tests compare the two on
//! generated, mutated, hostile and BEAM-made inputs, and the fuzzer does
//! on every input it tries). `LOCAL_EXT` and atom cache references outside
//! a distribution header are errors; nesting is walked without recursion
//! and bounded by [`DecodeOptions::max_depth`]; the tape holds at most one
//! node per input byte (16 bytes per byte, and its `Vec` may have twice
//! that room); a compressed term inflates to exactly its declared size.
//!
//! Measured by `cargo run --release -p ferrotp-etf --example bench
//! --features bench-eetf` (the `tape` columns, beside the `Term` ones), two
//! runs free and two pinned to one core on a 2-core machine at load 2 to
//! 3: decoding into a reused tape ran at 6.6 to 6.7 times
//! `binary_to_term`'s speed on the same bytes for small mixed terms, 2.9
//! to 3.0 on nested lists, only 1.5 to 1.65 on lists nested 1000 deep; and
//! at 5.7 to 5.8 times the eetf crate's speed on small mixed terms, 5.3 to
//! 5.5 on nested lists, 7.2 on deep lists. In runs at load 4.5 to 6, it
//! ran at 7.2 to 7.5 times `binary_to_term` for 50-key maps, 8.2 to 14.8
//! for long integer lists, 2.3 to 4.2 for bignums and about a thousand
//! times on large binaries (not copied), and at 5.2 to 13.6 times eetf on
//! those. The walk keeps its read position in a local, a register: kept in
//! the decoder, as it was before, every read was a store and a reload, 4
//! to 22% more instructions and up to a fifth more time (deep lists then
//! ran at 1.45 times `binary_to_term`, small mixed terms at 4.7 times eetf
//! and nested lists at 5.1).
//!
//! ```
//! use etf::tape::{self, Kind};
//! let bytes = etf::encode(&etf::parse("{reply, 7, <<\"ok\">>, [1, 2, 3]}").unwrap());
//! let tape = tape::decode(&bytes).unwrap();
//! let mut fields = tape.root().as_tuple().unwrap();
//! assert_eq!(fields.len(), 4);
//! assert!(fields.next().unwrap().is_atom("reply"));
//! assert_eq!(fields.next().unwrap().as_i64(), Some(7));
//! assert_eq!(fields.next().unwrap().as_binary(), Some(&b"ok"[..]));
//! let list = fields.next().unwrap();
//! assert_eq!(list.kind(), Kind::List);
//! assert_eq!(list.as_list().unwrap().filter_map(|x| x.as_i64()).sum::<i64>(), 6);
//! assert_eq!(tape.root().to_term(), etf::decode(&bytes));
//! ```

pub(crate) mod node;
mod term_ref;
mod to_term;

pub use term_ref::{BigRef, BitStrRef, Elements, Entries, Kind, TermRef};

use crate::decode::tape::{fill, Buffers, Frame};
use crate::error::{DecodeError, DecodeErrorKind};
use crate::DecodeOptions;
#[allow(unused_imports)] // for the docs
use crate::{Atom, Term};
use node::Node;

/// A decoded term, as a flat buffer of nodes borrowing from the input.
///
/// Make one with [`decode`] or [`Tape::new`] and [`decode_into`]; read it
/// through [`Tape::root`]. A tape that has never decoded anything, or whose
/// last decode failed, reads as `[]`.
#[derive(Default)]
pub struct Tape<'a> {
    nodes: Vec<Node>,
    frames: Vec<Frame>,
    map_at: Vec<usize>,
    /// Map keys being checked for duplicates: (name head, length, node).
    keys: Vec<(u64, usize, usize)>,
    inflated: Vec<u8>,
    input: &'a [u8],
    compressed: bool,
}

impl std::fmt::Debug for Tape<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tape({} nodes: {:?})", self.nodes.len(), self.root())
    }
}

/// What an empty tape reads as.
static EMPTY: [Node; 1] = [Node::NIL];

impl<'a> Tape<'a> {
    /// An empty tape, ready for [`decode_into`].
    pub fn new() -> Tape<'a> {
        Tape::default()
    }

    /// The decoded term.
    pub fn root(&self) -> TermRef<'_> {
        if self.nodes.is_empty() {
            return TermRef::new(&EMPTY, &[], 0);
        }
        let buf = if self.compressed {
            &self.inflated[..]
        } else {
            self.input
        };
        TermRef::new(&self.nodes, buf, 0)
    }

    /// How many nodes the term takes: one per atom, number, binary, pid,
    /// ... and container; a list of `n` elements takes `n + 1` and more
    /// for nested terms, except a byte list sent as `STRING_EXT`
    /// (`"abc"`, `[1,2,3]`), which is one node.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Empties the tape and rebinds it to inputs of another lifetime,
    /// keeping its buffers: for a loop over inputs that do not outlive one
    /// round (the tape of a long-lived reader, say).
    pub fn recycle<'b>(self) -> Tape<'b> {
        let mut nodes = self.nodes;
        nodes.clear();
        Tape {
            nodes,
            frames: self.frames,
            map_at: self.map_at,
            keys: self.keys,
            inflated: self.inflated,
            input: &[],
            compressed: false,
        }
    }

    fn clear(&mut self) {
        self.nodes.clear();
        self.input = &[];
        self.compressed = false;
    }
}

/// Decodes one term that starts with the version byte 131 and fills
/// `input` exactly (`binary_to_term/1`), into a new tape.
pub fn decode(input: &[u8]) -> Result<Tape<'_>, DecodeError> {
    let mut tape = Tape::new();
    decode_into(&mut tape, input)?;
    Ok(tape)
}

/// Like [`decode`], but into `tape`, reusing its buffers: the fast path for
/// a loop that decodes many terms.
///
/// ```
/// let a = etf::encode(&etf::Term::atom("ping"));
/// let b = etf::encode(&etf::Term::Int(42));
/// let mut tape = etf::tape::Tape::new();
/// etf::tape::decode_into(&mut tape, &a).unwrap();
/// assert!(tape.root().is_atom("ping"));
/// etf::tape::decode_into(&mut tape, &b).unwrap();
/// assert_eq!(tape.root().as_i64(), Some(42));
/// ```
pub fn decode_into<'a>(tape: &mut Tape<'a>, input: &'a [u8]) -> Result<(), DecodeError> {
    let used = decode_with_into(tape, input, &DecodeOptions::default())?;
    if used != input.len() {
        tape.clear();
        return Err(DecodeError::new(
            used,
            DecodeErrorKind::TrailingBytes(input.len() - used),
        ));
    }
    Ok(())
}

/// Decodes the term at the start of `input` into `tape` as `opts` say
/// (version byte or not, atom cache, depth bound), and says how many bytes
/// it took (`binary_to_term(B, [used])`; [`crate::decode_with`] for a tape).
pub fn decode_with_into<'a>(
    tape: &mut Tape<'a>,
    input: &'a [u8],
    opts: &DecodeOptions,
) -> Result<usize, DecodeError> {
    let out = Buffers {
        nodes: &mut tape.nodes,
        frames: &mut tape.frames,
        map_at: &mut tape.map_at,
        keys: &mut tape.keys,
        inflated: &mut tape.inflated,
    };
    match fill(input, opts, out) {
        Ok((used, compressed)) => {
            tape.input = input;
            tape.compressed = compressed;
            Ok(used)
        }
        Err(e) => {
            tape.clear();
            Err(e)
        }
    }
}
