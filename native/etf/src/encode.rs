//! Encoding: a [`Term`] to external term format bytes, byte for byte what
//! OTP 25's `term_to_binary/1,2` writes.
//!
//! | Erlang                                          | Rust                                   |
//! |-------------------------------------------------|----------------------------------------|
//! | `term_to_binary(T)`                             | `etf::encode(&t)`                      |
//! | `term_to_binary(T, [{minor_version, 2}])`       | `encode_with(&t, &EncodeOptions { minor_version: 2, ..Default::default() })` |
//! | `term_to_binary(T, [compressed])`               | `EncodeOptions { compressed: Some(6), .. }` |
//! | `term_to_binary(T, [deterministic])`            | `EncodeOptions { deterministic: true, .. }` |
//! | `term_to_iovec(T)`, `term_to_iovec(T, Opts)`    | `etf::encode_iovec(&t)`, `encode_iovec_with(&t, &opts)` |
//!
//! The rules, each checked against `erl` by `tests/differential.rs`:
//!
//! * integers: `SMALL_INTEGER_EXT` for `0..=255`, `INTEGER_EXT` for the
//!   rest of `i32`, `SMALL_BIG_EXT` (≤ 255 digit bytes) or `LARGE_BIG_EXT`;
//! * floats: `NEW_FLOAT_EXT`, or the 31-byte `"%.20e"` `FLOAT_EXT` at minor
//!   version 0;
//! * atoms: at minor versions 0 and 1, `ATOM_EXT` when every character is
//!   Latin-1, else `SMALL_ATOM_UTF8_EXT`/`ATOM_UTF8_EXT`; at minor version
//!   2 always the UTF-8 forms;
//! * lists of `0..=255` integers up to 65535 long: `STRING_EXT`;
//! * pids `NEW_PID_EXT`, references `NEWER_REFERENCE_EXT`, ports
//!   `NEW_PORT_EXT`, or `V4_PORT_EXT` when the id needs more than 32 bits;
//! * maps of up to 32 keys are written in key order (the BEAM keeps them
//!   sorted); larger maps in the BEAM's own order, that of its hash trie
//!   (computed from the keys' hashes, see `hamt.rs`), when the keys are
//!   made of numbers, binaries, lists, tuples and maps; keys holding atoms,
//!   pids, ports, references or funs hash by VM-local data (the BEAM itself
//!   writes such a map in different orders in different VMs), so those maps
//!   are written in the order of [`Map::entries`], which for a decoded map
//!   is the order it was decoded in. With `deterministic`, every map is
//!   written in key order;
//! * funs are written back as the exact bytes they were decoded from;
//! * `compressed`: the system zlib at the given level, and only when that is
//!   at least 5 bytes shorter than the plain body, as the BEAM decides.
//!
//! The encoder recurses once per nesting level (it is faster that way):
//! any term the decoder produced (at most [`DEFAULT_MAX_DEPTH`] deep by
//! default) encodes on a 2 MiB thread stack; a term built in Rust tens of
//! thousands of levels deep would not, any more than it could be dropped.
//!
//! [`DEFAULT_MAX_DEPTH`]: crate::DEFAULT_MAX_DEPTH
//!
//! ```
//! use etf::Term;
//! let t = Term::tuple(vec![Term::atom("ok"), Term::Int(7)]);
//! assert_eq!(etf::encode(&t), [131, 104, 2, 100, 0, 2, 111, 107, 97, 7]);
//! ```

use bytes::Bytes;
use num_bigint::{BigInt, Sign};

use crate::atom::Atom;
use crate::compress;
use crate::hamt;
use crate::order::{map_key_order, sorted_entries};
use crate::tag::*;
use crate::term::{BitString, Map, Pid, Port, Reference, Term};

/// How to encode: `term_to_binary/2`'s options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncodeOptions {
    /// `{minor_version, N}`: 0 (floats as text), 1 (OTP 25's default) or 2
    /// (UTF-8 atoms always).
    pub minor_version: u8,
    /// `{compressed, Level}`: zlib level 0–9 (`compressed` alone is 6);
    /// `None` or `Some(0)` writes the term uncompressed.
    pub compressed: Option<u32>,
    /// `deterministic`: write every map in key order.
    pub deterministic: bool,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        EncodeOptions {
            minor_version: 1,
            compressed: None,
            deterministic: false,
        }
    }
}

/// Maps with at most this many keys are "flatmaps" in the BEAM, kept (and
/// written) in key order.
const FLATMAP_MAX_KEYS: usize = 32;

/// `term_to_binary(T)`.
pub fn encode(term: &Term) -> Vec<u8> {
    encode_with(term, &EncodeOptions::default())
}

/// `term_to_binary(T, Opts)`.
pub fn encode_with(term: &Term, opts: &EncodeOptions) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(term, opts, &mut out);
    out
}

/// Appends `term_to_binary(T, Opts)` to `out`.
pub fn encode_into(term: &Term, opts: &EncodeOptions, out: &mut Vec<u8>) {
    match opts.compressed {
        Some(level) if level > 0 => {
            let mut body = Vec::new();
            encode_body_into(term, opts, &mut body);
            out.push(VERSION);
            // The BEAM gives zlib only `len - 5` bytes of room: compression
            // that does not save the 5 bytes of its own header is dropped.
            match compress::deflate(&body, level, body.len().saturating_sub(5)) {
                Some(z) => {
                    out.push(COMPRESSED);
                    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
                    out.extend_from_slice(&z);
                }
                None => out.extend_from_slice(&body),
            }
        }
        _ => {
            // Reserving a term's large binaries up front saves regrowth
            // copies: a third of the work for a tuple of large binaries.
            out.reserve(size_hint(term, usize::MAX).max(128));
            out.push(VERSION);
            encode_body_into(term, opts, out);
        }
    }
}

/// Appends `term`'s encoding without the version byte (and never
/// compressed), as the distribution protocol sends terms after its header.
pub fn encode_body_into(term: &Term, opts: &EncodeOptions, out: &mut Vec<u8>) {
    Encoder {
        out,
        opts,
        atom_refs: None,
        shared: None,
    }
    .term(term);
}

/// Binaries longer than this are shared, not copied, by [`encode_iovec`]:
/// the BEAM's `ERL_ONHEAP_BIN_LIMIT`, above which a binary is reference
/// counted and `term_to_iovec` refers to it instead of copying it.
pub const IOVEC_SHARE_ABOVE: usize = 64;

/// `term_to_iovec(T)`: the encoding of `term` as a list of chunks whose
/// concatenation is exactly [`encode`]'s bytes, in which every binary (and
/// bitstring) longer than [`IOVEC_SHARE_ABOVE`] bytes is the term's own
/// [`Bytes`], shared rather than copied. Encoding a term holding a
/// 1 MiB binary then costs a reference count, not a 1 MiB copy: for a
/// writer with `write_vectored` (a socket, a file), as
/// `erlang:term_to_iovec/1` is for `erlang:port_command/2` and the
/// distribution.
///
/// ```
/// use etf::Term;
/// let blob = bytes::Bytes::from(vec![7u8; 1000]);
/// let t = Term::tuple(vec![Term::atom("ok"), Term::Binary(blob.clone())]);
/// let chunks = etf::encode_iovec(&t);
/// assert_eq!(chunks.concat(), etf::encode(&t));
/// assert!(chunks.iter().any(|c| c.as_ptr() == blob.as_ptr())); // not copied
/// ```
pub fn encode_iovec(term: &Term) -> Vec<Bytes> {
    encode_iovec_with(term, &EncodeOptions::default())
}

/// `term_to_iovec(T, Opts)`: [`encode_iovec`] under `term_to_binary/2`'s
/// options. A compressed encoding is one chunk, as the BEAM's is.
pub fn encode_iovec_with(term: &Term, opts: &EncodeOptions) -> Vec<Bytes> {
    if matches!(opts.compressed, Some(level) if level > 0) {
        return vec![Bytes::from(encode_with(term, opts))];
    }
    let mut out = Vec::with_capacity(size_hint(term, IOVEC_SHARE_ABOVE).max(128));
    out.push(VERSION);
    let mut shared = Vec::new();
    Encoder {
        out: &mut out,
        opts,
        atom_refs: None,
        shared: Some(&mut shared),
    }
    .term(term);
    // The copied bytes, cut where each shared binary goes.
    let copied = Bytes::from(out);
    let mut chunks = Vec::with_capacity(2 * shared.len() + 1);
    let mut from = 0;
    for (at, bytes) in shared {
        if at > from {
            chunks.push(copied.slice(from..at));
        }
        chunks.push(bytes);
        from = at;
    }
    if from < copied.len() || chunks.is_empty() {
        chunks.push(copied.slice(from..));
    }
    chunks
}

/// Like [`encode_body_into`], but every atom for which `atom_ref` gives an
/// index is written as `ATOM_CACHE_REF` (`82, Index`): a reference into the
/// distribution header's atom cache, as the BEAM writes the atoms of a
/// message it sends over a connection with `DIST_HDR_ATOM_CACHE`. Other
/// atoms are written in full.
///
/// ```
/// use etf::{Atom, EncodeOptions, Term};
/// let ok = Atom::new("ok");
/// let mut out = Vec::new();
/// let term = Term::Tuple(vec![Term::Atom(ok), Term::atom("other")]);
/// etf::encode_body_with_atom_refs(&term, &EncodeOptions::default(), &|a| (a == ok).then_some(3), &mut out);
/// assert_eq!(&out[..4], &[104, 2, 82, 3]);
/// ```
pub fn encode_body_with_atom_refs(
    term: &Term,
    opts: &EncodeOptions,
    atom_ref: &dyn Fn(Atom) -> Option<u8>,
    out: &mut Vec<u8>,
) {
    Encoder {
        out,
        opts,
        atom_refs: Some(atom_ref),
        shared: None,
    }
    .term(term);
}

struct Encoder<'a> {
    out: &'a mut Vec<u8>,
    opts: &'a EncodeOptions,
    /// The connection's atom cache, when writing a distribution message.
    atom_refs: Option<&'a dyn Fn(Atom) -> Option<u8>>,
    /// For [`encode_iovec`]: the binaries left out of `out`, each with the
    /// offset in `out` where its bytes belong.
    shared: Option<&'a mut Vec<(usize, Bytes)>>,
}

impl Encoder<'_> {
    fn u8(&mut self, b: u8) {
        self.out.push(b);
    }

    fn u16(&mut self, n: u16) {
        self.out.extend_from_slice(&n.to_be_bytes());
    }

    fn u32(&mut self, n: u32) {
        self.out.extend_from_slice(&n.to_be_bytes());
    }

    fn term(&mut self, t: &Term) {
        match t {
            Term::Atom(a) => self.atom(*a),
            Term::Int(i) => self.int(*i),
            Term::BigInt(n) => match i64::try_from(n) {
                Ok(i) => self.int(i),
                Err(_) => self.bigint(n),
            },
            Term::Float(f) => self.float(*f),
            Term::Binary(b) => {
                self.u8(BINARY_EXT);
                self.u32(b.len() as u32);
                self.bytes(b);
            }
            Term::BitString(bs) => self.bit_string(bs),
            Term::List(items) => self.list(items),
            Term::ImproperList(items, tail) => {
                if !items.is_empty() {
                    self.u8(LIST_EXT);
                    self.u32(items.len() as u32);
                    for item in items {
                        self.item(item);
                    }
                }
                self.term(tail);
            }
            Term::Tuple(items) => {
                if items.len() <= 255 {
                    self.u8(SMALL_TUPLE_EXT);
                    self.u8(items.len() as u8);
                } else {
                    self.u8(LARGE_TUPLE_EXT);
                    self.u32(items.len() as u32);
                }
                for item in items {
                    self.item(item);
                }
            }
            Term::Map(m) => self.map(m),
            Term::Pid(p) => self.pid(p),
            Term::Port(p) => self.port(p),
            Term::Reference(r) => self.reference(r),
            Term::Fun(f) => self.out.extend_from_slice(&f.bytes),
        }
    }

    /// An element of a container: small integers, the commonest
    /// elements, are written here without a call to the recursive (and so
    /// never inlined) `term`, whose entry and exit cost more than they do.
    #[inline(always)]
    fn item(&mut self, t: &Term) {
        match t {
            Term::Int(i) => self.int(*i),
            t => self.term(t),
        }
    }

    #[inline]
    fn int(&mut self, i: i64) {
        if (0..=255).contains(&i) {
            self.out.extend_from_slice(&[SMALL_INTEGER_EXT, i as u8]);
        } else if let Ok(small) = i32::try_from(i) {
            self.u8(INTEGER_EXT);
            self.out.extend_from_slice(&small.to_be_bytes());
        } else {
            let le = i.unsigned_abs().to_le_bytes();
            let digits = le.len() - le.iter().rev().take_while(|&&b| b == 0).count();
            self.big(i < 0, &le[..digits]);
        }
    }

    /// A bignum's magnitude written straight from its 64-bit digits
    /// (`BigInt::to_bytes_le` would allocate and convert byte by byte).
    fn bigint(&mut self, n: &BigInt) {
        let len = n.magnitude().bits().div_ceil(8) as usize;
        if len <= 255 {
            self.out.extend_from_slice(&[SMALL_BIG_EXT, len as u8]);
        } else {
            self.u8(LARGE_BIG_EXT);
            self.u32(len as u32);
        }
        self.u8((n.sign() == Sign::Minus) as u8);
        // Whole digits are fixed-size copies the compiler inlines; only the
        // top one, partly used, needs a variable-length copy.
        self.out.reserve(len);
        let mut left = len;
        for digit in n.iter_u64_digits() {
            let bytes = digit.to_le_bytes();
            if left >= 8 {
                self.out.extend_from_slice(&bytes);
                left -= 8;
            } else {
                self.out
                    .extend_from_slice(bytes.get(..left).unwrap_or_default());
                left = 0;
            }
        }
    }

    fn big(&mut self, negative: bool, digits: &[u8]) {
        if digits.len() <= 255 {
            self.out
                .extend_from_slice(&[SMALL_BIG_EXT, digits.len() as u8]);
        } else {
            self.u8(LARGE_BIG_EXT);
            self.u32(digits.len() as u32);
        }
        self.u8(negative as u8);
        self.out.extend_from_slice(digits);
    }

    fn float(&mut self, f: f64) {
        if self.opts.minor_version == 0 {
            self.u8(FLOAT_EXT);
            self.out.extend_from_slice(&float_text(f));
        } else {
            self.u8(NEW_FLOAT_EXT);
            self.out.extend_from_slice(&f.to_bits().to_be_bytes());
        }
    }

    fn atom(&mut self, a: Atom) {
        if let Some(index) = self.atom_refs.and_then(|atom_ref| atom_ref(a)) {
            self.out.extend_from_slice(&[ATOM_CACHE_REF, index]);
            return;
        }
        let info = a.info();
        let name = info.name;
        if self.opts.minor_version < 2 && info.latin1 {
            if info.ascii {
                let [hi, lo] = (name.len() as u16).to_be_bytes();
                self.out.extend_from_slice(&[ATOM_EXT, hi, lo]);
                self.out.extend_from_slice(name.as_bytes());
            } else {
                self.u8(ATOM_EXT);
                self.u16(name.chars().count() as u16);
                self.out.extend(name.chars().map(|c| c as u8));
            }
            return;
        }
        if name.len() <= 255 {
            self.out
                .extend_from_slice(&[SMALL_ATOM_UTF8_EXT, name.len() as u8]);
        } else {
            self.u8(ATOM_UTF8_EXT);
            self.u16(name.len() as u16);
        }
        self.out.extend_from_slice(name.as_bytes());
    }

    fn bit_string(&mut self, bs: &BitString) {
        if bs.bytes.is_empty() || !(1..=7).contains(&bs.last_bits) {
            self.u8(BINARY_EXT);
            self.u32(bs.bytes.len() as u32);
        } else {
            self.u8(BIT_BINARY_EXT);
            self.u32(bs.bytes.len() as u32);
            self.u8(bs.last_bits);
        }
        self.bytes(&bs.bytes);
    }

    /// A binary's bytes: copied, or shared when encoding an iovec.
    fn bytes(&mut self, b: &Bytes) {
        match &mut self.shared {
            Some(shared) if b.len() > IOVEC_SHARE_ABOVE => shared.push((self.out.len(), b.clone())),
            _ => crate::copy::append_bytes(self.out, b),
        }
    }

    fn list(&mut self, items: &[Term]) {
        if items.is_empty() {
            self.u8(NIL_EXT);
            return;
        }
        if items.len() <= 0xffff
            && items
                .iter()
                .all(|t| matches!(t, Term::Int(i) if (0..=255).contains(i)))
        {
            self.u8(STRING_EXT);
            self.u16(items.len() as u16);
            self.out.extend(items.iter().map(|t| match t {
                Term::Int(i) => *i as u8,
                _ => 0,
            }));
            return;
        }
        self.u8(LIST_EXT);
        self.u32(items.len() as u32);
        for item in items {
            self.item(item);
        }
        self.u8(NIL_EXT);
    }

    fn map(&mut self, m: &Map) {
        self.u8(MAP_EXT);
        self.u32(m.entries.len() as u32);
        let in_key_order = self.opts.deterministic || m.entries.len() <= FLATMAP_MAX_KEYS;
        let sorted = |m: &Map| {
            m.entries
                .windows(2)
                .all(|w| map_key_order(&w[0].0, &w[1].0).is_lt())
        };
        if in_key_order && !sorted(m) {
            for (k, v) in sorted_entries(m) {
                self.term(k);
                self.item(v);
            }
        } else if let Some(order) = (!in_key_order)
            .then(|| hamt::beam_order(m.entries.iter().map(|(k, _)| k)))
            .flatten()
        {
            for (k, v) in order.into_iter().filter_map(|i| m.entries.get(i)) {
                self.term(k);
                self.item(v);
            }
        } else {
            for (k, v) in &m.entries {
                self.term(k);
                self.item(v);
            }
        }
    }

    fn pid(&mut self, p: &Pid) {
        self.u8(NEW_PID_EXT);
        self.atom(p.node);
        self.u32(p.id);
        self.u32(p.serial);
        self.u32(p.creation);
    }

    fn port(&mut self, p: &Port) {
        match u32::try_from(p.id) {
            Ok(id) => {
                self.u8(NEW_PORT_EXT);
                self.atom(p.node);
                self.u32(id);
            }
            Err(_) => {
                self.u8(V4_PORT_EXT);
                self.atom(p.node);
                self.out.extend_from_slice(&p.id.to_be_bytes());
            }
        }
        self.u32(p.creation);
    }

    fn reference(&mut self, r: &Reference) {
        self.u8(NEWER_REFERENCE_EXT);
        self.u16(r.ids.len() as u16);
        self.atom(r.node);
        self.u32(r.creation);
        for id in &r.ids {
            self.u32(*id);
        }
    }
}

/// How many elements of the top-level container [`size_hint`] looks at.
const SIZE_HINT_ITEMS: usize = 32;

/// A cheap estimate of `t`'s encoded size, never much above it, and exact
/// where it counts most: a large binary at the top level or directly inside
/// the top-level container (`{ok, Bin}`, `[Bin1, Bin2]`). It looks at the
/// first [`SIZE_HINT_ITEMS`] elements and guesses the others from them;
/// looking deeper would cost small terms more than the copies it saves
/// (the output then just grows). Binaries longer than `shared_above` count
/// only their header: they will not be copied.
fn size_hint(t: &Term, shared_above: usize) -> usize {
    let leaf_size_hint = |t: &Term| leaf_size_hint(t, shared_above);
    let items = |items: &[Term]| {
        let seen = items.len().min(SIZE_HINT_ITEMS);
        let head = items.iter().take(seen).map(leaf_size_hint).sum::<usize>();
        // The rest are guessed like those seen, but at most a float's
        // size each, so that a few large binaries up front do not make
        // the guess huge.
        let each = (head / seen.max(1)).clamp(1, 9);
        head + each * (items.len() - seen)
    };
    match t {
        Term::Tuple(v) | Term::List(v) => 6 + items(v),
        Term::ImproperList(v, tail) => 5 + items(v) + leaf_size_hint(tail),
        Term::Map(m) => {
            let seen = m.entries.len().min(SIZE_HINT_ITEMS / 2);
            let head = m.entries.iter().take(seen);
            5 + head
                .map(|(k, v)| leaf_size_hint(k) + leaf_size_hint(v))
                .sum::<usize>()
                + 2 * (m.entries.len() - seen)
        }
        _ => leaf_size_hint(t),
    }
}

/// About `t`'s encoded size, without looking inside containers or atoms.
fn leaf_size_hint(t: &Term, shared_above: usize) -> usize {
    let copied = |len: usize| if len > shared_above { 0 } else { len };
    match t {
        Term::Binary(b) => 5 + copied(b.len()),
        Term::BitString(bs) => 6 + copied(bs.bytes.len()),
        Term::Fun(f) => f.bytes.len(),
        Term::Int(i) if (0..=255).contains(i) => 2,
        Term::Int(_) => 5,
        Term::BigInt(n) => 3 + n.bits().div_ceil(8) as usize,
        Term::Float(_) => 9,
        Term::Atom(_) => 3,
        Term::Pid(_) => 16,
        _ => 1,
    }
}

/// `FLOAT_EXT`'s payload: C's `"%.20e"`, NUL padded to 31 bytes.
fn float_text(f: f64) -> [u8; 31] {
    // Rust's `{:e}` is exact like glibc's, but writes the exponent as
    // `e5`/`e-5` where C writes `e+05`/`e-05`.
    let s = format!("{f:.20e}");
    let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let sign = if exp < 0 { '-' } else { '+' };
    let text = format!("{mantissa}e{sign}{:02}", exp.unsigned_abs());
    let mut out = [0u8; 31];
    for (o, b) in out.iter_mut().zip(text.bytes()) {
        *o = b;
    }
    out
}
